"""The instrumentation presets, without servers: each one's status values catch typos, the
mesh presets count each request once, histograms without the status label judge latency over
every request (and say so) and refuse to count errors, presets without a route refuse `route:`.

Good specs first, then one thing broken per case (tables with sentence-like ids).
"""

import re
import textwrap
from pathlib import Path

import pytest
import yaml

from slo.errors import SpecError
from slo.judge import promql
from slo.spec import parse_spec
from slo.spec.presets import PRESETS, status_matcher_problem


def native(preset: str, slos: str, **prometheus) -> str:
    fields = {"job": "api", "preset": preset, **prometheus}
    return yaml.safe_dump({"version": "slo-harness/v1", "service": "api", "prometheus": fields,
                           "slos": yaml.safe_load(textwrap.dedent(slos))}, sort_keys=False)


ROUTE_ERRORS_P95 = """
- {name: errors, objective: ratio <= 10%, route: '/api/.*'}
- {name: p95, objective: p(95) <= 500ms, route: '/api/.*'}
"""
NO_ROUTE = """
- {name: errors, objective: ratio <= 10%}
- {name: p95, objective: p(95) <= 500ms}
"""


def spec_of(text: str):
    return parse_spec(text, "spec.yaml")


def error_of(text: str) -> str:
    with pytest.raises(SpecError) as caught:
        spec_of(text)
    return str(caught.value)


def queries(preset: str, slos: str = NO_ROUTE, **prometheus) -> dict[str, str]:
    spec = spec_of(native(preset, slos, **prometheus))
    return {s.name: promql.sli_queries(s, 300).value for s in spec.slos}


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_loads_an_error_and_a_p95_slo(preset):
    slos = NO_ROUTE if not PRESETS[preset].route_label else ROUTE_ERRORS_P95
    spec = spec_of(native(preset, slos))
    assert [s.name for s in spec.slos] == ["errors", "p95"]


@pytest.mark.parametrize(("preset", "error_status"), [
    ("fastapi-instrumentator", "5xx"),        # the library's default: classes as strings
    ("fastapi-instrumentator", "5.."),        # codes (should_group_status_codes=False)
    ("ingress-nginx", "5xx"),                 # --report-status-classes
    ("micrometer", "SERVER_ERROR|CLIENT_ERROR"),
    ("grpc", "Unavailable|INTERNAL"),
    ("linkerd", "failure"),
    ("istio", "5..|0"),
], ids=["fastapi classes", "fastapi codes", "nginx classes", "micrometer outcomes",
        "grpc names both spellings", "linkerd classification", "istio no response"])
def test_an_error_status_in_the_presets_own_values_is_accepted(preset, error_status):
    assert spec_of(native(preset, NO_ROUTE, error_status=error_status))


@pytest.mark.parametrize(("preset", "error_status", "said"), [
    ("micrometer", "SERVR_ERROR", "Micrometer outcomes INFORMATIONAL, SUCCESS"),
    ("micrometer", "5..", "Micrometer outcomes"),
    ("grpc", "UNAVAILBLE", "gRPC status code names"),
    ("grpc", "14", "gRPC status code names"),
    ("linkerd", "failed", "Linkerd classifications success, failure"),
    ("starlette-exporter", "5xx", "HTTP status codes 100-599"),
    ("traefik", "50x", "HTTP status codes 100-599"),
], ids=["micrometer typo", "micrometer codes on outcome", "grpc typo", "grpc number",
        "linkerd typo", "starlette classes on codes", "traefik 50x"])
def test_an_error_status_matching_none_of_the_presets_values_is_refused(preset, error_status,
                                                                         said):
    message = error_of(native(preset, NO_ROUTE, error_status=error_status))
    assert "prometheus.error_status" in message
    assert f"{error_status!r} matches no value of {PRESETS[preset].status_label!r}" in message
    assert said in message


def test_a_hand_set_status_label_is_checked_against_that_labels_values():
    # micrometer's `status` label holds codes: 5.. is right there, SERVER_ERROR is not
    assert spec_of(native("micrometer", NO_ROUTE, status_label="status", error_status="5.."))
    message = error_of(native("micrometer", NO_ROUTE, status_label="status",
                              error_status="SERVER_ERROR"))
    assert "'SERVER_ERROR' matches no value of 'status'" in message


@pytest.mark.parametrize(("label", "value", "fine"), [
    ("outcome", "SERVER_ERROR", True), ("outcome", "SERVR_ERROR", False),
    ("grpc_code", "Unavailable", True), ("grpc_code", "UNAVAILABLE", True),
    ("grpc_code", "Unavailble", False), ("classification", "failure", True),
    ("classification", "fail", False), ("code", "5xx", True), ("code", "0", True),
    ("code", "SERVER_ERROR", False),
])
def test_a_status_matcher_is_checked_against_its_labels_values(label, value, fine):
    spec_labels = ("outcome", "classification")  # what a micrometer/linkerd spec says
    assert (status_matcher_problem(label, "=", value, spec_labels) is None) == fine


def test_outcome_and_classification_are_business_words_outside_their_presets():
    assert status_matcher_problem("outcome", "=", "declined") is None
    assert spec_of(native("promhttp", """
        - name: checkout
          objective: ratio <= 1%
          events:
            bad: sum(rate(orders_total{outcome="declined"}[{{.window}}]))
            total: sum(rate(orders_total[{{.window}}]))
    """))


