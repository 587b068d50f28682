"""Every file generated from a spec, as {path relative to the output dir: text}.

The one list of generated files: `slo rules` writes it, `slo rules --check` and the drift test
compare it with what is committed.
"""

from slo.alerting import grafana, rules
from slo.alerting.burnrate import PROFILES
from slo.spec.model import Spec

DEFAULT_OUT_DIR = "stack"


def rules_path(profile: str) -> str:
    """Where the Prometheus rules of a profile go (the launcher loads one of them)."""
    return f"prometheus/rules/slo-{profile}.yml"


GRAFANA_ALERTS_PATH = "grafana/provisioning/alerting/slo-rules.yaml"
GRAFANA_DASHBOARD_PATH = "grafana/dashboards/slo.json"


def generated_files(spec: Spec, source: str) -> dict[str, str]:
    """All generated files for `spec`; `source` is the spec path named in their headers."""
    files = {rules_path(name): rules.render_rules(spec, profile, source)
             for name, profile in PROFILES.items()}
    files[GRAFANA_ALERTS_PATH] = grafana.render_alert_rules(spec, source)
    files[GRAFANA_DASHBOARD_PATH] = grafana.render_dashboard(spec, source)
    return dict(sorted(files.items()))
