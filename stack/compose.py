"""The Docker path: is an engine there, and `docker compose` up/down/ps for compose.yaml."""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import warnings
from pathlib import Path

from stack.config import REPO
from stack.errors import StackError

COMPOSE_FILE = REPO / "compose.yaml"


def docker_engine_answers(timeout: float = 2.0) -> bool:
    """True when a Docker engine answers a ping (docker SDK, DOCKER_HOST or the default socket)."""
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if host.startswith("unix://") and not Path(host.removeprefix("unix://")).exists():
        return False  # no socket, no engine: skip the SDK (it leaks a socket when it fails)
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (DockerException, OSError, ValueError):  # requests' errors are OSErrors
        # A failed connect leaves the SDK's socket unclosed; collect it now, quietly.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
        return False


def compose_command() -> list[str]:
    """`docker compose` (the plugin) or `docker-compose`; StackError when neither exists."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if path := shutil.which("docker-compose"):
        return [path]
    raise StackError("a Docker engine answers but neither `docker compose` nor `docker-compose` "
                     "is installed: install the compose plugin, or run natively with "
                     "STACK_MODE=native")


def _run(args: list[str], env_file: Path, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [*compose_command(), "--env-file", str(env_file), "-f", str(COMPOSE_FILE), *args]
    result = subprocess.run(cmd, cwd=REPO, check=False, text=True, capture_output=True)
    if check and result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).splitlines()[-20:])
        raise StackError(f"`docker compose {' '.join(args)}` failed (exit {result.returncode}):\n"
                         f"{tail}")
    return result


def compose_up(env_file: Path) -> None:
    """Start compose.yaml detached and wait for every healthcheck."""
    if not COMPOSE_FILE.is_file():
        raise StackError(f"{COMPOSE_FILE} is missing: run natively with STACK_MODE=native")
    _run(["up", "-d", "--wait"], env_file)


def compose_down(env_file: Path) -> None:
    """Stop and remove the compose stack's containers (named volumes are kept)."""
    _run(["down"], env_file)


def compose_services(env_file: Path) -> list[dict]:
    """`docker compose ps` as a list of {Service, State, Health, ...} dicts."""
    result = _run(["ps", "--format", "json"], env_file, check=False)
    if result.returncode != 0 or not result.stdout.strip():
        return []
    text = result.stdout.strip()
    if text.startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]
