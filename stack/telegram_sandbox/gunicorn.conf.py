"""gunicorn settings for the Telegram sandbox (`python -m stack.telegram_sandbox`).

Worker model: ONE worker with a pool of threads (gthread), as for the target app: the message
store, the fault state and the metrics live in one process, so every thread sees the same
messages and ids, with no shared-file protocol between workers to get wrong. Threads, because a
`timeout` fault parks a request for up to 120 s and the others must still be served.

The access log stays OFF, always: Bot API URLs carry the bot token (/bot<token>/sendMessage),
and gunicorn's access log would write it in full. The sandbox logs each call itself, masked.
"""

import os

bind = (f"{os.environ.get('TELEGRAM_SANDBOX_HOST', '127.0.0.1')}:"
        f"{os.environ.get('TELEGRAM_SANDBOX_PORT', '8081')}")
wsgi_app = "stack.telegram_sandbox.wsgi:app"
worker_class = "gthread"
workers = 1  # see the module docstring: more workers would split the store and fault state
threads = int(os.environ.get("TELEGRAM_SANDBOX_THREADS", "16"))
timeout = 150  # > the longest emulated hang (timeout fault, hang_s <= 120)
graceful_timeout = 5
# Longer than a client keeps an idle connection (Alertmanager: prometheus/common's 5 min):
# at 5 s, gunicorn closed idle connections Alertmanager then sent a POST on, and the
# notification failed with EOF and waited for its retry (seen once by a user).
keepalive = 330
accesslog = None  # never: the URL path holds the bot token (see the module docstring)
errorlog = "-"
loglevel = os.environ.get("TELEGRAM_SANDBOX_LOG_LEVEL", "info")
# a Bot API GET carries the whole message in the query string: allow nginx-sized request lines
limit_request_line = 8190
proc_name = "slo-harness-telegram-sandbox"
control_socket_disable = True  # gunicorn >= 24's shared control socket is not needed
