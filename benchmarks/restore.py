"""Per-test cost of putting the database back after a real-commit test, on SQLite and PostgreSQL,
with the demo's schema (users, notes) and with a 20-table one (3 seeded lookup tables, 17 tables
referring to the first).

    uv run python benchmarks/restore.py [--tests 200] [--rounds 3]

Two tables. First, the clean-up call alone, in this process: write two rows and commit, then time
one candidate, 300 times each (--calls), one candidate after the other, medians. Second, whole
pytest runs as isolation.py does them: each suite is N tests that insert two rows and commit.
Rows: savepoint mode (no restore: the floor), and real-commit mode
(``@pytest.mark.db(transaction=True)``) with each candidate put in place of
``testsupport.cleanup.restore`` by the suite's conftest: the old emptying of every table
(``TRUNCATE ... RESTART IDENTITY CASCADE`` / ``DELETE``), testsupport's restore of what changed,
and a fresh copy (PostgreSQL: drop the worker's database and clone it from the template again;
SQLite: copy the migrated file back; both close the pool first). Runs interleaved over rounds,
medians; per-test time clocked inside each run (benchmarks/test_clock.py, from isolation.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import importlib
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from isolation import bench_env, timed  # noqa: E402  (benchmarks/ is sys.path[0] when run as a script)
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from service import migrate  # noqa: E402
from service.models import Base  # noqa: E402
from testsupport import cleanup  # noqa: E402
from testsupport.engine import make_test_engine  # noqa: E402
from testsupport.postgres import Server, embedded_server  # noqa: E402


@dataclass(frozen=True)
class Schema:
    ini: str
    inserts: tuple[str, ...]
    files: dict[str, str]


SCHEMAS = {
    "demo": Schema(
        f"testsupport_alembic_config = {ROOT / 'pyproject.toml'}\n"
        "testsupport_metadata = service.models:Base.metadata\n",
        (
            "INSERT INTO users (email, name) VALUES ('u{i}@example.com', 'U')",
            "INSERT INTO notes (user_id, title) SELECT max(id), 'n' FROM users",
        ),
        {},
    ),
    "20 tables": Schema(
        "testsupport_metadata = wide:metadata\npythonpath = .\n",
        (
            # No reference to a seeded row: the old emptying deletes them (the bug the restore fixes).
            "INSERT INTO t03 (name) VALUES ('x{i}')",
            "INSERT INTO t04 (name) VALUES ('y{i}')",
        ),
        {
            # create_all's schema, the lookup tables seeded as a migration would (after_create).
            "wide.py": """
from sqlalchemy import DDL, Column, ForeignKey, Integer, MetaData, String, Table, event

metadata = MetaData()
for n in range(3):
    lookup = Table(f"l{n}", metadata, Column("id", Integer, primary_key=True), Column("name", String(20)))
    rows = ", ".join(f"({i}, 'name {i}')" for i in range(1, 4))
    event.listen(lookup, "after_create", DDL(f"INSERT INTO l{n} (id, name) VALUES {rows}"))
for n in range(3, 20):
    Table(
        f"t{n:02}", metadata,
        Column("id", Integer, primary_key=True),
        Column("lookup_id", ForeignKey("l0.id")),
        Column("name", String(50)),
    )
""",
        },
    ),
}

TEST = """
async def test_write_{i}(db_session):
{body}    await db_session.commit()
"""

REAL = "import pytest\npytestmark = pytest.mark.db(transaction=True)\n"

INI = """[pytest]
addopts = -p no:asyncio -p no:schemathesis -p no:hypothesispytest
testsupport_app = service.main:create_app
testsupport_sessionmaker = service.db:make_sessionmaker
"""

# The old clean-up (testsupport/cleanup.py before the restore), for the comparison.
OLD = """
from sqlalchemy import inspect
import testsupport.cleanup

_statements = {}


