"""Numbers and times as the judge prints and reads them, and `le` labels as clients spell them.

(Durations are harness_common.durations, the one parser of the harness.)
"""

import math
from datetime import datetime
from decimal import Decimal


def format_number(value: float) -> str:
    """A float without noise: 0.3 -> "0.3", 14.4 -> "14.4", 1.0 -> "1"."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    text = f"{value:.10g}"
    if "e" in text:
        text = repr(float(value))
    return text


def go_float(value: float) -> str:
    """A float as Go's strconv.FormatFloat(v, 'g', -1, 64) writes it (client_golang's `le`):
    the shortest digits, with an exponent below 1e-4 and from 1e6 up: 0.3 -> "0.3", 1.0 ->
    "1", 1e6 -> "1e+06", 3.6e6 -> "3.6e+06"."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    if value == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(float(value))).normalize().as_tuple()
    text = "".join(map(str, digits))
    point = len(digits) + exponent            # digits before the decimal point
    head = "-" if sign else ""
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{head}{mantissa}e{'-' if point - 1 < 0 else '+'}{abs(point - 1):02d}"
    if point <= 0:
        return f"{head}0.{'0' * -point}{text}"
    if point >= len(text):
        return head + text + "0" * (point - len(text))
    return f"{head}{text[:point]}.{text[point:]}"


def le_label_variants(seconds: float) -> tuple[str, ...]:
    """Every way a histogram bucket boundary is spelled in the `le` label.

    Envoy writes a million as "1000000", the Python client 1 as "1.0" (and a million as
    "1e+06"), Go clients 1 as "1" and a million as "1e+06"; Prometheus 3 normalises each to its
    float format ("1.0", "0.3", "1e+06"). Prometheus keeps each spelling as its own series, so
    an exact bucket matcher must accept every one.
    """
    go = go_float(seconds)
    prometheus3 = go if "." in go or "e" in go else go + ".0"
    spellings = (format_number(seconds), repr(float(seconds)), go, prometheus3)
    return tuple(dict.fromkeys(spellings))


def parse_rfc3339(value: str | None) -> float | None:
    """RFC 3339 (Prometheus/Grafana, nanoseconds allowed) -> Unix seconds; None when unset."""
    if not value or value.startswith("0001-01-01"):
        return None
    text = value.replace("Z", "+00:00")
    if "." in text:  # Python parses at most 6 fractional digits
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits):]
        text = f"{head}.{digits[:6]}{zone}"
    return datetime.fromisoformat(text).timestamp()


def share_text(share: float | None) -> str:
    """A share as a percentage: 0.0123 -> '1.23%'; a tiny one keeps its digits (a short run
    spends little of a month's budget: 0.00004 -> '0.004%'); None -> '—'."""
    if share is None:
        return "—"
    pct = share * 100
    return f"{pct:.2f}%" if abs(pct) >= 0.01 or pct == 0 else f"{pct:.2g}%"
