"""The outside app of tests/testdata: tests/adoption's factory app (Alembic, a factory, its own
models), plus the documented migration that seeds three plans and a route that runs three
statements. Configured by the documented "factory" block only."""

from __future__ import annotations

import pytest

from tests.adoption.apps import FACTORY_APP, FACTORY_TESTS, readme_block, write

# A route that runs three statements, for the query assertions.
STATS_ROUTE = """
    @app.get("/items/stats")
    async def item_stats(db=Depends(get_db)):
        count = await db.scalar(select(func.count()).select_from(Item))
        first = await db.scalar(select(func.min(Item.name)).where(Item.name != "zzz"))
        last = await db.scalar(select(func.max(Item.name)))
        return {"count": count, "first": first, "last": last}

    @app.get("/ping")"""
MAIN = (
    FACTORY_APP["notes_app/main.py"]
    .replace("from sqlalchemy import select", "from sqlalchemy import func, select")
    .replace('\n    @app.get("/ping")', STATS_ROUTE)
)
assert "/items/stats" in MAIN
SEEDED_APP = {
    **FACTORY_APP,
    "notes_app/main.py": MAIN,
    "migrations/versions/0002_plans.py": readme_block("seed-migration"),
}
SEEDED_APP.pop(FACTORY_TESTS)


def seeded_app(pytester: pytest.Pytester, tests: dict[str, str]) -> None:
    """The app with its seeding migration and these test files, in pytester's folder."""
    write(pytester, {**SEEDED_APP, **tests}, readme_block("factory"))
    pytester.syspathinsert()
