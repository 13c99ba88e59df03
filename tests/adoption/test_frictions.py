"""Setups that used to say nothing, or the wrong thing (issue 21, part 3): each now stops the run,
or prints a line, that names the fix. Outside projects configured only by the documented keys,
plugins found by their entry points as in an adopter's run."""

from __future__ import annotations

import importlib
import sys

import pytest
from _pytest.fixtures import getfixturemarker

from tests.adoption.apps import FACTORY_APP, MODULE_GLOBAL_APP, readme_block, write
from tests.inner import run_inprocess
from testsupport.constants import FIXTURES
from testsupport.plugin import FIXTURE_MODULES

# As in test_adoption.py: the inner runs autoload plugins; pytest-randomly would shuffle their order.
BASE = ("-p", "no:asyncio", "-p", "no:cacheprovider", "-p", "no:randomly")
FACTORY_KEYS = readme_block("factory")


@pytest.fixture(autouse=True)
def _app_importable(pytester: pytest.Pytester) -> None:
    pytester.syspathinsert()


def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> pytest.RunResult:
    return run_inprocess(pytester, monkeypatch, *BASE, *args, autoload=True)


def summary_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if line.startswith("testsupport:")]


# (a) The fixtures a project overrode before the ini keys existed.
OLD_CONFTEST = """
import pytest


@pytest.fixture(scope="session")
def engine_factory():
    from notes_app.db import make_engine
    return lambda url: make_engine()


@pytest.fixture(scope="session")
def app_factory():
    from notes_app.main import create_app
    return lambda engine, sessions: create_app(engine=engine, sessionmaker=sessions)


@pytest.fixture(scope="session")
def run_migrations():
    return lambda connection: None


@pytest.fixture(scope="session")
def migrations_fingerprint():
    return "mine"


@pytest.fixture(scope="session")
def api_token():  # also a name of the old setup, but an ordinary one: left alone
    return "token"
"""

OLD_FIXTURE_LINES = [
    "conftest.py:4: fixture `engine_factory` is how testsupport was configured before its ini keys: it built the "
    "test engines; * Fix: delete it; the app gets the test engine as the `engine=` parameter of the factory "
    "testsupport_app names.",
    "conftest.py:10: fixture `app_factory` * it built the app; testsupport no longer calls it. Fix: delete it; set "
    "testsupport_app = * and testsupport_sessionmaker = *",
    "conftest.py:16: fixture `run_migrations` * Fix: delete it; set testsupport_alembic_config = 'alembic.ini' * "
    "and/or testsupport_metadata = *",
    "conftest.py:21: fixture `migrations_fingerprint` * Fix: delete it; --reuse-db keys its template on a hash of "
    "the migrations folder (testsupport_alembic_config), or of the models' DDL (testsupport_metadata), by itself.",
]


