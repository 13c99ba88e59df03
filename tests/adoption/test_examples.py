"""The worked examples (examples/NAME) run as a user runs them: each folder copied as it stands into
an empty one, its own pyproject.toml and tests, nothing added, on every database target this run
has (MariaDB where there is one), under `-n 2` once. The other adoption tests build their apps
from the same files (tests/adoption/apps.py), with the documented blocks for ini (docs/adoption.md).

The inner runs are test_adoption.py's (plugins autoloaded, `service` unimportable in them)."""

from __future__ import annotations

import shutil

import pytest

from tests.adoption.apps import EXAMPLES, readme_block
from tests.adoption.test_adoption import BASE, no_production_database, run, service_poison_on_path
from tests.adoption.test_adoption import service_unimportable as service_unimportable  # autouse here too
from testsupport import mariadb

# What a user's earlier run of an example leaves in its folder: not part of it.
LEFT_BY_A_RUN = shutil.ignore_patterns("__pycache__", ".pytest_cache", ".venv", "*.db")


def copy_example(pytester: pytest.Pytester, name: str) -> None:
    shutil.copytree(EXAMPLES / name, pytester.path, ignore=LEFT_BY_A_RUN, dirs_exist_ok=True)


def targets() -> list[str]:
    return ["sqlite", "postgres"] + ([] if mariadb.unavailable() else ["mariadb"])


def ini_block(name: str) -> str:
    """The example's [tool.pytest.ini_options], its pyproject.toml's last (and only) table."""
    pyproject = (EXAMPLES / name / "pyproject.toml").read_text()
    return pyproject[pyproject.index("[tool.pytest.ini_options]\n") :]


def test_the_examples_are_configured_by_the_readmes_blocks() -> None:
    checks = 'testsupport_migration_checks = "tests"\n'  # the folder of its tests
    assert readme_block("migration-checks").startswith("testsupport_migration_checks = ")
    assert ini_block("factory") == readme_block("factory") + checks
    assert ini_block("module_global") == readme_block("module-global")


def test_the_factory_example(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    copy_example(pytester, "factory")
    result = run(pytester, monkeypatch, "-v")
    # Per target: its 3 database tests and 3 migration checks (on asyncio; on trio deselected).
    # Once: the test without a database on asyncio and trio, the one-head check.
    passed = 6 * len(targets()) + 3
    result.assert_outcomes(passed=passed, deselected=39 - passed)
    for target in targets():
        result.stdout.fnmatch_lines(
            [
                f"tests/test_items.py::test_2_the_app_sees_the_tests_commits[[]asyncio-{target}[]] PASSED*",
                f"*testsupport-migration-checks::test_migrations_stairway[[]asyncio-{target}[]] PASSED*",
            ],
            consecutive=False,
        )
    no_production_database(pytester)


def test_the_module_global_example(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    copy_example(pytester, "module_global")
    result = run(pytester, monkeypatch, "-v")
    passed = 2 * len(targets()) + 2  # its 2 database tests per target, the other on asyncio and trio
    result.assert_outcomes(passed=passed, deselected=14 - passed)
    for target in targets():
        result.stdout.fnmatch_lines(
            [f"tests/test_users.py::test_2_one_of_two_concurrent_signups_wins[[]asyncio-{target}[]] PASSED*"]
        )
    result.stdout.fnmatch_lines(["testsupport: schema from create_all(app.models:Base.metadata): *"])
    no_production_database(pytester)


def test_the_factory_example_under_xdist(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    service_poison_on_path(pytester, monkeypatch)
    copy_example(pytester, "factory")
    result = pytester.runpytest_subprocess(*BASE, "-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=6 * len(targets()) + 3)
    no_production_database(pytester)
