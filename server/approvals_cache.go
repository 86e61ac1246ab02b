package server

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/workflows"
)

// ApprovalsMaxAge is how old the approvals list's read of the records may
// be before a request reads them again, behind it (the request answers
// with the read it has); a read twice as old is never served, the request
// reads first. What another API replica wrote (votes through it, its
// syncer's passes) shows within 2 × ApprovalsMaxAge more. A write through
// this API's own store makes the next request read them at once.
const ApprovalsMaxAge = time.Second

// recordedEntry is a waiting entry of the records, decoded: a waiting
// approval or decision, or a sub-runbook step running (whose child run is
// asked at each request). A waiting one keeps its place in the list
// encoded, as every caller is shown it but for mine (enc[0] mine false,
// enc[1] true): a request joins them rather than encoding 10,000 entries.
type recordedEntry struct {
	r   *store.Run
	w   waitingApproval
	row store.WaitingStep // as read: an unchanged row is not decoded again
	enc [2][]byte
}

// recordsRead is one read of the records' waiting entries, as of gen
// (store.RecordsGeneration before the read), newest run first.
type recordsRead struct {
	gen     uint64
	at      time.Time
	entries []*recordedEntry
	runs    map[string]bool // the runs with an entry
	// unrecorded are running runs without step records (at most
	// MaxUnrecordedReads, newest first), read before the entries: one the
	// syncer records in between is in both (and listed from the
	// records), never in neither.
	unrecorded []store.Run
}

// approvalsCache keeps an API's last read of the records.
type approvalsCache struct {
	mu      sync.Mutex // held while reading the records
	last    *recordsRead
	behind  bool // a read behind a request is under way
	content sync.Mutex
}

// recordedWaiting returns the records' waiting entries: the last read
// when no write went through this store since it began (a read older than
// ApprovalsMaxAge is renewed behind the request), else a new read.
func (a *API) recordedWaiting() (*recordsRead, error) {
	c := &a.approvals
	c.content.Lock()
	last := c.last
	if last != nil && last.gen == a.Store.RecordsGeneration() && time.Since(last.at) < 2*ApprovalsMaxAge {
		// (A read renewed behind that keeps failing is not served for
		// long: the request reads, and answers the failure.)
		if time.Since(last.at) > ApprovalsMaxAge && !c.behind {
			c.behind = true
			go func() {
				c.mu.Lock()
				defer c.mu.Unlock()
				_, _ = a.readRecords(c)
				c.content.Lock()
				c.behind = false
				c.content.Unlock()
			}()
		}
		c.content.Unlock()
		return last, nil
	}
	c.content.Unlock()
	c.mu.Lock() // one read at a time: a request that waited takes the one just made
	defer c.mu.Unlock()
	c.content.Lock()
	last = c.last
	c.content.Unlock()
	if last != nil && last.gen == a.Store.RecordsGeneration() && time.Since(last.at) < ApprovalsMaxAge {
		return last, nil
	}
	return a.readRecords(c)
}

// readRecords reads the records' waiting entries and keeps the read in c
// (c.mu held). An entry whose row is as the last read had it is taken
// from that read, not decoded and encoded again.
func (a *API) readRecords(c *approvalsCache) (*recordsRead, error) {
	gen := a.Store.RecordsGeneration() // before: a write during the read makes it old
	at := time.Now()
	unrecorded, _, err := a.Store.UnrecordedRunning(MaxUnrecordedReads)
	if err != nil {
		return nil, err
	}
	rows, err := a.Store.WaitingSteps()
	if err != nil {
		return nil, err
	}
	c.content.Lock()
	last := c.last
	c.content.Unlock()
	var before map[entryKey]*recordedEntry
	if last != nil {
		before = make(map[entryKey]*recordedEntry, len(last.entries))
		for _, e := range last.entries {
			before[keyOf(&e.row)] = e
		}
	}
	read := &recordsRead{gen: gen, at: at, entries: make([]*recordedEntry, 0, len(rows)), runs: map[string]bool{}, unrecorded: unrecorded}
	plans := map[string]*plan.Plan{}
	var r *store.Run
	var p *plan.Plan
	for i := range rows {
		w := &rows[i]
		last := before[keyOf(w)]
		if last != nil && !last.row.Same(w) {
			last = nil
		}
		if r == nil || r.ID != w.RunID { // a run's entries are together
			if last != nil {
				r, p = last.r, last.w.plan
			} else {
				rec := w.Run()
				r, p = &rec, a.planOf(plans, &rec)
			}
			read.runs[r.ID] = true
		}
		if p == nil {
			continue // a run whose plan is not read: none of its entries
		}
		if last != nil {
			read.entries = append(read.entries, last)
			continue
		}
		e := &recordedEntry{r: r, w: waitingApproval{run: r.ID, plan: p, step: stepState(w.Event())}, row: *w}
		if s := e.w.step.Status; s == workflows.StatusWaitingApproval || s == workflows.StatusWaitingDecision {
			pa := pendingEntry(r, e.w)
			if e.enc[0], err = json.Marshal(pa); err != nil {
				return nil, err
			}
			pa.Mine = true
			if e.enc[1], err = json.Marshal(pa); err != nil {
				return nil, err
			}
		}
		read.entries = append(read.entries, e)
	}
	c.content.Lock()
	c.last = read
	c.content.Unlock()
	return read, nil
}

// entryKey names a waiting entry across reads: its run, step and item.
type entryKey struct {
	run, step string
	item      int
}

func keyOf(w *store.WaitingStep) entryKey { return entryKey{w.RunID, w.StepID, w.Item} }
