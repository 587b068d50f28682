"""Prometheus's status endpoints, for the runner's theory: its intervals and its start time.

(Queries go through slo.prom.Prometheus; these two read /api/v1/status/*, which it does not
cover.) Both fall back quietly: the theory then assumes the defaults / full windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
import yaml

from slo.alerts import parse_time
from slo.units import parse_duration

TIMEOUT_S = 5


@dataclass(frozen=True)
class Intervals:
    """Scrape interval of the app's job and the global rule evaluation interval (seconds)."""

    scrape_s: float
    eval_s: float


DEFAULT_INTERVALS = Intervals(5.0, 5.0)


def intervals(url: str, job: str, default: Intervals = DEFAULT_INTERVALS) -> Intervals:
    """The intervals of Prometheus's running config (/api/v1/status/config)."""
    try:
        resp = requests.get(f"{url.rstrip('/')}/api/v1/status/config", timeout=TIMEOUT_S)
        config = yaml.safe_load(resp.json()["data"]["yaml"]) or {}
    except (requests.RequestException, ValueError, KeyError, yaml.YAMLError):
        return default
    glob = config.get("global", {})
    scrape = glob.get("scrape_interval", f"{int(default.scrape_s)}s")
    for scrape_config in config.get("scrape_configs", []):
        if scrape_config.get("job_name") == job:
            scrape = scrape_config.get("scrape_interval", scrape)
    evaluation = glob.get("evaluation_interval", f"{int(default.eval_s)}s")
    try:
        return Intervals(float(parse_duration(scrape)), float(parse_duration(evaluation)))
    except ValueError:
        return default


def started_at(url: str) -> float | None:
    """When the Prometheus at `url` started (its TSDB holds no data before), or None."""
    try:
        resp = requests.get(f"{url.rstrip('/')}/api/v1/status/runtimeinfo", timeout=TIMEOUT_S)
        return parse_time(resp.json()["data"]["startTime"])
    except (requests.RequestException, ValueError, KeyError):
        return None
