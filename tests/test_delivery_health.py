"""Judging Telegram delivery for every alert Alertmanager holds (slo.live.health), on canned
answers: what `slo verify-alerts` says beside the rules, and why one test message proves
nothing for the others."""

from datetime import UTC, datetime

import pytest

from slo.live.delivery import CounterDelta, CounterSample, notices
from slo.live.health import (
    DeliveryHealth,
    HeldAlert,
    Restart,
    Route,
    integration_failing,
    judge_counters,
    judge_sandbox,
    parse_held_alerts,
    parse_route,
)

T0 = 1_800_000_000.0
CHAT = "-1001234567890"
ROUTE = Route(("alertname", "service", "slo", "severity"), 5, 10, frozenset({"telegram"}))
GROUP = (("service", "portfolio-app"), ("severity", "page"), ("slo", "error-ratio"))


def rfc(t):
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def held(name="ErrorBudgetBurn", at=0.0, state="active", receiver="telegram", **extra):
    labels = tuple(sorted({"alertname": name, **dict(GROUP), **extra}.items()))
    return HeldAlert(labels, T0 + at, state, (receiver,))


def message(at, name="ErrorBudgetBurn", status="FIRING", chat=CHAT, slo="error-ratio",
            labels=None):
    """A message as telegram.tmpl writes it; `labels`: its labels line (None: a message from
    before the template had one)."""
    icon = "🔥" if status == "FIRING" else "✅"
    line = "" if labels is None else f"labels {labels}\n"
    return {"message_id": int(at), "received_at": T0 + at, "chat_id": int(chat),
            "text": f"{icon} {status} {name}\nseverity page · SLO {slo} · service portfolio-app\n"
                    f"{line}"}


def test_the_route_comes_from_alertmanagers_running_config():
    config = """
route:
  receiver: telegram
  group_by: [alertname, service, slo, severity]
  group_wait: 5s
  group_interval: 10s
receivers:
- name: telegram
  telegram_configs: [{chat_id: 1, bot_token: <secret>}]
- name: email
  email_configs: [{to: a@b}]
"""
    route = parse_route(config)
    assert route == Route(("alertname", "service", "slo", "severity"), 5.0, 10.0,
                          frozenset({"telegram"}))
    assert (route.flush_timeout_s, route.due_s) == (10.0, 20.0)
    assert parse_route("{{ not yaml") == Route()   # unknown: every alert its own group
    assert Route().group({"a": "1"}) != Route().group({"a": "2"})
    assert parse_route("route: {receiver: x}").group_by == ()   # no group_by: one group
    assert Route(group_interval_s=300).flush_timeout_s == 300


def test_held_alerts_are_read_from_the_v2_api():
    payload = [{"labels": {"alertname": "A", "slo": "x"}, "startsAt": rfc(T0 + 5),
                "status": {"state": "suppressed"}, "receivers": [{"name": "telegram"}],
                "fingerprint": "f1"},
               {"labels": {"alertname": "B"}, "startsAt": "garbage"},
               {"labels": {"alertname": "C"}, "startsAt": rfc(T0)}]
    alerts = parse_held_alerts(payload)
    assert [(a.name, a.state, a.starts_at) for a in alerts] == [
        ("C", "active", T0), ("A", "suppressed", T0 + 5)]
    assert str(alerts[1]) == "A{slo=x}" and alerts[1].receivers == ("telegram",)
    assert parse_held_alerts({"not": "a list"}) == []


SANDBOX = [
    # id, held alert, messages, now (offset), verdict, in the detail
    ("a message in the configured chat after it started is a delivery",
     held(), [message(6)], 60, "delivered", "at "),
    ("a message in another chat is not, and says where it went",
     held(), [message(6, chat="-100999")], 60, "failing",
     "reached chat -100999, not the configured chat -1001234567890"),
    ("a message from before it started is an older incident's",
     held(at=30), [message(6)], 80, "failing", "no FIRING message for it reached chat"),
    ("another SLO's message is not its message",
     held(), [message(6, slo="latency-p95")], 60, "failing", "(60s)"),
    ("before its first notification is due it is waiting",
     held(at=50), [], 60, "waiting", "due within 20s"),
    ("a silenced alert sends nothing and fails nothing",
     held(state="suppressed"), [], 600, "suppressed", "silenced"),
]


