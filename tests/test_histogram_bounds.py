"""What a histogram can prove, end to end (issue 20, items 3 and the `le` spellings).

A quantile whose rank lands in the +Inf bucket is only known to be above the top finite bound:
histogram_quantile() returns that bound, and the checker used to judge it as the value. The
issue's case: buckets 0.1, 0.3, +Inf, every request 1 s, `p(95) <= 300ms`: "300 ms (+Inf
bucket, above 300 ms) … MET", exit 0. And a bucket bound is spelled "1" by Go clients and
Envoy, "1.0" by the Python client and Prometheus 3 (which normalises `le` to its float
format, "1e+06" for a million): a selector or a count that matches one spelling misses the
other's requests.

Judged through `slo check` against a fake Prometheus (answers a real one cannot be made to give
on cue) and against a real Prometheus over exact samples (promtool-built blocks).
"""

import json
import math
import time
from pathlib import Path

import pytest

from slo.cli import main
from slo.judge import promql
from slo.judge.prom import Prometheus
from slo.spec import load_spec
from tests.helpers import fake_prometheus

# a service with a histogram in seconds: buckets 0.1, 0.3, +Inf in the case
SPEC = """\
version: slo-harness/v1
service: svc
prometheus:
  job: svc
  requests_metric: svc_requests_total
  duration_metric: svc_request_duration_seconds
slos:
  - name: p95
    objective: p(95) <= 300ms
  - name: p95-above-the-top
    objective: p(95) <= 500ms
  - name: fast-share
    kind: latency_ratio
    threshold_ms: 300
    objective_percent: 95
  - name: share-above-the-top
    kind: latency_ratio
    threshold_ms: 500
    objective_percent: 95
"""
HISTOGRAM = "svc_request_duration_seconds"
LABELS = {"job": ["svc"], "instance": ["a:1"], "le": ["0.1", "0.3", "+Inf"]}


def spec_file(tmp_path: Path, text: str = SPEC) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def answers(buckets: dict[str, float], quantile: float, began: float):
    """A fake Prometheus's answers for a latency SLO: the buckets counted by le, the
    histogram_quantile() Prometheus computes over them, where the data begins (before the
    window), no series born inside it, no fault counted."""
    def answer(query: str):
        if query.startswith("histogram_quantile") or query.startswith("(histogram_quantile"):
            return [({}, quantile)]
        if query.startswith("sum by (le)"):
            return [({"le": le}, count) for le, count in buckets.items()]
        if "timestamp(" in query:
            return [({}, began)]
        return []
    return answer


def check(url: str, spec: Path, tmp_path: Path, *extra: str) -> tuple[int, dict]:
    out = tmp_path / "result.json"
    code = main(["check", "--spec", str(spec), "--prometheus", url, "--last", "5m",
                 "--no-settle", "--json", str(out), *extra])
    return code, {v["name"]: v for v in json.loads(out.read_text())["slos"]}


# ---- the top bucket ------------------------------------------------------------------------

def test_a_p95_in_the_inf_bucket_is_above_the_top_bound_and_violates_a_threshold_at_it(
        tmp_path, capsys):
    """The issue's case: histogram_quantile() answers 0.3 (the top finite bound) for a p95
    whose rank lies in +Inf; every request took 1 s. Was: 300 ms … MET, exit 0."""
    every_request_slow = {"0.1": 0.0, "0.3": 0.0, "+Inf": 300.0}
    with fake_prometheus(answers(every_request_slow, 0.3, time.time() - 3600), LABELS) as url:
        code, verdicts = check(url, spec_file(tmp_path), tmp_path, "--slo", "p95")
    p95 = verdicts["p95"]
    assert (code, p95["status"]) == (1, "violated")
    assert p95["value"] is None and p95["value_bounds"] == [0.3, "+Inf"]
    assert p95["margin"] is None
    assert "p95 is above 300 ms (the top finite bucket)" in p95["reason"]
    assert "> 300 ms" in " ".join(capsys.readouterr().out.split())


