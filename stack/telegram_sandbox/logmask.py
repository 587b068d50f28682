"""Keep bot tokens out of logs: mask them in every line this package (or gunicorn) writes.

A token is a bot's password, and the Bot API puts it in the URL path (/bot<token>/sendMessage),
so anything that logs a path or echoes a URL could leak it. We mask at the source (handlers log
`mask_token(...)`) and, as a second line of defence, a logging filter rewrites anything
token-shaped in a record's message and traceback.
"""

import logging
import re

LOGGER_NAME = "stack.telegram_sandbox"

# <bot id>:<secret>; real secrets are 35 characters of [A-Za-z0-9_-]. Looser than the
# validator on purpose: masking must also catch malformed tokens, and tokens glued to a
# prefix ("/bot123:AA..." in a URL), so only a digit may not precede the match.
TOKEN_PATTERN = re.compile(r"(?<![0-9])(\d{1,20}):([A-Za-z0-9_-]{8,})")


def mask_token(token: str) -> str:
    """'123456:AB…yz' for a token; never more than 2 characters of the secret at each end."""
    bot_id, sep, secret = token.partition(":")
    bot_id = bot_id[:20]
    if not sep:
        return f"{bot_id[:2]}…" if bot_id else "…"
    if len(secret) < 8:
        return f"{bot_id}:…"
    return f"{bot_id}:{secret[:2]}…{secret[-2:]}"


def mask_tokens_in(text: str) -> str:
    """`text` with every token-shaped substring masked."""
    return TOKEN_PATTERN.sub(lambda m: mask_token(m.group(0)), text)


class TokenMaskFilter(logging.Filter):
    """Rewrite a record's message (and formatted traceback) with tokens masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keep the record, masked."""
        message = record.getMessage()
        masked = mask_tokens_in(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = mask_tokens_in(text)
            record.exc_info = None  # handlers print exc_text instead of re-formatting
        if record.stack_info:
            record.stack_info = mask_tokens_in(record.stack_info)
        return True


def install(logger: logging.Logger | str) -> None:
    """Add the filter to a logger and to each of its handlers (once)."""
    logger = logging.getLogger(logger) if isinstance(logger, str) else logger
    for target in (logger, *logger.handlers):
        if not any(isinstance(f, TokenMaskFilter) for f in target.filters):
            target.addFilter(TokenMaskFilter())
