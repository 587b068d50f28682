"""What a count over a window covers, said in the verdict: pure functions, values in, text out.

The checker counts every counter exactly between scrapes (slo.judge.promql, its docstring has
the rules): from each series' last sample at or before the window's start to its last at or
before its end. Prometheus cannot tell when between two scrapes a request came, so the window
a count covers is the judged one aligned to the scrapes, and the verdict says which scrapes:

    edges = edges_of(prom.query(promql.counted_edges(selectors, window.seconds), window.end))
    span_note(window.start, window.end, edges)
        "events counted from the scrape at 12:00:03.8Z (3.8 s before the window's start) to
         the scrape at 12:00:09.2Z (1.8 s before its end): a request counts in the window
         holding the first scrape after it"
    reset_note(metrics, jobs, census)   the series counted by the fallback rule (a restart)
"""

import math
from datetime import UTC, datetime

from slo.judge.prom import Sample


def iso_tenths(moment: float) -> str:
    """Unix seconds as UTC ISO-8601 to the tenth of a second: 2026-12-02T01:40:39.8Z."""
    text = datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text[:-5] + "Z"


def edges_of(samples: list[Sample]) -> tuple[float | None, float | None]:
    """(first, last): the scrape a count starts from and the one it ends at, from the rows
    edge="start" and edge="end" of promql.counted_edges() (None where there is no row)."""
    found = {s.labels.get("edge"): s.value for s in samples if math.isfinite(s.value)}
    return found.get("start"), found.get("end")


def span_s(window_s: float, edges: tuple[float | None, float | None]) -> float:
    """Seconds between the scrapes a count runs between (the window's own length when one of
    them is unknown): a request rate divides the count by these."""
    first, last = edges
    if first is None or last is None or last <= first:
        return window_s
    return last - first


def span_note(start: float, end: float, edges: tuple[float | None, float | None]) -> str:
    """The rule that attributed the events at the window's edges, with the scrapes it used."""
    first, last = edges
    since = ("from each series' last sample at or before the window's start (one without "
             "any from zero, or from its first scrape if its target is new to Prometheus)"
             if first is None else
             f"from the scrape at {iso_tenths(first)} ({start - first:.1f} s before the "
             f"window's start)")
    until = ("to its last scrape" if last is None else
             f"to the scrape at {iso_tenths(last)} ({max(0.0, end - last):.1f} s before its "
             f"end)")
    return (f"events counted {since} {until}: a request counts in the window holding the "
            f"first scrape after it")


def reset_note(metrics: dict[str, set[str]], census: dict[str, list[Sample]]) -> str | None:
    """The series of the SLO's metrics that reset inside the window (a restart), which are
    counted by the fallback rule. `metrics`: metric -> the jobs the SLO's selectors name (an
    empty string: any job); `census`: metric -> the rows of promql.census_query()."""
    parts = []
    for metric in sorted(metrics):
        jobs = metrics[metric]
        for sample in census.get(metric, ()):
            job = sample.labels.get("job", "")
            if sample.labels.get("census") != "reset" or not ("" in jobs or job in jobs):
                continue
            parts.append(f"{sample.value:.0f} series of {metric}"
                         + (f' (job "{job}")' if job else ""))
    if not parts:
        return None
    return (f"{', '.join(parts)} reset inside the window (the service restarted): the samples "
            f"do not hold their exact count across a restart, so each is counted by "
            f"Prometheus's increase() from its first sample in the window, extrapolated to the "
            f"window's edges")
