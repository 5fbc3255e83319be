# omni: `make run` brings the product up, `make test` proves it.

SHELL := bash
TEMPORAL_CLI_VERSION := v1.5.1
# Tools live outside the clone, so CI and later clones reuse them.
TOOLS_DIR ?= $(HOME)/.cache/omni/bin
TEMPORAL ?= $(TOOLS_DIR)/temporal-$(TEMPORAL_CLI_VERSION)/temporal
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(TOOLS_DIR)/staticcheck-$(STATICCHECK_VERSION)/staticcheck
WORKFLOWCHECK_VERSION := v0.6.0
WORKFLOWCHECK := $(TOOLS_DIR)/workflowcheck-$(WORKFLOWCHECK_VERSION)/workflowcheck
# The Temporal server docker-compose.yml deploys (temporalio/server), for
# `make bench` on PostgreSQL; temporal-sql-tool beside it sets up its schema.
TEMPORAL_SERVER_VERSION := v1.29.1
TEMPORAL_SERVER := $(TOOLS_DIR)/temporal-server-$(TEMPORAL_SERVER_VERSION)/temporal-server

export OMNI_TEMPORAL_CLI := $(TEMPORAL)

.PHONY: run test chaos bench lint build temporal temporal-server postgres clean

## run: Temporal dev server with UI, PostgreSQL check, migrations, worker, API and demo
run: build temporal postgres
	TEMPORAL="$(TEMPORAL)" scripts/run.sh

## test: unit, integration and end-to-end tests against real PostgreSQL and Temporal
test: temporal postgres
	go vet ./...
	go test -race -count=1 ./...

## chaos: the fault suite at full size (1,000 customers, every fault several times, webhooks signed and unverified); figures to bench/results
chaos: temporal postgres
	CHAOS_FULL=1 CHAOS_RESULTS=$(CURDIR)/bench/results go test -count=1 -timeout 60m -run TestChaos -v ./internal/chaos

## bench: omni against the Temporal dev server and a Temporal server on PostgreSQL, the read models on a year of history, events (ingestion against a plain INSERT, event to first send), the API with and without its key check, segment membership per event with and without 10 segments, then the channel benchmarks (tables + bench/results/*.json); figures only, nothing passes or fails on time
bench: temporal temporal-server postgres
	OMNI_TEMPORAL_SERVER=$(TEMPORAL_SERVER) go run ./cmd/omnibench
	go run ./cmd/omnibench history
	go run ./cmd/omnibench events
	go test -run '^$$' -bench Auth -benchtime 1x ./api/
	go test -run '^$$' -bench SegmentUpdate -benchtime 1x -timeout 30m ./store/
	go test -run '^$$' -bench . ./channels/... ./codec/
	go test -run '^$$' -bench . -benchtime 1x -timeout 60m ./worker/...

## lint: formatting, vet, staticcheck, and workflowcheck (workflow code calls nothing non-deterministic)
lint: $(STATICCHECK) $(WORKFLOWCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	go vet ./...
	$(STATICCHECK) ./...
	@out=$$($(WORKFLOWCHECK) -config workflowcheck.yaml ./... 2>&1); if [ -n "$$out" ]; then echo "$$out"; exit 1; fi

build:
	go build -o bin/omni ./cmd/omni

## temporal: install the Temporal CLI (dev server + Web UI) once, from the Go module proxy
temporal: $(TEMPORAL)
$(TEMPORAL):
	@echo "Installing the Temporal CLI $(TEMPORAL_CLI_VERSION) into $(dir $@) (a few minutes, once)..."
	GOBIN=$(dir $@) go install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)

## temporal-server: build the Temporal server and temporal-sql-tool once, from the Go module proxy (for make bench only)
temporal-server: $(TEMPORAL_SERVER)
$(TEMPORAL_SERVER):
	@echo "Building the Temporal server $(TEMPORAL_SERVER_VERSION) into $(dir $@) (ten minutes or more, once)..."
	GOBIN=$(dir $@) go install go.temporal.io/server/cmd/server@$(TEMPORAL_SERVER_VERSION) go.temporal.io/server/cmd/tools/sql@$(TEMPORAL_SERVER_VERSION)
	mv $(dir $@)sql $(dir $@)temporal-sql-tool
	mv $(dir $@)server $@

$(STATICCHECK):
	GOBIN=$(dir $@) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(WORKFLOWCHECK):
	GOBIN=$(dir $@) go install go.temporal.io/sdk/contrib/tools/workflowcheck@$(WORKFLOWCHECK_VERSION)

## postgres: make sure a PostgreSQL server answers (starts a local cluster if one is installed)
postgres:
	@scripts/ensure-postgres.sh

clean:
	rm -rf bin .data
