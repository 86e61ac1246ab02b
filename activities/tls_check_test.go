package activities

import (
	"context"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/opsrunbook/runbook/plan"
)

func TestTLSCheck(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	ca := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	e := &Env{}
	out, err := handlerOf(e, TLSCheckSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"host": host, "port": p, "serverName": "example.com"}})
	if err != nil || out.Outputs["reachable"] != true || out.Outputs["valid"] != false || out.Outputs["error"] == "" {
		t.Errorf("untrusted: %v, %v", out.Outputs, err)
	}
	out, err = handlerOf(e, TLSCheckSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"host": host, "port": p, "serverName": "example.com", "ca": ca}})
	if err != nil || out.Outputs["valid"] != true || out.Outputs["daysLeft"].(int64) < 30 || out.Outputs["issuer"] == "" {
		t.Errorf("trusted: %v, %v", out.Outputs, err)
	}
	out, err = handlerOf(e, TLSCheckSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"host": host, "port": p, "serverName": "wrong.test", "ca": ca}})
	if err != nil || out.Outputs["valid"] != false {
		t.Errorf("wrong name: %v, %v", out.Outputs, err)
	}
	closed, _ := strconv.Atoi(closedPort(t))
	out, err = handlerOf(e, TLSCheckSpec)(context.Background(), plan.ActionInput{Inputs: map[string]any{"host": "127.0.0.1", "port": closed, "timeout": "1s"}})
	if err != nil || out.Outputs["reachable"] != false {
		t.Errorf("closed port: %v, %v", out.Outputs, err)
	}
}
