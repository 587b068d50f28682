"""Choosing docker compose or native, and the compose path's bookkeeping.

No Docker engine runs here, so `docker compose` itself is replaced by a recorder; everything
else (settings, .stack/env, state.json, the lock) is real.
"""

import re
from pathlib import Path

import pytest

from harness_common.stackenv import read_stack_env
from stack import compose, launcher
from stack.config import StackSettings
from stack.state import load_state

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def compose_calls(monkeypatch):
    calls = []
    monkeypatch.setattr(compose, "compose_up", lambda env_file: calls.append(("up", env_file)))
    monkeypatch.setattr(compose, "compose_down",
                        lambda env_file: calls.append(("down", env_file)))
    return calls


def test_auto_mode_uses_compose_only_when_a_docker_engine_answers(monkeypatch, tmp_path):
    settings = StackSettings.from_env({"STACK_DIR": str(tmp_path)})
    monkeypatch.setattr(compose, "docker_engine_answers", lambda timeout=2.0: True)
    assert launcher.choose_mode(settings) == "compose"
    monkeypatch.setattr(compose, "docker_engine_answers", lambda timeout=2.0: False)
    assert launcher.choose_mode(settings) == "native"
    forced = StackSettings.from_env({"STACK_DIR": str(tmp_path), "STACK_MODE": "native"})
    monkeypatch.setattr(compose, "docker_engine_answers", lambda timeout=2.0: True)
    assert launcher.choose_mode(forced) == "native"


@pytest.mark.parametrize("docker_host", ["unix:///nonexistent/docker.sock",
                                         "tcp://127.0.0.1:1"])  # nothing listens on port 1
def test_docker_engine_answers_is_false_without_an_engine(monkeypatch, docker_host):
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    assert compose.docker_engine_answers(timeout=0.5) is False


def test_compose_up_writes_the_env_file_records_compose_and_down_stops_it(tmp_path,
                                                                          compose_calls):
    settings = StackSettings.from_env({"STACK_DIR": str(tmp_path), "STACK_MODE": "compose"})
    info = launcher.ensure_stack(settings)
    env_file = tmp_path / "env"
    assert compose_calls == [("up", env_file)]
    assert info.mode == "compose" and not info.already_running
    assert load_state(tmp_path / "state.json").mode == "compose"
    assert info.urls["prometheus"] == "http://127.0.0.1:9090"

    again = launcher.ensure_stack(settings)
    assert again.already_running and compose_calls == [("up", env_file)]
    assert again.warnings == []
    other = StackSettings.from_env({"STACK_DIR": str(tmp_path), "STACK_MODE": "compose",
                                    "SLO_PROFILE": "fast", "APP_PORT": "5999"})
    drift = launcher.ensure_stack(other).warnings
    assert drift == ["the running stack uses other ports (APP_PORT): `python -m stack down` "
                     "first to change it",
                     "the running stack loads SLO profile standard, not fast: `python -m stack "
                     "down` first to change it"]

    assert launcher.stop_stack(settings) == ["compose"]
    assert compose_calls[-1] == ("down", env_file)
    assert not (tmp_path / "state.json").exists()


def test_the_env_file_provides_every_variable_compose_requires(tmp_path, compose_calls):
    settings = StackSettings.from_env({"STACK_DIR": str(tmp_path), "STACK_MODE": "compose"})
    launcher.ensure_stack(settings)
    pairs = read_stack_env(tmp_path)
    required = set(re.findall(r"\$\{(\w+):\?", (REPO / "compose.yaml").read_text()))
    assert required, "compose.yaml declares its required variables with ${VAR:?message}"
    assert required <= set(pairs)
    assert {"FAULT_ADMIN_TOKEN", "TELEGRAM_SANDBOX_TOKEN", "PROMETHEUS_URL", "APP_URL"} <= set(
        pairs)
