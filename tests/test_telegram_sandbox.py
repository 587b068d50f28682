"""The Telegram Bot API sandbox: Telegram-shaped answers, durable records, faults, no leaked token.

Unit tests use Flask's test client; the client tests run the app on a real port in a thread;
one integration test runs it under gunicorn via `python -m stack.telegram_sandbox`.
"""

import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from stack.procs import free_port, http_ok, spawn, wait_until
from stack.telegram_sandbox import create_app
from stack.telegram_sandbox.client import SandboxClient
from stack.telegram_sandbox.errors import SandboxConfigError, SandboxError, SandboxStoreError
from stack.telegram_sandbox.faults import ChatRateLimiter, FaultState, RateLimit, parse_fault
from stack.telegram_sandbox.formatting import parse_text
from stack.telegram_sandbox.logmask import mask_token, mask_tokens_in
from stack.telegram_sandbox.model import make_token
from stack.telegram_sandbox.render import render_message
from stack.telegram_sandbox.store import MessageStore
from tests.conftest import fake_bot_token

TOKEN = fake_bot_token(123456789, "AA", "67")
OTHER_TOKEN = fake_bot_token(987654321, "BB", "10")
SECRET = TOKEN.split(":")[1]
CHAT = "-1001234567890"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def data_path(tmp_path):
    return tmp_path / "telegram" / "messages.jsonl"


@pytest.fixture
def app(data_path):
    return create_app({"TESTING": True, "DATA_PATH": data_path})


@pytest.fixture
def client(app):
    return app.test_client()


def send(client, token=TOKEN, **params):
    """POST sendMessage with a JSON body; returns (status, body)."""
    response = client.post(f"/bot{token}/sendMessage", json=params)
    return response.status_code, response.get_json()


def refusal(client, **params):
    """The description of a refused sendMessage (asserting it was a 400)."""
    status, body = send(client, **params)
    assert status == 400, body
    assert body["ok"] is False and body["error_code"] == 400
    return body["description"]


def sample(app, name, **labels):
    return app.extensions["sandbox_metrics"].registry.get_sample_value(name, labels)


# ------------------------------------------------------------------ Telegram's validation rules

def test_malformed_token_is_unauthorized(client):
    response = client.get("/bot123:short/getMe")
    assert response.status_code == 401
    assert response.get_json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


def test_generated_sandbox_tokens_are_well_formed(client):
    token = make_token()
    assert client.get(f"/bot{token}/getMe").get_json()["ok"] is True
    assert make_token() != token


def test_token_without_bot_id_is_unauthorized(client):
    assert client.get(f"/botabc:{SECRET}/getMe").status_code == 401


def test_token_outside_the_accepted_list_is_unauthorized(data_path):
    app = create_app({"DATA_PATH": data_path, "ACCEPTED_TOKENS": [TOKEN]})
    client = app.test_client()
    assert client.get(f"/bot{TOKEN}/getMe").status_code == 200
    assert client.get(f"/bot{OTHER_TOKEN}/getMe").get_json()["description"] == "Unauthorized"
    assert SECRET not in json.dumps(app.config["ACCEPTED_TOKENS"])


def test_unknown_method_is_not_found(client):
    response = client.post(f"/bot{TOKEN}/sendPigeon", json={})
    assert response.status_code == 404
    assert response.get_json() == {"ok": False, "error_code": 404, "description": "Not Found"}


def test_method_names_are_case_insensitive(client):
    response = client.post(f"/bot{TOKEN}/SENDMESSAGE", json={"chat_id": 1, "text": "hi"})
    assert response.get_json()["ok"] is True


def test_missing_chat_id_is_refused_as_empty(client):
    assert refusal(client, text="hello") == "Bad Request: chat_id is empty"


def test_chat_id_that_is_no_integer_or_username_is_not_found(client):
    assert refusal(client, chat_id="not a chat", text="hello") == "Bad Request: chat not found"


def test_chat_outside_the_allowed_list_is_not_found(data_path):
    client = create_app({"DATA_PATH": data_path, "ALLOWED_CHATS": [CHAT, "@alerts_chan"]}
                        ).test_client()
    assert send(client, chat_id=CHAT, text="x")[0] == 200
    assert send(client, chat_id="@Alerts_Chan", text="x")[0] == 200
    assert refusal(client, chat_id="-100999", text="x") == "Bad Request: chat not found"


