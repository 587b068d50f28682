"""Where the stack is: the app URL and its admin token travel together, and the stack's token
never goes to another server (issue: a new shell without APP_PORT sent the stack's token to
whatever listened on 127.0.0.1:5000)."""

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness_common.errors import FaultError
from harness_common.faults.client import FaultClient
from harness_common.stackenv import admin_token_for, fault_target, same_url

REPO = Path(__file__).resolve().parent.parent
TOKEN = "stack-token-abc"


def answer_json(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def stack_dir(tmp_path: Path, app_url: str) -> Path:
    (tmp_path / "env").write_text(f"APP_URL={app_url}\nFAULT_ADMIN_TOKEN={TOKEN}\n")
    return tmp_path


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, ("http://127.0.0.1:15000", TOKEN)),
    ({"APP_PORT": ""}, ("http://127.0.0.1:15000", TOKEN)),           # make's empty export
    ({"APP_PORT": "15000"}, ("http://127.0.0.1:15000", TOKEN)),
    ({"APP_URL": "http://localhost:15000/"}, ("http://localhost:15000", TOKEN)),
    ({"APP_PORT": "5000"}, ("http://127.0.0.1:5000", None)),          # another server: no token
    ({"APP_PORT": "5000", "FAULT_ADMIN_TOKEN": "mine"}, ("http://127.0.0.1:5000", "mine")),
])
def test_the_app_url_and_its_token_travel_together(tmp_path, environ, expected):
    env = {"STACK_DIR": str(stack_dir(tmp_path, "http://127.0.0.1:15000")), **environ}
    assert fault_target(env) == expected


def test_without_a_stack_the_default_app_has_no_token(tmp_path):
    assert fault_target({"STACK_DIR": str(tmp_path)}) == ("http://127.0.0.1:5000", None)


def test_urls_compare_by_scheme_host_and_port():
    assert same_url("http://localhost:80/", "http://127.0.0.1")
    assert not same_url("http://127.0.0.1:5000", "http://127.0.0.1:5001")
    assert not same_url("https://127.0.0.1:5000", "http://127.0.0.1:5000")
    assert not same_url(None, "http://127.0.0.1")


def test_a_client_for_another_server_refuses_naming_whose_token_it_is(tmp_path, monkeypatch):
    monkeypatch.setenv("STACK_DIR", str(stack_dir(tmp_path, "http://127.0.0.1:15000")))
    monkeypatch.delenv("FAULT_ADMIN_TOKEN", raising=False)
    client = FaultClient("http://127.0.0.1:5000", admin_token_for("http://127.0.0.1:5000"))
    with pytest.raises(FaultError, match=r"belongs to the stack's app at "
                                         r"http://127\.0\.0\.1:15000, not http://127\.0\.0\.1:5000"):
        client.list()


class Recorder(BaseHTTPRequestHandler):
    """Answers like the admin API and remembers the Authorization headers it was sent."""

    seen: list[str | None] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).seen.append(self.headers.get("Authorization"))
        answer_json(self, 200, b'{"faults": []}')

    def log_message(self, *args):
        pass


@pytest.fixture
def recorders():
    servers = []
    for _ in range(2):
        handler = type("R", (Recorder,), {"seen": []})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def test_the_fault_cli_sends_the_stack_token_only_to_the_stack(tmp_path, recorders):
    other, stack_app = recorders
    stack_url = f"http://127.0.0.1:{stack_app.server_port}"
    base = {"PATH": "/usr/bin:/bin", "STACK_DIR": str(stack_dir(tmp_path, stack_url))}

    def cli(**env) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "harness_common.faults", "list"],
                              env={**base, **env}, cwd=REPO, capture_output=True, text=True,
                              timeout=30)

    # a new shell, nothing set: the stack's own app, with its token
    assert cli().returncode == 0
    assert stack_app.RequestHandlerClass.seen == [f"Bearer {TOKEN}"]
    # APP_PORT names another server: the token is not sent, and the CLI says why
    refused = cli(APP_PORT=str(other.server_port))
    assert refused.returncode == 2 and "belongs to the stack's app" in refused.stderr
    assert other.RequestHandlerClass.seen == []


def proxy_stack(tmp_path: Path, target: str = "http://127.0.0.1:18000") -> dict:
    (tmp_path / "env").write_text(
        f"FAULT_BACKEND=proxy\nPROXY_URL=http://127.0.0.1:10000\nTARGET_URL={target}"
        f"\nFAULT_API_URL=http://127.0.0.1:9902\nFAULT_ADMIN_TOKEN={TOKEN}\n")
    return {"STACK_DIR": str(tmp_path)}


def test_with_a_proxy_stack_a_schedule_aimed_around_the_proxy_is_refused_as_such(tmp_path):
    """A user sent the load to TARGET_URL itself: the schedule's faults went to the service
    (GET /admin/faults -> 404), and without a token the refusal said 'set FAULT_ADMIN_TOKEN or
    start the stack' while the stack ran. The faults act at the proxy: say the load goes around
    it."""
    from harness_common.stackenv import fault_api_for
    from loadtests.errors import TargetError
    from loadtests.preflight import check_target

    with socket_server() as service:            # the user's service answers, no fault API
        env = proxy_stack(tmp_path, service)
        through = fault_api_for("http://localhost:10000/", env)
        assert (through.url, through.backend, through.affects) == (
            "http://127.0.0.1:9902", "proxy", "http://127.0.0.1:10000")
        around = fault_api_for(service, env)
        assert around == through                # never the service's own address
        with pytest.raises(TargetError, match=r"act on http://127.0.0.1:10000 .* but the load "
                                              r"goes to .*--host http://127.0.0.1:10000"):
            check_target(service, around, needs_admin=True)


def test_another_app_keeps_its_own_fault_api_beside_a_proxy_stack(tmp_path):
    """APP_URL / HOST naming a demo app of its own (or a proxy stack's env left after
    stack-down): its faults go to that app, as the load does."""
    from harness_common.stackenv import fault_api_for

    env = proxy_stack(tmp_path)
    other = fault_api_for("http://127.0.0.1:5001", env)
    assert (other.url, other.backend, other.affects) == (
        "http://127.0.0.1:5001", "app", "http://127.0.0.1:5001")
    assert other.token is None                  # the stack's token stays with the stack


class _Quiet(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


class socket_server:
    def __enter__(self) -> str:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_port}"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class _Refuses(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        answer_json(self, 401, b'{"error": "unauthorized"}')

    def log_message(self, *args):
        pass


def test_a_refused_token_says_whose_it_was_and_what_to_do(tmp_path):
    """`FAULT_ADMIN_TOKEN=wrong… faults list` printed only '401: unauthorized': nothing said the
    environment's token overrides the stack's."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuses)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    base = {"PATH": "/usr/bin:/bin", "STACK_DIR": str(stack_dir(tmp_path, url))}
    try:
        def cli(**env) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "harness_common.faults", "list"],
                                  env={**base, **env}, cwd=REPO, capture_output=True, text=True,
                                  timeout=30)

        mine = cli(FAULT_ADMIN_TOKEN="wrong-token-xyz")
        assert mine.returncode != 0
        assert "401: unauthorized" in mine.stderr
        assert ("FAULT_ADMIN_TOKEN from your environment, which overrides the stack's; the "
                "stack's own token is in") in mine.stderr
        assert "unset FAULT_ADMIN_TOKEN" in mine.stderr and "wrong-token-xyz" not in mine.stderr
        stacks = cli()
        assert "the token sent is the stack's" in stacks.stderr and TOKEN not in stacks.stderr
    finally:
        server.shutdown()
        server.server_close()
