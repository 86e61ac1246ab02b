package plan

import (
	"fmt"
	"strings"
)

// Suggest returns a "did you mean" hint for the candidate closest to s,
// or "" when none is close enough.
func Suggest(s string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	limit := 2
	if len(s) <= 3 {
		limit = 1
	}
	if bestDist > limit && !strings.EqualFold(s, best) {
		return ""
	}
	return fmt.Sprintf("did you mean %q?", best)
}

// editDistance is the optimal-string-alignment distance between a and b:
// Levenshtein's, with a swap of two adjacent letters counted as one edit
// (the commonest typo: "lgo" for "log").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	rows := [3][]int{make([]int, len(rb)+1), make([]int, len(rb)+1), make([]int, len(rb)+1)}
	for j := range rows[1] {
		rows[1][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		pp, prev, cur := rows[0], rows[1], rows[2]
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], pp[j-2]+1)
			}
		}
		rows[0], rows[1], rows[2] = prev, cur, pp
	}
	return rows[1][len(rb)]
}

// SuggestName is Suggest that also offers the one candidate that s is part
// of or holds (case-insensitively), for names such as ShellExit (for
// ShellExitError) that are too far off for the edit distance.
func SuggestName(s string, candidates []string) string {
	if h := Suggest(s, candidates); h != "" {
		return h
	}
	var found []string
	for _, c := range candidates {
		lc, ls := strings.ToLower(c), strings.ToLower(s)
		if strings.Contains(lc, ls) || strings.Contains(ls, lc) {
			found = append(found, c)
		}
	}
	if len(found) == 1 {
		return fmt.Sprintf("did you mean %q?", found[0])
	}
	return ""
}
