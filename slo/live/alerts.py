"""Alert states as the rule engines report them, tracked over time.

Sources (thin adapters, one HTTP GET per poll):
- Prometheus: `GET /api/v1/rules?type=alert` — every alerting rule (name, query, `for`, labels,
  group interval) with its active alerts (labels, state pending|firing, activeAt);
- Grafana (when GRAFANA_URL is configured): the same format for Grafana-managed rules at
  `GET /api/prometheus/grafana/api/v1/rules`, with Grafana's state names (Alerting, Pending,
  Normal, NoData, Error) mapped onto Prometheus's.

`AlertTracker` polls a source in a background thread and turns snapshots into transitions of
each alert instance (one set of labels): inactive -> pending -> firing -> resolved. An instance
that disappears from the API is resolved (Prometheus lists pending and firing alerts only).
The state machine (`AlertTimeline.observe`) is pure, so it is tested on canned API answers.

    tracker = AlertTracker([PrometheusAlerts(prom_url)], interval_s=1.0)
    tracker.start()
    ...
    tracker.stop()
    tracker.timeline.first("firing", AlertSelector("ErrorBudgetBurn", {"slo": "error-ratio"}),
                           after=fault_start)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import requests

from harness_common.errors import HarnessError
from harness_common.http import retrying_session
from slo.errors import PrometheusError
from slo.judge.prom import Prometheus
from slo.spec.selectors import Matcher, Selector
from slo.units import parse_rfc3339

ACTIVE = ("pending", "firing")
POLL_TIMEOUT_S = 3.0


class AlertSourceError(HarnessError):
    """A rule engine's alerting API could not be read."""


# ------------------------------------------------------------------ snapshots (pure parsing)

@dataclass(frozen=True)
class Rule:
    """An alerting rule as loaded by a rule engine."""

    name: str
    labels: tuple[tuple[str, str], ...]
    for_s: float
    query: str
    group: str
    interval_s: float | None
    health: str = "ok"
    last_error: str = ""
    source: str = "prometheus"
    last_evaluation: float | None = None

    @property
    def label_dict(self) -> dict[str, str]:
        """The rule's static labels."""
        return dict(self.labels)

    def produces(self, name: str, labels: dict[str, str]) -> bool:
        """True when an instance with this name and labels can come from this rule."""
        return self.name == name and all(labels.get(k) == v for k, v in self.labels)


