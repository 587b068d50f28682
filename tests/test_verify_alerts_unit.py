"""`slo verify-alerts` logic without servers: where the stack is, each rule's state, waiting
for an alert's state (with a source that plays back canned answers)."""

import time
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from slo.live import verify
from slo.live.alerts import AlertSelector, AlertTracker, parse_rules
from slo.live.delivery import CounterSample, counter_delta, notices
from slo.live.health import Route
from slo.live.verify import Endpoints, rule_states, send_test, wait_for
from tests.helpers import GROUPED_CHECKS_MESSAGE

T0 = 1_800_000_000.0


def rfc(t):
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def answer(*alerts):
    rule = {"name": "ErrorBudgetBurn", "type": "alerting", "duration": 0, "query": "x",
            "health": "ok", "labels": {"slo": "error-ratio", "severity": "page"},
            "alerts": [{"labels": {"alertname": "ErrorBudgetBurn", "slo": "error-ratio",
                                   "severity": "page"}, "state": s, "activeAt": rfc(T0)}
                       for s in alerts]}
    down = {"name": "PortfolioAppDown", "type": "alerting", "duration": 30, "query": "up == 0",
            "health": "err", "lastError": "boom", "labels": {"severity": "page"}, "alerts": []}
    return {"status": "success", "data": {"groups": [{"name": "g", "interval": 5,
                                                      "rules": [rule, down]}]}}


def test_the_environment_wins_over_the_stack_file_which_wins_over_default_ports(tmp_path):
    (tmp_path / "env").write_text("PROMETHEUS_URL=http://127.0.0.1:19090\n"
                                  "ALERTMANAGER_URL=http://127.0.0.1:19093\n"
                                  "TELEGRAM_MODE=sandbox\nGRAFANA_URL=http://127.0.0.1:13000\n")
    found = Endpoints.from_env({"STACK_DIR": str(tmp_path),
                                "ALERTMANAGER_URL": "http://127.0.0.1:29093"})
    assert found.prometheus == "http://127.0.0.1:19090"
    assert found.alertmanager == "http://127.0.0.1:29093"
    assert found.sandbox == "http://127.0.0.1:8081"
    assert [s.name for s in found.sources()] == ["prometheus", "grafana"]
    bare = Endpoints.from_env({"STACK_DIR": str(tmp_path / "none"), "PROMETHEUS_PORT": "9999",
                               "TELEGRAM_BOT_TOKEN": "1:x"})
    assert bare.prometheus == "http://127.0.0.1:9999" and bare.telegram_mode == "telegram"
    assert bare.grafana is None


def test_each_rule_shows_its_worst_state_and_its_health():
    states = {s.name: s for s in rule_states(parse_rules(answer("pending", "firing"), T0))}
    burn, down = states["ErrorBudgetBurn"], states["PortfolioAppDown"]
    assert (burn.state, burn.active, burn.since) == ("firing", 2, T0)
    assert (down.state, down.health, down.last_error, down.for_s) == ("inactive", "err", "boom", 30)


class Playback:
    name = "prometheus"

    def __init__(self, *answers):
        self.answers = list(answers)

    def fetch(self, at=None):
        item = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return parse_rules(item, at)


def ticking():
    now = [T0]

    def clock():
        now[0] += 1
        return now[0]

    return clock


def test_waiting_for_firing_succeeds_when_the_alert_gets_there():
    tracker = AlertTracker([Playback(answer(), answer("pending"), answer("firing"))],
                           clock=ticking())
    result = wait_for(tracker, AlertSelector.of("ErrorBudgetBurn", {"slo": "error-ratio"}),
                      "firing", 30, clock=ticking(), interval=0)
    assert result.ok and "is firing" in result.detail


def test_waiting_for_resolved_fails_after_the_limit_while_it_still_fires():
    tracker = AlertTracker([Playback(answer("firing"))], clock=ticking())
    result = wait_for(tracker, AlertSelector.of("ErrorBudgetBurn"), "resolved", 3,
                      clock=ticking(), interval=0)
    assert not result.ok and "still pending or firing after 3s" in result.detail


