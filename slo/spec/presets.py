"""Where the common HTTP instrumentations keep their request counts and latencies.

A slo-harness/v1 spec names a preset (`prometheus.preset: promhttp`) and may still set any of
its fields by hand. Each preset: the requests counter, the duration histogram and its unit,
the labels holding the status code and the route, the default error matcher, and which values
the status label takes (an error matcher must be able to match one of them).

    slo-harness                 this project's app: app_requests_total{method,endpoint,status}
    promhttp                    client_golang promhttp, Prometheus itself, prometheus_client
                                style: http_requests_total{code,handler,method}
    prometheus-flask-exporter   flask_http_request_duration_seconds{method,path,status}
    opentelemetry               OTel HTTP server metrics (stable semconv) via the Prometheus
                                exporter: http_server_request_duration_seconds{
                                http_request_method,http_response_status_code,http_route}
    opentelemetry-legacy        the older semconv: http_server_duration_milliseconds{
                                http_method,http_status_code,http_route}
    envoy                       Envoy's HTTP connection manager: envoy_http_downstream_rq_xx{
                                envoy_response_code_class} and envoy_http_downstream_rq_time (ms),
                                without the admin listener's own series; an SLO with a `route`
                                reads the router's per-route series instead (a route with a
                                stat_prefix): envoy_vhost_route_upstream_rq_xx{envoy_route} and
                                envoy_vhost_route_upstream_rq_time (docs/fault-proxy.md)
"""

import re
from dataclasses import dataclass

STATUS_CODES = tuple(str(code) for code in range(100, 600))
STATUS_CLASSES = ("1", "2", "3", "4", "5")
# Labels that hold a status in the instrumentations above (and Sloth/OpenSLO examples), and
# every value they take somewhere: codes, Envoy's classes, "5xx"-style classes, the app's
# "aborted". A matcher on one of them that matches none of these is a typo.
STATUS_LABEL_NAMES = ("code", "status", "status_code", "response_code", "http_status_code",
                      "http_response_status_code", "envoy_response_code",
                      "envoy_response_code_class")
ANY_STATUS = STATUS_CODES + STATUS_CLASSES + tuple(f"{c}xx" for c in STATUS_CLASSES) + (
    "aborted",)
UNITS = {"seconds": 1.0, "milliseconds": 0.001}


@dataclass(frozen=True)
class Preset:
    """The metric and label names of one instrumentation."""

    name: str
    requests_metric: str
    duration_metric: str
    duration_unit: str
    status_label: str
    route_label: str
    error_status: str
    status_values: tuple[str, ...]
    status_domain: str  # how messages describe status_values
    base_selector: str = ""  # matchers every query of the preset needs
    # where an SLO that names a `route` reads, when the metrics above have no route label
    # (Envoy's connection manager): requests metric, duration metric (same unit); the
    # base_selector is not applied to them
    route_metrics: tuple[str, str] | None = None

    @property
    def scale_s(self) -> float:
        """The duration histogram's unit in seconds."""
        return UNITS[self.duration_unit]


_CODES = "HTTP status codes 100-599"
PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("slo-harness", "app_requests_total", "app_request_duration_seconds", "seconds",
           "status", "endpoint", "5..|aborted", STATUS_CODES + ("aborted",),
           _CODES + " and 'aborted'"),
    Preset("promhttp", "http_requests_total", "http_request_duration_seconds", "seconds",
           "code", "handler", "5..", STATUS_CODES, _CODES),
    Preset("prometheus-flask-exporter", "flask_http_request_duration_seconds_count",
           "flask_http_request_duration_seconds", "seconds", "status", "path", "5..",
           STATUS_CODES, _CODES),
    Preset("opentelemetry", "http_server_request_duration_seconds_count",
           "http_server_request_duration_seconds", "seconds", "http_response_status_code",
           "http_route", "5..", STATUS_CODES, _CODES),
    Preset("opentelemetry-legacy", "http_server_duration_milliseconds_count",
           "http_server_duration_milliseconds", "milliseconds", "http_status_code",
           "http_route", "5..", STATUS_CODES, _CODES),
    Preset("envoy", "envoy_http_downstream_rq_xx", "envoy_http_downstream_rq_time",
           "milliseconds", "envoy_response_code_class", "envoy_route", "5",
           STATUS_CLASSES, "Envoy's response code classes 1-5",
           # the admin listener (where Prometheus scrapes Envoy) is not the service's traffic
           'envoy_http_conn_manager_prefix!="admin"',
           # a route's own series: the router's, per route stat_prefix (the fault proxy's front
           # routes, which count the fault filter's answers and delays too)
           ("envoy_vhost_route_upstream_rq_xx", "envoy_vhost_route_upstream_rq_time")),
)}
DEFAULT_PRESET = "slo-harness"


def alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regex: '5..|429' -> ['5..', '429']; '(5..|429)' too.

    A pattern wrapped whole in one group is unwrapped first; groups, classes and escapes
    inside an alternative keep their `|`.
    """
    body = pattern
    while body.startswith("(") and _closing(body, 0) == len(body) - 1:
        body = body[1:-1].removeprefix("?:")
    parts, start = [], 0
    for i, char, depth in _structure(body):
        if char == "|" and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    return parts


def unmatched(pattern: str, values: tuple[str, ...]) -> list[str]:
    """The alternatives of an error matcher that match none of `values` (a typo such as
    '5xx', which matches no status code, so a gate using it counts no errors ever)."""
    out = []
    for alternative in alternatives(pattern):
        try:
            regex = re.compile(alternative)
        except re.error:
            regex = re.compile(pattern)  # an alternative alone may not compile: judge the whole
        if not any(regex.fullmatch(v) for v in values):
            out.append(alternative)
    return out


def _structure(text: str, start: int = 0):
    """(index, character, group depth after it) of each character outside escapes and
    character classes, from `start`."""
    depth, i, in_class = 0, start, False
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        else:
            depth += {"(": 1, ")": -1}.get(char, 0)
            yield i, char, depth
        i += 1


def _closing(text: str, open_at: int) -> int | None:
    """Index of the parenthesis closing the one at `open_at`."""
    return next((i for i, char, depth in _structure(text, open_at)
                 if char == ")" and depth == 0), None)


def status_matcher_problem(label: str, op: str, value: str) -> str | None:
    """Why a matcher on a status label of a query can never match a status (None: fine).

    `code=~"5xx"` on codes, `code!~"50x"` (which keeps every request as good): each
    alternative must match some status value."""
    if label not in STATUS_LABEL_NAMES or not value:
        return None
    if op in ("=", "!="):
        missed = [] if value in ANY_STATUS else [value]
    else:
        missed = unmatched(value, ANY_STATUS)
    if not missed:
        return None
    shown = ", ".join(repr(m) for m in missed)
    return (f'{label}{op}"{value}": {shown} matches no status value (codes 100-599, classes '
            "such as 5 or 5xx), so the matcher selects no request or every one; write e.g. "
            f'{label}=~"5.."')
