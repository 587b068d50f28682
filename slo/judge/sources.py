"""Before judging: prove that every selector of an SLO looks at something.

A selector that names a label its metric does not have matches nothing (`code=~"5.."` on a
metric labelled `status` counts no errors, ever) or everything (`endpont!~"/metrics"` keeps
the scrapes), and a metric that does not exist counts zero: each would let a gate pass on data
it never saw. So, for every metric an SLO reads, the judge asks Prometheus which labels its
series carry in the window (one `/api/v1/labels?match[]=<metric>` per metric, concurrently),
and refuses to judge (exit 2) when

    the metric has no series in the window     "app_requests_totl has no series between ..."
    a matcher names a label the metric lacks   'http_requests_total has no label "status"
                                                (labels seen: code, handler, instance, job,
                                                method); set prometheus.status_label'

A matcher `label=""` (the label must be absent) is the one kind that may name a missing label.

Label names are not enough: a label VALUE that matches nothing (`endpoint="/api/projects/<id>"`
where the route is `<project_id>`) makes an error query count 0 errors, and a status label
that holds no status (`status_label: method`: GET, POST) makes `method=~"5.."` count 0 errors.
But a healthy service may have no error series yet (a counter creates its status="500" series
at the first 500), so "the error query matches nothing" alone proves nothing. So, for each
counting selector, the judge sets aside its STATUS MATCHERS and asks Prometheus once what the
rest selects (`/api/v1/label/<status label>/values?match[]=<rest>`, or `/api/v1/labels` when
there is no status matcher), and refuses to judge (exit 2) when

    the rest selects no series        'app_requests_total{job="app",endpoint="/x/<id>"} selects
                                       no series ...: no series has endpoint="/x/<id>"
                                       (endpoint values seen: /x/<project_id>, ...); fix ...'
    the status label holds no status  'app_requests_total: the label "method" holds no status
                                       code ... (values seen: GET, POST), ...; set
                                       prometheus.status_label ...'

The status matchers of an event query (bad or good events) are its matchers on a label that
holds the status: the spec's `prometheus.status_label`, or a usual name of one (code, status,
... slo.spec.presets.STATUS_LABEL_NAMES). A query without any (`checkout_total{result=
"failed"}`) tells its events apart by the matchers the total does not have: those are set aside
instead. A total of several counters has each of its selectors checked the same way; a
single-counter total and a latency SLO's histogram count are asked whether they select any
series at all (a route typo `endpoint="/api/wrok"` then names its matcher and the values the
label has, instead of only "no events"). Only when the rest selects nothing does the judge ask
more (each matcher's label values), to name the matcher and the values its label has.
`slo check` and `slo rules --prometheus` both run these checks, through one proof
(slo.judge.judgement.unobserved; the rules' side: slo.judge.seeing). Whether the total has
events in the window and whether a latency threshold is a bucket are judged with the values
(slo.judge.checker, slo.judge.histogram).
"""

from __future__ import annotations

import difflib
import os
import re
from concurrent.futures import Executor, Future
from dataclasses import dataclass

from slo.judge.prom import Prometheus
from slo.spec.model import SLO, Quantile, Source
from slo.spec.presets import STATUS_LABEL_NAMES, label_domain
from slo.spec.selectors import Matcher, Selector

SHOWN_VALUES = 6  # label values a message lists, the closest to the wrong one first


def metric_selector(metric: str) -> str:
    """Every series of a metric, as a match[] selector."""
    return str(Selector("", (Matcher("__name__", "=", metric),)))


@dataclass(frozen=True)
class Seen:
    """The label names of one metric's series in the window (empty: no series)."""

    metric: str
    labels: frozenset[str]


def metrics_of(slos) -> list[str]:
    """Every metric the SLOs read, sorted."""
    return sorted({src.selector.metric for slo in slos for src in slo.sources})


def read_labels(prom: Prometheus, metrics: list[str], start: float, end: float,
                pool: Executor) -> dict[str, Future]:
    """Ask for each metric's label names, concurrently: {metric: Future[Seen]}."""
    def one(metric: str) -> Seen:
        names = prom.label_names(metric_selector(metric), start, end)
        return Seen(metric, frozenset(n for n in names if n != "__name__"))
    return {metric: pool.submit(one, metric) for metric in metrics}


