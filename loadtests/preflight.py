"""Checks before any load is sent: the target answers, and the fault API takes our token.

Pure requests code (no Locust), shared by the CLI (before it starts Locust) and the harness
(when Locust is started directly). The target is any HTTP service: an answer with any status
counts as reachable (a service of the user's need not have /health). The fault API is the
stack's fault backend (the demo app's admin API, or the fault proxy in front of TARGET_URL),
resolved with its token by harness_common.stackenv.fault_api_for; a schedule whose faults would
act elsewhere than where the load goes is refused.
"""

import requests

from harness_common.errors import FaultError
from harness_common.faults.client import FaultClient
from harness_common.stackenv import FaultApi, same_url, token_hint
from loadtests.errors import TargetError

TIMEOUT_S = 3.0


def check_reachable(host: str) -> None:
    """TargetError unless `host` answers HTTP at all."""
    try:
        requests.get(host.rstrip("/") + "/", timeout=TIMEOUT_S, allow_redirects=False).close()
    except requests.RequestException as err:
        raise TargetError(f"target {host} is unreachable ({type(err).__name__}); start it (make "
                          f"app or make stack) or point --host / HOST / APP_URL at it") from err


def check_target(host: str, api: FaultApi, needs_admin: bool) -> list[dict]:
    """Raise TargetError unless `host` answers (and, with needs_admin, the fault API at `api`
    accepts its token and its faults act on `host`: a schedule whose faults change requests the
    load never sends would be judged as a run under faults). Returns the faults already on at
    the backend (they affect the run)."""
    check_reachable(host)
    if not needs_admin:
        return []
    if api.affects and not same_url(host, api.affects):
        raise TargetError(f"the chaos schedule's faults act on {api.affects} (the {api.backend} "
                          f"fault backend at {api.url}) but the load goes to {host}, which they "
                          f"never touch: send the load there (--host {api.affects}) or point "
                          f"FAULT_API_URL at the backend in front of {host}")
    if not api.token:
        raise TargetError(f"the chaos schedule needs the fault API's admin token ({api.url}): "
                          f"{token_hint(api.url)}")
    try:
        return FaultClient.for_api(api, timeout=TIMEOUT_S).list()
    except FaultError as err:
        raise TargetError(f"the {api.backend} fault API refused the chaos schedule's requests: "
                          f"{err}") from err
