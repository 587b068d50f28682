"""Locust as the runner's load generator: one process through every phase (headless, or with
its web UI on LOCUST_PORT for `slo run --web`).

The phases become one list of stages (each phase's scenario from loadtests.scenarios, shifted
to the phase's offset), run by the ExperimentShape of loadtests/experiment_shape.py, with the
experiment's users: the demo app's (experiment_locustfile.py), an endpoints file's
(endpoints_locustfile.py) or the user's own locustfile, given to Locust beside the shape. Locust
runs in its own process (it monkey-patches with gevent; the runner uses threads) and its own
session, so a Ctrl-C in the terminal reaches the runner, which then stops Locust itself.
Its run record and CSV/HTML reports go to <run dir>/locust/.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import loadtests
from harness_common.errors import HarnessError
from loadtests.latency import PHASES_VAR
from loadtests.scenarios import Stage, build_plan
from slo.experiment.schema import Experiment
from stack.config import REPO
from stack.procs import Proc, spawn, stop_pid

LOADTESTS = Path(loadtests.__file__).resolve().parent
LOCUSTFILE = LOADTESTS / "experiment_locustfile.py"
SHAPE_FILE = LOADTESTS / "experiment_shape.py"
ENDPOINTS_LOCUSTFILE = LOADTESTS / "endpoints_locustfile.py"
LOCUST_RUN_ID = "locust"
START_TIMEOUT_S = 60.0


class LoadGenError(HarnessError):
    """Locust could not be started or did not start the test."""


def experiment_stages(experiment: Experiment) -> list[Stage]:
    """Every phase's stages, end times counted from the start of the experiment."""
    stages: list[Stage] = []
    for phase in experiment.phases:
        plan = build_plan(phase.load.scenario, users=phase.load.users,
                          spawn_rate=phase.load.spawn_rate, duration=phase.duration_s)
        stages += [Stage(round(phase.start_s + s.end_s, 3), s.users, s.spawn_rate)
                   for s in plan.stages]
    return stages


def locust_files(experiment: Experiment) -> tuple[str, list[str]]:
    """Locust's -f value and any extra options for the experiment's users."""
    if experiment.endpoints is not None:
        return (f"{ENDPOINTS_LOCUSTFILE},{SHAPE_FILE}",
                ["--endpoints", str(experiment.endpoints)])
    if experiment.locustfile is not None:
        return f"{experiment.locustfile},{SHAPE_FILE}", []
    return str(LOCUSTFILE), []


def _pythonpath(existing: str | None) -> str:
    return str(REPO) + (f":{existing}" if existing else "")


class Locust:
    """A headless Locust process running the experiment's stages against `host`."""

    def __init__(self, experiment: Experiment, host: str, run_dir: Path, env: dict[str, str],
                 web_port: int | None = None):
        self.experiment = experiment
        self.web_port = web_port   # None: headless; else the web UI (Chaos, SLO tabs) there
        self.host = host
        self.run_dir = run_dir
        self.env = env
        self.proc: Proc | None = None
        self.t0_file = run_dir / ".locust-t0"
        self.t0: float | None = None

    @property
    def output_dir(self) -> Path:
        """Where Locust's run record, CSV and HTML land."""
        return self.run_dir / LOCUST_RUN_ID

    def start(self, timeout: float = START_TIMEOUT_S) -> float:
        """Start Locust and wait until its test starts; returns the test's time zero."""
        stages = [[s.end_s, s.users, s.spawn_rate] for s in experiment_stages(self.experiment)]
        self.t0_file.unlink(missing_ok=True)
        phases = [[p.name, p.start_s, p.end_s] for p in self.experiment.phases]
        env = {**self.env, "SLO_EXPERIMENT_STAGES": json.dumps(stages),
               PHASES_VAR: json.dumps(phases),
               "SLO_EXPERIMENT_T0_FILE": str(self.t0_file), "PYTHONUNBUFFERED": "1",
               # Locust loads the locustfile by path; make the harness's packages importable
               # even from an install that predates them.
               "PYTHONPATH": _pythonpath(self.env.get("PYTHONPATH"))}
        files, extra = locust_files(self.experiment)
        cmd = [sys.executable, "-m", "locust", "-f", files, *self.ui_args(),
               "--host", self.host, "--reports-dir", str(self.run_dir),
               "--run-id", LOCUST_RUN_ID, "--loglevel", "INFO", "--stop-timeout", "2", *extra]
        # Locust dies with the runner, even a SIGKILLed one (its SIGTERM writes Locust's run
        # record and reports, and its chaos clean-up runs), instead of loading on until the end.
        self.proc = spawn("locust", cmd, self.run_dir / "locust.log", env=env, with_parent=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.t0_file.is_file():
                self.t0 = float(self.t0_file.read_text(encoding="utf-8"))
                self.t0_file.unlink(missing_ok=True)
                return self.t0
            if not self.proc.alive():
                raise LoadGenError(f"Locust exited (code {self.proc.popen.returncode}) before "
                                   f"the test started; {self.proc.log_path} ends with:\n"
                                   f"{self.proc.log_tail(15)}")
            time.sleep(0.1)
        self.stop()
        raise LoadGenError(f"Locust did not start the test within {timeout:.0f}s; see "
                           f"{self.proc.log_path}")

    def ui_args(self) -> list[str]:
        """--headless; or, to watch the run (slo run --web), the web UI on loopback with the
        test started at once (the shape drives it as headless) and Locust quitting at its end;
        its SLO tab shows the experiment's spec."""
        if self.web_port is None:
            return ["--headless"]
        return ["--autostart", "--autoquit", "0", "--web-host", "127.0.0.1",
                "--web-port", str(self.web_port), "--slo-spec", str(self.experiment.spec_path)]

    @property
    def web_url(self) -> str | None:
        """The web UI's address while it runs (None headless)."""
        return None if self.web_port is None else f"http://127.0.0.1:{self.web_port}"

    def alive(self) -> bool:
        """True while the Locust process runs."""
        return self.proc is not None and self.proc.alive()

    def wait(self, timeout: float) -> int | None:
        """Wait for Locust to finish by itself; its exit code, or None if still running."""
        if self.proc is None:
            return None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.alive():
            time.sleep(0.2)
        return self.proc.popen.poll()

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM Locust (it writes its record and reports), SIGKILL after `timeout`."""
        if self.proc is None:
            return None
        if self.proc.alive():
            stop_pid(self.proc.pid, timeout, popen=self.proc.popen)
        return self.proc.popen.poll()
