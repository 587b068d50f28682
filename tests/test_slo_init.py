"""`slo init`: expositions of the instrumentations the presets name -> the right preset, a spec
the project's loader and `slo rules` accept, and each refusal (exit 2) naming its fix.

Expositions come from the real libraries where they are installed (prometheus_client,
prometheus-flask-exporter, the demo app in tests/test_slo_init_integration.py) and otherwise
from the metric and label names each project documents (tests/expositions/ and SYNTHETIC).
A synthetic case whose instrumentation has no preset yet is skipped, naming the metric.
"""

import dataclasses
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from slo.cli import main
from slo.init.inventory import parse_exposition
from slo.init.recognise import family_of, recognise
from slo.init.starter import choose_latency, starter
from slo.spec import parse_spec
from slo.spec.presets import PRESETS
from tests.conftest import start_static_server

EXPOSITIONS = Path(__file__).parent / "expositions"


def exposition(counter: str | None, labels: dict[str, list[str]], histogram: str | None = None,
               histogram_labels: tuple[str, ...] = (), buckets=(0.05, 0.1, 0.25, 0.5, 1.0),
               observations=(0.03,) * 90 + (0.2,) * 10) -> str:
    """A prometheus_client registry with a counter (one series per label combination, all
    values of labels zipped) and a histogram observed `observations` per route."""
    registry = CollectorRegistry()
    names = list(labels)
    rows = list(zip(*labels.values(), strict=True))
    if counter:
        count = Counter(counter.removesuffix("_total"), "requests", names, registry=registry)
        for row in rows:
            count.labels(*row).inc(10)
    if histogram:
        hist = Histogram(histogram, "duration", list(histogram_labels), buckets=buckets,
                         registry=registry)
        for row in rows:
            values = dict(zip(names, row, strict=True))
            child = hist.labels(*(values.get(k, "x") for k in histogram_labels))
            for seconds in observations:
                child.observe(seconds)
    return generate_latest(registry).decode()


# (case, exposition, the requests metric family a preset must read, histogram expected)
SYNTHETIC = [
    ("prometheus-fastapi-instrumentator",
     exposition("http_requests_total", {"handler": ["/items", "/metrics"], "method": ["GET"] * 2,
                                        "status": ["2xx", "2xx"]},
                "http_request_duration_seconds", ("handler", "method")),
     "http_requests", True),
    ("starlette_exporter",
     exposition("starlette_requests_total", {"app_name": ["shop"], "method": ["GET"],
                                             "path": ["/items/{id}"], "status_code": ["200"]},
                "starlette_request_duration_seconds",
                ("app_name", "method", "path", "status_code")),
     "starlette_requests", True),
    ("django-prometheus",
     exposition("django_http_responses_total_by_status_view_method_total",
                {"method": ["GET"], "status": ["200"], "view": ["shop.views.index"]},
                "django_http_requests_latency_seconds_by_view_method", ("method", "view")),
     "django_http_responses_total_by_status_view_method", True),
    ("spring-micrometer",
     exposition(None, {"exception": ["None"], "method": ["GET"], "outcome": ["SUCCESS"],
                      "status": ["200"], "uri": ["/owners/{ownerId}"]},
                "http_server_requests_seconds",
                ("exception", "method", "outcome", "status", "uri")),
     "http_server_requests_seconds", True),
    ("istio",
     exposition("istio_requests_total", {"reporter": ["destination", "source"],
                                         "response_code": ["200", "200"],
                                         "destination_service": ["reviews", "reviews"]},
                "istio_request_duration_milliseconds",
                ("reporter", "response_code", "destination_service"),
                buckets=(1, 5, 10, 25, 50, 100, 250), observations=(3,) * 95 + (40,) * 5),
     "istio_requests", True),
    ("traefik",
     exposition("traefik_service_requests_total", {"code": ["200"], "method": ["GET"],
                                                   "protocol": ["http"],
                                                   "service": ["shop@docker"]},
                "traefik_service_request_duration_seconds", ("code", "method", "protocol",
                                                             "service")),
     "traefik_service_requests", True),
    ("linkerd",
     exposition("response_total", {"classification": ["success", "failure"],
                                   "direction": ["inbound", "inbound"],
                                   "status_code": ["200", "503"]},
                "response_latency_ms", ("classification", "direction", "status_code"),
                buckets=(1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100),
                observations=(2,) * 95 + (30,) * 5),
     "response", True),
    ("grpc",
     exposition("grpc_server_handled_total", {"grpc_code": ["OK", "Unavailable"],
                                              "grpc_method": ["GetUser", "GetUser"],
                                              "grpc_service": ["users.Users", "users.Users"],
                                              "grpc_type": ["unary", "unary"]},
                "grpc_server_handling_seconds", ("grpc_method", "grpc_service", "grpc_type")),
     "grpc_server_handled", True),
    ("ingress-nginx",
     "# TYPE nginx_ingress_controller_requests counter\n"
     'nginx_ingress_controller_requests{ingress="shop",method="GET",namespace="default",'
     'path="/",service="shop",status="200"} 120\n'
     + exposition(None, {"ingress": ["shop"], "method": ["GET"], "namespace": ["default"],
                        "path": ["/"], "service": ["shop"], "status": ["200"]},
                  "nginx_ingress_controller_request_duration_seconds",
                  ("ingress", "method", "namespace", "path", "service", "status")),
     "nginx_ingress_controller_requests", True),
]


