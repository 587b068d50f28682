"""Users for `make bench-load` with the harness on: what `python -m loadtests` really sends.

The harness's own users (loadtests/users.py: PortfolioVisitor, ApiConsumer) with their think
time removed, and HarnessStatic (the bare reference's FastStatic with the harness imported),
all with loadtests.plugin: the scenario shape, the run record, the client metrics and the
HdrHistogram client latency record every request, as in any run. The target (nginx in
bench/load_capacity.py) serves every path these users ask for as a small static file.
"""

from locust import FastHttpUser, constant, task

import loadtests.plugin  # noqa: F401 - the harness, as every run has it
from loadtests.users import ApiConsumer, PortfolioVisitor


class Visitor(PortfolioVisitor):
    """The portfolio visitor, no think time."""

    wait_time = constant(0)


class Api(ApiConsumer):
    """The API consumer, no think time."""

    wait_time = constant(0)


class HarnessStatic(FastHttpUser):
    """The bare reference's user (one static file, no wait), here with the harness on."""

    wait_time = constant(0)

    @task
    def static(self):
        self.client.get("/static.txt")
