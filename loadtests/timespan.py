"""Durations written the way Locust writes them: "90", "90s", "2m", "1h30m", "1m30.5s".

Kept free of Locust imports (importing locust monkey-patches the process with gevent), so the
CLI, the schedule validator and the SLO checker can use it.
"""

import math
import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(h|m|s)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(value) -> float:
    """Seconds in `value` (a number of seconds, or a string like "1m30s"); ValueError if not."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 30, '30s', '2m' or '1h30m' (got {value!r})")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite duration (got {value!r})")
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a duration like 30, '30s', '2m' or '1h30m' (got {value!r})")
    text = value.strip().lower()
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("+-").strip()
    try:
        return sign * float(text)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"expected a duration like 30, '30s', '2m' or '1h30m' (got {value!r})")
    return sign * total


def format_duration(seconds: float) -> str:
    """A compact label for a number of seconds: 45 -> "45s", 90 -> "1m30s", 0.5 -> "0.5s"."""
    if seconds != int(seconds) or seconds < 60:
        return f"{seconds:g}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return "".join(f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n)