def _preset_reading(family: str, inventory) -> list[str]:
    """Presets that read `family` with a status label its series carry (another preset on the
    same names, promhttp for the FastAPI instrumentator, does not count)."""
    labels = {k for s in inventory.series if family_of(s.name) == family for k, _ in s.labels}
    return [p.name for p in PRESETS.values() if p.status_label in labels and (
        family_of(p.requests_metric) == family or p.requests_metric == family)]


def _loads(text: str) -> None:
    spec = parse_spec(text, "init.yaml")
    assert [s.name for s in spec.slos]


@pytest.mark.parametrize("case,text,family,histogram", SYNTHETIC, ids=[c[0] for c in SYNTHETIC])
def test_a_documented_instrumentation_is_recognised_once_a_preset_names_it(
        case, text, family, histogram):
    inventory = parse_exposition(text, case)
    if not _preset_reading(family, inventory):
        pytest.skip(f"no preset reads {family} with these labels yet ({case})")
    recognition = recognise(inventory)
    assert len(recognition.best) == 1, recognition.best
    match = recognition.best[0]
    assert family_of(match.requests_metric) == family or match.requests_metric == family
    assert match.histogram is histogram
    _loads(starter(inventory, match, "svc", "svc").text)


@pytest.mark.parametrize("file,preset,threshold_ms", [
    ("promhttp-go.txt", "promhttp", 250.0),           # 1400/1523 < 95% <= 1500/1523
    ("opentelemetry.txt", "opentelemetry", 25.0),      # only 10 observations: middle bound
    ("opentelemetry-legacy.txt", "opentelemetry-legacy", 50.0),  # 95/100 <= 50 ms
    ("envoy.txt", "envoy", 25.0),                      # 880/904 > 95%: (10, 25]
])
def test_a_documented_exposition_gives_its_preset_and_a_bucket_threshold(file, preset,
                                                                         threshold_ms):
    inventory = parse_exposition((EXPOSITIONS / file).read_text(), file)
    (match,) = recognise(inventory).best
    assert match.preset == preset
    result = starter(inventory, match, "svc", "svc")
    assert result.latency is not None
    assert result.latency.threshold_s * 1000 == pytest.approx(threshold_ms)
    spec = parse_spec(result.text, "init.yaml")
    assert {s.name for s in spec.slos} == {"availability", "error-ratio", "latency-p95"}


def test_promhttp_keeps_the_metrics_route_out_of_every_slo_and_of_the_p95():
    inventory = parse_exposition((EXPOSITIONS / "promhttp-go.txt").read_text(), "go")
    (match,) = recognise(inventory).best
    result = starter(inventory, match, "orders", "orders")
    assert result.excluded_routes == ("/metrics",)
    doc = yaml.safe_load(result.text)
    assert doc["prometheus"]["selector"] == 'handler!~"/metrics"'
    # the /metrics series (all in +Inf) would have pushed the p95 above the top bucket
    assert "above the top bucket" not in result.latency.reason


def test_envoy_keeps_its_counter_name_without_total_as_prometheus_stores_it():
    inventory = parse_exposition((EXPOSITIONS / "envoy.txt").read_text(), "envoy")
    assert "envoy_http_downstream_rq_xx" in inventory.names()
    (match,) = recognise(inventory).best
    assert match.requests_metric == "envoy_http_downstream_rq_xx"
    # the whole listener's counter has no route label (envoy_route is on the per-route series
    # of the fault proxy's PROXY_ROUTES: docs/fault-proxy.md), and the admin listener's series
    # are not the service's traffic
    assert match.routes == ()


def test_prometheus_client_promhttp_style_metrics_are_promhttp():
    text = exposition("http_requests_total", {"code": ["200", "503"], "handler": ["/", "/"],
                                              "method": ["get", "get"]},
                      "http_request_duration_seconds", ("handler", "method"))
    (match,) = recognise(parse_exposition(text, "py")).best
    assert match.preset == "promhttp" and match.status_values == ("200", "503")


