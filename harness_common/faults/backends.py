"""The two fault backends and what each can do: pure checks, one message per refusal.

    app     the demo app's admin API (/admin/faults): latency (with jitter), error (status,
            message), abort (reset or hang); route globs
    proxy   the Envoy fault proxy in front of any service (stack/proxy): latency (delay and
            share, no jitter) and HTTP errors (status and share; Envoy's own body) on path
            prefixes; no connection aborts

    check_supported("proxy", spec)   raises FaultValidationError naming the backend and field

Both backends speak the same HTTP API (PUT/DELETE/GET /admin/faults, bearer token), so one
client serves both; this module is where a request one of them cannot honour is refused,
never silently ignored (the proxy's controller calls it, and so do experiments that name the
proxy as their target).
"""

from __future__ import annotations

from harness_common.errors import FaultValidationError
from harness_common.faults.model import ErrorFault, FaultSpec, LatencyFault

BACKENDS = ("app", "proxy")
TITLES = {"app": "the demo app's admin API", "proxy": "the fault proxy (Envoy's fault filter)"}
DEFAULT_MESSAGE = ErrorFault.model_fields["message"].default


def _refuse(backend: str, field: str, why: str) -> FaultValidationError:
    return FaultValidationError(field, f"{TITLES[backend]} {why}")


def proxy_problem(spec: FaultSpec) -> FaultValidationError | None:
    """Why the proxy cannot carry out `spec` (the first reason), or None when it can."""
    if spec.kind == "abort":
        return _refuse("proxy", "kind", "cannot drop or hang connections: an Envoy abort is "
                                        "always a complete HTTP answer; use kind error (a 5xx "
                                        "status), or the demo app for aborts")
    if isinstance(spec, LatencyFault) and spec.jitter_ms:
        return _refuse("proxy", "jitter_ms", f"has no jitter (a fixed delay only): set "
                                             f"jitter_ms to 0 (got {spec.jitter_ms})")
    if isinstance(spec, ErrorFault) and spec.message != DEFAULT_MESSAGE:
        return _refuse("proxy", "message", "answers with Envoy's own body ('fault filter "
                                           "abort'): remove message")
    return None


def check_supported(backend: str, spec: FaultSpec) -> None:
    """Raise FaultValidationError when `backend` cannot carry out `spec`."""
    if backend not in BACKENDS:
        raise FaultValidationError("backend", f"unknown fault backend {backend!r}; use one of "
                                              f"{', '.join(BACKENDS)}")
    if backend == "proxy" and (problem := proxy_problem(spec)) is not None:
        raise problem
