"""The Chaos tab of Locust's web UI: see the active faults, set and clear latency and error faults.

Built on Locust's documented extension points:
- `template_args["extended_tabs"/"extended_tables"]` add a "Chaos" tab to the React UI whose
  table (the active faults, refreshed with the statistics) comes from `extended_stats` added to
  the /stats/requests response;
- routes on `web_ui.app` (a blueprint under --web-base-path):
    GET  /chaos              the controls page (forms; also usable on its own)
    GET  /chaos/faults       the active faults as JSON
    POST /chaos/set/<kind>   set a latency or error fault (form fields = the fault's fields)
    POST /chaos/clear/<kind> clear one kind; POST /chaos/clear clears every fault
    GET  /chaos/tab.js       puts the controls page (an iframe) under the tab's table, since
                             the React UI renders extended tabs as tables only.

The admin token stays in this process (ChaosController's FaultClient); the browser never sees
it. Locust's web UI enables CORS for every origin and usually runs without login, so the POST
routes require the request's Origin (or Referer) to be this server and a per-process form token;
the /chaos responses name only this server in Access-Control-Allow-Origin and may only be framed
by it. Every /chaos route (GET too: the page carries the form token) refuses a Host header that
is not an address this server answers on — an IP literal, localhost or the --web-host name, on
its port — which is how a DNS-rebinding page would reach a loopback UI. With --web-login the
routes also require Locust's login.
"""

import hmac
import ipaddress
import logging
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify, render_template, request

from harness_common.errors import FaultError, FaultValidationError
from harness_common.faults.model import parse_fault
from harness_common.stackenv import fault_api_for, same_url, token_hint

log = logging.getLogger("loadtests.webui")

HERE = Path(__file__).parent
TAB_KEY = "chaos"
FORM_KINDS = ("latency", "error")
FIELDS = {  # form field -> type, per settable kind (the rest of a fault keeps its default)
    "latency": {"delay_ms": int, "jitter_ms": int, "probability": float, "routes": list,
                "ttl_s": int},
    "error": {"status": int, "probability": float, "routes": list, "message": str, "ttl_s": int},
}
ROWS_MAX_AGE_S = 1.0
TABLE = [{"key": "fault", "title": "Fault"}, {"key": "settings", "title": "Settings"},
         {"key": "remaining", "title": "Switches off in"}, {"key": "source", "title": "Set by"}]


LOCAL_NAMES = ("localhost", "localhost.localdomain")


def host_allowed(host: str | None, web_host: str | None, web_port: int) -> bool:
    """True when a request's Host header names this server: an IP literal or a local name (or
    the --web-host name) with our port. A DNS name an attacker controls is refused."""
    if not host:
        return False
    parsed = urlsplit(f"//{host}")
    try:
        name, port = parsed.hostname, parsed.port
    except ValueError:
        return False
    if name is None or (port or 80) != web_port:
        return False
    configured = (web_host or "").strip().lower()
    if name in LOCAL_NAMES or (configured not in ("", "*", "0.0.0.0", "::") and
                               name == configured):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def same_origin(origin: str | None, referer: str | None, host_url: str) -> bool:
    """True when the request comes from a page of this server (Origin, else Referer)."""
    own = urlsplit(host_url)
    claimed = origin if origin and origin != "null" else referer
    if not claimed:
        return False
    theirs = urlsplit(claimed)
    return (theirs.scheme, theirs.netloc) == (own.scheme, own.netloc)


def form_to_body(kind: str, form) -> dict:
    """The admin API body for a form post; FaultValidationError naming a malformed field."""
    if kind not in FIELDS:
        raise FaultValidationError("kind", f"the Chaos tab sets {' and '.join(FIELDS)} faults "
                                           f"(got {kind!r})")
    body = {}
    for field, typ in FIELDS[kind].items():
        raw = (form.get(field) or "").strip()
        if not raw:
            continue
        if typ is list:
            body[field] = [p for p in raw.replace(",", " ").split() if p]
        elif typ is str:
            body[field] = raw
        else:
            try:
                body[field] = typ(raw)
            except ValueError:
                what = "a whole number" if typ is int else "a number"
                raise FaultValidationError(field, f"must be {what} (got {raw!r})") from None
    return body


