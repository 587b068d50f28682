"""The client of the fault API, used by the fault CLI, Locust, the judge and the runner.

    client = FaultClient.from_env()          # the stack's fault API (app or proxy), its token
    client.set("latency", delay_ms=400, ttl_s=60)
    client.list()
    client.clear("latency")                  # or client.clear() for every fault

The token is sent in the Authorization header only; it never appears in errors or repr().

The client keeps its connection open between calls (a runner or a Chaos tab holds one for a
whole run); a call that fails because the server closed that connection meanwhile is sent
once more on a new one (harness_common.http.retrying_session). Each call may be sent twice:
GET reads; DELETE clears, and clearing what is already off is a no-op; PUT replaces the fault
of its kind in the registry (FaultRegistry.set, the proxy's too), so a second PUT leaves the
same fault on, its TTL counted from the second.
"""

from __future__ import annotations

import requests

from harness_common.errors import FaultError
from harness_common.http import retrying_session
from harness_common.stackenv import FaultApi, refused_token_hint, resolve_fault_api, token_hint

IDEMPOTENT = ("GET", "PUT", "DELETE")   # every method the client sends (see the docstring)


class FaultClient:
    """Admin API client; every call raises FaultError with the server's reason on failure."""

    def __init__(self, base_url: str, token: str | None, timeout: float = 5.0,
                 backend: str = "app"):
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.backend = backend
        self._session = retrying_session(IDEMPOTENT)

    @classmethod
    def for_api(cls, api: FaultApi, timeout: float = 5.0) -> FaultClient:
        """A client for a resolved fault API (stackenv.resolve_fault_api)."""
        return cls(api.url, api.token, timeout=timeout, backend=api.backend)

    @classmethod
    def from_env(cls, timeout: float = 5.0) -> FaultClient:
        """A client for the fault API the environment and .stack/env name (resolve_fault_api):
        the fault proxy's when the stack runs one in front of TARGET_URL, else the app's."""
        return cls.for_api(resolve_fault_api(), timeout=timeout)

    def __repr__(self) -> str:
        return f"FaultClient({self.base_url!r}, token={'set' if self._token else 'unset'})"

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        if not self._token:
            raise FaultError(f"no admin token for {self.base_url}: {token_hint(self.base_url)}")
        url = f"{self.base_url}/admin/faults{path}"
        try:
            resp = self._session.request(
                method, url, json=body, timeout=self.timeout,
                headers={"Authorization": f"Bearer {self._token}"},
            )
        except requests.RequestException as err:
            raise FaultError(f"cannot reach the {self.what} at {self.base_url}: "
                             f"{type(err).__name__}") from err
        try:
            payload = resp.json()
        except ValueError:
            payload = {}
        if resp.status_code != 200:
            reason = payload.get("error") or resp.reason
            hint = f" ({refused_token_hint(self.base_url)})" if resp.status_code == 401 else ""
            raise FaultError(f"{method} /admin/faults{path} -> {resp.status_code}: "
                             f"{reason}{hint}")
        return payload

    @property
    def what(self) -> str:
        """How messages name the backend."""
        return "fault proxy's API" if self.backend == "proxy" else "app's admin API"

    def list(self) -> list[dict]:
        """The active faults."""
        return self._call("GET", "")["faults"]

    def set(self, kind: str, **params) -> dict:
        """Switch a fault on; returns the active fault (with expires_at)."""
        return self._call("PUT", f"/{kind}", params)["fault"]

    def clear(self, kind: str | None = None) -> list[str]:
        """Switch one kind (or every fault) off; returns the kinds cleared."""
        return self._call("DELETE", f"/{kind}" if kind else "")["cleared"]

    def health(self) -> dict:
        """The app's /health document (raises FaultError when unreachable)."""
        try:
            resp = self._session.get(f"{self.base_url}/health", timeout=self.timeout)
            resp.raise_for_status()
            return resp.json()
        except (requests.RequestException, ValueError) as err:
            raise FaultError(f"app at {self.base_url} is not healthy: "
                             f"{type(err).__name__}") from err
