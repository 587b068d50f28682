"""Config rendering: pure functions from (source text, settings) to config text.

The committed sources are stack/prometheus/prometheus.yml (the compose config, with the comments
that explain it) and stack/alertmanager/alertmanager.yml.tmpl + telegram.tmpl. Rendering never
reads the environment; the launcher and `python -m stack render-*` write the results.
"""

from __future__ import annotations

import json
import re
import shutil
import string
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml

from stack.config import BOT_TOKEN_RE, STACK_PACKAGE, StackSettings, TelegramTarget, check_api_url
from stack.errors import StackConfigError

PROMETHEUS_SOURCE = STACK_PACKAGE / "prometheus" / "prometheus.yml"
RULES_DIR = STACK_PACKAGE / "prometheus" / "rules"
ALERTMANAGER_TEMPLATE = STACK_PACKAGE / "alertmanager" / "alertmanager.yml.tmpl"
TELEGRAM_TEMPLATE = STACK_PACKAGE / "alertmanager" / "telegram.tmpl"

# Prometheus job -> stack part whose port it scrapes (every job in prometheus.yml must be here).
JOB_PARTS = {
    "portfolio-app": "app",
    "prometheus": "prometheus",
    "alertmanager": "alertmanager",
    "telegram-sandbox": "telegram-sandbox",
    "locust": "locust",
    "envoy": "proxy-admin",
}
# Jobs of the source that a native stack scrapes only when it runs the part they name.
OPTIONAL_JOBS = {"envoy": "proxy-admin"}
TARGET_JOB = "target"
GENERATED_RULE_PREFIX = "slo-"
# telegram.tmpl's worst case (3,856 of Alertmanager's 4,096 runes) assumes a Grafana base URL of
# at most this many characters
GRAFANA_URL_MAX = 64

HEADER = ("# Rendered by `python -m stack` from {source}; do not edit (the comments that explain\n"
          "# every setting are in the source). Re-rendered at each start.\n")


def target_job(metrics_url: str) -> dict:
    """A scrape job for a service's own metrics page (TARGET_METRICS_URL)."""
    parts = urlsplit(metrics_url)
    job = {"job_name": TARGET_JOB, "scheme": parts.scheme,
           "metrics_path": parts.path or "/metrics",
           "static_configs": [{"targets": [parts.netloc]}]}
    if parts.query:
        job["params"] = {k: v for k, v in parse_qs(parts.query).items()}
    return job


def render_prometheus(source_text: str, targets: Mapping[str, str], alertmanager: str,
                      rule_files: Iterable[str | Path], source_name: str = "prometheus.yml",
                      drop_jobs: Iterable[str] = (), extra_jobs: Iterable[dict] = ()) -> str:
    """The Prometheus config with each job's targets, the Alertmanager and rule files replaced.

    `targets` maps job name -> "host:port". A job of the source without a target is an error, so
    a job added to prometheus.yml cannot silently keep its compose address in native runs;
    `drop_jobs` are left out on purpose (a part this run does not have), `extra_jobs` added.
    """
    config = yaml.safe_load(source_text)
    dropped = set(drop_jobs)
    config["scrape_configs"] = [j for j in config.get("scrape_configs", [])
                                if j["job_name"] not in dropped]
    for job in config.get("scrape_configs", []):
        name = job["job_name"]
        if name not in targets:
            raise StackConfigError(f"{source_name}: scrape_configs job {name!r} has no native "
                                   f"target: add it to stack.render.JOB_PARTS")
        job["static_configs"] = [{"targets": [targets[name]]}]
    config["scrape_configs"] += list(extra_jobs)
    config["rule_files"] = [str(path) for path in rule_files]
    config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    body = yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
    return HEADER.format(source=source_name) + body


def select_rule_files(rule_names: Iterable[str], profile: str) -> list[str]:
    """Hand-written rule files (every *.yml not starting with 'slo-') plus slo-<profile>.yml.

    Only one generated profile is loaded: standard and fast define the same alert names.
    """
    names = sorted(set(rule_names))
    chosen = [n for n in names if not n.startswith(GENERATED_RULE_PREFIX)]
    wanted = f"{GENERATED_RULE_PREFIX}{profile}.yml"
    if wanted in names:
        chosen.append(wanted)
    return chosen


