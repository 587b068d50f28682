"""Telegram's objects and rules, as pure functions: tokens, chats, sendMessage, Message JSON.

Parameters arrive as strings, whatever the transport (query string, form, multipart or JSON):
Telegram's Bot API server flattens a JSON body into strings too, which is why
`{"chat_id": "-100123", "disable_notification": "false"}` is as good as the typed form.
Refusals are BotApiError with Telegram's own wording, checked in Telegram's order:
text empty -> unsupported parse_mode -> can't parse entities -> chat_id -> empty -> too long.
"""

import hashlib
import re
import secrets
from dataclasses import dataclass, field

from stack.telegram_sandbox.errors import BotApiError, bad_request
from stack.telegram_sandbox.formatting import EntityParseError, normalize_parse_mode, parse_text
from stack.telegram_sandbox.logmask import mask_token

# <bot id>:<secret>. Real secrets are 35 characters; 30-64 keeps hand-made test tokens usable.
TOKEN_RE = re.compile(r"^([1-9][0-9]{0,19}):([A-Za-z0-9_-]{30,64})$")
USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
MAX_TEXT_LENGTH = 4096
INT64_MAX = 2**63 - 1
SUPERGROUP_MIN = -1_000_000_000_000  # ids below this are "-100<channel id>": supergroups/channels


def unauthorized() -> BotApiError:
    """401, exactly what Telegram answers for a bad token."""
    return BotApiError(401, "Unauthorized")


@dataclass(frozen=True)
class Bot:
    """The bot a token names. Holds no secret: only the masked token and a fingerprint."""

    id: int
    masked_token: str
    fingerprint: str  # first 12 hex digits of sha256(token): tells tokens apart, reveals nothing

    @property
    def username(self) -> str:
        """The sandbox's stand-in for the bot's @username (Telegram's end in 'bot')."""
        return f"sandbox_{self.id}_bot"


def parse_token(token: str) -> Bot:
    """The Bot for a well-formed token; BotApiError 401 otherwise."""
    match = TOKEN_RE.match(token)
    if not match or int(match.group(1)) > INT64_MAX:
        raise unauthorized()
    fingerprint = hashlib.sha256(token.encode()).hexdigest()[:12]
    return Bot(int(match.group(1)), mask_token(token), fingerprint)


def make_token() -> str:
    """A random, well-formed bot token for sandbox runs (the launcher renders it into configs)."""
    bot_id = secrets.randbelow(9_000_000_000) + 1_000_000_000
    return f"{bot_id}:{secrets.token_urlsafe(27)[:35]}"


def token_fingerprint(token: str) -> str:
    """The fingerprint parse_token gives `token` (for allow-lists kept as fingerprints)."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Chat:
    """A chat as the sandbox imagines it from its id (any id exists in the sandbox)."""

    id: int
    type: str  # private | group | supergroup | channel
    username: str | None = None

    def to_json(self) -> dict:
        """Telegram's Chat object."""
        chat = {"id": self.id, "type": self.type}
        if self.type == "private":
            chat["first_name"] = "Sandbox user"
        else:
            chat["title"] = f"Sandbox {self.type}"
        if self.username:
            chat["username"] = self.username
        return chat


def _channel_id(username: str) -> int:
    """A stable fake id for @username: -100 followed by 10 digits."""
    digest = int(hashlib.sha256(username.lower().encode()).hexdigest(), 16)
    return -(1_000_000_000_000 + digest % 10_000_000_000)


def parse_chat_id(raw: str | None, allowed: frozenset[str] | None = None) -> Chat:
    """An integer id or @channelusername -> Chat; 'chat_id is empty' / 'chat not found' else.

    `allowed` (ids or @usernames as strings) narrows the chats that "exist", so a test can
    emulate a wrong TELEGRAM_CHAT_ID.
    """
    raw = (raw or "").strip()
    if not raw:
        raise bad_request("chat_id is empty")
    if raw.startswith("@"):
        username = raw[1:]
        if not USERNAME_RE.match(username):
            raise bad_request("chat not found")
        chat = Chat(_channel_id(username), "channel", username)
    else:
        try:
            chat_id = int(raw)
        except ValueError as err:
            raise bad_request("chat not found") from err
        if chat_id == 0 or abs(chat_id) > INT64_MAX:
            raise bad_request("chat not found")
        kind = "private" if chat_id > 0 else "supergroup" if chat_id <= SUPERGROUP_MIN else "group"
        chat = Chat(chat_id, kind)
    if allowed is not None and str(chat.id) not in allowed and \
            (chat.username is None or f"@{chat.username.lower()}" not in allowed):
        raise bad_request("chat not found")
    return chat


