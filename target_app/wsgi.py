"""WSGI entry point for gunicorn: the one place where the app's config comes from the env."""

from target_app import create_app
from target_app.config import config_from_env

app = create_app(config_from_env())
