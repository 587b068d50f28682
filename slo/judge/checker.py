"""The judge: evaluate every SLO of a spec over a window against Prometheus -> verdicts.

Pure part: `judge()` turns measured numbers into a Verdict (met / warn / violated / no_data)
and `exit_code()` turns verdicts into the CI gate's exit code. I/O part: `evaluate()` runs all
queries of one check concurrently through slo.judge.prom.Prometheus.

Fail closed: no samples, NaN, zero requests in the window, or a latency threshold that is
not a histogram bucket of a ratio SLO -> "no_data", never "met".
"""

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from harness_common import exitcodes
from harness_common.durations import format_duration
from slo.judge import promql
from slo.judge.prom import Prometheus
from slo.judge.window import Window
from slo.spec.model import SLO, Quantile, Spec, Throughput
from slo.units import le_label_variants

MET, WARN, VIOLATED, NO_DATA = "met", "warn", "violated", "no_data"


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
    """The judgement of one SLO over one window."""

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

    def to_json(self) -> dict:
        """JSON-safe dict (infinities as strings)."""
        data = asdict(self)
        for key in ("value", "margin", "baseline_value"):
            if data[key] is not None and not math.isfinite(data[key]):
                data[key] = "+Inf" if data[key] > 0 else "-Inf"
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


def judge(slo: SLO, value: float | None, total: float | None, good: float | None = None,
          bucket_ok: bool = True) -> Verdict:
    """Verdict for one SLO from its measured value, event count and good-event count."""
    value, total, good = _clean(value), _clean(total), _clean(good)
    objective = slo.objectives[0]
    verdict = Verdict(
        name=slo.name, kind=slo.kind, objective=slo.objective_text, key=slo.key, status=NO_DATA,
        value=value, unit=slo.unit, target=objective.target, warning=objective.warning,
        margin=None, total_events=total, threshold_s=slo.threshold_s, reason="",
        good_fraction=(good / total) if good is not None and total else None,
    )
    if slo.threshold_s is not None and not bucket_ok:
        note = (f"latency threshold {slo.threshold_s:g}s is not a bucket boundary of the "
                f"histogram: the fraction under it cannot be measured exactly")
        verdict.good_fraction = None
        if slo.kind == "latency_ratio":
            verdict.reason = note + "; add it to APP_LATENCY_BUCKETS"
            return verdict
        verdict.notes.append(note + "; the percentile is interpolated")
    if total is None or total <= 0:
        verdict.reason = "no requests matched the selector in the window (no data)"
        return verdict
    if value is None:
        verdict.reason = "the query returned no value (NaN or no samples)"
        return verdict
    statuses = [o.status(value) for o in slo.objectives]
    worst = "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
    verdict.status = {"pass": MET, "warn": WARN, "fail": VIOLATED}[worst]
    verdict.margin = (objective.target - value) if objective.upper else (value - objective.target)
    verdict.reason = {MET: "objective met", WARN: "met, inside the warning band",
                      VIOLATED: "objective violated"}[verdict.status]
    return verdict


def apply_slices(verdict: Verdict, slices: Slices) -> Verdict:
    """Sliding-window rule: the SLO holds only if enough slices held."""
    verdict.slices = slices
    if verdict.status == NO_DATA:
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
                   upper: bool) -> Verdict:
    """Relative objective: the value may not regress more than max_regression vs baseline."""
    verdict.baseline_value = baseline
    if baseline is None or verdict.value is None or verdict.status == NO_DATA:
        if baseline is None:
            verdict.notes.append("no baseline value for this SLO")
        return verdict
    if baseline == 0:
        verdict.notes.append("baseline value is 0: relative regression undefined, not compared")
        return verdict
    change = (verdict.value - baseline) / abs(baseline)
    regression = change if upper else -change
    verdict.notes.append(f"{change:+.1%} vs baseline {format_value(baseline, verdict.unit)}")
    if regression > max_regression:
        verdict.status = VIOLATED
        verdict.reason = (f"regressed {regression:.1%} vs baseline (limit {max_regression:.0%})")
    return verdict


