package server

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics the API exports on /metrics, in a registry of its own.
var (
	registry      = prometheus.NewRegistry()
	httpRequests  = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "runbook_http_requests_total", Help: "HTTP requests by route and status."}, []string{"method", "route", "status"})
	httpDuration  = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "runbook_http_request_seconds", Help: "HTTP request durations by route.", Buckets: prometheus.DefBuckets}, []string{"method", "route"})
	runsStarted   = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "runbook_runs_started_total", Help: "Runs started, by runbook and trigger."}, []string{"runbook", "trigger"})
	runsFinished  = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "runbook_runs_finished_total", Help: "Runs finished, by runbook and status."}, []string{"runbook", "status"})
	runDuration   = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "runbook_run_seconds", Help: "Run durations, by runbook.", Buckets: prometheus.ExponentialBuckets(1, 4, 10)}, []string{"runbook"})
	stepsDone     = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "runbook_steps_total", Help: "Steps finished, by runbook, kind and status."}, []string{"runbook", "kind", "status"})
	statusQueries = prometheus.NewCounter(prometheus.CounterOpts{Name: "runbook_status_queries_total", Help: "Status queries sent to runs (a run is asked again only when its history grew)."})
	stepDuration  = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "runbook_step_seconds", Help: "Step durations, by runbook and kind.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)}, []string{"runbook", "kind"})
)

func init() {
	registry.MustRegister(httpRequests, httpDuration, runsStarted, runsFinished, runDuration, stepsDone, stepDuration, statusQueries)
}

// measure counts and times every request by its route pattern.
func (a *API) measure(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		method, route := metricLabels(c.Request().Method, c.Path())
		httpRequests.WithLabelValues(method, route, strconv.Itoa(c.Response().Status)).Inc()
		httpDuration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
		return nil
	}
}

// knownRoutes is every method and route pattern of the route table.
var knownRoutes = func() map[[2]string]bool {
	m := map[[2]string]bool{}
	for _, r := range routeTable() {
		m[[2]string{r.method, r.path}] = true
	}
	return m
}()

// metricLabels folds what a caller chooses into bounded labels: a method
// and route pair the route table does not have is "OTHER" "unmatched", so
// requests with random methods or paths add no series.
func metricLabels(method, route string) (string, string) {
	if knownRoutes[[2]string{method, route}] {
		return method, route
	}
	if !slices.Contains(knownMethods, method) {
		method = "OTHER"
	}
	return method, "unmatched"
}

var knownMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}

func (a *API) metricsHandler(c echo.Context) error {
	promhttp.HandlerFor(registry, promhttp.HandlerOpts{}).ServeHTTP(c.Response(), c.Request())
	return nil
}
