"""Faults during a load test: the schedule runner and the ledger of what was switched on.

One ChaosController per Locust master (or standalone) process. It switches faults on and off
through the app's admin API (target_app.client.FaultClient, token server-side only), for the
chaos schedule and for the web UI's Chaos tab, and keeps a ledger of every fault window so the
run record can say what was on when. `cleanup()` switches off every fault it set that is still
on; the harness calls it when a test stops, when Locust quits, and at exit, and each fault
carries a TTL (its window plus a margin) so even a killed Locust leaves nothing on for long.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from harness_common.errors import FaultError
from harness_common.faults.model import FaultSpec
from loadtests.record import FaultWindow
from loadtests.schedule import Action, Schedule

log = logging.getLogger("loadtests.chaos")

CLEAR_ATTEMPTS = 3


def utcnow() -> datetime:
    """The current time in UTC (the ledger's clock)."""
    return datetime.now(UTC)


@dataclass
class LedgerEntry:
    """A fault this process switched on (or tried to): when, by whom, until when."""

    kind: str
    source: str  # "schedule" | "web-ui"
    params: dict
    set_at: datetime
    expires_at: datetime
    cleared_at: datetime | None = None
    applied: bool = True
    error: str | None = None
    backend: str | None = None   # where it acts: "app" (in the service) or "proxy" (in front)

    def end(self) -> datetime:
        """When the fault went off: cleared, or expired by its TTL."""
        if self.cleared_at is None:
            return self.expires_at
        return min(self.cleared_at, self.expires_at)

    def is_on(self, now: datetime) -> bool:
        """True while the fault is applied, not cleared and not expired."""
        return self.applied and self.cleared_at is None and now < self.expires_at


class ChaosController:
    """Set and clear faults on the app, remember the windows, clean up what is left on."""

    def __init__(self, client_factory: Callable, clock: Callable[[], datetime] = utcnow,
                 sleep: Callable[[float], None] = time.sleep):
        self._client_factory = client_factory
        self._clock = clock
        self._sleep = sleep
        self.ledger: list[LedgerEntry] = []
        self.cleanup_failed = False

    def _close(self, kind: str | None, when: datetime) -> None:
        for entry in self.ledger:
            if (kind is None or entry.kind == kind) and entry.is_on(when):
                entry.cleared_at = when

    def set_fault(self, spec: FaultSpec, source: str) -> dict:
        """Switch a validated fault on; FaultError (also recorded in the ledger) if refused."""
        params = spec.model_dump(mode="json", exclude={"kind"})
        now = self._clock()
        client = self._client_factory()
        backend = getattr(client, "backend", None)
        try:
            active = client.set(spec.kind, **params)
        except FaultError as err:
            self.ledger.append(LedgerEntry(spec.kind, source, params, now, now, now,
                                           applied=False, error=str(err), backend=backend))
            raise
        self._close(spec.kind, now)  # the app replaces a fault of the same kind
        self.ledger.append(LedgerEntry(spec.kind, source, params, now,
                                       now + timedelta(seconds=spec.ttl_s), backend=backend))
        return active

    def clear_fault(self, kind: str | None) -> list[str]:
        """Switch one kind (None: every fault) off on the app, whoever set it."""
        client = self._client_factory()
        cleared = client.clear(kind)
        self._close(kind, self._clock())
        return cleared

    def list_faults(self) -> list[dict]:
        """The faults on at the app now (whoever set them); FaultError if it cannot say."""
        return self._client_factory().list()

    def backend(self) -> str | None:
        """Where the faults act: "app" (the service's admin API) or "proxy" (in front)."""
        return getattr(self._client_factory(), "backend", None)

    def open_kinds(self) -> list[str]:
        """Kinds this process switched on that are still on."""
        now = self._clock()
        return sorted({e.kind for e in self.ledger if e.is_on(now)})

    def cleanup(self, reason: str) -> bool:
        """Switch off every fault this process set that is still on; False if one stays on."""
        ok = True
        for kind in self.open_kinds():
            for attempt in range(1, CLEAR_ATTEMPTS + 1):
                try:
                    self.clear_fault(kind)
                    log.info("chaos: cleared %s fault (%s)", kind, reason)
                    break
                except FaultError as err:
                    if attempt == CLEAR_ATTEMPTS:
                        expiry = max(e.expires_at for e in self.ledger if e.kind == kind)
                        log.error("chaos: could not clear the %s fault (%s): %s; it switches "
                                  "itself off at %s (TTL)", kind, reason, err,
                                  expiry.isoformat(timespec="seconds"))
                        ok = False
                    else:
                        self._sleep(0.2 * attempt)
        if not ok:
            self.cleanup_failed = True
        return ok

    def apply(self, action: Action, source: str = "schedule") -> None:
        """Carry out one schedule action; log (and record) a refusal instead of raising."""
        try:
            if action.op == "set":
                self.set_fault(action.spec, source)
                log.info("chaos: %s fault on (%s)", action.kind,
                         ", ".join(f"{k}={v}" for k, v in
                                   action.spec.model_dump(exclude={"kind"}).items()))
            elif action.explicit or action.kind in self.open_kinds():
                self.clear_fault(None if action.kind == "all" else action.kind)
                log.info("chaos: %s fault off", action.kind)
        except FaultError as err:
            log.error("chaos: schedule step at %.1fs (%s %s) failed: %s", action.at_s, action.op,
                      action.kind, err)

    def run_schedule(self, schedule: Schedule, started: float, sleep=time.sleep,
                     monotonic=time.monotonic) -> None:
        """Apply the schedule's actions at their times, counted from `started` (monotonic)."""
        for action in schedule.actions:
            delay = started + action.at_s - monotonic()
            if delay > 0:
                sleep(delay)
            self.apply(action)

    def windows(self, start: datetime, end: datetime) -> list[FaultWindow]:
        """The ledger's fault windows that overlap [start, end], clipped to it."""
        windows = []
        for entry in self.ledger:
            lo, hi = max(entry.set_at, start), min(entry.end(), end)
            if hi < lo or (hi == lo and entry.applied):
                continue
            windows.append(FaultWindow(
                kind=entry.kind, source=entry.source, params=entry.params, start=lo, end=hi,
                start_offset_s=round((lo - start).total_seconds(), 3),
                end_offset_s=round((hi - start).total_seconds(), 3),
                applied=entry.applied, error=entry.error, backend=entry.backend,
            ))
        return windows
