package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"

	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/codec"
)

// temporalFlags are how server and worker reach a Temporal cluster:
// plain on a private network, mTLS for a self-hosted cluster with client
// certificates, or TLS with an API key (Temporal Cloud).
type temporalFlags struct {
	addr, namespace, cert, key, ca, serverName *string
	apiKeyFile                                 *string
	codecKeys                                  *string
}

func addTemporalFlags(fs *flag.FlagSet) *temporalFlags {
	return &temporalFlags{
		addr:       fs.String("temporal", envOr("RUNBOOK_TEMPORAL", "127.0.0.1:7233"), "Temporal frontend host:port (RUNBOOK_TEMPORAL)"),
		namespace:  fs.String("namespace", envOr("RUNBOOK_NAMESPACE", "default"), "Temporal namespace (RUNBOOK_NAMESPACE)"),
		cert:       fs.String("temporal-tls-cert", os.Getenv("RUNBOOK_TEMPORAL_TLS_CERT"), "client certificate file for mTLS (RUNBOOK_TEMPORAL_TLS_CERT)"),
		key:        fs.String("temporal-tls-key", os.Getenv("RUNBOOK_TEMPORAL_TLS_KEY"), "client key file for mTLS (RUNBOOK_TEMPORAL_TLS_KEY)"),
		ca:         fs.String("temporal-tls-ca", os.Getenv("RUNBOOK_TEMPORAL_TLS_CA"), "CA file to verify the server with; TLS without it uses the system roots (RUNBOOK_TEMPORAL_TLS_CA)"),
		serverName: fs.String("temporal-tls-server-name", os.Getenv("RUNBOOK_TEMPORAL_TLS_SERVER_NAME"), "server name to verify, if not the host of --temporal (RUNBOOK_TEMPORAL_TLS_SERVER_NAME)"),
		apiKeyFile: fs.String("temporal-api-key-file", os.Getenv("RUNBOOK_TEMPORAL_API_KEY_FILE"), "file holding an API key; implies TLS (RUNBOOK_TEMPORAL_API_KEY_FILE)"),
		codecKeys:  codecKeysFlag(fs),
	}
}

// codecKeysFlag is where the payload encryption keys are (docs/operations.md,
// Encrypted history): every client and worker of a cluster needs them.
func codecKeysFlag(fs *flag.FlagSet) *string {
	return fs.String("codec-keys", os.Getenv("RUNBOOK_CODEC_KEYS"), "encrypt what runs put in Temporal's history with AES-256-GCM: id=FILE[,id=FILE]..., the first key encrypts, any decrypts (RUNBOOK_CODEC_KEYS); default: off")
}

// withCodec sets the keys' converters on o; no keys: o unchanged.
func withCodec(o *client.Options, spec string) (*codec.Keys, error) {
	if spec == "" {
		return nil, nil
	}
	keys, err := codec.ParseKeys(spec)
	if err != nil {
		return nil, err
	}
	o.DataConverter, o.FailureConverter = keys.DataConverter(), keys.FailureConverter()
	return keys, nil
}

// options turns the flags into client options.
func (f *temporalFlags) options() (client.Options, error) {
	o := client.Options{HostPort: *f.addr, Namespace: *f.namespace}
	if _, err := withCodec(&o, *f.codecKeys); err != nil {
		return o, err
	}
	useTLS := *f.cert != "" || *f.ca != "" || *f.apiKeyFile != ""
	if !useTLS {
		return o, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: *f.serverName}
	if (*f.cert == "") != (*f.key == "") {
		return o, fmt.Errorf("temporal TLS: give both --temporal-tls-cert and --temporal-tls-key")
	}
	if *f.cert != "" {
		pair, err := tls.LoadX509KeyPair(*f.cert, *f.key)
		if err != nil {
			return o, fmt.Errorf("temporal TLS: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if *f.ca != "" {
		pem, err := os.ReadFile(*f.ca)
		if err != nil {
			return o, fmt.Errorf("temporal TLS: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return o, fmt.Errorf("temporal TLS: no certificate in %s", *f.ca)
		}
	}
	o.ConnectionOptions.TLS = cfg
	if *f.apiKeyFile != "" {
		key, err := os.ReadFile(*f.apiKeyFile)
		if err != nil {
			return o, fmt.Errorf("temporal API key: %w", err)
		}
		o.Credentials = client.NewAPIKeyStaticCredentials(string(bytes.TrimSpace(key)))
	}
	return o, nil
}

// dial connects to Temporal.
func (f *temporalFlags) dial() (client.Client, error) {
	o, err := f.options()
	if err != nil {
		return nil, err
	}
	c, err := client.Dial(o)
	if err != nil {
		return nil, fmt.Errorf("temporal %s: %w", *f.addr, err)
	}
	return c, nil
}
