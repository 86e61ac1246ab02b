package activities

import (
	"context"
	"errors"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/opsrunbook/runbook/plan"
)

// TCPCheckSpec probes a TCP port. Unhealthy is an output, not a failure.
var TCPCheckSpec = &plan.ActionSpec{
	Name:        "tcp.check",
	Errors:      errorTypes(),
	Description: "Open a TCP connection to host:port. An unreachable port is an output, not a failure.",
	Inputs: []plan.Field{
		{Name: "host", Type: plan.StringType, Required: true, Description: "Host name or IP address."},
		{Name: "port", Type: plan.IntType, Required: true, Description: "TCP port."},
		{Name: "timeout", Type: plan.DurationType, Default: "3s", Description: "Connect timeout."},
	},
	Outputs: []plan.Field{
		{Name: "healthy", Type: plan.BoolType, Description: "Whether the connection opened."},
		{Name: "status", Type: plan.StringType, Description: "open, refused, timeout or unreachable."},
		{Name: "latencyMs", Type: plan.IntType, Description: "Time to connect, in milliseconds."},
		{Name: "error", Type: plan.StringType, Description: "Why the port was unhealthy, if it was."},
	},
}

var _ = register(TCPCheckSpec, runTCPCheck)

type tcpCheckInput struct {
	Host    string `json:"host"`
	Port    int    `json:"port"`
	Timeout string `json:"timeout"`
}

// runTCPCheck runs the tcp.check action.
func runTCPCheck(ctx context.Context, c call, tc tcpCheckInput) (map[string]any, error) {
	timeout, err := plan.ParseDuration(tc.Timeout)
	if err != nil || timeout <= 0 {
		return nil, badInput("tcp.check: timeout %q: must be a positive duration", tc.Timeout)
	}
	if tc.Port < 1 || tc.Port > 65535 || tc.Host == "" {
		return nil, badInput("tcp.check: %s:%d is not a host and port", tc.Host, tc.Port)
	}
	start := time.Now()
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(tc.Host, strconv.Itoa(tc.Port)))
	out := map[string]any{"healthy": err == nil, "status": "open", "latencyMs": time.Since(start).Milliseconds(), "error": ""}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		out["status"], out["error"] = dialStatus(err), err.Error()
	} else {
		conn.Close()
	}
	return out, nil
}

func dialStatus(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "unreachable"
}
