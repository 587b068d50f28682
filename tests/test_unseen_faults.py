"""A fault of the proxy in front of a service never reaches the service's own metrics: a met
verdict read from them over a window that held one is a claim about requests they never saw.

The user's case: `make stack TARGET_URL=…` with the service's own metrics in the spec, a 20%
503 fault in the schedule; the client saw 66 of 719 requests fail, `slo check` said
"api-errors 0.00% MET … all SLOs met (exit 0)"."""

import json
import time
from datetime import UTC, datetime, timedelta
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
from slo.cli import main
from slo.judge.checker import MET, NO_DATA, VIOLATED, judge
from slo.judge.outcome import decide
from slo.judge.prom import Prometheus
from slo.judge.unseen import refuse_unseen
from slo.judge.window import Window
from slo.spec import load_spec
from tests.helpers import FakeProm, fake_prometheus

REPO = Path(__file__).resolve().parent.parent
OWN = load_spec(REPO / "slo" / "slos.yaml")                  # the service's own metrics
PROXY_SPEC_PATH = Path("slo") / "specs" / "envoy-proxied.yaml"
PROXIED = load_spec(REPO / PROXY_SPEC_PATH)                  # the proxy's
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


@pytest.mark.parametrize(("backend", "phase", "counted", "expected"), [
    ("proxy", "outage", {}, NO_DATA),      # the proxy's fault, the service's own metrics
    ("proxy", "calm", {}, MET),            # no fault in the phase
    ("app", "outage", {}, MET),            # a fault in the service: its metrics saw it
    ("proxy", "calm", {("proxy", "error"): 40.0}, NO_DATA),   # one set by hand meanwhile
    ("app", "outage", {("proxy", "error"): 40.0}, NO_DATA),   # the same, beside the run's
])
def test_an_experiment_phase_with_a_proxy_fault_is_no_met_claim(backend, phase, counted,
                                                                expected):
    from slo.experiment.expectations import PhaseWindow
    from slo.experiment.phase_judge import phase_window, recorded_faults, slo_verdicts
    from slo.experiment.schema import parse_experiment
    from slo.judge.judgement import Observations, Observed, Request, judge_window
    from slo.judge.unseen import window_faults

    experiment = parse_experiment(EXPERIMENT, "proxied.yaml", REPO / "slo", OWN)
    window = PhaseWindow(next(p for p in experiment.phases if p.name == phase),
                         1_800_000_000.0, 1_800_000_020.0, completed=True)
    prom = FakeProm(counted)
    judged = phase_window(window.start + 5, window.end, recorded_faults(window.phase, backend))
    faults = window_faults(prom, judged, judged.faults)    # what observe() reads
    assert [at for _, at in prom.asked] == [judged.end]     # the counters, always
    seen = Observations((Observed("error-ratio", 0.0, 1000.0, 1000.0),
                         Observed("throughput", 9.0, 135.0)), faults=faults)
    judgement = judge_window(OWN, seen, judged, Request(only=("error-ratio", "throughput")))
    (ratio, rate) = slo_verdicts(judgement)
    assert ratio.status == expected and rate.status == MET
    if expected == NO_DATA:
        assert ratio.value is None and ratio.bad_ratio is None   # no "0 % of the budget spent"
        assert ratio.detail.startswith(
            "the faults were injected by the fault proxy in front of the service (")
        assert ratio.detail.endswith("(they read 0.00%)")
    if expected == NO_DATA and not counted:
        assert "error (probability=0.2, status=503) in phase outage" in ratio.detail


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

    prom = FakeProm({("proxy", "error"): 66.0, ("proxy", "latency"): 0.0})
    window = Window(1_800_000_000.0, 1_800_000_060.0, "last 60s")
    found = counted_faults(prom, window)
    assert [(f["kind"], f["counted"]) for f in found] == [("error", 66.0)]
    ((expr, at),) = prom.asked
    assert at == window.end and "[60s]" in expr and 'job="envoy"' in expr
    assert "app_faults_injected_total" in expr
    after = {v.name: v for v in refuse_unseen(verdicts(OWN), OWN.slos, found)}
    assert after["error-ratio"].status == NO_DATA
    assert "(about 66 requests error-faulted by the proxy in the window " \
           "(envoy_http_fault_aborts_injected))" in after["error-ratio"].reason
    assert counted_faults(FakeProm({}), window) == []    # no proxy: nothing to say


# ---- one source of truth: the run record's faults and the backends' counters ---------------