@pytest.mark.parametrize("alert, messages, now, verdict, detail", [c[1:] for c in SANDBOX],
                         ids=[c[0] for c in SANDBOX])
def test_sandbox_delivery(alert, messages, now, verdict, detail):
    (judged,) = judge_sandbox([alert], notices(messages), CHAT, ROUTE, T0 + now,
                              CounterDelta(0, 2, None, 0, 9))
    assert judged.verdict == verdict and detail in judged.detail


def test_a_failing_alert_names_the_counters():
    (judged,) = judge_sandbox([held()], [], CHAT, ROUTE, T0 + 60, CounterDelta(0, 2, None, 0, 9))
    assert judged.detail.endswith("Alertmanager counted 2 failed telegram notifications and 9 "
                                  "failed requests")


def test_alerts_routed_to_other_integrations_are_not_judged():
    assert judge_sandbox([held(receiver="email")], [], CHAT, ROUTE, T0 + 600, None) == []


def samples(*rows):
    return [CounterSample(T0 + at, n, f) for at, n, f in rows]


COUNTERS = [
    ("a delivery after its start with no other group then is proven",
     [held(at=10)], samples((0, 3, 0), (16, 4, 0)), 60, "delivered"),
    ("a delivery another group may have made is unattributed",
     [held(at=10), held("PortfolioAppDown", at=12, slo="availability")],
     samples((0, 3, 0), (16, 4, 0), (18, 5, 0)), 60, "unattributed"),
    ("nothing delivered since it started, past due, is failing",
     [held(at=10)], samples((0, 3, 0), (26, 4, 1), (40, 4, 1)), 60, "failing"),
    ("before it is due it is waiting",
     [held(at=50)], samples((0, 3, 0), (55, 3, 0)), 60, "waiting"),
    ("started before the counters' window: its first notification cannot be in it",
     [held(at=-100)], samples((0, 3, 0), (55, 3, 0)), 60, "unattributed"),
]


@pytest.mark.parametrize("alerts, counted, now, verdict", [c[1:] for c in COUNTERS],
                         ids=[c[0] for c in COUNTERS])
def test_real_telegram_delivery(alerts, counted, now, verdict):
    judged = judge_counters(alerts, counted, ROUTE, T0 + now)
    assert judged[0].verdict == verdict, judged[0].detail


INTEGRATION = [
    ("no failure", samples((0, 1, 0), (10, 2, 0)), 20, False),
    ("a failure with no delivery after it", samples((0, 1, 0), (10, 2, 1)), 20, True),
    ("a failure, then deliveries: a retry that ended in delivery",
     samples((0, 1, 0), (10, 2, 1), (15, 3, 1)), 40, False),
    ("failures flush after flush, deliveries of another group in between",
     samples((0, 1, 0), (10, 2, 1), (15, 3, 1), (30, 4, 2), (35, 5, 2)), 40, True),
    ("old repeated failures, none for a whole flush cycle since",
     samples((0, 1, 0), (10, 2, 1), (15, 3, 1), (30, 4, 2), (35, 5, 2)), 80, False),
]


@pytest.mark.parametrize("counted, now, failing", [c[1:] for c in INTEGRATION],
                         ids=[c[0] for c in INTEGRATION])
def test_the_integration_keeps_failing(counted, now, failing):
    said = integration_failing(counted, T0 - 1, T0 + now, ROUTE)
    assert (said is not None) == failing
    if said:
        assert said.startswith("the telegram integration keeps failing: ")


