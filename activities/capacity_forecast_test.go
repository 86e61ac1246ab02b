package activities

import (
	"context"
	"math"
	"testing"

	"github.com/opsrunbook/runbook/plan"
)

func TestCapacityForecast(t *testing.T) {
	e := &Env{}
	day := 86400.0
	// 100 GB growing 10 GB a day, sampled for 5 days (140 GB at the last);
	// a 500 GB disk fills 36 days after the last sample.
	var samples []any
	for i := range 5 {
		samples = append(samples, []any{float64(1_700_000_000) + float64(i)*day, 100e9 + float64(i)*10e9})
	}
	out, err := handlerOf(e, CapacityForecastSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"samples": samples, "threshold": 500e9}})
	if err != nil {
		t.Fatal(err)
	}
	if d := out.Outputs["daysUntil"].(float64); math.Abs(d-36) > 1e-6 || math.Abs(out.Outputs["slopePerDay"].(float64)-10e9) > 1 || out.Outputs["r2"].(float64) < 0.999 {
		t.Errorf("outputs = %v", out.Outputs)
	}
	shrinking := []any{map[string]any{"t": "2026-11-01T00:00:00Z", "v": "9"}, map[string]any{"t": "2026-11-02T00:00:00Z", "v": "8"}}
	out, err = handlerOf(e, CapacityForecastSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"samples": shrinking, "threshold": 10}})
	if err != nil || out.Outputs["daysUntil"] != -1.0 {
		t.Errorf("shrinking: %v, %v", out.Outputs, err)
	}
	if _, err := handlerOf(e, CapacityForecastSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"samples": []any{[]any{1, 2}}, "threshold": 3}}); err == nil {
		t.Error("one sample was accepted")
	}
}
