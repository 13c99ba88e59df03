"""Per-test cost of each isolation strategy, on SQLite, PostgreSQL and MariaDB.

    uv run python benchmarks/isolation.py [--tests 300] [--rounds 3] [--skip-pytest-asyncio] [--xdist]

Generates the same N-test suite (an API test: POST a user, GET it back) for each strategy, runs the
suites interleaved over several rounds, and prints one table. Per-test cost is clocked inside each
run (benchmarks/test_clock.py: from the 10th test to the last), so start-up, collection and session
fixtures are not in it and their noise is not spread over the tests; the -n 2 rows, whose tests run
in workers, use the slope between an N-test and a 1-test run instead.
All runs share one embedded PostgreSQL server (through TEST_POSTGRES_URL) and one throwaway MariaDB
(through TEST_MARIADB_URL; skipped, and said, without MariaDB binaries); their own start-up, the
migrations and the template are measured on their own. The pytest-asyncio row runs in a throwaway
virtualenv, never in the project's own.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service import migrate  # noqa: E402
from testsupport import mariadb  # noqa: E402
from testsupport.postgres import Server, embedded_server  # noqa: E402

TEST = """
async def test_api_{i}(client):
    created = await client.post("/users", json={{"email": "u{i}@example.com", "name": "U {i}"}})
    assert created.status_code == 201, created.text
    fetched = await client.get(f"/users/{{created.json()['id']}}")
    assert fetched.status_code == 200
"""

# testsupport through its public configuration: the service's ini keys (as in pyproject.toml) and
# the one fixture a project overrides to authenticate its client. The token is API_TOKEN=bench.
INI = f"""
testsupport_app = service.main:create_app
testsupport_sessionmaker = service.db:make_sessionmaker
testsupport_alembic_config = {ROOT / "pyproject.toml"}
testsupport_metadata = service.models:Base.metadata
"""
PLUGIN = """
import pytest

@pytest.fixture(scope="session")
def client_headers():
    return {"Authorization": "Bearer bench"}
"""

OWN_APP = """
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from service.main import create_app
from service.models import Base
from testsupport.app import asgi_client

from testsupport import make_test_engine

@pytest.fixture(scope="session")
async def own_engine(schema, database_url):
    # An engine of the strategy's own on the migrated test database, built like testsupport's: the
    # safety net refuses the test engine outside a test's transaction, and leaves a test that asks
    # for no test connection to engines of its own.
    engine = make_test_engine(database_url)
    yield engine
    await engine.dispose()

@pytest.fixture(scope="session")
async def own_running_app(own_engine):
    app = create_app(engine=own_engine)  # the app's own sessions: no isolation
    async with LifespanManager(app) as manager:  # once, as this project's fixtures do
        yield manager.app

@pytest.fixture
def client(own_running_app, client_headers):
    return asgi_client(own_running_app, headers=client_headers)
"""

# Clean-ups run after each test, as an autouse fixture next to OWN_APP's client.
TRUNCATE = """
@pytest.fixture(autouse=True)
async def truncate(own_engine):
    yield
    async with own_engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("TRUNCATE notes, users RESTART IDENTITY"))
        else:  # SQLite; MariaDB, whose TRUNCATE refuses a table a foreign key references
            await conn.execute(text("DELETE FROM notes"))
            await conn.execute(text("DELETE FROM users"))
"""

RECREATE = """
@pytest.fixture(autouse=True)
async def recreate(own_engine):
    yield
    async with own_engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
"""

DB_PER_TEST = """
import uuid
import pytest
from service.db import make_engine
from testsupport.app import asgi_client
from testsupport.maria.shared import shared_server as mariadb_server
from testsupport.pg.shared import shared_server
from testsupport.pg.template import migrated_template

@pytest.fixture
async def client(session_app, running_app, app_sessions, refusing_engine, client_headers, run_migrations, database):
    name = f"bench_{uuid.uuid4().hex[:12]}"
    if database == "mariadb":  # no template databases: a new one, migrated
        server, _ = mariadb_server()
        engine = make_engine(server.create_database(name))
        async with engine.begin() as conn:
            await conn.run_sync(run_migrations)
    else:
        server, _ = shared_server()
        template = migrated_template(server, run_migrations)
        engine = make_engine(server.create_database(name, template))
    app_sessions.configure(bind=engine)
    yield asgi_client(running_app, headers=client_headers)
    app_sessions.configure(bind=refusing_engine)
    await engine.dispose()
    server.drop_database(name)
