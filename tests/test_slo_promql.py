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
from slo.judge.checker import judge
from slo.spec import load_spec
from slo.spec.queries import QueryError, parse_selector
from slo.spec.selectors import Matcher, Selector, parse_matchers, quote
from slo.units import le_label_variants
from tests.helpers import promtool

REPO = Path(__file__).resolve().parent.parent
SPEC = load_spec(REPO / "slo" / "slos.yaml")
USER = 'job="portfolio-app",endpoint!~"/metrics|/health|/admin/.*|<unmatched>"'


# ---- exact strings -----------------------------------------------------------------------

def counted(selector: str, window: str) -> str:
    """What the checker counts of one counter: per series its last sample in the window less
    its last at or before the start (a reset at the edge: from zero; inside the window:
    increase()), a series born inside the window (or of a target whose process started inside
    it) from zero, one of another target new to Prometheus from its first sample."""
    lookback = f"{min(int(window[:-1]), 300)}s"
    last, start = (f"last_over_time({selector}[{window}])",
                   f"(last_over_time({selector}[{lookback}] offset {window}) "
                   f"or {selector} offset {window})")
    inc, steady = f"increase({selector}[{window}])", f"resets({selector}[{window}]) == 0"
    older = (f"((up unless up offset {window}) unless on (job, instance) "
             f"(max_over_time(process_start_time_seconds[{window}]) > time() - "
             f"{window.removesuffix('s')}))")
    born = (f"((last_over_time({selector}[{window}]) unless {start}) "
            f"unless on (job, instance) {older})")
    present = (f"{inc} and resets({selector}[{window}]) > 0 and {start} or {last} - ({start} <= "
               f"min_over_time({selector}[{window}])) or {last} and {start}")
    from_zero = f"({last} and {steady} or {inc} + max_over_time({selector}[{window}])) and {born}"
    from_first = f"{last} - min_over_time({selector}[{window}]) and {steady} or {inc}"
    return f"(sum(({present} or {from_zero} or {from_first})) or vector(0))"


def test_an_error_ratio_counts_every_error_including_series_born_inside_the_window():
    q = promql.sli_queries(SPEC.slo("error-ratio"), 60)
    errors = counted(f'app_requests_total{{{USER},status=~"5..|aborted"}}', "60s")
    total = counted(f"app_requests_total{{{USER}}}", "60s")
    assert q.value == f"((({errors})) / (({total})))"
    assert (q.bad, q.total) == (f"(({errors}))", f"(({total}))")
    assert q.good == f"((({total})) - (({errors})))"


def test_a_percentile_is_a_histogram_quantile_of_every_bucket_counted_by_le():
    q = promql.sli_queries(SPEC.slo("latency-p95"), 300)
    buckets = f"app_request_duration_seconds_bucket{{{USER}}}"
    assert q.buckets == "sum by (le) " + counted(buckets, "300s")[4:-len(" or vector(0))")]
    assert q.value == f"histogram_quantile(0.95, {q.buckets})"
    assert q.good == "((" + counted(f'{buckets[:-1]},le="0.3"}}', "300s") + "))"
    assert q.total == "((" + counted(f"app_request_duration_seconds_count{{{USER}}}",
                                     "300s") + "))"


def test_availability_is_the_share_of_requests_without_a_server_error():
    q = promql.sli_queries(SPEC.slo("home-availability"), 60)
    good = counted(f'app_requests_total{{{USER},endpoint="/",status!~"5..|aborted"}}', "60s")
    assert q.value.startswith(f"((({good})) / ")


def test_a_request_rate_is_the_count_over_the_window_divided_by_its_seconds():
    q = promql.sli_queries(SPEC.slo("throughput"), 120)
    assert q.value == "((" + counted(f"app_requests_total{{{USER}}}", "120s") + ")) / 120"
    assert (q.good, q.bad, q.buckets) == (None, None, None)


