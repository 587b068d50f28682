"""How fast should an alert fire? The theory to set beside what an experiment measured.

For a generated burn-rate alert (`ErrorBudgetBurn{slo, long, short}`) the rule's windows and
factor come from the spec and the profile (slo.alerting.burnrate); with the bad-event ratio the
fault caused, slo.alerting.burnrate.detection_time_s gives when both windows cross the
threshold. Any other alert (e.g. PortfolioAppDown) fires after its `for:` once its condition
holds.

A fresh Prometheus matters: a window of 24m over a TSDB that is 3 minutes old holds 3 minutes
of data, and a ratio of two rates is the ratio over the data there is, so long windows behave
like short ones until they fill up. `history_s` (how long Prometheus had data before the
fault) makes the theory account for that; without it, the windows are assumed full.

Sampling adds delay on top: the failing requests show in the TSDB at the next scrape and the
rule sees them at its next evaluation. The theoretical detection time quoted in reports is the
conservative one an SRE would quote, crossing + `for` + one scrape + one evaluation interval;
`earliest_s`/`latest_s` bound what a real Prometheus can do (slo.alerting.burnrate.fire_bounds:
rate() extrapolation may fire a scrape early; a counter series born with the fault loses its first
increment, a scrape late).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from harness_common.durations import whole_seconds
from slo.alerting.burnrate import AlertWindow, Profile, alert_windows
from slo.alerting.rules import ALERT_NAME
from slo.live.alerts import Rule
from slo.spec.model import Spec


@dataclass(frozen=True)
class Theory:
    """Theoretical timings of one alert rule under one fault (seconds from the fault's start,
    resolution from its end)."""

    rule: str
    basis: str                   # "burn-rate" | "for"
    detect_s: float              # crossing (+ for): the maths alone
    theory_s: float              # detect_s + one scrape + one evaluation interval
    earliest_s: float
    latest_s: float
    resolve_s: float | None      # after the fault ends (maths + one scrape + one evaluation)
    explanation: str

    def as_dict(self) -> dict:
        """JSON-ready."""
        return asdict(self)


def burn_window(spec: Spec, profile: Profile, labels: dict[str, str]) -> AlertWindow | None:
    """The burn-rate row an ErrorBudgetBurn rule watches (from its slo/long/short labels)."""
    try:
        slo = spec.slo(labels["slo"])
        long_s, short_s = whole_seconds(labels["long"]), whole_seconds(labels["short"])
    except (KeyError, ValueError):
        return None
    for window in alert_windows(profile, slo.window_s):
        if window.long_s == long_s and window.short_s == short_s:
            return window
    return None


def crossing_s(length_s: float, threshold: float, ratio: float,
               history_s: float | None = None) -> float | None:
    """Seconds after a step to `ratio` bad events until a window of `length_s` shows more than
    `threshold`, when it held `history_s` seconds of clean data before the step (None: full).

    Full window: t = threshold * L / ratio. A window with h < L seconds of history holds h + t
    seconds of data, so it crosses at t = threshold * h / (ratio - threshold) while h + t < L.
    """
    if ratio <= threshold:
        return None
    full = threshold * length_s / ratio
    if history_s is None or history_s >= length_s:
        return full
    partial = threshold * max(0.0, history_s) / (ratio - threshold)
    return partial if history_s + partial < length_s else full


def detection_s(window: AlertWindow, budget: float, ratio: float, for_s: float = 0.0,
                history_s: float | None = None) -> float | None:
    """When a burn-rate row fires after a step to `ratio`: both windows crossed, then `for`.

    With full windows this equals slo.alerting.burnrate.detection_time_s.
    """
    threshold = window.threshold(budget)
    times = [crossing_s(w, threshold, ratio, history_s) for w in (window.long_s, window.short_s)]
    if None in times:
        return None
    return max(times) + for_s


def clearing_s(window: AlertWindow, budget: float, ratio: float, outage_s: float,
               history_s: float | None = None, step_s: float = 0.1) -> float:
    """Seconds after an outage (`ratio` for `outage_s`, then none) until the row stops firing:
    the first moment either window holds no more than the threshold (numerically)."""
    threshold = window.threshold(budget)
    history = float("inf") if history_s is None else max(0.0, history_s)

    def bad_share(length: float, after: float) -> float:
        data = min(length, history + outage_s + after)
        bad = min(outage_s, max(0.0, length - after))
        return ratio * bad / data if data > 0 else 0.0

    after = 0.0
    limit = max(window.long_s, window.short_s)
    while after < limit:
        if min(bad_share(window.long_s, after), bad_share(window.short_s, after)) <= threshold:
            return round(after, 3)
        after += step_s
    return float(limit)


def _is_burn_rule(rule: Rule, spec: Spec | None) -> bool:
    """An SLO's burn-rate alert: its spec's alert name (ErrorBudgetBurn unless renamed) and
    the row's labels."""
    labels = rule.label_dict
    if spec is None or "slo" not in labels or "long" not in labels:
        return False
    try:
        return rule.name == spec.slo(labels["slo"]).alerting.name
    except KeyError:
        return rule.name == ALERT_NAME