@dataclass(frozen=True)
class ActiveAlert:
    """One alert instance the engine reports as pending or firing."""

    name: str
    labels: tuple[tuple[str, str], ...]   # every label, alertname included, sorted
    state: str                            # pending | firing
    active_at: float | None               # when it became pending (engine's clock)
    value: str = ""
    source: str = "prometheus"

    @property
    def key(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        """The instance's identity: source, name and labels."""
        return (self.source, self.name, self.labels)

    @property
    def label_dict(self) -> dict[str, str]:
        """All labels of the instance."""
        return dict(self.labels)


@dataclass(frozen=True)
class Snapshot:
    """What one poll of one source saw."""

    at: float
    rules: tuple[Rule, ...]
    alerts: tuple[ActiveAlert, ...]
    source: str = "prometheus"


@dataclass(frozen=True)
class Poll:
    """One poll of one source as the timeline keeps it: when, and what it saw or why it failed
    (the rules, shared with the snapshot, say which rules were loaded and healthy)."""

    at: float
    source: str
    rules: tuple[Rule, ...] = ()
    error: str = ""

    @property
    def ok(self) -> bool:
        """True when the source answered."""
        return not self.error


_GRAFANA_STATES = {"alerting": "firing", "firing": "firing", "pending": "pending"}


def _state(raw: str, grafana: bool) -> str:
    state = (raw or "").lower()
    if grafana:
        # "Alerting (Error)", "Alerting (NoData)": Grafana keeps the alert firing with a reason.
        state = _GRAFANA_STATES.get(state.split(" ")[0], "inactive")
    return state


def parse_rules(payload: dict, at: float, source: str = "prometheus") -> Snapshot:
    """A Snapshot from a Prometheus-format `/api/v1/rules` answer (Prometheus or Grafana)."""
    if not isinstance(payload, dict) or payload.get("status") != "success":
        error = payload.get("error") if isinstance(payload, dict) else None
        shown = f"{error or payload!r}"[:200]
        raise AlertSourceError(f"{source} rules API answered without success: {shown}")
    grafana = source == "grafana"
    rules, alerts = [], []
    for group in payload.get("data", {}).get("groups", []) or []:
        interval = group.get("interval")
        for rule in group.get("rules", []) or []:
            # an alerting rule: type "alerting" (vmalert leaves "alerts" out while none is
            # active), or an answer without types whose rules carry "alerts"
            kind = rule.get("type")
            if kind not in ("alerting", None) or (kind is None and "alerts" not in rule):
                continue
            name = rule.get("name", "")
            rules.append(Rule(
                name=name,
                labels=tuple(sorted((rule.get("labels") or {}).items())),
                for_s=float(rule.get("duration") or 0),
                query=rule.get("query", ""),
                group=group.get("name", ""),
                interval_s=float(interval) if interval is not None else None,
                health=rule.get("health", "ok") or "ok",
                last_error=rule.get("lastError", "") or "",
                source=source,
                last_evaluation=parse_rfc3339(rule.get("lastEvaluation")),
            ))
            for alert in rule.get("alerts") or []:
                state = _state(alert.get("state", ""), grafana)
                if state not in ACTIVE:
                    continue
                labels = dict(alert.get("labels") or {})
                labels.setdefault("alertname", name)
                alerts.append(ActiveAlert(
                    name=labels["alertname"], labels=tuple(sorted(labels.items())), state=state,
                    active_at=parse_rfc3339(alert.get("activeAt")),
                    value=str(alert.get("value", "")), source=source))
    return Snapshot(at=at, rules=tuple(rules), alerts=tuple(alerts), source=source)


# ------------------------------------------------------------------ selecting alerts

@dataclass(frozen=True)
class AlertSelector:
    """An alert name plus label matchers (equality); matches rules and instances."""

    name: str
    labels: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, name: str,
           labels: dict[str, str] | Iterable[tuple[str, str]] = ()) -> AlertSelector:
        """Build from a dict or pairs."""
        items = labels.items() if isinstance(labels, dict) else labels
        return cls(name, tuple(sorted(items)))

    def matches_labels(self, labels: dict[str, str]) -> bool:
        """True when every matcher's label has that value."""
        return all(labels.get(k) == v for k, v in self.labels)

    def matches(self, alert: ActiveAlert) -> bool:
        """True for an instance of this alert carrying the labels."""
        return alert.name == self.name and self.matches_labels(alert.label_dict)

    def matches_rule(self, rule: Rule) -> bool:
        """True when the rule can produce a matching instance.

        Only the rule's static labels are known before it fires; a matcher on a label the rule
        does not set (one that comes from the query's series) cannot be ruled out.
        """
        if rule.name != self.name:
            return False
        static = rule.label_dict
        return all(static.get(k, v) == v for k, v in self.labels)

    def __str__(self) -> str:
        """ErrorBudgetBurn{slo="error-ratio"}: a PromQL selector, values escaped."""
        return str(Selector(self.name, tuple(Matcher(k, "=", v) for k, v in self.labels)))


SHOWN_LABELS = ("slo", "severity", "long", "short")


def labels_text(labels: dict[str, str] | Iterable[tuple[str, str]],
                keys: tuple[str, ...] | None = SHOWN_LABELS) -> str:
    """slo=error-ratio,severity=page: the labels a person needs to tell alerts apart (`keys`;
    None: every label but alertname), for tables and messages."""
    items = labels.items() if isinstance(labels, dict) else labels
    return ",".join(f"{k}={v}" for k, v in items
                    if k != "alertname" and (keys is None or k in keys))


# ------------------------------------------------------------------ the timeline (pure)

@dataclass(frozen=True)
class Transition:
    """An alert instance entered `state` (pending, firing, resolved) at `at`.

    `at` is the rule evaluation that made the change (the rule's lastEvaluation, when it falls
    between this poll and the one before), else the poll's time (`seen_at`).
    """

    at: float
    source: str
    name: str
    labels: tuple[tuple[str, str], ...]
    state: str
    active_at: float | None = None
    seen_at: float | None = None

    @property
    def label_dict(self) -> dict[str, str]:
        """All labels of the instance."""
        return dict(self.labels)

    def as_dict(self) -> dict:
        """JSON-ready form for the report."""
        return {"at": self.at, "source": self.source, "alert": self.name,
                "labels": self.label_dict, "state": self.state, "active_at": self.active_at,
                "seen_at": self.seen_at}


