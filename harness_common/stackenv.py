"""Where the stack is: .stack/env (mode 600, written by `make stack`), read the same way by all.

One source of truth: an app URL and its admin token travel together.

    fault_target()              (url, token): APP_URL / APP_PORT when the environment sets
                                them, else the stack's APP_URL; the token that belongs to it
    admin_token_for(url)        FAULT_ADMIN_TOKEN from the environment, else .stack/env's token
                                only when `url` is the stack's own fault API (its app, or its
                                fault proxy) at the address written there (same_url: exact,
                                no alias; localhost and [::1] are not 127.0.0.1); never another
                                URL's
    resolve_fault_api()         where faults go (the stack's fault backend: the fault proxy when
                                it runs one in front of TARGET_URL, else the app), with its token
    fault_api_for(host)         the fault API whose faults act on the load sent to `host`
    resolve_target_url()        where load goes: APP_URL/APP_PORT, else the stack's fault proxy,
                                else the stack's app
    resolve_prometheus_url()    --prometheus, PROMETHEUS_URL, .stack/env, 127.0.0.1:9090
    read_stack_env()            {"APP_URL": ..., "PROMETHEUS_URL": ..., "FAULT_ADMIN_TOKEN": ...}

STACK_DIR (default .stack) names the folder. An empty variable counts as unset (make exports
variables it was not given as empty strings).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_STACK_DIR = ".stack"
DEFAULT_APP_PORT = "5000"


def stack_env_path(environ=None) -> Path:
    """The env file of the stack the environment points at."""
    env = os.environ if environ is None else environ
    return Path(env.get("STACK_DIR") or DEFAULT_STACK_DIR) / "env"


def read_stack_env(stack_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """The KEY=VALUE pairs of .stack/env written by the native launcher ({} when absent)."""
    path = Path(stack_dir) / "env" if stack_dir else stack_env_path()
    if not path.is_file():
        return {}
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            pairs[key.strip()] = value.strip()
    return pairs


def same_url(a: str | None, b: str | None) -> bool:
    """True when two base URLs name the same address: the same scheme, the same host as
    written, the same port (a trailing slash and the scheme's default port make no difference;
    an IP literal is compared as the address it spells, so [::1] == [0:0:0:0:0:0:0:1]).

    Host names are never resolved and no address stands for another: localhost, [::1],
    0.0.0.0, 127.0.0.2 and 127.0.0.1 are five addresses. localhost may resolve to ::1 (where
    any process may listen) and resolution may change between this check and the connection,
    so the stack's token goes to localhost only when .stack/env names localhost (the stack
    writes 127.0.0.1: where it listens). A URL that is not one (bad port) is never the same."""
    if not a or not b:
        return False
    try:
        return _address(a) == _address(b)
    except ValueError:
        return False


def _address(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL as written; ValueError when it is not one."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, _host(parts.hostname or ""), port


def _host(host: str) -> str:
    """An IP literal as the address it spells; a name as written (never resolved)."""
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        return host.lower()


def _env_app_url(env) -> str | None:
    if env.get("APP_URL"):
        return env["APP_URL"].rstrip("/")
    if env.get("APP_PORT"):
        return f"http://127.0.0.1:{env['APP_PORT']}"
    return None


def admin_token_for(url: str, environ=None) -> str | None:
    """The admin token that belongs to `url`, or None.

    FAULT_ADMIN_TOKEN set in the environment: the user vouches for it. Else the token of
    .stack/env, but only when `url` is the stack's own fault API (its APP_URL, or its fault
    proxy's FAULT_API_URL): the stack's token is never sent to whatever else listens on a port.
    """
    env = os.environ if environ is None else environ
    if env.get("FAULT_ADMIN_TOKEN"):
        return env["FAULT_ADMIN_TOKEN"]
    stack = read_stack_env(env.get("STACK_DIR"))
    if stack.get("FAULT_ADMIN_TOKEN") and _stack_api_url(url, stack):
        return stack["FAULT_ADMIN_TOKEN"]
    return None


def _stack_api_url(url: str, stack: dict) -> bool:
    """True when `url` is the stack's own fault API: its APP_URL, or its proxy's FAULT_API_URL
    (the only URLs its token may go to)."""
    return same_url(url, stack.get("APP_URL")) or same_url(url, stack.get("FAULT_API_URL"))


def refused_token_hint(url: str, environ=None) -> str:
    """Why a token sent to `url` may have been refused, and what to do (no secret)."""
    env = os.environ if environ is None else environ
    if env.get("FAULT_ADMIN_TOKEN"):
        stack = read_stack_env(env.get("STACK_DIR"))
        own = _stack_api_url(url, stack) and stack.get("FAULT_ADMIN_TOKEN")
        where = (f"; the stack's own token is in {stack_env_path(env)}: unset "
                 f"FAULT_ADMIN_TOKEN to use it" if own else "")
        return (f"the token sent is FAULT_ADMIN_TOKEN from your environment, which overrides the "
                f"stack's{where}")
    return (f"the token sent is the stack's ({stack_env_path(env)}), and {url} was started with "
            f"another: set FAULT_ADMIN_TOKEN to the one it was started with")


def token_hint(url: str, environ=None) -> str:
    """Why there is no token for `url`, and what to do (for error messages; no secret)."""
    env = os.environ if environ is None else environ
    stack = read_stack_env(env.get("STACK_DIR"))
    own = _stack_address_elsewhere(url, stack) if stack.get("FAULT_ADMIN_TOKEN") else None
    if own:
        return (f"{url} is not the stack's address: the stack listens on {own} "
                f"({stack_env_path(env)}), and its token goes only to the addresses written "
                f"there, compared exactly (localhost, [::1], 0.0.0.0 and 127.0.0.1 may be "
                f"different servers): use {own}, or set FAULT_ADMIN_TOKEN for {url} if it is "
                f"yours")
    if stack.get("FAULT_ADMIN_TOKEN") and stack.get("APP_URL"):
        return (f"the token in {stack_env_path(env)} belongs to the stack's app at "
                f"{stack['APP_URL']}, not {url}: unset APP_URL/APP_PORT to use the stack, or set "
                f"FAULT_ADMIN_TOKEN for {url}")
    return "set FAULT_ADMIN_TOKEN, or start the stack (make stack writes it to .stack/env)"


def _stack_address_elsewhere(url: str, stack: dict) -> str | None:
    """The stack's own URL (its FAULT_API_URL, APP_URL or PROXY_URL) with the scheme and port
    of `url` on another host (http://127.0.0.1:P for http://[::1]:P), else None: the address
    the user most likely meant."""
    try:
        scheme, host, port = _address(url)
        for own in filter(None, (stack.get(key) for key in ("FAULT_API_URL", "APP_URL",
                                                             "PROXY_URL"))):
            own_scheme, own_host, own_port = _address(own)
            if (scheme, port) == (own_scheme, own_port) and host != own_host:
                return own.rstrip("/")
    except ValueError:
        return None
    return None


def fault_target(environ=None) -> tuple[str, str | None]:
    """(app URL, its admin token): the environment's APP_URL/APP_PORT, else the stack's app,
    else http://127.0.0.1:5000."""
    env = os.environ if environ is None else environ
    url = (_env_app_url(env) or read_stack_env(env.get("STACK_DIR")).get("APP_URL")
           or f"http://127.0.0.1:{DEFAULT_APP_PORT}").rstrip("/")
    return url, admin_token_for(url, env)


def resolve_app_url(environ=None) -> str:
    """The app URL of fault_target()."""
    return fault_target(environ)[0]


@dataclass(frozen=True)
class FaultApi:
    """A fault backend's API (the demo app's, or the fault proxy's) and the token for it."""

    url: str
    token: str | None = field(repr=False)
    backend: str = "app"          # app | proxy
    affects: str | None = None    # the base URL whose requests its faults change, if known


def _stack_api(url: str, stack: dict, env) -> FaultApi:
    """The API at `url`, named as the stack names it (its proxy, or its app)."""
    token = admin_token_for(url, env)
    if stack.get("FAULT_BACKEND") == "proxy" and same_url(url, stack.get("FAULT_API_URL")):
        return FaultApi(url, token, "proxy", (stack.get("PROXY_URL") or "").rstrip("/") or None)
    backend = env.get("FAULT_BACKEND") or "app"
    affects = env.get("FAULT_AFFECTS_URL") or (url if backend == "app" else None)
    return FaultApi(url, token, backend, (affects or "").rstrip("/") or None)


def resolve_fault_api(explicit_url: str | None = None, environ=None) -> FaultApi:
    """Where faults go: --url, else FAULT_API_URL, else APP_URL (or APP_PORT, unless it is the
    stack's own), else the stack's fault backend from .stack/env (the fault proxy when the
    stack runs one in front of TARGET_URL, else its app), else the app at 127.0.0.1:5000. The
    token is admin_token_for(url): the stack's goes to the stack's own URLs only."""
    env = os.environ if environ is None else environ
    stack = read_stack_env(env.get("STACK_DIR"))
    url = (explicit_url or env.get("FAULT_API_URL") or _own_app(env, stack)
           or stack.get("FAULT_API_URL") or stack.get("APP_URL")
           or f"http://127.0.0.1:{DEFAULT_APP_PORT}").rstrip("/")
    return _stack_api(url, stack, env)


def _own_app(env, stack: dict) -> str | None:
    """The app the environment names on purpose: APP_URL; or APP_PORT unless it is the stack's
    own app's port (the port the stack was started with means the stack, whose faults go to
    its fault proxy when it runs one; in front of TARGET_URL no demo app runs, and .stack/env
    keeps only the APP_PORT the stack was started with)."""
    if env.get("APP_URL"):
        return env["APP_URL"].rstrip("/")
    app = _env_app_url(env)
    own = stack.get("APP_URL") or (stack.get("APP_PORT") and
                                   f"http://127.0.0.1:{stack['APP_PORT']}")
    return None if app and same_url(app, own) else app


def fault_api_for(host: str, environ=None) -> FaultApi:
    """The fault API of the load sent to `host`: FAULT_API_URL when set; the stack's fault
    proxy when `host` is its PROXY_URL, or its TARGET_URL (load sent around the proxy: its
    faults act on PROXY_URL only, and the preflight and the Chaos tab say they would not
    touch that load, instead of sending them to the user's service); else `host` itself (the
    demo app's admin API at the address the load goes to)."""
    env = os.environ if environ is None else environ
    stack = read_stack_env(env.get("STACK_DIR"))
    if env.get("FAULT_API_URL"):
        return _stack_api(env["FAULT_API_URL"].rstrip("/"), stack, env)
    if stack.get("FAULT_BACKEND") == "proxy" and stack.get("FAULT_API_URL") and (
            same_url(host, stack.get("PROXY_URL")) or same_url(host, stack.get("TARGET_URL"))):
        return _stack_api(stack["FAULT_API_URL"].rstrip("/"), stack, env)
    host = host.rstrip("/")
    return FaultApi(host, admin_token_for(host, env), "app", host)


def resolve_target_url(environ=None) -> str:
    """Where load goes by default: APP_URL (or APP_PORT, unless it is the stack's own), else
    the stack's fault proxy (PROXY_URL, when the stack runs one in front of TARGET_URL), else
    the stack's app (fault_target)."""
    env = os.environ if environ is None else environ
    stack = read_stack_env(env.get("STACK_DIR"))
    return (_own_app(env, stack) or stack.get("PROXY_URL") or fault_target(env)[0]).rstrip("/")


def resolve_prometheus_url(explicit: str | None = None, environ=None) -> str:
    """--prometheus, else PROMETHEUS_URL, else .stack/env, else 127.0.0.1:$PROMETHEUS_PORT."""
    env = os.environ if environ is None else environ
    return (explicit or env.get("PROMETHEUS_URL")
            or read_stack_env(env.get("STACK_DIR")).get("PROMETHEUS_URL")
            or f"http://127.0.0.1:{env.get('PROMETHEUS_PORT') or '9090'}").rstrip("/")
