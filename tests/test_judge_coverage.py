"""Coverage of a window, without servers: range-query answers -> steps -> observed share, gaps,
down stretches and the problems that keep a window from being judged (tables with
sentence-like ids). tests/test_judge_coverage_integration.py runs the same against a real
Prometheus holding exact samples."""

import math

import pytest

from slo.judge import coverage
from slo.judge.coverage import DOWN, GAP, OK, Grid, Stretch
from slo.judge.window import Window, iso_utc
from slo.spec.selectors import Matcher, Selector

T0 = 1_800_000_000.0  # the window's start
STEP = 5


def window(seconds: int = 300, source: str = "--start/--end") -> Window:
    return Window(T0, T0 + seconds, source)


def answer(pattern: str, start: float = T0, instance: str = "10.0.0.1:5000",
           jitter: float = 0.0) -> list[dict]:
    """A range answer of up, one character per step of the grid of a window from `start`:
    '.' up, '0' a failed scrape, ' ' no point."""
    g = coverage.grid(start, start + len(pattern) * STEP, STEP)
    values = [(g.first + i * STEP + (jitter if i % 2 else -jitter), 1.0 if c == "." else 0.0)
              for i, c in enumerate(pattern) if c != " "]
    return [{"metric": {"job": "app", "instance": instance}, "values": values}]


def measured(pattern: str, resets: int = 0, grace: float = -math.inf,
             needs: float = coverage.MIN_SHARE):
    g = coverage.grid(T0, T0 + len(pattern) * STEP, STEP)
    states = coverage.steps(answer(pattern), g)
    return coverage.measure(g, states, ('up{job="app"}',), resets, grace, needs)


# ---- the grid: whole scrape intervals back from the window's end -------------------------------

@pytest.mark.parametrize(("seconds", "scrape_s", "step", "count"), [
    (300, 5, 5, 60),
    (302.5, 5, 5, 60),           # the first partial interval is not looked at
    (10, 5, 5, 2),
    (10, 15, 15, 0),             # shorter than one scrape interval
    (30 * 86400, 5, 260, 9969),  # at most MAX_POINTS points: the step grows
    (60, 0.5, 1, 60),            # whole seconds
], ids=["five minutes", "not aligned", "the shortest window", "shorter than a scrape",
        "thirty days", "sub-second scrapes"])
def test_the_grid_counts_whole_steps_back_from_the_end(seconds, scrape_s, step, count):
    g = coverage.grid(T0, T0 + seconds, scrape_s)
    assert (g.step_s, g.count) == (step, count)
    if count:
        assert g.first == pytest.approx(T0 + seconds - (count - 1) * step)


# ---- steps: observed, down, gap -------------------------------------------------------------

STEPS = [
    ("every scrape good", "......", [OK] * 6),
    ("a failed scrape", "..0...", [OK, OK, DOWN, OK, OK, OK]),
    ("no point is a gap", "..  ..", [OK, OK, GAP, GAP, OK, OK]),
]


@pytest.mark.parametrize(("pattern", "states"), [s[1:] for s in STEPS], ids=[s[0] for s in STEPS])
def test_each_step_is_observed_down_or_a_gap(pattern, states):
    g = coverage.grid(T0, T0 + len(pattern) * STEP, STEP)
    assert [s for s, _ in coverage.steps(answer(pattern), g)] == states


def test_a_failed_scrape_names_its_instance_and_timestamps_a_few_ms_off_still_match():
    g = coverage.grid(T0, T0 + 20, STEP)
    got = coverage.steps(answer("..0.", jitter=0.003), g)
    assert got[2] == (DOWN, frozenset({"10.0.0.1:5000"}))


def test_several_targets_are_observed_only_together():
    assert [s for s, _ in coverage.merged([
        [(OK, frozenset()), (GAP, frozenset()), (OK, frozenset()), (OK, frozenset())],
        [(OK, frozenset()), (OK, frozenset()), (DOWN, frozenset({"b"})), (OK, frozenset())],
    ])] == [OK, GAP, DOWN, OK]


# ---- the observed share and the stretches -------------------------------------------------------

