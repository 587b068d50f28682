"""Multi-window, multi-burn-rate alerting: the SRE workbook's table, profiles and the maths.

A burn rate is how fast the error budget is spent: bad-event ratio / budget. Burning at 1x
spends exactly the budget over the objective window; at 14.4x, 2% of a 30-day budget goes in
one hour. An alert row fires when the burn rate exceeds its factor over BOTH its long window
(enough budget is gone to matter) and its short window (it is still happening, so the alert
resolves soon after recovery).

BURN_RATE_TABLE is the only place the rows live (SRE workbook, "Alerting on SLOs", for a 30d
objective window). For another objective window the factors scale with it (so each row still
means "this share of the budget in the long window"); the windows stay.

A profile maps the table onto a time scale. `standard` is the table itself. `fast` compresses
time 60x for experiments — one standard hour is one fast minute — so a total outage pages in
seconds rather than minutes. Its windows are the standard ones / 60, but never shorter than
4 scrape intervals (rate() needs several samples): with a 5 s scrape the 14.4x row watches
1m/20s. The factors are unchanged, since scaling the objective window and the alert windows
together keeps every ratio. With a 1% budget, a total outage (100% errors, a 100x burn)
crosses 14.4x on the 1m window after 0.144 * 60 s = 8.6 s, plus up to a scrape and an
evaluation interval: it pages within about 20 s.
"""

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from harness_common.durations import DAY, HOUR, MINUTE

Severity = Literal["page", "ticket"]

WORKBOOK_WINDOW_S = 30 * DAY


@dataclass(frozen=True)
class Row:
    """One row of the table: severity, burn-rate factor (for 30d), long and short window."""

    severity: Severity
    factor: Fraction
    long_s: int
    short_s: int

    @property
    def budget_share(self) -> Fraction:
        """Share of the objective window's budget spent when the long window burns at factor."""
        return self.factor * self.long_s / WORKBOOK_WINDOW_S


BURN_RATE_TABLE: tuple[Row, ...] = (
    #   severity   factor             long        short
    Row("page",   Fraction("14.4"),  1 * HOUR,   5 * MINUTE),
    Row("page",   Fraction(6),       6 * HOUR,   30 * MINUTE),
    Row("ticket", Fraction(3),       1 * DAY,    2 * HOUR),
    Row("ticket", Fraction(1),       3 * DAY,    6 * HOUR),
)


