"""Judging any service, without servers: presets and label settings, raw queries, Sloth and
OpenSLO files read unchanged, PromQL parsed before use, a backend that answers with warnings,
and promtool proving the rules of a `code`-labelled service page when the maths says.

Files are good inputs first, then one thing broken per case (tables with sentence-like ids).
"""

import http.server
import json
import math
import subprocess
import textwrap
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml

from slo.alerting import rules
from slo.alerting.burnrate import PROFILES, alert_windows, detection_time_s
from slo.cli import main
from slo.errors import SpecError
from slo.judge import promql, sources
from slo.spec import parse_spec
from slo.spec.model import EventRatio, Quantile
from slo.spec.presets import PRESETS
from slo.spec.queries import QueryError, parse_events, parse_ratio
from tests.helpers import promtool

SPECS = Path(__file__).parent / "specs"  # Sloth and OpenSLO files, as their users write them


def spec_of(text: str, name: str = "spec.yaml"):
    return parse_spec(textwrap.dedent(text), name)


def error_of(text: str, name: str = "spec.yaml") -> str:
    with pytest.raises(SpecError) as caught:
        spec_of(text, name)
    return str(caught.value)


# ---- presets and label settings --------------------------------------------------------------

def native(preset: str | None = None, slos: str = "- {name: errors, objective: ratio <= 1%}",
           **prometheus) -> str:
    fields = {"job": "api", **({"preset": preset} if preset else {}), **prometheus}
    return yaml.safe_dump({"version": "slo-harness/v1", "service": "api", "prometheus": fields,
                           "slos": yaml.safe_load(slos)}, sort_keys=False)


# (preset, requests metric, status label, error matcher value, histogram, unit)
PRESET_NAMES = [
    ("slo-harness", "app_requests_total", "status", "5..|aborted",
     "app_request_duration_seconds", 1.0),
    ("promhttp", "http_requests_total", "code", "5..", "http_request_duration_seconds", 1.0),
    ("prometheus-flask-exporter", "flask_http_request_duration_seconds_count", "status", "5..",
     "flask_http_request_duration_seconds", 1.0),
    ("opentelemetry", "http_server_request_duration_seconds_count",
     "http_response_status_code", "5..", "http_server_request_duration_seconds", 1.0),
    ("opentelemetry-legacy", "http_server_duration_milliseconds_count", "http_status_code",
     "5..", "http_server_duration_milliseconds", 0.001),
    ("envoy", "envoy_http_downstream_rq_xx", "envoy_response_code_class", "5",
     "envoy_http_downstream_rq_time", 0.001),
    ("fastapi-instrumentator", "http_requests_total", "status", "5..",
     "http_request_duration_seconds", 1.0),
    ("starlette-exporter", "starlette_requests_total", "status_code", "5..",
     "starlette_request_duration_seconds", 1.0),
    ("django-prometheus", "django_http_responses_total_by_status_view_method_total", "status",
     "5..", "django_http_requests_latency_seconds_by_view_method", 1.0),
    ("opentelemetry-legacy-target", "http_server_duration_milliseconds_count",
     "http_status_code", "5..", "http_server_duration_milliseconds", 0.001),
    ("micrometer", "http_server_requests_seconds_count", "outcome", "SERVER_ERROR",
     "http_server_requests_seconds", 1.0),
    ("istio", "istio_requests_total", "response_code", "5..",
     "istio_request_duration_milliseconds", 0.001),
    ("traefik", "traefik_service_requests_total", "code", "5..",
     "traefik_service_request_duration_seconds", 1.0),
    ("linkerd", "response_total", "classification", "failure", "response_latency_ms", 0.001),
    ("grpc", "grpc_server_handled_total", "grpc_code",
     "Unknown|DeadlineExceeded|Internal|Unavailable|DataLoss|"
     "UNKNOWN|DEADLINE_EXCEEDED|INTERNAL|UNAVAILABLE|DATA_LOSS",
     "grpc_server_handling_seconds", 1.0),
    ("ingress-nginx", "nginx_ingress_controller_requests", "status", "5..",
     "nginx_ingress_controller_request_duration_seconds", 1.0),
]


@pytest.mark.parametrize(("preset", "metric", "status", "errors", "histogram", "scale"),
                         PRESET_NAMES, ids=[p[0] for p in PRESET_NAMES])
def test_each_preset_reads_its_instrumentations_names(preset, metric, status, errors, histogram,
                                                      scale):
    spec = spec_of(native(preset, "- {name: errors, objective: ratio <= 1%}\n"
                                  "- {name: p95, objective: p(95) <= 250ms}"))
    ratio = spec.slo("errors").sli
    assert ratio.total.selectors[0].metric == metric
    assert [m for m in ratio.events.selectors[0].matchers if m.label == status][0].value == errors
    p95 = spec.slo("p95").sli
    assert (p95.buckets.metric, p95.count.metric, p95.scale_s) == (
        histogram + "_bucket", histogram + "_count", scale)
    # the threshold bucket in the histogram's own unit: 0.25 s or 250 ms
    le = [m.value for m in spec.slo("p95").budget_ratio.events.selectors[0].matchers
          if m.label == "le"]
    assert le in (["0.25"], ["250|250\\.0"])


def test_every_preset_is_covered_by_the_table():
    assert {p[0] for p in PRESET_NAMES} == set(PRESETS)


