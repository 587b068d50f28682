"""The report's plots (matplotlib, Agg), drawn from an ExperimentResult only.

    render_plots(result) -> {"latency.png": b"...", "errors.png": ..., "alerts.png": ...}

latency and errors: each SLO's series against its objective (a quantile with the band of the
histogram bucket that holds it: the line inside the band is interpolated); alerts: one lane per
alert instance (yellow pending, red firing) with the Telegram messages as dashed lines. Every plot
shades the fault windows, dots the phase boundaries and marks when alerts fired, reached
Telegram and resolved. Empty when the run never started its first phase.
"""

from __future__ import annotations

import math
from io import BytesIO

from slo.experiment.result import ExperimentResult, PlotSeries, offset
from slo.experiment.series import PLOT_RANGE

FAULT_COLOURS = {"latency": "#f4a261", "error": "#e76f51", "abort": "#9d4edd", "kill": "#6c757d",
                 "pause": "#457b9d"}
X_LABEL = "seconds since the first phase started"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def lane_name(alert: str, labels: dict) -> str:
    """ErrorBudgetBurn error-ratio page 1m/20s: one alert instance, as a plot lane names it."""
    window = f"{labels['long']}/{labels['short']}" if "long" in labels else ""
    return " ".join(x for x in (alert, labels.get("slo", ""), labels.get("severity", ""),
                                window) if x)


def _decorate(ax, result: ExperimentResult, t0: float, marks: bool = True) -> None:
    """Fault windows shaded, phase boundaries dotted, firing and notification times marked."""
    shown = set()
    for phase in result.phases:
        if phase.start is not None:
            ax.axvline(phase.start - t0, color="#999999", linestyle=":", linewidth=0.8)
        fault = phase.fault
        if fault is not None and fault.start is not None:
            end = fault.end if fault.end is not None else (phase.end or fault.start)
            label = None if fault.kind in shown else f"{fault.kind} fault"
            shown.add(fault.kind)
            ax.axvspan(fault.start - t0, end - t0, alpha=0.18,
                       color=FAULT_COLOURS.get(fault.kind, "#cccccc"), label=label)
    if not marks:
        return
    for moments, colour, style, label in (
            ([a.fired_at for a in result.timings], "#d62828", "-", "alert fired"),
            ([a.notified_at for a in result.timings], "#2a9d8f", "--", "Telegram notified"),
            ([a.resolved_at for a in result.timings], "#457b9d", "-.", "alert resolved")):
        xs = sorted({round(m - t0, 1) for m in moments if m})
        for i, x in enumerate(xs):
            ax.axvline(x, color=colour, linestyle=style, linewidth=1.0,
                       label=label if i == 0 else None)


def _sli_figure(result: ExperimentResult, items: tuple[PlotSeries, ...], ylabel: str,
                title: str, t0: float):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 3.6), dpi=100)
    for i, item in enumerate(items):
        colour = f"C{i}"
        ax.plot([t - t0 for t, _ in item.points], [v for _, v in item.points], color=colour,
                linewidth=1.5, label=item.name)
        if item.band:
            finite = [hi for _, _, hi in item.band if math.isfinite(hi)]
            top = max(finite + [lo for _, lo, _ in item.band] + [item.target]) * 1.1
            ax.fill_between([t - t0 for t, _, _ in item.band], [lo for _, lo, _ in item.band],
                            [hi if math.isfinite(hi) else top for _, _, hi in item.band],
                            color=colour, alpha=0.15, linewidth=0,
                            label=f"{item.name} bucket (the value lies in it)")
        ax.axhline(item.target, color=colour, linestyle="--", linewidth=1,
                   label=f"{item.name} objective")
    _decorate(ax, result, t0)
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    fig.tight_layout()
    return fig


def _alerts_figure(result: ExperimentResult, t0: float):
    plt = _pyplot()
    lanes: dict[str, list] = {}
    for t in result.transitions:
        lanes.setdefault(lane_name(t.name, t.label_dict), []).append(t)
    end = max((offset(p.end, t0) or 0) for p in result.phases) + 5
    fig, ax = plt.subplots(figsize=(10, 0.5 + 0.45 * max(1, len(lanes))), dpi=100)
    for row, (_name, seen) in enumerate(sorted(lanes.items())):
        for i, t in enumerate(seen):
            start = t.at - t0
            stop = seen[i + 1].at - t0 if i + 1 < len(seen) else end
            if t.state in ("pending", "firing") and stop > start:
                ax.barh(row, stop - start, left=start, height=0.6,
                        color="#e9c46a" if t.state == "pending" else "#d62828")
    for n in result.notifications:
        if n.received_at is not None:
            ax.axvline(n.received_at - t0, linestyle="--", linewidth=1,
                       color="#2a9d8f" if n.status == "firing" else "#457b9d")
    _decorate(ax, result, t0, marks=False)
    ax.set_yticks(range(len(lanes)), sorted(lanes), fontsize=7)
    ax.set_xlabel(X_LABEL)
    ax.set_title("alert states (yellow pending, red firing; dashed lines: Telegram messages)")
    ax.set_xlim(left=min(0, *(t.at - t0 for t in result.transitions)) if lanes else 0)
    fig.tight_layout()
    return fig


def render_plots(result: ExperimentResult) -> dict[str, bytes]:
    """PNG bytes per plot name (empty when the run never started its first phase)."""
    t0 = result.t0
    if t0 is None:
        return {}
    plt = _pyplot()
    figures = {}
    if result.series.latency:
        figures["latency.png"] = _sli_figure(result, result.series.latency, "latency (ms)",
                                             f"latency percentiles (over {PLOT_RANGE})", t0)
    if result.series.errors:
        figures["errors.png"] = _sli_figure(result, result.series.errors, "bad requests (%)",
                                            f"error ratio (over {PLOT_RANGE})", t0)
    figures["alerts.png"] = _alerts_figure(result, t0)
    out = {}
    for name, fig in figures.items():
        buffer = BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
        out[name] = buffer.getvalue()
    return out
