"""`slo run`: one experiment, end to end, with rollback guaranteed.

    runner = ExperimentRunner(experiment, spec, RunOptions(), console)
    result = runner.run()        # an ExperimentResult; exit_code 0 held, 1 failed, 2 not run

The run, one step per method:
1. connect: bring up the native stack (SLO_PROFILE = the experiment's profile, default fast)
   unless one is running, noting what it started so it can stop it afterwards (unless --keep);
   read where its parts answer and how Prometheus scrapes;
2. preflight: the stack serves the experiment's target (the demo app, or the service behind the
   fault proxy: TARGET_URL); a fault the run did not set is on -> the run refuses to start
   (exit 2, naming the fault and how to clear it); every alert an expectation names is a loaded
   rule (if not, the run fails at once with exit 1, before any load);
3. track alert states (background thread, 1 s) and Alertmanager's telegram counters;
4. drive: Locust headless through every phase as one test; each phase's fault on at its start
   and off at its end (app faults carry a TTL of the phase + a margin, so a killed runner
   cannot leave one on); kill/pause act on the app's process;
5. roll back, whatever happened (success, failure, Ctrl-C, SIGTERM, an error): resume or
   restart the app, clear the faults the run set (never another's), stop Locust, check that
   none of them is left;
6. judge every expectation (each phase's SLOs by the one judgement `slo check` uses,
   slo.judge.judgement.judge_window, over the phase's window carrying its fault:
   slo.experiment.phase_judge), time every alert beside the theory, read the plots' data, and
   freeze it all into an ExperimentResult, which the report writes to reports/<run-id>/
   (also for a partial run).
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
from rich.text import Text

from harness_common import exitcodes
from harness_common.console import make_console
from harness_common.errors import FaultError, HarnessError
from harness_common.faults.client import FaultClient
from harness_common.stackenv import FaultApi
from slo.alerting.budget import WindowCost, budget_queries, window_cost
from slo.alerting.burnrate import PROFILES
from slo.alerting.detection import rule_theory
from slo.alerting.rules import ABSENT_ALERT
from slo.errors import PrometheusError
from slo.experiment.expectations import (
    FAILED,
    NOT_EVALUATED,
    PASSED,
    Outcome,
    PhaseWindow,
    SloVerdict,
    TelegramEvidence,
    alert_outcome,
    blind_notes,
    slo_outcome,
    telegram_outcome,
)
from slo.experiment.infra import app_process
from slo.experiment.load import Locust
from slo.experiment.lock import ExperimentLock
from slo.experiment.phase_judge import phase_window, recorded_faults, slo_verdicts
from slo.experiment.progress import LiveStats, Progress
from slo.experiment.result import (
    ExperimentInfo,
    ExperimentResult,
    FaultRecord,
    PhaseRecord,
    Rollback,
    Series,
    StackRecord,
)
from slo.experiment.schema import Experiment
from slo.experiment.series import collect_series
from slo.experiment.timings import AlertTiming, alert_timings
from slo.judge import promql
from slo.judge.checker import CheckResult
from slo.judge.clientside import LatencyComparison, client_vs_server
from slo.judge.observe import evaluate
from slo.judge.prom import DEFAULT_INTERVALS, Intervals, Prometheus
from slo.judge.unseen import PROXY_JOB
from slo.judge.window import MIN_WINDOW_S, Window
from slo.live.alerts import (
    AlertSelector,
    AlertTracker,
    GrafanaAlerts,
    PrometheusAlerts,
    Rule,
    labels_text,
)
from slo.live.delivery import AlertmanagerCounters, Notice, notices, same_chat
from slo.live.verify import alertmanager_route
from slo.spec.model import Spec
from stack.config import SANDBOX_CHAT_ID, StackSettings
from stack.telegram_sandbox.client import SandboxClient
from stack.telegram_sandbox.errors import SandboxError

APP_JOB = "portfolio-app"
LOCUST_FINISH_S = 20.0
QUIET_WAIT_S = 60.0   # how long a run waits for an earlier run's alerts to resolve
PLOT_LEAD_S = 15

Evaluator = Callable[[Spec, str, Window], CheckResult]


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
    web_port: int | None = None     # Locust's web UI there (slo run --web); None: headless


@dataclass(frozen=True)
class Connection:
    """The stack a run talks to, as found when it started."""

    settings: StackSettings
    mode: str
    started_stack: bool
    urls: dict[str, str]
    env: dict[str, str]
    telegram_mode: str
    profile: str
    intervals: Intervals = DEFAULT_INTERVALS
    prometheus_started: float | None = None
    fault_api: FaultApi | None = None       # where the run's faults go (the target's backend)
    load_host: str = ""                     # where Locust sends the load


@dataclass
class RunLog:
    """What the run has seen and done so far (the runner's only mutable state); frozen into an
    ExperimentResult at the end."""

    windows: list[PhaseWindow]
    status: str = "error"
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    preflight: list[Outcome] = field(default_factory=list)
    rollback_steps: list[str] = field(default_factory=list)
    rollback_ok: bool = True
    faults_left: list[dict] | None = None
    current_phase: str | None = None
    run_end: float | None = None
    paused: bool = False
    killed: bool = False
    set_kinds: set[str] = field(default_factory=set)   # fault kinds this run switched on

    def note(self, text: str) -> str:
        """Keep a note for the report; returns it (to show it too)."""
        self.notes.append(text)
        return text

    @property
    def preflight_failed(self) -> bool:
        """True when an expectation cannot hold before any load is sent."""
        return any(o.status == FAILED for o in self.preflight)


def new_run_id(name: str, now: float | None = None) -> str:
    """20250101-120000-demo."""
    moment = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    return f"{moment:%Y%m%d-%H%M%S}-{name}"


def checker_evaluator(spec: Spec, prometheus_url: str, window: Window) -> CheckResult:
    """The one judgement of every SLO over a phase's window (slo.judge.observe.evaluate:
    observe, then judge_window), the window's recorded faults merged with the backends'."""
    return evaluate(spec, Prometheus(prometheus_url), window)


class ExperimentRunner:
    """Runs one experiment (see the module docstring)."""

    def __init__(self, experiment: Experiment, spec: Spec, options: RunOptions | None = None,
                 console: Console | None = None, evaluator: Evaluator | None = None):
        self.experiment = experiment
        self.spec = spec
        self.options = options or RunOptions()
        self.console = console or make_console()
        self.evaluator = evaluator or checker_evaluator
        self.env = dict(self.options.environ if self.options.environ is not None else os.environ)
        self.env.setdefault("SLO_PROFILE", experiment.profile)
        reports = self.options.reports_dir or Path(self.env.get("REPORTS_DIR") or "reports")
        self.started_at = time.time()
        self.run_id = self.options.run_id or new_run_id(experiment.name, self.started_at)
        self.run_dir = Path(reports) / self.run_id
        self.progress = Progress(self.console, spec, live=self.options.live)
        self.log = RunLog([PhaseWindow(p) for p in experiment.phases])
        # the parts the run talks to, set up by _connect and _open_clients
        self.conn: Connection | None = None
        self.fault_client: FaultClient | None = None
        self.prom: Prometheus | None = None
        self.tracker: AlertTracker | None = None
        self.counters: AlertmanagerCounters | None = None
        self.live: LiveStats | None = None
        self.locust: Locust | None = None
        self.app = None

    # ------------------------------------------------------------------ the whole run
    def run(self) -> ExperimentResult:
        """Run, roll back, judge, report. Never raises for a harness error once started: see
        exit_code. Raises RunnerError when the run folder already holds a run."""
        stack_dir = StackSettings.from_env(self.env).paths.root
        with ExperimentLock(stack_dir, self.run_id):
            self._claim_run_dir()
            previous = self._install_sigterm()
            try:
                self._attempt()
                self.log.run_end = time.time()
                return self._finish()
            finally:
                self._shutdown()
                self._restore_sigterm(previous)

    def _claim_run_dir(self) -> None:
        """Create the run folder: an explicit --run-id must be new; a generated id gets a
        suffix (-2, -3, ...) when another run took it in the same second (mkdir is atomic)."""
        if self.options.run_id:
            if self.run_dir.is_dir() and any(self.run_dir.iterdir()):
                raise RunnerError(f"{self.run_dir} already holds a run; choose another --run-id")
            self.run_dir.mkdir(parents=True, exist_ok=True)
            return
        base = self.run_dir
        for n in range(1, 1000):
            candidate = base if n == 1 else base.with_name(f"{base.name}-{n}")
            try:
                candidate.mkdir(parents=True)
            except FileExistsError:
                continue
            self.run_dir, self.run_id = candidate, candidate.name
            return
        raise RunnerError(f"could not create a new run folder next to {base}")

    def _attempt(self) -> None:
        """Set up, drive the phases, and roll back whatever happened."""
        log = self.log
        try:
            self._setup()
            if not log.preflight_failed:
                self._drive()
                log.status = "completed"
        except (KeyboardInterrupt, Interrupted) as err:
            name = "SIGTERM" if isinstance(err, Interrupted) else "SIGINT (Ctrl-C)"
            where = f" during phase {log.current_phase!r}" if log.current_phase else ""
            log.status = "interrupted"
            log.reason = f"interrupted by {name}{where}; faults rolled back"
        except HarnessError as err:
            log.status = "error"
            log.reason = str(err)
        except Exception as err:  # noqa: BLE001 - a bug must still roll back and leave a report
            log.status = "error"
            log.reason = f"internal error (a bug in slo-harness): {type(err).__name__}: {err}"
        finally:
            self.progress.end()
            self._rollback()

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
        self.progress.message(f"experiment {self.experiment.name}: {len(self.experiment.phases)} "
                              f"phases, {self.experiment.duration_s}s, "
                              f"{self.experiment.expectation_count()} expectations; report in "
                              f"{self.run_dir}")
        self.conn = self._connect()
        self._check_target()
        self._check_profile()
        self._open_clients()
        self._refuse_foreign_faults()
        self._start_tracking()
        self._check_rules()
        if not self.log.preflight_failed:
            self._wait_for_quiet()

    def _connect(self) -> Connection:
        """Bring the stack up (or find it running) and read where its parts answer."""
        from stack.launcher import ensure_stack

        settings = StackSettings.from_env(self.env)
        # A stack the run starts itself starts fresh: no series or alerts of an earlier run.
        info = ensure_stack(settings, report=self.progress.message, fresh=not _running(settings))
        if info.already_running:
            self.progress.message(f"using the {info.mode} stack already running")
        env = info.env
        urls = {
            "app": env.get("APP_URL") or settings.url("app"),
            "prometheus": env.get("PROMETHEUS_URL") or settings.url("prometheus"),
            "alertmanager": env.get("ALERTMANAGER_URL") or settings.url("alertmanager"),
            "sandbox": env.get("TELEGRAM_SANDBOX_URL") or settings.url("telegram-sandbox"),
        }
        if env.get("GRAFANA_URL"):
            urls["grafana"] = env["GRAFANA_URL"]
        proxy = self.experiment.target == "proxy" and env.get("FAULT_BACKEND") == "proxy"
        if proxy:
            urls["proxy"] = env.get("PROXY_URL", "")
            urls["faults"] = env.get("FAULT_API_URL", "")
        token = env.get("FAULT_ADMIN_TOKEN")
        fault_api = (FaultApi(urls["faults"], token, "proxy", urls["proxy"]) if proxy
                     else FaultApi(urls["app"], token, "app", urls["app"]))
        prom = Prometheus(urls["prometheus"], attempts=2)
        return Connection(settings=settings, mode=info.mode,
                          started_stack=not info.already_running, urls=urls, env=dict(env),
                          telegram_mode=info.telegram_mode,
                          profile=env.get("SLO_PROFILE") or settings.slo_profile,
                          intervals=prom.intervals(PROXY_JOB if proxy else APP_JOB),
                          prometheus_started=prom.started_at(), fault_api=fault_api,
                          load_host=urls["proxy"] if proxy else urls["app"])

    def _check_target(self) -> None:
        """An experiment against the service behind the proxy needs a stack that runs one."""
        if self.experiment.target == "proxy" and self.conn.fault_api.backend != "proxy":
            raise RunnerError(
                f"{self.experiment.source}: target: proxy, but the running stack has no fault "
                f"proxy: start it in front of the service, e.g. `make stack-down` then "
                f"`TARGET_URL=http://127.0.0.1:8000 slo run {self.experiment.source}`")
        if self.experiment.target == "app" and self.conn.env.get("TARGET_URL"):
            raise RunnerError(
                f"{self.experiment.source}: target: app (the default) is the demo app, but the "
                f"running stack is in front of {self.conn.env['TARGET_URL']} and runs no demo "
                f"app: set `target: proxy` in the experiment to inject its faults in front of "
                f"your service, or stop the stack (`make stack-down`) to run it on the demo")

    def _check_profile(self) -> None:
        """An experiment's alert timings only hold on the profile it was written for."""
        if self.conn.profile != self.experiment.profile:
            raise RunnerError(
                f"the stack in {self.conn.settings.paths.root} runs the {self.conn.profile} "
                f"alert profile, but {self.experiment.source} needs {self.experiment.profile}: "
                f"stop it (`make stack-down`) and run again, and the runner starts the stack "
                f"with the {self.experiment.profile} profile (or `SLO_PROFILE="
                f"{self.experiment.profile} make stack`)")

    def _spec_alerts_active(self) -> list:
        """The spec's alerts (its SLOs', or named by an expectation) pending or firing now."""
        slos = {s.name for s in self.spec.slos}
        names = {e.alert for w in self.log.windows for e in (*w.phase.alerts, *w.phase.telegram)}
        return [a for a in self.tracker.snapshot_state()
                if a.label_dict.get("slo") in slos or a.name in names]

    def _wait_for_quiet(self) -> None:
        """Before the baseline: no alert of the spec may be active (an earlier run's outage
        would fail "must not page" or pass "fires" for the wrong reason). Wait, bounded; then
        refuse, naming them."""
        active = self._spec_alerts_active()
        if not active:
            return
        names = ", ".join(sorted({a.name for a in active}))
        source = ("pending on the fresh stack until its first scrapes" if
                  self.conn.started_stack else "of an earlier run")
        self.progress.message(f"waiting up to {QUIET_WAIT_S:.0f}s for {len(active)} alert(s) "
                              f"{source} ({names}) to resolve")
        deadline = time.monotonic() + QUIET_WAIT_S
        while active and time.monotonic() < deadline:
            time.sleep(self.options.poll_interval_s)
            active = self._spec_alerts_active()
        if active:
            shown = "; ".join(f"{a.name}{{{labels_text(a.labels)}}} {a.state}"
                              for a in active[:5])
            why = (f"this run started the stack fresh, so they fire on the data as it is now "
                   f"({ABSENT_ALERT}: the SLI's metric is not scraped, or its target is "
                   f"down): fix that, then run again"
                   if self.conn.started_stack else
                   "they come from data of an earlier run; stop the stack (`make stack-down`) "
                   "so the runner starts a fresh one, or `make stack-down` then "
                   "`make stack FRESH=1`")
            raise RunnerError(
                f"{len(active)} alert(s) of the spec are still pending or firing before the "
                f"baseline ({shown}): {why}")

    def _open_clients(self) -> None:
        urls = self.conn.urls
        self.fault_client = FaultClient.for_api(self.conn.fault_api)
        self.prom = Prometheus(urls["prometheus"], attempts=2)
        self.app = app_process(self.conn.settings, self.conn.mode)
        self.counters = AlertmanagerCounters(urls["alertmanager"])

    def _refuse_foreign_faults(self) -> None:
        """A fault the run did not set would be judged as its own: refuse to start (a run never
        clears what it did not set)."""
        faults = self.fault_client.list()
        if not faults:
            return
        where = ("the fault proxy" if self.fault_client.backend == "proxy"
                 else "the demo app")
        named = "; ".join(_describe_fault(f) for f in faults)
        kinds = " ".join(sorted({f["kind"] for f in faults}))
        raise RunnerError(f"a fault this run did not set is on at {where}: {named}; it would "
                          f"be judged as the experiment's own. Clear it with `make fault-clear` "
                          f"(python -m harness_common.faults clear {kinds}) or wait until it "
                          f"expires, then run again")

    def _start_tracking(self) -> None:
        urls = self.conn.urls
        sources = [PrometheusAlerts(urls["prometheus"])]
        if "grafana" in urls:
            sources.append(GrafanaAlerts(urls["grafana"], "admin",
                                         self.conn.env.get("GRAFANA_ADMIN_PASSWORD")))
        self.tracker = AlertTracker(sources, self.options.poll_interval_s,
                                    on_transition=self._on_transition, extra=[self.counters])
        self.tracker.start()
        if "prometheus" in self.tracker.last_errors:
            raise PrometheusError(self.tracker.last_errors["prometheus"])

    def _check_rules(self) -> None:
        """Every alert named by an expectation must be a loaded rule (else: fail now)."""
        timeline = self.tracker.timeline
        seen = set()
        for window in self.log.windows:
            phase = window.phase
            for item in (*phase.alerts, *phase.telegram):
                selector = AlertSelector(item.alert, item.labels)
                if selector in seen or timeline.rules_matching(selector):
                    seen.add(selector)
                    continue
                seen.add(selector)
                names = sorted({r.name for r in timeline.all_rules()})
                self.log.preflight.append(Outcome(
                    phase.name, "alert" if item in phase.alerts else "telegram",
                    item.subject(), "a loaded alerting rule", FAILED, "no such rule",
                    f"no alerting rule {item.subject()} is loaded in Prometheus"
                    f"{' or Grafana' if len(self.tracker.sources) > 1 else ''} (loaded: "
                    f"{', '.join(names) or 'none'}); fix the name or labels, or load the rule "
                    f"(`make rules`, SLO_PROFILE)"))
        if self.log.preflight:
            self.log.status = "failed"
            self.log.reason = "; ".join(o.reason for o in self.log.preflight)
            self.progress.message(f"preflight failed: {self.log.reason}")

    def _on_transition(self, transition) -> None:
        self.progress.message(f"alert {transition.name}{{{labels_text(transition.labels)}}} "
                              f"-> {transition.state}")

    # ------------------------------------------------------------------ the load and the faults
    def _drive(self) -> None:
        """Locust through every phase, each phase's fault on and off, then a last scrape."""
        t0 = self._start_load()
        for window in self.log.windows:
            self._run_phase(window, t0)
        self.log.current_phase = None
        self._end_load()

    def _start_load(self) -> float:
        self.live = LiveStats(self.prom, self.spec)
        self.live.start()
        self.progress.stats = self.live
        self.progress.alerts = self.tracker.snapshot_state
        locust_env = {**self.env, "FAULT_ADMIN_TOKEN": self.conn.env.get("FAULT_ADMIN_TOKEN", "")}
        locust_env.update({"FAULT_API_URL": self.conn.fault_api.url,
                           "FAULT_BACKEND": self.conn.fault_api.backend,
                           "FAULT_AFFECTS_URL": self.conn.fault_api.affects or ""})
        self.locust = Locust(self.experiment, self.conn.load_host, self.run_dir, locust_env,
                             web_port=self.options.web_port)
        self.progress.message("starting Locust" + (f": watch it at {self.locust.web_url} "
                                                   f"(Chaos and SLO tabs)"
                                                   if self.locust.web_url else ""))
        t0 = self.locust.start()
        self.progress.begin(t0, self.experiment.duration_s, self.experiment.name)
        return t0

    def _run_phase(self, window: PhaseWindow, t0: float) -> None:
        phase = window.phase
        self._sleep_until(t0 + phase.start_s)
        self.log.current_phase = phase.name
        window.start = time.time()
        self.progress.phase(phase.index, len(self.log.windows), phase.name, window.start,
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

    def _end_load(self) -> None:
        if self.locust.wait(LOCUST_FINISH_S) is None:
            self.log.note("Locust did not stop by itself after the last phase; stopped it")
            self.locust.stop()
        # Let Prometheus scrape the last seconds before the verdicts are read.
        self._sleep_until(time.time() + self.conn.intervals.scrape_s + 1)

    def _sleep_until(self, moment: float) -> None:
        while True:
            left = moment - time.time()
            if left <= 0:
                return
            locust = self.locust
            if (locust is not None and locust.proc is not None and not locust.alive()
                    and self.log.current_phase is not None):
                raise HarnessError(f"Locust exited (code {locust.proc.popen.returncode}) "
                                   f"during phase {self.log.current_phase!r}; see "
                                   f"{locust.proc.log_path}")
            time.sleep(min(left, 0.25))

    def _fault_on(self, window: PhaseWindow) -> None:
        fault = window.phase.fault
        # The window opens when the fault is asked for: a Ctrl-C that lands after the fault took
        # effect but before the call returned must still leave a window for the rollback to end
        # (the fault is on from a few ms after this, never before).
        window.fault_start = time.time()
        if fault.kind == "kill":
            self.log.killed = True
            self.app.kill()
        elif fault.kind == "pause":
            self.log.paused = True
            self.app.pause()
        else:
            self.log.set_kinds.add(fault.kind)
            self.fault_client.set(fault.kind, **fault.params)
        self.progress.message(f"fault on: {fault.describe()}")

    def _fault_off(self, window: PhaseWindow) -> None:
        fault = window.phase.fault
        if fault.kind == "kill":
            self.progress.message("restarting the app")
            self.app.restart()
            self.log.killed = False
        elif fault.kind == "pause":
            self.app.resume()
            self.log.paused = False
        else:
            self.fault_client.clear(fault.kind)
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
            self._end_open_faults()
            self._undo_infrastructure_and_faults()
            if self.locust is not None:
                self._rollback_step("stop Locust", lambda: f"exit code {self.locust.stop()}")
            self._check_no_fault_left()
            for line in self.log.rollback_steps:
                self.progress.message(f"rollback: {line}")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _rollback_step(self, what: str, action: Callable[[], object]) -> None:
        try:
            result = action()
            self.log.rollback_steps.append(f"{what}: ok" + (f" ({result})" if result else ""))
        except (HarnessError, OSError) as err:
            self.log.rollback_ok = False
            self.log.rollback_steps.append(f"{what}: FAILED: {err}")

    def _end_open_faults(self) -> None:
        """A fault the rollback switches off ends now."""
        for window in self.log.windows:
            if window.fault_start is not None and window.fault_end is None:
                window.fault_end = time.time()

    def _undo_infrastructure_and_faults(self) -> None:
        if self.log.paused:
            self._rollback_step("resume the paused app", self.app.resume)
            self.log.paused = False
        if self.fault_client is not None and not self.log.killed:
            for kind in sorted(self.log.set_kinds):  # never a fault someone else set
                self._rollback_step(f"clear the {kind} fault this run set",
                                    lambda k=kind: ", ".join(self.fault_client.clear(k))
                                    or "it was off")
        if self.log.killed:
            self._rollback_step("restart the killed app", self.app.restart)
            self.log.killed = False

    def _check_no_fault_left(self) -> None:
        if self.fault_client is None:
            return
        try:
            self.log.faults_left = self.fault_client.list()
        except FaultError as err:
            self.log.rollback_ok = False
            self.log.rollback_steps.append(f"check that no fault is left: FAILED: {err}")
            return
        ours = [f for f in self.log.faults_left if f.get("kind") in self.log.set_kinds]
        others = [f["kind"] for f in self.log.faults_left if f not in ours]
        if others:
            self.log.note(f"faults set outside this run are on ({', '.join(others)}); the run "
                          f"left them alone")
        if ours:
            self.log.rollback_ok = False
            for fault in ours:
                self._rollback_step(f"clear the {fault['kind']} fault still on",
                                    lambda k=fault["kind"]: self.fault_client.clear(k))
            self.log.faults_left = self.fault_client.list()

    def _shutdown(self) -> None:
        for worker in (self.live, self.tracker):
            if worker is not None:
                worker.stop()
        if self.conn is not None and self.conn.started_stack and not self.options.keep:
            from stack.launcher import stop_stack

            with contextlib.suppress(HarnessError, OSError):
                stopped = stop_stack(self.conn.settings)
                self.console.print(Text(f"stopped the stack the run started "
                                        f"({', '.join(stopped)}); keep it with --keep"))

    # ------------------------------------------------------------------ judging
    def _finish(self) -> ExperimentResult:
        """Judge, freeze the result, write the report and print the summary."""
        from slo.experiment.report import print_summary, write_report

        outcomes, timings, verdicts, found = list(self.log.preflight), [], {}, []
        if self.tracker is not None and not self.log.preflight_failed:
            self.tracker.poll_once()
            try:
                verdicts = self._verdicts()
                found = self._notices()
                outcomes += self._judge(verdicts, found)
                timings = self._timings(found)
            except (HarnessError, OSError) as err:
                self.log.note(f"could not judge every expectation: {err}")
                if self.log.status == "completed":
                    self.log.status, self.log.reason = "error", f"could not judge: {err}"
        exit_code, status = self._exit(outcomes)
        result = self._result(outcomes, timings, verdicts, found, status, exit_code,
                              self._plot_series())
        write_report(result)
        print_summary(self.console, result)
        return result

    def _exit(self, outcomes: list[Outcome]) -> tuple[int, str]:
        log = self.log
        if log.status == "failed":       # preflight
            return exitcodes.FAILED, "failed"
        if log.status != "completed":
            return exitcodes.NOT_EVALUATED, log.status
        failed = [o for o in outcomes if o.status not in (PASSED, NOT_EVALUATED)]
        unjudged = [o for o in outcomes if o.status == NOT_EVALUATED]
        if not log.rollback_ok:
            log.reason = "rollback failed: " + "; ".join(
                line for line in log.rollback_steps if "FAILED" in line)
            return exitcodes.NOT_EVALUATED, "error"
        if failed:
            log.reason = f"{len(failed)} of {len(outcomes)} expectations failed: " + "; ".join(
                o.reason or f"{o.subject} {o.expected}" for o in failed[:3])
            return exitcodes.FAILED, "failed"
        if unjudged:   # what was not observed is never a pass (exit 2)
            log.reason = (f"{len(unjudged)} of {len(outcomes)} expectations could not be "
                          f"evaluated: " + "; ".join(o.reason for o in unjudged[:3]))
            return exitcodes.NOT_EVALUATED, "not_evaluated"
        log.reason = f"all {len(outcomes)} expectations held"
        return exitcodes.OK, "passed"

    def _verdicts(self) -> dict[str, list[SloVerdict]]:
        """Every SLO over each completed phase, skipping the phase's first scrape interval (it
        still holds the previous phase's requests) as long as the window keeps the checker's
        minimum length."""
        out = {}
        scrape_s = self.conn.intervals.scrape_s
        for window in self.log.windows:
            if not window.completed:
                continue
            start = min(window.start + scrape_s, window.end - MIN_WINDOW_S)
            if start < window.start - 0.001:
                self.log.note(f"phase {window.phase.name!r} is shorter than {MIN_WINDOW_S}s: "
                              f"its SLOs are not judged")
                continue
            api = self.conn.fault_api
            try:
                judged = phase_window(max(start, window.start), window.end, recorded_faults(
                    window.phase, api.backend if api is not None else "unknown"))
                judgement = self.evaluator(self.spec, self.conn.urls["prometheus"], judged)
            except HarnessError as err:
                self.log.note(f"could not judge the SLOs of phase {window.phase.name!r}: {err}")
                continue
            for note in judgement.notes:
                self.log.note(f"phase {window.phase.name!r}: {note}")
            out[window.phase.name] = slo_verdicts(judgement)
        return out

    def _sandbox_chat(self) -> str:
        """The chat the stack's Alertmanager sends to in sandbox mode (messages elsewhere are
        not delivered)."""
        return self.conn.env.get("TELEGRAM_SANDBOX_CHAT_ID") or str(SANDBOX_CHAT_ID)

    def _notices(self) -> list[Notice]:
        """The Telegram messages of the run, read back from the sandbox (real Telegram: none)."""
        if self.conn.telegram_mode != "sandbox":
            return []
        try:
            return notices(SandboxClient(self.conn.urls["sandbox"]).messages(
                since=self.started_at - 1))
        except SandboxError as err:
            self.log.note(f"could not read the Telegram sandbox: {err}")
            return []

    def _judge(self, verdicts: dict[str, list[SloVerdict]], found: list[Notice]
               ) -> list[Outcome]:
        timeline = self.tracker.timeline
        mode = "sandbox" if self.conn.telegram_mode == "sandbox" else "telegram"
        evidence = TelegramEvidence(mode, tuple(found), self.counters.delta,
                                    chat_id=self._sandbox_chat() if mode == "sandbox" else None,
                                    samples=self.counters.snapshot(), timeline=timeline,
                                    route=alertmanager_route(self.conn.urls["alertmanager"]))
        windows, run_end = self.log.windows, self.log.run_end
        for note in blind_notes(timeline, windows):
            self.progress.message("warning: " + self.log.note(note))
        outcomes = []
        for index, window in enumerate(windows):
            phase = window.phase
            by_name = {v.name: v for v in verdicts.get(phase.name, [])}
            for name, expected in phase.slos:
                outcomes.append(slo_outcome(window, name, expected, by_name.get(name)))
            for expectation in phase.alerts:
                outcomes.append(alert_outcome(windows, index, expectation, timeline, run_end,
                                              True))
            for expectation in phase.telegram:
                outcomes.append(telegram_outcome(windows, index, expectation, evidence, run_end))
        return outcomes

    def _bad_ratio(self, window: PhaseWindow, slo_name: str) -> float | None:
        """The share of bad events the fault of `window` caused for one SLO (None: unknown)."""
        try:
            slo = self.spec.slo(slo_name)
            # The fault's window without its first scrape, which still holds requests from
            # before the fault.
            span = int(window.fault_end - window.fault_start - self.conn.intervals.scrape_s)
            queries = promql.sli_queries(slo, max(1, span))
            total = self.prom.scalar(queries.total, window.fault_end)
            bad = self.prom.scalar(queries.bad, window.fault_end) if queries.bad else None
        except (KeyError, ValueError, PrometheusError):
            return None
        if not total or bad is None:
            return None
        return min(1.0, max(0.0, bad / total))

    def _timings(self, found: list[Notice]) -> list[AlertTiming]:
        profile = PROFILES.get(self.conn.profile)
        intervals = self.conn.intervals
        ratios: dict[tuple[str, str], float | None] = {}

        def theory_for(window: PhaseWindow, rule: Rule):
            slo_name = rule.label_dict.get("slo")
            key = (window.phase.name, slo_name)
            if slo_name is not None and key not in ratios:
                ratios[key] = self._bad_ratio(window, slo_name)
            outage = (window.fault_end or self.log.run_end) - window.fault_start
            started = self.conn.prometheus_started
            history = window.fault_start - started if started else None
            return rule_theory(rule, self.spec, profile, ratios.get(key), outage,
                               intervals.scrape_s, rule.interval_s or intervals.eval_s, history)

        sandbox = self.conn.telegram_mode == "sandbox"
        mine = [n for n in found if same_chat(n, self._sandbox_chat())] if sandbox else None
        return alert_timings(self.log.windows, self.tracker.timeline, self.log.run_end,
                             notices=mine,
                             counter_delta=None if sandbox else self.counters.delta,
                             theory_for=theory_for)

    def _plot_series(self) -> Series:
        first = self.log.windows[0].start
        if self.prom is None or first is None:
            return Series()
        try:
            return collect_series(self.prom, self.spec, first - PLOT_LEAD_S,
                                  self.log.run_end or time.time())
        except PrometheusError as err:
            self.log.note(f"plots without data: {err}")
            return Series()

    def _phase_costs(self, window: PhaseWindow, verdicts: dict[str, list[SloVerdict]]
                     ) -> tuple[WindowCost, ...]:
        """What each SLO's error budget paid in a phase (its burn over the phase, the share of
        the period spent) and every burn-rate row at the phase's end."""
        profile = PROFILES.get(self.conn.profile) if self.conn else None
        if profile is None or self.prom is None or window.end is None:
            return ()
        costs = []
        for verdict in verdicts.get(window.phase.name, []):
            try:
                slo = self.spec.slo(verdict.name)
            except KeyError:
                continue
            try:
                ratios = {w: self.prom.scalar(expr, window.end)
                          for w, expr in budget_queries(slo, profile).items()}
            except PrometheusError:
                ratios = None
            cost = window_cost(slo, profile, verdict.bad_ratio,
                               verdict.window_s or window.end - window.start, ratios)
            if cost is not None:
                costs.append(cost)
        return tuple(costs)

    def _client_latency(self) -> dict[str, dict]:
        """Each phase's client-side percentiles from Locust's run record (empty: no record)."""
        from loadtests.errors import RecordError
        from loadtests.record import load_record

        if self.locust is None:
            return {}
        try:
            record = load_record(self.locust.output_dir)
        except RecordError as err:
            self.log.note(f"no client-side latency: {err}")
            return {}
        if record.client_latency is None:
            return {}
        return {name: s.model_dump() for name, s in record.client_latency.phases.items()}

    def _phase_latency(self, window: PhaseWindow, client: dict[str, dict]
                       ) -> LatencyComparison | None:
        """The phase's client-side percentiles beside the server histogram's over the phase
        (its warnings become the run's notes)."""
        if self.prom is None or window.start is None or window.end is None or not (
                window.completed and window.phase.name in client):
            return None
        try:
            found = client_vs_server(self.prom, self.spec.slos, client[window.phase.name],
                                     window.start, window.end,
                                     (self.conn.intervals if self.conn else
                                      DEFAULT_INTERVALS).scrape_s)
        except PrometheusError as err:
            self.log.note(f"phase {window.phase.name}: no server percentiles beside the "
                          f"client's: {err}")
            return None
        for warning in found.warnings if found is not None else ():
            self.log.note(f"phase {window.phase.name}: {warning}")
        return found

    def _result(self, outcomes, timings, verdicts, found, status, exit_code,
                series: Series) -> ExperimentResult:
        """Freeze what the run saw into an ExperimentResult."""
        conn, log, experiment = self.conn, self.log, self.experiment
        timeline = self.tracker.timeline if self.tracker is not None else None
        client = self._client_latency()
        # Before the notes are frozen: a phase whose client and server disagree adds one.
        phases = tuple(_phase_record(w, verdicts, self._phase_costs(w, verdicts),
                                     self._phase_latency(w, client)) for w in log.windows)
        return ExperimentResult(
            run_id=self.run_id, run_dir=self.run_dir,
            experiment=ExperimentInfo(experiment.name, experiment.source, experiment.description,
                                      experiment.profile, experiment.duration_s,
                                      str(experiment.spec_path)),
            status=status, exit_code=exit_code, reason=log.reason, started_at=self.started_at,
            ended_at=log.run_end,
            stack=StackRecord(
                mode=conn.mode if conn else None, started_by_run=bool(conn and conn.started_stack),
                kept=self.options.keep, profile=conn.profile if conn else experiment.profile,
                telegram_mode=conn.telegram_mode if conn else "sandbox",
                urls=tuple(conn.urls.items()) if conn else (),
                scrape_interval_s=(conn.intervals if conn else DEFAULT_INTERVALS).scrape_s,
                evaluation_interval_s=(conn.intervals if conn else DEFAULT_INTERVALS).eval_s),
            phases=phases,
            outcomes=tuple(outcomes), timings=tuple(timings),
            transitions=tuple(timeline.transitions) if timeline else (),
            notifications=tuple(found),
            rollback=Rollback(log.rollback_ok, tuple(log.rollback_steps),
                              None if log.faults_left is None else tuple(log.faults_left)),
            notes=tuple(log.notes), series=series)


def _describe_fault(fault: dict) -> str:
    """'latency (delay_ms=300 probability=1.0 routes=['*']) until 2026-...'."""
    shown = " ".join(f"{k}={fault[k]}" for k in ("delay_ms", "status", "mode", "probability",
                                                 "routes") if k in fault)
    return f"{fault['kind']} ({shown}) until {fault.get('expires_at', '?')}"
def _running(settings: StackSettings) -> bool:
    """True when a stack is recorded in the settings' run directory (it is reused as it is)."""
    from stack.state import load_state

    state = load_state(settings.paths.state_file)
    return state is not None and any(r.leader_alive() for r in state.parts)


def _phase_record(window: PhaseWindow, verdicts: dict[str, list[SloVerdict]],
                  costs: tuple[WindowCost, ...] = (),
                  latency: LatencyComparison | None = None) -> PhaseRecord:
    phase = window.phase
    fault = None
    if phase.fault is not None:
        fault = FaultRecord(phase.fault.kind, phase.fault.describe(),
                            tuple(phase.fault.params.items()), window.fault_start,
                            window.fault_end)
    return PhaseRecord(index=phase.index, name=phase.name, planned_offset_s=phase.start_s,
                       duration_s=phase.duration_s, start=window.start, end=window.end,
                       completed=window.completed, users=phase.load.users,
                       spawn_rate=phase.load.spawn_rate, scenario=phase.load.scenario,
                       fault=fault, slos=tuple(verdicts.get(phase.name, ())), budget=costs,
                       latency=latency)
