"""The one judgement (slo.judge.judgement.judge_window) on hand-built observations: it is pure,
so a table of what was observed and what was asked -> the verdicts and the exit code, with no
Prometheus at all. `slo check` and the experiment runner's phases both ask it."""

import dataclasses

import pytest

from slo.judge.checker import MET, NO_DATA, VIOLATED, WARN
from slo.judge.judgement import Judgement, Observations, Observed, Request, judge_window
from slo.spec import load_spec
from tests.test_judge_coverage import measured, window

SPEC = load_spec("slo/slos.yaml")
ONLY = ("error-ratio", "latency-p95")
MET_ERRORS = Observed("error-ratio", 0.0, 1000.0, 1000.0)
MET_P95 = Observed("latency-p95", 0.05, 1000.0, 1000.0)
PROXY_FAULT = {"kind": "error", "backend": "proxy", "applied": True, "metric":
               "envoy_http_fault_aborts_injected", "counted": 66.0}
GAP = measured("." * 20 + " " * 20 + "." * 20)     # 100 s of a 300 s window never scraped
SCRAPED = measured("." * 60)                       # every 5 s scrape of its target answered
DOWN_AT_END = measured("." * 40 + "0" * 20)        # its target down for the last 100 s
END = window().end

# name, what was observed, the window's faults, the request -> error-ratio's verdict, exit code
CASES = [
    ("every SLO met is exit 0", [MET_ERRORS, MET_P95], (), Request(only=ONLY), MET, 0),
    ("a met over metrics blind to a proxy fault is refused, exit 2",
     [MET_ERRORS, MET_P95], (PROXY_FAULT,), Request(only=ONLY), NO_DATA, 2),
    ("a window with a long gap in its scrapes is not judged, exit 2",
     [dataclasses.replace(MET_ERRORS, coverage=GAP), MET_P95], (), Request(only=ONLY),
     NO_DATA, 2),
    ("a warning passes without --strict",
     [Observed("error-ratio", 0.007, 1000.0, 993.0), MET_P95], (), Request(only=ONLY), WARN, 0),
    ("a warning fails --strict, exit 1",
     [Observed("error-ratio", 0.007, 1000.0, 993.0), MET_P95], (),
     Request(only=ONLY, strict=True), WARN, 1),
    ("a regression from the baseline beyond its share of the budget is violated, exit 1",
     [Observed("error-ratio", 0.005, 1000.0, 995.0), MET_P95], (),
     Request(only=ONLY, baseline={"error-ratio": 0.0, "latency-p95": 0.05}), VIOLATED, 1),
    ("an SLO nothing was observed for is no data, never a pass",
     [MET_P95], (), Request(only=ONLY), NO_DATA, 2),
    ("a metric whose last sample is older than 4 scrape intervals, its target answering, is "
     "not seen now, exit 2",
     [dataclasses.replace(MET_ERRORS, coverage=SCRAPED, ends=END - 60), MET_P95], (),
     Request(only=ONLY), NO_DATA, 2),
    ("a last sample within 4 scrape intervals of the window's end is judged",
     [dataclasses.replace(MET_ERRORS, coverage=SCRAPED, ends=END - 19), MET_P95], (),
     Request(only=ONLY), MET, 0),
    ("a violation over a target down at the window's end stands: the unseen could only fail",
     [Observed("error-ratio", 0.2, 1000.0, 800.0, coverage=DOWN_AT_END, ends=END - 100),
      MET_P95], (), Request(only=ONLY), VIOLATED, 1),
    ("a pass over a target down at the window's end is no claim, exit 2",
     [dataclasses.replace(MET_ERRORS, coverage=DOWN_AT_END, ends=END - 100), MET_P95], (),
     Request(only=ONLY), NO_DATA, 2),
]


@pytest.mark.parametrize(("observed", "faults", "request_", "status", "code"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_judgement_of_a_window_is_what_was_observed_under_what_was_asked(
        observed, faults, request_, status, code):
    judgement = judge_window(SPEC, Observations(observed, faults=faults), window(), request_)
    verdicts = {v.name: v for v in judgement.verdicts}
    assert sorted(verdicts) == sorted(ONLY)     # in the spec's order
    assert verdicts["error-ratio"].status == status
    assert judgement.outcome.exit_code == code
    assert judgement.strict == request_.strict


def test_a_refused_verdict_says_which_fault_its_metrics_could_not_see():
    judgement = judge_window(SPEC, Observations([MET_ERRORS, MET_P95], faults=[PROXY_FAULT]),
                             window(), Request(only=ONLY))
    errors = next(v for v in judgement.verdicts if v.name == "error-ratio")
    assert errors.reason.startswith("the faults were injected by the fault proxy")
    assert errors.value is None and errors.reason.endswith("(they read 0.00%)")


def test_a_coverage_gap_is_named_with_its_start_and_length():
    judgement = judge_window(SPEC, Observations(
        [dataclasses.replace(MET_ERRORS, coverage=GAP)]), window(), Request(only=ONLY[:1]))
    (errors,) = judgement.verdicts
    assert errors.coverage is GAP and "100 s" in errors.reason


def test_a_stale_metric_names_its_last_sample_and_the_fix():
    judgement = judge_window(SPEC, Observations([dataclasses.replace(
        MET_ERRORS, coverage=SCRAPED, ends=END - 60)]), window(), Request(only=ONLY[:1]))
    (errors,) = judgement.verdicts
    assert errors.reason.startswith('app_requests_total{job="portfolio-app"} is stale: its last '
                                    "sample is from ")
    assert "60 s before the window's end" in errors.reason
    assert "check that Prometheus scrapes it" in errors.reason


def test_a_judgements_verdicts_cannot_be_changed_after_it_is_made():
    judgement = judge_window(SPEC, Observations([MET_ERRORS, MET_P95]), window(),
                             Request(only=ONLY))
    assert isinstance(judgement, Judgement) and isinstance(judgement.verdicts, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        judgement.verdicts[0].status = VIOLATED
    with pytest.raises(dataclasses.FrozenInstanceError):
        judgement.verdicts = ()
    with pytest.raises(AttributeError):
        judgement.verdicts[0].notes.append("changed")
    with pytest.raises(dataclasses.FrozenInstanceError):
        Request().strict = True
