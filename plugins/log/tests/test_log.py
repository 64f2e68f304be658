"""The ``log`` capability through the real bridge (``ramparts.testing.open_bridge``): the
file it writes, levels, escaping (no forged lines), rotation, the rate limit and its
report, the Python side, the config's errors and refusal without a grant."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ramparts import CommandFailed, ConfigError, NotAllowed
from ramparts.testing import Bridge, app_dirs, home_env, open_bridge

IDENT = "dev.ramparts.logtest"
#: A record's first line: UTC time, level, logger, then the message.
RECORD = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR) (\S+): (.*)$"
)
ALL = ["debug", "info", "warn", "error"]


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in home_env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    return tmp_path / "home"


def log_path() -> Path:
    return app_dirs(IDENT)["APPLOG"] / "app.log"


def bridge(**options: Any) -> Bridge:
    return open_bridge(capabilities={"log": {"allow": ALL, **options}}, identifier=IDENT)


def records(path: Path | None = None) -> list[tuple[str, str, str]]:
    lines = (path or log_path()).read_text(encoding="utf-8").splitlines()
    found = []
    for line in lines:
        m = RECORD.match(line)
        assert m, f"a line that is no record: {line!r}"
        found.append((m[1], m[2], m[3]))
    return found


@pytest.fixture
def log() -> Iterator[Bridge]:
    with bridge(level="debug") as b:
        yield b


def test_lines_at_each_level_in_the_app_log_folder(log: Bridge) -> None:
    assert not log_path().exists()  # nothing is created before the first line
    for level in ALL:
        assert log.call(f"log.{level}", {"message": f"a {level} line"}) is True
    assert records() == [
        ("DEBUG", "app.page.main", "a debug line"),
        ("INFO", "app.page.main", "a info line"),
        ("WARNING", "app.page.main", "a warn line"),
        ("ERROR", "app.page.main", "a error line"),
    ]
    assert log_path().parent.stat().st_mode & 0o077 == 0  # the folder is the user's alone


@pytest.mark.parametrize("lost", ["full disk", "folder is a file"])
def test_a_line_that_cannot_be_written_fails_the_call(lost: str) -> None:
    folder = log_path().parent
    folder.parent.mkdir(parents=True, exist_ok=True)
    if lost == "full disk":
        folder.mkdir(mode=0o700)
        log_path().symlink_to("/dev/full")  # opens, and every write fails with ENOSPC
    else:
        folder.write_text("")
    with bridge() as b:
        with pytest.raises(CommandFailed, match=r"log file could not be written \(.+\)") as e:
            b.call("log.info", {"message": "lost"})
        assert str(folder) not in e.value.message  # the page learns no path
    with bridge() as b:  # once it can be written again, lines are written
        if lost == "full disk":
            log_path().unlink()
        else:
            folder.unlink()
        assert b.call("log.info", {"message": "back"}) is True
    assert records()[-1] == ("INFO", "app.page.main", "back")


def test_lines_below_the_minimum_level_are_not_written() -> None:
    with bridge(level="warn") as b:
        assert b.call("log.debug", {"message": "d"}) is False
        assert b.call("log.info", {"message": "i"}) is False
        assert b.call("log.warn", {"message": "w"}) is True
        assert b.call("log.error", {"message": "e"}) is True
    assert [r[2] for r in records()] == ["w", "e"]


FORGERIES = [
    "ok\n2030-01-01T00:00:00.000Z ERROR app.page.main: forged",
    "ok\r2030-01-01T00:00:00.000Z ERROR app: forged",
    "ok\u2028forged\u2029forged\x85forged",
    "\x1b[2J\x1b[31mred\x07\x00nul\x7f",
    "tab\there \u202eevil\u202c \u2066iso\u2069",
    "back\\nslash",
]


def test_page_text_cannot_forge_a_record(log: Bridge) -> None:
    for text in FORGERIES:
        assert log.call("log.error", {"message": text}) is True
    raw = log_path().read_text(encoding="utf-8")
    assert len(raw.splitlines()) == len(FORGERIES)  # one line a call, whatever it held
    messages = [r[2] for r in records()]
    assert messages[0] == "ok\\n2030-01-01T00:00:00.000Z ERROR app.page.main: forged"
    assert messages[1] == "ok\\r2030-01-01T00:00:00.000Z ERROR app: forged"
    assert messages[2] == "ok\\u2028forged\\u2029forged\\x85forged"
    assert messages[3] == "\\x1b[2J\\x1b[31mred\\x07\\x00nul\\x7f"
    assert messages[4] == "tab\\there \\u202eevil\\u202c \\u2066iso\\u2069"
    assert messages[5] == "back\\\\nslash"  # a literal backslash is not an escape
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]", raw)


def test_a_long_line_is_cut_without_splitting_an_escape() -> None:
    with bridge(max_line_chars=10, max_bytes=4096) as b:
        assert b.call("log.info", {"message": "abcdefgh\n\nmore"}) is True
        assert b.call("log.info", {"message": "0123456789"}) is True
    assert [r[2] for r in records()] == ["abcdefgh\\n [cut: 5 more characters]", "0123456789"]


def test_rotation_keeps_the_newest_files_within_the_bound() -> None:
    keep, max_bytes = 2, 2000
    with bridge(max_bytes=max_bytes, keep=keep, max_line_chars=100, burst=1000) as b:
        for i in range(200):
            assert b.call("log.info", {"message": f"line {i:03d} " + "x" * 60}) is True
    folder = log_path().parent
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["app.log", "app.log.1", "app.log.2"]
    assert all((folder / f).stat().st_size <= max_bytes for f in files)
    newest = records()[-1][2]
    assert newest.startswith("line 199 ")
    older = [r[2][:8] for r in records(folder / "app.log.1")]
    assert older[-1] == "line " + str(int(records()[0][2][5:8]) - 1).zfill(3)  # no gap


def wait_for_report(path: Path, deadline: float = 60.0) -> list[tuple[str, str, str]]:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        if "page lines dropped" in text and text.endswith("\n"):  # the report's whole line
            return records(path)
        time.sleep(0.05)
    raise AssertionError(f"no report of dropped lines in {path} within {deadline} s")


def test_a_flood_is_cut_counted_and_reported_once_it_ends() -> None:
    sent = 600
    with bridge(lines_per_second=1, burst=50) as b:
        answers = [b.call("log.info", {"message": f"flood {i}"}) for i in range(sent)]
        found = wait_for_report(log_path())
    written = answers.count(True)
    assert 50 <= written < sent
    page = [r for r in found if r[1] == "app.page.main"]
    assert len(page) == written
    (report,) = [r for r in found if r[1] == "app.page"]
    assert report[0] == "WARNING"
    dropped = int(report[2].split()[0])
    assert dropped == sent - written  # every line is written or counted
    assert report[2].endswith(f"by window: main {dropped}")
    assert "1 lines a second (bursts of 50)" in report[2]


def parts(line: str) -> tuple[str, ...]:
    m = RECORD.match(line)
    assert m, line
    return m.groups()[1:]


def test_python_writes_to_the_same_file(log: Bridge) -> None:
    logging.getLogger("app.sync").info("synced %d notes", 3)
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        logging.getLogger("app").exception("sync failed")
    log.call("log.info", {"message": "from the page"})
    lines = log_path().read_text(encoding="utf-8").splitlines()
    assert parts(lines[0]) == ("app.sync", "synced 3 notes")
    assert parts(lines[1]) == ("app", "sync failed")
    traceback = [line for line in lines[2:] if not RECORD.match(line)]
    assert traceback and all(line.startswith("    ") for line in traceback)
    # a traceback's lines, the exception's own included, are indented: never a record
    assert traceback[-2:] == ["    ValueError: bad", "    value"]
    assert parts(lines[-1]) == ("app.page.main", "from the page")
    logging.getLogger("app").debug("below nothing: the level is debug")
    assert "below nothing" in log_path().read_text()


def test_not_allowed_without_a_grant() -> None:
    with open_bridge(capabilities={"log": {"allow": ["error"]}}, identifier=IDENT) as b:
        assert b.call("log.error", {"message": "x"}) is True
        with pytest.raises(NotAllowed):
            b.call("log.info", {"message": "x"})
        assert "log.info" not in b.routes


@pytest.mark.parametrize(
    ("options", "key", "expected"),
    [
        ({"level": "verbose"}, "level", "one of debug, info, warn, error"),
        ({"keep": 0}, "keep", "a whole number of files, 1 to 100"),
        ({"max_line_chars": 1000, "max_bytes": 4000}, "max_bytes", "> 4255"),
        ({"lines_per_second": 0}, "lines_per_second", "lines"),
        ({"rate": 5}, "rate", "no such key"),
    ],
)
def test_config_errors_name_the_key(options: dict[str, Any], key: str, expected: str) -> None:
    with pytest.raises(ConfigError) as e:
        bridge(**options)
    assert e.value.key == f"tool.ramparts.capabilities.log.{key}"
    assert expected in e.value.expected
