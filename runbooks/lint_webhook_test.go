package runbooks_test

import (
	"reflect"
	"testing"

	"github.com/opsrunbook/runbook/runbooks"
)

const webhookHeader = `apiVersion: runbook/v1
kind: Runbook
metadata: {name: t}
spec:
  params: [{name: service, type: string, required: true}]
  secrets: [PD_KEY]
  steps: [{id: a, sleep: 1s}]
  triggers:
`

// A trigger reads only the headers its signature covers: anything else
// in a request is whatever its sender, or someone replaying it, chose.
func TestLintWebhookSignedHeaders(t *testing.T) {
	for _, tt := range []struct {
		name string
		src  string
		want []string
	}{
		{"signed reads", `    - webhook:
        name: pd
        secret: PD_KEY
        signedHeaders: [X-PagerDuty-Version, x-request-source]
        match: "headers['x-pagerduty-version'] == '3' && 'x-request-source' in headers && headers[?'x-request-source'].hasValue()"
        params: {service: "headers.?x_missing.orValue(body.service)"}
`, []string{
			`rb.yaml:14:37: spec.triggers[0].webhook.params.service: header "x_missing" is not signed: a trigger may read only the headers in signedHeaders (list it in the trigger's signedHeaders, so the signature covers it)`,
		}},
		{"unsigned header in params", `    - webhook:
        name: pd
        secret: PD_KEY
        match: "body.ok"
        params: {service: "headers['x-service']"}
`, []string{
			`rb.yaml:13:36: spec.triggers[0].webhook.params.service: header "x-service" is not signed: a trigger may read only the headers in signedHeaders (list it in the trigger's signedHeaders, so the signature covers it)`,
		}},
		{"unsigned header in match", `    - webhook:
        name: pd
        secret: PD_KEY
        signedHeaders: [x-a]
        match: "has(headers.host)"
        params: {service: "body.service"}
`, []string{
			`rb.yaml:13:29: spec.triggers[0].webhook.match: header "host" is not signed: a trigger may read only the headers in signedHeaders (list it in the trigger's signedHeaders, so the signature covers it)`,
		}},
		{"headers not by a literal name", `    - webhook:
        name: pd
        secret: PD_KEY
        signedHeaders: [x-a]
        match: "headers.size() > 0 && headers[body.name] == 'x'"
        params: {service: "headers['X-A']"}
`, []string{
			`rb.yaml:13:17: spec.triggers[0].webhook.match: read headers one at a time, by a literal name (headers.NAME, headers['name'] or 'name' in headers)`,
			`rb.yaml:13:39: spec.triggers[0].webhook.match: read headers one at a time, by a literal name (headers.NAME, headers['name'] or 'name' in headers)`,
			`rb.yaml:14:36: spec.triggers[0].webhook.params.service: header names are lower-case in headers: "X-A" never matches (headers['x-a'])`,
		}},
		{"bad signed header names", `    - webhook:
        name: pd
        secret: PD_KEY
        signedHeaders: [X-A, x-a, "x a", x-signature-256]
        params: {service: "body.service"}
`, []string{
			`rb.yaml:12:30: spec.triggers[0].webhook.signedHeaders[1]: duplicate signed header "x-a"`,
			`rb.yaml:12:35: spec.triggers[0].webhook.signedHeaders[2]: "x a" is not a header name (letters, digits, dashes and underscores)`,
			`rb.yaml:12:42: spec.triggers[0].webhook.signedHeaders[3]: the signature header x-signature-256 cannot be signed`,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assertDiags(t, diags(t, webhookHeader+tt.src), tt.want)
		})
	}
}

func TestCompileSignedHeaders(t *testing.T) {
	p, res, err := runbooks.Build("rb.yaml", []byte(webhookHeader+`    - webhook:
        name: pd
        secret: PD_KEY
        signatureHeader: X-PD-Signature
        signedHeaders: [X-PagerDuty-Version, X-Request-Source]
        params: {service: "headers['x-request-source']"}
`), runbooks.Options{})
	if err != nil {
		t.Fatal(err, res)
	}
	tr := p.Triggers[0]
	if tr.SignatureHeader != "X-PD-Signature" || !reflect.DeepEqual(tr.SignedHeaders, []string{"x-pagerduty-version", "x-request-source"}) {
		t.Errorf("trigger = %+v", tr)
	}
}
