package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Session is a signed-in browser of the web console. Only the SHA-256 of
// its id is stored; the id itself lives in the browser's cookie. A
// session made from an API token (TokenID set) speaks for that token as
// it is at each use: revoked or expired, the session stops working; its
// roles and groups are the token's current ones. A session from another
// sign-in method (TokenID nil) holds the roles and groups it was given.
type Session struct {
	ID        uint       `gorm:"primaryKey" json:"id"`
	IDHash    string     `gorm:"size:64;not null;uniqueIndex" json:"-"`
	TokenID   *uint      `gorm:"index" json:"tokenId,omitempty"`
	Method    string     `gorm:"size:20;not null;default:''" json:"method"` // token, or the sign-in method that made it
	User      string     `gorm:"size:200;not null;index" json:"user"`
	Roles     string     `gorm:"size:200;not null" json:"-"` // comma-separated
	Groups    string     `gorm:"size:1000" json:"-"`         // comma-separated
	CSRF      string     `gorm:"size:64;not null" json:"-"`  // the token its forms carry
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt time.Time  `json:"expiresAt"`
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
}

// Session errors: ErrBadSession matches every one of them with errors.Is.
var (
	ErrBadSession     = errors.New("no such session")
	ErrSessionExpired = sessionError("session expired")
	ErrSessionRevoked = sessionError("session ended")
)

type sessionError string

func (e sessionError) Error() string        { return string(e) }
func (e sessionError) Is(target error) bool { return target == ErrBadSession }

// CreateSession starts a session for id, valid for ttl, and returns the
// secret the browser keeps (43 characters: 32 random bytes). method says
// how the user signed in ("token" when id came from Authenticate: the
// session then follows id.TokenID's state).
func (s *Store) CreateSession(id *Identity, method string, ttl time.Duration) (string, *Session, error) {
	if id == nil || strings.TrimSpace(id.User) == "" {
		return "", nil, errors.New("store: a session needs a user")
	}
	if ttl <= 0 {
		return "", nil, errors.New("store: a session needs a positive lifetime")
	}
	secret, err := randomString(32)
	if err != nil {
		return "", nil, err
	}
	csrf, err := randomString(32)
	if err != nil {
		return "", nil, err
	}
	now := time.Now().UTC()
	sess := &Session{IDHash: hashToken(secret), Method: method, User: id.User, Roles: strings.Join(id.Roles, ","),
		Groups: strings.Join(id.Groups, ","), CSRF: csrf, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if method == "token" && id.TokenID != 0 {
		tid := id.TokenID
		sess.TokenID = &tid
	}
	if err := s.unavailable(s.db.Create(sess).Error); err != nil {
		return "", nil, fmt.Errorf("store: create session: %w", err)
	}
	return secret, sess, nil
}

// SessionIdentity resolves a session's secret to the session and who it
// speaks for now. An unknown, expired or ended session, or one whose
// token was revoked or has expired, is refused (ErrBadSession, or the
// token's ErrTokenRevoked / ErrTokenExpired).
func (s *Store) SessionIdentity(secret string) (*Session, *Identity, error) {
	var sess Session
	if err := s.db.Where("id_hash = ?", hashToken(secret)).First(&sess).Error; err != nil {
		if errors.Is(notFound(err), ErrNotFound) {
			return nil, nil, ErrBadSession
		}
		return nil, nil, s.unavailable(err)
	}
	now := time.Now().UTC()
	switch {
	case sess.RevokedAt != nil:
		return nil, nil, ErrSessionRevoked
	case !now.Before(sess.ExpiresAt):
		return nil, nil, ErrSessionExpired
	}
	id := &Identity{SessionID: sess.ID, User: sess.User, Roles: split(sess.Roles), Groups: split(sess.Groups)}
	if sess.TokenID != nil {
		var t Token
		if err := s.db.First(&t, *sess.TokenID).Error; err != nil {
			if errors.Is(notFound(err), ErrNotFound) {
				return nil, nil, ErrBadToken
			}
			return nil, nil, s.unavailable(err)
		}
		switch {
		case t.RevokedAt != nil:
			return nil, nil, ErrTokenRevoked
		case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
			return nil, nil, ErrTokenExpired
		}
		id = &Identity{TokenID: t.ID, SessionID: sess.ID, User: t.User, Roles: t.RoleList(), Groups: t.GroupList()}
	}
	return &sess, id, nil
}

// EndSession revokes the session with secret; ending an ended or unknown
// one does nothing.
func (s *Store) EndSession(secret string) error {
	now := time.Now().UTC()
	return s.unavailable(s.db.Model(&Session{}).Where("id_hash = ? AND revoked_at IS NULL", hashToken(secret)).
		Update("revoked_at", now).Error)
}

// PruneSessions deletes the sessions that expired or were ended before
// before, and answers how many: nothing reads them again, and without
// this the table would keep a row per sign-in for ever.
func (s *Store) PruneSessions(before time.Time) (int64, error) {
	before = before.UTC()
	res := s.db.Where("expires_at < ? OR revoked_at < ?", before, before).Delete(&Session{})
	return res.RowsAffected, s.unavailable(res.Error)
}

// ExpireSession sets a session's expiry (tests; an operator ending one
// early uses EndSession).
func (s *Store) ExpireSession(secret string, at time.Time) error {
	return s.unavailable(s.db.Model(&Session{}).Where("id_hash = ?", hashToken(secret)).Update("expires_at", at.UTC()).Error)
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// identityKey carries an identity in a context.
type identityKey struct{}

// WithIdentity is ctx carrying id: in-process callers of the API (the web
// console) say who they speak for this way. Nothing on the wire can set a
// context value, so an HTTP client cannot.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom is the identity ctx carries, nil if none.
func IdentityFrom(ctx context.Context) *Identity {
	id, _ := ctx.Value(identityKey{}).(*Identity)
	return id
}
