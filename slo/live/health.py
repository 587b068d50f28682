"""Is Telegram delivery working now, for every alert Alertmanager holds? (pure judgement)

`slo verify-alerts` asks this after listing the rules, and `--send-test` after proving its own
message: one delivered test message proves the path for that message only, not for an alert
whose notification keeps failing (a message too long, a wrong chat, a bot that was blocked).

Evidence, per Telegram mode:
- sandbox: the messages the sandbox holds, matched to each alert (status FIRING, every label the
  block shows, and, when it shows all of them, no other) *and the configured chat*, received
  after the alert started. A block proves only the alert it is about: when it may be about
  another alert Alertmanager holds too (they differ only in labels the message does not show
  in full), it proves neither, unless the message lists a block for each of them; an alert of
  the group that no listed block is about counts only when the message's "… and N more firing"
  leaves room for every such alert of the group;
- real Telegram: a bot cannot read its own messages, so only Alertmanager's counters are left,
  and they count per integration, not per alert. A delivery counts for an alert only when it
  happened after the alert started and no other group could have sent it (no other group's
  alert started in the same stretch); otherwise the alert is "unattributed" (a warning, never
  a proof). Failures with no delivery after them mean the integration keeps failing.

Each held alert gets one AlertDelivery: delivered, failing (the command fails), waiting (its
first notification is not due yet), suppressed (silenced or inhibited: nothing is sent),
unattributed, indistinct (sandbox: a message may be about it, but cannot be told from one about
another held alert: no proof either way), or not_resent (sandbox: still firing from before an
Alertmanager restart that kept its notification log, which holds the FIRING message the sandbox
got before the restart; see `remembered`). A retry that ended in delivery is a warning, not a
failure.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import yaml

from harness_common.durations import format_duration, parse_duration
from slo.live.delivery import (
    LABELS_CAP,
    MESSAGE_LABELS,
    CounterDelta,
    CounterSample,
    Notice,
    about,
    same_chat,
)
from slo.units import parse_rfc3339

# Alertmanager's defaults (config.go), and notify.MinTimeout (a flush gives up after
# max(group_interval, 10 s) in 0.25)
DEFAULT_GROUP_WAIT_S = 30.0
DEFAULT_GROUP_INTERVAL_S = 300.0
DEFAULT_REPEAT_INTERVAL_S = 4 * 3600.0
MIN_FLUSH_TIMEOUT_S = 10.0
SLACK_S = 5.0

DELIVERED, FAILING, WAITING, SUPPRESSED, UNATTRIBUTED, NOT_RESENT, INDISTINCT = (
    "delivered", "failing", "waiting", "suppressed", "unattributed", "not_resent", "indistinct")


def _seconds(raw, default: float) -> float:
    try:
        return float(parse_duration(str(raw))) if raw not in (None, "") else default
    except ValueError:
        return default


@dataclass(frozen=True)
class Route:
    """The root route's grouping and timing, and which receivers are Telegram ones."""

    group_by: tuple[str, ...] = ("...",)   # unknown: as if every alert were its own group
    group_wait_s: float = DEFAULT_GROUP_WAIT_S
    group_interval_s: float = DEFAULT_GROUP_INTERVAL_S
    telegram_receivers: frozenset[str] | None = None   # None: unknown, judge every alert
    repeat_interval_s: float = DEFAULT_REPEAT_INTERVAL_S

    @property
    def flush_timeout_s(self) -> float:
        """How long one flush of a group retries before it counts as failed."""
        return max(self.group_interval_s, MIN_FLUSH_TIMEOUT_S)

    @property
    def due_s(self) -> float:
        """After this long, an alert's first notification was delivered or has failed."""
        return self.group_wait_s + self.flush_timeout_s + SLACK_S

    def group(self, labels: dict[str, str]) -> tuple:
        """The alert's group (the values of group_by; every label for `...`)."""
        if "..." in self.group_by:
            return tuple(sorted(labels.items()))
        return tuple(labels.get(k, "") for k in self.group_by)


