"""RED metrics for the app, in the app's own CollectorRegistry (never the global one).

    app_requests_total{method,endpoint,status}      counter
    app_request_duration_seconds{method,endpoint}   histogram (buckets from LATENCY_BUCKETS)
    app_requests_in_progress                        gauge
    app_fault_active{kind}                          gauge, 1 while a fault is on
    app_faults_injected_total{kind}                 counter, requests a fault was applied to
    app_faults_shed_total{kind}                     counter, faulted requests shed with 503
                                                    (the fault already held FAULT_MAX_HELD)
    + the default process, GC and platform collectors

`endpoint` is the route template (/api/projects/<project_id>); paths that match no route
share the label "<unmatched>", so a scanner cannot explode cardinality. Ratios (error ratio,
burn rate) are derived in PromQL, not by more counters.
"""

import time

from flask import g, request
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)

from harness_common.exposition import add_default_collectors, metrics_response
from harness_common.faults.routes import is_protected

UNMATCHED = "<unmatched>"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class AppMetrics:
    """The app's metric objects, all registered in one registry."""

    def __init__(self, registry: CollectorRegistry, buckets):
        self.registry = registry
        self.requests = Counter(
            "app_requests_total", "HTTP requests served.",
            ["method", "endpoint", "status"], registry=registry,
        )
        self.duration = Histogram(
            "app_request_duration_seconds", "HTTP request duration in seconds.",
            ["method", "endpoint"], buckets=buckets, registry=registry,
        )
        self.in_progress = Gauge(
            "app_requests_in_progress", "HTTP requests being served now.", registry=registry,
        )
        self.fault_active = Gauge(
            "app_fault_active", "1 while a fault of this kind is on.", ["kind"], registry=registry,
        )
        self.faults_injected = Counter(
            "app_faults_injected_total", "Requests a fault was applied to.", ["kind"],
            registry=registry,
        )
        self.faults_shed = Counter(
            "app_faults_shed_total", "Faulted requests answered 503 at once because the fault "
            "already held FAULT_MAX_HELD requests.", ["kind"], registry=registry,
        )
        add_default_collectors(registry)


# The statuses every route is born with, at 0, besides its success: the errors the app and
# its faults answer (client_python's advice: a series that appears only with its first error
# starts at that error, and increase() over a window misses it).
ERROR_STATUSES = ("500", "502", "503", "504", "aborted")
PREINIT_SKIP = frozenset({"HEAD", "OPTIONS"})   # added to every route by Flask


def preinit(app, metrics: AppMetrics) -> int:
    """Create every route x method x (200 and each error status) series at 0, and the latency
    histogram of each user route (not /metrics, /health, /admin: they are never faulted nor
    judged, and a histogram is ~80 series), before the first request; returns how many request
    series exist."""
    count = 0
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & KNOWN_METHODS - PREINIT_SKIP):
            if not is_protected(rule.rule):
                metrics.duration.labels(method, rule.rule)
            for status in ("200", *ERROR_STATUSES):
                metrics.requests.labels(method, rule.rule, status)
                count += 1
    for status in ("404", *ERROR_STATUSES):
        metrics.requests.labels("GET", UNMATCHED, status)
        count += 1
    return count


def _labels() -> tuple[str, str]:
    """(method, endpoint) labels of the current request, with bounded cardinality."""
    method = request.method if request.method in KNOWN_METHODS else "OTHER"
    endpoint = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    return method, endpoint


def init_app(app, fault_registry=None) -> AppMetrics:
    """Create the registry and metrics, instrument every request, and serve /metrics."""
    registry = CollectorRegistry()
    metrics = AppMetrics(registry, app.config["LATENCY_BUCKETS"])
    app.extensions["metrics"] = metrics

    if fault_registry is not None:
        from harness_common.faults.model import KINDS

        for kind in KINDS:  # evaluated at scrape time, so expiry shows without a request
            metrics.fault_active.labels(kind).set_function(
                lambda k=kind: 1.0 if fault_registry.is_active(k) else 0.0
            )

    if app.config["INSTRUMENTATION"]:
        @app.before_request
        def start_timer():
            g.metrics_start = time.perf_counter()
            metrics.in_progress.inc()

        @app.after_request
        def remember_status(response):
            g.metrics_status = str(response.status_code)
            return response

        @app.teardown_request
        def observe(exc):
            start = g.pop("metrics_start", None)
            if start is None:
                return
            metrics.in_progress.dec()
            method, endpoint = _labels()
            if request.environ.get("target_app.aborted"):
                status = "aborted"
            else:
                status = g.pop("metrics_status", "500")
            metrics.duration.labels(method, endpoint).observe(time.perf_counter() - start)
            metrics.requests.labels(method, endpoint, status).inc()

    @app.get("/metrics")
    def metrics_endpoint():
        """Prometheus exposition of the app's registry."""
        return metrics_response(registry)

    return metrics
