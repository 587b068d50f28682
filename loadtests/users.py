"""Who visits the portfolio, one user class per concern (the mix of an ordinary day).

    PortfolioVisitor  weight 6  people reading the page: / with its stylesheet, now and then a
                                project's JSON; long think times (they read)
    ApiConsumer       weight 3  programs using the JSON API: the list, project details, and the
                                odd stale link to a project that is gone (404 is the right answer)
    HealthProbe       weight 1  an uptime checker polling /health every 5 s

Visitors and API consumers are FastHttpUser: on a 2-core machine the load generator shares the
CPU with the app, and geventhttpclient costs several times less CPU per request than requests,
so Locust itself stays out of the latency it measures. The probe is a plain HttpUser (requests),
like most uptime checkers; at one request per 5 s its cost does not matter.
"""

import random

from locust import FastHttpUser, HttpUser, between, constant, task

DETAIL = "/api/projects/[id]"
UNKNOWN = "/api/projects/[unknown id]"


class PortfolioVisitor(FastHttpUser):
    """A person reading the portfolio page."""

    weight = 6
    wait_time = between(3, 10)

    @task(5)
    def read_portfolio(self):
        self.client.get("/")
        self.client.get("/static/style.css")

    @task(1)
    def open_project(self):
        self.client.get(f"/api/projects/{random.randint(1, 4)}", name=DETAIL)


class ApiConsumer(FastHttpUser):
    """A program using the JSON API: learns the ids from the list, then fetches details."""

    weight = 3
    wait_time = between(1, 3)
    project_ids = (1, 2, 3, 4)

    def on_start(self):
        with self.client.get("/api/projects", catch_response=True) as resp:
            if resp.status_code == 200:
                ids = tuple(p["id"] for p in resp.json().get("projects", []))
                self.project_ids = ids or self.project_ids

    @task(2)
    def list_projects(self):
        self.client.get("/api/projects")

    @task(6)
    def project_detail(self):
        self.client.get(f"/api/projects/{random.choice(self.project_ids)}", name=DETAIL)

    @task(1)
    def stale_link(self):
        """An id that no longer exists: 404 is the correct answer, anything else is a failure."""
        with self.client.get(f"/api/projects/{random.randint(900, 999)}", name=UNKNOWN,
                             catch_response=True) as resp:
            if resp.status_code == 404:
                resp.success()
            else:
                resp.failure(f"expected 404 for an unknown project, got {resp.status_code}")


class HealthProbe(HttpUser):
    """An uptime checker."""

    weight = 1
    wait_time = constant(5)

    @task
    def health(self):
        self.client.get("/health")
