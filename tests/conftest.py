"""What the service's own tests add to testsupport (configured in pyproject.toml): the token; and the
servers standing in for a user's own (TEST_POSTGRES_URL, TEST_MARIADB_URL)."""

from collections.abc import Iterator

import pytest

from testsupport import mariadb, postgres

pytest_plugins = ["pytester"]

# Schemathesis and Hypothesis install pytest plugins that cost ~1 s of imports (more under load) at
# every pytest start; this suite names its plugins instead of discovering them (pyproject.toml) and
# drives both through their Python API. The pytest runs the tests start themselves (pytester, in
# folders without this pyproject) get them turned off through the environment.
_OFF = "-p no:schemathesis -p no:hypothesispytest"


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytester, with the plugins above off in its runs: Pytester() clears PYTEST_ADDOPTS, and an
    in-process run would import them again each time (pytester drops the modules a run imported)."""
    monkeypatch.setenv("PYTEST_ADDOPTS", _OFF)
    return pytester


TOKEN = "test-token"
# create_app() reads Settings() from the environment: the token from here, and a DATABASE_URL no
# test can reach, so a developer's own database is never touched (testsupport passes the engine).
UNREACHABLE = "sqlite+aiosqlite:////nonexistent/tests-never-use-database-url.db"


@pytest.fixture(scope="session", autouse=True)
def api_token() -> Iterator[str]:
    """The bearer token the app accepts in the tests."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("API_TOKEN", TOKEN)
        patch.setenv("DATABASE_URL", UNREACHABLE)
        yield TOKEN


@pytest.fixture(scope="session")
def client_headers(api_token: str) -> dict[str, str]:
    """`client` sends the token."""
    return {"Authorization": f"Bearer {api_token}"}


@pytest.fixture(scope="session")
def own_server() -> Iterator[postgres.Server]:
    """A PostgreSQL server these tests start once, standing in for the user's own (TEST_POSTGRES_URL)."""
    with postgres.embedded_server() as server:
        yield server


@pytest.fixture(scope="session")
def own_mariadb() -> Iterator[mariadb.Server]:
    """A throwaway MariaDB these tests start once, standing in for the user's own (TEST_MARIADB_URL)."""
    with mariadb.embedded_server() as server:
        yield server
