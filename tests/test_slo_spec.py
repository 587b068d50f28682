"""The SLO spec: the default spec, one test per validation message, compact syntax, OpenSLO.

Validation tests start from the good default spec and break one field each; the message must
name the file, the field path and the fix.
"""

import copy
import re
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness_common.buckets import DEFAULT_BUCKETS
from slo.errors import SpecError
from slo.spec import load_spec, parse_spec
from slo.spec import v1 as spec_module
from slo.spec.compact import parse_compact
from slo.spec.model import EventRatio, Objective, Quantile, Throughput

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = REPO / "slo" / "slos.yaml"
GOOD = yaml.safe_load(DEFAULT_SPEC.read_text(encoding="utf-8"))


def good() -> dict:
    """A fresh copy of the default spec as a dict, to break one field of."""
    return copy.deepcopy(GOOD)


def slo_index(doc: dict, name: str) -> int:
    return next(i for i, s in enumerate(doc["slos"]) if s["name"] == name)


def load(doc) -> object:
    return parse_spec(yaml.safe_dump(doc, sort_keys=False), "slos.yaml")


def error_of(doc) -> str:
    """The SpecError message for a document that must be rejected."""
    with pytest.raises(SpecError) as caught:
        load(doc)
    return str(caught.value)


def error_of_text(text: str | bytes) -> str:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "slos.yaml")
    return str(caught.value)


# ---- the default spec ------------------------------------------------------------------------

def test_the_default_spec_loads_with_its_slos_in_file_order():
    spec = load_spec(DEFAULT_SPEC)
    assert spec.service == "portfolio-app"
    assert [s.name for s in spec.slos] == [
        "latency-p95", "api-fast-requests", "error-ratio", "home-availability", "throughput"]
    assert spec.source == "slos.yaml"


def test_every_latency_threshold_of_the_default_spec_is_a_histogram_bucket():
    spec = load_spec(DEFAULT_SPEC)
    assert spec.latency_thresholds_s, "the default spec has latency SLOs"
    assert set(spec.latency_thresholds_s) <= set(DEFAULT_BUCKETS)


def test_the_default_objectives_hold_for_a_healthy_run_and_break_under_the_calibration_faults():
    """Steady 5-20 users: p95 ~50 ms, no errors, >= 2 req/s. A 500 ms fault makes every
    request slower than 500 ms; a 10% error fault fails 10% of requests."""
    spec = load_spec(DEFAULT_SPEC)
    healthy = {"latency-p95": 0.05, "api-fast-requests": 1.0, "error-ratio": 0.0,
               "home-availability": 1.0, "throughput": 2.0}
    for slo in spec.slos:
        assert all(o.status(healthy[slo.name]) != "fail" for o in slo.objectives), slo.name
    assert spec.slo("latency-p95").objectives[0].status(0.55) == "fail"
    assert spec.slo("api-fast-requests").objectives[0].status(0.0) == "fail"
    assert spec.slo("error-ratio").objectives[0].status(0.10) == "fail"
    assert spec.slo("home-availability").objectives[0].status(0.90) == "fail"


def test_the_example_in_the_spec_docstring_loads():
    block = spec_module.__doc__.split("A full example", 1)[1].split("\n\n", 1)[1]
    example = textwrap.dedent(block.split("\n\nAny service's metrics", 1)[0])
    spec = parse_spec(example, "docstring")
    assert len(spec.slos) == 5
    assert spec.slo("home-availability").alerting.runbook_url.endswith("home-page")


def test_the_any_service_example_in_the_spec_docstring_loads():
    block = spec_module.__doc__.split("Any service's metrics", 1)[1].split("\n\n", 1)[1]
    example = textwrap.dedent(block.split("\n\nExplicit kinds", 1)[0])
    spec = parse_spec("version: slo-harness/v1\nservice: checkout\n" + example, "docstring")
    assert [s.name for s in spec.slos] == ["api-errors", "checkout-errors", "upstream-p99"]


def test_user_traffic_leaves_out_scrapes_probes_admin_calls_and_unmatched_paths():
    spec = load_spec(DEFAULT_SPEC)
    total = str(spec.slo("error-ratio").sli.total)
    assert total == ('app_requests_total{job="portfolio-app",'
                     'endpoint!~"/metrics|/health|/admin/.*|<unmatched>"}')