@dataclass(frozen=True)
class Profile:
    """A time scale for the table, with the scrape and rule-evaluation intervals it assumes."""

    name: str
    time_scale: int
    scrape_interval_s: int
    eval_interval_s: int
    description: str

    @property
    def min_window_s(self) -> int:
        """The shortest window rate() is trusted over: 4 scrape intervals."""
        return 4 * self.scrape_interval_s

    def window(self, seconds: int) -> int:
        """A table window on this profile's time scale."""
        return max(seconds // self.time_scale, self.min_window_s)


PROFILES: dict[str, Profile] = {
    "standard": Profile("standard", 1, 5, 30,
                        "the SRE workbook's windows, for real objective windows (30d)"),
    "fast": Profile("fast", 60, 5, 5,
                    "time compressed 60x for experiments: a total outage pages within ~10-25s"),
}


@dataclass(frozen=True)
class AlertWindow:
    """A table row resolved for one profile and objective window: what a rule watches."""

    row: int  # 1-based position in BURN_RATE_TABLE
    severity: Severity
    factor: float
    long_s: int
    short_s: int
    period_s: int  # the objective window on this profile's time scale

    def threshold(self, budget: float) -> float:
        """The bad-event ratio both windows must exceed: factor x budget."""
        return self.factor * budget

    @property
    def exhaustion_s(self) -> float:
        """At this burn rate the whole budget is gone after this many seconds."""
        return self.period_s / self.factor


def alert_windows(profile: Profile,
                  objective_window_s: int = WORKBOOK_WINDOW_S) -> tuple[AlertWindow, ...]:
    """The table's rows for `profile` and an SLO's objective window, in table order."""
    scale = Fraction(objective_window_s, WORKBOOK_WINDOW_S)
    return tuple(
        AlertWindow(
            row=index,
            severity=row.severity,
            factor=float(row.factor * scale),
            long_s=profile.window(row.long_s),
            short_s=profile.window(row.short_s),
            period_s=objective_window_s // profile.time_scale,
        )
        for index, row in enumerate(BURN_RATE_TABLE, start=1)
    )


def windows_used(windows: tuple[AlertWindow, ...]) -> tuple[int, ...]:
    """Every distinct window (seconds) the rows watch, shortest first: one recording rule each."""
    return tuple(sorted({w.long_s for w in windows} | {w.short_s for w in windows}))


def detection_time_s(window: AlertWindow, budget: float, error_ratio: float,
                     for_s: float = 0.0) -> float | None:
    """Seconds from a step to `error_ratio` (steady traffic) until the row fires, in theory.

    After t seconds a window of length W holds the bad ratio error_ratio * min(t, W) / W, so the
    row fires once both windows exceed factor x budget: t = threshold * W / error_ratio for the
    longer window (then `for`). None when error_ratio never exceeds the threshold.
    """
    threshold = window.threshold(budget)
    if error_ratio <= threshold:
        return None
    return threshold * max(window.long_s, window.short_s) / error_ratio + for_s


def resolution_time_s(window: AlertWindow, budget: float, error_ratio: float,
                      outage_s: float) -> float:
    """Seconds from the end of an outage (error_ratio for outage_s, then none) until the row
    stops firing, in theory: the first window whose bad ratio falls to the threshold."""
    threshold = window.threshold(budget)

    def clears(length: int) -> float:
        # d seconds after recovery the window holds min(outage_s, length - d) seconds of outage;
        # it is below the threshold once that is at most `allowed` seconds.
        allowed = threshold * length / error_ratio
        return 0.0 if min(outage_s, length) <= allowed else length - allowed

    return min(clears(window.long_s), clears(window.short_s))


@dataclass(frozen=True)
class FireBounds:
    """When a row should fire in a real Prometheus: [earliest, latest] seconds after the step."""

    earliest_s: float
    latest_s: float


def fire_bounds(window: AlertWindow, budget: float, error_ratio: float, scrape_s: float,
                eval_s: float, for_s: float = 0.0) -> FireBounds | None:
    """The theoretical detection time widened by what sampling adds.

    rate() extrapolation can fire up to one scrape interval early. Late: a counter series that
    first appears with the outage loses its first increment (one scrape), the sample showing
    the crossing arrives up to a scrape later, and the rule sees it at its next evaluation.
    """
    theory = detection_time_s(window, budget, error_ratio, for_s)
    if theory is None:
        return None
    return FireBounds(max(0.0, theory - scrape_s), theory + 2 * scrape_s + eval_s)


def resolve_bounds(window: AlertWindow, budget: float, error_ratio: float, outage_s: float,
                   scrape_s: float, eval_s: float) -> FireBounds:
    """When a row should stop firing after recovery: [earliest, latest] seconds after it.

    Extrapolation and sampling shift the short window's fall by about a scrape either way; the
    rule notices at its next evaluation.
    """
    theory = resolution_time_s(window, budget, error_ratio, outage_s)
    return FireBounds(max(0.0, theory - scrape_s), theory + 2 * scrape_s + eval_s)


def page_detection_time_s(windows: tuple[AlertWindow, ...], budget: float,
                          error_ratio: float, for_s: float = 0.0) -> float | None:
    """The first time any page row fires (None: the burn never pages)."""
    times = [detection_time_s(w, budget, error_ratio, for_s)
             for w in windows if w.severity == "page"]
    times = [t for t in times if t is not None]
    return min(times) if times else None


def absent_for_s(profile: Profile, budget: float, objective_window_s: int = WORKBOOK_WINDOW_S
                 ) -> int:
    """How long an SLI's metrics may be missing before the absent alert pages: as long as the
    first page row takes to fire on a total outage (Pyrra's rule), at least that row's short
    window, rounded up to the profile's rule evaluation interval."""
    first = next(w for w in alert_windows(profile, objective_window_s) if w.severity == "page")
    seconds = max(detection_time_s(first, budget, 1.0) or first.long_s, first.short_s)
    step = profile.eval_interval_s
    return int(-(-seconds // step) * step)
