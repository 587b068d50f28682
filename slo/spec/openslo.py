"""Convert OpenSLO v1 `kind: SLO` documents into the same model as slo-harness/v1 specs.

Convertible (anything else is rejected, naming the field that cannot be converted):

    apiVersion: openslo/v1
    kind: SLO
    metadata: {name: availability}
    spec:
      service: portfolio-app
      budgetingMethod: Occurrences
      timeWindow: [{duration: 30d, isRolling: true}]
      indicator:
        metadata: {name: good-requests}
        spec:
          ratioMetric:                 # good (or bad) / total, from Prometheus counters
            counter: true
            good:
              metricSource:
                type: Prometheus
                spec: {query: 'app_requests_total{job="portfolio-app",status!~"5.."}'}
            total:
              metricSource:
                type: Prometheus
                spec: {query: 'app_requests_total{job="portfolio-app"}'}
      objectives:
        - target: 0.99                 # or targetPercent: 99

A query is a plain counter selector, optionally wrapped as sum(rate(<selector>[5m])). The older
metric source form `{source: prometheus, queryType: promql, query: ...}` is accepted too. A
`thresholdMetric` converts when its query is
`histogram_quantile(q, sum by (le) (rate(<metric>_bucket{...}[5m])))` and its objective is
`op: lte|lt, value: <seconds>` (with target absent or equal to q): a latency percentile SLO.
Each objective becomes one SLO (named <metadata.name>-<n> when there are several). `kind:
Service` documents are accepted and ignored.
"""

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness_common import validation
from harness_common.durations import format_duration, whole_seconds
from slo.errors import Problem, SpecError
from slo.spec import model
from slo.spec.limits import MAX_WINDOW_S, MIN_WINDOW_S, NAME, SERVICE
from slo.spec.model import EventRatio, Objective, Quantile
from slo.spec.selectors import Selector, parse_series_selector

API_VERSION = "openslo/v1"
_WRAPPED = re.compile(
    r"\s*(?:sum\s*\(\s*)?(?:rate|increase)\s*\(\s*(?P<sel>[^\[\]]+?)\s*\[\s*[0-9a-z]+\s*\]\s*\)\s*(?:\)\s*)?"
)
_QUANTILE = re.compile(
    r"\s*histogram_quantile\s*\(\s*(?P<q>[0-9]*\.?[0-9]+)\s*,\s*sum\s*(?:by\s*\(\s*le\s*\)\s*)?"
    r"\(\s*(?:rate|increase)\s*\(\s*(?P<sel>[^\[\]]+?)\s*\[\s*[0-9a-z]+\s*\]\s*\)\s*\)"
    r"\s*(?:by\s*\(\s*le\s*\)\s*)?\)\s*"
)


