"""Errors of the Telegram sandbox: the harness's own tree, plus the Bot API's answer shape.

`SandboxError` and subclasses are harness errors (bad config, unreadable store, client
failures). `BotApiError` is not a harness failure: it is the Telegram-shaped refusal the
sandbox sends to a bot (`{"ok": false, "error_code": 400, "description": "Bad Request: ..."}`).
"""

from harness_common.errors import HarnessError


class SandboxError(HarnessError):
    """The Telegram sandbox (server or client) could not do what was asked."""


class SandboxConfigError(SandboxError, ValueError):
    """A sandbox setting is invalid; the message names the key and the fix."""


class SandboxStoreError(SandboxError):
    """The message file cannot be read or written."""


class SandboxValidationError(SandboxError, ValueError):
    """A request to the sandbox's own control API is invalid; `field` names the field."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class BotApiError(Exception):
    """A Bot API call refused the way Telegram refuses it (error_code + description)."""

    def __init__(self, code: int, description: str, parameters: dict | None = None):
        self.code = code
        self.description = description
        self.parameters = parameters
        super().__init__(f"{code} {description}")

    def envelope(self) -> dict:
        """Telegram's error envelope for this refusal."""
        body = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> BotApiError:
    """400 'Bad Request: <detail>', Telegram's most common refusal."""
    return BotApiError(400, f"Bad Request: {detail}")
