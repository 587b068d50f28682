"""Alert verification against a running stack (the logic of `slo verify-alerts`).

- `rule_states`: every alerting rule with its state (Prometheus, and Grafana when configured);
- `delivery_health`: the telegram integration's counters over a window (from Prometheus's scrape
  of Alertmanager, else since Alertmanager started) and, for every alert Alertmanager holds,
  whether its notification got through (slo.live.health): one that keeps failing fails the
  command, a retry that ended in delivery is a warning;
- `send_test`: posts a synthetic alert to Alertmanager's v2 API and proves it reached Telegram —
  read back from the sandbox in the configured chat (the alert block that carries its own
  check id: every test alert is in one Alertmanager group, so its FIRING may share a message
  with an earlier check's RESOLVED), or by Alertmanager's telegram counters in real mode,
  matched to its own group and time — then resolves it and proves the resolution too (a
  delivery after the firing one); measures time-to-notify for both. Its message proves
  nothing for the other alerts, so delivery_health is judged after it as well;
- `wait_for`: waits until an alert is firing (or resolved) within a time limit.

Where the stack is: the environment (PROMETHEUS_URL, ALERTMANAGER_URL, TELEGRAM_SANDBOX_URL,
TELEGRAM_SANDBOX_CHAT_ID, TELEGRAM_MODE, GRAFANA_URL) wins over .stack/env, written by
`make stack`.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from harness_common.errors import HarnessError
from harness_common.stackenv import read_stack_env
from slo.judge.prom import Prometheus
from slo.live.alerts import (
    AlertSelector,
    AlertTimeline,
    AlertTracker,
    GrafanaAlerts,
    PrometheusAlerts,
    Snapshot,
)
from slo.live.coverage import coverage, max_gap_s
from slo.live.delivery import (
    AlertmanagerApi,
    AlertmanagerCounters,
    DeliveryError,
    Notice,
    counter_delta,
    counter_history,
    notices,
    post_alert,
    same_chat,
)
from slo.live.health import (
    DeliveryHealth,
    HeldAlert,
    Restart,
    Route,
    attribute,
    held_activity,
    integration_failing,
    judge_counters,
    judge_sandbox,
    parse_held_alerts,
    parse_route,
)
from stack.config import SANDBOX_CHAT_ID
from stack.telegram_sandbox.client import SandboxClient
from stack.telegram_sandbox.errors import SandboxError

TEST_ALERT = "SloHarnessTestAlert"


@dataclass(frozen=True)
class Endpoints:
    """Where the stack's parts answer, and how Telegram is reached."""

    prometheus: str
    alertmanager: str
    sandbox: str
    telegram_mode: str
    grafana: str | None = None
    grafana_password: str | None = None
    chat_id: str = str(SANDBOX_CHAT_ID)      # the sandbox chat messages must reach

    @classmethod
    def from_env(cls, environ=None) -> Endpoints:
        """Environment first, then .stack/env, then the default ports."""
        env = dict(os.environ if environ is None else environ)
        stack = read_stack_env(env.get("STACK_DIR"))

        def get(key: str, default: str | None = None) -> str | None:
            return env.get(key) or stack.get(key) or default

        def port_url(var: str, default: int) -> str:
            return f"http://127.0.0.1:{get(var, str(default))}"

        mode = get("TELEGRAM_MODE") or ("telegram" if env.get("TELEGRAM_BOT_TOKEN") else "sandbox")
        return cls(
            prometheus=get("PROMETHEUS_URL") or port_url("PROMETHEUS_PORT", 9090),
            alertmanager=get("ALERTMANAGER_URL") or port_url("ALERTMANAGER_PORT", 9093),
            sandbox=get("TELEGRAM_SANDBOX_URL") or port_url("TELEGRAM_SANDBOX_PORT", 8081),
            telegram_mode=mode,
            grafana=get("GRAFANA_URL"),
            grafana_password=get("GRAFANA_ADMIN_PASSWORD"),
            chat_id=get("TELEGRAM_SANDBOX_CHAT_ID") or str(SANDBOX_CHAT_ID),
        )

    def sources(self) -> list:
        """The alert sources to read: Prometheus, plus Grafana when configured."""
        sources = [PrometheusAlerts(self.prometheus)]
        if self.grafana:
            sources.append(GrafanaAlerts(self.grafana, "admin", self.grafana_password))
        return sources


@dataclass(frozen=True)
class RuleState:
    """One alerting rule and what it is doing now."""

    source: str
    name: str
    labels: dict
    for_s: float
    state: str                   # inactive | pending | firing
    active: int                  # instances pending or firing
    since: float | None
    health: str
    last_error: str