def test_retries_that_ended_in_delivery_are_a_warning_and_failures_fail():
    fine = DeliveryHealth(T0, T0 + 60, "in the last 60s", CounterDelta(3, 0, T0 + 5, 0, 2))
    assert not fine.failed
    assert fine.warnings == ["2 telegram requests and 0 notifications failed in the window; none "
                             "keeps failing now (retries that ended in delivery)"]
    (lost,) = judge_sandbox([held()], [], CHAT, ROUTE, T0 + 60, None)
    broken = DeliveryHealth(T0, T0 + 60, "w", CounterDelta(3, 1, T0 + 5, 0, 9), (lost,))
    assert broken.failed and broken.failing == [lost] and broken.warnings == []
    assert DeliveryHealth(T0, T0 + 60, "w", None, (), (), "it keeps failing").failed


RESTART = Restart(T0 + 90)
HOURLY = Route(ROUTE.group_by, 5, 10, frozenset({"telegram"}), 3600)
KEPT = [
    # id, messages, restart, route, verdict, in the detail
    ("its group's FIRING message from before the restart is remembered, not re-sent",
     [message(20)], RESTART, HOURLY, "not_resent",
     "not re-sent after Alertmanager's restart at"),
    ("not when a notification failed since the restart",
     [message(20)], Restart(T0 + 90, 0, 3), HOURLY, "failing", "no FIRING message"),
    ("not when the group's last message before it said RESOLVED",
     [message(20), message(40, status="RESOLVED")], RESTART, HOURLY, "failing", "no FIRING"),
    ("not another SLO's old message",
     [message(20, slo="latency-p95")], RESTART, HOURLY, "failing", "no FIRING"),
    ("not an old message to another chat",
     [message(20, chat="-100999")], RESTART, HOURLY, "failing", "no FIRING"),
    ("not once repeat_interval has passed since it",
     [message(20)], RESTART, Route(ROUTE.group_by, 5, 10, frozenset({"telegram"}), 60),
     "failing", "no FIRING"),
    ("not a message sent after Alertmanager started (no restart in between)",
     [message(20)], Restart(T0 + 10), HOURLY, "failing", "no FIRING"),
    ("not when the messages cannot show the group (group_by unknown)",
     [message(20)], RESTART, Route(("...",), 5, 10, frozenset({"telegram"}), 3600),
     "failing", "no FIRING"),
    ("not without knowing when Alertmanager started",
     [message(20)], None, HOURLY, "failing", "no FIRING"),
]


@pytest.mark.parametrize("messages, restart, route, verdict, detail", [c[1:] for c in KEPT],
                         ids=[c[0] for c in KEPT])
def test_a_still_firing_alert_after_an_alertmanager_restart(messages, restart, route, verdict,
                                                            detail):
    """Before: every such alert was FAILING ("no FIRING message for it reached chat") after
    `make stack-down` + `make stack` without FRESH=1."""
    alert = held(at=100)            # Prometheus, restarted too, sent it with a new start
    (judged,) = judge_sandbox([alert], notices(messages), CHAT, route, T0 + 400,
                              CounterDelta(0, 0, None, 0, 0), restart)
    assert judged.verdict == verdict and detail in judged.detail, judged.detail


def two_blocks(at) -> dict:
    """One grouped message listing two FIRING rows of the same SLO (alike in a message)."""
    one = message(at)
    return {**one, "text": one["text"] + "\n" + one["text"]}


@pytest.mark.parametrize("messages, verdicts", [
    ([message(20)], ["failing", "failing"]),            # a row joined the group after: re-sent
    ([two_blocks(20)], ["not_resent", "not_resent"]),   # both rows were in the last message
])
def test_a_sibling_rows_block_does_not_excuse_a_row_that_joined_after_the_restart(messages,
                                                                                  verdicts):
    """The 1h/5m and 6h/30m page rows of one SLO look alike in a message: when the group now
    holds more firing rows than its last message listed, Alertmanager must have sent it."""
    rows = [held(at=100, long="1h", short="5m"), held(at=100, long="6h", short="30m")]
    judged = judge_sandbox(rows, notices(messages), CHAT, HOURLY, T0 + 400,
                           CounterDelta(0, 0, None, 0, 0), RESTART)
    assert [j.verdict for j in judged] == verdicts, [j.detail for j in judged]


def test_the_repeat_interval_comes_from_the_running_config():
    assert parse_route("route: {repeat_interval: 1h}").repeat_interval_s == 3600
    assert parse_route("route: {}").repeat_interval_s == 4 * 3600   # Alertmanager's default


