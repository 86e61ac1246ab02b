// Package devserver runs a real Temporal server in-process: SQLite (in
// memory or in a file), one history shard, the default namespace. It is
// what `runbook dev` and the integration tests run against, set up the way
// the server's temporaltest package and the Temporal CLI's dev server do.
// It is the only package that imports the Temporal server module.
package devserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

// Config says where the server keeps its state and listens.
type Config struct {
	// DBFile keeps state in a SQLite file, so runs survive a restart;
	// empty keeps it in memory.
	DBFile string
	// Namespace is created at start; default "default".
	Namespace string
	// IP and Port of the frontend; defaults 127.0.0.1 and a free port.
	IP   string
	Port int
	// Logger receives the server's logs; nil discards them.
	Logger log.Logger
	// Dynamic sets more of the server's dynamic config (key to value),
	// over the defaults this package sets; for benchmarks that try
	// settings.
	Dynamic map[string]any
}

// Server is a running Temporal server.
type Server struct {
	srv       temporal.Server
	hostPort  string
	namespace string
}

// Start starts a server and returns once its frontend answers.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	// The ports are picked free, then bound by the server a moment later:
	// another process (or an outgoing connection given the same ephemeral
	// port) can take one between the two. Temporal then fails, or panics in
	// its membership layer; a second try picks other ports.
	var err error
	for range startAttempts {
		var s *Server
		if s, err = startOnce(ctx, cfg); err == nil || !errors.Is(err, errPortTaken) {
			return s, err
		}
	}
	return nil, err
}

// startAttempts is how many sets of ports Start tries.
const startAttempts = 3

// errPortTaken is a start that lost a port it picked.
var errPortTaken = errors.New("a port the server picked was taken before it bound it")

func startOnce(ctx context.Context, cfg Config) (_ *Server, err error) {
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	if cfg.IP == "" {
		cfg.IP = "127.0.0.1"
	}
	if cfg.Logger == nil {
		cfg.Logger = log.NewNoopLogger()
	}
	ports, err := freePorts(cfg.IP, 8)
	if err != nil {
		return nil, err
	}
	if cfg.Port == 0 {
		cfg.Port = ports[0]
	}
	sqlCfg := &config.SQL{PluginName: sqliteplugin.PluginName, ConnectAttributes: map[string]string{}, DatabaseName: cfg.DBFile}
	if cfg.DBFile == "" {
		sqlCfg.ConnectAttributes["mode"] = "memory"
		sqlCfg.ConnectAttributes["cache"] = "shared"
		sqlCfg.DatabaseName = fmt.Sprintf("runbook-%d", ports[1])
	} else {
		sqlCfg.ConnectAttributes["mode"] = "rwc"
		sqlCfg.ConnectAttributes["_journal_mode"] = "WAL"
		sqlCfg.ConnectAttributes["_synchronous"] = "NORMAL"
		fresh, err := createPrivate(cfg.DBFile)
		if err != nil {
			return nil, fmt.Errorf("temporal state: %w", err)
		}
		if fresh {
			if err := sqlite.SetupSchema(sqlCfg); err != nil {
				return nil, fmt.Errorf("temporal schema: %w", err)
			}
		} else if err := forgetMembers(cfg.DBFile); err != nil {
			return nil, fmt.Errorf("temporal state: %w", err)
		}
	}
	conf := serverConfig(cfg, sqlCfg, ports)
	ns, err := sqlite.NewNamespaceConfig(conf.ClusterMetadata.CurrentClusterName, cfg.Namespace, false, nil)
	if err != nil {
		return nil, fmt.Errorf("namespace: %w", err)
	}
	if err := sqlite.CreateNamespaces(sqlCfg, ns); err != nil {
		return nil, fmt.Errorf("namespace: %w", err)
	}
	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, err
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, cfg.Logger)
	if err != nil {
		return nil, err
	}
	var starting atomic.Bool
	starting.Store(true)
	srv, err := newServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithLogger(startLogger{cfg.Logger, &starting}),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dynamicConfig(cfg.Dynamic)),
	)
	if err != nil {
		return nil, fmt.Errorf("temporal server: %w", err)
	}
	err = startServer(srv)
	starting.Store(false)
	if err != nil {
		return nil, fmt.Errorf("temporal server: %w", err)
	}
	s := &Server{srv: srv, hostPort: net.JoinHostPort(cfg.IP, fmt.Sprint(cfg.Port)), namespace: cfg.Namespace}
	if err := s.waitReady(ctx); err != nil {
		_ = srv.Stop()
		return nil, err
	}
	if cfg.DBFile != "" {
		if err := PrivateFiles(cfg.DBFile); err != nil {
			_ = srv.Stop()
			return nil, fmt.Errorf("temporal state: %w", err)
		}
	}
	return s, nil
}

// The state holds every run's inputs and outputs: only the user running
// the server reads it.
const (
	stateDirMode  = 0o700
	stateFileMode = 0o600
)

// createPrivate makes sure a SQLite database file exists with mode 0600
// in a 0700 directory (SQLite gives its -wal and -shm files the mode of
// the database file) and reports whether it is new (empty). A directory
// that exists keeps its mode; an existing file is made 0600.
func createPrivate(file string) (fresh bool, err error) {
	if err := os.MkdirAll(filepath.Dir(file), stateDirMode); err != nil {
		return false, err
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_RDWR, stateFileMode)
	if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	if err := PrivateFiles(file); err != nil {
		return false, err
	}
	if st.Size() > 0 {
		return false, nil
	}
	wal, err := os.Stat(file + "-wal") // pages not yet checkpointed into file
	return err != nil || wal.Size() == 0, nil
}

