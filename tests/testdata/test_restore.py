"""After a real-commit test the database is the migrated template again: an outside app whose
migration seeds three plans (docs/transactions.md's example), its real-commit tests inserting, updating and
deleting among them, its savepoint tests finding exactly the three, on every target, under
``-n 2`` and in orders that put each real-commit test right before a savepoint test, every
real-commit test before every savepoint test, each real-commit test right after each other, and
seeded shuffles."""

from __future__ import annotations

import random

import pytest

from tests.adoption.apps import MODULE_GLOBAL_TESTS, readme_block, write
from tests.adoption.shapes import LIFESPAN_APP
from tests.inner import run_inprocess
from tests.testdata.apps import seeded_app

REAL = ("test_insert_for_real", "test_update_for_real", "test_delete_for_real")
CHECKS = 3  # test_the_seeded_plans_are_there's parameters
DATABASES = ("sqlite", "postgres", "mariadb")


def order(database: str, reals: tuple[str, ...], interleaved: bool) -> list[str]:
    """Node ids in run order: pytest runs the command line's ids in that order (testsupport only
    groups them per database, keeping their order within one)."""
    real_ids = [f"test_plans.py::{name}[asyncio-{database}]" for name in reals]
    checks = [f"test_plans.py::test_the_seeded_plans_are_there[asyncio-{database}-{n}]" for n in range(CHECKS)]
    if interleaved:
        return [node for pair in zip(real_ids, checks, strict=True) for node in pair]
    return real_ids + checks


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    seeded_app(pytester, {"test_plans.py": readme_block("seed-tests")})
    return pytester


# Interleaved; then every real-commit test first, in orders that hold each ordered pair of them.
ORDERS = [((0, 1, 2), True), ((0, 1, 2), False), ((2, 1, 0), False), ((1, 2, 0), False), ((0, 2, 1), False)]


def test_in_every_order_the_seeded_rows_are_there(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    for indexes, interleaved in ORDERS:
        reals = tuple(REAL[i] for i in indexes)
        ids = [node for database in DATABASES for node in order(database, reals, interleaved)]
        result = run_inprocess(suite, monkeypatch, "-v", *ids)
        ran = [line.split(" ")[0] for line in result.outlines if line.startswith("test_plans.py::")]
        assert ran == ids, "the run did not keep the order asked for"
        result.assert_outcomes(passed=len(ids))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_in_shuffled_orders_the_seeded_rows_are_there(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    # What `-p randomly` would do (pytest-randomly is not a dependency here): a seeded shuffle of all
    # six tests, per database.
    ids = []
    for database in DATABASES:
        nodes = order(database, REAL, interleaved=True)
        random.Random(seed).shuffle(nodes)  # noqa: S311 - a test order, no secret
        ids += nodes
    result = run_inprocess(suite, monkeypatch, "-v", *ids)
    assert [line.split(" ")[0] for line in result.outlines if line.startswith("test_plans.py::")] == ids
    result.assert_outcomes(passed=len(ids))


def test_under_xdist(suite: pytest.Pytester) -> None:
    # Plugins found by their entry points: pytest-asyncio (dev group) is one, and testsupport refuses it.
    result = suite.runpytest_subprocess("-p", "no:asyncio", "-p", "no:cacheprovider", "-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=18)  # six per target


# The app's lifespan seeds a user (ids from the sequence on PostgreSQL): real-commit tests keep it,
# and the restore sets the sequence back to where the seed left it, not to before the seed.
AFTER_THE_LIFESPAN_SEED = """
import pytest

pytestmark = pytest.mark.db(transaction=True)


@pytest.mark.parametrize("n", range(2))
async def test_a_real_commit_after_the_lifespan_seed(client, n):
    created = await client.post("/users", json={"email": "new@x"})
    assert created.status_code == 201, created.text
    assert created.json()["id"] == 2
    assert (await client.get("/users")).json() == ["admin@example.com", "new@x"]
"""


def test_the_lifespans_seed_and_its_sequence_survive_real_commit_tests(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(pytester, {**LIFESPAN_APP, MODULE_GLOBAL_TESTS: AFTER_THE_LIFESPAN_SEED}, readme_block("module-global"))
    pytester.syspathinsert()
    result = run_inprocess(pytester, monkeypatch)
    result.assert_outcomes(passed=6, deselected=6)  # two per target; trio deselected
