"""Error budget maths: burn rates, the share of a period a stretch spent, rows burning."""

from pathlib import Path

import pytest

from slo.alerting.budget import budget_queries, budget_status, burn_rate, spent_share, window_cost
from slo.alerting.burnrate import PROFILES
from slo.spec import load_spec
from slo.units import share_text

REPO = Path(__file__).resolve().parent.parent
SPEC = load_spec(REPO / "slo" / "slos.yaml")
FAST, STANDARD = PROFILES["fast"], PROFILES["standard"]


@pytest.mark.parametrize(("bad", "window_s", "budget", "period_s", "spent"), [
    (1.0, 45, 0.01, 43200, 45 * 100 / 43200),      # a 45 s total outage on the fast profile
    (0.01, 3600, 0.01, 2592000, 3600 / 2592000),   # 1x for an hour: an hour's worth
    (0.0, 600, 0.01, 2592000, 0.0),
    (None, 600, 0.01, 2592000, None),              # no data is no number
])
def test_a_stretch_spends_its_burn_rate_times_its_share_of_the_period(bad, window_s, budget,
                                                                     period_s, spent):
    assert spent_share(bad, window_s, budget, period_s) == (
        None if spent is None else pytest.approx(spent))


def test_burn_rate_is_the_bad_ratio_over_the_budget():
    assert burn_rate(0.144, 0.01) == pytest.approx(14.4)
    assert burn_rate(None, 0.01) is None and burn_rate(float("nan"), 0.01) is None


def test_every_row_window_and_the_period_are_queried():
    slo = SPEC.slo("error-ratio")
    windows = budget_queries(slo, FAST)
    assert sorted(windows) == [20, 30, 60, 120, 360, 1440, 4320, 43200]
    assert all("envoy" not in q and "app_requests_total" in q for q in windows.values())
    assert budget_queries(SPEC.slo("throughput"), FAST) == {}   # a rate has no budget


def test_a_row_burns_only_when_both_of_its_windows_are_above_its_factor():
    slo = SPEC.slo("error-ratio")
    ratios = {20: 0.5, 30: 0.5, 60: 0.5, 120: 0.0, 360: 0.0, 1440: 0.0, 4320: 0.0, 43200: 0.02}
    status = budget_status(slo, FAST, ratios)
    page, slow_page, *tickets = status.rows
    assert (page.long_s, page.short_s, page.burning) == (60, 20, True)      # 50x > 14.4x
    assert (slow_page.long_s, slow_page.short_s, slow_page.burning) == (360, 30, False)
    assert not any(r.burning for r in tickets)
    assert status.left == pytest.approx(1 - 0.02 / 0.01)                   # overspent: -100%


def test_a_window_cost_and_how_it_reads():
    cost = window_cost(SPEC.slo("error-ratio"), FAST, 1.0, 45)
    assert cost.burn == pytest.approx(100) and share_text(cost.spent) == "10.42%"
    assert share_text(0.00004) == "0.004%" and share_text(None) == "—"
    assert window_cost(SPEC.slo("throughput"), FAST, None, 45) is None
