"""What the safety net (testsupport/net/) costs per test: the database part of one savepoint-mode
test (check out the connection, BEGIN, a SELECT, a handler's commit as SAVEPOINT + RELEASE, ROLLBACK,
check in), with and without the net, plus the net's per-test bookkeeping (its per-test pytest hooks,
three reports and five fixture set-ups) and its per-statement check of the test connection's SQL.
Median of several rounds, in microseconds.

uv run python benchmarks/net_cost.py
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import testsupport.engine  # noqa: F401 - registers the sqlite+syncsqlite dialect
from testsupport import net

# The demo app is not installed: benchmarks/ is sys.path[0] when run as a script, the root is not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from service.db import make_engine

TESTS = 2_000
ROUNDS = 5


class FakeItem:
    """What the hooks read from a pytest item."""

    nodeid = "test_bench.py::test_one[asyncio-sqlite]"
    fixturenames = ("anyio_backend", "database", "db_connection", "app", "client")

    def __init__(self) -> None:
        self.stash = pytest.Stash()

    def iter_markers(self, name: str) -> Iterator[Any]:
        return iter(())

    def get_closest_marker(self, name: str) -> Any:
        return None


class FakeCall:
    excinfo = None

    def __init__(self, when: str) -> None:
        self.when = when


CALLS = [FakeCall(when) for when in ("setup", "call", "teardown")]


class FakeFixtureDef:
    scope = "function"

    def __init__(self, argname: str) -> None:
        self.argname = argname


FIXTUREDEFS: list[Any] = [FakeFixtureDef(name) for name in ("db_connection", "app", "client", "db_session", "tmp_path")]


def drive(hook: Any) -> None:
    """Run a wrapper hook as pluggy would: up to its yield, then resume it with the result."""
    next(hook)
    with contextlib.suppress(StopIteration):
        hook.send(None)


@asynccontextmanager
async def unguarded_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """`db_connection` as it was before the net: same shape, no checks."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            yield connection
        finally:
            await transaction.rollback()


async def body(connection: AsyncConnection) -> None:
    await connection.execute(text("SELECT 1"))
    savepoint = await connection.begin_nested()  # a handler's commit: SAVEPOINT, RELEASE
    await savepoint.commit()


async def plain_test(engine: AsyncEngine) -> None:
    async with unguarded_connection(engine) as connection:
        await body(connection)


async def netted_test(engine: AsyncEngine, plugin: net.NetPlugin, item: Any) -> None:
    plugin.pytest_runtest_setup(item)
    for fixturedef in FIXTUREDEFS:
        drive(plugin.pytest_fixture_setup(fixturedef))
    plugin.pytest_runtest_call(item)
    async with net.test_connection(engine, None) as connection:
        await body(connection)
    plugin.pytest_runtest_teardown(item)
    for call in CALLS:
        drive(plugin.pytest_runtest_makereport(item, call))  # type: ignore[arg-type]


async def round_us(engine: AsyncEngine, with_net: bool, plugin: net.NetPlugin, item: Any) -> float:
    started = time.perf_counter()
    for _ in range(TESTS):
        if with_net:
            await netted_test(engine, plugin, item)
        else:
            await plain_test(engine)
    return (time.perf_counter() - started) / TESTS * 1e6


async def measure(folder: Path) -> tuple[float, float]:
    """Rounds without and with the net alternate, so a busy machine slows both alike."""
    plugin, item = net.NetPlugin(owner=True), FakeItem()
    plugin.pytest_collection_modifyitems([item])  # type: ignore[list-item]
    plain_engine = make_engine(f"sqlite+syncsqlite:///{folder / 'plain.db'}")
    net.install_listeners()
    engine = make_engine(f"sqlite+syncsqlite:///{folder / 'net.db'}")  # recorded by the net
    net.NET.test_dialects.add(engine.sync_engine.dialect)
    net.uninstall()
    without, with_net = [], []
    try:
        for _ in range(ROUNDS):
            without.append(await round_us(plain_engine, False, plugin, item))
            net.install_listeners()
            try:
                with_net.append(await round_us(engine, True, plugin, item))
            finally:
                net.uninstall()
    finally:
        await plain_engine.dispose()
        await engine.dispose()
    return statistics.median(without), statistics.median(with_net)


def own_code_us(dialect: Any) -> float:
    """The net's own per-test code alone (hooks, fixture bookkeeping, one checkout check), with no
    database work around it: steadier than the difference above on a busy machine."""
    plugin, item = net.NetPlugin(owner=True), FakeItem()
    plugin.pytest_collection_modifyitems([item])  # type: ignore[list-item]
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(TESTS * 10):
            plugin.pytest_runtest_setup(item)  # type: ignore[arg-type]
            for fixturedef in FIXTUREDEFS:
                drive(plugin.pytest_fixture_setup(fixturedef))
            plugin.pytest_runtest_call(item)  # type: ignore[arg-type]
            net.NET.current, net.NET.grants = dialect, 1
            net.NET.check(dialect, consume=True)
            plugin.pytest_runtest_teardown(item)  # type: ignore[arg-type]
            for call in CALLS:
                drive(plugin.pytest_runtest_makereport(item, call))  # type: ignore[arg-type]
        rounds.append((time.perf_counter() - started) / (TESTS * 10) * 1e6)
    return statistics.median(rounds)


class NoOpDialect:
    """Only what the outer-transaction guard wraps, doing nothing: its own cost alone."""

    def do_commit(self, dbapi_connection: Any) -> None: ...
    def do_rollback(self, dbapi_connection: Any) -> None: ...
    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None: ...
    def do_execute_no_params(self, cursor: Any, statement: str, context: Any = None) -> None: ...


def statement_check_us(statement: str) -> float:
    """The guard's per-statement cost on the test connection, while its outer transaction is guarded."""
    plain, guarded = NoOpDialect(), NoOpDialect()
    net.connection.guard_outer_transaction(guarded)  # type: ignore[arg-type]
    net.NET.guarded = object()
    rounds = []
    try:
        for _ in range(ROUNDS):
            timings = []
            for dialect in (plain, guarded):
                started = time.perf_counter()
                for _ in range(TESTS * 50):
                    dialect.do_execute(None, statement, ())
                timings.append((time.perf_counter() - started) / (TESTS * 50) * 1e6)
            rounds.append(timings[1] - timings[0])
    finally:
        net.NET.guarded = None
    return statistics.median(rounds)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        without, with_net = asyncio.run(measure(Path(folder)))
    net.install_listeners()
    try:
        engine = make_engine("sqlite+syncsqlite://")
        net.NET.test_dialects.add(engine.sync_engine.dialect)
        own = own_code_us(engine.sync_engine.dialect)
    finally:
        net.uninstall()
    print(f"| one savepoint-mode test's database work ({TESTS} tests x {ROUNDS}, median) | us per test |")
    print("|---|---|")
    print(f"| without the net | {without:.1f} |")
    print(f"| with the net (listeners + hooks + fixture bookkeeping) | {with_net:.1f} |")
    print(f"| the net's cost | {with_net - without:+.1f} |")
    print(f"| the net's own code alone (hooks, reports, bookkeeping, one checkout check) | {own:.1f} |")
    select, release = statement_check_us("SELECT 1"), statement_check_us("RELEASE SAVEPOINT sa_savepoint_1")
    print(f"| its check of one statement on the test connection: SELECT / RELEASE | {select:.2f} / {release:.2f} |")


if __name__ == "__main__":
    main()
