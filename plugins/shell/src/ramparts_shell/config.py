"""``[tool.ramparts.capabilities.shell]``: declared programs, their arguments, and limits.

Everything the page may run is decided here, once, when the app loads: program names
map to absolute executables (bare names are looked up on :data:`SAFE_PATH`, never on
the environment's ``PATH``), argument rules are compiled to whole-string regexes, and
every mistake is a :class:`~ramparts.errors.ConfigError` naming its key.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import sys
import warnings
from collections.abc import Collection, Mapping
from typing import Any

import attrs

from ramparts import ConfigContext, InvalidArgs
from ramparts.toolkit import PathScope, os_bytes

__all__ = [
    "BASE_ENV",
    "DEFAULT_MAX_CHILDREN",
    "DEFAULT_MAX_OUTPUT",
    "DEFAULT_OPEN",
    "DEFAULT_SPAWN_MAX_EVENTS",
    "DEFAULT_SPAWN_MAX_OUTPUT",
    "DEFAULT_SPAWN_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "SAFE_PATH",
    "ArgRule",
    "DangerousConfigWarning",
    "Program",
    "ShellState",
    "configure",
]

#: Where bare program names are looked up, once, at config time; also the children's PATH.
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
#: What every child's environment starts from; the ``env`` allowlist adds to (or
#: overrides) it from the app's own environment.
BASE_ENV: Mapping[str, str] = {"PATH": SAFE_PATH, "LANG": "C.UTF-8"}
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_OUTPUT = 1024 * 1024
DEFAULT_MAX_CHILDREN = 16
#: A spawned child's limits: seconds it may run, bytes it may write (stdout and stderr
#: together), output events per second it may send its page (reading pauses above it).
DEFAULT_SPAWN_TIMEOUT = 3600.0
DEFAULT_SPAWN_MAX_OUTPUT = 64 * 1024 * 1024
DEFAULT_SPAWN_MAX_EVENTS = 1000
#: Whole-string pattern: https URLs only.
DEFAULT_OPEN = "https://.+"
#: Linux refuses a single argument longer than this (MAX_ARG_STRLEN, minus the NUL).
MAX_ARG_BYTES = 128 * 1024 - 1
MAX_ARGS = 1024

_PROGRAM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_CAP_KEYS = (
    "programs",
    "env",
    "cwd",
    "timeout",
    "max_output_bytes",
    "max_children",
    "spawn_timeout",
    "spawn_max_output",
    "spawn_max_events",
    "open",
    "open_files",
    "open_with",
)
_PROGRAM_KEYS = (
    "name",
    "cmd",
    "args",
    "env",
    "cwd",
    "timeout",
    "max_output_bytes",
    "spawn_timeout",
    "spawn_max_output",
    "spawn_max_events",
)


class DangerousConfigWarning(UserWarning):
    """A config that is valid but hands the page more than it probably should.

    Issued while the app loads, so ``ramparts check`` and ``ramparts dev`` print it.
    """


@attrs.frozen
class ArgRule:
    """One position of a program's argument list: a fixed string or a validator."""

    fixed: str | None = None
    pattern: re.Pattern[str] | None = None
    #: Whether a validated value may start with ``-`` (most programs read it as an option).
    leading_dash: bool = False

    def check(self, value: str, where: str) -> None:
        if self.fixed is not None:
            if value != self.fixed:
                raise InvalidArgs(f"{where}: must be exactly {self.fixed!r}", data={"path": where})
            return
        assert self.pattern is not None
        # fullmatch: the whole argument, whatever ^ and $ the pattern has or lacks.
        if self.pattern.fullmatch(value) is None:
            raise InvalidArgs(
                f"{where}: does not match the validator {self.pattern.pattern!r}",
                data={"path": where},
            )
        if value.startswith("-") and not self.leading_dash:
            raise InvalidArgs(
                f"{where}: a value starting with '-' would be read as an option "
                "(set leading_dash = true on this validator to allow it)",
                data={"path": where},
            )