def test_a_p95_in_the_inf_bucket_against_a_threshold_above_the_top_bound_is_not_evaluated(
        tmp_path):
    """p95 > 300 ms says nothing about 500 ms: could not evaluate (exit 2), never met."""
    every_request_slow = {"0.1": 0.0, "0.3": 0.0, "+Inf": 300.0}
    with fake_prometheus(answers(every_request_slow, 0.3, time.time() - 3600), LABELS) as url:
        code, verdicts = check(url, spec_file(tmp_path), tmp_path, "--slo",
                               "p95-above-the-top", "--slo", "share-above-the-top")
    assert code == 2
    assert {n: v["status"] for n, v in verdicts.items()} == {
        "p95-above-the-top": "inconclusive", "share-above-the-top": "inconclusive"}
    assert verdicts["p95-above-the-top"]["value"] is None


def test_a_p95_inside_a_finite_bucket_keeps_its_value(tmp_path):
    """The sibling that must not change: 96 of 100 within 300 ms."""
    most_fast = {"0.1": 50.0, "0.3": 96.0, "+Inf": 100.0}
    with fake_prometheus(answers(most_fast, 0.29, time.time() - 3600), LABELS) as url:
        code, verdicts = check(url, spec_file(tmp_path), tmp_path, "--slo", "p95", "--slo",
                               "fast-share")
    assert code == 0
    assert verdicts["p95"]["value"] == 0.29 and verdicts["p95"]["value_bounds"] == [0.1, 0.3]
    assert verdicts["fast-share"]["value"] == 0.96


def slow_window(start: float, seconds: int = 1500) -> dict:
    """Exact samples every 5 s: buckets 0.1, 0.3, +Inf; one request per 5 s, each 1 s long."""
    times = [start + i for i in range(0, seconds + 1, 5)]
    series = {f'{HISTOGRAM}_bucket{{job="svc",instance="a:1",le="{le}"}}':
              [(t, 0.0 if le != "+Inf" else float(i)) for i, t in enumerate(times)]
              for le in ("0.1", "0.3", "+Inf")}
    series[f'{HISTOGRAM}_count{{job="svc",instance="a:1"}}'] = [
        (t, float(i)) for i, t in enumerate(times)]
    return series


@pytest.mark.integration
def test_a_real_prometheus_over_slow_requests_proves_the_p95_above_the_top_bucket(
        prometheus_with_samples, tmp_path):
    """The issue's case on Prometheus 2.42 itself: its histogram_quantile() says 0.3."""
    start = int(time.time()) - 3600
    prom = prometheus_with_samples(slow_window(start))
    window = ["--start", str(start + 600), "--end", str(start + 900)]
    spec = spec_file(tmp_path)
    assert Prometheus(prom.url).scalar(
        promql.sli_queries(load_spec(spec).slo("p95"), 300).value, start + 900) == 0.3
    out = tmp_path / "result.json"
    code = main(["check", "--spec", str(spec), "--prometheus", prom.url, *window,
                 "--no-settle", "--json", str(out)])
    verdicts = {v["name"]: v for v in json.loads(out.read_text())["slos"]}
    assert code == 1
    assert {n: v["status"] for n, v in verdicts.items()} == {
        "p95": "violated", "p95-above-the-top": "inconclusive", "fast-share": "violated",
        "share-above-the-top": "inconclusive"}
    assert verdicts["p95"]["value"] is None
    assert verdicts["p95"]["value_bounds"] == [0.3, "+Inf"]
    assert main(["check", "--spec", str(spec), "--prometheus", prom.url, *window,
                 "--no-settle", "--slo", "p95-above-the-top"]) == 2


