"""What the SLO tab shows, measured now: every SLO's live value against its objective, its error
budget left over the period, every burn-rate row's long and short burn, the spec's alerts with
their state and when Telegram got each one, and the faults on now.

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
from slo.judge import promql
from slo.judge.checker import format_value
from slo.judge.prom import Prometheus
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


def _status(slo: SLO, value: float | None) -> str:
    if value is None:
        return "no_data"
    statuses = [o.status(value) for o in slo.objectives]
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"


def _budget_view(status: BudgetStatus | None) -> dict | None:
    if status is None:
        return None
    left = status.left
    return {
        "period": format_duration(status.period_s),
        "left": left,
        "left_shown": "—" if left is None else f"{left * 100:.1f}%",
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


def build_snapshot(spec: Spec, profile: Profile, now: float, *, values: dict[str, float | None],
                   bad: dict[str, dict[int, float | None]], rules: Snapshot | None,
                   found: list[Notice], faults: list[dict], prometheus_error: str | None,
                   telegram_mode: str = "sandbox", chat_id=None) -> dict:
    """The tab's document from measured numbers (pure: the tests feed it canned answers)."""
    slos = []
    for slo in spec.slos:
        value = values.get(slo.name)
        objective = slo.objectives[0]
        slos.append({
            "name": slo.name, "key": slo.key, "objective": slo.objective_text,
            "warning": (None if objective.warning is None
                        else format_value(objective.warning, slo.unit)),
            "live_window": format_duration(live_window_s(slo, profile)),
            # JSON has no infinity: a p95 above the top bucket (promql.quantile_expr) is "+Inf"
            "value": value if value is None or math.isfinite(value) else "+Inf",
            "shown": format_value(value, slo.unit),
            "status": "no_data" if prometheus_error else _status(slo, value),
            "budget": _budget_view(budget_status(slo, profile, bad.get(slo.name, {}))
                                   if slo.error_budget is not None else None),
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
    """Measures a snapshot: Prometheus queries, the rules API, the sandbox's messages."""

    def __init__(self, spec: Spec, prometheus_url: str, profile: str = "standard", *,
                 sandbox_url: str | None = None, chat_id=None, telegram_mode: str = "sandbox",
                 clock: Callable[[], float] = time.time):
        self.spec = spec
        self.profile = PROFILES.get(profile, PROFILES["standard"])
        self.prom = Prometheus(prometheus_url, timeout=3.0, attempts=1)
        self.sandbox_url = sandbox_url
        self.chat_id = chat_id
        self.telegram_mode = telegram_mode
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="slo-tab")
        self._lock = threading.Lock()
        self._cached: tuple[float, dict] | None = None
        self.started_at = clock()

    def _measure(self, now: float) -> tuple[dict, dict, Snapshot | None]:
        jobs = {}
        for slo in self.spec.slos:
            jobs[(slo.name, "value")] = self._pool.submit(
                self.prom.scalar, promql.value_expr(slo, f"{live_window_s(slo, self.profile)}s"),
                now)
            for window_s, expr in budget_queries(slo, self.profile).items():
                jobs[(slo.name, window_s)] = self._pool.submit(self.prom.scalar, expr, now)
        rules = self._pool.submit(self.prom.rules)
        values, bad = {}, {}
        for (name, what), job in jobs.items():
            result = job.result()
            if what == "value":
                values[name] = result
            else:
                bad.setdefault(name, {})[what] = result
        payload = rules.result()
        snapshot = parse_rules({"status": "success", "data": payload}, now)
        return values, bad, snapshot

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
        """The current view from Prometheus and the sandbox (cached for CACHE_S); its faults
        are left to the caller, who asks the fault API now (fault_rows). One measurement at a
        time: callers that arrive while one runs wait for it and share it, so N open tabs
        cost Prometheus one set of queries, not N."""
        with self._lock:
            now = self.clock()
            if self._cached is not None and now - self._cached[0] < CACHE_S:
                return self._cached[1]
            try:
                values, bad, rules = self._measure(now)
                error = None
            except PrometheusError as err:
                values, bad, rules, error = {}, {}, None, f"Prometheus unreachable: {err}"
            doc = build_snapshot(self.spec, self.profile, now, values=values, bad=bad,
                                 rules=rules, found=self._notices(), faults=[],
                                 prometheus_error=error, telegram_mode=self.telegram_mode,
                                 chat_id=self.chat_id)
            self._cached = (now, doc)
            return doc
