package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/attest"
	"github.com/opsrunbook/runbook/codec"
	"github.com/opsrunbook/runbook/devserver"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/server"
	"github.com/opsrunbook/runbook/store"
	"github.com/opsrunbook/runbook/web"
	"github.com/opsrunbook/runbook/worker"
)

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// runServer runs the API against an existing Temporal and database.
func runServer(args []string, out, errOut io.Writer) error {
	ctx, stop := signalContext()
	defer stop()
	fs := flags("server", errOut)
	listen := fs.String("listen", envOr("RUNBOOK_LISTEN", "127.0.0.1:8080"), "address to serve the API on (RUNBOOK_LISTEN)")
	dsn := secretFlag(fs, "db", "RUNBOOK_DB", ".runbook/runbook.db", "database: a SQLite file or a postgres:// URL (RUNBOOK_DB)")
	tf := addTemporalFlags(fs)
	hookDir := fs.String("webhook-secrets-dir", os.Getenv("RUNBOOK_WEBHOOK_SECRETS_DIR"), "directory of webhook signing keys, one file per name (RUNBOOK_WEBHOOK_SECRETS_DIR); RUNBOOK_WEBHOOK_SECRET_<NAME> variables are read first")
	voteKey := fs.String("vote-key-file", os.Getenv("RUNBOOK_VOTE_KEY_FILE"), "file holding the Ed25519 key votes and events are sealed with, 64 hex digits (RUNBOOK_VOTE_KEY_FILE); default: a key kept in the records")
	codecOrigin := fs.String("codec-cors-origin", os.Getenv("RUNBOOK_CODEC_CORS_ORIGIN"), "the Temporal Web UI origin (https://temporal-ui.example.com) allowed to call /codec/decode from a browser (RUNBOOK_CODEC_CORS_ORIGIN)")
	incidentLabels := fs.String("incident-labels", os.Getenv("RUNBOOK_INCIDENT_LABELS"), "where incidents take their title, severity and service from in an alert group, e.g. title=annotations.summary|labels.alertname,severity=labels.severity,service=labels.service|labels.job (the default) (RUNBOOK_INCIDENT_LABELS)")
	cf := addConsoleFlags(fs)
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if err := cf.check(); err != nil {
		return err
	}
	labels, err := server.ParseIncidentLabels(*incidentLabels)
	if err != nil {
		return usagef("%v", err)
	}
	if err := cf.startSSO(ctx); err != nil {
		return err
	}
	var key ed25519.PrivateKey
	if *voteKey != "" {
		var err error
		if key, err = attest.ReadKeyFile(*voteKey); err != nil {
			return err
		}
	}
	st, err := store.Open(*dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := tf.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	api := newAPI(st, c, webhookKeys(*hookDir))
	api.VoteKey, api.IncidentLabels = key, labels
	if *tf.codecKeys != "" {
		keys, _ := codec.ParseKeys(*tf.codecKeys) // dial parsed them
		api.Codec, api.CodecOrigin = keys.Codec(), *codecOrigin
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "API on http://%s (web console at /)\n", l.Addr())
	if s := cf.signIn(); s != "" {
		fmt.Fprintf(out, "Console sign-in with a token%s\n", s)
	}
	return serve(ctx, api, cf.options(st), l)
}

func newAPI(st *store.Store, c client.Client, secrets activities.SecretSource) *server.API {
	return &server.API{Store: st, Temporal: c, TaskQueue: worker.TaskQueue, Catalog: activities.Catalog(), Secrets: secrets,
		Scheduler: &server.Scheduler{Client: c, TaskQueue: worker.TaskQueue}}
}

func secretSource(dir string) activities.Secrets {
	s := activities.Secrets{activities.EnvSecrets{}}
	if dir != "" {
		s = append(s, activities.DirSecrets(dir))
	}
	return s
}

// webhookKeys is where the API reads webhook signing keys: a source of
// its own, which workers (and so the steps of runbooks) never read.
func webhookKeys(dir string) activities.SecretSource {
	s := activities.Secrets{webhookEnv{}}
	if dir != "" {
		s = append(s, activities.DirSecrets(dir))
	}
	return s
}

// webhookEnv reads key NAME from RUNBOOK_WEBHOOK_SECRET_<NAME>.
type webhookEnv struct{}

func (webhookEnv) Secret(name string) (string, error) {
	if v, ok := os.LookupEnv(webhookSecretPrefix + name); ok {
		return v, nil
	}
	return "", fmt.Errorf("webhook key %s: %s%s is not set", name, webhookSecretPrefix, name)
}

// Values implements activities.SecretStore: the API never redacts with
// them, but the source lists what it holds like every other.
func (webhookEnv) Values() ([]string, error) {
	var out []string
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, webhookSecretPrefix) {
			out = append(out, v)
		}
	}
	return out, nil
}

