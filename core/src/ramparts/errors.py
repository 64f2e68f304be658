"""Every error Ramparts raises, in one tree.

::

    RampartsError                  base of everything below
    ├── ConfigError                bad [tool.ramparts] config: .file, .key, .found, .expected
    ├── PluginError                a declared capability's plugin is missing or broken
    ├── BackendError               the webview backend cannot give the bridge its guarantees
    ├── BuildError                 `ramparts build` cannot make a correct artifact
    ├── VerificationError          a built app does not match its signed manifest: .problems
    └── CommandError               a call failed: a stable .code that reaches JS, and .data
        ├── NotAllowed             code "not_allowed": no such command, handle or event here
        │   └── SessionEnded       the calling page has gone (reload, navigation, window closed)
        ├── InvalidArgs            code "invalid_args": arguments do not match the signature
        ├── OutOfScope             code "out_of_scope": the target is outside the granted scope
        ├── TooLarge               code "too_large": a size limit was hit (file, response)
        ├── CommandTimeout         code "timeout": the command did not finish in time
        └── CommandFailed          code "failed": the command raised; message is safe to show

Each error carries its context as attributes as well as in its message: a
``ConfigError`` names the file and the dotted key, a ``CommandError`` its ``code``, a
message safe to show the page and optional JSON ``data`` (``InvalidArgs`` usually
names the argument's path there), a ``VerificationError`` one line per problem.

Plugin authors raise the ``CommandError`` subclasses from their capabilities' commands.
Any other exception a command raises reaches the page as ``failed`` with a generic
message; the traceback goes to the Python log, never to the page.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "MISSING",
    "BackendError",
    "BuildError",
    "CommandError",
    "CommandFailed",
    "CommandTimeout",
    "ConfigError",
    "InvalidArgs",
    "NotAllowed",
    "OutOfScope",
    "PluginError",
    "RampartsError",
    "SessionEnded",
    "TooLarge",
    "VerificationError",
]


class RampartsError(Exception):
    """Base class of every error Ramparts raises on purpose."""


class ConfigError(RampartsError):
    """The app's config is wrong.

    :param file: the file the value came from (usually the app's ``pyproject.toml``).
    :param key: dotted key path, e.g. ``tool.ramparts.window.width``.
    :param found: what was there (``None`` when the key is missing).
    :param expected: what would have been accepted, in words.
    """

    def __init__(self, file: object, key: str, found: Any, expected: str) -> None:
        self.file = str(file)
        self.key = key
        self.found = found
        self.expected = expected
        shown = "nothing (the key is missing)" if found is MISSING else repr(found)
        super().__init__(f"{self.file}: {key}: found {shown}, expected {expected}")


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


#: Sentinel for ``ConfigError(found=MISSING)``: the key was not there at all.
MISSING: Any = _Missing()


class PluginError(RampartsError):
    """The plugin of a declared capability is not installed, cannot be loaded, or
    misbehaves (no ``ramparts_capability`` hook, a capability of another name)."""


class BackendError(RampartsError):
    """The webview backend in use cannot provide the secured bridge."""


class BuildError(RampartsError):
    """``ramparts build`` cannot produce a correct artifact (or a signing key is unusable)."""


class VerificationError(RampartsError):
    """A built app does not match its signed manifest.

    :ivar problems: one line per finding, each naming the file or field concerned.
    """

    def __init__(self, summary: str, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        shown = self.problems[:20]
        more = len(self.problems) - len(shown)
        lines = [summary, *(f"  {p}" for p in shown)]
        if more > 0:
            lines.append(f"  ... and {more} more")
        super().__init__("\n".join(lines))


class CommandError(RampartsError):
    """A command call failed. ``code`` is stable and reaches JS as ``error.code``.

    :param message: shown to the page; never include secrets or tracebacks.
    :param data: optional JSON-serialisable details (e.g. which argument was wrong).
    """

    code: ClassVar[str] = "failed"

    def __init__(self, message: str, *, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    def to_wire(self) -> dict[str, Any]:
        """The error as the page receives it: ``{code, message[, data]}``."""
        wire: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            wire["data"] = self.data
        return wire


class NotAllowed(CommandError):
    """Code ``not_allowed``: the page may not do this here (a command that is not
    allowed or does not exist, a stale handle, an undeclared event)."""

    code = "not_allowed"


class SessionEnded(NotAllowed):
    """The page that made the call is gone: its session has ended (code ``not_allowed``).

    Raised by ``session.resources`` when a resource is opened or held after the end, and
    the answer to calls still queued when the page went.
    """


class InvalidArgs(CommandError):
    """Code ``invalid_args``: the arguments do not match the command's signature, or are a
    value the types allow but the command does not. ``data["path"]`` usually names the argument."""

    code = "invalid_args"


class OutOfScope(CommandError):
    """Code ``out_of_scope``: the target (a path, a URL, a program) is outside what the
    app's config grants."""

    code = "out_of_scope"


class TooLarge(CommandError):
    """Code ``too_large``: a size limit was hit (a file, a response, the output of a
    child process)."""

    code = "too_large"


class CommandTimeout(CommandError):
    """Code ``timeout``: the command did not finish in time."""

    code = "timeout"


class CommandFailed(CommandError):
    """Code ``failed``: the command could not do its work; the message is shown to the
    page, so it must hold no secrets."""

    code = "failed"
