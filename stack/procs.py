"""Process plumbing shared by the native launcher and the test fixtures.

Each child runs in its own session (process group), with stdout/stderr in a log file, so it can
be stopped as a whole and never outlives the caller by accident.
"""

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct TCP ports free on `host` right now (each held until all are picked, so
    the kernel cannot hand the same one out twice)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


@dataclass
class Proc:
    """A child process started by spawn()."""

    name: str
    popen: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        """The child's pid (also its process-group id)."""
        return self.popen.pid

    def alive(self) -> bool:
        """True while the child runs."""
        return self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the child's log (for error messages)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the child's process group, then SIGKILL after `timeout` seconds."""
        stop_pid(self.popen.pid, timeout, popen=self.popen)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> None:
    """In a child, before exec (Linux): receive SIGTERM when the parent dies, even by SIGKILL.

    Children run in their own session (so they can be stopped as a group and a terminal's
    Ctrl-C reaches them once, through the parent); this keeps them from outliving a killed
    parent. Elsewhere it does nothing.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return


def spawn(name: str, cmd: list[str], log_path: Path, env: dict | None = None,
          cwd: str | os.PathLike | None = None, with_parent: bool = False) -> Proc:
    """Start `cmd` in a new session with output appended to `log_path`; with `with_parent` it
    gets SIGTERM when this process dies (see die_with_parent)."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        popen = subprocess.Popen(  # noqa: S603 - argv lists built by the harness
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True,
            preexec_fn=die_with_parent if with_parent else None,
        )
    return Proc(name, popen, log_path)


def spawn_ready(name: str, cmd: list[str], log_path: Path, ready_url: str, *,
                timeout: float = 30.0, env: dict | None = None,
                cwd: str | os.PathLike | None = None) -> Proc:
    """spawn(), then wait until GET `ready_url` answers 2xx; stop it and raise TimeoutError
    (with its log tail) when it does not."""
    proc = spawn(name, cmd, log_path, env=env, cwd=cwd)
    try:
        wait_until(lambda: http_ok(ready_url), timeout, f"{name} at {ready_url}", proc=proc)
    except TimeoutError:
        proc.stop()
        raise
    return proc


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists (zombies count as gone)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def group_exists(pgid: int) -> bool:
    """True while any process of the group exists (zombies included)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_has_live_members(pgid: int) -> bool:
    """True while a non-zombie process of process group `pgid` runs."""
    for proc in psutil.process_iter(["status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.pid) == pgid:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


def stop_pid(pid: int, timeout: float = 10.0, popen: subprocess.Popen | None = None) -> None:
    """Stop the process group led by `pid`: SIGCONT, SIGTERM, then SIGKILL after `timeout`.

    Done when the leader is gone and no member of its group is left (children that outlived
    their leader keep the group alive, and are stopped with it).
    """
    def gone() -> bool:
        leader_gone = popen.poll() is not None if popen is not None else not pid_alive(pid)
        return leader_gone and not group_has_live_members(pid)

    for sig, wait in ((signal.SIGCONT, 0), (signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        if gone():
            break
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not gone():
            time.sleep(0.05)
    if popen is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=1)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1,
               proc: Proc | None = None):
    """Poll `predicate` until it returns a truthy value; raise TimeoutError naming `what`.

    When `proc` is given and dies meanwhile, fail at once with the tail of its log.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if proc is not None and not proc.alive():
            raise TimeoutError(f"{proc.name} exited (code {proc.popen.returncode}) before "
                               f"{what}; log tail:\n{proc.log_tail()}")
        if time.monotonic() >= deadline:
            tail = f"; log tail:\n{proc.log_tail()}" if proc is not None else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{tail}")
        time.sleep(interval)


def http_ok(url: str, timeout: float = 1.0, redirects: bool = True) -> bool:
    """True when GET url answers 2xx (`redirects=False`: the page itself, not where it sends
    the browser, e.g. Prometheus 2.x's /alerts redirecting to its classic UI)."""
    try:
        status = requests.get(url, timeout=timeout, allow_redirects=redirects).status_code
        return 200 <= status < 300
    except requests.RequestException:
        return False


def find_binary(*names: str) -> str | None:
    """The first of `names` found on PATH (e.g. prometheus-alertmanager, alertmanager)."""
    import shutil

    return next((path for name in names if (path := shutil.which(name))), None)
