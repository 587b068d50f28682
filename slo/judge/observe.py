"""What Prometheus (and the run record) hold about a window: the I/O of a check, in one place.

    observations = observe(prom, spec, window, request)       # frozen Observations
    judgement = judge_window(spec, observations, window, request)   # slo.judge.judgement

observe() runs every query of one check concurrently through slo.judge.prom.Prometheus: per
SLO its value, events and buckets (the fewest queries that give them), whether its selectors
see series with the labels they name (slo.judge.sources), where its data begins, its targets'
coverage (slo.judge.coverage), the slices of --step; per window the faults of every backend
(slo.judge.unseen.window_faults) and the client's latency beside the server's. It judges
nothing. evaluate() is both steps, for callers that only want the judgement.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import Future, ThreadPoolExecutor

from slo.errors import PrometheusError
from slo.judge import counting, coverage, promql, sources
from slo.judge.checker import SliceSample, data_selectors, late_data, late_grace_s, span
from slo.judge.clientside import client_vs_server
from slo.judge.coverage import Coverage
from slo.judge.histogram import Buckets, share_bounds
from slo.judge.judgement import Judgement, Observations, Observed, Request, judge_window
from slo.judge.prom import PartialAnswerError, Prometheus
from slo.judge.unseen import merge_faults, window_faults
from slo.judge.window import Window
from slo.spec.model import SLO, Quantile, Spec, Throughput
from slo.spec.selectors import Selector


def _clean(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def _measure(prom: Prometheus, slo: SLO, window: Window, pool: ThreadPoolExecutor,
             fresh: frozenset[str], new: frozenset[str] = promql.NONE) -> dict:
    """Run the fewest queries that give the SLO's value, events and buckets (futures).

    A latency SLO reads its buckets once (counts per `le`): the total is the +Inf bucket and
    the good events the threshold's bucket, the same data Prometheus would add up again; a
    percentile's value is Prometheus's histogram_quantile() over them. Other SLOs read their
    total and their counted events; the ratio is divided here.
    """
    q = promql.sli_queries(slo, window.seconds, fresh, new)
    at = window.end
    out: dict[str, Future] = {}
    if slo.histogram_buckets is not None:
        out["buckets"] = pool.submit(prom.query, q.buckets, at)
        if isinstance(slo.sli, Quantile):
            out["value"] = pool.submit(prom.scalar, q.value, at)
        return out
    out["total"] = pool.submit(prom.scalar, q.total, at)
    ratio = slo.budget_ratio
    if ratio is not None:
        out["events"] = pool.submit(prom.scalar, q.good if ratio.good else q.bad, at)
    return out


def _numbers(slo: SLO, window: Window, measured: dict, seconds: float) -> dict:
    """The SLO's value, total, good events and buckets from the answers of _measure(); a rate
    divides by the `seconds` between the scrapes its count runs between."""
    if "buckets" in measured:
        histogram = slo.histogram_buckets
        buckets = Buckets.from_samples(measured["buckets"].result(), histogram[1])
        total = buckets.total
        share = (share_bounds(buckets, slo.threshold_s) if slo.threshold_s is not None
                 and buckets.usable and buckets.has(slo.threshold_s) else None)
        good = None if share is None else share[0] * total
        if isinstance(slo.sli, Quantile):
            value = measured["value"].result()
        else:
            value = None if share is None else share[0]
        return {"value": value, "total": total, "good": good, "buckets": buckets}
    total = _clean(measured["total"].result())
    if isinstance(slo.sli, Throughput):
        return {"value": None if total is None else total / seconds, "total": total}
    events = _clean(measured["events"].result())
    value = events / total if events is not None and total else None
    ratio = slo.budget_ratio
    good = events if ratio.good or events is None or total is None else total - events
    return {"value": value, "total": total, "good": good}


def _slices(prom: Prometheus, slo: SLO, window: Window, step_s: int
            ) -> tuple[SliceSample, ...]:
    """Each --step slice's (value, total, buckets) as Prometheus answers them (a latency
    SLO's slices carry their buckets: a p95 above the top bucket)."""
    sliding = promql.sliding(slo, window.start, window.end, step_s)
    values = prom.query_range(sliding.queries.value, sliding.start, sliding.end, step_s)
    totals = prom.query_range(sliding.queries.total, sliding.start, sliding.end, step_s)
    value_at = {t: v for t, v in (values[0]["values"] if values else [])}
    total_at = {t: v for t, v in (totals[0]["values"] if totals else [])}
    buckets_at: dict[float, list] = {}
    if slo.histogram_buckets is not None:
        for series in prom.query_range(sliding.queries.buckets, sliding.start, sliding.end,
                                       step_s):
            for t, v in series["values"]:
                buckets_at.setdefault(t, []).append((series["metric"], v))
    scale_s = slo.histogram_buckets[1] if slo.histogram_buckets is not None else 1.0
    times = [sliding.start + i * step_s
             for i in range(int((sliding.end - sliding.start) // step_s) + 1)]
    return tuple((value_at.get(t), total_at.get(t),
                  Buckets.from_samples(buckets_at[t], scale_s) if t in buckets_at else None)
                 for t in times)


def _coverage(prom: Prometheus, sels: tuple[Selector, ...], g: coverage.Grid,
              ups: dict[tuple[str, coverage.Grid], Future], resets: Future,
              window: Window, grace_until: float, needs: float) -> Coverage:
    """The coverage of the targets of `sels` from the answers of their up and resets
    queries; a target without any up series is measured by its own series (one more query)."""
    per_target, targets, source = [], [], "up"
    for s in sels:
        answer = ups[(coverage.up_query(s, g.step_s, window.seconds), g)].result() if (
            g.count) else []
        name = coverage.target_name(s)
        if g.count and not answer:
            answer = prom.query_range(coverage.samples_query(s, g.step_s), g.first, g.end,
                                      g.step_s)
            name, source = str(promql.target_series(s)), "samples"
        per_target.append(coverage.steps(answer, g))
        targets.append(name)
    return coverage.measure(g, coverage.merged(per_target), tuple(dict.fromkeys(targets)),
                            int(resets.result() or 0), grace_until, needs, source)


def _faults(prom: Prometheus, window: Window) -> tuple[list[dict], list[str]]:
    """Every fault set on any backend in the window: the run record's (a phase's) and the
    backends' own counters (slo.judge.unseen.window_faults); the record's alone, with a note,
    when the counters cannot be read."""
    try:
        return window_faults(prom, window, window.faults), []
    except PrometheusError as err:
        return merge_faults(window.faults, []), [
            f"could not ask the fault backends' counters whether they faulted requests in the "
            f"window: {err}"]


def _client(prom: Prometheus, spec: Spec, window: Window):
    """A run record's client-side percentiles beside the spec's latency histogram (None for a
    window without a record, or a spec without a latency SLO), and a note when unreadable."""
    try:
        return client_vs_server(prom, spec.slos, window.client, window.start, window.end), []
    except PrometheusError as err:
        return None, [f"the server's percentiles beside the client's: {err}"]


def observe(prom: Prometheus, spec: Spec, window: Window,
            request: Request = Request()) -> Observations:   # noqa: B008 - frozen default
    """Everything Prometheus holds about `window` for the SLOs of `spec` (those named in
    request.only), read concurrently. Raises PrometheusError (Prometheus unreachable)."""
    started = time.monotonic()
    slos = [s for s in spec.slos if not request.only or s.name in request.only]

    queries = ThreadPoolExecutor(max_workers=16)
    metrics = sources.metrics_of(slos)
    seen = sources.read_labels(prom, metrics, window.start, window.end, queries)
    scopes = sources.read_scopes(prom, slos, window.start, window.end, queries)
    range_ = f"{window.seconds}s"
    born = {m: queries.submit(prom.query, promql.census_query(m, range_), window.end)
            for m in metrics}
    # one query per SLO (fewer when SLOs share their denominator): where its data begins
    data = {slo.name: data_selectors(slo) for slo in slos}
    begins = {sels: queries.submit(prom.scalar, promql.data_begins(sels, window.seconds),
                                   window.end)
              for sels in dict.fromkeys(data.values()) if sels}
    edges = {sels: queries.submit(prom.query, promql.counted_edges(sels, window.seconds),
                                  window.end)
             for sels in begins}
    intervals = {job: queries.submit(prom.intervals, job)
                 for job in sorted({promql.job_of(s) for sels in data.values() for s in sels})}
    scrape_s = {sels: max(intervals[promql.job_of(s)].result().scrape_s for s in sels)
                for sels in begins}
    # coverage: per target a range query with a point per scrape interval (targets shared by
    # denominators are asked once), per denominator how often its counters reset
    grids = {sels: coverage.grid(window.start, window.end, scrape_s[sels]) for sels in begins}
    ups: dict[tuple[str, coverage.Grid], Future] = {}
    for sels, g in grids.items():
        for s in sels if g.count else ():
            key = (coverage.up_query(s, g.step_s, window.seconds), g)
            if key not in ups:
                ups[key] = queries.submit(prom.query_range, key[0], g.first, g.end, g.step_s)
    resets = {sels: queries.submit(prom.scalar, coverage.resets_query(sels, window.seconds),
                                   window.end) for sels in begins}

    def watched(slo: SLO) -> dict:
        """Where the data begins (a message when late) and the coverage of the window."""
        sels = data[slo.name]
        if not sels:
            return {}
        late = late_data(sels, begins[sels].result(), window, scrape_s[sels])
        grace = math.inf if late else window.start + late_grace_s(window, scrape_s[sels])
        return {"late": late, "coverage": _coverage(prom, sels, grids[sels], ups, resets[sels],
                                                    window, grace, request.min_coverage)}

    def one(slo: SLO) -> Observed:
        metrics = {src.selector.metric for src in slo.sources}
        try:
            census = {m: born[m].result() for m in metrics}
        except PartialAnswerError as err:
            return Observed(slo.name, problems=(str(err),))
        kinds = {m: {row.labels.get("census") for row in census[m]} for m in metrics}
        fresh = frozenset(m for m in metrics if kinds[m] & {"reset", "fresh"})
        new = frozenset(m for m in metrics if "new" in kinds[m])
        measured = _measure(prom, slo, window, queries, fresh, new)
        found: dict = {}
        try:
            problems = tuple(sources.seeing_problems(slo, seen, scopes, span(window)))
            found.update(watched(slo))
            sels = data[slo.name]
            scrapes = counting.edges_of(edges[sels].result()) if sels else (None, None)
            numbers = _numbers(slo, window, measured, counting.span_s(window.seconds, scrapes))
        except PartialAnswerError as err:
            return Observed(slo.name, problems=(str(err),), coverage=found.get("coverage"))
        jobs: dict[str, set[str]] = {}
        for src in slo.sources:
            jobs.setdefault(src.selector.metric, set()).add(promql.job_of(src.selector))
        restarted = counting.reset_note(jobs, census)
        counted = (counting.span_note(window.end - window.seconds, window.end, scrapes),
                   *((restarted,) if restarted else ()))
        slices = _slices(prom, slo, window, request.step_s) if request.step_s else None
        return Observed(slo.name, problems=problems, slices=slices, counted=counted, **found,
                        ends=scrapes[1], **numbers)

    try:
        with ThreadPoolExecutor(max_workers=min(16, max(1, len(slos)))) as pool:
            observed = tuple(pool.map(one, slos))
    finally:
        queries.shutdown(wait=False, cancel_futures=True)
    faults, fault_notes = _faults(prom, window)
    client, client_notes = _client(prom, spec, window)
    return Observations(observed, faults=faults, notes=(*fault_notes, *client_notes),
                        client=client, prometheus=prom.url,
                        evaluated_in_s=time.monotonic() - started)


def evaluate(spec: Spec, prom: Prometheus, window: Window,
             request: Request = Request()) -> Judgement:   # noqa: B008 - frozen default
    """observe() and judge_window(): the judgement of every SLO of `spec` over `window`."""
    return judge_window(spec, observe(prom, spec, window, request), window, request)
