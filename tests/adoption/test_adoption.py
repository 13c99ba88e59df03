"""testsupport adopted by apps that are not this repository's, configured only by the documented
adoption blocks (read from docs/adoption.md), with `service` unimportable in every inner run.

The inner runs are in this process (a new interpreter costs about a second a run), with
`service` blocked in sys.modules. That catches imports at run time only (testsupport is already
imported here), so the xdist run, in processes of its own, gets a `service` package first on
its path that refuses to be imported, and a test reads testsupport's sources.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

from tests.adoption.apps import FACTORY_APP, MODULE_GLOBAL_APP, readme_block, write
from tests.inner import run_inprocess

# no:randomly: these inner runs autoload plugins as an adopter's do, and their assertions read their
# tests' order; pytest-randomly installed here (`uv run --with pytest-randomly`) would shuffle them.
BASE = ("-p", "no:asyncio", "-p", "no:cacheprovider", "-p", "no:randomly")


@pytest.fixture(autouse=True)
def service_unimportable(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """`service` and its submodules refuse to be imported in this process (None in sys.modules
    makes every import of them raise ImportError; pytester puts sys.modules back after each inner
    run, monkeypatch at teardown), and the inner runs find the app under test."""
    for name in ["service", *(name for name in sys.modules if name.startswith("service."))]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError):
        importlib.import_module("service.db")
    pytester.syspathinsert()


def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> pytest.RunResult:
    # Plugins found by their entry points, as in an adopter's run.
    return run_inprocess(pytester, monkeypatch, *BASE, *args, autoload=True)


def service_poison_on_path(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """For runs in processes of their own: a `service` package first on their path that refuses
    to be imported."""
    poison = pytester.mkdir("poison") / "service"
    poison.mkdir()
    (poison / "__init__.py").write_text('raise ImportError("testsupport must not import service")\n')
    monkeypatch.setenv("PYTHONPATH", str(poison.parent))


def no_production_database(pytester: pytest.Pytester) -> None:
    # Both apps default to ./production.db: the tests must never have opened it.
    assert not (pytester.path / "production.db").exists()


def test_factory_app_with_alembic_on_every_database(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    write(pytester, FACTORY_APP, readme_block("factory"))
    result = run(pytester, monkeypatch)
    # 3 database tests x 3 databases, the database-less one on asyncio and trio; trio x database deselected.
    result.assert_outcomes(passed=11, deselected=9)
    result.stdout.fnmatch_lines(
        [
            "testsupport: embedded PostgreSQL started in * ms; template migrated in * ms",
            "testsupport: throwaway MariaDB started in * ms",
        ]
    )
    no_production_database(pytester)


def test_factory_app_under_xdist(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    service_poison_on_path(pytester, monkeypatch)
    write(pytester, FACTORY_APP, readme_block("factory"))
    result = pytester.runpytest_subprocess(*BASE, "-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=11)
    # The controller collects nothing itself: the workers' summary lines reach it.
    result.stdout.fnmatch_lines(["testsupport: deselected 9 tests (trio x database: *)"])
    no_production_database(pytester)


def test_factory_app_with_no_migrations(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    write(pytester, FACTORY_APP, readme_block("factory"))
    revision = pytester.path / "migrations" / "versions" / "0001_items.py"
    revision.write_text(
        revision.read_text().replace("    op.create_table(", "    raise RuntimeError('run')\n    op.create_table(")
    )
    result = run(pytester, monkeypatch, "--no-migrations", "-k", "sqlite")
    result.assert_outcomes(passed=3, deselected=17)
    result.stdout.fnmatch_lines(
        ["testsupport: schema from create_all(notes_app.models:Base.metadata) (--no-migrations): migrations not run"]
    )


def test_module_global_app_on_every_database(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    write(pytester, MODULE_GLOBAL_APP, readme_block("module-global"))
    result = run(pytester, monkeypatch)
    result.assert_outcomes(passed=8, deselected=6)
    result.stdout.fnmatch_lines(
        ["testsupport: schema from create_all(app.models:Base.metadata): no testsupport_alembic_config, *"]
    )
    no_production_database(pytester)


def test_module_global_app_through_its_session_dependency(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fallback: the module-global sessionmaker is left alone (it points at ./production.db);
    # only the overridden dependency hands the handlers the test's sessions.
    write(pytester, MODULE_GLOBAL_APP, readme_block("module-global"))
    override = ("-o", "testsupport_sessionmaker=", "-o", "testsupport_session_dependency=app.deps:get_db")
    result = run(pytester, monkeypatch, *override, "-k", "sqlite")
    result.assert_outcomes(passed=2, deselected=12)
    # The handler reads the row after its commit, which needs the app's expire_on_commit=False.
    result.stdout.fnmatch_lines(
        [
            "testsupport: testsupport_session_dependency: the test sessions take the settings of SessionLocal, which "
            "app.deps:get_db uses (autoflush=True, expire_on_commit=False); set testsupport_sessionmaker *"
        ]
    )
    no_production_database(pytester)


UNRELATED_SUITE = """
import anyio
import pytest


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def client():
    return "the suite's own client"


