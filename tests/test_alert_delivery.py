"""Delivery evidence: Telegram messages as stack/alertmanager/telegram.tmpl writes them, read
back from the sandbox and matched by alert, labels and status; Alertmanager's telegram counters
in real-Telegram mode."""

import pytest

from slo.live.delivery import (
    CounterSample,
    counter_delta,
    first_notice,
    matches,
    notices,
    parse_counters,
    parse_message,
)
from tests.helpers import GROUPED_CHECKS_MESSAGE

BLOCK = ("{icon} {status} ErrorBudgetBurn\n"
         "severity {severity} · SLO {slo} · service portfolio-app\n"
         'labels long="1m", short="20s"\n'
         "portfolio-app {slo}: error budget burning over 14.4x ({severity})\n"
         "value 51.0x · since 2026-11-24 19:32:57 UTC\n"
         "Prometheus · runbook slo/RUNBOOK.md#errorbudgetburn\n\n")


def text(*blocks) -> str:
    out = ""
    for status, slo, severity in blocks:
        icon = "🔥" if status == "FIRING" else "✅"
        out += BLOCK.format(icon=icon, status=status, slo=slo, severity=severity)
    return out + "Alertmanager"


RAW = ('🔥 <b>FIRING</b> <b>PortfolioAppDown</b>\nseverity <code>page</code> · SLO '
       '<code>availability</code> · service <code>portfolio-app</code>\nportfolio-app is down\n'
       '<a href="http://127.0.0.1:9093">Alertmanager</a>')


def message(message_id, received_at, *blocks):
    return {"message_id": message_id, "received_at": received_at, "text": text(*blocks)}


def test_a_message_yields_one_block_per_alert_with_its_labels():
    blocks = parse_message(text(("FIRING", "error-ratio", "page"),
                                ("RESOLVED", "error-ratio", "page")))
    assert blocks == [
        ("firing", {"alertname": "ErrorBudgetBurn", "severity": "page", "slo": "error-ratio",
                    "service": "portfolio-app", "long": "1m", "short": "20s"}),
        ("resolved", {"alertname": "ErrorBudgetBurn", "severity": "page", "slo": "error-ratio",
                      "service": "portfolio-app", "long": "1m", "short": "20s"}),
    ]


def test_the_html_form_parses_the_same_way():
    assert parse_message(RAW) == [("firing", {"alertname": "PortfolioAppDown",
                                              "severity": "page", "slo": "availability",
                                              "service": "portfolio-app"})]


def test_text_without_alert_blocks_yields_nothing():
    assert parse_message("hello from a human") == []
    assert notices([{"message_id": 1, "received_at": 1.0, "text": "hi"}]) == []


def test_matching_reads_every_label_the_message_shows_and_never_ignores_one():
    """Before: matchers on labels other than severity, slo and service were ignored, so a
    `long: 6m` expectation passed on the message about the long=1m row (issue 19 item 5)."""
    (notice,) = notices([{"text": text(("FIRING", "error-ratio", "page"))}])
    assert notice.complete
    assert matches(notice, "ErrorBudgetBurn", (("slo", "error-ratio"),), "firing")
    assert matches(notice, "ErrorBudgetBurn", (("long", "1m"), ("slo", "error-ratio")), "firing")
    assert not matches(notice, "ErrorBudgetBurn", (("long", "6m"), ("slo", "error-ratio")),
                       "firing")
    assert not matches(notice, "ErrorBudgetBurn", (("instance", "a"),), "firing")  # it has none
    assert not matches(notice, "ErrorBudgetBurn", (("slo", "latency-p95"),), "firing")
    assert not matches(notice, "ErrorBudgetBurn", (), "resolved")
    assert not matches(notice, "PortfolioAppDown", (), "firing")
    (old,) = notices([{"raw_text": RAW}])      # no labels line: what it does not show is unknown
    assert not old.complete
    assert matches(old, "PortfolioAppDown", (("slo", "availability"),), "firing")
    assert not matches(old, "PortfolioAppDown", (("instance", "a"),), "firing")


LINES = [
    # id, the labels line as Telegram shows it, labels read, complete
    ("no labels but the head's", "labels none", {}, True),
    ("long and short, then the others by name",
     'labels long="1m", short="20s", instance="127.0.0.1:5000", job="app"',
     {"long": "1m", "short": "20s", "instance": "127.0.0.1:5000", "job": "app"}, True),
    ("values are Go-quoted: quotes, backslashes, separators and newlines read back",
     r'labels a="x\", b=\"y", b="c:\\d", c="1\n2", d="🔥 é"',
     {"a": 'x", b="y', "b": "c:\\d", "c": "1\n2", "d": "🔥 é"}, True),
    ("a cut line keeps the pairs before the cut and is not complete",
     'labels long="1m", short="20s", instance="127.0.0.1:50…', {"long": "1m", "short": "20s"},
     False),
    ("a cut right after a pair", 'labels long="1m"…', {"long": "1m"}, False),
    ("a cut inside an escape", r'labels a="x\…', {}, False),
    ("a line that is not pairs is read as nothing", "labels who knows", {}, False),
]


@pytest.mark.parametrize("line, labels, complete", [c[1:] for c in LINES],
                         ids=[c[0] for c in LINES])