def test_waiting_for_an_unknown_alert_fails_at_once_listing_the_loaded_ones():
    tracker = AlertTracker([Playback(answer())], clock=ticking())
    result = wait_for(tracker, AlertSelector.of("ErrorBudgetBrun"), "firing", 30,
                      clock=ticking(), interval=0)
    assert not result.ok
    assert result.detail == ("no alerting rule ErrorBudgetBrun is loaded (loaded: "
                             "ErrorBudgetBurn, PortfolioAppDown)")


RESOLVED_14 = ("✅ RESOLVED SloHarnessTestAlert\n"
               "severity info · SLO verify-alerts · service portfolio-app\n"
               "slo verify-alerts delivery check f0acac2d: no action needed\n"
               "since 2026-12-01 22:10:01 UTC · resolved 22:10:03 UTC\n\n"
               "Alertmanager")


def test_a_grouped_message_is_the_firing_of_its_own_check_only():
    """Before: the RESOLVED block of an earlier check (894b5e6c) in the message that carried the
    new check's FIRING counted as the new check's resolution ("resolved after -0.5s")."""
    found = notices([{"message_id": 13, "received_at": 100.0, "chat_id": 1,
                      "text": GROUPED_CHECKS_MESSAGE}])
    assert [n.message_id for n in verify.own_blocks(found, "f0acac2d", "firing")] == [13]
    assert verify.own_blocks(found, "f0acac2d", "resolved") == []
    assert [n.message_id for n in verify.own_blocks(found, "894b5e6c", "resolved")] == [13]
    later = found + notices([{"message_id": 14, "received_at": 110.0, "chat_id": 1,
                              "text": RESOLVED_14}])
    assert [n.message_id for n in verify.own_blocks(later, "f0acac2d", "resolved")] == [14]


class FakeSandbox:
    """The sandbox of the user's report: message 13 (FIRING of the new check grouped with the
    RESOLVED of an earlier one) arrives at once; 14 (the new check's RESOLVED) 1 s after the
    resolution is posted."""

    def __init__(self, posts):
        self.posts = posts

    def healthy(self):
        return True

    def messages(self, since=None, contains=None):
        shown = []
        if self.posts:
            shown.append({"message_id": 13, "received_at": self.posts[0] + 0.1, "chat_id": 1,
                          "text": GROUPED_CHECKS_MESSAGE})
        if len(self.posts) > 1 and time.time() >= self.posts[1] + 1:
            shown.append({"message_id": 14, "received_at": self.posts[1] + 1, "chat_id": 1,
                          "text": RESOLVED_14})
        return [m for m in shown if m["received_at"] >= since and contains in m["text"]]


class FakeCounters:
    """Alertmanager's telegram counters: one notification after the first post, none after."""

    def __init__(self, posts):
        self.posts = posts
        self.samples = []

    def poll(self, at):
        sample = CounterSample(at, 1.0 if self.posts else 0.0, 0.0, 0.0)
        self.samples.append(sample)
        return sample

    def delta(self, after, before):
        return counter_delta(self.samples, after, before)


@pytest.fixture
def fake_stack(monkeypatch):
    posts = []
    monkeypatch.setattr(verify.secrets, "token_hex", lambda n: "f0acac2d")
    monkeypatch.setattr(verify, "post_alert", lambda *a, **k: posts.append(time.time()))
    monkeypatch.setattr(verify, "SandboxClient", lambda url: FakeSandbox(posts))
    monkeypatch.setattr(verify, "AlertmanagerCounters", lambda url: FakeCounters(posts))
    monkeypatch.setattr(verify, "AlertmanagerApi", lambda url: SimpleNamespace(alerts=list))
    monkeypatch.setattr(verify, "alertmanager_route", lambda url: Route(("alertname",), 5, 10))
    monkeypatch.setattr(verify, "delivery_health", lambda *a, **k: None)
    return posts


