package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTemporalConnectionOptions(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir)
	apiKey := filepath.Join(dir, "api-key")
	os.WriteFile(apiKey, []byte("k-123\n"), 0o600)
	parse := func(args ...string) (*temporalFlags, error) {
		fs := flags("worker", io.Discard)
		tf := addTemporalFlags(fs)
		_, err := interleaved(fs, args)
		return tf, err
	}

	tf, _ := parse("--temporal", "t.example:7233", "--namespace", "ops")
	if o, err := tf.options(); err != nil || o.ConnectionOptions.TLS != nil || o.HostPort != "t.example:7233" || o.Namespace != "ops" {
		t.Errorf("plain: %+v %v", o, err)
	}
	tf, _ = parse("--temporal-tls-cert", certFile, "--temporal-tls-key", keyFile, "--temporal-tls-ca", certFile, "--temporal-tls-server-name", "temporal.internal")
	o, err := tf.options()
	if err != nil || o.ConnectionOptions.TLS == nil || len(o.ConnectionOptions.TLS.Certificates) != 1 || o.ConnectionOptions.TLS.RootCAs == nil ||
		o.ConnectionOptions.TLS.ServerName != "temporal.internal" || o.Credentials != nil {
		t.Errorf("mTLS: %+v %v", o.ConnectionOptions.TLS, err)
	}
	tf, _ = parse("--temporal-api-key-file", apiKey)
	if o, err := tf.options(); err != nil || o.ConnectionOptions.TLS == nil || o.Credentials == nil {
		t.Errorf("API key: %+v %v", o, err)
	}
	for args, want := range map[string]string{
		"--temporal-tls-cert " + certFile:   "give both --temporal-tls-cert and --temporal-tls-key",
		"--temporal-tls-ca " + keyFile:      "no certificate in",
		"--temporal-api-key-file /nonexist": "temporal API key: open /nonexist",
	} {
		tf, _ := parse(strings.Fields(args)...)
		if _, err := tf.options(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", args, err, want)
		}
	}
}

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T, dir string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "runbook-worker"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile
}
