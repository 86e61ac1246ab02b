package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/opsrunbook/runbook/plan"

	"go.temporal.io/sdk/temporal"
)

// NotifySpec posts a message to a chat or webhook endpoint.
var NotifySpec = &plan.ActionSpec{
	Name:        "notify",
	Errors:      errorTypes(plan.ErrNotifyRejected, plan.ErrUnreachable),
	Description: "Post a message to a Slack-compatible incoming webhook, or as plain JSON to any URL.",
	Inputs: []plan.Field{
		{Name: "url", Type: plan.StringType, Required: true, Description: "Webhook URL; usually ${{ secrets.NAME }}.", Role: plan.RoleURL},
		{Name: "text", Type: plan.StringType, Required: true, Description: "Message text; secret values in it (and in data) are sent masked (`***`)."},
		{Name: "format", Type: plan.StringType, Default: "slack", Enum: []string{"slack", "json"}, Description: `slack sends {"text": ...}; json sends {"text", "runbook", "run", "data"}.`},
		{Name: "data", Type: plan.AnyType, Description: "Extra JSON sent with format json."},
	},
	Outputs: []plan.Field{
		{Name: "status", Type: plan.IntType, Description: "The webhook's response status."},
	},
}

type notifyInput struct {
	URL    string `json:"url"`
	Text   string `json:"text"`
	Format string `json:"format"`
	Data   any    `json:"data"`
}

// Notify runs the notify action.
func (e *Env) Notify(ctx context.Context, in plan.ActionInput) (plan.ActionOutput, error) {
	p, err := e.prepare(ctx, NotifySpec, in)
	if err != nil {
		return plan.ActionOutput{}, err
	}
	var ni notifyInput
	if err := p.decode(&ni); err != nil {
		return plan.ActionOutput{}, err
	}
	// A notification lands in a chat channel: secrets are masked in it too.
	ni.Text, ni.Data = redact(ctx, ni.Text), redactValue(ctx, ni.Data)
	payload := map[string]any{"text": ni.Text}
	if ni.Format == "json" {
		payload = map[string]any{"text": ni.Text, "runbook": in.Runbook, "run": in.RunID, "step": in.StepID, "data": ni.Data}
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return p.finish(nil, badInput("notify: %v", err))
	}
	req, err := newRequest(ctx, http.MethodPost, ni.URL, map[string]string{"Content-Type": "application/json"})
	if err != nil {
		return p.finish(nil, err)
	}
	req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	resp, err := e.client().Do(req)
	if err != nil {
		return p.finish(nil, unreachable(ctx, err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxBody))
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		msg := fmt.Sprintf("notify: %s answered %s", redactURL(req.URL), resp.Status)
		return p.finish(nil, temporal.NewApplicationErrorWithOptions(msg, plan.ErrNotifyRejected,
			temporal.ApplicationErrorOptions{NonRetryable: resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests}))
	}
	return p.finish(map[string]any{"status": int64(resp.StatusCode)}, nil)
}
