"""gunicorn settings for the target app (`python -m target_app serve` and the Dockerfile).

Worker model: ONE worker process with a pool of threads (gthread). Why:
- metrics stay exact and complete: one process owns one CollectorRegistry, so the default
  process/GC/platform collectors describe the real serving process (prometheus_client's
  multiprocess mode, needed for several workers, cannot export them);
- a fault set through one admin request is in the one registry every thread reads, so it
  applies to every request at once, with no shared-file or IPC protocol to get wrong;
- on this 2-core machine Locust uses the other core; the app is I/O-bound under faults
  (sleeps), which threads serve well. Raise APP_THREADS for more concurrent slow requests.
"""

import os

bind = f"{os.environ.get('APP_HOST', '127.0.0.1')}:{os.environ.get('APP_PORT', '5000')}"
wsgi_app = "target_app.wsgi:app"
worker_class = "gthread"
workers = 1  # see the module docstring: more workers would split metrics and fault state
threads = int(os.environ.get("APP_THREADS", "32"))  # config.py checks it (3-1000)
backlog = 512
timeout = 90  # > the longest fault (abort hang_s 60, latency 30 s) so faulted requests finish
graceful_timeout = 5
keepalive = 5
accesslog = os.environ.get("APP_ACCESS_LOG") or None  # off by default: the metrics tell it
errorlog = "-"
loglevel = os.environ.get("APP_LOG_LEVEL", "info")
proc_name = "slo-harness-app"
# gunicorn >= 24 opens a control socket in ~/.gunicorn shared by every instance; not needed.
control_socket_disable = True
