"""`slo verify-alerts`: the alert rules' states, and proof that alerts reach Telegram.

    slo verify-alerts                                   # every rule and its state
    slo verify-alerts --send-test                       # synthetic alert -> Alertmanager ->
                                                        # Telegram; firing and resolved, timed
    slo verify-alerts --alert ErrorBudgetBurn --label slo=error-ratio --expect firing --within 60s

Both the listing and --send-test then judge Telegram delivery for every alert Alertmanager
holds (slo.live.health), with the telegram integration's failed notifications and requests
over --window (default 15m): an alert whose notification keeps failing fails the command (a
delivered test message proves nothing for it); a retry that ended in delivery is a warning.

Exit codes: 0 as expected (delivered / in the expected state); 1 not delivered, a notification
that keeps failing, an unhealthy rule, not in the expected state in time, or no such rule;
2 could not check (Prometheus or Alertmanager down, a delivery the counters cannot attribute,
an alert whose message cannot be told apart from another alert's (CANNOT TELL APART), an
--alert rule not evaluated yet or whose query fails, or a usage error such as --within banana).
"""

import argparse
import time
from collections import Counter

from rich.table import Table
from rich.text import Text

from harness_common import exitcodes
from harness_common.console import print_table
from harness_common.durations import whole_seconds
from harness_common.stackenv import read_stack_env
from slo.live.alerts import AlertSelector, AlertTracker, labels_text
from slo.live.health import DELIVERED, FAILING, INDISTINCT, NOT_RESENT, DeliveryHealth
from slo.live.verify import Endpoints, delivery_health, rule_states, send_test, wait_for
from slo.spec import load_spec
from slo.spec.choice import STACK, choose_spec

HELP = "show alert rule states; --send-test proves Telegram delivery; --alert waits for a state"
DEFAULT_SERVICE = "portfolio-app"