def parse_route(config_text: str) -> Route:
    """The Route of Alertmanager's running config (`/api/v2/status` config.original); without
    group_by Alertmanager puts every alert of a receiver in one group."""
    try:
        config = yaml.safe_load(config_text or "") or {}
    except yaml.YAMLError:
        return Route()
    route = config.get("route") or {}
    receivers = frozenset(r.get("name", "") for r in config.get("receivers") or []
                          if r.get("telegram_configs"))
    return Route(tuple(route.get("group_by") or ()),
                 _seconds(route.get("group_wait"), DEFAULT_GROUP_WAIT_S),
                 _seconds(route.get("group_interval"), DEFAULT_GROUP_INTERVAL_S),
                 receivers if config.get("receivers") else None,
                 _seconds(route.get("repeat_interval"), DEFAULT_REPEAT_INTERVAL_S))


@dataclass(frozen=True)
class HeldAlert:
    """An alert Alertmanager holds (GET /api/v2/alerts)."""

    labels: tuple[tuple[str, str], ...]
    starts_at: float
    state: str                          # active | suppressed | unprocessed
    receivers: tuple[str, ...] = ()
    fingerprint: str = ""

    @property
    def name(self) -> str:
        """The alert's name."""
        return self.label_dict.get("alertname", "")

    @property
    def label_dict(self) -> dict[str, str]:
        """Its labels."""
        return dict(self.labels)

    def __str__(self) -> str:
        shown = ",".join(f"{k}={v}" for k, v in self.labels if k != "alertname")
        return f"{self.name}{{{shown}}}"


def parse_held_alerts(payload) -> list[HeldAlert]:
    """HeldAlerts from Alertmanager's /api/v2/alerts answer (entries it cannot read skipped)."""
    out = []
    for item in payload if isinstance(payload, list) else []:
        try:
            starts = parse_rfc3339(item.get("startsAt")) if isinstance(item, dict) else None
        except (TypeError, ValueError):
            starts = None
        if starts is None:
            continue
        out.append(HeldAlert(tuple(sorted((item.get("labels") or {}).items())), starts,
                             (item.get("status") or {}).get("state", "active"),
                             tuple(r.get("name", "") for r in item.get("receivers") or []),
                             item.get("fingerprint", "")))
    return sorted(out, key=lambda a: a.starts_at)


@dataclass(frozen=True)
class AlertDelivery:
    """Whether one held alert's Telegram notification got through."""

    alert: HeldAlert
    verdict: str        # delivered | failing | waiting | suppressed | unattributed
    detail: str
    at: float | None = None


@dataclass(frozen=True)
class DeliveryHealth:
    """The integration's counters over a window and each held alert's delivery."""

    since: float
    until: float
    source: str                               # where the counters came from
    delta: CounterDelta | None                # None: counters could not be read
    alerts: tuple[AlertDelivery, ...] = ()
    notes: tuple[str, ...] = field(default=())
    integration: str | None = None            # set while the integration keeps failing

    @property
    def failing(self) -> list[AlertDelivery]:
        """The alerts whose notification keeps failing."""
        return [a for a in self.alerts if a.verdict == FAILING]

    @property
    def failed(self) -> bool:
        """True while an alert's notification, or the integration, keeps failing."""
        return bool(self.failing) or self.integration is not None

    @property
    def indistinct(self) -> list[AlertDelivery]:
        """The alerts whose delivery cannot be told from another alert's (no proof either way)."""
        return [a for a in self.alerts if a.verdict == INDISTINCT]

    @property
    def warnings(self) -> list[str]:
        """What is worth knowing but fails nothing."""
        out = list(self.notes)
        delta = self.delta
        if delta is not None and not self.failed and (delta.failed or delta.request_failures):
            out.append(f"{delta.request_failures} telegram requests and {delta.failed} "
                       f"notifications failed in the window; none keeps failing now (retries "
                       f"that ended in delivery)")
        return out

    def summary(self) -> str:
        """'telegram, last 900s (Prometheus's scrape of Alertmanager): 12 notifications, ...'."""
        if self.delta is None:
            return f"telegram notifications: counters not readable ({self.source})"
        d = self.delta
        return (f"telegram notifications {self.source}: {d.delivered} delivered, {d.failed} "
                f"failed for good, {d.request_failures} failed requests (retried)")


