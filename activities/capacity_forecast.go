package activities

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/opsrunbook/runbook/plan"
)

// CapacityForecastSpec fits a linear trend to samples.
var CapacityForecastSpec = &plan.ActionSpec{
	Name:        "capacity.forecast",
	Errors:      errorTypes(),
	Description: "Fit a least-squares line to samples (from metrics.query or inline) and say when it crosses a threshold: capacity planning.",
	Inputs: []plan.Field{
		{Name: "samples", Type: plan.ListOf(plan.AnyType), Required: true, Description: "Points as [unixSeconds, value] pairs (Prometheus' form) or {t, v} maps; t may be an RFC 3339 time."},
		{Name: "threshold", Type: plan.NumberType, Required: true, Description: "The value whose crossing is forecast, e.g. a disk's size."},
	},
	Outputs: []plan.Field{
		{Name: "slopePerDay", Type: plan.NumberType, Description: "Growth per day."},
		{Name: "current", Type: plan.NumberType, Description: "The fitted value at the last sample."},
		{Name: "daysUntil", Type: plan.NumberType, Description: "Days from the last sample until the fit reaches the threshold; -1 if it never does, 0 if it already has."},
		{Name: "r2", Type: plan.NumberType, Description: "How well the line fits (1 is perfect)."},
	},
}

var _ = register(CapacityForecastSpec, runCapacityForecast)

type capacityForecastInput struct {
	Samples   []any   `json:"samples"`
	Threshold float64 `json:"threshold"`
}

// runCapacityForecast runs the capacity.forecast action.
func runCapacityForecast(ctx context.Context, c call, ci capacityForecastInput) (map[string]any, error) {
	xs, ys, err := points(ci.Samples)
	if err != nil {
		return nil, badInput("capacity.forecast: %v", err)
	}
	if len(xs) < 2 {
		return nil, badInput("capacity.forecast: need at least 2 samples, got %d", len(xs))
	}
	slope, icept, r2 := fitLine(xs, ys)
	last := xs[len(xs)-1]
	current := slope*last + icept
	days := -1.0
	switch {
	case current >= ci.Threshold:
		days = 0
	case slope > 0:
		days = (ci.Threshold - current) / slope / 86400
	}
	return map[string]any{"slopePerDay": slope * 86400, "current": current, "daysUntil": days, "r2": r2}, nil
}

// points reads samples as seconds and values.
func points(samples []any) ([]float64, []float64, error) {
	var xs, ys []float64
	for i, s := range samples {
		var t, v any
		switch x := s.(type) {
		case []any:
			if len(x) != 2 {
				return nil, nil, fmt.Errorf("sample %d: want [t, v]", i)
			}
			t, v = x[0], x[1]
		case map[string]any:
			t, v = x["t"], x["v"]
		default:
			return nil, nil, fmt.Errorf("sample %d: want [t, v] or {t, v}", i)
		}
		tf, err := number(t)
		if err != nil {
			return nil, nil, fmt.Errorf("sample %d: t: %v", i, err)
		}
		vf, err := number(v)
		if err != nil {
			return nil, nil, fmt.Errorf("sample %d: v: %v", i, err)
		}
		xs, ys = append(xs, tf), append(ys, vf)
	}
	return xs, ys, nil
}

// number reads a number, a numeric string (as Prometheus sends values) or
// an RFC 3339 time (as seconds).
func number(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	case string:
		if ts, err := time.Parse(time.RFC3339, x); err == nil {
			return float64(ts.UnixNano()) / 1e9, nil
		}
		var f float64
		if _, err := fmt.Sscan(x, &f); err == nil {
			return f, nil
		}
	}
	return 0, fmt.Errorf("%v is not a number or a time", v)
}

// fitLine is ordinary least squares: y = slope*x + intercept.
func fitLine(xs, ys []float64) (slope, intercept, r2 float64) {
	n := float64(len(xs))
	var mx, my float64
	for i := range xs {
		mx, my = mx+xs[i], my+ys[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		sxy, sxx, syy = sxy+dx*dy, sxx+dx*dx, syy+dy*dy
	}
	if sxx == 0 {
		return 0, my, 0
	}
	slope = sxy / sxx
	intercept = my - slope*mx
	r2 = 1
	if syy != 0 {
		r2 = math.Min(1, sxy*sxy/(sxx*syy))
	}
	return slope, intercept, r2
}
