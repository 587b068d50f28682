"""Apply the active faults to incoming requests (a before_request hook; handlers stay clean)."""

import random
import socket
import struct
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


def init_app(app, registry: FaultRegistry, injected: Counter | None = None) -> None:
    """Install the hook that applies latency, error and abort faults to matching requests."""
    rng = random.Random()  # noqa: S311 - chaos sampling, not security

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
            time.sleep(max(0.0, delay) / 1000.0)
        abort = hit("abort")
        if abort is not None:
            if abort.mode == "hang":
                time.sleep(abort.hang_s)
            request.environ["target_app.aborted"] = True
            _drop_connection()
            return "", 502  # never reaches the client: its connection is gone
        error = hit("error")
        if error is not None:
            return jsonify(error=error.message, injected=True), error.status
        return None