@dataclass
class AlertTimeline:
    """Every transition seen so far, the current state of each instance, and every poll (what
    was watched when: slo.live.coverage reads `history`; `poll_interval_s` is how often the
    tracker polls)."""

    transitions: list[Transition] = field(default_factory=list)
    current: dict[tuple, ActiveAlert] = field(default_factory=dict)
    rules: dict[str, tuple[Rule, ...]] = field(default_factory=dict)   # source -> rules
    polls: int = 0
    first_poll_at: float | None = None
    last_poll: dict[str, float] = field(default_factory=dict)    # source -> time of last poll
    history: list[Poll] = field(default_factory=list)
    poll_interval_s: float = 1.0

    def _when(self, snapshot: Snapshot, name: str, labels: tuple) -> float:
        """The evaluation that caused a change seen in `snapshot` (see Transition)."""
        previous = self.last_poll.get(snapshot.source)
        if previous is None:
            return snapshot.at
        label_dict = dict(labels)
        for rule in snapshot.rules:
            evaluated = rule.last_evaluation
            if rule.produces(name, label_dict) and evaluated is not None:
                if previous < evaluated <= snapshot.at + 0.5:
                    return min(evaluated, snapshot.at)
                break
        return snapshot.at

    def observe(self, snapshot: Snapshot) -> list[Transition]:
        """Fold one snapshot in; return the transitions it caused.

        The first snapshot records what is already active (entries at the snapshot's time), so
        an alert that was firing before tracking began is known to be firing, not new.
        """
        self.polls += 1
        if self.first_poll_at is None:
            self.first_poll_at = snapshot.at
        self.rules[snapshot.source] = snapshot.rules
        self.history.append(Poll(snapshot.at, snapshot.source, snapshot.rules))
        new: list[Transition] = []
        seen = set()

        def add(alert: ActiveAlert, state: str) -> None:
            at = self._when(snapshot, alert.name, alert.labels)
            new.append(Transition(at, alert.source, alert.name, alert.labels, state,
                                  alert.active_at, snapshot.at))

        for alert in snapshot.alerts:
            seen.add(alert.key)
            before = self.current.get(alert.key)
            if before is None or before.state != alert.state:
                if before is None and alert.state == "firing":
                    # It skipped pending between two polls (or has no `for`): record both.
                    add(alert, "pending")
                add(alert, alert.state)
            self.current[alert.key] = alert
        for key in [k for k in self.current if k[0] == snapshot.source and k not in seen]:
            add(self.current.pop(key), "resolved")
        self.last_poll[snapshot.source] = snapshot.at
        self.transitions.extend(new)
        self.transitions.sort(key=lambda t: t.at)
        return new

    def blind(self, source: str, at: float, error: str) -> None:
        """Record a poll of `source` that failed (the time it did not see anything)."""
        self.history.append(Poll(at, source, (), error[:300] or "the poll failed"))

    def all_rules(self) -> list[Rule]:
        """Every rule from every source."""
        return [r for rules in self.rules.values() for r in rules]

    def rules_matching(self, selector: AlertSelector) -> list[Rule]:
        """The loaded rules that can produce `selector`'s alerts."""
        return [r for r in self.all_rules() if selector.matches_rule(r)]

    def matching(self, selector: AlertSelector) -> list[Transition]:
        """Transitions of instances matching `selector`, in time order."""
        return [t for t in self.transitions
                if t.name == selector.name and selector.matches_labels(t.label_dict)]

    def first(self, state: str, selector: AlertSelector, after: float,
              before: float | None = None) -> Transition | None:
        """The first transition into `state` of a matching instance in [after, before]."""
        for t in self.matching(selector):
            if t.state == state and t.at >= after and (before is None or t.at <= before):
                return t
        return None

    def active_at(self, selector: AlertSelector, moment: float,
                  states: tuple[str, ...] = ACTIVE) -> list[tuple]:
        """Instances matching `selector` in one of `states` at `moment` (keys)."""
        state: dict[tuple, str] = {}
        for t in self.matching(selector):
            if t.at > moment:
                break
            state[(t.source, t.name, t.labels)] = t.state
        return [k for k, s in state.items() if s in states]

    def fired_during(self, selector: AlertSelector, start: float, end: float) -> list[Transition]:
        """Matching instances firing at any moment of [start, end]: the transition that made
        each one fire (one per instance; a carried-over one fired before `start`)."""
        latest: dict[tuple, Transition] = {}
        found: dict[tuple, Transition] = {}
        for t in self.matching(selector):
            key = (t.source, t.name, t.labels)
            if t.at <= start:
                latest[key] = t
            elif t.at <= end and t.state == "firing":
                found.setdefault(key, t)
        carried = {k: t for k, t in latest.items() if t.state == "firing"}
        return sorted({**found, **carried}.values(), key=lambda t: t.at)

    def resolved_by(self, selector: AlertSelector, after: float,
                    before: float) -> tuple[float | None, list[tuple]]:
        """When every matching instance had stopped for good, judged at the deadline `before`.

        Returns (moment, []) when nothing matching is pending or firing at `before`: the moment
        is the last transition in (after, before] that left nothing active, or `after` when
        nothing was active since. Returns (None, the active instances) otherwise.
        """
        still = self.active_at(selector, before)
        if still:
            return None, still
        cleared = after
        for t in self.matching(selector):
            if after < t.at <= before and not self.active_at(selector, t.at):
                cleared = t.at
        return cleared, []


