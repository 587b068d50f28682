"""The client's truth beside the server's figure: exact client-side percentiles (the load
generator's HDR histograms, loadtests.latency) next to the server histogram's p50/p95/p99 over
the same window, each with the bucket that holds it, and a warning when they disagree by more
than the bucket allows.

    compare(client, buckets) -> LatencyComparison      (pure)
    server_buckets(prom, slo, window_s, at) -> Buckets  (one query: the histogram over the window)
    client_vs_server(prom, slos, client, start, end)    (both: None without a latency SLO)

The client times the whole exchange (its own overhead, the connection, the server's accept
queue), the server only its handler, so the client's value may lie a little outside the
server's bucket: SLACK_S (10 ms) or 5% of the bucket's upper bound, whichever is more (a Python
client with 12 threads on 2 cores measured a 0.6 ms handler as 4.4 ms at the median). Beyond
that the two disagree, and a figure in a report should not be trusted without knowing why
(requests the server histogram does not see, a proxy's delay, the client's machine overloaded).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from slo.judge import promql
from slo.judge.histogram import Buckets, format_bounds, quantile_bounds, rank_bucket
from slo.judge.prom import Prometheus
from slo.spec.model import SLO, Quantile

QUANTILES = (0.5, 0.95, 0.99)
SLACK_S, SLACK_SHARE = 0.010, 0.05
COUNT_SLACK = 0.10   # client and server counts further apart than this: not the same requests
# A quantile is compared only with at least this many requests above it: the p95 of 72
# requests is the 4th slowest, which a scrape's worth of requests at the window's edge moves.
MIN_TAIL = 10


def interpolate(buckets: Buckets, q: float) -> float | None:
    """histogram_quantile(q) as Prometheus computes it: linear inside the bucket holding the
    rank; the second-highest bound when the rank falls in the +Inf bucket."""
    i = rank_bucket(buckets, q)
    if i is None:
        return None
    upper, count = buckets.bounds[i]
    if math.isinf(upper):
        return buckets.bounds[i - 1][0] if i else None
    if i == 0 and upper <= 0:
        return upper
    below_bound, below_count = buckets.bounds[i - 1] if i else (0.0, 0.0)
    inside = count - below_count
    share = 0.0 if inside <= 0 else (q * buckets.total - below_count) / inside
    return below_bound + (upper - below_bound) * share


@dataclass(frozen=True)
class QuantileView:
    """One quantile: the client's exact value, the server's interpolated one and its bucket."""

    q: float
    client_s: float | None
    server_s: float | None
    low_s: float | None
    high_s: float | None
    requests: float = math.inf     # the fewer of the two counts

    @property
    def too_few(self) -> bool:
        """Fewer than MIN_TAIL requests above the quantile: too few to compare."""
        return self.requests * (1.0 - self.q) < MIN_TAIL

    @property
    def agrees(self) -> bool | None:
        """True when the client's value lies in the server's bucket (with the slack); None when
        either side has no value or too few requests lie above it."""
        if self.client_s is None or self.low_s is None or self.high_s is None or self.too_few:
            return None
        slack = max(SLACK_S, SLACK_SHARE * (self.high_s if math.isfinite(self.high_s)
                                            else self.low_s))
        return self.low_s - slack <= self.client_s <= self.high_s + slack

    def as_dict(self) -> dict:
        """JSON-ready (seconds; an open bucket's upper bound as "+Inf")."""
        return {"q": self.q, "client_s": self.client_s, "server_s": self.server_s,
                "server_bounds": None if self.low_s is None else
                [self.low_s, "+Inf" if math.isinf(self.high_s) else self.high_s],
                "agrees": self.agrees, "too_few": self.too_few}


@dataclass(frozen=True)
class LatencyComparison:
    """Client and server percentiles of one window, and what does not agree."""

    client_count: int
    server_count: float     # in the server's histogram over the window
    quantiles: tuple[QuantileView, ...]
    slo: str = ""
    # True when server_count is exact (client_vs_server); else it is increase()'s estimate,
    # extrapolated to the window's edges, too rough to say the two saw different requests.
    counted_exactly: bool = False
    # Requests the two may count apart at the window's edges: the server's count runs from
    # the last scrape before the start to the last before the end (a scrape's worth each end).
    edge_requests: float = 0.0

    @property
    def warnings(self) -> tuple[str, ...]:
        """One line per quantile where the client's value is outside the server's bucket, and
        one when the two did not count the same requests."""
        out = []
        if self.client_count and not self.server_count:
            out.append(f"the server histogram counted no request in this window, the client "
                       f"sent {self.client_count}: nothing to compare them with (check the "
                       f"latency SLO's histogram selector, and that Prometheus scrapes the "
                       f"service the load went to)")
        elif self.counted_exactly and self.client_count and (
                self.edge_requests >= self.client_count):
            out.append(f"the window spans 2 scrape intervals or less: a scrape's worth of "
                       f"requests at each edge may fall on either side, which is all of the "
                       f"client's {self.client_count}, so whether the server counted the same "
                       f"requests ({self.server_count:.0f}) cannot be told (judge a window "
                       f"longer than 4 scrapes)")
        elif self.counted_exactly and self.client_count and abs(
                self.server_count - self.client_count) > (
                COUNT_SLACK * self.client_count + self.edge_requests):
            out.append(f"the server histogram counted {self.server_count:.0f} requests, the "
                       f"client sent {self.client_count}: they do not see the same requests "
                       f"(other traffic, routes the SLO does not select, or requests that "
                       f"never reached the server), so their percentiles describe different "
                       f"sets")
        for v in self.quantiles:
            if v.agrees is False:
                bucket = format_bounds(v.low_s, v.high_s, "s")
                out.append(f"p{v.q * 100:g}: the client measured {v.client_s * 1000:.1f} ms, "
                           f"outside the server's {bucket} (server "
                           f"{v.server_s * 1000:.1f} ms): the server histogram does not see "
                           f"these requests as the client does")
        return tuple(out)

    def as_dict(self) -> dict:
        """JSON-ready."""
        return {"slo": self.slo, "client_count": self.client_count,
                "server_count": self.server_count, "server_count_exact": self.counted_exactly,
                "quantiles": [v.as_dict() for v in self.quantiles],
                "warnings": list(self.warnings)}


    def rows(self) -> list[tuple[str, str, str, str]]:
        """(quantile, client, server with its bucket, agreement) per quantile, as text."""
        out = []
        for v in self.quantiles:
            client = "-" if v.client_s is None else f"{v.client_s * 1000:.1f} ms"
            server = "-" if v.server_s is None else (
                f"{v.server_s * 1000:.1f} ms ({format_bounds(v.low_s, v.high_s, 's')})")
            mark = {True: "agrees", False: "DISAGREES", None: "-"}[v.agrees]
            if v.agrees is None and v.too_few and v.client_s is not None:
                mark = f"too few requests to compare (fewer than {MIN_TAIL} above it)"
            out.append((f"p{v.q * 100:g}", client, server, mark))
        return out


def compare(client: dict, buckets: Buckets, slo: str = "",
            server_count: float | None = None, edge_requests: float = 0.0
            ) -> LatencyComparison:
    """`client`: loadtests.latency's summary of one window (count, p50_ms, p95_ms, p99_ms);
    `server_count`: the server's exact count when known (else the buckets' estimate)."""
    count = int(client.get("count") or 0)
    served = buckets.total if server_count is None else server_count
    views = []
    for q in QUANTILES:
        ms = client.get(f"p{q * 100:g}_ms")
        bounds = quantile_bounds(buckets, q)
        views.append(QuantileView(q, None if ms is None else ms / 1000.0,
                                  interpolate(buckets, q),
                                  None if bounds is None else bounds[0],
                                  None if bounds is None else bounds[1], min(count, served)))
    return LatencyComparison(count, served, tuple(views), slo,
                             counted_exactly=server_count is not None,
                             edge_requests=edge_requests)


def latency_sli(slos) -> SLO | None:
    """The first latency-percentile SLO of a spec (its histogram is the server's figure)."""
    return next((s for s in slos if isinstance(s.sli, Quantile)), None)


def client_vs_server(prom: Prometheus, slos, client: dict | None, start: float, end: float,
                     scrape_s: float | None = None) -> LatencyComparison | None:
    """The client's summary of [start, end] beside the spec's latency histogram over the same
    window; None without a latency SLO or without client requests. `scrape_s`: the scrape
    interval (default: the running config's, for the SLO's job). Raises PrometheusError."""
    slo = latency_sli(slos)
    if slo is None or not client or not client.get("count"):
        return None
    window_s = max(1, int(round(end - start)))
    if scrape_s is None:
        scrape_s = prom.intervals(promql.job_of(slo.sli.count)).scrape_s
    counted = prom.scalar(promql.exact_count(slo.sli.count, f"{window_s}s"), end)
    edge = 2.0 * scrape_s * int(client["count"]) / window_s
    return compare(client, server_buckets(prom, slo, window_s, end), slo.name, counted, edge)


def server_buckets(prom: Prometheus, slo: SLO, window_s: int, at: float) -> Buckets:
    """The SLO's histogram over the window before `at` (born series counted)."""
    sli = slo.sli
    samples = prom.query(promql.counted_by_le(sli.buckets, f"{int(window_s)}s"), at)
    return Buckets.from_samples(samples, scale_s=sli.scale_s)
