"""The client's percentiles beside the server's (slo.judge.clientside), without Prometheus:
Prometheus's interpolation reproduced, agreement within the bucket and its slack, the count
check only when the server's count is exact, and every output that shows them."""

import json
import math

import pytest

from slo.judge import outputs
from slo.judge.checker import CheckResult
from slo.judge.clientside import compare, interpolate
from slo.judge.histogram import Buckets
from slo.judge.outcome import decide
from slo.judge.window import Window

INF = math.inf
# 1000 requests: 500 under 0.1 s, 400 in (0.1, 0.2], 80 in (0.2, 0.5], 20 above.
BUCKETS = Buckets(((0.1, 500.0), (0.2, 900.0), (0.5, 980.0), (INF, 1000.0)))


@pytest.mark.parametrize(("q", "expected"), [
    (0.5, 0.1),                        # the rank is the first bucket's last request
    (0.7, 0.15),                       # 200 of the 400 inside (0.1, 0.2]
    (0.95, 0.2 + 0.3 * 50 / 80),       # 50 of the 80 inside (0.2, 0.5]
    (0.99, 0.5),                       # in the +Inf bucket: the highest finite bound
])
def test_interpolation_is_prometheus_histogram_quantile(q, expected):
    assert interpolate(BUCKETS, q) == pytest.approx(expected)


def test_no_observations_interpolate_to_nothing():
    assert interpolate(Buckets(((0.1, 0.0), (INF, 0.0))), 0.95) is None
    assert interpolate(Buckets(()), 0.5) is None


