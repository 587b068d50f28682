"""How much of a window was observed: the scrapes of an SLO's targets, its gaps, its restarts.

Prometheus's 5-minute lookback and increase() carry the last samples across a hole, so a
window in which Prometheus was down, or the service dead, reads as quiet: ten minutes of 503s
lost in a restart inside the hole judged 0.00 % errors. Before a verdict the checker asks, for
the targets of an SLO (the `up` series of the job and instance its denominator's selectors
name), one range query over the window with one point per scrape interval S, the points at
the window's end, end - S, ... (each point is the step (t - S, t]; a few ms short of S, so a
scrape on a step's edge counts once, in Prometheus 2 and 3 alike):

    min by (job, instance) (min_over_time(up{job="J"}[S]))     up_query()

and how often its counters reset (a restart): resets_query(). Each step is

    observed   a scrape of the target succeeded in it, and none failed
    down       a scrape failed (up == 0: the target did not answer)
    gap        no scrape at all (Prometheus was down, or did not scrape the target)

A target without any `up` series in the window (its series pushed or relabelled under another
job) is measured by its own series instead (samples_query(): present or not, never down).

The rules (pure functions, tested as tables):
- a stretch of one step (one missed or failed scrape, or a scrape's timestamp jittered over a
  step's edge) loses nothing of a counter — the next scrape counts its events — and is not
  counted; longer stretches are
- observed share = 1 - (the steps of the longer stretches + one per counter reset) / steps:
  a restart loses the events between the scrape before it and the crash, up to one interval
- the window cannot be judged (no_data, exit 2) when the share is below the minimum (MIN_SHARE,
  90 %: `slo check --min-coverage`), or a stretch is longer than MAX_GAP_STEPS scrape
  intervals, or — for an SLO that counts failed requests (FAILURE_KINDS) — a scrape of its
  target failed at all: the requests sent to a down target never reach its metrics, so a down
  target is never averaged away (a spec cannot yet say "count a down target as unavailable")
- a stretch at the window's start that ends within `grace_until` is left to the late-data
  check (slo.judge.checker.late_data: one message per cause); the window's first partial
  step (before the first whole one) is not looked at
"""

import math
from dataclasses import dataclass

from slo.judge import promql
from slo.judge.window import MIN_WINDOW_S, Window, iso_utc
from slo.spec.selectors import Selector

MIN_SHARE = 0.9       # the observed share a window needs to be judged (--min-coverage)
MAX_GAP_STEPS = 3     # a longer stretch without a good scrape is never judged across
MAX_POINTS = 10_000   # points per range query (Prometheus refuses more than 11,000)
EDGE_MS = 1           # a step's range is this much shorter than the step
FAILURE_KINDS = frozenset({"availability", "error_ratio", "ratio"})
SHOWN = 5             # stretches a message names


@dataclass(frozen=True)
class Grid:
    """The steps of a window: `count` steps of `step_s` seconds, the last ending at `end`;
    `scrape_s` the targets' scrape interval (a long window's step holds several)."""

    end: float
    step_s: int
    count: int
    scrape_s: float = 0.0

    @property
    def first(self) -> float:
        """The first point (the end of the first step)."""
        return self.end - (self.count - 1) * self.step_s

    def begins(self, index: int) -> float:
        """When step `index` begins."""
        return self.first + (index - 1) * self.step_s


