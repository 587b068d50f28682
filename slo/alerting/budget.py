"""How much error budget is left and how fast it burns: the numbers behind the burn-rate alerts.

    budget_status(slo, profile, bad_ratios, period_bad, ...)   -> BudgetStatus   (pure)
    budget_queries(slo, profile)                                -> {window_s: PromQL}
    spent_share(bad_ratio, window_s, budget, period_s)          -> share of the period's budget

A burn rate is bad-event ratio / budget: 1x spends exactly the budget over the SLO's period (30 d,
or 12 h on the fast profile: the period on the profile's time scale). A row of the burn-rate table
watches a long and a short window; it would fire when both burn above its factor. "How much of
the month did this fault cost" is the budget a stretch spent: its burn rate x its length / the
period (at the stretch's own traffic rate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from slo.alerting.burnrate import AlertWindow, Profile, alert_windows, windows_used
from slo.judge import promql
from slo.spec.model import SLO


@dataclass(frozen=True)
class RowBurn:
    """One burn-rate row now: its windows, its factor, and each window's burn rate."""

    severity: str
    factor: float
    long_s: int
    short_s: int
    long_burn: float | None
    short_burn: float | None

    @property
    def burning(self) -> bool:
        """True when both windows burn above the factor (the row's alert condition)."""
        return (self.long_burn is not None and self.short_burn is not None
                and self.long_burn > self.factor and self.short_burn > self.factor)


@dataclass(frozen=True)
class BudgetStatus:
    """An SLO's budget over its period (on a profile's time scale), and every row's burn."""

    slo: str
    budget: float                 # the share of events allowed to be bad
    period_s: int                 # the SLO's period on the profile's time scale
    period_bad: float | None      # bad-event ratio over the period (the data Prometheus has)
    rows: tuple[RowBurn, ...]

    @property
    def left(self) -> float | None:
        """Share of the period's budget left (negative when overspent; None: no data)."""
        if self.period_bad is None:
            return None
        return 1.0 - self.period_bad / self.budget


def burn_rate(bad_ratio: float | None, budget: float) -> float | None:
    """bad ratio / budget (None when unknown)."""
    if bad_ratio is None or not math.isfinite(bad_ratio) or budget <= 0:
        return None
    return bad_ratio / budget


def spent_share(bad_ratio: float | None, window_s: float, budget: float,
                period_s: float) -> float | None:
    """The share of the period's budget a stretch of `window_s` at `bad_ratio` spent."""
    burn = burn_rate(bad_ratio, budget)
    return None if burn is None or period_s <= 0 else burn * window_s / period_s


def period_s(slo: SLO, profile: Profile) -> int:
    """The SLO's period on the profile's time scale (30 d; 12 h on the fast profile)."""
    return slo.window_s // profile.time_scale


def budget_queries(slo: SLO, profile: Profile) -> dict[int, str]:
    """{window seconds: bad-ratio PromQL} for every window the rows watch and for the period;
    empty for an SLO without a budget (a request rate)."""
    if slo.error_budget is None:
        return {}
    windows = alert_windows(profile, slo.window_s)
    wanted = set(windows_used(windows)) | {period_s(slo, profile)}
    return {w: promql.bad_ratio_rate(slo, w) for w in sorted(wanted)}


def budget_status(slo: SLO, profile: Profile, bad_ratios: dict[int, float | None]
                  ) -> BudgetStatus | None:
    """The budget view from measured bad ratios per window (budget_queries' keys)."""
    budget = slo.error_budget
    if budget is None:
        return None
    rows = tuple(_row(w, bad_ratios, budget) for w in alert_windows(profile, slo.window_s))
    period = period_s(slo, profile)
    return BudgetStatus(slo.name, budget, period, bad_ratios.get(period), rows)


def _row(window: AlertWindow, bad_ratios: dict[int, float | None], budget: float) -> RowBurn:
    return RowBurn(window.severity, window.factor, window.long_s, window.short_s,
                   burn_rate(bad_ratios.get(window.long_s), budget),
                   burn_rate(bad_ratios.get(window.short_s), budget))


@dataclass(frozen=True)
class WindowCost:
    """What one judged window cost an SLO: its burn rate, the share of the period's budget it
    spent (at the window's own traffic rate), and each row's burn at the window's end."""

    slo: str
    window_s: float
    period_s: int
    bad_ratio: float | None
    burn: float | None
    spent: float | None
    rows: tuple[RowBurn, ...] = ()

    def as_dict(self) -> dict:
        """JSON-ready."""
        return {"slo": self.slo, "window_s": round(self.window_s, 3), "period_s": self.period_s,
                "bad_ratio": self.bad_ratio, "burn_rate": _round(self.burn),
                "budget_spent": _round(self.spent, 6),
                "rows": [{"severity": r.severity, "factor": round(r.factor, 3),
                          "long_s": r.long_s, "short_s": r.short_s,
                          "long_burn": _round(r.long_burn), "short_burn": _round(r.short_burn),
                          "burning": r.burning} for r in self.rows]}


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def window_cost(slo: SLO, profile: Profile, bad_ratio: float | None, window_s: float,
                row_ratios: dict[int, float | None] | None = None) -> WindowCost | None:
    """The cost of a window with `bad_ratio` bad events (None for an SLO without a budget);
    `row_ratios` (budget_queries' windows, measured at the window's end) give the rows."""
    budget = slo.error_budget
    if budget is None:
        return None
    period = period_s(slo, profile)
    rows = ()
    if row_ratios is not None:
        rows = tuple(_row(w, row_ratios, budget) for w in alert_windows(profile, slo.window_s))
    return WindowCost(slo.name, window_s, period, bad_ratio, burn_rate(bad_ratio, budget),
                      spent_share(bad_ratio, window_s, budget, period), rows)

