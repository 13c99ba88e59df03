from __future__ import annotations

from collections.abc import Iterator

import pytest

from testsupport.mariadb import Server, embedded_server


@pytest.fixture(scope="session")
def own_mariadb() -> Iterator[Server]:
    """A throwaway server these tests start once, standing in for the user's own (TEST_MARIADB_URL)."""
    with embedded_server() as server:
        yield server