"""

PYTEST_ASYNCIO = """
import os
import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from service.db import make_engine
from service.main import create_app
from service.settings import Settings

# The same fixture structure as this project's (session engine, app and lifespan; per-test
# connection in a rolled-back transaction, the app's sessionmaker bound to it, a plain client),
# on pytest-asyncio's runner instead of anyio's.

@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def engine():
    engine = make_engine(os.environ["BENCH_URL"])
    yield engine
    await engine.dispose()

@pytest.fixture(scope="session")
def sessions(engine):
    return async_sessionmaker(engine, expire_on_commit=False, join_transaction_mode="create_savepoint")

@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def running_app(engine, sessions):
    app = create_app(Settings(api_token="bench"), engine=engine, sessionmaker=sessions)
    async with LifespanManager(app) as manager:
        yield manager.app

@pytest_asyncio.fixture(loop_scope="session")
async def db_connection(engine):
    async with engine.connect() as conn:
        outer = await conn.begin()
        yield conn
        await outer.rollback()

@pytest.fixture
def client(running_app, sessions, db_connection, engine):
    sessions.configure(bind=db_connection)
    transport = httpx.ASGITransport(app=running_app)
    yield httpx.AsyncClient(transport=transport, base_url="http://t", headers={"Authorization": "Bearer bench"})
    sessions.configure(bind=engine)
