package store

import "testing"

// operator, approver and author imply viewer: a token made as the README
// shows (--roles operator,approver) can follow its own run.
func TestRolesImplyViewer(t *testing.T) {
	for _, tc := range []struct {
		roles []string
		role  string
		want  bool
	}{
		{[]string{"operator"}, "viewer", true},
		{[]string{"approver"}, "viewer", true},
		{[]string{"author"}, "viewer", true},
		{[]string{"admin"}, "viewer", true},
		{[]string{"viewer"}, "viewer", true},
		{[]string{"viewer"}, "operator", false},
		{[]string{"operator"}, "approver", false},
		{[]string{"approver"}, "author", false},
		{[]string{"author"}, "admin", false},
		{nil, "viewer", false},
	} {
		id := &Identity{User: "u", Roles: tc.roles}
		if got := id.Has(tc.role); got != tc.want {
			t.Errorf("%v has %s: %v, want %v", tc.roles, tc.role, got, tc.want)
		}
	}
}
