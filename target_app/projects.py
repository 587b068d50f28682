"""The portfolio's content (the seed's projects), served by the page and the JSON API."""

PROFILE = {
    "name": "Alex Rivera",
    "title": "Site Reliability Engineer",
    "about": (
        "I build observable, resilient services: SLOs that mean something, alerts that page "
        "for the right reasons, and load tests that find the limits before users do."
    ),
    "email": "alex@example.com",
    "links": {"GitHub": "https://github.com/example", "LinkedIn": "https://linkedin.com/in/example"},
}

PROJECTS = (
    {
        "id": 1,
        "name": "Prometheus SLO Dashboards",
        "description": "Error-budget dashboards and burn-rate alerts generated from one SLO spec.",
        "tags": ["prometheus", "grafana", "slo"],
        "url": "https://github.com/example/slo-dashboards",
    },
    {
        "id": 2,
        "name": "Chaos Toolkit Experiments",
        "description": "Latency and error injection experiments with automatic rollback.",
        "tags": ["chaos", "python"],
        "url": "https://github.com/example/chaos-experiments",
    },
    {
        "id": 3,
        "name": "Locust Load Profiles",
        "description": "Ramp, step, spike and soak shapes for capacity testing.",
        "tags": ["locust", "performance"],
        "url": "https://github.com/example/load-profiles",
    },
    {
        "id": 4,
        "name": "Telegram On-call Bot",
        "description": "Alertmanager notifications delivered to the on-call chat.",
        "tags": ["alertmanager", "telegram"],
        "url": "https://github.com/example/oncall-bot",
    },
)


def find_project(project_id: int):
    """Return the project with this id, or None."""
    return next((p for p in PROJECTS if p["id"] == project_id), None)
