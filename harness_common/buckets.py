"""The latency histogram layout: one list, shared by the app's histogram and Locust's client one.

Dense where it matters: from 10 ms to 2 s no boundary is more than 10% above the one before, so
histogram_quantile's linear interpolation inside a bucket is off by less than 10% of the value,
whatever the latency is (the old 20-bucket layout put a 500±50 ms fault's p95 at 734 ms in the
500–750 ms bucket, 27% above the exact 578 ms). Every anchor is a boundary: the round values
people write in SLOs (25 ms, 50 ms, 100 ms, 200 ms, 250 ms, 300 ms, 500 ms, 1 s, 2 s) and so
every latency threshold of slo/slos.yaml (tests/test_slo_spec checks that), so the share of
requests under a threshold is counted exactly, never interpolated. Coarse below 10 ms and above
2 s, where the harness judges nothing finely.

    layout(low, high, anchors, max_ratio) -> the boundaries between low and high
"""

from __future__ import annotations

import math

MAX_RATIO = 1.10
DENSE_LOW_S, DENSE_HIGH_S = 0.01, 2.0
ANCHORS_S = (0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 1.0, 2.0)
BELOW_S = (0.001, 0.0025, 0.005)
ABOVE_S = (2.5, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0)


def _round(value: float) -> float:
    """Three significant digits: boundaries read well in `le` labels (0.0121, not 0.01210...)."""
    return float(f"{value:.3g}")


def layout(low: float, high: float, anchors: tuple[float, ...] = (),
           max_ratio: float = MAX_RATIO) -> tuple[float, ...]:
    """Boundaries from `low` to `high` (both included, and every anchor between them) with no
    boundary more than `max_ratio` times the one before: between two anchors, the fewest
    geometric steps that keep every ratio in bounds after rounding."""
    if not 0 < low < high or max_ratio <= 1:
        raise ValueError(f"need 0 < low < high and max_ratio > 1 (got {low}, {high}, {max_ratio})")
    points = sorted({low, high, *(a for a in anchors if low < a < high)})
    out = [points[0]]
    for a, b in zip(points, points[1:], strict=False):
        steps = max(1, math.ceil(math.log(b / a) / math.log(max_ratio)))
        while True:
            inner = [_round(a * (b / a) ** (i / steps)) for i in range(1, steps)]
            chain = [a, *inner, b]
            pairs = zip(chain, chain[1:], strict=False)
            if all(y / x <= max_ratio + 1e-12 and y > x for x, y in pairs):
                break
            steps += 1
        out += chain[1:]
    return tuple(out)


DEFAULT_BUCKETS = (*BELOW_S, *layout(DENSE_LOW_S, DENSE_HIGH_S, ANCHORS_S), *ABOVE_S)
# The layout before issue 15, kept to measure the new one against (`make bench-app`).
COARSE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75,
                  1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
