"""The system under test: a small Flask portfolio site with RED metrics and runtime faults.

    app = create_app({"TESTING": True, "BASELINE_DELAY_MS": (0, 0), "FAULT_ADMIN_TOKEN": "t"})

Config is passed in, never read from the environment here (see config.config_from_env).
"""

from flask import Flask

from harness_common.faults import api as admin
from harness_common.faults.registry import FaultRegistry
from target_app import metrics, processing, routes
from target_app.config import DEFAULTS
from target_app.faults import inject


def create_app(config: dict | None = None, fault_registry: FaultRegistry | None = None) -> Flask:
    """Build the app. Order of hooks matters: metrics time the whole request, faults included."""
    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    if config:
        app.config.from_mapping(config)
    registry = fault_registry or FaultRegistry()
    app.extensions["fault_registry"] = registry

    app_metrics = metrics.init_app(app, registry)
    inject.init_app(app, registry, app_metrics.faults_injected, app_metrics.faults_shed)
    processing.init_app(app)
    routes.init_app(app)
    admin.init_app(app)
    if app.config["INSTRUMENTATION"]:
        metrics.preinit(app, app_metrics)  # every route is known now
    return app
