"""Per-route stats through the real fault proxy: a route SLO (`route: /checkout`, preset envoy)
reads Envoy's series of that route, and they count every request the client saw on it, the
ones the fault filter answered (aborts) and delayed included, and none of the other routes.

Envoy's router charges its per-route stats (vhost.<vh>.route.<stat_prefix>.upstream_rq_*) only
for what it forwards: in one connection manager, a request the fault filter aborts never reaches
the router and a delay is spent before it (Envoy 1.40: 40 requests under 50 % abort counted 19,
all 2xx, and no delay). The proxy's front layer routes with per-route stats to an inner layer
that holds the fault filter, so the front's router sees the inner layer's answers as they are.
"""

import time
from collections import Counter

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from harness_common.faults.client import FaultClient
from stack.procs import wait_until
from tests.conftest import launch_proxy, start_static_server

pytestmark = pytest.mark.integration

N_CHECKOUT, N_OTHER, N_HOME = 80, 12, 6
DELAY_MS = 60


def samples(admin_url: str) -> list:
    """Envoy's /stats/prometheus, each sample named by its metric (the parser calls a
    counter's samples <name>_total)."""
    text = requests.get(admin_url + "/stats/prometheus", timeout=5).text
    return [s._replace(name=family.name) if family.type == "counter" else s
            for family in text_string_to_metric_families(text) for s in family.samples]


def route_counts(rows, route: str) -> Counter:
    """{status class: requests} of one route's per-route series."""
    return Counter({s.labels["envoy_response_code_class"]: int(s.value) for s in rows
                    if s.name == "envoy_vhost_route_upstream_rq_xx"
                    and s.labels.get("envoy_route") == route})


def histogram(rows, route: str) -> dict[str, float]:
    """{le: cumulative count} of one route's request-time histogram."""
    return {s.labels["le"]: s.value for s in rows
            if s.name == "envoy_vhost_route_upstream_rq_time_bucket"
            and s.labels.get("envoy_route") == route}


