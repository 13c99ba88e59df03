"""testsupport adopted by projects in the shapes of issue 19 (tests/adoption/shapes.py), each
configured by the documented adoption blocks and the ini keys it documents, on every target it runs
on. The inner runs are test_adoption.py's (`service` unimportable in them)."""

from __future__ import annotations

import pytest

from tests.adoption.apps import FACTORY_APP, MODULE_GLOBAL_APP, MODULE_GLOBAL_TESTS, readme_block, write
from tests.adoption.shapes import (
    ASYNC_AUTOUSE_CONFTEST,
    ASYNCIO_MARKED_TESTS,
    LIFESPAN_APP,
    POSTGRES_ONLY_APP,
    TARGET_MARKS,
    TRUSTED_HOST_APP,
)
from tests.adoption.test_adoption import FACTORY_KEYS, no_production_database, run, service_poison_on_path
from tests.adoption.test_adoption import service_unimportable as service_unimportable  # autouse here too


def test_a_session_dependency_whose_sessionmaker_cannot_be_found_names_the_fix(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sessionmaker looked up by a string: nothing in the function refers to it.
    deps = """
from app.core import db


async def get_db():
    async with db.__dict__["SessionLocal"]() as session:
        yield session
"""
    write(pytester, {**MODULE_GLOBAL_APP, "app/deps.py": deps}, readme_block("module-global"))
    override = ("-o", "testsupport_sessionmaker=", "-o", "testsupport_session_dependency=app.deps:get_db")
    result = run(pytester, monkeypatch, *override, "-k", "sqlite and test_1")
    result.assert_outcomes(failed=1, deselected=13)
    result.stdout.fnmatch_lines(
        [
            "*MissingGreenlet*",
            "testsupport: testsupport_session_dependency = 'app.deps:get_db': testsupport looked for the "
            "async_sessionmaker it uses and found none, so the test sessions have SQLAlchemy's defaults "
            "(expire_on_commit=True: *MissingGreenlet). Fix: set testsupport_sessionmaker to the app's *",
        ],
        consecutive=False,
    )
    # Both keys: the override yields sessions of the named sessionmaker, with its settings.
    both = run(pytester, monkeypatch, "-o", "testsupport_session_dependency=app.deps:get_db", "-k", "sqlite")
    both.assert_outcomes(passed=2, deselected=12)


def test_a_lifespan_that_uses_the_module_global_sessionmaker(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its start-up check and seed run once per database, on the test database, committed before
    the first test of that database: every test sees the seed, and each test's rollback returns to
    it. Nothing reaches the database the app's settings name."""
    write(pytester, LIFESPAN_APP, readme_block("module-global"))
    result = run(pytester, monkeypatch, "-p", "no:randomly")
    result.assert_outcomes(passed=15, deselected=15)
    no_production_database(pytester)


def test_a_lifespan_that_uses_the_apps_own_engine_is_refused_naming_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lifespan's start-up check on the module-global engine (the database the settings name)
    is refused before it connects, as a test's would be."""
    check = LIFESPAN_APP["app/main.py"].replace(
        "        await session.execute(select(1))  # the start-up check",
        "        async with engine.connect() as connection:  # the start-up check, on its own engine\n"
        "            await connection.execute(select(1))",
    )
    write(
        pytester,
        {**LIFESPAN_APP, "app/main.py": check.replace("import SessionLocal", "import SessionLocal, engine")},
        readme_block("module-global"),
    )
    result = run(pytester, monkeypatch, "-k", "sqlite and test_1")
    result.assert_outcomes(errors=1, deselected=29)
    result.stdout.fnmatch_lines(
        [
            "*ForeignEngineError: the app's lifespan uses testsupport's database, but a connection was opened on "
            "the engine for sqlite+aiosqlite:///production.db, created at app/core/db.py:5 (<module>) (at "
            "app/main.py:* (lifespan), * during the app's lifespan). *Fix: hand the app the test's sessions: *"
        ]
    )
    no_production_database(pytester)


def test_a_lifespan_that_uses_the_database_cannot_start_for_bare_client(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = "async def test_ping(bare_client):\n    assert (await bare_client.get('/ping')).status_code == 200\n"
    write(pytester, {**LIFESPAN_APP, MODULE_GLOBAL_TESTS: bare}, readme_block("module-global"))
    result = run(pytester, monkeypatch, "--anyio-backends=asyncio")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*DatabaseBlockedError: the app's lifespan, started for `bare_client` (no database), did not ask for the "
            "database, but it used the app's sessionmaker, *Fix: request `client` or `app` *"
        ]
    )


def test_a_postgres_only_project_says_so_once(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    write(pytester, POSTGRES_ONLY_APP, readme_block("module-global") + 'testsupport_databases = "postgres"\n')
    result = run(pytester, monkeypatch)
    # 3 database tests on postgres, the database-less one on asyncio and trio.
    result.assert_outcomes(passed=5, deselected=15)
    result.stdout.fnmatch_lines(["testsupport: deselected 3 tests (sqlite: not in testsupport_databases = postgres)"])


def test_a_test_or_module_chooses_its_targets(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    write(pytester, {**FACTORY_APP, "test_marks.py": TARGET_MARKS}, FACTORY_KEYS)
    result = run(pytester, monkeypatch, "-k", "marks", "--anyio-backends=asyncio")
    result.assert_outcomes(passed=4, deselected=34)
    result.stdout.fnmatch_lines(
        [
            "testsupport: deselected 1 tests (sqlite: marked db(databases=postgres))",
            "testsupport: deselected 1 tests (postgres: marked db(databases=sqlite))",
        ],
        consecutive=False,
    )
    # The targets' own marks still select as before: -m postgres runs each test's postgres item.
    run(pytester, monkeypatch, "-k", "marks", "-m", "postgres").assert_outcomes(passed=2, deselected=36)


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("ini", "ERROR: testsupport_databases = 'postgress': postgress: not a database target. Fix: choose among *"),
        ("mark", "ERROR: test_marks.py::test_* db(databases=...) = 'postgress': postgress: not a database target*"),
    ],
    ids=["ini", "mark"],
)
def test_an_unknown_target_stops_the_run_naming_the_targets(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, where: str, message: str
) -> None:
    keys = FACTORY_KEYS + ('testsupport_databases = "postgress"\n' if where == "ini" else "")
    files = {**FACTORY_APP, "test_marks.py": TARGET_MARKS.replace('databases="postgres"', 'databases="postgress"')}
    write(pytester, files, keys)
    result = run(pytester, monkeypatch)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_an_app_behind_trusted_host_middleware(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    write(
        pytester, TRUSTED_HOST_APP, readme_block("module-global") + 'testsupport_base_url = "https://api.example.com"\n'
    )
    run(pytester, monkeypatch).assert_outcomes(passed=8, deselected=6)
    # Without it, the middleware refuses the default host, http://testserver: 400 "Invalid host header".
    refused = run(pytester, monkeypatch, "-o", "testsupport_base_url=", "-k", "sqlite and test_1")
    refused.assert_outcomes(failed=1, deselected=13)
    refused.stdout.fnmatch_lines(["*assert 400 == 201*"])
    wrong = run(pytester, monkeypatch, "-o", "testsupport_base_url=api.example.com")
    assert wrong.ret == pytest.ExitCode.USAGE_ERROR
    wrong.stderr.fnmatch_lines(
        ["ERROR: testsupport_base_url = 'api.example.com': not an http(s) base URL. Fix: write it as *"]
    )


def test_pytest_asyncio_marks_are_counted_not_refused(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(pytester, {**FACTORY_APP, "test_marked.py": ASYNCIO_MARKED_TESTS}, FACTORY_KEYS)
    # What filterwarnings = error makes of an unknown mark (the inner run in this process warns about
    # modules it cannot rewrite, so only that warning is made an error here).
    unknown_mark = ("-W", "error::pytest.PytestUnknownMarkWarning")
    result = run(pytester, monkeypatch, "--strict-markers", *unknown_mark, "-k", "marked")
    result.assert_outcomes(passed=5, deselected=23)
    result.stdout.fnmatch_lines(
        ["testsupport: 8 tests carry @pytest.mark.asyncio, pytest-asyncio's mark: *. Remove them (e.g. `sed -i *"]
    )


def test_pytest_asyncio_installed_stops_the_run_with_its_fix_under_filterwarnings_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real pytest-asyncio (dev group) warns in its pytest_configure that
    asyncio_default_fixture_loop_scope is unset: under filterwarnings = error that was an INTERNALERROR,
    and testsupport's message never showed. Processes of their own: every plugin found by its entry
    point, and nothing imported before (an in-process run warns about modules it cannot rewrite)."""
    pytest.importorskip("pytest_asyncio", reason="pytest-asyncio is not installed (it is in the dev group)")
    service_poison_on_path(pytester, monkeypatch)
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    strict = 'filterwarnings = ["error"]\n'
    write(pytester, FACTORY_APP, FACTORY_KEYS + strict)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines(['ERROR: pytest-asyncio is active: *Fix: addopts = [[]"-p", "no:asyncio"[]] *'])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    # The fix it names, as an adopter writes it: the run passes, warnings still errors.
    write(pytester, {}, FACTORY_KEYS + strict + 'addopts = ["-p", "no:asyncio"]\n')
    fixed = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", "-k", "sqlite")
    fixed.assert_outcomes(passed=3, deselected=17)


def test_an_async_fixture_of_a_sync_test_stops_the_run_naming_the_fix(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(pytester, {**FACTORY_APP, "test_sync.py": "def test_sync():\n    pass\n"}, FACTORY_KEYS)
    pytester.makeconftest(ASYNC_AUTOUSE_CONFTEST)
    result = run(pytester, monkeypatch)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: the async fixture `reset_caches` (*/conftest.py:*) is used by 1 sync tests (e.g. "
            "test_sync.py::test_sync): pytest-asyncio ran it on a loop of its own; *Fix: make those tests async "
            "(`async def`), or the fixture sync*"
        ]
    )
