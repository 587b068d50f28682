"""Sandbox configuration: defaults, and the one place that reads the environment (at start-up).

`create_app(config)` never reads the environment (flaskr style); `wsgi.py` calls
`config_from_env()` when gunicorn starts a worker.

    DATA_PATH             JSON-lines message file; None keeps messages in memory only
    MAX_CONTENT_LENGTH    request body limit in bytes (larger -> 413 in Telegram's envelope)
    BOT_FIRST_NAME        the bot's first_name in getMe and in messages' `from`
    FAULT                 a fault switched on at start, same shape as PUT /sandbox/faults
    CHAT_RATE_LIMIT       {"messages": N, "per_s": S} or "N/S": Telegram-like 429 per chat
    ALLOWED_CHATS         ids / @usernames that exist; others get "chat not found" (None: all)
    ACCEPTED_TOKENS       tokens that exist; others get 401 (None: every well-formed token).
                          Kept only as fingerprints.
    GETUPDATES_MAX_WAIT_S cap on getUpdates long polling (`timeout` parameter)
    PAGE_LIMIT            how many recent messages the chat page shows
"""

import json
import os

from stack.telegram_sandbox.errors import SandboxConfigError, SandboxValidationError
from stack.telegram_sandbox.faults import parse_fault, parse_rate_limit

DEFAULT_PORT = 8081
DEFAULT_DATA_PATH = ".stack/telegram/messages.jsonl"

DEFAULTS = {
    "DATA_PATH": None,
    # alert messages are at most 4096 characters; 64 KiB leaves room for any encoding
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "BOT_FIRST_NAME": "SLO Harness Sandbox",
    "FAULT": None,
    "CHAT_RATE_LIMIT": None,
    "ALLOWED_CHATS": None,
    "ACCEPTED_TOKENS": None,
    "GETUPDATES_MAX_WAIT_S": 10.0,
    "PAGE_LIMIT": 200,
}


def checked(config) -> dict:
    """Validate the settings create_app turns into objects; SandboxConfigError names the key."""
    out = {}
    try:
        out["fault"] = parse_fault(config["FAULT"]) if config["FAULT"] else None
    except SandboxValidationError as err:
        raise SandboxConfigError(f"FAULT.{err.field}: {err.message}") from err
    try:
        out["rate_limit"] = parse_rate_limit(config["CHAT_RATE_LIMIT"])
    except SandboxValidationError as err:
        raise SandboxConfigError(f"CHAT_RATE_LIMIT.{err.field}: {err.message}") from err
    chats = config["ALLOWED_CHATS"]
    if chats is not None and (isinstance(chats, str)
                              or not all(isinstance(c, str | int) for c in chats)):
        raise SandboxConfigError("ALLOWED_CHATS: expected a list of chat ids or @usernames")
    out["allowed_chats"] = (None if chats is None
                            else frozenset(str(c).strip().lower() for c in chats))
    tokens = config["ACCEPTED_TOKENS"]
    if tokens is not None and (isinstance(tokens, str)
                               or not all(isinstance(t, str) for t in tokens)):
        raise SandboxConfigError("ACCEPTED_TOKENS: expected a list of bot tokens")
    out["accepted_tokens"] = tokens
    limit = config["MAX_CONTENT_LENGTH"]
    if not isinstance(limit, int) or limit < 4096:
        raise SandboxConfigError(f"MAX_CONTENT_LENGTH: expected bytes >= 4096 (got {limit!r})")
    return out


def config_from_env(environ=None) -> dict:
    """Build the sandbox config from TELEGRAM_SANDBOX_* variables (called once, at start)."""
    env = os.environ if environ is None else environ
    config = {"DATA_PATH": env.get("TELEGRAM_SANDBOX_DATA") or DEFAULT_DATA_PATH}
    if env.get("TELEGRAM_SANDBOX_FAULT"):
        try:
            config["FAULT"] = json.loads(env["TELEGRAM_SANDBOX_FAULT"])
        except ValueError as err:
            raise SandboxConfigError(
                'TELEGRAM_SANDBOX_FAULT: expected JSON like {"mode": "429", "count": 2}'
            ) from err
    if env.get("TELEGRAM_SANDBOX_RATE_LIMIT"):
        config["CHAT_RATE_LIMIT"] = env["TELEGRAM_SANDBOX_RATE_LIMIT"]
    if env.get("TELEGRAM_SANDBOX_CHATS"):
        config["ALLOWED_CHATS"] = [c for c in env["TELEGRAM_SANDBOX_CHATS"].split(",") if c.strip()]
    return config
