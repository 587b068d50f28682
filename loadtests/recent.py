"""Locust's own truth over a recent window, for the SLO tab's cross-check: how many requests
it sent, how many failed (its per-second counts, the Statistics tab's numbers) and their
percentiles (the client latency's recent slots, loadtests.latency).

    window_truth(environment, start, end) -> {"count", "failures", "p50_ms", "p95_ms",
                                              "p99_ms", "max_ms"} or None (no request)

/health, /metrics and /admin are left out, as the client latency and the service's SLO
selectors leave them out (harness_common.faults.routes.is_protected).
"""

from __future__ import annotations

import math

from harness_common.faults.routes import is_protected


def counted(per_second: dict, start: float, end: float) -> int:
    """The sum of a Locust {second: count} over the whole seconds inside [start, end)."""
    first, last = math.ceil(start), math.floor(end)
    return sum(n for t, n in list(per_second.items()) if first <= t < last)


def window_truth(environment, start: float, end: float) -> dict | None:
    """Locust's requests, failures and percentiles in [start, end] (None when it sent none)."""
    stats = getattr(environment, "stats", None)
    if stats is None:
        return None
    count = failures = 0
    for entry in list(stats.entries.values()):
        if is_protected(str(entry.name)):
            continue
        count += counted(entry.num_reqs_per_sec, start, end)
        failures += counted(entry.num_fail_per_sec, start, end)
    if not count:
        return None
    latency = getattr(environment, "slo_client_latency", None)
    shape = latency.recent(start, end) if latency is not None else {}
    return {**{k: v for k, v in shape.items() if k != "count"}, "count": count,
            "failures": failures}
