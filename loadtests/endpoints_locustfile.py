"""Load from an endpoints file (loadtests/endpoints.py) with the whole harness.

    locust -f loadtests/endpoints_locustfile.py --endpoints FILE --host URL ...
    python -m loadtests headless --endpoints FILE --host URL     (the CLI passes it on)

One FastHttpUser class, EndpointUser, whose tasks are the file's endpoints, weighted; a
response with a status the file does not expect is a failure. The file is read at init in every
Locust process (master and workers alike get it through --endpoints / ENDPOINTS); a bad file
stops the process before any load with one line naming the problem (exit 2).

Only Locust imports this file (it monkey-patches the process with gevent).
"""

import logging
import sys

from locust import FastHttpUser, between, events

import loadtests.plugin  # noqa: F401 - the harness
from harness_common import exitcodes
from loadtests.endpoints import Endpoint, load_endpoints
from loadtests.errors import EndpointsError

log = logging.getLogger("loadtests.endpoints")


def request_task(endpoint: Endpoint):
    """A task sending `endpoint`'s request and judging its status."""

    def send(user):
        kwargs = {"name": endpoint.name, "catch_response": True}
        if endpoint.json is not None:
            kwargs["json"] = endpoint.json
        with user.client.request(endpoint.method, endpoint.path, **kwargs) as resp:
            if endpoint.accepts(resp.status_code):
                resp.success()
            else:
                resp.failure(f"expected {endpoint.describe_expected()}, got {resp.status_code}")

    send.__name__ = f"{endpoint.method} {endpoint.name}"
    return send


class EndpointUser(FastHttpUser):
    """Requests the endpoints of the file, each as often as its weight says."""

    wait_time = between(1, 1)
    tasks = []  # filled in at init from --endpoints


@events.init_command_line_parser.add_listener
def _options(parser, **_kwargs):
    parser.add_argument("--endpoints", env_var="ENDPOINTS", default=None,
                        include_in_web_ui=False,
                        help="YAML list of endpoints with weights and expected status")


@events.init.add_listener
def _load(environment, **_kwargs):
    path = getattr(environment.parsed_options, "endpoints", None)
    try:
        if not path:
            raise EndpointsError("--endpoints", "required: the endpoints file to request "
                                                "(see loadtests/endpoints/example.yaml)")
        endpoints = load_endpoints(path)
    except EndpointsError as err:
        log.error("%s", err)
        sys.stderr.write(f"error: {err}\n")
        sys.exit(exitcodes.NOT_EVALUATED)
    EndpointUser.tasks = [request_task(e) for e in endpoints.endpoints for _ in range(e.weight)]
    EndpointUser.wait_time = between(*endpoints.wait_s)
