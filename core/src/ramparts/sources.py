"""Where an installed distribution came from, written as a uv source and as a pip line.

Internal: ``ramparts new``, ``add`` and ``remove`` (scaffold.py) record these sources so
that a project depending on ``ramparts`` or a plugin installs from the same place when
it is not on an index.

The place is read from the distribution's PEP 610 ``direct_url.json``: a directory
(editable or not), a local or remote archive (wheel, sdist), or a git checkout. A
distribution installed from an index has no ``direct_url.json`` and no source.
"""

from __future__ import annotations

import json
import os
import shlex
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import attrs

__all__ = [
    "REQUIREMENTS",
    "Source",
    "installed_source",
    "local_source",
    "requirements_text",
    "uv_table",
]

#: pip's equivalent of ``[tool.uv.sources]``, next to ``pyproject.toml``.
REQUIREMENTS = "requirements-local.txt"


@attrs.frozen
class Source:
    """Where one distribution installs from, other than an index.

    Exactly one of ``path``, ``git`` and ``url`` is set.

    :ivar path: a directory, wheel or sdist: absolute, or relative to the project folder.
    :ivar editable: for a directory: installed editable (``None`` for an archive).
    :ivar git: a git repository URL; ``rev`` the commit, ``subdirectory`` the project
        inside it.
    :ivar url: a remote archive.
    """

    distribution: str
    path: str | None = None
    editable: bool | None = None
    git: str | None = None
    rev: str | None = None
    subdirectory: str | None = None
    url: str | None = None

    def uv_line(self) -> str:
        """The ``[tool.uv.sources]`` line: ``name = { path = "...", editable = true }``."""
        fields: dict[str, Any] = {
            "path": self.path,
            "editable": self.editable,
            "git": self.git,
            "rev": self.rev,
            "subdirectory": self.subdirectory,
            "url": self.url,
        }
        # A JSON string is a TOML basic string, and true/false are the same words.
        inline = ", ".join(f"{k} = {json.dumps(v)}" for k, v in fields.items() if v is not None)
        return f"{self.distribution} = {{ {inline} }}"

    def pip_line(self) -> str:
        """The ``requirements-local.txt`` line, ending in a comment that names the
        distribution (a path alone does not, and ``remove`` finds the line by it)."""
        if self.git is not None:
            ref = f"git+{self.git}" + (f"@{self.rev}" if self.rev else "")
            ref += f"#subdirectory={self.subdirectory}" if self.subdirectory else ""
            line = f"{self.distribution} @ {ref}"
        elif self.url is not None:
            line = f"{self.distribution} @ {self.url}"
        elif self.editable:
            line = f"-e {shlex.quote(str(self.path))}"  # pip splits an option's line as sh does
        else:
            line = str(self.path)
        return f"{line}  # {self.distribution}"


def installed_source(distribution: str) -> Source | None:
    """Where the installed ``distribution`` came from; ``None`` when it came from an
    index, is not installed, or came from somewhere uv cannot name (hg, svn, bzr)."""
    try:
        text = metadata.distribution(distribution).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not text:
        return None
    try:
        info = json.loads(text)
    except ValueError:
        return None
    return _from_direct_url(distribution, info) if isinstance(info, dict) else None


def _from_direct_url(distribution: str, info: dict[str, Any]) -> Source | None:
    """PEP 610's three kinds: ``dir_info``, ``archive_info``, ``vcs_info``."""
    url = str(info.get("url", ""))
    subdirectory = info.get("subdirectory")
    vcs = info.get("vcs_info")
    if isinstance(vcs, dict):
        if vcs.get("vcs") != "git":
            return None
        return Source(distribution, git=url, rev=vcs.get("commit_id"), subdirectory=subdirectory)
    parts = urlsplit(url)
    if parts.scheme != "file":
        return Source(distribution, url=url) if "archive_info" in info else None
    path = unquote(parts.path)
    dir_info = info.get("dir_info")
    if isinstance(dir_info, dict):
        return Source(distribution, path=path, editable=bool(dir_info.get("editable")))
    return Source(distribution, path=path)


def local_source(distribution: str, given: str, project: Path, cwd: Path) -> Source | None:
    """The source for a path given on the command line (``ramparts add --from``).

    :param given: as typed, relative to ``cwd`` or absolute.
    :param project: the project folder; a relative ``given`` is recorded relative to it,
        which is where uv and the project's README resolve it from.
    :return: ``None`` when ``given`` is no file or folder (a requirement, a URL).
    """
    where = cwd / given
    if not where.exists():
        return None
    if Path(given).is_absolute():
        path = given
    else:
        path = Path(os.path.relpath(where.resolve(), project.resolve())).as_posix()
        # pip reads "name" as a requirement, "./name" as a path.
        path = path if path.startswith("../") else f"./{path}"
    return Source(distribution, path=path, editable=False if where.is_dir() else None)


def uv_table(sources: list[Source]) -> str:
    """A ``[tool.uv.sources]`` table with these sources, and a comment that says why."""
    return "\n".join(
        [
            "# Where uv installs these from: they are not on a package index here.",
            f"# {REQUIREMENTS} says the same for pip.",
            "[tool.uv.sources]",
            *(s.uv_line() for s in sources),
        ]
    )


def requirements_text(sources: list[Source]) -> str:
    """A ``requirements-local.txt`` with these sources."""
    return "\n".join(
        [
            "# Where pip installs these from: they are not on a package index here.",
            "# This mirrors [tool.uv.sources] in pyproject.toml (what uv reads), for pip:",
            f"#   pip install -r {REQUIREMENTS} -e .",
            *(s.pip_line() for s in sources),
            "",
        ]
    )
