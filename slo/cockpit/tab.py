"""The SLO tab of Locust's web UI: a loadtests.tabs plugin (entry point slo_harness.locust_tabs).

While a test runs it shows, fed from Prometheus every 2 s: each SLO's live verdict over its
window (the judgement `slo check` makes: slo.judge.observe + judge_window, never the tab's
own), BLIND when a fault on the proxy in front of the service hides the faulted requests from
the service's metrics, Locust's own requests, failures and p95 over the same window beside it,
the error budget left, every burn-rate row's long/short burn, the spec's alerts (inactive,
pending, firing) with when Telegram got each one, and the faults on now. Options (each also an
environment variable):

    --slo-spec FILE        SLO_SPEC          the spec (default: the stack's SLO_SPEC in .stack/env;
                                             none with TARGET_URL; else slo/slos.yaml)
    --slo-prometheus URL   SLO_PROMETHEUS    default PROMETHEUS_URL, .stack/env, 127.0.0.1:9090

The stack's profile, sandbox and chat come from .stack/env. The table of the tab (Locust renders
extended tabs as tables) holds one row per SLO; the page under it (an iframe) the rest.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import jinja2

from harness_common.errors import FaultError, HarnessError
from harness_common.stackenv import read_stack_env, resolve_prometheus_url
from slo.cockpit.snapshot import Cockpit, fault_rows
from slo.spec import DEFAULT_SPEC, load_spec
from slo.spec.choice import DEMO, choose_spec

log = logging.getLogger("slo.cockpit.tab")

HERE = Path(__file__).resolve().parent
_TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                                autoescape=True, undefined=jinja2.StrictUndefined)
STATUS_TEXT = {"pass": "✅ met", "warn": "⚠️ warn", "fail": "❌ violated",
               "no_data": "❔ no data", "blind": "🙈 BLIND (not judged)",
               "doubt": "⚠️ met? the client disagrees"}
TABLE = [{"key": "slo", "title": "SLO"}, {"key": "now", "title": "Now"},
         {"key": "objective", "title": "Objective"}, {"key": "budget", "title": "Budget left"},
         {"key": "status", "title": "Status"}]


def add_arguments(parser) -> None:
    """The tab's Locust options."""
    parser.add_argument("--slo-spec", env_var="SLO_SPEC", default=None,
                        include_in_web_ui=False,
                        help="SLO spec the SLO tab shows (default: the stack's SLO_SPEC; none "
                             "in front of TARGET_URL; else slo/slos.yaml)")
    parser.add_argument("--slo-prometheus", env_var="SLO_PROMETHEUS", default=None,
                        include_in_web_ui=False,
                        help="Prometheus the SLO tab reads (default PROMETHEUS_URL, .stack/env)")


class SloTab:
    """The provider loadtests.tabs mounts (key, title, table, rows, data, page, assets)."""

    key = "slo"
    title = "SLO"
    table = TABLE

    def __init__(self, cockpit: Cockpit, faults=None):
        self.cockpit = cockpit
        self._faults = faults

    def describe(self) -> str:
        """One line for Locust's log."""
        return (f"{len(self.cockpit.spec.slos)} SLOs of {self.cockpit.spec.service} from "
                f"{self.cockpit.prom.url} ({self.cockpit.profile.name} profile)")

    def faults(self) -> tuple[list[dict], str | None]:
        """The faults on now (and why not, when the fault API does not answer)."""
        if self._faults is None:
            return [], None
        try:
            return self._faults(), None
        except FaultError as err:
            return [], str(err)

    def data(self) -> dict:
        """The tab's document (slo.cockpit.snapshot.build_snapshot)."""
        faults, error = self.faults()
        return {**self.cockpit.snapshot(), "faults": fault_rows(faults), "faults_error": error}

    def rows(self) -> list[dict]:
        """One row per SLO for the tab's table."""
        doc = self.cockpit.snapshot()
        if not doc["prometheus"]["ok"]:
            return [{"slo": "—", "now": doc["prometheus"]["error"], "objective": "",
                     "budget": "", "status": "❔ Prometheus unreachable"}]
        return [{"slo": s["name"] + (" (key)" if s["key"] else ""),
                 "now": f"{s['shown']} (over {s['live_window']})", "objective": s["objective"],
                 "budget": (f"{s['budget']['left_shown']} of {s['budget']['period']}"
                            if s["budget"] else "—"),
                 "status": STATUS_TEXT[s["status"]] + (f": {s['reason']}" if s["status"] in (
                     "blind", "doubt") else "")} for s in doc["slos"]]

    def page(self, base: str) -> str:
        """The page under the table: it polls data() and renders it (see templates/)."""
        return _TEMPLATES.get_template("slo.html").render(base=base, key=self.key)

    @staticmethod
    def asset(name: str) -> tuple[str, str] | None:
        """The page's script and style (CSP forbids inline ones)."""
        kinds = {"slo.js": "application/javascript", "slo.css": "text/css"}
        if name not in kinds:
            return None
        return (HERE / "templates" / name).read_text(encoding="utf-8"), kinds[name]


