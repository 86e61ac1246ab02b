package benchrun

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
)

// Soak runs Runs workflows, Concurrent at a time, each started by Start
// and waited for by its result, and reports their latency and every stall.
type Soak struct {
	Runs, Concurrent int
	// Stall is the latency above which a run is reported with where its
	// time went.
	Stall time.Duration
	// Start starts the run with workflow id id.
	Start func(ctx context.Context, id string) (client.WorkflowRun, error)
}

// SoakResult is what a soak measured; Latency is sorted.
type SoakResult struct {
	Latency []time.Duration
	Elapsed time.Duration
	Stalls  []string
	// Last is the workflow id of the run started last.
	Last string
}

// Run runs the soak with c, printing progress every 1,000 runs and each
// stall to w.
func (s Soak) Run(ctx context.Context, c client.Client, w io.Writer) (SoakResult, error) {
	lat := make([]time.Duration, s.Runs)
	var next atomic.Int64
	var mu sync.Mutex
	var stalls []string
	var firstErr error
	began := time.Now()
	var wg sync.WaitGroup
	for range max(1, s.Concurrent) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= s.Runs {
					return
				}
				id := fmt.Sprintf("soak-%d-%d", began.UnixNano(), i)
				t0 := time.Now()
				run, err := s.Start(ctx, id)
				t1 := time.Now()
				if err == nil {
					err = run.Get(ctx, nil)
				}
				t2 := time.Now()
				lat[i] = t2.Sub(t0)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("run %s: %w", id, err)
					}
					mu.Unlock()
					return
				}
				if lat[i] > s.Stall {
					where := WhereTimeWent(ctx, c, id, t0, t1, t2)
					mu.Lock()
					stalls = append(stalls, fmt.Sprintf("run %d at %s: %s; %s", i, time.Since(began).Round(time.Second), lat[i].Round(time.Millisecond), where))
					mu.Unlock()
				}
				if (i+1)%1000 == 0 {
					fmt.Fprintf(w, "  %d runs after %s\n", i+1, time.Since(began).Round(time.Second))
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return SoakResult{}, firstErr
	}
	last := fmt.Sprintf("soak-%d-%d", began.UnixNano(), s.Runs-1)
	return SoakResult{Latency: Sorted(lat), Elapsed: time.Since(began), Stalls: stalls, Last: last}, nil
}

// Print writes the result's figures and stalls.
func (r SoakResult) Print(w io.Writer, stall time.Duration) {
	l := r.Latency
	fmt.Fprintf(w, "p50 %.1fms  p99 %.1fms  p99.9 %.1fms  max %.1fms  runs/s %.1f  stalls (> %s) %d\n",
		Ms(Pct(l, 50)), Ms(Pct(l, 99)), Ms(Pct(l, 99.9)), Ms(l[len(l)-1]), float64(len(l))/r.Elapsed.Seconds(), stall, len(r.Stalls))
	for _, s := range r.Stalls {
		fmt.Fprintln(w, "  stall:", s)
	}
}

// WhereTimeWent says where a run's time went on the client's clock (it
// began the start at began, the start returned at started, the result
// came at ended) against its history's event times: the start RPC, the
// history's span, the wait from the last event to the result, and the two
// events furthest apart.
func WhereTimeWent(ctx context.Context, c client.Client, id string, began, started, ended time.Time) string {
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var first, prev *historypb.HistoryEvent
	var gap time.Duration
	where := ""
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return err.Error()
		}
		if first == nil {
			first = e
		}
		if prev != nil {
			if d := e.GetEventTime().AsTime().Sub(prev.GetEventTime().AsTime()); d > gap {
				gap = d
				where = fmt.Sprintf("longest gap %s from event %d %s to %d %s", d.Round(time.Millisecond),
					prev.GetEventId(), prev.GetEventType(), e.GetEventId(), e.GetEventType())
			}
		}
		prev = e
	}
	if first == nil {
		return "no events"
	}
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("start RPC %s, history span %s, result %s after the last event; %s",
		r(started.Sub(began)), r(prev.GetEventTime().AsTime().Sub(first.GetEventTime().AsTime())),
		r(ended.Sub(prev.GetEventTime().AsTime())), where)
}

// Breakdown is where a run's time went between its history's events: for
// each pair of consecutive event types, their count and the mean time
// between them, largest total first.
func Breakdown(ctx context.Context, c client.Client, id string) string {
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	type agg struct {
		n     int
		total time.Duration
	}
	by := map[string]*agg{}
	var order []string
	var prev *historypb.HistoryEvent
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return err.Error()
		}
		if prev != nil {
			k := short(prev.GetEventType()) + " → " + short(e.GetEventType())
			if by[k] == nil {
				by[k] = &agg{}
				order = append(order, k)
			}
			by[k].n++
			by[k].total += e.GetEventTime().AsTime().Sub(prev.GetEventTime().AsTime())
		}
		prev = e
	}
	slices.SortStableFunc(order, func(a, b string) int { return int(by[b].total - by[a].total) })
	var b strings.Builder
	for _, k := range order {
		fmt.Fprintf(&b, "  %-52s %3d × %6.1fms\n", k, by[k].n, Ms(by[k].total/time.Duration(by[k].n)))
	}
	return b.String()
}

func short(t enumspb.EventType) string {
	return strings.TrimPrefix(t.String(), "EVENT_TYPE_")
}
