"""Static checks of the stack's configs and the launcher's pure parts.

Real promtool/amtool validate what we ship and what the launcher renders; the message template is
rendered by amtool exactly as Alertmanager renders it (html/template), without starting a server.
"""

import html.parser
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from slo.live.delivery import (
    LABELS_CAP,
    MESSAGE_CAPS,
    MESSAGE_LABELS,
    notices,
    shown_length,
)
from stack.config import SANDBOX_CHAT_ID, StackSettings, TelegramTarget
from stack.errors import StackConfigError
from stack.files import SECRET_KEYS, resolve_secrets, sandbox_bot_token, write_private
from stack.launcher import write_alertmanager_dir
from stack.links import FULL_UI, UiInfo
from stack.parts import build_parts
from stack.procs import find_binary
from stack.redact import mask_tokens
from stack.render import (
    ALERTMANAGER_TEMPLATE,
    JOB_PARTS,
    PROMETHEUS_SOURCE,
    RULES_DIR,
    TELEGRAM_TEMPLATE,
    native_prometheus_config,
    render_alertmanager,
    render_links,
    render_prometheus,
    select_rule_files,
)
from stack.setup import plan_setup
from stack.telegram_sandbox.formatting import parse_text
from tests.conftest import fake_bot_token

REPO = Path(__file__).resolve().parent.parent
TOKEN_SHAPE = re.compile(r"\d{6,}:[A-Za-z0-9_-]{30,}")
REAL_TOKEN = fake_bot_token(987654321, "AA", "w1")


