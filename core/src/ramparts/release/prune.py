"""What a built app does without: the backend's ``Shipping.prune`` applied to PyInstaller's
output, before the manifest hashes it (docs/build.md, "Size")."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import attrs

from ramparts.backends import Prune

__all__ = ["Pruned", "prune"]


@attrs.frozen
class Pruned:
    """What one rule removed from a build: ``size`` bytes in ``files`` files."""

    name: str
    files: int
    size: int


def prune(
    contents: Path,
    rules: Sequence[Prune],
    keep: Sequence[str],
    say: Callable[[str], None],
) -> list[Pruned]:
    """Delete what the rules' ``paths`` match under ``contents`` (the app's ``_internal``
    folder) but neither their ``spare`` patterns nor the app's ``keep`` patterns; then
    the symlinks left pointing at deleted files and the folders left empty.

    :return: per rule with ``paths``, what it removed.
    """
    kept = _matching(contents, keep)
    prunable = {p for rule in rules for p in _matching(contents, rule.paths)}
    for pattern in keep:
        if not _matching(contents, [pattern]) & prunable:
            say(f"      warning: tool.ramparts.build.keep: {pattern!r} matches nothing pruned")
    removed: set[Path] = set()
    done: list[Pruned] = []
    for rule in rules:
        if rule.modules:
            say(f"      left out {rule.name}: {', '.join(rule.modules)} (not collected)")
        if not rule.paths:
            continue
        wanted = _matching(contents, rule.paths)
        files = wanted - _matching(contents, rule.spare) - kept - removed
        size = sum(f.lstat().st_size for f in files)
        for file in files:
            file.unlink()
        removed |= files
        done.append(Pruned(rule.name, len(files), size))
        say(
            f"      pruned   {rule.name}: {size / 1e6:.1f} MB in {len(files)} files "
            f"({size} bytes); kept by tool.ramparts.build.keep: {len(wanted & kept)}"
        )
    _drop_links_to(contents, removed)
    _drop_empty_folders(contents, {f.parent for f in removed})
    return done


def _matching(root: Path, patterns: Iterable[str]) -> set[Path]:
    """The files and symlinks (never folders) under ``root`` that match any pattern."""
    return {p for pattern in patterns for p in root.glob(pattern) if p.is_symlink() or p.is_file()}


def _drop_links_to(root: Path, removed: set[Path]) -> None:
    """PyInstaller links libraries into the top folder: those to deleted files go too."""
    gone = {r.resolve() for r in removed}
    for link in [p for p in root.rglob("*") if p.is_symlink()]:
        if not link.exists() and link.resolve() in gone:
            link.unlink()


def _drop_empty_folders(root: Path, folders: set[Path]) -> None:
    for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
        while folder != root and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
