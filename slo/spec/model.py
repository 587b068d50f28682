"""The internal, typed model of a spec: frozen objects the core trusts (validated by slo.spec).

Every SLO is one SLI (what is measured) and one or two Objectives (bounds on the SLI's value):

    Quantile     histogram_quantile(q) of a latency histogram      "p(95) <= 300ms"
    EventRatio   events / total over a window (good or bad events)  ">= 95% under 300ms",
                                                          "ratio <= 1%", "availability >= 99%"
    Throughput   total events per second                            "rate >= 1/s"

Events are counts of counters (Events: signed selectors, so `total - good` and Sloth's
`count - bucket{le="0.4"}` are events too), whatever format and query syntax a spec used.

Values are in base units: seconds, ratios in [0, 1], events per second. A ratio SLO (and a
percentile, through its threshold) has an error budget: the fraction of bad events allowed,
which the burn-rate alerts spend.
"""

import operator
from dataclasses import dataclass, field
from typing import Literal

from slo.spec.selectors import Matcher, Selector
from slo.units import format_number, le_label_variants

Kind = Literal["latency_percentile", "latency_ratio", "error_ratio", "availability",
               "request_rate", "ratio"]
Op = Literal["<", "<=", ">", ">="]
Status = Literal["pass", "warn", "fail"]

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Objective:
    """A bound on the SLI value: `value op target`, with an optional warning line.

    The target is the fail line. The warning line lies on the safe side of it (a lower latency,
    a higher availability): between the two the SLO is met with a warning, so a warning never
    hides a violation (Keptn's pass/warning/fail, with the objective as the hard limit).
    """

    op: Op
    target: float
    warning: float | None = None

    @property
    def upper(self) -> bool:
        """True when the objective caps the value (<, <=)."""
        return self.op in ("<", "<=")

    def status(self, value: float) -> Status:
        """pass, warn or fail for a measured value (the caller handles NaN as no data)."""
        check = _OPS[self.op]
        if not check(value, self.target):
            return "fail"
        if self.warning is not None and not check(value, self.warning):
            return "warn"
        return "pass"

    def __str__(self) -> str:
        return f"{self.op} {self.target:g}"


Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Term:
    """One counter of an event count: `sign` (+1/-1) x the increase of `selector`'s series."""

    sign: int
    selector: Selector


@dataclass(frozen=True)
class Events:
    """A count of events over a window: the signed sum of its terms' counter increases.

    `sum(rate(a[w])) - sum(rate(b[w]))` is Events((Term(1, a), Term(-1, b))). `origin` is the
    spec field the events come from (what to fix when a selector sees nothing).
    """

    terms: tuple[Term, ...]
    origin: str = field(default="", compare=False)

    @classmethod
    def of(cls, selector: Selector, origin: str = "") -> "Events":
        """The events of one counter."""
        return cls((Term(1, selector),), origin)

    @property
    def selectors(self) -> tuple[Selector, ...]:
        """Every selector, in order."""
        return tuple(t.selector for t in self.terms)

    def minus(self, other: "Events") -> "Events":
        """These events without `other`'s (total - good = bad)."""
        return Events(self.terms + tuple(Term(-t.sign, t.selector) for t in other.terms),
                      self.origin or other.origin)

    def __str__(self) -> str:
        parts = []
        for i, term in enumerate(self.terms):
            sign = "-" if term.sign < 0 else ("+" if i else "")
            parts.append(f"{sign} {term.selector}".strip() if i else f"{sign}{term.selector}")
        return " ".join(parts)


@dataclass(frozen=True)
class EventRatio:
    """value = events / total over a window; `good` says which events count."""

    events: Events
    total: Events
    good: bool


@dataclass(frozen=True)
class Quantile:
    """The q-quantile of a histogram; `buckets` selects its _bucket series, `count` its _count.

    `scale_s` is the histogram's unit in seconds (1 for seconds, 0.001 for milliseconds): the
    `le` labels and histogram_quantile() are in that unit, the model in seconds.
    """

    buckets: Selector
    count: Selector
    quantile: float
    scale_s: float = 1.0
    origin: str = field(default="", compare=False)


@dataclass(frozen=True)
class Throughput:
    """Events per second of a counter."""

    total: Events


SLI = EventRatio | Quantile | Throughput


