"""The SLO tab never shows green over failures it cannot see (issue 21 item 1).

The user's case: a proxy fault (300 ms, 20 % 503 on /checkout); the tab showed
`checkout-errors 0.00% met`, `p95 233ms met` while Locust counted 49 failures and a 450 ms p95.
The old tab judged the live value by itself and printed `error-ratio 0.00% pass` with the proxy
fault listed under it. Now it asks slo.judge.judgement.judge_window, as `slo check` does."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from loadtests.chaos import ChaosController
from slo.alerting.burnrate import PROFILES
from slo.cockpit.snapshot import build_snapshot, live_groups
from slo.cockpit.tab import STATUS_TEXT, SloTab, live_fault, window_faults
from slo.judge.clientside import compare
from slo.judge.histogram import Buckets
from slo.judge.judgement import Observations, Observed
from slo.spec import load_spec

REPO = Path(__file__).resolve().parent.parent
OWN = load_spec(REPO / "slo" / "slos.yaml")                       # the service's own metrics
PROXIED = load_spec(REPO / "slo" / "specs" / "envoy-proxied.yaml")  # preset envoy
FAST = PROFILES["fast"]
NOW = 1_800_000_100.0
# what the service's metrics read while the proxy failed a fifth of /checkout: all fine
SERVICE = {"latency-p95": 0.233, "error-ratio": 0.0, "api-fast-requests": 1.0,
           "home-availability": 1.0, "throughput": 9.0}
# the fault API's answer while the proxy's fault is on (ChaosController.list_faults)
PROXY_ON = {"kind": "error", "backend": "proxy", "status": 503, "probability": 0.2,
            "routes": ["/checkout"], "started_at": "x", "expires_at": "y", "remaining_s": 40.0}
APP_ON = {**PROXY_ON, "backend": "app"}
LOCUST = {"count": 245, "failures": 49, "p50_ms": 300.0, "p95_ms": 450.0, "p99_ms": 480.0}


def snapshot(spec=OWN, values=SERVICE, faults=(), client=None, truth=None):
    observations = {w: Observations(tuple(Observed(n, value=values[n], total=1000.0)
                                          for n in names), faults=faults, client=client)
                    for w, names in live_groups(spec, FAST).items()}
    return build_snapshot(spec, FAST, NOW, observations=observations, bad={}, rules=None,
                          found=[], faults=[], prometheus_error=None,
                          client={w: truth for w in live_groups(spec, FAST)})


def statuses(doc) -> dict:
    return {s["name"]: s["status"] for s in doc["slos"]}


def test_a_proxy_fault_makes_every_slo_on_the_services_metrics_blind_not_met():
    doc = snapshot(faults=(live_fault(PROXY_ON),), truth=LOCUST)
    assert statuses(doc) == {"latency-p95": "blind", "api-fast-requests": "blind",
                             "error-ratio": "blind", "home-availability": "blind",
                             "throughput": "pass"}      # the service's own rate is what it is
    errors = next(s for s in doc["slos"] if s["name"] == "error-ratio")
    reason = errors["reason"]
    assert "error (probability=0.2, routes=['/checkout'], status=503) on now at the proxy" \
        in reason                                                   # which fault, which backend
    assert "never reached app_requests_total as such" in reason     # why the metrics miss it
    assert "preset `envoy`" in reason and "slo/specs/envoy-proxied.yaml" in reason  # the fix
    assert "(they read 0.00%)" in reason and errors["value"] is None
    assert errors["client"]["shown"] == "245 requests, 49 failed (20.00%), p95 450 ms"
    assert errors["budget"]["blind"] and "blind" in errors["budget"]["left_shown"]


def test_the_tabs_table_says_blind_with_the_reason_never_met():
    tab = SloTab(_Canned(snapshot(faults=(live_fault(PROXY_ON),))))
    rows = {r["slo"].removesuffix(" (key)"): r["status"] for r in tab.rows()}
    assert rows["error-ratio"].startswith(STATUS_TEXT["blind"] + ": the faults were injected")
    assert not any(r.startswith(STATUS_TEXT["pass"]) for n, r in rows.items()
                   if n != "throughput")


def test_a_fault_the_proxy_counted_in_the_window_blinds_though_no_one_lists_it():
    counted = {"kind": "error", "backend": "proxy", "applied": True, "counted": 49.0,
               "metric": "envoy_http_fault_aborts_injected"}
    doc = snapshot(faults=(counted,))
    assert statuses(doc)["error-ratio"] == "blind"
    assert "about 49 requests error-faulted by the proxy" in doc["slos"][2]["reason"]


def test_the_proxys_downstream_metrics_see_its_fault_and_are_judged():
    values = {"latency-p95": 0.45, "error-ratio": 0.2, "throughput": 12.0}
    doc = snapshot(PROXIED, values, faults=(live_fault(PROXY_ON),))
    assert statuses(doc) == {"latency-p95": "fail", "error-ratio": "fail", "throughput": "pass"}


@pytest.mark.parametrize(("faults", "why"), [
    ((live_fault(APP_ON),), "the app's own fault: its metrics count every faulted request"),
    ((), "no fault in the window (one that ended before it is neither listed nor counted)"),
], ids=["app fault", "no fault"])
def test_faults_the_service_sees_leave_its_verdicts_judged(faults, why):
    # 233 ms: over the 200 ms warning line, under the 300 ms objective
    assert statuses(snapshot(faults=faults)) == {
        "latency-p95": "warn", "api-fast-requests": "pass", "error-ratio": "pass",
        "home-availability": "pass", "throughput": "pass"}, why


def test_an_app_fault_the_service_counts_is_violated_not_blind():
    doc = snapshot(values={**SERVICE, "error-ratio": 0.2}, faults=(live_fault(APP_ON),))
    assert statuses(doc)["error-ratio"] == "fail"


def test_a_gap_between_locusts_truth_and_the_server_histogram_is_a_warning_not_met():
    """judge_window's client comparison: Locust sent 245 requests with a 450 ms p95, the
    server histogram counted 196 with its p95 in the 200-250 ms bucket."""
    buckets = Buckets(((0.1, 20.0), (0.2, 120.0), (0.25, 196.0), (float("inf"), 196.0)))
    gap = compare(LOCUST, buckets, "latency-p95", server_count=196.0)
    assert gap.warnings
    doc = snapshot(values={**SERVICE, "latency-p95": 0.23}, client=gap, truth=LOCUST)
    p95 = doc["slos"][0]
    assert (p95["name"], p95["status"]) == ("latency-p95", "doubt")
    assert "the client sent 245" in p95["reason"]
    row = SloTab(_Canned(doc)).rows()[0]
    assert row["status"].startswith(STATUS_TEXT["doubt"])
    met = snapshot(values={**SERVICE, "latency-p95": 0.15}, client=gap)["slos"][0]
    assert met["status"] == "doubt"                          # a met p95 too: never green
    assert snapshot(values={**SERVICE, "latency-p95": 0.15})["slos"][0]["status"] == "pass"


class _Canned:
    spec = OWN

    def __init__(self, doc):
        self.doc = doc

    def snapshot(self):
        return self.doc


class _Faults:
    backend = "proxy"

    def __init__(self, on):
        self.on = on

    def list(self):
        return list(self.on)

    def set(self, kind, **params):
        return {"kind": kind, **params}


def test_the_tabs_faults_are_those_on_now_and_the_ledgers_inside_the_window():
    """A fault this Locust set that ended before the window is not the window's; one that
    ended inside it is; one on now comes from the fault API with its backend."""
    from harness_common.faults.model import parse_fault

    clock = [datetime(2027, 1, 1, 12, 0, 0, tzinfo=UTC)]
    on: list[dict] = []
    chaos = ChaosController(lambda: _Faults(on), clock=lambda: clock[0])
    chaos.set_fault(parse_fault("error", {"status": 503, "probability": 0.2,
                                          "ttl_s": 10}), "web-ui")   # 12:00:00-12:00:10
    clock[0] += timedelta(seconds=60)
    start, end = clock[0].timestamp() - 20, clock[0].timestamp()
    assert window_faults(chaos, start, end) == []                       # ended before
    assert window_faults(chaos, start - 45, end)[0]["backend"] == "proxy"  # ended inside
    on.append({"kind": "latency", "delay_ms": 300, "remaining_s": 12.0})
    (live,) = window_faults(chaos, start, end)
    assert live == {"kind": "latency", "params": {"delay_ms": 300}, "backend": "proxy",
                    "applied": True, "remaining_s": 12.0}


def test_locusts_truth_of_a_window_counts_its_seconds_and_leaves_out_the_protected_paths():
    """Locust's per-second counts (what its Statistics tab adds up) over [start, end), and the
    client latency's recent slots for the percentiles."""
    from types import SimpleNamespace

    from loadtests.latency import ClientLatency
    from loadtests.recent import window_truth

    def entry(name, reqs, fails):
        return SimpleNamespace(name=name, num_reqs_per_sec=reqs, num_fail_per_sec=fails)

    t0 = 1_800_000_000
    latency = ClientLatency()
    for i in range(40):                           # 2 a second for 20 s: 300 ms, then 450 ms
        latency.observe(300.0 if i < 30 else 450.0, t0 + i / 2)
    latency.observe(9000.0, t0 - 30)              # long before the window
    env = SimpleNamespace(slo_client_latency=latency, stats=SimpleNamespace(entries={
        ("/checkout", "GET"): entry("/checkout", {t0 + s: 2 for s in range(-30, 20)},
                                    {t0 + 3: 1, t0 + 19: 1, t0 - 30: 5}),
        ("/health", "GET"): entry("/health", {t0 + s: 1 for s in range(20)}, {t0 + 1: 1})}))
    truth = window_truth(env, t0, t0 + 20)
    assert (truth["count"], truth["failures"]) == (40, 2)
    assert truth["p50_ms"] == pytest.approx(300, rel=0.01)
    assert truth["p99_ms"] == pytest.approx(450, rel=0.01)
    assert truth["max_ms"] < 1000                 # the 9 s response is outside the window
    assert window_truth(env, t0 + 100, t0 + 120) is None