@pytest.mark.anyio
async def test_marked(client):
    await anyio.sleep(0)
    assert client == "the suite's own client"


@pytest.mark.parametrize("n", [1, 2])
def test_sync(n, client):
    assert client.startswith("the suite")


async def test_unmarked_is_not_run_by_anyio():
    pass
"""


def outcomes(result: pytest.RunResult) -> list[str]:
    # The test and its outcome without the progress column: a plugin that reorders tests (an
    # adopter's pytest-randomly, autoloaded here too) changes each line's percentage, not its result.
    matches = (re.match(r"(test_\w+\.py::\S+ (PASSED|FAILED|SKIPPED|ERROR))", line) for line in result.outlines)
    return sorted(match.group(1) for match in matches if match)


def test_installed_but_not_configured_changes_nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_unrelated=UNRELATED_SUITE)
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\n")
    plain = run(pytester, monkeypatch, "-v", "-p", "no:testsupport.plugin")
    with_it = run(pytester, monkeypatch, "-v")
    assert outcomes(with_it) == outcomes(plain)
    assert "test_unrelated.py::test_marked PASSED" in " ".join(outcomes(with_it))
    assert with_it.parseoutcomes() == plain.parseoutcomes()
    assert not [line for line in with_it.outlines if line.startswith("testsupport:")]


NEEDY_FACTORY = {"needy.py": "def create_app(settings):\n    raise AssertionError('never called')\n"}
FACTORY_KEYS = readme_block("factory")


def ini(*lines: str) -> str:
    return "[tool.pytest.ini_options]\n" + "".join(f"{line}\n" for line in lines)


MISTAKES = {
    "module-not-found": (
        {},
        ini('testsupport_app = "nowhere.main:app"', 'testsupport_metadata = "nowhere.models:Base"'),
        "testsupport_app = 'nowhere.main:app': cannot import module 'nowhere.main' "
        "(ModuleNotFoundError: No module named 'nowhere'). Fix: *",
    ),
    "attribute-not-found": (
        FACTORY_APP,
        FACTORY_KEYS.replace("notes_app.main:create_app", "notes_app.main:make_app"),
        "testsupport_app = 'notes_app.main:make_app': 'notes_app.main' has no attribute 'make_app'. Fix: *",
    ),
    "factory-wants-more": (
        {**FACTORY_APP, **NEEDY_FACTORY},
        FACTORY_KEYS.replace("notes_app.main:create_app", "needy:create_app"),
        "testsupport_app = 'needy:create_app': the factory requires 'settings', but testsupport passes only "
        "`engine=` and `sessionmaker=` (each only if declared). Fix: give 'settings' a default, *",
    ),
    "sessionmaker-is-neither": (
        FACTORY_APP,
        FACTORY_KEYS.replace("notes_app.db:make_sessionmaker", "notes_app.db:os"),
        "testsupport_sessionmaker = 'notes_app.db:os': a module, neither an async_sessionmaker nor a function *",
    ),
    "no-revisions": (
        {**{k: v for k, v in FACTORY_APP.items() if "versions" not in k}, "migrations/versions/README": ""},
        FACTORY_KEYS,
        "testsupport_alembic_config = 'alembic.ini': the migrations folder */migrations has no revisions. Fix: *",
    ),
    "no-way-to-the-sessions": (
        MODULE_GLOBAL_APP,
        ini('testsupport_app = "app.main:app"', 'testsupport_metadata = "app.models:Base.metadata"'),
        "testsupport_app = 'app.main:app': nothing tells testsupport how the app's handlers get their sessions*",
    ),
    "no-schema": (
        FACTORY_APP,
        ini('testsupport_app = "notes_app.main:create_app"'),
        "*testsupport has no schema source. Fix: set testsupport_metadata = *",
    ),
    "key-without-app": (
        {},
        ini('testsupport_metadata = "app.models:Base.metadata"'),
        "testsupport_metadata set without testsupport_app, so testsupport would ignore them. Fix: *",
    ),
    "misspelled-key": (
        FACTORY_APP,
        FACTORY_KEYS + 'testsupport_sesionmaker = "x:y"\n',
        "testsupport_sesionmaker is not a testsupport key. Fix: did you mean testsupport_sessionmaker? *",
    ),
    "a-dependency-missing": (
        {**FACTORY_APP, "broken.py": "import stripe_not_installed\n"},
        FACTORY_KEYS.replace("notes_app.main:create_app", "broken:app"),
        "testsupport_app = 'broken:app': importing 'broken' raised ModuleNotFoundError: No module named "
        "'stripe_not_installed' (at */broken.py:1). Fix: install 'stripe_not_installed' in this environment, *",
    ),
    "import-raises": (
        {**FACTORY_APP, "raising.py": "import os\n\nSECRET = os.environ['NO_SUCH_SECRET']\n"},
        FACTORY_KEYS.replace("notes_app.main:create_app", "raising:app"),
        "testsupport_app = 'raising:app': importing 'raising' raised KeyError: 'NO_SUCH_SECRET' (at */raising.py:3)*",
    ),
    "alembic-config-is-the-migrations-folder": (
        FACTORY_APP,
        FACTORY_KEYS.replace('"alembic.ini"', '"migrations"'),
        "testsupport_alembic_config = 'migrations': */migrations is a directory. Fix: give the path of alembic.ini *",
    ),
}


@pytest.mark.parametrize("name", list(MISTAKES))
def test_a_configuration_mistake_stops_the_run_naming_the_fix(pytester: pytest.Pytester, name: str) -> None:
    files, config, message = MISTAKES[name]
    write(pytester, files, config)
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest(*BASE)  # in process: it stops in pytest_configure, before any test
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


def test_readme_blocks_are_what_the_service_uses_too() -> None:
    # The service is configured like any adopter: the documented factory block's keys, in its shape.
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert 'testsupport_app = "service.main:create_app"' in pyproject
    assert 'testsupport_sessionmaker = "service.db:make_sessionmaker"' in pyproject
    blocks = readme_block("factory") + readme_block("migration-checks")
    readme_keys = re.findall(r"^(testsupport_\w+) = ", blocks, re.MULTILINE)
    assert readme_keys == re.findall(r"^(testsupport_\w+) = ", pyproject, re.MULTILINE)


def test_testsupport_imports_nothing_from_service() -> None:
    root = Path(__file__).resolve().parents[2] / "testsupport"
    offending = [
        f"{path.name}: {line.strip()}"
        for path in sorted(root.glob("*.py"))
        for line in path.read_text().splitlines()
        if re.match(r"\s*(from|import) service\b", line)
    ]
    assert offending == []


@pytest.mark.parametrize("option", ["--reuse-db", "--no-migrations", "--anyio-backends=asyncio"])
def test_an_option_without_the_configuration_names_the_fix(pytester: pytest.Pytester, option: str) -> None:
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\n")
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest(*BASE, option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    name = option.split("=")[0]
    result.stderr.fnmatch_lines([f"ERROR: {name} is testsupport's, which is not configured here. Fix: *"])


def test_an_unconfigured_run_imports_nothing_of_testsupport_but_its_entry_point(pytester: pytest.Pytester) -> None:
    """Installed, testsupport is loaded by every pytest in the environment: a project that does not
    configure it must not pay for SQLAlchemy and the rest at every start."""
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\n")
    pytester.makepyfile(
        test_one="""
