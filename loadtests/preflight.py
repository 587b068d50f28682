"""Checks before any load is sent: the target answers, and the admin API takes our token.

Pure requests code (no Locust), shared by the CLI (before it starts Locust) and the harness
(when Locust is started directly).
"""

from harness_common.errors import FaultError
from harness_common.faults.client import FaultClient
from loadtests.errors import TargetError

TIMEOUT_S = 3.0


def check_target(host: str, token: str | None, needs_admin: bool) -> list[dict]:
    """Raise TargetError unless `host` answers /health (and, with needs_admin, accepts the token).

    Returns the faults already on at the target (they would affect the run).
    """
    client = FaultClient(host, token, timeout=TIMEOUT_S)
    try:
        client.health()
    except FaultError as err:
        raise TargetError(f"target {host} is unreachable ({err}); start it (make app or make "
                          f"stack) or point --host / APP_URL at it") from err
    if not needs_admin:
        return []
    if not token:
        raise TargetError("the chaos schedule needs the app's admin token: set "
                          "FAULT_ADMIN_TOKEN or start the stack (make stack writes .stack/env)")
    try:
        return client.list()
    except FaultError as err:
        raise TargetError(f"the app's admin API refused the chaos schedule's requests: {err}") \
            from err
