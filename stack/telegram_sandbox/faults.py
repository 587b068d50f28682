"""Failure emulation, so alert senders' retries can be tested against the sandbox.

A fault answers Bot API calls with what Telegram (or the proxy in front of it) answers when it
misbehaves, for the next `count` calls or for `duration_s` seconds, whichever ends first:

    429      {"ok":false,"error_code":429,"description":"Too Many Requests: retry after N",
              "parameters":{"retry_after":N}}                  (Telegram's flood control)
    403      {"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}
             (reason "blocked", the default) or "...: bot is not a member of the channel chat"
             (reason "not_member"): the bot lost its chat, one of the commonest real failures
    500      {"ok":false,"error_code":500,"description":"Internal Server Error"}
    502      nginx's HTML "502 Bad Gateway" page (not JSON: senders must cope)
    timeout  no answer for hang_s seconds, then nginx's "504 Gateway Time-out" page

Example body of `PUT /sandbox/faults`:

    {"mode": "429", "count": 2, "retry_after": 3}
    {"mode": "403", "reason": "not_member", "duration_s": 120}
    {"mode": "timeout", "duration_s": 60, "hang_s": 20, "methods": ["sendMessage"]}

Faults bite before validation (they emulate infrastructure, not Telegram's judgement) and never
record the message. Every fault has a TTL (duration_s, default 300 s, at most 3600 s).

The chat rate limit is Telegram's other 429: at most `messages` per `per_s` seconds per
(bot, chat), answered with retry_after = seconds until the oldest counted message leaves the
window. Telegram's own limits are about 1 message/s per chat and 20/min per group.
"""

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from stack.telegram_sandbox.errors import SandboxValidationError

MODES = ("429", "403", "500", "502", "timeout")
# 403 reasons -> Telegram's descriptions
FORBIDDEN = {"blocked": "Forbidden: bot was blocked by the user",
             "not_member": "Forbidden: bot is not a member of the channel chat"}
DEFAULT_DURATION_S = 300.0
MAX_DURATION_S = 3600.0
BOT_METHODS = ("getMe", "sendMessage", "getUpdates")

NGINX_PAGE = ("<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n"
              "<center><h1>{status}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
              "</body>\r\n</html>\r\n")


def _method_names(value):
    """Accept Bot API method names in any case (Telegram does) and return canonical ones."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"must be a non-empty list of Bot API methods, e.g. {list(BOT_METHODS)}")
    canonical = {m.lower(): m for m in BOT_METHODS}
    names = []
    for i, name in enumerate(value):
        if not isinstance(name, str) or name.lower() not in canonical:
            raise ValueError(f"[{i}] {name!r} is not one of {list(BOT_METHODS)}")
        names.append(canonical[name.lower()])
    return tuple(sorted(set(names)))


class FaultSpec(BaseModel):
    """A validated fault request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["429", "403", "500", "502", "timeout"]
    count: int | None = Field(None, ge=1, le=100_000)
    duration_s: float | None = Field(None, gt=0, le=MAX_DURATION_S, allow_inf_nan=False)
    retry_after: int = Field(5, ge=1, le=3600)
    hang_s: float = Field(30.0, ge=0, le=120, allow_inf_nan=False)
    reason: Literal["blocked", "not_member"] = "blocked"
    methods: tuple[str, ...] = ("sendMessage",)

    @model_validator(mode="before")
    @classmethod
    def _mode_as_text(cls, data):
        if isinstance(data, dict) and isinstance(data.get("mode"), int):
            data = {**data, "mode": str(data["mode"])}  # {"mode": 429} means "429"
        return data

    @field_validator("methods", mode="before")
    @classmethod
    def _known_methods(cls, value):
        return _method_names(value)

    @property
    def ttl_s(self) -> float:
        """How long the fault may stay on at most."""
        return self.duration_s if self.duration_s is not None else DEFAULT_DURATION_S


def parse_fault(body) -> FaultSpec:
    """Validate a fault request body; SandboxValidationError naming the field otherwise."""
    if not isinstance(body, dict):
        raise SandboxValidationError("body",
                                     'must be a JSON object, e.g. {"mode": "429", "count": 2}')
    try:
        return FaultSpec.model_validate(body)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        if first["type"] == "literal_error":
            allowed = list(FORBIDDEN) if where == "reason" else list(MODES)
            message = f"must be one of {allowed} (got {first.get('input')!r})"
        elif first["type"] == "extra_forbidden":
            message = f"unknown field; allowed: {sorted(FaultSpec.model_fields)}"
        else:
            message = first["msg"].removeprefix("Value error, ")
        raise SandboxValidationError(where, message) from err


