"""Users for `make bench-load`: hammer /health with no wait, one class per HTTP client."""

from locust import FastHttpUser, HttpUser, constant, task


class FastHealth(FastHttpUser):
    """geventhttpclient-based client."""

    wait_time = constant(0)

    @task
    def health(self):
        self.client.get("/health")


class RequestsHealth(HttpUser):
    """requests-based client."""

    wait_time = constant(0)

    @task
    def health(self):
        self.client.get("/health")


class FastStatic(FastHttpUser):
    """geventhttpclient against a static file (nginx, directly or through the fault proxy)."""

    wait_time = constant(0)

    @task
    def static(self):
        self.client.get("/static.txt")
