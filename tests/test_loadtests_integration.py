"""Load tests for real: Locust runs headless for a few seconds against the real app.

Each run goes through `python -m loadtests` (or `locust` directly where the harness's own
checks are the point), on free ports, writing into the test's tmp folder.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from harness_common.faults.client import FaultClient
from loadtests.record import load_record
from stack.procs import free_port, stop_pid, wait_until
from tests.helpers import fault_active, metric_samples

REPO = Path(__file__).resolve().parent.parent
LOCUSTFILE = REPO / "loadtests" / "locustfile.py"

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def no_fault_left_behind(app_server):
    """Whatever a test does, the shared app ends it with no fault on."""
    yield
    FaultClient(app_server.url, app_server.token).clear()


def env_for(app, tmp_path, **extra) -> dict:
    env = {**os.environ, "APP_URL": app.url, "FAULT_ADMIN_TOKEN": app.token,
           "REPORTS_DIR": str(tmp_path / "reports"), **extra}
    for key in ("SCENARIO", "CHAOS_SCHEDULE", "RUN_ID", "LOCUST_SKIP_MONKEY_PATCH"):
        env.pop(key, None)
    return env


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    """Start a process in its own session with output in `log`."""
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "loadtests", *args]


def locust(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args]


def finish(proc: subprocess.Popen, timeout: float) -> int:
    try:
        return proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            stop_pid(proc.pid, timeout=5, popen=proc)


def watch(proc: subprocess.Popen, seconds: float, interval: float, observe, finish_s: float
          ) -> int:
    """Call observe() every `interval` while `proc` runs (at most `seconds`; a failed request
    is skipped), then wait `finish_s` for its exit code; it never outlives the test."""
    try:
        deadline = time.monotonic() + seconds
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                observe()
            except requests.RequestException:
                pass
            time.sleep(interval)
        return finish(proc, timeout=finish_s)
    finally:
        if proc.poll() is None:
            stop_pid(proc.pid, popen=proc)


def samples(url: str) -> dict:
    """{(name, frozenset(labels)): value} from a /metrics page."""
    return metric_samples(url, timeout=2)


LOAD_ENDPOINTS = {"/", "/api/projects", "/api/projects/<project_id>", "/static/<path:filename>"}


def load_requests(app_url: str) -> float:
    """Requests the app served on the routes the users load (not /health or /metrics)."""
    return sum(value for (name, labels), value in samples(app_url + "/metrics").items()
               if name == "app_requests_total" and dict(labels)["endpoint"] in LOAD_ENDPOINTS)


def test_a_headless_run_follows_shape_and_schedule_and_leaves_a_record(app_server, tmp_path):
    schedule = tmp_path / "schedule.yaml"
    schedule.write_text(
        "- {at: 1s, set: latency, params: {delay_ms: 30}, for: 2s}\n"
        "- {at: 3.5s, set: error, params: {status: 503, routes: ['/api/*']}}\n"
        "- {at: 5s, clear: error}\n")
    port = free_port()
    proc = start(cli("headless", "--scenario", "step", "--users", "4", "--step-users", "2",
                     "--duration", "6s", "--chaos-schedule", str(schedule), "--run-id", "r1",
                     "--port", str(port)),
                 env_for(app_server, tmp_path), tmp_path / "cli.log")
    seen: dict[str, list[float]] = {"latency": [], "error": []}
    client_metrics = {}

    def observe() -> None:
        nonlocal client_metrics
        now = time.monotonic()
        for kind, value in fault_active(app_server.url).items():
            if value == 1 and kind in seen:
                seen[kind].append(now)
        client_metrics = samples(f"http://127.0.0.1:{port}/metrics") or client_metrics

    code = watch(proc, 30, 0.1, observe, finish_s=5)
    log = (tmp_path / "cli.log").read_text()
    assert code == 0, log

    # the app saw each fault switched on for about its window, and nothing is left on
    latency_on = seen["latency"][-1] - seen["latency"][0]
    assert 1.0 <= latency_on <= 2.6, seen
    assert seen["error"] and seen["error"][0] > seen["latency"][-1], seen
    assert set(fault_active(app_server.url).values()) <= {0.0}

    # the record: window, scenario, faults with their windows, users per step, Locust's stats
    run_dir = tmp_path / "reports" / "r1"
    record = load_record(run_dir / "run.json")
    assert record.status == "completed" and record.scenario.name == "step"
    assert 5 <= (record.end - record.start).total_seconds() <= 9
    assert record.start.microsecond == 0 and record.start.tzinfo is not None
    windows = {w.kind: w for w in record.faults}
    assert abs(windows["latency"].start_offset_s - 1) < 0.5
    assert abs(windows["latency"].end_offset_s - 3) < 0.5
    assert abs(windows["error"].start_offset_s - 3.5) < 0.5
    assert abs(windows["error"].end_offset_s - 5) < 0.5
    assert all(w.applied and w.source == "schedule" for w in record.faults)
    levels = [users for _, users in record.users if users]
    assert max(levels) == 4 and levels[0] <= 2, record.users
    first_full = next(offset for offset, users in record.users if users == 4)
    assert 2.5 <= first_full <= 5, record.users
    assert record.stats.aggregated.requests > 0
    assert {e.name for e in record.stats.endpoints} >= {"/", "/static/style.css"}
    for name in record.artifacts.values():
        assert (run_dir / name).stat().st_size > 0, name
    assert "Locust" in (run_dir / "report.html").read_text()[:5000]

    # Locust's /metrics served the client-side histograms during the run
    names = {name for name, _ in client_metrics}
    assert "locust_client_request_duration_seconds_bucket" in names, sorted(names)
    assert "locust_client_requests_total" in names and "locust_users" in names
    buckets = {dict(labels)["le"] for name, labels in client_metrics
               if name == "locust_client_request_duration_seconds_bucket"}
    assert {"0.005", "0.3", "+Inf"} <= buckets


@pytest.mark.parametrize("how", ["SIGTERM to the CLI", "SIGINT to a --headless locust"])
def test_an_interrupted_run_leaves_no_fault_on(app_server, tmp_path, how):
    schedule = tmp_path / "schedule.yaml"
    schedule.write_text("- {at: 0.5s, set: latency, params: {delay_ms: 20}, for: 60s}\n")
    env = env_for(app_server, tmp_path)
    if how.startswith("SIGTERM"):
        cmd = cli("headless", "--users", "2", "--duration", "60s", "--chaos-schedule",
                  str(schedule), "--run-id", "int", "--port", str(free_port()))
        sig = signal.SIGTERM
    else:
        cmd = locust("--headless", "--host", app_server.url, "-u", "2", "-t", "60s",
                     "--chaos-schedule", str(schedule), "--run-id", "int")
        sig = signal.SIGINT
    proc = start(cmd, env, tmp_path / "run.log")
    try:
        wait_until(lambda: fault_active(app_server.url).get("latency") == 1, 20,
                   "the schedule's latency fault at the app")
        proc.send_signal(sig)
        code = finish(proc, timeout=20)
    finally:
        if proc.poll() is None:
            stop_pid(proc.pid, popen=proc)
    log = (tmp_path / "run.log").read_text()
    assert code == 0, log
    assert FaultClient(app_server.url, app_server.token).list() == []
    record = load_record(tmp_path / "reports" / "int" / "run.json")
    assert record.status == "stopped"
    (window,) = record.faults
    assert window.kind == "latency" and window.end_offset_s < 30


BAD_SCHEDULE = "- {at: 1s, set: latency, params: {delay_ms: 10}, for: 10s}\n" \
               "- {at: 5s, set: latency, params: {delay_ms: 20}, for: 10s}\n"


@pytest.mark.parametrize("case", [
    "unknown scenario (CLI)", "unknown scenario (locust)", "unknown fault kind (CLI)",
    "overlapping windows (locust)", "unreachable target (CLI)", "unreachable target (locust)",
    "host without a scheme (CLI)",
])
def test_bad_input_fails_before_any_load_naming_the_problem(app_server, tmp_path, case):
    env = env_for(app_server, tmp_path)
    schedule = tmp_path / "bad.yaml"
    dead = f"http://127.0.0.1:{free_port()}"
    if "unknown fault kind" in case:
        schedule.write_text("- {at: 1s, set: latncy, for: 5s}\n")
    else:
        schedule.write_text(BAD_SCHEDULE)
    cmd, expected = {
        "unknown scenario (CLI)": (cli("headless", "--scenario", "bogus"),
                                   "unknown scenario 'bogus'; use one of: steady, ramp, step, "
                                   "spike, soak"),
        "unknown scenario (locust)": (locust("--headless", "--scenario", "bogus"),
                                      "argument --scenario: invalid choice: 'bogus'"),
        "unknown fault kind (CLI)": (cli("headless", "--chaos-schedule", str(schedule)),
                                     f"{schedule}: steps[0].set: unknown fault kind 'latncy'"),
        "overlapping windows (locust)": (
            locust("--headless", "--host", app_server.url, "--chaos-schedule", str(schedule)),
            f"{schedule}: steps[0] and steps[1]: latency windows overlap"),
        "unreachable target (CLI)": (cli("headless", "--host", dead),
                                     f"target {dead} is unreachable"),
        "unreachable target (locust)": (locust("--headless", "--host", dead),
                                        f"target {dead} is unreachable"),
        "host without a scheme (CLI)": (cli("headless", "--host", dead[len("http://"):]),
                                        f"--host {dead[len('http://'):]}: not a URL; give it "
                                        f"with http:// or https://"),
    }[case]
    before = load_requests(app_server.url)
    done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert expected in output, output
    assert load_requests(app_server.url) == before
    assert not list((tmp_path / "reports").glob("*/run.json"))


def test_a_distributed_run_aggregates_the_workers_on_the_master(app_server, tmp_path):
    port = free_port()
    proc = start(cli("distributed", "--workers", "2", "--users", "4", "--spawn-rate", "4",
                     "--duration", "5s", "--run-id", "d1", "--port", str(port)),
                 env_for(app_server, tmp_path), tmp_path / "cli.log")
    total = 0.0

    def observe() -> None:
        nonlocal total
        total = max(total, sum(v for (n, _), v in
                               samples(f"http://127.0.0.1:{port}/metrics").items()
                               if n == "locust_client_requests_total"))

    code = watch(proc, 60, 0.3, observe, finish_s=15)
    log = (tmp_path / "cli.log").read_text()
    assert code == 0, log
    assert total > 0, "the master's /metrics never showed the workers' requests"
    record = load_record(tmp_path / "reports" / "d1" / "run.json")
    assert record.mode == "distributed" and record.workers == 2
    assert record.stats.aggregated.requests > 0
    assert sorted(p.name for p in (tmp_path / "reports" / "d1").glob("worker-*.log")) == [
        "worker-1.log", "worker-2.log"]
