"""Users for the distributed tests: each worker counts what it sent, on its own.

Every process with a worker runner (a separate worker, or one `--processes` forked) counts the
request events it fires (its own tally, beside the harness's) and writes them to
$SLO_TEST_COUNTS_DIR/<tag>-<pid>.json ($SLO_TEST_WORKER_TAG names the worker's side) when its
test stops and when it quits; the test adds the files up and compares the sum with the
master's run record.
"""

import json
import os
from pathlib import Path

from locust import FastHttpUser, constant, events, task
from locust.runners import WorkerRunner

import loadtests.plugin  # noqa: F401 - the harness: run record, HdrHistogram client latency
from harness_common.faults.routes import is_protected

TALLY = {"requests": 0, "failures": 0, "latency_requests": 0}


class Reader(FastHttpUser):
    """One page, a few times a second."""

    wait_time = constant(0.05)

    @task
    def page(self):
        self.client.get("/")


def _write(environment, **_kwargs) -> None:
    if not isinstance(environment.runner, WorkerRunner):
        return
    folder = Path(os.environ["SLO_TEST_COUNTS_DIR"])
    tag = os.environ.get("SLO_TEST_WORKER_TAG", "worker")
    (folder / f"{tag}-{os.getpid()}.json").write_text(json.dumps(TALLY))


@events.request.add_listener
def _count(name, exception, **_kwargs) -> None:
    TALLY["requests"] += 1
    TALLY["failures"] += exception is not None
    TALLY["latency_requests"] += not is_protected(str(name))


@events.init.add_listener
def _on_init(environment, **_kwargs) -> None:
    environment.events.test_stop.add_listener(lambda **kw: _write(environment))
    environment.events.quitting.add_listener(lambda **kw: _write(environment))
