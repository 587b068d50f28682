"""The verdict logic, exit codes and output formats on canned numbers (no servers)."""

import json
import math
import re
import time
from xml.etree import ElementTree as ET

import pytest

from slo.cli import main
from slo.errors import WindowError
from slo.judge import outputs
from slo.judge.checker import (
    INCONCLUSIVE,
    MET,
    NO_DATA,
    VIOLATED,
    WARN,
    CheckResult,
    Slices,
    apply_baseline,
    apply_slices,
    baseline_values,
    judge,
)
from slo.judge.histogram import Buckets
from slo.judge.outcome import decide
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


def buckets(*pairs) -> Buckets:
    """Cumulative counts per le, in seconds: buckets((0.25, 90), (0.5, 99), ("+Inf", 100))."""
    return Buckets.from_samples([({"le": str(le)}, float(n)) for le, n in pairs])


# p95 <= 300 ms and >= 95% under 300 ms, over histograms whose bounds skip or hit 0.3 s
BUCKET_CASES = [
    ("a p95 whose whole bucket is under a threshold that is not a bound is met, with a note",
     P95, 0.2, buckets((0.1, 50), (0.25, 96), ("+Inf", 100)), MET, [0.1, 0.25], "not a bucket"),
    ("a p95 whose bucket straddles a threshold that is not a bound is inconclusive",
     P95, 0.4, buckets((0.25, 50), (0.5, 99), ("+Inf", 100)), INCONCLUSIVE, [0.25, 0.5],
     "inconclusive: p95 lies in 250–500 ms bucket"),
    ("a p95 whose whole bucket is over a threshold that is not a bound is violated",
     P95, 0.9, buckets((0.25, 10), (0.5, 50), (1, 99), ("+Inf", 100)), VIOLATED, [0.5, 1.0],
     "not a bucket"),
    ("a p95 beyond the last finite bucket lies in the +Inf bucket",
     P95, 1.0, buckets((0.3, 10), (1, 50), ("+Inf", 100)), VIOLATED, [1.0, math.inf], ""),
    ("a p95 in the +Inf bucket is above the top bound: violated at a threshold on that bound",
     P95, 0.3, buckets((0.1, 0), (0.3, 0), ("+Inf", 100)), VIOLATED, [0.3, math.inf],
     "p95 is above 300 ms (the top finite bucket): more than 5% of the requests took longer"),
    ("a p95 in the +Inf bucket is inconclusive at a threshold above the top bound",
     P95, 0.25, buckets((0.1, 0), (0.25, 0), ("+Inf", 100)), INCONCLUSIVE, [0.25, math.inf],
     "inconclusive: p95 is above 250 ms (the top finite bucket), and the threshold 300 ms lies "
     "above that bound"),
    ("a p95 at the top bound's count exactly is inside its bucket",
     P95, 0.3, buckets((0.1, 0), (0.3, 95), ("+Inf", 100)), WARN, [0.1, 0.3], ""),
    ("a p95 on a bucket-bound threshold is exact and carries its bucket",
     P95, 0.28, buckets((0.1, 10), (0.3, 97), ("+Inf", 100)), WARN, [0.1, 0.3], ""),
    ("a share whose threshold is not a bound is met when even its lower bound passes",
     FAST, 0.0, buckets((0.25, 96), (0.5, 100), ("+Inf", 100)), MET, [0.96, 1.0],
     "not a bucket"),
    ("a share straddling its objective without a bucket at the threshold is inconclusive",
     FAST, 0.0, buckets((0.25, 90), (0.5, 100), ("+Inf", 100)), INCONCLUSIVE, [0.9, 1.0],
     "inconclusive: the share within 300 ms lies in 90.00–100.00%"),
    ("a share within a threshold above the top bound is met when the top bucket holds enough",
     FAST, 0.0, buckets((0.1, 50), (0.25, 97), ("+Inf", 100)), MET, [0.97, 1.0],
     "not a bucket"),
    ("a share within a threshold above the top bound is inconclusive when it does not",
     FAST, 0.0, buckets((0.1, 0), (0.25, 0), ("+Inf", 100)), INCONCLUSIVE, [0.0, 1.0],
     "inconclusive: the share within 300 ms lies in 0.00–100.00%"),
]


