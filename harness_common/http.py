"""HTTP sessions for clients that live long: a request that fails on a connection the server
closed is sent once more, on a new connection.

    session = retrying_session(("GET", "PUT", "DELETE"))    # the methods safe to send twice

Why: a requests.Session reuses its idle keep-alive connections, and servers close them after a
while (gunicorn after `keepalive = 5` s for the demo app). A close that reaches the client
before it sends is seen by urllib3, which opens a new connection; a close that crosses the
request is not, and the request fails (RemoteDisconnected, connection reset) although the
server is up. Issue 19: a fault client's clear() failed so, and the fault stayed on until its
TTL.

The retry is urllib3's Retry, mounted through requests' HTTPAdapter: one more try (total=1) for
a failure after the connection was made (read=1: closed or reset unanswered, or no answer within
the timeout, so a server that hangs is waited for twice), only for the methods the caller names
(a method that is not safe to send twice fails at once as before); never for a refused
connection (connect=0: a server that is down is reported at once), never for an HTTP status
(status=0, Retry-After ignored: a status is an answer, returned as it came), no backoff (a new
connection is what helps).
"""

from __future__ import annotations

from collections.abc import Iterable

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


def retrying_session(methods: Iterable[str]) -> requests.Session:
    """A requests.Session whose http:// and https:// requests in `methods` are sent once more
    on a new connection after failing on an open one (see the module docstring)."""
    retry = Retry(total=1, connect=0, read=1, other=0, status=0, raise_on_status=False,
                  respect_retry_after_header=False, backoff_factor=0,
                  allowed_methods=frozenset(m.upper() for m in methods))
    adapter = HTTPAdapter(max_retries=retry)
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
