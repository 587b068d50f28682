"""observe: Prometheus, Alertmanager, Grafana provisioning, the Telegram sandbox, the launcher."""
