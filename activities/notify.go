package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

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

var _ = register(NotifySpec, runNotify)

type notifyInput struct {
	URL    string `json:"url"`
	Text   string `json:"text"`
	Format string `json:"format"`
	Data   any    `json:"data"`
}

// runNotify runs the notify action.
func runNotify(ctx context.Context, c call, ni notifyInput) (map[string]any, error) {
	// A notification lands in a chat channel: secrets are masked in it too.
	ni.Text, ni.Data = redact(ctx, ni.Text), redactValue(ctx, ni.Data)
	if link := c.pageLink(); link != "" {
		ni.Text += "\n" + link // where the approver votes (or the decider decides)
	}
	payload := map[string]any{"text": ni.Text}
	if ni.Format == "json" {
		payload = map[string]any{"text": ni.Text, "runbook": c.Runbook, "run": c.RunID, "step": c.StepID, "data": ni.Data}
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, badInput("notify: %v", err)
	}
	req, err := newRequest(ctx, http.MethodPost, ni.URL, map[string]string{"Content-Type": "application/json"})
	if err != nil {
		return nil, err
	}
	req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	resp, err := c.client().Do(req)
	if err != nil {
		return nil, unreachable(ctx, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxBody))
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		msg := fmt.Sprintf("notify: %s answered %s", redactURL(req.URL), resp.Status)
		return nil, temporal.NewApplicationErrorWithOptions(msg, plan.ErrNotifyRejected,
			temporal.ApplicationErrorOptions{NonRetryable: resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests})
	}
	return map[string]any{"status": int64(resp.StatusCode)}, nil
}

// pageLink is the address of the console page an announcement is about,
// under the worker's PublicURL; "" for other calls or without one.
func (c call) pageLink() string {
	if c.Link == "" || c.Env == nil || c.PublicURL == "" {
		return ""
	}
	return strings.TrimRight(c.PublicURL, "/") + c.Link
}