def describe(fault: dict) -> str:
    """A fault's settings as one line: delay_ms=400 probability=1.0 routes=/api/*."""
    skip = {"kind", "started_at", "expires_at", "remaining_s", "source"}
    parts = []
    for key, value in fault.items():
        if key in skip:
            continue
        shown = ",".join(value) if isinstance(value, list) else value
        parts.append(f"{key}={shown}")
    return " ".join(parts)


class ChaosTab:
    """The routes' state: the harness (for its ChaosController) and the form token."""

    def __init__(self, harness, clock=time.monotonic):
        self.harness = harness
        self.form_token = secrets.token_urlsafe(32)
        self._clock = clock
        self._rows: tuple[float, list[dict]] | None = None

    @property
    def chaos(self):
        """The process's ChaosController."""
        return self.harness.chaos

    def active(self) -> tuple[list[dict], str | None]:
        """(faults on at the app with who set them, error text if the app cannot be asked)."""
        try:
            faults = self.chaos.list_faults()
        except FaultError as err:
            return [], str(err)
        ours = {e.kind: e.source for e in self.chaos.ledger if e.cleared_at is None and e.applied}
        for fault in faults:
            fault["source"] = ours.get(fault["kind"], "other")
        return faults, None

    def table_rows(self) -> list[dict]:
        """Rows for the React tab's table (asked of the app at most once a second: every open
        browser tab polls the statistics every 2 s)."""
        now = self._clock()
        if self._rows is None or now - self._rows[0] >= ROWS_MAX_AGE_S:
            self._rows = (now, self._fresh_rows())
        return self._rows[1]

    def _fresh_rows(self) -> list[dict]:
        faults, error = self.active()
        if error:
            return [{"fault": "?", "settings": error, "remaining": "", "source": ""}]
        if not faults:
            return [{"fault": "none", "settings": "no fault is active", "remaining": "",
                     "source": ""}]
        return [{"fault": f["kind"], "settings": describe(f), "remaining": f"{f['remaining_s']} s",
                 "source": f["source"]} for f in faults]

    def page(self, message: str | None = None, error: str | None = None, status: int = 200):
        """The controls page, with the outcome of the last action."""
        faults, list_error = self.active()
        backend = fault_api_for(self.harness.environment.host)
        html = render_template(
            "chaos.html", faults=faults, list_error=list_error, message=message, error=error,
            token=self.form_token, embed=request.args.get("embed") == "1",
            has_token=bool(backend.token), target=self.harness.environment.host,
            token_hint=None if backend.token else token_hint(backend.url),
            backend=backend, same_url=same_url,
            describe=describe)
        return Response(html, status=status, mimetype="text/html")

    def guard(self) -> Response | None:
        """Refuse cross-site posts: wrong origin or missing/wrong form token -> 403."""
        if not same_origin(request.headers.get("Origin"), request.headers.get("Referer"),
                           request.host_url):
            return self.page(error="refused: the request did not come from this page "
                                   "(Origin/Referer check)", status=403)
        given = request.form.get("csrf_token", "")
        if not hmac.compare_digest(given.encode(), self.form_token.encode()):
            return self.page(error="refused: missing or stale form token; reload the page",
                             status=403)
        return None

    def set_fault(self, kind: str):
        """POST /chaos/set/<kind>."""
        refused = self.guard()
        if refused is not None:
            return refused
        try:
            spec = parse_fault(kind, form_to_body(kind, request.form))
        except FaultValidationError as err:
            return self.page(error=f"not set: {err}", status=400)
        try:
            self.chaos.set_fault(spec, source="web-ui")
        except FaultError as err:
            return self.page(error=f"not set: {err}", status=502)
        self._rows = None
        log.info("chaos tab: %s fault set (%s)", kind, describe(spec.model_dump(mode="json")))
        return self.page(message=f"{kind} fault set for {spec.ttl_s} s")

    def clear_fault(self, kind: str | None):
        """POST /chaos/clear[/<kind>]."""
        refused = self.guard()
        if refused is not None:
            return refused
        try:
            cleared = self.chaos.clear_fault(kind)
        except FaultError as err:
            return self.page(error=f"not cleared: {err}", status=502)
        self._rows = None
        log.info("chaos tab: cleared %s", ", ".join(cleared) or "nothing")
        return self.page(message=f"cleared: {', '.join(cleared) or 'nothing was on'}")