def test_channel_username_is_accepted_as_chat_id(client):
    status, body = send(client, chat_id="@alerts_chan", text="hello")
    assert status == 200
    chat = body["result"]["chat"]
    assert chat["type"] == "channel" and chat["username"] == "alerts_chan" and chat["id"] < 0
    assert "from" not in body["result"]  # channel posts have a sender_chat instead


def test_missing_text_is_refused_as_empty(client):
    assert refusal(client, chat_id=CHAT) == "Bad Request: message text is empty"


def test_text_that_is_only_markup_and_spaces_is_refused_as_empty(client):
    assert refusal(client, chat_id=CHAT, text=" <b> </b>\n", parse_mode="HTML") == \
        "Bad Request: message text is empty"


def test_text_longer_than_4096_characters_is_refused(client):
    assert refusal(client, chat_id=CHAT, text="x" * 4097) == "Bad Request: message is too long"


def test_text_of_4096_characters_after_entity_parsing_is_accepted(client):
    status, body = send(client, chat_id=CHAT, text="<b>" + "é" * 4096 + "</b>", parse_mode="HTML")
    assert status == 200
    assert len(body["result"]["text"]) == 4096


def test_unknown_parse_mode_is_refused(client):
    assert refusal(client, chat_id=CHAT, text="x", parse_mode="BBCode") == \
        "Bad Request: unsupported parse_mode"


def test_parse_mode_is_case_insensitive(client):
    status, body = send(client, chat_id=CHAT, text="<b>x</b>", parse_mode="html")
    assert status == 200 and body["result"]["text"] == "x"


def test_html_with_an_unclosed_tag_is_refused(client):
    assert refusal(client, chat_id=CHAT, text="<b>firing", parse_mode="HTML") == \
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\""


def test_html_with_a_mismatched_end_tag_is_refused(client):
    assert refusal(client, chat_id=CHAT, text="<b>x</i>", parse_mode="HTML") == (
        "Bad Request: can't parse entities: Unmatched end tag at byte offset 4, "
        "expected \"</b>\", found \"</i>\"")


def test_html_with_an_unsupported_tag_is_refused(client):
    assert refusal(client, chat_id=CHAT, text="<p>x</p>", parse_mode="HTML") == \
        "Bad Request: can't parse entities: Unsupported start tag \"p\" at byte offset 0"


def test_html_with_an_unescaped_less_than_sign_is_refused(client):
    assert refusal(client, chat_id=CHAT, text="p95 < 300ms", parse_mode="HTML") == \
        "Bad Request: can't parse entities: Unsupported start tag \"\" at byte offset 4"


def test_html_error_offsets_count_utf8_bytes(client):
    description = refusal(client, chat_id=CHAT, text="🔥 <p>", parse_mode="HTML")
    assert description.endswith("at byte offset 5")  # the emoji is 4 bytes, then a space


def test_html_span_without_the_spoiler_class_is_refused(client):
    assert "Tag \"span\" must have class \"tg-spoiler\"" in \
        refusal(client, chat_id=CHAT, text="<span>x</span>", parse_mode="HTML")


def test_markdown_v2_with_an_unescaped_reserved_character_is_refused(client):
    assert refusal(client, chat_id=CHAT, text="error ratio 1.5%", parse_mode="MarkdownV2") == (
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped "
        "with the preceding '\\'")


def test_markdown_with_an_unclosed_entity_is_refused(client):
    assert refusal(client, chat_id=CHAT, text="*firing", parse_mode="Markdown") == (
        "Bad Request: can't parse entities: Can't find end of the entity starting at byte "
        "offset 0")


def test_html_text_is_stored_with_tags_stripped_and_entities_decoded():
    text, entities = parse_text('<b>CPU</b> &lt; 90% &amp; <a href="http://x/?a=1&amp;b=2">'
                                "runbook</a> &nbsp;", "HTML")
    assert text == "CPU < 90% & runbook &nbsp;"  # unknown named entities stay literal
    assert entities == [{"type": "bold", "offset": 0, "length": 3},
                        {"type": "text_link", "offset": 12, "length": 7,
                         "url": "http://x/?a=1&b=2"}]


def test_markdown_v2_text_is_stored_without_markup():
    text, entities = parse_text("*Firing* \\- _p95_ ||x|| [graph](http://g/?a\\)b)", "MarkdownV2")
    assert text == "Firing - p95 x graph"
    assert [e["type"] for e in entities] == ["bold", "italic", "spoiler", "text_link"]
    assert entities[-1]["url"] == "http://g/?a)b"


