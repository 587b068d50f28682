"""Which instrumentation a service's series come from: every preset scored, best first.

    recognise(inventory, presets=PRESETS, only=None) -> Recognition

Generic over slo.spec.presets.PRESETS, so a preset added there is recognised with no change
here. A preset matches when the series hold its requests metric (exactly, or with/without
`_total`, which counters gain or lose between client libraries and the text/OpenMetrics
formats), on series that satisfy its base selector and carry its status label with values it
knows. The score then adds what makes the spec better: the route label, the duration histogram
(its `_bucket` series with `le`) and the route label on the histogram. Two presets with the
best score are ambiguous: the command names them and asks for --preset.

HTTP/gRPC-looking metric families that the chosen preset does not use are listed as "could
not recognise" (so a user sees the instrumentation the spec leaves out).
"""

import re
from dataclasses import dataclass

from slo.init.inventory import Inventory, Series
from slo.spec.presets import PRESETS, Preset
from slo.spec.selectors import Matcher, parse_matchers

HTTP_LIKE = re.compile(r"http|grpc|request|_rq_|_rq$|response|latency|duration|handled|route",
                       re.I)
NOT_SERVICE = re.compile(r"^(scrape_|up$|process_|go_|python_|promhttp_metric_handler_|"
                         r"prometheus_|net_conntrack_)")
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created", "_gcount", "_gsum", "_info")
# score weights: what each finding adds to a match
W_EXACT, W_VARIANT, W_STATUS, W_ROUTE, W_HISTOGRAM, W_HISTOGRAM_ROUTE = 4, 3, 2, 1, 3, 1


@dataclass(frozen=True)
class Match:
    """One preset that fits the series, and what was found for it."""

    preset: str
    score: int
    requests_metric: str            # the name seen (may differ from the preset's by _total)
    status_values: tuple[str, ...]  # values of the status label on the requests series
    routes: tuple[str, ...]         # values of the route label ((): label absent)
    route_on_requests: bool
    histogram: bool                 # the duration histogram's _bucket series exist
    route_on_histogram: bool
    notes: tuple[str, ...]          # what differs from the preset


@dataclass(frozen=True)
class Miss:
    """A preset whose requests metric is there but that does not fit, and why."""

    preset: str
    reason: str


@dataclass(frozen=True)
class Recognition:
    """Matches best first, near misses, and the HTTP-like families nothing explains."""

    matches: tuple[Match, ...]
    misses: tuple[Miss, ...]
    families: tuple[str, ...]       # every HTTP/gRPC-looking family of the inventory

    @property
    def best(self) -> tuple[Match, ...]:
        """The matches sharing the top score (more than one: ambiguous)."""
        if not self.matches:
            return ()
        top = self.matches[0].score
        return tuple(m for m in self.matches if m.score == top)

    def unrecognised(self, used: Match | None) -> tuple[str, ...]:
        """HTTP-like families the match `used` does not read."""
        if used is None:
            return self.families
        preset = PRESETS.get(used.preset)
        taken = {family_of(used.requests_metric)}
        if preset is not None:
            taken.add(family_of(preset.duration_metric))
        return tuple(f for f in self.families if f not in taken)


def family_of(name: str) -> str:
    """A sample name's family: without _bucket/_count/_sum/_total/_created."""
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def matches(matcher: Matcher, labels: dict[str, str]) -> bool:
    """Whether one PromQL label matcher selects a series with `labels` (absent label = "")."""
    value = labels.get(matcher.label, "")
    if matcher.op == "=":
        return value == matcher.value
    if matcher.op == "!=":
        return value != matcher.value
    found = re.fullmatch(matcher.value, value) is not None
    return found if matcher.op == "=~" else not found


def _selected(series: tuple[Series, ...], base: tuple[Matcher, ...]) -> list[dict[str, str]]:
    out = []
    for s in series:
        labels = s.label_dict
        if all(matches(m, labels) for m in base):
            out.append(labels)
    return out


def _variants(name: str) -> tuple[str, ...]:
    other = name.removesuffix("_total") if name.endswith("_total") else name + "_total"
    return (name, other)


def fit(preset: Preset, inventory: Inventory) -> Match | Miss | None:
    """How `preset` fits the series: a Match, a Miss (its metric is there, but ...), or None
    (its requests metric is absent)."""
    base = parse_matchers(preset.base_selector)
    names = inventory.names()
    seen = [n for n in _variants(preset.requests_metric) if n in names]
    if not seen:
        return None
    metric = seen[0]
    notes = []
    if metric != preset.requests_metric:
        notes.append(f"requests metric is {metric}, not {preset.requests_metric}")
    requests = _selected(inventory.named(metric), base)
    if not requests:
        return Miss(preset.name, f"no {metric} series match its selector {preset.base_selector}")
    with_status = [labels for labels in requests if preset.status_label in labels]
    if not with_status:
        found = sorted({k for labels in requests for k in labels})
        return Miss(preset.name, f"{metric} has no label {preset.status_label!r} (labels: "
                                 f"{', '.join(found) or 'none'})")
    values = tuple(sorted({labels[preset.status_label] for labels in with_status}))
    if not any(v in preset.status_values for v in values):
        return Miss(preset.name, f"{metric}{{{preset.status_label}}} takes "
                                 f"{', '.join(values[:8])}, none of {preset.status_domain}")
    score = (W_EXACT if metric == preset.requests_metric else W_VARIANT) + W_STATUS
    route = preset.route_label  # "" for a preset without routes (a mesh's metrics)
    route_on_requests = bool(route) and all(route in labels for labels in requests)
    routes: tuple[str, ...] = ()
    if route_on_requests:
        score += W_ROUTE
        routes = tuple(sorted({labels[route] for labels in requests}))
    elif route:
        notes.append(f"{metric} has no label {route!r}: no per-route selectors")
    buckets = [labels for labels in _selected(inventory.named(preset.duration_metric + "_bucket"),
                                              base) if "le" in labels]
    route_on_histogram = bool(buckets and route) and all(route in b for b in buckets)
    if buckets:
        score += W_HISTOGRAM + (W_HISTOGRAM_ROUTE if route_on_histogram else 0)
    return Match(preset.name, score, metric, values, routes, route_on_requests, bool(buckets),
                 route_on_histogram, tuple(notes))


def recognise(inventory: Inventory, presets: dict[str, Preset] = PRESETS,
              only: str | None = None) -> Recognition:
    """Score every preset (or only the one named) against the inventory."""
    found: list[Match] = []
    misses: list[Miss] = []
    for name, preset in presets.items():
        if only is not None and name != only:
            continue
        result = fit(preset, inventory)
        if isinstance(result, Match):
            found.append(result)
        elif isinstance(result, Miss):
            misses.append(result)
    found.sort(key=lambda m: -m.score)
    families = sorted({family_of(n) for n in inventory.names()
                       if HTTP_LIKE.search(n) and not NOT_SERVICE.match(n)})
    return Recognition(tuple(found), tuple(misses), tuple(families))