def test_old_fixtures_in_a_conftest_stop_the_run_naming_their_keys(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: engine_factory and run_migrations replaced testsupport's own (the tests failed with
    # `no such table: items`, and the app's ./production.db was created); app_factory was ignored.
    write(pytester, {**FACTORY_APP, "conftest.py": OLD_CONFTEST}, FACTORY_KEYS)
    result = run(pytester, monkeypatch)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ERROR collecting conftest.py*", *OLD_FIXTURE_LINES])
    assert "api_token" not in result.stdout.str()
    assert not (pytester.path / "production.db").exists()


def test_old_fixtures_stop_an_xdist_run_too(pytester: pytest.Pytester) -> None:
    """In xdist workers a UsageError at collection crashed the worker (INTERNALERROR, the message
    lost): the collection error reaches the controller, and no test runs."""
    write(pytester, {**FACTORY_APP, "conftest.py": OLD_CONFTEST}, FACTORY_KEYS)
    result = pytester.runpytest_subprocess(*BASE, "-p", "xdist", "-n", "2")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(OLD_FIXTURE_LINES)


def test_an_app_factory_fixture_the_tests_use_is_the_projects_own(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # testsupport never defined app_factory itself: one that a test asks for is the project's business.
    own = "import pytest\n\n\n@pytest.fixture\ndef app_factory():\n    return 'mine'\n"
    test = "def test_mine(app_factory):\n    assert app_factory == 'mine'\n"
    write(pytester, {**FACTORY_APP, "conftest.py": own, "test_own.py": test}, FACTORY_KEYS)
    run(pytester, monkeypatch, "-k", "sqlite or test_mine").assert_outcomes(passed=4, deselected=17)


# (b) Installed, not configured, and a test asks for testsupport's fixtures.
def test_a_fixture_of_testsupport_without_the_keys_names_them(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: `fixture 'client' not found`, and the list of the fixtures there are.
    indirect = "import pytest\n\n\n@pytest.fixture\ndef seeded(db_session):\n    return db_session\n"
    test = "def test_seeded(seeded):\n    pass\n"
    write(pytester, {**FACTORY_APP, "conftest.py": indirect, "test_seeded.py": test}, "[tool.pytest.ini_options]\n")
    result = run(pytester, monkeypatch, "-k", "test_3 or test_seeded")
    result.assert_outcomes(errors=2, deselected=3)
    pointer = (  # [[]: fnmatch's escape for [
        "*testsupport: '{}' is testsupport's fixture, and testsupport is installed but not configured here "
        f"(testsupport_app is not set). Fix: name your app in [[]tool.pytest.ini_options] of {pytester.path}/"
        "pyproject.toml: testsupport_app = 'pkg.main:create_app' *testsupport_sessionmaker = *"
        "testsupport_alembic_config = 'alembic.ini' and/or testsupport_metadata = *"
    )
    for fixture in ("client", "db_session"):  # each error's own lines; the errors come in file order
        result.stdout.fnmatch_lines([f"*fixture '{fixture}' not found", pointer.format(fixture)])


OWN_FIXTURES_SUITE = """
import pytest


@pytest.fixture
def client():
    return "the suite's own client"


def test_own(client, db_session):
    assert client == "the suite's own client"


def test_missing(nothing_defines_this):
    pass
"""


def test_an_unconfigured_suite_with_fixtures_of_the_same_names_runs_as_before(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest("import pytest\n\n\n@pytest.fixture\ndef db_session():\n    return 'its own'\n")
    pytester.makepyfile(test_own=OWN_FIXTURES_SUITE)
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\n")
    plain = run(pytester, monkeypatch, "-p", "no:testsupport.plugin")
    with_it = run(pytester, monkeypatch)
    with_it.assert_outcomes(passed=1, errors=1)
    assert with_it.parseoutcomes() == plain.parseoutcomes()
    with_it.stdout.fnmatch_lines(["*fixture 'nothing_defines_this' not found"])
    assert summary_lines(with_it) == []
    assert "testsupport_app" not in with_it.stdout.str()
    assert "testsupport.unconfigured" not in sys.modules


def test_fixtures_lists_every_fixture_of_testsupport() -> None:
    """What the unconfigured pointer knows as testsupport's: every fixture its modules define,
    but anyio_backend (anyio's plugin defines one too)."""
    defined = {
        marker.name or attribute
        for name in FIXTURE_MODULES
        for attribute, obj in vars(importlib.import_module(name)).items()
        if (marker := getfixturemarker(obj)) is not None
    }
    assert defined - {"anyio_backend"} == FIXTURES


# (c) The documented way to turn the plugin off, with --strict-config.
PLAIN_TEST = {"test_plain.py": "def test_plain():\n    pass\n"}


def test_plugin_off_keeps_its_keys_known_under_strict_config(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: `ERROR: Unknown config option: testsupport_alembic_config`.
    write(pytester, {**FACTORY_APP, **PLAIN_TEST}, FACTORY_KEYS)
    result = run(pytester, monkeypatch, "-p", "no:testsupport.plugin", "--strict-config", "-k", "test_plain")
    result.assert_outcomes(passed=1, deselected=4)  # testsupport's parametrization is off: 4 tests, not 20
    assert summary_lines(result) == []


def test_plugin_off_keeps_its_marks_known_under_strict_markers(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: `'db' not found in `markers` configuration option` for the example's
    # @pytest.mark.db(transaction=True) test. In a process of its own: pytest caches the marks it
    # has seen registered (MarkGenerator._markers) for the life of the process.
    write(pytester, {**FACTORY_APP, **PLAIN_TEST}, FACTORY_KEYS)
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    result = pytester.runpytest_subprocess(*BASE, "-p", "no:testsupport.plugin", "--strict-markers", "-k", "test_plain")
    result.assert_outcomes(passed=1, deselected=4)
    assert summary_lines(result) == []


def test_without_plugin_autoload_the_options_module_keeps_the_keys_known(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(pytester, {**FACTORY_APP, **PLAIN_TEST}, FACTORY_KEYS)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_inprocess(*BASE, "-p", "testsupport.options", "--strict-config", "test_plain.py")
    result.assert_outcomes(passed=1)
    refused = pytester.runpytest_inprocess(*BASE, "--strict-config", "test_plain.py")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR  # pytest's own, nothing of testsupport loaded to prevent it
    refused.stderr.fnmatch_lines(["ERROR: Unknown config option: testsupport_*"])


# (d) --no-migrations: what the summary says about the schema, on every target.
def test_no_migrations_says_create_all_built_the_schema_on_every_target(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: "template migrated in N ms" on PostgreSQL.
    write(pytester, FACTORY_APP, FACTORY_KEYS)
    result = run(pytester, monkeypatch, "--no-migrations")
    result.assert_outcomes(passed=11, deselected=9)
    result.stdout.fnmatch_lines(
        [
            "testsupport: schema from create_all(notes_app.models:Base.metadata) (--no-migrations): migrations not run",
            "testsupport: embedded PostgreSQL started in * ms; template built by create_all from testsupport_metadata "
            "in * ms",
            "testsupport: throwaway MariaDB started in * ms",
        ],
        consecutive=False,
    )
    assert not [line for line in summary_lines(result) if "migrated" in line]


# (e) --anyio-backends: why trio's tests are left out.
@pytest.mark.parametrize("trio", ["installed", "not importable"])
def test_the_backend_option_is_named_as_the_reason(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, trio: str
) -> None:
    # Before: "(trio is not installed)" whenever trio was not importable, the option given or not.
    if trio == "not importable":
        monkeypatch.setitem(sys.modules, "trio", None)  # importlib.util.find_spec then finds none
    write(pytester, FACTORY_APP, FACTORY_KEYS)
    result = run(pytester, monkeypatch, "--anyio-backends=asyncio", "-k", "sqlite or test_without")
    result.assert_outcomes(passed=4, deselected=16)
    assert "testsupport: deselected 4 tests (trio: not in --anyio-backends=asyncio)" in summary_lines(result)


def test_a_backend_not_installed_is_named_so(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "trio", None)
    write(pytester, FACTORY_APP, FACTORY_KEYS)
    result = run(pytester, monkeypatch, "-k", "sqlite or test_without")
    result.assert_outcomes(passed=4, deselected=16)
    assert (
        "testsupport: deselected 4 tests (trio is not installed: pip install trio to run the async tests on it too)"
        in summary_lines(result)
    )
    chosen = run(pytester, monkeypatch, "--anyio-backends=trio")
    assert chosen.ret == pytest.ExitCode.USAGE_ERROR
    chosen.stderr.fnmatch_lines(["ERROR: --anyio-backends=trio: trio is not installed. Fix: pip install trio, *"])


# (f) A sessionmaker function the app cannot be given.
FACTORY_SIGNATURE = (
    "def create_app(\n"
    "    engine: AsyncEngine | None = None, sessionmaker: async_sessionmaker[AsyncSession] | None = None\n"
    ") -> FastAPI:\n"
)
assert FACTORY_SIGNATURE in FACTORY_APP["notes_app/main.py"], "examples/factory's create_app changed: update this"
NO_SESSIONMAKER_PARAMETER = FACTORY_APP["notes_app/main.py"].replace(
    FACTORY_SIGNATURE, "def create_app(engine: AsyncEngine | None = None) -> FastAPI:\n    sessionmaker = None\n"
)


def test_a_sessionmaker_function_for_a_factory_without_the_parameter_stops_at_start(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: accepted; then each database test failed with TestEngineMisuseError ("... app code
    # using the engine instead of the sessionmaker it was given").
    write(pytester, {**FACTORY_APP, "notes_app/main.py": NO_SESSIONMAKER_PARAMETER}, FACTORY_KEYS)
    result = run(pytester, monkeypatch)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: testsupport_sessionmaker = 'notes_app.db:make_sessionmaker' is a function: testsupport makes the "
            "tests' sessionmaker with it and hands it to the app, but testsupport_app = 'notes_app.main:create_app' "
            "is a factory that declares no `sessionmaker` parameter, so the app would make its own, outside the "
            "tests' transactions. Fix one of: add a `sessionmaker=None` parameter to the factory and use it when "
            "given *; point testsupport_sessionmaker at the module-global async_sessionmaker *; or drop "
            "testsupport_sessionmaker and set testsupport_session_dependency = *"
        ]
    )


SESSIONMAKER_FUNCTION = {
    "app/sessions.py": "from sqlalchemy.ext.asyncio import async_sessionmaker\n\n\n"
    "def make(engine):\n    return async_sessionmaker(engine, expire_on_commit=False)\n"
}


def test_a_sessionmaker_function_for_an_app_object_stops_at_start(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(pytester, {**MODULE_GLOBAL_APP, **SESSIONMAKER_FUNCTION}, readme_block("module-global"))
    result = run(pytester, monkeypatch, "-o", "testsupport_sessionmaker=app.sessions:make")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: * but testsupport_app = 'app.main:app' is an app object, so the app *"])


def test_a_sessionmaker_function_beside_a_session_dependency_is_its_settings(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The overridden dependency hands the handlers the sessions; the function only gives their settings.
    write(pytester, {**MODULE_GLOBAL_APP, **SESSIONMAKER_FUNCTION}, readme_block("module-global"))
    keys = ("-o", "testsupport_sessionmaker=app.sessions:make", "-o", "testsupport_session_dependency=app.deps:get_db")
    run(pytester, monkeypatch, *keys, "-k", "sqlite").assert_outcomes(passed=2, deselected=12)
