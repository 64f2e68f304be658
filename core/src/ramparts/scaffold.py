"""``ramparts new``, ``ramparts add`` and ``ramparts remove``: making and changing apps.

Internal: reached through the CLI.

``new`` renders the cookiecutter templates (``cookiecutter/app`` and
``cookiecutter/plugin`` in the checkout, ``ramparts/templates`` in the wheel). Where
this environment got ``ramparts`` and the plugins from (a checkout, local wheels: see
sources.py) goes into the new project's ``[tool.uv.sources]`` and
``requirements-local.txt``, through the templates' private ``_local_sources`` variable,
so the project installs from the same place.

``add`` and ``remove`` edit the app's ``pyproject.toml`` as text, touching only the
lines of the one capability table (and its sub-tables) and the plugin's entries in
``[project] dependencies`` (through tomlkit) and ``[tool.uv.sources]``, so comments and
layout elsewhere stay as they were and ``add`` followed by ``remove`` gives back the
same bytes (``requirements-local.txt`` too). Every edit is checked by parsing the result
and comparing it with the intended data before it is written, atomically.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from ramparts.config import CAPABILITY_NAME, RESERVED_NAMES
from ramparts.errors import RampartsError
from ramparts.plugins import InstalledPlugin, installed_plugins, suggested_package
from ramparts.sources import (
    REQUIREMENTS,
    Source,
    installed_source,
    local_source,
    requirements_text,
    uv_table,
)
from ramparts.toolkit.atomic import atomic_write

__all__ = [
    "NEXT_STEPS",
    "ScaffoldError",
    "add_capability",
    "install",
    "new_project",
    "next_steps",
    "not_installed",
    "remove_capability",
    "template_answers",
    "template_dir",
    "template_sources",
    "uninstall",
    "uninstall_command",
]

TEMPLATES = ("app", "plugin")
#: What to run in a new project, word for word as its README says it (a test keeps the
#: two the same), by template and front end. ``uv run`` first makes the project's own
#: ``.venv`` and installs the project into it (a plugin's entry point exists only then).
NEXT_STEPS = {
    "app": "uv run pytest && uv run ramparts dev",
    "app --frontend vite-ts": (
        "npm --prefix frontend install && uv run npm --prefix frontend run build"
        " && uv run pytest && uv run ramparts dev"
    ),
    "plugin": "uv run pytest",
}
_HEADER = re.compile(r"^\s*\[\[?([^\[\]]+)\]\]?\s*(#.*)?$")
_PREFIX = ("tool", "ramparts", "capabilities")
_SOURCES = ("tool", "uv", "sources")
_KEY_LINE = re.compile(r"""^\s*(["']?)([A-Za-z0-9._-]+)\1\s*=""")


class ScaffoldError(RampartsError):
    """A template, install or config edit could not be done; nothing was changed."""


# -- new --------------------------------------------------------------------------------


def template_dir(kind: str) -> Path:
    """The cookiecutter template folder: in the installed package, else in the checkout."""
    if kind not in TEMPLATES:
        raise ValueError(f"no template {kind!r}; there are {', '.join(TEMPLATES)}")
    packaged = Path(str(files("ramparts"))) / "templates" / kind
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[3] / "cookiecutter" / kind
    if checkout.is_dir():
        return checkout
    raise ScaffoldError(f"the {kind} template is missing from this install ({packaged})")


def new_project(
    kind: str,
    context: Mapping[str, str],
    *,
    output_dir: Path,
    no_input: bool,
    overwrite: bool = False,
    ask: Callable[[str, str], str] | None = None,
) -> Path:
    """Render a template; return the project folder it made.

    :param context: template variables to set: never asked for again. The rest keep
        their defaults, or are asked for unless ``no_input``.
    :param ask: ``ask(question, default) -> answer``; default: :func:`input` on stdin.
    :raises ScaffoldError: a bad name, an existing folder, a refused value, or a folder
        that cannot be written (the message names it).
    """
    # Cookiecutter would ask for every variable, the given ones too; asking here for
    # only the others and rendering with no_input keeps the command line's values.
    answers = template_answers(kind, context, None if no_input else (ask or _ask_stdin))
    from cookiecutter.exceptions import (  # type: ignore[import-untyped]  # lazy: jinja2 etc.
        CookiecutterException,
        FailedHookException,
        OutputDirExistsException,
    )
    from cookiecutter.main import cookiecutter  # type: ignore[import-untyped]
    from jinja2 import TemplateError

    # Cookiecutter logs a traceback when a hook refuses; the hook's own message says it.
    log = logging.getLogger("cookiecutter")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        made = cookiecutter(
            str(template_dir(kind)),
            no_input=True,
            extra_context={**answers, "_local_sources": template_sources(kind, answers)},
            output_dir=str(output_dir),
            overwrite_if_exists=overwrite,
        )
    except OutputDirExistsException as e:
        what = str(e).removeprefix("Error: ")
        raise ScaffoldError(f"{what}; choose another name or --output-dir") from None
    except FailedHookException:
        # The template's pre-generation hook printed what is wrong on stderr.
        raise ScaffoldError("the template refused these values (see above)") from None
    except (CookiecutterException, TemplateError) as e:
        raise ScaffoldError(f"the {kind} template failed: {e}") from None
    except OSError as e:
        # Cookiecutter re-raises a failed mkdir as a bare OSError; the cause has the why.
        cause = e.__cause__ if isinstance(e.__cause__, OSError) else e
        where, why = cause.filename or output_dir, cause.strerror or e
        raise ScaffoldError(f"cannot create the project in {where}: {why}") from None
    finally:
        log.setLevel(level)
    return Path(made)


def template_answers(
    kind: str, context: Mapping[str, str], ask: Callable[[str, str], str] | None
) -> dict[str, str]:
    """Every visible template variable: given, else asked for (``ask``), else its default.

    Defaults are rendered from the answers so far, as cookiecutter does (the project
    folder follows the app name).

    :raises ScaffoldError: a name with no letter in it, or a choice the template does
        not offer.
    """
    import json

    _check_name(kind, context)

    from cookiecutter.prompt import (  # type: ignore[import-untyped]
        create_env_with_context,
        render_variable,
    )

    spec = json.loads((template_dir(kind) / "cookiecutter.json").read_text(encoding="utf-8"))
    questions = spec.pop("__prompts__", {})
    env = create_env_with_context({"cookiecutter": spec})
    answers: dict[str, str] = {}
    for key, raw in spec.items():
        if key.startswith("_"):  # private: rendered by cookiecutter, never asked
            continue
        choices = [str(c) for c in raw] if isinstance(raw, list) else None
        if key in context:
            answers[key] = _checked_choice(key, context[key], choices)
            continue
        default = choices[0] if choices else str(render_variable(env, raw, answers))
        question = questions.get(key, key) + (f" ({', '.join(choices)})" if choices else "")
        answer = ask(question, default) if ask else default
        answers[key] = _checked_choice(key, answer, choices)
    return answers


def next_steps(kind: str, answers: Mapping[str, str]) -> str:
    """What to run first in a project made from these answers (:data:`NEXT_STEPS`)."""
    return NEXT_STEPS.get(f"{kind} --frontend {answers.get('frontend')}", NEXT_STEPS[kind])


def template_sources(kind: str, answers: Mapping[str, str]) -> dict[str, str]:
    """The template's ``_local_sources``: the ``[tool.uv.sources]`` table (``uv``) and the
    ``requirements-local.txt`` text (``pip``) for the project's Ramparts dependencies,
    from where this environment installed them; empty when all came from an index."""
    found = [s for s in map(installed_source, _dependencies(kind, answers)) if s is not None]
    return {"uv": uv_table(found), "pip": requirements_text(found)} if found else {}


def not_installed(kind: str, answers: Mapping[str, str]) -> list[str]:
    """The project's Ramparts dependencies this environment lacks: nothing says where
    they come from, so uv and pip will look for them on the package index."""
    from importlib import metadata

    missing = []
    for name in _dependencies(kind, answers):
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def _dependencies(kind: str, answers: Mapping[str, str]) -> list[str]:
    """What the template makes the project depend on: the core, and an app's plugins."""
    names = ["ramparts"]
    if kind == "app":
        caps = answers.get("capabilities", "").replace(" ", "").split(",")
        names += [suggested_package(cap) for cap in caps if cap]
    return names


def _checked_choice(key: str, value: str, choices: list[str] | None) -> str:
    """``value``, if the template offers it for ``key`` (any value for a free-text key)."""
    if choices is not None and value not in choices:
        raise ScaffoldError(f"{key} {value!r} is not offered; choose one of: {', '.join(choices)}")
    return value


def _ask_stdin(question: str, default: str) -> str:
    answer = input(f"{question} [{default}]: ").strip()
    return answer or default


def _check_name(kind: str, context: Mapping[str, str]) -> None:
    """Refuse a name that would make no folder of its own (``""`` would be ``.``).

    The template's hook checks every value, but only after cookiecutter has chosen the
    project folder, so a name with no letter in it first fails as "already exists".
    """
    key = "app_name" if kind == "app" else "capability"
    name = context.get(key)
    if name is not None and not re.search(r"[A-Za-z]", name):
        what = "app name" if kind == "app" else "capability name"
        raise ScaffoldError(
            f"the {what} {name!r} has no letter in it; give one such as "
            + ("'Notes' or 'Field Notes'" if kind == "app" else "'clipboard'")
        )


# -- installing packages ----------------------------------------------------------------


def _installer(action: Literal["install", "uninstall"]) -> list[str]:
    """``uv pip`` for this interpreter when uv is at hand, else this interpreter's pip.

    ``uv run`` puts its own path in ``$UV``; otherwise uv is looked for on ``PATH``.
    """
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv:
        return [uv, "pip", action, "--python", sys.executable]
    return [sys.executable, "-m", "pip", action] + (["-y"] if action == "uninstall" else [])


def install(requirement: str) -> None:
    """Install ``requirement`` (a name or a local path); the installer's progress shows."""
    _run([*_installer("install"), requirement], f"installing {requirement}")


def uninstall(distribution: str) -> None:
    """Uninstall ``distribution`` from this environment."""
    _run([*_installer("uninstall"), distribution], f"uninstalling {distribution}")


def uninstall_command(distribution: str) -> str:
    """The shell command :func:`uninstall` runs, to print for a person to run later."""
    return shlex.join([*_installer("uninstall"), distribution])


def _run(cmd: list[str], what: str) -> None:
    print(f"ramparts: {what}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(cmd, check=False)
    except OSError as e:
        raise ScaffoldError(f"{what} failed: {e}") from None
    if proc.returncode != 0:
        raise ScaffoldError(f"{what} failed (exit {proc.returncode}); the config is unchanged")


# -- add / remove -----------------------------------------------------------------------


def add_capability(
    app_dir: Path,
    capability: str,
    *,
    source: str | None = None,
    do_install: bool = True,
    say: Callable[[str], None] = print,
) -> Path:
    """Install the capability's distribution and declare it with an empty allow list.

    The distribution is also added to ``[project] dependencies`` when the file has that
    array, so that installing the app installs the plugin, and where it came from when
    not from an index (a local path, as given; else what its ``direct_url.json`` says)
    to ``[tool.uv.sources]`` and ``requirements-local.txt``.

    :param source: what to install (a local path, relative to the current folder, or a
        requirement); default ``ramparts-<capability>``. Nothing is installed when the
        capability is already installed and no ``source`` was given.
    :return: the edited ``pyproject.toml``.
    """
    if not CAPABILITY_NAME.match(capability) or capability in RESERVED_NAMES:
        raise ScaffoldError(
            f"{capability!r} is not a capability name (lower-case letters, digits, _;"
            f" not {', '.join(sorted(RESERVED_NAMES))})"
        )
    file, text, data = _read_app(app_dir)
    if capability in data["tool"]["ramparts"].get("capabilities", {}):
        raise ScaffoldError(
            f"{file}: tool.ramparts.capabilities.{capability} is already declared; nothing changed"
        )
    plugin = _installed(capability, source, do_install)
    new_text = _with_table(text, capability, _command_names(capability))
    expected = _with_capability(data, capability, {"allow": []})
    new_text, listed = _dependency(new_text, expected, plugin.distribution, present=True)
    where = _plugin_source(plugin.distribution, source, app_dir) if listed else None
    if where is not None:
        new_text = _with_source(new_text, expected, where)
    _write_checked(file, new_text, expected)
    say(
        f"declared [tool.ramparts.capabilities.{capability}] in {file} with an empty allow "
        f"list ({plugin.distribution} {plugin.version}"
        + (", added to [project] dependencies)" if listed else ")")
    )
    if where is not None:
        _add_requirement(file.parent / REQUIREMENTS, where)
        say(f"recorded in [tool.uv.sources] and {REQUIREMENTS}: {where.uv_line()}")
    labels = [str(w.get("label")) for w in _windows(data)]
    if labels:
        say(
            f"this app declares its windows: a page can use '{capability}' only if its "
            f"[[tool.ramparts.windows]] entry lists it in capabilities (windows: "
            f"{', '.join(labels)})"
        )
    return file


def _plugin_source(distribution: str | None, given: str | None, app_dir: Path) -> Source | None:
    """Where the app should install the plugin from: the path given, else where it was
    installed from (``None``: an index)."""
    if distribution is None:
        return None
    if given is not None:
        local = local_source(distribution, given, Path(app_dir), Path.cwd())
        if local is not None:
            return local
    return installed_source(distribution)


def _installed(capability: str, source: str | None, do_install: bool) -> InstalledPlugin:
    """The capability's plugin, installed first if asked to and needed.

    A ``source`` that names an existing file or folder is that path: the installer
    would read a bare ``tiny`` as the name of a package on the index.
    """
    if source is not None and os.path.exists(source):
        source = os.path.abspath(source)
    if do_install and (source is not None or capability not in installed_plugins()):
        install(source or suggested_package(capability))
    plugin = installed_plugins().get(capability)
    if plugin is None:
        raise ScaffoldError(
            f"no installed package provides the '{capability}' capability"
            + (f" (installed {source or suggested_package(capability)})" if do_install else "")
            + "; its entry point must be in the group 'ramparts.capabilities'"
        )
    return plugin


def _with_table(text: str, capability: str, commands: list[str]) -> str:
    """``text`` with the capability's table, allowing nothing, after the last Ramparts one."""
    block = [
        f"# Added by `ramparts add {capability}`: the page can call none of its commands",
        "# until you list them in allow. Its other keys (scopes) are on its docs page.",
        f"[tool.ramparts.capabilities.{capability}]",
        f"allow = []  # any of: {', '.join(commands) or '(it has no commands)'}",
    ]
    lines = text.splitlines(keepends=True)
    at = _end_of_ramparts_tables(lines)
    if at > 0 and not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    return "".join(lines[:at] + ["\n"] + [b + "\n" for b in block] + lines[at:])


def remove_capability(
    app_dir: Path,
    capability: str,
    *,
    do_uninstall: bool | None = None,
    confirm: Callable[[str], bool] | None = None,
    say: Callable[[str], None] = print,
) -> Path:
    """Remove the capability's table (and sub-tables) from the config, then maybe
    uninstall its distribution.

    The comment lines directly above the table go with it, as does one blank line, and
    the distribution's entries in ``[project] dependencies``, ``[tool.uv.sources]`` and
    ``requirements-local.txt``.

    :param do_uninstall: uninstall (``True``) or keep it installed (``False``); ``None``:
        ask ``confirm(question)``, or keep it when there is no one to ask. Other apps
        that use this environment may need the distribution.
    """
    file, text, data = _read_app(app_dir)
    caps = data["tool"]["ramparts"].get("capabilities", {})
    if capability not in caps:
        raise ScaffoldError(f"{file}: tool.ramparts.capabilities.{capability} is not declared")
    lines = text.splitlines(keepends=True)
    spans = _table_spans(lines, capability)
    if not spans:
        raise ScaffoldError(
            f"{file}: tool.ramparts.capabilities.{capability} is written as an inline table "
            "or with dotted keys, which `ramparts remove` does not edit; remove it by hand"
        )
    drop: set[int] = set()
    for start, end in spans:
        drop.update(range(start, end))
    new_text = "".join(line for i, line in enumerate(lines) if i not in drop)
    expected = _with_capability(data, capability, None)
    plugin = installed_plugins().get(capability)
    distribution = (plugin and plugin.distribution) or suggested_package(capability)
    new_text, unlisted = _dependency(new_text, expected, distribution, present=False)
    new_text, unsourced = _without_source(new_text, expected, distribution)
    new_text, windows = _drop_from_windows(new_text, expected, capability)
    _write_checked(file, new_text, expected)
    unrequired = _drop_requirement(file.parent / REQUIREMENTS, distribution)
    say(
        f"removed tool.ramparts.capabilities.{capability} from {file}"
        + (f" and {distribution} from its [project] dependencies" if unlisted else "")
        + (" and [tool.uv.sources]" if unsourced else "")
        + (f" and {REQUIREMENTS}" if unrequired else "")
    )
    if windows:
        say(f"removed '{capability}' from the capabilities of window(s): {', '.join(windows)}")
    if plugin is not None and plugin.distribution:
        _maybe_uninstall(capability, plugin.distribution, do_uninstall, confirm, say)
    return file


def _maybe_uninstall(
    capability: str,
    distribution: str,
    do_uninstall: bool | None,
    confirm: Callable[[str], bool] | None,
    say: Callable[[str], None],
) -> None:
    """Uninstall if told to or if the person says so; else say how to, later."""
    if distribution == "ramparts":
        say(f"'{capability}' is built into ramparts; nothing to uninstall")
        return
    if do_uninstall is None and confirm is not None:
        do_uninstall = confirm(
            f"uninstall {distribution} from {sys.prefix}? Other apps that use this "
            "environment may need it"
        )
    if do_uninstall:
        uninstall(distribution)
    else:
        say(
            f"kept {distribution} installed in {sys.prefix} (other apps may use it); "
            f"to uninstall it: {uninstall_command(distribution)}"
        )


def _read_app(app_dir: Path) -> tuple[Path, str, dict[str, Any]]:
    file = Path(app_dir) / "pyproject.toml"
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as e:
        raise ScaffoldError(f"cannot read {file}: {e.strerror or e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScaffoldError(f"{file}: not valid TOML ({e})") from None
    if not isinstance(data.get("tool", {}).get("ramparts"), dict):
        raise ScaffoldError(f"{file}: no [tool.ramparts] table: not a Ramparts app")
    return file, text, data


def _command_names(capability: str) -> list[str]:
    """The capability's command names, to put in the comment (importing the plugin)."""
    from ramparts.plugins import load_capability

    try:
        cap = load_capability(capability)
    except RampartsError as e:
        raise ScaffoldError(str(e)) from None
    return sorted(cap.command_table())


def _key_path(header: str) -> tuple[str, ...]:
    """``tool . ramparts."capabilities".fs`` -> ``("tool", "ramparts", "capabilities", "fs")``."""
    parts = re.findall(r'"[^"]*"|\'[^\']*\'|[^.\s]+', header)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def _headers(lines: list[str]) -> list[tuple[int, tuple[str, ...]]]:
    found = []
    in_multiline = False
    for i, line in enumerate(lines):
        if line.count('"""') % 2 or line.count("'''") % 2:  # skip multi-line strings
            in_multiline = not in_multiline
            continue
        m = None if in_multiline else _HEADER.match(line)
        if m:
            found.append((i, _key_path(m.group(1))))
    return found


def _body_end(lines: list[str], start: int, next_header: int) -> int:
    """Where the table at ``start`` ends: before the blank lines and the comment block
    that lead into the next header."""
    end = next_header
    while end > start + 1 and lines[end - 1].lstrip().startswith("#"):
        end -= 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return end


def _end_of_ramparts_tables(lines: list[str]) -> int:
    headers = _headers(lines)
    ours = [k for k, (_, path) in enumerate(headers) if path[:2] == ("tool", "ramparts")]
    if not ours:
        raise ScaffoldError("[tool.ramparts] is not written as a table header")
    k = ours[-1]
    next_header = headers[k + 1][0] if k + 1 < len(headers) else len(lines)
    return _body_end(lines, headers[k][0], next_header)


def _table_spans(lines: list[str], capability: str) -> list[tuple[int, int]]:
    """Line ranges of the capability's table and sub-tables, with their lead-in."""
    headers = _headers(lines)
    target = (*_PREFIX, capability)
    return [
        _span(lines, headers, k)
        for k, (_, path) in enumerate(headers)
        if path[: len(target)] == target
    ]


def _span(lines: list[str], headers: list[tuple[int, tuple[str, ...]]], k: int) -> tuple[int, int]:
    """The lines of the ``k``-th table: its lead-in (comments, one blank line) to the end
    of its body."""
    i = headers[k][0]
    next_header = headers[k + 1][0] if k + 1 < len(headers) else len(lines)
    start = i
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    if start > 0 and not lines[start - 1].strip():
        start -= 1
    return start, _body_end(lines, i, next_header)


def _source_key(data: Mapping[str, Any], distribution: str) -> str | None:
    """The distribution's key in ``[tool.uv.sources]``, as written there."""
    sources = data.get("tool", {}).get("uv", {}).get("sources", {})
    keys = [k for k in sources if _canonical(k) == _canonical(distribution)]
    return keys[0] if keys else None


def _with_source(text: str, expected: dict[str, Any], source: Source) -> str:
    """``text`` with ``source`` last in ``[tool.uv.sources]``, a table added at the end
    of the file when there is none; ``expected`` gets the same change. A source already
    there for the distribution is kept as it is."""
    if _source_key(expected, source.distribution) is not None:
        return text
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    headers = _headers(lines)
    found = [k for k, (_, path) in enumerate(headers) if path == _SOURCES]
    if found:
        lines.insert(_span(lines, headers, found[0])[1], source.uv_line() + "\n")
    else:
        lines += ["\n", uv_table([source]) + "\n"]
    tool = dict(expected["tool"])
    uv = dict(tool.get("uv", {}))
    uv["sources"] = {**uv.get("sources", {}), **tomllib.loads(source.uv_line())}
    expected["tool"] = {**tool, "uv": uv}
    return "".join(lines)


def _without_source(text: str, expected: dict[str, Any], distribution: str) -> tuple[str, bool]:
    """Take the distribution's line out of ``[tool.uv.sources]``, and the table when
    nothing is left in it; ``expected`` gets the same change.

    :return: the text, and whether it changed (not when the table is written inline or
        with dotted keys: then the line stays).
    """
    key = _source_key(expected, distribution)
    if _canonical(distribution) == "ramparts":
        return text, False  # a built-in capability: the app still needs the core
    lines = text.splitlines(keepends=True)
    headers = _headers(lines)
    found = [k for k, (_, path) in enumerate(headers) if path == _SOURCES]
    if key is None or not found:
        return text, False
    start, end = _span(lines, headers, found[0])
    body = range(headers[found[0]][0] + 1, end)
    mine = {j for j in body if _key_of(lines[j]) == _canonical(key)}
    if not mine:
        return text, False
    if all(j in mine or _key_of(lines[j]) is None for j in body):
        mine.update(range(start, end))  # nothing else in it: the table goes too
    tool = dict(expected["tool"])
    uv = dict(tool["uv"])
    uv["sources"] = {k: v for k, v in uv["sources"].items() if k != key}
    tool["uv"] = {k: v for k, v in uv.items() if v != {}}
    expected["tool"] = {k: v for k, v in tool.items() if v != {}}
    return "".join(line for j, line in enumerate(lines) if j not in mine), True


def _key_of(line: str) -> str | None:
    """The normalized key a ``key = value`` line sets (``None``: a comment or blank)."""
    m = _KEY_LINE.match(line)
    return _canonical(m.group(2)) if m else None


def _add_requirement(file: Path, source: Source) -> None:
    """Add ``source``'s line to ``requirements-local.txt``, made if it is missing."""
    text = _read_optional(file)
    if text is None:
        text = requirements_text([source])
    elif any(
        _requirement_of(line) == _canonical(source.distribution) for line in text.splitlines()
    ):
        return
    else:
        text += ("" if text.endswith("\n") or not text else "\n") + source.pip_line() + "\n"
    _write(file, text)


def _drop_requirement(file: Path, distribution: str) -> bool:
    """Take the distribution's line out of ``requirements-local.txt``; remove the file
    when no requirement is left in it (it is written only for local sources).

    :return: whether it changed anything.
    """
    text = _read_optional(file)
    if text is None or _canonical(distribution) == "ramparts":  # built in: keep the core
        return False
    lines = text.splitlines(keepends=True)
    kept = [line for line in lines if _requirement_of(line) != _canonical(distribution)]
    if kept == lines:
        return False
    if all(not line.strip() or line.lstrip().startswith("#") for line in kept):
        try:
            file.unlink()
        except OSError as e:
            raise ScaffoldError(f"cannot remove {file}: {e.strerror or e}") from None
    else:
        _write(file, "".join(kept))
    return True


def _requirement_of(line: str) -> str | None:
    """The distribution a ``requirements-local.txt`` line installs, by the comment that
    ends it (see ``Source.pip_line``)."""
    m = re.match(r"^\s*[^#\s].*\s#\s*([A-Za-z0-9._-]+)\s*$", line)
    return _canonical(m.group(1)) if m else None


def _read_optional(file: Path) -> str | None:
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ScaffoldError(f"cannot read {file}: {e.strerror or e}") from None


def _write(file: Path, text: str) -> None:
    try:
        atomic_write(file, text.encode("utf-8"))  # keeps the file's permissions
    except OSError as e:
        raise ScaffoldError(f"cannot write {file}: {e.strerror or e}") from None


def _canonical(requirement: str) -> str:
    """The normalized distribution name a requirement string starts with."""
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", m.group(1)).lower() if m else ""


def _dependency(
    text: str, expected: dict[str, Any], distribution: str | None, *, present: bool
) -> tuple[str, bool]:
    """Add (or remove) ``distribution`` in ``[project] dependencies``, so that installing
    the app (``uv sync``, ``pip install .``) keeps (or drops) the plugin too.

    Edited with tomlkit, which keeps the array's layout and comments; ``expected`` gets
    the same change. Nothing happens without a ``dependencies`` array, for the core's
    own built-in capabilities, or when the state is already the wanted one.

    :return: the text, and whether it changed.
    """
    import tomlkit  # only here: the rest of the edit is plain text

    if distribution is None or _canonical(distribution) == "ramparts":
        return text, False
    doc = tomlkit.parse(text)
    project = doc.get("project")
    deps = project.get("dependencies") if project is not None else None
    if not isinstance(deps, list):
        return text, False
    key = _canonical(distribution)
    matches = [i for i, req in enumerate(deps) if _canonical(str(req)) == key]
    if present == bool(matches):
        return text, False
    if present:
        deps.append(distribution)
    else:
        for i in reversed(matches):
            del deps[i]
    expected["project"] = {**expected["project"], "dependencies": [str(d) for d in deps]}
    return tomlkit.dumps(doc), True


def _windows(data: Mapping[str, Any]) -> list[Any]:
    """The ``[[tool.ramparts.windows]]`` entries (none for a single-window app)."""
    windows = data.get("tool", {}).get("ramparts", {}).get("windows", [])
    return [w for w in windows if isinstance(w, Mapping)] if isinstance(windows, list) else []


def _drop_from_windows(
    text: str, expected: dict[str, Any], capability: str
) -> tuple[str, list[str]]:
    """Take ``capability`` out of every window's ``capabilities`` list, or the config
    would no longer load (a window may only list declared capabilities).

    Edited with tomlkit, like the dependencies; ``expected`` gets the same change.
    :return: the text, and the labels of the windows that listed it.
    """
    import tomlkit

    if not any(capability in w.get("capabilities", ()) for w in _windows(expected)):
        return text, []
    doc = tomlkit.parse(text)
    changed: list[str] = []
    for window in _windows(doc):
        caps = window.get("capabilities")
        if isinstance(caps, list) and capability in caps:
            for i in reversed([i for i, c in enumerate(caps) if c == capability]):
                del caps[i]
            changed.append(str(window.get("label")))
    ramparts = expected["tool"]["ramparts"]
    ramparts["windows"] = [
        {**w, "capabilities": [c for c in w.get("capabilities", ()) if c != capability]}
        if "capabilities" in w
        else w
        for w in ramparts["windows"]
    ]
    return tomlkit.dumps(doc), changed


def _with_capability(data: dict[str, Any], capability: str, table: Any) -> dict[str, Any]:
    """``data`` with the capability's table set to ``table`` (``None``: removed)."""
    ramparts = dict(data["tool"]["ramparts"])
    caps = dict(ramparts.get("capabilities", {}))
    if table is None:
        caps.pop(capability, None)
    else:
        caps[capability] = table
    ramparts["capabilities"] = caps
    return {**data, "tool": {**data["tool"], "ramparts": ramparts}}


def _write_checked(file: Path, text: str, expected: dict[str, Any]) -> None:
    """Write ``text`` atomically, but only if it parses to ``expected``."""
    try:
        got = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        got = {"error": str(e)}
    for d in (got, expected):  # an emptied [tool.ramparts.capabilities] means none
        ramparts = d.get("tool", {}).get("ramparts", {})
        if ramparts.get("capabilities") == {}:
            del ramparts["capabilities"]
    if got != expected:
        raise ScaffoldError(
            f"{file}: editing it as text would change more than the capability's table "
            "(an unusual layout?); nothing changed. Edit it by hand."
        )
    _write(file, text)
