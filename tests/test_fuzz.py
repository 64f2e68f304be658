"""Fuzzing the backend's message decoder and dispatcher (hypothesis).

Random and mutated envelopes must never raise out of the dispatcher, never run a
command, and never grow memory. ``RAMPARTS_FUZZ_EXAMPLES`` sets the budget: CI runs a
short one; ``RAMPARTS_FUZZ_EXAMPLES=200000 uv run pytest tests/test_fuzz.py`` is the
long run.
"""

from __future__ import annotations

import gc
import json
import os
import queue
import threading
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ramparts.commands import as_command, command
from ramparts.dispatch import Dispatcher
from ramparts.protocol import sign_binary, sign_channel
from ramparts.session import Registry, Route, WindowSession

EXAMPLES = int(os.environ.get("RAMPARTS_FUZZ_EXAMPLES", "1000"))
RUNS = {"n": 0}
_lock = threading.Lock()


@command
def target(x: int) -> int:
    with _lock:
        RUNS["n"] += 1
    return x


@pytest.fixture(scope="module")
def setup() -> Iterator[tuple[Dispatcher, WindowSession, queue.Queue[str]]]:
    reg = Registry()
    cmd = as_command(target)
    assert cmd is not None
    reg.add(Route("target", None, cmd, None))
    replies: queue.Queue[str] = queue.Queue()
    session = WindowSession("main", reg, "per-call", replies.put)
    d = Dispatcher(command_timeout=5)
    yield d, session, replies
    d.close()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
headers = st.dictionaries(
    st.sampled_from(["s", "h", "c", "a", "b", "e", "p", "x"]), json_values, max_size=6
)


def settle(d: Dispatcher) -> None:
    """Wait until every message was handled and answered (no sleeping on luck)."""
    assert d.wait_idle(timeout=30), "messages still being handled"


FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
)


@FUZZ
@given(text=st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_random_channel_text_is_rejected(setup: Any, text: str) -> None:
    d, session, _ = setup
    before = RUNS["n"]
    d.channel_message(session, text)
    settle(d)
    assert RUNS["n"] == before


@FUZZ
@given(body=st.binary(max_size=400))
def test_random_binary_bodies_are_rejected(setup: Any, body: bytes) -> None:
    d, session, _ = setup
    statuses: list[int] = []
    before = RUNS["n"]
    d.binary_message(session, body, lambda status, chunks: statuses.append(status))
    settle(d)
    assert statuses == [403] and RUNS["n"] == before


@FUZZ
@given(header=headers, flip=st.integers(min_value=0, max_value=10_000))
def test_mutated_signed_messages_never_run(setup: Any, header: dict[str, Any], flip: int) -> None:
    """A validly signed message, then one byte changed: always refused, never run."""
    d, session, _ = setup
    body = bytearray(sign_binary(session.key, header))
    i = flip % len(body)
    body[i] ^= 1 + flip % 255
    statuses: list[int] = []
    before = RUNS["n"]
    d.binary_message(session, bytes(body), lambda status, chunks: statuses.append(status))
    settle(d)
    assert statuses == [403] and RUNS["n"] == before


@FUZZ
@given(header=headers)
def test_signed_garbage_headers_never_raise(setup: Any, header: dict[str, Any]) -> None:
    """Correctly signed but arbitrary headers: refused or answered, never an exception."""
    d, session, replies = setup
    text = sign_channel(session.key, json.dumps(header))
    d.channel_message(session, text)
    settle(d)
    while not replies.empty():
        reply = json.loads(replies.get_nowait())
        assert reply["ok"] is False  # no real handle, so never a successful call


def test_memory_stays_flat(setup: Any) -> None:
    d, session, replies = setup
    pool = session.initial_handles["target"]
    seq = [10**9]

    def burst(n: int) -> None:
        for i in range(n):
            seq[0] += 1
            d.binary_message(session, os.urandom(64), lambda s, c: None)
            d.channel_message(session, "x" * 50)
            text = sign_channel(
                session.key, json.dumps({"s": seq[0], "h": pool[0], "c": "c", "a": {"x": i}})
            )
            d.channel_message(session, text)  # a dead per-call handle after the first
        settle(d)
        while not replies.empty():
            replies.get_nowait()

    burst(2000)  # warm up caches
    gc.collect()
    tracemalloc.start()
    first, _ = tracemalloc.get_traced_memory()
    burst(5000)
    gc.collect()
    second, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert second - first < 256 * 1024, f"grew by {second - first} bytes over 15,000 messages"
