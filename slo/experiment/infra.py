"""Infrastructure faults on the app's process: kill (then restart) and pause (then resume).

Native stack: signals to the app's process group, found through the launcher's state.json
(pid + start time, so a recycled pid is never signalled); the launcher restarts a killed app.
Compose stack: the same operations on the app container through the Docker SDK.

    app = app_process(settings, mode)      # NativeApp or ComposeApp
    app.kill(); ...; app.restart()
    app.pause(); ...; app.resume()
"""

from __future__ import annotations

import os
import signal

from harness_common.errors import HarnessError
from stack.config import StackSettings
from stack.state import load_state

COMPOSE_SERVICE = "app"


class InfraFaultError(HarnessError):
    """An infrastructure fault could not be applied or undone."""


class NativeApp:
    """The app part of a native stack started by `python -m stack` (or the runner)."""

    def __init__(self, settings: StackSettings):
        self.settings = settings

    def _pid(self) -> int:
        state = load_state(self.settings.paths.state_file)
        record = state.part("app") if state is not None else None
        if record is None or not record.is_ours():
            raise InfraFaultError(f"no running app recorded in {self.settings.paths.state_file}; "
                                  f"the native stack must be up (`make stack`)")
        return record.pid

    def _signal(self, sig: signal.Signals) -> int:
        pid = self._pid()
        try:
            os.killpg(pid, sig)
        except ProcessLookupError as err:
            raise InfraFaultError(f"the app (pid {pid}) is gone") from err
        return pid

    def kill(self) -> None:
        """SIGKILL the app's whole process group (gunicorn master and worker).

        When this process started the stack, the dead app stays a zombie until the launcher's
        Popen reaps it; a zombie counts as gone everywhere (stack.procs.pid_alive).
        """
        self._signal(signal.SIGKILL)

    def restart(self) -> None:
        """Let the launcher start the app again and wait until it answers /health."""
        from stack.launcher import restart_part

        restart_part("app", self.settings)

    def pause(self) -> None:
        """SIGSTOP the app's process group."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT the app's process group."""
        self._signal(signal.SIGCONT)


class ComposeApp:
    """The app container of the compose stack, through the Docker SDK."""

    def __init__(self, client=None, service: str = COMPOSE_SERVICE):
        self._client = client
        self.service = service

    def _container(self):
        if self._client is None:
            import docker

            try:
                self._client = docker.from_env()
            except docker.errors.DockerException as err:
                raise InfraFaultError(f"no Docker engine answers ({err})") from err
        found = self._client.containers.list(
            all=True, filters={"label": f"com.docker.compose.service={self.service}"})
        if not found:
            raise InfraFaultError(f"no container of compose service {self.service!r}; is the "
                                  f"compose stack up (`make stack`)?")
        return found[0]

    def kill(self) -> None:
        """docker kill --signal SIGKILL."""
        self._container().kill(signal="SIGKILL")

    def restart(self) -> None:
        """docker start (compose's healthcheck decides readiness)."""
        self._container().start()

    def pause(self) -> None:
        """docker pause (the cgroup freezer: the same effect as SIGSTOP)."""
        self._container().pause()

    def resume(self) -> None:
        """docker unpause."""
        self._container().unpause()


def app_process(settings: StackSettings, mode: str):
    """The app handle for a stack running in `mode` (native | compose)."""
    return ComposeApp() if mode == "compose" else NativeApp(settings)