def test_a_typo_in_an_slo_selector_on_the_outcome_is_refused():
    message = error_of(native("micrometer", """
        - {name: errors, objective: ratio <= 1%, selector: 'outcome!="SERVR_ERROR"'}
    """))
    assert "slos[0].selector" in message and "SERVR_ERROR" in message


def test_istio_counts_each_request_once_at_the_destination_proxy():
    q = queries("istio")
    assert 'reporter="destination"' in q["errors"] and 'reporter="destination"' in q["p95"]
    assert 'response_code=~"5.."' in q["errors"]


def test_a_prometheus_selector_on_the_base_label_replaces_the_presets_matcher():
    q = queries("istio", selector='reporter="waypoint"')
    assert 'reporter="waypoint"' in q["errors"]
    assert "destination" not in q["errors"]


def test_linkerd_reads_the_inbound_side_and_its_classification():
    q = queries("linkerd")
    assert 'direction="inbound"' in q["errors"]
    assert 'classification=~"failure"' in q["errors"]
    assert q["p95"].endswith(" * 0.001)")  # response_latency_ms


@pytest.mark.parametrize("preset", ["istio", "linkerd"])
def test_a_route_on_a_preset_without_a_route_label_is_refused_naming_the_fix(preset):
    message = error_of(native(preset, ROUTE_ERRORS_P95))
    assert "slos[0].route" in message and "has no route label" in message
    assert "prometheus.route_label" in message
    assert spec_of(native(preset, ROUTE_ERRORS_P95, route_label="destination_service_name"))


def test_opentelemetry_legacy_target_routes_on_http_target():
    q = queries("opentelemetry-legacy-target", ROUTE_ERRORS_P95)
    assert 'http_target=~"/api/.*"' in q["errors"] and 'http_target=~"/api/.*"' in q["p95"]
    assert 'http_route' not in q["errors"]


def test_grpc_errors_are_the_servers_faults_not_the_clients_mistakes():
    errors = spec_of(native("grpc", NO_ROUTE)).slo("errors").sli.events.selectors[0]
    matcher = next(m for m in errors.matchers if m.label == "grpc_code")
    for code in ("Unavailable", "UNAVAILABLE", "Internal", "DeadlineExceeded", "DATA_LOSS",
                 "Unknown"):
        assert status_matcher_problem("grpc_code", "=~", matcher.value) is None
        assert re.fullmatch(matcher.value, code), code
    for code in ("OK", "InvalidArgument", "NOT_FOUND", "Canceled", "Unauthenticated"):
        assert not re.fullmatch(matcher.value, code), code


# ---- histograms without the status label ------------------------------------------------------

NO_STATUS_HISTOGRAM = sorted(p.name for p in PRESETS.values() if not p.duration_has_status)


def test_the_presets_whose_histogram_lacks_the_status_label():
    assert NO_STATUS_HISTOGRAM == ["django-prometheus", "fastapi-instrumentator", "grpc",
                                   "linkerd"]


@pytest.mark.parametrize("preset", NO_STATUS_HISTOGRAM)
def test_latency_over_a_histogram_without_status_is_judged_over_every_request_and_says_so(
        preset):
    spec = spec_of(native(preset, NO_ROUTE))
    p95 = spec.slo("p95")
    label = PRESETS[preset].status_label
    assert all(m.label != label for m in p95.sli.buckets.matchers)
    assert p95.notes == (f"{PRESETS[preset].duration_metric} carries no {label} label: latency "
                         "is judged over every request, errors included",)
    assert spec.slo("errors").notes == ()  # errors come from the counter, which has it


def test_a_status_matcher_on_a_latency_slo_over_such_a_histogram_is_refused():
    message = error_of(native("fastapi-instrumentator", """
        - {name: p95-ok, objective: p(95) <= 500ms, selector: 'status="2xx"'}
    """))
    assert "slos[0].selector" in message
    assert "has no label 'status'" in message and "remove the status matcher" in message


def test_an_error_slo_counted_from_such_a_histogram_is_refused_naming_the_fix():
    message = error_of(native("fastapi-instrumentator", NO_ROUTE,
                              requests_metric="http_request_duration_seconds_count"))
    assert "slos[0]" in message
    assert "cannot tell an error from a success" in message
    assert "http_requests_total (the preset's requests_metric)" in message


def test_a_histogram_with_the_status_label_carries_no_note():
    assert spec_of(native("starlette-exporter", NO_ROUTE)).slo("p95").notes == ()


def test_the_instrumentations_page_shows_every_preset():
    page = (Path(__file__).parents[1] / "docs" / "instrumentations.md")
    text = page.read_text(encoding="utf-8")
    assert all(f"| `{name}` |" in text for name in PRESETS), [
        n for n in PRESETS if f"| `{n}` |" not in text]


def test_a_hand_set_status_label_does_not_put_it_on_the_presets_histogram():
    spec = spec_of(native("grpc", NO_ROUTE, status_label="grpc_code"))
    assert spec.slo("p95").notes != ()
    # a histogram of the user's own is not known to lack it
    own = spec_of(native("grpc", NO_ROUTE, duration_metric="my_rpc_seconds"))
    assert own.slo("p95").notes == ()