def test_every_checker_query_covers_exactly_the_window():
    """Every range is the window, or the lookback before its start (where a series' last
    sample before the window, which its count starts from, may lie: up to 5 min)."""
    for slo in SPEC.slos:
        q = promql.sli_queries(slo, 437)
        for expr in filter(None, (q.value, q.good, q.bad, q.total, q.buckets)):
            assert set(re.findall(r"\[([^\]]+)\]", expr)) == {"437s", "300s"}, expr
            assert set(re.findall(r"offset ([0-9a-z]+)", expr)) == {"437s"}, expr
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


def test_latency_slos_read_all_their_buckets_and_others_have_none():
    fast = promql.sli_queries(SPEC.slo("api-fast-requests"), 60).buckets
    assert fast == "sum by (le) " + counted(
        f'app_request_duration_seconds_bucket{{{USER},endpoint=~"/api/.*"}}', "60s"
    )[4:-len(" or vector(0))")]
    assert promql.sli_queries(SPEC.slo("error-ratio"), 60).buckets is None


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
    assert parse_selector('http_requests_total{code="200"}') == Selector(
        "http_requests_total", (Matcher("code", "=", "200"),))
    with pytest.raises(QueryError, match="must be a series selector"):
        parse_selector("sum(rate(x[5m]))")


def test_bucket_boundaries_match_go_and_python_spellings():
    assert le_label_variants(0.3) == ("0.3",)
    assert le_label_variants(1.0) == ("1", "1.0")
    assert le_label_variants(30) == ("30", "30.0")


@pytest.mark.parametrize(("bound", "spellings"), [
    (1e6, ("1000000", "1000000.0", "1e+06")),          # Envoy, Python repr, Go and Prometheus 3
    (3.6e6, ("3600000", "3600000.0", "3.6e+06")),      # Envoy's top bucket, in ms
    (123456.0, ("123456", "123456.0")),
    (1e-05, ("1e-05",)),
    (0.0001, ("0.0001",)),
    (2.5, ("2.5",)),
])
def test_bucket_boundaries_match_the_exponent_form_go_and_prometheus_3_write(bound, spellings):
    """Go's strconv 'g' (client_golang's `le`, and Prometheus 3's normalised form) writes a
    million as "1e+06": an Envoy or OpenTelemetry millisecond histogram's 1000 s bucket."""
    assert le_label_variants(bound) == spellings


def test_a_bucket_a_query_names_by_le_matches_every_spelling_of_its_bound():
    """A raw query's le="1" (a Sloth or OpenSLO spec) met no series once Prometheus 3 wrote
    "1.0"; its own spelling is kept (an exporter may write "0.30")."""
    assert parse_selector('x_bucket{le="1"}') == Selector(
        "x_bucket", (Matcher("le", "=~", "1|1\\.0"),))
    assert parse_selector('x_bucket{le="0.30"}') == Selector(
        "x_bucket", (Matcher("le", "=~", "0\\.3|0\\.30"),))
    assert parse_selector('x_bucket{le="0.4"}') == Selector(
        "x_bucket", (Matcher("le", "=", "0.4"),))
    assert parse_selector('x_bucket{le="+Inf"}') == Selector(
        "x_bucket", (Matcher("le", "=", "+Inf"),))


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
        if q.buckets:
            exprs.append(q.buckets)
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


def test_no_traffic_counts_no_events_so_the_checker_cannot_call_it_met(tmp_path):
    names = ("error-ratio", "home-availability", "api-fast-requests", "throughput",
             "latency-p95")
    cases = [{"expr": promql.sli_queries(SPEC.slo(name), 300).total,
              "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": 0}]}
             for name in names]
    unrelated = [series("app_requests_total", 'endpoint="/health",method="GET",status="200"',
                        "0+60x10")]
    result = run_expr_tests(tmp_path, unrelated, cases)
    assert result.returncode == 0, result.stdout + result.stderr
    assert {judge(SPEC.slo(name), 0.0, 0.0).status for name in names} == {"no_data"}


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