def protect_response(response: Response) -> Response:
    """Only this server may read (CORS) or frame our routes (Chaos, plugin tabs); no cache."""
    response.headers["Access-Control-Allow-Origin"] = request.host_url.rstrip("/")
    response.headers["Vary"] = "Origin"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'self'; "
        "form-action 'self'")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def guard_host(bp: Blueprint, web_host: str | None, web_port: int) -> None:
    """Refuse (403) every request to the blueprint whose Host is not this server's address:
    a DNS-rebinding page reaches a loopback UI under its own name."""
    @bp.before_request
    def refuse_foreign_host():
        if not host_allowed(request.host, web_host, web_port):
            return Response(f"refused: Host {request.host!r} is not this server's address; open "
                            f"the UI as http://127.0.0.1:{web_port}/", status=403,
                            mimetype="text/plain")
        return None


def starting(runner, web_ui) -> bool:
    """True between Start and the first user: the runner still says "ready" (STATE_INIT) while
    its shape or swarm greenlet is about to spawn. Locust's React UI stops polling when a poll
    right after Start answers "ready", and stays on the start form though the test runs (seen
    in 3 of 6 starts here); this answers "spawning" for that moment instead."""
    pending = [getattr(runner, "shape_greenlet", None), getattr(web_ui, "_swarm_greenlet", None)]
    return any(g is not None and not g.dead for g in pending)


def init_web_ui(web_ui, harness) -> ChaosTab:
    """Add the Chaos tab, its routes and the table feed to Locust's web UI."""
    tab = ChaosTab(harness)
    auth = web_ui.auth_required_if_enabled
    options = harness.environment.parsed_options
    base = (getattr(options, "web_base_path", None) or "").rstrip("/")
    bp = Blueprint("slo_chaos", __name__, url_prefix=f"{base}/chaos",
                   template_folder=str(HERE / "templates"))
    bp.after_request(protect_response)
    web_port = int(getattr(options, "web_port", 8089) or 8089)

    guard_host(bp, getattr(options, "web_host", ""), web_port)

    bp.add_url_rule("", "page", auth(lambda: tab.page()), methods=["GET"])
    bp.add_url_rule("/faults", "faults", auth(lambda: jsonify(faults=tab.active()[0])),
                    methods=["GET"])
    bp.add_url_rule("/set/<kind>", "set", auth(tab.set_fault), methods=["POST"])
    bp.add_url_rule("/clear/<kind>", "clear", auth(tab.clear_fault), methods=["POST"])
    bp.add_url_rule("/clear", "clear_all", auth(lambda: tab.clear_fault(None)), methods=["POST"])
    bp.add_url_rule("/tab.js", "tab_js", lambda: Response(
        (HERE / "static" / "chaos-tab.js").read_text(encoding="utf-8"),
        mimetype="application/javascript"))
    web_ui.app.register_blueprint(bp)

    web_ui.template_args.setdefault("extended_tabs", []).insert(0, {"title": "Chaos",
                                                                    "key": TAB_KEY})
    web_ui.template_args.setdefault("extended_tables", []).insert(0, {"key": TAB_KEY,
                                                                      "structure": TABLE})

    @web_ui.app.after_request
    def feed_tab(response: Response) -> Response:
        """Add the fault table to the statistics the UI polls; load tab.js into the UI page."""
        path = request.path
        if path.endswith("/stats/requests") and response.is_json:
            payload = response.get_json()
            extra = [{"key": key, "data": rows()}
                     for key, rows in getattr(web_ui, "slo_tab_rows", {}).items()]
            payload["extended_stats"] = [{"key": TAB_KEY, "data": tab.table_rows()}, *extra]
            if payload.get("state") == "ready" and starting(harness.environment.runner, web_ui):
                payload["state"] = "spawning"
            response.set_data(web_ui.app.json.dumps(payload))
        elif path in (f"{base}/", base or "/") and response.mimetype == "text/html":
            html = response.get_data(as_text=True)
            script = f'<script src="{base}/chaos/tab.js" defer></script>'
            if getattr(web_ui, "slo_tab_rows", None):
                script += f'<script src="{base}/tabs/script.js" defer></script>'
            response.set_data(html.replace("</body>", script + "</body>", 1))
        return response

    return tab
