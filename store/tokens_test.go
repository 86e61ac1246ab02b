package store

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A token expires at its TTL and stops at revocation, at once; its last
// use is kept to the minute; creation and revocation are audited as the
// caller, never with the secret or its hash.
func TestTokenLifeCycle(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		before := time.Now().UTC()
		secret, tok, err := s.IssueToken("root", TokenSpec{User: "ann", Roles: []string{"operator"}, Groups: []string{"change-board"}, TTL: "30d"})
		if err != nil {
			t.Fatal(err)
		}
		if tok.ExpiresAt == nil || tok.ExpiresAt.Before(before.Add(720*time.Hour)) || tok.ExpiresAt.After(time.Now().Add(720*time.Hour)) {
			t.Fatalf("expiresAt = %v, want 30 days from now", tok.ExpiresAt)
		}
		other, _, err := s.IssueToken("root", TokenSpec{User: "bob", Roles: []string{"viewer"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(secret); err != nil {
			t.Fatal(err)
		}
		list, err := s.Tokens("ann")
		if err != nil || len(list) != 1 || list[0].LastUsedAt == nil || list[0].State(time.Now()) != "active" {
			t.Fatalf("ann's tokens: %+v, %v", list, err)
		}
		firstUse := *list[0].LastUsedAt

		// Within LastUseResolution a use writes nothing; after it, it does.
		if _, err := s.Authenticate(secret); err != nil {
			t.Fatal(err)
		}
		if again, _ := s.FindToken(list[0].Prefix); !again.LastUsedAt.Equal(firstUse) {
			t.Errorf("a second use within a minute wrote lastUsedAt: %v, then %v", firstUse, again.LastUsedAt)
		}
		s.db.Model(&Token{}).Where("id = ?", tok.ID).Update("last_used_at", firstUse.Add(-2*time.Minute))
		s.shared.config.changed() // a change by hand shows within ConfigMaxAge on Postgres; here at once
		s.Authenticate(secret)
		if again, _ := s.FindToken("1"); !again.LastUsedAt.After(firstUse.Add(-time.Second)) {
			t.Errorf("a use after a minute did not write lastUsedAt: %v", again.LastUsedAt)
		}

		s.db.Model(&Token{}).Where("id = ?", tok.ID).Update("expires_at", time.Now().UTC().Add(-time.Second))
		s.shared.config.changed()
		if _, err := s.Authenticate(secret); !errors.Is(err, ErrTokenExpired) || !errors.Is(err, ErrBadToken) || err.Error() != "token expired" {
			t.Errorf("expired: %v", err)
		}
		if got, _ := s.FindToken("1"); got.State(time.Now()) != "expired" {
			t.Errorf("state of an expired token: %s", got.State(time.Now()))
		}

		bobs, _ := s.Tokens("bob")
		revoked, err := s.RevokeToken("root", bobs[0].ID)
		if err != nil || revoked.RevokedAt == nil || revoked.User != "bob" {
			t.Fatalf("revoke: %+v, %v", revoked, err)
		}
		if _, err := s.Authenticate(other); !errors.Is(err, ErrTokenRevoked) || !errors.Is(err, ErrBadToken) || err.Error() != "token revoked" {
			t.Errorf("revoked: %v", err)
		}
		if again, err := s.RevokeToken("root", bobs[0].ID); !errors.Is(err, ErrAlreadyRevoked) || !again.RevokedAt.Equal(*revoked.RevokedAt) {
			t.Errorf("revoking twice: %+v, %v", again, err)
		}
		if _, err := s.RevokeToken("root", 99); !errors.Is(err, ErrNotFound) {
			t.Errorf("revoking an unknown token: %v", err)
		}
		if _, err := s.Authenticate("rbk_nope"); !errors.Is(err, ErrBadToken) || errors.Is(err, ErrTokenRevoked) || err.Error() != "invalid token" {
			t.Errorf("unknown: %v", err)
		}

		if all, _ := s.Tokens(""); len(all) != 2 || all[0].User != "ann" || all[1].User != "bob" {
			t.Errorf("all tokens: %+v", all)
		}
		for _, ref := range []string{"99", "rbk_nope", ""} {
			if _, err := s.FindToken(ref); !errors.Is(err, ErrNotFound) {
				t.Errorf("FindToken(%q): %v", ref, err)
			}
		}
		log, _ := s.AuditLog("token.", 10)
		var got []string
		for _, e := range log {
			got = append(got, e.Actor+" "+e.Action+" "+e.Target)
			for _, leak := range []string{secret, other, hashToken(secret), hashToken(other)} {
				if strings.Contains(e.Detail, leak) {
					t.Errorf("the audit entry %+v holds a secret or its hash", e)
				}
			}
		}
		if want := []string{"root token.revoke 2", "root token.create 2", "root token.create 1"}; !reflect.DeepEqual(got, want) {
			t.Errorf("audit = %q, want %q", got, want)
		}
		if !strings.Contains(log[2].Detail, `"user":"ann"`) || !strings.Contains(log[2].Detail, `"expiresAt":`) {
			t.Errorf("create detail: %s", log[2].Detail)
		}
	})
}

// A bad spec lists every problem and creates nothing.
func TestTokenSpecProblems(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		for _, tt := range []struct {
			spec TokenSpec
			want []string
		}{
			{TokenSpec{User: " ", Roles: []string{"operator", "root"}, TTL: "-1h"}, []string{
				`user: must not be empty`,
				`roles[1]: unknown role "root" (roles: viewer, operator, approver, author, admin)`,
				`ttl: "-1h": must be positive, e.g. 720h or 30d (leave it out for a token that does not expire)`,
			}},
			{TokenSpec{User: "System:schedule", Roles: []string{"approver"}}, []string{
				`user: "System:schedule" starts with system:, which names the engine's own actors`,
			}},
			{TokenSpec{User: "ann", TTL: "soon"}, []string{
				`roles: name at least one of viewer, operator, approver, author, admin`,
				`ttl: invalid duration "soon" (want e.g. 90s, 15m, 2h, 7d, 1d12h)`,
			}},
			{TokenSpec{User: strings.Repeat("a", 201), Roles: []string{"viewer"}, Groups: []string{"ops", "a,b", ""}, TTL: "0s"}, []string{
				`user: longer than 200 characters`,
				`groups[1]: "a,b": a group is a non-empty name without commas`,
				`groups[2]: "": a group is a non-empty name without commas`,
				`ttl: "0s": must be positive, e.g. 720h or 30d (leave it out for a token that does not expire)`,
			}},
		} {
			_, _, err := s.IssueToken("root", tt.spec)
			var se *TokenSpecError
			if !errors.As(err, &se) || !reflect.DeepEqual(se.Problems, tt.want) {
				t.Errorf("%+v: %v\nwant %q", tt.spec, err, tt.want)
			}
		}
		if all, _ := s.Tokens(""); len(all) != 0 {
			t.Errorf("bad specs created %d tokens", len(all))
		}
		if log, _ := s.AuditLog("token.", 10); len(log) != 0 {
			t.Errorf("bad specs were audited: %+v", log)
		}
	})
}
