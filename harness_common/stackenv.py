"""Where the stack is: .stack/env (mode 600, written by `make stack`), read the same way by all.

    read_stack_env()            {"APP_URL": ..., "PROMETHEUS_URL": ..., "FAULT_ADMIN_TOKEN": ...}
    resolve_app_url()           APP_URL, else http://127.0.0.1:$APP_PORT (default 5000)
    resolve_token()             FAULT_ADMIN_TOKEN from the environment, else from .stack/env
    resolve_prometheus_url()    --prometheus, PROMETHEUS_URL, .stack/env, 127.0.0.1:9090

STACK_DIR (default .stack) names the folder.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_STACK_DIR = ".stack"


def read_stack_env(stack_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """The KEY=VALUE pairs of .stack/env written by the native launcher ({} when absent)."""
    path = Path(stack_dir or os.environ.get("STACK_DIR", DEFAULT_STACK_DIR)) / "env"
    if not path.is_file():
        return {}
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            pairs[key.strip()] = value.strip()
    return pairs


def resolve_token(environ=None) -> str | None:
    """FAULT_ADMIN_TOKEN from the environment, else from .stack/env, else None."""
    env = os.environ if environ is None else environ
    stack_env = read_stack_env(env.get("STACK_DIR"))
    return env.get("FAULT_ADMIN_TOKEN") or stack_env.get("FAULT_ADMIN_TOKEN")


def resolve_app_url(environ=None) -> str:
    """APP_URL, else http://127.0.0.1:$APP_PORT (default 5000)."""
    env = os.environ if environ is None else environ
    return env.get("APP_URL") or f"http://127.0.0.1:{env.get('APP_PORT', '5000')}"


def resolve_prometheus_url(explicit: str | None = None, environ=None) -> str:
    """--prometheus, else PROMETHEUS_URL, else .stack/env, else 127.0.0.1:$PROMETHEUS_PORT."""
    env = os.environ if environ is None else environ
    return (explicit or env.get("PROMETHEUS_URL")
            or read_stack_env(env.get("STACK_DIR")).get("PROMETHEUS_URL")
            or f"http://127.0.0.1:{env.get('PROMETHEUS_PORT', '9090')}").rstrip("/")