def test_5xx_and_aborted_requests_count_as_errors():
    spec = load_spec(DEFAULT_SPEC)
    errors = spec.slo("error-ratio").sli
    assert isinstance(errors, EventRatio) and not errors.good
    assert str(errors.events).endswith(',status=~"5..|aborted"}')
    availability = spec.slo("home-availability").sli
    assert availability.good and str(availability.events).endswith(',status!~"5..|aborted"}')


def test_the_compact_and_explicit_forms_build_the_same_model():
    compact = good()
    compact["slos"] = [{"name": "p", "objective": "p(95) <= 300ms", "warning": "p(95) <= 200ms"}]
    explicit = good()
    explicit["slos"] = [{"name": "p", "kind": "latency_percentile", "percentile": 95,
                         "threshold_ms": 300, "warning_ms": 200}]
    assert load(compact).slos == load(explicit).slos


def test_a_latency_percentile_is_judged_on_its_threshold_bucket_for_the_budget():
    slo = load_spec(DEFAULT_SPEC).slo("latency-p95")
    assert isinstance(slo.sli, Quantile) and slo.sli.quantile == 0.95
    assert slo.error_budget == 0.05
    assert str(slo.budget_ratio.events).endswith(',le="0.3"}')


def test_a_threshold_of_one_second_matches_both_le_spellings():
    doc = good()
    doc["slos"] = [{"name": "p", "objective": "p(99) <= 1s"}]
    assert str(load(doc).slos[0].budget_ratio.events).endswith(',le=~"1|1\\\\.0"}')


def test_each_slo_gets_the_top_level_alerting_unless_it_overrides_it():
    doc = good()
    doc["slos"][0]["alerting"] = {"runbook_url": "https://example.org/p95", "for": "5m"}
    spec = load(doc)
    first, second = spec.slos[0].alerting, spec.slos[1].alerting
    assert (first.runbook_url, first.for_s) == ("https://example.org/p95", 300)
    assert second.runbook_url == "slo/RUNBOOK.md#errorbudgetburn" and second.for_s == 0
    assert first.page_severity == second.page_severity == "page"


# ---- the objective model -----------------------------------------------------------------

@pytest.mark.parametrize(("objective", "value", "status"), [
    (Objective("<=", 0.3, 0.2), 0.1, "pass"),
    (Objective("<=", 0.3, 0.2), 0.25, "warn"),
    (Objective("<=", 0.3, 0.2), 0.3, "warn"),
    (Objective("<=", 0.3, 0.2), 0.31, "fail"),
    (Objective(">=", 0.99, 0.995), 0.999, "pass"),
    (Objective(">=", 0.99, 0.995), 0.992, "warn"),
    (Objective(">=", 0.99, 0.995), 0.98, "fail"),
    (Objective("<", 0.01), 0.01, "fail"),
    (Objective(">=", 1.0), 1.0, "pass"),
])
def test_an_objective_passes_warns_or_fails_with_the_warning_line_on_the_safe_side(
        objective, value, status):
    assert objective.status(value) == status


def test_objectives_read_like_the_spec():
    texts = [s.objective_text for s in load_spec(DEFAULT_SPEC).slos]
    assert texts == ["p(95) <= 300ms", "95% of requests within 300ms", "error ratio <= 1%",
                     "availability >= 99%", "rate >= 1/s"]


# ---- reading the file ----------------------------------------------------------------------

def test_non_utf8_bytes_are_rejected_with_the_byte_and_its_offset():
    message = error_of_text(b"version: slo-harness/v1\nservice: \xff\n")
    assert message == "slos.yaml: not valid UTF-8 (byte 0xff at offset 33); save the file as UTF-8"


def test_malformed_yaml_names_the_line_and_column():
    message = error_of_text("version: slo-harness/v1\nslos: [\n")
    assert message.startswith("slos.yaml: line 3, column 1: invalid YAML:")


def test_a_duplicate_key_is_rejected_naming_both_lines():
    message = error_of_text("version: slo-harness/v1\nservice: a\nservice: b\n")
    assert message == ("slos.yaml: line 3, column 1: invalid YAML: duplicate key 'service' "
                       "(first on line 2); each key may appear once")


def test_a_duplicate_key_inside_an_slo_is_rejected_too():
    line = "  objective: p(95) <= 300ms\n"
    text = yaml.safe_dump(good(), sort_keys=False).replace(
        line, line + "  objective: rate >= 1/s\n", 1)
    assert "duplicate key 'objective'" in error_of_text(text)


