"""The sandbox's Flask app: create_app(config) (see the package docstring)."""

import logging

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from stack.telegram_sandbox import botapi, control, metrics
from stack.telegram_sandbox.botapi import BOT_RULE, Sandbox
from stack.telegram_sandbox.config import DEFAULTS, checked
from stack.telegram_sandbox.errors import BotApiError, SandboxStoreError
from stack.telegram_sandbox.faults import ChatRateLimiter, FaultState
from stack.telegram_sandbox.logmask import LOGGER_NAME, install, mask_token, mask_tokens_in
from stack.telegram_sandbox.model import token_fingerprint
from stack.telegram_sandbox.store import MessageStore

log = logging.getLogger(LOGGER_NAME)


def create_app(config: dict | None = None) -> Flask:
    """Build the sandbox app from `config` (keys: see config.py)."""
    app = Flask(__package__)  # the package: its logger is the one whose lines are masked
    app.json.sort_keys = False  # keep Telegram's field order: "ok" first, then "result"
    app.config.from_mapping(DEFAULTS)
    if config:
        app.config.from_mapping(config)
    settings = checked(app.config)
    tokens = settings["accepted_tokens"]
    fingerprints = None if tokens is None else frozenset(token_fingerprint(t) for t in tokens)
    app.config["ACCEPTED_TOKENS"] = None if tokens is None else sorted(fingerprints)  # no secrets

    box = Sandbox(
        store=MessageStore(app.config["DATA_PATH"]),
        faults=FaultState(),
        limiter=ChatRateLimiter(settings["rate_limit"]),
        bot_first_name=app.config["BOT_FIRST_NAME"],
        allowed_chats=settings["allowed_chats"],
        accepted_fingerprints=fingerprints,
        getupdates_max_wait_s=float(app.config["GETUPDATES_MAX_WAIT_S"]),
    )
    if settings["fault"] is not None:
        box.faults.set(settings["fault"])
    app.extensions["telegram_sandbox"] = box

    install(app.logger)  # app.logger is the LOGGER_NAME logger every module logs to
    metrics.init_app(app, box)
    app.before_request(_refuse_oversized_chunked_body)
    botapi.init_app(app)
    control.init_app(app)
    _init_errors(app)
    return app


def _refuse_oversized_chunked_body() -> None:
    """Refuse a body over MAX_CONTENT_LENGTH that came without a Content-Length (chunked).

    Werkzeug refuses a too-large Content-Length at once, but reads a chunked body only up to
    the limit and silently stops there: the cut-off prefix would be handled as the whole body.
    """
    if request.content_length is None and request.method in ("PUT", "POST", "PATCH"):
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        if len(request.get_data(cache=True)) >= limit and request.environ["wsgi.input"].read(1):
            raise RequestEntityTooLarge()


def _is_bot_call() -> bool:
    """True when the request is (or looks like) a Bot API call: answer in Telegram's envelope."""
    rule = request.url_rule
    return (rule is not None and rule.rule == BOT_RULE) or request.path.startswith("/bot")


def _masked_call() -> str:
    """'sendMessage for bot 123:AB…yz' for log lines about the current Bot API call."""
    args = request.view_args or {}
    return f"{botapi.canonical_method(args.get('method', ''))} for bot " \
           f"{mask_token(args.get('token', ''))}"


def _init_errors(app: Flask) -> None:
    """Telegram-shaped errors on Bot API paths, JSON elsewhere; no path (token!) ever echoed."""

    @app.errorhandler(BotApiError)
    def bot_api_error(err: BotApiError):
        log.info("refused %s: %d %s", _masked_call(), err.code, err.description)
        return jsonify(err.envelope()), err.code

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        code = err.code or 500
        if _is_bot_call():
            # Telegram's descriptions are the bare reason phrase ("Not Found")
            return jsonify(ok=False, error_code=code, description=err.name), code
        return jsonify(error=f"{code} {err.name}"), code

    @app.errorhandler(SandboxStoreError)
    def store_error(err: SandboxStoreError):
        log.error("message store failed during %s: %s", _masked_call(), mask_tokens_in(str(err)))
        return jsonify(ok=False, error_code=500, description="Internal Server Error"), 500

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        # replaces Flask's own log line, which would print the path (and so the token)
        log.error("unhandled error in %s %s", request.method,
                  mask_tokens_in(request.path), exc_info=err)
        if _is_bot_call():
            return jsonify(ok=False, error_code=500, description="Internal Server Error"), 500
        return jsonify(error="500 Internal Server Error"), 500