def test_a_series_born_inside_the_window_is_counted_from_zero(tmp_path):
    """issue 11, 1: nine 503s between two scrapes of a fresh series. The counter appears at 9
    inside the window, so increase() sees 0 (the check said 0.00% errors, MET); counted from
    zero it is 9 of 109 requests."""
    api = 'endpoint="/api/projects",method="GET"'
    inputs = [
        series("app_requests_total", f'{api},status="200"', "0+20x10"),
        series("app_requests_total", f'{api},status="503"', "_x6 9x4"),
    ]
    errors = f'app_requests_total{{{USER},status=~"5..|aborted"}}'
    q = promql.sli_queries(SPEC.slo("error-ratio"), 300)
    cases = [
        {"expr": f"sum(increase({errors}[300s]))", "eval_time": "10m",  # what it was
         "exp_samples": [{"labels": "{}", "value": 0}]},
        {"expr": q.bad, "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": 9}]},
        {"expr": q.total, "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": 109}]},
        {"expr": q.value, "eval_time": "10m",
         "exp_samples": [{"labels": "{}", "value": 9 / 109}]},
    ]
    result = run_expr_tests(tmp_path, inputs, cases)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_series_present_before_the_window_is_not_counted_twice(tmp_path):
    """The correction only adds series absent at the window's start: a 503 series that was
    already at 9 before the window and did not move adds nothing."""
    api = 'endpoint="/api/projects",method="GET"'
    inputs = [
        series("app_requests_total", f'{api},status="200"', "0+20x10"),
        series("app_requests_total", f'{api},status="503"', "_x2 9x8"),
    ]
    q = promql.sli_queries(SPEC.slo("error-ratio"), 300)
    cases = [{"expr": q.bad, "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": 0}]}]
    result = run_expr_tests(tmp_path, inputs, cases)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboards_quantile_above_the_top_bucket_is_inf_not_the_top_bound(tmp_path):
    """Grafana's SLI panels, the SLO tab and the live figures read value_expr(). A p95 whose
    rank lies in +Inf was histogram_quantile()'s top finite bound: 300 ms, met at a 300 ms
    objective while every request took 1 s. It is +Inf now; a p95 exactly at the top bound
    (57 of 60 requests within 300 ms) is as it was."""
    def buckets(endpoint: str, under: str) -> list[dict]:
        return [series("app_request_duration_seconds_bucket",
                       f'endpoint="{endpoint}",method="GET",le="{le}"', values)
                for le, values in (("0.1", "0+0x10"), ("0.3", under), ("+Inf", "0+60x10"))]

    p95 = SPEC.slo("latency-p95")
    expr = promql.value_expr(p95, "5m")

    def only(endpoint: str, text: str) -> str:
        return text.replace("endpoint!~", f'endpoint="{endpoint}",endpoint!~')

    quantile = f"histogram_quantile(0.95, sum by (le) (increase({p95.sli.buckets}[5m])))"
    cases = [
        {"expr": only("/slow", quantile), "eval_time": "10m",          # what it was
         "exp_samples": [{"labels": "{}", "value": 0.3}]},
        {"expr": only("/slow", expr), "eval_time": "10m",
         "exp_samples": [{"labels": "{}", "value": float("inf")}]},
        {"expr": only("/at-top", expr), "eval_time": "10m",
         "exp_samples": [{"labels": "{}", "value": 0.3}]},
    ]
    result = run_expr_tests(tmp_path, buckets("/slow", "0+0x10") + buckets("/at-top", "0+57x10"),
                            cases)
    assert result.returncode == 0, result.stdout + result.stderr


