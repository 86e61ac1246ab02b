package diff

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestUnified(t *testing.T) {
	var a, b strings.Builder
	for i := 1; i <= 20; i++ {
		a.WriteString(strconv.Itoa(i) + "\n")
		switch i {
		case 2:
			b.WriteString("two\n")
		case 15:
		default:
			b.WriteString(strconv.Itoa(i) + "\n")
		}
	}
	b.WriteString("21\n")
	want := `--- a v1
+++ a v2
@@ -1,5 +1,5 @@
 1
-2
+two
 3
 4
 5
@@ -12,9 +12,9 @@
 12
 13
 14
-15
 16
 17
 18
 19
 20
+21
`
	if got := Unified("a v1", "a v2", a.String(), b.String()); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	for _, tc := range []struct{ a, b, want string }{
		{"x\n", "x\n", ""},
		{"", "x\n", "--- a\n+++ b\n@@ -0,0 +1 @@\n+x\n"},
		{"x\ny\n", "", "--- a\n+++ b\n@@ -1,2 +0,0 @@\n-x\n-y\n"},
		{"x\ny", "x\ny\n", "--- a\n+++ b\n@@ -1,2 +1,2 @@\n x\n-y\n\\ No newline at end of file\n+y\n"},
		{"1\n2\n3\n4\n5\n6\n7\n8\n", "1\n2\n3\n4\nfive\n6\n7\n8\n", "--- a\n+++ b\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"},
	} {
		if got := Unified("a", "b", tc.a, tc.b); got != tc.want {
			t.Errorf("%q -> %q: got\n%s\nwant\n%s", tc.a, tc.b, got, tc.want)
		}
	}
}

// The edit script turns a into b with as few edits as a longest common
// subsequence allows.
func TestEditScriptsAreShortest(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	text := func() []string {
		lines := make([]string, r.IntN(12))
		for i := range lines {
			lines[i] = string(rune('a'+r.IntN(3))) + "\n"
		}
		return lines
	}
	for range 2000 {
		a, b := text(), text()
		ops := lineOps(a, b)
		var gotA, gotB []string
		edits := 0
		for _, o := range ops {
			if o.kind != opInsert {
				gotA = append(gotA, o.line)
			}
			if o.kind != opDelete {
				gotB = append(gotB, o.line)
			}
			if o.kind != opEqual {
				edits++
			}
		}
		if strings.Join(gotA, "") != strings.Join(a, "") || strings.Join(gotB, "") != strings.Join(b, "") {
			t.Fatalf("%q -> %q: the script %v does not turn one into the other", a, b, ops)
		}
		if want := len(a) + len(b) - 2*lcs(a, b); edits != want {
			t.Fatalf("%q -> %q: %d edits, the shortest has %d", a, b, edits, want)
		}
	}
}

func lcs(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}

// Past maxEdits the diff is a replacement of the differing middle: still
// a diff that turns one text into the other.
func TestLargeDiffsAreBounded(t *testing.T) {
	var a, b strings.Builder
	for i := range 3000 {
		a.WriteString("a" + string(rune('0'+i%10)) + "\n")
		b.WriteString("b" + string(rune('0'+i%10)) + "\n")
	}
	got := Unified("a", "b", "same\n"+a.String(), "same\n"+b.String())
	if !strings.HasPrefix(got, "--- a\n+++ b\n@@ -1,3001 +1,3001 @@\n same\n-a0\n") || strings.Count(got, "\n-") != 3000 || strings.Count(got, "\n+") != 3001 {
		t.Errorf("%.200s", got)
	}
}