@pytest.mark.integration
def test_a_slice_whose_p95_is_above_the_top_bucket_fails_the_sliding_rule(
        prometheus_with_samples, tmp_path):
    """Five 60 s slices: four of fast requests only (all within 100 ms), one minute of three
    1 s requests and nothing else. The window's p95 is fast (met); the slow slice's p95 is
    above 300 ms, where histogram_quantile() says 0.3 — read as a held slice, --slices 100%
    passed."""
    start = int(time.time()) - 3600
    slow_from, slow_to = start + 720, start + 780      # the window's third slice
    fast = slow = 0.0
    points = {"0.1": [], "0.3": [], "+Inf": []}
    for t in range(start, start + 1201, 5):
        if slow_from < t <= slow_to:
            slow += 1.0 if t in (slow_from + 15, slow_from + 30, slow_from + 45) else 0.0
        else:
            fast += 10.0
        for le, value in (("0.1", fast), ("0.3", fast), ("+Inf", fast + slow)):
            points[le].append((float(t), value))
    series = {f'{HISTOGRAM}_bucket{{job="svc",instance="a:1",le="{le}"}}': values
              for le, values in points.items()}
    series[f'{HISTOGRAM}_count{{job="svc",instance="a:1"}}'] = points["+Inf"]
    prom = prometheus_with_samples(series)
    out = tmp_path / "result.json"
    code = main(["check", "--spec", str(spec_file(tmp_path)), "--prometheus", prom.url,
                 "--start", str(start + 600), "--end", str(start + 900), "--no-settle",
                 "--slo", "p95", "--step", "60s", "--json", str(out)])
    (p95,) = json.loads(out.read_text())["slos"]
    assert p95["value_bounds"] == [0.0, 0.1]           # the whole window: fast
    assert p95["slices"]["total"] == 5 and p95["slices"]["passed"] == 4
    assert (code, p95["status"]) == (1, "violated")


# ---- le spelled "1" or "1.0" -----------------------------------------------------------------

ONE_SECOND = """\
version: slo-harness/v1
service: svc
prometheus:
  job: svc
  requests_metric: svc_requests_total
  duration_metric: svc_request_duration_seconds
slos:
  - name: p95
    objective: p(95) <= 1s
  - name: within-1s
    kind: latency_ratio
    threshold_ms: 1000
    objective_percent: 95
"""


@pytest.mark.parametrize("spellings", [("1",), ("1.0",), ("1", "1.0")],
                         ids=["a Go client's 1", "Prometheus 3's 1.0", "both at once"])
def test_a_bucket_bound_is_the_same_bucket_whatever_its_spelling(spellings, tmp_path):
    """98 of 100 requests within 1 s. Both spellings at once: a fleet of Go and Python
    instances, or a window across an upgrade to Prometheus 3 (`sum by (le)` keeps "1" and
    "1.0" apart; Prometheus's histogram_quantile() adds them up, the checker did not: p95 in
    +Inf and 49 % within 1 s)."""
    share = 98.0 / len(spellings)
    buckets = {"0.5": 10.0, **{s: share for s in spellings}, "+Inf": 100.0}
    labels = {**LABELS, "le": ["0.5", *spellings, "+Inf"]}
    with fake_prometheus(answers(buckets, 0.97, time.time() - 3600), labels) as url:
        code, verdicts = check(url, spec_file(tmp_path, ONE_SECOND), tmp_path)
    assert code == 0, verdicts
    assert verdicts["p95"]["value_bounds"] == [0.5, 1.0]
    assert verdicts["within-1s"]["value"] == pytest.approx(0.98)


def two_instances(start: float, metric: str, go: tuple[str, ...], python: tuple[str, ...],
                  per_scrape: float = 10.0) -> dict:
    """A Go instance and a Python instance of one service, exact samples every 5 s, each
    request between the first and second bound: the same buckets, spelled their way."""
    series = {}
    for instance, spelled in (("go:1", go), ("py:1", python)):
        labels = f'job="svc",instance="{instance}"'
        times = [start + i for i in range(0, 1201, 5)]
        for j, le in enumerate(spelled):
            series[f'{metric}_bucket{{{labels},le="{le}"}}'] = [
                (t, 0.0 if j == 0 else i * per_scrape) for i, t in enumerate(times)]
        series[f'{metric}_count{{{labels}}}'] = [(t, i * per_scrape)
                                                 for i, t in enumerate(times)]
    return series


