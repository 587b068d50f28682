"""Faults a verdict's metrics could not see: the fault proxy's, for an SLO on the service's own.

The fault proxy (Envoy, in front of TARGET_URL) answers a request it faults itself: an error
fault's 503 never reaches the service, a delay is spent before the request is forwarded. The
service's own metrics count the requests that got through, as they got through. So an SLO read
from them says nothing about the faulted requests, and "met" over a window that held a proxy
fault is a claim about data that was not seen (a user saw "error ratio 0.00% MET" while the
proxy failed 66 of 719 requests). Such a verdict is "could not evaluate" (exit 2), naming the
fault and the metrics that would see it. A violation stays a violation (it was seen), and a
throughput SLO is left alone (the service's rate is what it counts).

    refuse_unseen(verdicts, slos, faults)   # faults: the run record's applied fault windows
    counted_faults(prom, window)            # or the proxy's own counters, for any window
"""

from __future__ import annotations

from slo.judge.checker import MET, NO_DATA, WARN, Verdict
from slo.spec.model import SLO, Quantile, Throughput

PROXY_METRIC_PREFIX = "envoy_"   # what the proxy exports (the `envoy` preset reads it)
PROXY_SPEC = "slo/specs/envoy-proxied.yaml"


def reads_the_proxy(slo: SLO) -> bool:
    """True when every selector of the SLO reads the proxy's own metrics."""
    return all(src.selector.metric.startswith(PROXY_METRIC_PREFIX) for src in slo.sources)


def describe(fault: dict) -> str:
    if "counted" in fault:      # seen in the proxy's own counters, not in a run record
        return (f"about {fault['counted']:.0f} requests {fault['kind']}-faulted by the proxy "
                f"in the window ({fault['metric']})")
    params = ", ".join(f"{k}={v}" for k, v in sorted((fault.get("params") or {}).items())
                       if k in ("delay_ms", "status", "probability"))
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
    blind, the proxy's own metrics)."""
    if status not in (MET, WARN) or reads_the_proxy(slo) or not blind_to(slo, kinds):
        return None
    metrics = ", ".join(sorted({src.selector.metric for src in slo.sources}))
    return (f"the faults were injected by the fault proxy in front of the service ({faults}): "
            f"a request the proxy failed or delayed never reached {metrics} as such, so it "
            f"counts only the requests that got through, not the faults; judge what the "
            f"clients saw with the proxy's metrics (slo check --spec {PROXY_SPEC}), or inject "
            f"the fault in the service itself")


def refusals(verdicts, slos, faults: str, kinds) -> dict[str, str]:
    """{name: why it is no claim} of the verdicts (anything with .name and .status: the
    checker's, or an experiment phase's) that the proxy's `faults` (as text, of `kinds`)
    blinded; the others stand."""
    by_name = {slo.name: slo for slo in slos}
    return {v.name: reason for v in verdicts if v.name in by_name
            and (reason := unseen_reason(by_name[v.name], v.status, faults, kinds))}


def refuse_unseen(verdicts: list[Verdict], slos, faults) -> list[Verdict]:
    """The verdicts, with each met (or warn) of an SLO on the service's own metrics turned
    into no_data when a fault of the proxy in front of it was applied in the window."""
    proxied = [f for f in faults or () if f.get("backend") == "proxy" and f.get("applied", True)]
    if not proxied:
        return verdicts
    refused = refusals(verdicts, slos, "; ".join(describe(f) for f in proxied[:3]),
                       {f["kind"] for f in proxied})
    for verdict in verdicts:
        reason = refused.get(verdict.name)
        if reason is None:
            continue
        verdict.status, verdict.margin = NO_DATA, None
        verdict.reason = f"{reason} (they read {verdict.shown})"
        verdict.value, verdict.value_bounds = None, None
        verdict.good_fraction = verdict.total_events = None
    return verdicts


# The stack's proxy job, and Envoy's fault filter counters (created at 0 when Envoy starts).
PROXY_JOB = "envoy"
FAULT_COUNTERS = {"error": "envoy_http_fault_aborts_injected",
                  "latency": "envoy_http_fault_delays_injected"}


def counted_faults(prom, window) -> list[dict]:
    """The proxy's faults in `window` as its own counters saw them (a fault set with `make
    fault` before a load test is in no run record): one entry per kind that faulted
    requests. Raises PrometheusError."""
    # increase() drops the metric's name: each counter is tagged with its fault kind instead
    query = " or ".join(
        f'label_replace(sum(increase({metric}{{job="{PROXY_JOB}"}}[{window.seconds}s])), '
        f'"kind", "{kind}", "", "")' for kind, metric in FAULT_COUNTERS.items())
    counted = {row.labels.get("kind"): row.value for row in prom.query(query, window.end)}
    return [{"kind": kind, "backend": "proxy", "applied": True, "metric": metric,
             "counted": counted[kind]}
            for kind, metric in FAULT_COUNTERS.items() if counted.get(kind, 0.0) >= 0.5]


def blind_slos(slos) -> bool:
    """True when some SLO reads metrics the proxy's faults (of any kind) never reach."""
    return any(not reads_the_proxy(slo) and blind_to(slo, FAULT_COUNTERS) for slo in slos)