def problems(slo: SLO, seen: dict[str, Seen], span: str) -> list[str]:
    """What keeps `slo` from looking at data, with the fix (empty: every selector can see).

    `span` names the window in messages ("between 12:00:00Z and 12:05:00Z")."""
    out: list[str] = []
    reported: set[tuple[str, str]] = set()
    # totals first: a metric missing from both is reported with the total's fix
    for source in sorted(slo.sources, key=lambda src: src.role == "events"):
        metric = source.selector.metric
        labels = seen[metric].labels
        if not labels:
            if (metric, "") in reported:
                continue
            reported.add((metric, ""))
            what = f"check the metric name ({source.origin})" if source.origin else (
                "check the metric name")
            extra = ("; a counter that has counted nothing yet is not exported: initialise it "
                     "at 0 when the service starts" if source.role == "events" else "")
            out.append(f"{metric} has no series {span}: {what} and that Prometheus scrapes "
                       f"the service{extra}")
            continue
        for matcher in source.selector.matchers:
            if matcher.label in labels or (matcher.op == "=" and matcher.value == ""):
                continue
            if (metric, matcher.label) in reported:
                continue
            reported.add((metric, matcher.label))
            shown = ", ".join(sorted(labels))
            out.append(f'{metric} has no label "{matcher.label}" (labels seen: {shown}); '
                       f"{slo.hint(matcher.label, source.origin)}")
    return out


@dataclass(frozen=True)
class Look:
    """What to ask about one counting selector: what its matchers other than the status ones
    select (`selector`), reading the values of `status_label` (None: the label names).
    `covered`: the selector is one of the total's, whose emptiness reads "no events"."""

    selector: Selector
    status_label: str | None
    covered: bool


@dataclass(frozen=True)
class Scope:
    """The answer for one Look: the status label's values (or the label names) of the series
    it selects, empty when it selects none. When empty: `unlabelled` (series exist, without the
    status label) or `misses`, the matchers that match none of their label's values, each with
    those values."""

    look: Look
    values: tuple[str, ...]
    unlabelled: bool = False
    misses: tuple[tuple[Matcher, tuple[str, ...]], ...] = ()


def status_labels(slo: SLO) -> frozenset[str]:
    """The labels that hold a status for `slo`: its spec's setting and the usual names."""
    return frozenset(STATUS_LABEL_NAMES) | frozenset(slo.status_labels)


def status_matchers(slo: SLO, source: Source) -> tuple[Matcher, ...]:
    """The matchers of `source` that may legitimately select nothing in a healthy service:
    those on a status label; for an event query without any, those the total lacks; for a
    term of a total of several, also those not every term has (`jobs_total{result="ok"} +
    jobs_total{result="failed"}`: the failed series is born at the first failure)."""
    on_status = tuple(m for m in source.selector.matchers if m.label in status_labels(slo))
    totals = slo.sli.total.selectors
    if source.role == "total" and len(totals) > 1:
        common = set.intersection(*(set(t.matchers) for t in totals))
        return on_status + tuple(m for m in source.selector.matchers
                                 if m not in common and m not in on_status)
    if on_status or source.role != "events":
        return on_status
    shared = {m for t in totals for m in t.matchers}
    return tuple(m for m in source.selector.matchers if m not in shared)


def looks(slo: SLO) -> dict[Source, Look]:
    """What to ask for each counting selector of `slo`. A latency SLO's denominator (its
    histogram's count) and a single-counter total are asked whether they select any series
    at all, so a route typo names its matcher and the values its label has (their buckets and
    threshold are checked with the values)."""
    if slo.histogram_buckets is not None or isinstance(slo.sli, Quantile):
        return {src: Look(src.selector, None, False) for src in slo.sources
                if src.role in ("total", "count")}
    totals = slo.sli.total.selectors
    out: dict[Source, Look] = {}
    for source in slo.sources:
        if source.role not in ("events", "total"):
            continue
        if source.role == "total" and len(totals) == 1:
            out[source] = Look(source.selector, None, False)
            continue
        status = status_matchers(slo, source)
        rest = Selector(source.selector.metric,
                        tuple(m for m in source.selector.matchers if m not in status))
        label = min((m.label for m in status if m.label in status_labels(slo)), default=None)
        covered = source.role == "events" and rest in totals
        if label is None and covered:
            continue  # nothing to learn that the total's count does not say
        out[source] = Look(rest, label, covered)
    return out


def looks_of(slos) -> set[Look]:
    """Every distinct Look of the SLOs (one query each)."""
    return {look for slo in slos for look in looks(slo).values()}


def _matches(matcher: Matcher, value: str) -> bool:
    if matcher.op in ("=", "!="):
        return (value == matcher.value) == (matcher.op == "=")
    try:
        found = re.fullmatch(matcher.value, value) is not None
    except re.error:
        return True  # a regex Python cannot read: cannot say it misses
    return found == (matcher.op == "=~")


