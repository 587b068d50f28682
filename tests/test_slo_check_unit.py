"""The verdict logic, exit codes and output formats on canned numbers (no servers)."""

import json
import math
from xml.etree import ElementTree as ET

import pytest

from slo.errors import WindowError
from slo.judge import outputs
from slo.judge.checker import (
    MET,
    NO_DATA,
    VIOLATED,
    WARN,
    CheckResult,
    Slices,
    apply_baseline,
    apply_slices,
    baseline_values,
    exit_code,
    judge,
)
from slo.judge.window import Window
from slo.spec import load_spec

SPEC = load_spec("slo/slos.yaml")
P95 = SPEC.slo("latency-p95")
ERRORS = SPEC.slo("error-ratio")
FAST = SPEC.slo("api-fast-requests")
RATE = SPEC.slo("throughput")


def test_a_p95_under_the_objective_is_met_with_its_margin_and_fraction():
    v = judge(P95, value=0.05, total=1000, good=1000)
    assert (v.status, round(v.margin, 3), v.good_fraction) == (MET, 0.25, 1.0)


def test_a_p95_between_warning_and_objective_is_a_warning():
    assert judge(P95, value=0.25, total=100, good=99).status == WARN


def test_a_p95_over_the_objective_is_violated_with_a_negative_margin():
    v = judge(P95, value=0.55, total=100, good=10)
    assert v.status == VIOLATED and v.margin < 0 and v.good_fraction == 0.1


def test_an_infinite_p95_is_violated_and_serialises():
    v = judge(P95, value=math.inf, total=100, good=0)
    assert v.status == VIOLATED
    assert v.to_json()["value"] == "+Inf"


@pytest.mark.parametrize(("value", "total"), [
    (None, None), (float("nan"), 100), (0.01, 0), (0.0, None), (None, 100),
])
def test_missing_or_nan_data_is_never_met(value, total):
    v = judge(ERRORS, value=value, total=total)
    assert v.status == NO_DATA and v.reason


def test_an_error_ratio_above_one_percent_is_violated():
    assert judge(ERRORS, value=0.1, total=500).status == VIOLATED
    assert judge(ERRORS, value=0.004, total=500).status == MET
    assert judge(ERRORS, value=0.007, total=500).status == WARN


def test_a_request_rate_below_its_floor_is_violated():
    assert judge(RATE, value=0.5, total=30).status == VIOLATED
    assert judge(RATE, value=4.0, total=240).status == MET


def test_a_ratio_slo_whose_threshold_is_not_a_bucket_has_no_data():
    v = judge(FAST, value=0.0, total=100, good=0, bucket_ok=False)
    assert v.status == NO_DATA and "not a bucket boundary" in v.reason


def test_a_percentile_whose_threshold_is_not_a_bucket_is_judged_with_a_warning_note():
    v = judge(P95, value=0.1, total=100, good=0, bucket_ok=False)
    assert v.status == MET and v.good_fraction is None and "interpolated" in v.notes[0]


def test_exit_codes_put_violation_before_no_data_and_warnings_pass_unless_strict():
    met, warn = judge(ERRORS, 0.0, 10), judge(ERRORS, 0.007, 10)
    bad, none = judge(ERRORS, 0.5, 10), judge(ERRORS, None, None)
    assert exit_code([met, warn]) == 0
    assert exit_code([met, warn], strict=True) == 1
    assert exit_code([met, none]) == 2
    assert exit_code([none, bad]) == 1
    assert exit_code([]) == 2


def test_sliding_slices_fail_an_slo_that_held_only_on_average():
    v = apply_slices(judge(ERRORS, 0.005, 100), Slices(30, 10, 8, 0, 1.0))
    assert v.status == VIOLATED and "8/10" in v.reason
    assert apply_slices(judge(ERRORS, 0.007, 100), Slices(30, 10, 8, 0, 0.8)).status == WARN
    assert apply_slices(judge(ERRORS, 0.0, 100), Slices(30, 4, 0, 4, 0.5)).status == NO_DATA


def test_a_p95_regression_beyond_the_limit_violates_and_within_it_passes():
    assert apply_baseline(judge(P95, 0.12, 100, 100), 0.10, 0.10, upper=True).status == VIOLATED
    assert apply_baseline(judge(P95, 0.105, 100, 100), 0.10, 0.10, upper=True).status == MET
    assert apply_baseline(judge(RATE, 3.0, 100), 4.0, 0.10, upper=False).status == VIOLATED


def result(*verdicts) -> CheckResult:
    return CheckResult(spec="slo/slos.yaml", service="portfolio-app",
                       prometheus="http://127.0.0.1:1", window=Window(0, 60, "test"),
                       verdicts=list(verdicts), evaluated_in_s=0.01)


def test_junit_has_one_testcase_per_slo_with_failure_and_error_elements():
    xml = outputs.to_junit(result(judge(P95, 0.05, 10, 10), judge(ERRORS, 0.5, 10),
                                  judge(RATE, None, None)))
    suite = ET.fromstring(xml).find("testsuite")  # noqa: S314 - our own output
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["error-ratio"].find("failure") is not None
    assert cases["throughput"].find("error").get("type") == "no_data"
    assert cases["latency-p95"].find("failure") is None


def test_json_output_round_trips_as_a_baseline():
    text = outputs.to_json(result(judge(P95, 0.05, 10, 10), judge(RATE, None, None)))
    data = json.loads(text)
    assert data["exit_code"] == 2 and data["window"]["seconds"] == 60
    assert baseline_values(data) == {"latency-p95": 0.05}


def test_markdown_output_is_a_table_with_verdict_icons():
    md = outputs.to_markdown(result(judge(P95, 0.55, 10, 1)))
    assert "| latency-p95 (key) | p(95) <= 300ms | 550ms |" in md and "❌ VIOLATED" in md


@pytest.mark.parametrize(("start", "end", "message"), [
    ("2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z", "at least 10s"),
    ("yesterday", "1767225600", "--start: expected ISO-8601"),
    ("2026-01-01T00:00:00", "2026-01-01T00:01:00Z", "give a time zone"),
])
def test_bad_windows_are_rejected_naming_the_flag(start, end, message):
    with pytest.raises(WindowError, match=message):
        Window.from_range(start, end)


def test_a_last_window_ends_now_and_a_bad_duration_names_the_flag():
    assert Window.from_last("5m", now=1000.0) == Window(700.0, 1000.0, "last 5m")
    with pytest.raises(WindowError, match="--last"):
        Window.from_last("five", now=0)
