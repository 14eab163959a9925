# gatepass: the two commands are `make run` and `make test` (which also runs the database
# suites on a Citus cluster: scripts/citus, docs/scaling.md).
.PHONY: run test build fuzz bench clean

run:
	@scripts/run

test:
	@scripts/test

build:
	go build -o bin/ ./server ./mobile-api ./gate-agent

# Longer fuzzing of the QR token parser and verifier.
FUZZTIME ?= 2m
fuzz:
	go test -run '^$$' -fuzz FuzzParseVerify -fuzztime $(FUZZTIME) ./internal/credential

# Benchmarks; the figures in docs/benchmarks.md come from these.
bench:
	@scripts/bench

clean:
	-scripts/devdb stop run; scripts/devdb stop test; scripts/devdb stop dev
	-scripts/citus stop test; scripts/citus stop dev; scripts/citus stop bench
	rm -rf bin .data
