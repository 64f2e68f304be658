"""Fuzzing the backend's message decoder and dispatcher (hypothesis).

Random and mutated envelopes must never raise out of the decoder or the dispatcher
(the dispatcher's last-resort guard logs such a bug instead of raising, so its log is
watched too), never run a command, and never grow memory. ``RAMPARTS_FUZZ_EXAMPLES``
sets the budget per target: CI runs a short one;
``RAMPARTS_FUZZ_EXAMPLES=200000 uv run pytest tests/test_fuzz.py`` is the long run.
Execution counts go to the security report (``tests/security/report/``).
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import queue
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ramparts.commands import as_command, command
from ramparts.dispatch import Dispatcher
from ramparts.protocol import (
    ProtocolError,
    decode_binary,
    decode_channel,
    sign_binary,
    sign_channel,
)
from ramparts.session import Registry, Route, WindowSession

EXAMPLES = int(os.environ.get("RAMPARTS_FUZZ_EXAMPLES", "1000"))
RUNS = {"n": 0}
_lock = threading.Lock()
#: Hypothesis examples executed, per target (for the report).
EXECUTED: Counter[str] = Counter()
MEMORY: dict[str, int] = {}
REPORT_PART = Path(__file__).parent / "security" / "report" / "parts" / "fuzz.json"


class _Errors(logging.Handler):
    """Collects ERROR records of the bridge: the dispatcher's bug guard logs there."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


ERRORS = _Errors()


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
    logger = logging.getLogger("ramparts")
    logger.addHandler(ERRORS)
    yield d, session, replies
    logger.removeHandler(ERRORS)
    d.close()
    assert session.stats["decoder-error"] == 0
    _write_report()


def _write_report() -> None:
    REPORT_PART.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "examples_per_target": EXAMPLES,
        "targets": len(EXECUTED),
        "executions": sum(EXECUTED.values()),
        "by_target": dict(EXECUTED),
        # The memory test makes one genuine call on purpose; fuzzed messages made the rest.
        "commands_run": RUNS["n"] - MEMORY.get("genuine_runs", 0),
        "unhandled_errors": len(ERRORS.records),
        "memory_growth_bytes": MEMORY.get("growth", 0),
        "memory_messages": MEMORY.get("messages", 0),
        "long_run": "RAMPARTS_FUZZ_EXAMPLES=200000 uv run pytest tests/test_fuzz.py",
    }
    written = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    REPORT_PART.write_text(json.dumps({"written": written, "data": data}, indent=1))


@pytest.fixture(autouse=True)
def no_unhandled_errors() -> Iterator[None]:
    """Whatever a message does, nothing may reach the dispatcher's bug guard."""
    before = len(ERRORS.records)
    yield
    new = ERRORS.records[before:]
    assert not new, [r.getMessage() for r in new]


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
    EXECUTED["random_channel_text_is_rejected"] += 1
    before = RUNS["n"]
    d.channel_message(session, text)
    settle(d)
    assert RUNS["n"] == before


@FUZZ
@given(body=st.binary(max_size=400))
def test_random_binary_bodies_are_rejected(setup: Any, body: bytes) -> None:
    d, session, _ = setup
    EXECUTED["random_binary_bodies_are_rejected"] += 1
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
    EXECUTED["mutated_signed_messages_never_run"] += 1
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
    EXECUTED["signed_garbage_headers_never_raise"] += 1
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

    runs_before = RUNS["n"]
    burst(2000)  # warm up caches
    gc.collect()
    tracemalloc.start()
    first, _ = tracemalloc.get_traced_memory()
    burst(5000)
    gc.collect()
    second, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    MEMORY.update(growth=second - first, messages=15_000, genuine_runs=RUNS["n"] - runs_before)
    assert second - first < 256 * 1024, f"grew by {second - first} bytes over 15,000 messages"


@FUZZ
@given(data=st.binary(max_size=400), text=st.text(max_size=300))
def test_decoders_raise_only_protocol_errors(data: bytes, text: str) -> None:
    """The decoders alone, with a real key: a ProtocolError or a message, nothing else."""
    EXECUTED["decoders_raise_only_protocol_errors"] += 2
    key = b"k" * 32
    for decode, value in ((decode_binary, data), (decode_channel, text)):
        with contextlib.suppress(ProtocolError):
            decode(key, value)


@FUZZ
@given(header=headers, cut=st.integers(min_value=0, max_value=400), pad=st.binary(max_size=8))
def test_truncated_and_padded_signed_bodies_never_run(
    setup: Any, header: dict[str, Any], cut: int, pad: bytes
) -> None:
    """A validly signed body for the real command, cut short or extended: never run."""
    d, session, _ = setup
    EXECUTED["truncated_and_padded_signed_bodies_never_run"] += 1
    handle = session.initial_handles["target"][0]
    body = sign_binary(session.key, {**header, "h": handle, "c": "c", "s": 10**12})
    mutated = body[: min(cut, len(body) - 1)] if not pad else body + pad
    statuses: list[int] = []
    before = RUNS["n"]
    d.binary_message(session, mutated, lambda status, chunks: statuses.append(status))
    settle(d)
    assert statuses == [403] and RUNS["n"] == before