class _Open(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Metadata(_Open):
    name: str = Field(pattern=NAME)
    displayName: str | None = Field(None, max_length=500)  # noqa: N815 - OpenSLO's spelling
    labels: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None


class PrometheusSpec(_Open):
    query: str = Field(min_length=1, max_length=2000)


class MetricSourceV1(_Open):
    metricSourceRef: str | None = None  # noqa: N815
    type: str
    spec: dict[str, Any]


class MetricV1(_Open):
    """A metric: `metricSource: {type, spec: {query}}`, or `source/queryType/query` (v1alpha)."""

    metricSource: MetricSourceV1 | None = None  # noqa: N815
    source: str | None = None
    queryType: str | None = None  # noqa: N815
    query: str | None = Field(None, max_length=2000)


class RatioMetric(_Open):
    counter: bool = True
    good: MetricV1 | None = None
    bad: MetricV1 | None = None
    total: MetricV1
    rawType: str | None = None  # noqa: N815


class ThresholdMetric(_Open):
    metricSource: MetricSourceV1 | None = None  # noqa: N815
    source: str | None = None
    queryType: str | None = None  # noqa: N815
    query: str | None = Field(None, max_length=2000)


class IndicatorSpec(_Open):
    ratioMetric: RatioMetric | None = None  # noqa: N815
    thresholdMetric: ThresholdMetric | None = None  # noqa: N815


class Indicator(_Open):
    metadata: Metadata | None = None
    spec: IndicatorSpec


class TimeWindow(_Open):
    duration: str = Field(max_length=20)
    isRolling: bool = True  # noqa: N815
    calendar: dict[str, Any] | None = None


class ObjectiveV1(_Open):
    displayName: str | None = Field(None, max_length=500)  # noqa: N815
    op: Literal["lt", "lte", "gt", "gte"] | None = None
    value: float | None = Field(None, allow_inf_nan=False)
    target: float | None = Field(None, gt=0, lt=1, allow_inf_nan=False)
    targetPercent: float | None = Field(None, gt=0, lt=100, allow_inf_nan=False)  # noqa: N815
    timeSliceTarget: float | None = None  # noqa: N815
    timeSliceWindow: str | None = None  # noqa: N815
    indicator: dict[str, Any] | None = None
    indicatorRef: str | None = None  # noqa: N815
    compositeWeight: float | None = None  # noqa: N815


class SLOSpec(_Open):
    description: str = Field("", max_length=1000)
    service: str = Field(pattern=SERVICE)
    indicator: Indicator | None = None
    indicatorRef: str | None = None  # noqa: N815
    timeWindow: list[TimeWindow] = Field(min_length=1, max_length=1)  # noqa: N815
    budgetingMethod: str = "Occurrences"  # noqa: N815
    objectives: list[ObjectiveV1] = Field(min_length=1, max_length=100)
    alertPolicies: list[Any] | None = None  # noqa: N815


class OpenSLODoc(_Open):
    apiVersion: Literal["openslo/v1"]  # noqa: N815
    kind: Literal["SLO"]
    metadata: Metadata
    spec: SLOSpec


class _Reject(Exception):
    """A field that cannot be converted: raised inside the converter, reported as a Problem."""

    def __init__(self, loc: tuple, message: str):
        super().__init__(message)
        self.loc = loc
        self.message = message


def _query(metric: MetricV1 | ThresholdMetric, loc: tuple) -> str:
    """The PromQL text of a Prometheus metric source, or _Reject naming what differs."""
    if metric.metricSource is not None:
        src = metric.metricSource
        if src.type.lower() != "prometheus":
            raise _Reject(loc + ("metricSource", "type"),
                          f"only Prometheus sources can be converted (got {src.type!r})")
        query = src.spec.get("query")
        if not isinstance(query, str) or not query.strip():
            raise _Reject(loc + ("metricSource", "spec", "query"),
                          "required: the PromQL query of this metric")
        return query
    if metric.source is None or metric.query is None:
        raise _Reject(loc, "needs `metricSource: {type: Prometheus, spec: {query: ...}}`")
    if metric.source.lower() != "prometheus":
        raise _Reject(loc + ("source",),
                      f"only prometheus sources can be converted (got {metric.source!r})")
    if (metric.queryType or "promql").lower() != "promql":
        raise _Reject(loc + ("queryType",),
                      f"only promql queries can be converted (got {metric.queryType!r})")
    return metric.query


def _counter(query: str, loc: tuple) -> Selector:
    """A counter selector from `sel` or `sum(rate(sel[5m]))`; anything else is rejected."""
    wrapped = _WRAPPED.fullmatch(query)
    text = wrapped["sel"] if wrapped else query
    try:
        return parse_series_selector(text)
    except ValueError as err:
        raise _Reject(loc, f"{err}; only a counter selector like 'metric{{label=\"v\"}}' or "
                           "sum(rate(<selector>[5m])) can be converted — rewrite this SLO in "
                           "slo-harness/v1 form") from None


def _target(obj: ObjectiveV1, loc: tuple) -> float | None:
    if obj.target is not None and obj.targetPercent is not None:
        raise _Reject(loc, "set target or targetPercent, not both")
    if obj.targetPercent is not None:
        return round(obj.targetPercent / 100.0, 12)
    return obj.target


def _unsupported(obj: ObjectiveV1, loc: tuple) -> None:
    for name in ("timeSliceTarget", "timeSliceWindow", "indicator", "indicatorRef",
                 "compositeWeight"):
        if getattr(obj, name) is not None:
            raise _Reject(loc + (name,), "cannot be converted (slo-harness judges occurrences "
                                         "with the SLO's own indicator); remove it")


def _ratio(ratio: RatioMetric, loc: tuple) -> tuple[str, EventRatio]:
    if not ratio.counter:
        raise _Reject(loc + ("counter",), "pre-aggregated (counter: false) metrics cannot be "
                                          "converted; point good/bad and total at counters")
    if (ratio.good is None) == (ratio.bad is None):
        raise _Reject(loc, "needs exactly one of good and bad, beside total")
    total = _counter(_query(ratio.total, loc + ("total",)), loc + ("total",))
    if ratio.good is not None:
        events = _counter(_query(ratio.good, loc + ("good",)), loc + ("good",))
        return "ratio", EventRatio(events, total, good=True)
    events = _counter(_query(ratio.bad, loc + ("bad",)), loc + ("bad",))
    return "error_ratio", EventRatio(events, total, good=False)


def _quantile(threshold: ThresholdMetric, loc: tuple) -> Quantile:
    query = _query(threshold, loc)
    match = _QUANTILE.fullmatch(query)
    if match is None:
        raise _Reject(loc, "only `histogram_quantile(q, sum by (le) "
                           "(rate(<metric>_bucket{...}[5m])))` can be converted "
                           f"(got {query[:100]!r})")
    buckets = _counter(match["sel"], loc)
    if not buckets.metric.endswith("_bucket"):
        raise _Reject(loc, "the quantile must be over a histogram's _bucket series "
                           f"(got {buckets.metric!r})")
    q = float(match["q"])
    if not 0.0 < q < 1.0:
        raise _Reject(loc, f"the quantile must be between 0 and 1, exclusive (got {q:g})")
    return Quantile(buckets, buckets.renamed(buckets.metric.removesuffix("_bucket") + "_count"), q)


def _convert_doc(doc: OpenSLODoc, loc: tuple) -> list[model.SLO]:
    spec = doc.spec
    if spec.indicatorRef is not None or spec.indicator is None:
        raise _Reject(loc + ("spec", "indicatorRef"), "referenced indicators cannot be "
                                                      "converted; inline it as spec.indicator")
    if spec.budgetingMethod != "Occurrences":
        raise _Reject(loc + ("spec", "budgetingMethod"),
                      f"only Occurrences can be converted (got {spec.budgetingMethod!r})")
    if spec.alertPolicies:
        raise _Reject(loc + ("spec", "alertPolicies"), "cannot be converted (alerts come from the "
                                                       "burn-rate table); remove them")
    window = spec.timeWindow[0]
    wloc = loc + ("spec", "timeWindow", 0)
    if not window.isRolling or window.calendar is not None:
        raise _Reject(wloc, "calendar windows cannot be converted; use isRolling: true")
    try:
        window_s = whole_seconds(window.duration)
    except ValueError as err:
        raise _Reject(wloc + ("duration",), str(err)) from None
    if not MIN_WINDOW_S <= window_s <= MAX_WINDOW_S:
        raise _Reject(wloc + ("duration",),
                      f"must be between {format_duration(MIN_WINDOW_S)} and "
                      f"{format_duration(MAX_WINDOW_S)} (got {window.duration!r})")
    ind = spec.indicator.spec
    iloc = loc + ("spec", "indicator", "spec")
    if (ind.ratioMetric is None) == (ind.thresholdMetric is None):
        raise _Reject(iloc, "needs exactly one of ratioMetric and thresholdMetric")
    slos = []
    for i, obj in enumerate(spec.objectives):
        oloc = loc + ("spec", "objectives", i)
        _unsupported(obj, oloc)
        name = doc.metadata.name if len(spec.objectives) == 1 else f"{doc.metadata.name}-{i + 1}"
        target = _target(obj, oloc)
        if ind.ratioMetric is not None:
            if obj.op is not None or obj.value is not None:
                raise _Reject(oloc, "op/value belong to threshold metrics; a ratio takes target")
            if target is None:
                raise _Reject(oloc + ("target",), "required: the good ratio, e.g. 0.99")
            kind, sli = _ratio(ind.ratioMetric, iloc + ("ratioMetric",))
            objective = (Objective(">=", target) if sli.good
                         else Objective("<=", round(1.0 - target, 12)))
            slos.append(model.SLO(name=name, kind=kind, sli=sli, objectives=(objective,),
                                  description=spec.description, window_s=window_s))
            continue
        sli = _quantile(ind.thresholdMetric, iloc + ("thresholdMetric",))
        if obj.op not in ("lt", "lte") or obj.value is None:
            raise _Reject(oloc, "a latency quantile converts with `op: lte` (or lt) and `value` "
                                "in seconds")
        if not 0.0 < obj.value <= 3600.0:
            raise _Reject(oloc + ("value",),
                          f"must be > 0 and at most 3600 seconds (got {obj.value:g})")
        if target is not None and abs(target - sli.quantile) > 1e-9:
            raise _Reject(oloc + ("target",), f"cannot be converted: the SLO judges the "
                                              f"{sli.quantile:g} quantile itself; set target to "
                                              f"{sli.quantile:g} or remove it (got {target:g})")
        slos.append(model.SLO(name=name, kind="latency_percentile", sli=sli,
                              objectives=(Objective("<" if obj.op == "lt" else "<=", obj.value),),
                              description=spec.description, window_s=window_s,
                              threshold_s=obj.value))
    return slos


def convert(docs: list[dict], source: str) -> model.Spec:
    """OpenSLO documents (already parsed YAML mappings) -> Spec; SpecError names each problem."""
    problems: list[Problem] = []
    slos: list[model.SLO] = []
    services: dict[str, int] = {}
    multi = len(docs) > 1
    for index, raw in enumerate(docs):
        loc = (f"document {index + 1}",) if multi else ()
        if raw.get("apiVersion") != API_VERSION:
            problems.append(Problem(validation.field_path(loc + ("apiVersion",)),
                                    f"only {API_VERSION} can be converted (got "
                                    f"{validation.got(raw.get('apiVersion'))})"))
            continue
        if raw.get("kind") == "Service":
            continue
        if raw.get("kind") != "SLO":
            problems.append(Problem(validation.field_path(loc + ("kind",)),
                                    f"only kind SLO (and Service) documents can be converted "
                                    f"(got {validation.got(raw.get('kind'))}); inline it"))
            continue
        try:
            doc = OpenSLODoc.model_validate(raw)
        except ValidationError as err:
            problems.extend(validation.problems(err, OpenSLODoc, loc))
            continue
        try:
            converted = _convert_doc(doc, loc)
        except _Reject as err:
            problems.append(Problem(validation.field_path(err.loc), err.message))
            continue
        services.setdefault(doc.spec.service, index)
        slos.extend(converted)
    if len(services) > 1:
        problems.append(Problem("spec.service", "the documents name several services "
                                                f"({', '.join(sorted(services))}); one spec "
                                                "judges one"))
    names = [s.name for s in slos]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(Problem("metadata.name",
                                f"duplicate SLO name {name!r}; names must be unique"))
    if not problems and not slos:
        problems.append(Problem("", "holds no kind: SLO document to convert"))
    if problems:
        raise SpecError(source, problems)
    return model.Spec(source=source, service=next(iter(services)), slos=tuple(slos))