def _duration(text: str) -> int:
    """--within: seconds or a duration; a bad value is a usage error (argparse exits 2)."""
    try:
        return int(text) if text.isdigit() else whole_seconds(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _label(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expects NAME=VALUE (got {text!r})")
    return key.strip(), value.strip()


def add_arguments(parser) -> None:
    """Register the options of `slo verify-alerts`."""
    parser.add_argument("--send-test", action="store_true",
                        help="post a synthetic alert to Alertmanager and prove Telegram delivery")
    parser.add_argument("--no-resolve", action="store_true",
                        help="with --send-test: do not wait for the resolved message")
    parser.add_argument("--alert", default=None, help="alert name to wait for")
    parser.add_argument("--label", action="append", default=[], type=_label,
                        metavar="NAME=VALUE", help="label matcher for --alert (repeatable)")
    parser.add_argument("--expect", choices=("firing", "resolved"), default="firing",
                        help="state --alert must reach (default firing)")
    parser.add_argument("--within", default="60s", type=_duration,
                        help="time limit for --send-test and --alert (default 60s)")
    parser.add_argument("--service", default=None,
                        help="service label of the test alert (default: the service of the "
                             "stack's SLO_SPEC; in front of TARGET_URL its host:port; else "
                             f"{DEFAULT_SERVICE})")
    parser.add_argument("--window", default="15m", type=_duration,
                        help="how far back Telegram delivery failures are counted (default 15m)")


def alert_service(stack: dict[str, str]) -> str:
    """The test alert's service label: the stack's spec's service, else the service behind
    TARGET_URL (host:port), else the demo's (never the demo's name for a user's service)."""
    choice = choose_spec(None, stack)
    if choice.source == STACK:
        return load_spec(choice.path).service
    target = stack.get("TARGET_URL")
    if target:
        return target.split("://", 1)[-1].rstrip("/")
    return DEFAULT_SERVICE


def _show_delivery(console, health: DeliveryHealth, chat: str | None) -> int:
    """Each held alert's delivery and the counters; FAILED while one keeps failing, NOT
    EVALUATED while one's message cannot be told apart from another's."""
    where = f" (chat {chat})" if chat else ""
    console.print(health.summary() + where, highlight=False, soft_wrap=True)
    delivered = Counter(item.alert.name for item in health.alerts if item.verdict == DELIVERED)
    if delivered:
        names = ", ".join(f"{name} x{n}" if n > 1 else name for name, n in delivered.items())
        console.print(Text.assemble("  ", ("DELIVERED", "green"),
                                    f" {sum(delivered.values())} held alert(s): {names}"),
                      soft_wrap=True)
    for item in health.alerts:
        if item.verdict != DELIVERED:
            colour = "bold red" if item.verdict == FAILING else "yellow"
            shown = {NOT_RESENT: "NOT RE-SENT", INDISTINCT: "CANNOT TELL APART"}.get(
                item.verdict, item.verdict.upper())
            console.print(Text.assemble(f"  {item.alert}: ", (shown, colour), f" {item.detail}"),
                          soft_wrap=True)
    for warning in health.warnings:
        console.print(Text.assemble(("warning:", "yellow"), f" {warning}"), soft_wrap=True)
    if not health.failed:
        unproven = health.indistinct
        if not unproven:
            return exitcodes.OK
        console.print(Text.assemble(("NOT EVALUATED", "yellow"),
                                    f" {len(unproven)} alert(s) whose Telegram message cannot "
                                    f"be told apart from another alert's: "
                                    f"{', '.join(str(u.alert) for u in unproven[:5])}"),
                      soft_wrap=True)
        return exitcodes.NOT_EVALUATED
    if health.integration:
        console.print(Text.assemble(("FAILED", "red"), f" {health.integration}"),
                      soft_wrap=True)
    failing = health.failing
    if failing:
        console.print(Text.assemble(("FAILED", "red"),
                                    f" {len(failing)} alert(s) whose Telegram notification "
                                    f"keeps failing: "
                                    f"{', '.join(str(f.alert) for f in failing[:5])}"),
                      soft_wrap=True)
    return exitcodes.FAILED


def _show_rules(console, tracker: AlertTracker) -> int:
    table = Table()
    for column in ("source", "alert", "labels", "for", "state", "active", "since", "health"):
        table.add_column(column)
    states = []
    for source, rules in tracker.timeline.rules.items():
        from slo.live.alerts import Snapshot

        snapshot = Snapshot(0, rules, tuple(a for a in tracker.timeline.current.values()
                                            if a.source == source), source)
        states += rule_states(snapshot)
    colours = {"firing": "bold red", "pending": "yellow", "inactive": "green"}
    for s in states:
        labels = labels_text(s.labels)
        since = time.strftime("%H:%M:%S", time.localtime(s.since)) if s.since else "-"
        table.add_row(Text(s.source), Text(s.name), Text(labels), f"{s.for_s:g}s",
                      Text(s.state, style=colours.get(s.state, "")), str(s.active), since,
                      Text(s.health) if s.health == "ok" else
                      Text(f"{s.health}: {s.last_error}", style="red"))
    print_table(console, "alerting rules", table)
    firing = sum(1 for s in states if s.state == "firing")
    broken = [s for s in states if s.health not in ("ok", "unknown")]
    console.print(f"{len(states)} rules, {firing} firing, {len(broken)} unhealthy")
    return exitcodes.FAILED if broken else exitcodes.OK


def run(args, console) -> int:
    """Show the rules, or send a test alert, or wait for an alert's state."""
    endpoints = Endpoints.from_env()
    tracker = AlertTracker(endpoints.sources())
    if args.send_test:
        service = args.service or alert_service(read_stack_env())
        console.print(f"posting a test alert (service {service}) to Alertmanager at "
                      f"{endpoints.alertmanager} (Telegram: {endpoints.telegram_mode})",
                      highlight=False, soft_wrap=True)
        result = send_test(endpoints, service, args.within, resolve=not args.no_resolve)
        colour = "green" if result.ok else "red"
        shown = {"delivered": "DELIVERED", "unproven": "NOT PROVEN"}.get(result.verdict,
                                                                        "NOT DELIVERED")
        console.print(Text.assemble((shown, colour), f" {result.detail}"), soft_wrap=True)
        if result.notify_s is not None:
            console.print(f"time-to-notify: {result.notify_s:.1f}s"
                          + (f"; resolved: {result.resolved_notify_s:.1f}s"
                             if result.resolved_notify_s is not None else ""))
        others = exitcodes.OK
        if result.health is not None:
            if result.ok and result.others_failing:
                console.print("the test message proves delivery for itself only; the other "
                              "alerts Alertmanager holds:", highlight=False)
            others = _show_delivery(console, result.health, _chat(endpoints))
        if not result.ok:
            return exitcodes.NOT_EVALUATED if result.verdict == "unproven" else exitcodes.FAILED
        return others
    if args.alert:
        selector = AlertSelector.of(args.alert, dict(args.label))
        console.print(f"waiting up to {args.within}s for {selector} to be {args.expect}",
                      highlight=False)
        result = wait_for(tracker, selector, args.expect, args.within)
        took = f" after {result.took_s:.1f}s" if result.took_s is not None else ""
        if not result.evaluated:
            console.print(Text.assemble(("NOT EVALUATED", "yellow"), f" {result.detail}"),
                          soft_wrap=True)
            return exitcodes.NOT_EVALUATED
        colour = "green" if result.ok else "red"
        console.print(Text.assemble(("OK" if result.ok else "FAILED", colour),
                                    f" {result.detail}{took}"), soft_wrap=True)
        return exitcodes.OK if result.ok else exitcodes.FAILED
    tracker.poll_once()
    if "prometheus" in tracker.last_errors:
        from slo.errors import PrometheusError

        raise PrometheusError(tracker.last_errors["prometheus"])
    for source, error in tracker.last_errors.items():
        console.print(Text.assemble(("warning:", "yellow"), f" {source}: {error}"),
                      soft_wrap=True)
    rules = _show_rules(console, tracker)
    delivery = _show_delivery(console, delivery_health(endpoints, args.window),
                              _chat(endpoints))
    return max(rules, delivery)


def _chat(endpoints: Endpoints) -> str | None:
    return endpoints.chat_id if endpoints.telegram_mode == "sandbox" else None
