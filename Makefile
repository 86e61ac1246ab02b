# Runbook Engine. `make dev` runs it, `make test` tests it.
GO          ?= go
BIN         := bin/runbook
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
WORKFLOWCHECK := go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0
FUZZTIME    ?= 30s

.PHONY: build test lint dev cluster bench bench-cluster fuzz docs check-docs

build:
	$(GO) build -o $(BIN) ./cmd/runbook

test:
	$(GO) test -count=1 ./...

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(WORKFLOWCHECK) -config workflows/workflowcheck.yaml ./workflows

# dev runs everything locally: an embedded Temporal server, a worker, the
# API on 127.0.0.1:8080 and the records, with examples/ registered.
dev: build
	$(BIN) validate examples
	$(BIN) dev

# cluster runs the production topology without Docker, in the foreground:
# the Temporal server built from the pinned module on the local Postgres
# (fresh databases, dropped at the end), two workers, two API processes
# behind a round-robin on 127.0.0.1:8080. Ctrl-C stops it all.
# docs/operations.md, "The production topology without Docker".
cluster: build
	$(GO) build -o bin/runbook-cluster ./cluster/cmd/runbook-cluster
	bin/runbook-cluster --runbook $(BIN)

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./bench/...
	$(GO) run ./bench/interp -steps 10 -runs 200 -concurrent 500
	$(GO) run ./bench/api -triggers 200 -steps 5

# bench-cluster measures the production topology (`make cluster`'s, on the
# local PostgreSQL): dispatch latency and sustained starts through the API.
bench-cluster: build
	$(GO) run ./bench/cluster -runbook $(BIN)

fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzBuild -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./runbooks
	$(GO) test -run='^$$' -fuzz=FuzzTemplate -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./runbooks
	$(GO) test -run='^$$' -fuzz=FuzzAPIBodies -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./server

# docs regenerates the files generated from the specs; tests fail when
# they are stale.
docs: build
	$(BIN) actions --markdown > docs/actions.md
	$(BIN) schema > docs/runbook.schema.json
