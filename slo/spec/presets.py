"""Where the common HTTP and RPC instrumentations keep their request counts and latencies.

A slo-harness/v1 spec names a preset (`prometheus.preset: promhttp`) and may still set any of
its fields by hand. Each preset: the requests counter, the duration histogram and its unit,
the labels holding the status and the route, the default error matcher, which values the
status label takes (an error matcher must be able to match one of them), the matchers every
query needs (`base_selector`) and whether the histogram carries the status label. The table is
PRESETS; docs/instrumentations.md shows it with what each preset judges.

    slo-harness                 this project's app: app_requests_total{method,endpoint,status}
    promhttp                    client_golang promhttp, Prometheus itself, prometheus_client
                                style: http_requests_total{code,handler,method}
    fastapi-instrumentator      prometheus-fastapi-instrumentator: http_requests_total{
                                handler,method,status="2xx"} (classes by default);
                                http_request_duration_seconds{handler,method}: no status
    starlette-exporter          starlette_requests_total{app_name,method,path,status_code}
    django-prometheus           django_http_responses_total_by_status_view_method_total{
                                method,status,view} (view names, not URLs); latency
                                django_http_requests_latency_seconds_by_view_method: no status
    opentelemetry-legacy-target opentelemetry-legacy (below) where http_route is missing and
                                the route is in http_target (Flask: the route rule there)
    micrometer                  Spring Boot / Micrometer: http_server_requests_seconds{
                                outcome=SERVER_ERROR|...,status,uri,method,exception}
                                (buckets need percentiles-histogram enabled)
    istio                       istio_requests_total{reporter,response_code,...} and
                                istio_request_duration_milliseconds, reporter="destination"
    traefik                     traefik_service_requests_total{code,method,protocol,service}
    linkerd                     the proxy's response_total{direction,classification,...} and
                                response_latency_ms, direction="inbound"
    grpc                        go-grpc-prometheus / py-grpc-prometheus:
                                grpc_server_handled_total{grpc_code,grpc_method,grpc_service,
                                grpc_type}; grpc_server_handling_seconds: no status
    ingress-nginx               nginx_ingress_controller_requests{status,ingress,path,...}
                                (codes, or classes with --report-status-classes)
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
CODE_CLASSES = tuple(f"{c}xx" for c in STATUS_CLASSES)
# Micrometer's `outcome` (io.micrometer.core.instrument.binder.http.Outcome)
OUTCOMES = ("INFORMATIONAL", "SUCCESS", "REDIRECTION", "CLIENT_ERROR", "SERVER_ERROR",
            "UNKNOWN")
# gRPC status codes as Go (codes.Code.String()) and Python (grpc.StatusCode.name) spell them
GRPC_CODES_GO = ("OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded",
                 "NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted",
                 "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented", "Internal",
                 "Unavailable", "DataLoss", "Unauthenticated")
GRPC_CODES_PY = ("OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
                 "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
                 "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
                 "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED")
GRPC_CODES = tuple(dict.fromkeys(GRPC_CODES_GO + GRPC_CODES_PY))
# The server's faults among them (the codes Google's API design guide maps to HTTP 5xx, less
# Unimplemented, which a client calling a method the server lacks provokes): the grpc preset's
# errors. Client mistakes (InvalidArgument, NotFound, ...) spend no budget.
GRPC_SERVER_ERRORS = ("Unknown|DeadlineExceeded|Internal|Unavailable|DataLoss|"
                      "UNKNOWN|DEADLINE_EXCEEDED|INTERNAL|UNAVAILABLE|DATA_LOSS")
# Linkerd's response classification
CLASSIFICATIONS = ("success", "failure")
# The values of the status labels that hold no HTTP status. A matcher on one of them that
# matches none of its values is a typo.
LABEL_DOMAINS: dict[str, tuple[tuple[str, ...], str]] = {
    "outcome": (OUTCOMES, "Micrometer outcomes " + ", ".join(OUTCOMES)),
    "grpc_code": (GRPC_CODES, "gRPC status code names such as Unavailable or UNAVAILABLE"),
    "classification": (CLASSIFICATIONS, "Linkerd classifications success, failure"),
}
# Labels that hold a status wherever they appear (in the instrumentations above, and
# Sloth/OpenSLO examples): every query's matchers on them are checked. `outcome` and
# `classification` are common words in business metrics (orders_total{outcome="declined"}):
# they are checked only where a spec's preset or status_label says they hold the status.
STATUS_LABEL_NAMES = ("code", "status", "status_code", "response_code", "http_status_code",
                      "http_response_status_code", "envoy_response_code",
                      "envoy_response_code_class", "grpc_code")
# codes, Envoy's classes, "5xx"-style classes, the app's "aborted", Envoy/Istio's "0" (no
# response was sent)
HTTP_STATUS = STATUS_CODES + STATUS_CLASSES + CODE_CLASSES + ("aborted", "0")
# every value some status label takes (the judge: "does this label hold statuses at all?")
ANY_STATUS = tuple(dict.fromkeys(HTTP_STATUS + tuple(
    v for values, _ in LABEL_DOMAINS.values() for v in values)))
UNITS = {"seconds": 1.0, "milliseconds": 0.001}


def label_domain(label: str) -> tuple[tuple[str, ...], str]:
    """The values a status label named `label` takes and how messages describe them."""
    return LABEL_DOMAINS.get(label, (HTTP_STATUS, "codes 100-599, classes such as 5 or 5xx"))


@dataclass(frozen=True)
class Preset:
    """The metric and label names of one instrumentation."""

    name: str
    requests_metric: str
    duration_metric: str
    duration_unit: str
    status_label: str
    route_label: str  # "" when the metrics carry no route (a mesh's): `route:` is refused
    error_status: str
    status_values: tuple[str, ...]
    status_domain: str  # how messages describe status_values
    base_selector: str = ""  # matchers every query of the preset needs
    # False when the duration histogram lacks the status label: a latency SLO is then judged
    # over every request, errors included, and the histogram cannot count errors
    duration_has_status: bool = True
    # where an SLO that names a `route` reads, when the metrics above have no route label
    # (Envoy's connection manager): requests metric, duration metric (same unit); the
    # base_selector is not applied to them
    route_metrics: tuple[str, str] | None = None

    @property
    def scale_s(self) -> float:
        """The duration histogram's unit in seconds."""
        return UNITS[self.duration_unit]