DEMO_JOB = "portfolio-app"


def native_rule_files(settings: StackSettings, rules_dir: Path = RULES_DIR
                      ) -> tuple[list[Path], list[str]]:
    """(rule files, warnings) of a native run.

    The demo's: its hand-written rules unless the stack runs in front of TARGET_URL, and its
    generated SLO profile unless a SLO_SPEC names the user's (whose rules `slo rules --stack`
    generated into <STACK_DIR>/rules). Then STACK_EXTRA_RULES.
    """
    profile = f"{GENERATED_RULE_PREFIX}{settings.slo_profile}.yml"
    names = [p.name for p in rules_dir.glob("*.yml")]
    chosen = select_rule_files(names, settings.slo_profile)
    files: list[Path] = []
    warnings: list[str] = []
    if not settings.proxy:
        files += [rules_dir / n for n in chosen if not n.startswith(GENERATED_RULE_PREFIX)]
    if settings.spec is not None:
        own = settings.paths.spec_rules / profile
        if not own.is_file():
            raise StackConfigError(
                f"SLO_SPEC (SPEC): {own} not found: generate the spec's rules first with "
                f"`slo rules --stack --spec {settings.spec}` (`make stack SPEC=...` does)")
        files.append(own)
    elif not settings.proxy:
        if profile in chosen:
            files.append(rules_dir / profile)
        else:
            warnings.append(f"{rules_dir / profile} not found: SLO alerts are off until "
                            f"`make rules` generates it (SLO_PROFILE={settings.slo_profile})")
    else:
        warnings.append(f"no SLO rules loaded: the stack runs in front of {settings.target_url} "
                        f"without a spec; `make stack SPEC=your-slos.yaml` loads your spec's "
                        f"rules (the demo's are left out)")
    return files + list(settings.extra_rules), warnings


def native_prometheus_config(settings: StackSettings, rules_dir: Path = RULES_DIR,
                             source: Path = PROMETHEUS_SOURCE) -> tuple[str, list[str]]:
    """(config text, warnings) for a native run: 127.0.0.1 targets, absolute rule paths; with
    TARGET_URL no scrape job of the demo app (the user's service is scraped through Envoy and
    TARGET_METRICS_URL)."""
    rule_files, warnings = native_rule_files(settings, rules_dir)
    drop = [job for job, part in OPTIONAL_JOBS.items() if part not in settings.ports]
    if settings.proxy:
        drop.append(DEMO_JOB)
    targets = {job: settings.address(part) for job, part in JOB_PARTS.items() if job not in drop}
    extra = [target_job(settings.target_metrics_url)] if settings.target_metrics_url else []
    text = render_prometheus(source.read_text(encoding="utf-8"), targets,
                             settings.address("alertmanager"), rule_files,
                             source_name="stack/prometheus/prometheus.yml", drop_jobs=drop,
                             extra_jobs=extra)
    return text, warnings


def compose_prometheus_dir(settings: StackSettings, dest: Path, rules_dir: Path = RULES_DIR,
                           source: Path = PROMETHEUS_SOURCE) -> list[str]:
    """compose.yaml's Prometheus config for a stack in front of TARGET_URL, written into `dest`
    (mounted at /etc/prometheus in place of stack/prometheus): the source's compose targets
    without the demo's job, the rule files native_rule_files() chooses (your spec's, none of
    the demo's) copied into dest/rules, and TARGET_METRICS_URL's job (as the containers reach
    it). Returns the warnings."""
    rule_files, warnings = native_rule_files(settings, rules_dir)
    rules = dest / "rules"
    shutil.rmtree(rules, ignore_errors=True)
    rules.mkdir(parents=True)
    names = []
    for index, path in enumerate(rule_files):
        name = f"{index:02d}-{path.name}"     # unique: two STACK_EXTRA_RULES may share a name
        shutil.copyfile(path, rules / name)
        names.append(f"rules/{name}")
    config = yaml.safe_load(source.read_text(encoding="utf-8"))
    targets = {job["job_name"]: job["static_configs"][0]["targets"][0]
               for job in config["scrape_configs"] if job["job_name"] != DEMO_JOB}
    alertmanager = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0]
    extra = [target_job(settings.target_metrics_url)] if settings.target_metrics_url else []
    text = render_prometheus(source.read_text(encoding="utf-8"), targets, alertmanager, names,
                             source_name="stack/prometheus/prometheus.yml", drop_jobs=[DEMO_JOB],
                             extra_jobs=extra)
    (dest / "prometheus.yml").write_text(text, encoding="utf-8")
    return warnings


