"""More tabs in Locust's web UI, from plugins: how the judge's SLO tab gets in without the load
tests importing the judge (the layers go harness_common <- stack <- loadtests <- slo).

A plugin is an entry point in the group `slo_harness.locust_tabs` (slo-harness declares
`slo = "slo.cockpit.tab"` in pyproject.toml) naming a module with:

    add_arguments(parser)              its Locust options (events.init_command_line_parser)
    create(environment, harness)       a provider, or None when it has nothing to show

A provider has `key`, `title`, `table` (Locust's extended-table structure: [{key, title}]),
`rows()` (the table's rows, refreshed with the statistics every 2 s), `data()` (a JSON-ready
document), `page(base_path)` (HTML for the iframe under the table) and `asset(name)` ((text,
mimetype) of its script and style: the CSP allows no inline ones). Its routes:

    GET /tabs/<key>                 the page (an iframe under the tab's table; it polls data)
    GET /tabs/<key>/data            data() as JSON
    GET /tabs/<key>/assets/<name>   asset(name)

Both carry the Chaos tab's protections (loadtests.webui): a foreign Host header is refused (DNS
rebinding), only this server may read (CORS) or frame them, nothing is cached, Locust's login
applies. They are read-only: no form, no token, no secret in what they send.
"""

from __future__ import annotations

import importlib
import json
import logging
from importlib.metadata import entry_points

from flask import Blueprint, Response, jsonify

from loadtests.webui import HERE, guard_host, protect_response

log = logging.getLogger("loadtests.tabs")

GROUP = "slo_harness.locust_tabs"


def plugins() -> list:
    """The plugin modules installed (a broken one is logged and left out)."""
    found = []
    for point in sorted(entry_points(group=GROUP), key=lambda p: p.name):
        try:
            found.append(importlib.import_module(point.value))
        except ImportError as err:
            log.error("web UI tab plugin %s (%s) cannot be imported: %s", point.name,
                      point.value, err)
    return found


def add_arguments(parser) -> None:
    """Every plugin's options."""
    for plugin in plugins():
        plugin.add_arguments(parser)


def mount(web_ui, provider, base: str, web_host: str | None, web_port: int) -> None:
    """Add the provider's tab, its table feed and its two routes to Locust's web UI."""
    auth = web_ui.auth_required_if_enabled
    key = provider.key
    bp = Blueprint(f"slo_tab_{key}", __name__, url_prefix=f"{base}/tabs/{key}")
    bp.after_request(protect_response)

    guard_host(bp, web_host, web_port)

    bp.add_url_rule("", "page", auth(lambda: Response(provider.page(base),
                                                      mimetype="text/html")), methods=["GET"])
    bp.add_url_rule("/data", "data", auth(lambda: jsonify(provider.data())), methods=["GET"])

    def asset(name: str):
        found = provider.asset(name)
        if found is None:
            return Response("no such file", status=404, mimetype="text/plain")
        return Response(found[0], mimetype=found[1])

    bp.add_url_rule("/assets/<name>", "asset", auth(asset), methods=["GET"])
    web_ui.app.register_blueprint(bp)
    web_ui.template_args.setdefault("extended_tabs", []).append({"title": provider.title,
                                                                 "key": key})
    web_ui.template_args.setdefault("extended_tables", []).append({"key": key,
                                                                   "structure": provider.table})
    web_ui.slo_tab_rows = {**getattr(web_ui, "slo_tab_rows", {}), key: provider.rows}


def install(web_ui, environment, harness) -> list:
    """Create and mount every plugin's provider; returns the providers mounted."""
    options = environment.parsed_options
    base = (getattr(options, "web_base_path", None) or "").rstrip("/")
    web_host = getattr(options, "web_host", "")
    web_port = int(getattr(options, "web_port", 8089) or 8089)
    mounted: list = []
    web_ui.app.add_url_rule(f"{base}/tabs/script.js", "slo_tabs_script",
                            lambda: Response(tab_script([p.key for p in mounted]),
                                             mimetype="application/javascript"))
    for plugin in plugins():
        try:
            provider = plugin.create(environment, harness)
        except Exception as err:  # noqa: BLE001 - a broken plugin must not take Locust down
            log.error("web UI tab plugin %s failed to start: %s", plugin.__name__, err)
            continue
        if provider is not None:
            mount(web_ui, provider, base, web_host, web_port)
            mounted.append(provider)
            log.info("%s tab: %s", provider.title, tab_url(web_host, web_port, base,
                                                           provider.key))
    return mounted


def tab_url(web_host: str | None, web_port: int, base: str, key: str) -> str:
    """The address that opens Locust's web UI on a tab (its React UI reads ?tab=<key>)."""
    host = web_host if web_host and web_host not in ("0.0.0.0", "*", "::") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{web_port}{base}/?tab={key}"


def tab_script(keys: list[str]) -> str:
    """tabs.js: puts each plugin tab's page (an iframe) under its table; `keys`: the plugin
    tabs (Locust's own tabs, ?tab=stats and the rest, get nothing)."""
    return (f"window.SLO_HARNESS_TABS = {json.dumps(sorted(keys))};\n"
            + (HERE / "static" / "tabs.js").read_text(encoding="utf-8"))
