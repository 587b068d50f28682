"""What Grafana's provisioning files read from the environment, for whoever starts Grafana.

Grafana expands `$VAR`/`${VAR}` in provisioning files when it starts, with no defaults, so the
starter must set every variable below: compose.yaml sets them for the container, the native
launcher passes `grafana_env(...)` to `grafana-server`. tests/test_grafana_provisioning.py
fails if a provisioning file reads a variable that is not listed here.
"""

import shutil
from dataclasses import dataclass
from pathlib import Path

from stack.errors import StackError
from stack.grafana.exprs import DASHBOARDS_DIR, PROVISIONING_DIR

PROVISIONING_VARS = (
    "PROMETHEUS_URL",          # datasources/prometheus.yaml
    "GRAFANA_DASHBOARDS_DIR",  # dashboards/dashboards.yaml
    "ALERTMANAGER_URL",        # alerting/contact-points.yaml: stack-alertmanager
    "TELEGRAM_BOT_TOKEN",      # alerting/contact-points.yaml: telegram
    "TELEGRAM_CHAT_ID",        # alerting/contact-points.yaml: telegram
    "GRAFANA_ALERT_RECEIVER",  # alerting/notification-policies.yaml
)
# Contact points the notification policy can route to (alerting/contact-points.yaml).
# Through the stack's Alertmanager is the default: Grafana's own Telegram integration cannot
# use another API URL, so only that path reaches the sandbox (stack/grafana/README.md).
ALERT_RECEIVERS = ("stack-alertmanager", "telegram")
DEFAULT_ALERT_RECEIVER = "stack-alertmanager"
# Grafana refuses to start when a provisioned Telegram contact point has an empty token or chat
# id; without real ones these stand in (they are never sent: see DEFAULT_ALERT_RECEIVER).
PLACEHOLDER_BOT_TOKEN = "sandbox-mode-placeholder"  # noqa: S105 (not a secret)
PLACEHOLDER_CHAT_ID = "0"


def grafana_env(prometheus_url: str, alertmanager_url: str, *,
                dashboards_dir: Path = DASHBOARDS_DIR, provisioning_dir: Path = PROVISIONING_DIR,
                telegram_bot_token: str | None = None, telegram_chat_id: str | None = None,
                alert_receiver: str = DEFAULT_ALERT_RECEIVER) -> dict[str, str]:
    """The environment a native `grafana-server` needs for stack/grafana/provisioning.

    Also sets GF_PATHS_PROVISIONING to `provisioning_dir` (this repo's provisioning folder, or
    target_provisioning()'s in front of TARGET_URL). The admin password,
    data path and ports are the launcher's business and are not set here.
    """
    if alert_receiver not in ALERT_RECEIVERS:
        raise ValueError(f"GRAFANA_ALERT_RECEIVER: must be one of {', '.join(ALERT_RECEIVERS)}"
                         f" (got {alert_receiver!r})")
    return {
        "GF_PATHS_PROVISIONING": str(provisioning_dir),
        "PROMETHEUS_URL": prometheus_url,
        "GRAFANA_DASHBOARDS_DIR": str(Path(dashboards_dir).resolve()),
        "ALERTMANAGER_URL": alertmanager_url,
        "TELEGRAM_BOT_TOKEN": telegram_bot_token or PLACEHOLDER_BOT_TOKEN,
        "TELEGRAM_CHAT_ID": telegram_chat_id or PLACEHOLDER_CHAT_ID,
        "GRAFANA_ALERT_RECEIVER": alert_receiver,
    }


# The demo's own Grafana files: its hand-written availability alert (GrafanaPortfolioAppDown,
# which reads `up{job="portfolio-app"} or on() vector(0)` and so fires within a minute where the
# demo does not run) and the SLO alerts and dashboards generated from slo/slos.yaml.
DEMO_ALERTING = ("rules-availability.yaml", "slo-rules.yaml")
SPEC_ALERTS = Path("provisioning") / "alerting" / "slo-rules.yaml"   # under `slo rules --stack`'s
SPEC_DASHBOARD = Path("dashboards") / "slo.json"                     # grafana/ folder
HOME_DASHBOARD = "slo.json"


@dataclass(frozen=True)
class TargetGrafana:
    """Grafana's files for a stack in front of TARGET_URL (nothing of the demo)."""

    provisioning: Path
    dashboards: Path
    home: Path | None     # the spec's SLO dashboard, if the stack has a spec


def target_provisioning(dest: Path, spec_grafana: Path | None) -> TargetGrafana:
    """Write Grafana's provisioning for a stack in front of the user's service into `dest`:
    the datasource, contact points, policy and templates of stack/grafana/provisioning, none of
    the demo's alerts or dashboards, and the SLO alerts and dashboard `slo rules --stack`
    generated from the user's spec into `spec_grafana` (None: no spec, so no SLO alerts).
    Rewritten whole each time, so a spec dropped (FORGET=1) leaves nothing behind."""
    provisioning, dashboards = dest / "provisioning", dest / "dashboards"
    for folder in (provisioning, dashboards):
        shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(PROVISIONING_DIR, provisioning,
                    ignore=lambda folder, names: [n for n in names if n in DEMO_ALERTING and
                                                  Path(folder).name == "alerting"])
    dashboards.mkdir(parents=True)
    home = None
    if spec_grafana is not None:
        for rel, to in ((SPEC_ALERTS, provisioning / "alerting" / SPEC_ALERTS.name),
                        (SPEC_DASHBOARD, dashboards / SPEC_DASHBOARD.name)):
            if not (spec_grafana / rel).is_file():
                raise StackError(f"{spec_grafana / rel} not found: generate the spec's files "
                                 f"with `slo rules --stack` (`make stack SPEC=...` does)")
            shutil.copyfile(spec_grafana / rel, to)
        home = dashboards / HOME_DASHBOARD
    return TargetGrafana(provisioning, dashboards, home)
