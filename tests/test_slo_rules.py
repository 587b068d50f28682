"""Burn-rate maths, the generated Prometheus/Grafana files, and promtool proving the alerts.

The promtool unit tests are generated from the maths (slo.alerting.burnrate): for each profile, a
total outage must fire each tested row inside the window fire_bounds() predicts and not before, a
0.5x burn must never fire, and every row must resolve inside resolve_bounds() after recovery.
They run on the committed rule files, which the drift test ties to the spec.
"""

import json
import math
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from harness_common.durations import DAY, HOUR, MINUTE, format_duration
from slo.alerting import burnrate, grafana, rules
from slo.alerting.burnrate import PROFILES, alert_windows, fire_bounds, resolve_bounds, windows_used
from slo.alerting.generate import generated_files, rules_path
from slo.cli import main
from slo.spec import load_spec, parse_spec
from tests.helpers import promtool

REPO = Path(__file__).resolve().parent.parent
SPEC_PATH = REPO / "slo" / "slos.yaml"
SPEC = load_spec(SPEC_PATH)
STACK = REPO / "stack"
SOURCE = "slo/slos.yaml"


# ---- the table and the maths ---------------------------------------------------------------

def test_the_table_is_the_sre_workbook_for_a_30_day_window():
    rows = [(w.severity, w.factor, w.long_s, w.short_s)
            for w in alert_windows(PROFILES["standard"], 30 * DAY)]
    assert rows == [("page", 14.4, HOUR, 5 * MINUTE), ("page", 6.0, 6 * HOUR, 30 * MINUTE),
                    ("ticket", 3.0, DAY, 2 * HOUR), ("ticket", 1.0, 3 * DAY, 6 * HOUR)]


def test_each_row_spends_a_fixed_share_of_the_budget_in_its_long_window():
    shares = [row.budget_share for row in burnrate.BURN_RATE_TABLE]
    assert shares == [Fraction(2, 100), Fraction(5, 100), Fraction(10, 100), Fraction(10, 100)]


def test_factors_scale_with_the_objective_window():
    factors = [w.factor for w in alert_windows(PROFILES["standard"], 28 * DAY)]
    assert factors == pytest.approx([13.44, 5.6, 2.8, 28 / 30])


def test_the_fast_profile_is_the_table_compressed_60x_with_windows_of_at_least_4_scrapes():
    fast = PROFILES["fast"]
    windows = alert_windows(fast)
    assert [(format_duration(w.long_s), format_duration(w.short_s)) for w in windows] == [
        ("1m", "20s"), ("6m", "30s"), ("24m", "2m"), ("1h12m", "6m")]
    assert [w.factor for w in windows] == [14.4, 6.0, 3.0, 1.0]
    assert min(windows_used(windows)) >= 4 * fast.scrape_interval_s
    assert all(w.short_s < w.long_s for w in windows)
    assert windows[0].period_s == 12 * HOUR


def test_a_total_outage_pages_after_the_workbooks_detection_time():
    """Workbook: at a 1% budget, a 100% outage fires the 14.4x row after 0.144 x 1h."""
    standard = alert_windows(PROFILES["standard"])
    assert burnrate.detection_time_s(standard[0], 0.01, 1.0) == pytest.approx(0.144 * HOUR)
    assert burnrate.page_detection_time_s(standard, 0.01, 1.0) == pytest.approx(518.4)


def test_in_the_fast_profile_a_total_outage_pages_within_about_20_seconds():
    fast = PROFILES["fast"]
    windows = alert_windows(fast)
    assert burnrate.page_detection_time_s(windows, 0.01, 1.0) == pytest.approx(8.64)
    bounds = fire_bounds(windows[0], 0.01, 1.0, fast.scrape_interval_s, fast.eval_interval_s)
    assert bounds.latest_s < 30
    latency = fire_bounds(windows[0], 0.05, 1.0, fast.scrape_interval_s, fast.eval_interval_s)
    assert latency.latest_s < 60  # a latency fault on every request, 5% budget


def test_a_burn_below_a_rows_factor_never_fires_that_row():
    for profile in PROFILES.values():
        for window in alert_windows(profile):
            assert burnrate.detection_time_s(window, 0.01, 0.5 * 0.01) is None
            assert burnrate.detection_time_s(window, 0.01, window.factor * 0.01) is None


