"""The SLO spec users write (version slo-harness/v1), validated once into slo.spec.model.Spec.

A full example (tests/test_slo_spec.py checks that it loads):

    version: slo-harness/v1
    service: portfolio-app
    description: The portfolio site, as its visitors see it.
    prometheus:
      job: portfolio-app                            # job="..." on every query
      requests_metric: app_requests_total           # counter {method, endpoint, status}
      duration_metric: app_request_duration_seconds # histogram {method, endpoint}
      # user traffic only: not the scrapes, probes, admin calls or unmatched (scanner) paths
      selector: 'endpoint!~"/metrics|/health|/admin/.*|<unmatched>"'
      error_status: '5..|aborted'                   # status values that count as errors
    window: 30d                  # objective window: error budget and burn-rate alerts
    alerting:
      page_severity: page        # severity label of the fast-burn alerts
      ticket_severity: ticket    # ... and of the slow-burn ones
      for: 0s
      runbook_url: https://example.org/runbooks/portfolio-app
      dashboard_url: http://127.0.0.1:3000/d/slo
    slos:
      # the compact form (k6 style): objective and optional warning line
      - name: latency-p95
        key: true
        objective: p(95) <= 300ms
        warning: p(95) <= 200ms
      - name: error-ratio
        key: true
        objective: ratio <= 1%
      - name: throughput
        objective: rate >= 1/s
      # the explicit form: a kind and its fields
      - name: api-fast-requests
        kind: latency_ratio          # >= 95% of API requests faster than 300 ms
        selector: 'endpoint=~"/api/.*"'
        threshold_ms: 300
        objective_percent: 95
        warning_percent: 98
      - name: home-availability
        kind: availability
        selector: 'endpoint="/"'
        objective_percent: 99
        alerting:
          runbook_url: https://example.org/runbooks/home-page

Any service's metrics: `prometheus.preset` names an instrumentation (slo.spec.presets.PRESETS,
docs/instrumentations.md: promhttp, fastapi-instrumentator, starlette-exporter,
django-prometheus, prometheus-flask-exporter, opentelemetry[-legacy[-target]], micrometer, istio,
traefik, linkerd, grpc, ingress-nginx, envoy), and each of its settings may be set by hand (a
`prometheus.selector` matcher on a label of the preset's own matchers, such as Istio's
reporter, replaces it):

    prometheus:
      preset: promhttp
      job: checkout
      requests_metric: http_requests_total          # the preset's names, overridable
      duration_metric: http_request_duration_seconds
      duration_unit: seconds                        # or milliseconds
      status_label: code
      route_label: handler
      error_status: '5..|429'                       # must match some status value
    slos:
      - {name: api-errors, objective: ratio <= 1%, route: '/api/.*'}   # route_label=~
      - name: checkout-errors                       # raw queries where labels cannot say it
        objective: ratio <= 1%
        events:                                     # bad or good, and total, over {{.window}}
          bad: sum(rate(checkout_total{result="failed"}[{{.window}}]))
          total: sum(rate(checkout_total[{{.window}}]))
      - name: upstream-p99                          # a raw histogram selector
        objective: p(99) <= 500ms
        histogram: envoy_cluster_upstream_rq_time{envoy_cluster_name="app"}
        duration_unit: milliseconds

Explicit kinds and their fields (besides name, description, key, selector, route, events,
histogram, duration_unit, window, alerting):

    latency_percentile  percentile, threshold_ms, warning_ms          p(N) <= threshold
    latency_ratio       threshold_ms, objective_percent, warning_percent  share under threshold >=
    error_ratio         max_percent, warning_percent                  errors / requests <=
    availability        objective_percent, warning_percent            non-errors / requests >=
    request_rate        min_rps, max_rps, warning_min_rps, warning_max_rps

A warning line lies on the safe side of the objective: crossing it warns, crossing the
objective fails. A file may instead hold a Sloth spec (slo.spec.sloth) or OpenSLO documents
(slo.spec.openslo).
Every problem is reported as `<file>: <field path>: <what is wrong and the fix>`.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness_common import validation
from harness_common.durations import DAY, format_duration, whole_seconds
from slo.errors import Problem, SpecError
from slo.spec import compact, model
from slo.spec.limits import (
    LABEL,
    MAX_FOR_S,
    MAX_LATENCY_MS,
    MAX_RPS,
    MAX_WINDOW_S,
    METRIC,
    MIN_WINDOW_S,
    NAME,
    SERVICE,
    SEVERITY,
    URL,
    unique_by_name,
)
from slo.spec.model import Alerting, EventRatio, Events, Objective, Quantile, Throughput
from slo.spec.presets import (
    DEFAULT_PRESET,
    PRESETS,
    UNITS,
    label_domain,
    status_matcher_problem,
    unmatched,
)
from slo.spec.queries import MAX_QUERY_LEN, QueryError, parse_events, parse_selector, same_form
from slo.spec.selectors import Matcher, Selector, parse_matchers, regex_problem

VERSION = "slo-harness/v1"
RESERVED_LABELS = {"job": "it is set by prometheus.job", "le": "it is set by the latency threshold"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PrometheusV1(_Strict):
    """Where the SLIs come from: a preset's names (slo.spec.presets), each one overridable."""

    job: str = Field(min_length=1, max_length=200)
    preset: str | None = Field(None, max_length=100)
    requests_metric: str | None = Field(None, pattern=METRIC)
    duration_metric: str | None = Field(None, pattern=METRIC)
    duration_unit: Literal["seconds", "milliseconds"] | None = None
    status_label: str | None = Field(None, pattern=LABEL)
    route_label: str | None = Field(None, pattern=LABEL)
    selector: str = Field("", max_length=1000)
    error_status: str | None = Field(None, min_length=1, max_length=200)


