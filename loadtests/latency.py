"""The client's truth: every response time the load generator saw, kept in HDR histograms.

Locust's own percentiles round response times (to 10 ms under 1 s, 100 ms above), and the
server's histogram interpolates inside a bucket; this keeps every response time in an
HdrHistogram (hdrhistogram from PyPI) with three significant digits (0.1% resolution) from 1 µs to
10 minutes, so the client-side p50/p95/p99 of a run, or of each phase of an experiment, are
exact to 0.1% whatever the distribution (172 KiB per histogram; about 3 µs a response for
the run and its phase):

    latency = ClientLatency(phases=[("baseline", 0, 40), ("outage", 40, 85)])
    latency.reset(t0)                       # a test started (offsets count from here)
    latency.observe(response_ms, at=time.time())
    latency.summary()  -> {"overall": {"count", "p50_ms", "p95_ms", "p99_ms", "max_ms"},
                           "phases": {"baseline": {...}, ...}}

Mergeable across processes (a worker's `drain()` is encoded histograms, the master `merge()`s
them), as Locust's worker reports carry the other client metrics. Pure: no Locust import.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

LOWEST_US, HIGHEST_US, DIGITS = 1, 600_000_000, 3
PERCENTILES = (50, 95, 99)
OVERALL = "overall"
PHASES_VAR = "SLO_EXPERIMENT_PHASES"     # JSON [[name, start_s, end_s], ...] from `slo run`
LATENCY_KEY = "slo_harness_client_latency"
# The recent past, for the SLO tab's live windows: a coarser histogram (two significant digits,
# 1 %: inside the slack of slo.judge.clientside) per RECENT_SLOT_S of wall time, kept KEEP_S.
RECENT_SLOT_S, RECENT_KEEP_S, RECENT_DIGITS = 5, 900, 2


def _histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)


def _recent_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, RECENT_DIGITS)


@dataclass(frozen=True)
class PhaseSpan:
    """A phase of an experiment: seconds after the test's start."""

    name: str
    start_s: float
    end_s: float


def percentiles(histogram: HdrHistogram) -> dict:
    """count, p50/p95/p99 and max in ms (None when nothing was recorded)."""
    count = histogram.get_total_count()
    out = {"count": count}
    for p in PERCENTILES:
        out[f"p{p}_ms"] = (round(histogram.get_value_at_percentile(p) / 1000.0, 3)
                           if count else None)
    out["max_ms"] = round(histogram.get_max_value() / 1000.0, 3) if count else None
    return out


class ClientLatency:
    """Response times of the whole run and of each phase (see the module docstring)."""

    def __init__(self, phases: list[PhaseSpan] | tuple = ()):
        self.phases = tuple(phases)
        self.t0: float | None = None
        self._hist: defaultdict[str, HdrHistogram] = defaultdict(_histogram)
        self._recent: dict[int, HdrHistogram] = {}

    def _slot(self, at: float) -> HdrHistogram:
        slot = int(at // RECENT_SLOT_S)
        if slot not in self._recent:
            oldest = slot - RECENT_KEEP_S // RECENT_SLOT_S
            for old in [k for k in self._recent if k < oldest]:
                del self._recent[old]
            self._recent[slot] = _recent_histogram()
        return self._recent[slot]

    def recent(self, start: float, end: float) -> dict:
        """count, p50/p95/p99 and max in ms of the responses recorded in the RECENT_SLOT_S
        slots that begin inside [start, end) (the window to a slot's precision: its first
        slot may begin up to a slot after `start`, its last, the one running now, end after
        `end`; a worker's responses count when the master merged them)."""
        total = _recent_histogram()
        first, last = math.ceil(start / RECENT_SLOT_S), math.ceil(end / RECENT_SLOT_S) - 1
        for slot, histogram in list(self._recent.items()):
            if first <= slot <= last:
                total.add(histogram)
        return percentiles(total)

    def reset(self, t0: float) -> None:
        """A test started at Unix time t0: forget the last one; phases count from here."""
        self.t0 = t0
        self._hist = defaultdict(_histogram)

    def _window(self, at: float) -> str | None:
        if self.t0 is None:
            return None
        offset = at - self.t0
        return next((p.name for p in self.phases if p.start_s <= offset < p.end_s), None)

    def observe(self, response_ms: float, at: float) -> None:
        """Record one response time (ms), in the run and in the phase running at `at`."""
        value = min(HIGHEST_US, max(LOWEST_US, int(round(response_ms * 1000.0))))
        for key in (OVERALL, self._window(at)):
            if key is not None:
                self._hist[key].record_value(value)
        self._slot(at).record_value(value)

    def drain(self) -> dict | None:
        """The histograms since the last drain, encoded, then restart (a worker's report)."""
        if not self._hist:
            return None
        data = {key: h.encode().decode("ascii") for key, h in self._hist.items()}  # base64
        self._hist = defaultdict(_histogram)
        return data

    def merge(self, data: dict | None, at: float | None = None) -> None:
        """Add a worker's drained histograms (its run's to the recent slot of `at`, default
        now: when the master heard them)."""
        for key, encoded in (data or {}).items():
            other = HdrHistogram.decode(encoded.encode("ascii"))
            self._hist[key].add(other)
            if key == OVERALL:
                self._slot(time.time() if at is None else at).add(other)

    def summary(self) -> dict:
        """Percentiles of the run and of each phase that saw a request."""
        return {
            OVERALL: percentiles(self._hist.get(OVERALL) or _histogram()),
            "phases": {p.name: percentiles(self._hist[p.name]) for p in self.phases
                       if p.name in self._hist},
        }
