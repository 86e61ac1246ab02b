package activities

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"math"
	"net"
	"strconv"
	"time"

	"github.com/opsrunbook/runbook/plan"
)

// TLSCheckSpec reads a server's certificate.
var TLSCheckSpec = &plan.ActionSpec{
	Name:        "tls.check",
	Errors:      errorTypes(),
	Description: "Connect to host:port over TLS and report the leaf certificate: days left, expiry, subject, issuer, and whether the chain verifies for the host name. An unreachable host or a bad chain is an output, not a failure.",
	Inputs: []plan.Field{
		{Name: "host", Type: plan.StringType, Required: true, Description: "Host name or IP address."},
		{Name: "port", Type: plan.IntType, Default: int64(443), Description: "TLS port."},
		{Name: "serverName", Type: plan.StringType, Description: "Name to verify and send as SNI; default host."},
		{Name: "ca", Type: plan.StringType, Description: "PEM certificates to trust besides the system's, for private CAs."},
		{Name: "timeout", Type: plan.DurationType, Default: "10s", Description: "Connect and handshake limit."},
	},
	Outputs: []plan.Field{
		{Name: "reachable", Type: plan.BoolType, Description: "Whether the TLS handshake completed."},
		{Name: "valid", Type: plan.BoolType, Description: "Whether the chain verifies for serverName now."},
		{Name: "daysLeft", Type: plan.IntType, Description: "Whole days until the leaf expires (negative when expired)."},
		{Name: "notAfter", Type: plan.TimestampType, Description: "When the leaf expires."},
		{Name: "subject", Type: plan.StringType, Description: "The leaf's subject."},
		{Name: "issuer", Type: plan.StringType, Description: "The leaf's issuer."},
		{Name: "error", Type: plan.StringType, Description: "Why it is unreachable or not valid."},
	},
}

var _ = register(TLSCheckSpec, runTLSCheck)

type tlsCheckInput struct {
	Host       string `json:"host"`
	Port       int    `json:"port"`
	ServerName string `json:"serverName"`
	CA         string `json:"ca"`
	Timeout    string `json:"timeout"`
}

// runTLSCheck runs the tls.check action.
func runTLSCheck(ctx context.Context, c call, ti tlsCheckInput) (map[string]any, error) {
	timeout, err := plan.ParseDuration(ti.Timeout)
	if err != nil || timeout <= 0 {
		return nil, badInput("tls.check: timeout %q: must be a positive duration", ti.Timeout)
	}
	name := ti.ServerName
	if name == "" {
		name = ti.Host
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if ti.CA != "" && !roots.AppendCertsFromPEM([]byte(ti.CA)) {
		return nil, badInput("tls.check: ca holds no PEM certificate")
	}
	out := map[string]any{"reachable": false, "valid": false, "daysLeft": int64(0), "notAfter": nil, "subject": "", "issuer": "", "error": ""}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: &tls.Config{ServerName: name, InsecureSkipVerify: true}} // verified below, to report a bad chain as an output
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ti.Host, strconv.Itoa(ti.Port)))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		out["error"] = err.Error()
		return out, nil
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	leaf := certs[0]
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	out["reachable"] = true
	out["notAfter"] = leaf.NotAfter.UTC().Format(time.RFC3339)
	out["daysLeft"] = int64(math.Floor(time.Until(leaf.NotAfter).Hours() / 24))
	out["subject"], out["issuer"] = leaf.Subject.String(), leaf.Issuer.String()
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter}); err != nil {
		out["error"] = err.Error()
	} else {
		out["valid"] = true
	}
	return out, nil
}
