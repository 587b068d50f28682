"""Sloth specs, read as they are, into the same model as slo-harness/v1 specs.

    version: "prometheus/v1"
    service: "myservice"
    labels: {owner: "myteam"}                       # on every generated rule
    slos:
      - name: "requests-availability"
        objective: 99.9                             # percent of good events
        description: "..."
        labels: {tier: "2"}
        sli:
          events:                                   # or raw: {error_ratio_query: A / B}
            error_query: sum(rate(http_requests_total{job="myservice",code=~"5.."}[{{.window}}]))
            total_query: sum(rate(http_requests_total{job="myservice"}[{{.window}}]))
        alerting:
          name: MyServiceHighErrorRate              # the alert's name
          labels: {category: "availability"}        # on both alerts
          annotations: {summary: "..."}
          page_alert: {labels: {severity: pageteam}}   # disable: true drops it; for: 5m
          ticket_alert: {labels: {severity: slack}}

The Kubernetes form (`apiVersion: sloth.slok.dev/v1`, `kind: PrometheusServiceLevel`, camelCase
fields: errorQuery, totalQuery, errorRatioQuery, pageAlert, ticketAlert) is read the same way,
and so is the `errorRatioQuery` spelling Sloth's own examples use under prometheus/v1.

What Sloth users set carries over to the generated rules: the alert name, the labels and
annotations of both alerts and of each, the extra labels, alerts disabled per severity (both
disabled: no alert at all), and `for` (Sloth honours it with its alert_for plugin). Sloth's
plugins and rule-group settings do not change a verdict and are accepted as they are. Every
query is parsed (slo.spec.queries) and must count over `{{.window}}`, as Sloth requires. The
objective window is Sloth's default, 30 days.
"""

import re
from dataclasses import replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness_common import validation
from harness_common.durations import DAY, whole_seconds
from slo.errors import Problem, SpecError
from slo.spec import model
from slo.spec.limits import LABEL, MAX_FOR_S, NAME, SERVICE, unique_by_name
from slo.spec.model import Alerting, EventRatio, Events, Objective
from slo.spec.queries import MAX_QUERY_LEN, QueryError, parse_events, parse_ratio, same_form

VERSION = "prometheus/v1"
CRD_API = "sloth.slok.dev/v1"
CRD_KIND = "PrometheusServiceLevel"
CRD_KINDS = (CRD_KIND, "ManagedPrometheusServiceLevel")  # the second: Google Managed Prometheus
# Prometheus takes any alert name (it is the value of the alertname label), and so does Sloth:
# `slo_foo-bar_latency_fail` is a name Sloth's own examples use. Control characters are refused.
ALERT_NAME = r"^[^\x00-\x1f\x7f]{1,200}$"
WINDOW_S = 30 * DAY  # Sloth's --default-slo-period
# labels the generated rules set themselves
RESERVED = ("service", "slo", "window", "long", "short", "alertname", "sloth_id", "sloth_service",
            "sloth_slo", "sloth_window", "sloth_severity")
_CAMEL = {"errorQuery": "error_query", "totalQuery": "total_query",
          "errorRatioQuery": "error_ratio_query", "pageAlert": "page_alert",
          "ticketAlert": "ticket_alert", "sloPlugins": "slo_plugins"}

Scalar = str | int | float | bool