def yaml_scalar(value: str | int) -> str:
    """A YAML-safe scalar (JSON strings are valid YAML double-quoted strings)."""
    return json.dumps(value)


def render_alertmanager(template_text: str, telegram: TelegramTarget) -> str:
    """The Alertmanager config: the template's ${api_url}, ${bot_token}, ${chat_id} filled in.

    Values are validated and quoted, so no setting can inject YAML.
    """
    if not BOT_TOKEN_RE.match(telegram.bot_token):
        raise StackConfigError("bot token: expected '<digits>:<secret>' (TELEGRAM_BOT_TOKEN or "
                               "the generated TELEGRAM_SANDBOX_TOKEN in .stack/env)")
    if not isinstance(telegram.chat_id, int):
        raise StackConfigError("TELEGRAM_CHAT_ID: must be a number")
    api_url = check_api_url("TELEGRAM_API_URL", telegram.api_url)
    try:
        return string.Template(template_text).substitute(
            api_url=yaml_scalar(api_url), bot_token=yaml_scalar(telegram.bot_token),
            chat_id=str(telegram.chat_id))
    except (KeyError, ValueError) as err:
        raise StackConfigError(f"alertmanager.yml.tmpl: bad placeholder {err}; only ${{api_url}}, "
                               f"${{bot_token}} and ${{chat_id}} exist") from err


def render_links(grafana_url: str | None, prometheus_prefix: str | None = "",
                 alertmanager_ui: bool = True) -> str:
    """links.tmpl: the link templates telegram.tmpl calls, for pages that answer.

    "slo.grafana_link" takes a dashboard path; empty when the stack has no Grafana.
    "slo.prometheus_link" takes an alert's GeneratorURL (Prometheus's /graph of the rule): as
    it is for the new UI (prefix ""), moved under /classic/ for a build with only the classic
    pages (Debian's 2.42), nothing when neither answers (None). "slo.alertmanager_link" takes
    Alertmanager's ExternalURL: nothing for a build without its web UI (Debian's 0.25).
    See stack.links.
    """
    head = '{{/* Rendered by `python -m stack`: links for telegram.tmpl. */}}\n'
    graphs = {"": '{{ template "tg.link" (stringSlice "400" . "Prometheus" "") }}',
              "/classic": ('{{ template "tg.link" (stringSlice "400" (reReplaceAll '
                           '"/graph[?]" "/classic/graph?" .) "Prometheus" "") }}'),
              None: ""}
    if prometheus_prefix not in graphs:
        raise StackConfigError(f'Prometheus UI prefix: expected "", "/classic" or None (got '
                               f'{prometheus_prefix!r})')
    head += '{{ define "slo.prometheus_link" }}' + graphs[prometheus_prefix] + '{{ end }}\n'
    head += ('{{ define "slo.alertmanager_link" }}' + (
        '{{ template "tg.link" (stringSlice "100" . "Alertmanager" "") }}' if alertmanager_ui
        else "") + '{{ end }}\n')
    head += '{{ define "slo.grafana_link" }}'
    if not grafana_url:
        return head + "{{ end }}\n"
    base = check_api_url("GRAFANA_URL", grafana_url)
    if not re.fullmatch(r"https?://[A-Za-z0-9.:\[\]-]+", base):
        raise StackConfigError(f"GRAFANA_URL: expected http(s)://host[:port] (got {base!r})")
    if len(base) > GRAFANA_URL_MAX:
        raise StackConfigError(f"GRAFANA_URL: at most {GRAFANA_URL_MAX} characters (got "
                               f"{len(base)}): telegram.tmpl's length budget counts on it")
    return (head + '{{ with . }} · <a href="{{ if match "^https?://" . }}{{ . }}{{ else }}'
            + base + '{{ . }}{{ end }}">Grafana</a>{{ end }}{{ end }}\n')
