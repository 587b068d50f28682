"""Per-alert timings of an experiment, beside the theory: pure functions over observations.

For every fault and every alert instance that became active after it started (before the next
fault), relative to the fault's start: time-to-pending (Prometheus's activeAt when known, which
is the evaluation that first saw the condition), time-to-fire (first poll that saw it firing),
time-to-notify (the first Telegram message, or counter rise, after the fault's start); and
relative to the fault's end: time-to-resolve and time-to-notify the resolution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from slo.alerting.detection import Theory, ratio
from slo.experiment.expectations import PhaseWindow
from slo.live.alerts import AlertTimeline, Rule, Transition
from slo.live.delivery import MESSAGE_LABELS, CounterDelta, Notice, matches


@dataclass(frozen=True)
class AlertTiming:
    """One alert instance's path through one fault."""

    phase: str
    fault: str
    source: str
    alert: str
    labels: dict
    pending_s: float | None
    fire_s: float | None
    notify_s: float | None
    resolve_s: float | None
    notify_resolved_s: float | None
    pending_at: float | None
    fired_at: float | None
    notified_at: float | None
    resolved_at: float | None
    resolved_notified_at: float | None
    theory: Theory | None = None

    @property
    def detection_ratio(self) -> float | None:
        """Measured time-to-fire / theoretical detection time."""
        return ratio(self.fire_s, self.theory)

    def as_dict(self) -> dict:
        """JSON-ready, with the theory and the ratio."""
        out = asdict(self)
        out["theory"] = self.theory.as_dict() if self.theory else None
        out["detection_ratio"] = self.detection_ratio
        return out


def rule_for(rules: list[Rule], name: str, labels: dict) -> Rule | None:
    """The rule that produced an instance: same name, static labels all present."""
    return next((rule for rule in rules if rule.produces(name, labels)), None)


def _since(moment: float | None, origin: float | None) -> float | None:
    if moment is None or origin is None:
        return None
    return round(moment - origin, 3)


def _notice_at(notices: list[Notice], labels: dict, status: str, after: float | None,
               before: float | None) -> float | None:
    if after is None:
        return None
    # the labels every message shows: the instance's own row (long, short), not a sibling's
    shown = tuple((k, v) for k, v in labels.items() if k in MESSAGE_LABELS[1:])
    for notice in notices:
        at = notice.received_at or 0.0
        if at >= after and (before is None or at <= before) and matches(
                notice, labels.get("alertname", ""), shown, status):
            return at
    return None


def alert_timings(windows: list[PhaseWindow], timeline: AlertTimeline, run_end: float,
                  notices: list[Notice] | None = None,
                  counter_delta: Callable[[float, float], CounterDelta] | None = None,
                  theory_for: Callable[[PhaseWindow, Rule], Theory | None] | None = None,
                  ) -> list[AlertTiming]:
    """Timings of every alert instance each fault caused (see the module docstring)."""
    faults = [w for w in windows if w.fault_start is not None]
    rules = timeline.all_rules()
    out: list[AlertTiming] = []
    for i, window in enumerate(faults):
        start = window.fault_start
        horizon = faults[i + 1].fault_start if i + 1 < len(faults) else run_end
        by_key: dict[tuple, list[Transition]] = {}
        for t in timeline.transitions:
            by_key.setdefault((t.source, t.name, t.labels), []).append(t)
        for key, seen in by_key.items():
            before = [t for t in seen if t.at < start]
            if before and before[-1].state != "resolved":
                continue  # already active when the fault began: not caused by it
            inside = [t for t in seen if start <= t.at <= horizon]
            pending = next((t for t in inside if t.state == "pending"), None)
            firing = next((t for t in inside if t.state == "firing"), None)
            if pending is None and firing is None:
                continue
            first = pending or firing
            pending_at = first.at
            if first.active_at is not None and start - 1 <= first.active_at <= first.at:
                pending_at = first.active_at
            end = window.fault_end
            resolved = next((t for t in seen if t.state == "resolved" and end is not None
                             and t.at >= (firing or first).at and t.at <= run_end), None)
            labels = dict(key[2])
            rule = rule_for(rules, key[1], labels)
            fired_at = firing.at if firing else None
            if (firing is not None and rule is not None and rule.for_s == 0
                    and firing.active_at is not None and start <= firing.active_at <= firing.at):
                # Without `for`, Prometheus fires in the evaluation that made it active.
                fired_at = firing.active_at
            notified_at = resolved_notified_at = None
            resolved_at = resolved.at if resolved else None
            if notices is not None:
                # A notice counts for this instance only once the instance itself got there.
                notified_at = _notice_at(notices, labels, "firing", fired_at or first.at, horizon)
                resolved_notified_at = _notice_at(notices, labels, "resolved", resolved_at,
                                                  run_end)
            elif counter_delta is not None:
                # Counted per integration: a delivery before this instance's own change cannot
                # be its notification.
                notified_at = counter_delta(fired_at or first.at, horizon).first_delivery_at
                if resolved_at is not None:
                    resolved_notified_at = counter_delta(resolved_at, run_end).first_delivery_at
            theory = theory_for(window, rule) if (theory_for and rule) else None
            out.append(AlertTiming(
                phase=window.phase.name, fault=window.phase.fault.describe(), source=key[0],
                alert=key[1], labels={k: v for k, v in labels.items() if k != "alertname"},
                pending_s=_since(pending_at, start),
                fire_s=_since(fired_at, start),
                notify_s=_since(notified_at, start),
                resolve_s=_since(resolved_at, end),
                notify_resolved_s=_since(resolved_notified_at, end),
                pending_at=pending_at, fired_at=fired_at,
                notified_at=notified_at, resolved_at=resolved_at,
                resolved_notified_at=resolved_notified_at, theory=theory))
    out.sort(key=lambda a: (a.pending_at or 0, a.alert))
    return out
