"""What the runner shows while an experiment runs.

On a terminal: a rich Live panel (phase, time left, live SLI values from Prometheus over the
last 30 s, the alerts pending or firing, the latest events). Elsewhere (CI logs, tests): one
plain line per event, so a log reads as the experiment's story.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from slo.errors import PrometheusError
from slo.judge import promql
from slo.judge.checker import format_value
from slo.judge.prom import Prometheus
from slo.spec.model import Spec

LIVE_RANGE = "30s"
EVENTS_SHOWN = 4
ALERT_ROWS = 6


class LiveStats:
    """Polls every SLO's value over the last 30 s from Prometheus, in a daemon thread."""

    def __init__(self, prom: Prometheus, spec: Spec, interval_s: float = 5.0):
        self.prom = prom
        self.spec = spec
        self.interval_s = interval_s
        self.values: dict[str, float | None] = {}
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self) -> None:
        """Query each SLO once."""
        values = {}
        try:
            for slo in self.spec.slos:
                values[slo.name] = self.prom.scalar(promql.value_expr(slo, LIVE_RANGE),
                                                    time.time())
            self.error = None
        except PrometheusError as err:
            self.error = str(err)
        self.values.update(values)

    def start(self) -> None:
        """Poll in the background until stop()."""
        self._thread = threading.Thread(target=self._run, name="live-stats", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self.poll()
            if self._stop.wait(self.interval_s):
                return

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def group_alerts(alerts: list) -> dict[tuple[str, str, str], tuple[int, str]]:
    """(name, slo, severity) -> (instances, firing if any fires else pending), firing first."""
    groups: dict[tuple[str, str, str], tuple[int, str]] = {}
    for alert in alerts:
        labels = dict(alert.labels)
        key = (alert.name, labels.get("slo", ""), labels.get("severity", ""))
        count, state = groups.get(key, (0, "pending"))
        groups[key] = (count + 1, "firing" if "firing" in (state, alert.state) else "pending")
    return dict(sorted(groups.items(), key=lambda item: (item[1][1] != "firing", item[0])))


class Progress:
    """Events in, display out. `status` is a callable returning the runner's current state."""

    def __init__(self, console: Console, spec: Spec, live: bool | None = None):
        self.console = console
        self.spec = spec
        self.live_mode = console.is_terminal if live is None else live
        self.events: deque[str] = deque(maxlen=EVENTS_SHOWN)
        self.state: dict = {}
        self.stats: LiveStats | None = None
        self.alerts: Callable[[], list] | None = None
        self._live: Live | None = None
        self._t0: float | None = None

    # -- events ----------------------------------------------------------------------------
    def message(self, text: str) -> None:
        """A line of progress (stack start-up, rollback, ...)."""
        stamp = self._stamp()
        line = f"{stamp}{text}"
        if self._live is not None:
            self.events.append(line)
        else:
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def _stamp(self) -> str:
        return f"[+{time.time() - self._t0:6.1f}s] " if self._t0 is not None else ""

    def begin(self, t0: float, total_s: float, name: str) -> None:
        """The load test started at t0; open the live panel on a terminal."""
        self._t0 = t0
        self.state.update(name=name, total_s=total_s)
        if self.live_mode:
            self._live = Live(self, console=self.console, refresh_per_second=2, transient=True)
            self._live.start()

    def phase(self, index: int, count: int, name: str, start: float, end: float,
              fault: str | None) -> None:
        """A phase began."""
        self.state.update(index=index, count=count, phase=name, phase_end=end, fault=fault)
        self.message(f"phase {index + 1}/{count} {name!r} ({end - start:.0f}s)"
                     + (f", fault: {fault}" if fault else ""))

    def end(self) -> None:
        """Close the live panel (the summary is printed after it)."""
        if self._live is not None:
            self._live.stop()
            self._live = None
            for line in self.events:
                self.console.print(line, markup=False, highlight=False)

    # -- rendering (rich calls __rich__ at each refresh) ------------------------------------
    def __rich__(self):
        now = time.time()
        state = self.state
        head = Text()
        if "phase" in state:
            left = max(0.0, state["phase_end"] - now)
            total_left = max(0.0, self._t0 + state["total_s"] - now) if self._t0 else 0.0
            head.append(f"{state['name']}  ", style="bold")
            head.append(f"phase {state['index'] + 1}/{state['count']} {state['phase']}  ")
            head.append(f"{left:4.0f}s left in phase, {total_left:4.0f}s in total\n")
            head.append("fault: ", style="dim")
            head.append(state.get("fault") or "none",
                        style="bold red" if state.get("fault") else "green")
        stats = Table(title="live SLIs (last 30s)", title_justify="left", box=None, expand=False)
        for column in ("SLO", "value", "objective"):
            stats.add_column(column)
        for slo in self.spec.slos:
            value = self.stats.values.get(slo.name) if self.stats else None
            stats.add_row(slo.name, format_value(value, slo.unit), slo.objective_text)
        alerts = Table(title="alerts pending/firing", title_justify="left", box=None)
        for column in ("alert", "slo", "severity", "instances", "state"):
            alerts.add_column(column)
        for (name, slo, severity), (count, state) in list(
                group_alerts(self.alerts() if self.alerts else []).items())[:ALERT_ROWS]:
            alerts.add_row(name, slo, severity, str(count),
                           Text(state, style="bold red" if state == "firing" else "yellow"))
        events = Text("\n".join(self.events), style="dim")
        return Panel(Group(head, stats, alerts, events), title="slo run", border_style="blue")
