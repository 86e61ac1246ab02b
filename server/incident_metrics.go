package server

import (
	"math"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/opsrunbook/runbook/store"
)

// Incident metrics, by service. Services and severities come from alert
// labels anyone who can post alerts chooses: each process exports at
// most MaxServiceLabels services and MaxSeverityLabels severities, in the
// order it first sees them; the rest are counted as "other", an incident
// without one as "none".
var (
	incidentsOpened = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "runbook_incidents_opened_total",
		Help: "Incidents opened, by service and severity (at most 50 services and 10 severities; the rest are \"other\")."}, []string{"service", "severity"})
	incidentsReopened = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "runbook_incidents_reopened_total",
		Help: "Resolved incidents that fired again, by service."}, []string{"service"})
	incidentAck = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "runbook_incident_ack_seconds",
		Help:    "Time to acknowledge (first run started for it or first ack, minus opened), by service: sum/count is the MTTA.",
		Buckets: prometheus.ExponentialBuckets(5, 3, 10)}, []string{"service"})
	incidentResolve = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "runbook_incident_resolve_seconds",
		Help:    "Time to resolve (resolved minus first opened), by service, at each resolution: sum/count is the MTTR.",
		Buckets: prometheus.ExponentialBuckets(30, 3, 10)}, []string{"service"})
)

func init() {
	registry.MustRegister(incidentsOpened, incidentsReopened, incidentAck, incidentResolve)
}

// Label caps of the incident metrics.
const (
	MaxServiceLabels  = 50
	MaxSeverityLabels = 10
	maxLabelLength    = 100
)

var (
	serviceLabels  = &labelSet{limit: MaxServiceLabels}
	severityLabels = &labelSet{limit: MaxSeverityLabels}
)

// labelSet admits the first limit values it is given, folding the rest.
type labelSet struct {
	mu    sync.Mutex
	seen  map[string]bool
	limit int
}

func (l *labelSet) label(v string) string {
	if v == "" {
		return "none"
	}
	if len(v) > maxLabelLength {
		return "other"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	if l.seen[v] {
		return v
	}
	if len(l.seen) >= l.limit {
		return "other"
	}
	l.seen[v] = true
	return v
}

// countReport counts what a report did.
func countReport(inc *store.Incident, outcome string) {
	switch outcome {
	case store.IncidentOpened:
		incidentsOpened.WithLabelValues(serviceLabels.label(inc.Service), severityLabels.label(inc.Severity)).Inc()
	case store.IncidentReopened:
		incidentsReopened.WithLabelValues(serviceLabels.label(inc.Service)).Inc()
	}
}

// observeChange observes the time to acknowledge the first time an
// incident is acknowledged and the time to resolve when it resolves.
func observeChange(inc *store.Incident, status string) {
	if inc == nil {
		return
	}
	if d, ok := inc.TTA(); ok && inc.Acked {
		incidentAck.WithLabelValues(serviceLabels.label(inc.Service)).Observe(d.Seconds())
	}
	if d, ok := inc.TTR(); ok && status == store.IncidentResolved && inc.Status == store.IncidentResolved {
		incidentResolve.WithLabelValues(serviceLabels.label(inc.Service)).Observe(d.Seconds())
	}
}

// incidentStats is MTTA and MTTR over a set of incidents.
type incidentStats struct {
	Service      string   `json:"service,omitempty"`
	Incidents    int      `json:"incidents"`
	Open         int      `json:"open"`
	Mitigating   int      `json:"mitigating"`
	Resolved     int      `json:"resolved"`
	Acknowledged int      `json:"acknowledged"`
	MTTASeconds  *float64 `json:"mttaSeconds"`
	MTTRSeconds  *float64 `json:"mttrSeconds"`
	tta, ttr     float64
}

func (s *incidentStats) add(inc *store.Incident) {
	s.Incidents++
	switch inc.Status {
	case store.IncidentOpen:
		s.Open++
	case store.IncidentMitigating:
		s.Mitigating++
	case store.IncidentResolved:
		s.Resolved++
	}
	if d, ok := inc.TTA(); ok {
		s.Acknowledged++
		s.tta += d.Seconds()
	}
	if d, ok := inc.TTR(); ok {
		s.ttr += d.Seconds()
	}
}

func (s *incidentStats) means() {
	mean := func(sum float64, n int) *float64 {
		if n == 0 {
			return nil
		}
		m := math.Round(sum/float64(n)*1000) / 1000
		return &m
	}
	s.MTTASeconds, s.MTTRSeconds = mean(s.tta, s.Acknowledged), mean(s.ttr, s.Resolved)
}

// DefaultStatsWindow is the window of GET /api/v1/incidents/stats
// without since.
const DefaultStatsWindow = 30 * 24 * time.Hour

// incidentStatsHandler answers MTTA and MTTR over the incidents opened in
// a window, overall and per service.
func (a *API) incidentStatsHandler(c echo.Context) error {
	f, err := incidentFilter(c, incidentStatsQuery)
	if err != nil {
		return err
	}
	if f.Until.IsZero() {
		f.Until = timeNow()
	}
	if f.Since.IsZero() {
		f.Since = f.Until.Add(-DefaultStatsWindow)
	}
	if !f.Since.Before(f.Until) {
		return problem(http.StatusBadRequest, "bad query", "since: must be before until")
	}
	rows, truncated, err := a.Store.IncidentStatsRows(f)
	if err != nil {
		return err
	}
	var all incidentStats
	by := map[string]*incidentStats{}
	for i := range rows {
		all.add(&rows[i])
		s := by[rows[i].Service]
		if s == nil {
			s = &incidentStats{Service: rows[i].Service}
			by[rows[i].Service] = s
		}
		s.add(&rows[i])
	}
	all.means()
	services := make([]*incidentStats, 0, len(by))
	for _, s := range by {
		s.means()
		services = append(services, s)
	}
	sort.Slice(services, func(i, j int) bool { return services[i].Service < services[j].Service })
	return c.JSON(http.StatusOK, map[string]any{"since": f.Since, "until": f.Until, "overall": all, "services": services, "truncated": truncated})
}
