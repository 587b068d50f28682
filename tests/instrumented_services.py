"""Small services instrumented by the real exporter libraries users run, one per preset.

Each serves `/api/work` (5% of requests answer 503, latency varies 2-60 ms) and its library's
`/metrics`; `python -m tests.instrumented_services LIBRARY PORT` serves one (each library
keeps its metrics in a process-global registry, so every service is its own process).
`start(library, workdir)` spawns it and waits for /metrics; `drive(...)` sends requests and
counts what the client saw (the truth the judged error ratio is compared with).

    fastapi-instrumentator      prometheus-fastapi-instrumentator on FastAPI (uvicorn)
    starlette-exporter          starlette_exporter's PrometheusMiddleware (uvicorn)
    django-prometheus           django_prometheus middlewares (werkzeug's WSGI server)
    prometheus-flask-exporter   PrometheusMetrics(app)
    opentelemetry               opentelemetry-instrumentation-flask + the Prometheus exporter,
                                OTEL_SEMCONV_STABILITY_OPT_IN=http (stable semconv)
    opentelemetry-legacy        the same with the default (legacy) semconv
    grpc                        grpcio + py-grpc-prometheus's PromServerInterceptor
"""

from __future__ import annotations

import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ERROR_SHARE = 0.05
LATENCIES_S = (0.002, 0.005, 0.01, 0.02, 0.04, 0.06)
ROUTE = "/api/work"


def _outcome() -> tuple[bool, float]:
    """(fail with 503?, seconds to take) for one request."""
    return random.random() < ERROR_SHARE, random.choice(LATENCIES_S)  # noqa: S311


def fastapi_instrumentator():
    from fastapi import FastAPI, Response
    from prometheus_fastapi_instrumentator import Instrumentator

    app = FastAPI()

    @app.get(ROUTE)
    def work():
        fail, seconds = _outcome()
        time.sleep(seconds)
        return Response("no" if fail else "ok", status_code=503 if fail else 200)

    Instrumentator().instrument(app).expose(app)
    return "asgi", app


def starlette_exporter():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette_exporter import PrometheusMiddleware, handle_metrics

    def work(request):
        fail, seconds = _outcome()
        time.sleep(seconds)
        return PlainTextResponse("no" if fail else "ok", status_code=503 if fail else 200)

    app = Starlette(routes=[Route(ROUTE, work), Route("/metrics", handle_metrics)])
    app.add_middleware(PrometheusMiddleware)
    return "asgi", app


def django_prometheus():
    import django
    from django.conf import settings
    from django.http import HttpResponse
    from django.urls import include, path

    def work(request):
        fail, seconds = _outcome()
        time.sleep(seconds)
        return HttpResponse("no" if fail else "ok", status=503 if fail else 200)

    urlpatterns = [path(ROUTE.lstrip("/"), work, name="work"),
                   path("", include("django_prometheus.urls"))]
    sys.modules[__name__].urlpatterns = urlpatterns
    settings.configure(
        DEBUG=False, SECRET_KEY="test-only", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__,
        INSTALLED_APPS=["django_prometheus"],
        MIDDLEWARE=["django_prometheus.middleware.PrometheusBeforeMiddleware",
                    "django_prometheus.middleware.PrometheusAfterMiddleware"])
    django.setup()
    from django.core.wsgi import get_wsgi_application
    return "wsgi", get_wsgi_application()


def _flask_work_app():
    from flask import Flask

    app = Flask("instrumented")

    @app.get(ROUTE)
    def work():
        fail, seconds = _outcome()
        time.sleep(seconds)
        return ("no", 503) if fail else ("ok", 200)

    return app


def prometheus_flask_exporter():
    from prometheus_flask_exporter import PrometheusMetrics

    app = _flask_work_app()
    PrometheusMetrics(app)
    return "wsgi", app


def opentelemetry():
    """Flask + OTel; the semconv follows OTEL_SEMCONV_STABILITY_OPT_IN (set by start())."""
    from opentelemetry import metrics
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.sdk.metrics import MeterProvider
    from prometheus_client import make_wsgi_app
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    metrics.set_meter_provider(MeterProvider(metric_readers=[PrometheusMetricReader()]))
    app = _flask_work_app()
    FlaskInstrumentor().instrument_app(app)
    return "wsgi", DispatcherMiddleware(app, {"/metrics": make_wsgi_app()})