def to_bool(value: str | None) -> bool:
    """Telegram's reading of a boolean parameter: 'true', 'yes' or '1' (any case) is true."""
    return (value or "").strip().lower() in ("true", "yes", "1")


def to_int(value: str | None, default: int | None = None) -> int | None:
    """An integer parameter, `default` when absent or unreadable (Telegram ignores junk)."""
    try:
        return int((value or "").strip())
    except ValueError:
        return default


@dataclass(frozen=True)
class SendMessage:
    """A valid sendMessage call."""

    chat: Chat
    raw_text: str
    text: str
    parse_mode: str | None
    entities: tuple = field(default=())
    disable_notification: bool = False
    disable_web_page_preview: bool = False
    message_thread_id: int | None = None
    reply_to_message_id: int | None = None


def parse_send_message(params: dict[str, str], allowed_chats: frozenset[str] | None = None
                       ) -> SendMessage:
    """Validate sendMessage parameters like Telegram; BotApiError with its wording otherwise."""
    raw_text = params.get("text") or ""
    if not raw_text:
        raise bad_request("message text is empty")
    try:
        parse_mode = normalize_parse_mode(params.get("parse_mode"))
    except ValueError as err:
        raise bad_request("unsupported parse_mode") from err
    try:
        text, entities = parse_text(raw_text, parse_mode)
    except EntityParseError as err:
        raise bad_request(f"can't parse entities: {err}") from err
    chat = parse_chat_id(params.get("chat_id"), allowed_chats)
    if not text:
        raise bad_request("message text is empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")
    link_preview = params.get("link_preview_options") or ""
    return SendMessage(
        chat=chat,
        raw_text=raw_text,
        text=text,
        parse_mode=parse_mode,
        entities=tuple(entities),
        disable_notification=to_bool(params.get("disable_notification")),
        disable_web_page_preview=to_bool(params.get("disable_web_page_preview"))
        or '"is_disabled":true' in link_preview.replace(" ", ""),
        message_thread_id=to_int(params.get("message_thread_id")),
        reply_to_message_id=to_int(params.get("reply_to_message_id")),
    )


def bot_user_json(bot: Bot, first_name: str) -> dict:
    """Telegram's User object for the bot (the `from` of its messages)."""
    return {"id": bot.id, "is_bot": True, "first_name": first_name, "username": bot.username}


def get_me_json(bot: Bot, first_name: str) -> dict:
    """The result of getMe."""
    return {**bot_user_json(bot, first_name), "can_join_groups": True,
            "can_read_all_group_messages": False, "supports_inline_queries": False,
            "can_connect_to_business": False, "has_main_web_app": False}


def message_json(record: dict) -> dict:
    """Telegram's Message object for a stored message record."""
    chat = Chat(record["chat_id"], record["chat_type"], record.get("chat_username"))
    message = {"message_id": record["message_id"]}
    if chat.type == "channel":
        message["sender_chat"] = chat.to_json()  # channel posts have no `from`
    else:
        message["from"] = {"id": record["bot_id"], "is_bot": True,
                           "first_name": record["bot_first_name"],
                           "username": record["bot_username"]}
    message["chat"] = chat.to_json()
    message["date"] = record["date"]
    if record.get("message_thread_id"):
        message["message_thread_id"] = record["message_thread_id"]
    message["text"] = record["text"]
    if record.get("entities"):
        message["entities"] = record["entities"]
    if record.get("disable_web_page_preview"):
        message["link_preview_options"] = {"is_disabled": True}
    return message


def update_json(record: dict) -> dict:
    """Telegram's Update object carrying a stored message (update_id = message_id)."""
    key = "channel_post" if record["chat_type"] == "channel" else "message"
    return {"update_id": record["message_id"], key: message_json(record)}
