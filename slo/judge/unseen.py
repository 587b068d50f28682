"""Faults a verdict's metrics could not see: the fault proxy's, for an SLO on the service's own.

The fault proxy (Envoy, in front of TARGET_URL) answers a request it faults itself: an error
fault's 503 never reaches the service, a delay is spent before the request is forwarded. The
service's own metrics count the requests that got through, as they got through. So an SLO read
from them says nothing about the faulted requests, and "met" over a window that held a proxy
fault is a claim about data that was not seen (a user saw "error ratio 0.00% MET" while the
proxy failed 66 of 719 requests). Such a verdict is "could not evaluate" (exit 2), naming the
fault and the metrics that would see it. A violation stays a violation (it was seen), and a
throughput SLO is left alone (the service's rate is what it counts).

Only Envoy's downstream view sees the proxy's faults: the HTTP connection manager's and the
listener's stats (envoy_http_downstream_*, envoy_listener_*), and the proxy's per-route stats
(envoy_vhost_route_*: its front layer's router, in front of the fault filter; see
stack.proxy.bootstrap). Its upstream and cluster stats (envoy_cluster_*), like the router's
(envoy_http_rq_total), count only what it forwarded, as the service's own metrics do (Envoy
1.40, 20 requests under a 100 % abort fault: the downstream and listener rq_xx counted 20
503s, the cluster's stats none).

The faults of a window come from one place, for `slo check` (--run or --start/--end alike) and
the experiment runner's phases: window_faults() merges the recorded ones (a run record's, a
phase's) with what every backend's own counters saw (a fault set by hand meanwhile), always
both, each backend and kind once.

    faults = window_faults(prom, window, recorded)   # slo.judge.observe: recorded + counted
    verdicts = refuse_unseen(verdicts, slos, faults) # slo.judge.judgement: new verdicts
"""

from __future__ import annotations

from dataclasses import replace

from slo.judge import promql
from slo.judge.checker import MET, NO_DATA, WARN, Verdict
from slo.spec.model import SLO, Quantile, Throughput
from slo.spec.selectors import Selector

# Envoy's downstream view: what its clients got, the fault filter's answers and delays included
# (the `envoy` preset reads it), and the fault proxy's per-route stats (its front routes forward
# every request to the layer that holds the fault filter and count what comes back; the
# preset's `route` SLOs read them). Every other envoy_* metric counts only what was forwarded.
PROXY_DOWNSTREAM_PREFIXES = ("envoy_http_downstream_", "envoy_listener_", "envoy_vhost_route_")
PROXY_SPEC = "slo/specs/envoy-proxied.yaml"


def sees_proxy_faults(slo: SLO) -> bool:
    """True when every selector of the SLO reads Envoy's downstream stats, which count the
    requests its fault filter answered or delayed."""
    return all(src.selector.metric.startswith(PROXY_DOWNSTREAM_PREFIXES) for src in slo.sources)


def describe(fault: dict) -> str:
    if "counted" in fault:      # seen in a backend's own counters, not in a run record
        return (f"about {fault['counted']:.0f} requests {fault['kind']}-faulted by the "
                f"{fault['backend']} in the window ({fault['metric']})")
    params = ", ".join(f"{k}={v}" for k, v in sorted((fault.get("params") or {}).items())
                       if k in ("delay_ms", "status", "probability", "routes"))
    if "remaining_s" in fault:  # on now at its backend (the SLO tab's live window)
        return (f"{fault['kind']} ({params}) on now at the {fault.get('backend')} fault "
                f"backend, {fault['remaining_s']:g} s left")
    if "phase" in fault:        # an experiment phase's own fault
        return f"{fault['kind']} ({params}) in phase {fault['phase']}"
    return (f"{fault['kind']} ({params}) from {fault.get('start_offset_s', 0):g} s to "
            f"{fault.get('end_offset_s', 0):g} s")


def blind_to(slo: SLO, kinds) -> bool:
    """True when the service's own metrics of `slo` miss what proxy faults of `kinds` do: an
    error fault's answers (error and availability SLOs, and the latency of the requests the
    proxy answered itself), a latency fault's delay (latency SLOs). A throughput SLO counts
    the service's own rate, which is what it is."""
    if isinstance(slo.sli, Throughput):
        return False
    if isinstance(slo.sli, Quantile) or slo.kind == "latency_ratio":
        return bool(set(kinds) & {"latency", "error"})
    return "error" in kinds


def unseen_reason(slo: SLO, status: str, faults: str, kinds) -> str | None:
    """Why a `status` verdict of `slo` over a window with the proxy's `faults` (as text, of
    `kinds`) is no claim, or None when it stands (a violation, an SLO those faults do not
    blind, the proxy's own metrics). A no-data verdict is given the reason too: a fault that
    answered every request itself left the service nothing to count, and the fault, not the
    scrape, is then what a user must be told first."""
    if (status not in (MET, WARN, NO_DATA) or sees_proxy_faults(slo)
            or not blind_to(slo, kinds)):
        return None
    metrics = ", ".join(sorted({src.selector.metric for src in slo.sources}))
    return (f"the faults were injected by the fault proxy in front of the service ({faults}): "
            f"a request the proxy failed or delayed never reached {metrics} as such, so it "
            f"counts only the requests that got through, not the faults; judge what the "
            f"clients saw with the proxy's downstream metrics (a spec with preset `envoy`, "
            f"envoy_http_downstream_*: slo check --spec {PROXY_SPEC}), or inject the fault "
            f"in the service itself")


