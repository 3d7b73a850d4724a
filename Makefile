# agent-sessions: set-up, run, test and build entry points (see README).

CARGO ?= cargo
WASM_TARGET := wasm32-wasip2
COMPONENT := target/component/$(WASM_TARGET)/release/agent_sessions_guest.wasm
PYTHON ?= python3
VENV := .venv
VENV_PYTHON := $(VENV)/bin/python
# The JavaScript host runs on the Node 24 that js/package.json pins (the
# npm registry's `node` package): JSPI needs 24+, whatever node is on PATH.
JS_NODE := js/node_modules/.bin/node
HOSTILE := target/component/$(WASM_TARGET)/release/hostile_guest.wasm

.PHONY: help deps setup build run test test-python test-http test-wasmtime-serve serve-wasm dist test-js check-wheel lint lint-python bench bench-python bench-js bench-items bench-http fuzz component python-native wheel release js clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-14s %s\n", $$1, $$2}'

# `deps` only looks when nothing is missing (well under a second), so `run`
# and `test` start with it every time; `setup` adds the full build and .venv.
# `run` passes --best-effort: without redis-server the demo uses --memory.
deps: ## Install only what this machine lacks (wasm32-wasip2, redis-server, python3-venv); instant if nothing
	@scripts/setup.sh $(SETUP_FLAGS)

setup: deps ## deps, then build every target and make .venv with the Python package's native module (release)
	$(CARGO) build --workspace --all-targets
	@$(MAKE) --no-print-directory python-native
	@$(MAKE) --no-print-directory js

build: deps ## Build every crate of the workspace (debug): host, CLI, component, tests, benches, Python module
	$(CARGO) build --workspace

# A target-specific variable reaches the prerequisites built for it: deps
# runs best-effort when make run asks for it. The demo needs only the CLI
# (which builds and embeds the component): no Python module, benches or
# test crates, so a fresh clone gets there in a few minutes.
run: SETUP_FLAGS := --best-effort
run: deps ## Set up what is missing, build the CLI, run `sessions demo` on a throwaway redis-server (--memory without one)
	$(CARGO) build -p agent-sessions-host --bin sessions
	@scripts/run-demo.sh target/debug/sessions

# The Python module and the wheel that `make test` checks are built in the
# dev profile, whose wasmtime `cargo test` compiles anyway: CI compiles the
# wasmtime stack once for both, not a second time in release.
test: PY_PROFILE :=
test: deps lint ## Set up what is missing; fmt check, clippy -D warnings, then every Rust and Python test (starts its own redis-servers) and the wheel check
	$(CARGO) test --workspace
	@$(MAKE) --no-print-directory PY_PROFILE=$(PY_PROFILE) test-python
	@$(MAKE) --no-print-directory PY_PROFILE=$(PY_PROFILE) test-http
	@$(MAKE) --no-print-directory PY_PROFILE=$(PY_PROFILE) check-wheel
	@$(MAKE) --no-print-directory PY_PROFILE=$(PY_PROFILE) test-js

test-python: python-native ## pytest of the Python package (conformance, interop with the Rust CLI, documents against the schema)
	cd python && ../$(VENV_PYTHON) -m pytest -q

# The HTTP suite (tests/http) against the composed component under jco serve
# and against `sessions serve --api`, each on its own redis-server; then
# Schemathesis driven by GET /openapi.json. SESSIONS_HTTP_DEPLOYMENTS picks
# the deployments (jco, native, wasmtime-serve).
SESSIONS_HTTP_DEPLOYMENTS ?= jco,native
test-http: $(VENV_PYTHON) $(JS_NODE) dist ## The HTTP API's suite: every route and status, races, faults, conformance over HTTP, Schemathesis (jco serve and sessions serve --api)
	$(CARGO) build -p agent-sessions-host --bin sessions
	SESSIONS_HTTP_DEPLOYMENTS=$(SESSIONS_HTTP_DEPLOYMENTS) $(VENV_PYTHON) -m pytest tests/http -q

