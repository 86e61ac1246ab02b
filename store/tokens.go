package store

import (
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opsrunbook/runbook/plan"

	"gorm.io/gorm"
)

// Roles a token can hold.
var Roles = []string{"viewer", "operator", "approver", "author", "admin"}

// ErrBadToken is a token that does not authenticate: unknown, expired or
// revoked. ErrTokenExpired and ErrTokenRevoked say which, and match it
// with errors.Is.
var ErrBadToken = errors.New("invalid token")

var (
	ErrTokenExpired error = tokenError("token expired")
	ErrTokenRevoked error = tokenError("token revoked")
)

type tokenError string

func (e tokenError) Error() string        { return string(e) }
func (e tokenError) Is(target error) bool { return target == ErrBadToken }

// ErrAlreadyRevoked is a revocation of a revoked token.
var ErrAlreadyRevoked = errors.New("token already revoked")

// ErrAmbiguousPrefix is a prefix more than one token shares.
var ErrAmbiguousPrefix = errors.New("more than one token has this prefix; name it by id")

// LastUseResolution is how stale a token's lastUsedAt may be. Every API
// request authenticates; writing the time on each would turn every read
// into a write, and SQLite has one writer, so GETs would queue behind run
// records. Whether and roughly when a token is used is what an admin
// needs from it, and a minute tells that.
const LastUseResolution = time.Minute

// Identity is who a token or a console session speaks for. TokenID is 0
// for a session not made from a token (OpenID Connect); SessionID is the
// console session a request came through, 0 for a bearer token.
type Identity struct {
	TokenID   uint     `json:"tokenId"`
	SessionID uint     `json:"-"`
	User      string   `json:"user"`
	Roles     []string `json:"roles"`
	Groups    []string `json:"groups"`
}

// Has reports whether the identity holds role. admin holds every role;
// operator, approver and author also hold viewer, since each needs to read
// the runs and approvals it acts on.
func (id *Identity) Has(role string) bool {
	if slices.Contains(id.Roles, role) || slices.Contains(id.Roles, "admin") {
		return true
	}
	return role == "viewer" && slices.ContainsFunc(id.Roles, impliesViewer)
}

func impliesViewer(role string) bool {
	return role == "operator" || role == "approver" || role == "author"
}

// TokenSpec is what a new token is made of. TTL is a duration ("720h",
// "30d"); empty means the token does not expire.
type TokenSpec struct {
	User   string
	Roles  []string
	Groups []string
	TTL    string
}

// TokenSpecError lists every problem of a TokenSpec, each "field: message".
type TokenSpecError struct{ Problems []string }

func (e *TokenSpecError) Error() string {
	return "invalid token: " + strings.Join(e.Problems, "; ")
}

// Problems lists every problem of the spec, none when IssueToken would
// take it.
func (spec TokenSpec) Problems() []string {
	var se *TokenSpecError
	if _, err := spec.check(time.Now()); errors.As(err, &se) {
		return se.Problems
	}
	return nil
}

// ReservedUserPrefixes start the names of the engine's own actors
// (system:schedule, system:webhook, system:timeout) and of the CLI's
// direct database writes (cli:USER): no token or sign-in may take one, or
// its votes and audit entries would pass for theirs.
var ReservedUserPrefixes = []string{"system:", "cli:"}

// ReservedUser is the reserved prefix name starts with, if any.
func ReservedUser(name string) (string, bool) {
	for _, pre := range ReservedUserPrefixes {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(name)), pre) {
			return pre, true
		}
	}
	return "", false
}

