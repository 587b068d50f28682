"""The /metrics pages of instrumentations that cannot run here, as their documentation shows
them, with counters that grow while they are served.

Each page is written from the upstream reference (names, label sets, units, default buckets):

    micrometer     Spring Boot Actuator + micrometer-registry-prometheus, with
                   percentiles-histogram and slo boundaries 100ms,500ms for http.server.requests
                   (docs.spring.io .../actuator/metrics.html#actuator.metrics.supported.spring-mvc)
    istio          Istio standard metrics (istio.io/latest/docs/reference/config/metrics): each
                   request reported by the caller's proxy (source) and the service's
                   (destination); Istio's default millisecond buckets
    traefik        Traefik service metrics (doc.traefik.io .../observability/metrics/prometheus);
                   default buckets 0.1, 0.3, 1.2, 5
    linkerd        Linkerd proxy metrics (linkerd.io/2/reference/proxy-metrics): response_total
                   with classification, response_latency_ms; inbound and outbound
    ingress-nginx  ingress-nginx controller metrics with --report-status-classes
                   (status="2xx"/"5xx"), prometheus client default buckets
    promhttp       Go client_golang promhttp.InstrumentHandlerCounter/Duration with the handler
                   curried as a constant label

Sample values below are the increments of one tick; a page served `t` seconds after the
server started carries each value times TICKS_PER_S * t, so every counter and bucket grows at
a constant rate and a window's ratios are exactly the template's. EXPECTED holds, per page,
the error ratio of the series the preset's spec selects (the other series are there to be
left out: the source reporter, the outbound side, the scrape endpoint).
"""

from __future__ import annotations

import http.server
import re
import threading
import time
from dataclasses import dataclass

TICKS_PER_S = 10.0

_MICROMETER_LABELS = ('error="none",exception="none",method="GET",outcome="{o}",status="{s}",'
                      'uri="{u}"')


def _histogram(name: str, labels: str, buckets: list[tuple[str, float]], total: float,
               mean: float) -> str:
    lines = [f'{name}_bucket{{{labels},le="{le}"}} {n:g}' for le, n in buckets]
    lines.append(f'{name}_bucket{{{labels},le="+Inf"}} {total:g}')
    lines.append(f"{name}_count{{{labels}}} {total:g}")
    lines.append(f"{name}_sum{{{labels}}} {total * mean:g}")
    return "\n".join(lines)


def _micrometer() -> str:
    out = ["# HELP http_server_requests_seconds  ", "# TYPE http_server_requests_seconds histogram"]
    for outcome, status, uri, fast, total in (
            ("SUCCESS", "200", "/api/orders", 15, 19), ("SERVER_ERROR", "503", "/api/orders", 1, 1),
            ("CLIENT_ERROR", "404", "/api/orders", 2, 2),  # not an error of the service
            ("SUCCESS", "200", "/actuator/prometheus", 10, 10)):
        labels = _MICROMETER_LABELS.format(o=outcome, s=status, u=uri)
        out.append(_histogram("http_server_requests_seconds", labels,
                              [("0.1", fast), ("0.5", total)], total, 0.08))
    return "\n".join(out)


_ISTIO = ('reporter="{r}",source_workload="frontend",source_workload_namespace="shop",'
          'destination_workload="orders-v1",destination_workload_namespace="shop",'
          'destination_service="orders.shop.svc.cluster.local",destination_service_name="orders",'
          'destination_service_namespace="shop",request_protocol="http",response_code="{c}",'
          'grpc_response_status="",response_flags="{f}",connection_security_policy="{p}"')
_ISTIO_BUCKETS = ("0.5", "1", "5", "10", "25", "50", "100", "250", "500", "1000", "2500")


