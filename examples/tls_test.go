package examples_test

import (
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/opsrunbook/runbook/workflows"
)

func TestTLSExpiryCheckEndToEnd(t *testing.T) {
	s := startStack(t)
	h := slackHook(t)
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	ca := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	p := example(t, "tls-expiry-check.yaml")
	params := func(hosts ...any) map[string]any {
		n, _ := strconv.Atoi(port)
		return map[string]any{"hosts": hosts, "port": n, "ca": ca}
	}

	// The test server's certificate names 127.0.0.1 and runs for decades.
	res, errType, st := s.runPlan(t, p, params("127.0.0.1"))
	if errType != "" {
		t.Fatalf("a valid certificate failed the check: %s: %s", errType, st.Error)
	}
	if res.Outputs["checked"] != float64(1) || res.Outputs["failing"] != float64(0) {
		t.Errorf("outputs = %v", res.Outputs)
	}
	if got := h.received(); len(got) != 0 {
		t.Errorf("notified about a healthy certificate: %q", got)
	}

	// It does not name "localhost": every host is still checked, the bad one
	// is reported, and the run fails.
	_, errType, st = s.runPlan(t, p, params("localhost", "127.0.0.1"))
	if errType != workflows.ErrAssertion || !strings.Contains(st.Error, "1 of 2 certificates need attention") {
		t.Errorf("with a name mismatch: %q: %s", errType, st.Error)
	}
	if got := h.received(); len(got) != 1 || !strings.Contains(got[0], "TLS on localhost:"+port) {
		t.Errorf("notifications = %q", got)
	}
}
