"""Wires the harness into one Locust process (called from the locustfile's init listener).

Per role:
- worker: counts client-side metrics and ships them to the master with its reports.
- master / standalone: checks the input and the target before any load (bad scenario, bad
  schedule, unreachable target, missing or refused admin token: exit 2 with one line naming the
  problem); then per test: the chaos schedule runs in a greenlet from test_start; on test_stop
  every fault it or the web UI set is cleared and the run folder is written; on quit, Ctrl-C,
  SIGTERM and at exit the same cleanup runs again (idempotent). /metrics and the Chaos tab are
  added to the web UI.

Exit code (set on quit): 0 when the run went through, even with failed requests (they are
results: the SLO checker judges them); 1 when the locustfile raised (runner.exceptions), a fault
could not be cleared or the record could not be written; 2 for a crash Locust logged.
"""

import atexit
import dataclasses
import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import gevent
from locust import log as locust_log
from locust.runners import MasterRunner, WorkerRunner

from harness_common import exitcodes
from harness_common.exposition import metrics_response
from harness_common.faults.client import FaultClient
from harness_common.faults.routes import is_protected
from harness_common.stackenv import FaultApi, fault_api_for, resolve_target_url
from loadtests import tabs, webui
from loadtests.chaos import ChaosController
from loadtests.client_metrics import REPORT_KEY, ClientMetrics, build_registry
from loadtests.errors import LoadTestError, TargetError
from loadtests.latency import LATENCY_KEY, PHASES_VAR, ClientLatency, PhaseSpan
from loadtests.options import plan_from_options
from loadtests.preflight import check_target
from loadtests.recorder import Recorder
from loadtests.scenarios import LoadPlan
from loadtests.schedule import Schedule, load_schedule

log = logging.getLogger("loadtests")

USER_SAMPLE_INTERVAL_S = 0.5
ADMIN_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Settings:
    """What the master needs, validated once at start-up."""

    plan: LoadPlan
    schedule: Schedule | None
    reports_dir: Path
    run_id: str | None
    fault_api: FaultApi | None  # where the schedule and the Chaos tab send faults (at init)
    unattended: bool  # --headless or --autostart: options cannot change during the session


def settings_from_options(options) -> Settings:
    """Parse and validate the options; LoadTestError naming the problem."""
    plan = plan_from_options(options)
    schedule = load_schedule(options.chaos_schedule) if options.chaos_schedule else None
    return Settings(plan=plan, schedule=schedule, reports_dir=Path(options.reports_dir),
                    run_id=options.run_id, fault_api=None,
                    unattended=bool(options.headless or options.autostart))


