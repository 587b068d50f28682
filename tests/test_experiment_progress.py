"""The runner's progress: plain lines off a terminal, alert rows grouped for the live panel."""

from rich.console import Console

from slo.experiment.progress import Progress, group_alerts
from slo.live.alerts import ActiveAlert
from slo.spec import load_spec


def active(slo, severity, long, state):
    labels = (("alertname", "ErrorBudgetBurn"), ("long", long), ("severity", severity),
              ("slo", slo))
    return ActiveAlert("ErrorBudgetBurn", labels, state, None)


def test_alert_rows_are_grouped_by_slo_and_severity_firing_first():
    groups = group_alerts([active("latency-p95", "ticket", "24m", "pending"),
                           active("error-ratio", "page", "1m", "firing"),
                           active("error-ratio", "page", "6m", "pending")])
    assert list(groups.items()) == [
        (("ErrorBudgetBurn", "error-ratio", "page"), (2, "firing")),
        (("ErrorBudgetBurn", "latency-p95", "ticket"), (1, "pending")),
    ]


def test_off_a_terminal_each_event_is_one_stamped_line():
    console = Console(record=True, width=120, force_terminal=False)
    progress = Progress(console, load_spec("slo/slos.yaml"))
    assert not progress.live_mode
    progress.message("starting Locust")
    progress.begin(t0=1000.0, total_s=90, name="unit")
    progress.phase(0, 3, "baseline", 1000.0, 1020.0, None)
    progress.end()
    lines = console.export_text().splitlines()
    assert lines[0] == "starting Locust"
    assert lines[1].startswith("[+") and lines[1].endswith("phase 1/3 'baseline' (20s)")
