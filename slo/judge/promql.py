"""PromQL built from the model: pure functions, strings out, no I/O.

For the checker, instant queries evaluated at the end of the judged window; the range is the
window itself, in seconds:

    q = sli_queries(spec.slo("latency-p95"), window_s=300)
    q.value    histogram_quantile(0.95, <buckets counted by le over 300s>)
    q.good     <count of the threshold bucket>
    q.total    <count of _count>
    q.buckets  <every bucket counted by le>: which boundaries exist, and where the quantile is

A count is exact, never extrapolated, and every counter of an SLO (good, bad, total, each
bucket) is counted by the same rule, so a window without a failed request reads 100 % and
good never exceeds total. The window is aligned to the scrapes: a series counts from its last
sample at or before the window's start (first(): up to 5 min earlier, past a failed scrape's
stale marker) to its last sample at or before its end. Prometheus cannot tell when between
two scrapes a request came: the requests between the last scrape before the window and the
first inside it count in this window (a burst at its start is never lost), those after the
last scrape inside it in the next one.
Per series, one of these disjoint cases (`or` unions them, the first that applies wins):

    last - first                         present at the start, no reset (the usual case)
    last                                 present at the start, reset before its first sample
                                         in the window (a restart at the edge): from zero
    increase(S[W])                       reset inside the window (a restart): Prometheus's
                                         estimate, from its first sample in the window
    last   (increase + max after a reset)  born inside the window: from zero (see born(); a
                                         target new to Prometheus whose process started
                                         inside the window is born too: its counters started
                                         with it, so a replaced pod's first 503s count)
    last - min (increase after a reset)  of a target new to Prometheus: from its first sample
    where first = last_over_time(S[lookback] offset W) or S offset W, last = last_over_time(S[W])

The checker first asks, per metric, whether any series is not the usual case (census_query());
the metrics without one count `sum(last - S offset W)` alone, which is as cheap as increase()
(those whose only others are of targets new to Prometheus: `last - (S offset W or min)`). The
series that reset inside the window are named in the verdict, with the rule that counted them;
counted_edges() gives the scrapes the count runs between, for the verdict to say so.

For sliding windows, `sliding()` gives the same expressions with the slice as window, to run
as range queries (step = slice, so the slices do not overlap). The checker also asks, per
SLO, where the data of its denominator begins (data_begins(): the earliest sample of any
series of the metric from the same job), so a window reaching back before Prometheus observed
the service is not judged. For the recording rules, `bad_ratio_rate()` is the share of bad
events over a window, recorded as `slo:sli_error:ratio_rate<window>` and divided by the error
budget to get a burn rate (rate() as Sloth and Pyrra do: cheap, and the pre-initialised
counters of a service make it exact enough for alerting); the dashboards use rate() too.
"""

from dataclasses import dataclass

from harness_common.durations import format_duration, whole_seconds
from slo.spec.model import SLO, EventRatio, Events, Quantile, Throughput
from slo.spec.selectors import Matcher, Selector
from slo.units import format_number

RECORD_PREFIX = "slo:sli_error:ratio_rate"
OBJECTIVE_RECORD = "slo:objective:ratio"
BUDGET_RECORD = "slo:error_budget:ratio"


def _sum(fn: str, selector: Selector, range_: str, by: str = "") -> str:
    return f"sum{by}({fn}({selector}[{range_}]))"


def rate_sum(events: Events, range_: str, fn: str = "rate", zero: bool = False) -> str:
    """sum(fn(sel[range])) of each term, signed. Terms of several counters, and `zero` ones,
    count a selector without series as 0 (no 5xx series yet is no 5xx)."""
    terms = events.terms
    wrap = zero or len(terms) > 1
    out = ""
    for i, term in enumerate(terms):
        text = _sum(fn, term.selector, range_)
        text = f"({text} or vector(0))" if wrap else text
        out += (" - " if term.sign < 0 else " + ") + text if i else ("-" if term.sign < 0
                                                                    else "") + text
    return f"({out})" if len(terms) > 1 else out


LOOKBACK_S = 300  # Prometheus's default lookback: the furthest a series' last sample before
# the window's start may lie (an instant query at the start sees none older)


def lookback(range_: str) -> str:
    """How far before the window's start first() looks: the window's own length up to
    LOOKBACK_S (a shorter window reads no more samples before its start than inside it)."""
    seconds = int(range_[:-1]) if range_.endswith("s") and range_[:-1].isdigit() else LOOKBACK_S
    return f"{min(seconds, LOOKBACK_S)}s"


def first(selector: Selector, range_: str) -> str:
    """The value of each series at the window's start: its last sample at or before it. A
    failed scrape (a stale marker) within lookback() before the start does not hide it (the
    counter's value is still known); an older one is what an instant query at the start sees
    (up to 5 min back: a gap in Prometheus's own data)."""
    return (f"(last_over_time({selector}[{lookback(range_)}] offset {range_}) "
            f"or {selector} offset {range_})")


