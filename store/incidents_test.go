package store

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

// An incident's life: opened by a report, repeats folded, acknowledged by
// its first run, resolved, reopened by the same key; each step audited.
func TestIncidentLifecycle(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		report := func(text string) (*Incident, string) {
			t.Helper()
			inc, outcome, err := s.ReportIncident(&Incident{Source: SourceAlertmanager, Key: "{}:{alertname=\"Down\"}", Title: "Down",
				Severity: "critical", Service: "api"}, "alertmanager", text)
			if err != nil {
				t.Fatal(err)
			}
			return inc, outcome
		}
		inc, outcome := report("Down: api")
		if outcome != IncidentOpened || inc.Status != IncidentOpen || inc.OpenedBy != "alertmanager" {
			t.Fatalf("first report: %s %+v", outcome, inc)
		}
		if again, outcome := report("Down: api"); outcome != IncidentUpdated || again.ID != inc.ID {
			t.Errorf("the same report: %s %+v", outcome, again)
		}
		if _, err := s.SetIncidentStatus(inc.ID, IncidentOpen, "ann", ""); err == nil || err.Error() != "the incident is already open" {
			t.Errorf("open → open: %v", err)
		}
		linked, ok, err := s.LinkRun(inc.ID, "remediate-1", "alertmanager")
		if err != nil || !ok || linked.Status != IncidentMitigating || linked.AckedAt == nil || linked.AckedBy != "alertmanager" {
			t.Fatalf("link: %v %v %+v", ok, err, linked)
		}
		if _, ok, err := s.LinkRun(inc.ID, "remediate-1", "alertmanager"); ok || err != nil {
			t.Errorf("link again: %v %v", ok, err)
		}
		if _, err := s.SetIncidentStatus(inc.ID, IncidentMitigating, "ann", ""); err == nil || err.Error() != "the incident is already mitigating" {
			t.Errorf("ack after the run: %v", err)
		}
		if _, err := s.AddIncidentNote(inc.ID, "ann", "restarted the pods"); err != nil {
			t.Fatal(err)
		}
		resolved, changed, err := s.ResolveAlert(SourceAlertmanager, inc.Key, "alertmanager", "resolved: Down")
		if err != nil || !changed || resolved.Status != IncidentResolved || resolved.ResolvedAt == nil {
			t.Fatalf("resolve: %v %v %+v", changed, err, resolved)
		}
		if ttr, ok := resolved.TTR(); !ok || ttr < 0 {
			t.Errorf("ttr: %v %v", ttr, ok)
		}
		if _, changed, err := s.ResolveAlert(SourceAlertmanager, inc.Key, "alertmanager", "resolved: Down"); changed || err != nil {
			t.Errorf("resolve again: %v %v", changed, err)
		}
		var se *IncidentStateError
		if _, err := s.SetIncidentStatus(inc.ID, IncidentMitigating, "ann", ""); !errors.As(err, &se) || err.Error() != "an incident that is resolved cannot become mitigating" {
			t.Errorf("ack a resolved incident: %v", err)
		}
		reopened, outcome := report("Down: api")
		if outcome != IncidentReopened || reopened.ID != inc.ID || reopened.Status != IncidentOpen || reopened.ResolvedAt != nil || reopened.Reopens != 1 {
			t.Fatalf("re-fire: %s %+v", outcome, reopened)
		}
		if got, err := s.Incident(inc.ID); err != nil || got.ResolvedAt != nil || got.ResolvedBy != "" || got.Status != IncidentOpen || got.Reopens != 1 {
			t.Errorf("reopened, as recorded: %v %+v", err, got)
		}
		if _, _, err := s.ResolveAlert(SourceAlertmanager, "no such group", "alertmanager", ""); !errors.Is(err, ErrNotFound) {
			t.Errorf("resolve an unknown group: %v", err)
		}
		events, err := s.IncidentEvents(inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range events {
			got = append(got, strings.Join(strings.Fields(e.Kind+" "+e.Status+" "+e.Text+" "+e.Run), " "))
		}
		want := []string{"status open opened", "alert firing Down: api", "run remediate-1",
			"status mitigating run remediate-1 started for it", "note restarted the pods",
			"alert resolved resolved: Down", "status resolved resolved by alertmanager",
			"status open reopened: it fires again", "alert firing Down: api"}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		entries, _, err := s.AuditEntries(AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range entries {
			if strings.HasPrefix(e.Action, "incident.") {
				actions = append(actions, e.Actor+" "+e.Action+" "+e.Target)
			}
		}
		wantActions := "alertmanager incident.reopen incident/1,alertmanager incident.resolve incident/1,ann incident.note incident/1," +
			"alertmanager incident.link incident/1,alertmanager incident.open incident/1"
		if strings.Join(actions, ",") != wantActions {
			t.Errorf("audit: %s", strings.Join(actions, ","))
		}
		page, more, err := s.Incidents(IncidentFilter{Status: IncidentOpen, Service: "api", Limit: 1})
		if err != nil || more || len(page) != 1 || page[0].ID != inc.ID {
			t.Errorf("list: %v %v %+v", more, err, page)
		}
		if runs, err := s.IncidentsOfRun("remediate-1"); err != nil || len(runs) != 1 || runs[0] != inc.ID {
			t.Errorf("incidents of the run: %v %v", runs, err)
		}
	})
}

// Reports of one key at once make one incident; a key longer than its
// column still names its incident.
func TestIncidentReportsRaceAndLongKeys(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		key := strings.Repeat("k", 600)
		outcomes := make(chan string, 8)
		ids := make(chan uint, 8)
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				inc, outcome, err := s.ReportIncident(&Incident{Source: SourceAlertmanager, Key: key, Title: "t"}, "am", "firing")
				if err != nil {
					t.Error(err)
					return
				}
				outcomes <- outcome
				ids <- inc.ID
			}()
		}
		wg.Wait()
		close(outcomes)
		close(ids)
		opened := 0
		for o := range outcomes {
			if o == IncidentOpened {
				opened++
			}
		}
		first := uint(0)
		for id := range ids {
			if first == 0 {
				first = id
			}
			if id != first {
				t.Errorf("two incidents for one key: %d and %d", first, id)
			}
		}
		if opened != 1 {
			t.Errorf("%d reports opened the incident, want 1", opened)
		}
		inc, changed, err := s.ResolveAlert(SourceAlertmanager, key, "am", "resolved")
		if err != nil || !changed || inc.ID != first || Length(inc.Key) != Size(Incident{}, "Key") {
			t.Errorf("resolve by the long key: %v %v %+v", changed, err, inc)
		}
		if _, _, err := s.ResolveAlert(SourceAPI, key, "am", "resolved"); !errors.Is(err, ErrNotFound) {
			t.Errorf("another source's key: %v", err)
		}
	})
}