def grpc_service(port: int):
    """A unary method /demo.Work/Do behind py-grpc-prometheus; /metrics on `port`, gRPC on
    port + 1."""
    from concurrent import futures

    import grpc
    from prometheus_client import start_http_server
    from py_grpc_prometheus.prometheus_server_interceptor import PromServerInterceptor

    def do(request: bytes, context) -> bytes:
        fail, seconds = _outcome()
        time.sleep(seconds)
        if fail:
            context.abort(grpc.StatusCode.UNAVAILABLE, "injected")
        return b"ok"

    handler = grpc.method_handlers_generic_handler(
        "demo.Work", {"Do": grpc.unary_unary_rpc_method_handler(do)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         interceptors=(PromServerInterceptor(enable_handling_time_histogram=True),))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port + 1}")
    server.start()
    start_http_server(port, "127.0.0.1")
    server.wait_for_termination()


SERVICES = {
    "fastapi-instrumentator": fastapi_instrumentator,
    "starlette-exporter": starlette_exporter,
    "django-prometheus": django_prometheus,
    "prometheus-flask-exporter": prometheus_flask_exporter,
    "opentelemetry": opentelemetry,
    "opentelemetry-legacy": opentelemetry,
    "grpc": None,
}
ENV = {"opentelemetry": {"OTEL_SEMCONV_STABILITY_OPT_IN": "http"},
       "opentelemetry-legacy": {"OTEL_SEMCONV_STABILITY_OPT_IN": ""}}


def serve(library: str, port: int) -> None:
    """Serve `library`'s service on 127.0.0.1:port until killed."""
    if library == "grpc":
        return grpc_service(port)
    kind, app = SERVICES[library]()
    if kind == "asgi":
        import uvicorn
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
    else:
        from werkzeug.serving import run_simple
        run_simple("127.0.0.1", port, app, threaded=True)
    return None


@dataclass
class Service:
    """A running instrumented service: where its metrics are and how to call it."""

    library: str
    port: int
    proc: object

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class Counts:
    """What the client saw."""

    total: int = 0
    errors: int = 0
    latencies_s: list[float] = field(default_factory=list)

    @property
    def error_ratio(self) -> float:
        return self.errors / self.total if self.total else float("nan")


def start(library: str, workdir: Path) -> Service:
    """Spawn `library`'s service on a free port and wait until its /metrics answers."""
    from stack.procs import free_port, port_in_use, spawn_ready
    port = free_port()
    while library == "grpc" and port_in_use(port + 1):  # its gRPC port is port + 1
        port = free_port()
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[1]), **ENV.get(library, {})}
    proc = spawn_ready(library, [sys.executable, "-m", "tests.instrumented_services", library,
                                 str(port)], workdir / f"{library}.log",
                       f"http://127.0.0.1:{port}/metrics", env=env,
                       cwd=Path(__file__).resolve().parents[1])
    return Service(library, port, proc)


def drive(service: Service, seconds: float, counts: Counts | None = None) -> Counts:
    """Call the service for `seconds`, one request at a time; count statuses and latencies."""
    counts = counts or Counts()
    end = time.monotonic() + seconds
    if service.library == "grpc":
        import grpc
        with grpc.insecure_channel(f"127.0.0.1:{service.port + 1}") as channel:
            call = channel.unary_unary("/demo.Work/Do")
            while time.monotonic() < end:
                began = time.monotonic()
                try:
                    call(b"x", timeout=5)
                except grpc.RpcError:
                    counts.errors += 1
                counts.total += 1
                counts.latencies_s.append(time.monotonic() - began)
        return counts
    import requests
    with requests.Session() as session:
        while time.monotonic() < end:
            began = time.monotonic()
            status = session.get(f"http://127.0.0.1:{service.port}{ROUTE}", timeout=5).status_code
            counts.total += 1
            counts.errors += status >= 500
            counts.latencies_s.append(time.monotonic() - began)
    return counts


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
    os._exit(0)