@attrs.frozen
class Program:
    """A program the page may run, by ``name``."""

    name: str
    #: Absolute path of the executable, fixed at config time.
    path: str
    #: One rule per argument position, or ``None`` for ``args = true`` (anything).
    args: tuple[ArgRule, ...] | None
    env: tuple[str, ...]
    cwd: PathScope
    timeout: float
    max_output_bytes: int
    #: ``spawn`` limits; ``spawn_timeout`` is ``math.inf`` only when the config says "none".
    spawn_timeout: float = DEFAULT_SPAWN_TIMEOUT
    spawn_max_output: int = DEFAULT_SPAWN_MAX_OUTPUT
    spawn_max_events: int = DEFAULT_SPAWN_MAX_EVENTS

    def argv(self, args: tuple[str, ...]) -> list[str]:
        """The full argument vector for page-given ``args``, or ``InvalidArgs``."""
        if len(args) > MAX_ARGS:
            raise InvalidArgs(f"args: at most {MAX_ARGS} arguments", data={"path": "args"})
        for i, value in enumerate(args):
            where = f"args[{i}]"
            if "\x00" in value:
                raise InvalidArgs(f"{where}: an argument cannot contain a NUL byte")
            # The validator reads text and the program gets bytes: refuse text that
            # reaches it as other bytes than it reads (lone surrogates), like paths.
            encoded = os_bytes(value)
            if encoded is None:
                raise InvalidArgs(f"{where}: not valid text for this system")
            if len(encoded) > MAX_ARG_BYTES:
                raise InvalidArgs(f"{where}: longer than {MAX_ARG_BYTES} bytes")
        if self.args is not None:
            if len(args) != len(self.args):
                raise InvalidArgs(
                    f"args: {self.name} takes exactly {len(self.args)} argument(s), "
                    f"got {len(args)}",
                    data={"path": "args"},
                )
            for i, (rule, value) in enumerate(zip(self.args, args, strict=True)):
                rule.check(value, f"args[{i}]")
        return [self.path, *args]

    def environment(self) -> dict[str, str]:
        """:data:`BASE_ENV` plus the allowlisted names, read from the app's environment now."""
        env = dict(BASE_ENV)
        for name in self.env:
            if name in os.environ:
                env[name] = os.environ[name]
        return env


@attrs.frozen
class ShellState:
    """The parsed config: what commands receive as ``CallContext.state``."""

    programs: Mapping[str, Program]
    max_children: int
    #: Whole-string pattern for ``open`` targets; ``None`` when ``open = false``.
    open_pattern: re.Pattern[str] | None
    #: Files (not URLs) ``open`` may hand to the desktop; empty by default.
    open_files: PathScope
    #: The opener program (``xdg-open``, ``open``, or ``open_with``); ``None`` if absent.
    opener: str | None
    #: The working directory when the page gives none: the app's folder.
    default_cwd: str
    #: What ``configure`` warned about (see :class:`DangerousConfigWarning`).
    warnings: tuple[str, ...] = ()


# -- parsing -------------------------------------------------------------------------


def configure(table: Mapping[str, Any], ctx: ConfigContext) -> ShellState:
    """Parse the capability's table; raise ``ctx.error(...)`` naming the bad key."""
    if os.name != "posix":
        raise ctx.error("programs", sys.platform, "a POSIX system (Linux, macOS)")
    ctx.check_keys(table, _CAP_KEYS)
    defaults = _Defaults.from_table(table, ctx)
    programs, dangers = _programs(table, ctx, defaults)
    open_pattern, opener = _opening(table, ctx)
    for message in dangers:
        warnings.warn(message, DangerousConfigWarning, stacklevel=2)
    return ShellState(
        programs=programs,
        max_children=defaults.max_children,
        open_pattern=open_pattern,
        open_files=PathScope.from_config(table, ctx, key="open_files"),
        opener=opener,
        default_cwd=os.path.realpath(ctx.app_dir),
        warnings=tuple(dangers),
    )


