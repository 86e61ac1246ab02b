package benchrun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Register registers Runbook(name, action, steps) through the API at base.
func Register(base, token, name, action string, steps int) error {
	req, _ := http.NewRequest("POST", base+"/api/v1/runbooks", strings.NewReader(Runbook(name, action, steps)))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("register %s: HTTP %d", name, resp.StatusCode)
	}
	return nil
}

// Trigger starts one run of name through the API and returns its id (its
// workflow's id); anything but 201 is an error.
func Trigger(ctx context.Context, c *http.Client, base, token, name string) (string, error) {
	body, _ := json.Marshal(map[string]any{"params": map[string]any{"n": 2}})
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/runbooks/"+name+"/runs", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, out.Error)
	}
	return out.ID, nil
}
