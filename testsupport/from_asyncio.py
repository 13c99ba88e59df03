"""What a suite written for pytest-asyncio brings along, checked at collection: its
``@pytest.mark.asyncio`` marks (harmless here: counted, and the summary says to remove them) and
async fixtures that sync tests use (pytest-asyncio ran those on a loop of its own; anyio runs an
async fixture only for a test on its loop, so for a sync test it would never run: pytest 8 said
no more than "coroutine ... was never awaited", pytest 9 fails the test without naming a fix)."""

from __future__ import annotations

import inspect
from collections import Counter

import pytest


def leftovers(items: list[pytest.Item]) -> list[str]:
    """Summary lines for the marks; a UsageError for async fixtures of sync tests."""
    marked = 0
    stranded: Counter[tuple[str, str]] = Counter()  # (fixture, where) -> sync tests using it
    example: dict[tuple[str, str], str] = {}
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        marked += item.get_closest_marker("asyncio") is not None
        if inspect.iscoroutinefunction(item.obj) or "anyio_backend" in item.fixturenames:
            continue  # anyio runs its async fixtures on the session's loop
        for name in item.fixturenames:
            defs = item._fixtureinfo.name2fixturedefs.get(name)
            func = defs[-1].func if defs else None
            if func is not None and (inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)):
                key = (name, f"{inspect.getsourcefile(func)}:{func.__code__.co_firstlineno}")
                stranded[key] += 1
                example.setdefault(key, item.nodeid)
    if stranded:
        raise pytest.UsageError(
            "\n".join(
                f"the async fixture `{name}` ({where}) is used by {count} sync tests (e.g. {example[name, where]}): "
                "pytest-asyncio ran it on a loop of its own; testsupport runs async fixtures on the session's loop "
                "for async tests only, so for these it would never run."
                for (name, where), count in stranded.items()
            )
            + " Fix: make those tests async (`async def`), or the fixture sync; one that only emptied the "
            "database can go (each test's transaction is rolled back)."
        )
    if not marked:
        return []
    return [
        f"{marked} tests carry @pytest.mark.asyncio, pytest-asyncio's mark: testsupport runs async tests on "
        "anyio's session loop without a marker. Remove them (e.g. `sed -i '/@pytest.mark.asyncio/d'`, and "
        "`pytestmark = pytest.mark.asyncio` lines)"
    ]