def test_yaml_aliases_are_rejected():
    message = error_of_text("a: &x [1, 2]\nb: *x\n")
    assert "YAML aliases (*x) are not allowed in a spec; write the values out" in message


def test_an_empty_file_is_rejected_pointing_at_the_default_spec():
    assert error_of_text("# only a comment\n") == (
        "slos.yaml: the file is empty; start from slo/slos.yaml")


def test_a_document_that_is_not_a_mapping_is_rejected():
    # a YAML list is read as its items (OpenSLO's examples are lists of objects): each must be
    # a mapping, and the message names the first that is not
    assert error_of_text("- 1\n- 2\n") == (
        "slos.yaml: document 1: must be a mapping with version, service, prometheus and slos "
        "(got int 1)")
    assert error_of_text("42\n") == (
        "slos.yaml: must be a mapping with version, service, prometheus and slos (got int 42)")


def test_deeply_nested_yaml_is_rejected():
    assert "nested too deeply" in error_of_text("[" * 20_000)


def test_a_number_with_thousands_of_digits_is_rejected():
    assert "a number has more than 4300 digits" in error_of_text("version: " + "9" * 5000)


def test_python_object_tags_are_rejected():
    assert "could not determine a constructor" in error_of_text("!!python/object:os.system {}")


def test_a_file_over_one_mebibyte_is_rejected():
    assert "larger than 1024 KiB" in error_of_text(b"#" * (1024 * 1024 + 1))


def test_two_documents_are_rejected_for_a_v1_spec():
    text = yaml.safe_dump(good()) + "---\n" + yaml.safe_dump(good())
    assert "holds 2 YAML documents" in error_of_text(text)


def test_a_missing_file_names_the_path_and_the_option(tmp_path):
    with pytest.raises(SpecError, match=r"nope\.yaml: no such file; pass --spec"):
        load_spec(tmp_path / "nope.yaml")


def test_a_directory_is_not_a_spec(tmp_path):
    with pytest.raises(SpecError, match="is a directory"):
        load_spec(tmp_path)


def test_errors_of_a_loaded_file_name_the_file(tmp_path):
    path = tmp_path / "mine.yaml"
    doc = good()
    doc["slos"][1]["threshold_ms"] = -5
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value) == "mine.yaml: slos[1].threshold_ms: must be > 0 (got -5)"
    assert caught.value.problems[0].path == "slos[1].threshold_ms"


def test_every_problem_is_reported_not_only_the_first():
    doc = good()
    doc["slos"][1]["threshold_ms"] = -5
    doc["slos"][3]["objective_percent"] = 150
    assert error_of(doc).splitlines() == [
        "slos.yaml: slos[1].threshold_ms: must be > 0 (got -5)",
        "slos.yaml: slos[3].objective_percent: must be < 100 (got 150)",
    ]


# ---- top level -----------------------------------------------------------------------------

# ---- a good spec with one field broken ------------------------------------------------------

DELETE = object()  # as a value: remove the field


def broken(path: str, value) -> dict:
    """The good spec with the field at `path` ("slos[1].threshold_ms"; "slos[+]" appends)
    set to `value`, or removed when the value is DELETE."""
    doc = good()
    keys = [int(k) if k.isdigit() else k for k in re.findall(r"[^.\[\]]+", path)]
    parent = doc
    for key in keys[:-1]:
        parent = parent[key]
    last = keys[-1]
    if last == "+":
        parent.append(value)
    elif value is DELETE:
        del parent[last]
    else:
        parent[last] = value
    return doc


