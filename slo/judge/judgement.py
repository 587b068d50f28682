"""The one judgement: a spec, the observations of a window and a request -> a frozen Judgement.

    observations = observe(prom, spec, window, request)      # slo.judge.observe: the I/O
    judgement = judge_window(spec, observations, window, request)
    judgement.verdicts        # tuple of frozen Verdicts, the unseen faults' refusals included
    judgement.outcome         # slo.judge.outcome.Outcome: the exit code, decided once

judge_window() is pure: everything read from Prometheus (and the run record) for the window is
in the frozen Observations, every flag of the check in the frozen Request. It owns every step
that decides whether a verdict is MET — the measured numbers (slo.judge.checker.judge), what
the window's coverage lacked, the sliding slices, the baseline, the faults the SLO's metrics
could not see (slo.judge.unseen) and the outcome under --strict — so `slo check` and the
experiment runner's phases get the same verdict from the same numbers, and nothing changes a
verdict after this function returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from harness_common.durations import format_duration
from slo.judge import coverage, promql
from slo.judge.checker import (
    NO_EVENTS,
    NOT_JUDGED,
    CheckResult,
    SliceSample,
    Verdict,
    apply_baseline,
    apply_slices,
    count_slices,
    judge,
)
from slo.judge.clientside import LatencyComparison
from slo.judge.coverage import Coverage
from slo.judge.histogram import Buckets
from slo.judge.outcome import Outcome, decide
from slo.judge.unseen import refuse_unseen
from slo.judge.window import Window, iso_utc
from slo.spec.model import SLO, Quantile, Spec, Throughput

FEW_SLICES = 5   # fewer slices than this: a --slices share says little, and the check says so


@dataclass(frozen=True)
class Request:
    """What the check was asked: --strict, --baseline's values and --max-regression, --step
    and --slices, --min-coverage, --slo. `baseline` is {slo name: value} given as a mapping or
    pairs, kept as sorted pairs (None: no baseline)."""

    strict: bool = False
    baseline: tuple[tuple[str, float], ...] | None = None
    max_regression: float = 0.10
    step_s: int | None = None
    slice_fraction: float = 1.0
    min_coverage: float = coverage.MIN_SHARE
    only: tuple[str, ...] = ()

    def __post_init__(self):
        if isinstance(self.baseline, dict):
            object.__setattr__(self, "baseline", tuple(sorted(self.baseline.items())))
        object.__setattr__(self, "only", tuple(self.only))

    def baseline_of(self, name: str) -> float | None:
        """The baseline value of the SLO `name` (None: the baseline has none)."""
        return dict(self.baseline or ()).get(name)


@dataclass(frozen=True)
class Observed:
    """What was read for one SLO over the window.

    value, total, good, buckets: the measured numbers (slo.judge.checker.judge's inputs);
    problems: why its selectors (or a partial answer) saw nothing, first the one shown;
    late: the data begins late in the window (the message with the fix), else None;
    coverage: how much of the window its targets' scrapes observed (None: not measured);
    slices: with --step, each slice's (value, total, buckets), in order;
    counted: what its counts cover (slo.judge.counting: the scrapes they run between, the
    series that restarted), said in a verdict about seen events;
    ends: when its data's last sample in the window was taken (None: none, or not read)."""

    name: str
    value: float | None = None
    total: float | None = None
    good: float | None = None
    buckets: Buckets | None = None
    problems: tuple[str, ...] = ()
    late: str | None = None
    coverage: Coverage | None = None
    slices: tuple[SliceSample, ...] | None = None
    counted: tuple[str, ...] = ()
    ends: float | None = None


@dataclass(frozen=True)
class Observations:
    """Everything read from Prometheus and the run record for one window: per SLO what was
    measured, the window's faults (the record's merged with the backends' counters:
    slo.judge.unseen.window_faults), the client's latency beside the server's (a run record's
    window), notes about what could not be read, and where and how long it took."""

    slos: tuple[Observed, ...]
    faults: tuple[dict, ...] = ()
    notes: tuple[str, ...] = ()
    client: LatencyComparison | None = None
    prometheus: str = ""
    evaluated_in_s: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "slos", tuple(self.slos))
        object.__setattr__(self, "faults", tuple(self.faults))
        object.__setattr__(self, "notes", tuple(self.notes))


@dataclass(frozen=True)
class Judgement(CheckResult):
    """A check's whole judgement: the window, the frozen verdicts, the notes, and the outcome
    every output and the exit code read (a CheckResult, so every output takes it as is)."""

    outcome: Outcome = field(default_factory=lambda: decide(()))
    client: LatencyComparison | None = None

    @property
    def doubts(self) -> dict[str, tuple[str, ...]]:
        """{SLO name: why the client's truth doubts what the service's metrics say}: the
        client-versus-server warnings (slo.judge.clientside) of the latency SLO they compared
        (the requests the server counted are not the ones the client sent, or a percentile
        outside the server's bucket). A verdict with doubts is no plain "met"."""
        if self.client is None or not self.client.warnings:
            return {}
        return {self.client.slo: self.client.warnings}


def _upper(slo: SLO) -> bool:
    """Whether a higher value of the SLO is worse (a baseline's regression direction)."""
    if isinstance(slo.sli, Throughput):
        return False
    return isinstance(slo.sli, Quantile) or slo.objectives[0].upper


