"""The proxy's routes: which path prefixes it can fault separately, and which route globs of a
fault select which of them. Pure functions.

Envoy's routes are fixed when the proxy starts (static bootstrap), so the prefixes a fault may
name one by one are a setting, PROXY_ROUTES (e.g. "/api,/api/v2,/orders"). Every route gets its
own runtime keys; everything else goes to the catch-all route. The never-faulted paths
(/health, /metrics, /admin and everything under them) have the fault filter switched off.

A fault's `routes` map onto them like this (anything else is refused, naming routes[i]):

    "*"          every faultable route (the prefixes and the catch-all)
    "/api/*"     the /api route: /api itself and everything under it (Envoy matches path
                 prefixes segment-wise: /api, /api/x, /api?q, never /apix)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness_common.errors import FaultValidationError
from harness_common.faults.routes import PROTECTED_PREFIXES

MAX_PREFIXES = 20
PREFIX_RE = re.compile(r"^(/[A-Za-z0-9._~!$&'()+,;=:@%-]+)+$")
CATCH_ALL = "all"


@dataclass(frozen=True)
class ProxyRoute:
    """One faultable route: its key namespace (`slug`) and its prefix (None: the catch-all)."""

    slug: str
    prefix: str | None

    def key(self, name: str) -> str:
        """The runtime key `name` (delay_percent, delay_ms, ...: stack.proxy.runtime.GROUPS)."""
        return f"harness.{self.slug}.{name}"

    @property
    def label(self) -> str:
        """How messages name the route: '/api/*' or '*'."""
        return "*" if self.prefix is None else f"{self.prefix}/*"


def prefix_problem(prefix: str) -> str | None:
    """Why `prefix` cannot be a PROXY_ROUTES entry, or None."""
    if not PREFIX_RE.match(prefix):
        return (f"{prefix!r} is not a path prefix like /api or /api/v2 (starts with '/', no "
                f"trailing '/', no wildcards, query or whitespace)")
    if any(prefix == p or prefix.startswith(p + "/") for p in PROTECTED_PREFIXES):
        return f"{prefix!r} is never faulted ({', '.join(PROTECTED_PREFIXES)}); remove it"
    return None


def parse_prefixes(text: str | None) -> tuple[str, ...]:
    """PROXY_ROUTES ("/api,/orders") as prefixes, longest first; ValueError naming the entry."""
    items = [p.strip() for p in (text or "").split(",") if p.strip()]
    if len(items) > MAX_PREFIXES:
        raise ValueError(f"at most {MAX_PREFIXES} prefixes (got {len(items)})")
    for item in items:
        if problem := prefix_problem(item):
            raise ValueError(problem)
    if len(set(items)) != len(items):
        raise ValueError("a prefix is listed twice")
    # The first matching route wins in Envoy: longer prefixes must come before their parents.
    return tuple(sorted(items, key=lambda p: (-p.count("/"), -len(p), p)))


def proxy_routes(prefixes: tuple[str, ...]) -> tuple[ProxyRoute, ...]:
    """Every faultable route in Envoy's match order: the prefixes, then the catch-all."""
    return (*(ProxyRoute(f"p{i + 1}", p) for i, p in enumerate(prefixes)),
            ProxyRoute(CATCH_ALL, None))


def select_routes(globs: tuple[str, ...], routes: tuple[ProxyRoute, ...]) -> tuple[str, ...]:
    """The slugs of the routes a fault's route globs select; FaultValidationError otherwise."""
    by_prefix = {r.prefix: r for r in routes if r.prefix is not None}
    known = ", ".join(f"'{r.label}'" for r in routes)
    chosen: list[str] = []
    for i, glob in enumerate(globs):
        field = f"routes[{i}]"
        if glob == "*":
            chosen += [r.slug for r in routes]
            continue
        protected = next((p for p in PROTECTED_PREFIXES
                          if glob == p or glob.startswith((p + "/", p + "*"))), None)
        if protected is not None:
            raise FaultValidationError(field, f"the fault proxy never faults {protected} "
                                              f"(got {glob!r})")
        prefix = glob.removesuffix("/*")
        if glob.endswith("/*") and prefix in by_prefix:
            chosen.append(by_prefix[prefix].slug)
            continue
        if glob.endswith("/*") and not any(c in prefix for c in "*?["):
            hint = (f"the proxy has no route for {prefix}: its routes are fixed at start; "
                    f"restart the stack with {prefix} in PROXY_ROUTES (routes now: {known})")
        else:
            hint = (f"the fault proxy faults path prefixes only: use '*' or '<prefix>/*' for a "
                    f"prefix in PROXY_ROUTES (routes now: {known}; got {glob!r})")
        raise FaultValidationError(field, hint)
    return tuple(dict.fromkeys(chosen))