def tool(name: str) -> str:
    path = find_binary(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `make setup`")
    return path


def run(*cmd, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, check=False)


def settings_for(tmp_path, **env) -> StackSettings:
    base = {"STACK_DIR": str(tmp_path / "stack"), "STACK_MODE": "native"}
    return StackSettings.from_env({**base, **env})


# -- Prometheus -------------------------------------------------------------------------------

def test_committed_compose_prometheus_config_passes_promtool():
    result = run(tool("promtool"), "check", "config", str(PROMETHEUS_SOURCE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_native_rendered_prometheus_config_passes_promtool(tmp_path):
    extra = tmp_path / "extra.yml"
    extra.write_text("groups: [{name: x, rules: [{alert: X, expr: vector(1)}]}]\n")
    settings = settings_for(tmp_path, APP_PORT="15001", STACK_EXTRA_RULES=str(extra))
    text, _warnings = native_prometheus_config(settings)
    path = tmp_path / "prometheus.yml"
    path.write_text(text)
    result = run(tool("promtool"), "check", "config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(text)
    jobs = {j["job_name"]: j["static_configs"][0]["targets"] for j in config["scrape_configs"]}
    assert jobs["portfolio-app"] == ["127.0.0.1:15001"]
    assert str(extra) in config["rule_files"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "127.0.0.1:9093"]


def test_every_rule_file_passes_promtool_check_rules():
    files = sorted(RULES_DIR.glob("*.yml"))
    assert RULES_DIR / "availability.yml" in files
    result = run(tool("promtool"), "check", "rules", *map(str, files))
    assert result.returncode == 0, result.stdout + result.stderr


def test_availability_rule_fires_after_its_for_window_and_not_while_up():
    result = run(tool("promtool"), "test", "rules", "availability_test.yml",
                 cwd=REPO / "tests" / "promtool")
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_config_keeps_the_intervals_that_bound_time_to_notify():
    config = yaml.safe_load(PROMETHEUS_SOURCE.read_text())
    assert config["global"]["scrape_interval"] == "5s"
    assert config["global"]["evaluation_interval"] == "5s"
    app_job = next(j for j in config["scrape_configs"] if j["job_name"] == "portfolio-app")
    assert app_job["scrape_interval"] == "5s" and app_job["metrics_path"] == "/metrics"


def test_every_prometheus_job_has_a_native_target():
    config = yaml.safe_load(PROMETHEUS_SOURCE.read_text())
    assert {j["job_name"] for j in config["scrape_configs"]} == set(JOB_PARTS)


def test_a_job_without_a_native_target_is_an_error():
    source = "scrape_configs: [{job_name: mystery, static_configs: [{targets: ['m:1']}]}]\n"
    with pytest.raises(StackConfigError, match="'mystery' has no native target"):
        render_prometheus(source, {"portfolio-app": "127.0.0.1:1"}, "127.0.0.1:2", [])


def test_every_hand_written_rule_file_is_listed_in_the_compose_config():
    config = yaml.safe_load(PROMETHEUS_SOURCE.read_text())
    hand_written = {f"rules/{p.name}" for p in RULES_DIR.glob("*.yml")
                    if not p.name.startswith("slo-")}
    assert hand_written <= set(config["rule_files"])
    assert "rules/slo-standard.yml" in config["rule_files"]
    assert "rules/slo-fast.yml" not in config["rule_files"]


def test_one_slo_profile_is_loaded_with_the_hand_written_rules():
    names = ["availability.yml", "slo-standard.yml", "slo-fast.yml", "latency.yml"]
    assert select_rule_files(names, "fast") == ["availability.yml", "latency.yml",
                                                "slo-fast.yml"]
    assert select_rule_files(names, "standard")[-1] == "slo-standard.yml"


def test_a_missing_slo_profile_is_a_warning_not_a_crash(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "availability.yml").write_text("groups: []\n")
    text, warnings = native_prometheus_config(settings_for(tmp_path, SLO_PROFILE="fast"),
                                              rules_dir=rules)
    assert yaml.safe_load(text)["rule_files"] == [str(rules / "availability.yml")]
    assert "slo-fast.yml not found" in warnings[0] and "make rules" in warnings[0]


# -- Alertmanager -----------------------------------------------------------------------------

SANDBOX = TelegramTarget("sandbox", "http://127.0.0.1:18081", SANDBOX_CHAT_ID, sandbox_bot_token())
REAL = TelegramTarget("telegram", "https://api.telegram.org", -1009876543210, REAL_TOKEN)


@pytest.mark.parametrize("telegram", [SANDBOX, REAL], ids=["sandbox", "real-telegram"])
def test_rendered_alertmanager_config_passes_amtool(tmp_path, telegram):
    out = tmp_path / "alertmanager" / "alertmanager.yml"
    write_alertmanager_dir(out, telegram, "http://127.0.0.1:3000")
    result = run(tool("amtool"), "check-config", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 templates" in result.stdout
    receiver = yaml.safe_load(out.read_text())["receivers"][0]["telegram_configs"][0]
    assert receiver["api_url"] == telegram.api_url
    assert receiver["chat_id"] == telegram.chat_id
    assert receiver["parse_mode"] == "HTML" and receiver["send_resolved"] is True


def test_rendered_alertmanager_config_is_private(tmp_path):
    out = tmp_path / "am" / "alertmanager.yml"
    write_alertmanager_dir(out, REAL, None)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert REAL_TOKEN in out.read_text()


def test_the_run_directory_is_git_ignored_and_holds_no_tracked_file():
    ignored = run("git", "check-ignore", "-q", ".stack/alertmanager/alertmanager.yml",
                  cwd=REPO)
    assert ignored.returncode == 0, ".stack/ must be in .gitignore"
    tracked = run("git", "ls-files", ".stack", cwd=REPO)
    assert tracked.stdout.strip() == ""


def test_the_templates_hold_no_token_and_only_the_three_placeholders():
    template = ALERTMANAGER_TEMPLATE.read_text()
    for text in (template, TELEGRAM_TEMPLATE.read_text()):
        assert not TOKEN_SHAPE.search(text)
    assert set(re.findall(r"\$\{(\w+)\}", template)) == {"api_url", "bot_token", "chat_id"}


@pytest.mark.parametrize("telegram, message", [
    (TelegramTarget("sandbox", "http://x:1", 1, "123:abc\nroute: {}"), "bot token"),
    (TelegramTarget("telegram", "https://api.telegram.org/bot", 1, REAL_TOKEN), "TELEGRAM_API_URL"),
    (TelegramTarget("telegram", "ftp://api.telegram.org", 1, REAL_TOKEN), "TELEGRAM_API_URL"),
], ids=["token-with-yaml-injection", "api-url-with-path", "api-url-not-http"])
def test_rendering_refuses_values_that_would_break_the_config(telegram, message):
    with pytest.raises(StackConfigError, match=message):
        render_alertmanager(ALERTMANAGER_TEMPLATE.read_text(), telegram)


def test_links_template_is_empty_without_grafana():
    assert "<a" not in render_links(None)
    assert 'http://127.0.0.1:3000{{ . }}' in render_links("http://127.0.0.1:3000")
    with pytest.raises(StackConfigError, match="GRAFANA_URL"):
        render_links('http://x:3000"><b>')


# -- The Telegram message, rendered as Alertmanager does (amtool, html/template) ---------------

def alert(name, status="firing", **annotations):
    return {"status": status,
            "labels": {"alertname": name, "severity": "page", "slo": "availability",
                       "service": "portfolio-app"},
            "annotations": annotations, "startsAt": "2026-01-01T10:00:00Z",
            "endsAt": "2026-01-01T10:05:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=up&g0.tab=1", "fingerprint": "f"}


def render_message(tmp_path, alerts, grafana_url="http://127.0.0.1:3000",
                   ui=FULL_UI) -> str:
    out = tmp_path / "am" / "alertmanager.yml"
    write_alertmanager_dir(out, SANDBOX, grafana_url, ui)
    data = {"receiver": "telegram", "status": "firing" if any(
                a["status"] == "firing" for a in alerts) else "resolved",
            "alerts": alerts, "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://127.0.0.1:9093"}
    (tmp_path / "data.json").write_text(json.dumps(data))
    result = run(tool("amtool"), "template", "render", f"--template.glob={out.parent}/*.tmpl",
                 "--template.type=html", f"--template.data={tmp_path / 'data.json'}",
                 '--template.text={{ template "telegram.slo.message" . }}')
    assert result.returncode == 0, result.stderr
    return result.stdout


class TagChecker(html.parser.HTMLParser):
    """Collects the tags of a Telegram HTML message and checks they balance."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.tags, self.text = [], set(), []

    def handle_starttag(self, tag, attrs):
        self.stack.append(tag)
        self.tags.add(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack.pop() == tag, f"unbalanced </{tag}>"

    def handle_data(self, data):
        self.text.append(data)


def parse_telegram_html(message: str) -> TagChecker:
    checker = TagChecker()
    checker.feed(message)
    checker.close()
    assert checker.stack == []
    return checker


def test_message_shows_status_name_severity_slo_summary_value_and_links(tmp_path):
    message = render_message(tmp_path, [
        alert("PortfolioAppDown", summary="app down", value="0", dashboard="/d/slo-harness-app",
              runbook_url="https://runbooks.example/app"),
        alert("HighErrorRatio", status="resolved", summary="errors back to normal")])
    assert "<b>FIRING</b> <b>PortfolioAppDown</b>" in message
    assert "<b>RESOLVED</b> <b>HighErrorRatio</b>" in message
    assert "severity <code>page</code> · SLO <code>availability</code>" in message
    assert "app down" in message and "value <code>0</code>" in message
    assert '<a href="http://127.0.0.1:9090/graph?g0.expr=up&amp;g0.tab=1">Prometheus</a>' in message
    assert '<a href="http://127.0.0.1:3000/d/slo-harness-app">Grafana</a>' in message
    assert '<a href="https://runbooks.example/app">runbook</a>' in message
    assert message.index("PortfolioAppDown") < message.index("HighErrorRatio")
    assert parse_telegram_html(message).tags <= {"b", "i", "code", "pre", "a"}


def test_message_escapes_label_and_annotation_values(tmp_path):
    evil = alert("X", summary="<script>alert(1)</script> & </b>", value="<1>")
    evil["labels"]["service"] = "<i>svc"
    message = render_message(tmp_path, [evil])
    checker = parse_telegram_html(message)
    assert "script" not in checker.tags
    assert "&lt;script&gt;" in message and "&lt;i&gt;svc" in message
    assert "<script>alert(1)</script> & </b>" in "".join(checker.text)


def test_message_without_grafana_has_no_grafana_link(tmp_path):
    message = render_message(tmp_path, [alert("X", dashboard="/d/slo-harness-app")],
                             grafana_url=None)
    assert "Grafana" not in message and "Prometheus</a>" in message


def test_messages_link_only_to_pages_this_build_serves(tmp_path):
    """Debian's Prometheus 2.42 serves only /classic/graph (its /graph is a 404) and its
    Alertmanager 0.25 no web UI: the links follow; with no Prometheus UI, no link at all."""
    full = render_message(tmp_path / "f", [alert("X")])
    assert '<a href="http://127.0.0.1:9093">Alertmanager</a>' in full
    classic = render_message(tmp_path / "c", [alert("X")], ui=UiInfo("/classic", False))
    assert ('<a href="http://127.0.0.1:9090/classic/graph?g0.expr=up&amp;g0.tab=1">'
            'Prometheus</a>') in classic
    assert "Alertmanager</a>" not in classic
    bare = render_message(tmp_path / "n", [alert("X")], ui=UiInfo(None, False))
    assert "Prometheus</a>" not in bare and "Alertmanager</a>" not in bare
    assert parse_telegram_html(bare).tags <= {"b", "i", "code", "pre", "a"}
    with pytest.raises(StackConfigError, match="Prometheus UI prefix"):
        render_links(None, "/new")


def test_message_lists_at_most_five_alerts_and_counts_the_others(tmp_path):
    message = render_message(tmp_path, [alert(f"A{i}", summary="s" * 200) for i in range(12)])
    assert message.count("<b>FIRING</b>") == 5
    assert "… and 7 more firing (12 in all)" in message
    assert len(message) < 4096


def test_each_value_is_cut_to_its_cap_on_the_escaped_text_never_inside_an_entity(tmp_path):
    one = alert("Cut", summary="&" * 300, description="a<b>" * 200, value="1" * 30)
    message = render_message(tmp_path, [one])
    summary_line = message.splitlines()[3]
    assert summary_line == "&amp;" * 40 + "…"   # 200 runes of escaped text, no half entity
    assert "<i>" + "a&lt;b&gt;" * 40 + "…</i>" in message   # 400 runes
    assert "value <code>" + "1" * 24 + "…</code>" in message
    parse_text(message, "HTML")


def test_a_link_too_long_or_not_a_url_is_left_out_never_cut(tmp_path):
    odd = alert("Links", summary="s", runbook_url="https://x/" + "r" * 200,
                dashboard='/d/a"onmouseover="x')
    odd["generatorURL"] = "javascript:alert(1)"
    message = render_message(tmp_path, [odd])
    assert "runbook" not in message and "Grafana" not in message
    assert "Prometheus" not in message and "javascript" not in message
    parse_text(message, "HTML")


def shown(tmp_path, *alerts) -> tuple[str, list]:
    """The message as Telegram shows it (HTML parsed as the sandbox does) and the alert blocks
    slo.live.delivery reads from it."""
    plain, _entities = parse_text(render_message(tmp_path, list(alerts)), "HTML")
    return plain, notices([{"text": plain}])


def with_labels(name, status="firing", **labels):
    one = alert(name, status, summary="s")
    one["labels"].update(labels)
    return one


def test_each_alert_shows_its_other_labels_in_a_line_delivery_reads_back_exactly(tmp_path):
    """Issue 19 item 4: two alerts alike but for a label the message did not show were one
    delivery. Every label is shown (long and short first, then the others by name), each value
    Go-quoted so none can pass for a separator, and read back exactly."""
    odd = {"note": 'a "b", c=\\d\nx & <i>', "zone": "é🔥"}
    plain, blocks = shown(tmp_path,
                          with_labels("ErrorBudgetBurn", instance="127.0.0.1:5000", long="1m",
                                      short="20s", job="app"),
                          with_labels("Odd", **odd), alert("Bare"))
    lines = plain.splitlines()
    assert lines[2] == 'labels long="1m", short="20s", instance="127.0.0.1:5000", job="app"'
    assert 'labels note="a \\"b\\", c=\\\\d\\nx & <i>", zone="é🔥"' in plain
    assert "labels none" in plain
    alerts = [with_labels("ErrorBudgetBurn", instance="127.0.0.1:5000", long="1m",
                          short="20s", job="app"), with_labels("Odd", **odd), alert("Bare")]
    assert [(b.labels, b.complete) for b in blocks] == [(a["labels"], True) for a in alerts]


def test_a_labels_line_past_its_cap_is_cut_marked_and_read_as_incomplete(tmp_path):
    """The message guarantees the labels of delivery.MESSAGE_LABELS (the head's four, then long
    and short before any other); the rest as far as the line's cap allows."""
    many = {f"l{i:02}": "v" * 10 for i in range(12)}
    plain, (block,) = shown(tmp_path, with_labels("Many", long="6m", short="30s", **many))
    line = plain.splitlines()[2]
    assert line.startswith('labels long="6m", short="30s", l00="vvvvvvvvvv", ')
    assert line.endswith("…") and len(line) == len("labels ") + LABELS_CAP + 1
    assert not block.complete
    assert {k: block.labels[k] for k in MESSAGE_LABELS} == {
        "alertname": "Many", "severity": "page", "slo": "availability",
        "service": "portfolio-app", "long": "6m", "short": "30s"}
    assert set(block.labels) < set(MESSAGE_LABELS) | set(many)
    longest = {k: k[0] * 30 for k in ("long", "short")}     # at delivery.MESSAGE_CAPS
    assert all(shown_length(k, v) == MESSAGE_CAPS[k] for k, v in longest.items())
    _plain, (block,) = shown(tmp_path / "caps", with_labels("Many", **longest, **many))
    assert {k: block.labels[k] for k in longest} == longest


def worst_alert(i: int, status: str) -> dict:
    """Every field far over its cap with '&' (escaping makes it 5x longer), links at caps."""
    amp = "&" * 5000
    return {"status": status,
            "labels": {"alertname": amp, "severity": amp, "slo": amp, "service": amp,
                       "instance": str(i), "long": amp, "zone": amp},
            "annotations": {"summary": amp, "description": amp, "value": amp,
                            "dashboard": "/" + "d" * 119, "runbook_url": "http://" + "r" * 153},
            "startsAt": "2026-01-01T10:00:00Z",
            "endsAt": "2026-01-01T10:05:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
            "generatorURL": "http://" + "g" * 393, "fingerprint": f"f{i}"}


@pytest.mark.parametrize("firing, resolved", [(1, 0), (0, 7), (6, 2), (12, 12)])
def test_the_worst_message_stays_under_alertmanagers_cut_and_parses_as_telegram_html(
        tmp_path, firing, resolved):
    alerts = ([worst_alert(i, "firing") for i in range(firing)]
              + [worst_alert(i, "resolved") for i in range(firing, firing + resolved)])
    message = render_message(tmp_path, alerts, grafana_url="http://" + "g" * 57)  # 64 runes
    assert len(message) <= 3856 < 4096        # runes, as Alertmanager 0.25 counts before its cut
    text, _entities = parse_text(message, "HTML")  # what Telegram would accept and show
    assert len(text) < len(message)
    assert message.count("</b>") >= 2 * min(5, firing + resolved)


def test_grafana_url_longer_than_the_budget_assumes_is_refused():
    with pytest.raises(StackConfigError, match="GRAFANA_URL: at most 64 characters"):
        render_links("http://" + "g" * 58)


# -- Settings, secrets, files -------------------------------------------------------------------

def test_default_ports_match_the_design():
    settings = StackSettings.from_env({})
    assert settings.ports == {"telegram-sandbox": 8081, "app": 5000, "alertmanager": 9093,
                              "prometheus": 9090, "grafana": 3000, "locust": 8089}
    assert settings.slo_profile == "standard" and settings.mode == "auto"


@pytest.mark.parametrize("env, message", [
    ({"APP_PORT": "http"}, "APP_PORT: expected a port number"),
    ({"PROMETHEUS_PORT": "70000"}, "PROMETHEUS_PORT: expected a port number 1-65535"),
    ({"APP_PORT": "9090"}, "are both 9090"),
    ({"SLO_PROFILE": "slow"}, "SLO_PROFILE: expected one of standard, fast"),
    ({"STACK_MODE": "k8s"}, "STACK_MODE: expected one of auto, native, compose"),
    ({"TELEGRAM_BOT_TOKEN": REAL_TOKEN}, "set both for real Telegram, or neither"),
    ({"TELEGRAM_BOT_TOKEN": "nope", "TELEGRAM_CHAT_ID": "1"}, "TELEGRAM_BOT_TOKEN: not a bot"),
    ({"TELEGRAM_BOT_TOKEN": REAL_TOKEN, "TELEGRAM_CHAT_ID": "@oncall"}, "numeric chat id"),
    ({"TELEGRAM_API_URL": "https://api.telegram.org/botX"}, "TELEGRAM_API_URL: expected a base"),
    ({"STACK_EXTRA_RULES": "/nonexistent/rules.yml"}, "STACK_EXTRA_RULES: /nonexistent"),
], ids=lambda v: next(iter(v)) if isinstance(v, dict) else None)
def test_invalid_settings_are_rejected_naming_the_variable(env, message):
    with pytest.raises(StackConfigError, match=re.escape(message)) as err:
        StackSettings.from_env(env)
    assert REAL_TOKEN not in str(err.value)


def test_telegram_goes_to_the_sandbox_unless_token_and_chat_are_set():
    sandbox = StackSettings.from_env({"TELEGRAM_SANDBOX_PORT": "18081"}).telegram("1:" + "a" * 35)
    assert (sandbox.mode, sandbox.api_url, sandbox.chat_id) == (
        "sandbox", "http://127.0.0.1:18081", SANDBOX_CHAT_ID)
    real = StackSettings.from_env({"TELEGRAM_BOT_TOKEN": REAL_TOKEN,
                                   "TELEGRAM_CHAT_ID": "-100123"}).telegram("1:" + "a" * 35)
    assert (real.mode, real.api_url, real.chat_id, real.bot_token) == (
        "telegram", "https://api.telegram.org", -100123, REAL_TOKEN)
    assert REAL_TOKEN not in repr(real)


def test_secrets_are_generated_once_and_kept_across_restarts():
    first = resolve_secrets({}, {})
    assert set(first) == set(SECRET_KEYS)
    assert re.fullmatch(r"\d{10}:[A-Za-z0-9_-]{35}", first["TELEGRAM_SANDBOX_TOKEN"])
    assert resolve_secrets(first, {}) == first
    assert resolve_secrets(first, {"FAULT_ADMIN_TOKEN": "mine"})["FAULT_ADMIN_TOKEN"] == "mine"


def test_private_files_are_mode_600_even_with_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        write_private(tmp_path / "d" / "env", "A=1\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "d" / "env").stat().st_mode) == 0o600


def test_no_secret_is_passed_on_a_command_line(tmp_path):
    settings = settings_for(tmp_path)
    secrets = resolve_secrets({}, {})
    parts = build_parts(settings, secrets, {"prometheus": "/bin/prometheus",
                                            "alertmanager": "/bin/alertmanager"},
                        grafana=("/bin/grafana", ["/bin/grafana", "server"]))
    assert [p.name for p in parts] == ["telegram-sandbox", "app", "alertmanager", "prometheus",
                                       "grafana"]
    for part in parts:
        argv = " ".join(part.cmd)
        assert not any(value in argv for value in secrets.values()), part.name
    assert next(p for p in parts if p.name == "app").env["FAULT_ADMIN_TOKEN"] == (
        secrets["FAULT_ADMIN_TOKEN"])
    prometheus = next(p for p in parts if p.name == "prometheus").cmd
    assert "--rules.alert.resend-delay=5s" in prometheus
    assert not any("admin-api" in a or "lifecycle" in a for a in prometheus)
    assert "--cluster.listen-address=" in next(p for p in parts if p.name == "alertmanager").cmd


@pytest.mark.parametrize("with_spec", [True, False], ids=["your-spec", "no-spec"])
def test_native_grafana_in_front_of_target_url_provisions_nothing_of_the_demo(tmp_path,
                                                                              with_spec):
    """The demo's GrafanaPortfolioAppDown reads `up{job="portfolio-app"} or on() vector(0)`:
    provisioned in front of the user's service, where no demo app runs, it pages in a minute."""
    from stack.launcher import _plan, _write_configs

    env = {"TARGET_URL": "http://127.0.0.1:8000"}
    if with_spec:
        spec = tmp_path / "my.yaml"
        spec.write_text("version: slo-harness/v1\nservice: my-shop\nprometheus:\n"
                        "  preset: envoy\n  job: envoy\n"
                        "slos:\n  - {name: errors, objective: ratio <= 1%}\n")
        env["SLO_SPEC"] = str(spec)
        made = subprocess.run([sys.executable, "-m", "slo.cli", "rules", "--stack"],
                              env={**os.environ, "STACK_DIR": str(tmp_path / "stack"), **env},
                              capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stdout + made.stderr
    settings = settings_for(tmp_path, **env)
    pairs, telegram = _plan(settings, "native", grafana=True)
    _write_configs(settings, "native", True, pairs, telegram)
    (grafana,) = [p for p in build_parts(settings, resolve_secrets({}, {}),
                                         {"prometheus": "-", "alertmanager": "-"},
                                         grafana=("/bin/grafana", ["/bin/grafana", "server"]))
                  if p.name == "grafana"]
    provisioning = Path(grafana.env["GF_PATHS_PROVISIONING"])
    dashboards = Path(grafana.env["GRAFANA_DASHBOARDS_DIR"])
    assert settings.paths.root in provisioning.parents and settings.paths.root in \
        dashboards.parents
    files = sorted(p.relative_to(provisioning).as_posix() for p in provisioning.rglob("*.yaml"))
    own = ["alerting/slo-rules.yaml"] if with_spec else []
    assert files == sorted(["alerting/contact-points.yaml", "alerting/notification-policies.yaml",
                            "alerting/notification-templates.yaml", *own,
                            "dashboards/dashboards.yaml", "datasources/prometheus.yaml"])
    assert [p.name for p in dashboards.iterdir()] == (["slo.json"] if with_spec else [])
    for path in [*provisioning.rglob("*.yaml"), *dashboards.iterdir()]:
        assert "portfolio" not in path.read_text(), path
    home = Path(grafana.env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert home.parent == dashboards and home.is_file() == with_spec
    if with_spec:
        assert "my-shop" in (provisioning / "alerting" / "slo-rules.yaml").read_text()


def test_the_log_filter_masks_tokens_in_bot_api_urls():
    line = f'msg="Notify failed" err="Post \\"https://api.telegram.org/bot{REAL_TOKEN}/sendMessage\\""'
    assert REAL_TOKEN not in mask_tokens(line)
    assert "/bot987654321:AA…w1/sendMessage" in mask_tokens(line)
    assert mask_tokens("ts=10:11:12 addr=127.0.0.1:9093") == "ts=10:11:12 addr=127.0.0.1:9093"


def test_setup_installs_only_what_is_missing():
    present = {"prometheus", "promtool", "chromium", "chromedriver", "wrk", "nginx", "apt-get",
               "victoria-metrics", "vmalert", "ip"}
    plan = plan_setup(which=lambda name: f"/usr/bin/{name}" if name in present else None,
                      is_root=True)
    assert plan.packages == ["prometheus-alertmanager"]
    assert plan.command == ["apt-get", "install", "-y", "--no-install-recommends",
                            "prometheus-alertmanager"]
    assert plan.can_run
    unprivileged = plan_setup(which=lambda name: None, is_root=False)
    assert unprivileged.command[0] == "sudo" and not unprivileged.can_run


# -- The render commands compose.yaml runs ---------------------------------------------------

def cli(*args, env=None):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SLO_"))}
    return subprocess.run([sys.executable, "-m", "stack", *args], cwd=REPO, text=True,
                          capture_output=True, check=False, env={**base, **(env or {})})


def test_render_alertmanager_command_writes_a_valid_private_config(tmp_path):
    out = tmp_path / "rendered" / "alertmanager.yml"
    result = cli("render-alertmanager", "--out", str(out), "--sandbox-url",
                 "http://telegram-sandbox:8081",
                 env={"STACK_DIR": str(tmp_path / "none"), "GRAFANA_URL": "http://127.0.0.1:3000"})
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert run(tool("amtool"), "check-config", str(out)).returncode == 0
    receiver = yaml.safe_load(out.read_text())["receivers"][0]["telegram_configs"][0]
    assert receiver["api_url"] == "http://telegram-sandbox:8081"
    assert "127.0.0.1:3000" in (out.parent / "links.tmpl").read_text()
    assert TOKEN_SHAPE.search(out.read_text()) and not TOKEN_SHAPE.search(result.stdout)


def test_render_prometheus_command_selects_the_fast_profile_for_compose(tmp_path):
    workdir = tmp_path / "prometheus"
    (workdir / "rules").mkdir(parents=True)
    for rule in RULES_DIR.glob("*.yml"):
        (workdir / "rules" / rule.name).write_text(rule.read_text())
    result = cli("render-prometheus", "--out", str(workdir / "prometheus.yml"),
                 env={"SLO_PROFILE": "fast"})
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load((workdir / "prometheus.yml").read_text())
    assert "rules/slo-fast.yml" in config["rule_files"]
    assert "rules/slo-standard.yml" not in config["rule_files"]
    check = run(tool("promtool"), "check", "config", str(workdir / "prometheus.yml"))
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_redactor_masks_its_childs_output_and_keeps_its_exit_code():
    script = f"echo 'Post https://api.telegram.org/bot{REAL_TOKEN}/sendMessage: refused'; exit 3"
    result = subprocess.run([sys.executable, "-m", "stack.redact", "--", "sh", "-c", script],
                            capture_output=True, text=True, check=False, cwd=REPO)
    assert result.returncode == 3
    assert REAL_TOKEN not in result.stdout and "/sendMessage: refused" in result.stdout
