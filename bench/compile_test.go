// Package bench measures the engine's speed goals; docs/benchmarks.md
// records the figures.
package bench

import (
	"fmt"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/plan"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
)

// bigRunbook writes a runbook of n steps that exercises every part of the
// compiler: params, templates reading earlier outputs, conditions, parallel
// branches, loops, approvals and compensations.
// With unique set, every expression differs (a step-numbered literal), so
// no parse or type-check is shared between fields.
func bigRunbook(n int, unique bool) []byte {
	tag := func(i int) string {
		if unique {
			return fmt.Sprintf(" + '%d'", i)
		}
		return ""
	}
	var b strings.Builder
	b.WriteString(`apiVersion: runbook/v1
kind: Runbook
metadata: {name: big}
spec:
  params:
    - {name: service, type: string, default: api, pattern: "^[a-z]+$"}
    - {name: hosts, type: list, items: string, default: [a, b, c]}
    - {name: replicas, type: int, default: 3, min: 1, max: 50}
  secrets: [TOKEN]
  steps:
    - {id: s0, action: shell, with: {command: [echo, "${{ params.service }}"]}}
`)
	for i := 1; i < n; {
		switch i % 5 {
		case 1:
			fmt.Fprintf(&b, "    - id: s%d\n      action: shell\n      if: \"steps.s%d.outputs.exitCode == 0 && params.replicas > %d\"\n      with:\n        command: [deploy, \"${{ params.service%s }}-${{ steps.s%d.outputs.stdout.trim() }}\"]\n        env: {TOKEN: \"${{ secrets.TOKEN%s }}\"}\n      compensate: {action: shell, with: {command: [undo, \"${{ steps.s%d.outputs.stdout }}\"]}}\n", i, i-1, map[bool]int{false: 1, true: i}[unique], tag(i), i-1, tag(i), i)
			i++
		case 2:
			fmt.Fprintf(&b, "    - id: s%d\n      parallel:\n        - {id: s%d, action: http.check, with: {url: \"http://127.0.0.1/${{ params.service%s }}\"}, repeat: {until: outputs.healthy, every: 5s, timeout: 10m}}\n        - {id: s%d, action: tcp.check, with: {host: \"${{ params.service }}\", port: 5432}}\n", i, i+1, tag(i), i+2)
			i += 3
		case 0:
			fmt.Fprintf(&b, "    - id: s%d\n      forEach: params.hosts\n      steps:\n        - {id: s%d, action: log, with: {message: \"${{ item + ' ' + string(params.replicas)%s }}\"}}\n", i, i+1, tag(i))
			i += 2
		default:
			fmt.Fprintf(&b, "    - {id: s%d, approval: {message: \"go ${{ params.service%s }}?\", approvers: [ann, \"group:sre\"]}}\n", i, tag(i))
			i++
		}
	}
	return []byte(b.String())
}

func TestBigRunbookCompiles(t *testing.T) {
	src := bigRunbook(200, true)
	p, diags, err := runbooks.Build("big.yaml", src, runbooks.Options{Actions: activities.Catalog()})
	if err != nil {
		t.Fatal(err)
	}
	if len(diags) != 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	steps := 0
	p.Walk(func(*plan.Step) bool { steps++; return true })
	if steps < 200 {
		t.Fatalf("plan has %d steps, want at least 200", steps)
	}
}

// BenchmarkCompile200Steps is the figure for the goal "compile a 200-step
// runbook in under 10 ms": parse, lint (with every expression type-checked)
// and compile. "repeated" reuses expression sources as real runbooks do
// (params.service in many steps); "unique" makes every one different.
func BenchmarkCompile200Steps(b *testing.B) {
	for _, unique := range []bool{false, true} {
		name := map[bool]string{false: "repeated", true: "unique"}[unique]
		b.Run(name, func(b *testing.B) {
			src := bigRunbook(200, unique)
			opts := runbooks.Options{Actions: activities.Catalog()}
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := runbooks.Build("big.yaml", src, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
