"""Users of the soak test (no harness here: the capacity probe loads this file on its own).

Both classes request the same mix as a site's visitors and API clients do: the page, its
stylesheet, the project list and a project. SoakUser keeps a fixed pace (SOAK_USER_RATE
requests per second each), so N users hold N x rate req/s while the app keeps up; CapacityUser
never waits, to find the rate the app and this load generator reach together on this machine.
"""

import os
import random

from locust import FastHttpUser, constant, constant_throughput, task

RATE_PER_USER = float(os.environ.get("SOAK_USER_RATE", "4"))


class _Mix(FastHttpUser):
    """The request mix (one request per task)."""

    abstract = True

    @task(3)
    def page(self):
        self.client.get("/")

    @task(1)
    def stylesheet(self):
        self.client.get("/static/style.css")

    @task(3)
    def projects(self):
        self.client.get("/api/projects")

    @task(3)
    def project(self):
        self.client.get(f"/api/projects/{random.randint(1, 4)}", name="/api/projects/[id]")


class SoakUser(_Mix):
    """A user at a fixed pace."""

    wait_time = constant_throughput(RATE_PER_USER)


class CapacityUser(_Mix):
    """A user that never waits."""

    wait_time = constant(0)
