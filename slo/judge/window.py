"""The time window a check judges: from a run record, an explicit range, or the last N.

    Window.from_run("reports/<id>/run.json")     the run's [start, end]
    Window.from_range("2026-01-01T12:00:00Z", "1767268860")
    Window.from_last("5m", now=time.time())
"""

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from harness_common.durations import whole_seconds
from slo.errors import WindowError

MIN_WINDOW_S = 10  # two 5 s scrapes: increase() needs two samples
# How far a window's end may lie ahead of this machine's clock: a run record's end is rounded up
# to the next second, and a clock read a moment earlier (--end now) is as good as now.
CLOCK_SLACK_S = 2.0


def iso_utc(moment: float) -> str:
    """Unix seconds as UTC ISO-8601 to the second: 2026-12-02T01:40:39Z."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


@dataclass(frozen=True)
class Window:
    """[start, end] in unix seconds, and where it came from (for reports)."""

    start: float
    end: float
    source: str
    # A run record's client-side latency of the whole run (loadtests.latency's summary:
    # count, p50_ms, p95_ms, p99_ms, max_ms), shown beside the server's histogram.
    client: dict | None = field(default=None, compare=False)
    # A run record's fault windows (loadtests.record.FaultWindow as dicts: kind, params,
    # offsets, applied, backend), so a verdict can tell faults its metrics could not see.
    faults: tuple[dict, ...] = field(default=(), compare=False)

    def __post_init__(self):
        if not (math.isfinite(self.start) and math.isfinite(self.end)):
            raise WindowError(f"{self.source}: start and end must be finite times")
        if self.end - self.start < MIN_WINDOW_S:
            raise WindowError(f"{self.source}: the window is {self.end - self.start:g}s; it must "
                              f"be at least {MIN_WINDOW_S}s (two scrapes) to hold any increase")

    @property
    def seconds(self) -> int:
        """Whole seconds of the window (what increase()[Ns] covers)."""
        return int(round(self.end - self.start))

    def iso(self, which: str) -> str:
        """start or end as UTC ISO-8601 to the second."""
        return iso_utc(getattr(self, which))

    def require_happened(self, now: float) -> None:
        """WindowError when the window ends in the future (beyond CLOCK_SLACK_S): a verdict
        over time that has not happened yet would judge the part that has as the whole."""
        ahead = self.end - now
        if ahead <= CLOCK_SLACK_S:
            return
        shown = f"{ahead:.0f} s in the future ({self.iso('end')})"
        if self.source == "--start/--end":
            raise WindowError(f"--end is {shown}: the window must have happened; use --end now "
                              "or wait until it has ended")
        raise WindowError(f"{self.source} ends {shown}: the window must have happened; wait "
                          "for the run to end (or fix the record, or this machine's clock)")

    @classmethod
    def from_run(cls, path: str | Path) -> "Window":
        """The window of a load-test run record (reports/<id>/run.json or its folder)."""
        from loadtests.errors import RecordError
        from loadtests.record import load_record

        try:
            record = load_record(path)
        except RecordError as err:
            raise WindowError(str(err)) from err
        client = (record.client_latency.overall.model_dump()
                  if record.client_latency is not None else None)
        return cls(record.start.timestamp(), record.end.timestamp(), f"run {record.run_id}",
                   client, tuple(f.model_dump(mode="json") for f in record.faults))

    @classmethod
    def from_range(cls, start: str, end: str) -> "Window":
        """--start/--end: ISO-8601 (Z or offset) or unix seconds."""
        return cls(parse_time("--start", start), parse_time("--end", end), "--start/--end")

    @classmethod
    def from_last(cls, duration: str, now: float) -> "Window":
        """--last 5m: the window ending now."""
        try:
            seconds = whole_seconds(duration)
        except ValueError as err:
            raise WindowError(f"--last: {err}") from None
        return cls(now - seconds, now, f"last {duration}")


def parse_time(flag: str, text: str) -> float:
    """Unix seconds from "1767268800", "2026-01-01T12:00:00Z" or "...+01:00"."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise WindowError(f"{flag}: expected ISO-8601 like 2026-01-01T12:00:00Z or unix "
                          f"seconds (got {text!r})") from None
    if moment.tzinfo is None:
        raise WindowError(f"{flag}: give a time zone (append Z for UTC): {text!r}")
    return moment.timestamp()
