"""A fault of the proxy in front of a service never reaches the service's own metrics: a met
verdict read from them over a window that held one is a claim about requests they never saw.

The user's case: `make stack TARGET_URL=…` with the service's own metrics in the spec, a 20%
503 fault in the schedule; the client saw 66 of 719 requests fail, `slo check` said
"api-errors 0.00% MET … all SLOs met (exit 0)"."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from loadtests.record import (
    EndpointStats,
    FaultWindow,
    RunRecord,
    RunStats,
    ScenarioInfo,
    save_record,
)
from slo.judge.checker import MET, NO_DATA, VIOLATED, judge
from slo.judge.outcome import decide
from slo.judge.unseen import refuse_unseen
from slo.judge.window import Window
from slo.spec import load_spec
from tests.helpers import FakeProm

REPO = Path(__file__).resolve().parent.parent
OWN = load_spec(REPO / "slo" / "slos.yaml")                  # the service's own metrics
PROXIED = load_spec(REPO / "slo" / "specs" / "envoy-proxied.yaml")   # the proxy's
START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def fault(backend="proxy", applied=True) -> dict:
    return {"kind": "error", "source": "schedule", "params": {"status": 503,
            "probability": 0.2, "ttl_s": 50}, "start_offset_s": 20.0, "end_offset_s": 40.0,
            "applied": applied, "backend": backend}


# a value that meets each kind of objective, and one that breaks it
MEETS = {"latency_percentile": 0.05, "latency_ratio": 1.0, "error_ratio": 0.0,
         "availability": 1.0, "request_rate": 20.0}
BREAKS = {"latency_percentile": 0.9, "latency_ratio": 0.5, "error_ratio": 0.5,
          "availability": 0.5, "request_rate": 0.1}


def verdicts(spec, status=MET):
    values = MEETS if status == MET else BREAKS
    return [judge(slo, value=values[slo.kind], total=1000, good=1000) for slo in spec.slos]


def test_a_met_verdict_on_the_services_metrics_under_a_proxy_fault_is_not_evaluated():
    before = verdicts(OWN)
    errors = next(v for v in before if v.name == "error-ratio")
    assert errors.status == MET
    after = {v.name: v for v in refuse_unseen(before, OWN.slos, [fault()])}
    ratio = after["error-ratio"]
    assert ratio.status == NO_DATA and ratio.value is None
    assert ratio.reason.startswith("the faults were injected by the fault proxy in front of the "
                                   "service (error (probability=0.2, status=503) from 20 s to "
                                   "40 s): a request the proxy failed or delayed never reached "
                                   "app_requests_total as such")
    assert ratio.reason.endswith("(they read 0.00%)"), ratio.reason
    assert "slo check --spec slo/specs/envoy-proxied.yaml" in ratio.reason
    assert after["latency-p95"].status == NO_DATA
    assert after["api-fast-requests"].status == after["home-availability"].status == NO_DATA
    assert after["throughput"].status == MET           # the service's rate is what it counts
    assert decide(list(after.values())).exit_code == 2


@pytest.mark.parametrize("faults", [[], [fault("app")], [fault(applied=False)],
                                    [{**fault(), "backend": None}]])
def test_faults_the_service_sees_or_none_leave_the_verdicts_alone(faults):
    after = refuse_unseen(verdicts(OWN), OWN.slos, faults)
    assert all(v.status == MET for v in after)


def test_the_proxys_own_metrics_see_its_faults_and_a_violation_stays_one():
    assert all(v.status == MET for v in refuse_unseen(verdicts(PROXIED), PROXIED.slos,
                                                      [fault()]))
    seen = refuse_unseen(verdicts(OWN, VIOLATED), OWN.slos, [fault()])
    assert [v.status for v in seen] == [VIOLATED] * len(seen)


def test_a_run_records_fault_windows_reach_the_window(tmp_path):
    stats = EndpointStats(method="", name="Aggregated", requests=10, failures=1,
                          failure_ratio=0.1, rps=2.0, avg_ms=5, min_ms=1, max_ms=9, p50_ms=4,
                          p95_ms=9, p99_ms=9)
    window = FaultWindow(kind="error", source="schedule", params={"status": 503}, start=START,
                         end=START.replace(second=30), start_offset_s=0, end_offset_s=30,
                         backend="proxy")
    record = RunRecord(run_id="r1", start=START, end=START.replace(minute=1), duration_s=60,
                       status="completed", target="http://127.0.0.1:10000",
                       scenario=ScenarioInfo(name="steady"), stats=RunStats(aggregated=stats),
                       faults=(window,))
    save_record(record, tmp_path / "r1")
    (found,) = Window.from_run(tmp_path / "r1").faults
    assert found["backend"] == "proxy" and found["kind"] == "error"


EXPERIMENT = """\
version: slo-harness/v1
kind: Experiment
name: proxied
spec: slos.yaml
target: proxy
phases:
  - name: calm
    duration: 20s
  - name: outage
    duration: 20s
    fault: {kind: error, params: {probability: 0.2, status: 503}}
    expect:
      slos: {error-ratio: met}