// check returns the spec's expiry from now, or every problem it has.
func (spec TokenSpec) check(now time.Time) (*time.Time, error) {
	var p []string
	pre, reserved := ReservedUser(spec.User)
	switch {
	case strings.TrimSpace(spec.User) == "":
		p = append(p, "user: must not be empty")
	case reserved:
		p = append(p, fmt.Sprintf("user: %q starts with %s, which names the engine's own actors", spec.User, pre))
	case Length(spec.User) > Size(Token{}, "User"):
		p = append(p, fmt.Sprintf("user: longer than %d characters", Size(Token{}, "User")))
	}
	if len(spec.Roles) == 0 {
		p = append(p, "roles: name at least one of "+strings.Join(Roles, ", "))
	}
	for i, r := range spec.Roles {
		if !slices.Contains(Roles, r) {
			p = append(p, fmt.Sprintf("roles[%d]: unknown role %q (roles: %s)", i, r, strings.Join(Roles, ", ")))
		}
	}
	for i, g := range spec.Groups {
		if strings.TrimSpace(g) == "" || strings.Contains(g, ",") {
			p = append(p, fmt.Sprintf("groups[%d]: %q: a group is a non-empty name without commas", i, g))
		}
	}
	if n, most := Length(strings.Join(spec.Groups, ",")), Size(Token{}, "Groups"); n > most {
		p = append(p, fmt.Sprintf("groups: %d characters together, at most %d", n, most))
	}
	var expires *time.Time
	if spec.TTL != "" {
		d, err := plan.ParseDuration(spec.TTL)
		switch {
		case err != nil:
			p = append(p, "ttl: "+err.Error())
		case d <= 0:
			p = append(p, fmt.Sprintf("ttl: %q: must be positive, e.g. 720h or 30d (leave it out for a token that does not expire)", spec.TTL))
		default:
			at := now.Add(d)
			expires = &at
		}
	}
	if p != nil {
		return nil, &TokenSpecError{Problems: p}
	}
	return expires, nil
}

// IssueToken makes a token and returns its secret, which is shown once:
// only its SHA-256 is stored. The creation is audited as actor in the
// same transaction. A bad spec is a *TokenSpecError and creates nothing.
func (s *Store) IssueToken(actor string, spec TokenSpec) (string, *Token, error) {
	return s.issue(actor, spec)
}

// CreateToken is IssueToken without an expiry or an audit entry: for the
// tokens runbook dev prints and for tests.
func (s *Store) CreateToken(user string, roles, groups []string) (string, *Token, error) {
	return s.issue("", TokenSpec{User: user, Roles: roles, Groups: groups})
}

func (s *Store) issue(actor string, spec TokenSpec) (string, *Token, error) {
	now := time.Now().UTC()
	expires, err := spec.check(now)
	if err != nil {
		return "", nil, err
	}
	raw := make([]byte, 20)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, err
	}
	secret := "rbk_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw))
	t := &Token{Hash: hashToken(secret), Prefix: secret[:12], User: spec.User, Roles: strings.Join(spec.Roles, ","),
		Groups: strings.Join(spec.Groups, ","), CreatedAt: now, ExpiresAt: expires}
	err = s.transaction(func(tx *gorm.DB) error {
		if err := tx.Create(t).Error; err != nil {
			return err
		}
		if actor == "" {
			return nil
		}
		return auditToken(tx, actor, "token.create", t)
	})
	if err != nil {
		return "", nil, fmt.Errorf("store: create token: %w", err)
	}
	return secret, t, nil
}

// auditToken records action on t: never the secret or its hash.
func auditToken(tx *gorm.DB, actor, action string, t *Token) error {
	d := TokenDetail{User: t.User, Prefix: t.Prefix, Roles: t.RoleList(), Groups: t.GroupList()}
	if t.ExpiresAt != nil {
		d.ExpiresAt = t.ExpiresAt.Format(time.RFC3339)
	}
	return appendAudit(tx, AuditRecord{Actor: actor, Action: action, Target: strconv.FormatUint(uint64(t.ID), 10), Detail: d})
}

// Authenticate resolves a token's secret to its identity and notes its
// use (to LastUseResolution), written in the background: authenticating
// reads and never writes. An expired or revoked token is refused at
// once, with ErrTokenExpired or ErrTokenRevoked.
func (s *Store) Authenticate(secret string) (*Identity, error) {
	hash := hashToken(secret)
	t, ok := s.shared.config.tokenOf(hash)
	if !ok {
		gen, keep := s.shared.config.beginTokens()
		at := time.Now()
		if err := s.tokenByHash(hash, &t); err != nil {
			if errors.Is(notFound(err), ErrNotFound) {
				return nil, ErrBadToken
			}
			return nil, err
		}
		if keep {
			s.shared.config.keepToken(gen, at, hash, t)
		}
	}
	now := time.Now().UTC()
	switch {
	case t.RevokedAt != nil:
		return nil, ErrTokenRevoked
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return nil, ErrTokenExpired
	}
	s.shared.lastUse.note(t.ID, t.LastUsedAt, now)
	return &Identity{TokenID: t.ID, User: t.User, Roles: t.RoleList(), Groups: t.GroupList()}, nil
}

