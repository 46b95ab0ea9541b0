"""The kit's allowance for a request: 10 s, and more for each item of a batch.

The statistics tests load 10,000 residents and bind 5,000 records a request; a
correct target on a loaded CI machine took longer than 10 s for them, the kit gave
up, and the target, still busy with the abandoned batch, timed out the tests after
it (the newcomer's walk of 7 Dec 2026 failed 9 tests so).  Here a real HTTP server
answers after a fixed delay: a batch request within its allowance is waited for, a
single request past the target's timeout is not.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from renkei_conformance.client import PER_BATCH_ITEM, Wire, batch_size, request_timeout
from renkei_conformance.target import resolve_target

DELAY = 1.5
"""Seconds the server takes for every request."""


class _Slow(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        time.sleep(DELAY)
        body = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _wire(url: str, timeout: float) -> Wire:
    return Wire(resolve_target(url, timeout=timeout), check_responses=False)


def test_a_batch_is_waited_for_past_the_single_request_timeout(slow_url: str) -> None:
    wire = _wire(slow_url, timeout=1.0)  # 1 s + 100 × 20 ms = 3 s for the batch
    try:
        reply = wire.call("POST", "control", "/residents", json_body={"residents": [{}] * 100})
        assert reply.status == 200
    finally:
        wire.close()


def test_a_single_request_past_the_timeout_is_given_up(slow_url: str) -> None:
    wire = _wire(slow_url, timeout=1.0)
    try:
        with pytest.raises(httpx.ReadTimeout):
            wire.call("POST", "hub", "/queries", json_body={"request_id": "r", "records": []})
    finally:
        wire.close()


@given(
    st.dictionaries(
        st.text(max_size=8),
        st.one_of(st.lists(st.integers(), max_size=50), st.integers(), st.text(max_size=5)),
        max_size=5,
    )
)
def test_the_read_allowance_grows_with_the_longest_list_and_nothing_else(
    body: dict[str, object],
) -> None:
    lists = [len(v) for v in body.values() if isinstance(v, list)]
    assert batch_size(body) == max(lists, default=0)
    timeout = request_timeout(10.0, body)
    assert timeout.read == pytest.approx(10.0 + PER_BATCH_ITEM * batch_size(body))
    assert (timeout.connect, timeout.write, timeout.pool) == (10.0, 10.0, 10.0)


@pytest.mark.parametrize("body", [None, [1, 2, 3], "text", 7])
def test_a_body_that_is_no_object_is_no_batch(body: object) -> None:
    assert batch_size(body) == 0
