"""The verdict: measured numbers of one SLO over one window -> a frozen Verdict.

Pure: `judge()` turns measured numbers into a Verdict (met / warn / violated / no_data /
inconclusive); `count_slices()`, `apply_slices()` and `apply_baseline()` judge a sliding
window and a baseline, each returning a new Verdict (a Verdict is frozen: nothing changes one
after it is made). slo.judge.judgement.judge_window() puts them together for a whole window
with its coverage and unseen faults; slo.judge.observe gathers what they are judged on.

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
from dataclasses import asdict, dataclass, replace

from harness_common.durations import format_duration
from slo.judge import promql
from slo.judge.coverage import Coverage
from slo.judge.histogram import (
    Buckets,
    format_above,
    format_bounds,
    format_seconds,
    quantile_bounds,
    share_bounds,
)
from slo.judge.window import MIN_WINDOW_S, Window, iso_utc
from slo.spec.model import SLO, Quantile
from slo.spec.selectors import Selector
from slo.units import format_number

MET, WARN, VIOLATED, NO_DATA, INCONCLUSIVE = "met", "warn", "violated", "no_data", "inconclusive"
NOT_JUDGED = (NO_DATA, INCONCLUSIVE)   # verdicts that are no claim about the service
NO_EVENTS = ("no events in the window: the selectors matched no series that counted anything "
             "(no traffic, or a label value that matches nothing)")


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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
    notes: tuple[str, ...] = ()
    slices: Slices | None = None
    baseline_value: float | None = None
    value_bounds: tuple[float, float] | None = None
    coverage: Coverage | None = None  # how much of the window was observed
    # True when a fault the SLO's metrics cannot see (slo.judge.unseen) made it no claim
    blind: bool = False

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
        data["notes"] = list(self.notes)
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
    status = {"pass": MET, "warn": WARN, "fail": VIOLATED}[worst]
    objective = slo.objectives[0]
    return replace(verdict, status=status,
                   margin=(objective.target - value) if objective.upper
                   else (value - objective.target),
                   reason={MET: "objective met", WARN: "met, inside the warning band",
                           VIOLATED: "objective violated"}[status])


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
        decided = _decide(verdict, slo, value if value is not None
                          else (low if "fail" in statuses else high))
        return replace(decided, margin=decided.margin if value is not None else None,
                       notes=(*decided.notes, f"{missing}; the verdict holds for any {what} "
                              f"in {format_bounds(low, high, verdict.unit)}"))
    return replace(verdict, status=INCONCLUSIVE, margin=None,
                   reason=(f"inconclusive: {what} lies in "
                           f"{format_bounds(low, high, verdict.unit)}, on both sides of the "
                           f"objective, and {missing}"))


def _judge_above(verdict: Verdict, slo: SLO, top: float) -> Verdict:
    """A quantile whose rank lies in the +Inf bucket: all the buckets prove is that it is
    above `top`, the highest finite bound (histogram_quantile() answers `top` itself). Violated
    when every value above `top` fails an objective (more than 1 - q of the requests took
    longer than the threshold); not evaluated when the threshold lies above `top`."""
    verdict = replace(verdict, value=None, margin=None)
    pct = format_number(slo.sli.quantile * 100)
    share = format_number(round((1 - slo.sli.quantile) * 100, 10))
    above = f"p{pct} is above {format_seconds(top)} (the top finite bucket)"
    ends = [(o.status(math.nextafter(top, math.inf)), o.status(math.inf))
            for o in slo.objectives]
    if any(low == high == "fail" for low, high in ends):
        return replace(verdict, status=VIOLATED,
                       reason=(f"{above}: more than {share}% of the requests took longer than "
                               f"the {_threshold_text(slo)} threshold, so the objective is "
                               f"violated"))
    if all(low == high for low, high in ends):
        return replace(_decide(verdict, slo, math.inf), margin=None)
    return replace(verdict, status=INCONCLUSIVE,
                   reason=(f"inconclusive: {above}, and the threshold {_threshold_text(slo)} "
                           f"lies above that bound: the histogram cannot tell which side of it "
                           f"p{pct} is on (add a {_threshold_text(slo)} bucket to it)"))


def judge(slo: SLO, value: float | None, total: float | None, good: float | None = None,
          buckets: Buckets | None = None, problems: list[str] | tuple[str, ...] = (),
          unproven: list[str] | tuple[str, ...] = ()) -> Verdict:
    """Verdict for one SLO from its measured value, event count, good-event count, histogram
    buckets (latency SLOs), the problems that keep it from seeing data, and the `unproven`
    ones that keep only a pass from being a claim (a target down inside the window: the
    requests it missed could only have failed, so a violation stands, with them as notes)."""
    verdict = _judge_seen(slo, value, total, good, buckets, problems)
    if unproven and verdict.status in (MET, WARN):
        return replace(verdict, status=NO_DATA, margin=None, value_bounds=None, value=None,
                       good_fraction=None, reason=unproven[0],
                       notes=(*verdict.notes, *unproven[1:]))
    if verdict.status != VIOLATED:   # not judged already: the reason says why
        return replace(verdict, notes=(*verdict.notes, *unproven))
    return replace(verdict, notes=(*verdict.notes, *(
        f"it stands though this was not seen (the requests missed could only have failed): "
        f"{text}" for text in unproven)))


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
        return replace(verdict, value=None, good_fraction=None, reason=problems[0],
                       notes=tuple(problems[1:]))
    if total is None or total <= 0:
        return replace(verdict, reason=NO_EVENTS)
    exact = True
    if buckets is not None and buckets.usable:
        if isinstance(slo.sli, Quantile):
            bounds = quantile_bounds(buckets, slo.sli.quantile)
            if bounds is not None:
                verdict = replace(verdict, value_bounds=tuple(bounds))
        if slo.threshold_s is not None and not buckets.has(slo.threshold_s):
            exact = False
            verdict = replace(verdict, good_fraction=None)
        if verdict.value_bounds is not None and math.isinf(verdict.value_bounds[1]):
            return _judge_above(verdict, slo, verdict.value_bounds[0])
    if value is None and exact:
        return replace(verdict, reason="the query returned no value (NaN or no samples)")
    if exact:
        return _decide(verdict, slo, value)
    if isinstance(slo.sli, Quantile):
        if verdict.value_bounds is None:
            return replace(verdict, reason="the histogram's buckets hold no quantile")
        pct = format_number(slo.sli.quantile * 100)
        return _judge_bounds(verdict, slo, *verdict.value_bounds, f"p{pct}", value)
    share = share_bounds(buckets, slo.threshold_s)
    verdict = replace(verdict, value=None, value_bounds=tuple(share))
    return _judge_bounds(verdict, slo, *share, f"the share within {_threshold_text(slo)}", None)


SliceSample = tuple[float | None, float | None, Buckets | None]   # value, total, buckets


def count_slices(slo: SLO, samples: tuple[SliceSample, ...], step_s: int,
                 required: float) -> Slices:
    """How many of the sliding window's slices (each slice's value, total and buckets, as
    read) met the objective, judged one by one as the whole window is."""
    passed = no_data = 0
    for value, total, buckets in samples:
        status = judge(slo, value, total, buckets=buckets).status
        passed += status in (MET, WARN)
        no_data += status == NO_DATA
    return Slices(step_s, len(samples), passed, no_data, required)


def apply_slices(verdict: Verdict, slices: Slices) -> Verdict:
    """Sliding-window rule: the SLO holds only if enough slices held."""
    verdict = replace(verdict, slices=slices)
    if verdict.status in NOT_JUDGED:
        return verdict
    if slices.total == 0 or slices.no_data == slices.total:
        return replace(verdict, status=NO_DATA, reason="no slice of the window had data")
    if slices.fraction + 1e-9 < slices.required_fraction:
        return replace(verdict, status=VIOLATED,
                       reason=(f"held in {slices.passed}/{slices.total} slices of "
                               f"{format_duration(slices.step_s)} (needs "
                               f"{slices.required_fraction:.0%})"))
    return verdict


def apply_baseline(verdict: Verdict, baseline: float | None, max_regression: float,
                   upper: bool, budget: float | None = None) -> Verdict:
    """The value may not regress more than max_regression vs the baseline.

    A ratio (errors, availability, share under a threshold) is compared in points, against
    max_regression of its error budget (`budget`): with a 1% budget and 10%, errors may rise
    by 0.1 points, and 0% -> 2.3% is a regression. Other values (latency, rate) compare
    relatively; a baseline of 0 cannot be compared relatively and says so.
    """
    verdict = replace(verdict, baseline_value=baseline)

    def noted(text: str, **changes) -> Verdict:
        return replace(verdict, notes=(*verdict.notes, text), **changes)

    if baseline is None:
        return noted("no baseline value for this SLO")
    if verdict.value is None or verdict.status in NOT_JUDGED:
        return verdict
    shown = format_value(baseline, verdict.unit)
    if verdict.unit == "ratio" and budget:
        change = verdict.value - baseline
        regression = change if upper else -change
        allowed = max_regression * budget
        text = (f"{change * 100:+.2f} points vs baseline {shown} (allowed: "
                f"{allowed * 100:.2f} points, {max_regression:.0%} of the "
                f"{budget:.2%} error budget)")
        if regression > allowed + 1e-12:
            return noted(text, status=VIOLATED,
                         reason=(f"regressed {regression * 100:.2f} points vs baseline {shown} "
                                 f"(limit {allowed * 100:.2f} points)"))
        return noted(text)
    if baseline == 0:
        return noted("baseline value is 0: relative regression undefined, not compared")
    change = (verdict.value - baseline) / abs(baseline)
    regression = change if upper else -change
    text = f"{change:+.1%} vs baseline {shown}"
    if regression > max_regression:
        return noted(text, status=VIOLATED,
                     reason=f"regressed {regression:.1%} vs baseline (limit {max_regression:.0%})")
    return noted(text)


@dataclass(frozen=True)
class CheckResult:
    """Everything one check produced: the window, the verdicts and how long it took (and
    whether --strict was asked: slo.judge.outcome.decide() reads it, once). Frozen: the
    verdicts (and notes) are tuples, whatever sequence they were given as."""

    spec: str
    service: str
    prometheus: str
    window: Window
    verdicts: tuple[Verdict, ...]
    evaluated_in_s: float
    strict: bool = False
    notes: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "verdicts", tuple(self.verdicts))
        object.__setattr__(self, "notes", tuple(self.notes))

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


def baseline_values(result_json: dict) -> dict[str, float]:
    """{slo name: value} from a previous `slo check --json` result (for --baseline)."""
    values = {}
    for item in result_json.get("slos", []):
        value = item.get("value")
        if isinstance(value, int | float):
            values[item["name"]] = float(value)
    return values
