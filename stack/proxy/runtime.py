"""Faults -> Envoy runtime values: a pure function, and the reading of Envoy's /runtime.

Every faultable route has two groups of keys (stack.proxy.routes.ProxyRoute.key), one per
fault kind the proxy can carry out:

    harness.<slug>.delay_percent     share of requests delayed    FractionalPercent JSON
    harness.<slug>.delay_ms          the delay                    integer milliseconds
    harness.<slug>.delay_expires_at  when the delay ends          epoch seconds (1712345678.250)
    harness.<slug>.abort_percent     share answered with a status FractionalPercent JSON
    harness.<slug>.abort_status      that status                  200-599 (Envoy checks nothing)
    harness.<slug>.abort_expires_at  when the abort ends          epoch seconds

Envoy reads the first two of each group; the `*_expires_at` keys are the harness's own, written
in the same /runtime_modify as the fault, so the fault's end lives in Envoy beside it and the
watchdog (stack.proxy.watchdog) can end it with the controller stopped.

Shares are sent as {"numerator":N,"denominator":"MILLION"}: an integer runtime value would be
read as N/100 and a decimal truncated (0.9 % -> 0 %), so every probability down to 1e-6 maps
onto an integer numerator. A key that is not set is sent empty, which removes Envoy's override
(the route's configured 0 % applies).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from harness_common.faults.model import ErrorFault, FaultSpec, LatencyFault
from stack.proxy.routes import ProxyRoute

GROUPS = {"delay": ("delay_percent", "delay_ms", "delay_expires_at"),
          "abort": ("abort_percent", "abort_status", "abort_expires_at")}
KEY_NAMES = tuple(name for names in GROUPS.values() for name in names)
KEY_PREFIX = "harness."
MILLION = 1_000_000


@dataclass(frozen=True)
class RoutedFault:
    """An active fault, the slugs of the routes it acts on, and when it ends (epoch s)."""

    spec: FaultSpec
    slugs: tuple[str, ...]
    expires_at: float


def fractional_percent(probability: float) -> str:
    """0.1 -> '{"numerator":100000,"denominator":"MILLION"}' (compact: no spaces to encode)."""
    numerator = max(0, min(MILLION, round(probability * MILLION)))
    return json.dumps({"numerator": numerator, "denominator": "MILLION"}, separators=(",", ":"))


def expiry_value(expires_at: float) -> str:
    """An end as a runtime value: epoch seconds to the millisecond ('1712345678.250')."""
    return f"{expires_at:.3f}"


def parse_expiry(value: str | None) -> float | None:
    """A `*_expires_at` value as epoch seconds; None when missing or not a finite number."""
    try:
        expires_at = float(value)
    except (TypeError, ValueError):
        return None
    return expires_at if math.isfinite(expires_at) else None


def all_keys(routes: Iterable[ProxyRoute]) -> list[str]:
    """Every runtime key the proxy's routes read."""
    return [route.key(name) for route in routes for name in KEY_NAMES]


def desired_runtime(faults: Iterable[RoutedFault], routes: Iterable[ProxyRoute]
                    ) -> dict[str, str]:
    """Every key of every route -> the value it must have ("" = no override)."""
    by_slug = {route.slug: route for route in routes}
    values = dict.fromkeys(all_keys(by_slug.values()), "")
    for fault in faults:
        for slug in fault.slugs:
            route = by_slug[slug]
            if isinstance(fault.spec, LatencyFault):
                values[route.key("delay_percent")] = fractional_percent(fault.spec.probability)
                values[route.key("delay_ms")] = str(fault.spec.delay_ms)
                values[route.key("delay_expires_at")] = expiry_value(fault.expires_at)
            elif isinstance(fault.spec, ErrorFault):
                values[route.key("abort_percent")] = fractional_percent(fault.spec.probability)
                values[route.key("abort_status")] = str(fault.spec.status)
                values[route.key("abort_expires_at")] = expiry_value(fault.expires_at)
            else:  # the controller refuses every other kind before it gets here
                raise ValueError(f"the proxy cannot carry out a {fault.spec.kind} fault")
    return values


def overrides(runtime_doc: Mapping) -> dict[str, str]:
    """The harness's keys Envoy's admin layer holds now, from GET /runtime's document."""
    entries = runtime_doc.get("entries") or {}
    layers = list(runtime_doc.get("layers") or [])
    admin = layers.index("admin") if "admin" in layers else None
    found = {}
    for key, entry in entries.items():
        if not key.startswith(KEY_PREFIX) or not isinstance(entry, Mapping):
            continue
        values = entry.get("layer_values") or []
        value = values[admin] if admin is not None and admin < len(values) else \
            entry.get("final_value", "")
        if value != "":
            found[key] = value
    return found


def groups(have: Mapping[str, str]) -> dict[tuple[str, str], dict[str, str]]:
    """The fault groups present in `have` (Envoy's overrides): (slug, "delay"|"abort") -> the
    group's keys that are set, by name. Harness keys outside the layout are not a group."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for key, value in have.items():
        parts = key.split(".")
        if len(parts) != 3 or parts[0] + "." != KEY_PREFIX or not parts[1]:
            continue
        group = next((g for g, names in GROUPS.items() if parts[2] in names), None)
        if group is not None:
            found.setdefault((parts[1], group), {})[parts[2]] = value
    return found


def differences(want: Mapping[str, str], have: Mapping[str, str]) -> dict[str, str]:
    """The updates that turn `have` (Envoy's overrides) into `want` (every key, "" = unset).

    Keys Envoy holds that no route reads any more (an older proxy's) are removed too.
    """
    updates = {k: v for k, v in want.items() if have.get(k, "") != v}
    updates.update({k: "" for k in have if k not in want})
    return updates
