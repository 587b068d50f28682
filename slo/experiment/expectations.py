"""Judging an experiment's expectations from what was observed: pure functions, no I/O.

Inputs are the phases' actual windows (PhaseWindow), the SLO verdicts of each phase, the alert
timeline (slo.live.alerts.AlertTimeline) and the Telegram evidence (sandbox notices or Alertmanager
counter samples). Each expectation gives one Outcome: passed, failed (with a reason a person
can act on), skipped (the run ended before it could be judged) or not_evaluated (what it is
about was not observed: the runner exits 2 for it, never 0).

An alert expectation that rests on something *not* happening (not firing; not firing in time;
no longer firing) needs the tracker to have watched the rule (slo.live.coverage): less than
MIN_OBSERVED of its window watched is not_evaluated, naming each gap and its length. What was
seen happening (an alert firing) needs no coverage: it is a fact either way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from slo.experiment.schema import AlertExpectation, Phase, TelegramExpectation
from slo.live.alerts import AlertSelector, AlertTimeline, labels_text
from slo.live.coverage import MIN_OBSERVED, Coverage, coverage, max_gap_s, poll_gaps
from slo.live.delivery import CounterSample, Notice, first_notice
from slo.live.health import Activity, Route, attribute

PASSED, FAILED, SKIPPED, NOT_EVALUATED = "passed", "failed", "skipped", "not_evaluated"


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
    bad_ratio: float | None = None     # share of bad events (what spends the budget)
    window_s: float | None = None      # the window judged

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
    status: str                  # passed | failed | skipped | not_evaluated
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
    """met: pass or warn; violated: violated. No data or an inconclusive verdict is no claim
    either way: not evaluated (the run exits 2, never 0), as `slo check` exits 2 for them."""
    phase = window.phase.name
    if not window.completed:
        return Outcome(phase, "slo", name, expected, SKIPPED, "not judged",
                       "the phase did not run to its end")
    if verdict is None:
        return Outcome(phase, "slo", name, expected, FAILED, "no verdict",
                       f"SLO {name!r} was not evaluated for phase {phase!r}")
    shown = verdict.status + (f" ({verdict.detail})" if verdict.detail else "")
    if verdict.status == "no_data":
        return Outcome(phase, "slo", name, expected, NOT_EVALUATED, shown,
                       f"no data for SLO {name!r} in phase {phase!r}: it cannot be judged "
                       f"{expected} (is the app scraped and is Locust sending load?)")
    if verdict.status == "inconclusive":
        return Outcome(phase, "slo", name, expected, NOT_EVALUATED, shown,
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


def watched(timeline: AlertTimeline, selector: AlertSelector, start: float,
            end: float) -> Coverage:
    """How much of [start, end] the tracker watched the selector's rules."""
    return coverage(timeline.history, selector, start, end,
                    max_gap_s(timeline.poll_interval_s))


def _unwatched(phase: str, subject: str, expected: str, claim: str, cov: Coverage,
               t0: float, what: str) -> Outcome:
    """not_evaluated: the window was not watched enough to say `claim`."""
    sources = " and ".join(s.capitalize() for s in cov.sources) or "Prometheus"
    return Outcome(phase, "alert", subject, expected, NOT_EVALUATED,
                   f"could not evaluate ({cov.fraction:.0%} observed)",
                   f"{subject} cannot be judged {claim}: the alert tracker watched its rule for "
                   f"only {cov.fraction:.0%} of {what} (at least {MIN_OBSERVED:.0%} is needed): "
                   f"{cov.describe_gaps(t0)}; keep {sources} up and answering during the "
                   f"experiment",
                   details=cov.details(t0))


def _noted(observed: str, cov: Coverage, t0: float) -> str:
    """`observed`, with the coverage when the window had gaps."""
    return observed if not cov.gaps else f"{observed} ({cov.describe(t0, most=1)})"


def blind_notes(timeline: AlertTimeline, windows: list[PhaseWindow]) -> list[str]:
    """A note per stretch of the run in which an alert source answered no poll (for the
    report: whatever the expectations, the reader learns when the tracker was blind)."""
    ran = [w for w in windows if w.start is not None and w.end is not None]
    if not ran:
        return []
    t0, end = ran[0].start, ran[-1].end
    gaps = poll_gaps(timeline.history, t0, end, max_gap_s(timeline.poll_interval_s))
    return [f"the alert tracker was blind: {gap.describe(t0)}" for gap in gaps]


