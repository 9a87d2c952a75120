# Thin wrapper around CMake + Ninja. Every target installs the Debian
# packages it needs first (only the missing ones; see scripts/deps.sh).
BUILD      ?= build
ASAN_BUILD ?= build-asan
GENERATOR  ?= Ninja
JOBS       ?= 2

.PHONY: all build test asan fuzz demo bench clean deps

all: build

deps:
	@scripts/deps.sh build

build: deps
	@test -f $(BUILD)/build.ninja || cmake -S . -B $(BUILD) -G $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	@cmake --build $(BUILD) -j $(JOBS)

# Every test: unit tests (cmocka), integration tests (real Prometheus,
# HAProxy, kubectl, the fake API server), conformance and CRD checks.
test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory build
	@scripts/run-tests.sh $(BUILD)

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer, built
# with clang, plus a short run of every libFuzzer target. Flagger's e2e
# scripts (about 20 minutes of their own waits, the same canaryd kube paths
# as the it.test_kube_* tests that do run here) run in `make test` only.
asan:
	@scripts/deps.sh test
	@test -f $(ASAN_BUILD)/build.ninja || cmake -S . -B $(ASAN_BUILD) -G $(GENERATOR) \
	    -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang-14 \
	    -DCANARYD_SANITIZE=ON -DCANARYD_FUZZ=ON
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@scripts/run-tests.sh $(ASAN_BUILD) -E '^it\.test_flagger_e2e'

fuzz: asan

demo:
	@scripts/deps.sh demo
	@$(MAKE) --no-print-directory build
	@examples/demo/run.sh $(BUILD)

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory build
	@bench/run-all.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