@attrs.frozen
class _Defaults:
    """The table's own settings: each program inherits those it does not set itself."""

    env: tuple[str, ...]
    cwd: PathScope
    timeout: float
    max_output: int
    max_children: int
    spawn_timeout: float
    spawn_output: int
    spawn_events: int

    @classmethod
    def from_table(cls, table: Mapping[str, Any], ctx: ConfigContext) -> _Defaults:
        return cls(
            env=_env_list(table, "env", ctx, ()),
            cwd=PathScope.from_config(table, ctx, key="cwd"),
            timeout=ctx.seconds(table, "timeout", DEFAULT_TIMEOUT),
            max_output=ctx.whole_number(table, "max_output_bytes", DEFAULT_MAX_OUTPUT),
            max_children=ctx.whole_number(table, "max_children", DEFAULT_MAX_CHILDREN),
            spawn_timeout=ctx.seconds(
                table, "spawn_timeout", DEFAULT_SPAWN_TIMEOUT, unlimited=True
            ),
            spawn_output=ctx.whole_number(table, "spawn_max_output", DEFAULT_SPAWN_MAX_OUTPUT),
            spawn_events=ctx.whole_number(table, "spawn_max_events", DEFAULT_SPAWN_MAX_EVENTS),
        )


def _programs(
    table: Mapping[str, Any], ctx: ConfigContext, defaults: _Defaults
) -> tuple[dict[str, Program], list[str]]:
    """The ``[[programs]]`` by name, and a warning for each that takes any arguments."""
    raw_programs = table.get("programs", [])
    if not isinstance(raw_programs, list):
        raise ctx.error("programs", raw_programs, "an array of tables ([[...programs]])")
    programs: dict[str, Program] = {}
    dangers: list[str] = []
    for i, raw in enumerate(raw_programs):
        key = f"programs[{i}]"
        if not isinstance(raw, dict):
            raise ctx.error(key, raw, "a table with name, cmd and args")
        sub = attrs.evolve(ctx, prefix=f"{ctx.prefix}.{key}")
        program = _program(raw, sub, defaults, taken=programs.keys())
        if program.args is None:
            dangers.append(
                f"{ctx.prefix}.{key} ({program.name!r}): args = true lets the page choose "
                "every argument; for a shell or an interpreter that is arbitrary code execution"
            )
        programs[program.name] = program
    return programs, dangers


def _program(
    raw: Mapping[str, Any], sub: ConfigContext, defaults: _Defaults, taken: Collection[str]
) -> Program:
    """One ``[[programs]]`` table; ``sub`` names its keys (``...programs[i].cmd``);
    ``taken``: the names of the programs before it."""
    sub.check_keys(raw, _PROGRAM_KEYS)
    name = sub.require(raw, "name", str, "a program name the page uses, e.g. 'git-status'")
    if not _PROGRAM_NAME.fullmatch(name):
        raise sub.error("name", name, f"a name matching {_PROGRAM_NAME.pattern}")
    if name in taken:
        raise sub.error("name", name, "a name no other program uses")
    cmd = sub.require(raw, "cmd", str, "an executable: a bare name or an absolute path")
    return Program(
        name=name,
        path=_executable(cmd, sub, "cmd"),
        args=_args(raw, sub),
        env=_env_list(raw, "env", sub, defaults.env),
        cwd=PathScope.from_config(raw, sub, key="cwd") if "cwd" in raw else defaults.cwd,
        timeout=sub.seconds(raw, "timeout", defaults.timeout),
        max_output_bytes=sub.whole_number(raw, "max_output_bytes", defaults.max_output),
        spawn_timeout=sub.seconds(raw, "spawn_timeout", defaults.spawn_timeout, unlimited=True),
        spawn_max_output=sub.whole_number(raw, "spawn_max_output", defaults.spawn_output),
        spawn_max_events=sub.whole_number(raw, "spawn_max_events", defaults.spawn_events),
    )