import sys

def test_one():
    loaded = sorted(name for name in sys.modules if name.startswith(("testsupport", "sqlalchemy")))
    assert loaded == ["testsupport", "testsupport.constants", "testsupport.options", "testsupport.plugin"]
"""
    )
    pytester.runpytest_subprocess(*BASE).assert_outcomes(passed=1)


def test_every_fixture_has_a_line_of_documentation(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    write(pytester, MODULE_GLOBAL_APP, readme_block("module-global"))
    result = run(pytester, monkeypatch, "--fixtures")
    ours = "\n".join(result.outlines[next(i for i, line in enumerate(result.outlines) if "from testsupport" in line) :])
    for name in ("client", "client_headers", "db_session", "app_sessions", "schema", "anyio_session_runner"):
        assert re.search(rf"^{name}\b", ours, re.MULTILINE), name
    assert "no docstring available" not in ours


def test_listing_the_plugin_in_pytest_plugins_too_is_harmless(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The entry point carries the module's name, so pytest finds it registered and skips the second
    # registration (under another name pluggy raised "Plugin already registered under a different name").
    pytester.makeconftest('pytest_plugins = ["testsupport.plugin"]\n')
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\n")
    run(pytester, monkeypatch).assert_outcomes(passed=1)


OWN_ANYIO_BACKEND = """
import pytest

