"""A small client of the sandbox's read and control API (used by the alert verifier and tests).

    client = SandboxClient.from_env()   # $TELEGRAM_SANDBOX_URL or 127.0.0.1:$TELEGRAM_SANDBOX_PORT
    started = time.time()
    ...                                      # make an alert fire
    msg = client.wait_for_message(contains="HighErrorRatio", since=started, timeout=60)
    msg["received_at"] - started             # time to notify, seconds
    client.set_fault("429", count=2, retry_after=1)
    client.clear_fault()

Every call raises SandboxError naming the URL and the server's reason on failure.
"""

import os
import time
from datetime import datetime

import requests

from harness_common.http import retrying_session
from stack.telegram_sandbox.config import DEFAULT_PORT
from stack.telegram_sandbox.errors import SandboxError


def resolve_sandbox_url(environ=None) -> str:
    """TELEGRAM_SANDBOX_URL, else http://127.0.0.1:$TELEGRAM_SANDBOX_PORT (default 8081)."""
    env = os.environ if environ is None else environ
    url = env.get("TELEGRAM_SANDBOX_URL")
    return url or f"http://127.0.0.1:{env.get('TELEGRAM_SANDBOX_PORT') or DEFAULT_PORT}"


def _since_param(since) -> str | None:
    """Unix seconds, a datetime (naive = local time, as in Python) or an ISO string -> query."""
    if since is None:
        return None
    if isinstance(since, datetime):
        return repr(since.timestamp())
    if isinstance(since, int | float):
        return repr(float(since))
    return str(since)


class SandboxClient:
    """Client of /sandbox/* on one sandbox."""

    def __init__(self, base_url: str, timeout: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        # a GET that fails on a kept-alive connection the server closed is sent once more
        self._session = retrying_session(("GET",))

    @classmethod
    def from_env(cls, timeout: float = 5.0) -> "SandboxClient":
        """A client for the sandbox named by the environment (see resolve_sandbox_url)."""
        return cls(resolve_sandbox_url(), timeout=timeout)

    def __repr__(self) -> str:
        return f"SandboxClient({self.base_url!r})"

    def _call(self, method: str, path: str, **kwargs) -> dict:
        url = f"{self.base_url}{path}"
        try:
            response = self._session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as err:
            raise SandboxError(f"Telegram sandbox at {self.base_url} is unreachable ({err}); "
                               f"start it with `python -m stack.telegram_sandbox` or "
                               f"`make stack`") from err
        try:
            body = response.json()
        except ValueError as err:
            raise SandboxError(f"{method} {url}: HTTP {response.status_code} with a non-JSON "
                               f"body; is this the Telegram sandbox?") from err
        if not response.ok:
            raise SandboxError(f"{method} {url}: HTTP {response.status_code}: "
                               f"{body.get('error', body)}")
        return body

    # ---------------------------------------------------------------- messages
    def messages(self, since=None, chat_id=None, contains: str | None = None,
                 after_id: int | None = None, limit: int | None = None) -> list[dict]:
        """Recorded messages matching the filters, oldest first."""
        params = {"since": _since_param(since), "chat_id": chat_id, "contains": contains,
                  "after_id": after_id, "limit": limit}
        params = {k: str(v) for k, v in params.items() if v is not None}
        return self._call("GET", "/sandbox/messages", params=params)["messages"]

    def wait_for_message(self, contains: str | None = None, chat_id=None, since=None,
                         timeout: float = 60.0, interval: float = 0.5) -> dict:
        """The first message matching the filters, polling up to `timeout` s (TimeoutError)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages(since=since, chat_id=chat_id, contains=contains)
            if found:
                return found[0]
            if time.monotonic() >= deadline:
                wanted = ", ".join(f"{k}={v!r}" for k, v in
                                   (("contains", contains), ("chat_id", chat_id),
                                    ("since", since)) if v is not None)
                raise TimeoutError(f"no message ({wanted or 'any'}) reached the Telegram sandbox "
                                   f"at {self.base_url} within {timeout:.0f}s")
            time.sleep(interval)

    def clear_messages(self) -> int:
        """Forget every recorded message; returns how many were dropped."""
        return self._call("DELETE", "/sandbox/messages")["cleared"]

    # ---------------------------------------------------------------- faults
    def set_fault(self, mode: str, count: int | None = None, duration_s: float | None = None,
                  retry_after: int | None = None, hang_s: float | None = None,
                  methods: list[str] | None = None, reason: str | None = None) -> dict:
        """Switch a fault on ("429", "403", "500", "502" or "timeout"; 403's `reason` "blocked"
        or "not_member"); returns its state."""
        body = {"mode": str(mode), "count": count, "duration_s": duration_s,
                "retry_after": retry_after, "hang_s": hang_s, "methods": methods,
                "reason": reason}
        body = {k: v for k, v in body.items() if v is not None}
        return self._call("PUT", "/sandbox/faults", json=body)["fault"]

    def fault(self) -> dict | None:
        """The active fault, or None."""
        return self._call("GET", "/sandbox/faults")["fault"]

    def clear_fault(self) -> bool:
        """Switch the fault off; True when one was on."""
        return self._call("DELETE", "/sandbox/faults")["cleared"]

    # ---------------------------------------------------------------- rate limit
    def set_rate_limit(self, messages: int, per_s: float) -> dict:
        """Limit each (bot, chat) to `messages` per `per_s` seconds."""
        return self._call("PUT", "/sandbox/rate-limit",
                          json={"messages": messages, "per_s": per_s})["rate_limit"]

    def clear_rate_limit(self) -> None:
        """Remove the per-chat limit."""
        self._call("DELETE", "/sandbox/rate-limit")

    # ---------------------------------------------------------------- health
    def healthy(self) -> bool:
        """True when the sandbox answers /health."""
        try:
            return self._call("GET", "/health").get("status") == "ok"
        except SandboxError:
            return False