class Harness:
    """The master/standalone side: settings, chaos, run records, and their lifecycle."""

    def __init__(self, environment, settings: Settings):
        self.environment = environment
        self.settings = settings
        # The fault API is resolved for the host of each call: the web form may change the host,
        # faults must act on what the load hits (the stack's fault proxy when the host is its
        # PROXY_URL), and the stack's token must never go to another server.
        self.chaos = ChaosController(lambda: FaultClient.for_api(
            fault_api_for(environment.host), timeout=ADMIN_TIMEOUT_S))
        self.recorder = Recorder(settings.reports_dir, settings.run_id)
        self._schedule_greenlet = None
        self._sampler = None
        self.record_failed = False

    # -- plan ------------------------------------------------------------------------------
    def plan_for_run(self) -> LoadPlan | None:
        """The plan for the test about to start; None (logged) if the web form's input is bad.

        Unattended runs use the plan validated at start-up: Locust overwrites unset -u/-r with 1
        before starting a headless test, which must not replace the scenario's defaults.
        """
        if self.settings.unattended:
            return self.settings.plan
        try:
            return plan_from_options(self.environment.parsed_options)
        except LoadTestError as err:
            log.error("%s", err)
            return None

    def _current_plan(self) -> LoadPlan | None:
        shape = self.environment.shape_class
        return getattr(shape, "plan", None) if shape is not None else None

    # -- lifecycle ---------------------------------------------------------------------------
    def on_test_start(self, **_kwargs) -> None:
        """Open the run folder, start the chaos schedule and the user-count sampler."""
        run = self.recorder.begin(datetime.now(UTC), time.monotonic(), self._current_plan())
        if isinstance(self.environment.runner, MasterRunner):
            run.workers = self.environment.runner.worker_count
        log.info("run %s started; its record will be %s/run.json", run.run_id, run.run_dir)
        if self.settings.schedule is not None:
            self._schedule_greenlet = gevent.spawn(self.chaos.run_schedule,
                                                   self.settings.schedule, run.started_mono)
        self._sampler = gevent.spawn(self._sample_users, run)

    def _sample_users(self, run) -> None:
        runner = self.environment.runner
        while True:
            run.sample_users(time.monotonic() - run.started_mono, runner.user_count)
            gevent.sleep(USER_SAMPLE_INTERVAL_S)

    def _stop_greenlets(self) -> None:
        for greenlet in (self._schedule_greenlet, self._sampler):
            if greenlet is not None:
                greenlet.kill(block=True)
        self._schedule_greenlet = self._sampler = None

    def _close_run(self, run) -> None:
        run.end = datetime.now(UTC)
        run.sample_users(time.monotonic() - run.started_mono, self.environment.runner.user_count)
        shape = self.environment.shape_class
        run.status = "completed" if getattr(shape, "finished", False) else "stopped"

    def _write(self, run, reason: str) -> None:
        is_master = isinstance(self.environment.runner, MasterRunner)
        try:
            path = self.recorder.write(
                run, self.environment, self.chaos.windows(run.start, run.end),
                self.settings.schedule.source if self.settings.schedule else None,
                mode="distributed" if is_master else "local",
                workers=run.workers)
        except (OSError, ValueError) as err:
            self.record_failed = True
            log.error("could not write the run record into %s: %s", run.run_dir, err)
            return
        log.info("run %s %s (%s): record written to %s", run.run_id, run.status, reason, path)

    def on_test_stop(self, **_kwargs) -> None:
        """A test stopped (end of the scenario, Stop button, Ctrl-C, SIGTERM): close the run."""
        self._stop_greenlets()
        self.chaos.cleanup("test stopped")
        run = self.recorder.current
        if run is None or run.test_stopped:
            return  # a web-UI start whose plan was invalid never started a run
        if run.end is None:
            self._close_run(run)
        run.test_stopped = True  # if quitting closed it first, rewrite now the users are stopped
        self._write(run, "test stopped")

    def on_quitting(self, environment, **_kwargs) -> None:
        """Locust exits: clean up; close a run still open; refresh a distributed run's stats."""
        self._stop_greenlets()
        self.chaos.cleanup("locust quitting")
        run = self.recorder.current
        if run is not None and run.end is None:
            self._close_run(run)
            self._write(run, "locust quitting")
        elif run is not None and not run.sealed and isinstance(environment.runner, MasterRunner):
            self._write(run, "final worker reports")  # workers send their last stats on quit
        if environment.process_exit_code is None:
            environment.process_exit_code = self.exit_code()

    def on_reset_stats(self, **_kwargs) -> None:
        """The web UI reset the statistics: the finished run's record must keep its numbers."""
        run = self.recorder.current
        if run is not None and run.end is not None:
            run.sealed = True

    def exit_code(self) -> int:
        """0 ran through; 1 locustfile errors / fault left on / no record; 2 logged crash."""
        runner = self.environment.runner
        if locust_log.unhandled_greenlet_exception:
            return 2
        if runner.exceptions or self.chaos.cleanup_failed or self.record_failed:
            return 1
        return 0

    def at_exit(self) -> None:
        """Last resort (atexit): switch off anything still on."""
        if self.chaos.open_kinds():
            self.chaos.cleanup("process exit")

    def on_sigterm(self) -> None:
        """--headless runs: Locust installs its SIGTERM handler only after the test; stop now."""
        if self.recorder.current is not None and self.recorder.current.end is None:
            log.info("SIGTERM: stopping the test")
            self.environment.runner.quit()


def phases_from_env() -> tuple[PhaseSpan, ...]:
    """The experiment's phases (SLO_EXPERIMENT_PHASES, set by `slo run`), else none."""
    raw = os.environ.get(PHASES_VAR)
    if not raw:
        return ()
    try:
        return tuple(PhaseSpan(str(name), float(start), float(end))
                     for name, start, end in json.loads(raw))
    except (ValueError, TypeError) as err:
        log.error("%s is not a list of [name, start_s, end_s]: %s", PHASES_VAR, err)
        return ()


