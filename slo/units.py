"""Numbers and times as the judge prints and reads them, and `le` labels as clients spell them.

(Durations are harness_common.durations, the one parser of the harness.)
"""

import math
from datetime import datetime


def format_number(value: float) -> str:
    """A float without noise: 0.3 -> "0.3", 14.4 -> "14.4", 1.0 -> "1"."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    text = f"{value:.10g}"
    if "e" in text:
        text = repr(float(value))
    return text


def le_label_variants(seconds: float) -> tuple[str, ...]:
    """How a histogram bucket boundary shows in the `le` label.

    Go clients write 1 as "1", the Python client as "1.0" (Prometheus 3 normalises both), so an
    exact bucket matcher must accept each spelling.
    """
    go = format_number(seconds)
    python = repr(float(seconds))
    return (go,) if go == python else (go, python)


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
