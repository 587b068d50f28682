"""The sandbox's own API (for tests and the alert verifier), its chat page and /health.

    GET    /sandbox/messages?since=&chat_id=&contains=&after_id=&limit=
                                   recorded messages, oldest first
    DELETE /sandbox/messages       forget them (ids keep increasing)
    GET    /sandbox/faults         the active fault, or null
    PUT    /sandbox/faults         switch one on (JSON body, see faults.py)
    DELETE /sandbox/faults         switch it off (and free requests hanging in it)
    GET|PUT|DELETE /sandbox/rate-limit   the per-chat limit, {"messages": N, "per_s": S}
    GET    /  and  /sandbox        the chat page
    GET    /health                 liveness + counts

`since` is unix seconds or ISO-8601 (naive means UTC); `chat_id` an id or @username;
`contains` a substring of the text (as shown, or as sent with its markup). Bound to 127.0.0.1
and without auth by design: it is a test double holding no secret (tokens are stored masked).
"""

from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, render_template, request

from stack.telegram_sandbox.botapi import sandbox
from stack.telegram_sandbox.errors import SandboxValidationError
from stack.telegram_sandbox.faults import parse_fault, parse_rate_limit
from stack.telegram_sandbox.render import render_message
from stack.telegram_sandbox.store import select

bp = Blueprint("sandbox", __name__)
MAX_LIMIT = 10_000
PUBLIC_FIELDS = ("message_id", "chat_id", "chat_type", "chat_username", "date", "received_at",
                 "text", "raw_text", "parse_mode", "entities", "bot_id", "bot_username", "token",
                 "token_fingerprint", "disable_notification", "disable_web_page_preview",
                 "message_thread_id", "reply_to_message_id", "transport")


def parse_since(raw: str | None) -> float | None:
    """Unix seconds from '1700000000.5' or an ISO-8601 time (naive = UTC); None when absent."""
    if raw is None or raw.strip() == "":
        return None
    raw = raw.strip()
    try:
        return float(raw)
    except ValueError:
        pass
    if "T" in raw and " " in raw:
        raw = raw.replace(" ", "+")  # an unencoded '+' of a UTC offset arrives as a space
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as err:
        raise SandboxValidationError(
            "since", f"expected unix seconds or ISO-8601 like 2024-05-01T12:00:00Z (got {raw!r})"
        ) from err
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _int_arg(name: str, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError as err:
        raise SandboxValidationError(name, f"expected an integer (got {raw!r})") from err
    if not low <= value <= high:
        raise SandboxValidationError(name, f"expected {low}..{high} (got {value})")
    return value


def public(record: dict) -> dict:
    """A stored record as the read API shows it."""
    return {key: record.get(key) for key in PUBLIC_FIELDS}


@bp.errorhandler(SandboxValidationError)
def invalid(err: SandboxValidationError):
    """400 naming the field; nothing was changed."""
    return jsonify(error=str(err), field=err.field), 400


@bp.get("/sandbox/messages")
def list_messages():
    """Recorded messages matching the filters, oldest first (the newest `limit` of them)."""
    box = sandbox()
    picked = select(box.store.messages(), since=parse_since(request.args.get("since")),
                    chat=request.args.get("chat_id") or None,
                    contains=request.args.get("contains") or None,
                    after_id=_int_arg("after_id", 0, 2**63 - 1))
    limit = _int_arg("limit", 1, MAX_LIMIT)
    if limit is not None:
        picked = picked[-limit:]
    return jsonify(messages=[public(m) for m in picked], count=len(picked),
                   last_message_id=box.store.last_id)


@bp.delete("/sandbox/messages")
def clear_messages():
    """Forget every recorded message (tests); ids keep increasing."""
    box = sandbox()
    return jsonify(cleared=box.store.clear(), last_message_id=box.store.last_id)


def _json_body():
    body = request.get_json(silent=True)
    if body is None:
        raise SandboxValidationError("body", "expected a JSON object with Content-Type "
                                             "application/json")
    return body


@bp.get("/sandbox/faults")
def get_fault():
    """The active fault, or null."""
    return jsonify(fault=sandbox().faults.state())


@bp.put("/sandbox/faults")
def set_fault():
    """Validate fully, then switch the fault on (replacing any other)."""
    spec = parse_fault(_json_body())
    return jsonify(fault=sandbox().faults.set(spec))


@bp.delete("/sandbox/faults")
def clear_fault():
    """Switch the fault off (idempotent)."""
    return jsonify(cleared=sandbox().faults.clear(), fault=None)


def _rate_limit_state():
    limit = sandbox().limiter.limit
    return jsonify(rate_limit=limit.model_dump() if limit else None)


@bp.get("/sandbox/rate-limit")
def get_rate_limit():
    """The per-chat limit in force, or null."""
    return _rate_limit_state()


@bp.put("/sandbox/rate-limit")
def set_rate_limit():
    """Limit each (bot, chat) to `messages` per `per_s` seconds."""
    limit = parse_rate_limit(_json_body())
    if limit is None:
        raise SandboxValidationError("body", 'expected {"messages": N, "per_s": S}')
    sandbox().limiter.set(limit)
    return _rate_limit_state()


@bp.delete("/sandbox/rate-limit")
def clear_rate_limit():
    """No per-chat limit."""
    sandbox().limiter.set(None)
    return _rate_limit_state()


@bp.get("/")
@bp.get("/sandbox")
def chat_page():
    """The recorded messages as a chat window (newest at the bottom)."""
    box = sandbox()
    chat = request.args.get("chat_id") or None
    messages = select(box.store.messages(), chat=chat)[-current_app.config["PAGE_LIMIT"]:]
    shown = [{**public(m),
              "html": render_message(m["text"], m.get("entities")),
              "time": datetime.fromtimestamp(m["received_at"], UTC).strftime("%Y-%m-%d %H:%M:%S")}
             for m in messages]
    chats = sorted({str(m["chat_id"]) for m in box.store.messages()})
    return render_template("chat.html", messages=shown, chat=chat, chats=chats,
                           fault=box.faults.state(), total=box.store.count())


@bp.get("/health")
def health():
    """Liveness, with what a human checking the stack wants to know."""
    box = sandbox()
    return jsonify(status="ok", messages=box.store.count(), last_message_id=box.store.last_id,
                   fault=box.faults.active_mode())


def init_app(app) -> None:
    """Register the control API, the chat page and /health."""
    app.register_blueprint(bp)