def endpoints(mode):
    return Endpoints("http://p", "http://am", "http://sb", mode, chat_id="1")


def test_send_test_waits_for_its_own_resolved_block_not_an_earlier_checks(fake_stack):
    """Before: DELIVERED "resolved after -0.5s" from message 13's RESOLVED block of 894b5e6c."""
    result = send_test(endpoints("sandbox"), "portfolio-app", within_s=5)
    assert result.ok, result.detail
    assert 0.5 <= result.resolved_notify_s <= 3, result


def test_real_telegram_does_not_count_the_firing_notification_as_the_resolution(fake_stack):
    """Before: the counters' rise that proved the firing message was counted again as the
    resolved one (the resolved window opened 1 s before the resolution, over that rise)."""
    result = send_test(endpoints("telegram"), "portfolio-app", within_s=2)
    assert not result.ok and result.verdict == "not_delivered", result
    assert "resolution was not delivered within 2s" in result.detail


def fresh(*alerts, health="unknown", error=""):
    """An answer of a Prometheus whose rule groups have not run yet (right after `make stack
    FRESH=1`): health unknown, lastEvaluation 0001-01-01, no alerts; or `health="err"`."""
    payload = answer(*alerts)
    rule = payload["data"]["groups"][0]["rules"][0]
    rule.update({"health": health, "lastEvaluation": "0001-01-01T00:00:00Z"})
    if error:
        rule["lastError"] = error
    return payload


def shared_clock():
    clock = ticking()
    return clock, {"clock": clock, "interval": 0}


def test_a_rule_never_evaluated_is_not_resolved_it_could_not_be_evaluated():
    """Before: `OK ... is not firing after 0.0s`, exit 0, on a fresh stack whose rule groups
    had not run yet."""
    clock, kw = shared_clock()
    tracker = AlertTracker([Playback(fresh())], clock=clock)
    result = wait_for(tracker, AlertSelector.of("ErrorBudgetBurn", {"slo": "error-ratio"}),
                      "resolved", 10, **kw)
    assert not result.ok and not result.evaluated
    assert result.detail.startswith('could not evaluate: rule ErrorBudgetBurn{severity="page",'
                                    'slo="error-ratio"} has not been evaluated yet')
    assert "every 5s" in result.detail and "--within" in result.detail


def test_a_wait_for_resolved_waits_for_the_first_evaluation():
    clock, kw = shared_clock()
    tracker = AlertTracker([Playback(fresh(), fresh(), answer())], clock=clock)
    result = wait_for(tracker, AlertSelector.of("ErrorBudgetBurn"), "resolved", 10, **kw)
    assert result.ok and result.evaluated and "is not firing" in result.detail


def test_an_erroring_rule_is_not_resolved_and_its_error_is_named():
    clock, kw = shared_clock()
    tracker = AlertTracker([Playback(fresh(health="err", error="many-to-many matching"))],
                           clock=clock)
    result = wait_for(tracker, AlertSelector.of("ErrorBudgetBurn"), "resolved", 10, **kw)
    assert not result.ok and not result.evaluated
    assert "fails to evaluate: many-to-many matching" in result.detail


def test_not_firing_by_the_deadline_is_no_verdict_when_the_rule_never_ran():
    """Before: `FAILED ... is not firing after 10s` (exit 1) about evaluations that never
    happened."""
    clock, kw = shared_clock()
    tracker = AlertTracker([Playback(fresh())], clock=clock)
    result = wait_for(tracker, AlertSelector.of("ErrorBudgetBurn"), "firing", 10, **kw)
    assert not result.ok and not result.evaluated
    assert "has not been evaluated yet" in result.detail


def test_firing_seen_is_firing_and_an_evaluated_quiet_rule_fails_the_wait():
    clock, kw = shared_clock()
    tracker = AlertTracker([Playback(answer())], clock=clock)
    result = wait_for(tracker, AlertSelector.of("ErrorBudgetBurn"), "firing", 5, **kw)
    assert not result.ok and result.evaluated and "is not firing after 5s" in result.detail
