"""The compact objective syntax, in the style of k6 thresholds.

    p(95) <= 300ms        latency percentile     (p(99.9) < 1s)
    rate >= 5/s           request rate           (rate <= 600/m)
    ratio <= 1%           error ratio            (ratio < 0.01)
    availability >= 99%   availability           (availability > 0.995)

parse_compact() returns a Compact: the SLI kind, its parameter (the percentile) and the bound
in base units (seconds, ratio, per second). It raises ValueError saying what is expected.
"""

import math
import re
from dataclasses import dataclass

from slo.spec.model import Kind, Op

EXAMPLES = '"p(95) <= 300ms", "rate >= 5/s", "ratio <= 1%" or "availability >= 99%"'
_EXPR = re.compile(
    r"\s*(?P<sli>p\(\s*(?P<pct>[0-9]+(?:\.[0-9]+)?)\s*\)|rate|ratio|availability)"
    r"\s*(?P<op><=|>=|<|>)\s*(?P<num>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>ms|s|%|/s|/m)?\s*"
)
_DIRECTIONS = {
    "latency_percentile": ("<", "<="),
    "error_ratio": ("<", "<="),
    "availability": (">", ">="),
    "request_rate": ("<", "<=", ">", ">="),
}
MAX_LATENCY_S = 3600.0
MAX_RATE = 1e6


@dataclass(frozen=True)
class Compact:
    """A parsed compact objective."""

    kind: Kind
    op: Op
    value: float  # seconds, ratio or per second
    percentile: float | None = None  # for p(N)


def _ratio(num: float, unit: str | None, text: str) -> float:
    if unit == "%":
        value = round(num / 100.0, 12)  # as slo.spec does for *_percent: no float noise
    elif unit is None:
        value = num
    else:
        raise ValueError(f"a ratio takes '%' or a plain fraction like 0.01 (got {text!r})")
    if not 0.0 < value < 1.0:
        raise ValueError(f"a ratio must be between 0% and 100%, exclusive (got {text!r})")
    return value


def parse_compact(text: str) -> Compact:
    """Parse one compact objective; ValueError names what is wrong and shows the syntax."""
    if not isinstance(text, str):
        raise ValueError(f"must be a string like {EXAMPLES} (got {text!r})")
    match = _EXPR.fullmatch(text)
    if match is None:
        raise ValueError(f"cannot parse {text[:100]!r}; write e.g. {EXAMPLES}")
    sli, op, unit = match["sli"], match["op"], match["unit"]
    num = float(match["num"])
    if not math.isfinite(num):
        raise ValueError(f"the number must be finite (got {text!r})")
    if sli.startswith("p("):
        kind, percentile = "latency_percentile", float(match["pct"])
        if not 0.0 < percentile < 100.0:
            raise ValueError(f"the percentile must be between 0 and 100, exclusive (got {text!r})")
        if unit not in ("ms", "s"):
            raise ValueError(f"a latency needs a unit, 'ms' or 's', e.g. 'p(95) <= 300ms' "
                             f"(got {text!r})")
        value = num / 1000.0 if unit == "ms" else num
        if not 0.0 < value <= MAX_LATENCY_S:
            raise ValueError(f"the latency must be > 0 and at most 1 hour (got {text!r})")
    else:
        kind, percentile = {"rate": "request_rate", "ratio": "error_ratio",
                            "availability": "availability"}[sli], None
        if kind == "request_rate":
            if unit not in ("/s", "/m"):
                raise ValueError(f"a rate needs a unit, '/s' or '/m', e.g. 'rate >= 5/s' "
                                 f"(got {text!r})")
            value = num if unit == "/s" else num / 60.0
            if not 0.0 < value <= MAX_RATE:
                raise ValueError(f"the rate must be > 0 and at most 1e6/s (got {text!r})")
        else:
            value = _ratio(num, unit, text)
    if op not in _DIRECTIONS[kind]:
        allowed = " or ".join(_DIRECTIONS[kind])
        raise ValueError(f"{sli} takes {allowed} here, as the bound a good service stays on the "
                         f"right side of (got {text!r})")
    return Compact(kind=kind, op=op, value=value, percentile=percentile)
