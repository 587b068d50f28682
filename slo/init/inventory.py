"""The series a service exposes, read from its /metrics page or from Prometheus.

    read_metrics_page(url)        -> Inventory (InitError: unreachable, not an exposition, empty)
    parse_exposition(text, ctype) -> Inventory
    read_prometheus_job(prom, job) -> Inventory (every series of the job, latest values)

The page is parsed with prometheus_client's parsers (the text format, or OpenMetrics when the
page says so). Sample names are kept as Prometheus stores them: the text parser adds `_total`
to a counter sample that lacks it (Envoy's `envoy_http_downstream_rq_xx`), which Prometheus
does not, so such a name is given back its written form.
"""

import re
import time
from dataclasses import dataclass

import requests
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from slo.errors import InitError, PrometheusError
from slo.judge.prom import Prometheus

MAX_PAGE_BYTES = 32 * 1024 * 1024
ACCEPT = "text/plain;version=0.0.4;q=1.0,*/*;q=0.1"
_LINE_NAME = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)", re.M)
# labels Prometheus adds on scraping: not the instrumentation's
TARGET_LABELS = frozenset({"job", "instance"})


@dataclass(frozen=True)
class Series:
    """One sample: its metric name (as Prometheus stores it), labels and value."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float

    @property
    def label_dict(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass(frozen=True)
class Inventory:
    """Every series seen at `source` (a URL, or a job in a Prometheus)."""

    source: str
    series: tuple[Series, ...]

    def names(self) -> frozenset[str]:
        return frozenset(s.name for s in self.series)

    def named(self, name: str) -> tuple[Series, ...]:
        return tuple(s for s in self.series if s.name == name)


def _series(name: str, labels: dict, value: float) -> Series:
    kept = tuple(sorted((k, str(v)) for k, v in labels.items() if k not in TARGET_LABELS))
    return Series(name, kept, float(value))


def parse_exposition(text: str, source: str, content_type: str = "") -> Inventory:
    """The series of a Prometheus text (or OpenMetrics) exposition."""
    openmetrics = "openmetrics" in content_type.lower()
    parse = openmetrics_families if openmetrics else text_string_to_metric_families
    written = set(_LINE_NAME.findall(text))
    try:
        families = list(parse(text))
    except (ValueError, TypeError, IndexError, KeyError) as err:
        kind = "OpenMetrics" if openmetrics else "Prometheus text format"
        raise InitError(f"{source}: the page is not a {kind} exposition ({err}); pass the URL "
                        "of the service's metrics page (often /metrics)") from err
    out = []
    for family in families:
        for sample in family.samples:
            name = sample.name
            if name not in written and name.removesuffix("_total") in written:
                name = name.removesuffix("_total")
            out.append(_series(name, sample.labels, sample.value))
    if not out:
        raise InitError(f"{source}: the page holds no metrics; is the service instrumented, and "
                        "is this its metrics page?")
    return Inventory(source, tuple(out))


def read_metrics_page(url: str, timeout: float = 10.0) -> Inventory:
    """Fetch and parse a metrics page; InitError naming the URL and the fix on any failure."""
    try:
        resp = requests.get(url, headers={"Accept": ACCEPT}, timeout=timeout, stream=True)
        body = resp.raw.read(MAX_PAGE_BYTES + 1, decode_content=True)
    except requests.RequestException as err:
        reason = "timed out" if isinstance(err, requests.Timeout) else "connection refused or reset"
        raise InitError(f"{url}: could not read the metrics page ({reason}); is the service "
                        "running, and is this its metrics URL (e.g. "
                        "http://127.0.0.1:5000/metrics)?") from err
    if resp.status_code != 200:
        raise InitError(f"{url}: HTTP status {resp.status_code}; pass the URL of the service's "
                        "metrics page (often /metrics)")
    if len(body) > MAX_PAGE_BYTES:
        raise InitError(f"{url}: the page is larger than {MAX_PAGE_BYTES // 2**20} MiB; is "
                        "this a metrics page?")
    text = body.decode(resp.encoding or "utf-8", errors="replace")
    return parse_exposition(text, url, resp.headers.get("Content-Type", ""))


def read_prometheus_job(prom: Prometheus, job: str) -> Inventory:
    """Every series of `job` in Prometheus with a recent sample (an instant query)."""
    quoted = job.replace("\\", "\\\\").replace('"', '\\"')
    now = time.time()
    samples = prom.query(f'{{job="{quoted}"}}', now)
    series = tuple(_series(s.labels.get("__name__", ""),
                           {k: v for k, v in s.labels.items() if k != "__name__"}, s.value)
                   for s in samples if s.labels.get("__name__"))
    if not series:
        try:
            jobs = prom.label_values("job", "up", now - 3600, now)
        except PrometheusError:
            jobs = []
        known = ", ".join(sorted(jobs)) or "none"
        raise InitError(f"Prometheus at {prom.url} has no recent series of job {job!r} (jobs "
                        f"it scrapes: {known}); pass --job with one of them, or --metrics-url")
    return Inventory(f"job {job!r} in Prometheus at {prom.url}", series)