def rule_states(snapshot: Snapshot) -> list[RuleState]:
    """Each rule of a snapshot with the state of its worst instance."""
    out = []
    for rule in snapshot.rules:
        selector = AlertSelector(rule.name, rule.labels)
        mine = [a for a in snapshot.alerts if selector.matches(a)]
        state = ("firing" if any(a.state == "firing" for a in mine)
                 else "pending" if mine else "inactive")
        since = min((a.active_at for a in mine if a.active_at), default=None)
        out.append(RuleState(snapshot.source, rule.name, rule.label_dict, rule.for_s, state,
                             len(mine), since, rule.health, rule.last_error))
    return out


def alertmanager_route(url: str) -> Route:
    """The root route of the Alertmanager at `url` (Alertmanager's defaults when unreadable)."""
    try:
        return parse_route(AlertmanagerApi(url).config_text())
    except DeliveryError:
        return Route()


def alertmanager_restart(api: AlertmanagerApi, now: float) -> Restart | None:
    """When the running Alertmanager started and what failed since (None: unknown)."""
    try:
        samples = api.counters_since_start(now)
    except DeliveryError:
        return None
    if len(samples) < 2:
        return None
    start, current = samples
    return Restart(start.at, int(current.failed or 0), int(current.request_failures or 0))


def delivery_health(endpoints: Endpoints, window_s: float, clock: Callable[[], float] = time.time,
                    exclude: Callable[[HeldAlert], bool] | None = None) -> DeliveryHealth:
    """The telegram integration over the last `window_s` and each held alert's delivery.

    Raises DeliveryError when Alertmanager does not answer (delivery cannot be checked).
    """
    api = AlertmanagerApi(endpoints.alertmanager)
    now = clock()
    since = now - window_s
    held = [a for a in parse_held_alerts(api.alerts()) if not (exclude and exclude(a))]
    route = alertmanager_route(endpoints.alertmanager)
    notes: list[str] = []
    try:
        samples = counter_history(Prometheus(endpoints.prometheus, attempts=1),
                                  endpoints.alertmanager, since, now)
        source = f"in the last {window_s:.0f}s (Prometheus's scrape of Alertmanager)"
    except HarnessError:
        samples = []
    if not samples:
        samples = api.counters_since_start(now)
        since = samples[0].at if len(samples) > 1 else now
        source = (f"since Alertmanager started {now - since:.0f}s ago (Prometheus does not "
                  f"scrape it)")
    delta = counter_delta(samples, since, now) if len(samples) > 1 else None
    if endpoints.telegram_mode == "sandbox":
        oldest = min((a.starts_at for a in held), default=now)
        restart = alertmanager_restart(api, now) if held else None
        if restart is not None:     # its group's last message before the restart, too
            oldest = min(oldest, restart.started_at - route.repeat_interval_s)
        messages = SandboxClient(endpoints.sandbox).messages(since=oldest - 1) if held else []
        judged = judge_sandbox(held, notices(messages), endpoints.chat_id, route, now, delta,
                               restart)
    else:
        judged = judge_counters(held, samples, route, now)
        if held:
            notes.append("real Telegram: delivery is read from Alertmanager's counters, which "
                         "count per integration, not per alert")
    integration = (integration_failing(samples, since, now, route) if len(samples) > 1
                   else None)
    return DeliveryHealth(since, now, source, delta, tuple(judged), tuple(notes), integration)


@dataclass(frozen=True)
class TestDelivery:
    """The outcome of --send-test: `verdict` of the test's own message (delivered,
    not_delivered, or unproven when real-Telegram counters cannot tell it from another group's),
    and the health of every other alert's delivery."""

    ok: bool
    mode: str
    notify_s: float | None
    resolved_notify_s: float | None
    detail: str
    verdict: str = "delivered"
    health: DeliveryHealth | None = None

    @property
    def others_failing(self) -> bool:
        """True while another alert's notification (or the integration) keeps failing."""
        return self.health is not None and self.health.failed


def check_marker(nonce: str) -> str:
    """The words of the test alert's summary that name its check (shown in its own block)."""
    return f"delivery check {nonce}:"


def own_blocks(found: list[Notice], nonce: str, status: str) -> list[Notice]:
    """The blocks that report the test alert of check `nonce` with `status`: the block itself
    must carry the check (Alertmanager groups every test alert in one group, so a message with
    this check's FIRING block may hold an earlier check's RESOLVED one)."""
    return [n for n in found if n.status == status and n.alertname == TEST_ALERT
            and check_marker(nonce) in n.text]


def _wait(predicate: Callable[[], float | None], timeout: float, interval: float = 0.5
          ) -> float | None:
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found is not None or time.monotonic() >= deadline:
            return found
        time.sleep(interval)


