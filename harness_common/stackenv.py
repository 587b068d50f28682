"""Where the stack is: .stack/env (mode 600, written by `make stack`), read the same way by all.

    read_stack_env()            {"APP_URL": ..., "PROMETHEUS_URL": ..., "FAULT_ADMIN_TOKEN": ...}
    resolve_app_url()           APP_URL, else http://127.0.0.1:$APP_PORT (default 5000)
    resolve_token()             FAULT_ADMIN_TOKEN from the environment, else from .stack/env
    resolve_fault_api()         where faults go and the token for that URL, resolved together
    resolve_target_url()        what load goes to: APP_URL, else the stack's proxy, else the app
    resolve_prometheus_url()    --prometheus, PROMETHEUS_URL, .stack/env, 127.0.0.1:9090

STACK_DIR (default .stack) names the folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class FaultApi:
    """A fault backend's API (the demo app's, or the fault proxy's) and the token for it."""

    url: str
    token: str | None = field(repr=False)
    backend: str = "app"          # app | proxy
    affects: str | None = None    # the base URL whose requests its faults change, if known


def resolve_fault_api(explicit_url: str | None = None, environ=None) -> FaultApi:
    """Where faults go: --url, else FAULT_API_URL, else APP_URL, else .stack/env's fault API
    (the proxy's when the stack runs one, TARGET_URL set; else the app's), else the app at
    APP_PORT. The token is FAULT_ADMIN_TOKEN from the environment, or the stack's, and the
    stack's only for a URL of the stack: it is never sent anywhere else.
    """
    env = os.environ if environ is None else environ
    stack = read_stack_env(env.get("STACK_DIR"))
    stack_api = stack.get("FAULT_API_URL") or stack.get("APP_URL")
    url = explicit_url or env.get("FAULT_API_URL") or env.get("APP_URL") or stack_api \
        or resolve_app_url(env)
    url = url.rstrip("/")
    own = {u.rstrip("/") for u in (stack_api, stack.get("APP_URL")) if u}
    token = env.get("FAULT_ADMIN_TOKEN") or (stack.get("FAULT_ADMIN_TOKEN") if url in own
                                             else None)
    if stack_api and url == stack_api.rstrip("/"):
        backend = stack.get("FAULT_BACKEND") or "app"
        affects = stack.get("PROXY_URL") if backend == "proxy" else stack.get("APP_URL")
    else:
        backend = env.get("FAULT_BACKEND") or "app"
        affects = env.get("FAULT_AFFECTS_URL") or (url if backend == "app" else None)
    return FaultApi(url, token, backend, (affects or "").rstrip("/") or None)


def resolve_target_url(environ=None) -> str:
    """Where load goes by default: APP_URL, else the stack's fault proxy (PROXY_URL, when the
    stack runs one in front of TARGET_URL), else the app (resolve_app_url)."""
    env = os.environ if environ is None else environ
    if env.get("APP_URL"):
        return env["APP_URL"]
    return read_stack_env(env.get("STACK_DIR")).get("PROXY_URL") or resolve_app_url(env)


def resolve_prometheus_url(explicit: str | None = None, environ=None) -> str:
    """--prometheus, else PROMETHEUS_URL, else .stack/env, else 127.0.0.1:$PROMETHEUS_PORT."""
    env = os.environ if environ is None else environ
    return (explicit or env.get("PROMETHEUS_URL")
            or read_stack_env(env.get("STACK_DIR")).get("PROMETHEUS_URL")
            or f"http://127.0.0.1:{env.get('PROMETHEUS_PORT', '9090')}").rstrip("/")