def test_buckets_born_inside_the_window_count_toward_the_quantile(tmp_path):
    """A route first requested inside the window: its bucket series start with the first
    requests already counted. Every bucket counted from zero: all 10 are slower than 300 ms."""
    api = 'endpoint="/api/projects",method="GET"'
    inputs = [series("app_request_duration_seconds_bucket", f'{api},le="{le}"', values)
              for le, values in (("0.3", "_x6 0x4"), ("1", "_x6 10x4"), ("+Inf", "_x6 10x4"))]
    inputs.append(series("app_request_duration_seconds_count", api, "_x6 10x4"))
    q = promql.sli_queries(SPEC.slo("latency-p95"), 300)
    cases = [{"expr": q.total, "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": 10}]},
             {"expr": q.bad, "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": 10}]},
             {"expr": q.value, "eval_time": "10m",
              "exp_samples": [{"labels": "{}", "value": 0.3 + (1 - 0.3) * 0.95}]}]
    result = run_expr_tests(tmp_path, inputs, cases)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_series_of_a_target_new_to_prometheus_counts_from_its_first_scrape(tmp_path):
    """A target Prometheus starts scraping inside the window (its first scrape, or Prometheus's
    own start) shows counters with history from before the window: they count from their first
    sample, not from zero, and exactly (increase() extrapolated 80 to 100)."""
    api = 'endpoint="/api/projects",method="GET",instance="a"'
    inputs = [
        {"series": 'up{job="portfolio-app",instance="a"}', "values": "_x6 1x4"},
        series("app_requests_total", f'{api},status="200"', "_x6 100+20x4"),
        series("app_requests_total", f'{api},status="503"', "_x6 9x4"),
    ]
    q = promql.sli_queries(SPEC.slo("error-ratio"), 300)
    cases = [{"expr": q.bad, "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": 0}]},
             {"expr": q.total, "eval_time": "10m",
              "exp_samples": [{"labels": "{}", "value": 80}]}]  # 100 to 180
    result = run_expr_tests(tmp_path, inputs, cases)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_born_series_that_also_resets_never_counts_too_few(tmp_path):
    """Born at 5, up to 8, reset, up to 4: 12 events from zero. Without its first value
    (PromQL has no first_over_time here) the count uses the highest: at least 12."""
    api = 'endpoint="/api/projects",method="GET"'
    inputs = [series("app_requests_total", f'{api},status="200"', "0+20x10"),
              series("app_requests_total", f'{api},status="503"', "_x6 5 8 2 4")]
    q = promql.sli_queries(SPEC.slo("error-ratio"), 300)
    cases = [{"expr": f"{q.bad} >= bool 12", "eval_time": "10m",
              "exp_samples": [{"labels": "{}", "value": 1}]}]
    result = run_expr_tests(tmp_path, inputs, cases)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_burst_between_the_last_scrape_before_the_window_and_the_first_inside_it_counts(
        tmp_path):
    """issue 20, 6: forty 503s between the scrape before the window's start (5m) and the first
    inside it (6m). increase() sees only the samples inside the window: 0 errors. Counted from
    the last scrape at or before the start: all 40, of 140 requests."""
    api = 'endpoint="/api/projects",method="GET"'
    inputs = [series("app_requests_total", f'{api},status="200"', "0+20x10"),
              series("app_requests_total", f'{api},status="503"', "0x5 40x5")]
    errors = f'app_requests_total{{{USER},status=~"5..|aborted"}}'
    q = promql.sli_queries(SPEC.slo("error-ratio"), 300)
    at = "10m30s"  # the window starts at 5m30s, between two scrapes
    cases = [{"expr": f"sum(increase({errors}[300s]))", "eval_time": at,  # what it was
              "exp_samples": [{"labels": "{}", "value": 0}]},
             {"expr": q.bad, "eval_time": at, "exp_samples": [{"labels": "{}", "value": 40}]},
             {"expr": q.total, "eval_time": at, "exp_samples": [{"labels": "{}", "value": 140}]},
             {"expr": q.good, "eval_time": at, "exp_samples": [{"labels": "{}", "value": 100}]}]
    result = run_expr_tests(tmp_path, inputs, cases)
    assert result.returncode == 0, result.stdout + result.stderr


