"""`slo run`: one experiment, end to end, with rollback guaranteed.

    runner = ExperimentRunner(experiment, spec, RunOptions(), console)
    result = runner.run()          # result.exit_code: 0 all held, 1 one failed, 2 could not run

The run:
1. brings up the native stack (SLO_PROFILE = the experiment's profile, default fast) unless one
   is running, and notes what it started so it can stop it afterwards (unless --keep);
2. preflight: Prometheus answers, every alert an expectation names is a loaded rule (if not,
   the run fails at once with exit 1, before any load), leftover faults are cleared;
3. tracks alert states (background thread, 1 s) and Alertmanager's telegram counters;
4. runs Locust headless through every phase as one test and switches each phase's fault on
   at its start and off at its end (app faults carry a TTL of the phase + 30 s, so a killed
   runner cannot leave one on); kill/pause act on the app's process;
5. whatever happens (success, failure, Ctrl-C, SIGTERM, an error): resumes or restarts the
   app, clears every fault, stops Locust, and checks that no fault is left;
6. judges every expectation, computes per-alert timings beside the theory, and writes
   reports/<run-id>/ (summary.json, junit.xml, report.md, report.html with plots, Locust's
   record and CSV/HTML in locust/), also for a partial run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from harness_common import exitcodes
from harness_common.errors import FaultError, HarnessError
from harness_common.faults.client import FaultClient
from slo.alerting.burnrate import PROFILES
from slo.alerting.detection import rule_theory
from slo.errors import PrometheusError
from slo.experiment.expectations import (
    FAILED,
    PASSED,
    Outcome,
    PhaseWindow,
    SloVerdict,
    TelegramEvidence,
    alert_outcome,
    slo_outcome,
    telegram_outcome,
)
from slo.experiment.infra import app_process
from slo.experiment.load import Locust
from slo.experiment.progress import LiveStats, Progress
from slo.experiment.schema import Experiment
from slo.experiment.timings import AlertTiming, alert_timings
from slo.judge import promql
from slo.judge.checker import evaluate, format_value
from slo.judge.prom import DEFAULT_INTERVALS, Prometheus
from slo.judge.window import MIN_WINDOW_S, Window
from slo.live.alerts import AlertSelector, AlertTracker, GrafanaAlerts, PrometheusAlerts, Rule
from slo.live.delivery import AlertmanagerCounters, notices
from slo.spec.model import Spec
from stack.config import StackSettings
from stack.telegram_sandbox.client import SandboxClient
from stack.telegram_sandbox.errors import SandboxError

APP_JOB = "portfolio-app"
LOCUST_FINISH_S = 20.0

Evaluator = Callable[[Spec, str, float, float], list[SloVerdict]]


class RunnerError(HarnessError):
    """The experiment cannot start (e.g. its run folder is taken)."""


class Interrupted(Exception):  # noqa: N818 - it is a signal, not an error
    """SIGTERM arrived (SIGINT arrives as KeyboardInterrupt)."""


@dataclass
class RunOptions:
    """How to run: keep the stack, where reports go, the run id, the environment."""

    keep: bool = False
    reports_dir: Path | None = None
    run_id: str | None = None
    environ: dict[str, str] | None = None
    poll_interval_s: float = 1.0
    live: bool | None = None


@dataclass
class RunResult:
    """What `run()` returns: the exit code, a one-line reason, and where the report is."""

    exit_code: int
    status: str                      # passed | failed | interrupted | error
    reason: str
    run_dir: Path
    outcomes: list[Outcome] = field(default_factory=list)
    timings: list[AlertTiming] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def new_run_id(name: str, now: float | None = None) -> str:
    """20250101-120000-demo."""
    moment = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    return f"{moment:%Y%m%d-%H%M%S}-{name}"


def checker_evaluator(spec: Spec, prometheus_url: str, start: float, end: float
                      ) -> list[SloVerdict]:
    """Judge every SLO over [start, end] with the checker (slo.judge.checker.evaluate)."""
    result = evaluate(spec, Prometheus(prometheus_url), Window(start, end, "phase"))
    return [SloVerdict(v.name, v.status, v.value, v.objective, v.unit,
                       format_value(v.value, v.unit) if v.value is not None else v.reason)
            for v in result.verdicts]


class ExperimentRunner:
    """Runs one experiment (see the module docstring)."""

    def __init__(self, experiment: Experiment, spec: Spec, options: RunOptions | None = None,
                 console: Console | None = None, evaluator: Evaluator | None = None):
        self.experiment = experiment
        self.spec = spec
        self.options = options or RunOptions()
        self.console = console or Console(highlight=False)
        self.evaluator = evaluator or checker_evaluator
        self.env = dict(self.options.environ if self.options.environ is not None else os.environ)
        self.env.setdefault("SLO_PROFILE", experiment.profile)
        reports = self.options.reports_dir or Path(self.env.get("REPORTS_DIR") or "reports")
        self.started_at = time.time()
        self.run_id = self.options.run_id or new_run_id(experiment.name, self.started_at)
        self.run_dir = Path(reports) / self.run_id
        self.progress = Progress(self.console, spec, live=self.options.live)
        self.windows = [PhaseWindow(p) for p in experiment.phases]
        self.status = "error"
        self.reason = ""
        self.notes: list[str] = []
        self.rollback_log: list[str] = []
        self.rollback_ok = True
        self.faults_left: list[dict] | None = None
        self.preflight: list[Outcome] = []
        # set up in _setup
        self.settings: StackSettings | None = None
        self.started_stack = False
        self.stack_info = None
        self.urls: dict[str, str] = {}
        self.telegram_mode = "sandbox"
        self.stack_profile = experiment.profile
        self.fault_client: FaultClient | None = None
        self.prom = None
        self.intervals = DEFAULT_INTERVALS
        self.prometheus_started: float | None = None
        self.tracker: AlertTracker | None = None
        self.counters: AlertmanagerCounters | None = None
        self.live: LiveStats | None = None
        self.locust: Locust | None = None
        self.app = None
        self.paused = False
        self.killed = False
        self.active_fault: str | None = None
        self.current_phase: str | None = None
        self.run_end: float | None = None
        self._notices = None

    # ------------------------------------------------------------------ the whole run
    def run(self) -> RunResult:
        """Run, roll back, judge, report. Never raises for a harness error once started: see
        exit_code. Raises RunnerError when the run folder already holds a run."""
        if self.run_dir.is_dir() and any(self.run_dir.iterdir()):
            raise RunnerError(f"{self.run_dir} already holds a run; choose another --run-id")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        previous = self._install_sigterm()
        try:
            try:
                self._setup()
                if not self.preflight_failed():
                    self._drive()
                    self.status = "completed"
            except (KeyboardInterrupt, Interrupted) as err:
                name = "SIGTERM" if isinstance(err, Interrupted) else "SIGINT (Ctrl-C)"
                where = f" during phase {self.current_phase!r}" if self.current_phase else ""
                self.status = "interrupted"
                self.reason = f"interrupted by {name}{where}; faults rolled back"
            except HarnessError as err:
                self.status = "error"
                self.reason = str(err)
            finally:
                self.progress.end()
                self._rollback()
            self.run_end = time.time()
            return self._finish()
        finally:
            self._shutdown()
            self._restore_sigterm(previous)

    def preflight_failed(self) -> bool:
        """True when an expectation cannot hold before any load is sent."""
        return any(o.status == FAILED for o in self.preflight)

    # ------------------------------------------------------------------ signals
    def _install_sigterm(self):
        if threading.current_thread() is not threading.main_thread():
            return None

        def on_sigterm(signum, frame):
            raise Interrupted()

        return signal.signal(signal.SIGTERM, on_sigterm)

    @staticmethod
    def _restore_sigterm(previous) -> None:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)

    # ------------------------------------------------------------------ set-up and preflight
    def _setup(self) -> None:
        from stack.launcher import ensure_stack

        self.settings = StackSettings.from_env(self.env)
        self.progress.message(f"experiment {self.experiment.name}: {len(self.experiment.phases)} "
                              f"phases, {self.experiment.duration_s}s, "
                              f"{self.experiment.expectation_count()} expectations; report in "
                              f"{self.run_dir}")
        info = ensure_stack(self.settings, report=self.progress.message)
        self.stack_info = info
        self.started_stack = not info.already_running
        if info.already_running:
            self.progress.message(f"using the {info.mode} stack already running")
        env = info.env
        self.urls = {
            "app": env.get("APP_URL") or self.settings.url("app"),
            "prometheus": env.get("PROMETHEUS_URL") or self.settings.url("prometheus"),
            "alertmanager": env.get("ALERTMANAGER_URL") or self.settings.url("alertmanager"),
            "sandbox": env.get("TELEGRAM_SANDBOX_URL") or self.settings.url("telegram-sandbox"),
        }
        if env.get("GRAFANA_URL"):
            self.urls["grafana"] = env["GRAFANA_URL"]
        self.telegram_mode = info.telegram_mode
        self.stack_profile = env.get("SLO_PROFILE") or self.settings.slo_profile
        if self.stack_profile != self.experiment.profile:
            self.notes.append(f"the stack runs the {self.stack_profile} alert profile but the "
                              f"experiment expects {self.experiment.profile}: stop the stack "
                              f"(`make stack-down`) so the runner starts it with the right one")
            self.progress.message("warning: " + self.notes[-1])
        self.fault_client = FaultClient(self.urls["app"], env.get("FAULT_ADMIN_TOKEN"))
        self.prom = Prometheus(self.urls["prometheus"], attempts=2)
        self.intervals = self.prom.intervals(APP_JOB)
        self.prometheus_started = self.prom.started_at()
        self.app = app_process(self.settings, info.mode)
        leftovers = self.fault_client.list()
        if leftovers:
            cleared = self.fault_client.clear()
            self.notes.append(f"cleared faults left on before the run: {', '.join(cleared)}")
            self.progress.message(self.notes[-1])
        sources = [PrometheusAlerts(self.urls["prometheus"])]
        if "grafana" in self.urls:
            sources.append(GrafanaAlerts(self.urls["grafana"], "admin",
                                         env.get("GRAFANA_ADMIN_PASSWORD")))
        self.counters = AlertmanagerCounters(self.urls["alertmanager"])
        self.tracker = AlertTracker(sources, self.options.poll_interval_s,
                                    on_transition=self._on_transition, extra=[self.counters])
        self.tracker.start()
        if "prometheus" in self.tracker.last_errors:
            raise PrometheusError(self.tracker.last_errors["prometheus"])
        self._check_rules()

    def _check_rules(self) -> None:
        """Every alert named by an expectation must be a loaded rule (else: fail now)."""
        timeline = self.tracker.timeline
        seen = set()
        for window in self.windows:
            phase = window.phase
            for item in (*phase.alerts, *phase.telegram):
                selector = AlertSelector(item.alert, item.labels)
                if selector in seen:
                    continue
                seen.add(selector)
                if timeline.rules_matching(selector):
                    continue
                names = sorted({r.name for r in timeline.all_rules()})
                self.preflight.append(Outcome(
                    phase.name, "alert" if item in phase.alerts else "telegram",
                    item.subject(), "a loaded alerting rule", FAILED, "no such rule",
                    f"no alerting rule {item.subject()} is loaded in Prometheus"
                    f"{' or Grafana' if len(self.tracker.sources) > 1 else ''} (loaded: "
                    f"{', '.join(names) or 'none'}); fix the name or labels, or load the rule "
                    f"(`make rules`, SLO_PROFILE)"))
        if self.preflight:
            self.status = "failed"
            self.reason = "; ".join(o.reason for o in self.preflight)
            self.progress.message(f"preflight failed: {self.reason}")

    def _on_transition(self, transition) -> None:
        labels = ",".join(f"{k}={v}" for k, v in transition.labels
                          if k in ("slo", "severity", "long", "short"))
        self.progress.message(f"alert {transition.name}{{{labels}}} -> {transition.state}")

    # ------------------------------------------------------------------ the load and the faults
    def _drive(self) -> None:
        self.live = LiveStats(self.prom, self.spec)
        self.live.start()
        self.progress.stats = self.live
        self.progress.alerts = self.tracker.snapshot_state
        locust_env = {**self.env, "FAULT_ADMIN_TOKEN": self.stack_info.env.get(
            "FAULT_ADMIN_TOKEN", "")}
        self.locust = Locust(self.experiment, self.urls["app"], self.run_dir, locust_env)
        self.progress.message("starting Locust")
        t0 = self.locust.start()
        self.progress.begin(t0, self.experiment.duration_s, self.experiment.name)
        count = len(self.windows)
        for window in self.windows:
            phase = window.phase
            self._sleep_until(t0 + phase.start_s)
            self.current_phase = phase.name
            window.start = time.time()
            self.progress.phase(phase.index, count, phase.name, window.start,
                                t0 + phase.end_s, phase.fault.describe() if phase.fault else None)
            if phase.fault is not None:
                self._fault_on(window)
                if phase.fault.infrastructure:
                    self._sleep_until(t0 + phase.fault_end_s)
                    self._fault_off(window)
            self._sleep_until(t0 + phase.end_s)
            if phase.fault is not None and window.fault_end is None:
                self._fault_off(window)
            window.end = time.time()
            window.completed = True
        self.current_phase = None
        code = self.locust.wait(LOCUST_FINISH_S)
        if code is None:
            self.notes.append("Locust did not stop by itself after the last phase; stopped it")
            self.locust.stop()
        # Let Prometheus scrape the last seconds before the verdicts are read.
        self._sleep_until(time.time() + self.intervals.scrape_s + 1)

    def _sleep_until(self, moment: float) -> None:
        while True:
            left = moment - time.time()
            if left <= 0:
                return
            locust = self.locust
            if (locust is not None and locust.proc is not None and not locust.alive()
                    and self.current_phase is not None):
                raise HarnessError(f"Locust exited (code {self.locust.proc.popen.returncode}) "
                                   f"during phase {self.current_phase!r}; see "
                                   f"{self.locust.proc.log_path}")
            time.sleep(min(left, 0.25))

    def _fault_on(self, window: PhaseWindow) -> None:
        fault = window.phase.fault
        if fault.kind == "kill":
            self.killed = True
            self.app.kill()
        elif fault.kind == "pause":
            self.paused = True
            self.app.pause()
        else:
            self.active_fault = fault.kind
            self.fault_client.set(fault.kind, **fault.params)
        window.fault_start = time.time()
        self.progress.message(f"fault on: {fault.describe()}")

    def _fault_off(self, window: PhaseWindow) -> None:
        fault = window.phase.fault
        if fault.kind == "kill":
            self.progress.message("restarting the app")
            self.app.restart()
            self.killed = False
        elif fault.kind == "pause":
            self.app.resume()
            self.paused = False
        else:
            self.fault_client.clear(fault.kind)
            self.active_fault = None
        window.fault_end = time.time()
        self.progress.message(f"fault off: {fault.kind}")

    # ------------------------------------------------------------------ rollback
    def _rollback(self) -> None:
        """Undo everything, whatever state the run is in; another Ctrl-C or SIGTERM cannot stop
        it (SIGKILL can: then the faults' TTLs switch them off)."""
        main = threading.current_thread() is threading.main_thread()
        signals = (signal.SIGINT, signal.SIGTERM) if main else ()
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in signals}
        try:
            self._rollback_steps()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _rollback_step(self, what: str, action: Callable[[], object]) -> None:
        try:
            result = action()
            self.rollback_log.append(f"{what}: ok" + (f" ({result})" if result else ""))
        except (HarnessError, OSError) as err:
            self.rollback_ok = False
            self.rollback_log.append(f"{what}: FAILED: {err}")

    def _rollback_steps(self) -> None:
        for window in self.windows:   # a fault switched off by the rollback ends now
            if window.fault_start is not None and window.fault_end is None:
                window.fault_end = time.time()
        if self.paused:
            self._rollback_step("resume the paused app", self.app.resume)
            self.paused = False
        if self.fault_client is not None and not self.killed:
            self._rollback_step("clear every fault",
                                lambda: ", ".join(self.fault_client.clear()) or "none were on")
        if self.killed:
            self._rollback_step("restart the killed app", self.app.restart)
            self.killed = False
        if self.locust is not None:
            self._rollback_step("stop Locust", lambda: f"exit code {self.locust.stop()}")
        if self.fault_client is not None:
            try:
                self.faults_left = self.fault_client.list()
            except FaultError as err:
                self.rollback_ok = False
                self.rollback_log.append(f"check that no fault is left: FAILED: {err}")
            else:
                if self.faults_left:
                    self.rollback_ok = False
                    self._rollback_step("clear the faults still on", self.fault_client.clear)
                    self.faults_left = self.fault_client.list()
        for line in self.rollback_log:
            self.progress.message(f"rollback: {line}")

    def _shutdown(self) -> None:
        for worker in (self.live, self.tracker):
            if worker is not None:
                worker.stop()
        if self.started_stack and not self.options.keep:
            from stack.launcher import stop_stack

            with contextlib.suppress(HarnessError, OSError):
                stopped = stop_stack(self.settings)
                self.console.print(f"stopped the stack the run started ({', '.join(stopped)}); "
                                   f"keep it with --keep", highlight=False)

    # ------------------------------------------------------------------ judging
    def _finish(self) -> RunResult:
        from slo.experiment.report import build_summary, print_summary, write_report

        outcomes, timings, verdicts = list(self.preflight), [], {}
        if self.tracker is not None and not self.preflight_failed():
            self.tracker.poll_once()
            try:
                verdicts = self._verdicts()
                outcomes += self._judge(verdicts)
                timings = self._timings()
            except (HarnessError, OSError) as err:
                self.notes.append(f"could not judge every expectation: {err}")
                if self.status == "completed":
                    self.status, self.reason = "error", f"could not judge: {err}"
        exit_code, status = self._exit(outcomes)
        plots = self._plot_series() if self.prom is not None and self.windows[0].start else {}
        summary = build_summary(self, outcomes, timings, verdicts, status, exit_code)
        write_report(self.run_dir, summary, plots)
        print_summary(self.console, summary)
        return RunResult(exit_code, status, self.reason, self.run_dir, outcomes, timings, summary)

    def _exit(self, outcomes: list[Outcome]) -> tuple[int, str]:
        if self.status == "failed":       # preflight
            return exitcodes.FAILED, "failed"
        if self.status != "completed":
            return exitcodes.NOT_EVALUATED, self.status
        failed = [o for o in outcomes if o.status != PASSED]
        if not self.rollback_ok:
            self.reason = "rollback failed: " + "; ".join(
                line for line in self.rollback_log if "FAILED" in line)
            return exitcodes.NOT_EVALUATED, "error"
        if failed:
            self.reason = f"{len(failed)} of {len(outcomes)} expectations failed: " + "; ".join(
                o.reason or f"{o.subject} {o.expected}" for o in failed[:3])
            return exitcodes.FAILED, "failed"
        self.reason = f"all {len(outcomes)} expectations held"
        return exitcodes.OK, "passed"

    def _verdicts(self) -> dict[str, list[SloVerdict]]:
        """Every SLO over each completed phase, skipping the phase's first scrape interval (it
        still holds the previous phase's requests) as long as the window keeps the checker's
        minimum length."""
        out = {}
        for window in self.windows:
            if not window.completed:
                continue
            start = min(window.start + self.intervals.scrape_s, window.end - MIN_WINDOW_S)
            if start < window.start - 0.001:
                self.notes.append(f"phase {window.phase.name!r} is shorter than "
                                  f"{MIN_WINDOW_S}s: its SLOs are not judged")
                continue
            try:
                out[window.phase.name] = self.evaluator(self.spec, self.urls["prometheus"],
                                                        max(start, window.start), window.end)
            except HarnessError as err:
                self.notes.append(f"could not judge the SLOs of phase {window.phase.name!r}: "
                                  f"{err}")
        return out

    def _evidence(self) -> TelegramEvidence:
        if self.telegram_mode == "sandbox":
            try:
                found = notices(SandboxClient(self.urls["sandbox"]).messages(
                    since=self.started_at - 1))
            except SandboxError as err:
                self.notes.append(f"could not read the Telegram sandbox: {err}")
                found = []
            return TelegramEvidence("sandbox", tuple(found), self.counters.delta)
        return TelegramEvidence("telegram", (), self.counters.delta)

    def _judge(self, verdicts: dict[str, list[SloVerdict]]) -> list[Outcome]:
        timeline = self.tracker.timeline
        evidence = self._evidence()
        self._notices = list(evidence.notices) if evidence.mode == "sandbox" else None
        outcomes = []
        for index, window in enumerate(self.windows):
            phase = window.phase
            by_name = {v.name: v for v in verdicts.get(phase.name, [])}
            for name, expected in phase.slos:
                outcomes.append(slo_outcome(window, name, expected, by_name.get(name)))
            for expectation in phase.alerts:
                outcomes.append(alert_outcome(self.windows, index, expectation, timeline,
                                              self.run_end, True))
            for expectation in phase.telegram:
                outcomes.append(telegram_outcome(self.windows, index, expectation, evidence,
                                                 self.run_end))
        return outcomes

    def _timings(self) -> list[AlertTiming]:
        profile = PROFILES.get(self.stack_profile)
        ratios: dict[tuple[str, str], float | None] = {}

        def bad_ratio(window: PhaseWindow, slo_name: str) -> float | None:
            key = (window.phase.name, slo_name)
            if key not in ratios:
                ratios[key] = None
                try:
                    slo = self.spec.slo(slo_name)
                    # The fault's window without its first scrape, which still holds requests
                    # from before the fault.
                    span = int(window.fault_end - window.fault_start - self.intervals.scrape_s)
                    queries = promql.sli_queries(slo, max(1, span))
                    at = window.fault_end
                    total = self.prom.scalar(queries.total, at)
                    bad = self.prom.scalar(queries.bad, at) if queries.bad else None
                    if total and bad is not None:
                        ratios[key] = min(1.0, max(0.0, bad / total))
                except (KeyError, ValueError, PrometheusError):
                    pass
            return ratios[key]

        def theory_for(window: PhaseWindow, rule: Rule):
            ratio = bad_ratio(window, rule.label_dict["slo"]) if "slo" in rule.label_dict else None
            outage = (window.fault_end or self.run_end) - window.fault_start
            history = (window.fault_start - self.prometheus_started
                       if self.prometheus_started else None)
            return rule_theory(rule, self.spec, profile, ratio, outage, self.intervals.scrape_s,
                               rule.interval_s or self.intervals.eval_s, history)

        counter = self.counters.delta if self.telegram_mode != "sandbox" else None
        return alert_timings(self.windows, self.tracker.timeline, self.run_end,
                             notices=self._notices, counter_delta=counter,
                             theory_for=theory_for)

    def _plot_series(self) -> dict:
        from slo.experiment.report import collect_series

        try:
            return collect_series(self.prom, self.spec, self.windows[0].start - 15,
                                  (self.run_end or time.time()))
        except PrometheusError as err:
            self.notes.append(f"plots without data: {err}")
            return {}
