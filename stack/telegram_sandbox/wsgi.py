"""WSGI entry point for gunicorn: the one place where the sandbox's config comes from the env."""

import logging

from flask.logging import default_handler

from stack.telegram_sandbox import create_app
from stack.telegram_sandbox.config import config_from_env
from stack.telegram_sandbox.logmask import install

app = create_app(config_from_env())

# One log stream, gunicorn's (stderr, with its timestamp format), masked: the sandbox's own
# lines go to gunicorn's handlers instead of Flask's default one, and gunicorn's error log
# (which names the request when a request fails inside gunicorn) gets the token filter too.
gunicorn_log = logging.getLogger("gunicorn.error")
install(gunicorn_log)
app.logger.removeHandler(default_handler)
for handler in gunicorn_log.handlers:
    app.logger.addHandler(handler)
app.logger.setLevel(logging.INFO)
app.logger.propagate = False