def test_openmetrics_pages_are_read_with_the_openmetrics_parser():
    from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST
    from prometheus_client.openmetrics.exposition import generate_latest as om_latest
    registry = CollectorRegistry()
    Counter("http_requests", "r", ["code", "handler"], registry=registry).labels("200", "/").inc()
    inventory = parse_exposition(om_latest(registry).decode(), "om", CONTENT_TYPE_LATEST)
    assert "http_requests_total" in inventory.names()
    assert recognise(inventory).best[0].preset == "promhttp"


def test_prometheus_flask_exporter_real_library_is_recognised():
    from flask import Flask
    from prometheus_flask_exporter import PrometheusMetrics
    app = Flask("shop")
    registry = CollectorRegistry()
    PrometheusMetrics(app, registry=registry, path="/metrics")

    @app.get("/items/<int:item>")
    def item(item):
        return {"item": item}

    client = app.test_client()
    for n in range(60):
        client.get(f"/items/{n}")
    client.get("/nope")
    page = client.get("/metrics").get_data(as_text=True)
    inventory = parse_exposition(page, "flask")
    (match,) = recognise(inventory).best
    assert match.preset == "prometheus-flask-exporter"
    assert "/items/7" in match.routes  # its default group_by='path': raw paths
    result = starter(inventory, match, "shop", "shop")
    assert any("holds raw paths (/items/0, 60 such values)" in n for n in result.notes)
    assert result.latency is not None
    _loads(result.text)


def test_a_histogram_with_few_observations_gets_a_middle_bound_and_says_so():
    text = exposition("http_requests_total", {"code": ["200"], "handler": ["/"]},
                      "http_request_duration_seconds", ("handler",), observations=(0.01,) * 3)
    inventory = parse_exposition(text, "few")
    latency = choose_latency(inventory, recognise(inventory).best[0], ())
    assert latency.threshold_s == 0.25 and "only 3 observations" in latency.reason


def test_a_p95_above_the_top_bucket_is_said_not_hidden():
    text = exposition("http_requests_total", {"code": ["200"], "handler": ["/"]},
                      "http_request_duration_seconds", ("handler",),
                      observations=(5.0,) * 100)
    inventory = parse_exposition(text, "slow")
    latency = choose_latency(inventory, recognise(inventory).best[0], ())
    assert latency.threshold_s == 1.0 and "above the top bucket" in latency.reason


def test_two_presets_reading_the_same_names_are_ambiguous(monkeypatch):
    monkeypatch.setitem(PRESETS, "promhttp-twin",
                        dataclasses.replace(PRESETS["promhttp"], name="promhttp-twin"))
    inventory = parse_exposition((EXPOSITIONS / "promhttp-go.txt").read_text(), "go")
    assert {m.preset for m in recognise(inventory).best} == {"promhttp", "promhttp-twin"}


def test_a_missing_status_label_is_a_miss_with_its_reason():
    text = exposition("http_requests_total", {"handler": ["/"], "method": ["get"]})
    recognition = recognise(parse_exposition(text, "nostatus"))
    assert not recognition.best
    assert any(m.preset == "promhttp" and "no label 'code'" in m.reason
               for m in recognition.misses)


def test_status_values_the_preset_does_not_know_are_a_miss_not_a_match():
    text = exposition("http_requests_total", {"code": ["ok", "fail"], "handler": ["/", "/"]})
    recognition = recognise(parse_exposition(text, "words"))
    assert not recognition.best  # an error matcher 5.. would never count "fail"
    assert any("takes fail, ok" in m.reason for m in recognition.misses)


def test_a_counter_written_without_total_is_named_as_written_in_the_spec():
    text = ('# TYPE http_requests counter\n'
            'http_requests{code="200",handler="/"} 10\n')
    inventory = parse_exposition(text, "old")
    (match,) = recognise(inventory).best
    assert match.requests_metric == "http_requests"
    doc = yaml.safe_load(starter(inventory, match, "svc", "svc").text)
    assert doc["prometheus"]["requests_metric"] == "http_requests"


def test_probe_routes_stay_out_of_the_ratio_slos_when_the_histogram_has_no_route(tmp_path):
    text = exposition("http_requests_total", {"code": ["200", "200"],
                                              "handler": ["/", "/healthz"]},
                      "http_request_duration_seconds", ("method",))
    inventory = parse_exposition(text, "noroute")
    (match,) = recognise(inventory).best
    result = starter(inventory, match, "svc", "svc")
    doc = yaml.safe_load(result.text)
    assert "selector" not in doc["prometheus"]  # it would name a label the histogram lacks
    by_name = {s["name"]: s for s in doc["slos"]}
    assert by_name["error-ratio"]["selector"] == 'handler!~"/healthz"'
    assert "selector" not in by_name["latency-p95"]
    spec = tmp_path / "s.yaml"
    spec.write_text(result.text)
    assert main(["rules", "--spec", str(spec), "--out-dir", str(tmp_path / "gen")]) == 0