@dataclass(frozen=True)
class Alerting:
    """How the burn-rate alerts of an SLO are named, labelled and delayed.

    `labels`/`annotations` go on every alert of the SLO; the page_/ticket_ ones only on that
    severity's alerts (they win over the generated ones: Sloth's alerting settings). A
    severity can be disabled on its own; `enabled` False means no alert at all.
    """

    enabled: bool = True
    page_severity: str = "page"
    ticket_severity: str = "ticket"
    for_s: int = 0
    runbook_url: str | None = None
    dashboard_url: str | None = None
    name: str = "ErrorBudgetBurn"
    page_enabled: bool = True
    ticket_enabled: bool = True
    labels: Labels = ()
    annotations: Labels = ()
    page_labels: Labels = ()
    page_annotations: Labels = ()
    ticket_labels: Labels = ()
    ticket_annotations: Labels = ()
    page_for_s: int | None = None
    ticket_for_s: int | None = None

    def severity_enabled(self, severity: str) -> bool:
        """True when alerts of `severity` (page or ticket) are generated."""
        return self.enabled and (self.page_enabled if severity == "page" else self.ticket_enabled)

    def severity_for_s(self, severity: str) -> int:
        """The `for` of that severity's alerts (its own, else the SLO's)."""
        own = self.page_for_s if severity == "page" else self.ticket_for_s
        return self.for_s if own is None else own


@dataclass(frozen=True)
class Source:
    """A selector the SLO reads, what it is for, and the spec field to fix when it sees nothing.

    role: "total" (the SLI's denominator or rate), "events" (its numerator), "buckets" or
    "count" (a histogram's series).
    """

    selector: Selector
    role: str
    origin: str


@dataclass(frozen=True)
class SLO:
    """One service level objective, validated."""

    name: str
    kind: Kind
    sli: SLI
    objectives: tuple[Objective, ...]
    description: str = ""
    key: bool = False
    window_s: int = 30 * 86400
    alerting: Alerting = field(default_factory=Alerting)
    # The latency threshold (seconds) of a latency SLO: the histogram bucket that must exist.
    threshold_s: float | None = None
    # Extra labels on every rule of the SLO (Sloth's `labels`).
    labels: Labels = ()
    # label name -> how to fix a selector naming a label the metric lacks
    # ("set prometheus.status_label"); other labels: "fix <the selector's origin>".
    label_hints: Labels = ()
    # Histogram unit in seconds of a latency ratio SLO's buckets (1: seconds, 0.001: ms).
    bucket_scale_s: float = 1.0
    # Labels the spec says hold the status code (a native spec's prometheus.status_label),
    # besides the usual names (slo.spec.presets.STATUS_LABEL_NAMES).
    status_labels: tuple[str, ...] = ()
    # The service of this SLO when a file holds several (Sloth's multi-document files);
    # empty: the spec's service (Spec.service_of).
    service: str = ""
    # What the spec knows about the SLO's scope, said with every verdict ("latency is judged
    # over every request, errors included" when the histogram has no status label).
    notes: tuple[str, ...] = ()

    @property
    def unit(self) -> str:
        """Unit of the SLI value: "s", "ratio" or "1/s"."""
        if isinstance(self.sli, Quantile):
            return "s"
        if isinstance(self.sli, Throughput):
            return "1/s"
        return "ratio"

    @property
    def objective_text(self) -> str:
        """The objective as a person reads it: "p(95) <= 300ms", "availability >= 99%"."""
        parts = []
        for objective in self.objectives:
            if self.kind == "latency_percentile":
                pct = format_number(self.sli.quantile * 100)
                parts.append(f"p({pct}) {objective.op} {_ms(objective.target)}")
            elif self.kind == "latency_ratio":
                within = _ms(self.threshold_s)
                parts.append(f"{_pct(objective.target)} of requests within {within}"
                             if objective.op == ">=" else
                             f"share within {within} {objective.op} {_pct(objective.target)}")
            elif self.kind == "request_rate":
                parts.append(f"rate {objective.op} {format_number(objective.target)}/s")
            else:
                name = {"error_ratio": "error ratio", "availability": "availability",
                        "ratio": "good ratio"}[self.kind]
                parts.append(f"{name} {objective.op} {_pct(objective.target)}")
        return " and ".join(parts)

    @property
    def error_budget(self) -> float | None:
        """Fraction of events allowed to be bad, or None when the SLO has no budget (rate)."""
        if isinstance(self.sli, Throughput):
            return None
        if isinstance(self.sli, Quantile):
            return round(1.0 - self.sli.quantile, 12)
        objective = self.objectives[0]
        return objective.target if not self.sli.good else round(1.0 - objective.target, 12)

    @property
    def budget_ratio(self) -> EventRatio | None:
        """The event ratio whose bad share spends the budget (a percentile: via its threshold).

        "p95 <= 300 ms" holds exactly when at least 95% of requests take <= 300 ms, so the
        percentile's alerts watch the fraction under the threshold bucket.
        """
        if isinstance(self.sli, EventRatio):
            return self.sli
        if isinstance(self.sli, Quantile) and self.threshold_s is not None:
            q = self.sli
            return EventRatio(
                events=Events.of(under_threshold(q.buckets, self.threshold_s, q.scale_s),
                                 q.origin),
                total=Events.of(q.count, q.origin), good=True)
        return None

    @property
    def sources(self) -> tuple[Source, ...]:
        """Every selector the SLO reads, with its role and origin (for the checks that prove
        each one sees data)."""
        sli = self.sli
        if isinstance(sli, Quantile):
            return (Source(sli.buckets, "buckets", sli.origin),
                    Source(sli.count, "count", sli.origin))
        if isinstance(sli, Throughput):
            return tuple(Source(s, "total", sli.total.origin) for s in sli.total.selectors)
        return (tuple(Source(s, "events", sli.events.origin) for s in sli.events.selectors)
                + tuple(Source(s, "total", sli.total.origin) for s in sli.total.selectors))

    @property
    def histogram_buckets(self) -> tuple[Selector, float] | None:
        """The _bucket selector (without `le`) of a latency SLO and its unit in seconds."""
        if isinstance(self.sli, Quantile):
            return self.sli.buckets, self.sli.scale_s
        if self.threshold_s is None or not isinstance(self.sli, EventRatio):
            return None
        for selector in self.sli.events.selectors:
            if selector.metric.endswith("_bucket"):
                return (Selector(selector.metric,
                                 tuple(m for m in selector.matchers if m.label != "le")),
                        self.bucket_scale_s)
        return None

    def hint(self, label: str, origin: str) -> str:
        """How to fix a selector of `origin` that names `label`, which its metric lacks."""
        for name, text in self.label_hints:
            if name == label:
                return text
        return f"fix {origin}" if origin else "fix the spec's selectors"


