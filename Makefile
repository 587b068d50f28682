# slo-harness — the user's interface. `make help` lists the targets (from their `## ` comments).
# Every target depends on `install`, so each works on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
PYTHON3 ?= python3

# APP_PORT, LOCUST_PORT, ...: not defaulted here, so a command finds the stack in .stack/env
# unless you set them (the code's defaults are 5000 and 8089).
SCENARIO    ?= steady
USERS       ?=
DURATION    ?=
SCHEDULE    ?=
WORKERS     ?= 2
KIND        ?= latency
ARGS        ?=
# SPEC: your SLO spec. `make stack SPEC=...` loads its rules and records it in .stack/env, so
# `make load`, `make slo-check` and `make alert-check` then use it without SPEC; unset and
# unrecorded it is the demo's slo/slos.yaml (and none in front of TARGET_URL).
SPEC        ?=
# RULES: more Prometheus rule files or directories of them (':'-separated) for `make stack`.
RULES       ?=
# FORGET=1: `make stack` starts from the defaults, not the settings .stack/env recorded.
FORGET      ?=
# WEB=1: `make demo` runs Locust with its web UI (Chaos and SLO tabs) to watch the experiment.
WEB         ?=
RUN         ?=
EXPERIMENT  ?= slo/experiments/demo.yaml
PYTEST_ARGS ?=
# Most tests wait on real servers (scrapes, alert windows), not on the CPU: four processes,
# one test file each at a time (module fixtures stay whole), fit 2 cores.
TEST_WORKERS ?= 4
PART        ?=
CHECK_ARGS  ?=
CHECK_JSON  ?= reports/slo-check.json
FRESH       ?=
KEEP        ?=
BENCH_ARGS  ?=
LOCUSTFILE  ?=
ENDPOINTS   ?=
HOST        ?=
MASTER_HOST ?=
MASTER_PORT ?=
MASTER_BIND_HOST ?=
REMOTE_WORKERS ?=
PROCESSES   ?=
export APP_PORT LOCUST_PORT
# The fault proxy (make stack TARGET_URL=http://127.0.0.1:8000): passed on to the launcher.
export TARGET_URL TARGET_METRICS_URL PROXY_PORT PROXY_ADMIN_PORT PROXY_CONTROL_PORT PROXY_ROUTES
# The database behind PROMETHEUS_URL: make stack BACKEND=victoriametrics (native; vmalert beside).
BACKEND     ?=
export STACK_BACKEND := $(or $(BACKEND),$(STACK_BACKEND))
export VMALERT_PORT
# Whose users and where the load goes: LOCUSTFILE (your own, importing loadtests.plugin) or
# ENDPOINTS (a YAML list), HOST (an http(s) URL; default the stack's proxy, else the app).
USER_ARGS = $(if $(LOCUSTFILE),--locustfile $(LOCUSTFILE)) $(if $(ENDPOINTS),--endpoints $(ENDPOINTS))
# A HOST that is no URL: refused when given on the command line; ignored when it comes from
# the environment (some shells export HOST as the machine's name).
HOST_ARGS = $(if $(filter http://% https://%,$(HOST)),--host $(HOST),$(if $(and $(HOST),$(filter command line,$(origin HOST))),$(error HOST=$(HOST) is not a URL: give it with http:// or https://, e.g. HOST=http://$(HOST))))
LOAD_ARGS = --scenario $(SCENARIO) $(if $(USERS),--users $(USERS)) $(if $(DURATION),--duration $(DURATION)) $(if $(SCHEDULE),--chaos-schedule $(SCHEDULE)) $(USER_ARGS) $(HOST_ARGS)
DIST_ARGS = $(if $(MASTER_BIND_HOST),--master-bind-host $(MASTER_BIND_HOST)) $(if $(MASTER_PORT),--master-port $(MASTER_PORT)) $(if $(REMOTE_WORKERS),--remote-workers $(REMOTE_WORKERS))

.PHONY: help install setup test test-fresh-clone test-reliability test-proxy lint app fault fault-clear bench \
        bench-app stack stack-down stack-status load load-headless load-distributed load-worker \
        slo-check rules alert-check demo bench-load bench-slo bench-proxy clean stack-logs \
        telegram-sandbox

help: ## show this help (colour only on a terminal)
	@if [ -t 1 ]; then on=$$'\033[36m'; off=$$'\033[0m'; else on=; off=; fi; \
	grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
	  awk -v on="$$on" -v off="$$off" 'BEGIN {FS = ":.*?## "}; {printf "  %s%-18s%s %s\n", on, $$1, off, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON3) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[lab,dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the project with its dev tools

setup: install ## install system binaries (Prometheus, Alertmanager, Chromium, wrk, VictoriaMetrics) with apt
	$(PY) -m stack setup

test: install ## the test suite: unit + integration against real binaries + the reliability tests that fit CI
	$(PY) -m pytest -m "not slow and not quiet" -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)
	@# then the measurements that need the machine to themselves (client-side timing), alone;
	@# exit 5 (a PYTEST_ARGS that selects none of them) is no failure
	$(PY) -m pytest -m "quiet and not slow" $(PYTEST_ARGS) || [ $$? -eq 5 ]

# A new user's first run: the committed HEAD cloned into a temp dir, its own .venv, `make install
# test` there, nothing from this checkout or shell (PYTHONPATH, VIRTUAL_ENV, STACK_DIR) leaking
# in. Plain `make`, not $(MAKE): `make -n test-fresh-clone` then prints the commands without
# cloning. The clone is removed when the suite passes and kept (its path printed) when not.
test-fresh-clone: ## `make install test` in a fresh clone of HEAD in a temp dir, as on a new machine (~10 min; not part of `make test`)
	@sha=$$(git rev-parse HEAD) && dir=$$(mktemp -d "$${TMPDIR:-/tmp}/slo-harness-fresh.XXXXXX") && \
	echo "test-fresh-clone: $$sha in $$dir" && \
	git clone -q --no-checkout "$(CURDIR)" "$$dir" && git -C "$$dir" checkout -q --detach "$$sha" && \
	if env -u PYTHONPATH -u VIRTUAL_ENV -u STACK_DIR make -C "$$dir" install test; then \
	  rm -rf "$$dir"; echo "test-fresh-clone: make install test passed on a fresh clone of $$sha"; \
	else echo "test-fresh-clone: make install test FAILED on a fresh clone of $$sha (kept: $$dir)" >&2; exit 1; fi

test-reliability: install ## the whole reliability suite, soak included (~6 min)
	$(PY) -m pytest -m reliability $(PYTEST_ARGS)

test-proxy: install ## the fault proxy's proofs on services this project did not write (~4 min)
	$(PY) -m pytest -m slow tests/test_proxy_proofs.py $(PYTEST_ARGS)

lint: install ## ruff over the code
	$(VENV)/bin/ruff check .

app: install ## run the target app under gunicorn in the foreground on APP_PORT
	$(PY) -m target_app serve

fault: install ## set a fault (on the stack's fault proxy when it has TARGET_URL): make fault KIND=latency ARGS="--delay-ms 300 --ttl 120"
	$(PY) -m harness_common.faults set $(KIND) $(ARGS)

fault-clear: install ## clear every active fault
	$(PY) -m harness_common.faults clear

bench-app: install ## benchmark: instrumented app vs instrumentation off (reports/bench/app.json)
	$(PY) -m bench.app_overhead

stack: install ## bring the stack up and print URLs; TARGET_URL=...: the fault proxy in front of your service; SPEC=your-slos.yaml: its rules, not the demo's; RULES=dir; FRESH=1: empty data; FORGET=1: not the recorded settings; BACKEND=victoriametrics
	@# the spec's rules first (into .stack/rules; the given SPEC, else the recorded one)
	$(if $(SPEC),$(PY) -m slo.cli rules --stack --spec $(SPEC),$(if $(FORGET),true,$(PY) -m slo.cli rules --stack))
	$(if $(SPEC),SLO_SPEC=$(SPEC) )$(if $(RULES),STACK_EXTRA_RULES=$(RULES) )$(PY) -m stack up $(if $(FRESH),--fresh) $(if $(FORGET),--forget)

stack-down: install ## stop exactly what `make stack` started
	$(PY) -m stack down

stack-status: install ## show each part of the stack (exit 0 up, 1 degraded, 3 not running)
	$(PY) -m stack status

stack-logs: install ## tail the stack's logs: make stack-logs PART=prometheus
	$(PY) -m stack logs $(PART)

telegram-sandbox: install ## run the Telegram Bot API sandbox alone, in the foreground
	$(PY) -m stack.telegram_sandbox

load: install ## Locust web UI with the Chaos and SLO tabs on LOCUST_PORT (LOCUSTFILE=path or ENDPOINTS=file, HOST=url, SPEC=the SLO tab's spec; default the stack's)
	$(if $(SPEC),SLO_SPEC=$(SPEC) )$(PY) -m loadtests web $(USER_ARGS) $(HOST_ARGS)

load-headless: install ## one scenario unattended: make load-headless SCENARIO=step USERS=20 DURATION=2m [SCHEDULE=file LOCUSTFILE=path HOST=url PROCESSES=N|-1 (Locust workers on this machine)]
	$(PY) -m loadtests headless $(LOAD_ARGS) $(if $(PROCESSES),-- --processes $(PROCESSES))

load-distributed: install ## Locust master + WORKERS local workers (+ REMOTE_WORKERS elsewhere: MASTER_BIND_HOST, MASTER_PORT) running SCENARIO
	$(PY) -m loadtests distributed --workers $(WORKERS) $(LOAD_ARGS) $(DIST_ARGS)

load-worker: install ## Locust workers for a master on another machine: make load-worker MASTER_HOST=10.0.0.5 [MASTER_PORT=5557 WORKERS=2]
	$(PY) -m loadtests worker --master-host $(MASTER_HOST) $(if $(MASTER_PORT),--master-port $(MASTER_PORT)) --workers $(WORKERS) $(USER_ARGS)

bench-load: install ## benchmark: the harness's load vs wrk on the same cores against nginx, as a ratio (reports/bench/load.json, summary.json); BENCH_ARGS=--quick
	$(PY) -m bench.all --only load $(BENCH_ARGS)

slo-check: install ## CI gate over the latest run (RUN=reports/<id>/run.json, SPEC=file; default the stack's spec); verdict code in reports/slo-check.json; make exits 0 or 2
	$(PY) -m slo.cli check $(if $(SPEC),--spec $(SPEC)) $(if $(RUN),--run $(RUN)) --json $(CHECK_JSON) $(CHECK_ARGS)

rules: install ## generate Prometheus rules + Grafana SLO alerts/dashboard from SPEC (commit them)
	$(PY) -m slo.cli rules --spec $(or $(SPEC),slo/slos.yaml)

bench-slo: install ## benchmark: slo check wall time (default spec, 100 SLOs) and p95 accuracy (reports/bench/slo.json)
	$(PY) -m bench.slo_check

bench-proxy: install ## benchmark: the fault proxy's added latency, and load generator capacity vs nginx (reports/bench/proxy.json)
	$(PY) -m bench.proxy

demo: setup ## the closed loop (~5 min): fast-alert stack, load, faults, SLO verdicts, alerts, Telegram; prints the report path
	SLO_PROFILE=$${SLO_PROFILE:-fast} $(PY) -m slo.cli run $(EXPERIMENT) $(if $(KEEP),--keep) $(if $(WEB),--web)

alert-check: install ## alert rules' states, then a test alert (labelled with your spec's service) proven delivered to Telegram (firing and resolved, timed)
	$(PY) -m slo.cli verify-alerts && $(PY) -m slo.cli verify-alerts --send-test

bench: install ## every benchmark (app, load, proxy, slo check, detection) -> reports/bench/summary.json + table; BENCH_ARGS=--quick
	$(PY) -m bench.all $(BENCH_ARGS)

clean: ## remove caches (keeps .venv, .stack and reports)
	rm -rf .pytest_cache .ruff_cache .hypothesis
