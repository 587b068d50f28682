"""Grafana provisioning (datasource, dashboards provider, alerting) and dashboards; exprs lists
every PromQL expression they run."""
