"""What a histogram's buckets prove: pure functions on cumulative bucket counts.

A classic histogram knows, for each upper bound `le`, how many observations were at most that
long. A quantile is only known to lie in one bucket (lo, hi]; histogram_quantile() picks a
point inside it by linear interpolation, which can be far from the truth (a 500-750 ms bucket
makes any p95 in it look like ~734 ms). So the judge shows the bucket beside every quantile,
and judges a threshold that is not a bucket bound only when the whole bucket lies on one side
of it.

A quantile whose rank lies in the +Inf bucket is only known to be above the top finite bound
(histogram_quantile() answers that bound itself there): it is shown as "> 250 ms" and judged as
"above", never as the bound. A bound is the same bucket however its `le` is spelled ("1" from
Go clients and Envoy, "1.0" from the Python client and Prometheus 3, "1e+06" for a million):
the labels are compared as numbers, and one bound's counts under two spellings add up.

    b = Buckets.from_samples([({"le": "0.25"}, 90.0), ({"le": "+Inf"}, 100.0)], scale_s=1.0)
    quantile_bounds(b, 0.95) -> (0.25, inf)  above 250 ms: format_above(0.25, "s") -> "> 250 ms"
    share_bounds(b, 0.3)     -> (0.9, 1.0)   share of observations <= 300 ms
    format_bounds(0.5, 0.75, "s") -> "500–750 ms bucket"
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Buckets:
    """Cumulative counts per upper bound (seconds), ascending, the last one +Inf."""

    bounds: tuple[tuple[float, float], ...]

    @classmethod
    def from_samples(cls, samples, scale_s: float = 1.0) -> Buckets:
        """From `sum by (le)` samples ((labels, value) pairs or objects with .labels/.value):
        the counts of one bound spelled two ways ("1" and "1.0": `sum by (le)` keeps them
        apart) added up, and made monotonic, as histogram_quantile() does."""
        counts: dict[float, float] = {}
        for sample in samples:
            labels, value = ((sample.labels, sample.value) if hasattr(sample, "labels")
                             else sample)
            try:
                upper = float(labels["le"])
            except (KeyError, TypeError, ValueError):
                continue
            if math.isnan(value):
                continue
            upper = upper if math.isinf(upper) else upper * scale_s
            counts[upper] = counts.get(upper, 0.0) + value
        out, running = [], 0.0
        for upper, count in sorted(counts.items()):
            running = max(running, count)
            out.append((upper, running))
        return cls(tuple(out))

    @property
    def total(self) -> float:
        """Observations in all buckets (the +Inf bucket's count)."""
        return self.bounds[-1][1] if self.bounds and math.isinf(self.bounds[-1][0]) else 0.0

    @property
    def usable(self) -> bool:
        """True with a +Inf bucket, another bucket and observations."""
        return len(self.bounds) >= 2 and math.isinf(self.bounds[-1][0]) and self.total > 0

    def has(self, seconds: float) -> bool:
        """True when `seconds` is one of the upper bounds."""
        return any(abs(upper - seconds) <= _TOLERANCE * max(1.0, seconds)
                   for upper, _ in self.bounds)

    def uppers(self) -> tuple[float, ...]:
        """The finite upper bounds, ascending."""
        return tuple(u for u, _ in self.bounds if not math.isinf(u))


def rank_bucket(buckets: Buckets, q: float) -> int | None:
    """The index of the bucket that holds the q-quantile's rank, as histogram_quantile() finds
    it (the first whose cumulative count reaches q * total); None when nothing is usable."""
    if not buckets.usable:
        return None
    rank = q * buckets.total
    return next((i for i, (_, count) in enumerate(buckets.bounds) if count >= rank), None)


def quantile_bounds(buckets: Buckets, q: float) -> tuple[float, float] | None:
    """The bucket (lo, hi] that holds the q-quantile, as histogram_quantile() finds it."""
    i = rank_bucket(buckets, q)
    if i is None:
        return None
    upper = buckets.bounds[i][0]
    if math.isinf(upper):
        return (buckets.bounds[i - 1][0], math.inf)
    lower = buckets.bounds[i - 1][0] if i else (0.0 if upper > 0 else upper)
    return (lower, upper)


def share_bounds(buckets: Buckets, seconds: float) -> tuple[float, float] | None:
    """Bounds on the share of observations <= `seconds` (exact when it is a bucket bound)."""
    if not buckets.usable:
        return None
    total = buckets.total
    below, above = 0.0, total
    for upper, count in buckets.bounds:
        if upper <= seconds + _TOLERANCE * max(1.0, seconds):
            below = count
        if upper >= seconds - _TOLERANCE * max(1.0, seconds):
            above = count
            break
    return (below / total, above / total)


def format_bounds(low: float, high: float, unit: str) -> str:
    """Bounds as people read them: "500–750 ms bucket", "+Inf bucket, above 10 s",
    "93.10–97.20%"."""
    if unit == "ratio":
        return f"{low * 100:.2f}–{high * 100:.2f}%"
    if unit != "s":
        return f"{low:g}–{high:g}"
    if math.isinf(high):
        return f"+Inf bucket, above {format_seconds(low)}"
    if high < 10:
        return f"{_ms(low)}–{_ms(high)} ms bucket"
    return f"{low:g}–{high:g} s bucket"


def format_above(low: float, unit: str) -> str:
    """A value only known to lie above `low` (a quantile in the +Inf bucket): "> 300 ms"."""
    return f"> {format_seconds(low)}" if unit == "s" else f"> {low:g}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.10g}"


def format_seconds(seconds: float) -> str:
    """A duration as the bucket texts show it: "300 ms", "30 s"."""
    return f"{_ms(seconds)} ms" if seconds < 10 else f"{seconds:g} s"