def test_a_10_percent_error_fault_pages_through_the_6x_row():
    fast = alert_windows(PROFILES["fast"])
    assert burnrate.detection_time_s(fast[0], 0.01, 0.10) is None
    assert burnrate.detection_time_s(fast[1], 0.01, 0.10) == pytest.approx(216.0)
    assert burnrate.page_detection_time_s(fast, 0.01, 0.10) == pytest.approx(216.0)


def test_for_delays_detection_by_its_duration():
    window = alert_windows(PROFILES["standard"])[0]
    assert burnrate.detection_time_s(window, 0.01, 1.0, for_s=120) == pytest.approx(518.4 + 120)


def test_a_row_resolves_when_its_short_window_forgets_the_outage():
    short = alert_windows(PROFILES["standard"])[0]  # 5m short window
    assert burnrate.resolution_time_s(short, 0.01, 1.0, outage_s=HOUR) == pytest.approx(
        300 * (1 - 0.144))
    assert burnrate.resolution_time_s(short, 0.01, 0.01, outage_s=HOUR) == 0.0


def test_budget_exhaustion_at_each_rows_rate():
    windows = alert_windows(PROFILES["standard"])
    assert [w.exhaustion_s / DAY for w in windows] == pytest.approx([30 / 14.4, 5, 10, 30])


# ---- generated Prometheus rules ----------------------------------------------------------

def rules_doc(profile: str) -> dict:
    return yaml.safe_load(rules.render_rules(SPEC, PROFILES[profile], SOURCE))


def test_rule_files_start_with_the_do_not_edit_header():
    text = rules.render_rules(SPEC, PROFILES["fast"], SOURCE)
    assert text.splitlines()[0] == "# generated by `slo rules` from slo/slos.yaml — do not edit"


def test_one_group_per_slo_with_a_budget_sorted_by_name_and_evaluated_at_the_profiles_pace():
    for name, profile in PROFILES.items():
        groups = rules_doc(name)["groups"]
        assert [g["name"] for g in groups] == [
            "slo-api-fast-requests", "slo-error-ratio", "slo-home-availability", "slo-latency-p95"]
        assert {g["interval"] for g in groups} == {format_duration(profile.eval_interval_s)}


def test_each_group_records_every_window_before_its_alerts_use_them():
    (group,) = [g for g in rules_doc("standard")["groups"] if g["name"] == "slo-error-ratio"]
    records = [r["record"] for r in group["rules"] if "record" in r]
    assert records == [f"slo:sli_error:ratio_rate{w}" for w in
                       ("5m", "30m", "1h", "2h", "6h", "1d", "3d")] + [
        "slo:objective:ratio", "slo:error_budget:ratio",
        # Sloth's meta recordings, after what they read
        "slo:sli_error:ratio_rate30d", "slo:time_period:days", "slo:current_burn_rate:ratio",
        "slo:period_burn_rate:ratio", "slo:period_error_budget_remaining:ratio",
        "sloth_slo_info"]
    first_alert = next(i for i, r in enumerate(group["rules"]) if "alert" in r)
    assert all("record" in r for r in group["rules"][:first_alert])
    assert group["rules"][0]["labels"] == {
        "service": "portfolio-app", "slo": "error-ratio", "window": "5m",
        "sloth_id": "portfolio-app-error-ratio", "sloth_service": "portfolio-app",
        "sloth_slo": "error-ratio", "sloth_window": "5m"}