def test_counters_already_past_the_objective_are_said():
    text = exposition("http_requests_total", {"code": ["200", "500"], "handler": ["/", "/"]})
    inventory = parse_exposition(text, "failing")
    result = starter(inventory, recognise(inventory).best[0], "svc", "svc")
    assert result.observed.startswith("10 errors in 20 requests (50%)")
    assert any("above the 1% objective" in n for n in result.notes)


# --- the command, against pages served over HTTP -------------------------------------------

PAGES = {
    "promhttp": (EXPOSITIONS / "promhttp-go.txt").read_text(),
    "nohistogram": exposition("http_requests_total", {"code": ["200"], "handler": ["/"]}),
    "unknown": exposition("shop_orders_total", {"result": ["ok"]}, "shop_http_latency_seconds",
                          ("route",)),
    "empty": "",
    "notmetrics": "<html><body>hello</body></html>\n",
}


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    server = start_static_server(tmp_path_factory.mktemp("pages"), PAGES)
    yield server.url
    server.proc.stop()


def init(*argv) -> int:
    return main(["init", *argv])


def test_init_writes_a_spec_that_slo_rules_accepts(pages, tmp_path, capsys):
    out = tmp_path / "orders.yaml"
    assert init("--metrics-url", f"{pages}/promhttp", "--service", "orders", "-o", str(out)) == 0
    printed = capsys.readouterr().out
    assert "recognised: promhttp" in printed
    assert "routes (handler): /api/orders, /metrics" in printed
    assert "could not recognise: http_requests_in_flight" in printed
    assert "p95 threshold 250 ms" in printed
    assert main(["rules", "--spec", str(out), "--out-dir", str(tmp_path / "gen")]) == 0
    assert (tmp_path / "gen").exists()


def test_init_without_a_histogram_writes_no_latency_slo_and_says_so(pages, tmp_path, capsys):
    out = tmp_path / "s.yaml"
    assert init("--metrics-url", f"{pages}/nohistogram", "-o", str(out)) == 0
    printed = capsys.readouterr().out
    assert "no latency SLO written" in printed
    assert "job 'my-service' is a placeholder" in printed
    assert "latency-p95" not in out.read_text()
    _loads(out.read_text())


@pytest.mark.parametrize("page,expected", [
    ("unknown", "could not recognise: shop_http_latency_seconds"),
    ("empty", "holds no metrics"),
    ("notmetrics", "not a Prometheus text format exposition"),
    ("missing-page", "HTTP status 404"),
])
def test_init_refuses_what_it_cannot_recognise(pages, tmp_path, capsys, page, expected):
    out = tmp_path / "s.yaml"
    assert init("--metrics-url", f"{pages}/{page}", "-o", str(out)) == 2
    assert expected in capsys.readouterr().err.replace("\n", " ")
    assert not out.exists()


def test_init_refuses_an_unreachable_url(tmp_path, capsys):
    from stack.procs import free_port
    url = f"http://127.0.0.1:{free_port()}/metrics"
    assert init("--metrics-url", url, "-o", str(tmp_path / "s.yaml")) == 2
    assert "connection refused" in capsys.readouterr().err


def test_init_refuses_two_equally_plausible_presets_and_names_preset(pages, tmp_path, capsys,
                                                                     monkeypatch):
    monkeypatch.setitem(PRESETS, "promhttp-twin",
                        dataclasses.replace(PRESETS["promhttp"], name="promhttp-twin"))
    out = tmp_path / "s.yaml"
    assert init("--metrics-url", f"{pages}/promhttp", "-o", str(out)) == 2
    err = capsys.readouterr().err.replace("\n", " ")
    assert "promhttp, promhttp-twin" in err and "--preset" in err
    assert init("--metrics-url", f"{pages}/promhttp", "-o", str(out),
                "--preset", "promhttp") == 0


def test_init_never_overwrites_without_force(pages, tmp_path, capsys):
    out = tmp_path / "s.yaml"
    out.write_text("mine\n")
    assert init("--metrics-url", f"{pages}/promhttp", "-o", str(out)) == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_text() == "mine\n"
    assert init("--metrics-url", f"{pages}/promhttp", "-o", str(out), "--force") == 0
    _loads(out.read_text())


def test_init_needs_a_source(tmp_path, capsys):
    assert init("-o", str(tmp_path / "s.yaml")) == 2
    assert "--metrics-url" in capsys.readouterr().err