def _istio() -> str:
    out = ["# TYPE istio_requests_total counter"]
    # the destination proxy: 19 ok, 1 503; the callers' proxies: 18 ok (one caller is outside
    # the mesh) and 3 errors (2 upstream resets, 503 UF, that never reached the service)
    series = (("destination", "200", "-", "mutual_tls", 19), ("destination", "503", "-",
                                                               "mutual_tls", 1),
              ("source", "200", "-", "unknown", 18), ("source", "503", "UF", "unknown", 3))
    for reporter, code, flags, policy, n in series:
        out.append(f"istio_requests_total{{{_ISTIO.format(r=reporter, c=code, f=flags, p=policy)}}}"
                   f" {n}")
    out.append("# TYPE istio_request_duration_milliseconds histogram")
    for reporter, code, flags, policy, n in series:
        labels = _ISTIO.format(r=reporter, c=code, f=flags, p=policy)
        under = [(le, 0 if float(le) < 25 else (n * 3 // 4 if float(le) < 500 else n))
                 for le in _ISTIO_BUCKETS]
        out.append(_histogram("istio_request_duration_milliseconds", labels, under, n, 120.0))
    return "\n".join(out)


def _traefik() -> str:
    out = ["# TYPE traefik_service_requests_total counter"]
    series = (("200", 19), ("503", 1))
    for code, n in series:
        out.append(f'traefik_service_requests_total{{code="{code}",method="GET",'
                   f'protocol="http",service="orders@kubernetes"}} {n}')
        out.append(f'traefik_service_requests_total{{code="{code}",method="GET",'
                   f'protocol="http",service="dashboard@internal"}} {n * 3}')
    out.append("# TYPE traefik_service_request_duration_seconds histogram")
    for code, n in series:
        for service in ("orders@kubernetes", "dashboard@internal"):
            labels = f'code="{code}",method="GET",protocol="http",service="{service}"'
            out.append(_histogram("traefik_service_request_duration_seconds", labels,
                                  [("0.1", n * 0.8), ("0.3", n), ("1.2", n), ("5", n)], n, 0.07))
    return "\n".join(out)


_LINKERD_IN = ('direction="inbound",authority="orders.shop.svc.cluster.local:8080",'
               'target_addr="10.42.0.7:8080",target_ip="10.42.0.7",target_port="8080",'
               'tls="true",client_id="frontend.shop.serviceaccount.identity.linkerd.cluster.local",'
               'namespace="shop",pod="orders-5d9c7c6b8d-x2x7q",deployment="orders"')
_LINKERD_OUT = ('direction="outbound",authority="payments.shop.svc.cluster.local:8080",'
                'target_addr="10.42.0.9:8080",tls="true",dst_deployment="payments",'
                'dst_namespace="shop",namespace="shop",pod="orders-5d9c7c6b8d-x2x7q",'
                'deployment="orders"')
_LINKERD_BUCKETS = ("1", "2", "3", "4", "5", "10", "20", "30", "40", "50", "100", "200", "300",
                    "400", "500", "1000")


def _linkerd() -> str:
    series = ((_LINKERD_IN, "200", "success", 19), (_LINKERD_IN, "503", "failure", 1),
              (_LINKERD_OUT, "200", "success", 30), (_LINKERD_OUT, "502", "failure", 6))
    out = ["# HELP response_total Total count of HTTP responses.", "# TYPE response_total counter"]
    for base, code, cls, n in series:
        out.append(f'response_total{{{base},status_code="{code}",classification="{cls}"}} {n}')
    out.append("# HELP response_latency_ms Elapsed times between a request's headers being "
               "received and its response stream completing")
    out.append("# TYPE response_latency_ms histogram")
    for base, code, _cls, n in series:
        under = [(le, 0 if float(le) < 20 else (n * 0.75 if float(le) < 300 else n))
                 for le in _LINKERD_BUCKETS]
        out.append(_histogram("response_latency_ms", f'{base},status_code="{code}"', under, n,
                              90.0))
    return "\n".join(out)


_NGINX = ('canary="",controller_class="k8s.io/ingress-nginx",controller_namespace="ingress-nginx",'
          'controller_pod="ingress-nginx-controller-7c6d8f9d4-abcde",host="shop.example.com",'
          'ingress="orders",method="GET",namespace="shop",path="{p}",service="orders",'
          'status="{s}"')
_PROM_BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1",
                 "2.5", "5", "7.5", "10")


def _ingress_nginx() -> str:
    series = (("/api/orders", "2xx", 19), ("/api/orders", "5xx", 1), ("/", "2xx", 40))
    out = ["# TYPE nginx_ingress_controller_requests counter"]
    for path, status, n in series:
        out.append(f"nginx_ingress_controller_requests{{{_NGINX.format(p=path, s=status)}}} {n}")
    out.append("# TYPE nginx_ingress_controller_request_duration_seconds histogram")
    for path, status, n in series:
        under = [(le, 0 if float(le) < 0.025 else (n * 0.8 if float(le) < 0.5 else n))
                 for le in _PROM_BUCKETS]
        out.append(_histogram("nginx_ingress_controller_request_duration_seconds",
                              _NGINX.format(p=path, s=status), under, n, 0.1))
    return "\n".join(out)


def _promhttp() -> str:
    series = (("200", 19), ("503", 1))
    out = ["# TYPE http_requests_total counter"]
    for code, n in series:
        out.append(f'http_requests_total{{code="{code}",handler="/api/orders",method="get"}} {n}')
    out.append("# TYPE http_request_duration_seconds histogram")
    for code, n in series:
        under = [(le, 0 if float(le) < 0.025 else (n * 0.8 if float(le) < 0.5 else n))
                 for le in _PROM_BUCKETS]
        out.append(_histogram("http_request_duration_seconds",
                              f'code="{code}",handler="/api/orders",method="get"', under, n, 0.1))
    return "\n".join(out)


PAGES = {"micrometer": _micrometer(), "istio": _istio(), "traefik": _traefik(),
         "linkerd": _linkerd(), "ingress-nginx": _ingress_nginx(), "promhttp": _promhttp()}


@dataclass(frozen=True)
class Expected:
    """What a spec with the preset and `route` (or `selector`) must judge on that page."""

    route: str | None
    error_ratio: float
    threshold_ms: int


EXPECTED = {
    "micrometer": Expected("/api/.*", 1 / 22, 500),   # the 404s count, as successes
    "istio": Expected(None, 1 / 20, 500),             # destination only: 1 of 20
    "traefik": Expected("orders@.*", 1 / 20, 300),    # 300 ms: Traefik's default buckets
    "linkerd": Expected(None, 1 / 20, 500),           # inbound only
    "ingress-nginx": Expected("/api/.*", 1 / 20, 500),
    "promhttp": Expected("/api/.*", 1 / 20, 500),
}

_VALUE = re.compile(r"^(?P<series>[^#\s][^ ]*(?:\{.*\})?) (?P<value>\S+)$")


def render(page: str, elapsed_s: float) -> str:
    """The page with each sample's per-tick value times the ticks elapsed."""
    ticks = elapsed_s * TICKS_PER_S
    out = []
    for line in page.splitlines():
        match = _VALUE.match(line)
        out.append(line if match is None or line.startswith("#")
                   else f"{match['series']} {float(match['value']) * ticks:.6f}")
    return "\n".join(out) + "\n"


class ExpositionServer:
    """Serves every page at /<name> on a free port, in a thread of this process."""

    def __init__(self):
        started = time.monotonic()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the stdlib's name
                page = PAGES.get(self.path.strip("/"))
                if page is None:
                    self.send_error(404)
                    return
                body = render(page, time.monotonic() - started).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