def alert_outcome(windows: list[PhaseWindow], index: int, expectation: AlertExpectation,
                  timeline: AlertTimeline, run_end: float, rules_known: bool | None) -> Outcome:
    """firing within T / not_firing / resolved within T, from the alert timeline (and how much of
    the time it was watched: see the module docstring)."""
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
            cov = watched(timeline, selector, window.start, window.end)
            if not cov.enough:
                return _unwatched(phase, subject, expected, f"not firing in phase {phase!r}",
                                  cov, window.start, "the phase")
            return Outcome(phase, "alert", subject, expected, PASSED,
                           _noted("did not fire", cov, window.start),
                           details=cov.details(window.start))
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
        cov = watched(timeline, selector, ref, deadline)
        if not cov.enough:
            return _unwatched(phase, subject, expected,
                              f"not firing within {expectation.within_s}s of {origin}", cov, ref,
                              f"the {expectation.within_s}s after {origin}")
        return Outcome(phase, "alert", subject, expected, FAILED,
                       _noted("did not fire", cov, ref),
                       f"{subject} did not fire within {expectation.within_s}s of {origin} "
                       f"({_describe_states(timeline, selector, ref, deadline)})",
                       details=cov.details(ref))
    # resolved: both answers rest on the state at the deadline, so both need watching
    moment, still = timeline.resolved_by(selector, ref, deadline)
    if moment is None and run_end < deadline:
        return Outcome(phase, "alert", subject, expected, SKIPPED, "not judged",
                       "the run ended before the deadline")
    cov = watched(timeline, selector, ref, min(deadline, run_end))
    if not cov.enough:
        return _unwatched(phase, subject, expected,
                          f"resolved within {expectation.within_s}s of {origin}", cov, ref,
                          f"the {expectation.within_s}s after {origin}")
    if moment is not None:
        took = moment - ref
        note = "was not firing" if took == 0 else f"resolved after {fmt_s(took)}"
        return Outcome(phase, "alert", subject, expected, PASSED, _noted(note, cov, ref),
                       measured_s=round(took, 3), at=moment, details=cov.details(ref))
    active = "; ".join(labels_text(key[2], keys=None) for key in still[:3])
    return Outcome(phase, "alert", subject, expected, FAILED, _noted("still active", cov, ref),
                   f"{subject} was still pending or firing {expectation.within_s}s after "
                   f"{origin} ({active})", details=cov.details(ref))


# ------------------------------------------------------------------ Telegram

@dataclass(frozen=True)
class TelegramEvidence:
    """What is known about deliveries: sandbox notices (and the chat they must reach), or
    Alertmanager's counter samples with the alert timeline and route to attribute them."""

    mode: str                                    # sandbox | telegram
    notices: tuple[Notice, ...] = ()
    counter_delta: object = None                 # callable (after, before) -> CounterDelta
    chat_id: str | None = None                   # sandbox: the configured chat
    samples: tuple[CounterSample, ...] = ()      # telegram: the counters as polled
    timeline: AlertTimeline | None = None
    route: Route = field(default_factory=Route)


def _changes(timeline: AlertTimeline, route: Route) -> list[Activity]:
    """Every firing or resolution in the timeline as a change of its Alertmanager group."""
    return [(route.group(t.label_dict), t.at, f"{t.name}{{{labels_text(t.labels)}}} {t.state}")
            for t in timeline.transitions if t.state in ("firing", "resolved")]


def _counter_proof(evidence: TelegramEvidence, selector: AlertSelector, status: str, ref: float,
                   deadline: float) -> tuple[float | None, str]:
    """(delivery time, '') when the counters prove the alert's own notification; else
    (None, why): 'unattributed: ...' when another group may have sent what was counted."""
    timeline = evidence.timeline
    if timeline is None:
        return None, "no alert timeline to match the counters to"
    if status == "firing":
        change = timeline.first("firing", selector, after=ref, before=deadline)
        if change is None:
            return None, "the alert did not fire in that time, so nothing was sent for it"
        since, labels = change.at, change.label_dict
    else:
        since, _still = timeline.resolved_by(selector, ref, deadline)
        if since is None:
            return None, "the alert was still firing, so no resolution was sent"
        mine = timeline.matching(selector)
        labels = mine[-1].label_dict if mine else dict(selector.labels)
    route = evidence.route
    seen = attribute(list(evidence.samples), since, route.group(labels),
                     _changes(timeline, route), route, deadline)
    if seen.proven:
        return seen.delivered_at, ""
    if seen.delivered_at is not None:
        return None, (f"unattributed: a telegram notification was delivered "
                      f"{seen.delivered_at - ref:.1f}s in, but {', '.join(seen.others[:3])} "
                      f"changed then too and Alertmanager counts per integration, not per alert")
    return None, ""


def telegram_outcome(windows: list[PhaseWindow], index: int, expectation: TelegramExpectation,
                     evidence: TelegramEvidence, run_end: float) -> Outcome:
    """A message for the alert with the status arrived within T (see the module docstring):
    in the sandbox, in the configured chat; with real Telegram, counted by Alertmanager after
    the alert's own change with no other group able to have sent it."""
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
    hints = []
    if evidence.mode == "sandbox":
        found = first_notice(list(evidence.notices), expectation.alert, expectation.labels,
                             expectation.status, ref, deadline, chat_id=evidence.chat_id)
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
        if evidence.chat_id is not None:
            what += f" in chat {evidence.chat_id}"
            astray = first_notice(list(evidence.notices), expectation.alert, expectation.labels,
                                  expectation.status, ref, deadline)
            if astray is not None:
                hints.append(f"one reached chat {astray.chat_id} instead: check chat_id in "
                             f"Alertmanager's config")
    else:
        at, why = _counter_proof(evidence, AlertSelector(expectation.alert, expectation.labels),
                                 expectation.status, ref, deadline)
        if at is not None:
            took = at - ref
            return Outcome(phase, "telegram", subject, expected, PASSED,
                           f"delivered after {fmt_s(took)} (Alertmanager's counter, after the "
                           f"alert's own change, no other group then)",
                           measured_s=round(took, 3), at=at)
        if why.startswith("unattributed"):
            return Outcome(phase, "telegram", subject, expected, NOT_EVALUATED,
                           "could not evaluate (unattributed)",
                           f"{subject}'s {expectation.status} notification cannot be told apart "
                           f"from another group's: {why.removeprefix('unattributed: ')}; run "
                           f"against the sandbox, or give each alert its own phase")
        what = "Alertmanager counted no telegram notification for it without failure"
        if why:
            hints.append(why)
    if run_end < deadline:
        return Outcome(phase, "telegram", subject, expected, SKIPPED, "not judged",
                       "the run ended before the deadline")
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
