"""Did the alert reach Telegram? Two ways to know, one per Telegram mode.

Sandbox mode: the Telegram sandbox records every message; we read them back and match the
alert blocks that stack/alertmanager/telegram.tmpl writes. The sandbox stores the text as
Telegram shows it (entities stripped), one block per alert:

    🔥 FIRING ErrorBudgetBurn
    severity page · SLO error-ratio · service portfolio-app
    labels long="1m", short="20s", instance="127.0.0.1:5000"
    ...
    ✅ RESOLVED ErrorBudgetBurn
    ...

The labels line shows every other label of the alert (Go-quoted values, so it reads back
exactly), cut at LABELS_CAP: a block proves only an alert whose labels agree with all it shows.

Real Telegram: a bot cannot read its own messages, so delivery is proven by Alertmanager's
counters, read from its /metrics: `alertmanager_notifications_total{integration="telegram"}`
counts notifications (each after its retries) and `alertmanager_notifications_failed_total`
those that failed for good; a notification was delivered in a window when the first rose by
more than the second. `alertmanager_notification_requests_failed_total` counts every failed
request, retried or not (a 429 from Telegram shows there, not as a failed notification).

Also here: posting a synthetic alert to Alertmanager's v2 API (`slo verify-alerts --send-test`).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
from prometheus_client.parser import text_string_to_metric_families

from harness_common.errors import HarnessError
from stack.telegram_sandbox.formatting import EntityParseError, parse_text

INTEGRATION = "telegram"
_HEAD = re.compile(r"^\W*(FIRING|RESOLVED)\s+(\S+)\s*$")
_META = re.compile(r"severity\s+(?P<severity>\S+)\s+·\s+SLO\s+(?P<slo>\S+)\s+·\s+service\s+"
                   r"(?P<service>\S+)")
_TAGS = re.compile(r"<[^>]+>")
_TAIL = re.compile(r"^… and (\d+) more (firing|resolved)|^Alertmanager$")
# What a message shows of each alert (stack/alertmanager/telegram.tmpl): the head shows these
# four, then a labels line every other label, long and short first, then the rest by name, cut
# at LABELS_CAP runes. MESSAGE_LABELS are those a message always carries (an expectation may
# match only these: slo.experiment.schema); the others are shown as far as the cap allows.
HEAD_LABELS = ("alertname", "severity", "slo", "service")
MESSAGE_LABELS = (*HEAD_LABELS, "long", "short")
LABELS_CAP = 80
# the most of each MESSAGE_LABELS value a message shows in full (runes once escaped; long and
# short Go-quoted, and both fit in LABELS_CAP before any other label)
MESSAGE_CAPS = {"alertname": 64, "severity": 16, "slo": 32, "service": 32, "long": 32,
                "short": 32}
PLACEHOLDERS = {"severity": "none", "slo": "none", "service": "unknown"}   # label not set
_LINE = "labels "
_PAIR = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')
_GO_ESCAPE = r'\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[abfnrtv\\"\'])'
_QUOTED = re.compile(rf"(?:[^\\]|{_GO_ESCAPE})*")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            "\\": "\\", '"': '"', "'": "'"}


class DeliveryError(HarnessError):
    """Delivery could not be checked (the sandbox or Alertmanager did not answer)."""


@dataclass(frozen=True)
class Notice:
    """One alert block of a Telegram message (and the chat the message went to).

    `labels` are the values the block shows; `complete` says it shows every label of its alert
    (a label not in `labels` is not set), `cut` which shown values may be cut (they end with
    "…"), `unset` which head labels it shows as not set ("none"/"unknown"). `unlisted`: firing
    alerts its message counts ("… and N more firing") but does not list.
    """

    status: str                 # firing | resolved
    labels: dict = field(hash=False)
    message_id: int | None = None
    received_at: float | None = None
    chat_id: int | str | None = None
    text: str = field(default="", compare=False)   # this block's own lines (summary included)
    complete: bool = field(default=False, compare=False)
    cut: frozenset = field(default=frozenset(), compare=False)
    unset: frozenset = field(default=frozenset(), compare=False)
    lined: bool = field(default=False, compare=False)   # has a labels line (telegram.tmpl's)
    unlisted: int = field(default=0, compare=False)

    @property
    def alertname(self) -> str:
        """The alert's name."""
        return self.labels.get("alertname", "")


def shown_length(name: str, value: str) -> int:
    """How many runes of the message `value` of label `name` takes (escaped for Telegram HTML;
    long and short Go-quoted): more than MESSAGE_CAPS[name] and the message cuts it."""
    if name in HEAD_LABELS:
        shown = value
    else:   # printf %q, as telegram.tmpl writes it (for a length: json's escapes are as long)
        shown = json.dumps(value, ensure_ascii=False)
    return len(shown) + 4 * shown.count("&") + 3 * (shown.count("<") + shown.count(">"))


