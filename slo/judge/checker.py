"""The judge: evaluate every SLO of a spec over a window against Prometheus -> verdicts.

Pure part: `judge()` turns measured numbers into a Verdict (met / warn / violated / no_data /
inconclusive); slo.judge.outcome decides what the CI gate makes of the verdicts (its exit
code). I/O part: `evaluate()` runs all queries of one check concurrently through
slo.judge.prom.Prometheus.

Fail closed, every way a verdict could be about data that was not seen:

    no_data        a selector that sees nothing (slo.judge.sources: the metric has no series, a
                   matcher names a label the metric lacks, an event query whose matchers other
                   than the status ones select no series, a status label holding no status
                   code), data that begins inside the window (no series of the SLO's
                   denominator, of its job, was there at its start: Prometheus did not observe
                   its first part), a window not observed throughout (slo.judge.coverage:
                   a long gap, too small a share scraped, a down target of an SLO counting
                   failures), no events in the window, NaN, an answer Prometheus marked
                   incomplete (warnings, partial data)
    inconclusive   a latency threshold that is not a bucket bound, with the quantile's (or the
                   share's) bucket straddling it: the buckets cannot say which side it is on

Both are "could not evaluate": exit 2, never a pass. A quantile always carries the bucket
that holds it (`value_bounds`), since histogram_quantile()'s interpolation inside it is a
guess. A threshold that is not a bucket bound is judged only when the whole bucket lies on
one side of it (with a note to add the bucket). A quantile in the +Inf bucket is only "above
the top finite bound" (histogram_quantile() answers that bound): no value, violated against
a threshold at or under that bound, inconclusive against one above it.
"""

import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from harness_common.durations import format_duration
from slo.judge import counting, coverage, promql, sources
from slo.judge.coverage import Coverage
from slo.judge.histogram import (
    Buckets,
    format_above,
    format_bounds,
    format_seconds,
    quantile_bounds,
    share_bounds,
)
from slo.judge.prom import PartialAnswerError, Prometheus
from slo.judge.window import MIN_WINDOW_S, Window, iso_utc
from slo.spec.model import SLO, Quantile, Spec, Throughput
from slo.spec.selectors import Selector
from slo.units import format_number

MET, WARN, VIOLATED, NO_DATA, INCONCLUSIVE = "met", "warn", "violated", "no_data", "inconclusive"
NOT_JUDGED = (NO_DATA, INCONCLUSIVE)   # verdicts that are no claim about the service


@dataclass
class Slices:
    """Sliding-window evaluation: how many `step_s` slices met the objective."""

    step_s: int
    total: int
    passed: int
    no_data: int
    required_fraction: float

    @property
    def fraction(self) -> float:
        """Share of slices (with or without data) that met the objective."""
        return self.passed / self.total if self.total else 0.0


@dataclass
class Verdict:
    """The judgement of one SLO over one window.

    value_bounds: what the histogram proves about the value, [low, high] in the SLI's unit —
    the bucket holding a quantile, or the range of a share whose threshold is not a bucket.
    """

    name: str
    kind: str
    objective: str
    key: bool
    status: str
    value: float | None
    unit: str
    target: float
    warning: float | None
    margin: float | None
    total_events: float | None
    good_fraction: float | None
    threshold_s: float | None
    reason: str
    notes: list[str] = field(default_factory=list)
    slices: Slices | None = None
    baseline_value: float | None = None
    value_bounds: list[float] | None = None
    coverage: Coverage | None = None  # how much of the window was observed

    @property
    def shown(self) -> str:
        """The value as people read it, with its bucket: "734 ms (500–750 ms bucket)"."""
        if self.value_bounds is None:
            return format_value(self.value, self.unit)
        bucket = format_bounds(*self.value_bounds, self.unit)
        if self.value is None and math.isinf(self.value_bounds[1]):
            return format_above(self.value_bounds[0], self.unit)
        if self.value is None:
            return bucket
        if self.unit == "s":
            return f"{format_value(self.value, 's').replace('ms', ' ms')} ({bucket})"
        return f"{format_value(self.value, self.unit)} ({bucket})"

    def to_json(self) -> dict:
        """JSON-safe dict (infinities as strings)."""
        data = asdict(self)
        for key in ("value", "margin", "baseline_value"):
            if data[key] is not None and not math.isfinite(data[key]):
                data[key] = "+Inf" if data[key] > 0 else "-Inf"
        if data["value_bounds"] is not None:
            data["value_bounds"] = [v if math.isfinite(v) else "+Inf"
                                    for v in data["value_bounds"]]
        data["coverage"] = None if self.coverage is None else self.coverage.to_json()
        return data


