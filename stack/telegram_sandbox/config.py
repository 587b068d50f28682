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

Environment (config_from_env): TELEGRAM_SANDBOX_DATA, _FAULT, _RATE_LIMIT, _CHATS (ALLOWED_CHATS,
comma-separated) and _TOKENS (ACCEPTED_TOKENS, comma-separated; a secret, so environment only,
never argv). The stack's sandbox gets its own token and chat there (strict); started alone
(`make telegram-sandbox`) without them it is permissive and says so.
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
    if env.get("TELEGRAM_SANDBOX_TOKENS"):
        config["ACCEPTED_TOKENS"] = [t.strip() for t in env["TELEGRAM_SANDBOX_TOKENS"].split(",")
                                     if t.strip()]
    return config


def strictness(environ=None) -> str:
    """What the sandbox started from `environ` accepts, in one sentence (said at start)."""
    env = os.environ if environ is None else environ
    tokens = [t for t in (env.get("TELEGRAM_SANDBOX_TOKENS") or "").split(",") if t.strip()]
    chats = [c.strip() for c in (env.get("TELEGRAM_SANDBOX_CHATS") or "").split(",")
             if c.strip()]
    if tokens and chats:
        return (f"strict: only its {len(tokens)} configured bot token(s) (others: 401 "
                f"Unauthorized) and chat(s) {', '.join(chats)} (others: 400 Bad Request: chat "
                f"not found), as Telegram")
    said = []
    said.append(f"only {len(tokens)} configured bot token(s)" if tokens
                else "ANY well-formed bot token")
    said.append(f"only chat(s) {', '.join(chats)}" if chats else "ANY chat id")
    return (f"permissive: accepts {' and '.join(said)}, where Telegram answers 401 "
            f"Unauthorized and 400 chat not found; the stack's sandbox (`make stack`) is strict: "
            f"set TELEGRAM_SANDBOX_TOKENS and TELEGRAM_SANDBOX_CHATS (comma-separated) for the "
            f"same here")
