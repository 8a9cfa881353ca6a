# Thin front end over CMake/Ninja/CTest; the README's two commands live here.
#   make demo   install missing build dependencies, build, tell the design's
#               story (scripts/demo.sh: examples/demo.tds, then an exploration)
#   make test   same set-up, then the whole test suite: plain build; valgrind
#               memcheck over the unit tests and the demo; ThreadSanitizer
#               over the unit tests, scenarios (parallel blocks run vCPU
#               threads) and examples; AddressSanitizer + UBSan over all
#   make check  the quick loop: plain build and every ctest but the
#               explorations (no sanitizers, no valgrind), about half a
#               minute; `make explore` runs the explorations alone
#   make bench  the standard benchmark set: bench/results/*.json and plots
#               (installs gnuplot-nox, only for this target)
#   make soak   long runs, not part of `make test`: the stress program
#               (tests/unit/test_stress.c) under ThreadSanitizer, then under
#               AddressSanitizer + UBSan, each for SOAK_SECONDS (default 600;
#               the issue's hour: `make soak SOAK_SECONDS=3600`), with
#               SOAK_VCPUS vCPUs (8), SOAK_HOSTS host threads (2), both MMUs
#               and both accept modes (one TD each, in turn), every
#               operation kind, BUSY 10% and ENOMEM 1%; a progress line
#               every SOAK_PROGRESS s (60) with operations by kind, checks,
#               injected faults hit, RSS. SOAK_SEED (default random) is
#               printed; re-run a failure with SOAK_SEED=N. It fails on any
#               sanitizer report, model violation or leak, and when the RSS
#               grows by more than 10% + 16 MiB (TSan: + 128 MiB, its own
#               shadow memory) after the first 10% of a run of 60 s or more.
#   make fuzz   the libFuzzer harnesses (tests/fuzz/), one after the other,
#               FUZZ_SECONDS each (default 60), in their own clang build
#               (installs clang, only for this target), under ASan + UBSan;
#               FUZZ_SANITIZERS=undefined FUZZ_BUILD=build-fuzz-fast is the
#               throughput build for long runs that count operations (no
#               ASan: some 3-5 times the executions a second)
BUILD     ?= build
ASAN_BUILD?= build-asan
TSAN_BUILD?= build-tsan
WERROR    ?= OFF
JOBS      ?= $(shell nproc)
FUZZ_BUILD?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= fuzz_scenario fuzz_ops
FUZZ_ARGS ?=
FUZZ_SANITIZERS ?= address,undefined
CMAKE_GEN  = -G Ninja -DTDXMMU_WERROR=$(WERROR)

.PHONY: soak check explore bench coverage fuzz configure-fuzz all deps configure configure-asan configure-tsan test-tsan test-valgrind build demo test test-plain test-asan install clean

all: build

bench: build
	@scripts/install-deps.sh --bench
	BUILD=$(BUILD) scripts/bench.sh

