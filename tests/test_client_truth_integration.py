"""The server's p95 against the client's truth, with known latency distributions.

A real app (instrumented with the default dense buckets) under a latency fault of a known
shape, scraped by a real Prometheus every second; a client times every request into an HDR
histogram (loadtests.latency, as the load generator does). `slo check` over the window must
report a p95 within 10% of the client's exact p95, with bounds (the bucket) that hold it, and
the client-vs-server comparison must agree. The shapes:

  - fixed 170 ms: every request just above a bucket bound (0.168), where interpolation inside
    the bucket is furthest from the truth;
  - uniform 450-550 ms: the issue's measured case (the old layout reported 734 ms for 578 ms);
  - 7% of requests slow (200-400 ms), the rest fast: the p95 rank crosses the empty buckets
    between the two modes and lands low in the slow one.

And the false pass to rule out: a window where the client saw slow requests the server
histogram never timed (here: faulted in front of the server) must warn, not agree.
"""

import json
import time

import pytest
import requests

from harness_common.faults.client import FaultClient
from loadtests.latency import OVERALL, ClientLatency
from slo.cli import main
from slo.judge.clientside import SLACK_S, SLACK_SHARE, client_vs_server
from slo.judge.prom import Prometheus
from slo.spec import load_spec
from stack.procs import wait_until
from tests.conftest import _start_app, launch_prometheus
from tests.helpers import in_threads, unexplained_warnings

# quiet: the client's own timing is the truth here, and on 2 cores shared with three other
# test processes it read 12-25 % above the server's p95 (a 170 ms delay timed at 210-260 ms):
# make test runs this file alone, after the parallel suite
pytestmark = [pytest.mark.integration, pytest.mark.quiet]

THREADS = 12
SPEC = load_spec("slo/slos.yaml")
SHAPES = {
    # name: (fault, seconds of load)
    "fixed-170ms-just-above-a-bound": ({"delay_ms": 170}, 9),
    "uniform-450-550ms": ({"delay_ms": 500, "jitter_ms": 50}, 10),
    "bimodal-7pct-slow": ({"delay_ms": 300, "jitter_ms": 100, "probability": 0.07}, 8),
}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A dedicated app (no baseline delay: the fault is the whole shape) and Prometheus."""
    workdir = tmp_path_factory.mktemp("truth")
    app = _start_app(workdir / "app", BASELINE_DELAY_MS="0")
    prom = launch_prometheus(workdir / "prom", {"portfolio-app": [f"127.0.0.1:{app.port}"]})
    # Windows open after Prometheus knows the app (else their counts start at its first scrape).
    scrapes = 'count_over_time(up{job="portfolio-app"}[1m])'
    wait_until(lambda: (Prometheus(prom.url).scalar(scrapes, time.time()) or 0) >= 3, 30,
               "three scrapes of the app")
    yield app, prom
    prom.proc.stop()
    app.proc.stop()


def timed_load(url: str, seconds: float) -> tuple[float, float, dict]:
    """GET /api/projects from THREADS loops for `seconds`, timing each request as a client;
    returns (start, end, the client's summary)."""
    latency = ClientLatency()
    time.sleep(1.5)                     # an idle scrape before the window: nothing else in it
    start = time.time()
    latency.reset(start)
    stop = time.monotonic() + seconds

    def loop(_i):
        with requests.Session() as session:
            while time.monotonic() < stop:
                began = time.perf_counter()
                session.get(url + "/api/projects", timeout=10).raise_for_status()
                latency.observe((time.perf_counter() - began) * 1000.0, time.time())

    in_threads(THREADS, loop)
    end = time.time()
    time.sleep(2.5)                     # two 1 s scrapes after the window's end
    return start, end, latency.summary()[OVERALL]


def reported(prom, start, end, tmp_path, capsys) -> dict:
    out = tmp_path / "check.json"
    code = main(["check", "--prometheus", prom.url, "--start", f"{start - 1:.3f}", "--end",
                 f"{end + 1:.3f}", "--no-settle", "--slo", "latency-p95", "--json", str(out)])
    printed = capsys.readouterr()
    assert out.is_file(), (code, printed.out, printed.err)
    return next(s for s in json.loads(out.read_text())["slos"] if s["name"] == "latency-p95")


def side_by_side(prom, start, end, client):
    """What the report shows: the client's summary beside the spec's latency histogram."""
    return client_vs_server(Prometheus(prom.url), SPEC.slos, client, start - 1, end + 1)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_reported_p95_is_within_10pct_of_the_clients_and_its_bucket_holds_it(
        env, shape, tmp_path, capsys):
    app, prom = env
    fault, seconds = SHAPES[shape]
    faults = FaultClient(app.url, app.token)
    faults.set("latency", ttl_s=60, **fault)
    try:
        start, end, client = timed_load(app.url, seconds)
    finally:
        faults.clear("latency")
    truth_s = client["p95_ms"] / 1000.0
    slo = reported(prom, start, end, tmp_path, capsys)
    value_s, (low_s, high_s) = slo["value"], slo["value_bounds"]
    assert abs(value_s - truth_s) <= 0.10 * truth_s, (shape, value_s, truth_s, client)
    # The client also times itself, the connection and the server's queue: on a loaded
    # machine up to the slack the comparison allows (10 ms or 5%) outside the bucket.
    slack = max(SLACK_S, SLACK_SHARE * high_s)
    assert low_s - slack <= truth_s <= high_s + slack, (shape, low_s, truth_s, high_s)
    comparison = side_by_side(prom, start, end, client)
    p95 = next(v for v in comparison.quantiles if v.q == 0.95)
    assert p95.agrees is True and not unexplained_warnings(comparison.as_dict()), \
        comparison.as_dict()
    assert abs(p95.server_s - value_s) <= 0.001   # our interpolation is Prometheus's
    assert comparison.server_count == client["count"]   # counted exactly, the same requests


def test_slow_requests_the_server_never_timed_warn_instead_of_agreeing(env, tmp_path, capsys):
    """The client's p95 of 500 ms requests against a server histogram that saw them fast:
    as when a proxy in front of the service adds the delay. The comparison must disagree."""
    app, prom = env
    start, end, client = timed_load(app.url, 5)
    slow = {**client, "p50_ms": 500.0, "p95_ms": 520.0, "p99_ms": 540.0}
    comparison = side_by_side(prom, start, end, slow)
    assert [v.agrees for v in comparison.quantiles] == [False, False, False]
    assert any("p95: the client measured 520.0 ms" in w for w in comparison.warnings)
