"""The outside app of tests/testdata: tests/adoption's factory app (Alembic, a factory, its own
models), plus the README's migration that seeds three plans. Configured by the README's
"factory" block only."""

from __future__ import annotations

import pytest

from tests.adoption.apps import FACTORY_APP, readme_block, write

SEEDED_APP = {**FACTORY_APP, "migrations/versions/0002_plans.py": readme_block("seed-migration")}
SEEDED_APP.pop("test_items.py")


def seeded_app(pytester: pytest.Pytester, tests: dict[str, str]) -> None:
    """The app with its seeding migration and these test files, in pytester's folder."""
    write(pytester, {**SEEDED_APP, **tests}, readme_block("factory"))
    pytester.syspathinsert()