@pytest.fixture
def anyio_backend():
    return "asyncio"
"""
OWN_SESSION_ANYIO_BACKEND = OWN_ANYIO_BACKEND.replace("@pytest.fixture", '@pytest.fixture(scope="session")')
ASYNCIO_ACTIVE = """
def pytest_configure(config):
    config.pluginmanager.register(object(), "asyncio")  # what an installed pytest-asyncio registers
"""


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        ("own-anyio-backend", "ERROR: anyio_backend is defined again at */conftest.py:3, function-scoped: *Fix: *"),
        ("pytest-asyncio", 'ERROR: pytest-asyncio is active: *Fix: addopts = [[]"-p", "no:asyncio"[]] *'),
        ("no-anyio-plugin", "ERROR: testsupport runs async tests through anyio's pytest plugin, which is not loaded*"),
    ],
    ids=["own-anyio-backend", "pytest-asyncio", "no-anyio-plugin"],
)
def test_a_setup_mistake_stops_the_run_naming_the_fix(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, mistake: str, message: str
) -> None:
    write(pytester, FACTORY_APP, FACTORY_KEYS)
    if mistake == "own-anyio-backend":
        pytester.makeconftest(OWN_ANYIO_BACKEND)
    if mistake == "pytest-asyncio":
        pytester.makeconftest(ASYNCIO_ACTIVE)
        result = run_inprocess(pytester, monkeypatch, "-p", "no:cacheprovider", autoload=True)
    elif mistake == "no-anyio-plugin":
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        result = pytester.runpytest_inprocess("-p", "testsupport.plugin", "-p", "no:cacheprovider")
    else:
        result = run(pytester, monkeypatch)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    result.stderr.fnmatch_lines([message])


def test_a_collection_time_stop_reaches_the_summary_under_xdist(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: a UsageError raised in an xdist worker crashed it (INTERNALERROR ... assert not
    # crashitem), and the message naming the fix was lost.
    write(pytester, FACTORY_APP, FACTORY_KEYS)
    pytester.makeconftest(OWN_ANYIO_BACKEND)
    result = run(pytester, monkeypatch, "-n", "2", "-p", "xdist")
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*ERROR: anyio_backend is defined again at */conftest.py:3, function-scoped: *Fix: *"])
    result.assert_outcomes(errors=1)


OWN_ENGINE_TEST = """
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


async def test_own_engine(db_session, tmp_path):
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/own.db")
    async with engine.begin() as connection:
        await connection.execute(text("SELECT 1"))
"""


def test_an_engine_the_test_builds_itself_is_named_with_the_fix_for_a_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fix for the app's own engine (hand it the test's sessions) is the wrong one here: the
    configuration is right, the test is not."""
    write(pytester, {**FACTORY_APP, "test_own.py": OWN_ENGINE_TEST}, FACTORY_KEYS)
    result = run(pytester, monkeypatch, "-k", "own and sqlite")
    result.assert_outcomes(failed=1, deselected=25)
    result.stdout.fnmatch_lines(
        [
            "*ForeignEngineError: *Fix: this test built that engine itself (or a function it called did): write "
            "through `db_session` or `db_connection`, which are on the test's database inside its transaction."
        ]
    )


def test_a_session_scoped_anyio_backend_of_the_projects_own_is_named_in_the_summary(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(pytester, FACTORY_APP, FACTORY_KEYS)
    pytester.makeconftest(OWN_SESSION_ANYIO_BACKEND)
    result = run(pytester, monkeypatch, "-k", "sqlite")
    result.assert_outcomes(passed=3, deselected=7)
    result.stdout.fnmatch_lines(
        ["testsupport: anyio_backend is defined again at */conftest.py:3: it replaces testsupport's, *Fix: delete it*"]
    )


def test_a_sessionmaker_function_that_raises_names_the_key(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A function of one argument that is not a sessionmaker factory (here: the app's engine maker).
    files = {**FACTORY_APP, "wrong.py": "def make_engine(url):\n    return url.startswith('x')\n"}
    write(pytester, files, FACTORY_KEYS.replace("notes_app.db:make_sessionmaker", "wrong:make_engine"))
    result = run(pytester, monkeypatch, "-k", "sqlite and test_1")
    result.assert_outcomes(errors=1, deselected=19)
    result.stdout.fnmatch_lines(
        [
            "*testsupport_sessionmaker = 'wrong:make_engine' raised AttributeError: * when called with the test "
            "engine. Fix: name the async_sessionmaker the handlers use, *"
        ]
    )