_CODES = "HTTP status codes 100-599"
_CODES_AND_CLASSES = "HTTP status codes 100-599 and classes 1xx-5xx"
PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("slo-harness", "app_requests_total", "app_request_duration_seconds", "seconds",
           "status", "endpoint", "5..|aborted", STATUS_CODES + ("aborted",),
           _CODES + " and 'aborted'"),
    Preset("promhttp", "http_requests_total", "http_request_duration_seconds", "seconds",
           "code", "handler", "5..", STATUS_CODES, _CODES),
    Preset("fastapi-instrumentator", "http_requests_total", "http_request_duration_seconds",
           "seconds", "status", "handler", "5..", STATUS_CODES + CODE_CLASSES,
           _CODES_AND_CLASSES, duration_has_status=False),
    Preset("starlette-exporter", "starlette_requests_total", "starlette_request_duration_seconds",
           "seconds", "status_code", "path", "5..", STATUS_CODES, _CODES),
    Preset("django-prometheus", "django_http_responses_total_by_status_view_method_total",
           "django_http_requests_latency_seconds_by_view_method", "seconds", "status", "view",
           "5..", STATUS_CODES, _CODES, duration_has_status=False),
    Preset("opentelemetry-legacy-target", "http_server_duration_milliseconds_count",
           "http_server_duration_milliseconds", "milliseconds", "http_status_code",
           "http_target", "5..", STATUS_CODES, _CODES),
    Preset("micrometer", "http_server_requests_seconds_count", "http_server_requests_seconds",
           "seconds", "outcome", "uri", "SERVER_ERROR", OUTCOMES, LABEL_DOMAINS["outcome"][1]),
    # Every request in the mesh is reported twice: by the caller's sidecar (reporter="source")
    # and by the service's (reporter="destination"). Without a reporter matcher each counts
    # twice; the service's own proxy sees every request that reached it, callers outside the
    # mesh included, so the SLO is judged there.
    Preset("istio", "istio_requests_total", "istio_request_duration_milliseconds",
           "milliseconds", "response_code", "", "5..", STATUS_CODES + ("0",),
           _CODES + " and 0 (no response sent)", base_selector='reporter="destination"'),
    Preset("traefik", "traefik_service_requests_total", "traefik_service_request_duration_seconds",
           "seconds", "code", "service", "5..", STATUS_CODES, _CODES),
    # the server's proxy (inbound) sees each request once; outbound is the caller's view
    Preset("linkerd", "response_total", "response_latency_ms", "milliseconds",
           "classification", "", "failure", CLASSIFICATIONS,
           LABEL_DOMAINS["classification"][1], base_selector='direction="inbound"',
           duration_has_status=False),
    Preset("grpc", "grpc_server_handled_total", "grpc_server_handling_seconds", "seconds",
           "grpc_code", "grpc_method", GRPC_SERVER_ERRORS, GRPC_CODES,
           LABEL_DOMAINS["grpc_code"][1], duration_has_status=False),
    Preset("ingress-nginx", "nginx_ingress_controller_requests",
           "nginx_ingress_controller_request_duration_seconds", "seconds", "status", "path",
           "5..", STATUS_CODES + CODE_CLASSES, _CODES_AND_CLASSES + " (--report-status-classes)"),
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
           route_metrics=("envoy_vhost_route_upstream_rq_xx",
                          "envoy_vhost_route_upstream_rq_time")),
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


def status_matcher_problem(label: str, op: str, value: str,
                           status_labels: tuple[str, ...] = ()) -> str | None:
    """Why a matcher on a status label of a query can never match a status (None: fine).

    `code=~"5xx"` on codes, `code!~"50x"` (which keeps every request as good),
    `outcome="SERVR_ERROR"` (where `status_labels`, the spec's, name outcome): each
    alternative must match some value of the label."""
    if (label not in STATUS_LABEL_NAMES and label not in status_labels) or not value:
        return None
    values, described = label_domain(label)
    if op in ("=", "!="):
        missed = [] if value in values else [value]
    else:
        missed = unmatched(value, values)
    if not missed:
        return None
    shown = ", ".join(repr(m) for m in missed)
    example = {"outcome": "SERVER_ERROR", "grpc_code": "Unavailable|Internal",
               "classification": "failure"}.get(label, "5..")
    return (f'{label}{op}"{value}": {shown} matches no status value ({described}), so the '
            f'matcher selects no request or every one; write e.g. {label}=~"{example}"')