def _misses(prom: Prometheus, selector: Selector, start: float,
            end: float) -> tuple[tuple[Matcher, tuple[str, ...]], ...]:
    """The matchers of `selector` (which selects nothing) that match no value of their label:
    first among the series the other matchers select, then among all of the metric's."""
    def miss(matcher: Matcher, among: tuple[Matcher, ...]):
        values = prom.label_values(matcher.label, str(Selector(selector.metric, among)),
                                   start, end)
        if not values or _matches(matcher, "") or any(_matches(matcher, v) for v in values):
            return None
        return matcher, tuple(sorted(values))
    for others in (lambda m: tuple(x for x in selector.matchers if x != m), lambda m: ()):
        found = tuple(r for m in selector.matchers if (r := miss(m, others(m))) is not None)
        if found:
            return found
    return ()


def _read_scope(prom: Prometheus, look: Look, start: float, end: float) -> Scope:
    match = str(look.selector)
    if look.status_label is not None:
        values = prom.label_values(look.status_label, match, start, end)
    else:
        values = [n for n in prom.label_names(match, start, end) if n != "__name__"]
    if values or look.covered:
        return Scope(look, tuple(sorted(values)))
    if look.status_label is not None and prom.label_names(match, start, end):
        return Scope(look, (), unlabelled=True)
    return Scope(look, (), misses=_misses(prom, look.selector, start, end))


def read_scopes(prom: Prometheus, slos, start: float, end: float,
                pool: Executor) -> dict[Look, Future]:
    """Ask what each Look of the SLOs selects, concurrently: {look: Future[Scope]}."""
    return {look: pool.submit(_read_scope, prom, look, start, end)
            for look in sorted(looks_of(slos), key=str)}


def shown_values(values: tuple[str, ...], near: str) -> str:
    """A few of `values`, the closest to `near` first (the longest common start, then the
    most alike)."""
    def distance(value: str) -> tuple[int, float]:
        return (-len(os.path.commonprefix([near, value])),
                -difflib.SequenceMatcher(None, near, value).ratio())
    first = sorted(values, key=distance)[:SHOWN_VALUES]
    more = len(values) - len(first)
    return ", ".join(first) + (f", … ({more} more)" if more > 0 else "")


def _to_status_label(hint: str) -> str:
    if hint.startswith("set "):
        return f"{hint} to the label holding the status code"
    return f"{hint}: match the label holding the status code"


def scope_problems(slo: SLO, scopes: dict[Look, Scope], seen: dict[str, Seen],
                   span: str) -> list[str]:
    """What the answers of `slo`'s Looks say keeps it from seeing its events, with the fix."""
    out: list[str] = []
    for source, look in looks(slo).items():
        scope = scopes[look]
        metric, label = look.selector.metric, look.status_label
        if scope.values:
            if label is None or any(v in label_domain(label)[0] for v in scope.values):
                continue
            like = sorted((seen[metric].labels & frozenset(STATUS_LABEL_NAMES)) - {label})
            named = (f" (a label of {metric} named like one: "
                     f"{', '.join(repr(n).replace(chr(39), chr(34)) for n in like)})"
                     if like else "")
            problem = (f'{metric}: the label "{label}" holds no status code {span} (values '
                       f"seen: {shown_values(scope.values, '500')}), so it cannot tell an "
                       f"error from a success; "
                       f"{_to_status_label(slo.hint(label, source.origin))}{named}")
        elif look.covered:
            continue
        elif scope.unlabelled:
            problem = (f'{look.selector} selects series without a label "{label}" {span}, so '
                       f"no event of them can match {label}: "
                       f"{_to_status_label(slo.hint(label, source.origin))}")
        else:
            why = "; ".join(f"no series has {m} ({m.label} values seen: "
                            f"{shown_values(values, m.value)})" for m, values in scope.misses)
            fix = (slo.hint(scope.misses[0][0].label, source.origin) if scope.misses
                   else f"fix {source.origin}" if source.origin else "fix the spec's selectors")
            problem = (f"{look.selector} selects no series {span}, so its events would count "
                       f"as 0: {why or 'no series has all of its matchers at once'}; {fix} "
                       "(or, if nothing was sent there in the window, judge a window with its "
                       "traffic)")
        if problem not in out:
            out.append(problem)
    return out


def seeing_problems(slo: SLO, seen: dict[str, Future], scopes: dict[Look, Future],
                    span: str) -> list[str]:
    """Everything that keeps `slo`'s selectors from seeing data, from the answers of
    read_labels() and read_scopes(): problems(), else scope_problems() (raises
    PartialAnswerError when an answer was partial)."""
    labels = {src.selector.metric: seen[src.selector.metric].result() for src in slo.sources}
    return problems(slo, labels, span) or scope_problems(
        slo, {look: scopes[look].result() for look in looks(slo).values()}, labels, span)
