"""The bare reference for `make bench-load` and `make bench-proxy`: Locust without the harness.

One FastHttpUser (geventhttpclient) asking for nginx's static file with no wait; no
loadtests.plugin, so no scenario shape, run record or client latency: what Locust alone sends.
"""

from locust import FastHttpUser, constant, task


class FastStatic(FastHttpUser):
    """geventhttpclient against a static file (nginx, directly or through the fault proxy)."""

    wait_time = constant(0)

    @task
    def static(self):
        self.client.get("/static.txt")