class _Sloth(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class AlertV1(_Sloth):
    disable: bool = False
    labels: dict[str, Scalar] | None = None
    annotations: dict[str, Scalar] | None = None
    for_: str | None = Field(None, alias="for", max_length=20)


class AlertingV1(_Sloth):
    name: str | None = Field(None, pattern=ALERT_NAME)
    labels: dict[str, Scalar] | None = None
    annotations: dict[str, Scalar] | None = None
    page_alert: AlertV1 | None = None
    ticket_alert: AlertV1 | None = None


class EventsSLI(_Sloth):
    error_query: str = Field(max_length=MAX_QUERY_LEN)
    total_query: str = Field(max_length=MAX_QUERY_LEN)


class RawSLI(_Sloth):
    error_ratio_query: str = Field(max_length=MAX_QUERY_LEN)


class SLISpec(_Sloth):
    events: EventsSLI | None = None
    raw: RawSLI | None = None
    plugin: dict[str, Any] | None = None


class SLOV1(_Sloth):
    name: str = Field(pattern=NAME)
    description: str = Field("", max_length=1000)
    objective: float = Field(gt=0, le=100, allow_inf_nan=False)
    labels: dict[str, Scalar] | None = None
    sli: SLISpec
    alerting: AlertingV1 | None = None
    plugins: Any = None
    infoLabels: dict[str, Any] | None = None  # noqa: N815 - Sloth's spelling
    interval: dict[str, Any] | None = None


class SpecV1(_Sloth):
    version: Literal["prometheus/v1"]
    service: str = Field(pattern=SERVICE)
    labels: dict[str, Scalar] | None = None
    slo_plugins: Any = None
    slos: list[SLOV1] = Field(min_length=1, max_length=1000)


def _snake(value):
    """The camelCase fields of Sloth's Kubernetes form (and errorRatioQuery) in snake_case."""
    if isinstance(value, dict):
        return {_CAMEL.get(k, k) if isinstance(k, str) else k: _snake(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake(v) for v in value]
    return value


def is_sloth(doc: dict) -> bool:
    """True for a Sloth spec: `version: prometheus/v1`, or the PrometheusServiceLevel CRD."""
    return doc.get("version") == VERSION or str(doc.get("apiVersion", "")).startswith(
        "sloth.slok.dev/")


class _Builder:
    def __init__(self):
        self.problems: list[Problem] = []

    def problem(self, loc: tuple, message: str) -> None:
        self.problems.append(Problem(validation.field_path(loc), message))

    def labels(self, raw: dict | None, loc: tuple, reserved: bool = True) -> dict[str, str]:
        out = {}
        for key, value in (raw or {}).items():
            if not re.fullmatch(LABEL, key) or key.startswith("__"):
                self.problem(loc + (key,), "must be a Prometheus label name like 'team'")
                continue
            if reserved and key in RESERVED:
                self.problem(loc + (key,), f"is set by the generated rules ({', '.join(RESERVED)}"
                                           "); rename this label")
                continue
            out[key] = str(value).lower() if isinstance(value, bool) else str(value)
        return out

    def for_s(self, alert: AlertV1 | None, loc: tuple) -> int | None:
        if alert is None or alert.for_ is None:
            return None
        try:
            seconds = whole_seconds(alert.for_)
        except ValueError as err:
            self.problem(loc + ("for",), str(err))
            return None
        if seconds > MAX_FOR_S:
            self.problem(loc + ("for",), f"must be at most 1d (got {alert.for_!r})")
        return seconds

    def sli(self, raw: SLISpec, loc: tuple) -> EventRatio | None:
        loc = loc + ("sli",)
        given = [n for n in ("events", "raw", "plugin") if getattr(raw, n) is not None]
        if len(given) != 1:
            self.problem(loc, "needs exactly one of events, raw and plugin")
            return None
        if raw.plugin is not None:
            self.problem(loc + ("plugin",), "SLI plugins run inside Sloth and cannot be "
                                            "evaluated here; write the SLI as events "
                                            "(error_query, total_query) or raw")
            return None
        if raw.raw is not None:
            qloc = loc + ("raw", "error_ratio_query")
            try:
                ratio = parse_ratio(raw.raw.error_ratio_query, need_window=True)
            except QueryError as err:
                self.problem(qloc, str(err))
                return None
            origin = validation.field_path(qloc)
            total = Events(ratio.total.terms, origin)
            events = Events(ratio.events.terms, origin)
            bad = total.minus(events) if ratio.inverted else events
            return EventRatio(Events(bad.terms, origin), total, good=False)
        parsed = {}
        for field in ("error_query", "total_query"):
            try:
                parsed[field] = parse_events(getattr(raw.events, field), need_window=True)
            except QueryError as err:
                self.problem(loc + ("events", field), str(err))
        if len(parsed) < 2:
            return None
        try:
            same_form(parsed["error_query"], parsed["total_query"],
                      f"{raw.events.error_query} / {raw.events.total_query}")
        except QueryError as err:
            self.problem(loc + ("events",), str(err))
            return None
        where = validation.field_path(loc + ("events",))
        return EventRatio(Events(parsed["error_query"].events.terms, f"{where}.error_query"),
                          Events(parsed["total_query"].events.terms, f"{where}.total_query"),
                          good=False)

    def alerting(self, raw: AlertingV1 | None, loc: tuple) -> Alerting:
        loc = loc + ("alerting",)
        if raw is None:
            self.problem(loc, "required: the alert's name (alerting.name), or disable both "
                              "alerts with page_alert.disable and ticket_alert.disable")
            return Alerting()
        page, ticket = raw.page_alert or AlertV1(), raw.ticket_alert or AlertV1()
        enabled = not (page.disable and ticket.disable)
        if enabled and raw.name is None:
            self.problem(loc + ("name",), "required: the name of the generated alerts")

        def pairs(mapping: dict[str, str]) -> tuple[tuple[str, str], ...]:
            return tuple(sorted(mapping.items()))

        return Alerting(
            enabled=enabled, name=raw.name or "ErrorBudgetBurn",
            page_enabled=not page.disable, ticket_enabled=not ticket.disable,
            labels=pairs(self.labels(raw.labels, loc + ("labels",))),
            annotations=pairs(self.labels(raw.annotations, loc + ("annotations",), False)),
            page_labels=pairs(self.labels(page.labels, loc + ("page_alert", "labels"))),
            page_annotations=pairs(self.labels(page.annotations,
                                               loc + ("page_alert", "annotations"), False)),
            ticket_labels=pairs(self.labels(ticket.labels, loc + ("ticket_alert", "labels"))),
            ticket_annotations=pairs(self.labels(ticket.annotations,
                                                 loc + ("ticket_alert", "annotations"), False)),
            page_for_s=self.for_s(raw.page_alert, loc + ("page_alert",)),
            ticket_for_s=self.for_s(raw.ticket_alert, loc + ("ticket_alert",)),
        )

    def slo(self, raw: SLOV1, index: int, top_labels: dict[str, str],
            prefix: tuple) -> model.SLO | None:
        loc = prefix + ("slos", index)
        before = len(self.problems)
        if raw.objective >= 100:
            self.problem(loc + ("objective",), "must be below 100: a 100% objective leaves no "
                                               "error budget to alert on (got 100)")
        sli = self.sli(raw.sli, loc)
        alerting = self.alerting(raw.alerting, loc)
        labels = {**top_labels, **self.labels(raw.labels, loc + ("labels",))}
        if sli is None or len(self.problems) > before:
            return None
        budget = round(1.0 - raw.objective / 100.0, 12)
        return model.SLO(name=raw.name, kind="error_ratio", sli=sli,
                         objectives=(Objective("<=", budget),), description=raw.description,
                         window_s=WINDOW_S, alerting=alerting,
                         labels=tuple(sorted(labels.items())))


def _path(where: tuple, field: str) -> str:
    return validation.field_path(where + (field,))


def build_sloth(doc: dict, source: str, where: tuple = ()) -> model.Spec:
    """One Sloth document (prometheus/v1 or the PrometheusServiceLevel CRD) -> Spec.

    `where` is the document's place in a file of several ("document 2",), for field paths."""
    prefix: tuple = where
    if "apiVersion" in doc:
        if doc.get("apiVersion") != CRD_API or doc.get("kind") not in CRD_KINDS:
            raise SpecError(source, Problem(_path(where, "apiVersion"),
                                            f"only {CRD_API} {' or '.join(CRD_KINDS)} documents "
                                                          "of Sloth can be read (got "
                                                          f"{validation.got(doc.get('apiVersion'))}"
                                                          f" {validation.got(doc.get('kind'))})"))
        spec = doc.get("spec")
        if not isinstance(spec, dict):
            raise SpecError(source, Problem(_path(where, "spec"),
                                            "must be a mapping with service and slos"))
        doc, prefix = {"version": VERSION, **spec}, where + ("spec",)
    try:
        top = SpecV1.model_validate(_snake(doc))
    except ValidationError as err:
        raise SpecError(source, validation.problems(err, SpecV1, prefix)) from None
    builder = _Builder()
    top_labels = builder.labels(top.labels, prefix + ("labels",))
    slos = unique_by_name(((index, builder.slo(raw, index, top_labels, prefix))
                           for index, raw in enumerate(top.slos)), builder.problem, prefix)
    if builder.problems:
        raise SpecError(source, builder.problems)
    return model.Spec(source=source, service=top.service, slos=tuple(slos))


def build_sloth_file(docs: list[dict], source: str) -> model.Spec:
    """Every document of a Sloth file (`---`-separated, as Sloth reads them) -> one Spec.

    Each document is a service with its SLOs. One service: the SLOs keep their names. Several
    services (Sloth's multifile example): every SLO of every document, named
    `<service>-<slo>` (Sloth's SLO id, so the names stay unique) and labelled with its own
    service. Problems of every document are reported together, each naming its document.
    """
    if len(docs) == 1:
        return build_sloth(docs[0], source)
    specs, problems = [], []
    for index, doc in enumerate(docs):
        try:
            specs.append(build_sloth(doc, source, (f"document {index + 1}",)))
        except SpecError as err:
            problems.extend(err.problems)
    if problems:
        raise SpecError(source, problems)
    services = tuple(dict.fromkeys(spec.service for spec in specs))
    if len(services) == 1:
        slos = [slo for spec in specs for slo in spec.slos]
    else:
        slos = [replace(slo, name=f"{spec.service}-{slo.name}", service=spec.service)
                for spec in specs for slo in spec.slos]
    names = [slo.name for slo in slos]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecError(source, [Problem("slos", f"SLO {name!r} is defined in several documents "
                                                 "of the same service; names must be unique")
                                 for name in duplicates])
    return model.Spec(source=source, service="+".join(services), slos=tuple(slos))