"""

STRATEGIES: dict[str, str] = {
    "savepoint per test (this project)": PLUGIN,
    "no isolation (floor)": PLUGIN + OWN_APP,
    "DELETE/TRUNCATE after each test": PLUGIN + OWN_APP + TRUNCATE,
    "drop_all/create_all per test": PLUGIN + OWN_APP + RECREATE,
    "database per test (PostgreSQL: from a template; MariaDB: migrated)": PLUGIN + DB_PER_TEST,
    "pytest-asyncio, session loop": PYTEST_ASYNCIO,
}
THIS = "savepoint per test (this project)"
FLOOR = "no isolation (floor)"
PA = "pytest-asyncio, session loop"
SERVERS_ONLY = {"database per test (PostgreSQL: from a template; MariaDB: migrated)"}
DATABASES = {"sqlite": "SQLite", "postgres": "PostgreSQL", "mariadb": "MariaDB"}


def write_suite(folder: Path, conftest: str, tests: int, pytest_asyncio: bool) -> None:
    folder.mkdir(parents=True)
    (folder / "conftest.py").write_text(conftest)
    header = 'import pytest\npytestmark = pytest.mark.asyncio(loop_scope="session")\n' if pytest_asyncio else ""
    (folder / "test_api.py").write_text(header + "".join(TEST.format(i=i) for i in range(tests)))
    # Schemathesis and Hypothesis plugins: ~1 s of imports per start, unused here (these suites discover
    # plugins, as an adopter's do).
    off = "-p no:schemathesis -p no:hypothesispytest"
    if pytest_asyncio:
        ini = f"asyncio_default_fixture_loop_scope = session\naddopts = {off}\n"
    else:
        ini = f"addopts = -p no:asyncio {off}\n" + INI
    (folder / "pytest.ini").write_text("[pytest]\n" + ini)


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float | None]:
    """Wall seconds of the run, and ms per test from the in-run clock (None under xdist)."""
    with tempfile.NamedTemporaryFile(suffix=".clock") as clock:
        started = time.perf_counter()
        run_env = {**env, "TEST_CLOCK_FILE": clock.name}
        result = subprocess.run(cmd, cwd=cwd, env=run_env, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit(f"benchmark run failed in {cwd}:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
        text = Path(clock.name).read_text().split()
    per_test = float(text[1]) / int(text[0]) * 1000 if text else None
    return elapsed, per_test


def pytest_asyncio_python(work: Path) -> str:
    venv = work / "pytest-asyncio-venv"
    uv = shutil.which("uv") or "uv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "-q",
            "--python",
            python,
            "-e",
            str(ROOT),
            "pytest",
            "pytest-asyncio",
            "httpx",
            "asgi-lifespan",
        ],
        check=True,
    )
    return python


def measure_mariadb_startup() -> dict[str, float]:
    """Cold start of the throwaway MariaDB, and one worker database migrated on it."""
    started = time.perf_counter()
    with mariadb.embedded_server() as server:
        server_start = time.perf_counter() - started
        started = time.perf_counter()
        migrate.upgrade(url=server.create_database("test_bench_migrated"))
        return {"server": server_start, "migrate": time.perf_counter() - started}


def measure_startup() -> dict[str, float]:
    """Cold start of the embedded server, and the template migration on it."""
    started = time.perf_counter()
    with embedded_server() as server:
        server_start = time.perf_counter() - started
        started = time.perf_counter()
        url = server.create_database("template_bench")
        migrate.upgrade(url=url)
        template = time.perf_counter() - started
        clones = []
        for i in range(5):
            started = time.perf_counter()
            server.create_database(f"clone_{i}", "template_bench")
            clones.append(time.perf_counter() - started)
    return {"server": server_start, "template": template, "clone": statistics.median(clones)}


def bench_env(server: Server) -> dict[str, str]:
    """The environment of the benchmark's pytest runs: every run on ``server`` (TEST_POSTGRES_URL)."""
    pg_url = server.admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
    # PYTHONDONTWRITEBYTECODE (set on some machines, CI's included) also stops pytest caching
    # the assertion-rewritten test module: rewriting 300 tests on every run would add ~3 ms
    # to every strategy's per-test slope. A warm-up round fills the cache.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TESTSUPPORT_", "PYTEST_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(TEST_POSTGRES_URL=pg_url, PYTHONPATH=str(ROOT), TESTSUPPORT_REQUIRE_POSTGRES="1", API_TOKEN="bench")  # noqa: S106
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=300, help="tests per suite (default 300)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--skip-pytest-asyncio", action="store_true", help="no throwaway venv, no pytest-asyncio row")
    parser.add_argument("--xdist", action="store_true", help="also measure this project's suite with -n 2")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-"))
    strategies = {k: v for k, v in STRATEGIES.items() if not (args.skip_pytest_asyncio and k == PA)}
    startup = measure_startup()
    why_not_mariadb = mariadb.unavailable()
    databases = [d for d in DATABASES if d != "mariadb" or why_not_mariadb is None]
    maria_startup = measure_mariadb_startup() if "mariadb" in databases else {}
    cleanup = contextlib.ExitStack()
    server = cleanup.enter_context(embedded_server())  # shared by every run, via TEST_POSTGRES_URL
    try:
        env = bench_env(server)
        if "mariadb" in databases:
            maria = cleanup.enter_context(mariadb.embedded_server())  # shared, via TEST_MARIADB_URL
            maria_url = maria.admin_url.set(drivername="mysql").render_as_string(hide_password=False)
            env.update(TEST_MARIADB_URL=maria_url, TESTSUPPORT_REQUIRE_MARIADB="1")
        python = {name: sys.executable for name in strategies}
        if PA in strategies:
            python[PA] = pytest_asyncio_python(work)
            sqlite_file = work / "pytest-asyncio.db"
            migrate.upgrade(url=f"sqlite+aiosqlite:///{sqlite_file}")
            pa_urls = {"sqlite": f"sqlite+aiosqlite:///{sqlite_file}", "postgres": server.url_for("bench_pa")}
            server.create_database("bench_pa")
            migrate.upgrade(url=pa_urls["postgres"])
            if "mariadb" in databases:
                pa_urls["mariadb"] = maria.create_database("bench_pa")
                migrate.upgrade(url=pa_urls["mariadb"])

        suites: dict[tuple[str, int], Path] = {}
        for index, (name, conftest) in enumerate(strategies.items()):
            for size in (1, args.tests) if name == THIS else (args.tests,):
                suites[name, size] = work / f"s{index}" / f"n{size}"
                write_suite(suites[name, size], conftest, size, name == PA)

        runs: dict[tuple[str, str, int], list[tuple[float, float | None]]] = defaultdict(list)
        plan: list[tuple[str, str, int, Callable[[], tuple[float, float | None]]]] = []
        for name in strategies:
            for database in databases:
                if database == "sqlite" and name in SERVERS_ONLY:
                    continue
                cmd = [python[name], "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"]
                cmd += ["-p", "benchmarks.test_clock"]
                run_env = dict(env)
                if name == PA:
                    cmd += ["-p", "no:anyio"]
                    run_env["BENCH_URL"] = pa_urls[database]
                else:
                    cmd += ["-k", database, "--anyio-backends=asyncio"]
                for size in (1, args.tests) if name == THIS else (args.tests,):
                    folder = suites[name, size]
                    plan.append((name, database, size, partial(timed, cmd, folder, run_env)))
                    if args.xdist and name == THIS:
                        xcmd = [*cmd, "-n", "2"]
                        plan.append((name + " -n 2", database, size, partial(timed, xcmd, folder, run_env)))
        # Warm-up: bytecode and pytest's rewrite cache, untimed. Not for a single round: a smoke run
        # (CI's) checks that the benchmark runs, and its figures are not read.
        for _, _, _, run in plan if args.rounds > 1 else []:
            run()
        for round_ in range(args.rounds):
            for name, database, size, run in plan:
                runs[name, database, size].append(run())
            print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        cleanup.close()
        shutil.rmtree(work, ignore_errors=True)

    def wall(name: str, database: str, size: int) -> float:
        return statistics.median(w for w, _ in runs[name, database, size])

    def per_test(name: str, database: str) -> float | None:
        if (name, database, args.tests) not in runs:
            return None
        clocked = [t for _, t in runs[name, database, args.tests] if t is not None]
        if clocked:
            return statistics.median(clocked)
        slope: float = (wall(name, database, args.tests) - wall(name, database, 1)) / (args.tests - 1) * 1000
        return slope

    names = list(dict.fromkeys(key[0] for key in runs))
    print(
        f"\n{args.tests} tests per suite, {args.rounds} rounds, medians; per-test clocked inside the run "
        f"(-n 2: slope between 1 and {args.tests} tests)"
    )
    print(
        "| strategy | "
        + " | ".join(f"{DATABASES[d]} wall s | {DATABASES[d]} ms/test | over floor | vs this" for d in databases)
        + " |"
    )
    print("|---|" + "---|---|---|---|" * len(databases))
    for name in names:
        cells = [name]
        for database in databases:
            value = per_test(name, database)
            if value is None:
                cells += ["-"] * 4
                continue
            floor, this = per_test(FLOOR, database), per_test(THIS, database)
            cells += [
                f"{wall(name, database, args.tests):.2f}",
                f"{value:.2f}",
                f"{value - floor:+.2f}" if floor is not None else "-",
                f"{value / this:.2f}x" if this else "-",
            ]
        print("| " + " | ".join(cells) + " |")
    sqlite, pg = per_test(THIS, "sqlite"), per_test(THIS, "postgres")
    if sqlite and pg:
        print(f"\nthis project: SQLite per test / PostgreSQL per test = {sqlite / pg:.2f}")
    print(
        f"start-up: embedded PostgreSQL cold start {startup['server'] * 1000:.0f} ms, "
        f"template create + migrate {startup['template'] * 1000:.0f} ms, clone {startup['clone'] * 1000:.1f} ms; "
        f"1-test run of this project: SQLite {wall(THIS, 'sqlite', 1):.2f} s, "
        f"PostgreSQL {wall(THIS, 'postgres', 1):.2f} s"
    )
    if maria_startup:
        print(
            f"start-up: throwaway MariaDB cold start {maria_startup['server'] * 1000:.0f} ms, a worker database "
            f"created + migrated {maria_startup['migrate'] * 1000:.0f} ms; 1-test run of this project: "
            f"MariaDB {wall(THIS, 'mariadb', 1):.2f} s"
        )
    else:
        print(f"MariaDB not measured: {why_not_mariadb}")


if __name__ == "__main__":
    main()
