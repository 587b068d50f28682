"""The starting spec for a recognised instrumentation: availability, error ratio, p95.

    starter(inventory, match, service, job) -> Starter(text, latency, notes)

The latency threshold is a bucket bound the histogram has (so the share under it is exact):
the upper bound of the bucket holding the observed p95 when the histogram has at least
MIN_OBSERVATIONS observations (counted since the service started), else the middle bound. Probe
and scrape routes (/metrics, /health, ...) found on the route label are kept out of every SLO
and out of the observed p95. Without the histogram there is no latency SLO, and a note says so.
"""

import math
import re
from dataclasses import dataclass

from slo.init.inventory import Inventory
from slo.init.recognise import Match, matches
from slo.judge.histogram import Buckets, quantile_bounds
from slo.spec.presets import PRESETS
from slo.spec.selectors import parse_matchers

MIN_OBSERVATIONS = 50
AVAILABILITY = "99.5%"
ERROR_RATIO = "1%"
NOT_USER_TRAFFIC = re.compile(r"/metrics|/-/.*|/health\w*|/live\w*|/ready\w*|/ping|/status|"
                              r"/admin(/.*)?|<unmatched>|/favicon\.ico")
MAX_ROUTES_SHOWN = 30
RAW_PATH = re.compile(r".*/[0-9]+(/.*)?")  # /items/42: a path, not a route template


@dataclass(frozen=True)
class Latency:
    """The p95 objective chosen and why."""

    threshold_s: float
    bounds: tuple[float, ...]   # the histogram's finite bounds, in its own unit
    unit: str
    reason: str


@dataclass(frozen=True)
class Starter:
    text: str
    latency: Latency | None
    excluded_routes: tuple[str, ...]
    notes: tuple[str, ...]
    observed: str  # the error ratio the counters hold since the service started


def observed_errors(inventory: Inventory, match: Match, excluded: tuple[str, ...]
                    ) -> tuple[float, float]:
    """(errors, requests) the requests counter holds (since the service started), user
    traffic only; errors are what the preset's error matcher selects."""
    preset = PRESETS[match.preset]
    base = parse_matchers(preset.base_selector)
    try:
        error = re.compile(preset.error_status)
    except re.error:
        return 0.0, 0.0  # an RE2 pattern Python cannot read: say nothing rather than guess
    errors = total = 0.0
    for s in inventory.named(match.requests_metric):
        labels = s.label_dict
        if not all(matches(m, labels) for m in base) or preset.status_label not in labels:
            continue
        if preset.route_label and labels.get(preset.route_label) in excluded:
            continue
        total += s.value
        if error.fullmatch(labels[preset.status_label]):
            errors += s.value
    return errors, total


def _observed_text(errors: float, total: float) -> str:
    if total <= 0:
        return "no requests counted yet"
    return (f"{errors:.0f} errors in {total:.0f} requests ({100 * errors / total:.3g}%) since the "
            "service started")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _regex_literal(value: str) -> str:
    """A route value as an RE2 regex matching exactly it."""
    return re.sub(r"([\\.+*?()\[\]{}|^$])", r"\\\1", value)


def _ms(seconds: float) -> str:
    """Milliseconds as the compact objective writes them: digits only, exact to 1e-12 s."""
    text = f"{seconds * 1000:.9f}".rstrip("0").rstrip(".")
    return f"{text}ms"


def _number(value: float) -> str:
    """A bound as its `le` was written (to 12 significant digits)."""
    return f"{value:.12g}"


def choose_latency(inventory: Inventory, match: Match, excluded: tuple[str, ...]) -> Latency | None:
    """The p95 threshold: a bound of the histogram, from its counts when they suffice."""
    preset = PRESETS[match.preset]
    base = parse_matchers(preset.base_selector)
    samples = []
    for s in inventory.named(preset.duration_metric + "_bucket"):
        labels = s.label_dict
        if "le" not in labels or not all(matches(m, labels) for m in base):
            continue
        if preset.route_label and labels.get(preset.route_label) in excluded:
            continue
        samples.append((labels, s.value))
    own = Buckets.from_samples(samples)
    bounds = own.uppers()
    if not bounds:
        return None
    scale = preset.scale_s
    unit = preset.duration_unit
    total = own.total
    where = quantile_bounds(own, 0.95) if total >= MIN_OBSERVATIONS else None
    if where is not None and not math.isinf(where[1]):
        low, high = where
        return Latency(high * scale, bounds, unit,
                       f"the observed p95 lies in the {_number(low)}-{_number(high)} {unit} "
                       f"bucket ({total:.0f} observations since the service started): the "
                       "threshold is that bucket's upper bound")
    if where is not None:
        return Latency(bounds[-1] * scale, bounds, unit,
                       f"the observed p95 is above the top bucket ({_number(bounds[-1])} "
                       f"{unit}; {total:.0f} observations): the threshold is the top bound, so "
                       "the SLO is violated now; add larger buckets or raise it")
    middle = bounds[len(bounds) // 2]
    return Latency(middle * scale, bounds, unit,
                   f"only {total:.0f} observations (fewer than {MIN_OBSERVATIONS}) to place the "
                   f"p95: the threshold is a middle bound, {_number(middle)} {unit}; set it from "
                   "what users need")


def starter(inventory: Inventory, match: Match, service: str, job: str) -> Starter:
    """The spec text for `match`, with comments saying where each choice came from."""
    preset = PRESETS[match.preset]
    excluded = tuple(r for r in match.routes if NOT_USER_TRAFFIC.fullmatch(r))
    notes = list(match.notes)
    errors, total = observed_errors(inventory, match, excluded)
    observed = _observed_text(errors, total)
    if total > 0 and errors / total > float(ERROR_RATIO.rstrip("%")) / 100:
        notes.append(f"the counters already hold {observed}: above the {ERROR_RATIO} objective, "
                     "so the ratio SLOs may be violated from the first check")
    raw = [r for r in match.routes if RAW_PATH.fullmatch(r)]
    if raw:
        notes.append(f"the route label {preset.route_label!r} holds raw paths ({raw[0]}, "
                     f"{len(raw)} such values): every new id is a new series; make the "
                     "instrumentation label the route template (prometheus-flask-exporter: "
                     "group_by='url_rule') before relying on per-route SLOs")
    latency = choose_latency(inventory, match, excluded) if match.histogram else None
    if latency is None:
        notes.append(f"no histogram {preset.duration_metric}_bucket with bounds: no latency "
                     "SLO written; instrument request durations as a histogram to get one")
    selector = ""
    per_slo_selector = ""
    if excluded:
        pattern = "|".join(_regex_literal(r) for r in excluded)
        matcher = f'{preset.route_label}!~"{pattern}"'
        if latency is None or match.route_on_histogram:
            selector = matcher
        else:
            per_slo_selector = matcher
            notes.append(f"the histogram has no label {preset.route_label!r}: probe routes "
                         "are excluded from the ratio SLOs only")
    lines = [
        f"# Written by `slo init` from {inventory.source}.",
        f"# Recognised: {preset.name} ({match.requests_metric}{{{preset.status_label}"
        + (f",{preset.route_label}" if match.route_on_requests else "") + "}"
        + (f", {preset.duration_metric} histogram" if match.histogram else "") + ").",
        f"# Status values seen ({preset.status_label}): {', '.join(match.status_values)}.",
        f"# Observed: {observed}.",
    ]
    if match.routes:
        shown = ", ".join(match.routes[:MAX_ROUTES_SHOWN])
        more = len(match.routes) - MAX_ROUTES_SHOWN
        lines.append(f"# Routes seen ({preset.route_label}): {shown}"
                     + (f" and {more} more" if more > 0 else "") + ".")
    if excluded:
        lines.append(f"# Not user traffic, kept out: {', '.join(excluded)}.")
    if latency is not None:
        lines.append(f"# Buckets of {preset.duration_metric} ({latency.unit}): "
                     f"{', '.join(_number(b) for b in latency.bounds)}, +Inf.")
        lines.append(f"# p95 threshold: {latency.reason}.")
    for note in notes:
        lines.append(f"# Note: {note}.")
    lines += [
        "# These are starting objectives: set them from what users need, then run",
        "# `slo rules --spec <this file>` and `slo check --spec <this file>`.",
        "version: slo-harness/v1",
        f"service: {_quote(service)}",
        "prometheus:",
        f"  preset: {preset.name}",
        f"  job: {_quote(job)}",
    ]
    if match.requests_metric != preset.requests_metric:
        lines.append(f"  requests_metric: {match.requests_metric}")
    if selector:
        lines.append(f"  selector: {_quote(selector)}")
    lines += ["window: 30d", "slos:"]
    extra = [f"    selector: {_quote(per_slo_selector)}"] if per_slo_selector else []
    lines += [
        "  - name: availability",
        f"    description: At least {AVAILABILITY} of requests succeed (not an error status).",
        "    key: true",
        f"    objective: availability >= {AVAILABILITY}",
        *extra,
        "  - name: error-ratio",
        f"    description: At most {ERROR_RATIO} of requests fail (error status "
        f"{preset.error_status}).",
        f"    objective: ratio <= {ERROR_RATIO}",
        *extra,
    ]
    if latency is not None:
        ms = _ms(latency.threshold_s)
        lines += [
            "  - name: latency-p95",
            f"    description: 95% of requests complete within {ms[:-2]} ms.",
            "    key: true",
            f"    objective: p(95) <= {ms}",
        ]
    return Starter("\n".join(lines) + "\n", latency, excluded, tuple(notes), observed)
