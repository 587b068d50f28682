"""The fault registry: which faults are on, until when, and switching them off on time.

One registry per app (one gunicorn worker process, see gunicorn.conf.py), shared by all its
threads under a lock. Each fault carries an absolute expiry; `active()` never returns an expired
fault, and a reaper thread removes expired ones on time so they switch off with no request
needed to notice. The clock is injectable for tests.
"""

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from harness_common.faults.model import FaultSpec

log = logging.getLogger("harness_common.faults")


@dataclass(frozen=True)
class ActiveFault:
    """A fault that is on: its spec, when it started and when it switches itself off."""

    spec: FaultSpec
    started_at: float
    expires_at: float

    @property
    def kind(self) -> str:
        """The fault's kind (latency, error, abort)."""
        return self.spec.kind

    def to_json(self, now: float) -> dict:
        """The fault as the admin API shows it, expiry as UTC ISO-8601 and seconds left."""
        iso = lambda t: datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")  # noqa: E731
        return {
            **self.spec.model_dump(mode="json"),
            "started_at": iso(self.started_at),
            "expires_at": iso(self.expires_at),
            "remaining_s": max(0, round(self.expires_at - now, 1)),
        }


class FaultRegistry:
    """Thread-safe map kind -> ActiveFault with TTL expiry."""

    def __init__(self, clock=time.time, reaper: bool = True):
        self._clock = clock
        self._lock = threading.Lock()
        self._faults: dict[str, ActiveFault] = {}
        self._wake = threading.Event()
        self._reaper_enabled = reaper
        self._reaper: threading.Thread | None = None
        self._closed = False

    def now(self) -> float:
        """The registry's clock."""
        return self._clock()

    def set(self, spec: FaultSpec, now: float | None = None) -> ActiveFault:
        """Switch a validated fault on (replacing one of the same kind) for spec.ttl_s seconds
        from `now` (default: the clock; a backend that wrote the end elsewhere passes its)."""
        now = self._clock() if now is None else now
        fault = ActiveFault(spec=spec, started_at=now, expires_at=now + spec.ttl_s)
        with self._lock:
            self._faults[spec.kind] = fault
        log.warning("fault set: %s", _summary(fault))
        self._ensure_reaper()
        self._wake.set()
        return fault

    def clear(self, kind: str | None = None) -> list[str]:
        """Switch off one kind, or every fault when kind is None; return the kinds cleared."""
        with self._lock:
            kinds = list(self._faults) if kind is None else [kind] if kind in self._faults else []
            for k in kinds:
                del self._faults[k]
        for k in kinds:
            log.warning("fault cleared: kind=%s", k)
        return kinds

    def expire_due(self) -> list[str]:
        """Remove every fault whose TTL has passed; return their kinds."""
        now = self._clock()
        with self._lock:
            due = [k for k, f in self._faults.items() if f.expires_at <= now]
            for k in due:
                del self._faults[k]
        for k in due:
            log.warning("fault expired (TTL): kind=%s", k)
        return due

    def active(self) -> list[ActiveFault]:
        """The faults that are on now (expired ones are never returned)."""
        now = self._clock()
        with self._lock:
            return [f for f in self._faults.values() if f.expires_at > now]

    def get(self, kind: str) -> ActiveFault | None:
        """The active fault of this kind, or None."""
        now = self._clock()
        with self._lock:
            fault = self._faults.get(kind)
        return fault if fault is not None and fault.expires_at > now else None

    def is_active(self, kind: str) -> bool:
        """True while a fault of this kind is on."""
        return self.get(kind) is not None

    def close(self) -> None:
        """Stop the reaper thread (tests and shutdown)."""
        self._closed = True
        self._wake.set()

    def _ensure_reaper(self) -> None:
        if not self._reaper_enabled or self._closed:
            return
        with self._lock:
            if self._reaper is None or not self._reaper.is_alive():
                self._reaper = threading.Thread(target=self._reap, name="fault-reaper", daemon=True)
                self._reaper.start()

    def _reap(self) -> None:
        """Sleep until the next expiry (or a change), then expire what is due."""
        while not self._closed:
            self.expire_due()
            with self._lock:
                next_expiry = min((f.expires_at for f in self._faults.values()), default=None)
            timeout = None if next_expiry is None else max(0.0, next_expiry - self._clock()) + 0.01
            self._wake.wait(timeout=timeout if timeout is None else min(timeout, 1.0))
            self._wake.clear()


def _summary(fault: ActiveFault) -> str:
    fields = fault.spec.model_dump(mode="json")
    return " ".join(f"{k}={v}" for k, v in fields.items()) + f" expires_in={fault.spec.ttl_s}s"