def _when(moment: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(moment))


def _waiting(alert: HeldAlert, age: float, route: Route) -> AlertDelivery:
    """An alert younger than its route's first notification is due: not failing yet."""
    return AlertDelivery(alert, WAITING, f"started {age:.0f}s ago; its first notification is "
                                         f"due within {route.due_s:.0f}s")


def telegram_alerts(alerts: Iterable[HeldAlert], route: Route) -> list[HeldAlert]:
    """The held alerts routed to a Telegram receiver (all when that is unknown)."""
    if route.telegram_receivers is None:
        return list(alerts)
    return [a for a in alerts if not a.receivers or set(a.receivers) & route.telegram_receivers]


@dataclass(frozen=True)
class Restart:
    """When the running Alertmanager started, and its telegram counters since then."""

    started_at: float
    failed: int = 0                 # notifications failed for good since the start
    request_failures: int = 0       # failed requests since the start

    @property
    def quiet(self) -> bool:
        """True when nothing failed since the start (a failing send counts a failed request)."""
        return not self.failed and not self.request_failures


def _same_group(labels: dict, alert: HeldAlert, route: Route) -> bool:
    """True when `labels` (a block's shown labels, or another alert's) put it in the alert's
    group: the same value of every group_by label."""
    mine = alert.label_dict
    return all(labels.get(k, "") == mine.get(k, "") for k in route.group_by)


def remembered(alert: HeldAlert, found: list[Notice], chat_id: str | None, route: Route,
               restart: Restart | None, now: float, held: Iterable[HeldAlert] = ()
               ) -> Notice | None:
    """The FIRING block, from before Alertmanager's restart, that its kept notification log
    stops it from re-sending for `alert` (None: no such message, so none is excused).

    Alertmanager 0.25 sends a group only when its firing alerts are not a subset of those its
    notification log says were last sent, or repeat_interval has passed; the log lives in its
    data dir, so a restart that kept it (`make stack` without FRESH=1) re-sends nothing for an
    alert that was firing before and still is. It counts only when: every group_by label is
    shown in the message (so the message is of this group; the stack groups by alertname,
    service, slo, severity), the group's last message in the chat was before the restart and
    lists the alert's name and shown labels as FIRING, repeat_interval has not passed since,
    no telegram notification or request failed since the restart (a failing send counts one),
    and that message lists as many FIRING blocks as the group now holds alerts (`held`): the
    rows of one SLO look alike in a message, so an alert that joined the group after the
    restart must have been sent (the group's firing set grew) and is not excused by a
    sibling's block.
    """
    if restart is None or not restart.quiet or "..." in route.group_by or not route.group_by:
        return None
    if not set(route.group_by) <= set(MESSAGE_LABELS):
        return None
    mine = [n for n in found if same_chat(n, chat_id) and _same_group(n.labels, alert, route)]
    if not mine:
        return None
    last_at = max(n.received_at or 0.0 for n in mine)
    last = [n for n in mine if (n.received_at or 0.0) == last_at]
    if last_at >= restart.started_at or now > last_at + route.repeat_interval_s:
        return None
    group = [a for a in held if a.state != "suppressed"
             and _same_group(a.label_dict, alert, route)]
    if len(group) > sum(1 for n in last if n.status == "firing"):
        return None
    return next((n for n in last if n.status == "firing" and about(n, alert.label_dict)), None)


def _not_resent(alert: HeldAlert, hit: Notice, chat_id, route: Route,
                restart: Restart) -> AlertDelivery:
    at = hit.received_at or 0.0
    repeat = format_duration(route.repeat_interval_s)
    return AlertDelivery(
        alert, NOT_RESENT,
        f"not re-sent after Alertmanager's restart at {_when(restart.started_at)}: its group's "
        f"last message, at {_when(at)} before the restart (message {hit.message_id}, chat "
        f"{chat_id}), lists it FIRING; Alertmanager kept its notification log across the "
        f"restart (its data dir), and sends a group already sent no repeat before "
        f"repeat_interval {repeat} (at {_when(at + route.repeat_interval_s)}); nothing failed "
        f"since the restart (`make stack-down`, then `make stack FRESH=1`, empties that log)",
        at)


