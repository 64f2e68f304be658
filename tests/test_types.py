"""`ramparts types`: TypeScript declarations of an app's window.ramparts.

The mapping is tested hint by hint; the whole file is tested with the TypeScript
compiler (`tsc --noEmit`), which must accept correct page code and refuse wrong
arguments, a capability command the config does not allow, and a wrong use of a result.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Annotated, Any, Literal, NewType, NotRequired, Optional, TypedDict, Union

import attrs
import pytest
from app_folders import write_app
from typer.testing import CliRunner

from ramparts.app import App
from ramparts.cli import app as cli
from ramparts.errors import CommandError
from ramparts.typescript import BRIDGE_ERROR_CODES, TypeWriter, app_declarations, error_codes


def ts(hint: Any, direction: Literal["args", "result"] = "result") -> str:
    return TypeWriter().render(hint, direction)


# -- the mapping, hint by hint ------------------------------------------------------------


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (int, "number"),
        (float, "number"),
        (str, "string"),
        (bool, "boolean"),
        (None, "null"),
        (type(None), "null"),
        (Any, "unknown"),
        (object, "unknown"),
        (list[int], "number[]"),
        (list, "unknown[]"),
        (dict[str, float], "Record<string, number>"),
        (dict, "Record<string, unknown>"),
        (tuple[str, int], "[string, number]"),
        (tuple[str, ...], "string[]"),
        (tuple, "unknown[]"),
        (tuple[()], "[]"),
        (Literal["a", 1, True, None], '"a" | 1 | true | null'),
        (Optional[str], "string | null"),  # noqa: UP045 - the old spelling is the test
        (Union[int, str], "number | string"),  # noqa: UP007
        (str | None, "string | null"),
        (list[int | None], "(number | null)[]"),
        (dict[str, list[tuple[bool, str]]], "Record<string, [boolean, string][]>"),
        (Annotated[int, lambda v, w: v], "number"),
        (NewType("UserId", int), "number"),
        (int | Any, "unknown"),
        (set[int], "unknown"),  # the bridge sends no sets
        (complex, "unknown"),
    ],
)
def test_hint_maps_to(hint: Any, expected: str) -> None:
    assert ts(hint) == expected


def test_bytes_is_a_uint8array_in_a_result_and_any_buffer_in_arguments() -> None:
    assert ts(bytes) == "Uint8Array"
    assert ts(bytes, "args") == "ArrayBuffer | ArrayBufferView"
    assert ts(list[bytes], "args") == "(ArrayBuffer | ArrayBufferView)[]"


# The call syntax: under `from __future__ import annotations` Python 3.11 cannot see
# NotRequired in a class body, and the bridge's validator then requires the key too.
Point = TypedDict("Point", {"x": float, "label": NotRequired[str]})  # noqa: UP013


@attrs.frozen
class Options:
    depth: int
    follow: bool = False


@attrs.frozen
class Node:
    name: str
    children: list[Node]


@dataclasses.dataclass
class Plain:
    n: int


def test_typeddict_is_an_interface_with_its_optional_keys() -> None:
    w = TypeWriter()
    assert w.render(list[Point], "args") == "Point[]"
    assert w.interfaces == ["  interface Point {\n    x: number;\n    label?: string;\n  }\n"]


def test_attrs_default_is_optional_as_an_argument_and_present_in_a_result() -> None:
    w = TypeWriter()
    assert w.render(Options, "args") == "OptionsInput"
    assert w.render(Options, "result") == "Options"
    assert w.render(Options, "args") == "OptionsInput"  # named once
    args, result = w.interfaces
    assert "follow?: boolean;" in args and "depth: number;" in args
    assert "follow: boolean;" in result


def test_one_interface_when_both_directions_read_the_same() -> None:
    w = TypeWriter()
    assert w.render(Point, "args") == w.render(Point, "result") == "Point"
    assert len(w.interfaces) == 1


def test_a_class_may_refer_to_itself() -> None:
    w = TypeWriter()
    assert w.render(Node, "result") == "Node"
    assert w.interfaces == ["  interface Node {\n    name: string;\n    children: Node[];\n  }\n"]


def test_a_dataclass_is_an_interface_that_says_the_bridge_does_not_send_it() -> None:
    w = TypeWriter()
    assert w.render(Plain, "result") == "Plain"
    assert "n: number;" in w.interfaces[0] and "not dataclasses" in w.interfaces[0]


def test_class_names_do_not_shadow_typescript_globals_or_each_other() -> None:
    Promise = TypedDict("Promise", {"a": int})  # noqa: UP013 - the name is the test
    Other = TypedDict("Point", {"b": str})  # noqa: UP013 - two classes named Point
    w = TypeWriter()
    assert w.render(Promise, "result") == "Promise2"
    assert w.render(Point, "result") == "Point"
    assert w.render(Other, "result") == "Point2"


def test_error_codes_include_a_plugins_own() -> None:
    class QuotaExceeded(CommandError):
        code = "quota_exceeded"

    assert error_codes()[: len(BRIDGE_ERROR_CODES)] == list(BRIDGE_ERROR_CODES)
    assert "quota_exceeded" in error_codes()


# -- the whole app ------------------------------------------------------------------------

COMMANDS = '''
from typing import Literal, TypedDict

import attrs

from ramparts import command


class Item(TypedDict):
    id: int
    tags: list[str]


@attrs.frozen
class Query:
    text: str
    limit: int = 10


@command
def add(a: int, b: int = 1) -> int:
    """Add two numbers."""
    return a + b


@command
def find(query: Query, mode: Literal["exact", "prefix"] = "exact") -> list[Item]:
    return []


@command
def blob(data: bytes) -> bytes:
    return data


@command
def ping() -> None:
    return None
'''

CAPABILITIES = """
[tool.ramparts.capabilities.sample]
allow = ["echo", "say"]
words = ["hello"]