def test_the_faults_of_a_window_are_the_records_and_the_counters_merged_once():
    """Each backend and kind once: a recorded fault (when and how it was set) wins over the
    counters' figure for the same backend and kind; a fault only the counters saw is added."""
    from slo.judge.unseen import merge_faults

    app, proxy = fault("app"), fault("proxy")
    counted = {"proxy-error": {"kind": "error", "backend": "proxy", "applied": True,
                               "metric": "envoy_http_fault_aborts_injected", "counted": 63.0},
               "app-error": {"kind": "error", "backend": "app", "applied": True,
                             "metric": "app_faults_injected_total", "counted": 12.0}}
    assert merge_faults([proxy], [counted["proxy-error"]]) == [proxy]
    assert merge_faults([app], [counted["proxy-error"]]) == [app, counted["proxy-error"]]
    assert merge_faults([app], [counted["app-error"]]) == [app]
    assert merge_faults([fault(applied=False)], [counted["proxy-error"]]) == [
        counted["proxy-error"]]
    assert merge_faults([], []) == []


def own_metrics_answer(counted: dict):
    """A Prometheus over the demo app's metrics, healthy (0 errors of 273 requests), whose
    fault counters say `counted` ({(backend, kind): requests}) in the window."""
    def answer(query: str):
        if "envoy_http_fault" in query or "app_faults_injected_total" in query:
            return [({"backend": b, "kind": k}, v) for (b, k), v in counted.items()]
        if "timestamp(" in query:
            return [({}, time.time() - 3600)]
        if query.startswith("count("):
            return []
        if "app_requests_total" in query:
            return [({}, 0.0 if "status=~" in query else 273.0)]
        return []
    return answer


OWN_LABELS = {"job": ["portfolio-app"], "instance": ["a:1"], "endpoint": ["/api/projects"],
              "method": ["GET"], "status": ["200", "503"]}


def app_fault_record(tmp_path: Path) -> Path:
    """A run record of the last two minutes whose schedule set an error fault in the app."""
    now = datetime.now(UTC).replace(microsecond=0)
    start, end = now - timedelta(seconds=150), now - timedelta(seconds=30)
    stats = EndpointStats(method="", name="Aggregated", requests=273, failures=63,
                          failure_ratio=0.23, rps=2.3, avg_ms=5, min_ms=1, max_ms=9, p50_ms=4,
                          p95_ms=9, p99_ms=9)
    window = FaultWindow(kind="error", source="schedule", params={"status": 500,
                         "probability": 0.05}, start=start, end=start + timedelta(seconds=30),
                         start_offset_s=0, end_offset_s=30, backend="app")
    record = RunRecord(run_id="r-app", start=start, end=end, duration_s=120, status="completed",
                       target="http://127.0.0.1:10000", scenario=ScenarioInfo(name="steady"),
                       stats=RunStats(aggregated=stats), faults=(window,))
    return save_record(record, tmp_path / "r-app")


@pytest.mark.parametrize("source", ["--run", "--start/--end"])
def test_a_proxy_fault_beside_an_app_fault_in_the_record_is_still_seen(source, tmp_path,
                                                                      capsys):
    """issue 20, 4a: a run record holding an app fault, and a 50 % 503 fault set on the proxy
    by hand in the same window (63 of 273 client requests failed). `--run` judged the
    service's own metrics MET: the proxy's counters were asked only when the record held no
    fault. The same window by --start/--end was exit 2. Both ask both now."""
    path = app_fault_record(tmp_path)
    run = Window.from_run(path)
    window = (["--run", str(path)] if source == "--run"
              else ["--start", run.iso("start"), "--end", run.iso("end")])
    counters = own_metrics_answer({("proxy", "error"): 63.0, ("app", "error"): 9.0})
    with fake_prometheus(counters, OWN_LABELS) as url:
        out = tmp_path / "result.json"
        code = main(["check", "--prometheus", url, *window, "--no-settle", "--slo",
                     "error-ratio", "--json", str(out)])
    (ratio,) = json.loads(out.read_text())["slos"]
    assert (code, ratio["status"]) == (2, "no_data"), ratio
    assert "about 63 requests error-faulted by the proxy in the window" in ratio["reason"]


def test_the_same_window_without_a_proxy_fault_is_judged(tmp_path):
    """The sibling: the app's own fault alone is seen by the app's metrics: met."""
    path = app_fault_record(tmp_path)
    with fake_prometheus(own_metrics_answer({("app", "error"): 9.0}), OWN_LABELS) as url:
        code = main(["check", "--prometheus", url, "--run", str(path), "--no-settle", "--slo",
                     "error-ratio"])
    assert code == 0