const webhookSecretPrefix = "RUNBOOK_WEBHOOK_SECRET_"

// serve runs the API, the web console in front of it, and the records
// syncer until ctx ends, then drains.
func serve(ctx context.Context, api *server.API, co web.Options, l net.Listener) error {
	co.API = api.Handler()
	console, err := web.New(co)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: console.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go api.Sync(ctx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// runDev runs everything on this machine: an embedded Temporal server
// keeping its state under --dir, a worker, the API and the records; it
// registers the examples and prints tokens to try them with.
func runDev(args []string, out, errOut io.Writer) error {
	ctx, stop := signalContext()
	defer stop()
	return devMain(ctx, args, out, errOut)
}

func devMain(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flags("dev", errOut)
	dir := fs.String("dir", ".runbook", "where state is kept (Temporal's and the records' SQLite files)")
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve the API on")
	temporalPort := fs.Int("temporal-port", 7233, "Temporal frontend port (0: any free port)")
	examples := fs.String("examples", "examples", "directory of runbooks to register at start ('' for none)")
	liveExamples := fs.Bool("live-examples", false, "register the examples with their alert triggers and schedules (default: without, so nothing starts them but you)")
	withWorker := fs.Bool("worker", true, "run a worker in this process (false: start runbook worker processes against it)")
	codecKeys := codecKeysFlag(fs)
	cf := addConsoleFlags(fs)
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if err := cf.check(); err != nil {
		return err
	}
	if err := cf.startSSO(ctx); err != nil {
		return err
	}
	if err := openStateDir(*dir); err != nil {
		return err
	}
	srv, err := devserver.Start(ctx, devserver.Config{DBFile: filepath.Join(*dir, "temporal.db"), Port: *temporalPort})
	if err != nil {
		return err
	}
	defer srv.Stop()
	var o client.Options
	keys, err := withCodec(&o, *codecKeys)
	if err != nil {
		return err
	}
	c, err := srv.ClientWith(o)
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := store.Open(filepath.Join(*dir, "runbook.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	secrets := secretSource(os.Getenv("RUNBOOK_SECRETS_DIR"))
	if *withWorker {
		// Announcements link to the console: at --public-url, else here.
		w := worker.New(c, worker.Options{Actions: &activities.Env{Secrets: secrets, Logs: store.LogSink{Store: st},
			PublicURL: or(cf.options(st).PublicURL, "http://"+*listen)}})
		if err := w.Start(); err != nil {
			return err
		}
		defer w.Stop()
	}
	// One process, two sources: the worker's secrets are not webhook keys.
	api := newAPI(st, c, webhookKeys(os.Getenv("RUNBOOK_WEBHOOK_SECRETS_DIR")))
	if api.IncidentLabels, err = server.ParseIncidentLabels(os.Getenv("RUNBOOK_INCIDENT_LABELS")); err != nil {
		return err
	}
	if keys != nil {
		api.Codec = keys.Codec()
	}
	if *examples != "" {
		if err := registerDir(ctx, api, *examples, !*liveExamples, out); err != nil {
			return err
		}
	}
	tokens, err := devTokens(st, filepath.Join(*dir, "tokens.env"))
	if err != nil {
		return err
	}
	if err := privateState(*dir); err != nil {
		return err
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	base := "http://" + l.Addr().String()
	fmt.Fprintf(out, "\nrunbook dev is up (state in %s; Ctrl-C stops it)\n", *dir)
	switch {
	case *examples != "" && *liveExamples:
		fmt.Fprintf(out, "  Examples  %s, registered with their triggers and schedules: alerts and the clock start them\n", *examples)
	case *examples != "":
		fmt.Fprintf(out, "  Examples  %s, registered without their triggers and schedules (--live-examples keeps them)\n", *examples)
	}
	fmt.Fprintf(out, "  Console   %s/   (sign in with a token below%s)\n", base, cf.signIn())
	fmt.Fprintf(out, "  API       %s/api/v1   (OpenAPI: %s/openapi.json)\n", base, base)
	fmt.Fprintf(out, "  Temporal  %s (namespace %s)\n\n", srv.HostPort(), srv.Namespace())
	fmt.Fprintf(out, "Tokens (also in %s):\n%s\n", filepath.Join(*dir, "tokens.env"), tokens.text)
	fmt.Fprintf(out, "Try it:\n  export RUNBOOK_ADDR=%s RUNBOOK_TOKEN=%s\n  bin/runbook run change-release -p service=api -p version=v1.2.3 -p environment=production --follow\n", base, tokens.operator)
	if os.Getenv("RUNBOOK_SECRET_SLACK_URL") == "" && os.Getenv("RUNBOOK_SECRETS_DIR") == "" {
		fmt.Fprintf(out, "  (it posts to Slack: without RUNBOOK_SECRET_SLACK_URL=<webhook URL> in dev's environment it stops at its secrets check)\n")
	}
	fmt.Fprintf(out, "and approve it as two members of change-board:\n  bin/runbook approve RUN change_board --token %s\n  bin/runbook approve RUN change_board --token %s\n\n", tokens.approvers[0], tokens.approvers[1])
	return serve(ctx, api, cf.options(st), l)
}

// registerDir registers every runbook of a directory, children first;
// inert leaves out their triggers and schedules (inertExample).
func registerDir(ctx context.Context, api *server.API, dir string, inert bool, out io.Writer) error {
	srcs, err := runbooks.ReadSources(dir)
	if err != nil {
		return err
	}
	for i := range srcs {
		if !inert {
			break
		}
		if srcs[i].Data, _, err = inertExample(srcs[i].Data); err != nil {
			return fmt.Errorf("%s: %w", srcs[i].File, err)
		}
	}
	for pending := srcs; len(pending) > 0; {
		var retry []runbooks.Source
		var lastErr error
		for _, s := range pending {
			v, created, _, err := api.Register(ctx, s.Data, "runbook-dev")
			if err != nil {
				retry, lastErr = append(retry, s), fmt.Errorf("%s: %w", s.File, err)
				continue
			}
			if created {
				fmt.Fprintf(out, "registered %s v%d\n", v.Name, v.Version)
			}
		}
		if len(retry) == len(pending) {
			return lastErr
		}
		pending = retry
	}
	return nil
}

type devTokenSet struct {
	text      string
	operator  string
	approvers []string
}

// devTokens creates the dev tokens once and keeps them in file; a restart
// prints the same ones.
func devTokens(st *store.Store, file string) (*devTokenSet, error) {
	want := []struct {
		env, user, roles, groups string
	}{
		{"RUNBOOK_ADMIN_TOKEN", "dev-admin", "admin", ""},
		{"RUNBOOK_OPERATOR_TOKEN", "dev-operator", "operator,viewer", ""},
		{"RUNBOOK_APPROVER1_TOKEN", "dev-approver-1", "approver,viewer", "change-board,oncall"},
		{"RUNBOOK_APPROVER2_TOKEN", "dev-approver-2", "approver,viewer", "change-board,oncall"},
	}
	values := map[string]string{}
	if b, err := os.ReadFile(file); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				if _, err := st.Authenticate(v); err == nil {
					values[k] = v
				}
			}
		}
	}
	var b strings.Builder
	for _, w := range want {
		if values[w.env] == "" {
			secret, _, err := st.CreateToken(w.user, splitList(w.roles), splitList(w.groups))
			if err != nil {
				return nil, err
			}
			values[w.env] = secret
		}
		fmt.Fprintf(&b, "%s=%s\n", w.env, values[w.env])
	}
	if err := os.WriteFile(file, []byte(b.String()), devFileMode); err != nil {
		return nil, err
	}
	if err := os.Chmod(file, devFileMode); err != nil { // WriteFile keeps an existing file's mode
		return nil, err
	}
	return &devTokenSet{text: b.String(), operator: values["RUNBOOK_OPERATOR_TOKEN"],
		approvers: []string{values["RUNBOOK_APPROVER1_TOKEN"], values["RUNBOOK_APPROVER2_TOKEN"]}}, nil
}
