"""`slo check` against a real Prometheus scraping the real app (1 s scrapes): load within the
SLOs passes, each fault breaks its SLO, no traffic or no Prometheus is "could not evaluate"."""

import json
import threading
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import requests

from harness_common.faults.client import FaultClient
from slo.cli import main
from slo.judge.prom import Prometheus
from slo.judge.unseen import counted_faults
from slo.judge.window import Window, parse_time
from stack.procs import free_port, wait_until
from tests.conftest import _start_app, launch_prometheus, start_app_at, start_prometheus_at

pytestmark = pytest.mark.integration
PHASE_S = 10


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A dedicated app (so this module controls all its traffic) and Prometheus."""
    workdir = tmp_path_factory.mktemp("check")
    app = _start_app(workdir / "app")
    prom = launch_prometheus(workdir / "prom", {"portfolio-app": [f"127.0.0.1:{app.port}"]})
    scraped(prom.url)  # a window that starts before the first scrape is not judged
    yield app, prom
    prom.proc.stop()
    app.proc.stop()


def scraped(prom_url: str) -> None:
    """Wait for Prometheus's first scrape of the app (up to 5 s after it is ready)."""
    def up():
        result = requests.get(prom_url + "/api/v1/query", params={"query": "up"},
                              timeout=5).json()["data"]["result"]
        return result and result[0]["value"][1] == "1"
    wait_until(up, 30, "Prometheus to scrape the app")


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
    # the app's own fault counter, as every window's faults are asked (slo.judge.unseen)
    (counted,) = counted_faults(Prometheus(prom.url), Window(start, end, "--start/--end"))
    assert (counted["backend"], counted["kind"]) == ("app", "error")
    assert counted["counted"] >= 1


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


# ---- a window that reaches back before the data ----------------------------------------------

def ceiling_spec(tmp_path) -> str:
    """The shipped spec with a ceiling on the request rate (rate <= 5/s): a window diluted by
    time Prometheus never observed reads low, so it passes falsely."""
    text = Path("slo/slos.yaml").read_text(encoding="utf-8")
    assert "objective: rate >= 1/s" in text
    path = tmp_path / "ceiling.yaml"
    path.write_text(text.replace("objective: rate >= 1/s", "objective: rate <= 5/s"))
    return str(path)


def test_a_window_reaching_back_before_the_data_is_not_judged_and_says_where_it_begins(
        env, start_prometheus, tmp_path, capsys):
    """A Prometheus up for 4.5 min judged `--last 30m`: 0.25/s MET, exit 0, dividing by 25
    minutes it never observed (`--last 4m`: 1.82/s VIOLATED)."""
    app, _ = env
    prom = start_prometheus({"portfolio-app": [f"127.0.0.1:{app.port}"]})
    scraped(prom.url)
    begins = time.time()
    drive(app.url, 10)
    time.sleep(2.5)
    spec = ceiling_spec(tmp_path)
    out = tmp_path / "r.json"
    code = main(["check", "--spec", spec, "--prometheus", prom.url, "--last", "10m",
                 "--no-settle", "--slo", "throughput", "--json", str(out)])
    printed = capsys.readouterr().out
    (rate,) = json.loads(out.read_text())["slos"]
    assert code == 2, rate
    assert rate["status"] == "no_data" and rate["value"] is None
    reason = rate["reason"]
    assert reason.startswith("app_requests_total has data only from ")
    assert "after the window's start" in reason and "never observed" in reason
    assert "judge a window from " in reason and "--last " in reason
    assert not any("no scrape" in note for note in rate["notes"]), rate["notes"]  # one message
    assert "Prometheus started at" not in printed
    # the window the message proposes is judged: the rate over the time observed
    last = reason.split("--last ", 1)[1].split(")", 1)[0]
    assert int(last.removesuffix("s")) <= time.time() - begins + 10
    code = main(["check", "--spec", spec, "--prometheus", prom.url, "--last", last,
                 "--no-settle", "--slo", "throughput", "--json", str(out)])
    (rate,) = json.loads(out.read_text())["slos"]
    assert code == 1 and rate["status"] == "violated" and rate["value"] > 5, (last, rate["reason"])


def test_a_window_held_from_before_a_restart_of_prometheus_is_judged_without_a_false_note(
        env, tmp_path, capsys):
    """Prometheus keeps its TSDB across a restart: a window before the restart is in its
    data. The check said "Prometheus started at <after the window's end>, inside the window:
    it holds nothing before"."""
    app, _ = env
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs: [{{job_name: portfolio-app, static_configs: "
        f"[{{targets: ['127.0.0.1:{app.port}']}}]}}]\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = start_prometheus_at(config, tmp_path / "data", port, tmp_path / "p1.log")
    try:
        scraped(url)
        start, end = drive(app.url, PHASE_S)
        time.sleep(2.5)
    finally:
        first.stop()
    again = start_prometheus_at(config, tmp_path / "data", port, tmp_path / "p2.log")
    try:
        out = tmp_path / "r.json"
        code = main(["check", "--prometheus", url, "--start", f"{start:.3f}", "--end",
                     f"{end:.3f}", "--no-settle", "--json", str(out)])
    finally:
        again.stop()
    data = json.loads(out.read_text())
    assert code == 0, data["slos"]
    assert data["notes"] == [], data["notes"]
    assert "Prometheus started at" not in capsys.readouterr().out


# ---- a window the app was not observed through ------------------------------------------------

def test_the_app_stopped_inside_the_window_is_exit_2_naming_when_and_how_long(
        start_app, start_prometheus, tmp_path):
    """issue 20, 1: the app stopped for 77 s in the middle of a load run, then restarted: all
    SLOs met, exit 0. Here: stopped for about five 1 s scrapes between two bursts of load."""
    app = start_app()
    prom = start_prometheus({"portfolio-app": [f"127.0.0.1:{app.port}"]})
    scraped(prom.url)
    start, _ = drive(app.url, 2)
    app.proc.stop()
    stopped = time.time()
    time.sleep(4)
    again = start_app_at(app.port, app.token, app.workdir / "again.log")
    try:
        _, end = drive(app.url, 3)   # the window: over 10 s however fast the app came back
        out = tmp_path / "r.json"
        code = check(prom, start, end, "--json", str(out))
    finally:
        again.stop()
    slos = {s["name"]: s for s in json.loads(out.read_text())["slos"]}
    assert code == 2, {n: s["reason"] for n, s in slos.items()}
    assert all(s["status"] == "no_data" for s in slos.values())
    errors = slos["error-ratio"]
    assert errors["reason"].startswith('up{job="portfolio-app"} was down inside the window: '
                                       f"scrapes failing (up == 0: 127.0.0.1:{app.port})")
    (gap,) = errors["coverage"]["gaps"]
    assert abs(parse_time("gap", gap["start"]) - stopped) < 3 and 4 <= gap["seconds"] <= 15, gap
    assert f"for {gap['seconds']} s from {gap['start']}" in errors["reason"]
    assert "longer than 3 scrape intervals" in slos["latency-p95"]["reason"]
