// Package ssotest serves a real OpenID Provider on 127.0.0.1 for tests:
// zitadel/oidc's example OP, with users who have IdP groups (a groups
// claim, which the example lacks) and clients registered by the test. It
// is for tests only; nothing in the product imports it.
package ssotest

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

// Password is every user's password at the IdP.
const Password = "verysecure"

// User is a user of the IdP and their IdP groups.
type User struct {
	storage.User
	Groups []string
}

// Users are the IdP's users when Options.Users is nil, besides the
// example's own (test-user@127.0.0.1, no groups): ann, with a verified
// email and three groups, and eve, whose email is not verified.
func Users() []User {
	return []User{
		{User: storage.User{ID: "ann", Username: "ann", Email: "ann@example.com", EmailVerified: true},
			Groups: []string{"idp-sre", "idp-dba", "idp-marketing"}},
		{User: storage.User{ID: "eve", Username: "eve", Email: "eve@example.com", EmailVerified: false},
			Groups: []string{"idp-sre"}},
	}
}

// Client is a client registered at the IdP and how the IdP treats it
// beyond what the example's Client has: whether it puts the profile and
// email claims in the ID token too (Keycloak, Okta and Entra ID do; the
// example, following OpenID Connect Core 5.4, puts them only in userinfo
// once an access token is issued), and an ID token lifetime.
type Client struct {
	*storage.Client
	ClaimsInIDToken bool
	IDTokenLifetime time.Duration
}

// Options are the IdP's users (nil: Users()) and clients.
type Options struct {
	Users   []User
	Clients []Client
}

// IdP is the example OP serving until the test ends.
type IdP struct {
	Issuer   string // http://127.0.0.1:PORT
	userinfo atomic.Int32
}

// Userinfo is the number of userinfo requests answered.
func (idp *IdP) Userinfo() int32 { return idp.userinfo.Load() }

// Start serves the example OP on a free port of 127.0.0.1 until the test
// ends.
func Start(t testing.TB, o Options) *IdP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	idp := &IdP{Issuer: "http://" + ln.Addr().String()}
	if o.Users == nil {
		o.Users = Users()
	}
	users := userStore{UserStore: storage.NewUserStore(idp.Issuer), users: map[string]*storage.User{}}
	st := &groupStorage{groups: map[string][]string{}, clients: map[string]Client{}, users: users}
	for _, u := range o.Users {
		u.Password, u.PreferredLanguage = Password, language.English
		users.users[u.ID] = &u.User
		st.groups[u.ID] = u.Groups
	}
	registered := map[string]*storage.Client{}
	for _, c := range o.Clients {
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

// Listen reserves a port on 127.0.0.1 for the relying party, whose
// redirect URL the IdP must know before it starts.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
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
	clients map[string]Client
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
// allowed, and Client's options apply.
type client struct {
	op.Client
	opts Client
}

func (c client) IsScopeAllowed(scope string) bool {
	return scope == "groups" || c.Client.IsScopeAllowed(scope)
}

func (c client) IDTokenUserinfoClaimsAssertion() bool { return c.opts.ClaimsInIDToken }

func (c client) IDTokenLifetime() time.Duration {
	if c.opts.IDTokenLifetime != 0 {
		return c.opts.IDTokenLifetime
	}
	return c.Client.IDTokenLifetime()
}
