"""The /admin/faults HTTP API: list, set and clear faults, behind a bearer token.

One implementation for both fault backends: the demo app serves it on its own registry, the
fault proxy's controller (stack.proxy) on a registry that drives Envoy. Either keeps its
registry in app.extensions["fault_registry"] (set/clear/active/now, as in
harness_common.faults.registry) and names itself in config["FAULT_BACKEND"] (app | proxy),
which every answer carries as "backend".

    GET    /admin/faults           the active faults
    PUT    /admin/faults/<kind>    switch a fault on (JSON body, see faults/model.py)
    DELETE /admin/faults/<kind>    switch one kind off
    DELETE /admin/faults           switch every fault off

No FAULT_ADMIN_TOKEN configured -> 403 saying how to enable it; a missing or wrong token ->
401 with no details (constant-time comparison). A request that fails validation gets 400
naming the field and changes nothing; one the backend cannot carry out now (the proxy's Envoy
does not answer) gets 503 with the reason.
"""

import hmac

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from harness_common.errors import FaultError, FaultValidationError
from harness_common.faults.model import KINDS, parse_fault

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _registry():
    return current_app.extensions["fault_registry"]


def _state(**extra):
    registry = _registry()
    now = registry.now()
    return jsonify(**extra, backend=current_app.config.get("FAULT_BACKEND", "app"),
                   faults=[f.to_json(now) for f in registry.active()])


@bp.before_request
def require_token():
    """Close the API without a configured token; demand the right bearer token otherwise."""
    expected = current_app.config.get("FAULT_ADMIN_TOKEN")
    if not expected:
        return jsonify(error="admin API disabled: start the app with FAULT_ADMIN_TOKEN set "
                             "(make stack generates one into .stack/env)"), 403
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    ok = scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), expected.encode()
    )
    if not ok:
        return jsonify(error="unauthorized"), 401, {"WWW-Authenticate": "Bearer"}
    return None


@bp.before_request
def refuse_oversized_chunked_body():
    """Refuse a body over MAX_CONTENT_LENGTH that came without a Content-Length (chunked).

    Werkzeug refuses a too-large Content-Length at once, but reads a chunked body only up to
    the limit and silently stops there: the cut-off prefix would be judged as if it were the
    whole body. Runs after require_token, so an unauthenticated body is never read.
    """
    if request.content_length is None and request.method in ("PUT", "POST", "PATCH"):
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        if len(request.get_data(cache=True)) >= limit and request.environ["wsgi.input"].read(1):
            raise RequestEntityTooLarge()
    return None


@bp.errorhandler(FaultValidationError)
def invalid(err: FaultValidationError):
    """400 naming the field; nothing was changed."""
    return jsonify(error=str(err), field=err.field), 400


@bp.errorhandler(FaultError)
def unavailable(err: FaultError):
    """503: the backend could not apply the change (its state is unchanged or reconciled)."""
    return jsonify(error=str(err)), 503


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_err: RequestEntityTooLarge):
    """413 in the API's JSON shape (Flask's own page is HTML), saying what the limit is."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    return jsonify(error=f"body: larger than {limit} bytes; a fault is a small JSON object",
                   field="body"), 413


@bp.get("/faults")
def list_faults():
    """The faults that are on, with their expiry."""
    return _state()


@bp.put("/faults/<kind>")
def set_fault(kind: str):
    """Validate the body fully, then switch the fault on (replacing one of the same kind)."""
    body = request.get_json(force=True, silent=True)   # JSON, whatever the Content-Type says
    if body is None and request.get_data():
        raise FaultValidationError("body", "is not valid JSON; send e.g. {\"delay_ms\": 300}")
    spec = parse_fault(kind, {} if body is None else body)
    fault = _registry().set(spec)
    return _state(fault=fault.to_json(_registry().now()))


@bp.delete("/faults/<kind>")
def clear_fault(kind: str):
    """Switch one kind off (idempotent)."""
    if kind not in KINDS:
        raise FaultValidationError("kind",
                                   f"unknown fault kind {kind!r}; use one of {sorted(KINDS)}")
    return _state(cleared=_registry().clear(kind))


@bp.delete("/faults")
def clear_all():
    """Switch every fault off."""
    return _state(cleared=_registry().clear())


def init_app(app):
    """Register the admin API (the registry must be in app.extensions["fault_registry"])."""
    app.register_blueprint(bp)
