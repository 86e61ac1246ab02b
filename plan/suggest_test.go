package plan

import "testing"

func TestSuggest(t *testing.T) {
	actions := []string{"log", "shell", "http.request", "http.check", "backup.files"}
	tests := []struct{ in, want string }{
		{"lgo", `did you mean "log"?`},    // a swap is one edit
		{"shel", `did you mean "shell"?`}, // a letter left out
		{"htpt.request", `did you mean "http.request"?`},
		{"SHELL", `did you mean "shell"?`}, // case
		{"xyz", ""},                        // nothing close
		{"backup.postgres", ""},            // too far off
	}
	for _, tt := range tests {
		if got := Suggest(tt.in, actions); got != tt.want {
			t.Errorf("Suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, tt := range []struct {
		a, b string
		want int
	}{{"lgo", "log", 1}, {"abc", "abc", 0}, {"ca", "abc", 3}, {"kitten", "sitting", 3}, {"", "ab", 2}} {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
