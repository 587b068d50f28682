"""Durations as people write them: the one parser of the harness.

Two policies over one grammar (a number and a unit, repeated: "1h30m", "1m30.5s", "300ms"):

    parse_duration("1m30.5s") -> 90.5   load tests, schedules (Locust's way): bare numbers are
                                        seconds, fractions and a sign are allowed
    whole_seconds("1h12m")    -> 4320   specs (Prometheus' way): a string with units, whole
                                        numbers, at least one part, never negative

Units: w, d, h, m, s and ms. Kept free of heavy imports (Locust monkey-patches with gevent) so
every part can use it.
"""

import math
import re

SECOND = 1
MINUTE = 60
HOUR = 3600
DAY = 86400
WEEK = 7 * DAY

_UNITS = {"w": WEEK, "d": DAY, "h": HOUR, "m": MINUTE, "s": SECOND, "ms": 0.001}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|w|d|h|m|s)")
_PLAIN = re.compile(r"\d+(?:\.\d+)?")
LOOSE_EXAMPLE = "expected a duration like 30, '30s', '2m' or '1h30m'"
STRICT_EXAMPLE = "must be a duration like '30d', '1h30m' or '20s'"
MAX_DIGITS = 12


def _parts(text: str) -> list[tuple[str, str]] | None:
    """The (number, unit) parts of `text` written back to back, or None when it is not that."""
    pos, parts = 0, []
    for match in _PART.finditer(text):
        if match.start() != pos or len(match.group(1)) > MAX_DIGITS:
            return None
        parts.append((match.group(1), match.group(2)))
        pos = match.end()
    return parts if parts and pos == len(text) else None


def parse_duration(value) -> float:
    """Seconds in `value`: a number of seconds, "90", "-5s" or "1m30.5s"; ValueError if not."""
    if isinstance(value, bool):
        raise ValueError(f"{LOOSE_EXAMPLE} (got {value!r})")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite duration (got {value!r})")
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{LOOSE_EXAMPLE} (got {value!r})")
    text = value.strip().lower()
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("+-").strip()
    if _PLAIN.fullmatch(text) and len(text) <= MAX_DIGITS:
        return sign * float(text)
    parts = _parts(text)
    if parts is None:
        raise ValueError(f"{LOOSE_EXAMPLE} (got {value!r})")
    return sign * sum(float(number) * _UNITS[unit] for number, unit in parts)


def whole_seconds(text) -> int:
    """Whole seconds of a Prometheus-style duration: "30d", "6h", "1h30m", "20s", "0s"."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{STRICT_EXAMPLE} (got {text!r})")
    parts = _parts(text.strip())
    if parts is None or any("." in number for number, _ in parts):
        raise ValueError(f"{STRICT_EXAMPLE} (got {text!r})")
    seconds = sum(int(number) * _UNITS[unit] for number, unit in parts)
    if seconds != int(seconds):  # "1500ms" is whole, "1ms" is not
        raise ValueError(f"{STRICT_EXAMPLE}, in whole seconds (got {text!r})")
    return int(seconds)


def format_duration(seconds: float) -> str:
    """The shortest readable duration: 4320 -> "1h12m", 86400 -> "1d", 0.5 -> "0.5s", -5 -> "-5s".

    Whole seconds print as a Prometheus duration that whole_seconds() reads back.
    """
    if not math.isfinite(seconds):
        raise ValueError(f"not a finite duration: {seconds!r}")
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds == 0:
        return "0s"
    whole = int(seconds)
    fraction = seconds - whole
    parts = []
    for suffix, size in (("d", DAY), ("h", HOUR), ("m", MINUTE)):  # "4w2d" reads worse than "30d"
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{suffix}")
    rest = whole + fraction
    if rest:
        parts.append(f"{rest:g}s")
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