class EventsV1(_Strict):
    """Raw event queries: bad or good events, and the total, each counting over {{.window}}."""

    bad: str | None = Field(None, max_length=MAX_QUERY_LEN)
    good: str | None = Field(None, max_length=MAX_QUERY_LEN)
    total: str = Field(max_length=MAX_QUERY_LEN)


class AlertingV1(_Strict):
    """Alert settings; the top level sets defaults, an SLO may override any of them."""

    enabled: bool | None = None
    page_severity: str | None = Field(None, pattern=SEVERITY)
    ticket_severity: str | None = Field(None, pattern=SEVERITY)
    for_: str | None = Field(None, alias="for", max_length=20)
    runbook_url: str | None = Field(None, pattern=URL)
    dashboard_url: str | None = Field(None, pattern=URL)


class _SLOV1(_Strict):
    name: str = Field(pattern=NAME)
    description: str = Field("", max_length=1000)
    key: bool = False
    selector: str = Field("", max_length=1000)
    route: str | None = Field(None, min_length=1, max_length=1000)
    events: EventsV1 | None = None
    histogram: str | None = Field(None, max_length=1000)
    duration_unit: Literal["seconds", "milliseconds"] | None = None
    window: str | None = Field(None, max_length=20)
    alerting: AlertingV1 | None = None


def _number(**bounds):
    return Field(allow_inf_nan=False, **bounds)


class CompactSLOV1(_SLOV1):
    """objective: "p(95) <= 300ms" (see slo.spec.compact)."""

    objective: str = Field(max_length=200)
    warning: str | None = Field(None, max_length=200)


class LatencyPercentileV1(_SLOV1):
    kind: Literal["latency_percentile"]
    percentile: float = _number(gt=0, lt=100)
    threshold_ms: float = _number(gt=0, le=MAX_LATENCY_MS)
    warning_ms: float | None = _number(default=None, gt=0, le=MAX_LATENCY_MS)


class LatencyRatioV1(_SLOV1):
    kind: Literal["latency_ratio"]
    threshold_ms: float = _number(gt=0, le=MAX_LATENCY_MS)
    objective_percent: float = _number(gt=0, lt=100)
    warning_percent: float | None = _number(default=None, gt=0, le=100)


class ErrorRatioV1(_SLOV1):
    kind: Literal["error_ratio"]
    max_percent: float = _number(gt=0, lt=100)
    warning_percent: float | None = _number(default=None, ge=0, lt=100)


class AvailabilityV1(_SLOV1):
    kind: Literal["availability"]
    objective_percent: float = _number(gt=0, lt=100)
    warning_percent: float | None = _number(default=None, gt=0, le=100)