def rule_theory(rule: Rule, spec: Spec | None, profile: Profile | None, bad_ratio: float | None,
                outage_s: float, scrape_s: float, eval_s: float,
                history_s: float | None = None) -> Theory | None:
    """The theory for `rule` under a fault of `outage_s` seconds causing `bad_ratio`, with
    `history_s` seconds of data in Prometheus before the fault (None: windows full).

    None when it cannot be computed (a burn-rate rule without a measured ratio, or one the
    burn never makes fire).
    """
    delay = scrape_s + eval_s
    labels = rule.label_dict
    if _is_burn_rule(rule, spec) and profile is not None:
        window = burn_window(spec, profile, labels)
        if window is None or bad_ratio is None:
            return None
        budget = spec.slo(labels["slo"]).error_budget
        detect = detection_s(window, budget, bad_ratio, rule.for_s, history_s)
        if detect is None:
            return None
        resolve = clearing_s(window, budget, bad_ratio, outage_s, history_s) + delay
        threshold = window.threshold(budget)
        young = (history_s is not None and history_s < window.long_s)
        text = (f"{window.factor:g}x burn over {labels['long']}/{labels['short']}: a bad ratio "
                f"of {bad_ratio:.1%} crosses {threshold:.2%} after {detect - rule.for_s:.1f}s"
                + (f" (Prometheus held only {history_s:.0f}s of data before the fault)"
                   if young else "")
                + (f" + for {rule.for_s:g}s" if rule.for_s else "")
                + f", + scrape {scrape_s:g}s + evaluation {eval_s:g}s")
        # Bounds as in slo.alerting.burnrate.fire_bounds: rate() extrapolation may fire a scrape
        # early; a series born with the fault loses its first increment, a scrape late.
        return Theory(rule.name, "burn-rate", round(detect, 3), round(detect + delay, 3),
                      round(max(0.0, detect - scrape_s), 3),
                      round(detect + 2 * scrape_s + eval_s, 3), round(resolve, 3), text)
    text = (f"condition true at the first failed scrape (<= {scrape_s:g}s), then for "
            f"{rule.for_s:g}s, + evaluation {eval_s:g}s")
    return Theory(rule.name, "for", rule.for_s, rule.for_s + delay, rule.for_s,
                  rule.for_s + delay, delay, text)


def fastest(theories: list[Theory]) -> Theory | None:
    """The rule expected to fire first (several rows of one SLO may match an expectation)."""
    theories = [t for t in theories if t is not None]
    return min(theories, key=lambda t: t.theory_s) if theories else None


def ratio(measured_s: float | None, theory: Theory | None) -> float | None:
    """measured / theoretical detection time (None when either is unknown)."""
    if measured_s is None or theory is None or theory.theory_s <= 0:
        return None
    return round(measured_s / theory.theory_s, 3)