LONG_JOBS = """\
version: slo-harness/v1
service: svc
prometheus:
  job: svc
  requests_metric: svc_requests_total
  duration_metric: batch_duration_milliseconds
  duration_unit: milliseconds
slos:
  - name: within-1000s
    kind: latency_ratio
    threshold_ms: 1000000
    objective_percent: 95
"""


@pytest.mark.integration
def test_both_spellings_are_one_bucket_to_the_checker_and_to_the_rules_on_prometheus(
        prometheus_with_samples, tmp_path):
    """Prometheus 2.42 with series spelled both ways: a Go instance ("1"; a batch job's
    milliseconds histogram "1e+06", as Go clients and Prometheus 3 write a million) beside a
    Python one ("1.0"; "1000000.0"). Every request is within the threshold: the checker's
    verdict and the burn-rate rules' bad-event ratio (the PromQL the rules, Grafana and the
    budget figures run) must count every one."""
    start = int(time.time()) - 3600
    prom = prometheus_with_samples({
        **two_instances(start, HISTOGRAM, ("0.5", "1", "+Inf"), ("0.5", "1.0", "+Inf")),
        **two_instances(start, "batch_duration_milliseconds", ("500000", "1e+06", "+Inf"),
                        ("500000.0", "1000000.0", "+Inf")),
    })
    end = start + 900
    for text, name in ((ONE_SECOND, "within-1s"), (LONG_JOBS, "within-1000s")):
        spec = spec_file(tmp_path, text)
        out = tmp_path / "result.json"
        code = main(["check", "--spec", str(spec), "--prometheus", prom.url, "--start",
                     str(end - 300), "--end", str(end), "--no-settle", "--json", str(out)])
        verdicts = {v["name"]: v for v in json.loads(out.read_text())["slos"]}
        assert code == 0, verdicts
        assert verdicts[name]["value"] == 1.0
        bad = Prometheus(prom.url).scalar(promql.bad_ratio_rate(load_spec(spec).slo(name), 300),
                                          end)
        assert bad is not None and math.isclose(bad, 0.0, abs_tol=1e-9), (name, bad)


def test_the_slo_tab_shows_a_p95_above_the_top_bucket_as_failing_in_valid_json():
    """The tab's live p95 is judge_window's verdict over observe()'s numbers: above the top
    bucket it fails showing the bound ("> 2500 ms"), and a bare +Inf (no buckets read) fails
    too; the document the browser parses stays JSON (which has no Infinity)."""
    from slo.alerting.burnrate import PROFILES
    from slo.cockpit.snapshot import build_snapshot, live_groups
    from slo.judge.histogram import Buckets
    from slo.judge.judgement import Observations, Observed

    spec = load_spec(Path(__file__).resolve().parent.parent / "slo" / "slos.yaml")
    above = Buckets(((0.1, 0.0), (2.5, 0.0), (math.inf, 100.0)))
    for seen, value, shown in [
            (Observed("latency-p95", value=math.inf, total=100.0, buckets=above), None,
             "> 2500 ms"),
            (Observed("latency-p95", value=math.inf, total=100.0), "+Inf", "+Inf")]:
        observations = {w: Observations((seen,)) for w in live_groups(spec, PROFILES["fast"])}
        doc = build_snapshot(spec, PROFILES["fast"], time.time(), observations=observations,
                             bad={}, rules=None, found=[], faults=[], prometheus_error=None)
        (p95,) = [s for s in doc["slos"] if s["name"] == "latency-p95"]
        assert (p95["status"], p95["value"], p95["shown"]) == ("fail", value, shown)
        json.dumps(doc, allow_nan=False)
