"""The Bot API endpoints: /bot<token>/getMe, /bot<token>/sendMessage, /bot<token>/getUpdates.

Like Telegram: GET or POST; method names are case-insensitive; parameters come from the query
string, an urlencoded or multipart form, or a JSON object (whose values Telegram flattens to
strings, so "true"/"-100123" work as well as true/-100123); the query string wins when a
parameter appears twice. Answers are Telegram's envelope, {"ok": true, "result": ...} or
{"ok": false, "error_code": ..., "description": ...}.

Order of checks: token (401) -> method (404) -> fault emulation -> parameters (400) ->
chat rate limit (429) -> durable store -> answer.
"""

import json
import logging
import time
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from flask import Blueprint, Response, current_app, jsonify, request

from stack.telegram_sandbox.errors import BotApiError
from stack.telegram_sandbox.faults import (
    FORBIDDEN,
    NGINX_PAGE,
    ChatRateLimiter,
    FaultSpec,
    FaultState,
)
from stack.telegram_sandbox.logmask import LOGGER_NAME
from stack.telegram_sandbox.model import (
    Bot,
    get_me_json,
    message_json,
    parse_send_message,
    parse_token,
    to_int,
    unauthorized,
    update_json,
)
from stack.telegram_sandbox.store import MessageStore, select

log = logging.getLogger(LOGGER_NAME)
bp = Blueprint("botapi", __name__)
BOT_RULE = "/bot<token>/<method>"


@dataclass
class Sandbox:
    """Everything the endpoints share (one per app)."""

    store: MessageStore
    faults: FaultState
    limiter: ChatRateLimiter
    bot_first_name: str
    allowed_chats: frozenset[str] | None = None
    accepted_fingerprints: frozenset[str] | None = None
    getupdates_max_wait_s: float = 10.0


def sandbox() -> Sandbox:
    """The current app's Sandbox."""
    return current_app.extensions["telegram_sandbox"]


def _require_utf8(raw: bytes) -> None:
    """Telegram refuses parameters whose (percent-decoded) bytes are not UTF-8.

    Werkzeug would decode them with replacement characters, so the message would be stored
    with text the sender never wrote.
    """
    try:
        unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise BotApiError(400, "Bad Request: strings must be encoded in UTF-8") from None


def request_params() -> tuple[dict[str, str], str]:
    """The call's parameters as strings, and their transport (query/form/multipart/json)."""
    _require_utf8(request.query_string)
    params = dict(request.args.items())
    transport = "query"
    if request.mimetype == "application/json":
        transport = "json"
        raw = request.get_data(cache=True)
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            body = {}  # Telegram ignores a body it cannot parse (then: "chat_id is empty")
        if isinstance(body, dict):
            for key, value in body.items():
                text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
                params.setdefault(key, text)
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        transport = "multipart" if request.mimetype == "multipart/form-data" else "form"
        if transport == "form":
            _require_utf8(request.get_data(cache=True))
        for key, value in request.form.items():
            params.setdefault(key, value)
    return params, transport


def too_many_requests(retry_after: int) -> BotApiError:
    """Telegram's flood-control answer."""
    return BotApiError(429, f"Too Many Requests: retry after {retry_after}",
                       {"retry_after": retry_after})


def fault_response(spec: FaultSpec, released) -> Response:
    """What the emulated failure answers (raises BotApiError for Telegram-shaped ones)."""
    if spec.mode == "429":
        raise too_many_requests(spec.retry_after)
    if spec.mode == "403":
        raise BotApiError(403, FORBIDDEN[spec.reason])
    if spec.mode == "500":
        raise BotApiError(500, "Internal Server Error")
    if spec.mode == "timeout":
        released.wait(spec.hang_s)  # DELETE /sandbox/faults wakes it early
        return Response(NGINX_PAGE.format(status="504 Gateway Time-out"), 504, mimetype="text/html")
    return Response(NGINX_PAGE.format(status="502 Bad Gateway"), 502, mimetype="text/html")


# ------------------------------------------------------------------------------------ methods

def get_me(box: Sandbox, bot: Bot, params: dict, transport: str) -> dict:
    """getMe: the bot itself."""
    return get_me_json(bot, box.bot_first_name)


def send_message(box: Sandbox, bot: Bot, params: dict, transport: str) -> dict:
    """sendMessage: validate, rate-limit, store durably, answer the Message."""
    msg = parse_send_message(params, box.allowed_chats)
    retry_after = box.limiter.admit(bot.id, msg.chat.id)
    if retry_after is not None:
        raise too_many_requests(retry_after)
    record = box.store.append({
        "bot_id": bot.id,
        "bot_username": bot.username,
        "bot_first_name": box.bot_first_name,
        "token": bot.masked_token,
        "token_fingerprint": bot.fingerprint,
        "chat_id": msg.chat.id,
        "chat_type": msg.chat.type,
        "chat_username": msg.chat.username,
        "text": msg.text,
        "raw_text": msg.raw_text,
        "parse_mode": msg.parse_mode,
        "entities": list(msg.entities),
        "disable_notification": msg.disable_notification,
        "disable_web_page_preview": msg.disable_web_page_preview,
        "message_thread_id": msg.message_thread_id,
        "reply_to_message_id": msg.reply_to_message_id,
        "transport": transport,
    })
    log.info("accepted message %d from bot %s to chat %s (%d chars, parse_mode=%s)",
             record["message_id"], bot.masked_token, msg.chat.id, len(msg.text), msg.parse_mode)
    return message_json(record)


def get_updates(box: Sandbox, bot: Bot, params: dict, transport: str) -> list[dict]:
    """getUpdates: this bot's recorded messages as Updates (offset, limit, timeout honoured)."""
    offset = to_int(params.get("offset"), 0)
    limit = min(max(to_int(params.get("limit"), 100), 1), 100)
    wait_s = min(max(to_int(params.get("timeout"), 0), 0), box.getupdates_max_wait_s)

    def pick() -> list[dict]:
        mine = select(box.store.messages(), bot_id=bot.id)
        if offset < 0:
            mine = mine[offset:]  # the last -offset updates
        elif offset > 0:
            mine = [m for m in mine if m["message_id"] >= offset]
        return mine[:limit]

    deadline = time.monotonic() + wait_s
    seen = box.store.last_id
    updates = pick()
    while not updates and (remaining := deadline - time.monotonic()) > 0:
        box.store.wait_for_newer(seen, remaining)  # long polling, like Telegram's `timeout`
        seen = box.store.last_id
        updates = pick()
    return [update_json(m) for m in updates]


METHODS = {
    "getme": ("getMe", get_me),
    "sendmessage": ("sendMessage", send_message),
    "getupdates": ("getUpdates", get_updates),
}


def canonical_method(name: str) -> str:
    """The Bot API method's canonical name, or "unknown" (a bounded metrics label)."""
    entry = METHODS.get(name.lower())
    return entry[0] if entry else "unknown"


@bp.route(BOT_RULE, methods=["GET", "POST"])
def call(token: str, method: str):
    """Dispatch one Bot API call."""
    box = sandbox()
    bot = parse_token(token)
    if box.accepted_fingerprints is not None and bot.fingerprint not in box.accepted_fingerprints:
        raise unauthorized()
    entry = METHODS.get(method.lower())
    if entry is None:
        raise BotApiError(404, "Not Found")
    name, handler = entry
    params, transport = request_params()
    claimed = box.faults.take(name)
    if claimed is not None:
        return fault_response(*claimed)
    return jsonify(ok=True, result=handler(box, bot, params, transport))


def init_app(app) -> None:
    """Register the Bot API endpoints."""
    app.register_blueprint(bp)