class RequestRateV1(_SLOV1):
    kind: Literal["request_rate"]
    min_rps: float | None = _number(default=None, gt=0, le=MAX_RPS)
    max_rps: float | None = _number(default=None, gt=0, le=MAX_RPS)
    warning_min_rps: float | None = _number(default=None, gt=0, le=MAX_RPS)
    warning_max_rps: float | None = _number(default=None, gt=0, le=MAX_RPS)


KINDS: dict[str, type[_SLOV1]] = {
    "latency_percentile": LatencyPercentileV1,
    "latency_ratio": LatencyRatioV1,
    "error_ratio": ErrorRatioV1,
    "availability": AvailabilityV1,
    "request_rate": RequestRateV1,
}


class SpecV1(_Strict):
    """The top level of a slo-harness/v1 document."""

    version: Literal["slo-harness/v1"]
    service: str = Field(pattern=SERVICE)
    description: str = Field("", max_length=2000)
    prometheus: PrometheusV1
    window: str = Field("30d", max_length=20)
    alerting: AlertingV1 = AlertingV1()
    slos: list[dict] = Field(min_length=1, max_length=1000)


def _pct(value: float) -> float:
    """Percent to ratio without float noise (99.9 -> 0.999)."""
    return round(value / 100.0, 12)


class _Builder:
    """Turns one validated SpecV1 into model objects, collecting Problems with their paths."""

    def __init__(self, top: SpecV1):
        self.top = top
        self.problems: list[Problem] = []
        prom = top.prometheus
        name = prom.preset or DEFAULT_PRESET
        if name not in PRESETS:
            self.problem(("prometheus", "preset"), f"unknown preset {name!r}; use one of "
                                                   f"{', '.join(PRESETS)}")
            name = DEFAULT_PRESET
        preset = PRESETS[name]
        self.requests_metric = prom.requests_metric or preset.requests_metric
        self.duration_metric = prom.duration_metric or preset.duration_metric
        self.scale_s = UNITS[prom.duration_unit or preset.duration_unit]
        self.status_label = prom.status_label or preset.status_label
        self.route_label = prom.route_label or preset.route_label
        self.error_status = prom.error_status or preset.error_status
        self.preset = preset
        # the duration histogram carries the status label (a fact of the preset's histogram;
        # a hand-set duration_metric is not known to lack it)
        self.duration_status = preset.duration_has_status or bool(prom.duration_metric)
        self.hints: dict[str, str] = {}
        job = (Matcher("job", "=", prom.job),)
        self.base: tuple[Matcher, ...] = job
        try:
            extra = parse_matchers(prom.selector)
        except ValueError as err:
            self.problem(("prometheus", "selector"), str(err))
            extra = ()
        # a prometheus.selector matcher on a label the preset's base selector names replaces
        # the preset's (Istio's ambient mode: reporter="waypoint")
        own = {m.label for m in extra}
        self.base += tuple(m for m in parse_matchers(preset.base_selector) if m.label not in own)
        self.base += extra
        # an SLO with a route reads the preset's per-route metrics, if it has them and the
        # route label is the preset's
        self.route_metrics = None
        if preset.route_metrics and not prom.route_label:
            self.route_metrics = (prom.requests_metric or preset.route_metrics[0],
                                  prom.duration_metric or preset.route_metrics[1], job + extra)
        for m in extra:
            self.hints.setdefault(m.label, "fix prometheus.selector")
            problem = status_matcher_problem(m.label, m.op, m.value, (self.status_label,))
            if problem:
                self.problem(("prometheus", "selector"), problem)
        self.hints[self.status_label] = "set prometheus.status_label (or prometheus.preset)"
        self.hints.setdefault("job", "fix prometheus.job (the job Prometheus scrapes the service "
                                     "under; the stack scrapes TARGET_METRICS_URL as job "
                                     "'target')")
        problem = regex_problem(self.error_status)
        if problem:
            self.problem(("prometheus", "error_status"), problem)
        else:
            values, domain = preset.status_values, preset.status_domain
            example = preset.error_status
            if self.status_label != preset.status_label:
                values, domain = label_domain(self.status_label)
                example = "5.."
            missed = unmatched(self.error_status, values)
            if missed:
                shown = ", ".join(repr(m) for m in missed)
                self.problem(("prometheus", "error_status"),
                             f"{shown} matches no value of {self.status_label!r} (tested "
                             f"against {domain}), so no request would ever "
                             "count as an error; write a regex over the whole value, such as "
                             f"{example!r}")
        self.window_s = self.window(top.window, ("window",)) or 30 * DAY
        self.alerting = self.merge_alerting(Alerting(), top.alerting, ("alerting",))

    def problem(self, loc: tuple, message: str) -> None:
        self.problems.append(Problem(validation.field_path(loc), message))

    def window(self, text: str, loc: tuple) -> int | None:
        try:
            seconds = whole_seconds(text)
        except ValueError as err:
            self.problem(loc, str(err))
            return None
        if not MIN_WINDOW_S <= seconds <= MAX_WINDOW_S:
            self.problem(loc, f"must be between {format_duration(MIN_WINDOW_S)} and "
                              f"{format_duration(MAX_WINDOW_S)} (got {text!r}); the burn-rate "
                              "alerts assume a multi-week objective window, e.g. 30d")
            return None
        return seconds

    def merge_alerting(self, base: Alerting, raw: AlertingV1 | None, loc: tuple) -> Alerting:
        if raw is None:
            return base
        for_s = base.for_s
        if raw.for_ is not None:
            try:
                for_s = whole_seconds(raw.for_)
            except ValueError as err:
                self.problem(loc + ("for",), str(err))
            else:
                if for_s > MAX_FOR_S:
                    self.problem(loc + ("for",), f"must be at most 1d (got {raw.for_!r})")
        return Alerting(
            enabled=base.enabled if raw.enabled is None else raw.enabled,
            page_severity=raw.page_severity or base.page_severity,
            ticket_severity=raw.ticket_severity or base.ticket_severity,
            for_s=for_s,
            runbook_url=raw.runbook_url or base.runbook_url,
            dashboard_url=raw.dashboard_url or base.dashboard_url,
        )

    def selectors(self, raw: _SLOV1, loc: tuple) -> dict:
        """The SLO's sources: the preset's metrics with the SLO's matchers, or its raw
        queries (`events`, `histogram`)."""
        requests_metric, duration_metric, matchers = (
            self.route_metrics if raw.route is not None and self.route_metrics
            else (self.requests_metric, self.duration_metric, self.base))
        try:
            extra = parse_matchers(raw.selector)
        except ValueError as err:
            self.problem(loc + ("selector",), str(err))
            extra = ()
        for m in extra:
            problem = status_matcher_problem(m.label, m.op, m.value, (self.status_label,))
            if problem:
                self.problem(loc + ("selector",), problem)
            if m.label in RESERVED_LABELS:
                self.problem(loc + ("selector",), f"cannot match label {m.label!r}: "
                                                  f"{RESERVED_LABELS[m.label]}; remove it")
        matchers += tuple(m for m in extra if m.label not in RESERVED_LABELS)
        where = validation.field_path(loc)
        hints = dict(self.hints)
        for m in extra:
            hints.setdefault(m.label, f"fix {where}.selector")
        if raw.route is not None and not self.route_label:
            self.problem(loc + ("route",), f"preset {self.preset.name!r} has no route label "
                                           "(its metrics carry no path): select with "
                                           "`selector:` on one of its labels, or set "
                                           "prometheus.route_label")
        elif raw.route is not None:
            problem = regex_problem(raw.route)
            if problem:
                self.problem(loc + ("route",), problem)
            matchers += (Matcher(self.route_label, "=~", raw.route),)
            hints.setdefault(self.route_label, "set prometheus.route_label (or prometheus.preset)")
        if (raw.events is not None or raw.histogram is not None) and (raw.selector or raw.route):
            self.problem(loc, "selector and route apply to the preset's metrics; raw queries "
                              "(events, histogram) carry their own matchers: remove one")
        requests = Selector(requests_metric, matchers)
        origin = "prometheus.requests_metric"
        status = self.status_label
        sel = {
            "requests": Events.of(requests, origin),
            "errors": Events.of(requests.where(Matcher(status, "=~", self.error_status)),
                                origin),
            "good": Events.of(requests.where(Matcher(status, "!~", self.error_status)), origin),
            "buckets": Selector(duration_metric + "_bucket", matchers),
            "count": Selector(duration_metric + "_count", matchers),
            "histogram_origin": "prometheus.duration_metric",
            "scale_s": UNITS[raw.duration_unit] if raw.duration_unit else self.scale_s,
            "hints": tuple(sorted(hints.items())),
        }
        if raw.events is not None:
            self.raw_events(raw.events, loc + ("events",), sel)
        if raw.histogram is not None:
            hloc = loc + ("histogram",)
            try:
                selector = parse_selector(raw.histogram)
            except QueryError as err:
                self.problem(hloc, str(err))
            else:
                base = selector.metric
                for suffix in ("_bucket", "_count", "_sum"):
                    base = base.removesuffix(suffix)
                sel["buckets"] = selector.renamed(base + "_bucket")
                sel["count"] = selector.renamed(base + "_count")
                sel["histogram_origin"] = validation.field_path(hloc)
                sel["hints"] = ()
        return sel

    def raw_events(self, raw: EventsV1, loc: tuple, sel: dict) -> None:
        """Raw `events: {bad|good, total}` queries into the errors/good/requests events."""
        if (raw.bad is None) == (raw.good is None):
            self.problem(loc, "needs exactly one of bad and good, beside total")
            return
        parsed = {}
        for name in ("bad", "good", "total"):
            text = getattr(raw, name)
            if text is None:
                continue
            try:
                parsed[name] = parse_events(text, need_window=True)
            except QueryError as err:
                self.problem(loc + (name,), str(err))
        if len(parsed) < 2:
            return
        counted = "bad" if raw.bad is not None else "good"
        try:
            same_form(parsed[counted], parsed["total"], f"{getattr(raw, counted)} / {raw.total}")
        except QueryError as err:
            self.problem(loc, str(err))
            return
        origin = validation.field_path(loc)

        def events(name: str) -> Events:
            return Events(parsed[name].events.terms, f"{origin}.{name}")

        total = events("total")
        sel["requests"] = total
        sel["errors"] = events("bad") if raw.bad is not None else total.minus(events("good"))
        sel["good"] = events("good") if raw.good is not None else total.minus(events("bad"))
        sel["raw_events"] = True
        sel["hints"] = ()

    def safe_side(self, loc: tuple, field: str, warning, target, upper: bool, against: str,
                  shown: tuple[str, str] | None = None):
        """Check that a warning line lies on the safe side of the objective."""
        if warning is None:
            return
        if (upper and warning >= target) or (not upper and warning <= target):
            side = "below" if upper else "above"
            target_text, warning_text = shown or (f"{target:g}", f"{warning:g}")
            self.problem(loc + (field,), f"must be {side} {against} ({target_text}): the warning "
                                         "line lies on the safe side of the objective "
                                         f"(got {warning_text})")

    def slo(self, index: int, item: dict) -> model.SLO | None:
        loc = ("slos", index)
        has_kind, has_objective = "kind" in item, "objective" in item
        if has_kind and has_objective:
            self.problem(loc, "use either `objective: \"p(95) <= 300ms\"` (compact) or `kind:` "
                              "with its fields, not both")
            return None
        if not has_kind and not has_objective:
            self.problem(loc, f"needs `objective:` (e.g. {compact.EXAMPLES}) or `kind:` "
                              f"(one of {', '.join(KINDS)})")
            return None
        if has_kind and not (isinstance(item["kind"], str) and item["kind"] in KINDS):
            self.problem(loc + ("kind",), f"unknown kind {validation.got(item['kind'])}; "
                                          f"use one of {', '.join(KINDS)}")
            return None
        schema = KINDS[item["kind"]] if has_kind else CompactSLOV1
        try:
            raw = schema.model_validate(item)
        except ValidationError as err:
            self.problems.extend(validation.problems(err, schema, loc))
            return None
        before = len(self.problems)
        sel = self.selectors(raw, loc)
        window_s = (self.window_s if raw.window is None
                    else self.window(raw.window, loc + ("window",)))
        alerting = self.merge_alerting(self.alerting, raw.alerting, loc + ("alerting",))
        built = (self.compact(raw, sel, loc) if isinstance(raw, CompactSLOV1)
                 else self.explicit(raw, sel, loc))
        if built is None or len(self.problems) > before:
            return None
        kind, sli, objectives, threshold_s = built
        latency = kind in ("latency_percentile", "latency_ratio")
        if sel.get("raw_events") and latency:
            self.problem(loc + ("events",), "a latency SLO reads a histogram: use `histogram:` "
                                            "(or the preset's duration_metric), not events")
            return None
        if raw.histogram is not None and not latency:
            self.problem(loc + ("histogram",), "only latency SLOs read a histogram; count "
                                               "requests with `events:` instead")
            return None
        notes = self.status_scope(raw, kind, sel, loc)
        if len(self.problems) > before:
            return None
        return model.SLO(name=raw.name, kind=kind, sli=sli, objectives=objectives,
                         description=raw.description, key=raw.key, window_s=window_s or 0,
                         alerting=alerting, threshold_s=threshold_s, label_hints=sel["hints"],
                         bucket_scale_s=sel["scale_s"], status_labels=(self.status_label,),
                         notes=notes)

    def status_scope(self, raw: _SLOV1, kind: str, sel: dict, loc: tuple) -> tuple[str, ...]:
        """What a duration histogram without the status label means for this SLO: a latency
        SLO is judged over every request (said in its notes; a status matcher on it is
        refused), and errors cannot be counted from it."""
        if self.duration_status:
            return ()
        label, histogram = self.status_label, self.duration_metric
        if kind in ("latency_percentile", "latency_ratio"):
            if sel["histogram_origin"] != "prometheus.duration_metric":
                return ()
            if any(m.label == label for m in sel["buckets"].matchers):
                self.problem(loc + ("selector",),
                             f"{histogram} (preset {self.preset.name!r}) has no label "
                             f"{label!r}, so a latency SLO cannot select by status: it is "
                             f"judged over every request; remove the {label} matcher (from "
                             "this selector or prometheus.selector)")
            return (f"{histogram} carries no {label} label: latency is judged over every "
                    "request, errors included",)
        if (kind in ("error_ratio", "availability") and not sel.get("raw_events")
                and self.requests_metric == histogram + "_count"):
            self.problem(loc, f"prometheus.requests_metric {self.requests_metric} is the "
                              f"latency histogram of preset {self.preset.name!r}, which has no "
                              f"label {label!r}: it cannot tell an error from a success; count "
                              f"requests with {self.preset.requests_metric} (the preset's "
                              "requests_metric) or a counter carrying the status (set "
                              "prometheus.requests_metric and status_label), or write `events:`")
        return ()

    def compact(self, raw: CompactSLOV1, sel: dict, loc: tuple):
        try:
            parsed = compact.parse_compact(raw.objective)
        except ValueError as err:
            self.problem(loc + ("objective",), str(err))
            return None
        warning = None
        if raw.warning is not None:
            try:
                warn = compact.parse_compact(raw.warning)
            except ValueError as err:
                self.problem(loc + ("warning",), str(err))
                return None
            same = (warn.kind == parsed.kind and warn.percentile == parsed.percentile
                    and (warn.op in ("<", "<=")) == (parsed.op in ("<", "<=")))
            if not same:
                self.problem(loc + ("warning",), f"must bound the same thing as the objective "
                                                 f"({raw.objective!r}) on the same side, with a "
                                                 f"safer value (got {raw.warning!r})")
                return None
            warning = warn.value
            self.safe_side(loc, "warning", warning, parsed.value, parsed.op in ("<", "<="),
                           "the objective", shown=(repr(raw.objective), repr(raw.warning)))
        objective = Objective(parsed.op, parsed.value, warning)
        if parsed.kind == "latency_percentile":
            sli = Quantile(sel["buckets"], sel["count"], round(parsed.percentile / 100.0, 12),
                           sel["scale_s"], sel["histogram_origin"])
            return parsed.kind, sli, (objective,), parsed.value
        if parsed.kind == "error_ratio":
            sli = EventRatio(sel["errors"], sel["requests"], good=False)
        elif parsed.kind == "availability":
            sli = EventRatio(sel["good"], sel["requests"], good=True)
        else:
            sli = Throughput(sel["requests"])
        return parsed.kind, sli, (objective,), None

    def explicit(self, raw: _SLOV1, sel: dict, loc: tuple):
        if isinstance(raw, LatencyPercentileV1):
            self.safe_side(loc, "warning_ms", raw.warning_ms, raw.threshold_ms, True,
                           "threshold_ms")
            threshold_s = raw.threshold_ms / 1000.0
            warning = None if raw.warning_ms is None else raw.warning_ms / 1000.0
            sli = Quantile(sel["buckets"], sel["count"], _pct(raw.percentile), sel["scale_s"],
                           sel["histogram_origin"])
            return raw.kind, sli, (Objective("<=", threshold_s, warning),), threshold_s
        if isinstance(raw, LatencyRatioV1):
            self.safe_side(loc, "warning_percent", raw.warning_percent, raw.objective_percent,
                           False, "objective_percent")
            threshold_s = raw.threshold_ms / 1000.0
            origin = sel["histogram_origin"]
            sli = EventRatio(
                Events.of(model.under_threshold(sel["buckets"], threshold_s, sel["scale_s"]),
                          origin), Events.of(sel["count"], origin), good=True)
            warning = None if raw.warning_percent is None else _pct(raw.warning_percent)
            objective = Objective(">=", _pct(raw.objective_percent), warning)
            return raw.kind, sli, (objective,), threshold_s
        if isinstance(raw, ErrorRatioV1):
            self.safe_side(loc, "warning_percent", raw.warning_percent, raw.max_percent, True,
                           "max_percent")
            warning = None if raw.warning_percent is None else _pct(raw.warning_percent)
            sli = EventRatio(sel["errors"], sel["requests"], good=False)
            return raw.kind, sli, (Objective("<=", _pct(raw.max_percent), warning),), None
        if isinstance(raw, AvailabilityV1):
            self.safe_side(loc, "warning_percent", raw.warning_percent, raw.objective_percent,
                           False, "objective_percent")
            warning = None if raw.warning_percent is None else _pct(raw.warning_percent)
            sli = EventRatio(sel["good"], sel["requests"], good=True)
            return raw.kind, sli, (Objective(">=", _pct(raw.objective_percent), warning),), None
        return self.request_rate(raw, sel, loc)

    def request_rate(self, raw: RequestRateV1, sel: dict, loc: tuple):
        if raw.min_rps is None and raw.max_rps is None:
            self.problem(loc, "needs min_rps, max_rps or both, e.g. `min_rps: 1`")
            return None
        if raw.min_rps is not None and raw.max_rps is not None and raw.min_rps >= raw.max_rps:
            self.problem(loc + ("max_rps",), f"must be above min_rps ({raw.min_rps:g}) "
                                             f"(got {raw.max_rps:g})")
        objectives = []
        for bound, warning, op, name in ((raw.min_rps, raw.warning_min_rps, ">=", "min_rps"),
                                         (raw.max_rps, raw.warning_max_rps, "<=", "max_rps")):
            field = f"warning_{name}"
            if bound is None:
                if warning is not None:
                    self.problem(loc + (field,), f"needs {name}: a warning line sits beside an "
                                                 "objective; add it or remove this field")
                continue
            self.safe_side(loc, field, warning, bound, op == "<=", name)
            objectives.append(Objective(op, bound, warning))
        return raw.kind, Throughput(sel["requests"]), tuple(objectives), None


def build_v1(doc: dict, source: str) -> model.Spec:
    """Validate one slo-harness/v1 document into a Spec (SpecError listing every problem)."""
    version = doc.get("version")
    if version != VERSION:
        hint = ("add `version: slo-harness/v1` at the top" if version is None
                else f"unsupported version {validation.got(version)}; this harness reads {VERSION}")
        raise SpecError(source, Problem("version", hint))
    try:
        top = SpecV1.model_validate(doc)
    except ValidationError as err:
        raise SpecError(source, validation.problems(err, SpecV1)) from None
    builder = _Builder(top)
    slos = unique_by_name(((index, builder.slo(index, item))
                           for index, item in enumerate(top.slos)), builder.problem)
    if builder.problems:
        raise SpecError(source, builder.problems)
    return model.Spec(source=source, service=top.service, slos=tuple(slos),
                      description=top.description)
