"""OpenSLO documents (openslo/v1 and openslo/v1alpha), read as they are, into the same model as
slo-harness/v1 specs.

    apiVersion: openslo/v1
    kind: SLO
    metadata: {name: availability}
    spec:
      service: portfolio-app
      budgetingMethod: Occurrences
      timeWindow: [{duration: 30d, isRolling: true}]
      indicatorRef: good-requests        # a `kind: SLI` document of the file, or inline:
      # indicator: {metadata: {name: ...}, spec: {ratioMetric: ...}}
      objectives:
        - target: 0.99                   # or targetPercent: 99
    ---
    apiVersion: openslo/v1
    kind: SLI
    metadata: {name: good-requests}
    spec:
      ratioMetric:                       # good (or bad) / total, or raw + rawType
        counter: true
        good:
          metricSource:
            type: Prometheus
            spec: {query: 'sum(app_requests_total{job="portfolio-app",status!~"5.."})'}
        total:
          metricSource:
            type: Prometheus
            spec: {query: 'sum(rate(app_requests_total{job="portfolio-app"}[5m]))'}

openslo/v1alpha: `timeWindows: [{unit: Day, count: 30, isRolling: true}]`, the ratio per
objective (`objectives[].ratioMetrics: {good, total, incremental}`), metric sources written as
`{source: prometheus, queryType: promql, query: ...}`.

Queries are PromQL the judge can evaluate (slo.spec.queries): sums of counters, with rate() or
increase() over any range (the range is replaced by the window being judged) or, with
`counter: true`, bare counter selectors; a raw ratio `A / B`; a latency threshold
`histogram_quantile(q, sum by (le) (rate(<metric>_bucket{...}[5m])))` with `op: lte|lt` and a
`value` in the histogram's unit (seconds for *_seconds, milliseconds for *_milliseconds and
Envoy's *_time, or set by the annotation `slo-harness/duration-unit`). Each objective becomes
one SLO, numbered as Sloth numbers them (objective_name: v1alpha `<metadata.name>-<i>` from 0
always; v1 `<metadata.name>` alone, `-<i>` from 0 when there are several). v1alpha's
`indicator: {thresholdMetric: {source, queryType, query}}` is read as v1's thresholdMetric.
A file may be `---`-separated documents or one YAML list of them (OpenSLO's own examples).
`Service`, `DataSource` and alert documents are accepted; everything else that cannot be
judged is refused naming its document, field and fix.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness_common import validation
from harness_common.durations import DAY, HOUR, MINUTE, WEEK, format_duration, whole_seconds
from slo.errors import Problem, SpecError
from slo.spec import model
from slo.spec.limits import MAX_WINDOW_S, MIN_WINDOW_S, NAME, SERVICE
from slo.spec.model import EventRatio, Events, Objective, Quantile
from slo.spec.presets import UNITS
from slo.spec.queries import (
    QueryError,
    parse_events,
    parse_histogram_quantile,
    parse_ratio,
)

API_VERSIONS = ("openslo/v1", "openslo/v1alpha")
IGNORED_KINDS = ("Service", "DataSource", "AlertPolicy", "AlertCondition",
                 "AlertNotificationTarget")
UNIT_ANNOTATION = "slo-harness/duration-unit"
_ALPHA_UNITS = {"Second": 1, "Minute": MINUTE, "Hour": HOUR, "Day": DAY, "Week": WEEK}


class _Open(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Metadata(_Open):
    name: str = Field(pattern=NAME)
    displayName: str | None = Field(None, max_length=500)  # noqa: N815 - OpenSLO's spelling
    labels: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None


class MetricSourceV1(_Open):
    metricSourceRef: str | None = None  # noqa: N815
    type: str | None = None
    spec: dict[str, Any]


class MetricV1(_Open):
    """A metric: `metricSource: {type, spec: {query}}`, or `source/queryType/query` (v1alpha)."""

    metricSource: MetricSourceV1 | None = None  # noqa: N815
    metadata: dict[str, Any] | None = None  # v1alpha's thresholdMetric carries one
    source: str | None = None
    queryType: str | None = None  # noqa: N815
    query: str | None = Field(None, max_length=4000)


class RatioMetric(_Open):
    counter: bool | None = None
    incremental: bool | None = None
    good: MetricV1 | None = None
    bad: MetricV1 | None = None
    total: MetricV1 | None = None
    rawType: Literal["success", "failure"] | None = None  # noqa: N815
    raw: MetricV1 | None = None


class IndicatorSpec(_Open):
    description: str | None = Field(None, max_length=1050)
    ratioMetric: RatioMetric | None = None  # noqa: N815
    thresholdMetric: MetricV1 | None = None  # noqa: N815


class Indicator(_Open):
    """openslo/v1: {metadata, spec: {ratioMetric | thresholdMetric}}; openslo/v1alpha:
    {thresholdMetric} itself (its ratios are per objective)."""

    metadata: Metadata | None = None
    spec: IndicatorSpec | None = None
    thresholdMetric: MetricV1 | None = None  # noqa: N815 - v1alpha


class TimeWindow(_Open):
    duration: str | None = Field(None, max_length=20)
    unit: str | None = Field(None, max_length=20)
    count: int | None = Field(None, gt=0, le=100_000)
    isRolling: bool | None = None  # noqa: N815
    calendar: dict[str, Any] | None = None


class ObjectiveV1(_Open):
    displayName: str | None = Field(None, max_length=500)  # noqa: N815
    op: Literal["lt", "lte", "gt", "gte"] | None = None
    value: float | None = Field(None, allow_inf_nan=False)
    target: float | None = Field(None, gt=0, lt=1, allow_inf_nan=False)
    targetPercent: float | None = Field(None, gt=0, lt=100, allow_inf_nan=False)  # noqa: N815
    timeSliceTarget: float | None = None  # noqa: N815
    timeSliceWindow: Any = None  # noqa: N815
    indicator: dict[str, Any] | None = None
    indicatorRef: str | None = None  # noqa: N815
    compositeWeight: float | None = None  # noqa: N815
    ratioMetrics: RatioMetric | None = None  # noqa: N815 - v1alpha (the oslo Go model)
    ratioMetric: RatioMetric | None = None  # noqa: N815 - v1alpha (its README)


class SLOSpec(_Open):
    description: str = Field("", max_length=1050)
    service: str = Field(pattern=SERVICE)
    indicator: Indicator | None = None
    indicatorRef: str | None = None  # noqa: N815
    timeWindow: list[TimeWindow] | None = Field(None, min_length=1, max_length=1)  # noqa: N815
    timeWindows: list[TimeWindow] | None = Field(None, min_length=1, max_length=1)  # noqa: N815
    budgetingMethod: str = "Occurrences"  # noqa: N815
    objectives: list[ObjectiveV1] = Field(min_length=1, max_length=100)
    alertPolicies: list[Any] | None = None  # noqa: N815


class SLODoc(_Open):
    apiVersion: Literal["openslo/v1", "openslo/v1alpha"]  # noqa: N815
    kind: Literal["SLO"]
    metadata: Metadata
    spec: SLOSpec


class SLIDoc(_Open):
    apiVersion: Literal["openslo/v1"]  # noqa: N815
    kind: Literal["SLI"]
    metadata: Metadata
    spec: IndicatorSpec


class _Reject(Exception):
    """A field that cannot be converted: raised inside the converter, reported as a Problem."""

    def __init__(self, loc: tuple, message: str):
        super().__init__(message)
        self.loc = loc
        self.message = message


def _path(loc: tuple) -> str:
    return validation.field_path(loc)


class _File:
    """The documents of one file: SLI and DataSource documents by name, for references."""

    def __init__(self, docs: list[dict], multi: bool):
        self.multi = multi
        self.slis: dict[str, tuple[SLIDoc, tuple]] = {}
        self.sources: dict[str, str] = {}  # DataSource name -> type
        self.problems: list[Problem] = []
        for index, raw in enumerate(docs):
            loc = self.loc(index)
            if raw.get("kind") == "SLI":
                try:
                    doc = SLIDoc.model_validate(raw)
                except ValidationError as err:
                    self.problems.extend(validation.problems(err, SLIDoc, loc))
                    continue
                self.slis[doc.metadata.name] = (doc, loc)
            elif raw.get("kind") == "DataSource":
                spec = raw.get("spec") if isinstance(raw.get("spec"), dict) else {}
                name = (raw.get("metadata") or {}).get("name") if isinstance(
                    raw.get("metadata"), dict) else None
                if isinstance(name, str) and isinstance(spec.get("type"), str):
                    self.sources[name] = spec["type"]

    def loc(self, index: int) -> tuple:
        return (f"document {index + 1}",) if self.multi else ()

    def query(self, metric: MetricV1, loc: tuple) -> tuple[str, tuple]:
        """The PromQL text of a Prometheus metric source and its field path."""
        if metric.metricSource is not None:
            src = metric.metricSource
            kind = src.type
            if kind is None and src.metricSourceRef is not None:
                kind = self.sources.get(src.metricSourceRef)
                if kind is None:
                    raise _Reject(loc + ("metricSource", "metricSourceRef"),
                                  f"no kind: DataSource document named {src.metricSourceRef!r} "
                                  "in this file; set metricSource.type: Prometheus")
            if kind is None:
                raise _Reject(loc + ("metricSource", "type"),
                              "required: the source type (Prometheus)")
            if kind.lower() != "prometheus":
                raise _Reject(loc + ("metricSource", "type"),
                              f"only Prometheus sources can be judged (got {kind!r})")
            query = src.spec.get("query")
            qloc = loc + ("metricSource", "spec", "query")
            if not isinstance(query, str) or not query.strip():
                raise _Reject(qloc, "required: the PromQL query of this metric")
            return query, qloc
        if metric.source is None or metric.query is None:
            raise _Reject(loc, "needs `metricSource: {type: Prometheus, spec: {query: ...}}`")
        if metric.source.lower() != "prometheus":
            raise _Reject(loc + ("source",),
                          f"only prometheus sources can be judged (got {metric.source!r})")
        if (metric.queryType or "promql").lower() != "promql":
            raise _Reject(loc + ("queryType",),
                          f"only promql queries can be judged (got {metric.queryType!r})")
        return metric.query, loc + ("query",)


def _events(file: _File, metric: MetricV1 | None, counter: bool, loc: tuple, what: str):
    if metric is None:
        raise _Reject(loc, f"required: the {what} events")
    text, qloc = file.query(metric, loc)
    try:
        return parse_events(text, bare=counter), qloc
    except QueryError as err:
        hint = ("" if counter else "; with counter: false the query must count with rate() or "
                                   "increase()")
        raise _Reject(qloc, f"{err}{hint}") from None


def _ratio(file: _File, ratio: RatioMetric, loc: tuple) -> tuple[str, EventRatio]:
    counter = ratio.counter if ratio.counter is not None else (
        ratio.incremental if ratio.incremental is not None else True)
    if ratio.raw is not None:
        if ratio.good is not None or ratio.bad is not None or ratio.total is not None:
            raise _Reject(loc, "raw is a ratio by itself: remove good, bad and total")
        if ratio.rawType is None:
            raise _Reject(loc + ("rawType",), "required with raw: success or failure")
        text, qloc = file.query(ratio.raw, loc + ("raw",))
        try:
            parsed = parse_ratio(text)
        except QueryError as err:
            raise _Reject(qloc, str(err)) from None
        good = (ratio.rawType == "success") != parsed.inverted
        origin = _path(qloc)
        sli = EventRatio(Events(parsed.events.terms, origin), Events(parsed.total.terms, origin),
                         good=good)
        return ("ratio" if good else "error_ratio"), sli
    if (ratio.good is None) == (ratio.bad is None):
        raise _Reject(loc, "needs exactly one of good and bad, beside total")
    which = "good" if ratio.good is not None else "bad"
    # each side means "the events" on its own (OpenSLO evaluates them apart), so a rate() on
    # one side and a counter on the other still count the same thing over the window
    events, eloc = _events(file, getattr(ratio, which), counter, loc + (which,), which)
    total, tloc = _events(file, ratio.total, counter, loc + ("total",), "total")
    sli = EventRatio(Events(events.events.terms, _path(eloc)),
                     Events(total.events.terms, _path(tloc)), good=which == "good")
    return ("ratio" if which == "good" else "error_ratio"), sli


def _unit_s(buckets_metric: str, metadata: Metadata, loc: tuple, doc_loc: tuple) -> float:
    """The histogram's unit in seconds: the annotation, else the metric's name."""
    annotated = (metadata.annotations or {}).get(UNIT_ANNOTATION)
    if annotated is not None:
        if annotated not in UNITS:
            raise _Reject(doc_loc + ("metadata", "annotations", UNIT_ANNOTATION),
                          f"must be one of {', '.join(UNITS)} (got {annotated!r})")
        return UNITS[annotated]
    base = buckets_metric.removesuffix("_bucket")
    if base.endswith("_seconds"):
        return 1.0
    if base.endswith(("_milliseconds", "_ms")) or (base.startswith("envoy_")
                                                   and base.endswith("_time")):
        return 0.001
    raise _Reject(loc, f"cannot tell the unit of {base!r} from its name; annotate the SLO "
                       f"with metadata.annotations: {{{UNIT_ANNOTATION}: seconds|milliseconds}}")


def _quantile(file: _File, metric: MetricV1, metadata: Metadata, loc: tuple,
              doc_loc: tuple) -> Quantile:
    text, qloc = file.query(metric, loc)
    try:
        parsed = parse_histogram_quantile(text)
    except QueryError as err:
        raise _Reject(qloc, str(err)) from None
    buckets = parsed.buckets
    count = buckets.renamed(buckets.metric.removesuffix("_bucket") + "_count")
    return Quantile(buckets, count, parsed.quantile,
                    _unit_s(buckets.metric, metadata, qloc, doc_loc), _path(qloc))


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
            raise _Reject(loc + (name,), "cannot be judged (slo-harness judges occurrences "
                                         "with the SLO's own indicator); remove it")


def _window_s(spec: SLOSpec, loc: tuple, alpha: bool) -> int:
    field = "timeWindows" if alpha else "timeWindow"
    windows = spec.timeWindows if alpha else spec.timeWindow
    if windows is None:
        raise _Reject(loc + ("spec", field), "required: one rolling window, e.g. "
                      + ("[{unit: Day, count: 30, isRolling: true}]" if alpha
                         else "[{duration: 30d, isRolling: true}]"))
    window = windows[0]
    wloc = loc + ("spec", field, 0)
    if window.calendar is not None or window.isRolling is False:
        raise _Reject(wloc, "calendar windows cannot be judged; use isRolling: true")
    if alpha:
        if window.unit not in _ALPHA_UNITS or window.count is None:
            raise _Reject(wloc, f"needs unit ({', '.join(_ALPHA_UNITS)}) and count, e.g. "
                                f"unit: Day, count: 30 (got unit {window.unit!r})")
        seconds = _ALPHA_UNITS[window.unit] * window.count
        shown = f"{window.count} {window.unit}"
    else:
        if window.duration is None:
            raise _Reject(wloc + ("duration",), "required, e.g. 30d")
        try:
            seconds = whole_seconds(window.duration)
        except ValueError as err:
            raise _Reject(wloc + ("duration",), f"{err}; months, quarters and years are "
                                                "calendar lengths: write days, e.g. 30d") from None
        shown = window.duration
    if not MIN_WINDOW_S <= seconds <= MAX_WINDOW_S:
        raise _Reject(wloc, f"must be between {format_duration(MIN_WINDOW_S)} and "
                            f"{format_duration(MAX_WINDOW_S)} (got {shown!r})")
    return seconds


def _indicator(file: _File, spec: SLOSpec, loc: tuple,
               alpha: bool) -> tuple[IndicatorSpec, tuple]:
    if spec.indicatorRef is not None and spec.indicator is not None:
        raise _Reject(loc + ("spec",), "set indicator or indicatorRef, not both")
    if spec.indicatorRef is not None:
        found = file.slis.get(spec.indicatorRef)
        if found is None:
            known = ", ".join(sorted(file.slis)) or "none"
            raise _Reject(loc + ("spec", "indicatorRef"),
                          f"no kind: SLI document named {spec.indicatorRef!r} in this file "
                          f"(SLIs here: {known})")
        doc, sli_loc = found
        return doc.spec, sli_loc + ("spec",)
    if spec.indicator is None:
        return IndicatorSpec(), loc + ("spec", "indicator", "spec")
    ind = spec.indicator
    if ind.thresholdMetric is not None:
        if not alpha:
            raise _Reject(loc + ("spec", "indicator", "thresholdMetric"),
                          "is the openslo/v1alpha shape; in openslo/v1 write "
                          "indicator: {metadata: ..., spec: {thresholdMetric: ...}}")
        if ind.spec is not None:
            raise _Reject(loc + ("spec", "indicator"), "set thresholdMetric or spec, not both")
        return (IndicatorSpec(thresholdMetric=ind.thresholdMetric),
                loc + ("spec", "indicator"))
    if ind.spec is None:
        raise _Reject(loc + ("spec", "indicator", "spec"),
                      "required: the indicator's spec with a ratioMetric or thresholdMetric")
    return ind.spec, loc + ("spec", "indicator", "spec")


def objective_name(name: str, index: int, count: int, alpha: bool) -> str:
    """The SLO name of objective `index` (0-based), as Sloth names it.

    Sloth reads openslo/v1alpha and names every objective `<metadata.name>-<index>`, counting
    from 0, even a single one: the same file gives the same SLO names (and sloth_id labels)
    here and in Sloth. openslo/v1, which Sloth does not read, keeps `<metadata.name>` for a
    single objective and numbers several the same way (from 0).
    """
    return name if count == 1 and not alpha else f"{name}-{index}"


def _convert_doc(file: _File, doc: SLODoc, loc: tuple) -> list[model.SLO]:
    spec = doc.spec
    alpha = doc.apiVersion == "openslo/v1alpha"
    if spec.budgetingMethod != "Occurrences":
        raise _Reject(loc + ("spec", "budgetingMethod"),
                      f"only Occurrences can be judged (got {spec.budgetingMethod!r})")
    if spec.alertPolicies:
        raise _Reject(loc + ("spec", "alertPolicies"), "cannot be converted (alerts come from the "
                                                       "burn-rate table); remove them")
    window_s = _window_s(spec, loc, alpha)
    ind, iloc = _indicator(file, spec, loc, alpha)
    slos = []
    for i, obj in enumerate(spec.objectives):
        oloc = loc + ("spec", "objectives", i)
        _unsupported(obj, oloc)
        name = objective_name(doc.metadata.name, i, len(spec.objectives), alpha)
        target = _target(obj, oloc)
        per_objective = obj.ratioMetrics or obj.ratioMetric
        if alpha and per_objective is not None:
            ratio, rloc = per_objective, oloc + (
                "ratioMetrics" if obj.ratioMetrics is not None else "ratioMetric",)
        elif per_objective is not None:
            raise _Reject(oloc + ("ratioMetrics",), "belongs to openslo/v1alpha; in openslo/v1 "
                                                    "the ratio is spec.indicator's ratioMetric")
        else:
            ratio, rloc = ind.ratioMetric, iloc + ("ratioMetric",)
        threshold = ind.thresholdMetric
        if ratio is not None and threshold is not None:
            raise _Reject(iloc, "needs exactly one of ratioMetric and thresholdMetric")
        if ratio is None and threshold is None:
            raise _Reject(iloc, "needs a ratioMetric or a thresholdMetric"
                          + (" (v1alpha: objectives[].ratioMetrics)" if alpha else ""))
        if ratio is not None:
            if obj.op is not None or obj.value is not None:
                raise _Reject(oloc, "op/value belong to threshold metrics; a ratio takes target")
            if target is None:
                raise _Reject(oloc + ("target",), "required: the good ratio, e.g. 0.99")
            kind, sli = _ratio(file, ratio, rloc)
            objective = (Objective(">=", target) if sli.good
                         else Objective("<=", round(1.0 - target, 12)))
            slos.append(model.SLO(name=name, kind=kind, sli=sli, objectives=(objective,),
                                  description=spec.description, window_s=window_s))
            continue
        sli = _quantile(file, threshold, doc.metadata, iloc + ("thresholdMetric",), loc)
        if obj.op not in ("lt", "lte") or obj.value is None:
            raise _Reject(oloc, "a latency quantile converts with `op: lte` (or lt) and `value` "
                                "in the histogram's unit")
        threshold_s = round(obj.value * sli.scale_s, 12)
        if not 0.0 < threshold_s <= 3600.0:
            raise _Reject(oloc + ("value",),
                          f"must be > 0 and at most an hour (got {obj.value:g})")
        if target is not None and abs(target - sli.quantile) > 1e-9:
            raise _Reject(oloc + ("target",), f"cannot be converted: the SLO judges the "
                                              f"{sli.quantile:g} quantile itself; set target to "
                                              f"{sli.quantile:g} or remove it (got {target:g})")
        slos.append(model.SLO(name=name, kind="latency_percentile", sli=sli,
                              objectives=(Objective("<" if obj.op == "lt" else "<=",
                                                    threshold_s),),
                              description=spec.description, window_s=window_s,
                              threshold_s=threshold_s))
    return slos


def convert(docs: list[dict], source: str) -> model.Spec:
    """OpenSLO documents (already parsed YAML mappings) -> Spec; SpecError names each problem."""
    file = _File(docs, multi=len(docs) > 1)
    problems: list[Problem] = list(file.problems)
    slos: list[model.SLO] = []
    services: dict[str, int] = {}
    for index, raw in enumerate(docs):
        loc = file.loc(index)
        if raw.get("apiVersion") not in API_VERSIONS:
            problems.append(Problem(_path(loc + ("apiVersion",)),
                                    f"only {' and '.join(API_VERSIONS)} can be read (got "
                                    f"{validation.got(raw.get('apiVersion'))})"))
            continue
        if raw.get("kind") in IGNORED_KINDS or raw.get("kind") == "SLI":
            continue
        if raw.get("kind") != "SLO":
            problems.append(Problem(_path(loc + ("kind",)),
                                    f"only kind SLO, SLI, {', '.join(IGNORED_KINDS)} documents "
                                    f"can be read (got {validation.got(raw.get('kind'))})"))
            continue
        try:
            doc = SLODoc.model_validate(raw)
        except ValidationError as err:
            problems.extend(validation.problems(err, SLODoc, loc))
            continue
        try:
            converted = _convert_doc(file, doc, loc)
        except _Reject as err:
            problems.append(Problem(_path(err.loc), err.message))
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
        kinds = ", ".join(dict.fromkeys(str(raw.get("kind")) for raw in docs))
        problems.append(Problem("", f"holds no kind: SLO document to judge (only {kinds}); "
                                    "pass the file with the SLOs, with the SLI, Service and "
                                    "DataSource documents they reference in the same file"))
    if problems:
        raise SpecError(source, problems)
    return model.Spec(source=source, service=next(iter(services)), slos=tuple(slos))
