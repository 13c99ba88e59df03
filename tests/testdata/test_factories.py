"""The polyfactory recipe (docs/factories.md) in an outside app: the factory writes through the test's
db_session on every target and leaves no rows (in savepoint and in real-commit mode); used
outside a test, or in a test without the database, it raises the safety net's error and writes
nothing."""

from __future__ import annotations

import pytest

from tests.adoption.apps import readme_block
from tests.inner import run_inprocess
from tests.testdata.apps import seeded_app

FACTORY_FILES = {"factories.py": readme_block("factories"), "test_factories.py": readme_block("factory-tests")}

REAL_COMMITS = """
import pytest
from factories import ItemFactory


@pytest.mark.db(transaction=True)
async def test_committed_for_real(client, db_session):
    await ItemFactory.create_batch_async(2)
    assert len((await client.get("/items")).json()) == 2


async def test_and_restored_away(client):
    assert (await client.get("/items")).json() == []
"""

MISUSES = """
import pytest
from factories import ItemFactory


@pytest.fixture(scope="module")
async def items_for_everyone():
    return await ItemFactory.create_async()


async def test_module_fixture(items_for_everyone, db_session):
    pass


async def test_no_database():
    await ItemFactory.create_async()


async def test_no_db_session(client):
    await ItemFactory.create_async()


async def test_nothing_was_written(client):
    assert (await client.get("/items")).json() == []
"""


def test_the_factory_writes_through_the_tests_session_and_leaves_no_rows(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded_app(pytester, {**FACTORY_FILES, "test_real_commits.py": REAL_COMMITS})
    result = run_inprocess(pytester, monkeypatch, "-p", "no:randomly")
    result.assert_outcomes(passed=12, deselected=12)  # 4 tests x 3 targets; trio x database left out


def test_outside_a_test_it_raises_the_nets_error(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    seeded_app(pytester, {**FACTORY_FILES, "test_misuses.py": MISUSES})
    result = run_inprocess(pytester, monkeypatch, "-k", "misuses", "--anyio-backends=asyncio")
    # test_no_database once, the others on every target (the module fixture's error is cached).
    result.assert_outcomes(passed=3, failed=4, errors=3, deselected=22)  # test_factories.py, trio
    result.stdout.fnmatch_lines_random(
        [
            "*TestEngineMisuseError: fixture `items_for_everyone` used a factory (testsupport.factory_session) "
            "outside any test's transaction: rows written there would be committed for real and leak into every "
            "later test. Fix: create test data inside the test, or in a function-scoped fixture, that requests "
            "`db_session`*",
            "*DatabaseBlockedError: test_misuses.py::test_no_database* did not ask for the database, but it used "
            "a factory (testsupport.factory_session). Fix: *",
            "*DatabaseBlockedError: test_misuses.py::test_no_db_session* used a factory "
            "(testsupport.factory_session) but did not request `db_session`, the session it writes through.*",
        ]
    )