def test_slow_requests_at_the_window_start_count_in_its_buckets(tmp_path):
    """The buckets of a latency SLO are counters too: ten requests slower than 300 ms between
    the scrape before the window and the first inside it are ten bad events of 20."""
    api = 'endpoint="/api/projects",method="GET"'
    inputs = [series("app_request_duration_seconds_bucket", f'{api},le="{le}"', values)
              for le, values in (("0.3", "0+2x10"), ("1", "0+2x5 22+2x4"),
                                 ("+Inf", "0+2x5 22+2x4"))]
    inputs.append(series("app_request_duration_seconds_count", api, "0+2x5 22+2x4"))
    q = promql.sli_queries(SPEC.slo("latency-p95"), 300)
    at = "10m30s"
    cases = [{"expr": q.total, "eval_time": at, "exp_samples": [{"labels": "{}", "value": 20}]},
             {"expr": q.bad, "eval_time": at, "exp_samples": [{"labels": "{}", "value": 10}]},
             {"expr": q.buckets, "eval_time": at,
              "exp_samples": [{"labels": '{le="0.3"}', "value": 10},
                              {"labels": '{le="1"}', "value": 20},
                              {"labels": '{le="+Inf"}', "value": 20}]}]
    result = run_expr_tests(tmp_path, inputs, cases)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_failed_scrape_at_the_window_start_does_not_count_older_errors_as_its_own(tmp_path):
    """issue 20, 5 (a healthy window judged violated): the scrape at 5m failed (Prometheus marks
    every series of the target stale), the window starts just after it. Every series looked
    born inside the window and counted from zero: the forty 503s of long before and every
    request since the process started, 16.7 % errors. Its value at the start is still its
    last sample (4m): no error in the window, 120 good requests of 120."""
    api = 'endpoint="/api/projects",method="GET"'
    inputs = [{"series": 'up{job="portfolio-app"}', "values": "1x4 0 1x4"},
              series("app_requests_total", f'{api},status="200"', "0+20x4 stale 120+20x4"),
              series("app_requests_total", f'{api},status="503"', "40x4 stale 40x4")]
    error_ratio, availability = SPEC.slo("error-ratio"), SPEC.slo("home-availability")
    q = promql.sli_queries(error_ratio, 299)  # from 5m01s, just after the failed scrape
    a = promql.sli_queries(availability, 299)
    cases = [{"expr": q.bad, "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": 0}]},
             {"expr": q.total, "eval_time": "10m",
              "exp_samples": [{"labels": "{}", "value": 120}]},
             {"expr": q.value, "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": 0}]}]
    result = run_expr_tests(tmp_path, inputs, cases)
    assert result.returncode == 0, result.stdout + result.stderr
    home = 'endpoint="/",method="GET"'
    inputs = [inputs[0], series("app_requests_total", f'{home},status="200"',
                                "0+20x4 stale 120+20x4"),
              series("app_requests_total", f'{home},status="503"', "40x4 stale 40x4")]
    cases = [{"expr": a.value, "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": 1}]},
             {"expr": f"{a.total} - {a.good}", "eval_time": "10m",
              "exp_samples": [{"labels": "{}", "value": 0}]}]
    result = run_expr_tests(tmp_path, inputs, cases)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_restart_at_the_window_start_counts_its_requests_from_zero(tmp_path):
    """The service restarted between the scrape before the window (at 200) and the first inside
    it (at 10): its counters started again from zero, so the window holds 90 requests;
    increase() counted from the first sample inside (80, extrapolated to 100)."""
    api = 'endpoint="/api/projects",method="GET"'
    inputs = [series("app_requests_total", f'{api},status="200"', "100+20x5 10+20x4")]
    q = promql.sli_queries(SPEC.slo("error-ratio"), 300)
    cases = [{"expr": q.total, "eval_time": "10m30s",
              "exp_samples": [{"labels": "{}", "value": 90}]}]
    result = run_expr_tests(tmp_path, inputs, cases)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_restart_inside_the_window_is_counted_by_increase(tmp_path):
    """A reset between two samples inside the window: the counts before it are not in the
    samples exactly (Prometheus keeps no first value), so the series counts by increase(), the
    rule the verdict states."""
    api = 'endpoint="/api/projects",method="GET"'
    selector = f'app_requests_total{{{USER},status=~"5..|aborted"}}'
    inputs = [series("app_requests_total", f'{api},status="200"', "0+20x10"),
              series("app_requests_total", f'{api},status="503"', "0 0 0 0 0 0 2 4 1 3 5")]
    q = promql.sli_queries(SPEC.slo("error-ratio"), 300)
    cases = [{"expr": f"{q.bad} == sum(increase({selector}[300s]))", "eval_time": "10m",
              "exp_samples": [{"labels": "{}", "value": 9}]}]
    result = run_expr_tests(tmp_path, inputs, cases)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_census_finds_series_other_than_the_usual_case(tmp_path):
    """The checker first asks, per metric, which series were not there at the start or reset:
    none lets its selectors count `last - value at the start` alone (the cheap queries), any
    keeps the per-series rules, and the resets are counted per job (the verdict names them)."""
    api = 'endpoint="/api/projects",method="GET"'
    old = [series("app_requests_total", f'{api},status="200"', "0+20x10")]
    fresh = old + [series("app_requests_total", f'{api},status="503"', "_x6 9x4")]
    reset = old + [series("app_requests_total", f'{api},status="500"', "5 5 5 5 5 5 5 5 1 2 2")]
    census = promql.census_query("app_requests_total", "300s")
    case = {"expr": census, "eval_time": "10m"}
    assert run_expr_tests(tmp_path, fresh, [
        {**case, "exp_samples": [{"labels": '{census="fresh"}', "value": 1}]}]).returncode == 0
    assert run_expr_tests(tmp_path, old, [{**case, "exp_samples": []}]).returncode == 0
    result = run_expr_tests(tmp_path, reset, [{**case, "exp_samples": [
        {"labels": '{census="reset",job="portfolio-app"}', "value": 1},
        {"labels": '{census="fresh"}', "value": 1}]}])  # below its value at the start
    assert result.returncode == 0, result.stdout + result.stderr
    q = promql.sli_queries(SPEC.slo("error-ratio"), 300, fresh=frozenset())
    assert "unless" not in q.bad and "increase(" not in q.bad and "[300s] offset" not in q.bad
    # a failed scrape at the start (a stale marker) keeps the per-series rules: the instant
    # value at the start is gone, its last sample before is not
    stale = [series("app_requests_total", f'{api},status="200"', "0+20x4 stale 120+20x4")]
    result = run_expr_tests(tmp_path, stale, [{"expr": promql.census_query(
        "app_requests_total", "299s"), "eval_time": "10m",
        "exp_samples": [{"labels": '{census="fresh"}', "value": 1}]}])
    assert result.returncode == 0, result.stdout + result.stderr
    # a target Prometheus began scraping inside the window: "new", counted from its first sample
    target = 'endpoint="/api/projects",method="GET",instance="a"'
    new = [{"series": 'up{job="portfolio-app",instance="a"}', "values": "_x6 1x4"},
           series("app_requests_total", f'{target},status="200"', "_x6 100+20x4")]
    cheap = promql.sli_queries(SPEC.slo("error-ratio"), 300, fresh=frozenset(),
                               new=frozenset({"app_requests_total"}))
    assert "min_over_time" in cheap.total and "increase(" not in cheap.total
    result = run_expr_tests(tmp_path, new, [
        {**case, "exp_samples": [{"labels": '{census="new"}', "value": 1}]},
        {"expr": cheap.total, "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": 80}]}])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("started", "counted"), [
    ("330x4", 50), ("200x4", 0), (None, 0)],
    ids=["its process started inside the window: from zero",
         "its process started before: from its first sample",
         "no process start time: from its first sample"])
