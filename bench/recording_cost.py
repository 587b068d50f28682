"""What the harness's per-request recording costs: `python -m bench.recording_cost` prints JSON.

The harness's request listener (loadtests/harness.py: ClientMetrics and the HdrHistogram client
latency) is fired through Locust's own event hook `--requests` times; the same hook with no
listener is timed too, and the difference is the harness's cost in µs per request. Its own
process: importing Locust monkey-patches the standard library (gevent), which the benchmark
driver must not have.
"""

import argparse
import json
import time

from locust.env import Environment

from loadtests.harness import _init_metrics

PATH = "/static.txt"


def timed(env: Environment, requests: int) -> float:
    """µs per request.fire() on `env`."""
    fire = env.events.request.fire
    began = time.perf_counter()
    for _ in range(requests):
        fire(request_type="GET", name=PATH, response_time=1.234, response_length=6,
             exception=None, context={})
    return (time.perf_counter() - began) / requests * 1e6


def measure(requests: int) -> dict:
    """The harness listener's µs per request, and the bare event hook's."""
    empty = timed(Environment(), requests)
    env = Environment()
    _init_metrics(env, None)
    env.slo_client_latency.reset(time.time())
    with_harness = timed(env, requests)
    return {"harness_listener_us_per_request": round(with_harness - empty, 2),
            "event_hook_us_per_request": round(empty, 2), "requests_timed": requests,
            "recorded": env.slo_client_latency.summary()["overall"]["count"]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=100_000)
    print(json.dumps(measure(parser.parse_args().requests)))
