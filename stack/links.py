"""Links to pages the installed versions really serve.

Debian's Prometheus 2.42 ships without its new UI (/alerts, /targets and /graph answer 404;
the classic pages under /classic/ work) and Debian's Alertmanager 0.25 without any web UI (its
"/" is a page saying so). Printing or sending links to those would send a user to a 404, so
the launcher asks each server once it is ready:

    ui = detect_ui(prometheus_url, alertmanager_url)
    ui.prometheus_page(prometheus_url, "alerts")   -> ".../classic/alerts", or None
    ui.alertmanager_alerts(alertmanager_url)        -> ".../#/alerts", or None

and keeps the answer in .stack/env (PROMETHEUS_UI = "" new UI | "/classic" | "none";
ALERTMANAGER_UI = "yes" | "no") for the Telegram template, the report and the Locust tab.
"""

from __future__ import annotations

from dataclasses import dataclass

from stack.procs import http_ok

TIMEOUT_S = 2.0
NONE = "none"


def _ok(url: str) -> bool:
    return http_ok(url, TIMEOUT_S, redirects=False)


@dataclass(frozen=True)
class UiInfo:
    """Which web UIs answer: Prometheus's page prefix ("" new UI, "/classic", or None) and
    whether Alertmanager has its UI."""

    prometheus_prefix: str | None
    alertmanager_ui: bool

    def prometheus_page(self, base: str, page: str) -> str | None:
        """A Prometheus page ("alerts", "targets", "graph") that answers, or None."""
        if self.prometheus_prefix is None:
            return None
        return f"{base.rstrip('/')}{self.prometheus_prefix}/{page}"

    def alertmanager_alerts(self, base: str) -> str | None:
        """Alertmanager's alert list, or None when this build has no UI."""
        return f"{base.rstrip('/')}/#/alerts" if self.alertmanager_ui else None

    def env_pairs(self) -> dict[str, str]:
        """The answer as .stack/env pairs."""
        return {"PROMETHEUS_UI": NONE if self.prometheus_prefix is None
                else self.prometheus_prefix,
                "ALERTMANAGER_UI": "yes" if self.alertmanager_ui else "no"}

    @classmethod
    def from_env(cls, env: dict[str, str]) -> UiInfo:
        """Read back from .stack/env (a stack without the keys: the full upstream UIs)."""
        prefix = env.get("PROMETHEUS_UI", "")
        return cls(None if prefix == NONE else prefix, env.get("ALERTMANAGER_UI", "yes") == "yes")


FULL_UI = UiInfo("", True)   # the official images (compose)


def prometheus_prefix(prometheus_url: str) -> str | None:
    """Where a running Prometheus serves its pages: "" (new UI), "/classic", or None."""
    base = prometheus_url.rstrip("/")
    if _ok(base + "/alerts"):
        return ""
    if _ok(base + "/classic/alerts"):
        return "/classic"
    return None


def detect_ui(prometheus_url: str, alertmanager_url: str) -> UiInfo:
    """Ask the running servers which pages they serve."""
    # The Elm UI serves script.js; Debian's placeholder page does not.
    return UiInfo(prometheus_prefix(prometheus_url),
                  _ok(alertmanager_url.rstrip("/") + "/script.js"))