@pytest.mark.parametrize(("slo", "value", "counts", "status", "bounds", "says"),
                         [c[1:] for c in BUCKET_CASES], ids=[c[0] for c in BUCKET_CASES])
def test_latency_verdicts_are_what_the_buckets_prove(slo, value, counts, status, bounds, says):
    v = judge(slo, value=value, total=100, good=None, buckets=counts)
    assert v.status == status and v.value_bounds == tuple(bounds)
    assert says in " ".join([v.reason, *v.notes])


def test_an_inconclusive_verdict_is_exit_2_never_a_pass():
    v = judge(P95, 0.4, 100, buckets=buckets((0.25, 50), (0.5, 99), ("+Inf", 100)))
    assert decide([judge(ERRORS, 0.0, 10), v]).exit_code == 2
    assert decide([judge(ERRORS, 0.5, 10), v]).exit_code == 1


def test_a_quantile_is_shown_with_the_bucket_that_holds_it():
    v = judge(P95, 0.734, 100, buckets=buckets((0.5, 80), (0.75, 99), ("+Inf", 100)))
    assert v.shown == "734 ms (500–750 ms bucket)"
    assert v.to_json()["value_bounds"] == [0.5, 0.75]
    inf = judge(P95, 1.0, 100, buckets=buckets((1, 50), ("+Inf", 100)))
    assert inf.shown == "> 1000 ms"           # not histogram_quantile()'s 1000 ms
    assert inf.to_json()["value"] is None
    assert inf.to_json()["value_bounds"] == [1.0, "+Inf"]


@pytest.mark.parametrize("spellings", [("1",), ("1.0",), ("1", "1.0"), ("1e+00", "1.0")])
def test_one_bound_spelled_two_ways_is_one_bucket(spellings):
    """`sum by (le)` keeps "1" and "1.0" apart (a Go and a Python instance, or a window across
    an upgrade to Prometheus 3); histogram_quantile() adds them up, and so do the buckets."""
    each = 88.0 / len(spellings)
    counts = Buckets.from_samples([({"le": "0.5"}, 10.0), *(({"le": s}, each) for s in spellings),
                                   ({"le": "+Inf"}, 100.0)])
    assert counts.bounds == ((0.5, 10.0), (1.0, 88.0), (math.inf, 100.0))


def test_a_selector_that_sees_nothing_is_no_data_with_every_problem():
    v = judge(ERRORS, 0.0, 100, problems=["a has no label \"code\"", "b has no series"])
    assert (v.status, v.reason, v.notes, v.value) == (
        NO_DATA, 'a has no label "code"', ("b has no series",), None)


def test_exit_codes_put_violation_before_no_data_and_warnings_pass_unless_strict():
    met, warn = judge(ERRORS, 0.0, 10), judge(ERRORS, 0.007, 10)
    bad, none = judge(ERRORS, 0.5, 10), judge(ERRORS, None, None)
    assert decide([met, warn]).exit_code == 0
    assert decide([met, warn], strict=True).exit_code == 1
    assert decide([met, none]).exit_code == 2
    assert decide([none, bad]).exit_code == 1
    assert decide([]).exit_code == 2


def test_sliding_slices_fail_an_slo_that_held_only_on_average():
    v = apply_slices(judge(ERRORS, 0.005, 100), Slices(30, 10, 8, 0, 1.0))
    assert v.status == VIOLATED and "8/10" in v.reason
    assert apply_slices(judge(ERRORS, 0.007, 100), Slices(30, 10, 8, 0, 0.8)).status == WARN
    assert apply_slices(judge(ERRORS, 0.0, 100), Slices(30, 4, 0, 4, 0.5)).status == NO_DATA


