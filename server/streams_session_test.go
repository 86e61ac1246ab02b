package server

import (
	"testing"

	"github.com/opsrunbook/runbook/store"
)

// TestEventStreamsPerSession: console sessions without a token (OpenID
// Connect, TokenID 0) each have their own slots, not one shared by all of
// them; sessions made from one token share that token's.
func TestEventStreamsPerSession(t *testing.T) {
	var s streamSlots
	l := StreamLimits{PerToken: 1, Total: 10}
	take := func(id *store.Identity) error {
		t.Helper()
		_, err := s.acquire(l, streamCallerOf(id))
		return err
	}
	for _, tc := range []struct {
		name string
		id   *store.Identity
		want string // the refusal, "" for a slot
	}{
		{name: "oidc session 1", id: &store.Identity{SessionID: 1, User: "ann@example.com"}},
		{name: "oidc session 2, same user", id: &store.Identity{SessionID: 2, User: "ann@example.com"}},
		{name: "oidc session 3, another user", id: &store.Identity{SessionID: 3, User: "bob@example.com"}},
		{name: "oidc session 1 again", id: &store.Identity{SessionID: 1, User: "ann@example.com"},
			want: "this session has 1 event streams open, the most it may"},
		{name: "token 7's session", id: &store.Identity{TokenID: 7, SessionID: 4, User: "cy"}},
		{name: "token 7 with a bearer", id: &store.Identity{TokenID: 7, User: "cy"},
			want: "this token has 1 event streams open, the most it may"},
		{name: "token 7's other session", id: &store.Identity{TokenID: 7, SessionID: 5, User: "cy"},
			want: "this token has 1 event streams open, the most it may"},
	} {
		err := take(tc.id)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if n := s.open(); n != 4 {
		t.Errorf("%d streams open, want 4", n)
	}
}
