"""The internal, typed model of a spec: frozen objects the core trusts (validated by slo.spec).

Every SLO is one SLI (what is measured) and one or two Objectives (bounds on the SLI's value):

    Quantile     histogram_quantile(q) of a latency histogram      "p(95) <= 300ms"
    EventRatio   events / total over a window (good or bad events)  ">= 95% under 300ms",
                                                          "ratio <= 1%", "availability >= 99%"
    Throughput   total events per second                            "rate >= 1/s"

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


@dataclass(frozen=True)
class EventRatio:
    """value = sum(increase(events)) / sum(increase(total)); `good` says which events count."""

    events: Selector
    total: Selector
    good: bool


@dataclass(frozen=True)
class Quantile:
    """The q-quantile of a histogram; `buckets` selects its _bucket series, `count` its _count."""

    buckets: Selector
    count: Selector
    quantile: float


@dataclass(frozen=True)
class Throughput:
    """Events per second of a counter."""

    total: Selector


SLI = EventRatio | Quantile | Throughput


@dataclass(frozen=True)
class Alerting:
    """How the burn-rate alerts of an SLO are labelled and delayed."""

    enabled: bool = True
    page_severity: str = "page"
    ticket_severity: str = "ticket"
    for_s: int = 0
    runbook_url: str | None = None
    dashboard_url: str | None = None


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
            return EventRatio(events=under_threshold(self.sli.buckets, self.threshold_s),
                              total=self.sli.count, good=True)
        return None


def _ms(seconds: float) -> str:
    return f"{format_number(seconds * 1000)}ms"


def _pct(ratio: float) -> str:
    return f"{format_number(round(ratio * 100, 10))}%"


def under_threshold(buckets: Selector, threshold_s: float) -> Selector:
    """The bucket series counting requests that took <= threshold_s seconds."""
    variants = le_label_variants(threshold_s)
    if len(variants) == 1:
        return buckets.where(Matcher("le", "=", variants[0]))
    return buckets.where(Matcher("le", "=~", "|".join(v.replace(".", "\\.") for v in variants)))


@dataclass(frozen=True)
class Spec:
    """A validated spec: the service and its SLOs, in file order. `source` names the file."""

    source: str
    service: str
    slos: tuple[SLO, ...]
    description: str = ""

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
