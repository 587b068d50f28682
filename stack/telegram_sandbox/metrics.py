"""The sandbox's metrics, in its own CollectorRegistry (never the global one).

    sandbox_requests_total{method,status}          Bot API calls answered (method: getMe,
                                                   sendMessage, getUpdates or "unknown")
    sandbox_request_duration_seconds{method}       histogram of Bot API call durations
    sandbox_messages_total{method,outcome}         message sends by outcome: accepted,
                                                   rejected (400/413), unauthorized,
                                                   rate_limited (429), server_error (5xx)
    sandbox_messages_stored                        messages in the store now
    sandbox_last_message_timestamp_seconds         unix time of the newest message (0: none)
    sandbox_fault_active{mode}                     1 while a fault of this mode is on
    sandbox_store_append_seconds                   histogram of durable appends (write+fsync)
    + the default process, GC and platform collectors

Handlers contain no metrics code: the hooks below read the route and the response status.
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
from stack.telegram_sandbox.botapi import BOT_RULE, Sandbox, canonical_method
from stack.telegram_sandbox.faults import MODES

MESSAGE_METHODS = frozenset({"sendMessage"})
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0, 60.0, 120.0)
APPEND_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                  0.25, 1.0)


def outcome(status: int) -> str:
    """The outcome label of a message send answered with `status`."""
    if status == 200:
        return "accepted"
    if status == 401:
        return "unauthorized"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    return "rejected"


class SandboxMetrics:
    """The sandbox's metric objects, all in one registry."""

    def __init__(self, registry: CollectorRegistry, box: Sandbox):
        self.registry = registry
        self.requests = Counter("sandbox_requests_total", "Bot API calls answered.",
                                ["method", "status"], registry=registry)
        self.duration = Histogram("sandbox_request_duration_seconds",
                                  "Bot API call duration in seconds.", ["method"],
                                  buckets=DURATION_BUCKETS, registry=registry)
        self.messages = Counter("sandbox_messages_total", "Message sends by outcome.",
                                ["method", "outcome"], registry=registry)
        Gauge("sandbox_messages_stored", "Messages in the store now.",
              registry=registry).set_function(box.store.count)
        Gauge("sandbox_last_message_timestamp_seconds",
              "Unix time of the newest stored message (0 when none).",
              registry=registry).set_function(box.store.last_received_at)
        fault_active = Gauge("sandbox_fault_active", "1 while a fault of this mode is on.",
                             ["mode"], registry=registry)
        for mode in MODES:  # evaluated at scrape time, so expiry shows without a request
            fault_active.labels(mode).set_function(
                lambda m=mode: 1.0 if box.faults.active_mode() == m else 0.0)
        self.append = Histogram("sandbox_store_append_seconds",
                                "Seconds to append and fsync one message.",
                                buckets=APPEND_BUCKETS, registry=registry)
        box.store.observe_append = self.append.observe
        add_default_collectors(registry)


def init_app(app, box: Sandbox) -> SandboxMetrics:
    """Create the registry, count every Bot API call, and serve /metrics."""
    registry = CollectorRegistry()
    metrics = SandboxMetrics(registry, box)
    app.extensions["sandbox_metrics"] = metrics

    @app.before_request
    def start_timer():
        g.sandbox_started = time.perf_counter()

    @app.after_request
    def count(response):
        rule = request.url_rule
        started = g.pop("sandbox_started", None)
        if rule is None or rule.rule != BOT_RULE or started is None:
            return response
        method = canonical_method((request.view_args or {}).get("method", ""))
        metrics.requests.labels(method, str(response.status_code)).inc()
        metrics.duration.labels(method).observe(time.perf_counter() - started)
        if method in MESSAGE_METHODS:
            metrics.messages.labels(method, outcome(response.status_code)).inc()
        return response

    @app.get("/metrics")
    def metrics_endpoint():
        """Prometheus exposition of the sandbox's registry."""
        return metrics_response(registry)

    return metrics
