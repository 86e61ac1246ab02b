package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

// A session from a token follows the token: its roles at use, refused
// once the token is revoked or expired; a session ends at sign-out and
// at its expiry; only its hash is stored.
func TestSessionLifeCycle(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		secret, _, err := s.IssueToken("root", TokenSpec{User: "ann", Roles: []string{"approver"}, Groups: []string{"board"}})
		if err != nil {
			t.Fatal(err)
		}
		id, err := s.Authenticate(secret)
		if err != nil {
			t.Fatal(err)
		}
		sid, sess, err := s.CreateSession(id, "token", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if len(sid) != 43 || sess.IDHash == sid || sess.IDHash != hashToken(sid) || len(sess.CSRF) != 43 || sess.TokenID == nil || *sess.TokenID != id.TokenID {
			t.Fatalf("session: %q %+v", sid, sess)
		}
		got, who, err := s.SessionIdentity(sid)
		want := *id
		want.SessionID = sess.ID // the session it came through: a token's session shares the token's slots anyway
		if err != nil || got.ID != sess.ID || got.CSRF != sess.CSRF || !reflect.DeepEqual(who, &want) {
			t.Fatalf("identity: %+v %+v %v", got, who, err)
		}
		if _, _, err := s.SessionIdentity(sid + "x"); !errors.Is(err, ErrBadSession) || err.Error() != "no such session" {
			t.Errorf("unknown session: %v", err)
		}

		// The token's state at use.
		s.db.Model(&Token{}).Where("id = ?", id.TokenID).Update("expires_at", time.Now().UTC().Add(-time.Second))
		if _, _, err := s.SessionIdentity(sid); !errors.Is(err, ErrTokenExpired) {
			t.Errorf("session of an expired token: %v", err)
		}
		s.db.Model(&Token{}).Where("id = ?", id.TokenID).Update("expires_at", nil)
		if _, err := s.RevokeToken("root", id.TokenID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SessionIdentity(sid); !errors.Is(err, ErrTokenRevoked) {
			t.Errorf("session of a revoked token: %v", err)
		}

		// A session of another sign-in method holds what it was given.
		other := &Identity{User: "dana", Roles: []string{"viewer"}, Groups: []string{"dba"}}
		oid, osess, err := s.CreateSession(other, "oidc", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		// No token: TokenID 0, and the session's id is what keys it
		// (event stream slots).
		if _, who, err := s.SessionIdentity(oid); err != nil || who.TokenID != 0 || who.SessionID != osess.ID ||
			!reflect.DeepEqual(*who, Identity{SessionID: osess.ID, User: "dana", Roles: []string{"viewer"}, Groups: []string{"dba"}}) {
			t.Fatalf("oidc session: %+v %v", who, err)
		}
		if err := s.ExpireSession(oid, time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SessionIdentity(oid); !errors.Is(err, ErrSessionExpired) || !errors.Is(err, ErrBadSession) {
			t.Errorf("expired session: %v", err)
		}
		oid, _, _ = s.CreateSession(other, "oidc", time.Hour)
		if err := s.EndSession(oid); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SessionIdentity(oid); !errors.Is(err, ErrSessionRevoked) || err.Error() != "session ended" {
			t.Errorf("ended session: %v", err)
		}
		if err := s.EndSession(oid); err != nil {
			t.Errorf("ending twice: %v", err)
		}
		for _, bad := range []*Identity{nil, {User: " "}} {
			if _, _, err := s.CreateSession(bad, "token", time.Hour); err == nil {
				t.Errorf("session for %+v made", bad)
			}
		}
		if _, _, err := s.CreateSession(other, "token", 0); err == nil {
			t.Error("session without a lifetime made")
		}
	})
}

// PruneSessions deletes the sessions that expired or were ended before a
// time, and only those.
func TestSessionPrune(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		who := &Identity{User: "dana", Roles: []string{"viewer"}}
		live, _, _ := s.CreateSession(who, "oidc", time.Hour)
		expired, _, _ := s.CreateSession(who, "oidc", time.Hour)
		ended, _, _ := s.CreateSession(who, "token", time.Hour)
		if err := s.ExpireSession(expired, time.Now().Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.EndSession(ended); err != nil {
			t.Fatal(err)
		}
		n, err := s.PruneSessions(time.Now())
		if err != nil || n != 2 {
			t.Fatalf("PruneSessions = %d, %v; want 2", n, err)
		}
		for _, gone := range []string{expired, ended} {
			if _, _, err := s.SessionIdentity(gone); err != ErrBadSession {
				t.Errorf("a pruned session: %v, want %v", err, ErrBadSession)
			}
		}
		if _, _, err := s.SessionIdentity(live); err != nil {
			t.Errorf("the live session: %v", err)
		}
		if n, err := s.PruneSessions(time.Now()); err != nil || n != 0 {
			t.Errorf("again: %d, %v", n, err)
		}
	})
}

func TestIdentityContext(t *testing.T) {
	if IdentityFrom(context.Background()) != nil {
		t.Fatal("identity in an empty context")
	}
	id := &Identity{User: "ann"}
	if got := IdentityFrom(WithIdentity(context.Background(), id)); got != id {
		t.Fatalf("got %+v", got)
	}
}
