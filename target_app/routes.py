"""The portfolio site's routes: the page, the JSON API and /health. No metrics or chaos here."""

import time

from flask import Blueprint, abort, current_app, jsonify, render_template

from target_app.projects import PROFILE, PROJECTS, find_project

bp = Blueprint("site", __name__)


@bp.get("/")
def index():
    """The portfolio page: about, projects, contact."""
    return render_template("index.html", profile=PROFILE, projects=PROJECTS)


@bp.get("/api/projects")
def list_projects():
    """All projects as JSON."""
    return jsonify(projects=list(PROJECTS), count=len(PROJECTS))


@bp.get("/api/projects/<project_id>")
def get_project(project_id: str):
    """One project by numeric id; 404 for an unknown or malformed id."""
    project = find_project(int(project_id)) if project_id.isdigit() else None
    if project is None:
        abort(404, description=f"no project with id {project_id!r}")
    return jsonify(project)


@bp.get("/health")
def health():
    """Liveness and identity: status, version and uptime in seconds."""
    started = current_app.extensions["started_at"]
    return jsonify(
        status="ok",
        version=current_app.config["APP_VERSION"],
        uptime_s=round(time.monotonic() - started, 3),
    )


def init_app(app):
    """Register the site's routes and JSON error pages for the API."""
    app.extensions["started_at"] = time.monotonic()
    app.register_blueprint(bp)

    @app.errorhandler(404)
    def not_found(err):
        return jsonify(error="not found", detail=err.description), 404

    @app.errorhandler(405)
    def method_not_allowed(err):
        return jsonify(error="method not allowed"), 405