@dataclass(frozen=True)
class Sighting:
    """A FIRING message that may be the alert's notification: `proven` when it is about that
    alert and no other, else the held alerts it may be about instead (`rivals`)."""

    message: tuple[Notice, ...]
    proven: bool
    rivals: tuple[HeldAlert, ...] = ()
    listed: bool = True                 # a block is about it (False: "… and N more")

    @property
    def at(self) -> float:
        """When the message arrived."""
        return self.message[0].received_at or 0.0


def _of_group(block: Notice, alert: HeldAlert, route: Route) -> bool:
    """True when the block shows every group_by label in full, each the alert's value."""
    if "..." in route.group_by:
        return False
    mine = alert.label_dict
    return all(k in block.labels and k not in block.cut and block.labels[k] == mine.get(k)
               or k in block.unset and k not in mine for k in route.group_by)


def sighting(message: list[Notice], alert: HeldAlert, held: list[HeldAlert],
             route: Route) -> Sighting | None:
    """What one message proves of the alert's FIRING notification (None: it is not about it).

    A block that may be about it and no other held alert proves it. When others are alike in
    what the blocks show, the message proves them all only when it lists as many such blocks
    as there are such alerts (Alertmanager lists an alert once). An alert no block is about may
    be one of the message's "… and N more firing" when the blocks show its group: proven when
    the group's alerts no block is about are no more than N.
    """
    firing = [b for b in message if b.status == "firing"]
    others = [a for a in held if a.labels != alert.labels]
    hits = [b for b in firing if about(b, alert.label_dict)]
    if hits:
        rivals = tuple(a for a in others if any(about(b, a.label_dict) for b in hits))
        pool = [alert, *rivals]
        slots = [b for b in firing if any(about(b, a.label_dict) for a in pool)]
        return Sighting(tuple(message), not rivals or len(slots) >= len(pool), rivals)
    unlisted = max((b.unlisted for b in message), default=0)
    if not (unlisted and firing and _of_group(firing[0], alert, route)):
        return None
    unmatched = [a for a in held if _same_group(a.label_dict, alert, route)
                 and not any(about(b, a.label_dict) for b in firing)]
    rivals = tuple(a for a in unmatched if a.labels != alert.labels)
    return Sighting(tuple(message), len(rivals) < unlisted, rivals, listed=False)


def sightings(alert: HeldAlert, found: list[Notice], chat_id: str | None,
              held: list[HeldAlert], route: Route) -> list[Sighting]:
    """Every FIRING message to `chat_id` since the alert started that may be about it, oldest
    first."""
    by_message: dict = {}
    for notice in found:
        at = notice.received_at or 0.0
        if at >= alert.starts_at - 1 and same_chat(notice, chat_id):
            by_message.setdefault((at, notice.message_id), []).append(notice)
    out = []
    for _key, message in sorted(by_message.items(), key=lambda item: item[0][0]):
        seen = sighting(message, alert, held, route)
        if seen is not None:
            out.append(seen)
    return out


def _indistinct(alert: HeldAlert, seen: Sighting, chat_id) -> AlertDelivery:
    """No proof either way: the message may be about it or about another held alert."""
    mine = alert.label_dict
    keys = sorted({k for rival in seen.rivals for k in set(mine) | set(rival.label_dict)
                   if mine.get(k) != rival.label_dict.get(k)})
    rivals = ", ".join(str(r) for r in seen.rivals[:2]) + (
        f" and {len(seen.rivals) - 2} more" if len(seen.rivals) > 2 else "")
    first = seen.message[0]
    if not seen.listed:
        why = (f"the message lists neither, counting {first.unlisted} among its \"… and N more "
               f"firing\" (it lists at most 5 alerts of a group): split the group with the "
               f"route's group_by (`{', '.join(keys)}`) so each group's message lists its alerts")
    elif not any(b.lined for b in seen.message):
        why = ("the message shows no labels line (it was sent with a telegram.tmpl from before "
               "it; restarting the stack, `make stack`, renders the current one)")
    else:
        why = (f"the message's labels line, cut at {LABELS_CAP} characters (long and short "
               f"first, then the others by name), does not show them in full: drop labels these "
               f"alerts do not need, or shorten their values")
    return AlertDelivery(
        alert, INDISTINCT,
        f"cannot tell it apart from {rivals} in message {first.message_id} at "
        f"{_when(seen.at)} (chat {chat_id}): they differ only in {', '.join(keys)}; {why}; "
        f"delivery is proven for none of them", seen.at)