# -- issue 19 item 4: a delivery counts only for the alert it is about ---------------------------

TWINS = [held(instance="a"), held(instance="b")]     # alike but for a label
DUE = CounterDelta(0, 1, None, 0, 3)


def verdicts(judged) -> list[tuple[str, str]]:
    return [(j.alert.label_dict.get("instance", ""), j.verdict) for j in judged]


def test_a_message_about_one_alert_is_no_delivery_of_its_twin():
    """Before: `DELIVERED 2 held alert(s): ErrorBudgetBurn x2` — B, whose notification failed
    (the sandbox answered 403), was matched to A's message: same name, severity, SLO and
    service, and B started before A's message."""
    judged = judge_sandbox(TWINS, notices([message(6, labels='instance="a"')]), CHAT, ROUTE,
                           T0 + 60, DUE)
    assert verdicts(judged) == [("a", "delivered"), ("b", "failing")], judged


CANNOT_TELL = [
    ("a message without a labels line (an older template)", message(6)),
    ("a labels line cut inside the value that tells them apart",
     message(6, labels='instance="…')),
]


@pytest.mark.parametrize("sent", [c[1] for c in CANNOT_TELL], ids=[c[0] for c in CANNOT_TELL])
def test_alerts_their_message_cannot_tell_apart_are_not_delivered_and_it_says_why(sent):
    """Before: both DELIVERED. One block, two alerts it may be about: neither is proven."""
    judged = judge_sandbox(TWINS, notices([sent]), CHAT, ROUTE, T0 + 60, DUE)
    assert verdicts(judged) == [("a", "indistinct"), ("b", "indistinct")], judged
    detail = judged[0].detail
    assert "cannot tell it apart from ErrorBudgetBurn{instance=b," in detail, detail
    assert "they differ only in instance" in detail
    assert "message 6" in detail


def test_a_message_listing_a_block_for_each_alike_alert_delivers_them_all():
    both = message(6)
    both = {**both, "text": both["text"] + "\n" + both["text"]}
    judged = judge_sandbox(TWINS, notices([both]), CHAT, ROUTE, T0 + 60, DUE)
    assert verdicts(judged) == [("a", "delivered"), ("b", "delivered")]


def test_an_alert_counted_in_its_groups_and_n_more_tail_is_delivered():
    """Alertmanager lists a group's every firing alert in its message; the template shows six
    and counts the rest: an alert of the group no listed block is about is one of those."""
    tail = message(6, labels='instance="a"')
    tail = {**tail, "text": tail["text"] + "\n… and 1 more firing (2 in all)\n\nAlertmanager"}
    judged = judge_sandbox(TWINS, notices([tail]), CHAT, ROUTE, T0 + 60, DUE)
    assert verdicts(judged) == [("a", "delivered"), ("b", "delivered")]
    three = TWINS + [held(instance="c")]    # two unlisted, one counted: which one is unknown
    judged = judge_sandbox(three, notices([tail]), CHAT, ROUTE, T0 + 60, DUE)
    assert verdicts(judged) == [("a", "delivered"), ("b", "indistinct"), ("c", "indistinct")]


def test_verify_alerts_says_cannot_tell_apart_and_exits_2_not_0():
    """What `slo verify-alerts` prints and returns when no message proves which alert it was."""
    from rich.console import Console

    from slo.commands.verify_alerts import _show_delivery

    judged = judge_sandbox(TWINS, notices([message(6)]), CHAT, ROUTE, T0 + 60, DUE)
    console = Console(record=True, width=300)
    code = _show_delivery(console, DeliveryHealth(T0, T0 + 60, "w", DUE, tuple(judged)), CHAT)
    out = console.export_text()
    assert code == 2 and "DELIVERED" not in out, out
    assert "ErrorBudgetBurn{instance=a,service=portfolio-app,severity=page,slo=error-ratio}: " \
           "CANNOT TELL APART cannot tell it apart from" in out
    assert "NOT EVALUATED 2 alert(s) whose Telegram message cannot be told apart" in out
