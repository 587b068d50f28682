"""Helpers shared by the reliability suite: traffic, restarts on the same port, `slo check` runs.

Processes come from tests/conftest.py's fixtures where they fit; what those cannot do (start a
process again on the port it had, so scrapers and clients find it) is done here, and every
process started here is stopped by the `respawn` fixture of tests/reliability/conftest.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import requests

from stack.procs import Proc, http_ok, spawn, wait_until
from tests.conftest import start_alertmanager_at, start_app_at, start_prometheus_at
from tests.helpers import in_threads

REPO = Path(__file__).resolve().parents[2]
USER_PATHS = ("/", "/api/projects", "/api/projects/1", "/api/projects/2")


def drive(url: str, seconds: float, threads: int = 4, paths=USER_PATHS,
          pause: float = 0.0) -> Counter:
    """Request `paths` round-robin from `threads` loops for `seconds`; count answers by status.

    A connection error counts as "error:<ExceptionName>".
    """
    counts: Counter = Counter()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def loop(i: int) -> None:
        local: Counter = Counter()
        with requests.Session() as session:
            n = i
            while time.monotonic() < stop:
                try:
                    local[session.get(url + paths[n % len(paths)], timeout=10).status_code] += 1
                except requests.RequestException as err:
                    local[f"error:{type(err).__name__}"] += 1
                n += 1
                if pause:
                    time.sleep(pause)
        with lock:
            counts.update(local)

    in_threads(threads, loop)
    return counts


def spawn_app(port: int, token: str, log: Path, **extra) -> Proc:
    """Start the target app on `port` (e.g. again, after it was killed) and wait for /health."""
    return start_app_at(port, token, log, **extra)


def spawn_prometheus(config: Path, data: Path, port: int, log: Path, *extra: str) -> Proc:
    """Start Prometheus with a given config, data directory and port; wait for /-/ready."""
    return start_prometheus_at(config, data, port, log, *extra)


def prom_query(prom_url: str, expr: str, at: float | None = None) -> list[dict]:
    """The result vector of an instant query (raises on any error)."""
    params = {"query": expr}
    if at is not None:
        params["time"] = f"{at:.3f}"
    body = requests.get(prom_url + "/api/v1/query", params=params, timeout=10).json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def prom_value(prom_url: str, expr: str, at: float | None = None) -> float | None:
    """The value of a one-element instant query, or None when it is empty."""
    result = prom_query(prom_url, expr, at)
    return float(result[0]["value"][1]) if result else None


@dataclass
class CheckRun:
    """One `slo check` process: exit code, parsed --json result, output and wall time."""

    code: int
    result: dict | None
    stdout: str
    stderr: str
    seconds: float

    def verdict(self, name: str) -> dict:
        """The JSON verdict of one SLO."""
        assert self.result is not None, self.stderr
        return next(v for v in self.result["slos"] if v["name"] == name)


def slo_check(prom_url: str, start: float, end: float, json_path: Path, *extra: str,
              timeout: float = 120) -> CheckRun:
    """Run `slo check` as CI does (a process) over [start, end] against `prom_url`."""
    json_path.unlink(missing_ok=True)
    began = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "slo.cli", "check", "--spec", str(REPO / "slo" / "slos.yaml"),
         "--prometheus", prom_url, "--start", f"{start:.3f}", "--end", f"{end:.3f}",
         "--no-settle", "--json", str(json_path), *extra],
        capture_output=True, text=True, cwd=REPO, timeout=timeout, check=False)
    seconds = time.monotonic() - began
    result = json.loads(json_path.read_text()) if json_path.is_file() else None
    return CheckRun(proc.returncode, result, proc.stdout, proc.stderr, seconds)


# ----------------------------------------------------------------------------- alert path

def spawn_sandbox(port: int, data: Path, log: Path) -> Proc:
    """The Telegram sandbox under gunicorn (`python -m stack.telegram_sandbox`), ready."""
    proc = spawn("telegram-sandbox", [sys.executable, "-m", "stack.telegram_sandbox",
                                      "--port", str(port), "--data", str(data)], log, cwd=REPO)
    try:
        wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/health"), 30, "the sandbox",
                   proc=proc)
    except TimeoutError:
        proc.stop()
        raise
    return proc


def spawn_alertmanager(config: Path, storage: Path, port: int, log: Path) -> Proc:
    """Alertmanager (clustering off) with a given config, storage and port, ready."""
    return start_alertmanager_at(config, storage, port, log, log_level="info")


def alert_rules(*names: str) -> str:
    """A rule file whose alerts fire at once (vector(1)), labelled like the SLO alerts."""
    rules = "".join(
        f"      - alert: {name}\n"
        f"        expr: vector(1)\n"
        f"        labels: {{severity: page, slo: reliability, service: portfolio-app}}\n"
        f"        annotations: {{summary: 'reliability test alert {name}'}}\n"
        for name in names)
    return f"groups:\n  - name: reliability\n    rules:\n{rules}" if names else \
        "groups:\n  - name: reliability\n    rules: []\n"
