"""What the launcher started (.stack/state.json), and whether a recorded process is still ours.

A pid alone is not an identity: after a crash or a reboot the number can belong to anything.
Each record also keeps the process's start time and the boot id; `down` only signals a process
whose pid, start time and boot match. The start time is counted in seconds since boot, not on
the wall clock: psutil adds /proc/stat's btime to get a wall-clock start, and btime moves
whenever the clock is stepped (NTP, a VM resumed), so a wall-clock start read later no longer
matched the recorded one and `down` left its own parts running. Every part runs as the leader
of its own process group, so stopping the group stops its children too (gunicorn's worker, the
log redactor's child).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from stack.errors import StackError
from stack.files import write_private
from stack.procs import group_exists, pid_alive


def boot_id() -> str | None:
    """This boot's id (Linux), or None elsewhere."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


_TICKS = os.sysconf("SC_CLK_TCK")


def process_start_time(pid: int) -> float | None:
    """When the process started, in seconds since boot (clock steps do not move it), or None
    when it is gone."""
    try:
        started = psutil.Process(pid).create_time()
        # psutil's wall-clock start is ticks since boot plus btime, read just now: taking
        # btime off again gives the ticks (psutil's own pid identity uses them the same way)
        return round((started - psutil.boot_time()) * _TICKS) / _TICKS
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


_WALL_CLOCK = 1e9        # a start above this (31 years after boot) is a Unix time, not uptime
_WALL_SLACK_S = 2.0      # how far btime may have moved since an older state file was written


def _same_start(recorded: float | int | None, actual: float | None) -> bool:
    """True when a recorded start time is the process's `actual` one (seconds since boot).

    Older state files hold clock ticks since boot (ints, before psutil) or a wall-clock start
    (psutil's create_time): those are compared in their own terms, the wall clock with a little
    slack for the btime it was computed from."""
    if recorded is None or actual is None:
        return False
    if isinstance(recorded, int):  # state.json written before psutil: ticks since boot
        return round(actual * _TICKS) == recorded
    if recorded > _WALL_CLOCK:
        return abs(recorded - (actual + psutil.boot_time())) < _WALL_SLACK_S
    return abs(recorded - actual) < 1e-3


@dataclass(frozen=True)
class PartRecord:
    """One started process: enough to find it again, and to be sure it is the same one."""

    name: str
    pid: int
    start_time: float | None
    boot_id: str | None
    url: str
    log: str

    def is_ours(self) -> bool:
        """True while the recorded pid, or its process group, is still what we started.

        A pid with the recorded start time (and boot) is ours, even as a zombie. A pid that is
        gone while its process group lives (an orphaned child) is ours too: Linux never reuses
        a pid as long as a process group with that id exists.
        """
        if self.boot_id is not None and self.boot_id != boot_id():
            return False
        start = process_start_time(self.pid)
        if start is not None:
            return _same_start(self.start_time, start)
        return group_exists(self.pid)

    def leader_alive(self) -> bool:
        """True when the recorded leader process itself runs (same start time)."""
        return pid_alive(self.pid) and _same_start(self.start_time, process_start_time(self.pid))


@dataclass
class StackState:
    """The content of state.json."""

    mode: str                                  # "native" or "compose"
    started_at: float = field(default_factory=time.time)
    ports: dict[str, int] = field(default_factory=dict)
    slo_profile: str = "standard"
    telegram_mode: str = "sandbox"
    target_url: str | None = None              # the service behind the fault proxy, if any
    parts: list[PartRecord] = field(default_factory=list)

    def part(self, name: str) -> PartRecord | None:
        """The record of one part, if started."""
        return next((p for p in self.parts if p.name == name), None)

    def replace_part(self, record: PartRecord) -> None:
        """Add or replace a part's record (keeping start order)."""
        for i, existing in enumerate(self.parts):
            if existing.name == record.name:
                self.parts[i] = record
                return
        self.parts.append(record)

    def drop_part(self, name: str) -> None:
        """Forget a part."""
        self.parts = [p for p in self.parts if p.name != name]


def load_state(path: Path) -> StackState | None:
    """The recorded state, or None when nothing was started (or the file is unreadable)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise StackError(f"{path}: unreadable ({type(err).__name__}); check what runs with "
                         f"`ps` and remove the file once nothing of the stack is left") from err
    parts = [PartRecord(**p) for p in raw.pop("parts", [])]
    return StackState(**raw, parts=parts)


def save_state(path: Path, state: StackState) -> None:
    """Write state.json (mode 600, atomically)."""
    write_private(path, json.dumps(asdict(state), indent=2) + "\n")


def record_for(name: str, pid: int, url: str, log: Path) -> PartRecord:
    """A record for a process just started."""
    return PartRecord(name=name, pid=pid, start_time=process_start_time(pid), boot_id=boot_id(),
                      url=url, log=str(log))


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (two `up`s at once must not race)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