# (what the case shows, the field, its new value, how the message matches, the message after
# "slos.yaml: "): every validation rule, one row each, starting from the good default spec.
BROKEN_FIELD = [
    ('a missing version says what to add', 'version', DELETE, '==',
     'version: add `version: slo-harness/v1` at the top'),
    ('an unknown version names the supported one', 'version', "slo-harness/v2", '==',
     "version: unsupported version 'slo-harness/v2'; this harness reads slo-harness/v1"),
    ('an unknown top level field lists the allowed fields', 'slo', [], '==',
     'slo: unknown field; remove it or fix its spelling; allowed here: alerting, '
     'description, prometheus, service, slos, version, window'),
    ('a missing prometheus job is required', 'prometheus.job', DELETE, '==',
     'prometheus.job: required field is missing'),
    ('a service name with spaces is rejected', 'service', "my service", 'startswith',
     'service: must match '),
    ('an empty slo list is rejected', 'slos', [], '==',
     'slos: must not be empty'),
    ('more than a thousand slos are rejected',
     'slos', [{"name": f"s{i}", "objective": "rate >= 1/s"} for i in range(1001)], '==',
     'slos: must be at most 1000 items'),
    ('a window shorter than 7 days is rejected', 'window', "1d", '==',
     "window: must be between 7d and 90d (got '1d'); the burn-rate alerts assume a "
     'multi-week objective window, e.g. 30d'),
    ('an unparseable window is rejected', 'window', "a month", '==',
     "window: must be a duration like '30d', '1h30m' or '20s' (got 'a month')"),
    ('an unparseable alert for is rejected', 'alerting.for', "soon", '==',
     "alerting.for: must be a duration like '30d', '1h30m' or '20s' (got 'soon')"),
    ('an alert for over a day is rejected', 'alerting.for', "2d", '==',
     "alerting.for: must be at most 1d (got '2d')"),
    ('a runbook url with spaces is rejected', 'alerting.runbook_url', "see the wiki", 'startswith',
     'alerting.runbook_url: must match '),
    ('an unknown alerting field lists the alerting fields', 'alerting.severity', "page", '==',
     'alerting.severity: unknown field; remove it or fix its spelling; allowed here: '
     'dashboard_url, enabled, for, page_severity, runbook_url, ticket_severity'),
    ('an unparseable traffic selector is rejected with an example',
     'prometheus.selector', "endpoint=/api", '==',
     "prometheus.selector: cannot parse label matchers at 'endpoint=/api'; write them "
     'like \'endpoint=~"/api/.*", method="GET"\''),
    ('a regex prometheus cannot run is rejected', 'prometheus.error_status', "5(?!00)..", '==',
     'prometheus.error_status: uses a lookaround, which Prometheus regexes (RE2) do '
     "not support (got '5(?!00)..')"),
    ('an invalid regex is rejected', 'prometheus.error_status', "5[0-9", 'in',
     'prometheus.error_status: is not a valid regular expression'),
    ('a reserved label in a selector is rejected', 'prometheus.selector', '__name__="x"', 'in',
     "label '__name__' is reserved for Prometheus"),
    ('a negative threshold is rejected', 'slos[1].threshold_ms', -5, '==',
     'slos[1].threshold_ms: must be > 0 (got -5)'),
    ('a threshold over an hour is rejected', 'slos[1].threshold_ms', 10**30, '==',
     'slos[1].threshold_ms: must be <= 3600000 (got 1000000000000000000000000000000)'),
    ('an infinite threshold is rejected', 'slos[1].threshold_ms', float("inf"), '==',
     'slos[1].threshold_ms: must be a finite number (got inf)'),
    ('a number written as a string is rejected', 'slos[1].threshold_ms', "300", '==',
     "slos[1].threshold_ms: must be a number (got '300')"),
    ('a boolean is not a number', 'slos[1].threshold_ms', True, '==',
     'slos[1].threshold_ms: must be a number (got True)'),
    ('objective at 100 percent is rejected', 'slos[1].objective_percent', 100, '==',
     'slos[1].objective_percent: must be < 100 (got 100)'),
    ('a missing objective percent is required', 'slos[1].objective_percent', DELETE, '==',
     'slos[1].objective_percent: required field is missing'),
    ('a percentile of 100 is rejected',
     'slos', [{"name": "p", "kind": "latency_percentile", "percentile": 100,
               "threshold_ms": 300}], '==',
     'slos[0].percentile: must be < 100 (got 100)'),
    ('key must be true or false', 'slos[0].key', "yes", '==',
     "slos[0].key: must be true or false (got 'yes')"),
    ('an unknown slo field lists the fields of its kind', 'slos[1].threshold', 300, '==',
     'slos[1].threshold: unknown field; remove it or fix its spelling; allowed here: '
     'alerting, description, duration_unit, events, histogram, key, kind, name, '
     'objective_percent, route, selector, threshold_ms, warning_percent, window'),
    ('an unknown kind lists the kinds', 'slos[1].kind', "latency", '==',
     "slos[1].kind: unknown kind 'latency'; use one of latency_percentile, "
     'latency_ratio, error_ratio, availability, request_rate'),
    ('an slo without kind or objective shows both forms', 'slos[+]', {"name": "x"}, '==',
     'slos[5]: needs `objective:` (e.g. "p(95) <= 300ms", "rate >= 5/s", "ratio <= 1%"'
     ' or "availability >= 99%") or `kind:` (one of latency_percentile, latency_ratio,'
     ' error_ratio, availability, request_rate)'),
    ('an slo with both kind and compact objective is rejected',
     'slos[1].objective', "p(95) <= 300ms", '==',
     'slos[1]: use either `objective: "p(95) <= 300ms"` (compact) or `kind:` with its '
     'fields, not both'),
    ('an slo that is not a mapping is rejected', 'slos[+]', "latency-p99", '==',
     "slos[5]: must be a mapping (got 'latency-p99')"),
    ('duplicate slo names name both positions', 'slos[2].name', "latency-p95", '==',
     "slos[2].name: duplicate SLO name 'latency-p95' (also slos[0]); names must be unique"),
    ('an slo name with capitals is rejected', 'slos[0].name', "Latency P95", 'startswith',
     'slos[0].name: must match '),
    ('a latency warning above the threshold is rejected',
     'slos', [{"name": "p", "kind": "latency_percentile", "percentile": 95,
               "threshold_ms": 300, "warning_ms": 400}], '==',
     'slos[0].warning_ms: must be below threshold_ms (300): the warning line lies on the safe '
     'side of the objective (got 400)'),
    ('a ratio warning below the objective is rejected', 'slos[1].warning_percent', 90, '==',
     'slos[1].warning_percent: must be above objective_percent (95): the warning line '
     'lies on the safe side of the objective (got 90)'),
    ('an error ratio warning above its maximum is rejected',
     'slos', [{"name": "e", "kind": "error_ratio", "max_percent": 1, "warning_percent": 2}], '==',
     'slos[0].warning_percent: must be below max_percent (1): the warning line lies on'
     ' the safe side of the objective (got 2)'),
    ('an availability warning below its objective is rejected', 'slos[3].warning_percent', 98, 'in',
     'slos[3].warning_percent: must be above objective_percent (99)'),
    ('a request rate without bounds is rejected',
     'slos', [{"name": "r", "kind": "request_rate"}], '==',
     'slos[0]: needs min_rps, max_rps or both, e.g. `min_rps: 1`'),
    ('a max rate below the min rate is rejected',
     'slos', [{"name": "r", "kind": "request_rate", "min_rps": 5, "max_rps": 2}], '==',
     'slos[0].max_rps: must be above min_rps (5) (got 2)'),
    ('a rate warning without its bound is rejected',
     'slos', [{"name": "r", "kind": "request_rate", "min_rps": 1, "warning_max_rps": 9}], '==',
     'slos[0].warning_max_rps: needs max_rps: a warning line sits beside an objective;'
     ' add it or remove this field'),
    ('an slo selector cannot match the job label', 'slos[3].selector', 'job="other"', '==',
     "slos[3].selector: cannot match label 'job': it is set by prometheus.job; remove it"),
    ('an slo selector cannot match the le label', 'slos[3].selector', 'le="0.3"', 'in',
     "slos[3].selector: cannot match label 'le': it is set by the latency threshold"),
    ('an slo window override is validated', 'slos[0].window', "365d", 'startswith',
     'slos[0].window: must be between 7d and 90d'),
    ('an slo alerting override is validated at its path',
     'slos[0].alerting', {"page_severity": "PAGE!"}, 'startswith',
     'slos[0].alerting.page_severity: must match '),
    ('a bad compact objective is reported at its field', 'slos[0].objective', "p(95) < 300", '==',
     "slos[0].objective: a latency needs a unit, 'ms' or 's', e.g. 'p(95) <= 300ms' "
     "(got 'p(95) < 300')"),
    ('a compact warning on another sli is rejected', 'slos[0].warning', "p(99) <= 100ms", '==',
     "slos[0].warning: must bound the same thing as the objective ('p(95) <= 300ms') "
     "on the same side, with a safer value (got 'p(99) <= 100ms')"),
    ('a compact warning beyond the objective is rejected',
     'slos[0].warning', "p(95) <= 400ms", '==',
     "slos[0].warning: must be below the objective ('p(95) <= 300ms'): the warning "
     "line lies on the safe side of the objective (got 'p(95) <= 400ms')"),
]


@pytest.mark.parametrize(("path", "value", "match", "message"), [row[1:] for row in BROKEN_FIELD],
                         ids=[row[0] for row in BROKEN_FIELD])
def test_a_spec_with_one_broken_field_is_rejected_naming_the_file_field_and_fix(
        path, value, match, message):
    error = error_of(broken(path, value))
    if match == "==":
        assert error == f"slos.yaml: {message}"
    elif match == "startswith":
        assert error.startswith(f"slos.yaml: {message}"), error
    else:
        assert message in error, error


# ---- one SLO -----------------------------------------------------------------------------

def test_a_two_sided_rate_builds_two_objectives():
    doc = good()
    doc["slos"] = [{"name": "r", "kind": "request_rate", "min_rps": 1, "max_rps": 100,
                    "warning_min_rps": 2}]
    slo = load(doc).slos[0]
    assert isinstance(slo.sli, Throughput)
    assert slo.objectives == (Objective(">=", 1, 2), Objective("<=", 100))
    assert slo.error_budget is None and slo.objective_text == "rate >= 1/s and rate <= 100/s"


# ---- the compact syntax ------------------------------------------------------------------

@pytest.mark.parametrize(("text", "kind", "op", "value", "percentile"), [
    ("p(95) <= 300ms", "latency_percentile", "<=", 0.3, 95.0),
    ("p(99.9)<1s", "latency_percentile", "<", 1.0, 99.9),
    ("rate >= 5/s", "request_rate", ">=", 5.0, None),
    ("rate <= 600/m", "request_rate", "<=", 10.0, None),
    ("ratio < 1%", "error_ratio", "<", 0.01, None),
    ("ratio <= 0.02", "error_ratio", "<=", 0.02, None),
    ("availability >= 99%", "availability", ">=", 0.99, None),
])
def test_compact_objectives_map_onto_the_model(text, kind, op, value, percentile):
    parsed = parse_compact(text)
    assert (parsed.kind, parsed.op, parsed.percentile) == (kind, op, percentile)
    assert parsed.value == pytest.approx(value)


@pytest.mark.parametrize(("text", "message"), [
    ("p95 < 300ms", "cannot parse 'p95 < 300ms'; write e.g."),
    ("p(95) < 300", "a latency needs a unit, 'ms' or 's'"),
    ("p(95) > 300ms", "p(95) takes < or <= here"),
    ("p(100) < 300ms", "the percentile must be between 0 and 100"),
    ("p(95) < 0ms", "the latency must be > 0 and at most 1 hour"),
    ("rate >= 5", "a rate needs a unit, '/s' or '/m'"),
    ("ratio < 100%", "a ratio must be between 0% and 100%"),
    ("ratio < 5/s", "a ratio takes '%' or a plain fraction"),
    ("availability <= 99%", "availability takes > or >= here"),
])
def test_bad_compact_objectives_say_what_is_expected(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_compact(text)


# ---- OpenSLO ---------------------------------------------------------------------------------

def openslo(indicator: dict | None = None, **spec_fields) -> dict:
    """A convertible OpenSLO v1 availability SLO, with fields replaced."""
    source = {"type": "Prometheus", "spec": {}}
    doc = {
        "apiVersion": "openslo/v1", "kind": "SLO",
        "metadata": {"name": "availability", "displayName": "Availability"},
        "spec": {
            "service": "portfolio-app",
            "budgetingMethod": "Occurrences",
            "timeWindow": [{"duration": "30d", "isRolling": True}],
            "indicator": {"metadata": {"name": "good-requests"}, "spec": indicator or {
                "ratioMetric": {
                    "counter": True,
                    "good": {"metricSource": {**source, "spec": {
                        "query": 'app_requests_total{job="portfolio-app",status!~"5.."}'}}},
                    "total": {"metricSource": {**source, "spec": {
                        "query": 'app_requests_total{job="portfolio-app"}'}}},
                }}},
            "objectives": [{"displayName": "good", "target": 0.99}],
        },
    }
    doc["spec"].update(spec_fields)
    return doc


def openslo_error(*docs) -> str:
    with pytest.raises(SpecError) as caught:
        parse_spec(yaml.safe_dump_all(docs, sort_keys=False), "openslo.yaml")
    return str(caught.value)


def test_an_openslo_good_ratio_converts_to_a_good_event_ratio():
    spec = parse_spec(yaml.safe_dump(openslo()), "openslo.yaml")
    (slo,) = spec.slos
    assert spec.service == "portfolio-app" and slo.name == "availability"
    assert slo.kind == "ratio" and slo.objectives == (Objective(">=", 0.99),)
    assert slo.sli.good and str(slo.sli.events) == (
        'app_requests_total{job="portfolio-app",status!~"5.."}')
    assert slo.error_budget == 0.01 and slo.window_s == 30 * 86400


def test_an_openslo_bad_ratio_converts_to_an_error_ratio():
    ratio = {"ratioMetric": {
        "counter": True,
        "bad": {"source": "prometheus", "queryType": "promql",
                "query": 'sum(rate(app_requests_total{status=~"5.."}[5m]))'},
        "total": {"source": "prometheus", "queryType": "promql", "query": "app_requests_total"},
    }}
    (slo,) = parse_spec(yaml.safe_dump(openslo(ratio)), "o.yaml").slos
    assert slo.kind == "error_ratio" and slo.objectives == (Objective("<=", 0.01),)
    assert str(slo.sli.events) == 'app_requests_total{status=~"5.."}'


def test_an_openslo_histogram_quantile_threshold_converts_to_a_latency_percentile():
    threshold = {"thresholdMetric": {"metricSource": {"type": "Prometheus", "spec": {"query": (
        "histogram_quantile(0.95, sum by (le) "
        '(rate(app_request_duration_seconds_bucket{job="portfolio-app"}[5m])))')}}}}
    doc = openslo(threshold, objectives=[{"op": "lte", "value": 0.3, "target": 0.95}])
    (slo,) = parse_spec(yaml.safe_dump(doc), "o.yaml").slos
    assert slo.kind == "latency_percentile" and slo.threshold_s == 0.3
    assert slo.sli.quantile == 0.95
    assert str(slo.sli.count) == 'app_request_duration_seconds_count{job="portfolio-app"}'


def test_several_openslo_objectives_become_slos_numbered_from_0_as_sloth_numbers_them():
    doc = openslo(objectives=[{"target": 0.99}, {"targetPercent": 99.9}])
    slos = parse_spec(yaml.safe_dump(doc), "o.yaml").slos
    assert [(s.name, s.objectives[0].target) for s in slos] == [
        ("availability-0", 0.99), ("availability-1", 0.999)]


def test_openslo_service_documents_are_accepted_and_ignored():
    service = {"apiVersion": "openslo/v1", "kind": "Service", "metadata": {"name": "x"},
               "spec": {"description": "d"}}
    spec = parse_spec(yaml.safe_dump_all([service, openslo()]), "o.yaml")
    assert [s.name for s in spec.slos] == ["availability"]


def test_an_openslo_query_the_judge_cannot_count_is_rejected_naming_it():
    doc = openslo()
    doc["spec"]["indicator"]["spec"]["ratioMetric"]["good"]["metricSource"]["spec"]["query"] = (
        "topk(3, rate(x[5m]))")
    message = openslo_error(doc)
    assert message == (
        "openslo.yaml: spec.indicator.spec.ratioMetric.good.metricSource.spec.query: uses "
        "topk(); only sum() aggregates events; the judge evaluates sums of counters such as "
        "sum(rate(http_requests_total{job=\"api\",code=~\"5..\"}[{{.window}}])) "
        "(got 'topk(3, rate(x[5m]))')")


def test_a_non_prometheus_openslo_source_is_rejected():
    doc = openslo()
    doc["spec"]["indicator"]["spec"]["ratioMetric"]["total"]["metricSource"]["type"] = "Datadog"
    assert openslo_error(doc) == (
        "openslo.yaml: spec.indicator.spec.ratioMetric.total.metricSource.type: only Prometheus "
        "sources can be judged (got 'Datadog')")


def test_openslo_timeslice_budgeting_is_rejected():
    assert openslo_error(openslo(budgetingMethod="Timeslices")) == (
        "openslo.yaml: spec.budgetingMethod: only Occurrences can be judged "
        "(got 'Timeslices')")


def test_an_openslo_calendar_window_is_rejected():
    doc = openslo(timeWindow=[{"duration": "1M", "isRolling": False}])
    assert openslo_error(doc) == ("openslo.yaml: spec.timeWindow[0]: calendar windows cannot be "
                                  "judged; use isRolling: true")


def test_an_openslo_reference_to_a_missing_sli_is_rejected_naming_the_slis_there():
    doc = openslo(indicatorRef="good-requests")
    del doc["spec"]["indicator"]
    other = {"apiVersion": "openslo/v1", "kind": "SLI", "metadata": {"name": "other"},
             "spec": openslo()["spec"]["indicator"]["spec"]}
    assert openslo_error(other, doc) == (
        "openslo.yaml: document 2.spec.indicatorRef: no kind: SLI document named "
        "'good-requests' in this file (SLIs here: other)")


def test_an_openslo_threshold_objective_with_another_target_is_rejected():
    threshold = {"thresholdMetric": {"source": "prometheus", "queryType": "promql", "query": (
        "histogram_quantile(0.95, sum(rate(app_request_duration_seconds_bucket[5m])) by (le))")}}
    doc = openslo(threshold, objectives=[{"op": "lte", "value": 0.3, "target": 0.99}])
    assert openslo_error(doc) == (
        "openslo.yaml: spec.objectives[0].target: cannot be converted: the SLO judges the 0.95 "
        "quantile itself; set target to 0.95 or remove it (got 0.99)")


def test_an_openslo_threshold_that_is_not_a_quantile_is_rejected():
    threshold = {"thresholdMetric": {"source": "prometheus", "query": "avg(up)"}}
    doc = openslo(threshold, objectives=[{"op": "lte", "value": 0.3}])
    assert openslo_error(doc) == (
        "openslo.yaml: spec.indicator.spec.thresholdMetric.query: must be histogram_quantile(q, "
        "sum by (le) (rate(<metric>_bucket{...}[5m]))) (got 'avg(up)')")


def test_other_openslo_kinds_are_rejected():
    other = {"apiVersion": "openslo/v1", "kind": "Composite", "metadata": {"name": "x"},
             "spec": {}}
    assert openslo_error(other, openslo()) == (
        "openslo.yaml: document 1.kind: only kind SLO, SLI, Service, DataSource, AlertPolicy, "
        "AlertCondition, AlertNotificationTarget documents can be read (got 'Composite')")


def test_openslo_documents_of_two_services_are_rejected():
    other = openslo(service="other")
    other["metadata"]["name"] = "other"
    assert "the documents name several services (other, portfolio-app)" in (
        openslo_error(openslo(), other))


def test_an_unknown_openslo_field_is_rejected():
    doc = openslo()
    doc["spec"]["objectivez"] = []
    assert "openslo.yaml: spec.objectivez: unknown field" in openslo_error(doc)


# ---- the loader never fails in another way ---------------------------------------------------

def _never_crashes(data) -> None:
    try:
        parse_spec(data, "fuzz.yaml")
    except SpecError as err:
        assert str(err).startswith("fuzz.yaml: ")


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                         st.text(max_size=20))
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=12), children, max_size=4)),
    max_leaves=20,
)
spec_keys = st.sampled_from(["version", "service", "prometheus", "slos", "window", "alerting",
                             "name", "kind", "objective", "threshold_ms", "selector", "job",
                             "apiVersion", "metadata", "spec"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_arbitrary_text_and_bytes_raise_only_spec_errors(data):
    _never_crashes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(spec_keys, yaml_values, max_size=6))
def test_arbitrary_yaml_mappings_raise_only_spec_errors(doc):
    _never_crashes(yaml.safe_dump(doc))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["kind", "apiVersion", "metadata", "spec", "objectives", "indicator"]),
       yaml_values)
def test_an_openslo_document_with_one_field_replaced_by_anything_raises_only_spec_errors(
        key, value):
    doc = openslo()
    if key in doc:
        doc[key] = value
    else:
        doc["spec"][key] = value
    _never_crashes(yaml.safe_dump(doc))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 4), st.sampled_from(["name", "kind", "objective", "warning", "selector",
                                            "threshold_ms", "objective_percent", "window",
                                            "alerting", "key"]), yaml_values)
def test_a_good_spec_with_one_field_replaced_by_anything_raises_only_spec_errors(i, key, value):
    doc = good()
    doc["slos"][i][key] = value
    _never_crashes(yaml.safe_dump(doc))


def test_the_default_buckets_keep_interpolation_within_ten_percent_from_10ms_to_2s():
    dense = [b for b in DEFAULT_BUCKETS if 0.01 <= b <= 2.0]
    assert dense[0] == 0.01 and dense[-1] == 2.0
    assert max(high / low for low, high in zip(dense, dense[1:], strict=False)) <= 1.10
    assert {0.025, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 1.0, 2.0} <= set(DEFAULT_BUCKETS)
    assert list(DEFAULT_BUCKETS) == sorted(set(DEFAULT_BUCKETS))