def test_envoy_leaves_out_its_admin_listener_and_reads_milliseconds():
    spec = spec_of(native("envoy", "- {name: p99, objective: p(99) <= 300ms}"))
    q = promql.sli_queries(spec.slo("p99"), 60)
    assert 'envoy_http_conn_manager_prefix!="admin"' in q.value
    assert q.value.startswith("(histogram_quantile(0.99, ") and q.value.endswith(" * 0.001)")
    assert 'le=~"300|300\\\\.0"' in q.good


def test_an_envoy_route_slo_reads_the_routes_own_series_and_the_rest_the_whole_listener():
    """issue 21, 1: Envoy's connection-manager series have no route; the router's per-route
    series (the fault proxy gives each route a stat_prefix: envoy_route="/checkout") do."""
    spec = spec_of(native("envoy", "- {name: co, objective: ratio <= 1%, route: /checkout}\n"
                                   "- {name: co-p99, objective: p(99) <= 300ms, route: /checkout}\n"
                                   "- {name: all, objective: ratio <= 1%}\n"
                                   "- {name: all-p99, objective: p(99) <= 300ms}"))
    co = spec.slo("co").sli
    assert str(co.events.selectors[0]) == ('envoy_vhost_route_upstream_rq_xx{job="api",'
                                           'envoy_route=~"/checkout",'
                                           'envoy_response_code_class=~"5"}')
    assert str(co.total.selectors[0]) == (
        'envoy_vhost_route_upstream_rq_xx{job="api",envoy_route=~"/checkout"}')
    p99 = spec.slo("co-p99")
    assert str(p99.sli.buckets) == (
        'envoy_vhost_route_upstream_rq_time_bucket{job="api",envoy_route=~"/checkout"}')
    assert p99.sli.scale_s == 0.001
    assert 'le=~"300|300\\\\.0"' in promql.sli_queries(p99, 60).good
    # without a route: the whole listener, as before (the admin listener left out)
    whole = spec.slo("all").sli
    assert str(whole.total.selectors[0]) == (
        'envoy_http_downstream_rq_xx{job="api",envoy_http_conn_manager_prefix!="admin"}')
    assert spec.slo("all-p99").sli.buckets.metric == "envoy_http_downstream_rq_time_bucket"


def test_an_envoy_route_label_set_by_hand_keeps_the_connection_managers_series():
    spec = spec_of(native("envoy", "- {name: hcm, objective: ratio <= 1%, route: ingress_http}",
                          route_label="envoy_http_conn_manager_prefix"))
    assert str(spec.slo("hcm").sli.total.selectors[0]) == (
        'envoy_http_downstream_rq_xx{job="api",envoy_http_conn_manager_prefix!="admin",'
        'envoy_http_conn_manager_prefix=~"ingress_http"}')


def test_labels_and_unit_can_be_set_by_hand_and_a_route_regex_uses_the_route_label():
    spec = spec_of(native(None, "- {name: api, objective: ratio <= 1%, route: '/api/.*'}\n"
                                "- {name: p95, objective: p(95) <= 300ms}",
                          requests_metric="requests_total", status_label="http_code",
                          route_label="path", error_status="5..|429",
                          duration_metric="latency_ms", duration_unit="milliseconds"))
    api = spec.slo("api").sli
    assert str(api.events.selectors[0]) == (
        'requests_total{job="api",path=~"/api/.*",http_code=~"5..|429"}')
    assert spec.slo("p95").sli.scale_s == 0.001


# ---- the error matcher must be able to match a status ----------------------------------------

ERROR_MATCHERS = [
    ("a typo such as 5xx matches no status code", "promhttp", "5xx",
     "'5xx' matches no value of 'code' (tested against HTTP status codes 100-599), so no "
     "request would ever count as an error; write a regex over the whole value, such as '5..'"),
    ("one dead alternative beside a good one is still refused", None, "5..|abortd",
     "'abortd' matches no value of 'status'"),
    ("an Envoy class written as a code is refused", "envoy", "5..",
     "'5..' matches no value of 'envoy_response_code_class' (tested against Envoy's response "
     "code classes 1-5)"),
]


@pytest.mark.parametrize(("preset", "pattern", "message"), [c[1:] for c in ERROR_MATCHERS],
                         ids=[c[0] for c in ERROR_MATCHERS])
def test_an_error_matcher_that_cannot_match_any_status_is_a_spec_error(preset, pattern, message):
    """issue 11, 2: `error_status: '5xx'` gave the same silent MET as a missing shard."""
    assert message in error_of(native(preset, error_status=pattern))


@pytest.mark.parametrize("pattern", ["5..", "(5..|429)", "5[0-9]{2}|aborted", "50[0-4]"])
def test_error_matchers_that_match_codes_are_accepted(pattern):
    spec_of(native(None, error_status=pattern))


# ---- raw queries in a native spec --------------------------------------------------------------

RAW = """\
    version: slo-harness/v1
    service: api
    prometheus: {job: api}
    slos:
      - name: checkout-errors
        kind: error_ratio
        max_percent: 1
        events:
          bad: sum(rate(checkout_total{result="failed"}[{{.window}}]))
          total: sum(rate(checkout_total[{{.window}}]))
      - name: checkout-availability
        objective: availability >= 99%
        events:
          bad: sum(rate(checkout_total{result="failed"}[{{.window}}]))
          total: sum(rate(checkout_total[{{.window}}]))
      - name: upstream-p99
        objective: p(99) <= 500ms
        histogram: 'envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="app"}'
        duration_unit: milliseconds
    """


