"""Fixtures of the reliability suite (the shared ones live in tests/conftest.py)."""

import pytest

from stack.procs import Proc


@pytest.fixture
def respawn():
    """Stops, after the test, every process a test started itself (restarts on a fixed port).

    Usage: `proc = respawn(spawn_app(...))`; returns its argument.
    """
    procs: list[Proc] = []

    def track(proc: Proc) -> Proc:
        procs.append(proc)
        return proc

    yield track
    for proc in reversed(procs):
        proc.stop()