PROCESS_START = "process_start_time_seconds"  # the client libraries' process start gauge


def _new_target(range_: str) -> str:
    """The targets new to Prometheus in the range (its first scrape of them, or Prometheus's
    own start), except those whose process started inside it (process_start_time_seconds):
    their counters started with the process, so their series are born, counted from zero."""
    return (f"((up unless up offset {range_}) unless on (job, instance) "
            f"(max_over_time({PROCESS_START}[{range_}]) > time() - {whole_seconds(range_)}))")


def born(selector: Selector, range_: str) -> str:
    """The series of `selector` born inside the range: with samples in it, none at its start
    (first()), of a target Prometheus already scraped at the start or whose process started
    inside the range (_new_target(): another target new to Prometheus — its first scrape, or
    Prometheus's own start — shows counts from before the window)."""
    return (f"((last_over_time({selector}[{range_}]) unless {first(selector, range_)}) "
            f"unless on (job, instance) {_new_target(range_)})")


def per_series(selector: Selector, range_: str) -> str:
    """Events of each series over the range, exactly (see the module's docstring): last -
    first; a series that reset at the edge from zero, inside the range by increase(); a
    series born inside it from zero (if it also reset: its increase and its highest value,
    which can only count too many); a series of a target new to Prometheus from its first
    sample."""
    s, w = selector, range_
    last, start = f"last_over_time({s}[{w}])", first(s, w)
    inc, steady = f"increase({s}[{w}])", f"resets({s}[{w}]) == 0"
    # a range is read once per mention (PromQL has no variables): as few as the cases need
    present = (f"{inc} and resets({s}[{w}]) > 0 and {start}"
               f" or {last} - ({start} <= min_over_time({s}[{w}]))"
               f" or {last} and {start}")
    from_zero = f"({last} and {steady} or {inc} + max_over_time({s}[{w}])) and {born(s, w)}"
    from_first = f"{last} - min_over_time({s}[{w}]) and {steady} or {inc}"
    return f"({present} or {from_zero} or {from_first})"


ALL = None  # fresh: every metric may have series that are not the usual case
NONE: frozenset[str] = frozenset()


def _grows(selector: Selector, range_: str, fresh: frozenset[str] | None,
           new: frozenset[str]) -> str:
    if fresh is ALL or selector.metric in fresh:
        return per_series(selector, range_)
    # every series had a sample at the start (no stale marker) and none reset: the instant
    # value at the start is its first() and a seek, not a range read...
    last, start = f"last_over_time({selector}[{range_}])", f"{selector} offset {range_}"
    if selector.metric in new:  # ...or is of a target new to Prometheus: from its first sample
        return f"({last} - ({start} or min_over_time({selector}[{range_}])))"
    return f"({last} - {start})"


def counted(selector: Selector, range_: str, fresh: frozenset[str] | None = ALL,
            new: frozenset[str] = NONE) -> str:
    """Events of one counter over the range (exact, born series included), 0 without series.
    `fresh`: the metrics that have series other than the usual case (census_query(); ALL:
    any may), `new`: of the others, those with series of a target new to Prometheus."""
    return f"(sum({_grows(selector, range_, fresh, new)}) or vector(0))"


def counted_by_le(selector: Selector, range_: str, fresh: frozenset[str] | None = ALL,
                  new: frozenset[str] = NONE) -> str:
    """`counted` per bucket boundary (sum by (le)): the buckets of a histogram over the range."""
    return f"sum by (le) ({_grows(selector, range_, fresh, new)})"


def exact_count(selector: Selector, range_: str) -> str:
    """How much a counter grew over the range, counted as the verdicts count (`counted`);
    empty without series."""
    return f"sum({per_series(selector, range_)})"


def census_query(metric: str, range_: str) -> str:
    """The series of `metric` (any labels) that are not the usual case over the range: rows
    census="reset" (per job: how many reset inside it), census="fresh" (how many have no
    sample at its start, or a stale marker there, of a target Prometheus scraped then, or
    reset before their first sample in it) and census="new" (how many are of a target new to
    Prometheus). No row lets every selector of it count `last - value at the start` alone, as
    cheap as increase(); "new" alone `last - (value at the start or min)`; the others need
    per_series(), which reads each range several times."""
    m = Selector("", (Matcher("__name__", "=", metric),))
    absent, target = (f"(last_over_time({m}[{range_}]) unless {m} offset {range_})",
                      f"on (job, instance) {_new_target(range_)}")
    # the instant value at the start is first() wherever there is one (and a seek)
    fresh = (f"({absent} unless {target} "
             f"or min_over_time({m}[{range_}]) < {m} offset {range_})")
    return " or ".join(f'label_replace({expr}, "census", "{name}", "", "")' for name, expr in (
        ("reset", f"count by (job) (resets({m}[{range_}]) > 0)"), ("fresh", f"count({fresh})"),
        ("new", f"count({absent} and {target})")))