# ------------------------------------------------------------------ sources (thin I/O)

class PrometheusAlerts:
    """Reads Prometheus's alerting rules and their alerts."""

    name = "prometheus"

    def __init__(self, url: str, timeout: float = POLL_TIMEOUT_S):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._prom = Prometheus(self.url, timeout=timeout, attempts=1)  # the poll is the retry

    def fetch(self, at: float | None = None) -> Snapshot:
        """One poll (AlertSourceError when unreachable or not Prometheus)."""
        at = time.time() if at is None else at
        try:
            data = self._prom.rules()
        except PrometheusError as err:
            raise AlertSourceError(str(err)) from err
        return parse_rules({"status": "success", "data": data}, at, self.name)


class GrafanaAlerts:
    """Reads Grafana-managed alert rules through Grafana's Prometheus-compatible API."""

    name = "grafana"

    def __init__(self, url: str, user: str | None = None, password: str | None = None,
                 timeout: float = POLL_TIMEOUT_S):
        self.url = url.rstrip("/")
        self.timeout = timeout
        # a GET that fails on a kept-alive connection the server closed is sent once more
        self._session = retrying_session(("GET",))
        if user and password:
            self._session.auth = (user, password)

    def __repr__(self) -> str:
        return f"GrafanaAlerts({self.url!r})"

    def fetch(self, at: float | None = None) -> Snapshot:
        """One poll of /api/prometheus/grafana/api/v1/rules."""
        at = time.time() if at is None else at
        try:
            resp = self._session.get(f"{self.url}/api/prometheus/grafana/api/v1/rules",
                                     timeout=self.timeout)
            if resp.status_code in (401, 403):
                raise AlertSourceError(f"Grafana at {self.url} refused the alerting API "
                                       f"({resp.status_code}); set GRAFANA_ADMIN_PASSWORD or run "
                                       f"`make stack` so .stack/env holds it")
            payload = resp.json()
        except (requests.RequestException, ValueError) as err:
            raise AlertSourceError(f"Grafana at {self.url} did not answer its alerting API "
                                   f"({type(err).__name__})") from err
        return parse_rules(payload, at, self.name)


# ------------------------------------------------------------------ the background tracker

class AlertTracker:
    """Polls sources every `interval_s` in a daemon thread and keeps an AlertTimeline.

    Errors of a poll are kept (last_errors) and polling goes on: a rule engine restarting
    mid-run is something an experiment may well cause.
    """

    def __init__(self, sources: list, interval_s: float = 1.0,
                 on_transition: Callable[[Transition], None] | None = None,
                 clock: Callable[[], float] = time.time, extra: list | None = None):
        self.sources = list(sources)
        self.interval_s = interval_s
        self.on_transition = on_transition
        self.clock = clock
        self.extra = list(extra or [])   # more pollers with .poll(at) (e.g. delivery counters)
        self.timeline = AlertTimeline(poll_interval_s=interval_s)
        self.last_errors: dict[str, str] = {}
        self.failed_polls: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> list[Transition]:
        """Poll every source once (also used directly by tests and `slo verify-alerts`)."""
        new = []
        for source in self.sources:
            at = self.clock()
            try:
                snapshot = source.fetch(at)
            except AlertSourceError as err:
                with self._lock:
                    self.last_errors[source.name] = str(err)
                    self.failed_polls[source.name] = self.failed_polls.get(source.name, 0) + 1
                    self.timeline.blind(source.name, at, str(err))
                continue
            with self._lock:
                self.last_errors.pop(source.name, None)
                new += self.timeline.observe(snapshot)
        for poller in self.extra:
            poller.poll(self.clock())
        if self.on_transition:
            for transition in new:
                self.on_transition(transition)
        return new

    def snapshot_state(self) -> list[ActiveAlert]:
        """The instances currently pending or firing (a copy, for displays)."""
        with self._lock:
            return list(self.timeline.current.values())

    def start(self) -> None:
        """Poll once now (so the baseline is known), then keep polling in the background."""
        self.poll_once()
        self._thread = threading.Thread(target=self._run, name="alert-tracker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.poll_once()

    def stop(self) -> None:
        """Stop polling (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