// PrivateFiles makes a SQLite database file and its -wal, -shm and
// -journal files, those that exist, 0600.
func PrivateFiles(file string) error {
	for _, f := range []string{file, file + "-wal", file + "-shm", file + "-journal"} {
		if err := os.Chmod(f, stateFileMode); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// waitReady polls the frontend until the namespace answers.
func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := s.Client()
		if err == nil {
			_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
			if err == nil {
				_, err = c.WorkflowService().DescribeNamespace(ctx, describeNamespace(s.namespace))
			}
			c.Close()
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("temporal server did not become ready: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// HostPort is the frontend's address.
func (s *Server) HostPort() string { return s.hostPort }

// Namespace is the namespace the server created.
func (s *Server) Namespace() string { return s.namespace }

// Client dials the server.
func (s *Server) Client() (client.Client, error) { return s.ClientWith(client.Options{}) }

// ClientWith dials the server with o (its converters, say), the server's
// address and namespace filled in.
func (s *Server) ClientWith(o client.Options) (client.Client, error) {
	o.HostPort, o.Namespace = s.hostPort, s.namespace
	if o.Logger == nil {
		o.Logger = quietLogger{}
	}
	return client.Dial(o)
}

// Stop shuts the server down.
func (s *Server) Stop() error { return s.srv.Stop() }

func serverConfig(cfg Config, sqlCfg *config.SQL, ports []int) *config.Config {
	c := &config.Config{}
	c.Global.Membership = config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: cfg.IP}
	c.Global.Metrics = &metrics.Config{Prometheus: &metrics.PrometheusConfig{
		ListenAddress: net.JoinHostPort(cfg.IP, fmt.Sprint(ports[2])), HandlerPath: "/metrics"}}
	c.Global.PProf = config.PProf{Port: 0}
	c.Persistence = config.Persistence{
		DefaultStore:     sqliteplugin.PluginName,
		VisibilityStore:  sqliteplugin.PluginName,
		NumHistoryShards: 1,
		DataStores:       map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sqlCfg}},
	}
	frontend := net.JoinHostPort(cfg.IP, fmt.Sprint(cfg.Port))
	c.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        "active",
		CurrentClusterName:       "active",
		ClusterInformation: map[string]cluster.ClusterInformation{
			"active": {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend},
		},
	}
	c.DCRedirectionPolicy = config.DCRedirectionPolicy{Policy: "noop"}
	service := func(grpc, membership int, frontend bool) config.Service {
		rpc := config.RPC{GRPCPort: grpc, MembershipPort: membership, BindOnLocalHost: true}
		if frontend {
			rpc.BindOnLocalHost, rpc.BindOnIP = false, cfg.IP
		}
		return config.Service{RPC: rpc}
	}
	c.Services = map[string]config.Service{
		"frontend": service(cfg.Port, ports[3], true),
		"history":  service(ports[4], ports[5], false),
		"matching": service(ports[6], ports[7], false),
		"worker":   service(mustPort(cfg.IP), mustPort(cfg.IP), false),
	}
	c.Archival = config.Archival{
		History:    config.HistoryArchival{State: "disabled"},
		Visibility: config.VisibilityArchival{State: "disabled"},
	}
	c.PublicClient = config.PublicClient{HostPort: frontend}
	c.NamespaceDefaults = config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
		History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
		Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
	}}
	return c
}

// newServer builds a server, turning a Fatal while it is built (see
// startLogger) into errPortTaken.
func newServer(opts ...temporal.ServerOption) (_ temporal.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errPortTaken, r)
		}
	}()
	return temporal.NewServer(opts...)
}

// startServer starts srv, turning the panic Temporal's membership layer
// raises when its port is taken (a nil listener), or a Fatal while it
// starts (see startLogger), into errPortTaken.
func startServer(srv temporal.Server) (err error) {
	defer func() {
		if r := recover(); r != nil {
			_ = stopQuietly(srv)
			err = fmt.Errorf("%w: %v", errPortTaken, r)
		}
	}()
	err = srv.Start()
	if err != nil && strings.Contains(err.Error(), "address already in use") {
		_ = stopQuietly(srv)
		err = fmt.Errorf("%w: %v", errPortTaken, err)
	}
	return err
}

// stopQuietly stops a server that did not start, whatever it panics with.
func stopQuietly(srv temporal.Server) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("stop: %v", r)
		}
	}()
	return srv.Stop()
}

// freePorts asks the kernel for n free ports on ip.
func freePorts(ip string, n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func mustPort(ip string) int {
	p, err := freePorts(ip, 1)
	if err != nil {
		panic(err)
	}
	return p[0]
}

// forgetMembers clears the cluster membership an earlier process left in
// the state file. This server is the only host; a process that was killed
// never left the ring, and the new one would route shards and task queues
// to it until its record expired (about 40 s of unanswered queries).
func forgetMembers(file string) error {
	db, err := sql.Open("sqlite", file)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec("DELETE FROM cluster_membership")
	return err
}
