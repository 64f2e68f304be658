"""The attack corpus against the real webview: every case must be blocked.

All launches run once per module (one webview at a time); each case is then its own
test, so a failure names the attack. The run writes ``tests/security/report/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import report
from attacks import ABILITIES, CASES, CATEGORIES, Case
from engines import module_engine, qt_only_skip  # noqa: F401  # fixtures: both engines
from harness import OPEN_TO_LOOPBACK, Outcome, loopback, run_corpus, run_launch

pytestmark = [pytest.mark.webview, pytest.mark.usefixtures("qt_only_skip")]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, engine: str) -> dict[str, Outcome]:
    results = run_corpus(tmp_path_factory.mktemp(f"corpus-{engine}"))
    report.write_part("corpus", [o.to_json() for o in results], engine)
    return {o.case.id: o for o in results}


def test_catalogue_is_well_formed() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert {c.category for c in CASES} | {"local-process", "engine"} == set(CATEGORIES)
    assert {c.ability for c in CASES} | {"local-process"} == set(ABILITIES)
    for c in CASES:
        assert c.js.strip() and c.description and c.expected


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_attack(outcomes: dict[str, Outcome], engine: str, case: Case) -> None:
    got = outcomes[case.id]
    detail = f"{case.description}\n" + "\n".join(got.reasons) + f"\nresult: {got.result!r}"
    if case.known_limit and engine in case.known_limit_on:
        # Documented as getting through; if it ever stops, update the catalogue and docs.
        assert got.status == "known-limit", detail
    else:
        assert got.status == "blocked", detail


def test_network_cases_reach_the_server_when_only_the_csp_is_opened(
    tmp_path: Path, engine: str
) -> None:
    """The network cases are not vacuous: open the CSP to the loopback origin and the
    requests arrive. Only the CSP stood in their way (frames and the form post are also
    refused as navigations, so they stay blocked). WebKitGTK has no ``<link
    rel=prefetch>``: there the prefetch never goes out, even with the CSP open."""
    case = next(c for c in CASES if c.id == "page-network")
    with loopback() as server:
        (outcome,) = run_launch("open-to-loopback", [case], tmp_path, server, OPEN_TO_LOOPBACK)
        got = {line.split()[1].rsplit("/", 1)[1] for line in server.by_case().get(case.id, [])}
    detail = f"{got}: {outcome.reasons} {outcome.result}"
    opened = {"fetch", "no-cors", "xhr", "ws", "event-source", "image.png", "beacon"}
    if engine == "qt":
        opened.add("prefetch")
    else:
        assert "prefetch" not in got, detail
    assert opened <= got, detail
    assert not {"iframe", "form"} & got, got