def test_raw_event_queries_and_a_raw_histogram_build_the_same_model():
    spec = spec_of(RAW)
    errors = spec.slo("checkout-errors").sli
    assert (str(errors.events), str(errors.total), errors.good) == (
        'checkout_total{result="failed"}', "checkout_total", False)
    availability = spec.slo("checkout-availability").sli
    assert availability.good and str(availability.events) == (
        'checkout_total - checkout_total{result="failed"}')
    p99 = spec.slo("upstream-p99").sli
    assert isinstance(p99, Quantile) and p99.scale_s == 0.001
    assert str(p99.count) == 'envoy_cluster_upstream_rq_time_count{envoy_cluster_name="app"}'


BROKEN_RAW = [
    ("a malformed query names its field and the parser's reason",
     ("sum(rate(checkout_total[{{.window}}]))", "sum(rate(checkout_total[{{.window}}])"),
     "spec.yaml: slos[0].events.total: is not valid PromQL: unclosed left parenthesis (got "
     "'sum(rate(checkout_total[{{.window}}])')"),
    ("a query without the window placeholder is refused",
     ('bad: sum(rate(checkout_total{result="failed"}[{{.window}}]))',
      'bad: sum(rate(checkout_total{result="failed"}[5m]))'),
     "spec.yaml: slos[0].events.bad: must count over the window placeholder"),
    ("a query that is not a sum of counters is refused",
     ('bad: sum(rate(checkout_total{result="failed"}[{{.window}}]))',
      'bad: max(rate(checkout_total{result="failed"}[{{.window}}]))'),
     "spec.yaml: slos[0].events.bad: uses max(); only sum() aggregates events"),
    ("bad and total counted differently are refused",
     ('bad: sum(rate(checkout_total{result="failed"}[{{.window}}]))',
      'bad: sum(increase(checkout_total{result="failed"}[{{.window}}]))'),
     "spec.yaml: slos[0].events: its two sides count differently (increase vs rate)"),
    ("a raw query beside a selector is refused",
     ("    kind: error_ratio\n", "    kind: error_ratio\n    selector: 'a=\"b\"'\n"),
     "spec.yaml: slos[0]: selector and route apply to the preset's metrics"),
    ("a latency objective over raw events is refused",
     ("objective: availability >= 99%", "objective: p(99) <= 1s"),
     "spec.yaml: slos[1].events: a latency SLO reads a histogram"),
]


@pytest.mark.parametrize(("edit", "message"), [c[1:] for c in BROKEN_RAW],
                         ids=[c[0] for c in BROKEN_RAW])
def test_a_broken_raw_query_is_a_spec_error_naming_the_file_and_field(edit, message):
    text = textwrap.dedent(RAW)
    old, new = edit
    assert old in text
    assert message in error_of(text.replace(old, new, 1))


# ---- the PromQL the judge can count ----------------------------------------------------------

QUERIES = [
    ("a sum of rates", 'sum(rate(a_total{x="1"}[5m]))', "a_total{x=\"1\"}"),
    ("sum by, grouping dropped", "sum by (code) (increase(a_total[1h]))", "a_total"),
    ("sum without", "sum without (pod) (rate(a_total[2m]))", "a_total"),
    ("a difference of counters", "sum(rate(a_count[5m])) - sum(rate(a_bucket{le=\"0.4\"}[5m]))",
     'a_count - a_bucket{le="0.4"}'),
    ("the metric named in braces", '{__name__="a_total",x="1"}', 'a_total{x="1"}'),
]


@pytest.mark.parametrize(("query", "events"), [c[1:] for c in QUERIES], ids=[c[0] for c in QUERIES])
def test_counting_queries_become_signed_counters(query, events):
    assert str(parse_events(query, bare=True).events) == events


REFUSED_QUERIES = [
    ("irate is not a count", "sum(irate(a[5m]))", "uses irate()"),
    ("a ratio is not a count", "sum(rate(a[5m])) / sum(rate(b[5m]))", "the operator '/'"),
    ("an offset moves the window", "sum(rate(a[5m] offset 1h))", "uses offset or @"),
    ("ranges must agree", "sum(rate(a[5m])) + sum(rate(b[1h]))", "ranges of different lengths"),
    ("a bare counter needs counter: true", "sum(a)", "uses the bare selector a{}"),
    ("only {{.window}} is substituted", "sum(rate(a[{{.range}}]))", "holds the template"),
    ("a regex metric name is refused", 'sum(rate({__name__=~"a.*"}[5m]))',
     "must name its metric exactly"),
    ("a status matcher that matches no status is refused", 'sum(rate(a{code=~"50x"}[5m]))',
     "code=~\"50x\": '50x' matches no status value"),
    ("a negated one too: it would keep every request as good",
     'sum(rate(a{status!~"5.|aborted"}[5m]))', "'5.' matches no status value"),
]


@pytest.mark.parametrize("query", ['sum(rate(a{code=~"(5..|429)"}[5m]))',
                                   'sum(http_requests{code=~"2xx|4xx"})',
                                   'sum(rate(a{envoy_response_code_class="5"}[5m]))',
                                   'sum(rate(a{status!~"5..|aborted"}[5m]))'])
def test_status_matchers_on_codes_classes_or_class_strings_are_accepted(query):
    parse_events(query, bare=True)


@pytest.mark.parametrize(("query", "message"), [c[1:] for c in REFUSED_QUERIES],
                         ids=[c[0] for c in REFUSED_QUERIES])
def test_queries_the_judge_cannot_count_are_refused_saying_why(query, message):
    with pytest.raises(QueryError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("{", r"\{").replace("}", r"\}").replace(".", r"\.")):
        parse_events(query)


