"""Which Prometheus-compatible backend answers, and where it differs from Prometheus.

    backend = prom.backend()      # one Backend, asked once per Prometheus object
    backend.name                  "Prometheus", "VictoriaMetrics" or "a Prometheus-compatible
                                  backend"
    backend.latency_offset_s      the newest seconds of data it hides from queries
                                  (VictoriaMetrics's -search.latencyOffset, 30 s by default):
                                  a window ending later than now minus this is waited for
    backend.notes                 what a reader of a verdict from it should know

The checker's counting asks only for raw samples at the window's edges (last_over_time,
`offset`, timestamp()), which Prometheus and VictoriaMetrics answer alike (proved on the same
exact samples in tests/test_victoriametrics_integration.py); the functions that differ are named
in the notes: increase() and rate() do not extrapolate on VictoriaMetrics, and it has no
/api/v1/status/runtimeinfo nor alerting rules of its own (vmalert evaluates them; VictoriaMetrics
lists them only through -vmalert.proxyURL).
"""

import re
from dataclasses import dataclass

from harness_common.durations import parse_duration

PROMETHEUS = "Prometheus"
VICTORIAMETRICS = "VictoriaMetrics"
OTHER = "a Prometheus-compatible backend"
_LATENCY_FLAG = re.compile(r'^-search\.latencyOffset="?([^"\s]+)"?\s*$', re.MULTILINE)

VM_NOTES = (
    "VictoriaMetrics: increase() and rate() do not extrapolate; the SLOs' counts are taken "
    "from raw samples at the window's edges (as on Prometheus), but a counter reset inside "
    "the window is counted by its increase(), exactly here where Prometheus extrapolates",
    "VictoriaMetrics: no /api/v1/status/runtimeinfo, so a restart of the backend itself is "
    "read only from the data (its scrapes' gaps)",
)


@dataclass(frozen=True)
class Backend:
    """The backend behind a Prometheus URL, as far as its answers tell."""

    name: str
    version: str | None = None
    latency_offset_s: float = 0.0
    notes: tuple[str, ...] = ()

    @property
    def is_prometheus(self) -> bool:
        return self.name == PROMETHEUS

    def as_dict(self) -> dict:
        return {"name": self.name, "version": self.version,
                "latency_offset_s": self.latency_offset_s, "notes": list(self.notes)}


def identify(buildinfo: dict | None, ready_text: str | None, flags_text: str | None) -> Backend:
    """The Backend from what it answered: /api/v1/status/buildinfo's data, the body of /-/ready
    and VictoriaMetrics's /flags page (None where the request failed)."""
    if ready_text and "VictoriaMetrics" in ready_text:
        return Backend(VICTORIAMETRICS, None, latency_offset(flags_text), VM_NOTES)
    version = (buildinfo or {}).get("version") if isinstance(buildinfo, dict) else None
    if version and ready_text is not None and "Prometheus" in ready_text:
        return Backend(PROMETHEUS, str(version))
    return Backend(OTHER, str(version) if version else None)


def latency_offset(flags_text: str | None) -> float:
    """-search.latencyOffset from VictoriaMetrics's /flags; its default (30 s) when unread."""
    match = _LATENCY_FLAG.search(flags_text or "")
    if not match:
        return 30.0
    try:
        return parse_duration(match.group(1))
    except ValueError:
        return 30.0