# The same suite under `wasmtime serve` (wasmtime-cli 48.0.8, installed into
# target/tools/bin when missing: a long build, so outside make test).
test-wasmtime-serve: $(VENV_PYTHON) dist ## The HTTP suite against dist/sessions-http.wasm under wasmtime serve
	scripts/install-wasmtime-cli.sh
	SESSIONS_HTTP_DEPLOYMENTS=wasmtime-serve SESSIONS_HTTP_FUZZ=wasmtime-serve $(VENV_PYTHON) -m pytest tests/http -q

# The wasm deployments (tools/compose, wac-graph): dist/sessions-http.wasm
# (HTTP front + session component + kv adapter; imports only WASI, only the
# adapter gets sockets) and dist/sessions-api.wasm (front + session
# component; kv, config and types stay imports). The guest and the front
# are built by the very command host/build.rs runs (build-support/component.rs:
# the same packages together, release, LTO), so these are the components the
# native host embeds; the adapter on its own, so that its features do not
# change theirs.
COMPONENT_BUILD := --lib --release --target $(WASM_TARGET) --target-dir target/component --config profile.release.lto=true --config profile.release.codegen-units=1
COMPONENT_DIR := target/component/$(WASM_TARGET)/release
dist: deps ## Compose dist/sessions-http.wasm (front + session component + kv adapter) and dist/sessions-api.wasm (front + session component)
	$(CARGO) build --package agent-sessions-guest --package agent-sessions-http-front $(COMPONENT_BUILD)
	$(CARGO) build --package agent-sessions-kv-redis $(COMPONENT_BUILD)
	$(CARGO) build -p agent-sessions-compose
	target/debug/compose --store $(COMPONENT_DIR)/agent_sessions_guest.wasm --kv $(COMPONENT_DIR)/agent_sessions_kv_redis.wasm --front $(COMPONENT_DIR)/agent_sessions_http_front.wasm -o dist/sessions-http.wasm
	target/debug/compose --store $(COMPONENT_DIR)/agent_sessions_guest.wasm --front $(COMPONENT_DIR)/agent_sessions_http_front.wasm -o dist/sessions-api.wasm

serve-wasm: dist ## Serve dist/sessions-http.wasm under wasmtime serve on LISTEN (127.0.0.1:8080) against REDIS_URL (a throwaway redis-server when unset)
	@scripts/serve-wasm.sh

# npm ci installs the lockfile's packages, the pinned Node 24 among them
# (npm itself comes with the machine's Node); npm run build transpiles the
# built component with jco into js/generated/ (not committed).
# Both steps are skipped when their inputs did not change.
js: js/generated/guest/component.js ## Install the JavaScript package's pinned Node and packages (npm ci) and transpile the component into js/generated/

$(JS_NODE): js/package.json js/package-lock.json
	cd js && npm ci --no-audit --no-fund
	@touch $(JS_NODE)

js/generated/guest/component.js: $(JS_NODE) $(COMPONENT) $(HOSTILE) js/scripts/build.mjs js/scripts/lean-glue.mjs redis/kv_batch.lua
	cd js && AGENT_SESSIONS_WASM=$(abspath $(COMPONENT)) npm run build

$(COMPONENT) $(HOSTILE):
	$(CARGO) build --workspace

# The interop tests drive the Rust CLI (target/debug/sessions) and the
# Python package in .venv: make test builds both before.
test-js: js python-native ## node --test of the JavaScript host (conformance, interop with the Rust CLI and Python, Redis restart, hostile component)
	cd js && npm test

bench-js: js ## JavaScript host vs Rust host: p50 per operation at concurrency 1, throughput at 32 (target/bench/js.json; BENCH_QUICK=1 for a short run)
	$(CARGO) build --release -p agent-sessions-bench --bin host-latency
	$(JS_NODE) js/bench/compare_hosts.mjs --rust-bin target/release/host-latency $(if $(BENCH_QUICK),--quick,)

bench-items: deps python-native ## Conversation items vs get (Rust host, p50 at concurrency 1) and ADK list_sessions of 10,000 sessions (Python)
	$(CARGO) build --release -p agent-sessions-bench --bin host-latency
	$(VENV_PYTHON) python/bench/items.py --rust-bin target/release/host-latency $(if $(BENCH_QUICK),--quick,)

