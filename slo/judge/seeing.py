"""What `slo rules --prometheus` proves before it writes rules: what `slo check` proves.

    problems = unseen_by_rules(prom, spec, window)   # [(slo name, problem with the fix)]

The window is observed exactly as `slo check` observes it (slo.judge.observe.observe) and each
SLO's data is proven seen by the one function `slo check` asks too
(slo.judge.judgement.unobserved): its selectors see series with the labels and label values
they name, its data begins before the window and its targets' scrapes cover it, its last
sample is recent (a stopped target is not seen now), and it counted events. So a selector
`slo check` refuses to judge on a window is never said to see data there. On top, a latency
threshold must be a bucket of its histogram (the alert rules count the requests under that
bucket). Whether an objective is met is not asked: rules are written for a violated SLO too.
"""

from __future__ import annotations

from slo.judge.judgement import Request, unobserved
from slo.judge.observe import observe
from slo.judge.prom import Prometheus
from slo.judge.window import Window
from slo.spec.model import SLO, Spec

NOTHING_OBSERVED = "nothing was observed for this SLO"


def missing_bucket(slo: SLO, buckets) -> str | None:
    """The problem when the SLO's latency threshold is not a bucket of the histogram seen."""
    if slo.threshold_s is None or slo.histogram_buckets is None or buckets is None:
        return None
    if not buckets.bounds or buckets.has(slo.threshold_s):
        return None
    selector, scale = slo.histogram_buckets
    shown = ", ".join(f"{u / scale:g}" for u in buckets.uppers()) or "none"
    return (f"{selector.metric} has no bucket at the {slo.threshold_s * 1000:g} ms threshold "
            f"(le values seen: {shown}); its alerts count the requests under that bucket: add "
            f"it to the histogram, or set the threshold to a bucket")


def unseen_by_rules(prom: Prometheus, spec: Spec, window: Window) -> list[tuple[str, str]]:
    """(slo name, problem) for every SLO of `spec` whose data was not seen over `window` (as
    `slo check` would refuse it) or whose latency threshold is not a bucket. Raises
    PrometheusError (Prometheus unreachable)."""
    observations = observe(prom, spec, window, Request())
    seen = {o.name: o for o in observations.slos}
    out: list[tuple[str, str]] = []
    for slo in spec.slos:
        observed = seen.get(slo.name)
        if observed is None:
            out.append((slo.name, NOTHING_OBSERVED))
            continue
        found = list(unobserved(slo, observed, window).problems)
        bucket = None if found else missing_bucket(slo, observed.buckets)
        out += [(slo.name, p) for p in found + ([bucket] if bucket else [])]
    return out
