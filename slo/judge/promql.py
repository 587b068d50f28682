"""PromQL built from the model: pure functions, strings out, no I/O.

For the checker, instant queries evaluated at the end of the judged window; the range is the
window itself, in seconds, so `increase()` covers exactly the window (Prometheus handles counter
resets):

    q = sli_queries(spec.slo("latency-p95"), window_s=300)
    q.value   histogram_quantile(0.95, sum by (le) (increase(<duration>_bucket{...}[300s])))
    q.good    (sum(increase(<duration>_bucket{...,le="0.3"}[300s])) or vector(0))
    q.total   sum(increase(<duration>_count{...}[300s]))

A latency threshold that is not a bucket boundary has no `le` series: its good-event count is
0, not a measurement, so the checker reads bucket_bounds_query() first and reports such an
SLO as not evaluable (the DESIGN requires every threshold to be a bucket).

For sliding windows, `sliding()` gives the same expressions with the slice as window, to run
as range queries (step = slice, so the slices do not overlap). For the recording rules,
`bad_ratio_rate()` is the share of bad events over a window, recorded as
`slo:sli_error:ratio_rate<window>` and divided by the error budget to get a burn rate.
"""

from dataclasses import dataclass

from harness_common.durations import format_duration
from slo.spec.model import SLO, EventRatio, Quantile, Throughput
from slo.spec.selectors import Selector
from slo.units import format_number

RECORD_PREFIX = "slo:sli_error:ratio_rate"
OBJECTIVE_RECORD = "slo:objective:ratio"
BUDGET_RECORD = "slo:error_budget:ratio"


def _sum(fn: str, selector: Selector, range_: str) -> str:
    return f"sum({fn}({selector}[{range_}]))"


def ratio_expr(ratio: EventRatio, range_: str, fn: str = "increase") -> str:
    """events / total over the range. No events yet (e.g. no 5xx series) counts as 0; no
    traffic stays empty (or NaN), so an idle service never looks healthy."""
    return f"(({_sum(fn, ratio.events, range_)} or vector(0)) / {_sum(fn, ratio.total, range_)})"


def bad_ratio_expr(ratio: EventRatio, range_: str, fn: str = "rate") -> str:
    """The share of bad events over the range (1 - good share for a good-events ratio)."""
    expr = ratio_expr(ratio, range_, fn)
    return f"(1 - {expr})" if ratio.good else expr


def quantile_expr(q: Quantile, range_: str, fn: str = "increase") -> str:
    """histogram_quantile over the buckets' increase, summed by le."""
    buckets = f"sum by (le) ({fn}({q.buckets}[{range_}]))"
    return f"histogram_quantile({format_number(q.quantile)}, {buckets})"


def value_expr(slo: SLO, range_: str) -> str:
    """The SLI value over a range, in the objective's unit (range may be "$__range").

    A request rate is sum(rate()), which Prometheus computes as the increase over the range
    divided by its length in seconds.
    """
    sli = slo.sli
    if isinstance(sli, Throughput):
        return _sum("rate", sli.total, range_)
    if isinstance(sli, Quantile):
        return quantile_expr(sli, range_)
    return ratio_expr(sli, range_)


def without_le(selector: Selector) -> Selector:
    """The selector without its le matcher (all buckets of the histogram)."""
    return Selector(selector.metric, tuple(m for m in selector.matchers if m.label != "le"))


@dataclass(frozen=True)
class SliQueries:
    """Instant queries for one SLO over one window (evaluate them at the window's end).

    value: the SLI in the objective's unit; total: events in the window; good/bad: good and
    bad events (None when the SLI has no such split: a request rate).
    """

    value: str
    total: str
    good: str | None
    bad: str | None
    window_s: int


def sli_queries(slo: SLO, window_s: int) -> SliQueries:
    """The checker's queries for `slo` over the `window_s` seconds before evaluation time."""
    if int(window_s) != window_s or window_s < 1:
        raise ValueError(f"the window must be whole seconds >= 1 (got {window_s!r})")
    window_s = int(window_s)
    range_ = f"{window_s}s"
    if isinstance(slo.sli, Throughput):
        total = _sum("increase", slo.sli.total, range_)
        return SliQueries(f"{total} / {window_s}", total, None, None, window_s)
    value = value_expr(slo, range_)
    ratio = slo.budget_ratio
    if ratio is None:  # a percentile without threshold cannot occur from a validated spec
        raise ValueError(f"SLO {slo.name!r} has no event ratio")
    events = f"({_sum('increase', ratio.events, range_)} or vector(0))"
    total = _sum("increase", ratio.total, range_)
    other = f"({total} - {events})"
    good, bad = (events, other) if ratio.good else (other, events)
    return SliQueries(value, total, good, bad, window_s)


@dataclass(frozen=True)
class SlidingQueries:
    """Range-query form of sli_queries: run each expression with query_range(start, end, step).

    Each point at time t judges the slice (t - step, t]; points start one step after `start`.
    """

    queries: SliQueries
    start: float
    end: float
    step_s: int


def sliding(slo: SLO, start: float, end: float, step_s: int) -> SlidingQueries:
    """Queries judging consecutive `step_s` slices of [start, end]."""
    if end - start < step_s:
        raise ValueError(f"the range {end - start:g}s is shorter than one step ({step_s}s)")
    return SlidingQueries(sli_queries(slo, step_s), start + step_s, end, int(step_s))


def bucket_bounds_query(slo: SLO) -> str | None:
    """`count by (le)` of the SLO's histogram buckets, to read which boundaries exist."""
    if isinstance(slo.sli, Quantile):
        return f"count by (le) ({slo.sli.buckets})"
    if slo.threshold_s is not None and isinstance(slo.sli, EventRatio):
        return f"count by (le) ({without_le(slo.sli.events)})"
    return None


def record_name(window_s: int) -> str:
    """The recording rule name of the bad-event ratio over a window: slo:sli_error:ratio_rate5m."""
    return f"{RECORD_PREFIX}{format_duration(window_s)}"


def bad_ratio_rate(slo: SLO, window_s: int) -> str:
    """The recorded expression: share of bad events of `slo` over `window_s` (rate-based)."""
    ratio = slo.budget_ratio
    if ratio is None:
        raise ValueError(f"SLO {slo.name!r} ({slo.kind}) has no error budget to record")
    return bad_ratio_expr(ratio, format_duration(window_s), "rate")
