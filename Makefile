# Everything a developer runs. Targets work on a fresh clone with only Go installed.
SHELL := /bin/bash
GO ?= go
STATICCHECK_VERSION ?= v0.8.2
# The real NATS server the deploy-config tests run (pkg/testkit.FindNATSBinary):
# the newest release of the minor version docker-compose.yml's image runs.
NATS_SERVER_VERSION ?= v2.11.17
# The OpenAPI linter the gateway's document test runs (npm; installed under bin/).
REDOCLY_VERSION ?= 2.77.0
MODULES := contracts pkg services/gateway services/credential services/fileingest services/datasetquery services/all
# Every package of every workspace module, built and tested in one go invocation
# so the build cache and the test scheduler are shared.
PKGS := github.com/nonefinity/backend/...
BIN := bin
STATIC_SERVICES := gateway credential fileingest
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: run run-split test test-short bench bench-go load lint build tidy clean nats-server redocly

## run: the whole system in one process on the embedded default (gateway on :8000, data under ./data, dev auth)
run: $(BIN)/nonefinity
	./$(BIN)/nonefinity

## run-split: the same system as an operator runs it, every part its own process: nats-server
## (deploy/nats, a user per service), FerretDB, Versity S3 and the four service binaries
## (data under ./data/split, gateway on :8000, dev auth); flags: go run ./services/all/cmd/runsplit -h
run-split: nats-server
	$(GO) run ./services/all/cmd/runsplit

# No -trimpath here: the dev binary reuses the build cache that tests fill.
$(BIN)/nonefinity: FORCE
	@mkdir -p $(BIN)
	$(GO) build -ldflags "$(LDFLAGS)" -o $@ ./services/all/cmd/nonefinity

## test: every module's tests, with the race detector
test: nats-server redocly
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

## test-short: the same without -race, for a quick local loop
test-short: nats-server redocly
	$(GO) test -count=1 $(PKGS)

## nats-server: installs the real nats-server $(NATS_SERVER_VERSION) into bin/ (go install), for the
## tests of deploy/nats; kept when bin/nats-server already is that version
nats-server:
	@if [ "$$($(BIN)/nats-server --version 2>/dev/null)" != "nats-server: $(NATS_SERVER_VERSION)" ]; then \
		echo "go install nats-server $(NATS_SERVER_VERSION) into $(BIN)/"; \
		GOBIN="$(CURDIR)/$(BIN)" $(GO) install github.com/nats-io/nats-server/v2@$(NATS_SERVER_VERSION); \
	fi

## redocly: installs @redocly/cli $(REDOCLY_VERSION) under bin/redocly (npm), for the test that lints
## the gateway's OpenAPI document with Redocly's recommended rules; kept when already that version
redocly:
	@if [ "$$(REDOCLY_TELEMETRY=off $(BIN)/redocly/node_modules/.bin/redocly --version 2>/dev/null | tail -n1)" != "$(REDOCLY_VERSION)" ]; then \
		echo "npm install @redocly/cli@$(REDOCLY_VERSION) into $(BIN)/redocly"; \
		npm install --silent --no-audit --no-fund --prefix "$(CURDIR)/$(BIN)/redocly" @redocly/cli@$(REDOCLY_VERSION); \
	fi

## bench: issue #13's harness: each figure next to its baseline in one run (convert, queries, XLSX,
## 1 GiB upload, list routes vs the FastAPI floor, NATS hop, decrypt), a table and JSON lines in
## bench/latest.jsonl. BENCH_FLAGS=-quick is a smoke run; `go run ./services/all/cmd/bench -h` for the flags.
BENCH_FLAGS ?=
bench:
	$(GO) run ./services/all/cmd/bench -out bench/latest.jsonl $(BENCH_FLAGS)

## bench-go: every Go benchmark, 5 runs each, in benchstat's input format under bench/
bench-go:
	@mkdir -p bench
	$(GO) test -run '^$$' -bench . -benchmem -count 5 $(PKGS) | tee bench/latest.txt

## load: issue #10's two-user scenario: B's upload/convert/query p99 alone, then while A runs every
## attack for LOAD_DURATION (default 60s); fails on any error of B's or a p99 over 3x.
## LOAD_FLAGS=-quick is a smoke run; see `go run ./services/all/cmd/loadlimits -h` for the flags.
LOAD_DURATION ?=
LOAD_FLAGS ?=
load:
	$(GO) run ./services/all/cmd/loadlimits $(if $(LOAD_DURATION),-duration $(LOAD_DURATION)) $(LOAD_FLAGS)

## lint: go vet + staticcheck + gofmt
lint:
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## build: one binary per service (and the all-in-one) into bin/; static where
## possible — only DuckDB (datasetquery, all-in-one) needs cgo
build:
	@mkdir -p $(BIN)
	@for s in $(STATIC_SERVICES); do \
		echo "build $$s (static)"; \
		CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/$$s ./services/$$s/cmd/$$s || exit 1; \
	done
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/datasetquery ./services/datasetquery/cmd/datasetquery
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/nonefinity ./services/all/cmd/nonefinity
	@ls -l $(BIN)

tidy:
	@for m in $(MODULES); do (cd $$m && $(GO) mod tidy) || exit 1; done

clean:
	rm -rf $(BIN)

FORCE:
