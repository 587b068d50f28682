"""PromQL built from the spec: exact strings, syntax (promtool) and meaning on canned series
(promtool's unit-test engine evaluates the checker's queries like a real Prometheus would)."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from harness_common.durations import format_duration, whole_seconds
from slo.alerting.burnrate import PROFILES, alert_windows, windows_used
from slo.judge import promql
from slo.spec import load_spec
from slo.spec.selectors import Matcher, Selector, parse_matchers, parse_series_selector, quote
from slo.units import le_label_variants
from tests.helpers import promtool

REPO = Path(__file__).resolve().parent.parent
SPEC = load_spec(REPO / "slo" / "slos.yaml")
USER = 'job="portfolio-app",endpoint!~"/metrics|/health|/admin/.*|<unmatched>"'


# ---- exact strings -----------------------------------------------------------------------

def test_a_percentile_is_a_histogram_quantile_of_buckets_summed_by_le_over_exactly_the_window():
    q = promql.sli_queries(SPEC.slo("latency-p95"), 300)
    assert q.value == ("histogram_quantile(0.95, sum by (le) "
                       f"(increase(app_request_duration_seconds_bucket{{{USER}}}[300s])))")
    assert q.good == (f'(sum(increase(app_request_duration_seconds_bucket{{{USER},le="0.3"}}'
                      "[300s])) or vector(0))")
    assert q.total == f"sum(increase(app_request_duration_seconds_count{{{USER}}}[300s]))"
    assert q.bad == f"({q.total} - {q.good})"


def test_an_error_ratio_counts_missing_error_series_as_zero_but_needs_traffic():
    q = promql.sli_queries(SPEC.slo("error-ratio"), 60)
    errors = f'sum(increase(app_requests_total{{{USER},status=~"5..|aborted"}}[60s]))'
    total = f"sum(increase(app_requests_total{{{USER}}}[60s]))"
    assert q.value == f"(({errors} or vector(0)) / {total})"
    assert (q.bad, q.total) == (f"({errors} or vector(0))", total)
    assert q.good == f"({total} - ({errors} or vector(0)))"


def test_availability_is_the_share_of_requests_without_a_server_error():
    q = promql.sli_queries(SPEC.slo("home-availability"), 60)
    assert q.value.startswith(
        f'((sum(increase(app_requests_total{{{USER},endpoint="/",status!~"5..|aborted"}}[60s]))'
        " or vector(0)) / ")


def test_a_request_rate_is_the_increase_over_the_window_divided_by_its_seconds():
    q = promql.sli_queries(SPEC.slo("throughput"), 120)
    assert q.value == f"sum(increase(app_requests_total{{{USER}}}[120s])) / 120"
    assert (q.good, q.bad) == (None, None)


def test_every_checker_query_covers_exactly_the_window():
    for slo in SPEC.slos:
        q = promql.sli_queries(slo, 437)
        for expr in filter(None, (q.value, q.good, q.bad, q.total)):
            assert set(re.findall(r"\[([^\]]+)\]", expr)) == {"437s"}, expr
            assert "rate(" not in expr and "increase(" in expr


@pytest.mark.parametrize("window", [0, -5, 1.5])
def test_a_window_that_is_not_whole_positive_seconds_is_rejected(window):
    with pytest.raises(ValueError, match="whole seconds >= 1"):
        promql.sli_queries(SPEC.slo("error-ratio"), window)


def test_sliding_windows_are_range_queries_stepping_one_slice_at_a_time():
    sliding = promql.sliding(SPEC.slo("error-ratio"), start=1000, end=1300, step_s=30)
    assert (sliding.start, sliding.end, sliding.step_s) == (1030, 1300, 30)
    assert sliding.queries == promql.sli_queries(SPEC.slo("error-ratio"), 30)


def test_a_sliding_range_shorter_than_one_step_is_rejected():
    with pytest.raises(ValueError, match="shorter than one step"):
        promql.sliding(SPEC.slo("error-ratio"), start=0, end=10, step_s=30)


def test_latency_slos_read_their_bucket_boundaries_and_others_have_none():
    assert promql.bucket_bounds_query(SPEC.slo("latency-p95")) == (
        f"count by (le) (app_request_duration_seconds_bucket{{{USER}}})")
    assert promql.bucket_bounds_query(SPEC.slo("api-fast-requests")) == (
        f'count by (le) (app_request_duration_seconds_bucket{{{USER},endpoint=~"/api/.*"}})')
    assert promql.bucket_bounds_query(SPEC.slo("error-ratio")) is None


def test_recorded_ratios_are_named_after_their_window():
    assert promql.record_name(300) == "slo:sli_error:ratio_rate5m"
    assert promql.record_name(4320) == "slo:sli_error:ratio_rate1h12m"
    assert promql.record_name(3 * 86400) == "slo:sli_error:ratio_rate3d"


def test_a_latency_slo_records_the_share_of_requests_slower_than_its_threshold():
    expr = promql.bad_ratio_rate(SPEC.slo("api-fast-requests"), 300)
    assert expr == (
        f'(1 - ((sum(rate(app_request_duration_seconds_bucket{{{USER},endpoint=~"/api/.*",'
        f'le="0.3"}}[5m])) or vector(0)) / sum(rate(app_request_duration_seconds_count'
        f'{{{USER},endpoint=~"/api/.*"}}[5m]))))')


def test_a_request_rate_slo_has_no_ratio_to_record():
    with pytest.raises(ValueError, match="no error budget"):
        promql.bad_ratio_rate(SPEC.slo("throughput"), 300)


# ---- selectors, units ----------------------------------------------------------------------

def test_label_values_are_quoted_with_escapes_and_parse_back():
    value = 'a"b\\c\nd'
    assert quote(value) == '"a\\"b\\\\c\\nd"'
    assert parse_matchers(f"x={quote(value)}") == (Matcher("x", "=", value),)


def test_matchers_parse_with_or_without_braces_and_spaces():
    expected = (Matcher("endpoint", "=~", "/api/.*"), Matcher("method", "!=", "HEAD"))
    assert parse_matchers('endpoint=~"/api/.*", method!="HEAD"') == expected
    assert parse_matchers(' { endpoint =~ "/api/.*" ,method!="HEAD" } ') == expected
    assert parse_matchers("") == ()


@pytest.mark.parametrize(("text", "message"), [
    ('endpoint="/" method="GET"', "expected ',' between label matchers"),
    ("endpoint=/api", "cannot parse label matchers"),
    ('endpoint=~"(?=x)"', "lookaround"),
    ('endpoint=~"(a)\\\\1"', "backreference"),
    ('x="\\q"', "unsupported escape"),
])
def test_bad_matchers_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_matchers(text)


def test_a_series_selector_parses_and_a_function_call_does_not():
    assert parse_series_selector('http_requests_total{code="200"}') == Selector(
        "http_requests_total", (Matcher("code", "=", "200"),))
    with pytest.raises(ValueError, match="only a plain series selector"):
        parse_series_selector("sum(rate(x[5m]))")


def test_bucket_boundaries_match_go_and_python_spellings():
    assert le_label_variants(0.3) == ("0.3",)
    assert le_label_variants(1.0) == ("1", "1.0")
    assert le_label_variants(30) == ("30", "30.0")


@given(st.integers(min_value=0, max_value=400 * 86400))
def test_durations_format_and_parse_back(seconds):
    assert whole_seconds(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "5", "1x", "m5", "1.5h", "-1m"])
def test_malformed_durations_are_rejected(text):
    with pytest.raises(ValueError, match="must be a duration like"):
        whole_seconds(text)


# ---- promtool: syntax and meaning ------------------------------------------------------------

def every_expression() -> list[str]:
    exprs = []
    for slo in SPEC.slos:
        q = promql.sli_queries(slo, 300)
        exprs += [e for e in (q.value, q.good, q.bad, q.total) if e]
        if slo.error_budget is not None:
            for profile in PROFILES.values():
                exprs += [promql.bad_ratio_rate(slo, w)
                          for w in windows_used(alert_windows(profile, slo.window_s))]
        if promql.bucket_bounds_query(slo):
            exprs.append(promql.bucket_bounds_query(slo))
    return exprs


def test_every_generated_expression_parses(tmp_path):
    groups = [{"name": f"expr-{i}", "rules": [{"record": "slo:check", "expr": e}]}
              for i, e in enumerate(every_expression())]
    path = tmp_path / "exprs.yml"
    path.write_text(yaml.safe_dump({"groups": groups}), encoding="utf-8")
    result = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def run_expr_tests(tmp_path, series: list[dict], cases: list[dict]):
    """promtool test rules with input series (1m apart) and promql_expr_test cases."""
    (tmp_path / "empty.yml").write_text("groups: []\n", encoding="utf-8")
    test = {"rule_files": ["empty.yml"], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": cases}]}
    path = tmp_path / "test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False), encoding="utf-8")
    return subprocess.run([promtool(), "test", "rules", str(path)], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)


def series(metric: str, labels: str, values: str) -> dict:
    return {"series": f'{metric}{{job="portfolio-app",{labels}}}', "values": values}


def test_the_checker_queries_measure_known_traffic(tmp_path):
    """10 minutes of traffic: 60 req/min on /api/projects, 6 of them 5xx per minute, 3 of them
    slower than 300 ms; plus scrapes of /metrics that must not count."""
    api = 'endpoint="/api/projects",method="GET"'
    inputs = [
        series("app_requests_total", f'{api},status="200"', "0+54x10"),
        series("app_requests_total", f'{api},status="500"', "0+6x10"),
        series("app_requests_total", 'endpoint="/metrics",method="GET",status="200"', "0+600x10"),
        series("app_request_duration_seconds_bucket", f'{api},le="0.1"', "0+30x10"),
        series("app_request_duration_seconds_bucket", f'{api},le="0.3"', "0+57x10"),
        series("app_request_duration_seconds_bucket", f'{api},le="+Inf"', "0+60x10"),
        series("app_request_duration_seconds_count", api, "0+60x10"),
        series("app_request_duration_seconds_bucket", 'endpoint="/metrics",method="GET",le="0.1"',
               "0+600x10"),
    ]
    window = 300

    def case(slo: str, field: str, value: float) -> dict:
        expr = getattr(promql.sli_queries(SPEC.slo(slo), window), field)
        return {"expr": expr, "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": value}]}

    cases = [
        case("error-ratio", "value", 0.1),
        case("error-ratio", "bad", 30),
        case("error-ratio", "good", 270),
        case("error-ratio", "total", 300),
        case("throughput", "value", 1.0),
        case("api-fast-requests", "value", 0.95),
        case("api-fast-requests", "good", 285),
        case("latency-p95", "value", 0.3),
        case("latency-p95", "bad", 15),
    ]
    result = run_expr_tests(tmp_path, inputs, cases)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_traffic_gives_no_sample_so_the_checker_cannot_call_it_met(tmp_path):
    cases = [{"expr": promql.sli_queries(SPEC.slo(name), 300).value,
              "eval_time": "10m", "exp_samples": []}
             for name in ("error-ratio", "home-availability", "api-fast-requests", "throughput")]
    unrelated = [series("app_requests_total", 'endpoint="/health",method="GET",status="200"',
                        "0+60x10")]
    result = run_expr_tests(tmp_path, unrelated, cases)
    assert result.returncode == 0, result.stdout + result.stderr


def test_traffic_without_any_error_series_is_an_error_ratio_of_zero(tmp_path):
    ok = [series("app_requests_total", 'endpoint="/",method="GET",status="200"', "0+60x10")]
    cases = [{"expr": promql.sli_queries(SPEC.slo("error-ratio"), 300).value, "eval_time": "10m",
              "exp_samples": [{"labels": "{}", "value": 0}]}]
    result = run_expr_tests(tmp_path, ok, cases)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_expression_tests_can_fail(tmp_path):
    """The harness above notices a wrong expectation (so its passes mean something)."""
    ok = [series("app_requests_total", 'endpoint="/",method="GET",status="200"', "0+60x10")]
    cases = [{"expr": promql.sli_queries(SPEC.slo("error-ratio"), 300).value, "eval_time": "10m",
              "exp_samples": [{"labels": "{}", "value": 0.5}]}]
    assert run_expr_tests(tmp_path, ok, cases).returncode != 0