def client(p50, p95, p99, count=1000) -> dict:
    return {"count": count, "p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "max_ms": p99}


def test_a_client_value_inside_the_servers_bucket_agrees():
    found = compare(client(90.0, 380.0, 800.0), BUCKETS, "latency-p95")
    assert [v.agrees for v in found.quantiles] == [True, True, True]
    assert found.warnings == ()
    p95 = found.quantiles[1]
    assert (p95.low_s, p95.high_s) == (0.2, 0.5) and p95.server_s == pytest.approx(0.3875)


def test_the_client_may_lie_a_little_above_the_bucket_for_the_connection_time():
    # (0.2, 0.5]: slack max(2 ms, 5% of 500 ms) = 25 ms
    assert compare(client(90.0, 524.0, 800.0), BUCKETS).quantiles[1].agrees is True
    found = compare(client(90.0, 526.0, 800.0), BUCKETS)
    assert found.quantiles[1].agrees is False
    assert found.warnings == ("p95: the client measured 526.0 ms, outside the server's "
                              "200–500 ms bucket (server 387.5 ms): the server histogram does "
                              "not see these requests as the client does",)


def test_a_client_far_faster_than_the_server_disagrees_too():
    assert compare(client(90.0, 100.0, 800.0), BUCKETS).quantiles[1].agrees is False


def test_a_fast_handler_may_look_up_to_10ms_slower_from_the_client():
    fast = Buckets(((0.001, 600.0), (0.002, 900.0), (0.1, 990.0), (INF, 1000.0)))
    assert compare(client(4.4, 50.0, 120.0), fast).quantiles[0].agrees is True    # 0-1 ms
    assert compare(client(11.5, 50.0, 120.0), fast).quantiles[0].agrees is False


def test_a_missing_client_value_is_not_agreement():
    found = compare({"count": 0}, BUCKETS)
    assert [v.agrees for v in found.quantiles] == [None, None, None]
    assert found.warnings == ()


def test_counts_apart_warn_only_when_the_servers_count_is_exact():
    rough = compare(client(90.0, 380.0, 800.0, count=1500), BUCKETS)
    assert rough.warnings == ()            # increase() extrapolates: too rough to say
    exact = compare(client(90.0, 380.0, 800.0, count=1500), BUCKETS, server_count=1000.0)
    assert len(exact.warnings) == 1
    assert "the server histogram counted 1000 requests, the client sent 1500" in exact.warnings[0]
    assert compare(client(90.0, 380.0, 800.0, count=1090), BUCKETS,
                   server_count=1000.0).warnings == ()           # within 10%
    # A scrape's worth of requests at each edge of the window may fall on either side.
    edges = compare(client(90.0, 380.0, 800.0, count=1500), BUCKETS, server_count=1000.0,
                    edge_requests=400.0)
    assert edges.warnings == ()


def test_a_quantile_with_few_requests_above_it_is_not_compared():
    """72 requests: the p95 is the 4th slowest, moved by a scrape's worth at an edge."""
    few = Buckets(((0.1, 36.0), (0.2, 65.0), (0.5, 71.0), (INF, 72.0)))
    found = compare(client(100.0, 900.0, 900.0, count=72), few)
    assert [v.agrees for v in found.quantiles] == [True, None, None]
    assert found.warnings == ()
    assert found.rows()[1][3] == "too few requests to compare (fewer than 10 above it)"
    assert found.as_dict()["quantiles"][1]["too_few"] is True


NONE_JUDGED = decide([])   # the outcome of result()'s verdicts


def result() -> CheckResult:
    return CheckResult(service="demo", spec="slos.yaml", prometheus="http://127.0.0.1:9",
                       window=Window(0.0, 60.0, "run r1"), verdicts=[], notes=[],
                       evaluated_in_s=0.01)


def test_every_output_shows_the_client_beside_the_server(capsys):
    found = compare(client(90.0, 526.0, 800.0), BUCKETS, "latency-p95")
    data = json.loads(outputs.to_json(result(), NONE_JUDGED, None, found))["client_latency"]
    assert data["slo"] == "latency-p95" and data["client_count"] == 1000
    assert data["quantiles"][1] == {"q": 0.95, "client_s": 0.526, "server_s": 0.3875,
                                    "server_bounds": [0.2, 0.5], "agrees": False,
                                    "too_few": False}
    assert data["quantiles"][2]["server_bounds"] == [0.5, "+Inf"]
    assert len(data["warnings"]) == 1
    md = outputs.to_markdown(result(), NONE_JUDGED, None, found)
    assert "#### Client vs server latency (latency-p95)" in md
    assert "| p95 | 526.0 ms | 387.5 ms (200–500 ms bucket) | DISAGREES |" in md
    assert "> ⚠️ p95: the client measured 526.0 ms" in md
    from rich.console import Console

    console = Console(width=200, force_terminal=False)
    outputs.print_table(result(), NONE_JUDGED, console, found)
    out = capsys.readouterr().out
    assert "p95: client 526.0 ms, server 387.5 ms (200–500 ms bucket): DISAGREES" in out
    assert "warning: p95: the client measured 526.0 ms" in out


def test_without_a_run_record_nothing_is_shown():
    assert "client_latency" not in json.loads(outputs.to_json(result(), NONE_JUDGED))
    assert "Client vs server" not in outputs.to_markdown(result(), NONE_JUDGED)


def test_a_histogram_is_built_once_per_window_not_per_request(monkeypatch):
    """Each HdrHistogram is ~172 KiB: building one per response (setdefault's default is
    evaluated every call) made observe() cost 137 µs instead of 3 µs."""
    from loadtests import latency as module

    built = []
    real = module._histogram
    monkeypatch.setattr(module, "_histogram", lambda: built.append(1) or real())
    client = module.ClientLatency([module.PhaseSpan("only", 0.0, 60.0)])
    client.reset(1000.0)
    for i in range(200):
        client.observe(10.0 + i, 1000.0 + i / 10)
    assert len(built) == 2                      # the run's and the phase's
    assert client.summary()["phases"]["only"]["count"] == 200


@pytest.mark.parametrize("server_count", [None, 0.0])
def test_a_server_that_counted_nothing_is_a_warning_not_silence(server_count):
    """The client sent requests, the server histogram has no series (or counted none): every
    quantile is '-', and that must be said, exactly or estimated."""
    empty = Buckets.from_samples([], scale_s=1.0)
    comparison = compare(client(90.0, 380.0, 800.0, count=500), empty, server_count=server_count,
                         edge_requests=1000.0)
    assert all(v.agrees is None for v in comparison.quantiles)
    (warning,) = comparison.warnings
    assert warning.startswith("the server histogram counted no request in this window, the "
                              "client sent 500")


@pytest.mark.parametrize("server_count", [1.0, 1500.0, 2900.0])
def test_a_window_of_two_scrapes_or_less_says_its_counts_cannot_be_compared(server_count):
    """edge = 2 scrapes' worth of the client's requests: in a window of 2 scrapes it is all of
    them, so any server count from 1 to twice the client's would pass as 'the same requests'."""
    short = compare(client(90.0, 380.0, 800.0, count=1500), BUCKETS, server_count=server_count,
                    edge_requests=1500.0)
    (warning,) = [w for w in short.warnings if not w.startswith("p")]
    assert warning.startswith("the window spans 2 scrape intervals or less")
    assert "client's 1500" in warning and "cannot be told" in warning
    longer = compare(client(90.0, 380.0, 800.0, count=1500), BUCKETS, server_count=1500.0,
                     edge_requests=750.0)               # 4 scrapes: the counts are compared
    assert [w for w in longer.warnings if not w.startswith("p")] == []