def send_test(endpoints: Endpoints, service: str, within_s: float = 60.0,
              resolve: bool = True, clock: Callable[[], float] = time.time) -> TestDelivery:
    """Fire a synthetic alert through Alertmanager and prove its delivery (and resolution)."""
    nonce = secrets.token_hex(4)
    labels = {"alertname": TEST_ALERT, "severity": "info", "slo": "verify-alerts",
              "service": service, "check": nonce}
    annotations = {"summary": f"slo verify-alerts {check_marker(nonce)} no action needed",
                   "description": "A synthetic alert posted by `slo verify-alerts --send-test`."}
    counters = AlertmanagerCounters(endpoints.alertmanager)
    api = AlertmanagerApi(endpoints.alertmanager)
    sandbox = SandboxClient(endpoints.sandbox) if endpoints.telegram_mode == "sandbox" else None
    if counters.poll(clock()).attempts is None:
        raise DeliveryError(f"Alertmanager at {endpoints.alertmanager} does not answer /metrics; "
                            f"is the stack up (`make stack`)?")
    if sandbox is not None and not sandbox.healthy():
        raise SandboxError(f"the Telegram sandbox at {endpoints.sandbox} does not answer; is the "
                           f"stack up (`make stack`)?")
    route = alertmanager_route(endpoints.alertmanager)
    group = route.group(labels)
    elsewhere: list = []      # sandbox: our message in another chat
    unattributed: list = []   # real: a delivery another group may have made

    def delivered(status: str, since: float) -> Callable[[], float | None]:
        def check() -> float | None:
            if sandbox is not None:
                found = notices(sandbox.messages(since=since, contains=nonce))
                for notice in own_blocks(found, nonce, status):
                    if same_chat(notice, endpoints.chat_id):
                        return notice.received_at
                    elsewhere.append(notice.chat_id)
                return None
            now = counters.poll(clock()).at
            held = parse_held_alerts(api.alerts())
            seen = attribute(counters.samples, since, group, held_activity(held, route), route,
                             now)
            if seen.proven:
                return seen.delivered_at
            if seen.delivered_at is not None:
                unattributed[:] = list(seen.others)
            return None
        return check

    sent = clock()
    post_alert(endpoints.alertmanager, labels, annotations, sent, sent + 600)
    fired_at = _wait(delivered("firing", sent - 1), within_s)
    resolved_at = None
    if resolve:
        ended = clock()
        post_alert(endpoints.alertmanager, labels, annotations, sent, ended)
        if fired_at is not None:
            # not before the firing delivery: in real mode the counters' rise that proved the
            # firing message is no proof of the resolved one
            resolved_at = _wait(delivered("resolved", max(ended - 1, fired_at)), within_s)
    health = delivery_health(endpoints, max(within_s, clock() - sent) + 60, clock,
                             exclude=lambda a: a.name == TEST_ALERT)
    how = (f"read back from the Telegram sandbox, chat {endpoints.chat_id}" if sandbox is not None
           else "Alertmanager's telegram counter rose without failures, no other group then")
    mode = endpoints.telegram_mode
    if fired_at is None:
        delta = counters.delta(sent - 1, clock())
        if unattributed:
            return TestDelivery(False, mode, None, None,
                                f"not proven within {within_s:.0f}s: a telegram notification "
                                f"was counted, but {', '.join(unattributed[:3])} may have sent "
                                f"it (Alertmanager counts per integration)", "unproven", health)
        where = (f"; it reached chat {elsewhere[0]}, not the configured chat "
                 f"{endpoints.chat_id}" if elsewhere else "")
        return TestDelivery(False, mode, None, None,
                            f"not delivered within {within_s:.0f}s: no message for the test alert "
                            f"(check {nonce}){where}; in Alertmanager {delta.failed} telegram "
                            f"notifications failed, {delta.request_failures} requests failed",
                            "not_delivered", health)
    notify_s = round(fired_at - sent, 3)
    resolved_s = round(resolved_at - ended, 3) if resolved_at is not None else None
    if resolve and resolved_at is None:
        return TestDelivery(False, mode, notify_s, None,
                            f"the firing message arrived after {notify_s:.1f}s ({how}), but the "
                            f"resolution was not delivered within {within_s:.0f}s",
                            "not_delivered", health)
    return TestDelivery(True, mode, notify_s, resolved_s,
                        f"({how}): firing after {notify_s:.1f}s"
                        + (f", resolved after {resolved_s:.1f}s" if resolved_s is not None else ""),
                        "delivered", health)


@dataclass(frozen=True)
class WaitResult:
    """The outcome of --alert NAME --expect STATE; `evaluated` False: no verdict could be
    reached (a rule not evaluated yet or failing, or the rules not watched): exit 2."""

    ok: bool
    took_s: float | None
    detail: str
    evaluated: bool = True