def grid(start: float, end: float, scrape_s: float) -> Grid:
    """Whole scrape intervals back from the window's end (whole seconds, at most MAX_POINTS)."""
    step = max(1, math.ceil(scrape_s - 1e-9), math.ceil((end - start) / MAX_POINTS))
    return Grid(end, step, int((end - start + 1e-6) // step), scrape_s)


def up_selector(selector: Selector) -> Selector:
    """The `up` series of the targets a data selector names (its job and instance matchers)."""
    return Selector("up", promql.target_series(selector).matchers)


def target_name(selector: Selector) -> str:
    """How messages name the targets of a data selector: their up series."""
    if promql.target_series(selector).matchers:
        return str(up_selector(selector))
    return f"up of the targets of {selector.metric}"


def _range(step_s: int) -> str:
    return f"{step_s * 1000 - EDGE_MS}ms"


def up_query(selector: Selector, step_s: int, window_s: int) -> str:
    """Per step and target: 1 when every scrape succeeded, 0 when one failed, no point when
    none happened. A selector naming no job or instance: the targets its series came from."""
    target = promql.target_series(selector)
    up = f"min by (job, instance) (min_over_time({up_selector(selector)}[{_range(step_s)}]))"
    if target.matchers:
        return up
    return (f"({up} and on (job, instance) group by (job, instance) "
            f"(last_over_time({target}[{int(window_s)}s] @ end())))")


def samples_query(selector: Selector, step_s: int) -> str:
    """Per step and target: how many samples its busiest series has (no point: none)."""
    target = promql.target_series(selector)
    return f"max by (job, instance) (count_over_time({target}[{_range(step_s)}]))"


def resets_query(selectors: tuple[Selector, ...], window_s: int) -> str:
    """How many times the counters of the selectors' targets reset in the window (restarts):
    per target the most any of its series reset, summed over the targets."""
    parts = " or ".join(f"resets({promql.target_series(s)}[{int(window_s)}s])"
                        for s in selectors)
    return f"sum(max by (job, instance) ({parts}))"


OK, DOWN, GAP = "ok", "down", "gap"


def steps(answer: list[dict], g: Grid) -> list[tuple[str, frozenset[str]]]:
    """Per step of the grid, from a range-query answer (query_range's [{"metric", "values"}]):
    its state and the targets whose scrape failed in it."""
    seen = [False] * g.count
    failed: list[set[str]] = [set() for _ in range(g.count)]
    jobs = {series.get("metric", {}).get("job") for series in answer}
    for series in answer:
        labels = series.get("metric", {})
        name = labels.get("instance") or labels.get("job") or "?"
        if len(jobs) > 1 and labels.get("instance"):
            name = f"{labels.get('job')}/{name}"  # several jobs: say which
        for t, value in series.get("values", ()):
            index = round((t - g.first) / g.step_s)
            if not 0 <= index < g.count or math.isnan(value):
                continue
            seen[index] = True
            if value < 1:
                failed[index].add(name)
    return [(DOWN if failed[i] else OK if seen[i] else GAP, frozenset(failed[i]))
            for i in range(g.count)]


def merged(per_target: list[list[tuple[str, frozenset[str]]]]
           ) -> list[tuple[str, frozenset[str]]]:
    """The steps of several targets together: a step is observed only when each target's is;
    down when one's scrape failed."""
    out = []
    for states in zip(*per_target, strict=True):
        failed = frozenset().union(*(f for _, f in states))
        kinds = {s for s, _ in states}
        out.append((DOWN if failed else GAP if GAP in kinds else OK, failed))
    return out


@dataclass(frozen=True)
class Stretch:
    """Consecutive steps without a good scrape: `failed` names the targets whose scrapes
    failed in it (empty: no scrape at all); `gap_steps` of its steps had no scrape."""

    start: float
    steps: int
    step_s: int
    failed: tuple[str, ...] = ()
    gap_steps: int = 0

    @property
    def seconds(self) -> int:
        """How long it lasted (whole steps)."""
        return self.steps * self.step_s

    @property
    def end(self) -> float:
        """When it ended."""
        return self.start + self.seconds

    def __str__(self) -> str:
        when = f"for {self.seconds} s from {iso_utc(self.start)}"
        if not self.failed:
            return f"no scrape {when}"
        what = f"scrapes failing (up == 0: {', '.join(self.failed)})"
        return f"{what} or missing {when}" if self.gap_steps else f"{what} {when}"

    def to_json(self) -> dict:
        """start (UTC ISO), seconds, failed targets, seconds without any scrape."""
        return {"start": iso_utc(self.start), "seconds": self.seconds,
                "failed": list(self.failed), "no_scrape_s": self.gap_steps * self.step_s}


@dataclass(frozen=True)
class Coverage:
    """What of a window was observed for one SLO's targets.

    observed: the share of the window's steps observed (see the module's rules); stretches:
    every stretch of two steps or more and every failed scrape; single_misses: one-step holes
    left out; resets: counter resets (restarts); needs: the share required to judge;
    source: "up" (the targets' scrapes) or "samples" (the data series themselves)."""

    targets: tuple[str, ...]
    step_s: int
    steps: int
    observed: float
    stretches: tuple[Stretch, ...] = ()
    single_misses: int = 0
    resets: int = 0
    needs: float = MIN_SHARE
    source: str = "up"
    scrape_s: float = 0.0

    @property
    def steps_text(self) -> str:
        """How the window was looked at: "5 s scrapes", or for a window long enough that a
        step holds several scrapes "a point per 260 s"."""
        if self.step_s <= math.ceil(self.scrape_s):
            return f"{self.scrape_s:g} s scrapes"
        return f"a point per {self.step_s} s, {self.scrape_s:g} s scrapes"

    @property
    def step_name(self) -> str:
        """What a step is called in the rules: a scrape interval, or a point."""
        return "scrape intervals" if self.step_s <= math.ceil(self.scrape_s) else (
            f"points ({self.step_s} s each)")

    def to_json(self) -> dict:
        """JSON-safe dict, the stretches as "gaps"."""
        return {"observed": round(self.observed, 4), "needs": self.needs,
                "targets": list(self.targets), "source": self.source, "step_s": self.step_s,
                "steps": self.steps, "gaps": [s.to_json() for s in self.stretches],
                "single_misses": self.single_misses, "resets": self.resets}


def measure(g: Grid, states: list[tuple[str, frozenset[str]]], targets: tuple[str, ...],
            resets: int = 0, grace_until: float = -math.inf, needs: float = MIN_SHARE,
            source: str = "up") -> Coverage:
    """The Coverage of a window from its steps' states (steps(), merged())."""
    runs: list[Stretch] = []
    i = 0
    while i < len(states):
        if states[i][0] == OK:
            i += 1
            continue
        j = i
        while j < len(states) and states[j][0] != OK:
            j += 1
        failed = tuple(sorted(frozenset().union(*(f for _, f in states[i:j]))))
        gaps = sum(1 for s, _ in states[i:j] if s == GAP)
        runs.append(Stretch(g.begins(i), j - i, g.step_s, failed, gaps))
        i = j
    if runs and runs[0].start <= g.begins(0) and runs[0].end <= grace_until:
        runs = runs[1:]  # the late-data check judges the window's start
    kept = tuple(r for r in runs if r.steps > 1 or r.failed)
    unseen = sum(r.steps for r in kept if r.steps > 1) + resets
    share = max(0.0, 1.0 - unseen / g.count) if g.count else 0.0
    return Coverage(targets, g.step_s, g.count, share, kept,
                    sum(1 for r in runs if r.steps == 1 and not r.failed), resets, needs,
                    source, g.scrape_s)


def _fix(window: Window, cov: Coverage, avoid: list[Stretch]) -> str:
    """A window without the stretches: its longest observed part."""
    edges = [window.start] + [x for s in sorted(avoid, key=lambda s: s.start)
                              for x in (s.start, s.end)] + [window.end]
    parts = [(max(a, window.start), min(b, window.end)) for a, b in zip(edges[::2], edges[1::2],
                                                                        strict=True)]
    start, end = max(parts, key=lambda p: p[1] - p[0])
    if end - start < MIN_WINDOW_S:
        return "no part of it was observed long enough to judge: judge another window"
    if end >= window.end and window.source.startswith("last "):
        return f"judge its longest observed part: --last {int(end - start)}s"
    return (f"judge its longest observed part: --start {iso_utc(math.ceil(start))} "
            f"--end {iso_utc(math.floor(end))}")


def _listed(stretches: list[Stretch]) -> str:
    shown = "; ".join(str(s) for s in stretches[:SHOWN])
    more = len(stretches) - SHOWN
    return shown + (f"; and {more} more" if more > 0 else "")


def _resets_text(cov: Coverage) -> str:
    if not cov.resets:
        return ""
    times = "time" if cov.resets == 1 else "times"
    return (f"; its counters reset {cov.resets} {times} in the window (a restart loses the "
            f"events since the scrape before it: one interval each)")


def _pct(share: float) -> str:
    """A share to 0.1 %, rounded down (89.96 % is not 90 %)."""
    return f"{math.floor(share * 1000 + 1e-9) / 10:g}%"


def problems(cov: Coverage, window: Window, kind: str,
             max_gap_steps: int = MAX_GAP_STEPS) -> list[str]:
    """Why the window cannot be judged for an SLO of `kind` (empty: it can), with the fix:
    one message for a down target (an SLO counting failed requests: unproven()), one for holes
    (unjudged())."""
    return unproven(cov, window, kind) + unjudged(cov, window, kind, max_gap_steps)


def _down(cov: Coverage, kind: str) -> list[Stretch]:
    return [s for s in cov.stretches if s.failed] if kind in FAILURE_KINDS else []


def unproven(cov: Coverage, window: Window, kind: str) -> list[str]:
    """Why a pass of an SLO counting failed requests (`kind` in FAILURE_KINDS) is no claim: its
    target was down (up == 0) inside the window, and the requests sent to it then never
    reached its metrics. A violation stands: what the metrics missed could only have failed."""
    down = _down(cov, kind)
    if not down or cov.steps == 0:
        return []
    observed = f"{_pct(cov.observed)} of the {window.seconds} s window was observed"
    return [f"{', '.join(cov.targets)} was down inside the window: {_listed(down)}; the "
            f"requests sent to it then never reached its metrics, so its "
            f"{kind.replace('_', ' ')} would leave them out (a down target is never averaged "
            f"away; a spec cannot yet count it as unavailable); {observed}; "
            f"{_fix(window, cov, list(cov.stretches))}"]


def unjudged(cov: Coverage, window: Window, kind: str,
             max_gap_steps: int = MAX_GAP_STEPS) -> list[str]:
    """Why the window cannot be judged at all for an SLO of `kind`: shorter than a scrape
    interval, a hole longer than `max_gap_steps` scrapes, or less than the share it needs
    observed (holes and resets; a down target's stretches are unproven()'s)."""
    targets = ", ".join(cov.targets)
    if cov.steps == 0:
        return [f"the window ({window.seconds} s) is shorter than one scrape interval of "
                f"{targets} ({cov.step_s} s): nothing in it can be told observed; judge a "
                f"longer window"]
    observed = f"{_pct(cov.observed)} of the {window.seconds} s window was observed"
    down = _down(cov, kind)
    holes = [s for s in cov.stretches if s.steps > 1 and s not in down]
    long = [s for s in holes if s.steps > max_gap_steps]
    if not (long or (cov.observed < cov.needs and (holes or not down))):
        return []
    why = (f", and a stretch without a good scrape longer than {max_gap_steps} "
           f"{cov.step_name} is never judged across" if long else "")
    accept = "" if long else (f" (or accept less: --min-coverage "
                              f"{math.floor(cov.observed * 100)}%)")
    return [f"{_listed(holes) or 'counter resets'} ({targets}, {cov.steps_text}): "
            f"only {observed} (needs {cov.needs:.0%}){why}"
            f"{_resets_text(cov)}; Prometheus carries the last samples across a hole "
            f"(its lookback, increase()), so what happened in it was never seen and "
            f"would read as quiet; {_fix(window, cov, holes + down)}{accept}"]


def note(cov: Coverage) -> str | None:
    """What a judged window's coverage lacked, when anything (None: every scrape was seen,
    but for single missed ones, which lose nothing and show only in the JSON)."""
    parts = [str(s) for s in cov.stretches]
    if cov.resets:
        parts.append(f"{cov.resets} counter reset{'' if cov.resets == 1 else 's'} (a restart)")
    if not parts:
        return None
    return (f"observed {_pct(cov.observed)} of the window ({', '.join(cov.targets)}, "
            f"{cov.steps_text}): {'; '.join(parts)}")
