"""Judging an experiment's expectations from what was observed: pure functions, no I/O.

Inputs are the phases' actual windows (PhaseWindow), the SLO verdicts of each phase, the alert
timeline (slo.live.alerts.AlertTimeline) and the Telegram evidence (sandbox notices or Alertmanager
counter samples). Each expectation gives one Outcome: passed, failed (with a reason a person
can act on) or skipped (the run ended before it could be judged).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from slo.experiment.schema import AlertExpectation, Phase, TelegramExpectation
from slo.live.alerts import AlertSelector, AlertTimeline, labels_text
from slo.live.delivery import CounterDelta, Notice, first_notice

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass
class PhaseWindow:
    """When a phase (and its fault) actually ran, in Unix seconds."""

    phase: Phase
    start: float | None = None
    end: float | None = None
    fault_start: float | None = None
    fault_end: float | None = None
    completed: bool = False

    @property
    def ref_start(self) -> float | None:
        """Where firing deadlines count from: the fault's start, else the phase's."""
        return self.fault_start if self.fault_start is not None else self.start


@dataclass(frozen=True)
class SloVerdict:
    """One SLO judged over one window (the checker's answer, reduced to what reports need)."""

    name: str
    status: str                  # met | warn | violated | no_data | inconclusive
    value: float | None = None
    objective: str = ""
    unit: str = ""
    detail: str = ""
    # what the histogram proves, [low, high] in the SLI's unit ("+Inf" for an open bucket)
    value_bounds: tuple[float | str, float | str] | None = None

    def as_dict(self) -> dict:
        """JSON-ready."""
        return asdict(self)


@dataclass(frozen=True)
class Outcome:
    """The judgement of one expectation."""

    phase: str
    kind: str                    # slo | alert | telegram
    subject: str
    expected: str
    status: str                  # passed | failed | skipped
    observed: str
    reason: str = ""
    measured_s: float | None = None
    at: float | None = None
    details: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when the expectation held."""
        return self.status == PASSED

    def as_dict(self) -> dict:
        """JSON-ready."""
        return asdict(self)


def fmt_s(seconds: float | None) -> str:
    """12.34 -> '12.3s' (None -> '-')."""
    return "-" if seconds is None else f"{seconds:.1f}s"


def previous_fault_end(windows: list[PhaseWindow], index: int) -> float | None:
    """The end of the latest fault of a phase before `index` (what `resolved` counts from)."""
    for window in reversed(windows[:index]):
        if window.fault_end is not None:
            return window.fault_end
    return None


# ------------------------------------------------------------------ SLOs

def slo_outcome(window: PhaseWindow, name: str, expected: str,
                verdict: SloVerdict | None) -> Outcome:
    """met: pass or warn; violated: violated. No data fails either way (fail closed)."""
    phase = window.phase.name
    if not window.completed:
        return Outcome(phase, "slo", name, expected, SKIPPED, "not judged",
                       "the phase did not run to its end")
    if verdict is None:
        return Outcome(phase, "slo", name, expected, FAILED, "no verdict",
                       f"SLO {name!r} was not evaluated for phase {phase!r}")
    shown = verdict.status + (f" ({verdict.detail})" if verdict.detail else "")
    if verdict.status == "no_data":
        return Outcome(phase, "slo", name, expected, FAILED, shown,
                       f"no data for SLO {name!r} in phase {phase!r}: it cannot be judged "
                       f"{expected} (is the app scraped and is Locust sending load?)")
    if verdict.status == "inconclusive":
        return Outcome(phase, "slo", name, expected, FAILED, shown,
                       f"SLO {name!r} is inconclusive in phase {phase!r}: the histogram's "
                       f"buckets cannot tell whether it was {expected}")
    ok = verdict.status in ("met", "warn") if expected == "met" else verdict.status == "violated"
    reason = "" if ok else (f"SLO {name!r} was {verdict.status} in phase {phase!r} "
                            f"({verdict.objective}; measured {verdict.detail or verdict.value}), "
                            f"expected {expected}")
    return Outcome(phase, "slo", name, expected, PASSED if ok else FAILED, shown, reason,
                   details={"value": verdict.value, "objective": verdict.objective})


# ------------------------------------------------------------------ alerts

def _describe_states(timeline: AlertTimeline, selector: AlertSelector, after: float,
                     before: float) -> str:
    seen = [t for t in timeline.matching(selector) if after <= t.at <= before]
    if not seen:
        return "it never became pending or firing"
    parts = [f"{t.state} at +{t.at - after:.1f}s" for t in seen[:6]]
    return "it was " + ", ".join(parts)


def alert_outcome(windows: list[PhaseWindow], index: int, expectation: AlertExpectation,
                  timeline: AlertTimeline, run_end: float, rules_known: bool | None) -> Outcome:
    """firing within T / not_firing / resolved within T, from the alert timeline."""
    window = windows[index]
    phase = window.phase.name
    selector = AlertSelector(expectation.alert, expectation.labels)
    subject = expectation.subject()
    if expectation.state == "not_firing":
        expected = "not firing"
    else:
        expected = f"{expectation.state} within {expectation.within_s}s"
    if rules_known is False:
        return Outcome(phase, "alert", subject, expected, FAILED, "no such rule",
                       f"no alerting rule {subject} is loaded in Prometheus (or Grafana): check "
                       f"the name and labels against `slo verify-alerts`")
    if expectation.state == "not_firing":
        if window.start is None or window.end is None:
            return Outcome(phase, "alert", subject, expected, SKIPPED, "not judged",
                           "the phase did not run")
        fired = timeline.fired_during(selector, window.start, window.end)
        if not fired:
            return Outcome(phase, "alert", subject, expected, PASSED, "did not fire")
        first = fired[0]
        when = max(0.0, first.at - window.start)
        labels = labels_text(first.labels, keys=None)
        return Outcome(phase, "alert", subject, expected, FAILED, f"fired at +{when:.1f}s",
                       f"{subject} fired during phase {phase!r} (+{when:.1f}s; {labels}); a "
                       f"healthy phase must not page", at=first.at)
    if expectation.state == "firing":
        ref = window.ref_start
        origin = "the fault's start" if window.fault_start is not None else "the phase's start"
    else:
        ref = previous_fault_end(windows, index)
        origin = "the end of the fault"
    if ref is None:
        return Outcome(phase, "alert", subject, expected, SKIPPED, "not judged",
                       "the run ended before this expectation's clock started")
    deadline = ref + expectation.within_s
    if expectation.state == "firing":
        if timeline.active_at(selector, ref, ("firing",)):
            return Outcome(phase, "alert", subject, expected, PASSED,
                           "already firing", measured_s=0.0, at=ref)
        fired = timeline.first("firing", selector, after=ref, before=deadline)
        if fired is not None:
            took = fired.at - ref
            return Outcome(phase, "alert", subject, expected, PASSED,
                           f"fired after {fmt_s(took)}", measured_s=round(took, 3), at=fired.at)
        if run_end < deadline:
            return Outcome(phase, "alert", subject, expected, SKIPPED, "not judged",
                           "the run ended before the deadline")
        return Outcome(phase, "alert", subject, expected, FAILED, "did not fire",
                       f"{subject} did not fire within {expectation.within_s}s of {origin} "
                       f"({_describe_states(timeline, selector, ref, deadline)})")
    moment, still = timeline.resolved_by(selector, ref, deadline)
    if moment is not None:
        took = moment - ref
        note = "was not firing" if took == 0 else f"resolved after {fmt_s(took)}"
        return Outcome(phase, "alert", subject, expected, PASSED, note,
                       measured_s=round(took, 3), at=moment)
    if run_end < deadline:
        return Outcome(phase, "alert", subject, expected, SKIPPED, "not judged",
                       "the run ended before the deadline")
    active = "; ".join(labels_text(key[2], keys=None) for key in still[:3])
    return Outcome(phase, "alert", subject, expected, FAILED, "still active",
                   f"{subject} was still pending or firing {expectation.within_s}s after "
                   f"{origin} ({active})")


# ------------------------------------------------------------------ Telegram

@dataclass(frozen=True)
class TelegramEvidence:
    """What is known about deliveries: sandbox notices, or counter deltas per window."""

    mode: str                                    # sandbox | telegram
    notices: tuple[Notice, ...] = ()
    counter_delta: object = None                 # callable (after, before) -> CounterDelta


def telegram_outcome(windows: list[PhaseWindow], index: int, expectation: TelegramExpectation,
                     evidence: TelegramEvidence, run_end: float) -> Outcome:
    """A message for the alert with the status arrived within T (see the module docstring)."""
    window = windows[index]
    phase = window.phase.name
    subject = expectation.subject()
    expected = f"{expectation.status} delivered within {expectation.within_s}s"
    if expectation.status == "firing":
        ref, origin = window.ref_start, ("the fault's start" if window.fault_start is not None
                                         else "the phase's start")
    else:
        ref, origin = previous_fault_end(windows, index), "the end of the fault"
    if ref is None:
        return Outcome(phase, "telegram", subject, expected, SKIPPED, "not judged",
                       "the run ended before this expectation's clock started")
    deadline = ref + expectation.within_s
    if evidence.mode == "sandbox":
        found = first_notice(list(evidence.notices), expectation.alert, expectation.labels,
                             expectation.status, ref, deadline)
        if found is not None:
            took = found.received_at - ref
            retried = (evidence.counter_delta(ref, found.received_at + 2).request_failures
                       if evidence.counter_delta is not None else 0)
            note = f" ({retried} failed requests retried)" if retried else ""
            return Outcome(phase, "telegram", subject, expected, PASSED,
                           f"delivered after {fmt_s(took)}{note}", measured_s=round(took, 3),
                           at=found.received_at, details={"message_id": found.message_id,
                                                          "failed_requests": retried})
        what = f"no {expectation.status.upper()} message for {subject} reached the Telegram sandbox"
    else:
        delta: CounterDelta = evidence.counter_delta(ref, deadline)
        if delta.delivered > 0:
            took = delta.first_delivery_at - ref
            return Outcome(phase, "telegram", subject, expected, PASSED,
                           f"delivered after {fmt_s(took)} (Alertmanager counter +"
                           f"{delta.delivered})", measured_s=round(took, 3),
                           at=delta.first_delivery_at,
                           details={"delivered": delta.delivered, "failed": delta.failed})
        what = (f"Alertmanager's telegram notifications did not rise without failures "
                f"({delta.failed} failed)")
    if run_end < deadline:
        return Outcome(phase, "telegram", subject, expected, SKIPPED, "not judged",
                       "the run ended before the deadline")
    hints = []
    if evidence.counter_delta is not None:
        delta = evidence.counter_delta(ref, deadline)
        if delta.unreachable_polls:
            hints.append(f"Alertmanager did not answer {delta.unreachable_polls} of our polls")
        if delta.failed:
            hints.append(f"{delta.failed} telegram notifications failed for good in "
                         f"Alertmanager")
        if delta.request_failures:
            hints.append(f"{delta.request_failures} telegram requests failed")
        if evidence.mode == "sandbox" and delta.delivered:
            hints.append(f"it delivered {delta.delivered} other notification(s)")
    hint = f" ({'; '.join(hints)})" if hints else ""
    return Outcome(phase, "telegram", subject, expected, FAILED, "not delivered",
                   f"not delivered: {what} within {expectation.within_s}s of {origin}{hint}")