// tokenByHash reads the token whose secret hashes to hash into t: on
// SQLite through the statement prepared once, else through GORM.
func (s *Store) tokenByHash(hash string, t *Token) error {
	sh := s.shared
	sh.tokenOnce.Do(func() {
		if s.reads.Dialector.Name() != "sqlite" {
			return
		}
		if readDB, err := s.reads.DB(); err == nil {
			sh.tokenByHash, _ = readDB.Prepare(`SELECT id, hash, prefix, user, roles, groups, created_at, last_used_at, revoked_at, expires_at FROM tokens WHERE hash = ? LIMIT 1`)
		}
	})
	if sh.tokenByHash == nil {
		return s.reads.Where("hash = ?", hash).First(t).Error
	}
	ctx, cancel := s.bound(s.reads.Statement.Context)
	defer cancel()
	var groups sql.NullString
	var last, revoked, expires sql.NullTime
	err := sh.tokenByHash.QueryRowContext(ctx, hash).Scan(&t.ID, &t.Hash, &t.Prefix, &t.User, &t.Roles, &groups, &t.CreatedAt, &last, &revoked, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return s.unavailable(err)
	}
	t.Groups = groups.String
	t.LastUsedAt, t.RevokedAt, t.ExpiresAt = nullTime(last), nullTime(revoked), nullTime(expires)
	return nil
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	return &t.Time
}

// Tokens lists tokens in the order they were made, only user's unless
// user is empty.
func (s *Store) Tokens(user string) ([]Token, error) {
	q := s.db.Order("id")
	if user != "" {
		q = q.Where(&Token{User: user})
	}
	var out []Token
	err := q.Find(&out).Error
	s.shared.lastUse.overlay(out)
	return out, err
}

// FindToken resolves ref, a token's id or its prefix as Tokens shows it
// ("rbk_" and 8 more characters).
func (s *Store) FindToken(ref string) (*Token, error) {
	if id, err := strconv.ParseUint(ref, 10, 32); err == nil {
		var t Token
		if err := s.db.First(&t, uint(id)).Error; err != nil {
			return nil, notFound(err)
		}
		one := []Token{t}
		s.shared.lastUse.overlay(one)
		return &one[0], nil
	}
	var ts []Token
	if err := s.db.Where("prefix = ?", ref).Limit(2).Find(&ts).Error; err != nil {
		return nil, err
	}
	switch len(ts) {
	case 0:
		return nil, ErrNotFound
	case 1:
		s.shared.lastUse.overlay(ts)
		return &ts[0], nil
	}
	return nil, ErrAmbiguousPrefix
}

// RevokeToken revokes token id as actor, audited in the same transaction,
// and returns it revoked. ErrNotFound: no such token; ErrAlreadyRevoked:
// revoked before (the token is returned too).
func (s *Store) RevokeToken(actor string, id uint) (*Token, error) {
	var t Token
	defer s.shared.config.changed() // after the commit: a read before it is not kept
	err := s.transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Token{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", time.Now().UTC())
		if res.Error != nil {
			return res.Error
		}
		if err := tx.First(&t, id).Error; err != nil {
			return notFound(err)
		}
		if res.RowsAffected == 0 {
			return ErrAlreadyRevoked
		}
		if err := notifyConfig(tx); err != nil {
			return err
		}
		return auditToken(tx, actor, "token.revoke", &t)
	})
	if errors.Is(err, ErrAlreadyRevoked) {
		return &t, err
	}
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// RoleList is the token's roles.
func (t *Token) RoleList() []string { return split(t.Roles) }

// GroupList is the token's groups.
func (t *Token) GroupList() []string { return split(t.Groups) }

// State is "revoked", "expired" or "active" at now.
func (t *Token) State(now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return "revoked"
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return "expired"
	}
	return "active"
}

// TokenInfo is a token as the API and the CLI list it: never its secret
// or hash. Unset times are null.
type TokenInfo struct {
	ID         uint       `json:"id"`
	Prefix     string     `json:"prefix"`
	User       string     `json:"user"`
	Roles      []string   `json:"roles"`
	Groups     []string   `json:"groups"`
	State      string     `json:"state"` // active, expired or revoked
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	ExpiresAt  *time.Time `json:"expiresAt"`
	RevokedAt  *time.Time `json:"revokedAt"`
}

// Info is t as TokenInfo at now.
func (t *Token) Info(now time.Time) TokenInfo {
	return TokenInfo{ID: t.ID, Prefix: t.Prefix, User: t.User, Roles: append([]string{}, t.RoleList()...),
		Groups: append([]string{}, t.GroupList()...), State: t.State(now), CreatedAt: t.CreatedAt,
		LastUsedAt: t.LastUsedAt, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt}
}

func hashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