[[tool.ramparts.windows]]
label = "main"
capabilities = ["sample"]

[[tool.ramparts.windows]]
label = "tools"
capabilities = ["sample"]
app_commands = false
"""


@pytest.fixture
def typed_app(tmp_path: Path) -> Path:
    return write_app(
        tmp_path / "app", commands=COMMANDS, module="typed_cmds", capabilities=CAPABILITIES
    )


def test_declarations_hold_exactly_the_routes_the_registry_has(typed_app: Path) -> None:
    loaded = App.load(typed_app)
    text = app_declarations(loaded.config, loaded.registry)
    assert '"add": { args: { a: number; b?: number; }; result: number };' in text
    assert (
        '"find": { args: { query: QueryInput; mode?: "exact" | "prefix"; }; result: Item[] }'
        in text
    )
    assert '"sample.say": { args: { word: string; }; result: string };' in text
    assert '"sample.secret"' not in text and "secret(" not in text  # not in allow
    assert "/** Add two numbers. Windows: main. */" in text
    assert "Windows: main, tools." in text  # a capability command both windows may call
    assert "Record<string, never>" in text  # ping takes nothing
    assert 'type UiEvent = "clicked";' in text
    for code in BRIDGE_ERROR_CODES:
        assert f'"{code}"' in text


def test_one_window_gets_only_what_it_may_call(typed_app: Path) -> None:
    loaded = App.load(typed_app)
    text = app_declarations(loaded.config, loaded.registry, "tools")
    assert '"sample.echo"' in text
    assert '"add"' not in text  # app_commands = false
    assert "type UiEvent = never;" in text  # and so no page events either
    with pytest.raises(KeyError):
        app_declarations(loaded.config, loaded.registry, "nope")


def test_cli_writes_the_file(typed_app: Path, tmp_path: Path) -> None:
    out = tmp_path / "ramparts.d.ts"
    result = CliRunner().invoke(cli, ["types", str(typed_app), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "declare var ramparts: Ramparts.Api;" in out.read_text()
    stdout = CliRunner().invoke(cli, ["types", str(typed_app), "--window", "tools"])
    assert stdout.exit_code == 0 and '"sample.echo"' in stdout.stdout
    bad = CliRunner().invoke(cli, ["types", str(typed_app), "--window", "nope"])
    assert bad.exit_code == 1 and "no window is labelled 'nope'" in bad.output


# -- checked by the TypeScript compiler ---------------------------------------------------


def _tsc() -> Path:
    """tsc from npm, installed once into a cache folder shared by test runs."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to run the TypeScript compiler (not installed)")
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(cache) / "ramparts-tests" / "typescript5"
    tsc = folder / "node_modules" / "typescript" / "bin" / "tsc"
    if not tsc.exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(folder), "--no-audit", "--no-fund",
             "typescript@5"],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
    return tsc


