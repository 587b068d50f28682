"""The stack's Telegram sandbox refuses what Telegram refuses, seen through a real Bot API client
(python-telegram-bot with `base_url`): only the stack's bot token (others: 401 Unauthorized),
only the configured chat (others: 400 chat not found), and the 403 / 429 / 5xx fault modes.
The sandbox is started exactly as `make stack` starts it (stack.parts.build_parts)."""

import asyncio
import datetime
import socket

import pytest
import requests
import telegram
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter

from stack.config import SANDBOX_CHAT_ID
from stack.procs import free_port
from stack.telegram_sandbox import __main__ as sandbox_main
from stack.telegram_sandbox.client import SandboxClient
from stack.telegram_sandbox.config import strictness
from tests.conftest import fake_bot_token, start_stack_sandbox

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """(url, the stack's token, log path) of a sandbox started as the stack starts it."""
    server = start_stack_sandbox(tmp_path_factory.mktemp("strict"))
    yield server.url, server.token, server.proc.log_path
    server.proc.stop()


@pytest.fixture
def faults(sandbox):
    client = SandboxClient(sandbox[0])
    yield client
    client.clear_fault()


def send(url: str, token: str, chat_id, text: str = "alert") -> telegram.Message:
    """sendMessage through python-telegram-bot, as a bot would (getMe first, then send)."""
    async def go():
        async with telegram.Bot(token, base_url=f"{url}/bot") as bot:
            return await bot.send_message(chat_id=chat_id, text=text)
    return asyncio.run(go())


def test_the_stacks_token_and_chat_are_accepted(sandbox):
    url, token, _log = sandbox
    message = send(url, token, SANDBOX_CHAT_ID, "<b>fire</b>")
    assert message.chat.id == SANDBOX_CHAT_ID and message.text == "<b>fire</b>"


def test_another_well_formed_token_is_unauthorized_as_telegram_answers(sandbox):
    url, _token, _log = sandbox
    other = fake_bot_token(555666777, "CC", "99")
    with pytest.raises(InvalidToken):
        send(url, other, SANDBOX_CHAT_ID)
    raw = requests.post(f"{url}/bot{other}/sendMessage", timeout=5,
                        json={"chat_id": SANDBOX_CHAT_ID, "text": "x"})
    assert raw.status_code == 401
    assert raw.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


def test_another_chat_is_not_found_as_telegram_answers(sandbox):
    url, token, _log = sandbox
    with pytest.raises(BadRequest, match="Chat not found"):
        send(url, token, -1009999999999)
    raw = requests.post(f"{url}/bot{token}/sendMessage", timeout=5,
                        json={"chat_id": "-1009999999999", "text": "x"})
    assert raw.status_code == 400
    assert raw.json() == {"ok": False, "error_code": 400,
                          "description": "Bad Request: chat not found"}


@pytest.mark.parametrize("reason, message", [
    ("blocked", "Forbidden: bot was blocked by the user"),
    ("not_member", "Forbidden: bot is not a member of the channel chat"),
])
def test_the_403_fault_is_forbidden_for_a_real_client(sandbox, faults, reason, message):
    url, token, _log = sandbox
    faults.set_fault("403", count=1, reason=reason)
    with pytest.raises(Forbidden) as err:
        send(url, token, SANDBOX_CHAT_ID)
    assert err.value.message == message
    assert send(url, token, SANDBOX_CHAT_ID).chat.id == SANDBOX_CHAT_ID  # count=1: over


def test_429_and_500_faults_are_what_a_real_client_retries_on(sandbox, faults, monkeypatch):
    url, token, _log = sandbox
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # PTB 22's future retry_after type, no warning
    faults.set_fault("429", count=1, retry_after=3)
    with pytest.raises(RetryAfter) as flood:
        send(url, token, SANDBOX_CHAT_ID)
    assert flood.value.retry_after == datetime.timedelta(seconds=3)
    faults.set_fault("500", count=1)
    with pytest.raises(NetworkError, match="Internal Server Error"):
        send(url, token, SANDBOX_CHAT_ID)


def test_the_stacks_sandbox_says_it_is_strict_and_never_logs_the_token(sandbox):
    _url, token, log = sandbox
    text = log.read_text()
    assert f"strict: only its 1 configured bot token(s) (others: 401 Unauthorized) and chat(s) " \
           f"{SANDBOX_CHAT_ID}" in text
    assert token not in text and token.split(":")[1] not in text


def test_alone_without_tokens_and_chats_it_says_it_is_permissive():
    said = strictness({})
    assert said.startswith("permissive: accepts ANY well-formed bot token and ANY chat id")
    assert "TELEGRAM_SANDBOX_TOKENS and TELEGRAM_SANDBOX_CHATS" in said
    assert strictness({"TELEGRAM_SANDBOX_CHATS": "-100"}).startswith(
        "permissive: accepts ANY well-formed bot token and only chat(s) -100")


def test_a_taken_port_fails_at_once_naming_the_variable_and_a_free_port(monkeypatch, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr(sandbox_main.os, "execve", lambda *a: pytest.fail("exec'd gunicorn"))
        assert sandbox_main.main(["--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"TELEGRAM_SANDBOX_PORT: port {port} on 127.0.0.1 is already in use")
    alternative = int(err.split("TELEGRAM_SANDBOX_PORT=")[1].split()[0])
    assert alternative != port and 0 < alternative < 65536


def test_alone_it_prints_its_mode_before_starting_gunicorn(monkeypatch, capsys):
    started = []
    monkeypatch.setattr(sandbox_main.os, "execve", lambda path, cmd, env: started.append(env))
    monkeypatch.delenv("TELEGRAM_SANDBOX_TOKENS", raising=False)
    monkeypatch.delenv("TELEGRAM_SANDBOX_CHATS", raising=False)
    port = free_port()
    sandbox_main.main(["--port", str(port)])
    assert started and started[0]["TELEGRAM_SANDBOX_PORT"] == str(port)
    assert f"Telegram sandbox on http://127.0.0.1:{port}: permissive:" in capsys.readouterr().err
