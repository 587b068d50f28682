"""Theoretical detection and resolution times: agree with slo.alerting.burnrate for full windows,
account for a young Prometheus (windows not yet full), and add the sampling intervals."""

import pytest

from slo.alerting.burnrate import PROFILES, alert_windows, detection_time_s, resolution_time_s
from slo.alerting.detection import (
    burn_window,
    clearing_s,
    crossing_s,
    detection_s,
    fastest,
    ratio,
    rule_theory,
)
from slo.live.alerts import Rule
from slo.spec import parse_spec

SPEC = parse_spec("""
version: slo-harness/v1
service: portfolio-app
prometheus: {job: portfolio-app}
slos:
  - {name: error-ratio, objective: "ratio <= 1%"}
""", "slos.yaml")
FAST = PROFILES["fast"]
PAGE, SLOW_PAGE, TICKET, SLOW_TICKET = alert_windows(FAST)


def burn_rule(window, for_s=0):
    from harness_common.durations import format_duration

    labels = {"slo": "error-ratio", "severity": window.severity,
              "long": format_duration(window.long_s), "short": format_duration(window.short_s)}
    return Rule("ErrorBudgetBurn", tuple(sorted(labels.items())), for_s, "", "g", 5.0)


@pytest.mark.parametrize("window", [PAGE, SLOW_PAGE, TICKET, SLOW_TICKET])
@pytest.mark.parametrize("bad", [1.0, 0.5, 0.2])
def test_full_windows_agree_with_the_burn_rate_table(window, bad):
    assert detection_s(window, 0.01, bad) == pytest.approx(detection_time_s(window, 0.01, bad))
    assert clearing_s(window, 0.01, bad, outage_s=45) == pytest.approx(
        resolution_time_s(window, 0.01, bad, 45), abs=0.11)


def test_a_total_outage_pages_on_the_fast_profile_after_about_nine_seconds():
    assert (PAGE.long_s, PAGE.short_s) == (60, 20)
    assert detection_s(PAGE, 0.01, 1.0) == pytest.approx(8.64)


def test_a_burn_below_the_threshold_never_fires():
    assert crossing_s(60, 0.144, 0.1) is None
    assert detection_s(PAGE, 0.01, 0.1) is None


def test_a_young_prometheus_fires_the_long_windows_early():
    # 24m window, 3% threshold, 100% bad, 190 s of data: 0.03 * 190 / 0.97 = 5.9 s, not 43.2 s
    assert crossing_s(1440, 0.03, 1.0, history_s=190) == pytest.approx(5.876, abs=0.01)
    assert crossing_s(1440, 0.03, 1.0) == pytest.approx(43.2)
    # once history + t reaches the window, the full-window answer applies again
    assert crossing_s(60, 0.144, 1.0, history_s=59) == pytest.approx(8.64)
    assert crossing_s(60, 0.144, 1.0, history_s=600) == pytest.approx(8.64)


def test_the_crossing_time_is_continuous_where_the_two_cases_meet():
    history = 60 * (1 - 0.144)  # h where h + partial == L
    assert crossing_s(60, 0.144, 1.0, history - 1e-6) == pytest.approx(
        crossing_s(60, 0.144, 1.0, history + 1e-6), abs=1e-3)


def test_the_theory_adds_one_scrape_and_one_evaluation_and_bounds_what_sampling_allows():
    theory = rule_theory(burn_rule(PAGE), SPEC, FAST, 1.0, outage_s=30, scrape_s=5, eval_s=5)
    assert theory.basis == "burn-rate"
    assert theory.detect_s == pytest.approx(8.64)
    assert theory.theory_s == pytest.approx(18.64)
    assert (theory.earliest_s, theory.latest_s) == (pytest.approx(3.64), pytest.approx(23.64))
    assert theory.resolve_s == pytest.approx(20 - 2.88 + 10, abs=0.11)
    assert "14.4x burn over 1m/20s" in theory.explanation


def test_for_is_added_to_the_crossing():
    theory = rule_theory(burn_rule(PAGE, for_s=30), SPEC, FAST, 1.0, 30, 5, 5)
    assert theory.detect_s == pytest.approx(38.64)


def test_a_burn_rate_rule_without_a_measured_ratio_has_no_theory():
    assert rule_theory(burn_rule(PAGE), SPEC, FAST, None, 30, 5, 5) is None
    unknown = Rule("ErrorBudgetBurn", (("long", "7m"), ("short", "1m"), ("slo", "error-ratio")),
                   0, "", "g", 5)
    assert burn_window(SPEC, FAST, unknown.label_dict) is None


def test_other_rules_fire_after_their_for_plus_sampling():
    down = Rule("PortfolioAppDown", (("severity", "page"),), 30, "up == 0", "g", 5)
    theory = rule_theory(down, SPEC, FAST, None, outage_s=40, scrape_s=5, eval_s=5)
    assert (theory.basis, theory.detect_s, theory.theory_s) == ("for", 30, 40)


def test_the_fastest_rule_and_the_measured_ratio():
    page = rule_theory(burn_rule(PAGE), SPEC, FAST, 1.0, 30, 5, 5)
    slow = rule_theory(burn_rule(SLOW_PAGE), SPEC, FAST, 1.0, 30, 5, 5)
    assert fastest([slow, page, None]) is page
    assert ratio(18.64, page) == pytest.approx(1.0)
    assert ratio(None, page) is None and ratio(3.0, None) is None