def _ms(seconds: float) -> str:
    return f"{format_number(seconds * 1000)}ms"


def _pct(ratio: float) -> str:
    return f"{format_number(round(ratio * 100, 10))}%"


def under_threshold(buckets: Selector, threshold_s: float, scale_s: float = 1.0) -> Selector:
    """The bucket series counting requests that took <= threshold_s seconds (`le` in a
    histogram whose unit is `scale_s` seconds)."""
    return buckets.where(le_matcher(bucket_bound(threshold_s, scale_s)))


def le_matcher(bound: float, written: str | None = None) -> Matcher:
    """The `le` matcher of one bucket boundary in every spelling clients and Prometheus 3 give
    it (slo.units.le_label_variants), and as `written` in a query: le="0.3", le=~"1|1\\.0",
    le=~"1000000|...|1e\\+06"."""
    variants = tuple(dict.fromkeys((*le_label_variants(bound), *filter(None, [written]))))
    if len(variants) == 1:
        return Matcher("le", "=", variants[0])
    return Matcher("le", "=~", "|".join(v.replace(".", "\\.").replace("+", "\\+")
                                        for v in variants))


def bucket_bound(seconds: float, scale_s: float) -> float:
    """A duration in the histogram's unit, without float noise (0.3 s in ms -> 300.0)."""
    return round(seconds / scale_s, 9)


@dataclass(frozen=True)
class Spec:
    """A validated spec: the service and its SLOs, in file order. `source` names the file.

    A file of several services (Sloth's multi-document files) is one spec: each SLO carries
    its service and `service` names them all, joined with '+'."""

    source: str
    service: str
    slos: tuple[SLO, ...]
    description: str = ""

    def service_of(self, slo: SLO) -> str:
        """The service an SLO belongs to: its own (multi-service files), else the spec's."""
        return slo.service or self.service

    @property
    def services(self) -> tuple[str, ...]:
        """Every service of the spec, in file order."""
        return tuple(dict.fromkeys(self.service_of(s) for s in self.slos)) or (self.service,)

    def slo(self, name: str) -> SLO:
        """The SLO called `name` (KeyError naming the known ones otherwise)."""
        for slo in self.slos:
            if slo.name == name:
                return slo
        raise KeyError(f"no SLO named {name!r}; known: {[s.name for s in self.slos]}")

    @property
    def latency_thresholds_s(self) -> tuple[float, ...]:
        """Every latency threshold of the spec, sorted (each must be a histogram bucket)."""
        return tuple(sorted({s.threshold_s for s in self.slos if s.threshold_s is not None}))
