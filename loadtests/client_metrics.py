"""The load generator's view of the requests, in Prometheus form (served on Locust's /metrics).

    locust_client_requests_total{method,name,result}        counter; result is success|failure
    locust_client_request_duration_seconds{method,name}     histogram, same buckets as the app's
                                                            (target_app.config.DEFAULT_BUCKETS)
    locust_users                                             gauge: users running now

`name` is Locust's request name (ids grouped, e.g. /api/projects/[id]), so the label set stays
small. Next to the app's app_request_duration_seconds, the gap between the two histograms is the
time a request spent outside the app's handler: queueing, connection set-up, the network.

Values are process-lifetime counters (they do not reset when a new test starts). In distributed
mode the workers see the requests: each worker ships the increments since its last report with
Locust's worker report (report_to_master), the master merges them (worker_report), so the
master's /metrics is the sum over all workers. The master's series lag by up to one report
interval (3 s).

This module is pure (no Locust import); harness.py wires it to Locust's events.
"""

from bisect import bisect_left

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)

from harness_common.buckets import DEFAULT_BUCKETS

REPORT_KEY = "slo_harness_client_metrics"


class ClientMetrics:
    """Request counts and latency histograms keyed by label values; mergeable across processes."""

    def __init__(self, buckets=DEFAULT_BUCKETS):
        self.buckets = tuple(sorted(float(b) for b in buckets))
        self._requests: dict[tuple[str, str, str], int] = {}
        # (method, name) -> [per-bucket counts (last one is +Inf), sum of seconds]
        self._durations: dict[tuple[str, str], list] = {}

    def observe(self, method: str, name: str, ok: bool, seconds: float) -> None:
        """Count one request and its duration."""
        key = (method, name, "success" if ok else "failure")
        self._requests[key] = self._requests.get(key, 0) + 1
        hist = self._durations.setdefault((method, name), [[0] * (len(self.buckets) + 1), 0.0])
        hist[0][bisect_left(self.buckets, seconds)] += 1
        hist[1] += seconds

    def snapshot(self) -> dict:
        """The current values as plain lists (msgpack/JSON friendly)."""
        return {
            "buckets": list(self.buckets),
            "requests": [[*key, count] for key, count in self._requests.items()],
            "durations": [[*key, list(counts), total]
                          for key, (counts, total) in self._durations.items()],
        }

    def drain(self) -> dict | None:
        """Values since the last drain, then restart from zero (a worker's report); None if idle."""
        if not self._requests:
            return None
        data = self.snapshot()
        self._requests.clear()
        self._durations.clear()
        return data

    def merge(self, data: dict | None) -> None:
        """Add another process's snapshot or drained increments."""
        if not data:
            return
        if tuple(float(b) for b in data["buckets"]) != self.buckets:
            raise ValueError("client metrics from a worker use different histogram buckets")
        for method, name, result, count in data["requests"]:
            key = (method, name, result)
            self._requests[key] = self._requests.get(key, 0) + int(count)
        for method, name, counts, total in data["durations"]:
            hist = self._durations.setdefault((method, name),
                                              [[0] * (len(self.buckets) + 1), 0.0])
            hist[0] = [a + int(b) for a, b in zip(hist[0], counts, strict=True)]
            hist[1] += float(total)

    def families(self):
        """Prometheus metric families for the current values."""
        requests = CounterMetricFamily("locust_client_requests",
                                       "Requests the load generator made, by outcome",
                                       labels=["method", "name", "result"])
        for (method, name, result), count in sorted(self._requests.items()):
            requests.add_metric([method, name, result], count)
        durations = HistogramMetricFamily("locust_client_request_duration_seconds",
                                          "Response time seen by the load generator",
                                          labels=["method", "name"])
        for (method, name), (counts, total) in sorted(self._durations.items()):
            cumulative, running = [], 0
            for bound, count in zip(self.buckets, counts, strict=False):
                running += count
                cumulative.append((_le(bound), running))
            cumulative.append(("+Inf", running + counts[-1]))
            durations.add_metric([method, name], cumulative, sum_value=total)
        return [requests, durations]


def _le(bound: float) -> str:
    """Bucket label the way prometheus_client writes it (0.1 -> "0.1", 1.0 -> "1.0")."""
    return repr(float(bound))


class _Collector:
    """Adapter: ClientMetrics (+ a user-count callback) as a prometheus_client collector."""

    def __init__(self, metrics: ClientMetrics, user_count):
        self.metrics = metrics
        self.user_count = user_count

    def collect(self):
        yield from self.metrics.families()
        yield GaugeMetricFamily("locust_users", "Users the load generator runs now",
                                value=float(self.user_count()))


def build_registry(metrics: ClientMetrics, user_count=lambda: 0) -> CollectorRegistry:
    """An own registry (never the global one) exposing `metrics` and the user count."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(metrics, user_count))
    return registry