@pytest.fixture(scope="module")
def routed(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("routed")
    backend = start_static_server(workdir / "static", {
        "index.html": "home\n", "checkout/cart": "[]\n", "other/x": "x\n", "health": "ok\n"})
    proxy = launch_proxy(workdir / "proxy", backend.url, routes="/checkout,/other")
    yield proxy
    proxy.proc.stop()
    backend.proc.stop()


def test_a_routes_series_count_every_request_the_client_saw_aborted_and_delayed_ones_too(routed):
    faults = FaultClient(routed.control_url, routed.token)
    faults.set("error", status=503, probability=0.3, routes=["/checkout/*"], ttl_s=120)
    faults.set("latency", delay_ms=DELAY_MS, routes=["/checkout/*"], ttl_s=120)
    try:
        seen: Counter = Counter()
        fastest = 10.0
        with requests.Session() as http:
            for _ in range(N_CHECKOUT):
                start = time.monotonic()
                seen[http.get(routed.url + "/checkout/cart", timeout=10).status_code] += 1
                fastest = min(fastest, time.monotonic() - start)
            others = Counter(http.get(routed.url + "/other/x", timeout=10).status_code
                             for _ in range(N_OTHER))
            home = Counter(http.get(routed.url + "/", timeout=10).status_code
                           for _ in range(N_HOME))
    finally:
        faults.clear()
    # the client's truth: some aborted, some through, every one delayed
    assert set(seen) == {200, 503} and sum(seen.values()) == N_CHECKOUT
    assert fastest >= (DELAY_MS - 2) / 1000   # Envoy's timer fires up to ~1 ms early
    assert others == {200: N_OTHER} and home == {200: N_HOME}

    def flushed():  # counters are live; histograms are flushed every second
        rows = samples(routed.admin_url)
        done = histogram(rows, "/checkout").get("+Inf", 0) == N_CHECKOUT
        return rows if done else None
    rows = wait_until(flushed, 10, "the /checkout histogram counting every request",
                      interval=0.3)

    checkout = route_counts(rows, "/checkout")
    assert sum(checkout.values()) == N_CHECKOUT          # every request, aborted ones included
    assert checkout["5"] == seen[503] and checkout["2"] == seen[200]
    assert route_counts(rows, "/other") == {"2": N_OTHER}   # the other routes kept apart
    assert route_counts(rows, "/") == {"2": N_HOME}
    # the delay is in the route's latency: no request under the delay, all at +Inf
    buckets = histogram(rows, "/checkout")
    below = max(le for le in buckets if le != "+Inf" and float(le) < DELAY_MS)
    assert buckets[below] == 0 and buckets["+Inf"] == N_CHECKOUT
    # the whole listener still counts each request once (the inner layer is not counted twice)
    whole = Counter()
    for s in rows:
        if s.name == "envoy_http_downstream_rq_xx" and s.labels[
                "envoy_http_conn_manager_prefix"] != "admin":
            whole[s.labels["envoy_response_code_class"]] += int(s.value)
    assert sum(whole.values()) == N_CHECKOUT + N_OTHER + N_HOME
    assert whole["5"] == seen[503]


ROUTE_SPEC = """\
version: slo-harness/v1
service: shop
prometheus: {preset: envoy, job: envoy}
window: 30d
alerting: {enabled: false}
slos:
  - {name: checkout-errors, objective: ratio <= 1%, route: /checkout}
  - {name: other-errors, objective: ratio <= 1%, route: /other}
  - {name: all-errors, objective: ratio <= 1%}
"""


@pytest.mark.slow  # ~20 s: a 10.5 s window and its scrapes
def test_slo_check_judges_each_route_through_the_proxy_under_its_fault(routed, start_prometheus,
                                                                       tmp_path):
    """Real Prometheus and `slo check`: a 50 % abort on /checkout violates the /checkout SLO
    with the clients' error share, the /other SLO is met (and stands: its series see the
    proxy's faults, so the fault in the window is no reason to refuse it)."""
    import json

    from slo.cli import main
    from slo.judge.prom import Prometheus

    prom = start_prometheus({"envoy": [routed.admin_url.removeprefix("http://")]},
                            metrics_paths={"envoy": "/stats/prometheus"})
    http = requests.Session()
    for path in ("/checkout/cart", "/other/x", "/"):
        http.get(routed.url + path, timeout=5)
    wait_until(lambda: Prometheus(prom.url).query(
        'envoy_vhost_route_upstream_rq_xx{envoy_route="/other"}', time.time()), 15,
        "Prometheus's first scrape of the route series")
    time.sleep(1.5)
    faults = FaultClient(routed.control_url, routed.token)
    start = time.time()
    faults.set("error", status=503, probability=0.5, routes=["/checkout/*"], ttl_s=60)
    seen = Counter()
    try:
        while time.time() - start < 10.5:
            seen[http.get(routed.url + "/checkout/cart", timeout=5).status_code] += 1
            assert http.get(routed.url + "/other/x", timeout=5).status_code == 200
            time.sleep(0.03)
    finally:
        faults.clear()
    end = time.time()
    time.sleep(3)                      # the scrapes after the window's end (every 1 s)
    spec = tmp_path / "routes.yaml"
    spec.write_text(ROUTE_SPEC, encoding="utf-8")
    out = tmp_path / "routes.json"
    code = main(["check", "--spec", str(spec), "--prometheus", prom.url, "--start",
                 f"{start:.3f}", "--end", f"{end:.3f}", "--no-settle", "--json", str(out)])
    verdicts = {v["name"]: v for v in json.loads(out.read_text())["slos"]}
    assert code == 1
    assert {n: v["status"] for n, v in verdicts.items()} == {
        "checkout-errors": "violated", "other-errors": "met", "all-errors": "violated"}, verdicts
    share = seen[503] / sum(seen.values())
    assert 0 < share < 1
    assert abs(verdicts["checkout-errors"]["value"] - share) < 0.1, (verdicts, seen)
    assert verdicts["other-errors"]["value"] == 0