def test_a_workers_latency_joins_the_recent_slot_of_when_the_master_heard_it():
    from loadtests.latency import ClientLatency

    worker, master = ClientLatency(), ClientLatency()
    worker.observe(120.0, 1_800_000_001)
    master.merge(worker.drain(), at=1_800_000_011)
    assert master.recent(1_800_000_010, 1_800_000_015)["count"] == 1
    assert master.recent(1_800_000_000, 1_800_000_005)["count"] == 0


@pytest.mark.parametrize("seen", [
    Observed("error-ratio", value=0.0, total=1000.0),
    Observed("error-ratio", value=0.3, total=1000.0),
    Observed("error-ratio", value=0.007, total=1000.0),
    Observed("error-ratio", value=0.0, total=1000.0, late="the data begins 12 s late"),
    Observed("error-ratio", problems=("app_requests_total has no label status",)),
    Observed("error-ratio", value=None, total=0.0),
], ids=["met", "violated", "warn", "late", "a missing label", "no events"])
@pytest.mark.parametrize("faults", [(), (live_fault(PROXY_ON),)], ids=["", "proxy fault"])
def test_the_tab_and_slo_check_cannot_disagree_on_the_same_observations(seen, faults):
    """The tab's status is judge_window's verdict for the same window, status and reason."""
    from slo.cockpit.snapshot import live_window, live_window_s
    from slo.judge.judgement import Request, judge_window

    seconds = live_window_s(OWN.slo("error-ratio"), FAST)
    observations = Observations((seen,), faults=faults)
    (verdict,) = judge_window(OWN, observations, live_window(NOW, seconds),
                              Request(only=("error-ratio",))).verdicts
    doc = build_snapshot(OWN, FAST, NOW, observations={seconds: observations}, bad={},
                         rules=None, found=[], faults=[], prometheus_error=None)
    shown = next(s for s in doc["slos"] if s["name"] == "error-ratio")
    expected = ("blind" if verdict.blind else {"met": "pass", "warn": "warn",
                                               "violated": "fail"}.get(verdict.status,
                                                                       "no_data"))
    assert shown["status"] == expected
    assert shown["reason"] == (verdict.reason if expected in ("blind", "no_data") else None)
    assert shown["status"] != "pass" or not faults      # never green over a proxy fault