def _opening(
    table: Mapping[str, Any], ctx: ConfigContext
) -> tuple[re.Pattern[str] | None, str | None]:
    """``open``'s whole-target pattern (``None``: ``open = false``) and the opener."""
    open_raw = table.get("open", DEFAULT_OPEN)
    if open_raw is False:
        open_pattern = None
    elif isinstance(open_raw, str):
        open_pattern = _compile(open_raw, ctx, "open")
    else:
        raise ctx.error("open", open_raw, "a regex the whole target must match, or false")
    if "open_with" in table:
        raw_opener = ctx.require(table, "open_with", str, "an executable: a name or a path")
        return open_pattern, _executable(raw_opener, ctx, "open_with")
    return open_pattern, _default_opener()


def _args(raw: Mapping[str, Any], ctx: ConfigContext) -> tuple[ArgRule, ...] | None:
    value = raw.get("args", [])
    if value is True:
        return None
    expected = 'a list of fixed strings and { validator = "regex" } tables, or true'
    if not isinstance(value, list):
        raise ctx.error("args", value, expected)
    rules = []
    for j, item in enumerate(value):
        key = f"args[{j}]"
        if isinstance(item, str):
            if "\x00" in item:
                raise ctx.error(key, item, "a string without NUL bytes")
            rules.append(ArgRule(fixed=item))
        elif isinstance(item, dict):
            rule = attrs.evolve(ctx, prefix=f"{ctx.prefix}.{key}")
            rule.check_keys(item, ("validator", "leading_dash"))
            pattern = rule.require(item, "validator", str, "a regex for the whole argument")
            dash = rule.flag(item, "leading_dash", False)
            rules.append(ArgRule(pattern=_compile(pattern, rule, "validator"), leading_dash=dash))
        else:
            raise ctx.error(key, item, 'a fixed string or a { validator = "regex" } table')
    return tuple(rules)


def _compile(pattern: str, ctx: ConfigContext, key: str) -> re.Pattern[str]:
    """Compile a regex that will only ever be used with ``fullmatch``."""
    try:
        return re.compile(pattern)
    except re.error as e:
        raise ctx.error(key, pattern, f"a valid regex ({e})") from None


def _executable(cmd: str, ctx: ConfigContext, key: str) -> str:
    """Resolve ``cmd`` now: a bare name on :data:`SAFE_PATH`, or an absolute path."""
    if not cmd or "\x00" in cmd:
        raise ctx.error(key, cmd, "a bare program name or an absolute path")
    if "/" not in cmd:
        found = shutil.which(cmd, path=SAFE_PATH)
        if found is None:
            raise ctx.error(key, cmd, f"a program found on {SAFE_PATH} (or an absolute path)")
        return os.path.abspath(found)
    if not os.path.isabs(cmd) or ".." in cmd.split("/"):
        raise ctx.error(key, cmd, "a bare name or an absolute path without '..'")
    try:
        info = os.stat(cmd)
    except OSError as e:
        raise ctx.error(key, cmd, f"an existing executable file ({e.strerror})") from None
    if not stat.S_ISREG(info.st_mode) or not info.st_mode & 0o111 or not os.access(cmd, os.X_OK):
        raise ctx.error(key, cmd, "an executable regular file")
    return os.path.normpath(cmd)


def _default_opener() -> str | None:
    """The desktop's opener; ``open`` fails cleanly at call time when there is none."""
    if sys.platform == "darwin":
        return "/usr/bin/open" if os.access("/usr/bin/open", os.X_OK) else None
    found = shutil.which("xdg-open", path=SAFE_PATH)
    return os.path.abspath(found) if found else None


def _env_list(
    table: Mapping[str, Any], key: str, ctx: ConfigContext, default: tuple[str, ...]
) -> tuple[str, ...]:
    if key not in table:
        return default
    value = table[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ctx.error(key, value, "a list of environment variable names")
    for name in value:
        if not _ENV_NAME.fullmatch(name):
            raise ctx.error(key, name, f"an environment variable name ({_ENV_NAME.pattern})")
    return tuple(dict.fromkeys(value))
