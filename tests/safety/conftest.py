"""The sentinel database for the safety tests (tests/safety/harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.safety.harness import sentinel_database


@pytest.fixture
def sentinel_url(database: str, tmp_path: Path) -> Iterator[str]:
    """A throwaway database of the current target with a `users` table holding two rows."""
    yield from sentinel_database(database, tmp_path)
