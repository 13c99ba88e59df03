"""Each wrong setup, run as a small suite of its own: it fails with the error users meet; the
fixed setup next to it passes. The suites and their registry are testsupport.pitfalls, the same
ones `python -m testsupport.pitfalls show NAME` runs.

All suites run in one inner pytest session (plus one for each suite on testsupport itself), once
for the whole run, xdist workers included: each suite's own tests are read from its testcases in
the session's JUnit XML.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import fnmatch
import glob
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from testsupport.pitfalls import PITFALLS, Pitfall
from testsupport.pitfalls.__main__ import main
from testsupport.pitfalls.run import (
    UNGUARDED,
    Case,
    SuiteRun,
    mariadb_for_pitfalls,
    postgres_for_pitfalls,
    render,
    run,
)
from testsupport.postgres import PostgresUnavailable

DOCS = Path(__file__).resolve().parents[2] / "docs"
NAMES = list(PITFALLS)


@dataclass
class Runs:
    suites: dict[str, SuiteRun]
    postgres_url: str
    postgres_skipped: str  # why the PostgreSQL pitfalls did not run, if they did not
    mariadb_skipped: str = ""  # the same for MariaDB's

    def skipped(self, pitfall: Pitfall) -> str:
        return self.mariadb_skipped if pitfall.mariadb else self.postgres_skipped if pitfall.postgres else ""

    def of(self, pitfall: Pitfall, folder: str) -> SuiteRun:
        if folder not in self.suites:
            assert self.skipped(pitfall), f"{folder} did not run"
            pytest.skip(self.skipped(pitfall))
        return self.suites[folder]

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def load(cls, path: Path) -> Runs:
        data = json.loads(path.read_text())
        suites = {}
        for key, suite in data.pop("suites").items():
            cases = [Case(**case) for case in suite.pop("cases")]
            suites[key] = SuiteRun(**suite, cases=cases)
        return cls(suites, **data)


@pytest.fixture(scope="session")
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """The suites of the pitfalls this session selected, run once for the whole run.

    Under xdist every worker collects the same tests, so each would start the same suites: the first
    worker to get here runs them and leaves the result in the run's shared temporary folder, the
    others wait for it (xdist's recipe for a session fixture that runs once,
    https://pytest-xdist.readthedocs.io/en/stable/how-to.html). Not `--dist loadgroup`: on pytest 9.2
    it silently stops grouping (pytest-dev/pytest-xdist#1386)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return _run_selected(request, tmp_path_factory)
    shared = tmp_path_factory.getbasetemp().parent  # one per run, shared by its workers
    with (shared / "pitfalls.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (shared / "pitfalls.json").exists():
            return Runs.load(shared / "pitfalls.json")
        result = _run_selected(request, tmp_path_factory)
        result.dump(shared / "pitfalls.json")
        return result


def _run_selected(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    selected: set[str] = set()
    for item in request.session.items:
        if item.path != Path(__file__):
            continue
        if item.name.startswith("test_error_index"):  # it checks every pitfall
            selected = set(PITFALLS)
            break
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "name" in callspec.params:
            selected.add(callspec.params["name"])
    chosen = [p for p in PITFALLS.values() if p.name in selected]
    url, skipped = "", ""
    if any(p.postgres for p in chosen):
        try:
            url = request.getfixturevalue("postgres_url")
        except pytest.skip.Exception as exc:
            skipped = str(exc)
            chosen = [p for p in chosen if not p.postgres]
    mariadb_url, mariadb_skipped = "", ""
    if any(p.mariadb for p in chosen):
        try:
            mariadb_url = request.getfixturevalue("mariadb_url")
        except pytest.skip.Exception as exc:
            mariadb_skipped = str(exc)
            chosen = [p for p in chosen if not p.mariadb]
    suites = run(chosen, url or None, tmp_path_factory.mktemp("pitfalls"), mariadb_url=mariadb_url or None)
    return Runs(suites, url, skipped, mariadb_skipped)


@pytest.mark.parametrize("name", NAMES)
def test_wrong_setup_fails_as_documented(runs: Runs, name: str) -> None:
    pitfall = PITFALLS[name]
    result = runs.of(pitfall, pitfall.wrong)
    assert result.outcome() == pitfall.outcome, result.report()
    pytest.LineMatcher(result.lines()).fnmatch_lines(pitfall.patterns(runs.postgres_url), consecutive=False)


@pytest.mark.parametrize("name", NAMES)
def test_fixed_setup_passes(runs: Runs, name: str) -> None:
    pitfall = PITFALLS[name]
    result = runs.of(pitfall, pitfall.fixed)
    outcome = result.outcome()
    assert set(outcome) == {"passed"}, result.report()


SETTINGS_PITFALLS = [name for name in NAMES if PITFALLS[name].settings_database]


@pytest.mark.parametrize("name", SETTINGS_PITFALLS)
def test_without_testsupport_the_wrong_setup_writes_into_the_settings_database(runs: Runs, name: str) -> None:
    """The wrong suite passes without testsupport, and a row lands in the database its settings
    name; with testsupport that database keeps exactly its rows."""
    pitfall = PITFALLS[name]
    unguarded = runs.of(pitfall, pitfall.wrong + UNGUARDED)
    guarded = runs.of(pitfall, pitfall.wrong)
    assert unguarded.outcome() == {"passed": 1}, unguarded.report()
    before = guarded.rows_after
    assert before, guarded.report()
    assert len(unguarded.rows_after) == len(before) + 1
    assert unguarded.rows_after[: len(before)] == before
    assert runs.of(pitfall, pitfall.fixed).rows_after == before


@pytest.mark.parametrize("name", NAMES)
def test_show_prints_the_error_and_a_passing_fix(runs: Runs, name: str) -> None:
    pitfall = PITFALLS[name]
    runs.of(pitfall, pitfall.wrong)
    shown = render(pitfall, runs.suites, runs.postgres_url)
    wrong_run, fix_run = shown.split("== Its run: ")[1:]
    lines = [line.strip() for line in wrong_run.splitlines()]
    pytest.LineMatcher(lines).fnmatch_lines(pitfall.patterns(runs.postgres_url), consecutive=False)
    assert ", ".join(f"{n} {k}" for k, n in pitfall.outcome.items()) in lines
    assert re.fullmatch(r"\d+ passed", fix_run.strip().splitlines()[-1]), shown


def docs_table(page: str, heading: str) -> list[list[str]]:
    """The rows of the first table after ``heading`` in docs/``page``, as lists of cells."""
    lines = (DOCS / page).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    table: list[list[str]] = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if not set("".join(cells)) <= set("-: "):  # not the |---| line
            table.append(cells)
    return table[1:]  # the header row is not data


def test_error_index_is_what_the_pitfalls_print(runs: Runs) -> None:
    """Every message in the error index (docs/errors.md) is printed by each pitfall the row names."""
    rows = docs_table("errors.md", "| the error says |")
    assert rows
    checked = 0
    for message_cell, names_cell, *_ in rows:
        (message,) = re.findall(r"`([^`]+)`", message_cell)
        names = re.findall(r"`([^`]+)`", names_cell)
        assert names, message_cell
        pattern = "*" + "*".join(glob.escape(part) for part in message.split("...")) + "*"
        for name in names:
            pitfall = PITFALLS[name]
            suite = runs.suites.get(pitfall.wrong)
            if suite is None:
                assert runs.skipped(pitfall)
                continue
            assert any(fnmatch.fnmatchcase(line, pattern) for line in suite.lines()), (name, message)
            checked += 1
    if runs.postgres_skipped or runs.mariadb_skipped:
        pytest.skip(f"rows unchecked: {runs.postgres_skipped or runs.mariadb_skipped}")
    assert checked >= len(rows)


def test_pitfall_table_gives_each_pitfall_and_its_show_command() -> None:
    rows = docs_table("pitfalls.md", "| NAME | wrong setup |")
    names = [re.findall(r"`([^`]+)`", row[0])[0] for row in rows]
    assert names == list(PITFALLS)
    for name, row in zip(names, rows, strict=True):
        assert f"`uv run python -m testsupport.pitfalls show {name}`" in row[-1]


def test_list_names_every_pitfall_with_its_symptom(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for pitfall in PITFALLS.values():
        assert f"{pitfall.name}  " in out
        assert pitfall.symptom in out


def test_show_command_runs_a_pitfall(capsys: pytest.CaptureFixture[str]) -> None:
    """The command itself, end to end, on a pitfall that needs no server."""
    assert main(["show", "savepoint-leak-sqlite"]) == 0
    out = capsys.readouterr().out
    assert "AssertionError: assert 1 == 0" in out
    assert out.rstrip().endswith("2 passed")


async def select_one(url: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(text("SELECT 1")))
    finally:
        await engine.dispose()


def test_show_gets_a_throwaway_postgres_of_its_own() -> None:
    """`show` on a PostgreSQL pitfall starts the embedded server and gives the suites a database."""

    try:
        with postgres_for_pitfalls() as url:
            assert asyncio.run(select_one(url)) == 1
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))


@pytest.mark.mariadb
def test_show_gets_a_throwaway_mariadb_of_its_own() -> None:
    """`show` on a MariaDB pitfall starts a throwaway server and gives the suites a database."""

    with mariadb_for_pitfalls() as url:
        assert asyncio.run(select_one(url)) == 1