def _clean(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def format_value(value: float | None, unit: str) -> str:
    """A value as people read it: 123ms, 0.52%, 4.1/s."""
    if value is None:
        return "—"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if unit == "s":
        return f"{value * 1000:.0f}ms" if value < 10 else f"{value:.1f}s"
    if unit == "ratio":
        return f"{value * 100:.2f}%"
    return f"{value:.2f}/s"


def _decide(verdict: Verdict, slo: SLO, value: float) -> Verdict:
    statuses = [o.status(value) for o in slo.objectives]
    worst = "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
    verdict.status = {"pass": MET, "warn": WARN, "fail": VIOLATED}[worst]
    objective = slo.objectives[0]
    verdict.margin = (objective.target - value) if objective.upper else (value - objective.target)
    verdict.reason = {MET: "objective met", WARN: "met, inside the warning band",
                      VIOLATED: "objective violated"}[verdict.status]
    return verdict


def _threshold_text(slo: SLO) -> str:
    return f"{format_number(slo.threshold_s * 1000)} ms"


def _judge_bounds(verdict: Verdict, slo: SLO, low: float, high: float, what: str,
                  value: float | None) -> Verdict:
    """Judge by what the buckets prove: every value in [low, high] passes, or fails; else
    inconclusive."""
    statuses = {o.status(v) for o in slo.objectives for v in (low, high)}
    missing = (f"the threshold {_threshold_text(slo)} is not a bucket bound of the histogram "
               f"(add a {_threshold_text(slo)} bucket to it, or set the threshold to a bucket)")
    if "fail" not in statuses or statuses == {"fail"}:
        _decide(verdict, slo, value if value is not None else (low if "fail" in statuses
                                                                else high))
        verdict.notes.append(f"{missing}; the verdict holds for any {what} in "
                             f"{format_bounds(low, high, verdict.unit)}")
        if value is None:
            verdict.margin = None
        return verdict
    verdict.status, verdict.margin = INCONCLUSIVE, None
    verdict.reason = (f"inconclusive: {what} lies in {format_bounds(low, high, verdict.unit)}, "
                      f"on both sides of the objective, and {missing}")
    return verdict


def _judge_above(verdict: Verdict, slo: SLO, top: float) -> Verdict:
    """A quantile whose rank lies in the +Inf bucket: all the buckets prove is that it is
    above `top`, the highest finite bound (histogram_quantile() answers `top` itself). Violated
    when every value above `top` fails an objective (more than 1 - q of the requests took
    longer than the threshold); not evaluated when the threshold lies above `top`."""
    verdict.value = verdict.margin = None
    pct = format_number(slo.sli.quantile * 100)
    share = format_number(round((1 - slo.sli.quantile) * 100, 10))
    above = f"p{pct} is above {format_seconds(top)} (the top finite bucket)"
    ends = [(o.status(math.nextafter(top, math.inf)), o.status(math.inf))
            for o in slo.objectives]
    if any(low == high == "fail" for low, high in ends):
        verdict.status = VIOLATED
        verdict.reason = (f"{above}: more than {share}% of the requests took longer than "
                          f"the {_threshold_text(slo)} threshold, so the objective is violated")
        return verdict
    if all(low == high for low, high in ends):
        _decide(verdict, slo, math.inf)
        verdict.margin = None
        return verdict
    verdict.status = INCONCLUSIVE
    verdict.reason = (f"inconclusive: {above}, and the threshold {_threshold_text(slo)} lies "
                      f"above that bound: the histogram cannot tell which side of it p{pct} is "
                      f"on (add a {_threshold_text(slo)} bucket to it)")
    return verdict


def judge(slo: SLO, value: float | None, total: float | None, good: float | None = None,
          buckets: Buckets | None = None, problems: list[str] | tuple[str, ...] = (),
          unproven: list[str] | tuple[str, ...] = ()) -> Verdict:
    """Verdict for one SLO from its measured value, event count, good-event count, histogram
    buckets (latency SLOs), the problems that keep it from seeing data, and the `unproven`
    ones that keep only a pass from being a claim (a target down inside the window: the
    requests it missed could only have failed, so a violation stands, with them as notes)."""
    verdict = _judge_seen(slo, value, total, good, buckets, problems)
    if unproven and verdict.status in (MET, WARN):
        verdict.status, verdict.margin, verdict.value_bounds = NO_DATA, None, None
        verdict.value = verdict.good_fraction = None
        verdict.reason = unproven[0]
        verdict.notes.extend(unproven[1:])
    else:
        verdict.notes.extend(f"it stands though this was not seen (the requests missed could "
                             f"only have failed): {text}" for text in unproven)
    return verdict


def _judge_seen(slo: SLO, value: float | None, total: float | None, good: float | None,
                buckets: Buckets | None, problems: list[str] | tuple[str, ...]) -> Verdict:
    value, total, good = _clean(value), _clean(total), _clean(good)
    objective = slo.objectives[0]
    verdict = Verdict(
        name=slo.name, kind=slo.kind, objective=slo.objective_text, key=slo.key, status=NO_DATA,
        value=value, unit=slo.unit, target=objective.target, warning=objective.warning,
        margin=None, total_events=total, threshold_s=slo.threshold_s, reason="",
        good_fraction=(good / total) if good is not None and total else None,
    )
    if problems:
        verdict.value = verdict.good_fraction = None
        verdict.reason = problems[0]
        verdict.notes.extend(problems[1:])
        return verdict
    if total is None or total <= 0:
        verdict.reason = ("no events in the window: the selectors matched no series that "
                          "counted anything (no traffic, or a label value that matches "
                          "nothing)")
        return verdict
    exact = True
    if buckets is not None and buckets.usable:
        if isinstance(slo.sli, Quantile):
            bounds = quantile_bounds(buckets, slo.sli.quantile)
            if bounds is not None:
                verdict.value_bounds = list(bounds)
        if slo.threshold_s is not None and not buckets.has(slo.threshold_s):
            exact = False
            verdict.good_fraction = None
        if verdict.value_bounds is not None and math.isinf(verdict.value_bounds[1]):
            return _judge_above(verdict, slo, verdict.value_bounds[0])
    if value is None and exact:
        verdict.reason = "the query returned no value (NaN or no samples)"
        return verdict
    if exact:
        return _decide(verdict, slo, value)
    if isinstance(slo.sli, Quantile):
        if verdict.value_bounds is None:
            verdict.reason = "the histogram's buckets hold no quantile"
            return verdict
        pct = format_number(slo.sli.quantile * 100)
        return _judge_bounds(verdict, slo, *verdict.value_bounds, f"p{pct}", value)
    share = share_bounds(buckets, slo.threshold_s)
    verdict.value, verdict.value_bounds = None, list(share)
    return _judge_bounds(verdict, slo, *share, f"the share within {_threshold_text(slo)}", None)


def apply_slices(verdict: Verdict, slices: Slices) -> Verdict:
    """Sliding-window rule: the SLO holds only if enough slices held."""
    verdict.slices = slices
    if verdict.status in NOT_JUDGED:
        return verdict
    if slices.total == 0 or slices.no_data == slices.total:
        verdict.status, verdict.reason = NO_DATA, "no slice of the window had data"
    elif slices.fraction + 1e-9 < slices.required_fraction:
        verdict.status = VIOLATED
        verdict.reason = (f"held in {slices.passed}/{slices.total} slices of "
                          f"{format_duration(slices.step_s)} (needs "
                          f"{slices.required_fraction:.0%})")
    return verdict


def apply_baseline(verdict: Verdict, baseline: float | None, max_regression: float,
                   upper: bool, budget: float | None = None) -> Verdict:
    """The value may not regress more than max_regression vs the baseline.

    A ratio (errors, availability, share under a threshold) is compared in points, against
    max_regression of its error budget (`budget`): with a 1% budget and 10%, errors may rise
    by 0.1 points, and 0% -> 2.3% is a regression. Other values (latency, rate) compare
    relatively; a baseline of 0 cannot be compared relatively and says so.
    """
    verdict.baseline_value = baseline
    if baseline is None or verdict.value is None or verdict.status in NOT_JUDGED:
        if baseline is None:
            verdict.notes.append("no baseline value for this SLO")
        return verdict
    shown = format_value(baseline, verdict.unit)
    if verdict.unit == "ratio" and budget:
        change = verdict.value - baseline
        regression = change if upper else -change
        allowed = max_regression * budget
        verdict.notes.append(f"{change * 100:+.2f} points vs baseline {shown} (allowed: "
                             f"{allowed * 100:.2f} points, {max_regression:.0%} of the "
                             f"{budget:.2%} error budget)")
        if regression > allowed + 1e-12:
            verdict.status = VIOLATED
            verdict.reason = (f"regressed {regression * 100:.2f} points vs baseline {shown} "
                              f"(limit {allowed * 100:.2f} points)")
        return verdict
    if baseline == 0:
        verdict.notes.append("baseline value is 0: relative regression undefined, not compared")
        return verdict
    change = (verdict.value - baseline) / abs(baseline)
    regression = change if upper else -change
    verdict.notes.append(f"{change:+.1%} vs baseline {shown}")
    if regression > max_regression:
        verdict.status = VIOLATED
        verdict.reason = (f"regressed {regression:.1%} vs baseline (limit {max_regression:.0%})")
    return verdict


@dataclass
class CheckResult:
    """Everything one check produced: the window, the verdicts and how long it took (and
    whether --strict was asked: slo.judge.outcome.decide() reads it, once)."""

    spec: str
    service: str
    prometheus: str
    window: Window
    verdicts: list[Verdict]
    evaluated_in_s: float
    strict: bool = False
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """The result as written by --json (and read back by --baseline), less its outcome
        (slo.judge.outputs.to_json adds it)."""
        return {
            "version": 1,
            "spec": self.spec,
            "service": self.service,
            "prometheus": self.prometheus,
            "window": {"start": self.window.iso("start"), "end": self.window.iso("end"),
                       "seconds": self.window.seconds, "source": self.window.source},
            "evaluated_in_s": round(self.evaluated_in_s, 3),
            "notes": list(self.notes),
            "slos": [v.to_json() for v in self.verdicts],
        }


def span(window: Window) -> str:
    """The window in messages."""
    return f"between {window.iso('start')} and {window.iso('end')}"


def _measure(prom: Prometheus, slo: SLO, window: Window, pool: ThreadPoolExecutor,
             fresh: frozenset[str], new: frozenset[str] = promql.NONE) -> dict:
    """Run the fewest queries that give the SLO's value, events and buckets (futures).

    A latency SLO reads its buckets once (counts per `le`): the total is the +Inf bucket and
    the good events the threshold's bucket, the same data Prometheus would add up again; a
    percentile's value is Prometheus's histogram_quantile() over them. Other SLOs read their
    total and their counted events; the ratio is divided here.
    """
    q = promql.sli_queries(slo, window.seconds, fresh, new)
    at = window.end
    out: dict[str, Future] = {}
    if slo.histogram_buckets is not None:
        out["buckets"] = pool.submit(prom.query, q.buckets, at)
        if isinstance(slo.sli, Quantile):
            out["value"] = pool.submit(prom.scalar, q.value, at)
        return out
    out["total"] = pool.submit(prom.scalar, q.total, at)
    ratio = slo.budget_ratio
    if ratio is not None:
        out["events"] = pool.submit(prom.scalar, q.good if ratio.good else q.bad, at)
    return out


def _judge_measured(slo: SLO, window: Window, measured: dict, problems: list[str],
                    seconds: float | None = None, unproven: list[str] = ()) -> Verdict:
    if "buckets" in measured:
        histogram = slo.histogram_buckets
        buckets = Buckets.from_samples(measured["buckets"].result(), histogram[1])
        total = buckets.total
        share = (share_bounds(buckets, slo.threshold_s) if slo.threshold_s is not None
                 and buckets.usable and buckets.has(slo.threshold_s) else None)
        good = None if share is None else share[0] * total
        if isinstance(slo.sli, Quantile):
            value = measured["value"].result()
        else:
            value = None if share is None else share[0]
        return judge(slo, value, total, good, buckets=buckets, problems=problems,
                     unproven=unproven)
    total = _clean(measured["total"].result())
    if isinstance(slo.sli, Throughput):
        seconds = seconds or window.seconds  # between the scrapes the count runs between
        return judge(slo, None if total is None else total / seconds, total,
                     problems=problems, unproven=unproven)
    events = _clean(measured["events"].result())
    value = events / total if events is not None and total else None
    ratio = slo.budget_ratio
    good = events if ratio.good or events is None or total is None else total - events
    return judge(slo, value, total, good, problems=problems, unproven=unproven)


def _evaluate_one(prom: Prometheus, slo: SLO, window: Window, pool: ThreadPoolExecutor,
                  seen: dict[str, Future], born: dict[str, Future],
                  scopes: dict[sources.Look, Future], observed, edges=None) -> Verdict:
    """`born`: metric -> its promql.census_query() rows; `edges`: slo -> the scrapes its
    counts run between (counting.edges_of), said in the verdict."""
    try:
        metrics = {src.selector.metric for src in slo.sources}
        census = {m: born[m].result() for m in metrics}
        kinds = {m: {row.labels.get("census") for row in census[m]} for m in metrics}
        fresh = frozenset(m for m in metrics if kinds[m] & {"reset", "fresh"})
        new = frozenset(m for m in metrics if "new" in kinds[m])
    except PartialAnswerError as err:
        return judge(slo, None, None, problems=[str(err)])
    measured = _measure(prom, slo, window, pool, fresh, new)
    try:
        problems = sources.seeing_problems(slo, seen, scopes, span(window))
        unobserved, unproven = observed(slo)   # always: it records the window's coverage
        seeing = not (problems or unobserved)
        scrapes = edges(slo) if edges is not None and seeing else (None, None)
        verdict = _judge_measured(slo, window, measured, problems or unobserved,
                                  counting.span_s(window.seconds, scrapes), unproven)
    except PartialAnswerError as err:
        return judge(slo, None, None, problems=[str(err)])
    if seeing and verdict.total_events:
        jobs: dict[str, set[str]] = {}
        for src in slo.sources:
            jobs.setdefault(src.selector.metric, set()).add(promql.job_of(src.selector))
        restarted = counting.reset_note(jobs, census)
        verdict.notes += [counting.span_note(window.end - window.seconds, window.end, scrapes)]
        verdict.notes += [restarted] if restarted else []
    return verdict


def _slices(prom: Prometheus, slo: SLO, window: Window, step_s: int,
            required: float) -> Slices:
    sliding = promql.sliding(slo, window.start, window.end, step_s)
    values = prom.query_range(sliding.queries.value, sliding.start, sliding.end, step_s)
    totals = prom.query_range(sliding.queries.total, sliding.start, sliding.end, step_s)
    value_at = {t: v for t, v in (values[0]["values"] if values else [])}
    total_at = {t: v for t, v in (totals[0]["values"] if totals else [])}
    # a latency SLO's slices are judged on their buckets too (a p95 above the top bucket)
    buckets_at: dict[float, list] = {}
    if slo.histogram_buckets is not None:
        for series in prom.query_range(sliding.queries.buckets, sliding.start, sliding.end,
                                       step_s):
            for t, v in series["values"]:
                buckets_at.setdefault(t, []).append((series["metric"], v))
    scale_s = slo.histogram_buckets[1] if slo.histogram_buckets is not None else 1.0
    times = [sliding.start + i * step_s
             for i in range(int((sliding.end - sliding.start) // step_s) + 1)]
    passed = no_data = 0
    for t in times:
        verdict = judge(slo, value_at.get(t), total_at.get(t),
                        buckets=(Buckets.from_samples(buckets_at[t], scale_s)
                                 if t in buckets_at else None))
        if verdict.status in (MET, WARN):
            passed += 1
        elif verdict.status == NO_DATA:
            no_data += 1
    return Slices(step_s, len(times), passed, no_data, required)


def data_selectors(slo: SLO) -> tuple[Selector, ...]:
    """Where the SLO's data comes from: the target series (promql.target_series) of its
    denominator, the total or the histogram's count. Whether a series of them was there at
    the window's start says whether the window was observed from its start."""
    return tuple(dict.fromkeys(promql.target_series(src.selector) for src in slo.sources
                               if src.role in ("total", "count")))


def late_grace_s(window: Window, scrape_s: float) -> float:
    """How long after the window's start its data may begin with the window still observed
    from its start: two scrape intervals and the data_begins() step."""
    return 2 * scrape_s + promql.begins_step(window.seconds)


def late_data(selectors: tuple[Selector, ...], begins: float | None, window: Window,
              scrape_s: float) -> str | None:
    """The problem (with the fix) when the data begins later in the window than two scrape
    intervals (and the data_begins() step) after its start: the time before was never
    observed, and a count over the whole window would read it as quiet. None when the data
    was there (or there is none: sources.problems() says so)."""
    if begins is None:
        return None
    late = begins - window.start
    if late <= late_grace_s(window, scrape_s):
        return None
    metrics = ", ".join(sorted({s.metric for s in selectors}))
    since = iso_utc(begins)
    held = int(window.end - begins)
    fix = (f"--last {held}s" if window.source.startswith("last ")
           else f"--start {since} --end {window.iso('end')}")
    if held < MIN_WINDOW_S:
        fix = f"it holds {held} s of the window: wait, then --last {MIN_WINDOW_S}s or longer"
    return (f"{metrics} has data only from {since}, {late:.0f} s after the window's start "
            f"({window.iso('start')}): Prometheus holds none of it before (it was not running "
            f"or not scraping the service then), so {late:.0f} s of the {window.seconds} s "
            f"window were never observed and would count as quiet; judge a window from "
            f"{since} (e.g. {fix})")


def _coverage(prom: Prometheus, sels: tuple[Selector, ...], g: coverage.Grid,
              ups: dict[tuple[str, coverage.Grid], Future], resets: Future,
              window: Window, grace_until: float, needs: float) -> Coverage:
    """The coverage of the targets of `sels` from the answers of their up and resets
    queries; a target without any up series is measured by its own series (one more query)."""
    per_target, targets, source = [], [], "up"
    for s in sels:
        answer = ups[(coverage.up_query(s, g.step_s, window.seconds), g)].result() if (
            g.count) else []
        name = coverage.target_name(s)
        if g.count and not answer:
            answer = prom.query_range(coverage.samples_query(s, g.step_s), g.first, g.end,
                                      g.step_s)
            name, source = str(promql.target_series(s)), "samples"
        per_target.append(coverage.steps(answer, g))
        targets.append(name)
    return coverage.measure(g, coverage.merged(per_target), tuple(dict.fromkeys(targets)),
                            int(resets.result() or 0), grace_until, needs, source)


def evaluate(spec: Spec, prom: Prometheus, window: Window, *, step_s: int | None = None,
             slice_fraction: float = 1.0, baseline: dict | None = None,
             max_regression: float = 0.10, strict: bool = False,
             only: tuple[str, ...] = (),
             min_coverage: float = coverage.MIN_SHARE) -> CheckResult:
    """Judge every SLO of `spec` (or those named in `only`) over `window`, concurrently;
    a window less than `min_coverage` observed (slo.judge.coverage) is not judged."""
    started = time.monotonic()
    slos = [s for s in spec.slos if not only or s.name in only]

    queries = ThreadPoolExecutor(max_workers=16)
    metrics = sources.metrics_of(slos)
    seen = sources.read_labels(prom, metrics, window.start, window.end, queries)
    scopes = sources.read_scopes(prom, slos, window.start, window.end, queries)
    range_ = f"{window.seconds}s"
    born = {m: queries.submit(prom.query, promql.census_query(m, range_), window.end)
            for m in metrics}
    # one query per SLO (fewer when SLOs share their denominator): where its data begins
    data = {slo.name: data_selectors(slo) for slo in slos}
    begins = {sels: queries.submit(prom.scalar, promql.data_begins(sels, window.seconds),
                                   window.end)
              for sels in dict.fromkeys(data.values()) if sels}
    edges = {sels: queries.submit(prom.query, promql.counted_edges(sels, window.seconds),
                                  window.end)
             for sels in dict.fromkeys(data.values()) if sels}
    intervals = {job: queries.submit(prom.intervals, job)
                 for job in sorted({promql.job_of(s) for sels in data.values() for s in sels})}
    scrape_s = {sels: max(intervals[promql.job_of(s)].result().scrape_s for s in sels)
                for sels in begins}
    # coverage: per target a range query with a point per scrape interval (targets shared by
    # denominators are asked once), per denominator how often its counters reset
    grids = {sels: coverage.grid(window.start, window.end, scrape_s[sels]) for sels in begins}
    ups: dict[tuple[str, coverage.Grid], Future] = {}
    for sels, g in grids.items():
        for s in sels if g.count else ():
            key = (coverage.up_query(s, g.step_s, window.seconds), g)
            if key not in ups:
                ups[key] = queries.submit(prom.query_range, key[0], g.first, g.end, g.step_s)
    resets = {sels: queries.submit(prom.scalar, coverage.resets_query(sels, window.seconds),
                                   window.end) for sels in begins}
    covered: dict[str, Coverage] = {}

    def observed(slo: SLO) -> tuple[list[str], list[str]]:
        """Late data (one message for a window starting before the data), else what the
        coverage of the window lacked; and what keeps only a pass from being a claim (a down
        target)."""
        sels = data[slo.name]
        if not sels:
            return [], []
        late = late_data(sels, begins[sels].result(), window, scrape_s[sels])
        grace = math.inf if late else window.start + late_grace_s(window, scrape_s[sels])
        cov = _coverage(prom, sels, grids[sels], ups, resets[sels], window, grace,
                        min_coverage)
        covered[slo.name] = cov
        return (([late] if late else []) + coverage.unjudged(cov, window, slo.kind),
                coverage.unproven(cov, window, slo.kind))

    def one(slo: SLO) -> Verdict:
        verdict = _evaluate_one(prom, slo, window, queries, seen, born, scopes, observed,
                                lambda s: counting.edges_of(edges[data[s.name]].result())
                                if data[s.name] else (None, None))
        verdict.coverage = covered.get(slo.name)
        text = None if verdict.coverage is None else coverage.note(verdict.coverage)
        if text and verdict.status not in NOT_JUDGED:
            verdict.notes.append(text)
        if step_s:
            verdict = apply_slices(verdict, _slices(prom, slo, window, step_s, slice_fraction))
        if baseline is not None:
            upper = isinstance(slo.sli, Quantile) or slo.objectives[0].upper
            if isinstance(slo.sli, Throughput):
                upper = False
            verdict = apply_baseline(verdict, baseline.get(slo.name), max_regression, upper,
                                     slo.error_budget)
        return verdict

    try:
        with ThreadPoolExecutor(max_workers=min(16, max(1, len(slos)))) as pool:
            verdicts = list(pool.map(one, slos))
    finally:
        queries.shutdown(wait=False, cancel_futures=True)
    return CheckResult(spec=spec.source, service=spec.service, prometheus=prom.url,
                       window=window, verdicts=verdicts,
                       evaluated_in_s=time.monotonic() - started, strict=strict)


def baseline_values(result_json: dict) -> dict[str, float]:
    """{slo name: value} from a previous `slo check --json` result (for --baseline)."""
    values = {}
    for item in result_json.get("slos", []):
        value = item.get("value")
        if isinstance(value, int | float):
            values[item["name"]] = float(value)
    return values