def test_entity_offsets_are_in_utf16_code_units():
    text, entities = parse_text("🔥 <b>down</b>", "HTML")
    assert text == "🔥 down"
    assert entities == [{"type": "bold", "offset": 3, "length": 4}]  # the emoji counts 2


# ------------------------------------------------------------------------------ transports

def test_json_body_with_typed_values_is_accepted(client):
    status, body = send(client, chat_id=-1001234567890, text="hi", disable_notification=True)
    assert status == 200
    assert body["result"]["chat"] == {"id": -1001234567890, "type": "supergroup",
                                      "title": "Sandbox supergroup"}


def test_alertmanager_telebot_request_is_accepted(client):
    """Alertmanager 0.25's telegram notifier (telebot v3): JSON, every value a string, HTML."""
    text = ('<b>[FIRING:1] HighErrorRatio</b>\nseverity: page\n'
            '<a href="http://127.0.0.1:9093/#/alerts?receiver=telegram">Alertmanager</a>')
    response = client.post(
        f"/bot{TOKEN}/sendMessage",
        data=json.dumps({"chat_id": "-100123", "text": text, "parse_mode": "HTML",
                         "disable_web_page_preview": "true", "disable_notification": "false"}),
        headers={"Content-Type": "application/json", "User-Agent": "Go-http-client/1.1"},
    )
    assert response.status_code == 200
    result = response.get_json()["result"]
    assert result["text"] == "[FIRING:1] HighErrorRatio\nseverity: page\nAlertmanager"
    assert result["chat"]["id"] == -100123 and result["from"]["is_bot"] is True
    assert {"type": "bold", "offset": 0, "length": 25} in result["entities"]
    assert result["entities"][-1]["url"] == "http://127.0.0.1:9093/#/alerts?receiver=telegram"
    stored = client.get("/sandbox/messages").get_json()["messages"][0]
    assert stored["disable_web_page_preview"] is True and stored["disable_notification"] is False
    assert stored["parse_mode"] == "HTML" and stored["raw_text"] == text
    assert stored["transport"] == "json"


def test_grafana_multipart_form_is_accepted(client):
    response = client.post(f"/bot{TOKEN}/sendMessage", content_type="multipart/form-data",
                           data={"chat_id": CHAT, "text": "**Firing**", "parse_mode": "html",
                                 "disable_notification": "1"})
    assert response.status_code == 200
    stored = client.get("/sandbox/messages").get_json()["messages"][0]
    assert stored["transport"] == "multipart" and stored["disable_notification"] is True


def test_urlencoded_form_body_is_accepted(client):
    response = client.post(f"/bot{TOKEN}/sendMessage", data={"chat_id": CHAT, "text": "hi"})
    assert response.status_code == 200
    assert client.get("/sandbox/messages").get_json()["messages"][0]["transport"] == "form"


def test_query_string_get_is_accepted(client):
    response = client.get(f"/bot{TOKEN}/sendMessage",
                          query_string={"chat_id": CHAT, "text": "a&b <x>"})
    assert response.status_code == 200
    assert response.get_json()["result"]["text"] == "a&b <x>"  # no parse_mode: text as sent


def test_query_string_wins_over_the_body_like_telegram(client):
    response = client.post(f"/bot{TOKEN}/sendMessage?chat_id=111",
                           json={"chat_id": "222", "text": "x"})
    assert response.get_json()["result"]["chat"]["id"] == 111


def test_unparseable_json_body_is_ignored_like_telegram(client):
    response = client.post(f"/bot{TOKEN}/sendMessage?chat_id=1", data="{not json",
                           content_type="application/json")
    assert response.get_json()["description"] == "Bad Request: message text is empty"


def test_booleans_sent_as_strings_are_read_like_telegram(client):
    for raw, expected in (("true", True), ("TRUE", True), ("1", True), ("yes", True),
                          ("false", False), ("0", False), ("", False)):
        send(client, chat_id=CHAT, text="x", disable_notification=raw)
        assert client.get("/sandbox/messages?limit=1").get_json()["messages"][0][
            "disable_notification"] is expected, raw


def test_body_larger_than_the_limit_is_refused_with_413(client):
    response = client.post(f"/bot{TOKEN}/sendMessage",
                           json={"chat_id": CHAT, "text": "x" * (70 * 1024)})
    assert response.status_code == 413
    assert response.get_json() == {"ok": False, "error_code": 413,
                                   "description": "Request Entity Too Large"}
    form = client.post(f"/bot{TOKEN}/sendMessage", data={"chat_id": CHAT, "text": "x" * 70_000})
    assert form.status_code == 413


