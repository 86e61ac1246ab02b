// Package diff compares runbook versions: a unified diff of their sources
// and a summary of what changed in their plans.
package diff

import (
	"fmt"
	"strings"
)

// Context is how many unchanged lines a hunk shows around a change.
const Context = 3

// maxEdits bounds the edit script the Myers search looks for; past it the
// rest of the two texts is shown as one replacement: a correct diff, not
// the shortest, at a bounded cost.
const maxEdits = 1000

type opKind byte

const (
	opEqual  opKind = ' '
	opDelete opKind = '-'
	opInsert opKind = '+'
)

type op struct {
	kind opKind
	line string
}

// Unified is the unified diff of a and b (as diff -u prints it, with
// Context lines of context), labelled fromName and toName; "" when they
// are equal.
func Unified(fromName, toName, a, b string) string {
	x, y := splitLines(a), splitLines(b)
	ops := lineOps(x, y)
	hunks := hunksOf(ops)
	if len(hunks) == 0 {
		return ""
	}
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", fromName, toName)
	for _, h := range hunks {
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(h.fromLine, h.fromCount), hunkRange(h.toLine, h.toCount))
		for _, o := range ops[h.start:h.end] {
			out.WriteByte(byte(o.kind))
			out.WriteString(o.line)
			if !strings.HasSuffix(o.line, "\n") {
				out.WriteString("\n\\ No newline at end of file\n")
			}
		}
	}
	return out.String()
}

// splitLines splits s after each newline; the last line may lack one.
func splitLines(s string) []string {
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// lineOps is an edit script from a to b: the common head and tail, and
// between them the shortest script Myers' search finds.
func lineOps(a, b []string) []op {
	head := 0
	for head < len(a) && head < len(b) && a[head] == b[head] {
		head++
	}
	tail := 0
	for tail < len(a)-head && tail < len(b)-head && a[len(a)-1-tail] == b[len(b)-1-tail] {
		tail++
	}
	ops := make([]op, 0, len(a)+len(b))
	for _, l := range a[:head] {
		ops = append(ops, op{opEqual, l})
	}
	ops = append(ops, myers(a[head:len(a)-tail], b[head:len(b)-tail])...)
	for _, l := range a[len(a)-tail:] {
		ops = append(ops, op{opEqual, l})
	}
	return ops
}

// myers is the shortest edit script from a to b (Myers 1986), deletions
// before insertions where both fit; past maxEdits, a replacement of all.
func myers(a, b []string) []op {
	n, m := len(a), len(b)
	limit := min(n+m, maxEdits)
	// trace[d] is the furthest x reached on each diagonal k in
	// [-d-1, d+1] before round d, at trace[d][k+d+1].
	var trace [][]int
	v := map[int]int{1: 0}
	for d := 0; d <= limit; d++ {
		snap := make([]int, 2*d+3)
		for k := -d - 1; k <= d+1; k++ {
			snap[k+d+1] = v[k]
		}
		trace = append(trace, snap)
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || k != d && v[k-1] < v[k+1] {
				x = v[k+1]
			} else {
				x = v[k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x, y = x+1, y+1
			}
			v[k] = x
			if x >= n && y >= m {
				return backtrack(a, b, trace)
			}
		}
	}
	ops := make([]op, 0, n+m)
	for _, l := range a {
		ops = append(ops, op{opDelete, l})
	}
	for _, l := range b {
		ops = append(ops, op{opInsert, l})
	}
	return ops
}

// backtrack walks the trace from the end back to the start.
func backtrack(a, b []string, trace [][]int) []op {
	var rev []op
	x, y := len(a), len(b)
	for d := len(trace) - 1; d >= 0; d-- {
		at := func(k int) int { return trace[d][k+d+1] }
		k := x - y
		prevK := k - 1
		if k == -d || k != d && at(k-1) < at(k+1) {
			prevK = k + 1
		}
		prevX := at(prevK)
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			rev = append(rev, op{opEqual, a[x-1]})
			x, y = x-1, y-1
		}
		if d > 0 {
			if x == prevX {
				rev = append(rev, op{opInsert, b[y-1]})
			} else {
				rev = append(rev, op{opDelete, a[x-1]})
			}
		}
		x, y = prevX, prevY
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev
}

// hunk is a run of ops[start:end] with its place in both texts.
type hunk struct {
	start, end          int
	fromLine, fromCount int
	toLine, toCount     int
}

// hunksOf groups the changes with Context lines around them; changes
// closer than twice that share a hunk.
func hunksOf(ops []op) []hunk {
	var hunks []hunk
	for i := 0; i < len(ops); {
		if ops[i].kind == opEqual {
			i++
			continue
		}
		start := max(0, i-Context)
		end := i
		for end < len(ops) {
			if ops[end].kind != opEqual {
				end++
				continue
			}
			eq := end
			for eq < len(ops) && ops[eq].kind == opEqual {
				eq++
			}
			if eq == len(ops) || eq-end > 2*Context {
				break
			}
			end = eq
		}
		last := end
		end = min(len(ops), end+Context)
		if n := len(hunks); n > 0 && hunks[n-1].end >= start {
			start = hunks[n-1].start
			hunks = hunks[:n-1]
		}
		hunks = append(hunks, place(ops, start, end))
		i = last
	}
	return hunks
}

// place counts the lines before and inside ops[start:end].
func place(ops []op, start, end int) hunk {
	h := hunk{start: start, end: end}
	for i, o := range ops[:end] {
		inside := i >= start
		if o.kind != opInsert {
			if inside {
				h.fromCount++
			} else {
				h.fromLine++
			}
		}
		if o.kind != opDelete {
			if inside {
				h.toCount++
			} else {
				h.toLine++
			}
		}
	}
	return h
}

// hunkRange is a hunk's range as diff -u writes it: the first line and
// the count (omitted when 1); an empty range names the line before it.
func hunkRange(before, count int) string {
	switch count {
	case 0:
		return fmt.Sprintf("%d,0", before)
	case 1:
		return fmt.Sprintf("%d", before+1)
	}
	return fmt.Sprintf("%d,%d", before+1, count)
}