def emptying(connection):
    quote = connection.dialect.identifier_preparer.quote
    keep = {"alembic_version", "sqlite_sequence"}
    ordered = inspect(connection).get_sorted_table_and_fkc_names()
    tables = [quote(n) for n, _ in reversed(ordered) if n is not None and n not in keep]
    if connection.dialect.name == "postgresql":
        return [f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"]
    has_sequence = connection.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").first()
    return [f"DELETE FROM {t}" for t in tables] + (["DELETE FROM sqlite_sequence"] if has_sequence else [])


async def empty_tables(engine):
    async with engine.begin() as connection:
        if engine not in _statements:
            _statements[engine] = await connection.run_sync(emptying)
        for statement in _statements[engine]:
            await connection.exec_driver_sql(statement)


testsupport.cleanup.restore = empty_tables
"""

COPY = """
import shutil
import pytest
import testsupport.cleanup
from testsupport.pg.shared import shared_server
from testsupport.pg.template import migrated_template

_copy = {}


@pytest.fixture(scope="session", autouse=True)
def pristine(schema, database, run_migrations, migrations_fingerprint):
    # The migrated state, before any test: the template's name, or a copy of the SQLite file.
    path = schema.url.database
    if database == "sqlite":
        _copy["from"] = path + ".pristine"
        shutil.copyfile(path, _copy["from"])
    else:
        server, _ = shared_server()
        _copy["server"], _copy["template"] = server, migrated_template(server, run_migrations, migrations_fingerprint)


async def fresh_copy(engine):
    await engine.dispose()  # the pool's connections hold the database open
    path = engine.url.database
    if engine.dialect.name == "sqlite":
        shutil.copyfile(_copy["from"], path)
    else:
        _copy["server"].drop_database(path)
        _copy["server"].create_database(path, _copy["template"])


testsupport.cleanup.restore = fresh_copy
"""

STRATEGIES = {
    "savepoint mode (no restore, the floor)": None,
    "old: empty every table": OLD,
    "new: restore what changed": "",
    "fresh copy (re-clone / copy the file)": COPY,
}
FLOOR = "savepoint mode (no restore, the floor)"


def write_suite(folder: Path, schema: str, conftest: str | None, tests: int) -> None:
    folder.mkdir(parents=True)
    spec = SCHEMAS[schema]
    for name, text in spec.files.items():
        (folder / name).write_text(text)
    (folder / "conftest.py").write_text(conftest or "")
    body = "".join(f"    await db_session.execute(text({s!r}))\n" for s in spec.inserts)
    header = "from sqlalchemy import text\n" + (REAL if conftest is not None else "")
    (folder / "test_write.py").write_text(
        header + "".join(TEST.format(i=i, body=body.replace("{i}", str(i))) for i in range(tests))
    )
    (folder / "pytest.ini").write_text(INI + spec.ini)


def candidates(engine: AsyncEngine, pristine: Callable[[], object]) -> dict[str, Callable[[], Awaitable[None]]]:
    """The clean-ups to compare, on this engine: the suites' conftest code, run here."""
    saved = cleanup.restore
    old: dict[str, Any] = {}
    exec(OLD, old)  # noqa: S102 - our own constant: the same code the pytest rows run
    cleanup.restore = saved  # OLD rebinds it; this process keeps testsupport's

    async def fresh() -> None:
        await engine.dispose()
        pristine()

    return {
        "old: empty every table": lambda: old["empty_tables"](engine),
        "new: restore what changed": lambda: saved(engine),
        "fresh copy (re-clone / copy the file)": fresh,
    }


async def time_calls(
    engine: AsyncEngine, inserts: tuple[str, ...], pristine: Callable[[], object], calls: int
) -> dict[str, float]:
    """Median ms per clean-up call, per candidate, after the same two INSERTs each time."""
    await cleanup.remember_counters(engine)
    async with cleanup.restored(engine, contextlib.nullcontext):
        pass  # the snapshot
    timings: dict[str, list[float]] = defaultdict(list)
    chosen = candidates(engine, pristine)
    # One candidate after another, not taking turns: a TRUNCATE invalidates the other's cached
    # plans for those tables, and the fresh copy closes the pool (new connections, statements
    # prepared again), so taking turns each paid for the other's work.
    for group in ([name] for name in chosen):
        for i in range(calls):
            for name in group:
                async with engine.begin() as connection:
                    for statement in inserts:
                        await connection.exec_driver_sql(statement.replace("{i}", str(i)))
                started = time.perf_counter()
                await chosen[name]()
                timings[name].append(time.perf_counter() - started)
    await engine.dispose()
    return {name: statistics.median(values) * 1000 for name, values in timings.items()}


def measure_calls(server: Server, work: Path, calls: int) -> dict[tuple[str, str, str], float]:
    results: dict[tuple[str, str, str], float] = {}
    pristine: Callable[[], object]
    wide = work / "wide-module"
    wide.mkdir()
    (wide / "wide.py").write_text(SCHEMAS["20 tables"].files["wide.py"])
    sys.path.insert(0, str(wide))
    metadata = {"demo": Base.metadata, "20 tables": importlib.import_module("wide").metadata}
    for schema, spec in SCHEMAS.items():
        for database in ("sqlite", "postgres"):
            if database == "sqlite":
                path = work / f"{len(results)}.db"
                url = f"sqlite+syncsqlite:///{path}"
                build = f"sqlite+aiosqlite:///{path}"
            else:
                template = f"bench_template_{len(results)}"
                build = server.create_database(template)
            if schema == "demo":
                migrate.upgrade(url=build)
            else:
                asyncio.run(create_all(build, metadata[schema]))
            if database == "sqlite":
                shutil.copyfile(path, f"{path}.pristine")
                pristine = functools.partial(shutil.copyfile, f"{path}.pristine", path)
            else:
                name = f"bench_restore_{len(results)}"
                url = server.create_database(name, template)

                def reclone(name: str = name, template: str = template) -> None:
                    server.drop_database(name)
                    server.create_database(name, template)

                pristine = reclone

            found = asyncio.run(time_calls(make_test_engine(url), spec.inserts, pristine, calls))
            for strategy, value in found.items():
                results[schema, strategy, database] = value
    return results


async def create_all(url: str, metadata: Any) -> None:
    engine = make_test_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=200, help="tests per suite (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--calls", type=int, default=300, help="timed clean-up calls per candidate (default 300)")
    parser.add_argument("--calls-only", action="store_true", help="only the first table (no pytest runs)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-restore-"))
    stack = contextlib.ExitStack()
    server = stack.enter_context(embedded_server())  # shared by every run, via TEST_POSTGRES_URL
    runs: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    try:
        calls = measure_calls(server, work, args.calls)
        env = bench_env(server)
        plan = []
        for s_index, schema in enumerate(SCHEMAS if not args.calls_only else ()):
            for index, (name, conftest) in enumerate(STRATEGIES.items()):
                folder = work / f"s{s_index}-{index}"
                write_suite(folder, schema, conftest, args.tests)
                for database in ("sqlite", "postgres"):
                    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"]
                    cmd += ["-p", "benchmarks.test_clock", "-k", database, "--anyio-backends=asyncio"]
                    plan.append((schema, name, database, cmd, folder))
        for _, _, _, cmd, folder in plan if args.rounds > 1 else []:  # warm-up, untimed (as isolation.py)
            timed(cmd, folder, env)
        for round_ in range(args.rounds):
            for schema, name, database, cmd, folder in plan:
                per_test = timed(cmd, folder, env)[1]
                assert per_test is not None
                runs[schema, name, database].append(per_test)
            print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        stack.close()
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nThe clean-up after one real-commit test (two INSERTs), {args.calls} calls each, medians, ms")
    print("| schema | strategy | SQLite | PostgreSQL |")
    print("|---|---|---|---|")
    for schema in SCHEMAS:
        for name in list(STRATEGIES)[1:]:
            print(
                f"| {schema} | {name} | {calls[schema, name, 'sqlite']:.2f} | {calls[schema, name, 'postgres']:.2f} |"
            )
    if args.calls_only:
        return
    print(f"\n{args.tests} tests per suite (two INSERTs and a commit each), {args.rounds} rounds, medians")
    print("| schema | strategy | SQLite ms/test | restore cost | PostgreSQL ms/test | restore cost |")
    print("|---|---|---|---|---|---|")
    for schema in SCHEMAS:
        for name in STRATEGIES:
            cells = [schema, name]
            for database in ("sqlite", "postgres"):
                value = statistics.median(runs[schema, name, database])
                floor = statistics.median(runs[schema, FLOOR, database])
                cells += [f"{value:.2f}", "-" if name == FLOOR else f"{value - floor:+.2f}"]
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
