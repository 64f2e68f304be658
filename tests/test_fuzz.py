"""Fuzzing the backend's message decoder and dispatcher (hypothesis).

Random and mutated envelopes must never raise out of the decoder or the dispatcher
(the dispatcher's last-resort guard logs such a bug instead of raising, so its log is
watched too), never run a command, and never grow memory. Random bytes die at the MAC,
so the ``past_the_mac`` targets sign what they send with the session key, as a script in
the page can through the bootstrap: framing, segment tables, header JSON and arguments
are then fuzzed where the decoder and the dispatcher really read them, and a canary
command may run only for a well-formed call to its handle.

``RAMPARTS_FUZZ_EXAMPLES`` sets the budget per target: CI runs ``CI_EXAMPLES``;
``RAMPARTS_FUZZ_EXAMPLES=200000 uv run pytest tests/test_fuzz.py`` is the long run.
Execution counts go to the security report (see ``tests/security/report.py``).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import hmac
import json
import logging
import os
import queue
import struct
import sys
import threading
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ramparts.bridge.dispatch import Dispatcher
from ramparts.bridge.protocol import (
    ProtocolError,
    decode_binary,
    decode_binary_reply,
    decode_channel,
    sign_binary,
    sign_channel,
)
from ramparts.bridge.session import Registry, Route, WindowSession
from ramparts.commands import as_command, command

sys.path.insert(0, str(Path(__file__).parent / "security"))
import report  # tests/security/report.py: where the report goes

#: The CI budget per target; the docs' figures name the budget they come from.
CI_EXAMPLES = 1000
LONG_RUN = "RAMPARTS_FUZZ_EXAMPLES=200000 uv run pytest tests/test_fuzz.py"
EXAMPLES = int(os.environ.get("RAMPARTS_FUZZ_EXAMPLES", str(CI_EXAMPLES)))
RUNS = {"n": 0}
_lock = threading.Lock()
#: Hypothesis examples executed, per target (for the report).
EXECUTED: Counter[str] = Counter()
MEMORY: dict[str, int] = {}
#: Signed messages that got past MAC and decoding to the handle lookup (for the report).
ROUTED: Counter[str] = Counter()


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
    data = {
        "examples_per_target": EXAMPLES,
        "budget": "CI" if EXAMPLES == CI_EXAMPLES else "long run",
        "targets": len(EXECUTED),
        "executions": sum(EXECUTED.values()),
        "by_target": dict(EXECUTED),
        # The memory test makes one genuine call on purpose; fuzzed messages made the rest.
        "commands_run": RUNS["n"] - MEMORY.get("genuine_runs", 0),
        "unhandled_errors": len(ERRORS.records),
        "memory_growth_bytes": MEMORY.get("growth", 0),
        "memory_messages": MEMORY.get("messages", 0),
        # Every message of the past_the_mac targets is signed, so it passes the MAC; these
        # reached the handle lookup, and these ran the canary as well-formed calls.
        "past_the_mac": EXECUTED["signed_binary_framing_past_the_mac"]
        + EXECUTED["signed_channel_messages_past_the_mac"],
        "routed": sum(ROUTED.values()),
        "canary_runs": len(CANARY),
        "long_run": LONG_RUN,
    }
    report.write_part("fuzz", data)


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


# --- past the MAC: messages signed with the session key, as page script can sign them ---

#: What the canary commands received, in order: a run is only legitimate for a
#: well-formed call to the canary's own handle.
CANARY: list[tuple[str, list[bytes] | None]] = []


@command
def canary(tag: str) -> str:
    with _lock:
        CANARY.append((tag, None))
    return tag


@command
def canary_bytes(tag: str, data: list[bytes]) -> str:
    with _lock:
        CANARY.append((tag, data))
    return tag


def _fresh_seq(session: WindowSession) -> int:
    """Above everything accepted so far: a flipped digit in a mutated header may have
    been accepted as a (valid) higher sequence number."""
    return max(session._replay.highest, 10**6) + 1


@pytest.fixture(scope="module")
def signed(setup: Any) -> Iterator[tuple[Dispatcher, WindowSession, queue.Queue[str]]]:
    """A per-session window with the two canaries; ``setup`` attaches the log watcher."""
    reg = Registry()
    for fn in (canary, canary_bytes):
        cmd = as_command(fn)
        assert cmd is not None
        reg.add(Route(cmd.name, None, cmd, None))
    replies: queue.Queue[str] = queue.Queue()
    session = WindowSession("main", reg, "per-session", replies.put)
    d = Dispatcher(command_timeout=5)
    d.on_call = lambda window, name, outcome, ms: ROUTED.update([name])
    yield d, session, replies
    d.close()
    assert session.stats["decoder-error"] == 0


# Sequence numbers that must never be accepted: not ints, out of range, or long replayed.
bad_seqs = (
    st.integers(max_value=0)
    | st.integers(min_value=2**53)
    | st.integers(min_value=1, max_value=1000)
    | st.sampled_from([True, 1.5, "7", None, [1]])
)
BINARY_MUTATIONS = ("b", "refs", "seq", "handle", "args", "keys", "hlen", "json", "tail")
CHANNEL_MUTATIONS = ("seq", "handle", "args", "keys", "json", "callback", "event")


def _mutate_text(draw: st.DrawFn, raw: bytes) -> bytes:
    """Flip, cut, insert or replace bytes of a header (then it is signed as it is)."""
    how = draw(st.sampled_from(["flip", "cut", "insert", "replace", "nest"]))
    # The position is drawn without the header's length in its bounds: the length depends
    # on the fresh sequence number (session state), and hypothesis refuses a strategy
    # whose draws change between replays of one example (FlakyStrategyDefinition, seen
    # at 50,000 examples per target).
    i = draw(st.integers(min_value=0, max_value=4095)) % max(len(raw), 1)
    if how == "flip" and raw:
        return raw[:i] + bytes([raw[i] ^ draw(st.integers(1, 255))]) + raw[i + 1 :]
    if how == "cut":
        return raw[:i]
    if how == "insert":
        return (
            raw[:i]
            + draw(st.sampled_from([b"NaN", b"[", b"{", b'"', b",", b"\xff", b"1e999"]))
            + raw[i:]
        )
    if how == "nest":
        depth = draw(st.integers(min_value=60, max_value=70))
        return raw[:-1] + b',"z":' + b"[" * depth + b"]" * depth + b"}"
    return draw(st.binary(max_size=80))


def _handle(draw: st.DrawFn, handles: dict[str, list[str]], own: str) -> Any:
    """Any handle but the call's own: the other command's, near misses, JSON values."""
    real = handles[own][0]
    other = handles["canary" if own == "canary_bytes" else "canary_bytes"][0]
    return draw(st.sampled_from([other, real[:-1], real.upper(), real + "A"]) | json_values)


def _break_call(
    draw: st.DrawFn, header: dict[str, Any], mutations: list[str], handle: Any, keys: list[str]
) -> None:
    """The mutations both carriers share: sequence number, handle, arguments, extra keys."""
    if "seq" in mutations:
        header["s"] = draw(bad_seqs)
    if "handle" in mutations:
        header["h"] = handle
    if "args" in mutations:
        header["a"] = draw(json_values)
    if "keys" in mutations:
        header[draw(st.sampled_from(keys))] = draw(json_values)


@st.composite
def signed_binary(draw: st.DrawFn, session: WindowSession) -> tuple[bytes, str]:
    """A binary body signed with the session key, and whether it must ``run``, must
    ``never`` run, or ``maybe`` runs (a mutation can land on another valid call).

    The well-formed call is ``canary_bytes`` with one placeholder per segment; each
    mutation breaks one rule after the MAC (segment table, references, sequence number,
    handle, arguments, header keys, header length, header JSON, body length).
    """
    handles = session.initial_handles
    segs = draw(st.lists(st.binary(max_size=12), max_size=4))
    header: dict[str, Any] = {
        "s": _fresh_seq(session),
        "h": handles["canary_bytes"][0],
        "c": "cb",
        "a": {"tag": draw(st.text(max_size=8)), "data": [{"$bytes": i} for i in range(len(segs))]},
        "b": [len(s) for s in segs],
    }
    mutations = draw(st.lists(st.sampled_from(BINARY_MUTATIONS), max_size=3, unique=True))
    if "b" in mutations:
        header["b"] = draw(
            st.lists(st.integers(min_value=-2, max_value=20) | st.sampled_from([True, 2**64, "1"]))
            | json_values
        )
    if "refs" in mutations:
        refs = st.integers(min_value=-1, max_value=len(segs) + 1) | st.sampled_from(
            [True, "0", 0.0]
        )
        header["a"]["data"] = draw(
            st.lists(st.builds(lambda i: {"$bytes": i}, refs) | st.just({"$bytes": 0, "x": 1}))
        )
    _break_call(draw, header, mutations, _handle(draw, handles, "canary_bytes"), ["e", "p", "x"])
    raw = json.dumps(header, separators=(",", ":")).encode()
    if "json" in mutations:
        raw = _mutate_text(draw, raw)
    payload = b"".join(segs)
    full = payload
    if "tail" in mutations:
        payload = payload[: draw(st.integers(0, len(payload)))] + draw(st.binary(max_size=4))
    hlen = len(raw)
    if "hlen" in mutations:
        hlen = draw(st.integers(min_value=0, max_value=2**32 - 1))
    rest = struct.pack(">I", hlen) + raw + payload
    mac = hmac.new(session.key, b"B" + rest, hashlib.sha256).digest()
    # A body whose length changed cannot run, unless the segment table changed too and
    # happens to add up to the new length (then, with valid references, it is a
    # well-formed call): the table decides.
    never = (
        {"seq", "handle", "keys"} & set(mutations)
        or hlen != len(raw)
        or ("b" not in mutations and len(payload) != len(full))
        or ("b" in mutations and not _lengths_add_up(header["b"], len(payload)))
    )
    return mac + rest, _expect(mutations, bool(never))


def _expect(mutations: list[str], never: bool) -> str:
    """``run``, ``never`` or ``maybe``, with the mutations (for a failure's message)."""
    return ("never" if never else "maybe" if mutations else "run") + ":" + ",".join(mutations)


@st.composite
def signed_channel(draw: st.DrawFn, session: WindowSession) -> tuple[str, str]:
    """A channel message signed with the session key, and whether it must ``run``, must
    ``never`` run or ``maybe`` runs."""
    handles = session.initial_handles
    header: dict[str, Any] = {
        "s": _fresh_seq(session),
        "h": handles["canary"][0],
        "c": "cc",
        "a": {"tag": draw(st.text(max_size=8))},
    }
    mutations = draw(st.lists(st.sampled_from(CHANNEL_MUTATIONS), max_size=3, unique=True))
    _break_call(draw, header, mutations, _handle(draw, handles, "canary"), ["b", "p", "x"])
    if "callback" in mutations:
        header["c"] = draw(st.sampled_from(["x" * 65, None, 7, ["c"], {"c": "c"}]))
    if "event" in mutations:
        header = {"s": header["s"], "e": draw(json_values), "p": draw(json_values)}
    raw = json.dumps(header, separators=(",", ":")).encode()
    if "json" in mutations:
        raw = _mutate_text(draw, raw)
    text = raw.decode("utf-8", "replace")  # what TextEncoder makes of broken UTF-8
    never = {"seq", "handle", "keys", "callback", "event"} & set(mutations)
    return sign_channel(session.key, text), _expect(mutations, bool(never))


def _lengths_add_up(lengths: Any, total: int) -> bool:
    ints = isinstance(lengths, list) and all(type(n) is int and n >= 0 for n in lengths)
    return ints and sum(lengths) == total


def _check_runs(before: int, expect: str, ok: bool, expect_data: bool) -> None:
    """A canary ran exactly when the call was answered ``ok``, always for a well-formed
    call, and never for one that breaks a rule no mutation can repair."""
    ran = len(CANARY) - before
    assert ran in (0, 1)
    assert ran == int(ok), f"ran {ran} time(s), reply ok={ok}"
    if not expect.startswith("maybe"):
        assert ran == expect.startswith("run"), f"expected {expect}, ran {ran} time(s)"
    if ran:
        assert (CANARY[-1][1] is not None) == expect_data


@FUZZ
@given(data=st.data())
def test_signed_binary_framing_past_the_mac(signed: Any, data: st.DataObject) -> None:
    """Segment tables, references, lengths and header JSON, signed: the decoder and the
    dispatcher read them for real, and only a well-formed canary call runs."""
    d, session, _ = signed
    EXECUTED["signed_binary_framing_past_the_mac"] += 1
    body, expect = data.draw(signed_binary(session))
    replies: list[tuple[int, list[bytes]]] = []
    before = len(CANARY)
    d.binary_message(session, body, lambda status, chunks: replies.append((status, chunks)))
    settle(d)
    assert len(replies) == 1
    status, chunks = replies[0]
    reply = decode_binary_reply(b"".join(chunks)) if status == 200 else {}
    assert status in (200, 403)
    _check_runs(before, expect, reply.get("ok") is True, expect_data=True)
    if reply.get("ok"):
        tag, segments = CANARY[-1]
        assert reply["r"] == tag and all(isinstance(s, bytes) for s in segments or ())


@FUZZ
@given(data=st.data())
def test_signed_channel_messages_past_the_mac(signed: Any, data: st.DataObject) -> None:
    """Sequence numbers, handles, callbacks, arguments, events and header JSON, signed:
    refused or answered, never an exception, and only a well-formed canary call runs."""
    d, session, replies = signed
    EXECUTED["signed_channel_messages_past_the_mac"] += 1
    text, expect = data.draw(signed_channel(session))
    before = len(CANARY)
    d.channel_message(session, text)
    settle(d)
    answers = []
    while not replies.empty():
        answers.append(json.loads(replies.get_nowait()))
    assert len(answers) <= 1
    ok = bool(answers) and answers[0].get("ok") is True
    _check_runs(before, expect, ok, expect_data=False)
    if ok:
        assert answers[0]["r"] == CANARY[-1][0]