# (id, pattern (one char per 5 s step), resets, observed share, stretches as (index, steps, failed))
SHARES = [
    ("all scraped", "." * 60, 0, 1.0, []),
    ("one missed scrape is not counted", "." * 30 + " " + "." * 29, 0, 1.0, []),
    ("one missed scrape at the end (not yet in) is not counted", "." * 59 + " ", 0, 1.0, []),
    ("a failed scrape is kept, not counted", "." * 30 + "0" + "." * 29, 0, 1.0,
     [(30, 1, True)]),
    ("two missed scrapes count", "." * 30 + "  " + "." * 28, 0, 58 / 60, [(30, 2, False)]),
    ("a ten-step hole", "." * 20 + " " * 10 + "." * 30, 0, 50 / 60, [(20, 10, False)]),
    ("a down stretch", "." * 20 + "0" * 10 + "." * 30, 0, 50 / 60, [(20, 10, True)]),
    ("down, then no scrape: one stretch", "." * 20 + "00  " + "." * 36, 0, 56 / 60,
     [(20, 4, True)]),
    ("a reset costs one interval", "." * 60, 2, 58 / 60, []),
    ("the last 20 of 25 minutes dead", "." * 60 + "0" * 240, 0, 0.2, [(60, 240, True)]),
]


@pytest.mark.parametrize(("pattern", "resets", "share", "stretches"), [s[1:] for s in SHARES],
                         ids=[s[0] for s in SHARES])
def test_the_observed_share_counts_stretches_of_two_steps_or_more_and_resets(
        pattern, resets, share, stretches):
    cov = measured(pattern, resets)
    assert cov.observed == pytest.approx(share)
    assert [(round((s.start - T0) / STEP), s.steps, bool(s.failed)) for s in cov.stretches] \
        == stretches
    assert cov.single_misses == sum(1 for i, c in enumerate(pattern) if c == " " and
                                    (i == 0 or pattern[i - 1] != " ") and
                                    (i + 1 == len(pattern) or pattern[i + 1] != " "))


def test_a_stretch_at_the_start_within_the_late_data_grace_is_left_to_it():
    pattern = "   " + "." * 57
    assert measured(pattern).stretches[0].steps == 3
    assert measured(pattern, grace=T0 + 16).stretches == ()        # ends at T0 + 15
    assert measured(pattern, grace=T0 + 16).observed == 1.0
    assert measured(pattern, grace=T0 + 14).stretches[0].steps == 3  # ends after the grace
    assert measured(pattern, grace=math.inf).stretches == ()       # late data reported it


# ---- problems: what keeps a window from being judged ----------------------------------------

def problems(pattern: str, kind: str = "latency_percentile", resets: int = 0,
             needs: float = coverage.MIN_SHARE, source: str = "--start/--end") -> list[str]:
    cov = measured(pattern, resets, needs=needs)
    return coverage.problems(cov, window(len(pattern) * STEP, source), kind)


PROBLEMS = [
    ("all scraped", "." * 60, "error_ratio", 0, []),
    ("two missed scrapes of three", "." * 30 + "   " + "." * 27, "latency_percentile", 0, []),
    ("a hole of four scrape intervals", "." * 30 + " " * 4 + "." * 26, "latency_percentile", 0,
     [f"no scrape for 20 s from {iso_utc(T0 + 150)}"]),
    ("a failed scrape of a latency SLO", "." * 30 + "0" + "." * 29, "latency_percentile", 0,
     []),
    ("a failed scrape of an error ratio", "." * 30 + "0" + "." * 29, "error_ratio", 0,
     [f"was down inside the window: scrapes failing (up == 0: 10.0.0.1:5000) for 5 s from "
      f"{iso_utc(T0 + 150)}"]),
    ("a failed scrape of an availability", "." * 30 + "0" + "." * 29, "availability", 0,
     ["so its availability would leave them out"]),
    ("a failed scrape of a good ratio", "." * 30 + "0" + "." * 29, "ratio", 0, ["was down"]),
    ("many short holes", ("." * 8 + "  ") * 6, "request_rate", 0,
     ["only 80% of the 300 s window was observed (needs 90%)",
      "(or accept less: --min-coverage 80%)"]),
    ("restarts alone", "." * 60, "error_ratio", 7,
     ["counter resets (up{job=\"app\"}, 5 s scrapes): only 88.3% of the",
      "its counters reset 7 times in the window"]),
]


@pytest.mark.parametrize(("pattern", "kind", "resets", "says"), [p[1:] for p in PROBLEMS],
                         ids=[p[0] for p in PROBLEMS])
def test_a_window_is_not_judged_for_holes_low_coverage_or_a_down_target(pattern, kind, resets,
                                                                        says):
    found = problems(pattern, kind, resets)
    assert bool(found) == bool(says)
    for text in says:
        assert text in found[0], found[0]


