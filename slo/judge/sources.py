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
`slo check` and `slo rules --prometheus` both run these checks. Whether the total has events in
the window and whether a latency threshold is a bucket are judged with the values
(slo.judge.checker, slo.judge.histogram).
"""

from __future__ import annotations

from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass

from slo.judge import promql
from slo.judge.histogram import Buckets
from slo.judge.prom import Prometheus
from slo.spec.model import SLO
from slo.spec.selectors import Matcher, Selector


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


def check_spec(prom: Prometheus, spec, window, slos=None) -> list[tuple[str, str]]:
    """(slo name, problem) for every selector of `spec` that sees nothing in `window`, and
    every latency threshold that is not a bucket of its histogram (the alert rules count the
    requests under that bucket): what `slo rules --prometheus` refuses to write rules for."""
    slos = list(spec.slos if slos is None else slos)
    where = f"between {window.iso('start')} and {window.iso('end')}"
    out: list[tuple[str, str]] = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        seen = read_labels(prom, metrics_of(slos), window.start, window.end, pool)
        bucket_answers = {
            slo.name: pool.submit(prom.query, promql.sli_queries(slo, window.seconds).buckets,
                                  window.end)
            for slo in slos if slo.threshold_s is not None and slo.histogram_buckets}
        for slo in slos:
            labels = {src.selector.metric: seen[src.selector.metric].result()
                      for src in slo.sources}
            found = problems(slo, labels, where)
            out += [(slo.name, p) for p in found]
            if found or slo.name not in bucket_answers:
                continue
            selector, scale = slo.histogram_buckets
            buckets = Buckets.from_samples(bucket_answers[slo.name].result(), scale)
            if buckets.bounds and not buckets.has(slo.threshold_s):
                shown = ", ".join(f"{u / scale:g}" for u in buckets.uppers()) or "none"
                out.append((slo.name, f"{selector.metric} has no bucket at the "
                                      f"{slo.threshold_s * 1000:g} ms threshold (le values "
                                      f"seen: {shown}); its alerts count the requests under "
                                      "that bucket: add it to the histogram, or set the "
                                      "threshold to a bucket"))
    return out
