"""Judging expectations from observations (no servers): SLO verdicts, alert states, Telegram
messages and counters — each failure with a reason a person can act on."""

from dataclasses import replace

import pytest
import yaml

from slo.experiment.expectations import (
    PhaseWindow,
    SloVerdict,
    TelegramEvidence,
    alert_outcome,
    slo_outcome,
    telegram_outcome,
)
from slo.experiment.schema import parse_experiment
from slo.live.alerts import AlertTimeline, Poll, Rule, Transition
from slo.live.delivery import CounterDelta, CounterSample, notices
from slo.live.health import Route

T0 = 1_800_000_000.0
EXPERIMENT = parse_experiment(yaml.safe_dump({
    "version": "slo-harness/v1", "kind": "Experiment", "name": "unit",
    "phases": [
        {"name": "baseline", "duration": "20s", "expect": {"alerts": [
            {"alert": "ErrorBudgetBurn", "labels": {"slo": "error-ratio"},
             "state": "not_firing"}]}},
        {"name": "outage", "duration": "30s",
         "fault": {"kind": "error", "params": {"probability": 1.0}},
         "expect": {"alerts": [{"alert": "ErrorBudgetBurn", "labels": {"slo": "error-ratio"},
                                "state": "firing", "within": "20s"}],
                    "telegram": [{"alert": "ErrorBudgetBurn", "labels": {"slo": "error-ratio"},
                                  "status": "firing", "within": "25s"}]}},
        {"name": "recovery", "duration": "40s",
         "expect": {"alerts": [{"alert": "ErrorBudgetBurn", "labels": {"slo": "error-ratio"},
                                "state": "resolved", "within": "30s"}],
                    "telegram": [{"alert": "ErrorBudgetBurn", "labels": {"slo": "error-ratio"},
                                  "status": "resolved", "within": "30s"}]}},
    ]}), "exp.yaml")
LABELS = (("alertname", "ErrorBudgetBurn"), ("long", "1m"), ("severity", "page"),
          ("slo", "error-ratio"))
END = T0 + 95
CHAT = "-1001234567890"


def windows() -> list[PhaseWindow]:
    out = []
    for phase in EXPERIMENT.phases:
        window = PhaseWindow(phase, T0 + phase.start_s, T0 + phase.end_s, completed=True)
        if phase.fault:
            window.fault_start, window.fault_end = window.start, window.end
        out.append(window)
    return out


RULE = Rule("ErrorBudgetBurn", (("severity", "page"), ("slo", "error-ratio")), 0, "x", "g", 1.0)


def polls(start=-5, end=100, down=(), health="ok") -> list[Poll]:
    """A poll of Prometheus every second from T0+start to T0+end; none answers in `down`
    ((from, to) offsets); `health` is the rule's health in every answer."""
    rule = Rule(*[getattr(RULE, f) for f in ("name", "labels", "for_s", "query", "group",
                                             "interval_s")], health=health)
    out = []
    for at in range(start, end + 1):
        blind = any(low <= at < high for low, high in down)
        out.append(Poll(T0 + at, "prometheus", () if blind else (rule,),
                        "Prometheus at http://127.0.0.1:9090 is unreachable" if blind else ""))
    return out


def timeline(*events, history=None) -> AlertTimeline:
    return AlertTimeline(transitions=[Transition(T0 + at, "prometheus", "ErrorBudgetBurn",
                                                 LABELS, state) for at, state in events],
                         history=polls() if history is None else history)


STORY = timeline((32, "pending"), (32, "firing"), (70, "resolved"))


def outcome(index, kind, story=STORY, run_end=END):
    w = windows()
    phase = w[index].phase
    expectation = (phase.alerts if kind == "alert" else phase.telegram)[0]
    return alert_outcome(w, index, expectation, story, run_end, True)