def test_a_raw_ratio_splits_into_events_and_total_and_one_minus_inverts_it():
    ratio = parse_ratio("sum(rate(bad[{{.window}}])) / sum(rate(all[{{.window}}]))")
    assert (str(ratio.events), str(ratio.total), ratio.inverted) == ("bad", "all", False)
    assert parse_ratio("1 - (sum(rate(good[5m])) / sum(rate(all[5m])))").inverted


# ---- Sloth -------------------------------------------------------------------------------------

SLOTH_GETTING_STARTED = (SPECS / "sloth-getting-started.yaml").read_text(encoding="utf-8")


def test_slothss_getting_started_example_loads_as_it_is():
    spec = spec_of(SLOTH_GETTING_STARTED, "sloth.yaml")
    (slo,) = spec.slos
    assert (spec.service, slo.name, slo.kind, slo.window_s) == (
        "myservice", "requests-availability", "error_ratio", 30 * 86400)
    assert slo.objectives[0].target == pytest.approx(0.001) and slo.error_budget == 0.001
    assert str(slo.sli.events) == (
        'http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}')
    assert dict(slo.labels) == {"owner": "myteam", "repo": "myorg/myservice", "tier": "2"}


def test_what_sloth_users_set_carries_over_to_the_generated_rules():
    spec = spec_of(SLOTH_GETTING_STARTED, "sloth.yaml")
    doc = yaml.safe_load(rules.render_rules(spec, PROFILES["standard"], "sloth.yaml"))
    (group,) = doc["groups"]
    recordings = [r for r in group["rules"] if "record" in r]
    assert {r["labels"]["owner"] for r in recordings} == {"myteam"}
    alerts = {(r["alert"], r["labels"]["severity"]): r for r in group["rules"] if "alert" in r}
    page = alerts[("MyServiceHighErrorRate", "pageteam")]
    assert page["for"] == "5m" and page["labels"]["routing_key"] == "myteam"
    assert page["labels"]["category"] == "availability" and page["labels"]["tier"] == "2"
    assert page["annotations"]["summary"] == "High error rate on 'myservice' requests responses"
    ticket = alerts[("MyServiceHighErrorRate", "slack")]
    assert ticket["for"] == "10m" and ticket["labels"]["slack_channel"] == "#alerts-myteam"
    assert ("SLOMetricAbsent", "pageteam") in alerts
    assert len([a for a in alerts if a[0] == "MyServiceHighErrorRate"]) == 2  # by severity
    assert sum(r.get("alert") == "MyServiceHighErrorRate" for r in group["rules"]) == 4


SLOTH_RAW = (SPECS / "sloth-raw.yaml").read_text(encoding="utf-8")


