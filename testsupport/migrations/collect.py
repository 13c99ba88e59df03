"""``testsupport_migration_checks = "tests"``: the checks of testsupport.migrations.checks appear
as a module of that folder (``tests/testsupport-migration-checks::test_migrations_stairway[asyncio-sqlite]``),
collected whenever the folder is, with no file of the project's. pytest-alembic hangs its checks on
``tests/conftest.py`` the same way (src/pytest_alembic/plugin/plugin.py); a folder works without
a conftest.py."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from types import ModuleType

import pytest

KEY = "testsupport_migration_checks"
NAME = "testsupport-migration-checks"
_folder_key = pytest.StashKey[Path]()
Report = pytest.CollectReport


def pytest_configure(config: pytest.Config) -> None:
    from testsupport.collection import SETTINGS_KEY

    value = str(config.getini(KEY) or "").strip()
    if not value:
        return
    settings = config.stash[SETTINGS_KEY]
    if settings.alembic is None:
        if config.getoption("--no-migrations"):
            settings.notes.append("migration checks not collected (--no-migrations)")
            return
        raise pytest.UsageError(
            f"{KEY} = {value!r}: the checks test the Alembic migrations, and none are configured. Fix: set "
            "testsupport_alembic_config = 'alembic.ini' (or 'pyproject.toml'), or remove this key."
        )
    folder = (config.rootpath / value).resolve()
    if not folder.is_dir():
        raise pytest.UsageError(
            f"{KEY} = {value!r}: {folder} is not a folder. Fix: name the folder of your tests the checks join, "
            "relative to the rootdir (e.g. 'tests')."
        )
    config.stash[_folder_key] = folder


class MigrationChecks(pytest.Module):
    """testsupport.migrations.checks, collected as if it were a test module of the folder; only
    its checks are tests, whatever the project's python_functions says."""

    def _getobj(self) -> ModuleType:
        from testsupport.migrations import checks

        return checks

    def istestfunction(self, obj: object, name: str) -> bool:
        from testsupport.migrations.checks import CHECKS

        return name in CHECKS and callable(obj)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    folder = collector.config.stash.get(_folder_key, None)
    if folder is not None and report.passed and isinstance(collector, pytest.Directory) and collector.path == folder:
        report.result.append(MigrationChecks.from_parent(collector, path=folder / NAME))
    return report