def judge_sandbox(alerts: Iterable[HeldAlert], found: list[Notice], chat_id: str | None,
                  route: Route, now: float, delta: CounterDelta | None,
                  restart: Restart | None = None) -> list[AlertDelivery]:
    """Each alert's delivery from the sandbox's messages (see the module docstring); `restart`
    (when Alertmanager started, what failed since) lets a message from before its restart
    explain why a still-firing alert was not sent again (see `remembered`)."""
    out = []
    held = telegram_alerts(alerts, route)
    for alert in held:
        if alert.state == "suppressed":
            out.append(AlertDelivery(alert, SUPPRESSED, "silenced or inhibited: nothing is sent"))
            continue
        seen = sightings(alert, found, chat_id, held, route)
        hit = next((s for s in seen if s.proven), None)
        if hit is not None:
            how = "" if hit.listed else (f" (one of its group's \"… and "
                                         f"{hit.message[0].unlisted} more firing\")")
            out.append(AlertDelivery(alert, DELIVERED, f"at {_when(hit.at)}{how}", hit.at))
            continue
        if seen:
            out.append(_indistinct(alert, seen[0], chat_id))
            continue
        elsewhere = next((n for n in found if n.status == "firing"
                          and about(n, alert.label_dict)
                          and (n.received_at or 0) >= alert.starts_at - 1), None)
        age = now - alert.starts_at
        if elsewhere is not None:
            out.append(AlertDelivery(alert, FAILING,
                                     f"its message reached chat {elsewhere.chat_id}, not the "
                                     f"configured chat {chat_id}: check chat_id in "
                                     f"Alertmanager's config"))
        elif age < route.due_s:
            out.append(_waiting(alert, age, route))
        elif (kept := remembered(alert, found, chat_id, route, restart, now, held)) is not None:
            out.append(_not_resent(alert, kept, chat_id, route, restart))
        else:
            failed = (f"; Alertmanager counted {delta.failed} failed telegram notifications and "
                      f"{delta.request_failures} failed requests" if delta else "")
            out.append(AlertDelivery(alert, FAILING,
                                     f"firing since {_when(alert.starts_at)} ({age:.0f}s) and "
                                     f"no FIRING message for it reached chat {chat_id}{failed}"))
    return out


def _steps(samples: list[CounterSample], after: float) -> list[tuple[float, int, int]]:
    """(time, deliveries, failures) of each rise of the counters after `after`."""
    out, prev = [], None
    for s in sorted(samples, key=lambda sample: sample.at):
        if s.attempts is None:
            continue
        if prev is not None and s.at > after:
            if s.attempts < prev.attempts or s.failed < prev.failed:    # restarted
                prev = CounterSample(prev.at, 0.0, 0.0)
            failed = int(s.failed - prev.failed)
            delivered = int(s.attempts - prev.attempts) - failed
            if delivered > 0 or failed > 0:
                out.append((s.at, max(0, delivered), failed))
        prev = s
    return out


@dataclass(frozen=True)
class Attribution:
    """What the counters say about one group's notifications after `since`."""

    delivered_at: float | None          # the first delivery after `since`
    failures: tuple[float, ...]         # when flushes failed for good
    others: tuple[str, ...]             # alerts of other groups that may have notified then
    last_delivery: float = 0.0          # the last delivery after `since` (0: none)

    @property
    def proven(self) -> bool:
        """A delivery no other group can have made."""
        return self.delivered_at is not None and not self.others

    @property
    def failing(self) -> bool:
        """Failures with no delivery after the last one."""
        return bool(self.failures) and (self.delivered_at is None
                                         or self.last_delivery < self.failures[-1])


Activity = tuple[tuple, float, str]   # (group, when it changed, what to call it)


