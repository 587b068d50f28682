"""`slo verify-alerts` logic without servers: where the stack is, each rule's state, waiting
for an alert's state (with a source that plays back canned answers)."""

from datetime import UTC, datetime

from slo.live.alerts import AlertSelector, AlertTracker, parse_rules
from slo.live.verify import Endpoints, rule_states, wait_for

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
