"""Strict argument validation from type hints: nothing is coerced."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any, Literal, TypedDict

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ramparts.commands import as_command, command
from ramparts.errors import InvalidArgs
from ramparts.validation import compile_hint


@pytest.mark.parametrize(
    ("hint", "good", "bad"),
    [
        (int, [0, -5, 2**60], ["1", 1.5, True, None]),
        (float, [1, 1.5], ["1.5", True, None, float("inf")]),
        (bool, [True, False], [0, 1, "true", None]),
        (str, ["", "x"], [1, None, b"x", ["x"]]),
        (bytes, [b"x", bytearray(b"y"), memoryview(b"z")], ["x", [1, 2], None]),
        (type(None), [None], [0, ""]),
        (list[int], [[], [1, 2]], [[1, "2"], "12", {"0": 1}]),
        (dict[str, int], [{}, {"a": 1}], [{"a": "1"}, [["a", 1]]]),
        (tuple[int, str], [[1, "a"]], [[1], [1, 2], ["a", 1]]),
        (tuple[int, ...], [[], [1, 2, 3]], [[1, "x"]]),
        (int | None, [1, None], ["1"]),
        (Literal["a", "b"], ["a"], ["c", 1]),
        (Literal[1], [1], [True, 1.0]),
        (Any, [1, "x", None, [1]], []),
    ],
)
def test_hints(hint: Any, good: list[Any], bad: list[Any]) -> None:
    check = compile_hint(hint)
    for value in good:
        check(value, "arg")
    for value in bad:
        with pytest.raises(InvalidArgs):
            check(value, "arg")


def test_error_messages_say_where() -> None:
    with pytest.raises(InvalidArgs, match=r"items\[1\]: expected integer, got string"):
        compile_hint(list[int])([1, "2"], "items")
    with pytest.raises(InvalidArgs, match=r"opts\.depth: expected integer"):
        compile_hint(dict[str, int])({"depth": "x"}, "opts")


@attrs.frozen
class Point:
    x: int
    y: int = 0


def test_attrs_classes_are_built_strictly() -> None:
    check = compile_hint(Point)
    assert check({"x": 1}, "p") == Point(1, 0)
    with pytest.raises(InvalidArgs, match="unknown field 'z'"):
        check({"x": 1, "z": 2}, "p")
    with pytest.raises(InvalidArgs, match=r"p\.x: missing"):
        check({}, "p")


def test_annotated_checks_run_after_the_type() -> None:
    def positive(value: int, where: str) -> None:
        if value <= 0:
            raise InvalidArgs(f"{where}: must be > 0")

    check = compile_hint(Annotated[int, positive])
    assert check(3, "n") == 3
    with pytest.raises(InvalidArgs, match="must be > 0"):
        check(0, "n")


def test_unsupported_hints_fail_at_definition_time() -> None:
    with pytest.raises(TypeError, match="unsupported type hint"):
        compile_hint(set[int])
    with pytest.raises(TypeError, match="needs a type hint"):

        @command
        def f(x) -> None:  # type: ignore[no-untyped-def]
            ...

    with pytest.raises(TypeError, match="named parameter"):

        @command
        def g(*args: int) -> None: ...


def test_command_binds_named_arguments() -> None:
    @command(name="sum", timeout=2)
    def total(a: int, b: int = 10) -> int:
        return a + b

    cmd = as_command(total)
    assert cmd is not None and cmd.name == "sum" and cmd.timeout == 2 and not cmd.binary
    assert cmd.bind({"a": 1}) == {"a": 1}
    assert cmd.bind({"a": 1, "b": 2}) == {"a": 1, "b": 2}
    for args, msg in [
        ({}, "missing argument 'a'"),
        ({"a": 1, "c": 1}, "unknown argument 'c'"),
        ([1], "object"),
    ]:
        with pytest.raises(InvalidArgs, match=msg):
            cmd.bind(args)
    assert total(1) == 11  # still a plain function


def test_bytes_in_a_signature_selects_the_binary_carrier() -> None:
    @command
    def up(data: bytes) -> int:
        return len(data)

    @command
    def down() -> dict[str, bytes]:
        return {}

    assert as_command(up).binary and as_command(down).binary  # type: ignore[union-attr]


def test_sequences_and_bare_tuples() -> None:
    from collections.abc import Sequence

    assert compile_hint(Sequence[int])([1, 2], "s") == [1, 2]
    with pytest.raises(InvalidArgs):
        compile_hint(Sequence[int])(["x"], "s")
    assert compile_hint(tuple)([1, "a"], "t") == (1, "a")


class Blob(TypedDict):
    data: bytes


def test_bytes_inside_a_typeddict_selects_the_binary_carrier() -> None:
    @command
    def get() -> Blob:
        return {"data": b""}

    assert as_command(get).binary  # type: ignore[union-attr]


HUGE = 10**400  # JSON has integers of any size; float(HUGE) raises OverflowError


@pytest.mark.parametrize(
    ("hint", "value", "message"),
    [
        (float, HUGE, r"x: number too large"),
        (float, -HUGE, r"x: number too large"),
        (list[float], [1, HUGE], r"x\[1\]: number too large"),
        (dict[str, float], {"k": HUGE}, r"x\.k: number too large"),
        (float | None, HUGE, r"x: expected number or null"),
    ],
)
def test_integers_too_large_for_a_float_are_invalid_args(
    hint: Any, value: Any, message: str
) -> None:
    with pytest.raises(InvalidArgs, match=message):
        compile_hint(hint)(value, "x")
    assert compile_hint(float)(2**1000, "x") == float(2**1000)  # large but representable


def _crashes_with_value_error(value: int, where: str) -> None:
    if value < 0:
        raise ValueError("internal: negative")


@attrs.frozen
class Bounded:
    n: int = attrs.field(validator=attrs.validators.gt(0))


def test_value_and_type_errors_from_checks_are_invalid_args() -> None:
    check = compile_hint(Annotated[int, _crashes_with_value_error])
    assert check(1, "n") == 1
    with pytest.raises(InvalidArgs, match="n: refused by the check _crashes_with_value_error") as e:
        check(-1, "n")
    assert "internal" not in e.value.message and e.value.data == {"path": "n"}
    with pytest.raises(InvalidArgs, match=r"b: refused by the check Bounded \(ValueError\)"):
        compile_hint(Bounded)({"n": 0}, "b")
    assert compile_hint(Bounded | None)(None, "b") is None
    with pytest.raises(InvalidArgs):  # the union tries the next option, then refuses
        compile_hint(Bounded | None)({"n": 0}, "b")


class Opts(TypedDict, total=False):
    depth: int
    ratio: float


@command
def _signatures(
    a: int,
    b: float,
    c: list[float | None],
    d: dict[str, Literal["x", 1]],
    e: tuple[int, str],
    f: Annotated[float, _crashes_with_value_error],
    g: Bounded | None,
    h: Opts,
    i: Point = Point(0),
    j: bool = False,
    k: str | bytes = "",
) -> None: ...


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**500)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["x", "y", "n", "depth", "ratio", "k"]), inner, max_size=4
        )
    ),
    max_leaves=20,
)
_VALID = {"a": 1, "b": 1.5, "c": [], "d": {}, "e": [1, "x"], "f": 0, "g": None, "h": {}}


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([*"abcdefghijk", "zz"]), _JSON, _JSON)
def test_bind_raises_only_invalid_args_for_any_json(name: str, value: Any, whole: Any) -> None:
    """Whatever JSON a page sends, binding either succeeds or says invalid_args.

    One argument at a time gets an arbitrary value (the others are valid, so its check is
    reached), and the whole argument object is arbitrary too.
    """
    cmd = as_command(_signatures)
    assert cmd is not None
    assert cmd.bind(_VALID)["b"] == 1.5
    for args in ({**_VALID, name: value}, whole):
        with contextlib.suppress(InvalidArgs):
            cmd.bind(args)
