"""The one Prometheus adapter of the harness: queries, status and rules, with a bounded retry.

    prom = Prometheus(url)
    prom.query(expr, at), prom.query_range(expr, start, end, step_s), prom.scalar(expr, at)
    prom.label_names(match, start, end)   label names of the series a selector matches
    prom.label_values(label, match, start, end)   that label's values on those series
    prom.intervals(job)   scrape interval of a job and the rule evaluation interval
    prom.started_at()     when this Prometheus process started (not where its data begins:
                          the TSDB is kept across restarts)
    prom.rules()          /api/v1/rules?type=alert (the alert tracker's poll)
    prom.backend()        which backend answers (Prometheus, VictoriaMetrics, ...): backend.py

Every failure becomes a PrometheusError naming the URL and what went wrong, after at most
`attempts` tries (backoff 0.5 s, 1 s, ...), so a check that cannot reach Prometheus ends
within a known budget (exit 2), never hangs. An answer that says it may be incomplete — API
`warnings` (Thanos, Cortex, Mimir: a store or shard did not answer), `isPartial` (VictoriaMetrics)
— raises PartialAnswerError naming the warning: a verdict on part of the data is no verdict.
(The HTTP API is read directly, with requests: prometheus-api-client drops `warnings`.)
"""

import math
import time
from dataclasses import dataclass

import requests
import urllib3
import yaml

from harness_common.durations import parse_duration
from slo.errors import PrometheusError
from slo.judge.backend import VICTORIAMETRICS, Backend, identify
from slo.units import parse_rfc3339


class PartialAnswerError(PrometheusError):
    """Prometheus (or a compatible backend) answered, but said the answer may be incomplete."""


class _Rejected(Exception):
    """HTTP 400/422: the query itself is wrong (never retried)."""


class _Status(Exception):
    """Another HTTP status than 200: retried, then reported with its code."""