def test_a_sloth_raw_ratio_with_both_alerts_disabled_records_but_does_not_alert():
    spec = spec_of(SLOTH_RAW, "sloth.yaml")
    (slo,) = spec.slos
    assert isinstance(slo.sli, EventRatio) and not slo.alerting.enabled
    assert dict(slo.labels) == {"global01k1": "global01v1", "global03k1": "global03v1"}
    doc = yaml.safe_load(rules.render_rules(spec, PROFILES["standard"], "sloth.yaml"))
    assert not [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


SLOTH_CRD = (SPECS / "sloth-crd.yaml").read_text(encoding="utf-8")


def test_slothss_kubernetes_form_reads_the_same():
    (slo,) = spec_of(SLOTH_CRD, "crd.yaml").slos
    assert slo.alerting.name == "MyServiceHighErrorRate" and not slo.alerting.ticket_enabled
    assert dict(slo.alerting.page_labels) == {"severity": "pageteam"}


BROKEN_SLOTH = [
    ("a malformed query names the file and the field", ("[{{.window}}]))\n", "[{{.window}}])\n"),
     "sloth.yaml: slos[0].sli.events.error_query: is not valid PromQL: unclosed left "
     "parenthesis"),
    ("a query without {{.window}} is refused as Sloth refuses it",
     ('code=~"(5..|429)"}[{{.window}}]', 'code=~"(5..|429)"}[5m]'),
     "sloth.yaml: slos[0].sli.events.error_query: must count over the window placeholder"),
    ("an objective of 100 leaves no budget", ("objective: 99.9", "objective: 100"),
     "sloth.yaml: slos[0].objective: must be below 100"),
    ("an alert without a name is refused", ("      name: MyServiceHighErrorRate\n", ""),
     "sloth.yaml: slos[0].alerting.name: required: the name of the generated alerts"),
    ("a label the rules set themselves is refused", ('  tier: "2"', '  slo: "x"'),
     "sloth.yaml: labels.slo: is set by the generated rules"),
    ("an SLI plugin cannot be evaluated",
     ("    sli:\n      events:\n", "    sli:\n      plugin: {id: x}\n      events:\n"),
     "sloth.yaml: slos[0].sli: needs exactly one of events, raw and plugin"),
    ("an unknown field lists the allowed ones", ("    objective: 99.9", "    objectiv: 99.9"),
     "sloth.yaml: slos[0].objectiv: unknown field"),
]


@pytest.mark.parametrize(("edit", "message"), [c[1:] for c in BROKEN_SLOTH],
                         ids=[c[0] for c in BROKEN_SLOTH])
def test_a_broken_sloth_spec_is_rejected_naming_the_file_field_and_fix(edit, message):
    text = textwrap.dedent(SLOTH_GETTING_STARTED)
    old, new = edit
    assert old in text
    assert message in error_of(text.replace(old, new, 1), "sloth.yaml")


def test_a_sloth_sli_plugin_alone_is_refused_saying_how_to_write_it():
    text = textwrap.dedent(SLOTH_GETTING_STARTED)
    start, end = text.index("      events:\n"), text.index("    alerting:\n")
    message = error_of(text[:start] + "      plugin: {id: sloth-common/availability}\n"
                       + text[end:], "sloth.yaml")
    assert "slos[0].sli.plugin: SLI plugins run inside Sloth and cannot be evaluated" in message


# ---- OpenSLO -----------------------------------------------------------------------------------

OPENSLO_V1ALPHA = (SPECS / "openslo-v1alpha.yaml").read_text(encoding="utf-8")


def test_an_openslo_v1alpha_document_with_ratio_metrics_per_objective_loads():
    (slo,) = spec_of(OPENSLO_V1ALPHA, "openslo.yaml").slos
    assert (slo.name, slo.kind, slo.window_s, slo.sli.good) == (
        "sloth-slo-my-service-0", "ratio", 30 * 86400, True)  # Sloth names it so
    assert slo.objectives[0].target == 0.999


OPENSLO_REFS = (SPECS / "openslo-refs.yaml").read_text(encoding="utf-8")


def test_openslo_sli_and_datasource_documents_are_referenced_by_name():
    spec = spec_of(OPENSLO_REFS, "openslo.yaml")
    errors = spec.slo("search-availability")
    assert errors.kind == "error_ratio" and errors.objectives[0].target == pytest.approx(0.005)
    assert str(errors.sli.events) == 'http_requests{component="search",code=~"5.."}'
    assert errors.sli.events.origin == (
        "document 2.spec.ratioMetric.bad.metricSource.spec.query")
    p95 = spec.slo("search-p95")
    assert (p95.threshold_s, p95.sli.scale_s, p95.window_s) == (0.25, 0.001, 28 * 86400)


BROKEN_OPENSLO = [
    ("a malformed query names the document and the field",
     ('code=~"5.."})', 'code=~"5.."}'),
     "openslo.yaml: document 2.spec.ratioMetric.bad.metricSource.spec.query: is not valid "
     "PromQL: unclosed left parenthesis"),
    ("a reference to a data source that is not there is refused",
     ("metricSourceRef: prom\n        spec: {query: 'sum(http_requests{component=\"search\"})'",
      "metricSourceRef: other\n        spec: {query: 'sum(http_requests{component=\"search\"})'"),
     "document 2.spec.ratioMetric.total.metricSource.metricSourceRef: no kind: DataSource "
     "document named 'other' in this file; set metricSource.type: Prometheus"),
    ("a latency histogram of unknown unit must be annotated",
     ("  annotations: {slo-harness/duration-unit: milliseconds}\n", ""),
     "document 4.spec.indicator.spec.thresholdMetric.metricSource.spec.query: cannot tell the "
     "unit of 'search_latency' from its name"),
    ("a counter that is not a counter cannot be counted", ("counter: true", "counter: false"),
     "with counter: false the query must count with rate() or increase()"),
]


@pytest.mark.parametrize(("edit", "message"), [c[1:] for c in BROKEN_OPENSLO],
                         ids=[c[0] for c in BROKEN_OPENSLO])
def test_a_broken_openslo_file_is_rejected_naming_the_document_and_field(edit, message):
    text = textwrap.dedent(OPENSLO_REFS)
    old, new = edit
    assert old in text
    assert message in error_of(text.replace(old, new, 1), "openslo.yaml")


# ---- what an event query must see once its status matchers are set aside ----------------------

def raw(bad: str, total: str, **prometheus) -> str:
    return native(None, yaml.safe_dump([{"name": "e", "objective": "ratio <= 1%",
                                         "events": {"bad": bad, "total": total}}]), **prometheus)


def rate(selector: str) -> str:
    return f"sum(rate({selector}[{{{{.window}}}}]))"


# (case, spec, [(selector asked about, status label read, covered by the total)])
LOOKS = [
    ("the preset's error matcher is set aside: the rest is the total, read for its status values "
     "(and the total must select series)",
     native(), [('app_requests_total{job="api"}', "status", True),
                ('app_requests_total{job="api"}', None, False)]),
    ("a route value in the bad query alone must select series",
     raw(rate('app_requests_total{job="api",endpoint="/p/<id>",status=~"5.."}'),
         rate('app_requests_total{job="api"}')),
     [('app_requests_total{job="api",endpoint="/p/<id>"}', "status", False),
      ('app_requests_total{job="api"}', None, False)]),
    ("the spec's status label is a status label whatever its name",
     native(None, status_label="method"), [('app_requests_total{job="api"}', "method", True),
                                           ('app_requests_total{job="api"}', None, False)]),
    ("a usual status label name is one in a raw query too",
     raw(rate('http_requests_total{job="api",code=~"5.."}'),
         rate('http_requests_total{job="api"}')),
     [('http_requests_total{job="api"}', "code", True),
      ('http_requests_total{job="api"}', None, False)]),
    ("without a status label, the matchers the total lacks tell the bad events apart",
     raw(rate('checkout_total{result="failed"}'), rate("checkout_total")),
     [("checkout_total", None, False)]),
    ("a dedicated error counter keeps the matchers it shares with the total",
     raw(rate('errors_total{job="api",reason="timeout"}'), rate('requests_total{job="api"}')),
     [('errors_total{job="api"}', None, False), ('requests_total{job="api"}', None, False)]),
    ("each counter of a total of several is asked about",
     raw(rate('a_total{job="api",code="500"}'),
         rate('a_total{job="api"}') + " + " + rate('b_total{job="api",code="200"}')),
     [('a_total{job="api"}', "code", True), ('a_total{job="api"}', None, False),
      ('b_total{job="api"}', "code", False)]),
    ("the terms of a total of several are asked about without what tells them apart (the "
     "failed series is born at the first failure: a healthy service has none yet)",
     raw(rate('jobs_total{job="api",result="failed"}'),
         rate('jobs_total{job="api",result="ok"}') + " + "
         + rate('jobs_total{job="api",result="failed"}')),
     [('jobs_total{job="api"}', None, False)]),
    ("a single-counter total (and a latency SLO's count) must select series: a route typo "
     "names its matcher",
     native(None, "- {name: p, objective: p(95) <= 250ms}"),
     [('app_request_duration_seconds_count{job="api"}', None, False)]),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in LOOKS], ids=[c[0] for c in LOOKS])
