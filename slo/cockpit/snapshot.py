"""What the SLO tab shows, measured now: every SLO's verdict over its live window, its error
budget left over the period, every burn-rate row's long and short burn, the spec's alerts with
their state and when Telegram got each one, and the faults on now.

The verdicts are judge_window's (slo.judge.judgement), over what observe() read for the live
window (slo.judge.observe), as `slo check` judges: the tab only maps them to its statuses
(pass, warn, fail, no_data, blind: a fault the SLO's metrics cannot see, doubt: the client's
truth disagrees), so the two cannot disagree about the same window.

    Cockpit(spec, prometheus_url, profile, sandbox_url=..., chat_id=...).snapshot()
        -> a JSON-ready dict (see build_snapshot)

Prometheus unreachable is one line (`prometheus.ok` false with the error), never stale numbers
shown as live ones. The queries of one refresh run concurrently; a refresh is cached for
CACHE_S so several open browser tabs cost Prometheus one.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from harness_common.durations import format_duration, whole_seconds
from slo.alerting.budget import BudgetStatus, budget_queries, budget_status
from slo.alerting.burnrate import PROFILES, Profile, alert_windows, windows_used
from slo.errors import PrometheusError
from slo.judge.checker import MET, VIOLATED, WARN, Verdict, format_value
from slo.judge.judgement import Observations, Request, judge_window
from slo.judge.observe import observe
from slo.judge.prom import Prometheus
from slo.judge.window import Window
from slo.live.alerts import ActiveAlert, Rule, Snapshot, labels_text, parse_rules
from slo.live.delivery import Notice, first_notice, notices
from slo.spec.model import SLO, Spec

CACHE_S = 2.0
LIVE_DEFAULT_S = 30


def iso(moment: float | None) -> str | None:
    """Unix seconds -> 12:00:01 UTC-style ISO (None stays None)."""
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00",
                                                                                    "Z")


def live_window_s(slo: SLO, profile: Profile) -> int:
    """The window of the live value: the shortest window the SLO's alerts watch (20 s on the
    fast profile, 5 m on the standard one), so the value moves as fast as the page alert."""
    if slo.error_budget is None:
        return LIVE_DEFAULT_S
    return windows_used(alert_windows(profile, slo.window_s))[0]


STATUS = {MET: "pass", WARN: "warn", VIOLATED: "fail"}


def live_groups(spec: Spec, profile: Profile) -> dict[int, tuple[str, ...]]:
    """{live window in seconds: the names of the SLOs shown over it}: one judgement each."""
    groups: dict[int, list[str]] = {}
    for slo in spec.slos:
        groups.setdefault(live_window_s(slo, profile), []).append(slo.name)
    return {w: tuple(names) for w, names in groups.items()}


def live_window(now: float, seconds: int) -> Window:
    """The window a live value is judged over: the last `seconds` before `now`."""
    return Window(now - seconds, now, f"the SLO tab's last {format_duration(seconds)}")


def judge_live(spec: Spec, profile: Profile, now: float,
               observations: dict[int, Observations]) -> dict[str, tuple[Verdict, tuple]]:
    """{SLO name: (its verdict, the client's doubts about it)} over each SLO's live window,
    from slo.judge.judgement.judge_window, the judgement `slo check` asks: the tab shows
    verdicts, it makes none. A window without observations judges its SLOs as no data."""
    out = {}
    for seconds, names in live_groups(spec, profile).items():
        judgement = judge_window(spec, observations.get(seconds, Observations(())),
                                 live_window(now, seconds), Request(only=names))
        doubts = judgement.doubts
        for verdict in judgement.verdicts:
            out[verdict.name] = (verdict, doubts.get(verdict.name, ()))
    return out


def _status(verdict: Verdict, doubts: tuple) -> str:
    """The tab's status of a verdict: pass, warn, fail, no_data, blind (a fault its metrics
    cannot see: slo.judge.unseen), doubt (met or warn, but the client's truth disagrees)."""
    if verdict.blind:
        return "blind"
    if verdict.status in (MET, WARN) and doubts:
        return "doubt"
    return STATUS.get(verdict.status, "no_data")


def _client_view(client: dict | None) -> dict | None:
    """Locust's own count, failures and percentiles over the live window (a cross-check)."""
    if not client or not client.get("count"):
        return None
    count, failures = int(client["count"]), int(client.get("failures") or 0)
    p95 = client.get("p95_ms")
    return {"count": count, "failures": failures,
            "failure_ratio": failures / count, "p95_ms": p95,
            "shown": (f"{count} requests, {failures} failed ({failures / count * 100:.2f}%)"
                      + ("" if p95 is None else f", p95 {p95:.0f} ms"))}


def _budget_view(status: BudgetStatus | None, blind: bool = False) -> dict | None:
    """The budget left and its burn rows; `blind`: read from metrics a fault on now cannot
    reach, so what it says of the faulted requests is nothing (shown, marked)."""
    if status is None:
        return None
    left = status.left
    shown = "—" if left is None else f"{left * 100:.1f}%"
    return {
        "period": format_duration(status.period_s),
        "left": left,
        "left_shown": f"{shown} (blind to the fault)" if blind else shown,
        "blind": blind,
        "rows": [{"severity": r.severity, "factor": round(r.factor, 3),
                  "long": format_duration(r.long_s), "short": format_duration(r.short_s),
                  "long_burn": None if r.long_burn is None else round(r.long_burn, 2),
                  "short_burn": None if r.short_burn is None else round(r.short_burn, 2),
                  "burning": r.burning} for r in status.rows],
    }


def _delivered(alert: ActiveAlert, found: list[Notice], chat_id) -> float | None:
    """When Telegram got a FIRING message for this instance (the first after it went active),
    matched as the delivery checks match it (slo.live.delivery.first_notice)."""
    hit = first_notice(found, alert.name, alert.labels, "firing",
                       after=(alert.active_at or 0.0) - 1.0, chat_id=chat_id)
    return None if hit is None else hit.received_at


def _seconds(text: str | None) -> int:
    try:
        return whole_seconds(text) if text else 0
    except ValueError:
        return 0


def spec_rules(spec: Spec, rules: tuple[Rule, ...]) -> list[Rule]:
    """The alerting rules of the spec's SLOs (their label slo names one of them)."""
    names = {s.name for s in spec.slos}
    return [r for r in rules if r.label_dict.get("slo") in names]


def build_snapshot(spec: Spec, profile: Profile, now: float, *,
                   observations: dict[int, Observations],
                   bad: dict[str, dict[int, float | None]], rules: Snapshot | None,
                   found: list[Notice], faults: list[dict], prometheus_error: str | None,
                   telegram_mode: str = "sandbox", chat_id=None,
                   client: dict[int, dict | None] | None = None) -> dict:
    """The tab's document from what was observed (pure: the tests feed it canned answers).
    `observations`: {live window in seconds (live_groups): slo.judge.observe's Observations of
    it}; `client`: {live window: Locust's own count, failures and percentiles over it}."""
    judged = {} if prometheus_error else judge_live(spec, profile, now, observations)
    slos = []
    for slo in spec.slos:
        objective = slo.objectives[0]
        window_s = live_window_s(slo, profile)
        verdict, doubts = judged.get(slo.name, (None, ()))
        value = None if verdict is None else verdict.value
        status = "no_data" if verdict is None else _status(verdict, doubts)
        slos.append({
            "name": slo.name, "key": slo.key, "objective": slo.objective_text,
            "warning": (None if objective.warning is None
                        else format_value(objective.warning, slo.unit)),
            "live_window": format_duration(window_s),
            # JSON has no infinity: a p95 above the top bucket (promql.quantile_expr) is "+Inf"
            "value": value if value is None or math.isfinite(value) else "+Inf",
            "shown": "—" if verdict is None else verdict.shown,
            "status": status,
            # why it is not judged (no data, blind), or why the client's truth doubts it
            "reason": (None if verdict is None else "; ".join(doubts) if status == "doubt"
                       else verdict.reason if status in ("no_data", "blind") else None),
            "client": _client_view((client or {}).get(window_s)),
            "budget": (None if slo.error_budget is None else
                       _budget_view(budget_status(slo, profile, bad.get(slo.name, {})),
                                    blind=status == "blind")),
        })
    alerts = []
    if rules is not None:
        for rule in spec_rules(spec, rules.rules):
            mine = [a for a in rules.alerts if rule.produces(a.name, a.label_dict)]
            # a rule Prometheus could not evaluate (or has not yet) is not "inactive": that
            # would claim evaluations that never happened
            state = ("firing" if any(a.state == "firing" for a in mine)
                     else "pending" if mine else "inactive" if rule.health == "ok"
                     else "error" if rule.health == "err" else "not evaluated yet")
            since = min((a.active_at for a in mine if a.active_at), default=None)
            delivered = [d for d in (_delivered(a, found, chat_id) for a in mine
                                     if a.state == "firing") if d is not None]
            labels = rule.label_dict
            alerts.append({"alert": rule.name, "labels": labels_text(rule.labels),
                           "state": state, "since": iso(since),
                           "delivered_at": iso(min(delivered)) if delivered else None,
                           "error": rule.last_error if state == "error" else None,
                           "_order": ({"firing": 0, "error": 0, "pending": 1}.get(state, 2),
                                      labels.get("slo", ""), labels.get("severity") != "page",
                                      _seconds(labels.get("long")), rule.name)})
        alerts.sort(key=lambda a: a.pop("_order"))
    return {
        "generated_at": iso(now), "service": spec.service, "profile": profile.name,
        "prometheus": {"ok": prometheus_error is None, "error": prometheus_error},
        "slos": slos, "alerts": alerts,
        "telegram": {"mode": telegram_mode,
                     "note": None if telegram_mode == "sandbox" else
                     "real Telegram: a bot cannot read its messages; `slo verify-alerts` judges "
                     "delivery from Alertmanager's counters"},
        "faults": fault_rows(faults),
    }


def fault_rows(faults: list[dict]) -> list[dict]:
    """The fault API's faults as the tab shows them: kind, settings, seconds left."""
    return [{"kind": f.get("kind", "?"),
             "settings": " ".join(f"{k}={v}" for k, v in f.items()
                                  if k not in ("kind", "started_at", "expires_at", "remaining_s")),
             "remaining_s": f.get("remaining_s")} for f in faults]


class Cockpit:
    """Measures a snapshot: observe() per live window (slo.judge.observe, as `slo check`
    reads), the budget queries, the rules API, the sandbox's messages.

    faults(start, end): the faults set in [start, end] as the run record keeps them (the
    chaos ledger's windows, the fault API's faults on now with their backend), so the
    judgement knows a proxy's fault even before Prometheus scrapes its counters;
    client(start, end): Locust's own count, failures and percentiles over it."""

    def __init__(self, spec: Spec, prometheus_url: str, profile: str = "standard", *,
                 sandbox_url: str | None = None, chat_id=None, telegram_mode: str = "sandbox",
                 clock: Callable[[], float] = time.time,
                 faults: Callable[[float, float], list[dict]] | None = None,
                 client: Callable[[float, float], dict | None] | None = None):
        self.spec = spec
        self.profile = PROFILES.get(profile, PROFILES["standard"])
        self.prom = Prometheus(prometheus_url, timeout=3.0, attempts=1)
        self.sandbox_url = sandbox_url
        self.chat_id = chat_id
        self.telegram_mode = telegram_mode
        self.clock = clock
        self.faults = faults or (lambda start, end: [])
        self.client = client or (lambda start, end: None)
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="slo-tab")
        self._lock = threading.Lock()
        self._cached: tuple[float, dict] | None = None
        self.started_at = clock()

    def _observe(self, now: float, seconds: int, names: tuple[str, ...]
                 ) -> tuple[Observations, dict | None]:
        """What `slo check --start now-N --end now --slo ...` would read, with the faults and
        Locust's truth of the window."""
        start = now - seconds
        client = self.client(start, now)
        window = Window(start, now, live_window(now, seconds).source, client,
                        tuple(self.faults(start, now)))
        return observe(self.prom, self.spec, window, Request(only=names)), client

    def _measure(self, now: float) -> tuple[dict, dict, dict, Snapshot | None]:
        jobs = {}
        observed = {seconds: self._pool.submit(self._observe, now, seconds, names)
                    for seconds, names in live_groups(self.spec, self.profile).items()}
        for slo in self.spec.slos:
            for window_s, expr in budget_queries(slo, self.profile).items():
                jobs[(slo.name, window_s)] = self._pool.submit(self.prom.scalar, expr, now)
        rules = self._pool.submit(self.prom.rules)
        bad = {}
        for (name, window_s), job in jobs.items():
            bad.setdefault(name, {})[window_s] = job.result()
        observations = {w: job.result()[0] for w, job in observed.items()}
        client = {w: job.result()[1] for w, job in observed.items()}
        payload = rules.result()
        snapshot = parse_rules({"status": "success", "data": payload}, now)
        return observations, client, bad, snapshot

    def _notices(self) -> list[Notice]:
        if self.telegram_mode != "sandbox" or not self.sandbox_url:
            return []
        from stack.telegram_sandbox.client import SandboxClient
        from stack.telegram_sandbox.errors import SandboxError

        try:
            return notices(SandboxClient(self.sandbox_url).messages(since=self.started_at - 60))
        except (SandboxError, OSError):
            return []

    def snapshot(self) -> dict:
        """The current view from Prometheus and the sandbox (cached for CACHE_S); the faults
        it shows are left to the caller, who asks the fault API now (fault_rows). One
        measurement at a time: callers that arrive while one runs wait for it and share it,
        so N open tabs cost Prometheus one set of queries, not N."""
        with self._lock:
            now = self.clock()
            if self._cached is not None and now - self._cached[0] < CACHE_S:
                return self._cached[1]
            try:
                observations, client, bad, rules = self._measure(now)
                error = None
            except PrometheusError as err:
                observations, client, bad, rules = {}, {}, {}, None
                error = f"Prometheus unreachable: {err}"
            doc = build_snapshot(self.spec, self.profile, now, observations=observations,
                                 bad=bad, rules=rules, found=self._notices(), faults=[],
                                 prometheus_error=error, telegram_mode=self.telegram_mode,
                                 chat_id=self.chat_id, client=client)
            self._cached = (now, doc)
            return doc