def _reason(err: Exception | None) -> str:
    """A short reason: the exception type, plus the message of non-connection errors."""
    # With urllib3 retries at 0, a read timeout arrives as a ConnectionError wrapping
    # MaxRetryError(reason=ReadTimeoutError): look at the cause before calling it "refused".
    cause = getattr(err.args[0], "reason", None) if err is not None and err.args else None
    if isinstance(err, requests.Timeout) or isinstance(cause, urllib3.exceptions.TimeoutError):
        return "timed out"
    if isinstance(err, requests.ConnectionError):
        return "connection refused or reset"
    if isinstance(err, _Status):
        return str(err)
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
        self._session = requests.Session()
        # no urllib3-level retries: this class owns the retry budget
        self._session.mount("http://", requests.adapters.HTTPAdapter(max_retries=0,
                                                                     pool_maxsize=32))
        self._session.mount("https://", requests.adapters.HTTPAdapter(max_retries=0,
                                                                      pool_maxsize=32))
        self._backend: Backend | None = None

    def _api(self, path: str, params) -> dict:
        """The `data` of an API answer; _Rejected, _Status, ValueError or PartialAnswerError."""
        resp = self._session.get(self.url + path, params=params, timeout=self.timeout)
        if resp.status_code in (400, 422):
            try:
                detail = resp.json().get("error", resp.text)
            except ValueError:
                detail = resp.text
            raise _Rejected(f"HTTP {resp.status_code}: {str(detail)[:300]}")
        if resp.status_code != 200:
            raise _Status(f"HTTP status {resp.status_code}")
        payload = resp.json()
        if payload.get("status") != "success":
            raise ValueError(f"status {payload.get('status')!r}: {payload.get('error')}")
        warnings = [str(w)[:300] for w in payload.get("warnings") or []]
        if payload.get("isPartial") or payload.get("partial"):
            warnings.append("the backend marked the answer partial (isPartial)")
        if warnings:
            raise PartialAnswerError(
                f"Prometheus at {self.url} answered with warnings: {'; '.join(warnings[:5])} "
                "— the answer may be missing data, so it is not judged (exit 2); fix the "
                "backend (a store, shard or replica that did not answer) and check again")
        return payload["data"]

    def _call(self, what: str, fn, *args, **kwargs):
        last = None
        for attempt in range(self.attempts):
            try:
                return fn(*args, **kwargs)
            except _Rejected as err:
                raise PrometheusError(f"Prometheus at {self.url} rejected {what}: {err}") from err
            except _Status as err:
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
        def fetch() -> list[Sample]:
            data = self._api("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})
            if data["resultType"] == "scalar":
                return [Sample({}, float(data["result"][1]))]
            return [Sample(r.get("metric", {}), float(r["value"][1])) for r in data["result"]]
        return self._call("a query", fetch)

    def query_range(self, expr: str, start: float, end: float, step_s: int) -> list[dict]:
        """Range query; returns [{"metric": {...}, "values": [(t, float), ...]}, ...]."""
        def fetch() -> list[dict]:
            data = self._api("/api/v1/query_range", {
                "query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}",
                "step": f"{int(step_s)}s"})
            return [{"metric": r.get("metric", {}),
                     "values": [(float(t), float(v)) for t, v in r.get("values", [])]}
                    for r in data["result"]]
        return self._call("a range query", fetch)

    def label_names(self, match: str, start: float, end: float) -> list[str]:
        """Label names of the series `match` selects with samples in [start, end]."""
        def fetch() -> list[str]:
            data = self._api("/api/v1/labels", {"match[]": match, "start": f"{start:.3f}",
                                                "end": f"{end:.3f}"})
            return [str(name) for name in data]
        return self._call("a label names query", fetch)

    def label_values(self, label: str, match: str, start: float, end: float) -> list[str]:
        """Values of `label` on the series `match` selects with samples in [start, end]."""
        def fetch() -> list[str]:
            data = self._api(f"/api/v1/label/{label}/values",
                             {"match[]": match, "start": f"{start:.3f}", "end": f"{end:.3f}"})
            return [str(value) for value in data]
        return self._call("a label values query", fetch)

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
        return self._call(f"GET {path}", self._api, path, params)

    def rules(self) -> dict:
        """Every alerting rule with its active alerts (/api/v1/rules?type=alert), as `data`.

        VictoriaMetrics evaluates no rules itself and answers an empty list unless it proxies
        vmalert (-vmalert.proxyURL): that is refused, never read as "no alert fires"."""
        data = self.get_json("/api/v1/rules", {"type": "alert"})
        if not (data or {}).get("groups") and self.backend().name == VICTORIAMETRICS:
            raise PrometheusError(
                f"VictoriaMetrics at {self.url} lists no alerting rules: it evaluates none "
                "itself; run vmalert with the rule files and start VictoriaMetrics with "
                "-vmalert.proxyURL=<vmalert's URL> (make stack BACKEND=victoriametrics does)")
        return data

    def backend(self) -> Backend:
        """Which backend answers at this URL (asked once; one try each, never the retry
        budget): see slo/judge/backend.py."""
        if self._backend is None:
            def text(path: str) -> str | None:
                try:
                    resp = self._session.get(self.url + path, timeout=self.timeout)
                    return resp.text[:100_000] if resp.ok else None
                except requests.RequestException:
                    return None
            try:
                buildinfo = self._api("/api/v1/status/buildinfo", None)
            except (PrometheusError, _Rejected, _Status, requests.RequestException, KeyError,
                    TypeError, ValueError, AttributeError):
                buildinfo = None
            ready = text("/-/ready")
            flags = text("/flags") if ready and "VictoriaMetrics" in ready else None
            self._backend = identify(buildinfo, ready, flags)
        return self._backend

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
        """When this Prometheus process started, or None (one try: a compatible backend
        without the endpoint must not cost the retry budget). Not where its data begins: the
        TSDB is kept across restarts (the checker reads that from the data, see
        slo.judge.promql.data_begins)."""
        try:
            return parse_rfc3339(self._api("/api/v1/status/runtimeinfo", None)["startTime"])
        except (PrometheusError, _Rejected, _Status, requests.RequestException, KeyError,
                TypeError, ValueError, AttributeError):
            return None