def _compile(tmp_path: Path, dts: str, page: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "ramparts.d.ts").write_text(dts)
    (tmp_path / "page.ts").write_text(textwrap.dedent(page))
    return subprocess.run(
        ["node", str(_tsc()), "--noEmit", "--strict", "--target", "es2022",
         "--lib", "es2022,dom", "ramparts.d.ts", "page.ts"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


GOOD_PAGE = """
    async function page(): Promise<void> {
      const sum: number = await ramparts.invoke("add", { a: 2, b: 40 });
      const one: number = await window.ramparts.invoke("add", { a: 2 });
      const items = await ramparts.invoke("find", { query: { text: "x" }, mode: "prefix" });
      const ids: number[] = items.map((i) => i.id);
      const back: Uint8Array = await ramparts.invoke("blob", { data: new ArrayBuffer(4) });
      const nothing: null = await ramparts.invoke("ping");
      const word: string = await ramparts.sample.say({ word: "hello" });
      const anything: unknown = await ramparts.sample.echo({ value: [1, "two"] });
      await ramparts.events.emit("clicked", { x: 1 });
      const off: () => void = ramparts.events.on("renamed", (p: unknown) => {});
      try {
        await ramparts.invoke("add", { a: 1 });
      } catch (e) {
        if (e instanceof ramparts.Error && e.code === "invalid_args") {
          const data: unknown = e.data;
        }
      }
    }
"""


def test_tsc_accepts_correct_page_code(typed_app: Path, tmp_path: Path) -> None:
    loaded = App.load(typed_app)
    done = _compile(tmp_path, app_declarations(loaded.config, loaded.registry), GOOD_PAGE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_second_instance_event_is_typed_for_the_windows_granted_it(
    typed_app: Path, tmp_path: Path
) -> None:
    config = typed_app / "pyproject.toml"
    granted = '[tool.ramparts.single_instance]\nwindows = ["main"]\n'
    config.write_text(config.read_text() + granted)
    loaded = App.load(typed_app)
    page = """
        function page(): void {
          ramparts.events.on("ramparts:second-instance", (p) => { const a: string[] = p.args; });
          ramparts.events.on("ramparts:second-instance", (p) => { const n: number = p.cwd; });
        }
    """
    done = _compile(tmp_path, app_declarations(loaded.config, loaded.registry, "main"), page)
    errors = [line for line in done.stdout.splitlines() if "error TS" in line]
    assert len(errors) == 1 and "page.ts(4," in errors[0] and "TS2322" in errors[0], errors
    tools = app_declarations(loaded.config, loaded.registry, "tools")  # not granted
    assert "ramparts:second-instance" not in tools


@pytest.mark.parametrize(
    ("line", "error"),
    [
        # a string where the hint says int
        ('await ramparts.invoke("add", { a: "2", b: 40 });', "TS2322"),
        # an argument the command does not take
        ('await ramparts.invoke("add", { a: 2, c: 1 });', "TS2353"),
        # a required argument left out
        ('await ramparts.invoke("add", {});', "TS2345"),
        # an attrs field of the wrong type, nested
        ('await ramparts.invoke("find", { query: { text: "x", limit: "9" } });', "TS2322"),
        # sample.secret exists in the plugin but no allow list names it
        ('await ramparts.invoke("sample.secret");', "TS2345"),
        ("await ramparts.sample.secret();", "TS2339"),
        # a result used as what it is not
        ('const s: string = await ramparts.invoke("add", { a: 1 });', "TS2322"),
        ('(await ramparts.invoke("find", { query: { text: "x" } }))[0].name;', "TS2339"),
        # a page event not in from_ui
        ('await ramparts.events.emit("undeclared", 1);', "TS2345"),
        # an error code nothing raises
        ('try {} catch (e) { if (e instanceof ramparts.Error && e.code === "oops") {} }', "TS2367"),
    ],
)
def test_tsc_refuses_wrong_page_code(
    typed_app: Path, tmp_path: Path, line: str, error: str
) -> None:
    loaded = App.load(typed_app)
    page = f"async function page(): Promise<void> {{\n  {line}\n}}\n"
    done = _compile(tmp_path, app_declarations(loaded.config, loaded.registry), page)
    assert done.returncode != 0
    assert "page.ts(2," in done.stdout and error in done.stdout, done.stdout