def test_met_accepts_a_warning_and_violated_needs_a_violation():
    w = windows()[0]
    assert slo_outcome(w, "e", "met", SloVerdict("e", "warn", 0.006, "ratio <= 1%")).passed
    assert not slo_outcome(w, "e", "violated", SloVerdict("e", "met", 0.0)).passed
    failed = slo_outcome(w, "e", "met", SloVerdict("e", "violated", 1.0, "ratio <= 1%", "ratio",
                                                   "100.00%"))
    assert "SLO 'e' was violated in phase 'baseline'" in failed.reason


def test_no_data_or_an_inconclusive_verdict_is_not_evaluated_either_way():
    w = windows()[1]
    for expected in ("met", "violated"):
        result = slo_outcome(w, "e", expected, SloVerdict("e", "no_data"))
        assert result.status == "not_evaluated" and "no data" in result.reason
        result = slo_outcome(w, "e", expected, SloVerdict("e", "inconclusive"))
        assert result.status == "not_evaluated" and "inconclusive" in result.reason


def test_an_unfinished_phase_is_skipped_not_judged():
    w = windows()[1]
    w.completed = False
    assert slo_outcome(w, "e", "met", None).status == "skipped"


def test_a_quiet_baseline_holds_and_a_paging_baseline_fails_with_the_moment():
    assert outcome(0, "alert").passed
    noisy = timeline((5, "pending"), (5, "firing"))
    result = outcome(0, "alert", noisy)
    assert result.status == "failed"
    assert "fired during phase 'baseline' (+5.0s" in result.reason
    assert "a healthy phase must not page" in result.reason


def test_firing_within_the_limit_measures_from_the_fault_start():
    result = outcome(1, "alert")
    assert result.passed and result.measured_s == 12.0 and result.observed == "fired after 12.0s"


def test_firing_too_late_fails_and_tells_what_the_alert_did():
    late = timeline((30, "pending"), (45, "firing"))
    result = outcome(1, "alert", late)
    assert result.status == "failed"
    assert "did not fire within 20s of the fault's start" in result.reason
    assert "pending at +10.0s" in result.reason


def test_resolution_counts_from_the_end_of_the_fault():
    result = outcome(2, "alert")
    assert result.passed and result.measured_s == 20.0


def test_an_alert_still_firing_at_the_deadline_fails():
    stuck = timeline((32, "pending"), (32, "firing"))
    result = outcome(2, "alert", stuck)
    assert result.status == "failed" and "still pending or firing 30s after" in result.reason


def test_a_deadline_after_the_end_of_an_interrupted_run_is_skipped():
    stuck = timeline((32, "pending"), (32, "firing"))
    assert outcome(2, "alert", stuck, run_end=T0 + 60).status == "skipped"


# -- what was not watched is not judged (issue 11 item 3) ------------------------------------

def test_a_baseline_not_watched_for_most_of_its_time_is_not_evaluated_naming_the_gap():
    blind = timeline((32, "pending"), (32, "firing"), (70, "resolved"),
                     history=polls(down=[(1, 19)]))
    result = outcome(0, "alert", blind)
    assert result.status == "not_evaluated"
    assert result.observed == "could not evaluate (5% observed)"
    assert result.reason.startswith(
        'ErrorBudgetBurn{slo="error-ratio"} cannot be judged not firing in phase \'baseline\': '
        "the alert tracker watched its rule for only 5% of the phase (at least 90% is needed): "
        "no successful poll of prometheus for 19.0s (+0.0s..+19.0s): Prometheus at "
        "http://127.0.0.1:9090 is unreachable; keep Prometheus up")
    assert result.details["gaps"] == [{"source": "prometheus", "start_offset_s": 0.0,
                                       "length_s": 19.0, "cause": "Prometheus at "
                                       "http://127.0.0.1:9090 is unreachable"}]


def test_a_short_outage_of_the_poller_still_counts_as_watched():
    result = outcome(0, "alert", timeline(history=polls(down=[(5, 9)])))
    assert result.passed and result.observed == "did not fire"
    assert result.details["observed_fraction"] == 1.0