# Each harness runs FUZZ_SECONDS over the seed corpora (tests/fuzz/README.md)
# plus its working corpus in $(FUZZ_BUILD)/corpus/, where the inputs it finds
# stay for the next run; a crash is saved in $(FUZZ_BUILD)/crash/ and stops
# the target. FUZZ_ARGS go to libFuzzer (e.g. FUZZ_ARGS=-seed=1). The replay
# drivers are built too, so that `ctest --test-dir $(FUZZ_BUILD) -L fuzz`
# finds every test of the label up to date.
fuzz: configure-fuzz
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZ_TARGETS) \
		$(addsuffix _replay,$(FUZZ_TARGETS))
	@mkdir -p $(FUZZ_BUILD)/crash
	@set -e; for t in $(FUZZ_TARGETS); do \
		case $$t in \
		fuzz_scenario) seeds="tests/fuzz/corpus/scenario tests/scenarios tests/races examples"; \
			extra="-dict=tests/fuzz/scenario.dict";; \
		fuzz_ops) seeds="tests/fuzz/corpus/ops"; extra="-max_len=1024";; \
		*) echo "make fuzz: unknown harness $$t" >&2; exit 2;; \
		esac; \
		mkdir -p $(FUZZ_BUILD)/corpus/$${t#fuzz_}; \
		echo "make fuzz: $$t for $(FUZZ_SECONDS) s"; \
		$(FUZZ_BUILD)/tests/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=60 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/crash/$$t- \
			$$extra $(FUZZ_ARGS) $(FUZZ_BUILD)/corpus/$${t#fuzz_} $$seeds; \
	done

configure-fuzz:
	@scripts/install-deps.sh --fuzz
	@cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DCMAKE_C_COMPILER=clang \
		-DTDXMMU_FUZZ=ON -DTDXMMU_FUZZ_SANITIZERS="$(FUZZ_SANITIZERS)" >/dev/null

deps:
	@scripts/install-deps.sh

# Configure every time (cheap, idempotent) so options such as WERROR=ON
# reach a build tree that already exists.
configure: deps
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) >/dev/null

build: configure
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	scripts/demo.sh $(BUILD)

test: test-plain test-valgrind test-tsan test-asan

check: build
	ctest --test-dir $(BUILD) -j $(JOBS) --output-on-failure -LE explore

# Every canonical race explored with every guard on, every mutant caught
# and replayed (tests/races, docs/exploration.md). Part of test-plain.
explore: build
	ctest --test-dir $(BUILD) -j $(JOBS) --output-on-failure -L explore

test-plain: build
	ctest --test-dir $(BUILD) -j $(JOBS) --output-on-failure

configure-asan: deps
	@cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug \
		-DTDXMMU_SANITIZE=address,undefined >/dev/null

test-asan: configure-asan
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --test-dir $(ASAN_BUILD) -j $(JOBS) --output-on-failure

configure-tsan: deps
	@cmake -S . -B $(TSAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DTDXMMU_SANITIZE=thread >/dev/null

test-tsan: configure-tsan
	cmake --build $(TSAN_BUILD) -j $(JOBS)
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
		ctest --test-dir $(TSAN_BUILD) -j $(JOBS) -L "unit|scenario|example" --output-on-failure

SOAK_SECONDS  ?= 600
SOAK_VCPUS    ?= 8
SOAK_HOSTS    ?= 2
SOAK_SEED     ?= random
SOAK_PROGRESS ?= 60
# Each round ends in a quiesce point that verifies every page of every
# vCPU, which a sanitizer makes slow: long rounds keep the run concurrent.
SOAK_ROUND_MS ?= 2000
SOAK_ENV = TDXMMU_STRESS_MS=$$(( $(SOAK_SECONDS) * 1000 )) \
	TDXMMU_STRESS_VCPUS=$(SOAK_VCPUS) TDXMMU_STRESS_HOSTS=$(SOAK_HOSTS) \
	TDXMMU_STRESS_SEED=$(SOAK_SEED) TDXMMU_STRESS_PROGRESS=$(SOAK_PROGRESS) \
	TDXMMU_STRESS_MMU=both TDXMMU_STRESS_ACCEPT=both TDXMMU_STRESS_OPS=all \
	TDXMMU_STRESS_ROUND_MS=$(SOAK_ROUND_MS) TDXMMU_STRESS_BUSY_PPM=100000 TDXMMU_STRESS_ENOMEM_PPM=10000

# One sanitizer at a time: each run uses every CPU it can get. ASan's
# quarantine of freed memory (256 MiB by default) fills for minutes and
# would read as growth: measured over 120 s, the RSS went from 57 to 224 MiB
# with it and stayed at 57-62 MiB with 16 MiB (the plain build: 28-31 MiB).
# TSan's shadow and sync-object memory is its own too, and it returns it
# only when it flushes: without a flush the RSS rose from 104 to 182 MiB in
# 120 s; flushed every 10 s it saws between 90 and 185 MiB. So the TSan run
# flushes (a race between accesses more than 10 s apart goes unseen) and
# its bound has SOAK_TSAN_RSS_SLACK_MB of slack; the ASan run keeps the
# default 16 MiB and is the flat-memory measurement.
SOAK_TSAN_RSS_SLACK_MB ?= 128

soak: configure-tsan configure-asan
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target test_stress
	cmake --build $(ASAN_BUILD) -j $(JOBS) --target test_stress
	@echo "soak: ThreadSanitizer, $(SOAK_SECONDS) s"
	$(SOAK_ENV) TDXMMU_STRESS_RSS_SLACK_MB=$(SOAK_TSAN_RSS_SLACK_MB) \
		TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:flush_memory_ms=10000 \
		$(TSAN_BUILD)/tests/test_stress
	@echo "soak: AddressSanitizer + UBSan, $(SOAK_SECONDS) s"
	$(SOAK_ENV) ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=16 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(ASAN_BUILD)/tests/test_stress

VALGRIND = valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect

test-valgrind: build
	scripts/valgrind-tests.sh $(BUILD) $(JOBS) $(VALGRIND)
	$(VALGRIND) $(BUILD)/tdxmmu run --quiet examples/demo.tds

# Line and branch coverage of src/ by the whole plain test suite (gcovr):
# a summary on stdout; per file, lines in $(COV_BUILD)/coverage.txt, lines
# and branches in $(COV_BUILD)/coverage.json; an HTML report with every
# line and branch in $(COV_BUILD)/coverage/index.html; what is left by kind
# on stdout and, line by line with its kind's reason, in
# $(COV_BUILD)/not-taken.txt (scripts/coverage-kinds.py).
COV_BUILD ?= build-cov
coverage: deps
	@scripts/install-deps.sh --coverage
	@cmake -S . -B $(COV_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DTDXMMU_COVERAGE=ON >/dev/null
	cmake --build $(COV_BUILD) -j $(JOBS)
	find $(COV_BUILD) -name '*.gcda' -delete
	ctest --test-dir $(COV_BUILD) -j $(JOBS) --output-on-failure
	@mkdir -p $(COV_BUILD)/coverage
	gcovr --root . --object-directory $(COV_BUILD) --filter 'src/' \
		--exclude-unreachable-branches --exclude-throw-branches \
		--txt $(COV_BUILD)/coverage.txt --json-summary-pretty \
		--json-summary $(COV_BUILD)/coverage.json \
		--html-details $(COV_BUILD)/coverage/index.html --print-summary
	gcovr --root . --object-directory $(COV_BUILD) --filter 'src/' \
		--exclude-unreachable-branches --exclude-throw-branches \
		--json $(COV_BUILD)/coverage-full.json
	scripts/coverage-kinds.py $(COV_BUILD)/coverage-full.json \
		--list $(COV_BUILD)/not-taken.txt

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(COV_BUILD) $(FUZZ_BUILD)
