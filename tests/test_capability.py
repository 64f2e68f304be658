"""What a plugin's capability is built from: ConfigContext's shared config checks (what
they accept and how their errors read) and the CallContext its commands receive."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import attrs
import pytest

from ramparts import CallContext, ConfigContext, ConfigError, command
from ramparts.bridge.session import Registry, Route, WindowSession
from ramparts.commands import as_command

CTX = ConfigContext(Path("/app/pyproject.toml"), "tool.ramparts.capabilities.x", Path("/app"), "t")


def _error(call: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        call()
    return info.value


def test_check_keys_names_the_first_unknown_key_and_the_known_ones() -> None:
    CTX.check_keys({"a": 1}, ("a", "b"))
    e = _error(lambda: CTX.check_keys({"zz": 1, "c": 2, "a": 3}, ("a", "b")))
    assert e.key == "tool.ramparts.capabilities.x.c" and e.found == 2
    assert e.expected == "no such key (known: a, b)" and e.file == "/app/pyproject.toml"
    e = _error(lambda: CTX.check_keys({"alow": []}, ("allow", "deny"), where="scope"))
    assert e.key == "tool.ramparts.capabilities.x.scope.alow"
    assert e.expected == "no such key (did you mean 'allow'? known: allow, deny)"


def test_a_missing_key_beside_a_misspelt_one_names_the_intended_key() -> None:
    e = _error(lambda: CTX.require({"alow": []}, "allow", list, "a list"))
    assert e.key == "tool.ramparts.capabilities.x.allow"
    assert e.expected == "a list; found 'alow' instead: did you mean 'allow'?"
    e = _error(lambda: CTX.require({"zebra": []}, "allow", list, "a list"))
    assert e.expected == "a list"  # nothing close: no guess


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (0, {}, "a whole number > 0"),
        (True, {}, "a whole number > 0"),
        (1.0, {"unit": "bytes"}, "a whole number of bytes > 0"),
        ("3", {}, "a whole number > 0"),
        (-1, {"minimum": 0, "maximum": 50}, "a whole number, 0 to 50"),
        (51, {"minimum": 0, "maximum": 50}, "a whole number, 0 to 50"),
    ],
)
def test_whole_number_refuses(value: Any, kwargs: dict[str, Any], expected: str) -> None:
    e = _error(lambda: CTX.whole_number({"n": value}, "n", 1, **kwargs))
    assert e.key.endswith(".n") and e.found == value and e.expected == expected


def test_whole_number_accepts_and_defaults() -> None:
    assert CTX.whole_number({}, "n", 7) == 7
    assert CTX.whole_number({"n": 0}, "n", 7, minimum=0, maximum=50) == 0
    assert CTX.whole_number({"n": 50}, "n", 7, minimum=0, maximum=50) == 50


@pytest.mark.parametrize("value", [0, -1, True, "30", math.inf, math.nan, 601, "none"])
def test_seconds_refuses(value: Any) -> None:
    e = _error(lambda: CTX.seconds({"t": value}, "t", 30, maximum=600))
    assert e.key.endswith(".t") and e.expected == "a number of seconds > 0 and <= 600"


def test_seconds_accepts_none_only_where_a_limit_may_be_turned_off() -> None:
    assert CTX.seconds({}, "t", 30) == 30.0 and CTX.seconds({"t": 0.5}, "t", 30) == 0.5
    assert CTX.seconds({"t": "none"}, "t", 30, unlimited=True) == math.inf
    e = _error(lambda: CTX.seconds({"t": 0}, "t", 30, unlimited=True))
    assert e.expected == 'a number of seconds > 0, or "none"'


def test_flag_and_sub_table_prefixes() -> None:
    assert CTX.flag({}, "f", False) is False and CTX.flag({"f": True}, "f", False) is True
    sub = attrs.evolve(CTX, prefix=f"{CTX.prefix}.programs[2]")
    e = _error(lambda: sub.flag({"f": "yes"}, "f", False))
    assert e.key == "tool.ramparts.capabilities.x.programs[2].f" and e.expected == "true or false"


@attrs.frozen
class _State:
    limit: int


@command
def _typed(ctx: CallContext[_State], n: int) -> int:
    return min(n, ctx.state.limit)


@command
def _bare(ctx: CallContext, n: int) -> int:
    return n


def test_a_parametrised_call_context_is_the_context_not_an_argument() -> None:
    for func in (_typed, _bare):
        cmd = as_command(func)
        assert cmd is not None and cmd.wants_context
        assert [p.name for p in cmd.params] == ["n"]


def _session(*capabilities: str, host: Any = None) -> WindowSession:
    cmd = as_command(_bare)
    assert cmd is not None
    routes = {f"{c}.x": Route(f"{c}.x", c, cmd, None) for c in capabilities}
    return WindowSession("main", Registry(routes), "per-session", lambda _t: None, host=host)


def test_the_accessors_are_the_calling_session_s() -> None:
    session = _session("fs")
    ctx = CallContext("dialog", "open", "main", _State(3), session)
    assert ctx.grants is session.grants and ctx.resources is session.resources
    assert ctx.ended is session.ended and not ctx.ended.is_set()
    assert ctx.can_call("fs") and not ctx.can_call("shell")
    assert _typed(ctx, 10) == 3


def test_app_is_the_window_s_app_and_a_session_without_one_says_so() -> None:
    app = object()
    ctx = CallContext(None, "c", "main", None, _session(host=SimpleNamespace(app=app)))
    assert ctx.app is app
    with pytest.raises(RuntimeError, match="'main' belongs to no app"):
        CallContext(None, "c", "main", None, _session()).app  # noqa: B018