def refusals(verdicts, slos, faults: str, kinds) -> dict[str, str]:
    """{name: why it is no claim} of the verdicts (anything with .name and .status: the
    checker's, or an experiment phase's) that the proxy's `faults` (as text, of `kinds`)
    blinded; the others stand."""
    by_name = {slo.name: slo for slo in slos}
    return {v.name: reason for v in verdicts if v.name in by_name
            and (reason := unseen_reason(by_name[v.name], v.status, faults, kinds))}


def unseen(verdicts, slos, faults) -> dict[str, str]:
    """{name: why it is no claim} of the verdicts that the proxy's faults among `faults` (a
    window's, from window_faults()) blinded; empty without one."""
    proxied = [f for f in faults or () if f.get("backend") == "proxy" and f.get("applied", True)]
    if not proxied:
        return {}
    return refusals(verdicts, slos, "; ".join(describe(f) for f in proxied[:3]),
                    {f["kind"] for f in proxied})


def refuse_unseen(verdicts, slos, faults) -> tuple[Verdict, ...]:
    """New verdicts: each met (or warn) of an SLO that does not read Envoy's downstream stats
    made no_data when a fault of the proxy in front of it was applied in the window, and each
    no_data of such an SLO given the fault as its first reason (its own answer after it); the
    others as they were (a step of slo.judge.judgement.judge_window: no verdict is changed
    after it is made)."""
    refused = unseen(verdicts, slos, faults)
    return tuple(verdict if verdict.name not in refused else replace(
        verdict, status=NO_DATA, margin=None, value=None, value_bounds=None,
        good_fraction=None, total_events=None, blind=True,
        reason=_blind_reason(refused[verdict.name], verdict)) for verdict in verdicts)


def _blind_reason(refused: str, verdict) -> str:
    if verdict.status == NO_DATA:
        return f"{refused}; without the fault: {verdict.reason}"
    return f"{refused} (they read {verdict.shown})"


# The stack's proxy job, Envoy's fault filter counters (created at 0 when Envoy starts) and the
# demo app's (a series per kind from its first faulted request).
PROXY_JOB = "envoy"
FAULT_COUNTERS = {"error": "envoy_http_fault_aborts_injected",
                  "latency": "envoy_http_fault_delays_injected"}
APP_FAULT_COUNTER = "app_faults_injected_total"


def counters_query(window_s: int) -> str:
    """One query for every backend's fault counters over the window: a sample per backend and
    kind (increase() drops the metric's name, so each is tagged with both). The app's series
    born inside the window count from zero (promql.per_series)."""
    range_ = f"{window_s}s"
    proxy = [f'label_replace(label_replace(sum(increase({metric}{{job="{PROXY_JOB}"}}'
             f'[{range_}])), "kind", "{kind}", "", ""), "backend", "proxy", "", "")'
             for kind, metric in FAULT_COUNTERS.items()]
    app = promql.per_series(Selector(APP_FAULT_COUNTER, ()), range_)
    return " or ".join([*proxy, f'label_replace(sum by (kind) ({app}), "backend", "app", "", "")'])


def counted_faults(prom, window) -> list[dict]:
    """The faults in `window` as the backends' own counters saw them (a fault set with `make
    fault` before a load test, or by hand during one, is in no run record): one entry per
    backend and kind that faulted requests. Raises PrometheusError."""
    out = []
    for row in prom.query(counters_query(window.seconds), window.end):
        backend, kind = row.labels.get("backend"), row.labels.get("kind")
        if backend is None or kind is None or not row.value >= 0.5:
            continue
        metric = FAULT_COUNTERS.get(kind, "?") if backend == "proxy" else APP_FAULT_COUNTER
        out.append({"kind": kind, "backend": backend, "applied": True, "metric": metric,
                    "counted": row.value})
    return sorted(out, key=lambda f: (f["backend"] != "proxy", f["backend"], f["kind"]))


def merge_faults(recorded, counted) -> list[dict]:
    """Every fault of a window once: the recorded ones that were applied (they say when and
    how), then each backend and kind the counters saw that no recorded fault names."""
    applied = [f for f in recorded or () if f.get("applied", True)]
    named = {(f.get("backend"), f.get("kind")) for f in applied}
    return applied + [f for f in counted if (f["backend"], f["kind"]) not in named]


def window_faults(prom, window, recorded=()) -> list[dict]:
    """Every fault set on any backend in `window`: `recorded` (a run record's fault windows, a
    phase's fault) merged with the backends' own counters, always both. Raises
    PrometheusError (the counters could not be read)."""
    return merge_faults(recorded, counted_faults(prom, window))
