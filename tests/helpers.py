"""Small helpers the test modules share (fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families


def metric_samples(url: str, timeout: float = 5.0) -> dict:
    """{(name, frozenset(labels)): value} of a /metrics page."""
    text = requests.get(url, timeout=timeout).text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def fault_active(app_url: str) -> dict[str, float]:
    """app_fault_active{kind} as the app exports it now."""
    return {dict(labels)["kind"]: value
            for (name, labels), value in metric_samples(app_url + "/metrics").items()
            if name == "app_fault_active"}


def in_threads(count: int, worker: Callable[[int], None]) -> None:
    """Run worker(0..count-1) in `count` threads at once; return when all are done."""
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class FakeProm:
    """A Prometheus that holds only the fault backends' counters, {(backend, kind): requests
    faulted} (a bare kind is the proxy's): its counter query answers one sample per backend
    and kind, as Prometheus does (the query tags each counter with both; checked on Prometheus
    2.42 against Envoy 1.40 and the demo app); any scalar query answers no value. `asked`: the
    (query, time) pairs it was asked."""

    url = "http://127.0.0.1:9"

    def __init__(self, counted: dict):
        self.counted = {k if isinstance(k, tuple) else ("proxy", k): v
                        for k, v in counted.items()}
        self.asked = []

    def backend(self):
        from slo.judge.backend import PROMETHEUS, Backend
        return Backend(PROMETHEUS, "2.42.0")

    def query(self, expr, at):
        from slo.judge.prom import Sample

        self.asked.append((expr, at))
        return [Sample({"backend": backend, "kind": kind}, value)
                for (backend, kind), value in self.counted.items()]

    def scalar(self, expr, at):
        self.asked.append((expr, at))
        return None


def promtool() -> str:
    """The promtool binary (skip the test when it is not installed)."""
    import pytest

    from stack.procs import find_binary

    path = find_binary("promtool")
    if path is None:
        pytest.skip("promtool is not installed (make setup installs it)")
    return path


Vector = list[tuple[dict, float]]


RESETS_QUERY = "sum(max by (job, instance) (resets("   # slo.judge.coverage.resets_query


@contextlib.contextmanager
def fake_prometheus(answer: Callable[[str], Vector],
                    labels: dict[str, list[str]] | None = None) -> Iterator[str]:
    """A Prometheus HTTP API on a free loopback port, for what a real one cannot be made to
    answer: each instant query gets answer(query) as a vector of (labels, value) pairs, label
    names are the keys of `labels` and label values its lists, the config scrapes every 5 s,
    a range query gets one series of 1 at every step and the coverage's resets query no value
    (every scrape succeeded, no counter reset) and anything else a 404. Yields its URL; stopped
    afterwards."""
    import http.server
    import json
    import urllib.parse

    names = labels or {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            """Quiet."""

        def do_GET(self):  # noqa: N802 - http.server's naming
            url = urllib.parse.urlsplit(self.path)
            params = urllib.parse.parse_qs(url.query)
            if url.path == "/api/v1/query":
                query = params["query"][0]
                vector = [] if RESETS_QUERY in query else answer(query)   # no counter reset
                data = {"resultType": "vector", "result": [
                    {"metric": dict(metric), "value": [0, repr(float(value))]}
                    for metric, value in vector]}
            elif url.path == "/api/v1/query_range":   # up: every scrape succeeded
                start, end = float(params["start"][0]), float(params["end"][0])
                step = float(params["step"][0].rstrip("s"))
                points = [[start + i * step, "1"] for i in range(int((end - start) // step) + 1)]
                data = {"resultType": "matrix", "result": [{"metric": {}, "values": points}]}
            elif url.path == "/api/v1/labels":
                data = ["__name__", *sorted(names)]
            elif url.path.startswith("/api/v1/label/") and url.path.endswith("/values"):
                data = names.get(url.path.split("/")[4], [])
            elif url.path == "/api/v1/status/config":
                data = {"yaml": "global: {scrape_interval: 5s, evaluation_interval: 5s}\n"}
            else:
                self.send_error(404)
                return
            body = json.dumps({"status": "success", "data": data}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def browser_marks() -> list:
    """The marks of a test module driving Chromium: integration, browser, skipped without it."""
    import os

    import pytest

    return [pytest.mark.integration, pytest.mark.browser,
            pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not "
                               "installed (make setup installs chromium)")]


def start_from_the_ui(page, url: str, tab: str) -> None:
    """Open Locust's web UI at `url`, press Start, and wait for the dashboard with `tab`.

    Locust's React UI takes the state of every stats answer it gets, and stops polling on
    "ready". Its first stats request (sent on page load) answered after Start says "ready" and
    leaves the UI on its start form though the test runs: so Start is pressed once the page's
    requests are done (the harness itself answers "spawning" between Start and the first user).
    A reload once more shows the running test if the dashboard still does not appear."""
    page.goto(url, wait_until="networkidle")
    page.get_by_role("button", name="Start").click()
    found = page.get_by_role("tab", name=tab)
    try:
        found.wait_for(timeout=10_000)
    except Exception:  # noqa: BLE001 - playwright's TimeoutError
        page.reload()
        found.wait_for(timeout=10_000)


@contextlib.contextmanager
def locust_web_ui(env: dict, log: Path, args: list[str], ready: str) -> Iterator[str]:
    """`python -m loadtests web` on a free port with `args`; yields its URL once `ready` (a
    path) answers, and stops it afterwards."""
    import subprocess
    import sys

    from stack.procs import free_port, http_ok, stop_pid, wait_until

    port = free_port()
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "loadtests", "web", "--port", str(port),
                                 *args], env=env, cwd=Path(__file__).resolve().parent.parent,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(url + ready), 30, f"Locust's web UI ({ready})")
        yield url
    finally:
        stop_pid(proc.pid, timeout=10, popen=proc)


def unexplained_warnings(comparison: dict) -> list[str]:
    """A client-vs-server comparison's warnings (its as_dict() form), less the one a loaded
    machine gives truly: the client's median of sub-millisecond requests slower than the
    server's bucket by the client's own time (CI: 12.1 ms seen for 0.6 ms served)."""
    median = next(q for q in comparison["quantiles"] if q["q"] == 0.5)
    slower = (median["client_s"] or 0) > (median["server_s"] or 0)
    return [w for w in comparison["warnings"]
            if not (slower and w.startswith("p50: the client measured"))]


# The sandbox's message 13 in a user's trial: one grouped Telegram message holding the new
# delivery check's FIRING block (f0acac2d) and an earlier check's RESOLVED block (894b5e6c).
GROUPED_CHECKS_MESSAGE = ("🔥 FIRING SloHarnessTestAlert\n"
                          "severity info · SLO verify-alerts · service portfolio-app\n"
                          "slo verify-alerts delivery check f0acac2d: no action needed\n"
                          "since 2026-12-01 22:10:01 UTC\n\n"
                          "✅ RESOLVED SloHarnessTestAlert\n"
                          "severity info · SLO verify-alerts · service portfolio-app\n"
                          "slo verify-alerts delivery check 894b5e6c: no action needed\n\n"
                          "Alertmanager")