def exit_code(verdicts: list[Verdict], strict: bool = False) -> int:
    """0 all met (warnings too unless strict), 1 any violated, 2 any no data (and none violated)."""
    statuses = {v.status for v in verdicts}
    if not verdicts:
        return exitcodes.NOT_EVALUATED
    if VIOLATED in statuses or (strict and WARN in statuses):
        return exitcodes.FAILED
    if NO_DATA in statuses:
        return exitcodes.NOT_EVALUATED
    return exitcodes.OK


@dataclass
class CheckResult:
    """Everything one check produced: the window, the verdicts and how long it took."""

    spec: str
    service: str
    prometheus: str
    window: Window
    verdicts: list[Verdict]
    evaluated_in_s: float
    strict: bool = False

    @property
    def exit_code(self) -> int:
        """The CI gate's exit code for these verdicts."""
        return exit_code(self.verdicts, self.strict)

    def to_json(self) -> dict:
        """The result as written by --json (and read back by --baseline)."""
        return {
            "version": 1,
            "spec": self.spec,
            "service": self.service,
            "prometheus": self.prometheus,
            "window": {"start": self.window.iso("start"), "end": self.window.iso("end"),
                       "seconds": self.window.seconds, "source": self.window.source},
            "exit_code": self.exit_code,
            "strict": self.strict,
            "evaluated_in_s": round(self.evaluated_in_s, 3),
            "slos": [v.to_json() for v in self.verdicts],
        }


def _bucket_ok(prom: Prometheus, slo: SLO, at: float) -> bool:
    query = promql.bucket_bounds_query(slo)
    if query is None or slo.threshold_s is None:
        return True
    les = {s.labels.get("le") for s in prom.query(query, at)}
    if not les:
        return True  # no histogram at all: the total query reports no data
    return any(v in les for v in le_label_variants(slo.threshold_s))


def _evaluate_one(prom: Prometheus, slo: SLO, window: Window, pool: ThreadPoolExecutor) -> Verdict:
    queries = promql.sli_queries(slo, window.seconds)
    at = window.end
    value = pool.submit(prom.scalar, queries.value, at)
    total = pool.submit(prom.scalar, queries.total, at)
    good = pool.submit(prom.scalar, queries.good, at) if queries.good is not None else None
    bucket_ok = pool.submit(_bucket_ok, prom, slo, at)
    return judge(slo, value.result(), total.result(), good.result() if good else None,
                 bucket_ok=bucket_ok.result())


def _slices(prom: Prometheus, slo: SLO, window: Window, step_s: int,
            required: float) -> Slices:
    sliding = promql.sliding(slo, window.start, window.end, step_s)
    values = prom.query_range(sliding.queries.value, sliding.start, sliding.end, step_s)
    totals = prom.query_range(sliding.queries.total, sliding.start, sliding.end, step_s)
    value_at = {t: v for t, v in (values[0]["values"] if values else [])}
    total_at = {t: v for t, v in (totals[0]["values"] if totals else [])}
    times = [sliding.start + i * step_s
             for i in range(int((sliding.end - sliding.start) // step_s) + 1)]
    passed = no_data = 0
    for t in times:
        verdict = judge(slo, value_at.get(t), total_at.get(t))
        if verdict.status in (MET, WARN):
            passed += 1
        elif verdict.status == NO_DATA:
            no_data += 1
    return Slices(step_s, len(times), passed, no_data, required)


def evaluate(spec: Spec, prom: Prometheus, window: Window, *, step_s: int | None = None,
             slice_fraction: float = 1.0, baseline: dict | None = None,
             max_regression: float = 0.10, strict: bool = False,
             only: tuple[str, ...] = ()) -> CheckResult:
    """Judge every SLO of `spec` (or those named in `only`) over `window`, concurrently."""
    started = time.monotonic()
    slos = [s for s in spec.slos if not only or s.name in only]

    queries = ThreadPoolExecutor(max_workers=16)

    def one(slo: SLO) -> Verdict:
        verdict = _evaluate_one(prom, slo, window, queries)
        if step_s:
            verdict = apply_slices(verdict, _slices(prom, slo, window, step_s, slice_fraction))
        if baseline is not None:
            upper = isinstance(slo.sli, Quantile) or slo.objectives[0].upper
            if isinstance(slo.sli, Throughput):
                upper = False
            verdict = apply_baseline(verdict, baseline.get(slo.name), max_regression, upper)
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