def test_a_new_instance_whose_first_scrape_shows_errors_counts_them_if_it_started_inside(
        tmp_path, started, counted):
    """issue 20, 7: a replaced pod whose first scrape already shows fifty 503s was counted from
    its first sample, its errors gone. Its process started inside the window (its
    process_start_time_seconds): its counters started with it, so they count from zero. A
    target new to Prometheus whose process is older may show counts from before the window."""
    new = 'instance="new",endpoint="/",method="GET"'
    inputs = [series("app_requests_total", 'instance="old",endpoint="/",method="GET",'
                                           'status="503"', "0x10"),
              series("up", 'instance="old"', "1x10"),
              series("up", 'instance="new"', "_x6 1x4"),          # first scraped at 6 min
              series("app_requests_total", f'{new},status="503"', "_x6 50x4")]
    if started:
        inputs.append(series("process_start_time_seconds", 'instance="new"', f"_x6 {started}"))
    errors = Selector("app_requests_total", (Matcher("job", "=", "portfolio-app"),
                                             Matcher("status", "=~", "5..")))
    cases = [{"expr": promql.counted(errors, "300s"), "eval_time": "10m",   # [5 min, 10 min]
              "exp_samples": [{"labels": "{}", "value": counted}]}]
    result = run_expr_tests(tmp_path, inputs, cases)
    assert result.returncode == 0, result.stdout + result.stderr