def create(environment, harness) -> SloTab | None:
    """The tab for this Locust process, or None when it is turned off or its spec is broken."""
    options = environment.parsed_options
    stack = read_stack_env()
    choice = choose_spec(getattr(options, "slo_spec", None), stack)
    if choice.path is None:
        log.warning("no SLO tab: %s", choice.why)
        return None
    spec_path = choice.path
    if choice.source == DEMO and not Path(spec_path).is_file():
        log.info("no SLO tab: %s is not here (give --slo-spec)", DEFAULT_SPEC)
        return None
    try:
        spec = load_spec(spec_path)
    except HarnessError as err:
        log.error("the SLO tab is off: %s", err)
        return None
    from loadtests.recent import window_truth

    log.info("the SLO tab shows %s", choice.why)
    chaos = getattr(harness, "chaos", None)
    cockpit = Cockpit(spec, resolve_prometheus_url(getattr(options, "slo_prometheus", None)),
                      stack.get("SLO_PROFILE") or "standard",
                      sandbox_url=stack.get("TELEGRAM_SANDBOX_URL"),
                      chat_id=stack.get("TELEGRAM_SANDBOX_CHAT_ID"),
                      telegram_mode=stack.get("TELEGRAM_MODE") or "sandbox",
                      faults=(lambda start, end: window_faults(chaos, start, end))
                      if chaos is not None else None,
                      client=lambda start, end: window_truth(environment, start, end))
    return SloTab(cockpit, chaos.list_faults if chaos is not None else None)


def live_fault(fault: dict) -> dict:
    """A fault the fault API lists as on now, as a run record keeps one (kind, params,
    backend, applied), with the seconds it has left."""
    params = {k: v for k, v in fault.items()
              if k not in ("kind", "backend", "started_at", "expires_at", "remaining_s",
                           "source")}
    return {"kind": fault.get("kind", "?"), "params": params, "backend": fault.get("backend"),
            "applied": True, "remaining_s": float(fault.get("remaining_s") or 0.0)}


def window_faults(chaos, start: float, end: float) -> list[dict]:
    """The faults of [start, end] the tab knows without Prometheus: those on now at the fault
    backend (whoever set them), then the chaos ledger's windows of this Locust (a fault it
    set that ended inside the window) of a backend and kind not on now. A fault API that does
    not answer leaves the ledger's (the backends' counters still count: window_faults of
    slo.judge.unseen)."""
    try:
        backend = chaos.backend()
        on = [live_fault({"backend": backend, **f}) for f in chaos.list_faults()]
    except FaultError as err:
        log.warning("the SLO tab could not ask the fault API what is on: %s", err)
        on = []
    named = {(f["backend"], f["kind"]) for f in on}
    ledger = chaos.windows(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))
    return on + [w.model_dump(mode="json") for w in ledger
                 if (w.backend, w.kind) not in named]
