package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/store"
)

// tooLong answers a record the store refused for its sizes: 422, a
// detail per field.
func tooLong(e *store.TooLongError) error {
	details := make([]any, len(e.Fields))
	for i, f := range e.Fields {
		details[i] = f
	}
	return problem(http.StatusUnprocessableEntity, "values longer than the database holds", details...)
}

// checkAlerts refuses an Alertmanager payload any alert of which would
// not fit its run's record (the fingerprint is triggeredBy, the alertname
// label triggerDetail), before any alert starts a run: a 422 tells the
// sender, where a run that fails to record drops the alert.
func checkAlerts(alerts []Alert) error {
	var long []any
	fingerprint, detail := store.Size(store.Run{}, "TriggeredBy"), store.Size(store.Run{}, "TriggerDetail")
	for i, a := range alerts {
		if n := store.Length(a.Fingerprint); n > fingerprint {
			long = append(long, fmt.Sprintf("alerts[%d].fingerprint: %d characters, at most %d", i, n, fingerprint))
		}
		if n := store.Length(a.Labels["alertname"]); n > detail {
			long = append(long, fmt.Sprintf("alerts[%d].labels.alertname: %d characters, at most %d", i, n, detail))
		}
	}
	if long != nil {
		return problem(http.StatusUnprocessableEntity, "values longer than the database holds", long...)
	}
	return nil
}

// checkPlan refuses a runbook whose schedules would not fit their records,
// before the version is saved or a schedule made in Temporal.
func checkPlan(p *plan.Plan) error {
	var long []any
	for i, s := range p.Schedules {
		var tl *store.TooLongError
		if errors.As(store.CheckSizes(&store.Schedule{Runbook: p.Name, Name: s.Name, Cron: s.Cron, Timezone: s.Timezone, Overlap: string(s.Overlap)}), &tl) {
			for _, f := range tl.Fields {
				long = append(long, fmt.Sprintf("spec.schedules[%d].%s", i, f))
			}
		}
	}
	if long != nil {
		return problem(http.StatusUnprocessableEntity, "values longer than the database holds", long...)
	}
	return nil
}