def test_a_down_target_is_one_message_and_a_hole_beside_it_another():
    pattern = "." * 10 + "0" * 6 + "." * 10 + " " * 5 + "." * 29
    down, hole = problems(pattern, "error_ratio")
    assert down.startswith('up{job="app"} was down inside the window: scrapes failing (up == 0: '
                           f"10.0.0.1:5000) for 30 s from {iso_utc(T0 + 50)}")
    assert hole.startswith(f"no scrape for 25 s from {iso_utc(T0 + 130)}")
    assert "was down" not in hole
    # the same window for a latency SLO: both are holes, in one message
    (both,) = problems(pattern, "latency_percentile")
    assert both.startswith("scrapes failing (up == 0: 10.0.0.1:5000) for 30 s from "
                           f"{iso_utc(T0 + 50)}; no scrape for 25 s from {iso_utc(T0 + 130)}")
    assert "longer than 3 scrape intervals is never judged across" in both


def test_the_fix_is_the_longest_observed_part_and_a_lower_minimum_only_without_long_holes():
    (text,) = problems("." * 10 + " " * 20 + "." * 30)
    assert text.endswith(f"judge its longest observed part: --start {iso_utc(T0 + 150)} --end "
                         f"{iso_utc(T0 + 300)}")
    assert "--min-coverage" not in text
    (text,) = problems("." * 10 + " " * 20 + "." * 30, source="last 5m")
    assert text.endswith("judge its longest observed part: --last 150s")
    (text,) = problems(" " * 59 + ".")
    assert "no part of it was observed long enough to judge" in text
    assert problems("." * 10 + " " * 20 + "." * 30, needs=0.5) != []   # the hole stays


def test_a_lower_minimum_judges_a_window_with_short_holes():
    assert problems(("." * 8 + "  ") * 6, "request_rate", needs=0.8) == []


def test_a_window_shorter_than_a_scrape_interval_cannot_be_told_observed():
    g = coverage.grid(T0, T0 + 10, 15)
    cov = coverage.measure(g, [], ('up{job="app"}',))
    (text,) = coverage.problems(cov, Window(T0, T0 + 10, "last 10s"), "error_ratio")
    assert "shorter than one scrape interval" in text and "(15 s)" in text


# ---- what a judged window's coverage says, and its JSON ----------------------------------------

def test_a_judged_window_notes_what_it_lacked_and_nothing_for_single_misses():
    assert coverage.note(measured("." * 60)) is None
    assert coverage.note(measured("." * 30 + " " + "." * 29)) is None
    assert coverage.note(measured("." * 30 + "  " + "." * 28, resets=1)) == (
        f'observed 95% of the window (up{{job="app"}}, 5 s scrapes): no scrape for 10 s from '
        f"{iso_utc(T0 + 150)}; 1 counter reset (a restart)")


def test_the_json_carries_the_share_and_each_gap_with_its_start_and_length():
    cov = measured("." * 20 + "0" * 4 + "  " + "." * 34, resets=1)
    assert cov.to_json() == {
        "observed": round(53 / 60, 4), "needs": 0.9, "targets": ['up{job="app"}'],
        "source": "up", "step_s": 5, "steps": 60,
        "gaps": [{"start": iso_utc(T0 + 100), "seconds": 30, "failed": ["10.0.0.1:5000"],
                  "no_scrape_s": 10}],
        "single_misses": 0, "resets": 1}


def test_stretch_text_says_whether_scrapes_failed_or_none_happened():
    assert str(Stretch(T0, 2, 5)) == f"no scrape for 10 s from {iso_utc(T0)}"
    assert str(Stretch(T0, 2, 5, ("a:1",))) == (
        f"scrapes failing (up == 0: a:1) for 10 s from {iso_utc(T0)}")
    assert str(Stretch(T0, 2, 5, ("a:1",), 1)) == (
        f"scrapes failing (up == 0: a:1) or missing for 10 s from {iso_utc(T0)}")


# ---- the queries -------------------------------------------------------------------------

JOB = Selector("app_requests_total", (Matcher("job", "=", "app"), Matcher("status", "=~", "5..")))
BARE = Selector("http_requests_total", (Matcher("handler", "=", "/api"),))


def test_the_up_query_reads_the_targets_of_the_selectors_job_and_instance():
    assert coverage.up_query(JOB, 5, 300) == (
        'min by (job, instance) (min_over_time(up{job="app"}[4999ms]))')
    assert str(coverage.up_selector(JOB)) == 'up{job="app"}'


def test_a_selector_without_job_or_instance_reads_the_targets_its_series_came_from():
    assert coverage.up_query(BARE, 5, 300) == (
        "(min by (job, instance) (min_over_time(up[4999ms])) and on (job, instance) "
        "group by (job, instance) (last_over_time(http_requests_total[300s] @ end())))")


def test_without_up_the_targets_own_series_are_counted_and_resets_summed_per_target():
    assert coverage.samples_query(JOB, 5) == (
        'max by (job, instance) (count_over_time(app_requests_total{job="app"}[4999ms]))')
    assert coverage.resets_query((JOB, BARE), 300) == (
        'sum(max by (job, instance) (resets(app_requests_total{job="app"}[300s]) or '
        "resets(http_requests_total[300s])))")


def test_a_grid_is_a_value():
    assert Grid(T0, 5, 3).first == T0 - 10 and Grid(T0, 5, 3).begins(0) == T0 - 15


# ---- the outputs carry it ----------------------------------------------------------------

def test_json_and_markdown_carry_the_observed_share_and_the_gaps():
    from dataclasses import replace

    from slo.judge import outputs
    from slo.judge.checker import CheckResult, judge
    from slo.judge.outcome import decide
    from slo.spec import load_spec

    spec = load_spec("slo/slos.yaml")
    cov = measured("." * 30 + "  " + "." * 28)
    verdict = replace(judge(spec.slo("error-ratio"), 0.001, 1000), coverage=cov)
    unmeasured = judge(spec.slo("throughput"), None, None)
    result = CheckResult("slo/slos.yaml", "portfolio-app", "http://prom", window(), [
        verdict, unmeasured], 0.1)
    data = result.to_json()["slos"]
    assert data[0]["coverage"]["observed"] == round(58 / 60, 4)
    assert data[0]["coverage"]["gaps"] == [{"start": iso_utc(T0 + 150), "seconds": 10,
                                            "failed": [], "no_scrape_s": 10}]
    assert data[1]["coverage"] is None
    md = outputs.to_markdown(result, decide(result.verdicts))
    assert "| requests | observed | verdict |" in md
    assert "| 1000 | 96.67% | ✅ MET |" in md and "| — | — | ❔ NOT EVALUATED |" in md


def test_targets_of_several_jobs_are_named_with_their_job():
    g = coverage.grid(T0, T0 + 10, STEP)
    two = [{"metric": {"job": job, "instance": "a:1"}, "values": [(g.first, 1.0), (g.end, v)]}
           for job, v in (("api", 1.0), ("web", 0.0))]
    assert coverage.steps(two, g)[1] == (DOWN, frozenset({"web/a:1"}))
    assert coverage.target_name(BARE) == "up of the targets of http_requests_total"
    assert coverage.target_name(JOB) == 'up{job="app"}'


def test_a_long_window_is_looked_at_in_points_of_several_scrapes_and_says_so():
    g = coverage.grid(T0, T0 + 30 * 86400, 5)
    pattern = "." * 100 + " " * 4 + "." * (g.count - 104)
    values = [(g.first + i * g.step_s, 1.0) for i, c in enumerate(pattern) if c == "."]
    cov = coverage.measure(g, coverage.steps([{"metric": {}, "values": values}], g),
                           ('up{job="app"}',))
    (text,) = coverage.problems(cov, Window(T0, T0 + 30 * 86400, "last 30d"), "error_ratio")
    assert "(up{job=\"app\"}, a point per 260 s, 5 s scrapes)" in text
    assert "longer than 3 points (260 s each) is never judged across" in text


def test_a_down_target_keeps_a_pass_from_being_a_claim_but_a_violation_stands():
    """A target down inside the window (up == 0): the requests sent to it then never reached
    its metrics. A met error ratio is no claim (exit 2); a violated one stands, since what the
    metrics missed could only have failed (an app restarted inside a window of 503s)."""
    from slo.judge.checker import MET, NO_DATA, VIOLATED, judge
    from slo.spec import load_spec

    slo = load_spec("slo/slos.yaml").slo("error-ratio")
    cov = measured("." * 30 + "0" + "." * 29)
    unproven = coverage.unproven(cov, window(60 * STEP), "error_ratio")
    assert len(unproven) == 1 and "was down inside the window" in unproven[0]
    assert coverage.unjudged(cov, window(60 * STEP), "error_ratio") == []
    met = judge(slo, 0.001, 1000, 999, unproven=unproven)
    assert (met.status, met.value, met.reason) == (NO_DATA, None, unproven[0])
    violated = judge(slo, 0.5, 1000, 500, unproven=unproven)
    assert violated.status == VIOLATED and violated.value == 0.5
    assert any("it stands though this was not seen" in n for n in violated.notes)
    assert judge(slo, 0.001, 1000, 999).status == MET    # the same numbers, fully seen