"""


@pytest.mark.parametrize(("backend", "phase", "expected"), [
    ("proxy", "outage", NO_DATA),      # the proxy's fault, the service's own metrics
    ("proxy", "calm", MET),            # no fault in the phase
    ("app", "outage", MET),            # a fault in the service: its metrics saw it
])
def test_an_experiment_phase_with_a_proxy_fault_is_no_met_claim(backend, phase, expected):
    from types import SimpleNamespace

    from slo.experiment.expectations import PhaseWindow, SloVerdict
    from slo.experiment.runner import ExperimentRunner
    from slo.experiment.schema import parse_experiment

    experiment = parse_experiment(EXPERIMENT, "proxied.yaml", REPO / "slo", OWN)
    window = PhaseWindow(next(p for p in experiment.phases if p.name == phase), 0.0, 20.0,
                         completed=True)
    fake = SimpleNamespace(spec=OWN, conn=SimpleNamespace(
        fault_api=SimpleNamespace(backend=backend)))
    judged = [SloVerdict("error-ratio", MET, 0.0, "ratio <= 1%", "ratio", "0.00%",
                         bad_ratio=0.0),
              SloVerdict("throughput", MET, 9.0, "rate >= 1/s", "1/s", "9.0/s")]
    (ratio, rate) = ExperimentRunner._unseen(fake, window, judged)
    assert ratio.status == expected and rate.status == MET
    if expected == NO_DATA:
        assert ratio.value is None and ratio.bad_ratio is None   # no "0 % of the budget spent"
        assert ratio.detail.startswith(
            "the faults were injected by the fault proxy in front of the service (error")
        assert "in phase outage" in ratio.detail and ratio.detail.endswith("(they read 0.00%)")


def test_a_proxy_delay_blinds_the_latency_slos_only():
    """Delayed requests do reach the service: its error count is right, its latency is not."""
    delay = {**fault(), "kind": "latency", "params": {"delay_ms": 400}}
    after = {v.name: v.status for v in refuse_unseen(verdicts(OWN), OWN.slos, [delay])}
    assert after == {"latency-p95": NO_DATA, "api-fast-requests": NO_DATA, "error-ratio": MET,
                     "home-availability": MET, "throughput": MET}


def test_a_refused_verdict_carries_no_figures_of_the_data_it_did_not_see():
    (ratio,) = [v for v in refuse_unseen(verdicts(OWN), OWN.slos, [fault()])
                if v.name == "error-ratio"]
    assert (ratio.value, ratio.good_fraction, ratio.total_events, ratio.margin) == (
        None, None, None, None)


def test_a_fault_set_outside_the_run_is_found_in_the_proxys_own_counters():
    """`make fault KIND=error`, then a load test without a schedule: the run record has no
    fault, but Envoy counted the requests it faulted."""
    from slo.judge.unseen import counted_faults

    prom = FakeProm({"error": 66.0, "latency": 0.0})
    window = Window(1_800_000_000.0, 1_800_000_060.0, "last 60s")
    found = counted_faults(prom, window)
    assert [(f["kind"], f["counted"]) for f in found] == [("error", 66.0)]
    ((expr, at),) = prom.asked
    assert at == window.end and "[60s]" in expr and 'job="envoy"' in expr
    after = {v.name: v for v in refuse_unseen(verdicts(OWN), OWN.slos, found)}
    assert after["error-ratio"].status == NO_DATA
    assert "(about 66 requests error-faulted by the proxy in the window " \
           "(envoy_http_fault_aborts_injected))" in after["error-ratio"].reason
    assert counted_faults(FakeProm({}), window) == []    # no proxy: nothing to say
