"""A Telegram Bot API stand-in: what alert senders (Alertmanager, Grafana) talk to in local runs.

    app = create_app({"DATA_PATH": "messages.jsonl"})
    # POST /bot123456:<35 chars>/sendMessage {"chat_id": "-100123", "text": "<b>fire</b>",
    #                                         "parse_mode": "HTML"}
    # -> {"ok": true, "result": {"message_id": 1, "from": {...}, "chat": {...}, "text": "fire"}}
    # GET /sandbox/messages?since=...&chat_id=-100123 -> what was received, for verification

It speaks getMe, sendMessage and getUpdates as Telegram documents them, validates like Telegram
(token, chat_id, text length, parse_mode and its markup) and answers in Telegram's envelope;
records every accepted message durably (store.py); emulates 429/5xx/timeouts (faults.py); and
never stores, answers or logs a full bot token. Run it: `python -m stack.telegram_sandbox`.

Config is passed in, never read from the environment here (see config.config_from_env).

The package itself imports nothing heavy: `slo` reads the parsers in formatting.py with only
the core installed (no Flask); create_app is loaded from app.py on first use.
"""


def __getattr__(name: str):
    if name == "create_app":
        from stack.telegram_sandbox.app import create_app
        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
