"""The checker under failure: it gives the right verdict or exit 2 — never a false "met".

- a Prometheus that answers after the timeout, or answers nonsense (a tiny fake server: a slow
  or broken Prometheus cannot be produced otherwise) -> exit 2 within the retry budget;
- Prometheus restarted while checks run -> the right verdict or exit 2; restarted without its
  data -> exit 2;
- a window that contains an app restart (every counter resets to 0) -> increase() counts the
  requests on both sides of the reset, so the verdict and its counts are right.
"""

import http.server
import math
import os
import shutil
import signal
import threading
import time

import pytest

from harness_common.faults.client import FaultClient
from slo.judge import checker, promql, sources
from slo.spec import load_spec
from stack.procs import wait_until
from tests.reliability.support import (
    REPO,
    drive,
    prom_value,
    slo_check,
    spawn_app,
    spawn_prometheus,
)

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

TIMEOUT_S, TRIES = 1.0, 2


class _FakePrometheus(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


def fake_prometheus(mode: str, release: threading.Event):
    """A server on a free port answering /api/v1/* the way `mode` says; returns (server, url)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            """Quiet."""

        def do_GET(self):  # noqa: N802 - http.server's naming
            if mode == "slow":
                release.wait(30)  # far longer than the checker's timeout
                body, ctype, status = b'{"status":"success","data":{"result":[]}}', \
                    "application/json", 200
            elif mode == "503":
                body, ctype, status = b"<html>Service Unavailable</html>", "text/html", 503
            elif mode == "html-200":  # e.g. a login page of a proxy in front of Prometheus
                body, ctype, status = b"<html><body>Sign in</body></html>", "text/html", 200
            else:  # "json-200": JSON, but not Prometheus's API (the wrong service's URL)
                body, ctype, status = b'{"ok": true, "messages": []}', "application/json", 200
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the checker gave up on this request (its timeout): expected

    server = _FakePrometheus(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def retry_budget_s(spec_path) -> float:
    """The longest a check may take against a Prometheus that never answers in time.

    Each query: TRIES tries of TIMEOUT_S plus the backoff between them (0.5 s, 1 s, ...). The
    queries of all SLOs run 16 at a time, so they need ceil(queries / 16) such rounds.
    """
    spec = load_spec(spec_path)
    # first the label names and the census of each metric, what each counting selector sees
    # without its status matchers, where each SLO's data begins and the scrapes its counts run
    # between (two queries per denominator) and the scrape interval of their jobs (the running
    # config); then each SLO's queries (a latency SLO: its buckets and its quantile; others:
    # total and events)
    denominators = {checker.data_selectors(slo) for slo in spec.slos}
    jobs = {promql.job_of(s) for sels in denominators for s in sels}
    census = (2 * len(sources.metrics_of(spec.slos)) + len(sources.looks_of(spec.slos))
              + 2 * len(denominators) + len(jobs))
    queries = sum(2 if promql.sli_queries(slo, 60).buckets is None or slo.kind ==
                  "latency_percentile" else 1 for slo in spec.slos)
    per_query = TRIES * TIMEOUT_S + sum(0.5 * 2**i for i in range(TRIES - 1))
    return (math.ceil(census / 16) + math.ceil(queries / 16)) * per_query


@pytest.mark.parametrize("mode", ["slow", "503", "html-200", "json-200"])
def test_a_prometheus_that_is_slow_or_answers_nonsense_is_exit_2_within_the_retry_budget(
        tmp_path, mode):
    release = threading.Event()
    server, url = fake_prometheus(mode, release)
    try:
        now = time.time()
        run = slo_check(url, now - 120, now - 60, tmp_path / "r.json",
                        "--timeout", str(TIMEOUT_S), "--retries", str(TRIES), timeout=90)
    finally:
        release.set()
        server.shutdown()
        server.server_close()
    assert run.code == 2, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr, run.stderr
    assert url in run.stderr and f"after {TRIES} tries" in run.stderr, run.stderr
    reason = {"slow": "timed out", "503": "HTTP status 503",
              "html-200": "not a Prometheus API response",
              "json-200": "not a Prometheus API response"}[mode]
    assert reason in run.stderr, run.stderr
    # bounded: the retry budget plus the interpreter's start-up (generous: a shared machine)
    budget = retry_budget_s(REPO / "slo" / "slos.yaml")
    assert run.seconds < budget + 10, (run.seconds, budget)


@pytest.fixture
def app_and_prometheus(start_app, start_prometheus):
    """A fresh app and a Prometheus scraping it every second."""
    app = start_app()
    prom = start_prometheus({"portfolio-app": [f"127.0.0.1:{app.port}"]})
    # the first scrape comes a few seconds after ready (target discovery is throttled to 5 s)
    wait_until(lambda: prom_value(prom.url, 'up{job="portfolio-app"}') == 1.0, 30,
               "Prometheus to scrape the app")
    return app, prom


def wait_scraped(prom_url: str, seconds: float = 2.5) -> None:
    """Let two 1 s scrapes happen after the traffic (the window's end must be in the data)."""
    time.sleep(seconds)
    assert prom_value(prom_url, 'up{job="portfolio-app"}') == 1.0


@pytest.mark.slow  # ~20 s each: runs in make test-reliability, not in the CI budget
def test_prometheus_restarted_while_checks_run_gives_the_right_verdict_or_exit_2_never_met(
        app_and_prometheus, respawn, tmp_path):
    app, prom = app_and_prometheus
    # the truth: every user request fails during the window, so error-ratio is violated
    FaultClient(app.url, app.token).set("error", status=503, probability=1.0, ttl_s=120)
    # a window of at least 10 s (the checker's minimum), all of it observed: it starts after
    # Prometheus's first scrape (one that starts before is not judged)
    start = time.time()
    counts = drive(app.url, 4, threads=3, pause=0.02)
    end = max(time.time(), start + 10)
    time.sleep(max(0.0, end - time.time()))
    wait_scraped(prom.url)
    assert set(counts) == {503}, counts

    def check() -> int:
        return slo_check(prom.url, start, end, tmp_path / "r.json", "--slo", "error-ratio",
                         "--timeout", "1", "--retries", "3").code

    first = slo_check(prom.url, start, end, tmp_path / "r.json", "--slo", "error-ratio")
    assert first.code == 1, (first.stdout, first.stderr)  # before the restart: violated

    codes: list[int] = []
    stop = threading.Event()

    def keep_checking():
        while not stop.is_set():
            codes.append(check())

    checker = threading.Thread(target=keep_checking)
    checker.start()
    try:
        time.sleep(0.5)
        prom.proc.stop()  # SIGTERM: a graceful restart keeps the TSDB (head + WAL)
        time.sleep(1.5)
        restarted = respawn(spawn_prometheus(prom.config_path, prom.workdir / "data", prom.port,
                                             prom.workdir / "prometheus-2.log"))
        time.sleep(1.5)
    finally:
        stop.set()
        checker.join(timeout=60)
    assert codes, "no check ran during the restart"
    assert 0 not in codes, codes  # never a false "met"
    assert set(codes) <= {1, 2}, codes
    assert check() == 1, "after the restart the data is back and the verdict is right again"

    # restarted WITHOUT its data (a new volume, a wiped disk): the window has no data -> 2
    restarted.stop()
    shutil.rmtree(prom.workdir / "data")
    respawn(spawn_prometheus(prom.config_path, prom.workdir / "data", prom.port,
                             prom.workdir / "prometheus-3.log"))
    wait_until(lambda: prom_value(prom.url, 'up{job="portfolio-app"}') == 1.0, 30,
               "the new Prometheus to scrape the app")
    empty = slo_check(prom.url, start, end, tmp_path / "r.json", "--slo", "error-ratio")
    assert empty.code == 2, (empty.stdout, empty.stderr)
    assert empty.verdict("error-ratio")["status"] == "no_data"


@pytest.mark.slow  # ~20 s each: runs in make test-reliability, not in the CI budget
def test_a_window_with_an_app_restart_counts_the_requests_on_both_sides_of_the_counter_reset(
        app_and_prometheus, respawn, tmp_path):
    app, prom = app_and_prometheus
    faults = FaultClient(app.url, app.token)
    # Create both series (200 and 503) before the window: increase() cannot count the first
    # sample of a series that appears inside the window, which would blur the expected counts.
    faults.set("error", status=503, probability=0.5, ttl_s=120)
    drive(app.url, 0.5, threads=1)
    wait_scraped(prom.url)

    # half the requests fail before the restart, none after it
    start = time.time() - 2  # idle before the traffic; keeps the window over the 10 s minimum
    before = drive(app.url, 4, threads=3, pause=0.02)
    wait_scraped(prom.url, 1.5)  # the last scrape before the kill holds every request
    os.killpg(app.proc.pid, signal.SIGKILL)  # the counters die with the process
    app.proc.popen.wait(timeout=10)
    respawn(spawn_app(app.port, app.token, app.workdir / "app-restarted.log"))
    after = drive(app.url, 4, threads=3, pause=0.02)
    end = time.time()
    wait_scraped(prom.url)

    assert set(before) == {200, 503} and set(after) == {200}, (before, after)
    errors, total = before[503], before[200] + before[503] + after[200]
    # the reset is real: the restarted app's 200 counter started again from zero
    resets = prom_value(prom.url, 'resets(app_requests_total{job="portfolio-app",'
                                  f'status="200",endpoint="/"}}[{int(end - start) + 3}s])')
    assert resets is not None and resets >= 1, resets

    run = slo_check(prom.url, start, end, tmp_path / "r.json", "--slo", "error-ratio")
    assert run.code in (1, 2), (run.stdout, run.stderr)  # never a false "met"
    assert run.code == 1, f"Prometheus is up with all the data, so the check must judge: " \
                          f"{run.stderr}"
    verdict = run.verdict("error-ratio")
    assert verdict["status"] == "violated"
    # increase() over the reset counts both sides (extrapolation to the window's edges adds a
    # little); last-minus-first would count only what the restarted app served
    assert verdict["total_events"] == pytest.approx(total, rel=0.2), (verdict, before, after)
    assert verdict["value"] == pytest.approx(errors / total, abs=0.05), (verdict, before, after)