def counted_edges(selectors: tuple[Selector, ...], window_s: int) -> str:
    """The scrapes a count over the `window_s` s before evaluation time runs between: row
    edge="start", the earliest last sample at or before the window's start of the selectors'
    series; edge="end", the latest sample in the window, also when its series went stale
    before the end (a stopped target: the window's end was not seen)."""
    range_ = f"{int(window_s)}s"
    step = begins_step(window_s)
    at_start = " or ".join(f"timestamp({s} offset {range_})" for s in selectors)
    at_end = " or ".join(
        f'max_over_time(timestamp({s})[{range_}:{step}s]) or label_replace(timestamp({s}), '
        f'"at_end", "{i}", "", "")' for i, s in enumerate(selectors))
    return (f'label_replace(min({at_start}), "edge", "start", "", "") '
            f'or label_replace(max({at_end}), "edge", "end", "", "")')


TARGET_LABELS = ("job", "instance")  # the labels that name where a series is scraped from
BEGINS_POINTS = 1000  # data_begins(): at most this many subquery steps over a window...
BEGINS_MAX_STEP_S = 300  # ...and at most Prometheus's lookback (5 min) apart


def job_of(selector: Selector) -> str:
    """The job a selector names (job="..."), else "" (the global scrape interval)."""
    return next((m.value for m in selector.matchers if m.label == "job" and m.op == "="), "")


def target_series(selector: Selector) -> Selector:
    """Every series of the selector's metric from the same targets: only its job and instance
    matchers are kept (a series of another route or status counts: it shows Prometheus was
    scraping the service)."""
    return Selector(selector.metric, tuple(m for m in selector.matchers
                                           if m.label in TARGET_LABELS))


