"""The one Prometheus adapter of the harness: queries, status and rules, with a bounded retry.

    prom = Prometheus(url)
    prom.query(expr, at), prom.query_range(expr, start, end, step_s), prom.scalar(expr, at)
    prom.intervals(job)   scrape interval of a job and the rule evaluation interval
    prom.started_at()     when Prometheus started (its TSDB holds nothing before)
    prom.rules()          /api/v1/rules?type=alert (the alert tracker's poll)

Queries go through prometheus-api-client. Every failure becomes a PrometheusError naming the
URL and what went wrong, after at most `attempts` tries (backoff 0.5 s, 1 s, ...), so a check
that cannot reach Prometheus ends within a known budget (exit 2), never hangs.
"""

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import requests
import urllib3
import yaml
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from urllib3.util.retry import Retry

from harness_common.durations import parse_duration
from slo.errors import PrometheusError
from slo.units import parse_rfc3339


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
class Intervals:
    """Scrape interval of the app's job and the global rule evaluation interval (seconds)."""

    scrape_s: float
    eval_s: float


DEFAULT_INTERVALS = Intervals(5.0, 5.0)


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
        self._session = requests.Session()

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

    def get_json(self, path: str, params: dict | None = None) -> dict:
        """The `data` of a successful answer from an API path such as /api/v1/status/config."""
        def fetch() -> dict:
            resp = self._session.get(self.url + path, params=params, timeout=self.timeout)
            payload = resp.json()
            if payload.get("status") != "success":
                raise ValueError(f"status {payload.get('status')!r}: {payload.get('error')}")
            return payload["data"]
        return self._call(f"GET {path}", fetch)

    def rules(self) -> dict:
        """Every alerting rule with its active alerts (/api/v1/rules?type=alert), as `data`."""
        return self.get_json("/api/v1/rules", {"type": "alert"})

    def intervals(self, job: str, default: Intervals = DEFAULT_INTERVALS) -> Intervals:
        """The intervals of the running config; `default` when they cannot be read."""
        try:
            config = yaml.safe_load(self.get_json("/api/v1/status/config")["yaml"]) or {}
            glob = config.get("global", {})
            scrape = glob.get("scrape_interval", f"{default.scrape_s:g}s")
            for scrape_config in config.get("scrape_configs", []):
                if scrape_config.get("job_name") == job:
                    scrape = scrape_config.get("scrape_interval", scrape)
            evaluation = glob.get("evaluation_interval", f"{default.eval_s:g}s")
            return Intervals(parse_duration(scrape), parse_duration(evaluation))
        except (PrometheusError, KeyError, TypeError, ValueError, AttributeError, yaml.YAMLError):
            return default

    def started_at(self) -> float | None:
        """When this Prometheus started (its TSDB holds no data before), or None."""
        try:
            return parse_rfc3339(self.get_json("/api/v1/status/runtimeinfo")["startTime"])
        except (PrometheusError, KeyError, TypeError, ValueError):
            return None
