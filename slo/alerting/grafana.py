"""Grafana from a spec: managed alert rules (file provisioning) and the SLO dashboard.

Both read the Prometheus datasource with uid `prometheus` and work with either rules profile:
every expression is plain PromQL (no Grafana variables), so Prometheus can run it as it is;
they read the recorded `slo:sli_error:ratio_rate<w>` series by name pattern and `window` label,
not by one profile's window names.

Alert rules mirror the Prometheus burn-rate rows: a row fires when the smaller of its two
windows' burn rates exceeds the factor — "both windows above the factor" — and only when both
windows are recorded. The windows of the row in every profile are listed in one regex; the
profiles never share a window between different rows (tests/test_slo_rules.py checks it), so
only the running profile's two series match.

The dashboard has, per SLO: the SLI over the dashboard's time range against its objective,
the error budget remaining over a chosen window, the burn rate per recorded window with the
rows' factors as threshold lines, and the SLI over time with the objective line.
"""

import hashlib
import json
import re

from harness_common.durations import format_duration
from slo.alerting.burnrate import PROFILES, alert_windows
from slo.alerting.rules import SLOTH_DROPPED as DROPPED
from slo.alerting.rules import dump_yaml, header
from slo.judge import promql
from slo.spec.model import SLO, Spec
from slo.spec.selectors import Matcher, Selector
from slo.units import format_number

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
DASHBOARD_UID = "slo"
FOLDER = "SLO"
GROUP_INTERVAL = "10s"  # Grafana's default minimum evaluation interval
SLI_WINDOW = "5m"  # the SLI stat: the last five minutes
TREND_WINDOW = "1m"  # the SLI trend: >= 4 scrape intervals of 5 s


def _uid(slo: SLO, row: int) -> str:
    """A stable rule uid within Grafana's 40 characters."""
    digest = hashlib.sha1(slo.name.encode(), usedforsecurity=False).hexdigest()[:6]
    return f"slo-{slo.name[:24]}-{row}-{digest}"


def _recorded(spec: Spec, slo: SLO, windows: list[int]) -> str:
    regex = "|".join(sorted({format_duration(w) for w in windows}, key=lambda x: (len(x), x)))
    return str(Selector("", (
        Matcher("__name__", "=~", promql.RECORD_PREFIX + ".+"),
        Matcher("service", "=", spec.service_of(slo)), Matcher("slo", "=", slo.name),
        Matcher("window", "=~", regex),
    )))


def row_windows(slo: SLO, row: int) -> list[int]:
    """The long and short windows of table row `row` in every profile."""
    out = []
    for profile in PROFILES.values():
        window = alert_windows(profile, slo.window_s)[row - 1]
        out += [window.long_s, window.short_s]
    return out


def alert_query(spec: Spec, slo: SLO, row: int) -> str:
    """The smaller of the row's two burn rates, when both windows are recorded."""
    series = _recorded(spec, slo, row_windows(slo, row))
    budget = format_number(slo.error_budget)
    return (f"(min without ({DROPPED}) ({series}) / {budget})\n"
            f"and on (service, slo)\n(count without ({DROPPED}) ({series}) == 2)")


def _alert_rule(spec: Spec, slo: SLO, row: int, panel_id: int) -> dict:
    window = alert_windows(PROFILES["standard"], slo.window_s)[row - 1]
    factor = format_number(window.factor)
    severities = {"page": slo.alerting.page_severity, "ticket": slo.alerting.ticket_severity}
    severity = severities[window.severity]
    value = '{{ with .Values.A }}{{ printf "%.1f" .Value }}{{ end }}'
    annotations = {
        "summary": (f"{spec.service_of(slo)} {slo.name}: error budget burning over {factor}x "
                    f"({window.severity})"),
        "description": (f"SLO {slo.name} ({slo.objective_text}) burns its error budget at "
                        f"{value}x or more over both windows of the {factor}x row."),
    }
    if slo.alerting.runbook_url:
        annotations["runbook_url"] = slo.alerting.runbook_url
    return {
        "uid": _uid(slo, row),
        "title": f"{slo.name} burn rate over {factor}x ({window.severity})",
        "condition": "B",
        "data": [
            {"refId": "A", "relativeTimeRange": {"from": 600, "to": 0},
             "datasourceUid": DATASOURCE["uid"],
             "model": {"refId": "A", "datasource": DATASOURCE, "expr": alert_query(spec, slo, row),
                       "instant": True, "range": False, "intervalMs": 1000,
                       "maxDataPoints": 43200}},
            {"refId": "B", "relativeTimeRange": {"from": 0, "to": 0}, "datasourceUid": "__expr__",
             "model": {"refId": "B", "datasource": {"type": "__expr__", "uid": "__expr__"},
                       "type": "threshold", "expression": "A",
                       "conditions": [{"evaluator": {"type": "gt", "params": [window.factor]}}]}},
        ],
        "dashboardUid": DASHBOARD_UID,
        "panelId": panel_id,
        "noDataState": "OK",
        "execErrState": "Error",
        "for": format_duration(slo.alerting.for_s),
        "isPaused": False,
        "labels": {"severity": severity, "service": spec.service_of(slo), "slo": slo.name,
                   "factor": factor,
                   "source": "grafana", **dict(slo.labels), **dict(slo.alerting.labels),
                   **dict(slo.alerting.page_labels if window.severity == "page"
                          else slo.alerting.ticket_labels)},
        "annotations": annotations,
    }


def _budget_slos(spec: Spec) -> list[SLO]:
    return sorted((s for s in spec.slos if s.error_budget is not None), key=lambda s: s.name)


def render_alert_rules(spec: Spec, source: str) -> str:
    """The Grafana alerting provisioning file (one rule per SLO and burn-rate row)."""
    panels = _panel_ids(spec)
    rules = [
        _alert_rule(spec, slo, window.row, panels[slo.name]["burn"])
        for slo in _budget_slos(spec)
        for window in alert_windows(PROFILES["standard"], slo.window_s)
        if slo.alerting.severity_enabled(window.severity)
    ]
    groups = [{"orgId": 1, "name": "slo-burn-rate", "folder": FOLDER, "interval": GROUP_INTERVAL,
               "rules": rules}] if rules else []
    return f"# {header(source)}\n" + dump_yaml({"apiVersion": 1, "groups": groups})


# ---- dashboard ------------------------------------------------------------------------------

def _unit(slo: SLO) -> str:
    return {"s": "s", "ratio": "percentunit", "1/s": "reqps"}[slo.unit]


def _thresholds(slo: SLO) -> dict:
    """Stat colours: green on the safe side of the warning line, orange to the objective, red."""
    objective = slo.objectives[0]
    if objective.upper:
        steps = [{"color": "green", "value": None}]
        if objective.warning is not None:
            steps.append({"color": "orange", "value": objective.warning})
        steps.append({"color": "red", "value": objective.target})
    else:
        steps = [{"color": "red", "value": None}]
        if objective.warning is not None:
            steps.append({"color": "orange", "value": objective.target})
            steps.append({"color": "green", "value": objective.warning})
        else:
            steps.append({"color": "green", "value": objective.target})
    return {"mode": "absolute", "steps": steps}


def _target(expr: str, legend: str, ref: str, instant: bool = False) -> dict:
    return {"refId": ref, "datasource": DATASOURCE, "expr": expr, "legendFormat": legend,
            "instant": instant, "range": not instant}


def _panel_ids(spec: Spec) -> dict[str, dict[str, int]]:
    """Stable panel ids: 1 is the alerts stat, then 5 per SLO (row, sli, budget, burn, trend)."""
    ids, next_id = {}, 2
    for slo in sorted(spec.slos, key=lambda s: s.name):
        ids[slo.name] = dict(zip(("row", "sli", "budget", "burn", "trend"),
                                 range(next_id, next_id + 5), strict=True))
        next_id += 5
    return ids


def _slo_panels(spec: Spec, slo: SLO, ids: dict[str, int], y: int) -> list[dict]:
    unit = _unit(slo)
    panels = [{"id": ids["row"], "type": "row", "title": f"{slo.name} — {slo.objective_text}",
               "collapsed": False, "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []}]
    y += 1
    panels.append({
        "id": ids["sli"], "type": "stat", "title": f"{slo.name}: SLI (last {SLI_WINDOW})",
        "description": f"{slo.description or slo.name}. Objective: {slo.objective_text}.",
        "datasource": DATASOURCE, "gridPos": {"h": 8, "w": 4, "x": 0, "y": y},
        "targets": [_target(promql.value_expr(slo, SLI_WINDOW), slo.name, "A", instant=True)],
        "fieldConfig": {"defaults": {"unit": unit, "decimals": 3, "thresholds": _thresholds(slo),
                                     "color": {"mode": "thresholds"}}, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "background", "graphMode": "none", "textMode": "value"},
    })
    trend_x, trend_w = 4, 20
    if slo.error_budget is not None:
        budget = format_number(slo.error_budget)
        period = format_duration(slo.window_s)
        bad = promql.bad_ratio_expr(slo.budget_ratio, period, "increase")
        panels.append({
            "id": ids["budget"], "type": "stat",
            "title": f"{slo.name}: error budget left ({period})",
            "description": f"1 - bad events / allowed bad events over the objective window (or "
                           f"the data Prometheus has of it); budget {budget} of events.",
            "datasource": DATASOURCE, "gridPos": {"h": 8, "w": 4, "x": 4, "y": y},
            "targets": [_target(f"1 - ({bad}) / {budget}", "remaining", "A", instant=True)],
            "fieldConfig": {"defaults": {"unit": "percentunit", "decimals": 1,
                                         "color": {"mode": "thresholds"},
                                         "thresholds": {"mode": "absolute", "steps": [
                                             {"color": "red", "value": None},
                                             {"color": "orange", "value": 0},
                                             {"color": "green", "value": 0.25}]}},
                            "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "background", "graphMode": "none", "textMode": "value"},
        })
        series = str(Selector("", (Matcher("__name__", "=~", promql.RECORD_PREFIX + ".+"),
                                   Matcher("service", "=", spec.service_of(slo)),
                                   Matcher("slo", "=", slo.name))))
        factors = sorted({w.factor for w in alert_windows(PROFILES["standard"], slo.window_s)})
        panels.append({
            "id": ids["burn"], "type": "timeseries", "title": f"{slo.name}: burn rate per window",
            "description": "Bad-event ratio / error budget, per recorded window. Lines: the "
                           "burn-rate rows' factors; a row fires when its long and short window "
                           "are both above its factor.",
            "datasource": DATASOURCE, "gridPos": {"h": 8, "w": 8, "x": 8, "y": y},
            "targets": [_target(f"{series} / {budget}", "{{window}}", "A")],
            "fieldConfig": {"defaults": {
                "unit": "x", "min": 0, "custom": {"thresholdsStyle": {"mode": "line"}},
                "thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": None}] + [
                    {"color": "red" if f > 5 else "orange", "value": f} for f in factors]},
            }, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"},
                        "tooltip": {"mode": "multi"}},
        })
        trend_x, trend_w = 16, 8
    targets = [_target(promql.value_expr(slo, TREND_WINDOW), f"SLI ({TREND_WINDOW})", "A")]
    for i, objective in enumerate(slo.objectives):
        target = format_number(objective.target)
        targets.append(_target(f"vector({target})", f"objective {objective.op} {target}",
                               chr(ord("B") + i)))
    panels.append({
        "id": ids["trend"], "type": "timeseries", "title": f"{slo.name}: SLI vs objective",
        "datasource": DATASOURCE, "gridPos": {"h": 8, "w": trend_w, "x": trend_x, "y": y},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"},
                    "tooltip": {"mode": "multi"}},
    })
    return panels


def _alert_names(spec: Spec) -> str:
    """The alertname matcher of the spec's burn-rate alerts (ErrorBudgetBurn unless renamed)."""
    names = sorted({slo.alerting.name for slo in spec.slos})
    if len(names) == 1:
        return str(Matcher("alertname", "=", names[0]))
    return str(Matcher("alertname", "=~", "|".join(names)))


def _services(spec: Spec) -> str:
    """The matcher of the spec's services (several in a multi-service Sloth file)."""
    if len(spec.services) == 1:
        return str(Matcher("service", "=", spec.services[0]))
    return str(Matcher("service", "=~", "|".join(re.escape(s) for s in spec.services)))


def dashboard(spec: Spec, source: str) -> dict:
    """The SLO dashboard as a Grafana dashboard model (uid `slo`)."""
    ids = _panel_ids(spec)
    panels = [{
        "id": 1, "type": "stat", "title": "Burn-rate alerts firing",
        "description": "Prometheus burn-rate alerts of this service that fire now.",
        "datasource": DATASOURCE, "gridPos": {"h": 4, "w": 24, "x": 0, "y": 0},
        "targets": [_target(f"count(ALERTS{{{_alert_names(spec)},alertstate=\"firing\","
                            f"{_services(spec)}}}) or vector(0)", "firing", "A",
                            instant=True)],
        "fieldConfig": {"defaults": {"color": {"mode": "thresholds"}, "thresholds": {
            "mode": "absolute",
            "steps": [{"color": "green", "value": None}, {"color": "red", "value": 1}]}},
            "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "background", "graphMode": "none", "textMode": "value"},
    }]
    y = 4
    for slo in sorted(spec.slos, key=lambda s: s.name):
        panels += _slo_panels(spec, slo, ids[slo.name], y)
        y += 9
    return {
        "uid": DASHBOARD_UID,
        "title": f"SLOs — {spec.service}",
        "description": header(source),
        "tags": ["slo", "generated"],
        "timezone": "browser",
        "editable": False,
        "refresh": "5s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-15m", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "links": [],
        "panels": panels,
    }


def render_dashboard(spec: Spec, source: str) -> str:
    """The dashboard JSON text, stable (sorted keys, 2-space indent, final newline)."""
    return json.dumps(dashboard(spec, source), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