def test_an_event_query_is_asked_about_without_its_status_matchers(text, expected):
    (slo,) = spec_of(text).slos
    found = {(str(look.selector), look.status_label, look.covered)
             for look in sources.looks(slo).values()}
    assert found == set(expected)


def scope_problem(text: str, values: tuple[str, ...], misses=(), labels=("job", "status"),
                  total_seen=True):
    """The problems of the scopes of `text`'s one SLO when its event queries' rest selects
    `values` (or misses) and its single-counter total selects series with `labels` (none
    unless total_seen)."""
    (slo,) = spec_of(text).slos
    scopes = {look: sources.Scope(look, tuple(labels) if total_seen else (), misses=misses)
              if source.role in ("total", "count") and look.status_label is None else
              sources.Scope(look, values, misses=misses)
              for source, look in sources.looks(slo).items()}
    seen = {m: sources.Seen(m, frozenset(labels)) for m in sources.metrics_of([slo])}
    return sources.scope_problems(slo, scopes, seen, "between A and B")


TYPO = raw(rate('app_requests_total{job="api",endpoint="/p/<id>",status=~"5.."}'),
           rate('app_requests_total{job="api"}'))


def test_a_healthy_service_without_error_series_yet_is_judged():
    assert scope_problem(native(), ("200",)) == []
    assert scope_problem(TYPO, ("200", "304")) == []
    assert scope_problem(native(), ()) == []  # no error series yet: the total's count decides


def test_a_total_that_selects_no_series_names_its_matcher_and_the_closest_values():
    """A route typo in a single-counter total (or a latency SLO's count): check and rules
    alike name the matcher, not only "no events in the window"."""
    text = native(None, "- {name: home, objective: ratio <= 1%, route: /hmoe}")
    (slo,) = spec_of(text).slos
    endpoint = next(m for m in slo.sli.total.selectors[0].matchers if m.label == "endpoint")
    problems = scope_problem(text, ("200",), misses=((endpoint, ("/", "/home")),),
                             total_seen=False)
    assert problems[-1].startswith('app_requests_total{job="api",endpoint=~"/hmoe"} selects no '
                                   'series between A and B, so its events would count as 0: no '
                                   'series has endpoint=~"/hmoe" (endpoint values seen: /home, /)')


def test_a_job_that_selects_nothing_names_prometheus_job_as_the_fix():
    """A new user's walk: `slo init --job my-items` while the stack scrapes the service as job
    'target'; the fix named was prometheus.requests_metric."""
    text = native(None, "- {name: home, objective: ratio <= 1%}")
    (slo,) = spec_of(text).slos
    job = next(m for m in slo.sli.total.selectors[0].matchers if m.label == "job")
    problems = scope_problem(text, ("200",), misses=((job, ("target",)),), total_seen=False)
    assert 'no series has job="api" (job values seen: target); fix prometheus.job' in problems[-1]


def test_a_route_value_that_selects_nothing_names_the_matcher_and_the_closest_values():
    endpoint = next(m for m in spec_of(TYPO).slos[0].sli.events.selectors[0].matchers
                    if m.label == "endpoint")
    values = ("/", "/a", "/b", "/c", "/d", "/metrics", "/p", "/p/<project_id>")
    (problem,) = scope_problem(TYPO, (), misses=((endpoint, values),))
    assert problem == (
        'app_requests_total{job="api",endpoint="/p/<id>"} selects no series between A and B, '
        'so its events would count as 0: no series has endpoint="/p/<id>" (endpoint values '
        "seen: /p/<project_id>, /p, /d, /metrics, /, /a, … (2 more)); fix slos[0].events.bad "
        "(or, if nothing was sent there in the window, judge a window with its traffic)")


@pytest.mark.parametrize(("values", "problem"), [
    (("GET", "POST"), True), (("200", "GET"), False), (("5xx",), False), (("5",), False),
    (("aborted",), False), (("OK", "Unavailable"), True),
], ids=["methods", "one code among others", "a class string", "an envoy class", "aborted",
        "grpc names"])
def test_a_status_label_must_hold_status_codes(values, problem):
    found = scope_problem(native(None, status_label="method"), values,
                          labels=("job", "method", "status"))
    assert bool(found) == problem
    if problem:
        assert found[0] == (
            'app_requests_total: the label "method" holds no status code between A and B '
            f"(values seen: {', '.join(values)}), so it cannot tell an error from a success; "
            "set prometheus.status_label (or prometheus.preset) to the label holding the status "
            'code (a label of app_requests_total named like one: "status")')


# ---- malformed PromQL: exit 2 before anything is sent -------------------------------------------