def _stale(slo: SLO, seen: Observed, window: Window) -> str | None:
    """The problem when the data's last sample is older than a few scrape intervals before
    the window's end: its target is not scraped now, and the window's end was never seen."""
    cov = seen.coverage
    if cov is None or not cov.scrape_s or seen.total is None or seen.ends is None:
        return None
    bound = (coverage.MAX_GAP_STEPS + 1) * cov.scrape_s
    if window.end - seen.ends <= bound:
        return None
    metrics = ", ".join(sorted({str(promql.target_series(s.selector)) for s in slo.sources
                                if s.role in ("total", "count")}))
    return (f"{metrics} is stale: its last sample is from {iso_utc(seen.ends)}, "
            f"{window.end - seen.ends:.0f} s before the window's end ({window.iso('end')}), "
            f"older than {bound:g} s ({coverage.MAX_GAP_STEPS + 1} scrape intervals of "
            f"{cov.scrape_s:g} s), so its target is not scraped now (stopped, or no longer a "
            f"target of Prometheus) and the window's end was never seen; check that Prometheus "
            f"scrapes it (its /targets page, make stack-status), or judge a window that ends "
            f"while it was scraped")


@dataclass(frozen=True)
class Unseen:
    """What of an SLO's data was not seen over a window, with the fix (empty: all of it was).
    blind: nothing about it can be claimed; unproven: a pass cannot be claimed, a violation
    stands (a target down inside the window: what its metrics missed could only have failed,
    coverage.unproven)."""

    blind: tuple[str, ...] = ()
    unproven: tuple[str, ...] = ()

    @property
    def problems(self) -> tuple[str, ...]:
        """Every problem, the blind ones first."""
        return self.blind + self.unproven


def unobserved(slo: SLO, seen: Observed, window: Window) -> Unseen:
    """What of the data of `slo` was not seen over `window`: the one proof `slo check`
    (judge_slo) and `slo rules --prometheus` (slo.judge.seeing) both make. Blind: its
    selectors see no series or a partial answer (seen.problems: slo.judge.sources), its data
    begins late, its targets' scrapes left holes (coverage.unjudged), its last sample is older
    than a few scrape intervals before the window's end while its targets answer (stale: not
    seen now), or it counted no events; unproven: a target of it was down inside the window
    (coverage.unproven)."""
    if seen.problems:
        return Unseen(seen.problems)
    cov = seen.coverage
    unproven = tuple(coverage.unproven(cov, window, slo.kind)) if cov else ()
    blind = ((seen.late,) if seen.late else ()) + tuple(
        coverage.unjudged(cov, window, slo.kind) if cov else ())
    stale = None if blind or unproven else _stale(slo, seen, window)
    if stale:
        return Unseen((stale,))
    if not blind and not (seen.total is not None and seen.total > 0):
        return Unseen((NO_EVENTS,), unproven)
    return Unseen(blind, unproven)


def judge_slo(slo: SLO, seen: Observed, window: Window, request: Request) -> Verdict:
    """One SLO's verdict over the window from what was observed, before the window's faults:
    its numbers, unless its data was not seen (unobserved()), and a pass is no claim over a
    down target (coverage.unproven); what its counts cover; then its slices and its
    baseline."""
    cov = seen.coverage
    unseen = unobserved(slo, seen, window)
    verdict = judge(slo, seen.value, seen.total, seen.good, buckets=seen.buckets,
                    problems=unseen.blind, unproven=unseen.unproven)
    if not unseen.blind and verdict.total_events:
        verdict = replace(verdict, notes=(*verdict.notes, *seen.counted))
    verdict = replace(verdict, coverage=cov)
    if slo.notes and verdict.status not in NOT_JUDGED:
        verdict = replace(verdict, notes=(*verdict.notes, *slo.notes))
    text = None if seen.coverage is None else coverage.note(seen.coverage)
    if text and verdict.status not in NOT_JUDGED:
        verdict = replace(verdict, notes=(*verdict.notes, text))
    if request.step_s and seen.slices is not None:
        verdict = apply_slices(verdict, count_slices(slo, seen.slices, request.step_s,
                                                     request.slice_fraction))
    if request.baseline is not None:
        verdict = apply_baseline(verdict, request.baseline_of(slo.name), request.max_regression,
                                 _upper(slo), slo.error_budget)
    return verdict


def judge_window(spec: Spec, observations: Observations, window: Window,
                 request: Request) -> Judgement:
    """The judgement of every SLO of `spec` (those named in request.only) over `window`.
    An SLO the observations lack is no data (never a pass)."""
    slos = [s for s in spec.slos if not request.only or s.name in request.only]
    seen = {o.name: o for o in observations.slos}
    missing = Observed("", problems=("nothing was observed for this SLO",))
    verdicts = refuse_unseen([judge_slo(slo, seen.get(slo.name, missing), window, request)
                              for slo in slos], spec.slos, observations.faults)
    notes = observations.notes
    if request.step_s and window.seconds // request.step_s < FEW_SLICES:
        step = format_duration(request.step_s)
        notes += (f"--step {step} cuts the {window.seconds}s window into only "
                  f"{window.seconds // request.step_s} slices: a share of so few says little "
                  f"(use a shorter --step or a longer window)",)
    return Judgement(spec=spec.source, service=spec.service,
                     prometheus=observations.prometheus, window=window, verdicts=verdicts,
                     evaluated_in_s=observations.evaluated_in_s, strict=request.strict,
                     notes=notes, outcome=decide(verdicts, strict=request.strict),
                     client=observations.client)
