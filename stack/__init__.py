"""observe: Prometheus, Alertmanager, Grafana provisioning, the Telegram sandbox, and the native launcher."""
