# eventfold's build. `make test` is what CI runs (.ci/run): it starts the
# services it needs (scripts/services.sh) and then checks every module of
# the repository against them.

SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin
# Integration tests fail, never skip, when a service is missing.
export EVENTFOLD_REQUIRE_SERVICES := 1

# Every Go module in the repository, each tested on its own.
MODULES := . examples $(wildcard bench)

.PHONY: all services services-all run test test-quick chaos vet fmt-check tidy-check

all: test

# PostgreSQL and Redis: what the example needs.
services:
	bash scripts/services.sh

# Also NATS JetStream and RabbitMQ: the distributed tests need them.
services-all:
	bash scripts/services.sh --brokers

# The main job: the example bank on real PostgreSQL and Redis, starting the
# services first. It plays a short scripted session of HTTP commands and
# queries and prints it (examples/bank/README.md).
run: services
	cd examples && go run ./bank/cmd/bank -demo

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	@set -e; for m in $(MODULES); do echo "go vet ($$m)"; (cd $$m && go vet ./...); done

# Unit, conformance and integration tests of every module, with the race
# detector, against the real services; internal/chaos runs last, alone
# (make chaos).
test: services-all fmt-check vet
	@set -e; for m in $(MODULES); do \
		echo "== go test -race ($$m)"; \
		(cd $$m && go test -race -count=1 -timeout 10m $$(go list ./... | grep -v /internal/chaos$$)); \
	done
	@$(MAKE) --no-print-directory fuzz-quick
	$(MAKE) chaos

# Fault injection (internal/chaos, docs/reliability-faults.md): restarts
# PostgreSQL, Redis, NATS and RabbitMQ and cuts the network to Redis, so it
# runs alone, after every other test (test calls it last). About 40 seconds.
# The RabbitMQ test is built without the race detector, which reports races
# inside watermill-amqp's reconnection (see internal/chaos), so it has a
# second, race-free run.
chaos: services-all
	EVENTFOLD_CHAOS=1 go test -race -count=1 -p 1 -timeout 10m ./internal/chaos/
	EVENTFOLD_CHAOS=1 go test -count=1 -p 1 -timeout 10m -run RabbitMQ ./internal/chaos/

# The same without the race detector, for a quick local loop.
test-quick: services-all
	@set -e; for m in $(MODULES); do (cd $$m && go test -count=1 ./...); done

# Benchmarks: bench/ is its own module (docs/performance.md). bench-quick
# runs every scenario briefly and fails if one does not complete and print
# its rows; it asserts no speed. bench is the full run (about 35 minutes).
.PHONY: bench bench-quick
bench-quick: services
	cd bench && go run . -quick -json results-quick.json

bench: services
	cd bench && go run . -json results.json

# Fuzz targets, each run for FUZZTIME executions (about 40 s in all). Their seed
# corpora in testdata/fuzz also run as plain tests on every go test.
# A count, not a duration: with a duration, Go's fuzzer sometimes reports
# "context deadline exceeded" as a failure when time runs out on a busy
# machine, which would make CI flaky.
FUZZTIME ?= 50000x
FUZZ_TARGETS := \
	.:./eventstore:FuzzParsePosition \
	.:./eventstore:FuzzPositionString \
	.:./eventstore:FuzzIsEventID \
	.:./eventstore:FuzzValidateAppend \
	.:./readmodel:FuzzValueOrder \
	.:./readmodel:FuzzEntryIDAndCursor \
	.:./command:FuzzRegistryDecode \
	.:./adapters/pgstore:FuzzDecodeMetadata \
	.:./adapters/pgstore:FuzzEncodeMetadata \
	.:./adapters/redisstore:FuzzKeysInjective \
	.:./adapters/redisstore:FuzzRevisionEncoding \
	.:./adapters/watermillbus:FuzzMessageRoundTrip \
	.:./adapters/watermillbus:FuzzRecordArbitrary \
	.:./adapters/watermillbus:FuzzBatchRoundTrip \
	.:./adapters/watermillbus:FuzzRecordsArbitrary \
	examples:./bank/httpapi:FuzzAPI

.PHONY: fuzz-quick
fuzz-quick:
	@set -e; for t in $(FUZZ_TARGETS); do \
		IFS=: read -r mod pkg name <<< "$$t"; \
		echo "== go test -fuzz $$name ($$mod/$$pkg, $(FUZZTIME))"; \
		(cd $$mod && go test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg); \
	done
