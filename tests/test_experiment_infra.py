"""Infrastructure faults: signals to the app's process group found through state.json (a real
`sleep` process stands in for the app), and the same operations on a compose container."""

import subprocess
import time
from pathlib import Path

import pytest

from slo.experiment.infra import ComposeApp, InfraFaultError, NativeApp
from stack.config import StackSettings
from stack.state import StackState, record_for, save_state


def process_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]


@pytest.fixture
def fake_app(tmp_path):
    """A `sleep` in its own session, recorded as the native stack's app."""
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    settings = StackSettings.from_env({"STACK_DIR": str(tmp_path / "stack")})
    state = StackState(mode="native")
    state.replace_part(record_for("app", proc.pid, "http://127.0.0.1:1", tmp_path / "app.log"))
    save_state(settings.paths.state_file, state)
    yield settings, proc
    proc.kill()
    proc.wait()


@pytest.mark.integration
def test_pause_stops_the_app_and_resume_continues_it(fake_app):
    settings, proc = fake_app
    app = NativeApp(settings)
    app.pause()
    time.sleep(0.2)
    assert process_state(proc.pid) == "T"
    app.resume()
    time.sleep(0.2)
    assert process_state(proc.pid) in ("S", "R")


@pytest.mark.integration
def test_kill_ends_the_whole_process_group(fake_app):
    settings, proc = fake_app
    NativeApp(settings).kill()
    assert proc.wait(timeout=5) == -9


def test_without_a_running_stack_the_fault_says_what_to_start(tmp_path):
    settings = StackSettings.from_env({"STACK_DIR": str(tmp_path / "empty")})
    with pytest.raises(InfraFaultError, match="the native stack must be up"):
        NativeApp(settings).pause()


class FakeContainer:
    def __init__(self):
        self.calls = []

    def kill(self, signal):
        self.calls.append(("kill", signal))

    def start(self):
        self.calls.append(("start",))

    def pause(self):
        self.calls.append(("pause",))

    def unpause(self):
        self.calls.append(("unpause",))


class FakeDocker:
    def __init__(self, containers):
        self.containers = self
        self.found = containers
        self.filters = None

    def list(self, all, filters):  # noqa: A002 - the Docker SDK's own argument name
        self.filters = filters
        return self.found


def test_compose_faults_act_on_the_app_service_container():
    container = FakeContainer()
    docker = FakeDocker([container])
    app = ComposeApp(client=docker)
    app.kill()
    app.restart()
    app.pause()
    app.resume()
    assert container.calls == [("kill", "SIGKILL"), ("start",), ("pause",), ("unpause",)]
    assert docker.filters == {"label": "com.docker.compose.service=app"}


def test_compose_without_the_app_container_says_so():
    with pytest.raises(InfraFaultError, match="no container of compose service 'app'"):
        ComposeApp(client=FakeDocker([])).pause()