def test_the_labels_line_reads_back_exactly_or_says_it_is_not_complete(line, labels, complete):
    head = "🔥 FIRING X\nseverity page · SLO s · service v\n"
    (notice,) = notices([{"text": head + line + "\nsummary"}])
    shown = {k: v for k, v in notice.labels.items() if k not in ("alertname", "severity", "slo",
                                                                 "service")}
    assert (shown, notice.complete) == (labels, complete)


def test_the_first_firing_message_in_the_window_is_found():
    found = notices([message(1, 100.0, ("FIRING", "home-availability", "page")),
                     message(2, 105.0, ("FIRING", "error-ratio", "page")),
                     message(3, 130.0, ("FIRING", "error-ratio", "page"))])
    labels = (("slo", "error-ratio"),)
    assert first_notice(found, "ErrorBudgetBurn", labels, "firing", 90).message_id == 2
    assert first_notice(found, "ErrorBudgetBurn", labels, "firing", 106).message_id == 3
    assert first_notice(found, "ErrorBudgetBurn", labels, "firing", 90, before=104) is None


def test_resolved_needs_a_message_where_nothing_matching_still_fires():
    found = notices([
        message(5, 200.0, ("FIRING", "error-ratio", "page"), ("RESOLVED", "error-ratio", "page")),
        message(6, 210.0, ("RESOLVED", "error-ratio", "page"), ("RESOLVED", "error-ratio", "page")),
    ])
    hit = first_notice(found, "ErrorBudgetBurn", (("slo", "error-ratio"),), "resolved", 150)
    assert hit.message_id == 6 and hit.received_at == 210.0


def test_counters_are_summed_over_the_telegram_integration_only():
    metrics = """
# HELP alertmanager_notifications_total The total number of attempted notifications.
# TYPE alertmanager_notifications_total counter
alertmanager_notifications_total{integration="telegram"} 7
alertmanager_notifications_total{integration="email"} 99
# HELP alertmanager_notifications_failed_total The total number of failed notifications.
# TYPE alertmanager_notifications_failed_total counter
alertmanager_notifications_failed_total{integration="telegram",reason="clientError"} 1
alertmanager_notifications_failed_total{integration="telegram",reason="other"} 2
alertmanager_notifications_failed_total{integration="email",reason="other"} 5
# HELP alertmanager_notification_requests_failed_total The total number of failed requests.
# TYPE alertmanager_notification_requests_failed_total counter
alertmanager_notification_requests_failed_total{integration="telegram"} 4
"""
    assert parse_counters(metrics) == (7.0, 3.0, 4.0)


def samples(*rows):
    return [CounterSample(at, *counts) for at, *counts in rows]


def test_a_delivery_is_attempts_rising_more_than_failures():
    seen = samples((0, 4, 1), (10, 4, 1), (11, 6, 2), (12, 7, 2))
    delta = counter_delta(seen, after=5, before=20)
    assert (delta.delivered, delta.failed, delta.first_delivery_at) == (2, 1, 11)
    assert counter_delta(seen, after=12, before=20).delivered == 0


def test_retried_requests_are_counted_beside_the_deliveries():
    delta = counter_delta(samples((0, 1, 0, 0), (5, 2, 0, 3)), after=1, before=10)
    assert (delta.delivered, delta.request_failures) == (1, 3)


def test_only_failures_mean_not_delivered():
    delta = counter_delta(samples((0, 0, 0), (5, 3, 3)), after=1, before=10)
    assert (delta.delivered, delta.failed, delta.first_delivery_at) == (0, 3, None)


def test_an_unreachable_alertmanager_is_counted_and_a_restart_starts_from_zero():
    seen = samples((0, 10, 0), (5, None, None), (6, None, None), (8, 1, 0))
    delta = counter_delta(seen, after=1, before=10)
    assert delta.unreachable_polls == 2
    assert (delta.delivered, delta.first_delivery_at) == (1, 8)


@pytest.mark.parametrize("after", [0.0, 3.0])
def test_without_an_earlier_sample_the_first_one_is_the_baseline(after):
    delta = counter_delta(samples((4, 2, 0), (6, 3, 0)), after=after, before=10)
    assert delta.delivered == 1


def test_a_message_to_another_chat_is_not_found_when_the_chat_is_given():
    found = notices([{**message(1, 100.0, ("FIRING", "error-ratio", "page")), "chat_id": -100999},
                     {**message(2, 110.0, ("FIRING", "error-ratio", "page")),
                      "chat_id": -1001234567890}])
    labels = (("slo", "error-ratio"),)
    assert first_notice(found, "ErrorBudgetBurn", labels, "firing", 90).message_id == 1
    hit = first_notice(found, "ErrorBudgetBurn", labels, "firing", 90, chat_id="-1001234567890")
    assert hit.message_id == 2 and hit.chat_id == -1001234567890
    assert first_notice(found[:1], "ErrorBudgetBurn", labels, "firing", 90,
                        chat_id=-1001234567890) is None


def test_each_block_keeps_its_own_text_so_a_grouped_message_tells_its_alerts_apart():
    """A grouped message lists each alert in its own block: the text of one block (its summary)
    must not be read as the other's."""
    firing, resolved = notices([{"message_id": 13, "received_at": 100.0,
                                 "text": GROUPED_CHECKS_MESSAGE}])
    assert (firing.status, resolved.status) == ("firing", "resolved")
    assert "check f0acac2d" in firing.text and "894b5e6c" not in firing.text
    assert "check 894b5e6c" in resolved.text and "f0acac2d" not in resolved.text
    assert "Alertmanager" not in resolved.text.splitlines()[:3]
