"""The one Prometheus adapter of the judge: instant and range queries with a bounded retry.

Built on prometheus-api-client. Every failure becomes a PrometheusError naming the URL and
what went wrong, after at most `attempts` tries (backoff 0.5 s, 1 s, ...), so a check that
cannot reach Prometheus ends within a known budget (exit 2), never hangs.
"""

import math
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import requests
import urllib3
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from urllib3.util.retry import Retry

from slo.errors import PrometheusError
from target_app.client import read_stack_env


def resolve_prometheus_url(explicit: str | None = None, environ=None) -> str:
    """--prometheus, else PROMETHEUS_URL, else .stack/env, else 127.0.0.1:$PROMETHEUS_PORT."""
    env = os.environ if environ is None else environ
    return (explicit or env.get("PROMETHEUS_URL")
            or read_stack_env(env.get("STACK_DIR")).get("PROMETHEUS_URL")
            or f"http://127.0.0.1:{env.get('PROMETHEUS_PORT', '9090')}").rstrip("/")


def _reason(err: Exception | None) -> str:
    """A short reason: the exception type, plus the message of non-connection errors."""
    # With urllib3 retries at 0, a read timeout arrives as a ConnectionError wrapping
    # MaxRetryError(reason=ReadTimeoutError): look at the cause before calling it "refused".
    cause = getattr(err.args[0], "reason", None) if err is not None and err.args else None
    if isinstance(err, requests.Timeout) or isinstance(cause, urllib3.exceptions.TimeoutError):
        return "timed out"
    if isinstance(err, requests.ConnectionError):
        return "connection refused or reset"
    if isinstance(err, KeyError | TypeError | ValueError | IndexError | AttributeError):
        return ("the answer is not a Prometheus API response (is the URL Prometheus's, "
                "not another service's?)")
    return f"{type(err).__name__}: {str(err)[:200]}"


@dataclass(frozen=True)
class Sample:
    """One series of an instant-query answer: its labels and float value (may be NaN)."""

    labels: dict
    value: float


class Prometheus:
    """Queries one Prometheus; thread-safe for the checker's concurrent queries."""

    def __init__(self, url: str, timeout: float = 5.0, attempts: int = 3):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.attempts = max(1, attempts)
        # no urllib3-level retries: this class owns the retry budget
        self._api = PrometheusConnect(url=self.url, disable_ssl=True, timeout=timeout,
                                      retry=Retry(total=0, raise_on_status=False))

    def _call(self, what: str, fn, *args, **kwargs):
        last = None
        for attempt in range(self.attempts):
            try:
                return fn(*args, **kwargs)
            except PrometheusApiClientException as err:
                text = str(err)
                if "HTTP Status Code 400" in text or "HTTP Status Code 422" in text:
                    raise PrometheusError(f"Prometheus at {self.url} rejected {what}: "
                                          f"{text[:300]}") from err
                last = err
            except requests.RequestException as err:
                last = err  # the URL with the query is in str(err): too long to repeat
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
                last = err  # 200 with JSON of another shape: not Prometheus (or a broken proxy)
            if attempt + 1 < self.attempts:
                time.sleep(0.5 * 2**attempt)
        raise PrometheusError(
            f"Prometheus at {self.url} did not answer {what} after {self.attempts} tries "
            f"(timeout {self.timeout:g}s each): {_reason(last)}. "
            f"Is it running? (make stack-status; or set PROMETHEUS_URL)") from last

    def query(self, expr: str, at: float) -> list[Sample]:
        """Instant query evaluated at unix time `at`."""
        return self._call("a query", lambda: [
            Sample(r.get("metric", {}), float(r["value"][1]))
            for r in self._api.custom_query(expr, params={"time": f"{at:.3f}"})])

    def query_range(self, expr: str, start: float, end: float, step_s: int) -> list[dict]:
        """Range query; returns [{"metric": {...}, "values": [(t, float), ...]}, ...]."""
        return self._call("a range query", lambda: [
            {"metric": r.get("metric", {}),
             "values": [(float(t), float(v)) for t, v in r.get("values", [])]}
            for r in self._api.custom_query_range(
                expr, start_time=datetime.fromtimestamp(start, UTC),
                end_time=datetime.fromtimestamp(end, UTC), step=f"{int(step_s)}s")])

    def scalar(self, expr: str, at: float) -> float | None:
        """The single value of an instant query, or None for no samples / NaN."""
        samples = self.query(expr, at)
        if not samples:
            return None
        value = samples[0].value
        return None if math.isnan(value) else value

    def ready(self) -> bool:
        """True when Prometheus answers its readiness endpoint."""
        try:
            return requests.get(self.url + "/-/ready", timeout=self.timeout).ok
        except requests.RequestException:
            return False