UPSTREAM = """\
version: slo-harness/v1
service: proxied
prometheus:
  preset: envoy
  job: envoy
slos:
  - name: upstream-errors
    objective: ratio <= 1%
    events:
      bad: sum(rate(envoy_cluster_upstream_rq_xx{envoy_cluster_name="upstream",
        envoy_response_code_class="5"}[{{.window}}]))
      total: sum(rate(envoy_cluster_upstream_rq_xx{envoy_cluster_name="upstream"}[{{.window}}]))
  - name: upstream-p95
    objective: p(95) <= 250ms
    histogram: envoy_cluster_upstream_rq_time{envoy_cluster_name="upstream"}
    duration_unit: milliseconds
"""


@pytest.mark.parametrize(("metric", "sees"), [
    ("envoy_http_downstream_rq_xx", True),            # the connection manager: every answer
    ("envoy_http_downstream_rq_time_count", True),
    ("envoy_listener_http_downstream_rq_xx", True),   # the listener's view of the same
    ("envoy_cluster_upstream_rq_xx", False),          # only what was forwarded upstream
    ("envoy_cluster_upstream_rq_time_count", False),
    ("envoy_http_rq_total", False),                   # the router's: aborts never reach it
    # the fault proxy's front routes (a stat_prefix each) forward to its fault layer, so
    # their router counts the fault filter's answers and delays (tests/test_proxy_route_stats)
    ("envoy_vhost_route_upstream_rq_xx", True),
    ("envoy_vhost_route_upstream_rq_time_count", True),
    ("envoy_vhost_vcluster_upstream_rq_xx", False),
    ("app_requests_total", False),
])
def test_only_envoys_downstream_stats_see_the_proxys_faults(metric, sees):
    """Measured on Envoy 1.40 under a 100 % abort fault (20 requests) and a 300 ms delay (4):
    envoy_http_downstream_rq_xx and envoy_listener_http_downstream_rq_xx counted the 20 503s
    and envoy_http_downstream_rq_time the delay; envoy_cluster_upstream_rq_* and
    envoy_http_rq_total counted only the 4 forwarded requests, upstream_rq_time without the
    delay."""
    from slo.judge.unseen import sees_proxy_faults

    spec = load_spec_text(f"""\
        version: slo-harness/v1
        service: s
        prometheus: {{job: envoy}}
        slos:
          - name: s
            objective: ratio <= 1%
            events:
              bad: 'sum(rate({metric}{{code="503"}}[{{{{.window}}}}]))'
              total: 'sum(rate({metric}[{{{{.window}}}}]))'
        """)
    assert sees_proxy_faults(spec.slos[0]) is sees


def load_spec_text(text: str):
    import textwrap

    from slo.spec import parse_spec

    return parse_spec(textwrap.dedent(text), "spec.yaml")


@pytest.mark.parametrize("source", ["--run", "--start/--end"])
def test_an_slo_on_envoys_upstream_metrics_under_a_proxy_fault_is_not_met(source, tmp_path):
    """issue 20, 4b: an SLO on envoy_cluster_upstream_rq_xx during a proxy abort fault was MET
    with --run and --start/--end: every envoy_* metric was trusted as "the proxy's own", but
    the requests the fault filter answered never went upstream."""
    spec = tmp_path / "upstream.yaml"
    spec.write_text(UPSTREAM, encoding="utf-8")
    now = datetime.now(UTC).replace(microsecond=0)
    start, end = now - timedelta(seconds=150), now - timedelta(seconds=30)
    if source == "--run":
        stats = EndpointStats(method="", name="Aggregated", requests=273, failures=63,
                              failure_ratio=0.23, rps=2.3, avg_ms=5, min_ms=1, max_ms=9,
                              p50_ms=4, p95_ms=9, p99_ms=9)
        abort = FaultWindow(kind="error", source="schedule", params={"status": 503,
                            "probability": 0.5}, start=start, end=end, start_offset_s=0,
                            end_offset_s=120, backend="proxy")
        record = RunRecord(run_id="r-proxy", start=start, end=end, duration_s=120,
                           status="completed", target="http://127.0.0.1:10000",
                           scenario=ScenarioInfo(name="steady"), stats=RunStats(aggregated=stats),
                           faults=(abort,))
        window = ["--run", str(save_record(record, tmp_path / "r-proxy"))]
    else:
        window = ["--start", start.isoformat(), "--end", end.isoformat()]

    def answer(query: str):
        if "envoy_http_fault" in query:
            return [({"backend": "proxy", "kind": "error"}, 63.0)]
        if "timestamp(" in query:
            return [({}, time.time() - 3600)]
        if "histogram_quantile" in query:
            return [({}, 0.004)]
        if query.startswith("sum by (le)"):
            return [({"le": "5"}, 210.0), ({"le": "250"}, 210.0), ({"le": "+Inf"}, 210.0)]
        if query.startswith("count("):
            return []
        if "envoy_cluster_upstream_rq_xx" in query:
            return [({}, 0.0 if 'class="5"' in query else 210.0)]
        return []

    labels = {"job": ["envoy"], "instance": ["a:1"], "envoy_cluster_name": ["upstream"],
              "envoy_response_code_class": ["2", "5"], "le": ["5", "250", "+Inf"]}
    with fake_prometheus(answer, labels) as url:
        out = tmp_path / "result.json"
        code = main(["check", "--spec", str(spec), "--prometheus", url, *window, "--no-settle",
                     "--json", str(out)])
    verdicts = {v["name"]: v for v in json.loads(out.read_text())["slos"]}
    assert {n: v["status"] for n, v in verdicts.items()} == {
        "upstream-errors": "no_data", "upstream-p95": "no_data"}, verdicts
    assert code == 2
    assert "never reached envoy_cluster_upstream_rq_xx as such" in \
        verdicts["upstream-errors"]["reason"]