def test_a_p95_regression_beyond_the_limit_violates_and_within_it_passes():
    assert apply_baseline(judge(P95, 0.12, 100, 100), 0.10, 0.10, upper=True).status == VIOLATED
    assert apply_baseline(judge(P95, 0.105, 100, 100), 0.10, 0.10, upper=True).status == MET
    assert apply_baseline(judge(RATE, 3.0, 100), 4.0, 0.10, upper=False).status == VIOLATED


# (case, baseline, now, status): error-ratio, 1% budget, 10% of it allowed = 0.1 points
RATIO_BASELINES = [
    ("errors from 0% to 0.4% exceed a tenth of the budget", 0.0, 0.004, VIOLATED),
    ("errors from 0% to 0.05% stay within a tenth of the budget", 0.0, 0.0005, MET),
    ("errors from 0% to 0.2% exceed a tenth of the budget", 0.0, 0.002, VIOLATED),
    ("errors from 0.3% to 0.35% are within the points allowed", 0.003, 0.0035, MET),
]


def test_a_ratio_regression_from_zero_is_compared_in_points_of_the_budget():
    """issue 11, 8: 0% -> 2.3% errors said "not compared" and passed the regression gate."""
    v = apply_baseline(judge(ERRORS, 0.023, 1000), 0.0, 0.10, upper=True, budget=0.01)
    assert v.status == VIOLATED and "regressed 2.30 points vs baseline 0.00%" in v.reason


@pytest.mark.parametrize(("baseline", "now", "status"), [c[1:] for c in RATIO_BASELINES],
                         ids=[c[0] for c in RATIO_BASELINES])
def test_ratio_baselines_allow_a_share_of_the_error_budget(baseline, now, status):
    v = apply_baseline(judge(ERRORS, now, 1000), baseline, 0.10, upper=True, budget=0.01)
    assert v.status == status, v.notes


def test_an_availability_drop_is_a_regression_in_points_too():
    home = SPEC.slo("home-availability")
    v = apply_baseline(judge(home, 0.977, 1000), 1.0, 0.10, upper=False, budget=0.01)
    assert v.status == VIOLATED and "regressed 2.30 points" in v.reason


def result(*verdicts) -> CheckResult:
    return CheckResult(spec="slo/slos.yaml", service="portfolio-app",
                       prometheus="http://127.0.0.1:1", window=Window(0, 60, "test"),
                       verdicts=list(verdicts), evaluated_in_s=0.01)


def test_junit_has_one_testcase_per_slo_with_failure_and_error_elements():
    checked = result(judge(P95, 0.05, 10, 10), judge(ERRORS, 0.5, 10), judge(RATE, None, None))
    xml = outputs.to_junit(checked, decide(checked.verdicts))
    suite = ET.fromstring(xml).find("testsuite")  # noqa: S314 - our own output
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["error-ratio"].find("failure") is not None
    assert cases["throughput"].find("error").get("type") == "no_data"
    assert cases["latency-p95"].find("failure") is None


def test_json_output_round_trips_as_a_baseline():
    checked = result(judge(P95, 0.05, 10, 10), judge(RATE, None, None))
    text = outputs.to_json(checked, decide(checked.verdicts))
    data = json.loads(text)
    assert data["exit_code"] == 2 and data["window"]["seconds"] == 60
    assert baseline_values(data) == {"latency-p95": 0.05}


def test_markdown_output_is_a_table_with_verdict_icons():
    checked = result(judge(P95, 0.55, 10, 1))
    md = outputs.to_markdown(checked, decide(checked.verdicts))
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


# ---- a window must have happened -------------------------------------------------------------

def future_record(tmp_path, end_in_s: float):
    from datetime import UTC, datetime

    from loadtests.record import EndpointStats, RunRecord, RunStats, ScenarioInfo, save_record

    now = time.time()
    stats = EndpointStats(method="", name="Aggregated", requests=10, failures=0,
                          failure_ratio=0.0, rps=2.0, avg_ms=5, min_ms=1, max_ms=9, p50_ms=4,
                          p95_ms=9, p99_ms=9)
    record = RunRecord(
        run_id="20260101-120000-steady", start=datetime.fromtimestamp(now - 60, UTC),
        end=datetime.fromtimestamp(now + end_in_s, UTC), duration_s=60 + end_in_s,
        status="completed", target="http://127.0.0.1:5000", scenario=ScenarioInfo(name="steady"),
        stats=RunStats(aggregated=stats))
    return save_record(record, tmp_path / "run")