class FaultState:
    """The one active fault (or none), shared by every request thread."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._lock = threading.Lock()
        self._spec: FaultSpec | None = None
        self._expires_at = 0.0
        self._remaining: int | None = None
        self._applied = 0
        self._released = threading.Event()  # set to wake requests hanging in a timeout fault

    def set(self, spec: FaultSpec) -> dict:
        """Switch `spec` on (replacing any fault) and return the new state."""
        with self._lock:
            self._released.set()  # a new fault frees requests hanging in the old one
            self._released = threading.Event()
            self._spec = spec
            self._expires_at = self.clock() + spec.ttl_s
            self._remaining = spec.count
            self._applied = 0
            return self._state_locked()

    def clear(self) -> bool:
        """Switch the fault off and free hanging requests; True when one was on."""
        with self._lock:
            was_on = self._active_locked()
            self._spec = None
            self._released.set()
            return was_on

    def _active_locked(self) -> bool:
        if self._spec is None:
            return False
        if self.clock() >= self._expires_at or self._remaining == 0:
            self._spec = None
            return False
        return True

    def _state_locked(self) -> dict | None:
        if not self._active_locked():
            return None
        return {**self._spec.model_dump(), "methods": list(self._spec.methods),
                "remaining": self._remaining, "applied": self._applied,
                "expires_at": round(self._expires_at, 3),
                "expires_in_s": round(self._expires_at - self.clock(), 3)}

    def state(self) -> dict | None:
        """The active fault with its remaining count and expiry, or None."""
        with self._lock:
            return self._state_locked()

    def active_mode(self) -> str | None:
        """The active fault's mode, or None (for the fault-active gauge)."""
        with self._lock:
            return self._spec.mode if self._active_locked() else None

    def take(self, method: str) -> tuple[FaultSpec, threading.Event] | None:
        """Claim one application of the fault for a call of `method` (None: no fault bites)."""
        with self._lock:
            if not self._active_locked() or method not in self._spec.methods:
                return None
            if self._remaining is not None:
                self._remaining -= 1
            self._applied += 1
            return self._spec, self._released


class RateLimit(BaseModel):
    """At most `messages` sendMessage calls per `per_s` seconds per (bot, chat)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    messages: int = Field(..., ge=1, le=10_000)
    per_s: float = Field(..., gt=0, le=3600, allow_inf_nan=False)


def parse_rate_limit(value) -> RateLimit | None:
    """A rate limit from {"messages": 20, "per_s": 60} or "20/60"; None for None/""."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        messages, sep, per_s = value.partition("/")
        if not sep:
            raise SandboxValidationError("rate_limit", f"expected 'MESSAGES/SECONDS' like '20/60' "
                                                       f"(got {value!r})")
        value = {"messages": messages.strip(), "per_s": per_s.strip()}
    if not isinstance(value, dict):
        raise SandboxValidationError("body",
                                     'must be a JSON object, e.g. {"messages": 1, "per_s": 1}')
    try:
        return RateLimit.model_validate(value)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise SandboxValidationError(where, first["msg"]) from err


class ChatRateLimiter:
    """Sliding-window message counter per (bot id, chat id)."""

    def __init__(self, limit: RateLimit | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._lock = threading.Lock()
        self._limit = limit
        self._sent: dict[tuple[int, int], deque[float]] = {}

    @property
    def limit(self) -> RateLimit | None:
        """The limit in force (None: unlimited)."""
        return self._limit

    def set(self, limit: RateLimit | None) -> None:
        """Change the limit and forget past counts."""
        with self._lock:
            self._limit = limit
            self._sent.clear()

    def admit(self, bot_id: int, chat_id: int) -> int | None:
        """Count a message and return None, or refuse it with the seconds to wait."""
        with self._lock:
            limit = self._limit
            if limit is None:
                return None
            now = self.clock()
            sent = self._sent.setdefault((bot_id, chat_id), deque())
            while sent and sent[0] <= now - limit.per_s:
                sent.popleft()
            if len(sent) >= limit.messages:
                return max(1, math.ceil(sent[0] + limit.per_s - now))
            sent.append(now)
            return None