# wrk is the load generator (apt-get; installed here when missing); the
# wasm rows need make dist and the pinned wasmtime-cli (left out without).
bench-http: deps dist ## The HTTP API: p50 at concurrency 1 and requests/s at 32 for get and create, in-process vs sessions serve --api vs wasmtime serve vs jco serve (target/bench/http.json; BENCH_QUICK=1 for ~2 min)
	@command -v wrk >/dev/null || sudo -n apt-get install -y wrk || apt-get install -y wrk
	$(CARGO) build --release -p agent-sessions-host --bin sessions -p agent-sessions-bench --bin host-latency --bin loopback-http
	$(PYTHON) bench/http_api.py

check-wheel: wheel ## Install the wheel into a fresh virtual environment and use it there
	@scripts/check-wheel.sh $(PYTHON) dist

# The native module (python/src, the Rust host) is built in release mode
# into python/agent_sessions/ and the package installed editable in .venv;
# cargo makes this a few seconds when nothing changed.
# PY_PROFILE: --release (the default), or empty for the dev profile.
PY_PROFILE ?= --release
MATURIN_DEVELOP = cd python && VIRTUAL_ENV=$(CURDIR)/$(VENV) ../$(VENV)/bin/maturin develop $(PY_PROFILE) --quiet
python-native: $(VENV_PYTHON) ## Build the Python package's native module (release) into .venv
	$(MATURIN_DEVELOP)

wheel: $(VENV_PYTHON) ## Build the Python package as a wheel (native module included) into dist/
	cd python && ../$(VENV)/bin/maturin build $(PY_PROFILE) --quiet --out ../dist

# maturin is pinned here; pip install ./python takes any 1.x (pyproject.toml).
# The first build installs the test and dev extras too.
$(VENV_PYTHON): python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV_PYTHON) -m pip install --quiet --upgrade pip
	$(VENV_PYTHON) -m pip install --quiet maturin==1.16.0
	$(MATURIN_DEVELOP) --extras test,dev > /dev/null
	@touch $(VENV_PYTHON)

lint: deps ## cargo fmt --check and clippy with -D warnings, native and wasm; ruff and mypy --strict for Python
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p agent-sessions-guest --target $(WASM_TARGET) -- -D warnings
	$(CARGO) clippy -p agent-sessions-kv-redis --target $(WASM_TARGET) -- -D warnings
	@$(MAKE) --no-print-directory PY_PROFILE=$(PY_PROFILE) lint-python

lint-python: python-native
	cd python && ../$(VENV)/bin/ruff check agent_sessions tests bench examples scripts
	cd python && ../$(VENV)/bin/ruff format --check agent_sessions tests bench examples scripts
	cd python && ../$(VENV)/bin/mypy
	cd python && ../$(VENV)/bin/mypy bench/compare_hosts.py scripts/gen_models.py

bench: deps ## Benchmark component vs native vs redis-benchmark (~2 min after the release build; BENCH_QUICK=1 for ~10 s)
	$(CARGO) build --release -p agent-sessions-host -p agent-sessions-bench
	target/release/sessions-bench $(if $(BENCH_QUICK),--quick,)

bench-python: deps python-native ## Python package vs Rust host vs plain redis-py, per-op latency and asyncio throughput (~2 min; BENCH_QUICK=1 for ~30 s)
	$(CARGO) build --release -p agent-sessions-bench --bin host-latency
	$(VENV_PYTHON) python/bench/compare_hosts.py --rust-bin target/release/host-latency $(if $(BENCH_QUICK),--quick,)

fuzz: ## Fuzz decoding and validation for FUZZ_SECONDS (default 60); non-zero exit on a crash
	@scripts/fuzz.sh

component: build ## Copy the component to dist/agent_sessions.wasm for other runtimes
	@mkdir -p dist
	cp $(COMPONENT) dist/agent_sessions.wasm
	cp redis/kv_batch.lua dist/kv_batch.lua
	cp wit/sessions.wit dist/sessions.wit
	cp schema/sessions.schema.json dist/sessions.schema.json
	@ls -l dist

release: deps ## Optimised CLI at target/release/sessions
	$(CARGO) build --release -p agent-sessions-host

clean: ## Remove build output
	$(CARGO) clean
	rm -rf dist js/generated
