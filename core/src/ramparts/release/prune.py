"""What a built app does without: the backend's ``Shipping.prune`` applied to PyInstaller's
output, before the manifest hashes it (docs/build.md, "Size")."""

from __future__ import annotations

import mmap
import struct
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
    folder) but neither their ``spare`` patterns nor the app's ``keep`` patterns, nor a
    library a file that stays links (unless its rule says the system provides it); then
    the symlinks left pointing at deleted files and the folders left empty.

    :return: per rule with ``paths``, what it removed.
    """
    kept = _matching(contents, keep)
    prunable = {p for rule in rules for p in _matching(contents, rule.paths)}
    for pattern in keep:
        if not _matching(contents, [pattern]) & prunable:
            say(f"      warning: tool.ramparts.build.keep: {pattern!r} matches nothing pruned")
    plan: dict[str, set[Path]] = {}
    for rule in rules:
        if rule.modules:
            say(f"      left out {rule.name}: {', '.join(rule.modules)} (not collected)")
        if rule.paths:
            planned = {f for files in plan.values() for f in files}
            wanted = _matching(contents, rule.paths) - _matching(contents, rule.spare)
            plan[rule.name] = wanted - kept - planned
    _spare_linked(contents, [r for r in rules if not r.system], plan, say)
    done: list[Pruned] = []
    for rule in rules:
        files = plan.get(rule.name, set())
        size = sum(f.lstat().st_size for f in files)
        for file in files:
            file.unlink()
        if rule.paths:
            done.append(Pruned(rule.name, len(files), size))
            kept_here = len(_matching(contents, rule.paths) & kept)
            say(
                f"      pruned   {rule.name}: {size / 1e6:.1f} MB in {len(files)} files "
                f"({size} bytes); kept by tool.ramparts.build.keep: {kept_here}"
            )
    removed = {f for files in plan.values() for f in files}
    _drop_links_to(contents, removed)
    _drop_empty_folders(contents, {f.parent for f in removed})
    return done


def _spare_linked(
    contents: Path, rules: Sequence[Prune], plan: dict[str, set[Path]], say: Callable[[str], None]
) -> None:
    """Take out of ``plan`` every library of ``rules`` that a file staying links, until
    none does: a rule's list may name a library another toolkit version still needs."""
    planned = {f for files in plan.values() for f in files}
    staying = [p for p in contents.rglob("*") if p.is_file() and not p.is_symlink()]
    todo = [p for p in staying if p not in planned]
    while todo:
        file = todo.pop()
        needed = _needed(file)
        for rule in rules:
            for lib in [f for f in plan.get(rule.name, set()) if f.name in needed]:
                plan[rule.name].discard(lib)
                todo.append(lib)
                say(f"      kept     {lib.name} ({rule.name}): {file.name} links it")


def _needed(path: Path) -> set[str]:
    """The libraries an ELF file links (``DT_NEEDED``); none for any other file."""
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            return _elf_needed(m)
    except (OSError, ValueError, struct.error, IndexError):
        return set()  # empty (mmap refuses), unreadable, or not a well-formed ELF file


def _elf_needed(m: mmap.mmap) -> set[str]:
    if m[:4] != b"\x7fELF":
        return set()
    wide, order = m[4] == 2, "<" if m[5] == 1 else ">"
    phoff, phentsize, phnum = (
        struct.unpack_from(order + "Q14xHH", m, 0x20)
        if wide
        else struct.unpack_from(order + "I10xHH", m, 0x1C)
    )
    segments = []  # (type, offset, vaddr, filesz)
    for i in range(phnum):
        at = phoff + i * phentsize
        if wide:
            kind, _, offset, vaddr, _, filesz = struct.unpack_from(order + "IIQQQQ", m, at)
        else:
            kind, offset, vaddr, _, filesz = struct.unpack_from(order + "IIIII", m, at)
        segments.append((kind, offset, vaddr, filesz))
    dynamic = next(((o, n) for k, o, _, n in segments if k == 2), None)  # PT_DYNAMIC
    if dynamic is None:
        return set()
    entry = struct.Struct(order + ("qQ" if wide else "iI"))
    tags = [entry.unpack_from(m, dynamic[0] + i) for i in range(0, dynamic[1], entry.size)]
    strtab = next((v for t, v in tags if t == 5), -1)  # DT_STRTAB, an address
    load = [(o, v, n) for k, o, v, n in segments if k == 1]  # PT_LOAD: where it is
    base = next((o - v for o, v, n in load if v <= strtab < v + n), None)
    if base is None:
        return set()
    return {_string(m, base + strtab + value) for tag, value in tags if tag == 1}  # DT_NEEDED


def _string(m: mmap.mmap, at: int) -> str:
    return m[at : m.find(b"\0", at)].decode(errors="replace")


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
