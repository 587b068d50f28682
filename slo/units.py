"""Durations and numbers as people write them in specs and PromQL ("30d", "1h12m", "300ms").

Pure functions; they raise ValueError with a message that the spec loader puts after the
field path, so each message says what is expected.
"""

import math
import re

SECOND = 1
MINUTE = 60
HOUR = 3600
DAY = 86400
WEEK = 7 * DAY

_UNITS = {"w": WEEK, "d": DAY, "h": HOUR, "m": MINUTE, "s": SECOND}
_DURATION = re.compile(
    r"(?:(\d{1,6})w)?(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,6})s)?"
)


def parse_duration(text: str) -> int:
    """Whole seconds of a Prometheus-style duration: "30d", "6h", "1h30m", "20s", "0s"."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"must be a duration like '30d', '1h30m' or '20s' (got {text!r})")
    match = _DURATION.fullmatch(text.strip())
    if match is None or not any(match.groups()):
        raise ValueError(f"must be a duration like '30d', '1h30m' or '20s' (got {text!r})")
    return sum(int(n) * unit for n, unit in zip(match.groups(), _UNITS.values(), strict=True) if n)


def format_duration(seconds: int) -> str:
    """The shortest Prometheus duration for whole `seconds`: 4320 -> "1h12m", 86400 -> "1d"."""
    if seconds < 0 or seconds != int(seconds):
        raise ValueError(f"duration must be whole non-negative seconds (got {seconds!r})")
    seconds = int(seconds)
    if seconds == 0:
        return "0s"
    parts = []
    for suffix, size in _UNITS.items():
        if suffix == "w":  # "4w2d" reads worse than "30d"
            continue
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{suffix}")
    return "".join(parts)


def humanize_seconds(seconds: float) -> str:
    """A rounded, readable duration for messages: 180000 -> "2d 2h", 8.64 -> "8.6s"."""
    if seconds < 60:
        return f"{seconds:.1f}s".replace(".0s", "s")
    whole = int(round(seconds))
    parts = []
    for suffix, size in (("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", SECOND)):
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{suffix}")
    return " ".join(parts[:2])


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
