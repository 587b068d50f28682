"""Static checks of Grafana's provisioning and dashboards (stack/grafana/).

Every file parses; every query uses the fixed datasource uid; the seed's four queries are there
verbatim; every PromQL expression and alert template parses (promtool / amtool, real binaries);
the alerting files only use the environment variables the launchers set. The integration test
of the stack runs the same expressions (stack.grafana.exprs.all_exprs) on a real Prometheus.
"""

import json
import re
import subprocess

import pytest
import yaml

from stack.grafana import exprs
from stack.grafana.env import (
    ALERT_RECEIVERS,
    PLACEHOLDER_BOT_TOKEN,
    PROVISIONING_VARS,
    grafana_env,
)
from stack.grafana.exprs import (
    DATASOURCE_UID,
    GRAFANA_DIR,
    ProvisioningError,
    all_exprs,
    all_queries,
    dashboard_queries,
)
from stack.procs import find_binary

PROVISIONING = GRAFANA_DIR / "provisioning"
PORTFOLIO = GRAFANA_DIR / "dashboards" / "portfolio.json"
APP_TRAFFIC_FILTER = 'endpoint!~"/metrics|/health"'

# The seed's panels, title -> exact query (DESIGN.md; issue 3).
SEED_QUERIES = {
    "Total Page Visits": "sum(app_requests_total)",
    "Request Rate": "rate(app_requests_total[1m]) * 60",
    "Average Response Time": (
        "rate(app_request_duration_seconds_sum[5m]) / rate(app_request_duration_seconds_count[5m])"
    ),
    "p95": "histogram_quantile(0.95, sum by (le) (rate(app_request_duration_seconds_bucket[5m])))",
}
# Settings of Grafana's Telegram integration (grafana/alerting receivers/telegram/v1/config.go
# for the pinned Grafana); there is no api_url among them (see stack/grafana/README.md).
GRAFANA_TELEGRAM_KEYS = {
    "bottoken", "chatid", "message_thread_id", "message", "parse_mode",
    "disable_web_page_preview", "protect_content", "disable_notifications",
}


def provisioning_files():
    return sorted(PROVISIONING.rglob("*.yaml")) + sorted(PROVISIONING.rglob("*.yml"))