def test_malformed_promql_is_exit_2_naming_file_and_field_before_any_query(tmp_path, capsys):
    spec = tmp_path / "sloth.yaml"
    spec.write_text(textwrap.dedent(SLOTH_GETTING_STARTED).replace(
        "[{{.window}}]))\n", "[{{.window}}])\n", 1), encoding="utf-8")
    # a Prometheus that cannot be reached: the spec error comes first, and fast
    began = time.monotonic()
    assert main(["check", "--spec", str(spec), "--prometheus", "http://127.0.0.1:9",
                 "--last", "1m"]) == 2
    assert time.monotonic() - began < 5
    err = capsys.readouterr().err
    assert "sloth.yaml: slos[0].sli.events.error_query: is not valid PromQL: unclosed left " \
           "parenthesis" in " ".join(err.split())
    assert "did not answer" not in err


# ---- a Prometheus-compatible backend answering with warnings ----------------------------------

def fake_backend(warnings: list[str], partial: bool = False, only: str | None = None,
                 asked: list[str] | None = None):
    """Answers like a Thanos querier with a store down: the 5xx series' shard is missing (so
    errors read 0 instead of 12.85%) and the answer carries warnings (`only`: just on the
    queries that contain this text); its range queries (the scrapes of `up`) see every
    scrape. `asked` collects every query it was sent."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            """Quiet."""

        def do_GET(self):  # noqa: N802 - http.server's naming
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            if asked is not None and self.path.startswith("/api/v1/query"):
                asked.extend(query.get("query", []))
            warn = only is None or any(only in q for q in query.get("query", []))
            if self.path.startswith("/api/v1/labels"):
                data = ["__name__", "endpoint", "instance", "job", "method", "status"]
            elif self.path.startswith("/api/v1/label/status/values"):
                data = ["200", "503"]
            elif self.path.startswith("/api/v1/query_range"):  # up: every scrape succeeded
                start, end = float(query["start"][0]), float(query["end"][0])
                step = float(query["step"][0].rstrip("s"))
                points = [[start + i * step, "1"] for i in range(int((end - start) // step) + 1)]
                data = {"resultType": "matrix", "result": [{"metric": {}, "values": points}]}
            elif self.path.startswith("/api/v1/query"):
                value = "0" if "5..%7Caborted" in self.path or "status%3D~" in self.path else "1000"
                restarts = query["query"][0].startswith("sum(max by (job, instance) (resets(")
                value = "0" if restarts else value
                data = {"resultType": "vector", "result": [{"metric": {},
                                                            "value": [time.time(), value]}]}
            else:
                data = {}
            payload = {"status": "success", "data": data}
            if warnings and warn:
                payload["warnings"] = warnings
            if partial and warn:
                payload["isPartial"] = True
            body = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def error_ratio_against(backend, tmp_path) -> tuple[int, dict]:
    """`slo check --last 1m --slo error-ratio` against a fake backend (server, url), stopped
    after; returns the exit code and the verdict."""
    server, url = backend
    try:
        out = tmp_path / "r.json"
        code = main(["check", "--prometheus", url, "--last", "1m", "--no-settle", "--json",
                     str(out), "--slo", "error-ratio"])
    finally:
        server.shutdown()
        server.server_close()
    (verdict,) = json.loads(out.read_text())["slos"]
    return code, verdict


@pytest.mark.parametrize(("warnings", "partial", "says"), [
    (["No StoreAPIs matched for this query", "store 10.0.0.7:10901 unavailable"], False,
     "answered with warnings: No StoreAPIs matched for this query; store 10.0.0.7:10901 "
     "unavailable"),
    ([], True, "answered with warnings: the backend marked the answer partial (isPartial)"),
], ids=["thanos-style warnings", "victoriametrics-style isPartial"])
def test_an_answer_with_warnings_or_partial_data_is_exit_2_naming_the_warning(
        warnings, partial, says, tmp_path, capsys):
    """issue 11, 2: real answer 12.85% VIOLATED, judged 0.00% MET, exit 0."""
    code, verdict = error_ratio_against(fake_backend(warnings, partial), tmp_path)
    assert code == 2
    assert verdict["status"] == "no_data" and says in verdict["reason"]
    assert "it is not judged (exit 2)" in verdict["reason"]


def test_a_warning_on_the_query_for_where_the_data_begins_alone_is_exit_2(tmp_path):
    """Where the data begins is read like the rest: an answer with warnings is no answer."""
    code, verdict = error_ratio_against(
        fake_backend(["store 10.0.0.7:10901 unavailable"], only="timestamp("), tmp_path)
    assert code == 2
    assert verdict["status"] == "no_data"
    assert "answered with warnings: store 10.0.0.7:10901 unavailable" in verdict["reason"]


def test_where_the_data_begins_costs_at_most_one_query_per_slo():
    """One query per denominator (SLOs that share one share it): the shipped spec's five SLOs
    read two (app_requests_total of the job, and the histogram's _count)."""
    asked: list[str] = []
    server, url = fake_backend([], asked=asked)
    try:
        code = main(["check", "--prometheus", url, "--last", "1m", "--no-settle"])
    finally:
        server.shutdown()
        server.server_close()
    assert code in (0, 1)
    begins = [q for q in asked if "timestamp(" in q and '"edge", "start"' not in q]
    assert len(begins) == 2 <= 5
    # and the scrapes their counts run between (counted_edges), one query per denominator too
    assert len([q for q in asked if '"edge", "start"' in q]) == 2
    assert 'timestamp(app_request_duration_seconds_count{job="portfolio-app"})[60s:1s]' in \
        begins[0] + begins[1]
    assert 'timestamp(app_requests_total{job="portfolio-app"})[60s:1s]' in begins[0] + begins[1]


def test_the_same_backend_without_warnings_is_judged():
    """The fake answers like a whole Prometheus once the warnings are gone: the test above
    fails because of the warnings, not the fake."""
    server, url = fake_backend([])
    try:
        code = main(["check", "--prometheus", url, "--last", "1m", "--no-settle", "--slo",
                     "error-ratio"])
    finally:
        server.shutdown()
        server.server_close()
    assert code == 0


# ---- promtool: a code-labelled service pages at the workbook's minute --------------------------

PROMHTTP = """\
    version: slo-harness/v1
    service: api
    prometheus: {preset: promhttp, job: api}
    slos:
      - {name: availability, objective: availability >= 99%}
    """


def test_rules_for_a_code_labelled_service_page_at_the_minute_the_workbook_predicts(tmp_path):
    """issue 12: a native spec pointed at a `code`-labelled metric never paged, even for a
    100% outage. With the promhttp preset the 14.4x row pages when 14.4 x 1% of the hour is
    gone: 8.64 minutes into the outage, so at the first 1-minute sample after, minute 9."""
    spec = spec_of(PROMHTTP)
    profile = PROFILES["standard"]
    first = alert_windows(profile, spec.slos[0].window_s)[0]
    theory_min = detection_time_s(first, 0.01, 1.0) / 60
    assert theory_min == pytest.approx(8.64)
    fire_at = math.ceil(theory_min)
    (tmp_path / "rules.yml").write_text(rules.render_rules(spec, profile, "spec.yaml"))
    warm, outage = 70, 15  # minutes of healthy traffic, then every request a 503
    labels = 'job="api",handler="/checkout"'
    ok = " ".join(str(100 * min(i, warm)) for i in range(warm + outage))
    bad = " ".join(str(100 * max(0, i - warm + 1)) for i in range(warm + outage))
    start = warm - 1  # the last healthy sample; the outage's first errors come after it
    alert = 'ALERTS{alertname="ErrorBudgetBurn",alertstate="firing",long="1h"}'
    fired = ('ALERTS{alertname="ErrorBudgetBurn",alertstate="firing",long="1h",service="api",'
             'severity="page",short="5m",slo="availability"}')
    test = {"rule_files": ["rules.yml"], "evaluation_interval": "30s", "tests": [{
        "interval": "1m",
        "input_series": [{"series": f'http_requests_total{{{labels},code="200"}}', "values": ok},
                         {"series": f'http_requests_total{{{labels},code="503"}}',
                          "values": bad}],
        "alert_rule_test": [],
        "promql_expr_test": [
            {"expr": alert, "eval_time": f"{start + fire_at - 1}m30s", "exp_samples": []},
            {"expr": alert, "eval_time": f"{start + fire_at}m",
             "exp_samples": [{"labels": fired, "value": 1}]},
        ]}]}
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run([promtool(), "test", "rules", "test.yml"], capture_output=True,
                            text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_same_rules_with_the_apps_status_label_never_page(tmp_path):
    """The false pass, shown: the default label `status` on a `code`-labelled metric matches
    no series; rules generated that way stay silent through the whole outage."""
    spec = spec_of(PROMHTTP.replace("preset: promhttp, ", "requests_metric: http_requests_total, "))
    (tmp_path / "rules.yml").write_text(rules.render_rules(spec, PROFILES["standard"], "s.yaml"))
    labels = 'job="api",handler="/checkout"'
    test = {"rule_files": ["rules.yml"], "evaluation_interval": "30s", "tests": [{
        "interval": "1m",
        "input_series": [{"series": f'http_requests_total{{{labels},code="200"}}',
                          "values": "0+100x69 7000x15"},
                         {"series": f'http_requests_total{{{labels},code="503"}}',
                          "values": "0x69 100+100x15"}],
        "promql_expr_test": [{"expr": 'ALERTS{alertname="ErrorBudgetBurn"}',
                              "eval_time": "84m", "exp_samples": []}]}]}
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run([promtool(), "test", "rules", "test.yml"], capture_output=True,
                            text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_specs_in_the_readme_load():
    section = (Path(__file__).resolve().parent.parent / "docs" / "judge-your-service.md"
               ).read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in section.split("```yaml\n")[1:]]
    assert len(blocks) == 2
    services = [spec_of(block, "README.md").service for block in blocks]
    assert services == ["checkout", "cart"]


# ---- one model: every generated file works the same for every format ---------------------------

@pytest.mark.parametrize("name", ["sloth-getting-started.yaml", "sloth-raw.yaml",
                                  "openslo-refs.yaml", "prometheus-sloth.yaml",
                                  "prometheus-openslo.yaml", "prometheus-native.yaml"])
def test_rules_grafana_and_checker_queries_of_any_format_are_valid_promql(name, tmp_path):
    import promql_parser

    from slo.alerting.generate import generated_files, rules_path

    spec = parse_spec((SPECS / name).read_text(encoding="utf-8"), name)
    files = generated_files(spec, name)
    exprs = [promql.sli_queries(slo, 300) for slo in spec.slos]
    for q in exprs:
        for expr in filter(None, (q.value, q.total, q.good, q.bad, q.buckets)):
            promql_parser.parse(expr)
    for panel in json.loads(files["grafana/dashboards/slo.json"])["panels"]:
        for target in panel.get("targets", []):
            promql_parser.parse(target["expr"])
    paths = []
    for profile in PROFILES:
        path = tmp_path / f"{profile}.yml"
        path.write_text(files[rules_path(profile)], encoding="utf-8")
        paths.append(str(path))
    result = subprocess.run([promtool(), "check", "rules", *paths], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