# ------------------------------------------------------------------------- getMe, getUpdates

def test_get_me_describes_the_bot_from_its_token(client):
    result = client.get(f"/bot{TOKEN}/getMe").get_json()["result"]
    assert result["id"] == 123456789 and result["is_bot"] is True
    assert result["username"].endswith("bot")


def test_get_updates_returns_this_bots_messages_with_offset_and_limit(client):
    for i in range(3):
        send(client, chat_id=CHAT, text=f"m{i}")
    send(client, token=OTHER_TOKEN, chat_id=CHAT, text="other bot")
    updates = client.get(f"/bot{TOKEN}/getUpdates").get_json()["result"]
    assert [u["message"]["text"] for u in updates] == ["m0", "m1", "m2"]
    assert [u["update_id"] for u in updates] == [1, 2, 3]
    after = client.post(f"/bot{TOKEN}/getUpdates", json={"offset": "2", "limit": "1"})
    assert [u["message"]["text"] for u in after.get_json()["result"]] == ["m1"]
    last = client.get(f"/bot{TOKEN}/getUpdates?offset=-1").get_json()["result"]
    assert [u["message"]["text"] for u in last] == ["m2"]


def test_get_updates_long_polling_returns_when_a_message_arrives(client, app):
    def later():
        app.extensions["telegram_sandbox"].store.wait_for_newer(0, 0.05)
        app.test_client().post(f"/bot{TOKEN}/sendMessage", json={"chat_id": CHAT, "text": "late"})

    thread = threading.Thread(target=later)
    thread.start()
    updates = client.get(f"/bot{TOKEN}/getUpdates?timeout=5").get_json()["result"]
    thread.join()
    assert [u["message"]["text"] for u in updates] == ["late"]


# ---------------------------------------------------------------------------- durability

def stop(app):
    """What a process exit does to a sandbox: its file and lock are let go."""
    app.extensions["telegram_sandbox"].store.close()


def test_messages_survive_a_restart_and_ids_keep_increasing(data_path):
    first_app = create_app({"DATA_PATH": data_path})
    first = first_app.test_client()
    assert send(first, chat_id=CHAT, text="before")[1]["result"]["message_id"] == 1
    stop(first_app)
    second = create_app({"DATA_PATH": data_path}).test_client()
    assert [m["text"] for m in second.get("/sandbox/messages").get_json()["messages"]] == ["before"]
    assert send(second, chat_id=CHAT, text="after")[1]["result"]["message_id"] == 2


def test_clearing_keeps_ids_increasing_across_restarts(data_path):
    app = create_app({"DATA_PATH": data_path})
    client = app.test_client()
    send(client, chat_id=CHAT, text="a")
    send(client, chat_id=CHAT, text="b")
    assert client.delete("/sandbox/messages").get_json()["cleared"] == 2
    stop(app)
    restarted = create_app({"DATA_PATH": data_path}).test_client()
    assert restarted.get("/sandbox/messages").get_json()["messages"] == []
    assert send(restarted, chat_id=CHAT, text="c")[1]["result"]["message_id"] == 3


def test_a_torn_last_line_is_dropped_and_appends_start_on_a_fresh_line(data_path):
    app = create_app({"DATA_PATH": data_path})
    send(app.test_client(), chat_id=CHAT, text="kept")
    stop(app)
    with open(data_path, "ab") as f:
        f.write(b'{"type":"message","message_id":2,"te')  # died mid-write
    store = MessageStore(data_path)
    assert [m["text"] for m in store.messages()] == ["kept"]
    store.append({"bot_id": 1, "chat_id": 1, "text": "next", "raw_text": "next"})
    store.close()
    lines = data_path.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line) for line in lines)


def test_a_damaged_line_before_the_end_is_an_error_naming_file_and_line(data_path):
    data_path.parent.mkdir(parents=True)
    data_path.write_text('garbage\n{"type":"clear","last_message_id":0}\n')
    with pytest.raises(SandboxStoreError, match=r"messages\.jsonl: line 1 is not a JSON record"):
        MessageStore(data_path)


def test_a_second_sandbox_on_the_same_file_is_refused(app, data_path):
    with pytest.raises(SandboxStoreError, match="another Telegram sandbox is using"):
        MessageStore(data_path)
    stop(app)
    MessageStore(data_path).close()  # free again once the first one is gone


