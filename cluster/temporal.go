// Package cluster runs the production topology of docker-compose.yaml
// without Docker: the official Temporal server and its SQL schema tool,
// built from the go.temporal.io/server module go.mod pins, on the
// machine's PostgreSQL, with runbook worker and server processes. The
// cluster test and `make cluster` start it; the compose file's Temporal
// services are checked against the same values (cmd/runbook/deploy_test.go).
package cluster

import (
	"fmt"
	mrand "math/rand/v2"
	"net"
	"path"
	"strconv"
)

// TemporalVersion is the Temporal server release: the module go.mod pins,
// and the temporalio/server and temporalio/admin-tools image tags
// docker-compose.yaml uses.
const TemporalVersion = "1.32.1"

// Namespace is the one the runbook processes use, created once the
// cluster answers (compose: the temporal-admin-tools service).
const Namespace = "default"

// Retention is how long the namespace keeps ended runs' histories.
const Retention = "72h"

// HistoryShards is fixed at the cluster's creation: more than one, as a
// production cluster has, so runs land on different shards.
const HistoryShards = 4

// HealthCommand is compose's health check for Temporal. The cluster test
// makes the same gRPC call (grpc.health.v1 Check of the WorkflowService)
// through the SDK's CheckHealth.
const HealthCommand = "temporal operator cluster health"

// DynamicConfigFile is this package's dynamic config, the file compose
// mounts at the server's default DYNAMIC_CONFIG_FILE_PATH.
const DynamicConfigFile = "dynamicconfig.yaml"

// Postgres is where the Temporal server keeps its databases.
type Postgres struct {
	Host, User, Password string
	Port                 int
	// DB and VisibilityDB are the persistence and visibility databases.
	DB, VisibilityDB string
}

// TemporalEnv is the environment temporal-server start reads through its
// embedded config template (common/config/config_template_embedded.yaml)
// for Postgres; compose's temporal service sets the same keys.
func TemporalEnv(pg Postgres) map[string]string {
	return map[string]string{
		"DB":                     "postgres12",
		"DB_PORT":                strconv.Itoa(pg.Port),
		"POSTGRES_SEEDS":         pg.Host,
		"POSTGRES_USER":          pg.User,
		"POSTGRES_PWD":           pg.Password,
		"DBNAME":                 pg.DB,
		"VISIBILITY_DBNAME":      pg.VisibilityDB,
		"NUM_HISTORY_SHARDS":     strconv.Itoa(HistoryShards),
		"TEMPORAL_ALLOW_NO_AUTH": "true",
	}
}

// SchemaEnv is how temporal-sql-tool reaches Postgres (its SQL_* variables).
func SchemaEnv(pg Postgres) map[string]string {
	return map[string]string{
		"SQL_PLUGIN":   "postgres12",
		"SQL_HOST":     pg.Host,
		"SQL_PORT":     strconv.Itoa(pg.Port),
		"SQL_USER":     pg.User,
		"SQL_PASSWORD": pg.Password,
	}
}

// SchemaSteps are the temporal-sql-tool commands (after the tool's name)
// that create one fresh database and bring its schema to the release's
// version: store is "temporal" or "visibility", schemaRoot the module's
// schema/ directory (/etc/temporal/schema in the admin-tools image).
func SchemaSteps(db, store, schemaRoot string) [][]string {
	return [][]string{
		{"--db", db, "create-database"},
		{"--db", db, "setup-schema", "-v", "0.0"},
		{"--db", db, "update-schema", "-d", path.Join(schemaRoot, "postgresql", "v12", store, "versioned")},
	}
}

// ports are the Temporal services' listen ports, all on 127.0.0.1.
var portKeys = []string{
	"FRONTEND_GRPC_PORT", "FRONTEND_HTTP_PORT", "FRONTEND_MEMBERSHIP_PORT",
	"HISTORY_GRPC_PORT", "HISTORY_MEMBERSHIP_PORT",
	"MATCHING_GRPC_PORT", "MATCHING_MEMBERSHIP_PORT",
	"WORKER_GRPC_PORT", "WORKER_MEMBERSHIP_PORT",
}

// freePorts picks ports no one listens on now, so two clusters (or a
// cluster and `runbook dev`) can share the machine. They are below 32768:
// Temporal keeps membership ports in a smallint column, and the kernel's
// ephemeral ports (what :0 gives) are above.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []int
	for tries := 0; len(out) < n; tries++ {
		if tries > 1000 {
			return nil, fmt.Errorf("no free ports between 20000 and 32000")
		}
		port := 20000 + mrand.IntN(12000)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		ls = append(ls, l)
		out = append(out, port)
	}
	return out, nil
}