@dataclass(frozen=True)
class Unjudged:
    """Why rules do not tell their state now; `failing`: a query that fails (no wait helps),
    else a rule not evaluated yet (its first evaluation may still come)."""

    failing: bool
    why: str


def unjudged(timeline: AlertTimeline, selector: AlertSelector) -> Unjudged | None:
    """Why the rules that can produce `selector`'s alerts do not tell their state now (None:
    they do): a rule whose query fails (health err), or one not evaluated yet (Prometheus says
    health "unknown" and lastEvaluation 0001-01-01 until its group first runs) — such a rule has
    no alert because nothing was evaluated, not because nothing fires."""
    mine = timeline.rules_matching(selector)
    for rule in mine:
        if rule.health in ("err", "error"):
            return Unjudged(True, (
                f"rule {AlertSelector.of(rule.name, rule.labels)} fails to evaluate: "
                f"{rule.last_error or 'no error text'}; fix its query (the SLO rules are "
                f"generated from the spec by `make rules`) and see {rule.source}'s log"))
    for rule in mine:
        if rule.health != "ok":
            every = f" every {rule.interval_s:g}s" if rule.interval_s else ""
            return Unjudged(False, (
                f"rule {AlertSelector.of(rule.name, rule.labels)} has not been evaluated "
                f"yet ({rule.source} health {rule.health!r}, no lastEvaluation): its group "
                f"{rule.group!r} runs{every}, the first time up to one interval after "
                f"{rule.source} (re)started; retry then, or give --within more time"))
    return None


def wait_for(tracker: AlertTracker, selector: AlertSelector, expect: str, within_s: float,
             clock: Callable[[], float] = time.time, interval: float = 1.0) -> WaitResult:
    """Wait until `selector` is firing (expect=firing) or has no pending/firing instance
    (expect=resolved), polling the tracker's sources.

    Only evaluated rules answer: "not firing" needs every matching rule evaluated and healthy
    at the last poll (a rule not evaluated yet is waited for, up to `within_s`); a rule whose
    query fails, or one still not evaluated at the deadline, is no verdict (evaluated False),
    and so is a "did not fire in time" over a wait the tracker did not watch enough."""
    started = clock()
    tracker.poll_once()
    if "prometheus" in tracker.last_errors:
        raise DeliveryError(tracker.last_errors["prometheus"])
    if not tracker.timeline.rules_matching(selector):
        names = sorted({r.name for r in tracker.timeline.all_rules()})
        return WaitResult(False, None, f"no alerting rule {selector} is loaded (loaded: "
                                       f"{', '.join(names) or 'none'})")
    deadline = started + within_s
    while True:
        now = clock()
        active = tracker.timeline.active_at(selector, now, ("firing",) if expect == "firing"
                                            else ("pending", "firing"))
        if expect == "firing" and active:
            return WaitResult(True, round(now - started, 3), f"{selector} is firing")
        blocked = unjudged(tracker.timeline, selector)
        if blocked and blocked.failing:
            return WaitResult(False, None, f"could not evaluate: {blocked.why}", evaluated=False)
        if expect == "resolved" and not active and not blocked and not _unanswered(tracker,
                                                                                   selector):
            return WaitResult(True, round(now - started, 3), f"{selector} is not firing")
        if now >= deadline:
            if blocked:
                return WaitResult(False, None, f"could not evaluate: {blocked.why}",
                                  evaluated=False)
            if expect == "resolved" and not active:
                return WaitResult(False, None, f"could not evaluate: the last poll of "
                                               f"{_unanswered(tracker, selector)}",
                                  evaluated=False)
            if expect == "firing":
                cov = coverage(tracker.timeline.history, selector, started, now,
                               max_gap_s(max(interval, tracker.timeline.poll_interval_s)))
                if not cov.enough:
                    return WaitResult(False, None,
                                      f"could not evaluate: {selector} not firing after "
                                      f"{within_s:.0f}s rests on a wait the tracker watched "
                                      f"{cov.describe(started)}", evaluated=False)
            state = "not firing" if expect == "firing" else "still pending or firing"
            return WaitResult(False, None, f"{selector} is {state} after {within_s:.0f}s")
        time.sleep(interval)
        tracker.poll_once()


def _unanswered(tracker: AlertTracker, selector: AlertSelector) -> str:
    """'grafana failed (...); is it up?' when the last poll of a source that holds the
    selector's rules failed (its rules and alerts are not current); '' when none did."""
    for source, error in tracker.last_errors.items():
        rules = tracker.timeline.rules.get(source, ())
        if any(selector.matches_rule(r) for r in rules):
            return f"{source} failed ({error}); is it up?"
    return ""
