"""Alert states from canned rules-API answers: parsing (Prometheus and Grafana), the
inactive -> pending -> firing -> resolved timeline with evaluation-precise times, and the
questions the runner asks of it."""

from datetime import UTC, datetime

import pytest

from slo.live.alerts import (
    AlertSelector,
    AlertSourceError,
    AlertTimeline,
    AlertTracker,
    Snapshot,
    parse_rules,
)
from slo.units import parse_rfc3339

T0 = 1_800_000_000.0


def rfc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def rule(name="ErrorBudgetBurn", labels=None, alerts=(), for_s=0, last_eval=None):
    labels = labels if labels is not None else {"slo": "error-ratio", "severity": "page",
                                                "long": "1m", "short": "20s"}
    return {"state": "firing" if alerts else "inactive", "name": name, "query": "vector(1)",
            "duration": for_s, "labels": labels, "annotations": {}, "health": "ok",
            "type": "alerting", "lastEvaluation": rfc(last_eval) if last_eval else
            "0001-01-01T00:00:00Z", "alerts": list(alerts)}


def alert(state, active_at, labels=None, name="ErrorBudgetBurn"):
    labels = dict(labels if labels is not None else {"slo": "error-ratio", "severity": "page",
                                                     "long": "1m", "short": "20s"})
    labels["alertname"] = name
    return {"labels": labels, "annotations": {}, "state": state, "activeAt": rfc(active_at),
            "value": "2.1e+01"}


def payload(*rules, interval=5):
    return {"status": "success", "data": {"groups": [
        {"name": "slo-error-ratio", "file": "x.yml", "interval": interval, "rules": list(rules)},
        {"name": "records", "file": "x.yml", "interval": interval, "rules": [
            {"name": "slo:sli_error:ratio_rate1m", "query": "vector(0)", "type": "recording",
             "health": "ok"}]}]}}


def test_parse_time_reads_rfc3339_with_nanoseconds_and_the_zero_time():
    assert parse_rfc3339("2027-01-15T08:00:00.123456789Z") == pytest.approx(
        datetime(2027, 1, 15, 8, 0, 0, 123456, tzinfo=UTC).timestamp())
    assert parse_rfc3339("0001-01-01T00:00:00Z") is None
    assert parse_rfc3339(None) is None


def test_prometheus_rules_become_rules_and_active_alerts():
    snap = parse_rules(payload(rule(alerts=[alert("pending", T0)], for_s=30, last_eval=T0),
                               rule("PortfolioAppDown", {"severity": "page"})), T0 + 1)
    assert [r.name for r in snap.rules] == ["ErrorBudgetBurn", "PortfolioAppDown"]
    first = snap.rules[0]
    assert first.for_s == 30 and first.interval_s == 5 and first.last_evaluation == T0
    assert first.label_dict["slo"] == "error-ratio"
    (active,) = snap.alerts
    assert (active.name, active.state, active.active_at) == ("ErrorBudgetBurn", "pending", T0)
    assert dict(active.labels)["alertname"] == "ErrorBudgetBurn"


def test_vmalerts_rules_without_an_alerts_key_are_still_rules():
    """vmalert (behind VictoriaMetrics's -vmalert.proxyURL) leaves "alerts" out of an
    alerting rule while none is active; the rule is there, evaluated and inactive."""
    quiet = rule("PortfolioAppDown", {"severity": "page"}, last_eval=T0)
    del quiet["alerts"]
    snap = parse_rules(payload(quiet), T0 + 1)
    assert [r.name for r in snap.rules] == ["PortfolioAppDown"]
    assert snap.alerts == ()


def test_a_failed_answer_is_a_source_error_naming_it():
    with pytest.raises(AlertSourceError, match="prometheus rules API answered without success"):
        parse_rules({"status": "error", "error": "boom"}, T0)


def test_grafana_states_map_onto_prometheus_states():
    grafana = payload(rule(alerts=[
        alert("Alerting", T0, {"slo": "a"}), alert("Pending", T0, {"slo": "b"}),
        alert("Normal", T0, {"slo": "c"}), alert("Alerting (NoData)", T0, {"slo": "d"})],
        labels={}))
    snap = parse_rules(grafana, T0, source="grafana")
    assert sorted((dict(a.labels)["slo"], a.state) for a in snap.alerts) == [
        ("a", "firing"), ("b", "pending"), ("d", "firing")]
    assert all(a.source == "grafana" for a in snap.alerts)


def poll(timeline, at, *rules):
    return timeline.observe(parse_rules(payload(*rules), at))


def test_an_alert_goes_pending_firing_resolved_at_the_evaluations_that_caused_it():
    timeline = AlertTimeline()
    assert poll(timeline, T0, rule(last_eval=T0 - 2)) == []
    pending = poll(timeline, T0 + 5, rule(alerts=[alert("pending", T0 + 4)], for_s=10,
                                          last_eval=T0 + 4))
    assert [(t.state, t.at, t.seen_at) for t in pending] == [("pending", T0 + 4, T0 + 5)]
    firing = poll(timeline, T0 + 15, rule(alerts=[alert("firing", T0 + 4)], for_s=10,
                                          last_eval=T0 + 14))
    assert [(t.state, t.at) for t in firing] == [("firing", T0 + 14)]
    resolved = poll(timeline, T0 + 30, rule(for_s=10, last_eval=T0 + 29))
    assert [(t.state, t.at) for t in resolved] == [("resolved", T0 + 29)]
    assert [t.state for t in timeline.transitions] == ["pending", "firing", "resolved"]


def test_a_stale_evaluation_time_falls_back_to_the_poll():
    timeline = AlertTimeline()
    poll(timeline, T0, rule(last_eval=T0 - 1))
    (seen,) = poll(timeline, T0 + 1, rule(alerts=[alert("pending", T0 - 1)], last_eval=T0 - 1))
    assert seen.at == T0 + 1  # the evaluation was before the previous poll: not this change