def load(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alerting_doc(key):
    """The items under `key` (contactPoints, policies, templates, groups) of all alerting files."""
    items = []
    for path in exprs.alerting_files():
        items += load(path).get(key) or []
    return items


def portfolio():
    return json.loads(PORTFOLIO.read_text(encoding="utf-8"))


def panels_by_title():
    return {p["title"]: p for p in exprs._walk_panels(portfolio()["panels"])}


def string_values(node):
    """Every string value (not key, not comment) in a parsed YAML/JSON document."""
    if isinstance(node, dict):
        for value in node.values():
            yield from string_values(value)
    elif isinstance(node, list):
        for value in node:
            yield from string_values(value)
    elif isinstance(node, str):
        yield node


# --- every file parses, with the shape Grafana expects ------------------------------------

def test_every_provisioning_file_parses_as_apiversion_1_yaml():
    files = provisioning_files()
    assert {p.parent.name for p in files} == {"datasources", "dashboards", "alerting"}
    for path in files:
        document = load(path)
        assert isinstance(document, dict), path
        assert document.get("apiVersion") == 1, f"{path}: apiVersion must be 1"


def test_every_dashboard_parses_and_has_unique_panel_ids():
    for path in exprs.dashboard_files():
        dashboard = exprs.load_json(path)
        ids = [p["id"] for p in exprs._walk_panels(dashboard["panels"])]
        assert len(ids) == len(set(ids)), f"{path}: duplicate panel ids"
        assert dashboard.get("uid"), f"{path}: a provisioned dashboard needs a fixed uid"


def test_a_broken_dashboard_file_is_reported_with_its_path(tmp_path):
    (tmp_path / "dashboards").mkdir()
    (tmp_path / "dashboards" / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ProvisioningError, match=r"bad\.json: cannot read as JSON"):
        all_exprs(tmp_path)


# --- datasource ------------------------------------------------------------------------------

def test_the_prometheus_datasource_has_the_fixed_uid_and_an_env_url():
    (datasource,) = load(PROVISIONING / "datasources" / "prometheus.yaml")["datasources"]
    assert datasource["uid"] == DATASOURCE_UID == "prometheus"
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "${PROMETHEUS_URL}"
    assert datasource["jsonData"]["timeInterval"] == "5s"  # = the app's scrape interval


def test_every_query_uses_the_fixed_datasource_uid():
    queries = all_queries()
    assert queries
    wrong = [(q.source, q.datasource_uids) for q in queries
             if not q.datasource_uids or set(q.datasource_uids) != {DATASOURCE_UID}]
    assert wrong == []


def test_a_query_on_another_datasource_is_reported():
    dashboard = {"panels": [{"title": "x", "datasource": {"uid": "other"},
                             "targets": [{"refId": "A", "expr": "up"}]}]}
    (query,) = dashboard_queries(dashboard, "d.json")
    assert query.datasource_uids == ("other",)
    assert query.source == "d.json: panel 'x' target A"


def test_panels_inside_collapsed_rows_are_found():
    dashboard = {"panels": [{"type": "row", "title": "r", "collapsed": True, "panels": [
        {"title": "inner", "datasource": {"uid": "prometheus"},
         "targets": [{"refId": "B", "expr": "up"}]}]}]}
    assert [q.source for q in dashboard_queries(dashboard, "d.json")] == [
        "d.json: panel 'inner' target B"]


# --- dashboards provider -----------------------------------------------------------------------

def test_the_dashboards_provider_reads_the_folder_named_by_the_environment():
    (provider,) = load(PROVISIONING / "dashboards" / "dashboards.yaml")["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "${GRAFANA_DASHBOARDS_DIR}"
    assert provider["allowUiUpdates"] is False


# --- the portfolio dashboard ---------------------------------------------------------------

def test_the_dashboard_refreshes_every_5s_over_the_last_15_minutes():
    dashboard = portfolio()
    assert dashboard["uid"] == "slo-harness-app"  # linked from stack/prometheus/rules
    assert dashboard["refresh"] == "5s"
    assert dashboard["time"] == {"from": "now-15m", "to": "now"}
    assert "slo-harness" in dashboard["tags"]


@pytest.mark.parametrize("title", sorted(SEED_QUERIES))
def test_the_seed_panel_keeps_the_seed_query_exactly(title):
    panel = panels_by_title()[title]
    assert [t["expr"] for t in panel["targets"]] == [SEED_QUERIES[title]]


def test_total_page_visits_is_a_stat_panel():
    assert panels_by_title()["Total Page Visits"]["type"] == "stat"


def test_app_traffic_panels_leave_out_scrapes_and_health_checks():
    """Every app_requests/app_request_duration query except the seed's exact ones filters."""
    seed = set(SEED_QUERIES.values())
    for query in dashboard_queries(portfolio(), "portfolio.json"):
        if re.search(r"app_request(s_total|_duration_seconds)", query.expr) and (
                query.expr not in seed):
            assert APP_TRAFFIC_FILTER in query.expr, query.source


def test_the_error_ratio_counts_5xx_and_aborted_over_all_app_requests():
    (expr,) = [t["expr"] for t in panels_by_title()["Error ratio"]["targets"]]
    assert 'status=~"5..|aborted"' in expr
    numerator, denominator = expr.rsplit(" / ", 1)
    assert "status" not in denominator and APP_TRAFFIC_FILTER in denominator


def test_in_flight_faults_and_runtime_have_panels():
    exprs_by_title = {title: " ".join(t["expr"] for t in p.get("targets", []))
                      for title, p in panels_by_title().items()}
    assert "app_requests_in_progress" in exprs_by_title["In-flight requests"]
    assert panels_by_title()["Active faults"]["type"] == "state-timeline"
    assert exprs_by_title["Active faults"] == "app_fault_active"
    everything = " ".join(exprs_by_title.values())
    for metric in ("process_resident_memory_bytes", "rate(process_cpu_seconds_total",
                   "python_gc_collections_total", "process_open_fds"):
        assert metric in everything


def test_active_faults_are_also_a_dashboard_annotation():
    annotations = [a for a in portfolio()["annotations"]["list"] if "expr" in a]
    assert [a["expr"] for a in annotations] == ["app_fault_active > 0"]
    assert annotations[0]["enable"] is True


def test_no_hand_written_slo_panels_in_the_portfolio_dashboard():
    """SLO panels are generated into their own dashboard file from slo/slos.yaml."""
    assert not [t for t in panels_by_title() if "slo" in t.lower().split()]


# --- PromQL: plain, parseable expressions ------------------------------------------------------

def test_exprs_use_no_grafana_variables_so_prometheus_can_run_them_as_they_are():
    assert [(s, e) for s, e in all_exprs() if "$" in e] == []


def test_all_exprs_covers_dashboards_annotations_and_alert_rules():
    sources = [source for source, _ in all_exprs()]
    assert any(s.startswith("dashboards/portfolio.json: panel") for s in sources)
    assert any(s.startswith("dashboards/portfolio.json: annotation") for s in sources)
    assert any(s.startswith("provisioning/alerting/") and ": rule " in s for s in sources)
    assert len(sources) == len(set(sources))


def promtool_check(rules: dict, tmp_path):
    promtool = find_binary("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (make setup installs it)")
    path = tmp_path / "grafana-exprs.yml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False), encoding="utf-8")
    return subprocess.run([promtool, "check", "rules", str(path)],
                          capture_output=True, text=True, timeout=60)


def test_every_promql_expression_parses(tmp_path):
    """One group per expression, named after its source, so promtool's error names it."""
    groups = [{"name": f"{i}: {source}", "rules": [{"record": "grafana:expr:check", "expr": expr}]}
              for i, (source, expr) in enumerate(all_exprs())]
    result = promtool_check({"groups": groups}, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rejects_a_broken_expression(tmp_path):
    """The check above can fail: a syntax error is caught."""
    groups = [{"name": "broken", "rules": [{"record": "x:y", "expr": "rate(up[1m]"}]}]
    assert promtool_check({"groups": groups}, tmp_path).returncode != 0


def test_alert_rule_annotations_are_valid_templates(tmp_path):
    """Grafana expands annotations with Prometheus's template engine: promtool parses them."""
    rules = []
    for group in alerting_doc("groups"):
        for rule in group["rules"]:
            (expr,) = [d["model"]["expr"] for d in rule["data"] if d["refId"] == "A"]
            rules.append({"alert": rule["uid"], "expr": expr,
                          "annotations": rule.get("annotations", {})})
    assert rules
    result = promtool_check({"groups": [{"name": "grafana-rules", "rules": rules}]}, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


# --- alerting: contact points, policy, templates, rules ----------------------------------------

def contact_points():
    return {cp["name"]: cp["receivers"] for cp in alerting_doc("contactPoints")}


def test_provisioning_interpolates_only_the_variables_the_starters_set():
    """Any other "$" would be expanded by Grafana to "" (e.g. a Prometheus-style $labels)."""
    for path in provisioning_files():
        for value in string_values(load(path)):
            for match in re.finditer(r"\$(\$|\{[^}]*\}|\w+)?", value):
                token = match.group(1) or ""
                name = token.strip("{}")
                assert name in PROVISIONING_VARS, (
                    f"{path.name}: {value!r} has {match.group(0)!r}: Grafana expands every $ "
                    f"(use .Labels/.Values in templates, $$ for a literal $)")


def test_the_telegram_contact_point_takes_token_and_chat_from_the_environment():
    (receiver,) = contact_points()["telegram"]
    assert receiver["type"] == "telegram"
    settings = receiver["settings"]
    assert settings["bottoken"] == "${TELEGRAM_BOT_TOKEN}"
    assert settings["chatid"] == "${TELEGRAM_CHAT_ID}"
    assert settings["parse_mode"] == "HTML"
    assert set(settings) <= GRAFANA_TELEGRAM_KEYS
    assert receiver["disableResolveMessage"] is False


def test_the_alertmanager_contact_point_forwards_to_the_stacks_alertmanager():
    (receiver,) = contact_points()["stack-alertmanager"]
    assert receiver["type"] == "prometheus-alertmanager"
    assert receiver["settings"] == {"url": "${ALERTMANAGER_URL}"}


def test_no_bot_token_is_committed_in_grafana_files():
    token = re.compile(r"\d{6,}:[A-Za-z0-9_-]{30,}")
    for path in [*provisioning_files(), *exprs.dashboard_files()]:
        assert not token.search(path.read_text(encoding="utf-8")), path


def test_contact_point_uids_are_unique():
    uids = [r["uid"] for receivers in contact_points().values() for r in receivers]
    assert len(uids) == len(set(uids))


def test_the_policy_routes_to_the_contact_point_named_by_the_environment():
    (policy,) = alerting_doc("policies")
    assert policy["receiver"] == "${GRAFANA_ALERT_RECEIVER}"
    assert set(ALERT_RECEIVERS) == set(contact_points())
    assert set(policy["group_by"]) >= {"alertname"}


def test_the_telegram_message_template_is_defined_and_parses(tmp_path):
    """amtool parses the template with Alertmanager's engine (Grafana's is a superset)."""
    (template,) = alerting_doc("templates")
    (receiver,) = contact_points()["telegram"]
    name = re.search(r'template "([^"]+)"', receiver["settings"]["message"]).group(1)
    assert f'define "{name}"' in template["template"]
    amtool = find_binary("amtool")
    if amtool is None:
        pytest.skip("amtool is not installed (make setup installs it)")
    (tmp_path / "grafana.tmpl").write_text(template["template"], encoding="utf-8")
    config = {"route": {"receiver": "null"}, "receivers": [{"name": "null"}],
              "templates": [str(tmp_path / "grafana.tmpl")]}
    (tmp_path / "am.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    result = subprocess.run([amtool, "check-config", str(tmp_path / "am.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_availability_rule_fires_on_down_or_absent_target_for_1m():
    rules = {r["title"]: r for g in alerting_doc("groups") for r in g["rules"]}
    rule = rules["GrafanaPortfolioAppDown"]
    assert rule["for"] == "1m"
    assert rule["labels"]["severity"] and rule["labels"]["slo"] == "availability"
    assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    by_ref = {d["refId"]: d for d in rule["data"]}
    assert rule["condition"] in by_ref
    expr = by_ref["A"]["model"]["expr"]
    assert 'up{job="portfolio-app"}' in expr and "vector(0)" in expr
    threshold = by_ref[rule["condition"]]["model"]
    assert threshold["type"] == "threshold" and threshold["expression"] == "A"
    assert threshold["conditions"][0]["evaluator"] == {"type": "lt", "params": [1]}


def test_alert_rules_have_unique_uids_and_a_folder():
    groups = alerting_doc("groups")
    uids = [r["uid"] for g in groups for r in g["rules"]]
    assert len(uids) == len(set(uids))
    assert all(g["folder"] and g["interval"] for g in groups)


# --- the environment a native Grafana gets ---------------------------------------------------

def test_grafana_env_sets_every_provisioning_variable():
    environment = grafana_env("http://127.0.0.1:9090", "http://127.0.0.1:9093")
    assert set(PROVISIONING_VARS) <= set(environment)
    assert all(environment.values())
    assert environment["GRAFANA_ALERT_RECEIVER"] == "stack-alertmanager"
    assert environment["GF_PATHS_PROVISIONING"] == str(PROVISIONING)
    assert environment["GRAFANA_DASHBOARDS_DIR"] == str(GRAFANA_DIR / "dashboards")


def test_grafana_env_fills_placeholders_when_no_telegram_token_is_set():
    """Grafana refuses an empty bot token in a provisioned contact point."""
    environment = grafana_env("http://p", "http://a", telegram_bot_token="",
                              telegram_chat_id=None)
    assert environment["TELEGRAM_BOT_TOKEN"] == PLACEHOLDER_BOT_TOKEN
    assert environment["TELEGRAM_CHAT_ID"] == "0"
    real = grafana_env("http://p", "http://a", telegram_bot_token="123:abc",
                       telegram_chat_id="-100", alert_receiver="telegram")
    assert (real["TELEGRAM_BOT_TOKEN"], real["TELEGRAM_CHAT_ID"]) == ("123:abc", "-100")


def test_an_unknown_alert_receiver_is_rejected_with_the_choices():
    with pytest.raises(ValueError, match=r"GRAFANA_ALERT_RECEIVER: must be one of "
                                         r"stack-alertmanager, telegram \(got 'slack'\)"):
        grafana_env("http://p", "http://a", alert_receiver="slack")
