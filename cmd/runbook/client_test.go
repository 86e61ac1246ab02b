package main

import (
	"encoding/json"
	"testing"
)

// The API's problem details read as sentences, never as Go values.
func TestAPIErrorText(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"error":"the run is not running","details":[{"status":"succeeded"}]}`,
			"the run is not running (HTTP 409)\n  status: succeeded"},
		{`{"error":"step board is not waiting for approval","details":[{"reason":"NotWaiting"}]}`,
			"step board is not waiting for approval (HTTP 409)\n  reason: NotWaiting"},
		{`{"error":"a run with the same concurrency key is running","details":[{"run":"r-1","key":"k"}]}`,
			"a run with the same concurrency key is running (HTTP 409)\n  key: k, run: r-1"},
		{`{"error":"invalid params","details":["missing required param \"version\""]}`,
			"invalid params (HTTP 409)\n  missing required param \"version\""},
		{`{"error":"the runbook is invalid","details":[{"file":"runbook.yaml","pos":{"line":7,"col":34},"message":"runbooks run each other in a cycle: cb -> ca -> cb","severity":"error"},
			{"file":"runbook.yaml","pos":{"line":3,"col":5},"path":"spec.steps[0].action","message":"unknown action \"shel\"","hint":"did you mean shell?","severity":"error"}]}`,
			"the runbook is invalid (HTTP 409)\n  7:34: runbooks run each other in a cycle: cb -> ca -> cb\n  3:5: spec.steps[0].action: unknown action \"shel\" (did you mean shell?)"},
		{`{"error":"odd","details":[{"n":2,"list":[1,2]}]}`, "odd (HTTP 409)\n  list: [1,2], n: 2"},
	} {
		e := &apiError{Status: 409}
		if err := json.Unmarshal([]byte(tc.body), e); err != nil {
			t.Fatal(err)
		}
		if got := e.Error(); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.body, got, tc.want)
		}
	}
}
