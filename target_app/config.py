"""App configuration: defaults, plus the one place that reads the environment (at start-up).

`create_app(config)` never reads the environment itself (flaskr style); `wsgi.py` and the
gunicorn config call `config_from_env()` when a server starts.
"""

import os

from harness_common.buckets import DEFAULT_BUCKETS
from harness_common.errors import HarnessError

DEFAULT_THREADS = 32


def fault_max_held(threads: int) -> int:
    """Requests faults may hold with `threads` worker threads: all but a reserve of one in
    eight (at least 2) for the paths that are never faulted."""
    return max(1, threads - max(2, threads // 8))


DEFAULTS = {
    "APP_VERSION": "0.1.0",
    # "Simulated processing": every app page waits a uniform random time in this range (ms).
    "BASELINE_DELAY_MS": (5, 50),
    "LATENCY_BUCKETS": DEFAULT_BUCKETS,
    # Without a token the admin API is closed (403 telling how to enable it).
    "FAULT_ADMIN_TOKEN": None,
    # Admin request bodies are small JSON documents; anything larger is refused with 413.
    "MAX_CONTENT_LENGTH": 16 * 1024,
    # Turn the RED instrumentation off (benchmark baseline only; /metrics stays up).
    "INSTRUMENTATION": True,
    # Requests faults may hold (sleep in) at once; the rest of the threads stay free for
    # /metrics, /health and /admin. From APP_THREADS at start-up (see fault_max_held).
    "FAULT_MAX_HELD": fault_max_held(DEFAULT_THREADS),
}


def _parse_range(name: str, raw: str) -> tuple[int, int]:
    """Parse "5-50" (or "0") into a (low, high) millisecond range."""
    try:
        parts = [int(p) for p in raw.split("-")]
    except ValueError as err:
        raise HarnessError(f"{name}: expected 'LOW-HIGH' milliseconds, e.g. '5-50' "
                           f"(got {raw!r})") from err
    low, high = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    if len(parts) > 2 or low < 0 or high < low or high > 10_000:
        raise HarnessError(f"{name}: expected 0 <= LOW <= HIGH <= 10000 ms (got {raw!r})")
    return low, high


def _parse_buckets(raw: str) -> tuple[float, ...]:
    """Parse a comma-separated list of bucket boundaries in seconds."""
    try:
        values = sorted({float(v) for v in raw.split(",") if v.strip()})
    except ValueError as err:
        raise HarnessError(f"APP_LATENCY_BUCKETS: expected seconds like '0.1,0.3,1' "
                           f"(got {raw!r})") from err
    if not values or values[0] <= 0:
        raise HarnessError(f"APP_LATENCY_BUCKETS: needs positive boundaries (got {raw!r})")
    return tuple(values)


def config_from_env(environ=None) -> dict:
    """Build the app config from environment variables (called once, at server start)."""
    env = os.environ if environ is None else environ
    config = {}
    if env.get("FAULT_ADMIN_TOKEN"):
        config["FAULT_ADMIN_TOKEN"] = env["FAULT_ADMIN_TOKEN"]
    if "APP_BASELINE_DELAY_MS" in env:
        config["BASELINE_DELAY_MS"] = _parse_range("APP_BASELINE_DELAY_MS",
                                                   env["APP_BASELINE_DELAY_MS"])
    if "APP_LATENCY_BUCKETS" in env:
        config["LATENCY_BUCKETS"] = _parse_buckets(env["APP_LATENCY_BUCKETS"])
    if "APP_THREADS" in env:
        try:
            threads = int(env["APP_THREADS"])
        except ValueError:
            threads = 0
        if not 3 <= threads <= 1000:
            raise HarnessError(f"APP_THREADS: expected a whole number of threads from 3 to 1000 "
                               f"(got {env['APP_THREADS']!r})")
        config["FAULT_MAX_HELD"] = fault_max_held(threads)
    if env.get("APP_INSTRUMENTATION", "1").lower() in ("0", "false", "off", "no"):
        config["INSTRUMENTATION"] = False
    return config
