"""The fault proxy's controller: the fault API in front of Envoy, and the TTLs Envoy lacks.

Envoy's runtime has no expiry, so the controller owns every proxy fault and writes its end
into Envoy beside it:

    registry = ProxyRegistry(EnvoyAdmin(admin_url), proxy_routes(prefixes))
    app = create_control_app(registry, token)     # /admin/faults (the shared API), /health

- A fault is validated (the shared fault model, then what the proxy can do: no jitter, no
  aborts, path prefixes only; harness_common.faults.backends, stack.proxy.routes), written to
  Envoy with its end (`harness.<slug>.<kind>_expires_at`) in one /runtime_modify and read back
  from /runtime before the answer says it is on; a change Envoy does not take is refused with
  503 and leaves the registry as it was.
- Each fault switches off at its TTL (the shared FaultRegistry's reaper), and a reconciler
  makes Envoy's harness keys equal to the registry every second: an expired fault, a key set
  behind the controller's back, or one left by an earlier controller is removed within ~1 s.
- The TTL does not depend on the controller staying scheduled: the watchdog
  (stack.proxy.watchdog), a process of its own that stack.proxy.serve starts next to Envoy,
  removes every fault Envoy holds a grace past its end, so a stopped, hung or killed
  controller leaves nothing on past the TTL. A resumed controller finds its expired faults
  already gone and expires them from the registry too (never writing them back).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flask import Flask, jsonify

from harness_common.errors import FaultError
from harness_common.faults import api
from harness_common.faults.backends import check_supported
from harness_common.faults.model import FaultSpec
from harness_common.faults.registry import ActiveFault, FaultRegistry
from stack.proxy.envoy import EnvoyAdmin, EnvoyError
from stack.proxy.routes import ProxyRoute, select_routes
from stack.proxy.runtime import RoutedFault, desired_runtime, differences, overrides

log = logging.getLogger("stack.proxy")

RECONCILE_INTERVAL_S = 1.0
MAX_BODY_BYTES = 16 * 1024


class ProxyFaultError(FaultError):
    """Envoy did not take a change (the API answers 503 with this message)."""


class ProxyRegistry(FaultRegistry):
    """A FaultRegistry whose state Envoy's runtime follows (see the module docstring)."""

    def __init__(self, admin: EnvoyAdmin, routes: tuple[ProxyRoute, ...], clock=time.time,
                 reaper: bool = True):
        super().__init__(clock=clock, reaper=reaper)
        self.admin = admin
        self.routes = routes
        self._sync = threading.RLock()
        self._stop = threading.Event()
        self._reconciler: threading.Thread | None = None
        self.last_error: str | None = None

    # -- the registry's operations, each followed by Envoy ------------------------------------
    def routed(self, spec: FaultSpec, expires_at: float) -> RoutedFault:
        """`spec` with the slugs of its routes; FaultValidationError when the proxy cannot."""
        check_supported("proxy", spec)
        return RoutedFault(spec, select_routes(spec.routes, self.routes), expires_at)

    def set(self, spec: FaultSpec) -> ActiveFault:
        """Write the fault and its end to Envoy (with the others), check it took, then record
        it with that same end."""
        now = round(self.now(), 3)   # the end Envoy holds, to the millisecond, is the registry's
        fault = self.routed(spec, now + spec.ttl_s)
        with self._sync:
            others = [self.routed(f.spec, f.expires_at) for f in self.active()
                      if f.kind != spec.kind]
            try:
                self._apply([*others, fault])
            except EnvoyError as err:
                self._reconcile_quietly()  # back to what the registry holds
                raise ProxyFaultError(f"the fault proxy could not switch the {spec.kind} fault "
                                      f"on: {err}") from err
            return super().set(spec, now=now)

    def clear(self, kind: str | None = None) -> list[str]:
        """Forget the fault(s), then remove them from Envoy (retried every second if it fails)."""
        with self._sync:
            cleared = super().clear(kind)
            try:
                self._apply(self._current())
            except EnvoyError as err:
                raise ProxyFaultError(f"cleared {', '.join(cleared) or 'nothing'}, but Envoy "
                                      f"did not take it yet ({err}); the controller retries "
                                      f"every second") from err
            return cleared

    def expire_due(self) -> list[str]:
        """The TTL reaper: expire what is due, then bring Envoy in line."""
        with self._sync:
            due = super().expire_due()
            if due:
                self._reconcile_quietly()
            return due

    # -- Envoy ------------------------------------------------------------------------------
    def _current(self) -> list[RoutedFault]:
        return [self.routed(f.spec, f.expires_at) for f in self.active()]

    def _apply(self, faults: list[RoutedFault]) -> None:
        """Make Envoy's harness keys match `faults`, then read them back."""
        want = desired_runtime(faults, self.routes)
        updates = differences(want, overrides(self.admin.runtime()))
        if not updates:
            return
        self.admin.modify(updates)
        have = overrides(self.admin.runtime())
        expected = {k: v for k, v in want.items() if v != ""}
        if have != expected:
            wrong = sorted(set(have.items()) ^ set(expected.items()))[:4]
            raise EnvoyError(f"Envoy's runtime does not hold what was written (differs at "
                             f"{', '.join(k for k, _ in wrong)})")

    def reconcile(self) -> bool:
        """One pass: Envoy's keys := the registry's faults. True when Envoy is in line."""
        with self._sync:
            try:
                self._apply(self._current())
            except EnvoyError as err:
                if self.last_error != str(err):
                    log.error("reconcile: %s", err)
                self.last_error = str(err)
                return False
            if self.last_error is not None:
                log.warning("reconcile: Envoy is in line again")
            self.last_error = None
            return True

    def _reconcile_quietly(self) -> None:
        self.reconcile()

    def start_reconciler(self, interval: float = RECONCILE_INTERVAL_S) -> None:
        """Reconcile every `interval` seconds in a daemon thread until close()."""
        def loop():
            while not self._stop.wait(interval):
                self.expire_due()
                self.reconcile()

        self._reconciler = threading.Thread(target=loop, name="proxy-reconciler", daemon=True)
        self._reconciler.start()

    def close(self) -> None:
        """Stop the reaper and the reconciler."""
        self._stop.set()
        super().close()


def create_control_app(registry: ProxyRegistry, token: str | None,
                       describe: Callable[[], dict] | None = None) -> Flask:
    """The controller's web app: the shared /admin/faults API and /health (200 when Envoy
    is ready and in line with the registry, else 503)."""
    app = Flask("stack.proxy")
    app.config.update(FAULT_ADMIN_TOKEN=token, MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
                      FAULT_BACKEND="proxy")
    app.extensions["fault_registry"] = registry
    api.init_app(app)

    @app.get("/health")
    def health():
        ready = registry.admin.ready()
        doc = {"status": "ok" if ready and registry.last_error is None else "degraded",
               "backend": "proxy", "envoy": "ready" if ready else "not ready",
               "routes": [r.label for r in registry.routes], **(describe() if describe else {})}
        if registry.last_error:
            doc["error"] = registry.last_error
        return jsonify(doc), 200 if doc["status"] == "ok" else 503

    return app