def _init_metrics(environment, runner) -> ClientMetrics:
    metrics = ClientMetrics()
    latency = ClientLatency(phases_from_env())
    environment.slo_client_latency = latency

    def on_request(request_type, name, response_time, exception, **_kwargs):
        metrics.observe(request_type, name, exception is None, (response_time or 0) / 1000.0)
        # The client's truth sits beside the server's latency histogram, which never times
        # /health, /metrics or /admin: leave them out here too, or the two count different sets.
        if not is_protected(str(name)):
            latency.observe(response_time or 0.0, time.time())

    def on_test_start(**_kwargs):
        latency.reset(time.time())

    environment.events.request.add_listener(on_request)
    environment.events.test_start.add_listener(on_test_start)
    if isinstance(runner, WorkerRunner):
        def on_report(client_id, data, **_kw):
            data[REPORT_KEY] = metrics.drain()
            data[LATENCY_KEY] = latency.drain()

        environment.events.report_to_master.add_listener(on_report)
    elif isinstance(runner, MasterRunner):
        def on_worker_report(client_id, data, **_kwargs):
            try:
                metrics.merge(data.get(REPORT_KEY))
                latency.merge(data.get(LATENCY_KEY))
            except (ValueError, TypeError, KeyError) as err:
                log.error("client metrics from worker %s ignored: %s", client_id, err)

        environment.events.worker_report.add_listener(on_worker_report)
    return metrics


def _serve_metrics(web_ui, metrics: ClientMetrics, runner) -> None:
    registry = build_registry(metrics, user_count=lambda: runner.user_count)

    @web_ui.app.route("/metrics")
    def client_metrics():
        """The load generator's view, for Prometheus (no auth: read-only counters)."""
        return metrics_response(registry)


def _fail_before_load(message: str) -> None:
    log.error("%s", message)
    sys.stderr.write(f"error: {message}\n")
    sys.exit(exitcodes.NOT_EVALUATED)


def init(environment, runner, web_ui=None, **_kwargs) -> None:
    """events.init listener: set up this process for its role."""
    metrics = _init_metrics(environment, runner)
    if isinstance(runner, WorkerRunner):
        return
    options = environment.parsed_options
    try:
        settings = settings_from_options(options)
    except LoadTestError as err:
        _fail_before_load(str(err))
    if not environment.host:
        environment.host = resolve_target_url()
    settings = dataclasses.replace(settings, fault_api=fault_api_for(environment.host))
    try:
        already_on = check_target(environment.host, settings.fault_api,
                                  settings.schedule is not None)
    except TargetError as err:
        if settings.unattended:
            _fail_before_load(str(err))
        log.warning("%s (the web UI starts anyway; set the host in its form)", err)
        already_on = []
    for fault in already_on:
        log.warning("a %s fault is already on at the %s fault backend (expires %s); it will "
                    "affect this run", fault.get("kind"), settings.fault_api.backend,
                    fault.get("expires_at"))
    harness = Harness(environment, settings)
    environment.slo_harness = harness
    environment.events.test_start.add_listener(harness.on_test_start)
    environment.events.test_stop.add_listener(harness.on_test_stop)
    environment.events.quitting.add_listener(harness.on_quitting)
    environment.events.reset_stats.add_listener(harness.on_reset_stats)
    atexit.register(harness.at_exit)
    if options.headless:
        gevent.signal_handler(signal.SIGTERM, harness.on_sigterm)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # Started in the background by a non-interactive shell: Python then ignores SIGINT, and
        # Locust's clean Ctrl-C stop (faults cleared, record written) would never run.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    log.info("scenario %s", settings.plan.describe())
    if settings.schedule is not None and settings.schedule.end_s > settings.plan.duration_s:
        log.warning("the chaos schedule runs until %.0fs but the scenario ends at %.0fs; later "
                    "steps will not happen", settings.schedule.end_s, settings.plan.duration_s)
    if web_ui is not None:
        _serve_metrics(web_ui, metrics, runner)
        webui.init_web_ui(web_ui, harness)
        for provider in tabs.install(web_ui, environment, harness):
            log.info("web UI tab %r: %s", provider.title, provider.describe())
