"""Fault specs: defaults, bounds on every field, and one message per validation rule."""

import pytest

from harness_common.errors import FaultValidationError
from harness_common.faults.model import MAX_TTL_S, parse_fault
from harness_common.faults.routes import glob_problem, is_protected, matches


def test_a_latency_fault_gets_defaults_for_everything_but_the_delay():
    spec = parse_fault("latency", {"delay_ms": 300})
    assert (spec.delay_ms, spec.jitter_ms, spec.probability, spec.routes, spec.ttl_s) == (
        300, 0, 1.0, ("*",), 300)


def test_numbers_sent_as_strings_are_accepted_like_json_numbers():
    assert parse_fault("error", {"status": "503", "probability": "0.5"}).status == 503


@pytest.mark.parametrize(("kind", "body", "field", "fragment"), [
    ("latency", {}, "delay_ms", "required"),
    ("latency", {"delay_ms": -1}, "delay_ms", "must be >= 0"),
    ("latency", {"delay_ms": 30_001}, "delay_ms", "must be <= 30000"),
    ("latency", {"delay_ms": 10, "jitter_ms": 40_000}, "jitter_ms", "must be <="),
    ("latency", {"delay_ms": 10, "probability": 1.5}, "probability", "must be <= 1"),
    ("latency", {"delay_ms": 10, "probability": "nan"}, "probability", "finite"),
    ("latency", {"delay_ms": 10, "ttl_s": 0}, "ttl_s", "must be >= 1"),
    ("latency", {"delay_ms": 10, "ttl_s": MAX_TTL_S + 1}, "ttl_s", "must be <= 3600"),
    ("latency", {"delay_ms": 10, "bogus": 1}, "bogus", "unknown field"),
    ("latency", {"delay_ms": "fast"}, "delay_ms", "valid integer"),
    ("latency", {"delay_ms": 10, "routes": []}, "routes", "must not be empty"),
    ("latency", {"delay_ms": 10, "routes": ["api/*"]}, "routes", "start with '/'"),
    ("latency", {"delay_ms": 10, "routes": ["/api/[x"]}, "routes", "unclosed '['"),
    ("latency", {"delay_ms": 10, "routes": ["/a b"]}, "routes", "whitespace"),
    ("latency", {"delay_ms": 10, "routes": ["/x"] * 21}, "routes", "at most 20"),
    ("error", {"status": 404}, "status", "must be >= 500"),
    ("error", {"status": 600}, "status", "must be <= 599"),
    ("error", {"message": ""}, "message", "must not be empty"),
    ("error", {"message": "x" * 501}, "message", "at most 500"),
    ("abort", {"mode": "explode"}, "mode", "'reset' or 'hang'"),
    ("abort", {"mode": "hang", "hang_s": 61}, "hang_s", "must be <= 60"),
])
def test_each_invalid_field_is_rejected_with_its_name(kind, body, field, fragment):
    with pytest.raises(FaultValidationError) as info:
        parse_fault(kind, body)
    assert info.value.field == field
    assert fragment in str(info.value)


def test_an_unknown_kind_is_rejected_listing_the_known_ones():
    with pytest.raises(FaultValidationError, match=r"kind: unknown fault kind 'cpu'.*latency"):
        parse_fault("cpu", {})


def test_a_body_that_is_not_an_object_is_rejected():
    with pytest.raises(FaultValidationError, match="body: must be a JSON object"):
        parse_fault("latency", [1, 2])


def test_a_body_kind_that_contradicts_the_url_is_rejected():
    with pytest.raises(FaultValidationError, match="kind: body says 'error'"):
        parse_fault("latency", {"kind": "error", "delay_ms": 1})


@pytest.mark.parametrize(("path", "patterns", "expected"), [
    ("/", ("*",), True),
    ("/api/projects/3", ("/api/*",), True),
    ("/api/projects", ("/api/projects/*",), False),
    ("/health", ("*",), False),
    ("/metrics", ("/*",), False),
    ("/admin/faults", ("*",), False),
    ("/health", ("/h*",), False),
    ("/admin/faults/latency", ("/*/faults/*",), False),
    ("/healthy-page", ("*",), True),
])
def test_route_globs_never_select_the_control_and_observability_paths(path, patterns, expected):
    assert matches(path, patterns) is expected


@pytest.mark.parametrize("pattern", ["/health", "/metrics", "/admin*", "/admin/*",
                                     "/admin/faults", "/metrics?x", "/health[z]"])
def test_a_route_naming_admin_metrics_or_health_is_refused(pattern):
    with pytest.raises(FaultValidationError, match="never faulted") as info:
        parse_fault("error", {"routes": [pattern]})
    assert info.value.field == "routes"


@pytest.mark.parametrize("field", ["ttl_s", "probability", "delay_ms", "jitter_ms"])
def test_a_boolean_is_not_a_number(field):
    body = {"delay_ms": 10, field: True}
    with pytest.raises(FaultValidationError, match="not a boolean") as info:
        parse_fault("latency", body)
    assert info.value.field == field


def test_protected_paths_are_exactly_metrics_health_and_admin():
    assert [is_protected(p) for p in ("/metrics", "/health", "/admin/x", "/api", "/")] == [
        True, True, True, False, False]
    assert glob_problem("*") is None and glob_problem("/api/[ab]*") is None
