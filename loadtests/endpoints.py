"""Load for a service without a locustfile: a small YAML list of endpoints (pure, no Locust).

    # loadtests/endpoints/example.yaml
    - path: /                          # required, starts with '/'; a query may follow
      weight: 3                        # how often, relative to the others (default 1)
    - path: /api/items?page=1
      name: /api/items                 # Locust's request name (default: the path)
      expect: 200                      # the right status: 200 (default), [200, 404] or "2xx"
    - path: /api/items
      method: POST                     # GET (default), HEAD, POST, PUT, PATCH, DELETE
      json: {sku: 42}                  # optional JSON body
      expect: [201, 409]

or, to set how long each user waits between two requests (default 1s; "0.5s-2s" for a range):

    wait: 0.2s
    endpoints:
      - {path: /, weight: 3}

A response with another status counts as a failure (it is judged by the SLO checker like any
other). `python -m loadtests headless --endpoints FILE --host URL` (make load-headless
ENDPOINTS=FILE HOST=URL) runs it through loadtests/endpoints_locustfile.py with the whole
harness. Every problem is reported as `<file>: <field path>: <message>`, before any load.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness_common import validation
from harness_common.durations import parse_duration
from harness_common.errors import Problem
from harness_common.inputs import read_input
from harness_common.yamlsafe import load_documents
from loadtests.errors import EndpointsError

MAX_ENDPOINTS = 100
MAX_BYTES = 64 * 1024
MAX_WEIGHT = 1000
STATUS_CLASS = re.compile(r"^[1-5]xx$")
EXAMPLE = "loadtests/endpoints/example.yaml"


class EndpointV1(BaseModel):
    """One endpoint as written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(min_length=1, max_length=2000)
    weight: int = Field(1, ge=1, le=MAX_WEIGHT, strict=True)
    name: str | None = Field(None, min_length=1, max_length=200)
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    expect: int | str | list[int] = 200
    json_: Any = Field(None, alias="json")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or any(c.isspace() for c in value):
            raise ValueError(f"must start with '/' and hold no whitespace (got {value!r})")
        return value

    @field_validator("expect")
    @classmethod
    def _expect(cls, value):
        codes = value if isinstance(value, list) else [value]
        if not codes:
            raise ValueError("must name at least one status")
        for code in codes:
            if isinstance(code, str):
                if not STATUS_CLASS.match(code) or isinstance(value, list):
                    raise ValueError(f"must be a status (200), a list of them ([200, 404]) or "
                                     f"a class like '2xx' (got {code!r})")
            elif isinstance(code, bool) or not 100 <= code <= 599:
                raise ValueError(f"a status is 100-599 (got {code!r})")
        return value


class EndpointsV1(BaseModel):
    """The mapping form: wait and endpoints."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    wait: str | float = "1s"
    endpoints: list[EndpointV1] = Field(min_length=1, max_length=MAX_ENDPOINTS)


@dataclass(frozen=True)
class Endpoint:
    """A validated endpoint: what to send and which statuses are right."""

    method: str
    path: str
    name: str
    weight: int
    expect: tuple[int, ...] | str      # statuses, or a class such as "2xx"
    json: Any = None

    def accepts(self, status: int) -> bool:
        """True when `status` is a right answer."""
        if isinstance(self.expect, str):
            return str(status)[:1] == self.expect[0]
        return status in self.expect

    def describe_expected(self) -> str:
        """'200', '200 or 404', '2xx'."""
        return self.expect if isinstance(self.expect, str) else " or ".join(map(str, self.expect))


@dataclass(frozen=True)
class EndpointSet:
    """Every endpoint of a file and the wait between two requests of one user (seconds)."""

    source: str
    endpoints: tuple[Endpoint, ...]
    wait_s: tuple[float, float]


def _wait(value) -> tuple[float, float]:
    text = str(value)
    low, _, high = text.partition("-")
    bounds = (parse_duration(low.strip()), parse_duration((high or low).strip()))
    if bounds[0] < 0 or bounds[1] < bounds[0] or bounds[1] > 60:
        raise ValueError(f"must be a duration 0-60s or a range like '0.5s-2s' (got {text!r})")
    return bounds


def parse_endpoints(data: bytes | str, source: str = "<endpoints>") -> EndpointSet:
    """Validate an endpoints file's text; EndpointsError naming each problem."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    docs = load_documents(data, source, what="endpoints file", error=EndpointsError,
                          max_bytes=MAX_BYTES, example=EXAMPLE)
    if len(docs) != 1 or not isinstance(docs[0], list | dict):
        raise EndpointsError(source, f"must be one YAML list of endpoints, or a mapping with "
                                     f"`endpoints:` (see {EXAMPLE})")
    listed = isinstance(docs[0], list)
    doc = {"endpoints": docs[0]} if listed else docs[0]
    try:
        top = EndpointsV1.model_validate(doc)
    except ValidationError as err:
        problems = validation.problems(err, EndpointsV1)
        if listed:  # the file is the list itself: "[0].path", not "endpoints[0].path"
            problems = [Problem(p.path.removeprefix("endpoints") or "endpoints", p.message)
                        for p in problems]
        raise EndpointsError(source, problems) from None
    try:
        wait = _wait(top.wait)
    except ValueError as err:
        raise EndpointsError(source, Problem("wait", str(err))) from None
    endpoints = tuple(
        Endpoint(method=e.method, path=e.path, name=e.name or e.path.partition("?")[0],
                 weight=e.weight,
                 expect=e.expect if isinstance(e.expect, str) else tuple(
                     e.expect if isinstance(e.expect, list) else [e.expect]),
                 json=e.json_)
        for e in top.endpoints)
    return EndpointSet(source, endpoints, wait)


def load_endpoints(path: str) -> EndpointSet:
    """Read and validate an endpoints file."""
    data = read_input(path, what="endpoints file", error=EndpointsError, max_bytes=MAX_BYTES,
                      missing_hint=f"pass the path of an endpoints file, e.g. {EXAMPLE}")
    return parse_endpoints(data, str(path))
