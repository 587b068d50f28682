"""How much of a time window the alert tracker actually watched an alert (pure, no I/O).

A claim that an alert "did not fire" (or "did not fire in time", or "was still firing") is a
claim about what was seen: it holds only over time the tracker saw the rule. A poll *observes*
a selector when its source answered and every loaded rule that can produce the selector's
alerts reported health "ok" (Prometheus says "unknown" before a rule's first evaluation, "err"
when its query failed; Grafana "error" or "nodata"). Between two observing polls of a source
at most `max_gap_s` apart the rule counts as watched; a longer stretch, or one before the first
or after the last observation, is a gap. A selector whose rules live in two sources (Prometheus
and Grafana) is watched only when both were.

    cov = coverage(timeline.history, selector, start, end, max_gap_s(1.0))
    cov.fraction          # 0.05
    cov.gaps[0].describe(start)
    # 'no successful poll of prometheus for 38.2s (+1.0s..+39.2s): Prometheus at ... unreachable'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from slo.live.alerts import POLL_TIMEOUT_S, AlertSelector, Poll

MIN_OBSERVED = 0.9   # a window less observed than this cannot be judged


def max_gap_s(interval_s: float, timeout_s: float = POLL_TIMEOUT_S) -> float:
    """The longest stretch between two observing polls that still counts as watched: two poll
    intervals plus one poll's timeout (a slow answer delays the next poll by up to that)."""
    return 2 * interval_s + timeout_s


@dataclass(frozen=True)
class Gap:
    """A stretch [start, end] in which `source` did not observe the rules (and why)."""

    start: float
    end: float
    source: str
    cause: str = ""

    @property
    def length_s(self) -> float:
        """How long the tracker was blind."""
        return self.end - self.start

    def describe(self, t0: float) -> str:
        """'no successful poll of prometheus for 38.2s (+1.0s..+39.2s): <cause>'."""
        where = f"+{self.start - t0:.1f}s..+{self.end - t0:.1f}s"
        cause = f": {self.cause}" if self.cause else ""
        return (f"no successful poll of {self.source} for {self.length_s:.1f}s "
                f"({where}){cause}")

    def as_dict(self, t0: float) -> dict:
        """JSON-ready, offsets from `t0`."""
        return {"source": self.source, "start_offset_s": round(self.start - t0, 3),
                "length_s": round(self.length_s, 3), "cause": self.cause}