def test_concurrent_sends_get_unique_ids_and_all_are_stored(app, data_path):
    def burst():
        c = app.test_client()
        for _ in range(10):
            c.post(f"/bot{TOKEN}/sendMessage", json={"chat_id": CHAT, "text": "x"})

    threads = [threading.Thread(target=burst) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [json.loads(line)["message_id"] for line in data_path.read_text().splitlines()]
    assert sorted(ids) == list(range(1, 41))


# ------------------------------------------------------------------------------- read API

def test_messages_filter_by_since_in_unix_seconds_and_iso_8601(app, client):
    send(client, chat_id=CHAT, text="old")
    store = app.extensions["telegram_sandbox"].store
    store.messages()[0]["received_at"] = 1_700_000_000.0  # pretend it arrived in Nov 2023
    send(client, chat_id=CHAT, text="new")
    by_unix = client.get("/sandbox/messages?since=1700000001").get_json()["messages"]
    by_iso = client.get("/sandbox/messages", query_string={"since": "2023-11-14T22:13:21+00:00"})
    by_naive = client.get("/sandbox/messages?since=2023-11-14T22:13:21")
    assert [m["text"] for m in by_unix] == ["new"]
    assert [m["text"] for m in by_iso.get_json()["messages"]] == ["new"]
    assert [m["text"] for m in by_naive.get_json()["messages"]] == ["new"]


def test_unreadable_since_is_refused_naming_the_field(client):
    response = client.get("/sandbox/messages?since=yesterday")
    assert response.status_code == 400 and response.get_json()["field"] == "since"


def test_messages_filter_by_chat_id_contains_and_after_id(client):
    send(client, chat_id=CHAT, text="<b>HighErrorRatio</b> firing", parse_mode="HTML")
    send(client, chat_id="-100777", text="HighLatency firing")
    send(client, chat_id="@alerts_chan", text="to the channel")

    def texts(**query):
        return [m["text"] for m in client.get("/sandbox/messages", query_string=query)
                .get_json()["messages"]]

    assert texts(chat_id=CHAT) == ["HighErrorRatio firing"]
    assert texts(chat_id="@alerts_chan") == ["to the channel"]
    assert texts(contains="HighLatency") == ["HighLatency firing"]
    assert texts(contains="<b>HighErrorRatio") == ["HighErrorRatio firing"]  # raw text too
    assert texts(after_id=2) == ["to the channel"]
    assert texts(limit=1) == ["to the channel"]


def test_read_api_shows_a_masked_token_and_never_the_secret(client):
    send(client, chat_id=CHAT, text="x")
    message = client.get("/sandbox/messages").get_json()["messages"][0]
    assert message["token"] == "123456789:AA…67"
    assert message["bot_username"] == "sandbox_123456789_bot"


# ---------------------------------------------------------------------------------- faults

def test_429_fault_answers_retry_after_then_recovers_after_count(client):
    assert client.put("/sandbox/faults", json={"mode": "429", "count": 2, "retry_after": 7}
                      ).status_code == 200
    for _ in range(2):
        status, body = send(client, chat_id=CHAT, text="x")
        assert status == 429
        assert body == {"ok": False, "error_code": 429,
                        "description": "Too Many Requests: retry after 7",
                        "parameters": {"retry_after": 7}}
    assert send(client, chat_id=CHAT, text="x")[0] == 200
    assert client.get("/sandbox/faults").get_json()["fault"] is None
    assert len(client.get("/sandbox/messages").get_json()["messages"]) == 1  # faults record nothing


@pytest.mark.parametrize("reason, description", [
    (None, "Forbidden: bot was blocked by the user"),
    ("blocked", "Forbidden: bot was blocked by the user"),
    ("not_member", "Forbidden: bot is not a member of the channel chat"),
])
def test_403_fault_answers_forbidden_like_telegram_and_records_nothing(client, reason,
                                                                        description):
    body = {"mode": "403", "count": 1, **({"reason": reason} if reason else {})}
    assert client.put("/sandbox/faults", json=body).status_code == 200
    status, answer = send(client, chat_id=CHAT, text="x")
    assert status == 403
    assert answer == {"ok": False, "error_code": 403, "description": description}
    assert client.get("/sandbox/messages").get_json()["messages"] == []


def test_500_fault_answers_in_telegrams_envelope(client):
    client.put("/sandbox/faults", json={"mode": 500, "count": 1})
    status, body = send(client, chat_id=CHAT, text="x")
    assert status == 500 and body["description"] == "Internal Server Error"


def test_502_fault_answers_an_html_gateway_page(client):
    client.put("/sandbox/faults", json={"mode": "502", "count": 1})
    response = client.post(f"/bot{TOKEN}/sendMessage", json={"chat_id": CHAT, "text": "x"})
    assert response.status_code == 502 and response.mimetype == "text/html"
    assert b"502 Bad Gateway" in response.data


def test_timeout_fault_hangs_then_answers_504(client):
    client.put("/sandbox/faults", json={"mode": "timeout", "count": 1, "hang_s": 0.05})
    response = client.post(f"/bot{TOKEN}/sendMessage", json={"chat_id": CHAT, "text": "x"})
    assert response.status_code == 504


def test_clearing_a_timeout_fault_frees_hanging_requests(app, client):
    client.put("/sandbox/faults", json={"mode": "timeout", "hang_s": 60})
    answers = []
    thread = threading.Thread(target=lambda: answers.append(
        app.test_client().post(f"/bot{TOKEN}/sendMessage", json={"chat_id": CHAT, "text": "x"})))
    thread.start()
    wait_until(lambda: (client.get("/sandbox/faults").get_json()["fault"] or {}).get("applied"),
               timeout=5, what="the request to hang")
    assert client.delete("/sandbox/faults").get_json()["cleared"] is True
    thread.join(timeout=10)
    assert answers and answers[0].status_code == 504


def test_fault_applies_only_to_its_methods(client):
    client.put("/sandbox/faults", json={"mode": "429", "count": 5})
    assert client.get(f"/bot{TOKEN}/getMe").status_code == 200
    client.put("/sandbox/faults", json={"mode": "429", "count": 5, "methods": ["getme"]})
    assert client.get(f"/bot{TOKEN}/getMe").status_code == 429
    assert send(client, chat_id=CHAT, text="x")[0] == 200


def test_fault_expires_after_its_duration():
    now = [1000.0]
    faults = FaultState(clock=lambda: now[0])
    faults.set(parse_fault({"mode": "500", "duration_s": 30}))
    assert faults.take("sendMessage") is not None
    now[0] += 30
    assert faults.take("sendMessage") is None and faults.state() is None


def test_fault_without_count_or_duration_still_has_a_ttl():
    assert parse_fault({"mode": "429"}).ttl_s == 300


@pytest.mark.parametrize("body, field", [
    ({"mode": "418"}, "mode"),
    ({"mode": "429", "count": 0}, "count"),
    ({"mode": "429", "duration_s": 99999}, "duration_s"),
    ({"mode": "timeout", "hang_s": 500}, "hang_s"),
    ({"mode": "429", "methods": ["sendPigeon"]}, "methods"),
    ({"mode": "429", "colour": "red"}, "colour"),
    ({"mode": "403", "reason": "kicked"}, "reason"),
])
def test_invalid_fault_is_refused_naming_the_field_and_changes_nothing(client, body, field):
    response = client.put("/sandbox/faults", json=body)
    assert response.status_code == 400
    assert response.get_json()["field"] == field
    assert client.get("/sandbox/faults").get_json()["fault"] is None


def test_fault_configured_at_start_is_active(data_path):
    client = create_app({"DATA_PATH": data_path, "FAULT": {"mode": "429", "count": 1}}
                        ).test_client()
    assert send(client, chat_id=CHAT, text="x")[0] == 429
    assert send(client, chat_id=CHAT, text="x")[0] == 200


def test_invalid_fault_in_config_names_the_key(data_path):
    with pytest.raises(SandboxConfigError, match=r"^FAULT\.mode: "):
        create_app({"DATA_PATH": data_path, "FAULT": {"mode": "nope"}})


def test_chat_rate_limit_answers_429_per_chat(client):
    client.put("/sandbox/rate-limit", json={"messages": 2, "per_s": 60})
    assert [send(client, chat_id=CHAT, text="x")[0] for _ in range(2)] == [200, 200]
    status, body = send(client, chat_id=CHAT, text="x")
    assert status == 429 and 1 <= body["parameters"]["retry_after"] <= 60
    assert send(client, chat_id="-100777", text="x")[0] == 200  # another chat has its own budget
    client.delete("/sandbox/rate-limit")
    assert send(client, chat_id=CHAT, text="x")[0] == 200


def test_chat_rate_limit_window_slides():
    now = [0.0]
    limiter = ChatRateLimiter(RateLimit(messages=1, per_s=10), clock=lambda: now[0])
    assert limiter.admit(1, 5) is None
    now[0] = 4.0
    assert limiter.admit(1, 5) == 6
    now[0] = 10.0
    assert limiter.admit(1, 5) is None


def test_invalid_rate_limit_in_config_names_the_key(data_path):
    with pytest.raises(SandboxConfigError, match=r"^CHAT_RATE_LIMIT\."):
        create_app({"DATA_PATH": data_path, "CHAT_RATE_LIMIT": "fast"})


# ------------------------------------------------------------------------- token secrecy

def test_token_never_appears_in_responses_or_the_file(client, data_path):
    bodies = [
        client.post(f"/bot{TOKEN}/sendMessage", json={"chat_id": CHAT, "text": "ok"}).data,
        client.post(f"/bot{TOKEN}/sendMessage", json={"text": "no chat"}).data,
        client.get(f"/bot{TOKEN}/nope").data,
        client.get(f"/bot{TOKEN}/getUpdates").data,
        client.get(f"/bot{TOKEN}/").data,
        client.put(f"/bot{TOKEN}/sendMessage").data,
        client.get("/sandbox/messages").data,
        client.get("/").data,
    ]
    for body in bodies:
        assert SECRET.encode() not in body
    assert SECRET not in data_path.read_text()


def test_token_never_appears_in_logs(app, client, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    send(client, chat_id=CHAT, text="accepted")
    send(client, text="refused")
    client.get(f"/bot{TOKEN}/nope")
    store = app.extensions["telegram_sandbox"].store

    def explode(fields):
        raise RuntimeError(f"disk on fire while serving /bot{TOKEN}/sendMessage")

    monkeypatch.setattr(store, "append", explode)
    status, body = send(client, chat_id=CHAT, text="boom")
    assert status == 500 and body["description"] == "Internal Server Error"
    assert "123456789:AA…67" in caplog.text  # the lines are there, masked
    assert "Traceback" in caplog.text or any(r.exc_text for r in caplog.records)
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in (record.exc_text or "")
    assert SECRET not in caplog.text


def test_mask_token_keeps_at_most_two_characters_of_the_secret_at_each_end():
    assert mask_token(TOKEN) == "123456789:AA…67"
    assert mask_token("123:short") == "123:…"
    assert mask_token("garbage") == "ga…"


def test_mask_tokens_in_catches_tokens_inside_urls_and_tracebacks():
    line = f"POST https://api.telegram.org/bot{TOKEN}/sendMessage failed: token={TOKEN}"
    masked = mask_tokens_in(line)
    assert SECRET not in masked
    assert masked.count("123456789:AA…67") == 2
    assert mask_tokens_in("at 2024-05-01T12:00:00Z took 12:34") == \
        "at 2024-05-01T12:00:00Z took 12:34"


# --------------------------------------------------------------------------------- chat page

def test_chat_page_escapes_message_text(client):
    send(client, chat_id=CHAT, text="<script>alert(1)</script> & co")
    page = client.get("/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page


def test_chat_page_renders_entities_but_never_javascript_links(client):
    send(client, chat_id=CHAT, parse_mode="HTML",
         text='<b>Firing</b> <a href="javascript:alert(1)">x</a> <a href="http://g/?a=1&amp;b">'
              "graph</a> &lt;i&gt;")
    page = client.get("/sandbox").get_data(as_text=True)
    assert "<b>Firing</b>" in page
    assert "javascript:" not in page.split("<details>")[0]  # only the escaped raw text has it
    assert '<a href="http://g/?a=1&amp;b" rel="noopener noreferrer nofollow">graph</a>' in page
    assert "&lt;i&gt;" in page and "<i>" not in page


def test_render_message_falls_back_to_plain_text_for_overlapping_entities():
    html = render_message("abcd", [{"type": "bold", "offset": 0, "length": 3},
                                   {"type": "italic", "offset": 1, "length": 3}])
    assert str(html) == "abcd"


# ------------------------------------------------------------------------- health, metrics

def test_health_reports_counts(client):
    send(client, chat_id=CHAT, text="x")
    assert client.get("/health").get_json() == {"status": "ok", "messages": 1,
                                                "last_message_id": 1, "fault": None}


def test_metrics_count_calls_by_method_status_and_outcome(app, client):
    send(client, chat_id=CHAT, text="x")
    send(client, text="no chat")
    client.put("/sandbox/faults", json={"mode": "429", "count": 1})
    send(client, chat_id=CHAT, text="x")
    client.get(f"/bot{TOKEN}/getMe")
    client.get(f"/bot{TOKEN}/nope")
    assert sample(app, "sandbox_requests_total", method="sendMessage", status="200") == 1
    assert sample(app, "sandbox_requests_total", method="sendMessage", status="400") == 1
    assert sample(app, "sandbox_requests_total", method="unknown", status="404") == 1
    assert sample(app, "sandbox_messages_total", method="sendMessage", outcome="accepted") == 1
    assert sample(app, "sandbox_messages_total", method="sendMessage", outcome="rejected") == 1
    assert sample(app, "sandbox_messages_total", method="sendMessage",
                  outcome="rate_limited") == 1
    assert sample(app, "sandbox_messages_stored") == 1
    assert sample(app, "sandbox_store_append_seconds_count") == 1
    client.put("/sandbox/faults", json={"mode": "502"})
    assert sample(app, "sandbox_fault_active", mode="502") == 1
    text = client.get("/metrics").get_data(as_text=True)
    assert "sandbox_requests_total" in text and SECRET not in text


# ------------------------------------------------------------------- client on a real port

class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        """No access log: Bot API paths carry the token."""


@pytest.fixture
def served(app):
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    thread.join(timeout=5)


def test_client_reads_messages_and_drives_faults(served):
    url, app = served
    sandbox = SandboxClient(url)
    assert sandbox.healthy()
    app.test_client().post(f"/bot{TOKEN}/sendMessage", json={"chat_id": CHAT, "text": "Fire!"})
    found = sandbox.wait_for_message(contains="Fire", chat_id=CHAT, since=0, timeout=2)
    assert found["text"] == "Fire!"
    assert sandbox.messages(chat_id="-1") == []
    assert sandbox.set_fault("429", count=1, retry_after=2)["remaining"] == 1
    assert sandbox.fault()["mode"] == "429"
    assert sandbox.clear_fault() is True and sandbox.fault() is None
    assert sandbox.set_rate_limit(1, 2) == {"messages": 1, "per_s": 2.0}
    sandbox.clear_rate_limit()
    assert sandbox.clear_messages() == 1


def test_client_wait_for_message_times_out_naming_what_it_waited_for(served):
    url, _ = served
    with pytest.raises(TimeoutError, match="contains='never'"):
        SandboxClient(url).wait_for_message(contains="never", timeout=0.2, interval=0.05)


def test_client_reports_server_refusals_and_unreachable_sandboxes(served):
    url, _ = served
    with pytest.raises(SandboxError, match="mode"):
        SandboxClient(url).set_fault("418")
    dead = SandboxClient(f"http://127.0.0.1:{free_port()}", timeout=0.5)
    with pytest.raises(SandboxError, match="unreachable"):
        dead.messages()
    assert dead.healthy() is False


# ------------------------------------------------------------------------------ integration

@pytest.mark.integration
def test_gunicorn_sandbox_keeps_messages_across_kill_9(tmp_path):
    """`python -m stack.telegram_sandbox` under gunicorn: send, kill -9, restart, read back."""
    import requests

    port = free_port()
    data = tmp_path / "messages.jsonl"
    cmd = [sys.executable, "-m", "stack.telegram_sandbox", "--port", str(port),
           "--data", str(data)]
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "sandbox.log"
    proc = spawn("telegram-sandbox", cmd, log_path, cwd=ROOT)
    try:
        wait_until(lambda: http_ok(f"{base}/health"), timeout=20, what="the sandbox", proc=proc)
        sent = requests.post(f"{base}/bot{TOKEN}/sendMessage", timeout=5,
                             json={"chat_id": CHAT, "text": "<b>durable</b>",
                                   "parse_mode": "HTML"}).json()
        assert sent["ok"] is True and sent["result"]["message_id"] == 1
        os.killpg(proc.pid, signal.SIGKILL)
        proc.popen.wait(timeout=10)

        proc = spawn("telegram-sandbox", cmd, log_path, cwd=ROOT)
        wait_until(lambda: http_ok(f"{base}/health"), timeout=20, what="the restarted sandbox",
                   proc=proc)
        messages = SandboxClient(base).messages(chat_id=CHAT)
        assert [(m["message_id"], m["text"]) for m in messages] == [(1, "durable")]
        again = requests.get(f"{base}/bot{TOKEN}/sendMessage", timeout=5,
                             params={"chat_id": CHAT, "text": "next"}).json()
        assert again["result"]["message_id"] == 2
    finally:
        proc.stop()
    log_text = log_path.read_text()
    assert "accepted message 1" in log_text  # the sandbox does log its calls...
    assert SECRET not in log_text            # ...but never the token