def _go_unquote(body: str) -> str | None:
    """The value of a Go-quoted string's body (printf %q), None when it is not one."""
    if not _QUOTED.fullmatch(body):
        return None

    def one(match: re.Match) -> str:
        code = match.group(1)
        return _ESCAPES.get(code) or chr(int(code[1:], 16))

    return re.sub(_GO_ESCAPE, one, body)


def read_labels_line(line: str) -> tuple[dict[str, str], bool]:
    """(labels, complete) of a block's `labels name="value", ...` line: the pairs before a cut
    (a cut line ends with "…"); complete only when the whole line was read."""
    rest = line[len(_LINE):]
    if rest == "none":
        return {}, True
    out: dict[str, str] = {}
    pos = 0
    while (pair := _PAIR.match(rest, pos)) is not None:
        value = _go_unquote(pair.group(2))
        if value is None or pair.group(1) in out:
            break
        out[pair.group(1)] = value
        pos = pair.end()
        if not rest.startswith(", ", pos):
            break
        pos += 2
    return out, bool(out) and pos == len(rest)


def _block(status: str, name: str, lines: list[str]) -> Notice:
    """A block's Notice from its lines (head first; message fields left empty)."""
    labels = {"alertname": name}
    unset = set()
    complete = lined = False
    if len(lines) > 1 and (meta := _META.search(lines[1])):
        for key, value in meta.groupdict().items():
            if value == PLACEHOLDERS[key]:
                unset.add(key)
            else:
                labels[key] = value
        if len(lines) > 2 and lines[2].startswith(_LINE):
            lined = True
            shown, complete = read_labels_line(lines[2].strip())
            labels.update({k: v for k, v in shown.items() if k not in HEAD_LABELS})
    cut = {k for k, v in labels.items() if k in HEAD_LABELS and v.endswith("…")}
    return Notice(status, labels, text="\n".join(lines).strip(), complete=complete,
                  cut=frozenset(cut), unset=frozenset(unset), lined=lined)


def _plain(html: str) -> str:
    """The text Telegram shows for an HTML message (tags only stripped when it is not valid)."""
    try:
        return parse_text(html, "HTML")[0]
    except EntityParseError:
        return _TAGS.sub("", html)


def read_blocks(text: str, html: bool = False) -> list[Notice]:
    """Every alert block of a message's text as Telegram shows it (`html`: its HTML, as sent),
    each with what it shows. A block's text runs from its head line to the next block's head
    (or to the message's "… and N more" / Alertmanager tail): what the message shows about that
    alert alone, so one alert's summary is never read as another's in a grouped message."""
    lines = (_plain(text or "") if html else text or "").splitlines()
    heads = [(i, head) for i, line in enumerate(lines) if (head := _HEAD.match(line.strip()))]
    unlisted = sum(int(tail.group(1)) for line in lines
                   if (tail := _TAIL.match(line.strip())) and tail.group(2) == "firing")
    blocks: list[Notice] = []
    for n, (i, head) in enumerate(heads):
        end = heads[n + 1][0] if n + 1 < len(heads) else len(lines)
        body = lines[i:end]
        tail = next((k for k, line in enumerate(body) if k and _TAIL.match(line.strip())), None)
        body = body[:tail] if tail is not None else body
        blocks.append(replace(_block(head.group(1).lower(), head.group(2), body),
                              unlisted=unlisted))
    return blocks


def parse_message(text: str, html: bool = True) -> list[tuple[str, dict]]:
    """(status, labels) of every alert block in a message's text (HTML unless `html` is
    False)."""
    return [(b.status, b.labels) for b in read_blocks(text, html)]


def notices(messages: list[dict]) -> list[Notice]:
    """Every alert block of sandbox messages, oldest first."""
    out = []
    for message in messages:
        shown = message.get("text")
        for block in read_blocks(shown or message.get("raw_text") or "", html=not shown):
            out.append(replace(block, message_id=message.get("message_id"),
                               received_at=message.get("received_at"),
                               chat_id=message.get("chat_id")))
    return out


def about(notice: Notice, labels: dict) -> bool:
    """True when the block may be about an alert with exactly these labels: every value it
    shows agrees (a cut one as a prefix), a label it shows as not set is not, and, when it shows
    every label of its alert, the alert has no other."""
    for key, value in notice.labels.items():
        have = labels.get(key)
        if have != value and not (key in notice.cut and have is not None
                                  and have.startswith(value[:-1])):
            return False
    for key in notice.unset:
        if labels.get(key, PLACEHOLDERS[key]) != PLACEHOLDERS[key]:
            return False
    return not notice.complete or set(labels) <= set(notice.labels) | notice.unset


