"""Where the stack is: the app URL and its admin token travel together, and the stack's token
never goes to another server (issue: a new shell without APP_PORT sent the stack's token to
whatever listened on 127.0.0.1:5000)."""

import socket
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
    ({"APP_URL": "http://127.0.0.1:15000/"}, ("http://127.0.0.1:15000", TOKEN)),
    ({"APP_URL": "http://localhost:15000/"}, ("http://localhost:15000", None)),  # not its address
    ({"APP_PORT": "5000"}, ("http://127.0.0.1:5000", None)),          # another server: no token
    ({"APP_PORT": "5000", "FAULT_ADMIN_TOKEN": "mine"}, ("http://127.0.0.1:5000", "mine")),
])
def test_the_app_url_and_its_token_travel_together(tmp_path, environ, expected):
    env = {"STACK_DIR": str(stack_dir(tmp_path, "http://127.0.0.1:15000")), **environ}
    assert fault_target(env) == expected


def test_without_a_stack_the_default_app_has_no_token(tmp_path):
    assert fault_target({"STACK_DIR": str(tmp_path)}) == ("http://127.0.0.1:5000", None)


@pytest.mark.parametrize(("a", "b", "same"), [
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000/", True),        # a trailing slash
    ("http://127.0.0.1", "http://127.0.0.1:80", True),                # the scheme's port
    ("https://127.0.0.1/", "https://127.0.0.1:443", True),
    ("HTTP://LocalHost:5000", "http://localhost:5000", True),         # names ignore case
    ("http://[::1]:5000", "http://[0:0:0:0:0:0:0:1]:5000", True),     # one address, two ways
    ("http://localhost:5000", "http://127.0.0.1:5000", False),        # may resolve to ::1
    ("http://[::1]:5000", "http://127.0.0.1:5000", False),            # issue 19: an impostor
    ("http://0.0.0.0:5000", "http://127.0.0.1:5000", False),
    ("http://127.0.0.2:5000", "http://127.0.0.1:5000", False),
    ("http://127.0.0.1:5001", "http://127.0.0.1:5000", False),        # another port
    ("https://127.0.0.1:5000", "http://127.0.0.1:5000", False),       # another scheme
    ("http://127.0.0.1:443", "https://127.0.0.1", False),
    ("http://127.0.0.1:99999", "http://127.0.0.1:99999", False),      # not a URL: never same
    (None, "http://127.0.0.1", False),
])
def test_addresses_are_compared_exactly_by_scheme_host_as_written_and_port(a, b, same):
    assert same_url(a, b) is same
    assert same_url(b, a) is same


@pytest.mark.parametrize(("url", "gets_token"), [
    ("http://127.0.0.1:15000", True),
    ("http://127.0.0.1:15000/", True),
    ("http://localhost:15000", False),
    ("http://[::1]:15000", False),
    ("http://0.0.0.0:15000", False),
    ("http://127.0.0.2:15000", False),
])
def test_the_stacks_token_goes_only_to_the_address_the_stack_wrote(tmp_path, url, gets_token):
    env = {"STACK_DIR": str(stack_dir(tmp_path, "http://127.0.0.1:15000"))}
    assert admin_token_for(url, env) == (TOKEN if gets_token else None)


def test_a_stack_that_says_it_listens_on_localhost_gets_its_token_there_only(tmp_path):
    env = {"STACK_DIR": str(stack_dir(tmp_path, "http://localhost:15000"))}
    assert admin_token_for("http://localhost:15000", env) == TOKEN
    assert admin_token_for("http://127.0.0.1:15000", env) is None


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


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


@pytest.fixture
def twins():
    """A Recorder on 127.0.0.1:P (the stack's app) and another on [::1]:P (an impostor)."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError as err:
        pytest.skip(f"this machine has no IPv6 loopback (binding ::1 failed: {err}), so no "
                    f"impostor can listen on [::1]")
    for _ in range(20):
        stack_app = ThreadingHTTPServer(("127.0.0.1", 0), type("S", (Recorder,), {"seen": []}))
        try:
            impostor = _IPv6Server(("::1", stack_app.server_port),
                                   type("I", (Recorder,), {"seen": []}))
        except OSError:                     # [::1]:P is taken: another P
            stack_app.server_close()
            continue
        break
    else:
        pytest.fail("found no port free on both 127.0.0.1 and [::1] in 20 tries")
    for server in (stack_app, impostor):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield stack_app, impostor
    for server in (stack_app, impostor):
        server.shutdown()
        server.server_close()


def test_the_stack_token_never_goes_to_a_listener_on_the_ipv6_loopback(tmp_path, twins):
    """issue 19: the stack on 127.0.0.1:P, a listener on [::1]:P; `faults --url
    http://[::1]:P list` sent it the stack's bearer token (same_url took ::1 for 127.0.0.1)
    and printed what it answered."""
    stack_app, impostor = twins
    port = stack_app.server_port
    env = {"PATH": "/usr/bin:/bin",
           "STACK_DIR": str(stack_dir(tmp_path, f"http://127.0.0.1:{port}"))}
    out = subprocess.run([sys.executable, "-m", "harness_common.faults", "--url",
                          f"http://[::1]:{port}", "list"], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=30)
    assert impostor.RequestHandlerClass.seen == []      # no request, so no Authorization header
    assert out.returncode == 2, out
    assert "no active faults" not in out.stdout
    assert (f"http://[::1]:{port} is not the stack's address: the stack listens on "
            f"http://127.0.0.1:{port}") in out.stderr
    assert f"use http://127.0.0.1:{port}" in out.stderr and TOKEN not in out.stderr
    # the stack's own address, as written in its env, still gets the token
    own = subprocess.run([sys.executable, "-m", "harness_common.faults", "--url",
                          f"http://127.0.0.1:{port}/", "list"], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=30)
    assert own.returncode == 0, own
    assert stack_app.RequestHandlerClass.seen == [f"Bearer {TOKEN}"]
    assert impostor.RequestHandlerClass.seen == []


def test_an_ipv6_address_in_a_cli_error_is_printed_as_written(tmp_path, monkeypatch, capsys):
    """rich took `[fe80::1]` for a markup tag and printed `http://:15000`."""
    from harness_common.faults.cli import main

    monkeypatch.setenv("STACK_DIR", str(stack_dir(tmp_path, "http://127.0.0.1:15000")))
    monkeypatch.delenv("FAULT_ADMIN_TOKEN", raising=False)
    assert main(["--url", "http://[fe80::1]:15000", "list"]) == 2
    assert "no admin token for http://[fe80::1]:15000: " in capsys.readouterr().err


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
        through = fault_api_for("http://127.0.0.1:10000/", env)
        assert (through.url, through.backend, through.affects) == (
            "http://127.0.0.1:9902", "proxy", "http://127.0.0.1:10000")
        elsewhere = fault_api_for("http://localhost:10000/", env)   # not the proxy's address
        assert (elsewhere.backend, elsewhere.token) == ("app", None)
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
