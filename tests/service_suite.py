"""Inner pytester suites on the service, configured exactly as the service's own tests are: the
testsupport_* keys of this project's pyproject.toml (the Alembic config by absolute path), and
the token from tests/conftest.py."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.conftest import TOKEN, UNREACHABLE

ROOT = Path(__file__).resolve().parent.parent

CONFTEST = f"""
import pytest

@pytest.fixture(scope="session", autouse=True)
def api_token():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("API_TOKEN", "{TOKEN}")
        patch.setenv("DATABASE_URL", "{UNREACHABLE}")
        yield "{TOKEN}"

@pytest.fixture(scope="session")
def client_headers(api_token):
    return {{"Authorization": f"Bearer {{api_token}}"}}
"""


def service_ini(pythonpath: tuple[str, ...] = ()) -> str:
    """The keys, and ``pythonpath``: ``pythonpath`` then the clone's root, where `service` is (it is
    not installed: the wheel holds testsupport alone)."""
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    keys = {key: value for key, value in options.items() if key.startswith("testsupport_")}
    keys["testsupport_alembic_config"] = str(ROOT / keys["testsupport_alembic_config"])
    del keys["testsupport_migration_checks"]  # the inner suites test other things; tests/ has the checks
    paths = ", ".join(f'"{path}"' for path in [*pythonpath, str(ROOT)])
    return (
        "[tool.pytest.ini_options]\n"
        + f"pythonpath = [{paths}]\n"
        + "".join(f'{key} = "{value}"\n' for key, value in keys.items())
    )


def use_service(pytester: pytest.Pytester, conftest: str = "") -> None:
    """Make the pytester folder a project that tests the service through testsupport."""
    pytester.makepyprojecttoml(service_ini())
    pytester.makeconftest(CONFTEST + conftest)
