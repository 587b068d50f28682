"""`python -m stack.proxy.watchdog`: every proxy fault ends at its TTL, whoever is stuck.

    python -m stack.proxy.watchdog --admin-url http://127.0.0.1:9901 --parent-pid PID

Envoy's runtime has no expiry, so the controller writes each fault's end into Envoy beside the
fault, in the same /runtime_modify (`harness.<slug>.<delay|abort>_expires_at`, see
stack.proxy.runtime). This process ends what the controller did not: every INTERVAL_S it reads
Envoy's /runtime and, in one /runtime_modify, removes every group (one kind on one route) whose
end passed more than GRACE_S ago, or that holds fault keys and no valid end. The grace lets a
live controller always switch its own faults off first (its reaper acts at the TTL), so the two
never race; a controller that is stopped (SIGSTOP), hung or killed leaves nothing on past
TTL + GRACE_S + INTERVAL_S.

It is not the controller: stack.proxy.serve spawns it as a process of its own, in a process
group of its own (a signal to the controller's group does not reach it), next to Envoy. It holds
no state and no token (it speaks only to Envoy's loopback admin endpoint). It exits by itself
when its parent (the controller) is gone and there is nothing left to end: no fault group in
Envoy, or Envoy's admin silent for SILENT_EXIT_S (a killed native controller takes Envoy with
it). The controller stops it on a clean shutdown.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from harness_common.faults.model import MAX_TTL_S
from stack.proxy.envoy import EnvoyAdmin, EnvoyError
from stack.proxy.runtime import GROUPS, groups, overrides, parse_expiry

INTERVAL_S = 0.5
GRACE_S = 1.0
SILENT_EXIT_S = 10.0
log = logging.getLogger("stack.proxy.watchdog")


@dataclass(frozen=True)
class Reset:
    """One fault group to remove from Envoy, and why."""

    slug: str
    group: str      # "delay" | "abort"
    why: str

    def updates(self) -> dict[str, str]:
        """Every key of the group -> '' (removes Envoy's override)."""
        return {f"harness.{self.slug}.{name}": "" for name in GROUPS[self.group]}


def due_resets(have: Mapping[str, str], now: float, grace: float = GRACE_S) -> list[Reset]:
    """The groups of `have` (Envoy's harness overrides) to remove at epoch second `now`: those
    whose end passed more than `grace` seconds ago, and those with no valid end (missing, not
    a number, or further away than the longest TTL). Pure."""
    resets = []
    for (slug, group), keys in sorted(groups(have).items()):
        raw = keys.get(f"{group}_expires_at")
        expires_at = parse_expiry(raw)
        if raw is None:
            why = f"no {group}_expires_at key (not set by a controller)"
        elif expires_at is None:
            why = f"{group}_expires_at {raw[:40]!r} is not epoch seconds"
        elif expires_at > now + MAX_TTL_S + grace:
            why = f"{group}_expires_at is further away than the longest TTL ({MAX_TTL_S}s)"
        elif now > expires_at + grace:
            why = f"its TTL ended {now - expires_at:.1f}s ago and the controller did not end it"
        else:
            continue
        resets.append(Reset(slug, group, why))
    return resets


def updates_for(resets: list[Reset]) -> dict[str, str]:
    """The one /runtime_modify that removes every group of `resets`."""
    return {key: value for reset in resets for key, value in reset.updates().items()}


class Watchdog:
    """The loop: read Envoy's runtime, remove what is due, exit when there is nothing to do."""

    def __init__(self, admin: EnvoyAdmin, parent_gone: Callable[[], bool],
                 grace: float = GRACE_S, clock=time.time, silent_exit: float = SILENT_EXIT_S):
        self.admin = admin
        self.parent_gone = parent_gone
        self.grace = grace
        self.silent_exit = silent_exit
        self.clock = clock
        self._silent_since: float | None = None
        self._last_error: str | None = None

    def step(self) -> bool:
        """One pass; False when the watchdog should exit (controller gone, nothing to end)."""
        try:
            have = overrides(self.admin.runtime())
            resets = due_resets(have, self.clock(), self.grace)
            self.admin.modify(updates_for(resets))
        except EnvoyError as err:
            if self._last_error != str(err):
                log.warning("%s", err)
            self._last_error = str(err)
            self._silent_since = self._silent_since or time.monotonic()
            silent = time.monotonic() - self._silent_since
            if silent >= self.silent_exit and self.parent_gone():
                log.info("the controller is gone and Envoy's admin has not answered for "
                         "%.0fs: the watchdog exits", silent)
                return False
            return True
        self._silent_since = self._last_error = None
        for reset in resets:
            log.warning("fault ended by the watchdog: %s on harness.%s: %s", reset.group,
                        reset.slug, reset.why)
        left = {g for g in groups(have) if g not in {(r.slug, r.group) for r in resets}}
        if not left and self.parent_gone():
            log.info("the controller is gone and Envoy holds no fault: the watchdog exits")
            return False
        return True

    def run(self, interval: float = INTERVAL_S) -> None:
        """step() every `interval` seconds until it says to stop."""
        while self.step():
            time.sleep(interval)


def start_watchdog(admin_url: str) -> subprocess.Popen:
    """Spawn `python -m stack.proxy.watchdog` for Envoy's admin at `admin_url`, this process
    as its parent: output into ours (the part's log), a process group of its own, no PDEATHSIG
    (it outlives a killed controller to finish the job), no FAULT_ADMIN_TOKEN in its
    environment."""
    env = {k: v for k, v in os.environ.items() if k != "FAULT_ADMIN_TOKEN"}
    return subprocess.Popen([sys.executable, "-m", "stack.proxy.watchdog",
                             "--admin-url", admin_url, "--parent-pid", str(os.getpid())],
                            stdin=subprocess.DEVNULL, env=env, process_group=0)


def main(argv=None) -> int:
    """Run until the controller is gone and nothing is left (0); SIGTERM ends it at once."""
    parser = argparse.ArgumentParser(prog="python -m stack.proxy.watchdog", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", required=True,
                        help="Envoy's admin endpoint: http://127.0.0.1:9901")
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="the controller: gone once this is no longer our parent "
                             "(default: the parent at start)")
    parser.add_argument("--interval", type=float, default=INTERVAL_S, help="seconds per pass")
    parser.add_argument("--grace", type=float, default=GRACE_S,
                        help="seconds past a fault's end before the watchdog ends it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # the pid from the command line: a controller killed while this process still imports
    # would otherwise be missed (its orphan's parent at start is already init)
    parent = args.parent_pid or os.getppid()
    try:
        Watchdog(EnvoyAdmin(args.admin_url), lambda: os.getppid() != parent,
                 grace=args.grace).run(args.interval)
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
