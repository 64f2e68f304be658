"""Every error Ramparts raises, in one tree.

::

    RampartsError                  base of everything below
    ├── ConfigError                bad [tool.ramparts] config: names file, key, found, expected
    ├── PluginError                a declared capability is missing or broken
    ├── BackendError               the webview backend cannot give the bridge its guarantees
    ├── BuildError                 `ramparts build` cannot make a correct artifact
    ├── VerificationError          a built app does not match its signed manifest
    └── CommandError               a call failed; carries a stable ``code`` that reaches JS
        ├── NotAllowed             code "not_allowed": no such command, handle or event here
        ├── InvalidArgs            code "invalid_args": arguments do not match the signature
        ├── OutOfScope             code "out_of_scope": the target is outside the granted scope
        ├── TooLarge               code "too_large": a size limit was hit (file, response)
        ├── CommandTimeout         code "timeout": the command did not finish in time
        └── CommandFailed          code "failed": the command raised; message is safe to show

Capability authors raise the ``CommandError`` subclasses from their commands. Any other
exception a command raises reaches the page as ``failed`` with a generic message; the
traceback goes to the Python log, never to the page.
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
    """A capability plugin is declared but cannot be loaded, or misbehaves."""


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
        wire: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            wire["data"] = self.data
        return wire


class NotAllowed(CommandError):
    code = "not_allowed"


class InvalidArgs(CommandError):
    code = "invalid_args"


class OutOfScope(CommandError):
    code = "out_of_scope"


class TooLarge(CommandError):
    code = "too_large"


class CommandTimeout(CommandError):
    code = "timeout"


class CommandFailed(CommandError):
    code = "failed"