def test_a_firing_alert_seen_through_the_gaps_is_still_a_fact():
    seen = timeline((32, "pending"), (32, "firing"), (70, "resolved"),
                    history=polls(down=[(20, 31)]))
    assert outcome(1, "alert", seen).passed
    noisy = timeline((5, "pending"), (5, "firing"), history=polls(down=[(0, 4), (6, 20)]))
    assert outcome(0, "alert", noisy).status == "failed"


def test_not_firing_in_time_while_blind_is_not_evaluated():
    late = timeline((30, "pending"), (45, "firing"), history=polls(down=[(25, 40)]))
    result = outcome(1, "alert", late)
    assert result.status == "not_evaluated"
    assert "cannot be judged not firing within 20s of the fault's start" in result.reason
    assert "the 20s after the fault's start" in result.reason


def test_resolution_while_blind_at_the_deadline_is_not_evaluated_either_way():
    for story in (STORY, timeline((32, "pending"), (32, "firing"))):
        blind = timeline(history=polls(down=[(55, 80)]))
        blind.transitions = story.transitions
        result = outcome(2, "alert", blind)
        assert result.status == "not_evaluated", result


@pytest.mark.parametrize("health", ["err", "unknown"])
def test_a_rule_that_is_not_evaluated_healthily_is_not_watched(health):
    result = outcome(0, "alert", timeline(history=polls(health=health)))
    assert result.status == "not_evaluated"
    assert f"rule ErrorBudgetBurn had health '{health}'" in result.reason


def test_a_timeline_without_polls_watched_nothing():
    result = outcome(0, "alert", timeline(history=[]))
    assert result.status == "not_evaluated" and "0% observed" in result.observed


def test_an_unknown_rule_fails_with_a_pointer_to_verify_alerts():
    w = windows()
    result = alert_outcome(w, 1, w[1].phase.alerts[0], STORY, END, rules_known=False)
    assert result.status == "failed" and "slo verify-alerts" in result.reason


def sandbox(*messages):
    found = notices([{"message_id": i, "received_at": T0 + at, "text":
                      f"{'🔥' if s == 'FIRING' else '✅'} {s} ErrorBudgetBurn\n"
                      f"severity page · SLO error-ratio · service portfolio-app\n"}
                     for i, (at, s) in enumerate(messages, start=1)])
    return TelegramEvidence("sandbox", tuple(found),
                            lambda a, b: CounterDelta(0, 0, None, 0))


def telegram(index, evidence):
    w = windows()
    return telegram_outcome(w, index, w[index].phase.telegram[0], evidence, END)


def test_sandbox_messages_prove_firing_and_resolved_delivery():
    evidence = sandbox((37, "FIRING"), (75, "RESOLVED"))
    firing, resolved = telegram(1, evidence), telegram(2, evidence)
    assert firing.passed and firing.measured_s == 17.0 and firing.details["message_id"] == 1
    assert resolved.passed and resolved.measured_s == 25.0


def test_a_missing_message_is_not_delivered_with_alertmanager_hints():
    evidence = TelegramEvidence("sandbox", (), lambda a, b: CounterDelta(0, 3, None, 12))
    result = telegram(1, evidence)
    assert result.status == "failed" and result.observed == "not delivered"
    assert result.reason.startswith("not delivered: no FIRING message for "
                                    'ErrorBudgetBurn{slo="error-ratio"} reached the Telegram '
                                    "sandbox within 25s of the fault's start")
    assert "did not answer 12 of our polls" in result.reason
    assert "3 telegram notifications failed for good" in result.reason


ROUTE = Route(("alertname", "service", "slo", "severity"), 5, 10)


def counters(*rows, story=STORY):
    """Real-Telegram evidence: counter samples (offset, notifications, failed) and the timeline."""
    return TelegramEvidence("telegram", (), lambda a, b: CounterDelta(0, 0, None, 0),
                            samples=tuple(CounterSample(T0 + at, n, f) for at, n, f in rows),
                            timeline=story, route=ROUTE)


def test_real_telegram_counts_a_delivery_after_the_alerts_own_change():
    result = telegram(1, counters((30, 1, 0), (38, 2, 0)))
    assert result.passed and result.measured_s == 18.0
    assert "after the alert's own change, no other group then" in result.observed


