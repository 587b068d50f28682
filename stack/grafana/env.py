"""What Grafana's provisioning files read from the environment, for whoever starts Grafana.

Grafana expands `$VAR`/`${VAR}` in provisioning files when it starts, with no defaults, so the
starter must set every variable below: compose.yaml sets them for the container, the native
launcher passes `grafana_env(...)` to `grafana-server`. tests/test_grafana_provisioning.py
fails if a provisioning file reads a variable that is not listed here.
"""

from pathlib import Path

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
                dashboards_dir: Path = DASHBOARDS_DIR,
                telegram_bot_token: str | None = None, telegram_chat_id: str | None = None,
                alert_receiver: str = DEFAULT_ALERT_RECEIVER) -> dict[str, str]:
    """The environment a native `grafana-server` needs for stack/grafana/provisioning.

    Also sets GF_PATHS_PROVISIONING to this repo's provisioning folder. The admin password,
    data path and ports are the launcher's business and are not set here.
    """
    if alert_receiver not in ALERT_RECEIVERS:
        raise ValueError(f"GRAFANA_ALERT_RECEIVER: must be one of {', '.join(ALERT_RECEIVERS)}"
                         f" (got {alert_receiver!r})")
    return {
        "GF_PATHS_PROVISIONING": str(PROVISIONING_DIR),
        "PROMETHEUS_URL": prometheus_url,
        "GRAFANA_DASHBOARDS_DIR": str(Path(dashboards_dir).resolve()),
        "ALERTMANAGER_URL": alertmanager_url,
        "TELEGRAM_BOT_TOKEN": telegram_bot_token or PLACEHOLDER_BOT_TOKEN,
        "TELEGRAM_CHAT_ID": telegram_chat_id or PLACEHOLDER_CHAT_ID,
        "GRAFANA_ALERT_RECEIVER": alert_receiver,
    }