@pytest.mark.integration
def test_a_real_abort_fault_is_unseen_by_envoys_cluster_stats_and_seen_downstream(
        static_server, start_proxy, start_prometheus, tmp_path):
    """Envoy 1.40 and Prometheus 2.42 for real: a 50 % 503 fault on the proxy for 10 s.
    Envoy's cluster stats count no 5xx (the faulted requests never went upstream), so the
    upstream SLO is no claim (exit 2, the proxy's counters named); the downstream spec
    (slo/specs/envoy-proxied.yaml) sees the 503s and is violated."""
    import requests

    from harness_common.faults.client import FaultClient
    from stack.procs import wait_until

    proxy = start_proxy(static_server.url)
    prom = start_prometheus({"envoy": [proxy.admin_url.removeprefix("http://")]},
                            metrics_paths={"envoy": "/stats/prometheus"})
    faults = FaultClient(proxy.control_url, proxy.token, backend="proxy")
    session = requests.Session()
    for _ in range(5):
        session.get(proxy.url + "/", timeout=5)
    wait_until(lambda: Prometheus(prom.url).scalar(
        'sum(envoy_cluster_upstream_rq_xx{job="envoy",envoy_cluster_name="upstream"})',
        time.time()) == 5, 15,
        "Prometheus's first scrape of Envoy's cluster stats")
    time.sleep(1)
    start = time.time()
    faults.set("error", status=503, probability=0.5, ttl_s=60)
    codes = []
    while time.time() - start < 10.5:
        codes.append(session.get(proxy.url + "/", timeout=5).status_code)
        time.sleep(0.05)
    faults.clear()
    end = time.time()
    time.sleep(3)                      # the scrapes after the window's end (every 1 s)
    assert 0 < codes.count(503) < len(codes)
    window = ["--start", f"{start:.3f}", "--end", f"{end:.3f}", "--no-settle"]
    spec = tmp_path / "upstream.yaml"
    spec.write_text(UPSTREAM, encoding="utf-8")
    out = tmp_path / "upstream.json"
    code = main(["check", "--spec", str(spec), "--prometheus", prom.url, *window, "--slo",
                 "upstream-errors", "--json", str(out)])
    (upstream,) = json.loads(out.read_text())["slos"]
    assert (code, upstream["status"]) == (2, "no_data"), upstream
    assert "requests error-faulted by the proxy in the window" in upstream["reason"]
    out = tmp_path / "downstream.json"
    code = main(["check", "--spec", str(REPO / PROXY_SPEC_PATH), "--prometheus", prom.url,
                 *window, "--slo", "error-ratio", "--json", str(out)])
    (downstream,) = json.loads(out.read_text())["slos"]
    assert (code, downstream["status"]) == (1, "violated"), downstream
    assert downstream["value"] == pytest.approx(codes.count(503) / len(codes), abs=0.1)


def test_no_data_under_a_proxy_fault_names_the_fault_before_the_metrics_own_answer():
    """A new user's walk: a 100 % proxy abort left the service no request to count, and the
    experiment's phase said only the metrics' "no data" answer, never the proxy's fault."""
    own = judge(next(s for s in OWN.slos if s.name == "error-ratio"), value=None, total=0)
    assert own.status == NO_DATA and own.reason
    (after,) = refuse_unseen([own], OWN.slos, [fault()])
    assert after.status == NO_DATA and after.blind
    assert after.reason.startswith("the faults were injected by the fault proxy in front of the "
                                   "service (error (probability=0.2, status=503)"), after.reason
    assert after.reason.endswith(f"; without the fault: {own.reason}"), after.reason
    (unfaulted,) = refuse_unseen([own], OWN.slos, [fault("app")])
    assert unfaulted == own                      # no proxy fault: its own answer, unchanged
