"""`python -m stack setup`: install the system binaries the harness runs (Debian/Ubuntu apt).

Only what is missing is installed; with everything present it does nothing. Without root or
without apt it prints the command instead of guessing another package manager.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# binary -> (alternative names, Debian package, what needs it)
BINARIES = {
    "prometheus": ((), "prometheus", "the stack"),
    "promtool": ((), "prometheus", "config and rule tests"),
    "alertmanager": (("prometheus-alertmanager",), "prometheus-alertmanager", "the stack"),
    "amtool": ((), "prometheus-alertmanager", "config tests"),
    "chromium": (("chromium-browser",), "chromium", "the browser test"),
    "chromedriver": ((), "chromium-driver", "the browser test"),
    "wrk": ((), "wrk", "benchmarks"),
    "nginx": ((), "nginx", "the proxy benchmark (a static-file target)"),
    "victoria-metrics": ((), "victoria-metrics", "the second backend (make stack BACKEND=...)"),
    "vmalert": ((), "victoria-metrics", "the second backend's rule evaluation"),
    "ip": ((), "iproute2", "the distributed-load test (a worker in a network namespace)"),
}
GRAFANA_NOTE = ("Grafana is optional natively and not in Debian: see "
                "https://grafana.com/docs/grafana/latest/setup-grafana/installation/debian/ "
                "(the docker compose stack includes it).")


@dataclass(frozen=True)
class SetupPlan:
    """What is missing, and the command that installs it."""

    missing: dict[str, str]          # binary -> package
    packages: list[str]
    command: list[str]
    can_run: bool                    # root and apt-get present


def plan_setup(which: Callable[[str], str | None] = shutil.which, is_root: bool | None = None,
               ) -> SetupPlan:
    """Work out the packages to install (pure apart from `which`)."""
    missing = {}
    for binary, (alternatives, package, _why) in BINARIES.items():
        if not any(which(name) for name in (binary, *alternatives)):
            missing[binary] = package
    packages = sorted(set(missing.values()))
    root = (os.geteuid() == 0) if is_root is None else is_root
    command = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    if not root:
        command = ["sudo", *command]
    return SetupPlan(missing=missing, packages=packages, command=command,
                     can_run=root and which("apt-get") is not None)


def run_setup(plan: SetupPlan, say: Callable[[str], None],
              environ: Mapping[str, str] | None = None) -> int:
    """Install the plan's packages with apt when possible; else print the command. Exit code."""
    if not plan.packages:
        say("all system binaries are installed (prometheus, promtool, alertmanager, amtool, "
            "chromium, chromedriver, wrk)")
        say(GRAFANA_NOTE)
        return 0
    say(f"missing: {', '.join(f'{b} ({p})' for b, p in plan.missing.items())}")
    if not plan.can_run:
        sudo = "sudo " if plan.command[0] == "sudo" else ""
        say("on Debian/Ubuntu run:")
        say(f"  {sudo}apt-get update && {' '.join(plan.command)}")
        say("elsewhere install Prometheus >= 2.42 and Alertmanager >= 0.25 from "
            "https://prometheus.io/download/, or use Docker (`make stack` picks docker compose).")
        return 1
    env = {**(os.environ if environ is None else environ), "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], plan.command):
        say("$ " + " ".join(cmd))
        result = subprocess.run(cmd, env=env, check=False)
        if result.returncode != 0:
            say(f"`{' '.join(cmd)}` failed (exit {result.returncode})")
            return result.returncode
    say(GRAFANA_NOTE)
    return 0
