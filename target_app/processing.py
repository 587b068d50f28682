"""Simulated processing: a small random delay on app pages so latency graphs look real."""

import random
import time

from flask import request

from harness_common.faults.routes import is_protected


def init_app(app):
    """Delay each app request by BASELINE_DELAY_MS (a (low, high) range; (0, 0) turns it off)."""
    low, high = app.config["BASELINE_DELAY_MS"]
    if high <= 0:
        return

    @app.before_request
    def simulated_processing():
        if request.url_rule is not None and not is_protected(request.path):
            time.sleep(random.uniform(low, high) / 1000.0)
