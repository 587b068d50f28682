"""Apply the active faults to incoming requests (a before_request hook; handlers stay clean).

A latency or hanging-abort fault holds a worker thread for its delay. At most FAULT_MAX_HELD
requests are held at once — fewer than the app's threads — so /metrics, /health and /admin
(never faulted) always find a free thread: a 15 s delay under 40 clients must not blind
Prometheus (a false "app down") or block the DELETE that clears it. A faulted request beyond
that bound is shed at once with 503 (`"shed": true`, counted in app_faults_shed_total{kind}),
as an overloaded server would, so the overload shows in the error ratio instead of hiding.
"""

import random
import socket
import struct
import threading
import time

from flask import jsonify, request
from prometheus_client import Counter

from harness_common.faults.registry import FaultRegistry
from harness_common.faults.routes import matches

ABORTED_STATUS = "aborted"  # the `status` label of a request whose connection was dropped


def _drop_connection() -> None:
    """Reset the client's TCP connection (SO_LINGER 0 makes close() send RST)."""
    sock = request.environ.get("gunicorn.socket")
    if sock is None:  # the test client or another server: nothing to drop
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # the client is already gone, which is what we wanted


class HoldLimit:
    """How many requests faults may hold at once (a non-blocking semaphore)."""

    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError(f"FAULT_MAX_HELD must be >= 1 (got {limit})")
        self.limit = limit
        self._free = threading.BoundedSemaphore(limit)

    def try_hold(self) -> bool:
        """Take a slot now, or False when every slot is taken."""
        return self._free.acquire(blocking=False)

    def release(self) -> None:
        """Give a slot back."""
        self._free.release()


def init_app(app, registry: FaultRegistry, injected: Counter | None = None,
             shed: Counter | None = None) -> None:
    """Install the hook that applies latency, error and abort faults to matching requests."""
    rng = random.Random()  # noqa: S311 - chaos sampling, not security
    limit = HoldLimit(app.config["FAULT_MAX_HELD"])

    def hold(kind: str, seconds: float):
        """Sleep `seconds` in a held slot; a 503 answer when no slot is free (shed)."""
        if seconds <= 0:
            return None
        if not limit.try_hold():
            if shed is not None:
                shed.labels(kind).inc()
            return jsonify(error=f"{kind} fault: {limit.limit} requests are already held; "
                                 "shed at once so /metrics, /health and /admin stay served",
                           injected=True, shed=True), 503
        try:
            time.sleep(seconds)
        finally:
            limit.release()
        return None

    def hit(kind: str):
        fault = registry.get(kind)
        if fault is None or not matches(request.path, fault.spec.routes):
            return None
        if fault.spec.probability < 1.0 and rng.random() >= fault.spec.probability:
            return None
        if injected is not None:
            injected.labels(kind).inc()
        return fault.spec

    @app.before_request
    def apply_faults():
        latency = hit("latency")
        if latency is not None:
            delay = latency.delay_ms + rng.uniform(-latency.jitter_ms, latency.jitter_ms)
            answer = hold("latency", max(0.0, delay) / 1000.0)
            if answer is not None:
                return answer
        abort = hit("abort")
        if abort is not None:
            if abort.mode == "hang":
                answer = hold("abort", abort.hang_s)
                if answer is not None:
                    return answer
            request.environ["target_app.aborted"] = True
            _drop_connection()
            return "", 502  # never reaches the client: its connection is gone
        error = hit("error")
        if error is not None:
            return jsonify(error=error.message, injected=True), error.status
        return None