def test_a_window_ending_in_the_future_is_refused_naming_the_flag_and_the_fix(capsys):
    """A window 30 s back to 600 s ahead was judged at once: "all SLOs met (exit 0)", with 10
    of its 10.5 minutes not yet happened (and no wait for the scrape after its end)."""
    now = time.time()
    began = time.monotonic()
    code = main(["check", "--prometheus", "http://127.0.0.1:9", "--start", f"{now - 30:.0f}",
                 "--end", f"{now + 600:.0f}", "--slo", "error-ratio", "--slo", "latency-p95"])
    assert code == 2
    assert time.monotonic() - began < 2, "refused before asking Prometheus anything"
    err = " ".join(capsys.readouterr().err.split())
    # 600 s less the command's own start-up, rounded: 599 when that start-up crossed a half
    assert re.search(r"--end is (599|600) s in the future \(", err), err
    assert "Z): the window must have happened; use --end now or wait" in err
    assert "did not answer" not in err


def test_a_run_record_ending_in_the_future_is_refused_too(tmp_path, capsys):
    path = future_record(tmp_path, 300)
    assert main(["check", "--prometheus", "http://127.0.0.1:9", "--run", str(path)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "run 20260101-120000-steady ends 30" in err and "s in the future" in err
    assert "wait for the run to end" in err


def test_a_window_ending_now_is_not_refused_and_waits_for_the_scrape_after_its_end(
        monkeypatch):
    """The slack: a run record's end is rounded up to the second; --end now (or a second
    ahead) is judged after the settle wait, not refused."""
    from slo.commands import check

    now = time.time()
    slept = []
    monkeypatch.setattr(check.time, "sleep", slept.append)
    args = check_args(start=f"{now - 30:.3f}", end=f"{now + 1:.3f}")
    window = check.resolve_window(args)
    window.require_happened(now)
    check.settle(window, args, now)
    assert slept and check.SETTLE_S < slept[0] <= check.SETTLE_S + 1.01
    assert Window.from_last("5m", now=now).end == now


def check_args(**values):
    import argparse

    from slo.commands import check

    parser = argparse.ArgumentParser()
    check.add_arguments(parser)
    args = parser.parse_args([])
    for key, value in values.items():
        setattr(args, key, value)
    return args


# (case, window, begins, says): where the data begins, scraped every 5 s, window of 30 min
T0 = 1_767_268_800.0  # 2026-01-01T12:00:00Z
LAST = Window(T0, T0 + 1800, "last 30m")
RANGE = Window(T0, T0 + 1800, "--start/--end")
LATE_DATA = [
    ("data there before the window's start is observed", LAST, T0 - 3600, None),
    ("data from two scrapes (and one 2 s step) after the start is observed", LAST, T0 + 12,
     None),
    ("no series at all is left to the selector checks", LAST, None, None),
    ("data from 25 minutes in is not judged, with the --last that fits", LAST, T0 + 1500,
     "app_requests_total has data only from 2026-01-01T12:25:00Z, 1500 s after the window's "
     "start (2026-01-01T12:00:00Z): Prometheus holds none of it before (it was not running or "
     "not scraping the service then), so 1500 s of the 1800 s window were never observed and "
     "would count as quiet; judge a window from 2026-01-01T12:25:00Z (e.g. --last 300s)"),
    ("an explicit window is told the range that fits", RANGE, T0 + 1500,
     "(e.g. --start 2026-01-01T12:25:00Z --end 2026-01-01T12:30:00Z)"),
    ("data younger than the shortest window says to wait", LAST, T0 + 1795,
     "(e.g. it holds 5 s of the window: wait, then --last 10s or longer)"),
]


@pytest.mark.parametrize(("window", "begins", "says"), [c[1:] for c in LATE_DATA],
                         ids=[c[0] for c in LATE_DATA])
def test_a_window_is_judged_only_from_where_its_data_begins(window, begins, says):
    from slo.judge.checker import data_selectors, late_data

    selectors = data_selectors(ERRORS)
    assert [str(s) for s in selectors] == ['app_requests_total{job="portfolio-app"}']
    problem = late_data(selectors, begins, window, scrape_s=5.0)
    if says is None:
        assert problem is None
    else:
        assert problem is not None and says in problem


# ---- one outcome in every output: terminal, JSON, JUnit, Markdown and the exit code ----------

BASELINE = {"version": 1, "slos": [{"name": "error-ratio", "value": 0.0},
                                   {"name": "latency-p95", "value": 0.05}]}


def checked(tmp_path, monkeypatch, capsys, measured, *flags, faulted=None) -> dict:
    """`slo check` of error-ratio and latency-p95 with every output, over a Prometheus whose
    SLIs read `measured` ([(slo, value, total, good)], observed as such and judged by the real
    judge_window()) and whose fault proxy counted `faulted` ({kind: requests}: the real
    window_faults() asks it). Returns the exit code and every output, parsed."""
    from slo.commands import check
    from slo.judge.judgement import Observations, Observed
    from slo.judge.unseen import window_faults
    from tests.helpers import FakeProm

    prom = FakeProm(faulted or {})

    def observe(prom, spec, window, request):
        return Observations(tuple(Observed(slo.name, value, total, good)
                                  for slo, value, total, good in measured),
                            faults=window_faults(prom, window, window.faults),
                            prometheus=prom.url, evaluated_in_s=0.01)

    monkeypatch.setattr(check, "observe", observe)
    monkeypatch.setattr(check, "Prometheus", lambda url, **_: prom)
    (tmp_path / "baseline.json").write_text(json.dumps(BASELINE))
    flags = [f.replace("BASELINE", str(tmp_path / "baseline.json")) for f in flags]
    out = {name: tmp_path / f"out.{name}" for name in ("json", "junit", "markdown")}
    now = time.time()
    code = main(["check", "--prometheus", prom.url, "--start", f"{now - 120:.0f}", "--end",
                 f"{now - 60:.0f}", "--no-settle", "--slo", "error-ratio", "--slo",
                 "latency-p95", *[f"--{name}={path}" for name, path in out.items()], *flags])
    suite = ET.fromstring(out["junit"].read_text()).find("testsuite")  # noqa: S314 - ours
    return {"code": code, "terminal": capsys.readouterr().out,
            "json": json.loads(out["json"].read_text()), "junit": suite,
            "markdown": out["markdown"].read_text()}


def junit_counts(suite) -> tuple[int, int, int]:
    return int(suite.get("tests")), int(suite.get("failures")), int(suite.get("errors"))


MET_ERRORS, MET_P95 = (ERRORS, 0.0, 1000, None), (P95, 0.05, 1000, 1000)


def test_a_warning_under_strict_is_a_junit_failure_as_it_is_exit_1(tmp_path, monkeypatch,
                                                                    capsys):
    """issue 19, 6: `slo check --strict` with a WARN verdict exited 1 ("SLO violated") while
    its JUnit said failures="0" errors="0": a CI system reading the JUnit showed green."""
    got = checked(tmp_path, monkeypatch, capsys, [(ERRORS, 0.007, 1000, None), MET_P95],
                  "--strict")
    assert got["code"] == 1
    assert junit_counts(got["junit"]) == (2, 1, 0)
    cases = {c.get("name"): c for c in got["junit"].iter("testcase")}
    failure = cases["error-ratio"].find("failure")
    assert failure is not None and "fails --strict" in failure.get("message")
    assert "SLO violated" not in got["terminal"]   # a warning is no violation: it says why
    assert "SLO warning fails --strict (exit 1;" in got["terminal"]
    assert "❌ WARN (fails --strict)" in got["markdown"]
    assert "error-ratio: met, inside the warning band; fails --strict" in got["terminal"]


def test_no_slo_judged_is_an_error_in_junit_as_it_is_exit_2():
    checked = result()
    outcome = decide(checked.verdicts)
    suite = ET.fromstring(outputs.to_junit(checked, outcome)).find("testsuite")  # noqa: S314
    assert (outcome.exit_code, junit_counts(suite)) == (2, (1, 0, 1))
    assert suite.find("testcase/error").get("message") == "could not evaluate (no SLO was judged)"


# verdict set -> what error-ratio and latency-p95 measured; the exit code with no flag,
# --strict, --baseline (errors from 0%, p95 from 50 ms), and both
VERDICT_SETS = [
    ("every SLO met", [MET_ERRORS, MET_P95], None, (0, 0, 0, 0)),
    ("one warning (a regression from the baseline)", [(ERRORS, 0.007, 1000, None), MET_P95],
     None, (0, 1, 1, 1)),
    ("one violated", [(ERRORS, 0.5, 1000, None), MET_P95], None, (1, 1, 1, 1)),
    ("one not evaluated", [(ERRORS, None, None, None), MET_P95], None, (2, 2, 2, 2)),
    ("one violated and one not evaluated", [(ERRORS, 0.5, 1000, None), (P95, None, None, None)],
     None, (1, 1, 1, 1)),
    ("every SLO met on metrics blind to a fault the proxy counted (refused)",
     [MET_ERRORS, MET_P95], {"error": 66.0}, (2, 2, 2, 2)),
]
FLAGS = [(), ("--strict",), ("--baseline", "BASELINE"), ("--strict", "--baseline", "BASELINE")]
OUTCOME_CASES = [(f"{name}, {' '.join(flags) or 'no flag'}", measured, faulted, flags, code)
                 for name, measured, faulted, codes in VERDICT_SETS
                 for flags, code in zip(FLAGS, codes, strict=True)]
JUNIT_ELEMENT = {"passed": None, "failed": "failure", "not_evaluated": "error"}
MARKDOWN_ICONS = {"passed": ("✅", "⚠️"), "failed": ("❌",), "not_evaluated": ("❔",)}


@pytest.mark.parametrize(("measured", "faulted", "flags", "code"),
                         [c[1:] for c in OUTCOME_CASES], ids=[c[0] for c in OUTCOME_CASES])
def test_every_output_tells_the_outcome_the_exit_code_tells(tmp_path, monkeypatch, capsys,
                                                           measured, faulted, flags, code):
    got = checked(tmp_path, monkeypatch, capsys, measured, *flags, faulted=faulted)
    assert got["code"] == code
    data, suite = got["json"], got["junit"]
    slos = {s["name"]: s["outcome"] for s in data["slos"]}
    overall = {0: "passed", 1: "failed", 2: "not_evaluated"}[code]
    assert (data["outcome"], data["exit_code"], data["strict"]) == (
        overall, code, "--strict" in flags)
    assert data["counts"] == {o: list(slos.values()).count(o) for o in JUNIT_ELEMENT}
    # JUnit: a failure per failed SLO, an error per SLO not evaluated, and the counts say so
    assert junit_counts(suite) == (2, data["counts"]["failed"], data["counts"]["not_evaluated"])
    for case in suite.iter("testcase"):
        element = JUNIT_ELEMENT[slos[case.get("name")]]
        assert [e.tag for e in case if e.tag in ("failure", "error")] == (
            [element] if element else [])
    # a CI system reading only the JUnit is green exactly when the gate is
    assert (junit_counts(suite)[1:] == (0, 0)) == (code == 0)
    assert (junit_counts(suite)[1] > 0) == (code == 1)
    # Markdown and the terminal: the same headline, and each SLO's row the same outcome
    assert got["markdown"].startswith(f"### SLO check: {data['verdict']}\n")
    assert f"{data['verdict']} (exit {code};" in got["terminal"]
    for name, outcome in slos.items():
        row = next(line for line in got["markdown"].splitlines()
                   if line.startswith(f"| {name}"))
        cell = row.rstrip(" |").rsplit("| ", 1)[1]
        assert cell.startswith(MARKDOWN_ICONS[outcome]), (name, outcome, cell)