def test_the_page_alert_is_both_windows_above_the_factor_with_labels_and_annotations():
    (group,) = [g for g in rules_doc("standard")["groups"] if g["name"] == "slo-error-ratio"]
    alerts = [r for r in group["rules"] if r.get("alert") == "ErrorBudgetBurn"]
    rows = [(a["labels"]["severity"], a["labels"]["long"], a["labels"]["short"]) for a in alerts]
    assert rows == [("page", "1h", "5m"), ("page", "6h", "30m"), ("ticket", "1d", "2h"),
                    ("ticket", "3d", "6h")]
    page = alerts[0]
    assert page["alert"] == "ErrorBudgetBurn" and "for" not in page
    assert page["expr"] == (
        '(\n  max without (window, sloth_window, sloth_id, sloth_service, sloth_slo) '
        '(slo:sli_error:ratio_rate1h{service="portfolio-app",slo="error-ratio"}) / 0.01 > 14.4'
        '\nand\n  max without (window, sloth_window, sloth_id, sloth_service, sloth_slo) '
        '(slo:sli_error:ratio_rate5m{service="portfolio-app",slo="error-ratio"}) / 0.01 > 14.4'
        '\n)\n')
    assert page["labels"] == {"severity": "page", "service": "portfolio-app", "slo": "error-ratio",
                              "long": "1h", "short": "5m"}
    annotations = page["annotations"]
    assert set(annotations) == {"summary", "description", "value", "runbook_url", "dashboard"}
    assert annotations["value"] == '{{ printf "%.1f" $value }}x'
    assert "budget is gone in 2d 2h" in annotations["description"]
    assert annotations["runbook_url"] == "slo/RUNBOOK.md#errorbudgetburn"
    assert annotations["dashboard"] == "/d/slo"


def test_latency_slos_alert_on_requests_slower_than_their_threshold_against_a_5_percent_budget():
    (group,) = [g for g in rules_doc("fast")["groups"] if g["name"] == "slo-latency-p95"]
    assert group["rules"][0]["expr"].startswith(
        '(1 - ((sum(rate(app_request_duration_seconds_bucket{job="portfolio-app",')
    assert 'le="0.3"}[20s]))' in group["rules"][0]["expr"]
    alerts = [r for r in group["rules"] if "alert" in r]
    assert "/ 0.05 > 14.4" in alerts[0]["expr"]


def custom_spec(**alerting) -> object:
    doc = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    doc["alerting"].update(alerting)
    return parse_spec(yaml.safe_dump(doc), "slos.yaml")


def test_for_is_kept_in_standard_and_compressed_in_fast():
    spec = custom_spec(**{"for": "2m"})
    standard = yaml.safe_load(rules.render_rules(spec, PROFILES["standard"], SOURCE))
    fast = yaml.safe_load(rules.render_rules(spec, PROFILES["fast"], SOURCE))
    def fors(doc, alert, group="slo-error-ratio"):
        return {r.get("for") for g in doc["groups"] for r in g["rules"]
                if r.get("alert") == alert and g["name"].startswith(group)}

    assert fors(standard, "ErrorBudgetBurn", "") == {"2m"}
    assert fors(fast, "ErrorBudgetBurn", "") == {"2s"}
    # the absent alert waits as long as a total outage takes to page (a 1% budget: 14.4 x
    # 1% of 1h = 8.6 min, at least the 5m short window, on the 30 s evaluation grid), then
    # `for`: 9m + 2m; fast: 8.6 s, at least its 20 s short window, + 2 s
    assert fors(standard, "SLOMetricAbsent") == {"11m"}
    assert fors(fast, "SLOMetricAbsent") == {"22s"}


