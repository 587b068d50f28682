"""How much of a window the alert tracker watched a rule (slo.live.coverage), on canned polls:
what "did not fire" may be said about."""

import pytest

from slo.live.alerts import AlertSelector, AlertTimeline, AlertTracker, Poll, Rule, parse_rules
from slo.live.coverage import Gap, coverage, max_gap_s, poll_gaps

T0 = 1_800_000_000.0
BURN = Rule("ErrorBudgetBurn", (("severity", "page"), ("slo", "error-ratio")), 0, "x", "g", 1.0)
DOWN = Rule("PortfolioAppDown", (("severity", "page"),), 30, "up == 0", "g", 1.0)
SELECTOR = AlertSelector.of("ErrorBudgetBurn", {"slo": "error-ratio"})
GAP = max_gap_s(1.0)   # 5 s: two intervals + one poll timeout


def sick(rule, health="err", error="bad query"):
    return Rule(rule.name, rule.labels, rule.for_s, rule.query, rule.group, rule.interval_s,
                health=health, last_error=error)


def every_second(start, end, source="prometheus", rules=(BURN, DOWN), down=(), sick_at=()):
    """Polls at T0+start..T0+end; failed in `down`, the burn rule unhealthy in `sick_at`."""
    out = []
    for at in range(start, end + 1):
        if any(a <= at < b for a, b in down):
            out.append(Poll(T0 + at, source, (), "connection refused"))
        elif any(a <= at < b for a, b in sick_at):
            out.append(Poll(T0 + at, source, tuple(sick(r) if r is BURN else r for r in rules)))
        else:
            out.append(Poll(T0 + at, source, rules))
    return out


CASES = [
    # id, polls, (window start, end), expected fraction, expected gaps ((start, end, cause), ...)
    ("a window polled every second is fully watched",
     every_second(-5, 105), (0, 100), 1.0, ()),
    ("a blip shorter than two intervals and a timeout is still watched",
     every_second(-5, 105, down=[(10, 14)]), (0, 100), 1.0, ()),
    ("an outage longer than that is a gap from the last answer to the next",
     every_second(-5, 105, down=[(10, 20)]), (0, 100), 0.89,
     ((9, 20, "connection refused"),)),
    ("a gap at the start counts from the window's start",
     every_second(8, 105), (0, 100), 0.92, ((0, 8, "no poll answered"),)),
    ("a gap at the end counts until the window's end",
     every_second(-5, 90), (0, 100), 0.90, ((90, 100, "no poll answered"),)),
    ("an unhealthy rule is not watched even when Prometheus answers",
     every_second(-5, 105, sick_at=[(30, 60)]), (0, 100), 0.69,
     ((29, 60, "rule ErrorBudgetBurn had health 'err' (bad query)"),)),
    ("a rule that is not loaded was not watched",
     every_second(-5, 105, rules=(DOWN,)), (0, 100), 0.0,
     ((0, 100, 'no rule ErrorBudgetBurn{slo="error-ratio"} was loaded'),)),
    ("no poll at all watched nothing",
     [], (0, 100), 0.0, ((0, 100, "no poll answered"),)),
    ("only the polls of the source that holds the rule count",
     every_second(-5, 105, down=[(0, 100)]) + every_second(-5, 105, "grafana", rules=(DOWN,)),
     (0, 100), 0.0, ((0, 100, "connection refused"),)),
    ("a rule held by two sources is watched only while both answer",
     every_second(-5, 105) + every_second(-5, 105, "grafana", down=[(50, 70)]), (0, 100), 0.79,
     ((49, 70, "connection refused"),)),
]


@pytest.mark.parametrize("polls, window, fraction, gaps", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_coverage(polls, window, fraction, gaps):
    cov = coverage(polls, SELECTOR, T0 + window[0], T0 + window[1], GAP)
    assert cov.fraction == pytest.approx(fraction, abs=0.005)
    assert [(g.start - T0, g.end - T0, g.cause) for g in cov.gaps] == list(gaps)
    assert cov.enough == (fraction >= 0.9)


def test_a_gap_is_described_with_its_length_and_offsets():
    gap = Gap(T0 + 1, T0 + 39.2, "prometheus", "Prometheus at http://x is unreachable")
    assert gap.describe(T0) == ("no successful poll of prometheus for 38.2s (+1.0s..+39.2s): "
                                "Prometheus at http://x is unreachable")


def test_poll_gaps_name_every_source_that_did_not_answer_whatever_its_rules():
    history = every_second(-5, 105, down=[(10, 30)]) + every_second(-5, 105, "grafana",
                                                                   rules=(DOWN,), down=[(80, 95)])
    gaps = poll_gaps(history, T0, T0 + 100, GAP)
    assert [(g.source, g.start - T0, g.end - T0) for g in gaps] == [
        ("prometheus", 9, 30), ("grafana", 79, 95)]


class Flaky:
    """A source that answers, then fails twice, then answers again."""

    name = "prometheus"

    def __init__(self):
        self.calls = 0

    def fetch(self, at=None):
        self.calls += 1
        if self.calls in (2, 3):
            from slo.live.alerts import AlertSourceError
            raise AlertSourceError("Prometheus at http://x is unreachable")
        return parse_rules({"status": "success", "data": {"groups": []}}, at)


def test_the_tracker_records_every_poll_and_every_failed_one_in_the_timeline():
    now = [T0]

    def clock():
        now[0] += 1
        return now[0]

    tracker = AlertTracker([Flaky()], interval_s=2.0, clock=clock)
    for _ in range(4):
        tracker.poll_once()
    history = tracker.timeline.history
    assert [p.ok for p in history] == [True, False, False, True]
    assert history[1].error == "Prometheus at http://x is unreachable"
    assert tracker.timeline.poll_interval_s == 2.0
    assert isinstance(tracker.timeline, AlertTimeline)