def test_where_the_data_begins_is_its_earliest_sample_of_any_series_of_the_target(tmp_path):
    """Prometheus up from minute 4 only (a fresh TSDB): the data of a 10 min window begins at
    240 s; a series born later beside one that was there (a first 503) changes nothing; of
    two selectors the later one counts."""
    api = 'endpoint="/api/projects",method="GET"'
    inputs = [series("app_requests_total", f'{api},status="200"', "0+20x10"),
              series("app_requests_total", f'{api},status="503"', "_x6 9x4"),
              {"series": 'late_total{job="other",route="/"}', "values": "_x4 1+1x5"}]
    total = Selector("app_requests_total", (Matcher("job", "=", "portfolio-app"),))
    late = Selector("late_total", (Matcher("job", "=", "other"),))
    cases = [{"expr": promql.data_begins((total,), 600), "eval_time": "10m",
              "exp_samples": [{"labels": "{}", "value": 0}]},
             {"expr": promql.data_begins((late,), 600), "eval_time": "10m",
              "exp_samples": [{"labels": "{}", "value": 240}]},
             {"expr": promql.data_begins((total, late), 600), "eval_time": "10m",
              "exp_samples": [{"labels": "{}", "value": 240}]}]
    result = run_expr_tests(tmp_path, inputs, cases)
    assert result.returncode == 0, result.stdout + result.stderr
    # a long window (300 s steps), evaluated at 590 s: the last subquery step is at 300 s
    young = [{"series": 'young_total{job="a"}', "values": "_x9 1"},        # from 540 s
             {"series": 'gone_total{job="a"}', "values": "_x2 1 stale"}]   # 120 s, stale
    young_sel = Selector("young_total", (Matcher("job", "=", "a"),))
    gone_sel = Selector("gone_total", (Matcher("job", "=", "a"),))
    cases = [{"expr": promql.data_begins((young_sel,), 600_000), "eval_time": "9m50s",
              "exp_samples": [{"labels": "{}", "value": 540}]},   # the sample at the end
             {"expr": promql.data_begins((gone_sel,), 600_000), "eval_time": "9m50s",
              "exp_samples": [{"labels": "{}", "value": 590}]}]   # seen only in the raw range
    result = run_expr_tests(tmp_path, young, cases)
    assert result.returncode == 0, result.stdout + result.stderr
    assert promql.begins_step(600) == 1 and promql.begins_step(86400) == 87
    assert promql.begins_step(30 * 86400) == 300
    assert str(promql.target_series(SPEC.slo("error-ratio").sli.total.selectors[0])) == (
        'app_requests_total{job="portfolio-app"}')