def same_chat(notice: Notice, chat_id) -> bool:
    """True when the block's message went to `chat_id` (None: any chat)."""
    return chat_id is None or str(notice.chat_id) == str(chat_id)


def matches(notice: Notice, alert: str, labels, status: str) -> bool:
    """True when a block is `alert` with `status` and shows every matcher's label with its
    value (a block showing all its alert's labels, and not this one, matches `name=""`).

    A matcher on a label the block does not show (cut from its labels line, or a message from
    before the labels line) is never taken as met: what the message cannot show it cannot
    prove. An expectation may therefore match only MESSAGE_LABELS, which every message shows.
    """
    if notice.status != status or notice.alertname != alert:
        return False
    for key, value in labels:
        if key in notice.labels:
            if notice.labels[key] != value:
                return False
        elif key in notice.unset:
            if value not in ("", PLACEHOLDERS[key]):
                return False
        elif not (notice.complete and value == ""):
            return False
    return True


def first_notice(found: list[Notice], alert: str, labels, status: str, after: float,
                 before: float | None = None, chat_id=None) -> Notice | None:
    """The first message in [after, before] to `chat_id` (None: any) that reports `alert` with
    `status`.

    firing: a block of the alert is FIRING. resolved: a block is RESOLVED and none is still
    FIRING — the message that tells on-call the incident is over (Alertmanager sends one per
    group change, so while one row of a burn-rate alert resolves and another still fires, the
    message lists both).
    """
    by_message: dict = {}
    for notice in found:
        at = notice.received_at or 0.0
        if at >= after and (before is None or at <= before) and same_chat(notice, chat_id):
            by_message.setdefault((at, notice.message_id), []).append(notice)
    for _key, blocks in sorted(by_message.items(), key=lambda item: item[0][0]):
        hits = [b for b in blocks if matches(b, alert, labels, status)]
        if not hits:
            continue
        if status == "resolved" and any(matches(b, alert, labels, "firing") for b in blocks):
            continue
        return hits[0]
    return None


# ------------------------------------------------------------------ real mode: counters

@dataclass(frozen=True)
class CounterSample:
    """Alertmanager's telegram counters at one moment (None: Alertmanager did not answer)."""

    at: float
    attempts: float | None          # notifications (after retries)
    failed: float | None            # notifications that failed for good
    request_failures: float = 0.0   # failed requests, retried or not


COUNTERS = {
    "alertmanager_notifications_total": 0,
    "alertmanager_notifications_failed_total": 1,
    "alertmanager_notification_requests_failed_total": 2,
}


def parse_counters(text: str, integration: str = INTEGRATION) -> tuple[float, float, float]:
    """(notifications, failed notifications, failed requests) of the integration, summed over
    its series, from Alertmanager's /metrics text."""
    totals = [0.0, 0.0, 0.0]
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("integration") == integration and sample.name in COUNTERS:
                totals[COUNTERS[sample.name]] += sample.value
    return totals[0], totals[1], totals[2]


@dataclass(frozen=True)
class CounterDelta:
    """What Alertmanager's counters say about a window."""

    delivered: int
    failed: int
    first_delivery_at: float | None
    unreachable_polls: int
    request_failures: int = 0


def counter_delta(samples: list[CounterSample], after: float, before: float) -> CounterDelta:
    """Deliveries (attempts - failures) between the last sample at/before `after` and `before`.

    A counter that went down (Alertmanager restarted) starts a new baseline.
    """
    base = None
    for s in samples:
        if s.at <= after and s.attempts is not None:
            base = s
    delivered = failed = unreachable = requests_failed = 0
    first = None
    prev = base
    for s in samples:
        if not (after < s.at <= before):
            continue
        if s.attempts is None:
            unreachable += 1
            continue
        if prev is None:            # no earlier sample: this one is the baseline
            prev = s
            continue
        if s.attempts < prev.attempts or s.failed < prev.failed:   # restarted: from zero
            prev = CounterSample(prev.at, 0.0, 0.0, 0.0)
        requests_failed += max(0, int(s.request_failures - prev.request_failures))
        step_failed = int(s.failed - prev.failed)
        step_ok = int(s.attempts - prev.attempts) - step_failed
        failed += step_failed
        if step_ok > 0:
            delivered += step_ok
            if first is None:
                first = s.at
        prev = s
    return CounterDelta(delivered, failed, first, unreachable, requests_failed)


