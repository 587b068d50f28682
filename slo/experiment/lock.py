"""One experiment per stack at a time: an exclusive lock in the stack's run directory.

    with ExperimentLock(stack_dir, run_id):    # RunnerError naming the holder when it is taken
        ...

The lock is an flock on <stack dir>/experiment.lock, so the kernel releases it when its holder
dies (even by SIGKILL): a dead holder never keeps it. The file says who holds it (run id,
start time, pid) for the message a second run prints.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from harness_common.errors import HarnessError

LOCK_NAME = "experiment.lock"


class ExperimentBusy(HarnessError):
    """Another experiment runs on this stack."""


class ExperimentLock:
    """Held from enter to exit; not re-entrant."""

    def __init__(self, stack_dir: str | os.PathLike, run_id: str):
        self.path = Path(stack_dir) / LOCK_NAME
        self.run_id = run_id
        self._fd: int | None = None

    def _holder(self) -> str:
        try:
            info = json.loads(self.path.read_text(encoding="utf-8") or "{}")
            started = datetime.fromtimestamp(float(info["started_at"]), UTC)
            return (f"run {info['run_id']} (pid {info['pid']}, started "
                    f"{started:%Y-%m-%d %H:%M:%S} UTC)")
        except (OSError, ValueError, KeyError, TypeError):
            return "another run"

    def __enter__(self) -> ExperimentLock:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ExperimentBusy(
                f"{self._holder()} is running an experiment on the stack in "
                f"{self.path.parent}; one experiment per stack at a time: wait for it to end, or "
                f"use another stack (STACK_DIR and ports)") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"run_id": self.run_id, "pid": os.getpid(),
                                 "started_at": time.time()}).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
