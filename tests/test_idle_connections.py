"""Clients that keep a connection open survive the server closing it (issue 19: a fault client
kept its keep-alive connection to gunicorn (`keepalive = 5`) through 5 s of load; the server's
close crossed the clear() sent on it, RemoteDisconnected, and the fault stayed on until its TTL).

The server here is a real HTTP server whose keep-alive timer fires just as the next request
arrives: a request on a connection idle for longer than its keep-alive is read and the
connection closed unanswered. That is the race gunicorn lost for the issue, made certain: a
close that reaches the client before it sends is seen by urllib3, which then opens a new
connection by itself (gunicorn's own close after 1 s idle never failed in 25 tries).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness_common.errors import FaultError
from harness_common.faults.client import FaultClient
from stack.proxy.envoy import EnvoyAdmin, EnvoyError

KEEPALIVE_S = 0.2
IDLE_S = 0.5                     # the client waits longer than the server keeps a connection
TOKEN = "admin-token-xyz"

ANSWERS = {                      # (method, path) -> JSON body: the admin API and Envoy's admin
    ("GET", "/admin/faults"): {"faults": []},
    ("PUT", "/admin/faults/error"): {"fault": {"kind": "error", "expires_at": "soon"},
                                     "faults": []},
    ("DELETE", "/admin/faults"): {"cleared": ["error"], "faults": []},
    ("DELETE", "/admin/faults/error"): {"cleared": ["error"], "faults": []},
    ("GET", "/runtime"): {"entries": {}, "layers": ["static", "admin"]},
    ("POST", "/runtime_modify"): {},
    ("POST", "/admin/anything"): {},
}


class ClosesIdleConnections(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; a request on a connection idle longer than `keepalive_s` (or
    every request, with `close_all`) is read, then the connection is closed unanswered."""

    protocol_version = "HTTP/1.1"
    keepalive_s = KEEPALIVE_S
    close_all = False
    status = 200
    log: list[tuple[str, str, int, str]] = []   # (method, path, connection number, outcome)
    connections = 0

    def setup(self):
        super().setup()
        cls = type(self)
        cls.connections += 1
        self.number = cls.connections
        self.answered_at: float | None = None

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        idle = 0.0 if self.answered_at is None else time.monotonic() - self.answered_at
        if self.close_all or idle > self.keepalive_s:
            self.log.append((self.command, self.path, self.number, "closed"))
            self.close_connection = True
            return
        body = json.dumps(ANSWERS.get((self.command, self.path), {})).encode()
        # logged before the answer leaves: a client that has it may read the log at once
        self.log.append((self.command, self.path, self.number, "answered"))
        self.send_response(self.status)
        if self.status == 503:
            self.send_header("Retry-After", "1")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.answered_at = time.monotonic()

    do_GET = do_PUT = do_DELETE = do_POST = _handle  # noqa: N815 - http.server's naming

    def log_message(self, *args):
        pass


@pytest.fixture
def closing_server():
    """Factory: a ClosesIdleConnections server (its own log), stopped after the test."""
    servers = []

    def start(close_all: bool = False, status: int = 200):
        handler = type("Handler", (ClosesIdleConnections,),
                       {"log": [], "connections": 0, "close_all": close_all, "status": status})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}", handler

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_fault_client_idle_past_the_keepalive_still_clears_its_fault(closing_server):
    url, server = closing_server()
    client = FaultClient(url, TOKEN)
    client.set("error", status=503, probability=1.0, ttl_s=60)
    time.sleep(IDLE_S)
    assert client.clear() == ["error"]
    assert server.log == [("PUT", "/admin/faults/error", 1, "answered"),
                          ("DELETE", "/admin/faults", 1, "closed"),
                          ("DELETE", "/admin/faults", 2, "answered")]


def test_a_fault_client_idle_past_the_keepalive_still_sets_lists_and_clears_one_kind(
        closing_server):
    """PUT replaces the fault of its kind in the registry, so sending it again is harmless."""
    url, server = closing_server()
    client = FaultClient(url, TOKEN)
    assert client.list() == []
    time.sleep(IDLE_S)
    assert client.set("error", status=503, ttl_s=60)["kind"] == "error"
    time.sleep(IDLE_S)
    assert client.list() == []
    time.sleep(IDLE_S)
    assert client.clear("error") == ["error"]
    assert [entry[3] for entry in server.log] == ["answered", *["closed", "answered"] * 3]
    assert server.connections == 4


def test_a_server_that_never_answers_is_asked_twice_then_named_unreachable(closing_server):
    """Once on a new connection, not more: a server that is really gone is reported at once."""
    url, server = closing_server(close_all=True)
    with pytest.raises(FaultError, match=rf"cannot reach the app's admin API at {url}: "
                                         r"ConnectionError"):
        FaultClient(url, TOKEN).clear()
    assert [(m, outcome) for m, _, _, outcome in server.log] == [("DELETE", "closed")] * 2


def test_an_answer_is_never_asked_again_not_even_a_503_with_retry_after(closing_server):
    url, server = closing_server(status=503)
    with pytest.raises(FaultError, match=r"GET /admin/faults -> 503"):
        FaultClient(url, TOKEN).list()
    assert len(server.log) == 1


def test_a_method_the_session_was_not_told_is_idempotent_is_not_sent_again(closing_server):
    from harness_common.http import retrying_session

    url, server = closing_server(close_all=True)
    with retrying_session(("GET",)) as session, pytest.raises(Exception, match="aborted"):
        session.post(url + "/admin/anything", json={}, timeout=2)
    assert len(server.log) == 1


def test_envoys_admin_client_idle_past_a_keepalive_still_reads_and_modifies(closing_server):
    """Envoy's own admin endpoint kept an idle connection open for 70 s (measured): a server
    that closes idle connections stands in for one that does, or a restarted Envoy."""
    url, server = closing_server()
    admin = EnvoyAdmin(url)
    assert admin.runtime()["layers"] == ["static", "admin"]
    time.sleep(IDLE_S)
    admin.modify({"harness.all.abort_percent": ""})
    time.sleep(IDLE_S)
    assert admin.runtime()["entries"] == {}
    assert [(m, outcome) for m, _, _, outcome in server.log] == [
        ("GET", "answered"), ("POST", "closed"), ("POST", "answered"), ("GET", "closed"),
        ("GET", "answered")]


def test_envoys_admin_client_gives_up_after_one_more_try(closing_server):
    url, server = closing_server(close_all=True)
    with pytest.raises(EnvoyError, match=r"did not answer POST /runtime_modify"):
        EnvoyAdmin(url).modify({"harness.all.delay_ms": "300"})
    assert len(server.log) == 2