def held_activity(held: Iterable[HeldAlert], route: Route) -> list[Activity]:
    """Each held alert as a group change at its start."""
    return [(route.group(a.label_dict), a.starts_at, str(a)) for a in held]


def attribute(samples: list[CounterSample], since: float, group: tuple,
              activity: Iterable[Activity], route: Route, until: float) -> Attribution:
    """The counters' rises after `since` (when the group changed), and which other groups
    changed close enough before the first delivery to have sent it instead."""
    steps = _steps(samples, since)
    delivered = [t for t, ok, _bad in steps if ok and t <= until]
    failures = tuple(t for t, _ok, bad in steps if bad and t <= until)
    first = delivered[0] if delivered else None
    others = tuple(sorted({name for other, at, name in activity if other != group
                           and since - route.group_interval_s <= at
                           <= (first if first is not None else until)}))
    return Attribution(first, failures, others, delivered[-1] if delivered else 0.0)


def integration_failing(samples: list[CounterSample], since: float, until: float,
                        route: Route) -> str | None:
    """'the telegram integration keeps failing: ...' or None.

    Failing: notifications failed for good in (since, until] and none was delivered after the
    last failure; or failures kept coming, flush after flush (two or more, at least a
    group_interval apart, the last within one flush cycle of `until`), whatever was delivered in
    between (another group). One failure followed by deliveries is a retry that ended in
    delivery: not failing.
    """
    steps = [step for step in _steps(samples, since) if step[0] <= until]
    failures = [t for t, _ok, bad in steps if bad]
    delivered = [t for t, ok, _bad in steps if ok]
    if not failures:
        return None
    cycle = route.group_interval_s + route.flush_timeout_s + SLACK_S
    after_last = not delivered or delivered[-1] < failures[-1]
    repeating = (len(failures) >= 2 and failures[-1] - failures[0] >= route.group_interval_s
                 and until - failures[-1] <= cycle)
    if not (after_last or repeating):
        return None
    tail = ("none delivered after it" if after_last
            else "they keep coming, flush after flush")
    return (f"the telegram integration keeps failing: {len(failures)} notification(s) failed "
            f"for good since {_when(failures[0])}, the last at {_when(failures[-1])}; {tail}")


def judge_counters(alerts: Iterable[HeldAlert], samples: list[CounterSample], route: Route,
                   now: float) -> list[AlertDelivery]:
    """Each alert's delivery from Alertmanager's counters (real Telegram; see the docstring):
    delivered only when proven for its own group and time; failing only when nothing at all was
    delivered since it started, past due; otherwise unattributed."""
    held = telegram_alerts(alerts, route)
    first_sample = min((s.at for s in samples if s.attempts is not None), default=now)
    out = []
    for alert in held:
        if alert.state == "suppressed":
            out.append(AlertDelivery(alert, SUPPRESSED, "silenced or inhibited: nothing is sent"))
            continue
        seen = attribute(samples, alert.starts_at, route.group(alert.label_dict),
                         held_activity(held, route), route, now)
        age = now - alert.starts_at
        if seen.proven:
            out.append(AlertDelivery(alert, DELIVERED, f"at {_when(seen.delivered_at)} "
                                     f"(Alertmanager's telegram counter, no other group "
                                     f"notified then)", seen.delivered_at))
        elif alert.starts_at < first_sample:
            out.append(AlertDelivery(alert, UNATTRIBUTED,
                                     "it started before the counters' window: its first "
                                     "notification is not in it"))
        elif seen.delivered_at is not None:
            out.append(AlertDelivery(alert, UNATTRIBUTED,
                                     f"a telegram notification was delivered at "
                                     f"{_when(seen.delivered_at)}, but "
                                     f"{', '.join(seen.others[:3])} may have sent it "
                                     f"(Alertmanager counts per integration, not per alert)"))
        elif age < route.due_s:
            out.append(_waiting(alert, age, route))
        else:
            failed = f"; {len(seen.failures)} failed for good" if seen.failures else ""
            out.append(AlertDelivery(alert, FAILING,
                                     f"firing since {_when(alert.starts_at)} ({age:.0f}s) and "
                                     f"no telegram notification was delivered since{failed}"))
    return out
