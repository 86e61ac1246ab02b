package examples_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/workflows"
)

// startPrometheus answers range queries of Prometheus' HTTP API with a series
// that grows by perHour from base at the requested start.
func startPrometheus(t *testing.T, base, perHour float64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start, err1 := strconv.ParseInt(r.FormValue("start"), 10, 64)
		end, err2 := strconv.ParseInt(r.FormValue("end"), 10, 64)
		step, err3 := strconv.ParseFloat(r.FormValue("step"), 64)
		if r.URL.Path != "/api/v1/query_range" || r.FormValue("query") == "" || err1 != nil || err2 != nil || err3 != nil || step <= 0 {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"not a range query"}`))
			return
		}
		var points [][]any
		for ts := start; ts <= end; ts += int64(step) {
			v := base + perHour*float64(ts-start)/3600
			points = append(points, []any{ts, strconv.FormatFloat(v, 'f', -1, 64)})
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{
			"resultType": "matrix", "result": []any{map[string]any{"metric": map[string]string{}, "values": points}}}})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestCapacityForecastEndToEnd(t *testing.T) {
	s := startStack(t)
	h := slackHook(t)
	prom := startPrometheus(t, 1000, 10) // 240 a day; 2680 after the default week
	p := example(t, "capacity-forecast.yaml")

	res, errType, st := s.runPlan(t, p, map[string]any{"prometheus_url": prom.URL, "capacity": 2680 + 240*100})
	if errType != "" {
		t.Fatalf("a volume with 100 days left failed: %s: %s", errType, st.Error)
	}
	if d, _ := res.Outputs["days_until"].(float64); d < 99 || d > 101 {
		t.Errorf("outputs = %v", res.Outputs)
	}
	if got := h.received(); len(got) != 0 {
		t.Errorf("notified with 100 days left: %q", got)
	}

	_, errType, st = s.runPlan(t, p, map[string]any{"prometheus_url": prom.URL, "capacity": 2680 + 240*10})
	if errType != workflows.ErrAssertion || !strings.Contains(st.Error, "within the 30-day window") {
		t.Errorf("with 10 days left: %q: %s", errType, st.Error)
	}
	if got := h.received(); len(got) != 1 || !strings.Contains(got[0], "usage reaches 5080 in") {
		t.Errorf("notifications = %q", got)
	}
}
