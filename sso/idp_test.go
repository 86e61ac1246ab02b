package sso

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// The IdP's users: its example users (test-user@127.0.0.1, no groups) and
// these. Every password is "verysecure".
var idpUsers = []idpUser{
	{User: storage.User{ID: "ann", Username: "ann", Email: "ann@example.com", EmailVerified: true},
		Groups: []string{"idp-sre", "idp-dba", "idp-marketing"}},
	{User: storage.User{ID: "eve", Username: "eve", Email: "eve@example.com", EmailVerified: false},
		Groups: []string{"idp-sre"}},
}

const password = "verysecure"

type idpUser struct {
	storage.User
	Groups []string
}

// testIdP is zitadel/oidc's example OpenID Provider, served on 127.0.0.1
// on a free port, with this test's users and clients.
type testIdP struct {
	Issuer   string
	userinfo atomic.Int32 // userinfo requests answered
}

// idpClient is a client registered at the test IdP and how the IdP treats
// it beyond what the example's Client has: whether it puts the profile and
// email claims in the ID token too (Keycloak, Okta and Entra ID do; the
// example, following OpenID Connect Core 5.4, puts them only in userinfo
// once an access token is issued), and an ID token lifetime.
type idpClient struct {
	*storage.Client
	claimsInIDToken bool
	idTokenLifetime time.Duration
}

// startIdP serves the example OP until the test ends.
func startIdP(t *testing.T, clients ...idpClient) *testIdP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	idp := &testIdP{Issuer: "http://" + ln.Addr().String()}
	users := userStore{UserStore: storage.NewUserStore(idp.Issuer), users: map[string]*storage.User{}}
	st := &groupStorage{groups: map[string][]string{}, clients: map[string]idpClient{}, users: users}
	for _, u := range idpUsers {
		u.Password, u.PreferredLanguage = password, language.English
		users.users[u.ID] = &u.User
		st.groups[u.ID] = u.Groups
	}
	registered := map[string]*storage.Client{}
	for _, c := range clients {
		registered[c.GetID()] = c.Client
		st.clients[c.GetID()] = c
	}
	st.Storage = storage.NewStorageWithClients(users, registered)
	router := exampleop.SetupServer(idp.Issuer, st, slog.New(slog.DiscardHandler), false)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/userinfo" {
			idp.userinfo.Add(1)
		}
		router.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return idp
}

// userStore is the example's users and ours.
type userStore struct {
	storage.UserStore
	users map[string]*storage.User
}

func (s userStore) GetUserByID(id string) *storage.User {
	if u := s.users[id]; u != nil {
		return u
	}
	return s.UserStore.GetUserByID(id)
}

func (s userStore) GetUserByUsername(name string) *storage.User {
	for _, u := range s.users {
		if u.Username == name {
			return u
		}
	}
	return s.UserStore.GetUserByUsername(name)
}

// groupStorage is the example's storage with a groups claim, which the
// example does not have: in the ID token when the client asks for the
// groups scope (as Dex and Okta do), and in every userinfo answer. It also
// says email_verified: false, which the example leaves out (Google and
// Keycloak send it).
type groupStorage struct {
	*storage.Storage
	groups  map[string][]string // user ID -> IdP groups
	clients map[string]idpClient
	users   userStore
}

func (s *groupStorage) unverified(info *oidc.UserInfo, subject string) {
	if u := s.users.GetUserByID(subject); u != nil && info.Email != "" && !u.EmailVerified {
		info.AppendClaims("email_verified", false)
	}
}

func (s *groupStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return client{Client: c, opts: s.clients[id]}, nil
}

func (s *groupStorage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	if slices.Contains(scopes, "groups") && s.groups[req.GetSubject()] != nil {
		info.AppendClaims("groups", s.groups[req.GetSubject()])
	}
	s.unverified(info, req.GetSubject())
	return nil
}

func (s *groupStorage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	if s.groups[subject] != nil {
		info.AppendClaims("groups", s.groups[subject])
	}
	s.unverified(info, subject)
	return nil
}

// client is a registered client as the OP sees it: the groups scope is
// allowed, and idpClient's options apply.
type client struct {
	op.Client
	opts idpClient
}

func (c client) IsScopeAllowed(scope string) bool {
	return scope == "groups" || c.Client.IsScopeAllowed(scope)
}

func (c client) IDTokenUserinfoClaimsAssertion() bool { return c.opts.claimsInIDToken }

func (c client) IDTokenLifetime() time.Duration {
	if c.opts.idTokenLifetime != 0 {
		return c.opts.idTokenLifetime
	}
	return c.Client.IDTokenLifetime()
}

// listen reserves a port on 127.0.0.1 for the runbook side, whose
// redirect URL the IdP must know before it starts.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}
