"""The data of the report's plots, read from Prometheus once the run is over.

    collect_series(prom, spec, start, end) -> Series
        latency   every latency-percentile SLO's value (ms) over a sliding 20 s window
        errors    every error-ratio SLO's ratio and every availability SLO's unavailability (%)

The report only draws what is here; it never queries anything itself.
"""

from __future__ import annotations

import math

from slo.experiment.result import PlotSeries, Series
from slo.judge import promql
from slo.judge.prom import Prometheus
from slo.spec.model import Spec

PLOT_RANGE = "20s"
PLOT_STEP_S = 2


def _points(prom: Prometheus, expr: str, start: float, end: float) -> list[tuple[float, float]]:
    """The first series of a range query, without NaN/Inf points."""
    result = prom.query_range(expr, start, end, PLOT_STEP_S)
    values = result[0]["values"] if result else []
    return [(t, v) for t, v in values if math.isfinite(v)]


def collect_series(prom: Prometheus, spec: Spec, start: float, end: float) -> Series:
    """Range data for the plots, per SLO (PrometheusError when Prometheus does not answer)."""
    latency, errors = [], []
    for slo in spec.slos:
        if slo.kind == "latency_percentile":
            points = _points(prom, promql.value_expr(slo, PLOT_RANGE), start, end)
            latency.append(PlotSeries(slo.name, slo.objectives[0].target * 1000,
                                      tuple((t, v * 1000) for t, v in points)))
        elif slo.kind in ("error_ratio", "availability"):
            points = _points(prom, promql.value_expr(slo, PLOT_RANGE), start, end)
            target = slo.objectives[0].target
            if slo.kind == "availability":  # plot the unavailability: 1 - value
                points, target = [(t, 1 - v) for t, v in points], 1 - target
            errors.append(PlotSeries(slo.name, target * 100,
                                     tuple((t, v * 100) for t, v in points)))
    return Series(tuple(latency), tuple(errors))
