"""`slo check` against a real Prometheus scraping the real app (1 s scrapes): load within the
SLOs passes, each fault breaks its SLO, no traffic or no Prometheus is "could not evaluate"."""

import json
import threading
import time
from xml.etree import ElementTree as ET

import pytest
import requests

from harness_common.faults.client import FaultClient
from slo.cli import main
from tests.conftest import _start_app, launch_prometheus

pytestmark = pytest.mark.integration
PHASE_S = 10


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A dedicated app (so this module controls all its traffic) and Prometheus."""
    workdir = tmp_path_factory.mktemp("check")
    app = _start_app(workdir / "app")
    prom = launch_prometheus(workdir / "prom", {"portfolio-app": [f"127.0.0.1:{app.port}"]})
    yield app, prom
    prom.proc.stop()
    app.proc.stop()


def drive(url: str, seconds: float, threads: int = 6) -> tuple[float, float]:
    """Browse the app from `threads` loops for `seconds`; return the (start, end) times."""
    stop = time.monotonic() + seconds
    paths = ["/", "/api/projects", "/api/projects/1", "/api/projects/2"]

    def loop(i):
        with requests.Session() as s:
            n = i
            while time.monotonic() < stop:
                s.get(url + paths[n % len(paths)], timeout=10)
                n += 1
                time.sleep(0.05)

    start = time.time()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return start, time.time()


def check(prom, start, end, *extra) -> int:
    time.sleep(2.5)  # two 1 s scrapes after the window's end
    return main(["check", "--prometheus", prom.url, "--start", f"{start:.3f}", "--end",
                 f"{end:.3f}", "--no-settle", *extra])


def test_a_window_without_user_traffic_cannot_be_evaluated(env, capsys):
    app, prom = env
    start = time.time()
    time.sleep(PHASE_S + 1)
    assert check(prom, start, time.time()) == 2
    assert "no events in the window" in capsys.readouterr().out


def test_load_within_the_slos_passes_and_writes_valid_junit(env, tmp_path):
    app, prom = env
    start, end = drive(app.url, PHASE_S)
    junit, result = tmp_path / "junit.xml", tmp_path / "result.json"
    assert check(prom, start, end, "--junit", str(junit), "--json", str(result)) == 0
    suite = ET.parse(junit).getroot().find("testsuite")  # noqa: S314 - our own output
    assert suite.get("failures") == "0" and int(suite.get("tests")) == 5
    data = json.loads(result.read_text())
    p95 = next(s for s in data["slos"] if s["name"] == "latency-p95")
    assert p95["status"] == "met" and p95["good_fraction"] == 1.0
    rate = next(s for s in data["slos"] if s["name"] == "throughput")
    assert rate["value"] > 5


def test_a_500ms_latency_fault_violates_the_latency_slos(env, tmp_path):
    app, prom = env
    faults = FaultClient(app.url, app.token)
    faults.set("latency", delay_ms=500, ttl_s=60)
    try:
        start, end = drive(app.url, PHASE_S, threads=8)
    finally:
        faults.clear()
    out = tmp_path / "r.json"
    assert check(prom, start, end, "--json", str(out)) == 1
    status = {s["name"]: s["status"] for s in json.loads(out.read_text())["slos"]}
    assert status["latency-p95"] == "violated" and status["api-fast-requests"] == "violated"
    assert status["error-ratio"] == "met"


def test_a_10_percent_error_fault_violates_the_error_slo(env, tmp_path):
    app, prom = env
    faults = FaultClient(app.url, app.token)
    faults.set("error", probability=0.1, ttl_s=60)
    try:
        start, end = drive(app.url, PHASE_S)
    finally:
        faults.clear()
    out, pr = tmp_path / "r.json", tmp_path / "pr.md"
    assert check(prom, start, end, "--json", str(out), "--markdown", str(pr),
                 "--profile", "fast") == 1
    data = json.loads(out.read_text())
    slos = {s["name"]: s for s in data["slos"]}
    assert slos["error-ratio"]["status"] == "violated"
    assert 0.04 < slos["error-ratio"]["value"] < 0.2
    assert slos["latency-p95"]["status"] == "met"
    # what the window cost the budget: 10% bad events burn a 1% budget ~10x; over a window of
    # `seconds` that is 10 x seconds / 12 h of the fast profile's period
    cost = {c["slo"]: c for c in data["budget"]}["error-ratio"]
    seconds = data["window"]["seconds"]
    assert 4 < cost["burn_rate"] < 20
    assert cost["budget_spent"] == pytest.approx(cost["burn_rate"] * seconds / 43200, rel=0.01)
    assert len(cost["rows"]) == 4 and cost["period_s"] == 43200
    markdown = pr.read_text()
    assert "#### Error budget (fast profile: a 12h period)" in markdown
    assert "| error-ratio |" in markdown.split("#### Error budget")[1]


def test_prometheus_stopped_is_exit_2_with_a_clear_message(env, tmp_path_factory, capsys):
    app, _ = env
    prom = launch_prometheus(tmp_path_factory.mktemp("gone"), {"portfolio-app": []})
    prom.proc.stop()
    began = time.monotonic()
    code = main(["check", "--prometheus", prom.url, "--last", "1m", "--retries", "2",
                 "--timeout", "1"])
    assert code == 2
    assert time.monotonic() - began < 15
    assert "did not answer" in capsys.readouterr().err
