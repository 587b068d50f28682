"""Run-directory files: private (mode 600) writes, .stack/env, and the generated secrets.

.stack/env is KEY=VALUE lines (also a valid `docker compose --env-file`). It holds the fault
admin token, the sandbox bot token and the Grafana admin password, so it is written with mode
600 from the first byte (never chmod-ed after the fact) and replaced atomically.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from harness_common.stackenv import read_stack_env

# Generated once per run directory and kept across restarts (clients keep working).
SECRET_KEYS = ("FAULT_ADMIN_TOKEN", "TELEGRAM_SANDBOX_TOKEN", "GRAFANA_ADMIN_PASSWORD")


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 600 (atomic replace; the parent is created 700)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)  # O_CREAT's mode is masked by umask only downwards; be explicit
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def sandbox_bot_token() -> str:
    """A fresh token shaped like a real one: <bot id>:<35 characters of [A-Za-z0-9_-]>."""
    bot_id = 1_000_000_000 + secrets.randbelow(8_999_999_999)
    return f"{bot_id}:{secrets.token_urlsafe(27)[:35]}"


def resolve_secrets(existing: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """The run's secrets: the environment wins, then .stack/env, else newly generated."""
    makers = {
        "FAULT_ADMIN_TOKEN": lambda: secrets.token_urlsafe(32),
        "TELEGRAM_SANDBOX_TOKEN": sandbox_bot_token,
        "GRAFANA_ADMIN_PASSWORD": lambda: secrets.token_urlsafe(18),
    }
    return {key: environ.get(key) or existing.get(key) or make() for key, make in makers.items()}


def read_env_file(stack_dir: Path) -> dict[str, str]:
    """The pairs of <stack_dir>/env ({} when absent)."""
    return read_stack_env(stack_dir)


def render_env_file(pairs: Mapping[str, str]) -> str:
    """KEY=VALUE lines with a header saying what the file is."""
    lines = ["# Written by `python -m stack up` (mode 600). Secrets are kept across restarts;",
             "# the CLIs (python -m target_app.faults, slo) read FAULT_ADMIN_TOKEN from here."]
    lines += [f"{key}={value}" for key, value in pairs.items()]
    return "\n".join(lines) + "\n"
