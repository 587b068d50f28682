"""Prometheus exposition the way every part of the harness serves it (app, sandbox, Locust).

    registry = process_registry()          # a registry with the process, GC, platform collectors
    metrics_response(registry)             # the Flask answer of GET /metrics
"""

from flask import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)


def add_default_collectors(registry: CollectorRegistry) -> CollectorRegistry:
    """Register the process, GC and platform collectors client_python adds to its global
    registry (each part keeps its own registry, so tests can read one without the others)."""
    ProcessCollector(registry=registry)
    GCCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def metrics_response(registry: CollectorRegistry) -> Response:
    """The text exposition of `registry` with Prometheus's content type."""
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