@dataclass(frozen=True)
class Coverage:
    """How much of [start, end] was watched, and the gaps."""

    start: float
    end: float
    observed_s: float
    gaps: tuple[Gap, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def span_s(self) -> float:
        """The window's length."""
        return max(0.0, self.end - self.start)

    @property
    def fraction(self) -> float:
        """Share of the window that was watched (1.0 for an empty window)."""
        return 1.0 if self.span_s == 0 else min(1.0, self.observed_s / self.span_s)

    @property
    def enough(self) -> bool:
        """True when the window was watched enough to be judged (MIN_OBSERVED)."""
        return self.fraction >= MIN_OBSERVED

    def describe_gaps(self, t0: float, most: int = 3) -> str:
        """'no successful poll of prometheus for 5.1s (+3.0s..+8.1s); ...' (the first `most`)."""
        shown = "; ".join(g.describe(t0) for g in self.gaps[:most])
        more = f"; and {len(self.gaps) - most} more gaps" if len(self.gaps) > most else ""
        return shown + more

    def describe(self, t0: float, most: int = 3) -> str:
        """'62% observed: no successful poll of prometheus for 5.1s (+3.0s..+8.1s); ...'."""
        shown = self.describe_gaps(t0, most)
        return f"{self.fraction:.0%} observed" + (f": {shown}" if shown else "")

    def details(self, t0: float) -> dict:
        """JSON-ready, for an Outcome's details."""
        return {"observed_fraction": round(self.fraction, 3),
                "observed_s": round(self.observed_s, 3), "window_s": round(self.span_s, 3),
                "gaps": [g.as_dict(t0) for g in self.gaps]}


def _observes(poll: Poll, selector: AlertSelector) -> bool:
    if not poll.ok:
        return False
    mine = [r for r in poll.rules if selector.matches_rule(r)]
    return bool(mine) and all(r.health == "ok" for r in mine)


def _cause(polls: Iterable[Poll], selector: AlertSelector) -> str:
    """Why the polls inside a gap did not observe (the first reason found)."""
    for poll in polls:
        if not poll.ok:
            return poll.error
        mine = [r for r in poll.rules if selector.matches_rule(r)]
        if not mine:
            return f"no rule {selector} was loaded"
        bad = next((r for r in mine if r.health != "ok"), None)
        if bad is not None:
            return (f"rule {bad.name} had health {bad.health!r}"
                    + (f" ({bad.last_error})" if bad.last_error else ""))
    return ""


def _blind_stretches(points: list[float], start: float, end: float,
                     max_gap: float) -> list[tuple[float, float]]:
    """The stretches of [start, end] with no point, longer than `max_gap`, as (left, right):
    between two points, or from an edge of the window to the nearest point (the whole window
    when there is no point). `points` sorted."""
    if not points:
        return [(start, end)] if end > start else []
    stretches = [(a, b) for a, b in zip(points, points[1:], strict=False) if b - a > max_gap]
    if points[0] - start > max_gap:
        stretches.insert(0, (start, points[0]))
    if end - points[-1] > max_gap:
        stretches.append((points[-1], end))
    return [(a, b) for a, b in stretches if min(b, end) > max(a, start)]


def _source_gaps(polls: list[Poll], selector: AlertSelector, start: float, end: float,
                 max_gap: float) -> list[Gap]:
    """The gaps in [start, end] of one source (its polls in time order)."""
    points = [p.at for p in polls if _observes(p, selector)]
    gaps = []
    for left, right in _blind_stretches(points, start, end, max_gap):
        inside = [p for p in polls if left < p.at < right] or ([] if points else polls)
        gaps.append(Gap(max(left, start), min(right, end), polls[0].source,
                        _cause(inside, selector) or "no poll answered"))
    return gaps


def _merge(gaps: list[Gap]) -> list[Gap]:
    """Overlapping gaps of several sources as one stretch each (the first source named)."""
    merged: list[Gap] = []
    for gap in sorted(gaps, key=lambda g: g.start):
        if merged and gap.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Gap(last.start, max(last.end, gap.end), last.source, last.cause)
        else:
            merged.append(gap)
    return merged


def coverage(history: Iterable[Poll], selector: AlertSelector, start: float, end: float,
             max_gap: float) -> Coverage:
    """How much of [start, end] the selector's rules were watched (see the module docstring).

    The sources considered are those that ever loaded a rule that can produce the selector's
    alerts; with none, nothing was watched.
    """
    by_source: dict[str, list[Poll]] = {}
    for poll in sorted(history, key=lambda p: p.at):
        by_source.setdefault(poll.source, []).append(poll)
    relevant = {name: polls for name, polls in by_source.items()
                if any(selector.matches_rule(r) for p in polls for r in p.rules)}
    span = max(0.0, end - start)
    if span == 0:
        return Coverage(start, end, 0.0, (), tuple(relevant))
    if not relevant:
        source = next(iter(by_source), "prometheus")
        cause = _cause(by_source.get(source, []), selector) or "no poll answered"
        return Coverage(start, end, 0.0, (Gap(start, end, source, cause),), ())
    gaps = _merge([g for name, polls in relevant.items()
                   for g in _source_gaps(polls, selector, start, end, max_gap)])
    blind = sum(g.length_s for g in gaps)
    return Coverage(start, end, max(0.0, span - blind), tuple(gaps), tuple(relevant))


def poll_gaps(history: Iterable[Poll], start: float, end: float, max_gap: float) -> list[Gap]:
    """Every stretch in [start, end] longer than `max_gap` in which a source answered no poll
    (whatever the rules said): what a report notes about the tracker's blindness."""
    by_source: dict[str, list[Poll]] = {}
    for poll in sorted(history, key=lambda p: p.at):
        by_source.setdefault(poll.source, []).append(poll)
    gaps = []
    for source, polls in by_source.items():
        points = [p.at for p in polls if p.ok]
        for left, right in _blind_stretches(points, start, end, max_gap):
            errors = [p.error for p in polls if left <= p.at <= right and not p.ok]
            gaps.append(Gap(max(left, start), min(right, end), source,
                            errors[0] if errors else "no poll answered"))
    return sorted(gaps, key=lambda g: g.start)