def test_an_alert_seen_firing_at_once_records_pending_too():
    timeline = AlertTimeline()
    poll(timeline, T0, rule())
    new = poll(timeline, T0 + 1, rule(alerts=[alert("firing", T0 + 0.5)], last_eval=T0 + 0.5))
    assert [t.state for t in new] == ["pending", "firing"]


def test_the_first_poll_records_what_is_already_active_at_that_moment():
    timeline = AlertTimeline()
    new = poll(timeline, T0, rule(alerts=[alert("firing", T0 - 100)], last_eval=T0 - 1))
    assert [(t.state, t.at) for t in new] == [("pending", T0), ("firing", T0)]


def test_instances_are_told_apart_by_labels():
    timeline = AlertTimeline()
    poll(timeline, T0, rule())
    a = alert("firing", T0, {"slo": "error-ratio", "long": "1m"})
    b = alert("firing", T0, {"slo": "error-ratio", "long": "6m"})
    poll(timeline, T0 + 1, rule(alerts=[a, b], labels={"slo": "error-ratio"}))
    poll(timeline, T0 + 2, rule(alerts=[b], labels={"slo": "error-ratio"}))
    states = [(dict(t.labels)["long"], t.state) for t in timeline.transitions]
    assert states.count(("1m", "resolved")) == 1 and ("6m", "resolved") not in states


def build_story():
    """Fires at +10 (after a fault at 0), resolves at +40; another SLO fires at +12 and stays."""
    timeline = AlertTimeline()
    poll(timeline, T0, rule())
    mine = alert("firing", T0 + 10)
    other = alert("firing", T0 + 12, {"slo": "latency-p95", "severity": "page"})
    poll(timeline, T0 + 10, rule(alerts=[mine], last_eval=T0 + 10))
    poll(timeline, T0 + 12, rule(alerts=[mine, other], labels={}, last_eval=T0 + 12))
    poll(timeline, T0 + 40, rule(alerts=[other], labels={}, last_eval=T0 + 40))
    return timeline


def test_the_timeline_answers_first_firing_active_and_resolved_by():
    timeline = build_story()
    mine = AlertSelector.of("ErrorBudgetBurn", {"slo": "error-ratio"})
    assert timeline.first("firing", mine, after=T0).at == T0 + 10
    assert timeline.first("firing", mine, after=T0, before=T0 + 5) is None
    assert len(timeline.active_at(mine, T0 + 20)) == 1
    assert timeline.active_at(mine, T0 + 41) == []
    assert timeline.resolved_by(mine, T0 + 20, T0 + 50) == (T0 + 40, [])
    moment, still = timeline.resolved_by(mine, T0 + 20, T0 + 30)
    assert moment is None and len(still) == 1
    everything = AlertSelector.of("ErrorBudgetBurn")
    assert timeline.resolved_by(everything, T0 + 20, T0 + 60)[0] is None


def test_fired_during_counts_alerts_carried_into_the_window():
    timeline = build_story()
    mine = AlertSelector.of("ErrorBudgetBurn", {"slo": "error-ratio"})
    assert [t.at for t in timeline.fired_during(mine, T0 + 20, T0 + 30)] == [T0 + 10]
    assert timeline.fired_during(mine, T0 + 41, T0 + 60) == []
    assert timeline.fired_during(mine, T0 - 10, T0 + 5) == []


def test_a_selector_matches_rules_by_name_and_static_labels():
    snap = parse_rules(payload(rule(), rule("PortfolioAppDown", {"severity": "page"})), T0)
    timeline = AlertTimeline()
    timeline.observe(snap)
    mine = AlertSelector.of("ErrorBudgetBurn", {"slo": "error-ratio"})
    assert len(timeline.rules_matching(mine)) == 1
    assert timeline.rules_matching(AlertSelector.of("ErrorBudgetBurn", {"slo": "other"})) == []
    # a label the rule does not set may come from the query's series: not ruled out
    assert timeline.rules_matching(AlertSelector.of("PortfolioAppDown", {"instance": "x"}))
    assert timeline.rules_matching(AlertSelector.of("NoSuchAlert")) == []
    assert str(AlertSelector.of("A", {"b": "c"})) == 'A{b="c"}'


class FlakySource:
    name = "prometheus"

    def __init__(self, answers):
        self.answers = list(answers)

    def fetch(self, at=None):
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return parse_rules(answer, at)


def test_the_tracker_keeps_polling_through_errors_and_reports_transitions():
    seen = []
    clock = iter([T0, T0 + 1, T0 + 2]).__next__
    source = FlakySource([payload(rule()), AlertSourceError("down for a moment"),
                          payload(rule(alerts=[alert("firing", T0 + 2)], last_eval=T0 + 2))])
    tracker = AlertTracker([source], on_transition=seen.append, clock=clock)
    tracker.poll_once()
    tracker.poll_once()
    assert tracker.last_errors == {"prometheus": "down for a moment"}
    tracker.poll_once()
    assert tracker.last_errors == {} and tracker.failed_polls == {"prometheus": 1}
    assert [t.state for t in seen] == ["pending", "firing"]
    assert [a.state for a in tracker.snapshot_state()] == ["firing"]


def test_snapshots_of_two_sources_do_not_resolve_each_other():
    timeline = AlertTimeline()
    firing = parse_rules(payload(rule(alerts=[alert("firing", T0)])), T0, "prometheus")
    timeline.observe(firing)
    timeline.observe(Snapshot(T0 + 1, (), (), "grafana"))
    assert [t.state for t in timeline.transitions] == ["pending", "firing"]
