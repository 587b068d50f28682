"""The data of the report's plots, read from Prometheus once the run is over.

    collect_series(prom, spec, start, end) -> Series
        latency   every latency-percentile SLO's value (ms) over a sliding 20 s window, with
                  the bucket that holds it at each point (the band the plot draws)
        errors    every error-ratio SLO's ratio and every availability SLO's unavailability (%)

The report only draws what is here; it never queries anything itself.
"""

from __future__ import annotations

import math

from slo.experiment.result import PlotSeries, Series
from slo.judge import promql
from slo.judge.histogram import Buckets, quantile_bounds
from slo.judge.prom import Prometheus
from slo.spec.model import SLO, Quantile, Spec

PLOT_RANGE = "20s"
PLOT_STEP_S = 2


def _points(prom: Prometheus, expr: str, start: float, end: float) -> list[tuple[float, float]]:
    """The first series of a range query, without NaN/Inf points."""
    result = prom.query_range(expr, start, end, PLOT_STEP_S)
    values = result[0]["values"] if result else []
    return [(t, v) for t, v in values if math.isfinite(v)]


def _band(prom: Prometheus, slo: SLO, start: float, end: float
          ) -> tuple[tuple[float, float, float], ...]:
    """The bucket holding the quantile at each point: (time, low ms, high ms)."""
    q: Quantile = slo.sli
    expr = f"sum by (le) (increase({q.buckets}[{PLOT_RANGE}]))"
    by_time: dict[float, list] = {}
    for series in prom.query_range(expr, start, end, PLOT_STEP_S):
        for t, v in series["values"]:
            by_time.setdefault(t, []).append((series["metric"], v))
    band = []
    for t in sorted(by_time):
        bounds = quantile_bounds(Buckets.from_samples(by_time[t], q.scale_s), q.quantile)
        if bounds is not None:
            band.append((t, bounds[0] * 1000, bounds[1] * 1000))
    return tuple(band)


def collect_series(prom: Prometheus, spec: Spec, start: float, end: float) -> Series:
    """Range data for the plots, per SLO (PrometheusError when Prometheus does not answer)."""
    latency, errors = [], []
    for slo in spec.slos:
        if slo.kind == "latency_percentile":
            points = _points(prom, promql.value_expr(slo, PLOT_RANGE), start, end)
            latency.append(PlotSeries(slo.name, slo.objectives[0].target * 1000,
                                      tuple((t, v * 1000) for t, v in points),
                                      _band(prom, slo, start, end)))
        elif slo.kind in ("error_ratio", "availability"):
            points = _points(prom, promql.value_expr(slo, PLOT_RANGE), start, end)
            target = slo.objectives[0].target
            if slo.kind == "availability":  # plot the unavailability: 1 - value
                points, target = [(t, 1 - v) for t, v in points], 1 - target
            errors.append(PlotSeries(slo.name, target * 100,
                                     tuple((t, v * 100) for t, v in points)))
    return Series(tuple(latency), tuple(errors))