def test_real_telegram_does_not_count_a_delivery_before_the_alert_fired():
    result = telegram(1, counters((21, 1, 0), (25, 2, 0), (44, 2, 0)))
    assert result.status == "failed" and result.observed == "not delivered"
    assert "Alertmanager counted no telegram notification for it without failure" in (
        result.reason)


def test_real_telegram_cannot_tell_its_delivery_from_another_groups():
    other = (("alertname", "PortfolioAppDown"), ("severity", "page"), ("slo", "availability"))
    story = timeline((32, "pending"), (32, "firing"), (70, "resolved"))
    story.transitions.append(Transition(T0 + 33, "prometheus", "PortfolioAppDown", other,
                                        "firing"))
    result = telegram(1, counters((30, 1, 0), (38, 2, 0), story=story))
    assert result.status == "not_evaluated"
    assert "PortfolioAppDown{severity=page,slo=availability} firing" in result.reason
    assert "Alertmanager counts per integration" in result.reason


def test_real_telegram_failures_are_not_delivered():
    result = telegram(1, counters((30, 1, 0), (40, 2, 1), (44, 2, 1)))
    assert result.status == "failed"
    quiet = timeline()   # it never fired: nothing can have been sent for it
    result = telegram(1, counters((30, 1, 0), (38, 2, 0), story=quiet))
    assert result.status == "failed"
    assert "the alert did not fire in that time, so nothing was sent for it" in result.reason


def test_a_message_in_another_chat_is_not_delivered_and_says_where_it_went():
    evidence = sandbox((37, "FIRING"))
    astray = TelegramEvidence("sandbox", tuple(replace(n, chat_id=-100999)
                                               for n in evidence.notices),
                              evidence.counter_delta, chat_id=CHAT)
    result = telegram(1, astray)
    assert result.status == "failed"
    assert f"reached the Telegram sandbox in chat {CHAT} within 25s" in result.reason
    assert "one reached chat -100999 instead: check chat_id" in result.reason
    right = TelegramEvidence("sandbox", tuple(replace(n, chat_id=int(CHAT))
                                              for n in evidence.notices),
                             evidence.counter_delta, chat_id=CHAT)
    assert telegram(1, right).passed


def test_an_expectation_of_one_burn_rate_row_never_takes_another_rows_message():
    """Issue 19 item 5. A 10 s outage fired only the long=1m row; an experiment expecting the
    long=6m/short=30s row's message PASSED on it: the message did not show long and short and
    the matchers it could not check were dropped. Now it shows them and they are checked."""
    experiment = parse_experiment(yaml.safe_dump({
        "version": "slo-harness/v1", "kind": "Experiment", "name": "rows",
        "phases": [{"name": "outage", "duration": "30s",
                    "fault": {"kind": "error", "params": {"probability": 1.0}},
                    "expect": {"telegram": [
                        {"alert": "ErrorBudgetBurn", "status": "firing", "within": "25s",
                         "labels": {"slo": "error-ratio", "long": long_, "short": short}}
                        for long_, short in (("6m", "30s"), ("1m", "20s"))]}}]}), "exp.yaml")
    phase = experiment.phases[0]
    window = PhaseWindow(phase, T0, T0 + 30, T0, T0 + 30, completed=True)
    found = notices([{"message_id": 1, "received_at": T0 + 12, "chat_id": int(CHAT), "text":
                      "🔥 FIRING ErrorBudgetBurn\n"
                      "severity page · SLO error-ratio · service portfolio-app\n"
                      'labels long="1m", short="20s"\n'}])
    evidence = TelegramEvidence("sandbox", tuple(found), lambda a, b: CounterDelta(0, 0, None, 0),
                                chat_id=CHAT)
    six, one = (telegram_outcome([window], 0, e, evidence, T0 + 40) for e in phase.telegram)
    assert (six.status, six.observed) == ("failed", "not delivered"), six
    assert one.passed and one.measured_s == 12.0