class AlertmanagerCounters:
    """Polls Alertmanager's /metrics (from the AlertTracker's thread) and keeps the samples."""

    def __init__(self, url: str, timeout: float = 2.0, integration: str = INTEGRATION):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.integration = integration
        self.samples: list[CounterSample] = []
        self._lock = threading.Lock()
        self._session = requests.Session()

    def poll(self, at: float) -> CounterSample:
        """Read the counters once (a sample with None values when Alertmanager is down)."""
        try:
            resp = self._session.get(f"{self.url}/metrics", timeout=self.timeout)
            resp.raise_for_status()
            sample = CounterSample(at, *parse_counters(resp.text, self.integration))
        except (requests.RequestException, ValueError):
            sample = CounterSample(at, None, None)
        with self._lock:
            self.samples.append(sample)
        return sample

    def snapshot(self) -> tuple[CounterSample, ...]:
        """The samples collected so far (a copy)."""
        with self._lock:
            return tuple(self.samples)

    def delta(self, after: float, before: float) -> CounterDelta:
        """counter_delta over the samples collected so far."""
        with self._lock:
            samples = list(self.samples)
        return counter_delta(samples, after, before)


def process_start(text: str) -> float | None:
    """process_start_time_seconds from a /metrics text (None when absent)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "process_start_time_seconds":
                return sample.value
    return None


class AlertmanagerApi:
    """Alertmanager's v2 API and /metrics: what it holds, how it routes, what it counted."""

    def __init__(self, url: str, timeout: float = 5.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def _get(self, path: str, params: dict | None = None):
        try:
            resp = self._session.get(f"{self.url}{path}", params=params, timeout=self.timeout)
            resp.raise_for_status()
            return resp
        except requests.RequestException as err:
            raise DeliveryError(f"Alertmanager at {self.url} did not answer GET {path} "
                                f"({type(err).__name__}); is the stack up (`make stack`)?"
                                ) from err

    def alerts(self) -> list:
        """Every alert it holds, active, silenced and inhibited (/api/v2/alerts)."""
        try:
            return self._get("/api/v2/alerts").json()
        except ValueError as err:
            raise DeliveryError(f"Alertmanager at {self.url}: /api/v2/alerts is not JSON"
                                ) from err

    def config_text(self) -> str:
        """Its running config as YAML, secrets masked (/api/v2/status config.original)."""
        try:
            return self._get("/api/v2/status").json()["config"]["original"]
        except (ValueError, KeyError, TypeError) as err:
            raise DeliveryError(f"Alertmanager at {self.url}: /api/v2/status has no config"
                                ) from err

    def counters_since_start(self, now: float) -> list[CounterSample]:
        """Two samples: zero when it started (process_start_time_seconds) and now."""
        text = self._get("/metrics").text
        started = process_start(text)
        now_sample = CounterSample(now, *parse_counters(text))
        return [CounterSample(started, 0.0, 0.0, 0.0), now_sample] if started else [now_sample]


def counter_history(prom, alertmanager_url: str, start: float, end: float,
                    integration: str = INTEGRATION) -> list[CounterSample]:
    """Alertmanager's counters of the integration over [start, end] as Prometheus scraped them
    (its `instance` label is the Alertmanager's host:port); [] when Prometheus has none."""
    instance = urlsplit(alertmanager_url).netloc
    step = max(1, int((end - start) / 500))
    columns: dict[float, list[float]] = {}
    for name, index in COUNTERS.items():
        expr = f'sum({name}{{integration="{integration}",instance="{instance}"}})'
        for series in prom.query_range(expr, start, end, step):
            for at, value in series["values"]:
                columns.setdefault(at, [0.0, 0.0, 0.0])[index] = value
    return [CounterSample(at, *values) for at, values in sorted(columns.items())]


# ------------------------------------------------------------------ synthetic alerts

def _rfc3339(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")


def post_alert(alertmanager_url: str, labels: dict, annotations: dict, starts_at: float,
               ends_at: float, generator_url: str = "", timeout: float = 5.0) -> None:
    """Send one alert to Alertmanager's v2 API (an alert with ends_at <= now is resolved)."""
    body = [{"labels": labels, "annotations": annotations, "startsAt": _rfc3339(starts_at),
             "endsAt": _rfc3339(ends_at), **({"generatorURL": generator_url}
                                              if generator_url else {})}]
    url = f"{alertmanager_url.rstrip('/')}/api/v2/alerts"
    try:
        resp = requests.post(url, json=body, timeout=timeout)
    except requests.RequestException as err:
        raise DeliveryError(f"Alertmanager at {alertmanager_url} is unreachable "
                            f"({type(err).__name__}); is the stack up (`make stack`)?") from err
    if resp.status_code != 200:
        raise DeliveryError(f"POST {url} -> {resp.status_code}: {resp.text[:200]}")
