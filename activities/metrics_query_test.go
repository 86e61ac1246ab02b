package activities

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/opsrunbook/runbook/plan"
)

func TestMetricsQueryAgainstAPrometheusAPI(t *testing.T) {
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Query().Get("query") == "bad(":
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"parse error"}`))
		case r.URL.Path == "/api/v1/query_range" && r.URL.Query().Get("step") == "3600":
			w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"mount":"/data"},"values":[[1700000000,"100"],[1700003600,"110"],[1700007200,"120"]]}]}}`))
		case r.URL.Path == "/api/v1/query" && r.URL.Query().Get("query") == "scalar(up)":
			w.Write([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1700000000,"3"]}}`))
		case r.URL.Path == "/api/v1/query":
			w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"api"},"value":[1700000000,"0.25"]}]}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer prom.Close()
	e := &Env{}
	out, err := handlerOf(e, MetricsQuerySpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"url": prom.URL, "query": "up"}})
	if err != nil || out.Outputs["resultType"] != "vector" || out.Outputs["value"] != 0.25 {
		t.Fatalf("instant: %v, %v", out.Outputs, err)
	}
	out, err = handlerOf(e, MetricsQuerySpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"url": prom.URL, "query": "disk_used_bytes", "range": "2h"}})
	if err != nil || len(out.Outputs["values"].([]any)) != 3 || out.Outputs["value"] != 120.0 {
		t.Fatalf("range: %v, %v", out.Outputs, err)
	}
	// The points feed capacity.forecast as they are.
	fc, err := handlerOf(e, CapacityForecastSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"samples": out.Outputs["values"], "threshold": 340}})
	if err != nil || fc.Outputs["daysUntil"].(float64) < 0.91 || fc.Outputs["daysUntil"].(float64) > 0.92 {
		t.Errorf("forecast from a range query: %v, %v", fc.Outputs, err)
	}
	out, err = handlerOf(e, MetricsQuerySpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"url": prom.URL, "query": "scalar(up)"}})
	if err != nil || out.Outputs["resultType"] != "scalar" || out.Outputs["value"] != 3.0 {
		t.Fatalf("scalar: %v, %v", out.Outputs, err)
	}
	_, err = handlerOf(e, MetricsQuerySpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"url": prom.URL, "query": "bad("}})
	if app := appErr(t, err); !app.NonRetryable() {
		t.Errorf("a bad query must not be retried: %v", app)
	}
}