def test_disabled_alerting_keeps_the_recordings_and_drops_the_alerts():
    spec = custom_spec(enabled=False)
    doc = yaml.safe_load(rules.render_rules(spec, PROFILES["standard"], SOURCE))
    assert doc["groups"] and not [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def test_rows_that_can_never_fire_are_reported():
    doc = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    doc["slos"] = [{"name": "loose", "kind": "availability", "objective_percent": 90}]
    spec = parse_spec(yaml.safe_dump(doc), "slos.yaml")
    assert rules.unreachable_rows(spec, PROFILES["standard"]) == [
        "loose: the 14.4x row (page) can never fire: it needs more than 100% bad events with a "
        "10% budget"]
    assert rules.unreachable_rows(SPEC, PROFILES["standard"]) == []


def test_generation_is_deterministic():
    assert generated_files(SPEC, SOURCE) == generated_files(load_spec(SPEC_PATH), SOURCE)


# ---- committed files: drift and promtool check ---------------------------------------------

def test_the_committed_generated_files_match_the_spec():
    """Fails when slo/slos.yaml changed without `make rules` (or a generated file was edited)."""
    for rel, text in generated_files(SPEC, SOURCE).items():
        path = STACK / rel
        assert path.is_file(), f"{path} is missing: run `make rules`"
        assert path.read_text(encoding="utf-8") == text, f"{path} drifted: run `make rules`"


def test_promtool_accepts_every_generated_rule_file():
    paths = [str(STACK / rules_path(name)) for name in PROFILES]
    result = subprocess.run([promtool(), "check", "rules", *paths], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(PROFILES)


# ---- the CLI ---------------------------------------------------------------------------------

def test_slo_rules_writes_the_files_and_check_passes_then_fails_on_drift(tmp_path, capsys):
    out = tmp_path / "stack"
    assert main(["rules", "--spec", str(SPEC_PATH), "--out-dir", str(out)]) == 0
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == sorted(generated_files(SPEC, SOURCE))
    assert main(["rules", "--spec", str(SPEC_PATH), "--out-dir", str(out), "--check"]) == 0
    fast = out / rules_path("fast")
    fast.write_text(fast.read_text(encoding="utf-8").replace("14.4", "14.5"), encoding="utf-8")
    capsys.readouterr()
    assert main(["rules", "--spec", str(SPEC_PATH), "--out-dir", str(out), "--check"]) == 1
    output = capsys.readouterr().out
    assert "1 generated file(s) differ" in output and "-" in output and "14.5" in output
    assert "14.5" in fast.read_text(encoding="utf-8"), "--check writes nothing"


def test_slo_rules_with_a_bad_spec_exits_2_with_the_message(tmp_path, capsys):
    bad = tmp_path / "slos.yaml"
    bad.write_text("version: slo-harness/v1\n", encoding="utf-8")
    assert main(["rules", "--spec", str(bad), "--out-dir", str(tmp_path / "out")]) == 2
    assert "slos.yaml: service: required field is missing" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_generated_headers_name_the_spec_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(["rules", "--spec", str(SPEC_PATH), "--out-dir", str(tmp_path)]) == 0
    first = (tmp_path / rules_path("fast")).read_text(encoding="utf-8").splitlines()[0]
    assert first == "# generated by `slo rules` from slo/slos.yaml — do not edit"


def test_check_reports_missing_generated_files(tmp_path, capsys):
    assert main(["rules", "--spec", str(SPEC_PATH), "--out-dir", str(tmp_path), "--check"]) == 1
    assert "missing" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


# ---- Grafana ---------------------------------------------------------------------------------

def test_grafana_row_queries_pick_exactly_the_rows_two_windows_in_every_profile():
    """The profile-neutral regex lists a row's windows of all profiles; it must never match
    another window recorded by the running profile."""
    for slo in (s for s in SPEC.slos if s.error_budget is not None):
        for profile in PROFILES.values():
            windows = alert_windows(profile, slo.window_s)
            recorded = {format_duration(w) for w in windows_used(windows)}
            for window in windows:
                row_names = {format_duration(w) for w in grafana.row_windows(slo, window.row)}
                assert recorded & row_names == {format_duration(window.long_s),
                                                format_duration(window.short_s)}


def test_grafana_alert_rules_cover_every_row_with_unique_short_uids():
    doc = yaml.safe_load(grafana.render_alert_rules(SPEC, SOURCE))
    (group,) = doc["groups"]
    assert (group["folder"], doc["apiVersion"]) == ("SLO", 1)
    rule_list = group["rules"]
    assert len(rule_list) == 4 * 4  # four SLOs with a budget, four rows each
    uids = [r["uid"] for r in rule_list]
    assert len(set(uids)) == len(uids) and max(map(len, uids)) <= 40
    first = rule_list[0]
    assert first["data"][0]["datasourceUid"] == "prometheus"
    assert first["data"][1]["model"]["conditions"][0]["evaluator"] == {"type": "gt",
                                                                        "params": [14.4]}
    assert first["labels"]["severity"] == "page" and first["labels"]["source"] == "grafana"
    assert "$" not in grafana.render_alert_rules(SPEC, SOURCE)


def test_the_slo_dashboard_has_budget_burn_rate_and_sli_panels_for_each_slo():
    board = json.loads(grafana.render_dashboard(SPEC, SOURCE))
    assert board["uid"] == "slo" and board["description"].startswith("generated by `slo rules`")
    titles = [p["title"] for p in board["panels"]]
    for name in ("error-ratio", "latency-p95", "api-fast-requests", "home-availability"):
        assert {f"{name}: burn rate per window", f"{name}: error budget left (30d)",
                f"{name}: SLI vs objective"} <= set(titles)
    assert "throughput: SLI (last 5m)" in titles
    assert "throughput: burn rate per window" not in titles
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    alert_panels = {r["panelId"] for r in yaml.safe_load(
        grafana.render_alert_rules(SPEC, SOURCE))["groups"][0]["rules"]}
    assert alert_panels <= {p["id"] for p in board["panels"] if "burn rate" in p["title"]}


def test_the_grafana_row_query_needs_both_windows_and_takes_the_smaller_burn_rate(tmp_path):
    slo = SPEC.slo("error-ratio")
    labels = 'service="portfolio-app",slo="error-ratio"'
    inputs = [
        {"series": f'slo:sli_error:ratio_rate1m{{{labels},window="1m"}}', "values": "0.5x4"},
        {"series": f'slo:sli_error:ratio_rate20s{{{labels},window="20s"}}', "values": "_x2 0.2x2"},
        {"series": f'slo:sli_error:ratio_rate6m{{{labels},window="6m"}}', "values": "0.9x4"},
    ]
    expr = grafana.alert_query(SPEC, slo, 1)
    cases = [{"expr": expr, "eval_time": "1m", "exp_samples": []},
             {"expr": expr, "eval_time": "3m",
              "exp_samples": [{"labels": f"{{{labels}}}", "value": 20}]}]
    result = run_promtool_test(tmp_path, [], [{"interval": "1m", "input_series": inputs,
                                               "promql_expr_test": cases}], "1m")
    assert result.returncode == 0, result.stdout + result.stderr


# ---- promtool unit tests generated from the maths ------------------------------------------

def run_promtool_test(tmp_path, rule_files: list[str], tests: list[dict], evaluation: str):
    if not rule_files:
        (tmp_path / "empty.yml").write_text("groups: []\n", encoding="utf-8")
        rule_files = ["empty.yml"]
    path = tmp_path / "slo_test.yml"
    path.write_text(yaml.safe_dump({"rule_files": rule_files, "evaluation_interval": evaluation,
                                    "tests": tests}, sort_keys=False), encoding="utf-8")
    return subprocess.run([promtool(), "test", "rules", str(path)], capture_output=True,
                          text=True, timeout=240, cwd=tmp_path)


@dataclass(frozen=True)
class Scenario:
    """How a profile is exercised: sample spacing, and which rows the outage test times."""

    profile: str
    interval_s: int  # input series spacing (the scrape interval the test assumes)
    rows: tuple[int, ...]  # 1-based rows whose timing is checked

    @property
    def eval_s(self) -> int:
        return PROFILES[self.profile].eval_interval_s

    def windows(self, budget_slo: str = "error-ratio"):
        return alert_windows(PROFILES[self.profile], SPEC.slo(budget_slo).window_s)

    def warmup_s(self) -> int:
        """Healthy traffic before the outage fills every checked row's long window."""
        return max(self.windows()[r - 1].long_s for r in self.rows) + 2 * self.interval_s


# Standard: 1-minute samples keep six hours of warm-up cheap; its ticket rows need days of
# warm-up, and the fast profile checks the same code and maths for all four rows.
SCENARIOS = [Scenario("fast", 5, (1, 2, 3, 4)), Scenario("standard", 60, (1, 2))]
REQUESTS_PER_SAMPLE = 200
API = 'endpoint="/api/projects",method="GET",job="portfolio-app"'


def counter(increments: list[int | None]) -> str:
    """promtool values of a counter from per-sample increments (None: no series yet)."""
    values, total = [], 0
    for inc in increments:
        if inc is None:
            values.append("_")
            continue
        total += inc
        values.append(str(total))
    return " ".join(values)


def error_series(ok: list[int], errors: list[int | None]) -> list[dict]:
    return [
        {"series": f'app_requests_total{{{API},status="200"}}', "values": counter(ok)},
        {"series": f'app_requests_total{{{API},status="500"}}', "values": counter(errors)},
    ]


def alerts(slo: str, window, state: str | None = None) -> str:
    state_matcher = f',alertstate="{state}"' if state else ""
    long_ = format_duration(window.long_s)
    return f'ALERTS{{alertname="ErrorBudgetBurn",slo="{slo}",long="{long_}"{state_matcher}}}'


def firing(slo: str, window, profile: str) -> dict:
    severity = SPEC.slo(slo).alerting.page_severity if window.severity == "page" else (
        SPEC.slo(slo).alerting.ticket_severity)
    labels = (f'ALERTS{{alertname="ErrorBudgetBurn",alertstate="firing",'
              f'long="{format_duration(window.long_s)}",service="portfolio-app",'
              f'severity="{severity}",short="{format_duration(window.short_s)}",slo="{slo}"}}')
    return {"labels": labels, "value": 1}


def at(seconds: float, grid: int, up: bool) -> int:
    """An evaluation time on the rule grid, rounded away from the uncertain middle."""
    steps = math.ceil(seconds / grid) if up else math.floor(seconds / grid)
    return int(steps * grid)


def outage_test(sc: Scenario, outage_s: int, recovery_s: int) -> tuple[dict, list[str]]:
    """A 100% error outage after warm-up, then recovery; checks firing and resolving per row."""
    step = sc.interval_s
    warm, bad, good = sc.warmup_s() // step, outage_s // step, recovery_s // step
    ok = [REQUESTS_PER_SAMPLE] * warm + [0] * bad + [REQUESTS_PER_SAMPLE] * good
    # the 500 series appears with the outage, as the app's counter does: its first
    # increment is invisible to rate(), which the bounds allow for
    errors = [None] * warm + [REQUESTS_PER_SAMPLE] * bad + [0] * good
    start = (warm - 1) * step  # the last healthy sample; errors happen after it
    end = (warm + bad - 1) * step  # the last sample of the outage
    cases, described = [], []
    for row in sc.rows:
        window = sc.windows()[row - 1]
        fire = fire_bounds(window, 0.01, 1.0, step, sc.eval_s)
        before = at(start + fire.earliest_s, sc.eval_s, up=False)
        after = at(start + fire.latest_s, sc.eval_s, up=True)
        assert after < end, "the outage must outlast the firing check"
        cases.append({"expr": f"count_over_time({alerts('error-ratio', window)}[{before}s])",
                      "eval_time": f"{before}s", "exp_samples": []})
        cases.append({"expr": alerts("error-ratio", window, "firing"), "eval_time": f"{after}s",
                      "exp_samples": [firing("error-ratio", window, sc.profile)]})
        clear = resolve_bounds(window, 0.01, 1.0, end - start, step, sc.eval_s)
        still = at(end + clear.earliest_s, sc.eval_s, up=False)
        gone = at(end + clear.latest_s, sc.eval_s, up=True)
        if still > after:
            cases.append({"expr": alerts("error-ratio", window, "firing"),
                          "eval_time": f"{still}s",
                          "exp_samples": [firing("error-ratio", window, sc.profile)]})
        cases.append({"expr": alerts("error-ratio", window), "eval_time": f"{gone}s",
                      "exp_samples": []})
        described.append(f"row {row}: quiet until {before - start}s, firing by {after - start}s, "
                         f"resolved by {gone - end}s after recovery")
    test = {"interval": f"{step}s", "input_series": error_series(ok, errors),
            "promql_expr_test": cases}
    return test, described


@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda sc: sc.profile)
def test_a_total_outage_fires_each_row_when_the_maths_predicts_and_resolves_after_recovery(
        sc, tmp_path):
    windows = sc.windows()
    outage_s = max(fire_bounds(windows[r - 1], 0.01, 1.0, sc.interval_s, sc.eval_s).latest_s
                   for r in sc.rows) + 4 * sc.interval_s
    outage_s = int(math.ceil(outage_s / sc.interval_s) * sc.interval_s)
    recovery_s = max(resolve_bounds(windows[r - 1], 0.01, 1.0, outage_s, sc.interval_s,
                                    sc.eval_s).latest_s for r in sc.rows) + 4 * sc.interval_s
    recovery_s = int(math.ceil(recovery_s / sc.interval_s) * sc.interval_s)
    test, described = outage_test(sc, outage_s, recovery_s)
    result = run_promtool_test(tmp_path, [str(STACK / rules_path(sc.profile))], [test],
                               f"{sc.eval_s}s")
    assert result.returncode == 0, "\n".join(described) + "\n" + result.stdout + result.stderr


@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda sc: sc.profile)
def test_a_half_budget_burn_never_fires_any_alert(sc, tmp_path):
    """0.5% errors (0.5x a 1% budget) for longer than every checked row's long window."""
    step = sc.interval_s
    samples = (sc.warmup_s() + 2 * MINUTE) // step
    errors_per_sample = REQUESTS_PER_SAMPLE // 200  # 1 in 200 = 0.5%
    ok = [REQUESTS_PER_SAMPLE - errors_per_sample] * samples
    test = {"interval": f"{step}s", "input_series": error_series(ok, [errors_per_sample] * samples),
            "promql_expr_test": [
                {"expr": f'count_over_time(ALERTS{{slo="error-ratio"}}[{samples * step}s])',
                 "eval_time": f"{(samples - 1) * step}s", "exp_samples": []},
                {"expr": "slo:sli_error:ratio_rate" + format_duration(sc.windows()[0].long_s),
                 "eval_time": f"{(samples - 1) * step}s", "exp_samples": [{
                     "labels": (f'slo:sli_error:ratio_rate{format_duration(sc.windows()[0].long_s)}'
                                f'{{service="portfolio-app",slo="error-ratio",window='
                                f'"{format_duration(sc.windows()[0].long_s)}",'
                                f'sloth_id="portfolio-app-error-ratio",'
                                f'sloth_service="portfolio-app",sloth_slo="error-ratio",'
                                f'sloth_window="{format_duration(sc.windows()[0].long_s)}"}}'),
                     "value": 0.005}]},
            ]}
    result = run_promtool_test(tmp_path, [str(STACK / rules_path(sc.profile))], [test],
                               f"{sc.eval_s}s")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_latency_outage_pages_the_latency_slo_in_the_fast_profile(tmp_path):
    """Every request slower than 300 ms (the 500 ms fault): p95's 5% budget burns at 20x."""
    sc = Scenario("fast", 5, (1,))
    window = sc.windows("latency-p95")[0]
    fire = fire_bounds(window, 0.05, 1.0, sc.interval_s, sc.eval_s)
    warm, bad = (window.long_s + 10) // 5, int(fire.latest_s + 30) // 5
    home = 'endpoint="/",method="GET",job="portfolio-app"'
    fast_inc = [REQUESTS_PER_SAMPLE] * warm + [0] * bad
    inputs = [
        {"series": f'app_request_duration_seconds_bucket{{{home},le="0.3"}}',
         "values": counter(fast_inc)},
        {"series": f'app_request_duration_seconds_count{{{home}}}',
         "values": counter([REQUESTS_PER_SAMPLE] * (warm + bad))},
    ]
    start = (warm - 1) * 5
    before = at(start + fire.earliest_s, 5, up=False)
    after = at(start + fire.latest_s, 5, up=True)
    test = {"interval": "5s", "input_series": inputs, "promql_expr_test": [
        {"expr": f"count_over_time({alerts('latency-p95', window)}[{before}s])",
         "eval_time": f"{before}s", "exp_samples": []},
        {"expr": alerts("latency-p95", window, "firing"), "eval_time": f"{after}s",
         "exp_samples": [firing("latency-p95", window, "fast")]},
        {"expr": f'count_over_time(ALERTS{{alertname="ErrorBudgetBurn",slo="error-ratio"}}'
                 f'[{after}s])',
         "eval_time": f"{after}s", "exp_samples": []},
    ]}
    result = run_promtool_test(tmp_path, [str(STACK / rules_path("fast"))], [test], "5s")
    assert result.returncode == 0, f"{before}..{after}\n" + result.stdout + result.stderr
    assert fire.latest_s < 60, "pages within about a minute"


@pytest.mark.parametrize(("wrong", "right"), [
    (" > 50\n", " > 14.4\n"),  # the 14.4x row fires too late
    (" > 2\n", " > 6\n"),  # the 6x row fires too early
], ids=["late", "early"])
def test_the_generated_promtool_tests_fail_against_wrong_rules(wrong, right, tmp_path):
    """The outage test notices rules that fire outside the predicted window, so its passes
    mean something."""
    sc = Scenario("fast", 5, (1, 2))
    text = rules.render_rules(SPEC, PROFILES["fast"], SOURCE)
    assert right in text
    (tmp_path / "wrong.yml").write_text(text.replace(right, wrong), encoding="utf-8")
    test, _ = outage_test(sc, 120, 60)
    result = run_promtool_test(tmp_path, ["wrong.yml"], [test], "5s")
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr
