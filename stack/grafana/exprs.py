"""Every PromQL query Grafana is provisioned to run: dashboard panels, dashboard annotations and
Grafana-managed alert rules, read from the files under stack/grafana/.

The static tests check each expression's syntax (promtool) and its datasource; the integration
test runs each one against a real Prometheus. Generated files (the SLO dashboard, the SLO
alert rules) are picked up the same way as the hand-written ones: every dashboards/*.json and
every provisioning/alerting/*.yaml that has alert rule `groups`.

Usage: `for source, expr in all_exprs(): ...`, where source reads like
"dashboards/portfolio.json: panel 'p95' target A".
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from stack.errors import StackError

GRAFANA_DIR = Path(__file__).resolve().parent
DASHBOARDS_DIR = GRAFANA_DIR / "dashboards"
PROVISIONING_DIR = GRAFANA_DIR / "provisioning"
ALERTING_DIR = PROVISIONING_DIR / "alerting"
DATASOURCE_UID = "prometheus"  # fixed in provisioning/datasources/prometheus.yaml


class ProvisioningError(StackError):
    """A Grafana provisioning or dashboard file cannot be read or has the wrong shape."""


@dataclass(frozen=True)
class Query:
    """One PromQL query: where it is, the expression, and every datasource uid it names
    (panel and target level for dashboards, rule query and model level for alert rules)."""

    source: str
    expr: str
    datasource_uids: tuple[str, ...]


def _uid(datasource) -> str | None:
    """The uid of a Grafana datasource reference ({"type":..., "uid":...}, or a legacy name)."""
    if isinstance(datasource, dict):
        return datasource.get("uid")
    return datasource  # None, or a legacy datasource *name*: reported as is, so a test fails


def _walk_panels(panels: list) -> Iterator[dict]:
    """Every panel, including those nested in (collapsed) rows."""
    for panel in panels:
        yield panel
        yield from _walk_panels(panel.get("panels") or [])


def dashboard_queries(dashboard: dict, name: str) -> list[Query]:
    """The PromQL queries of one dashboard model: panel targets, then annotation queries."""
    queries = []
    for panel in _walk_panels(dashboard.get("panels") or []):
        panel_uid = _uid(panel.get("datasource"))
        for target in panel.get("targets") or []:
            if "expr" not in target:
                continue
            uids = tuple(u for u in (panel_uid, _uid(target.get("datasource"))) if u is not None)
            where = f"{name}: panel {panel.get('title')!r} target {target.get('refId')}"
            queries.append(Query(where, target["expr"], uids))
    for annotation in (dashboard.get("annotations") or {}).get("list") or []:
        if "expr" in annotation:
            where = f"{name}: annotation {annotation.get('name')!r}"
            queries.append(Query(where, annotation["expr"], (_uid(annotation.get("datasource")),)))
    return queries


def alert_rule_queries(document: dict, name: str) -> list[Query]:
    """The PromQL queries of a Grafana alerting provisioning document's rule `groups`.

    Server-side expressions (datasource `__expr__`: reduce, math, threshold) are not PromQL
    and are skipped; every query that carries an `expr` is returned.
    """
    queries = []
    for group in document.get("groups") or []:
        for rule in group.get("rules") or []:
            for data in rule.get("data") or []:
                model = data.get("model") or {}
                if "expr" not in model:
                    continue
                uids = (data.get("datasourceUid"), *(
                    (_uid(model["datasource"]),) if "datasource" in model else ()))
                where = (f"{name}: rule {rule.get('title')!r} (group {group.get('name')!r})"
                         f" query {data.get('refId')}")
                queries.append(Query(where, model["expr"], uids))
    return queries


def load_json(path: Path) -> dict:
    """A JSON file as a dict, or ProvisioningError naming the file and the parse error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ProvisioningError(f"{path}: cannot read as JSON: {err}") from err
    if not isinstance(data, dict):
        raise ProvisioningError(f"{path}: top level must be a JSON object (a dashboard model)")
    return data


def load_yaml(path: Path) -> dict:
    """A YAML file as a dict, or ProvisioningError naming the file and the parse error."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ProvisioningError(f"{path}: cannot read as YAML: {err}") from err
    if not isinstance(data, dict):
        raise ProvisioningError(f"{path}: top level must be a mapping with apiVersion: 1")
    return data


def dashboard_files(grafana_dir: Path = GRAFANA_DIR) -> list[Path]:
    """Every dashboard JSON file the dashboards provider loads."""
    return sorted((grafana_dir / "dashboards").glob("*.json"))


def alerting_files(grafana_dir: Path = GRAFANA_DIR) -> list[Path]:
    """Every alerting provisioning file (contact points, policies, templates, rules)."""
    folder = grafana_dir / "provisioning" / "alerting"
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def all_queries(grafana_dir: Path = GRAFANA_DIR) -> list[Query]:
    """Every PromQL query of every dashboard and every alert rule under `grafana_dir`."""
    queries = []
    for path in dashboard_files(grafana_dir):
        name = path.relative_to(grafana_dir).as_posix()
        queries += dashboard_queries(load_json(path), name)
    for path in alerting_files(grafana_dir):
        name = path.relative_to(grafana_dir).as_posix()
        queries += alert_rule_queries(load_yaml(path), name)
    return queries


def all_exprs(grafana_dir: Path = GRAFANA_DIR) -> list[tuple[str, str]]:
    """(source, expr) for every PromQL expression Grafana runs; source names file and panel."""
    return [(q.source, q.expr) for q in all_queries(grafana_dir)]