def begins_step(window_s: int) -> int:
    """The subquery step of data_begins(): 1 s up to BEGINS_POINTS seconds, then a
    BEGINS_POINTS-th of the window, at most BEGINS_MAX_STEP_S (what it can say late data is,
    at most, late by)."""
    return min(BEGINS_MAX_STEP_S, max(1, -(-int(window_s) // BEGINS_POINTS)))


def _begins(selector: Selector, window_s: int) -> str:
    range_ = f"{int(window_s)}s"
    step = begins_step(window_s)
    # data younger than one step lies after the subquery's last point: the sample at the end
    # says so; a series seen only between two points (gone stale): the window's end, so that
    # it is not judged either
    return (f"(min(min_over_time(timestamp({selector})[{range_}:{step}s]) or timestamp({selector}))"
            f" or (vector(time()) and on () count(count_over_time({selector}[{range_}]))))")


def data_begins(selectors: tuple[Selector, ...], window_s: int) -> str:
    """When the data of the selectors begins in the `window_s` s before evaluation time: per
    selector the earliest sample any of its series has (a time before the window's start when
    one was there already), the latest of those over the selectors. Empty: no series.

    timestamp() gives the sample's own time, and at the subquery's first step (at most one
    step after the window's start) the last sample before it: so a selector whose data was
    there at the start reads at most one step after the start, and one whose data begins at
    T later reads T (+ up to one step)."""
    parts = [_begins(s, window_s) for s in selectors]
    if len(parts) == 1:
        return parts[0]
    tagged = [f'label_replace({p}, "selector", "{i}", "", "")' for i, p in enumerate(parts)]
    return f"max({' or '.join(tagged)})"


def count_expr(events: Events, range_: str, fresh: frozenset[str] | None = ALL,
               new: frozenset[str] = NONE) -> str:
    """The number of events over the range (born series included)."""
    parts = ""
    for i, term in enumerate(events.terms):
        text = f"({counted(term.selector, range_, fresh, new)})"
        parts += (" - " if term.sign < 0 else " + ") + text if i else ("-" if term.sign < 0
                                                                      else "") + text
    return f"({parts})"


def ratio_expr(ratio: EventRatio, range_: str, fn: str = "increase") -> str:
    """events / total over the range, by rate() or increase() (the recording rules, the
    dashboards). No events yet (e.g. no 5xx series) counts as 0; no traffic stays empty (or
    NaN), so an idle service never looks healthy."""
    events = rate_sum(ratio.events, range_, fn, zero=True)
    return f"({events} / {rate_sum(ratio.total, range_, fn)})"


def bad_ratio_expr(ratio: EventRatio, range_: str, fn: str = "rate") -> str:
    """The share of bad events over the range (1 - good share for a good-events ratio)."""
    expr = ratio_expr(ratio, range_, fn)
    return f"(1 - {expr})" if ratio.good else expr


def _scaled(expr: str, scale_s: float) -> str:
    return expr if scale_s == 1.0 else f"({expr} * {format_number(scale_s)})"


def quantile_expr(q: Quantile, range_: str, fn: str = "increase") -> str:
    """histogram_quantile over the buckets' increase, summed by le, in seconds; +Inf when the
    quantile's rank lies in the +Inf bucket (fewer than q of the observations in the highest
    finite bucket), where histogram_quantile() answers the top finite bound: a dashboard would
    show "300 ms", met at a 300 ms objective, for requests that all took seconds."""
    quantile = format_number(q.quantile)
    buckets = f"sum by (le) ({fn}({q.buckets}[{range_}]))"
    finite = f"max(sum by (le) ({fn}({q.buckets.where(Matcher('le', '!=', '+Inf'))}[{range_}])))"
    every = f"sum({fn}({q.buckets.where(Matcher('le', '=', '+Inf'))}[{range_}]))"
    above = f"({finite} < {quantile} * {every})"
    return _scaled(f"(histogram_quantile({quantile}, {buckets}) unless on () {above} "
                   f"or on () (vector(+Inf) and on () {above}))", q.scale_s)


def value_expr(slo: SLO, range_: str) -> str:
    """The SLI value over a range (dashboards, plots; range may be "$__range"), in the
    objective's unit. A request rate is sum(rate()): the increase over the range divided by
    its length in seconds."""
    sli = slo.sli
    if isinstance(sli, Throughput):
        return rate_sum(sli.total, range_)
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
    bad events (None when the SLI has no such split: a request rate); buckets: every bucket of
    a latency SLO's histogram counted over the window, by le (None for other SLOs).
    """

    value: str
    total: str
    good: str | None
    bad: str | None
    window_s: int
    buckets: str | None = None


def sli_queries(slo: SLO, window_s: int, fresh: frozenset[str] | None = ALL,
                new: frozenset[str] = NONE) -> SliQueries:
    """The checker's queries for `slo` over the `window_s` seconds before evaluation time.

    `fresh`: the metrics with series other than the usual case, `new`: of the others, those
    with series of a target new to Prometheus (see census_query(); ALL: any may).
    """
    if int(window_s) != window_s or window_s < 1:
        raise ValueError(f"the window must be whole seconds >= 1 (got {window_s!r})")
    window_s = int(window_s)
    range_ = f"{window_s}s"
    sli = slo.sli
    histogram = slo.histogram_buckets
    buckets = None if histogram is None else counted_by_le(histogram[0], range_, fresh, new)
    if isinstance(sli, Throughput):
        total = count_expr(sli.total, range_, fresh, new)
        return SliQueries(f"{total} / {window_s}", total, None, None, window_s)
    ratio = slo.budget_ratio
    if ratio is None:  # a percentile without threshold cannot occur from a validated spec
        raise ValueError(f"SLO {slo.name!r} has no event ratio")
    events = count_expr(ratio.events, range_, fresh, new)
    total = count_expr(ratio.total, range_, fresh, new)
    if isinstance(sli, Quantile):
        value = _scaled(f"histogram_quantile({format_number(sli.quantile)}, {buckets})",
                        sli.scale_s)
    else:
        value = (f"({count_expr(sli.events, range_, fresh, new)} / "
                 f"{count_expr(sli.total, range_, fresh, new)})")
    other = f"({total} - {events})"
    good, bad = (events, other) if ratio.good else (other, events)
    return SliQueries(value, total, good, bad, window_s, buckets)


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


def record_name(window_s: int) -> str:
    """The recording rule name of the bad-event ratio over a window: slo:sli_error:ratio_rate5m."""
    return f"{RECORD_PREFIX}{format_duration(window_s)}"


def bad_ratio_rate(slo: SLO, window_s: int) -> str:
    """The recorded expression: share of bad events of `slo` over `window_s` (rate-based)."""
    ratio = slo.budget_ratio
    if ratio is None:
        raise ValueError(f"SLO {slo.name!r} ({slo.kind}) has no error budget to record")
    return bad_ratio_expr(ratio, format_duration(window_s), "rate")


def absent_expr(slo: SLO) -> str | None:
    """`absent()` of every series an SLO's budget cannot be computed without: its total, and
    the threshold bucket of a latency SLO (error series may rightly not exist yet)."""
    ratio = slo.budget_ratio
    if ratio is None:
        return None
    needed: list[Selector] = list(ratio.total.selectors)
    needed += [s for s in ratio.events.selectors if any(m.label == "le" for m in s.matchers)]
    unique = list(dict.fromkeys(needed))
    return " or ".join(f"absent({s})" for s in unique)
