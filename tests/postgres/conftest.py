from __future__ import annotations

from collections.abc import Iterator

import pytest

from testsupport.postgres import Server, embedded_server


@pytest.fixture(scope="session")
def own_server() -> Iterator[Server]:
    """A server these tests start once, standing in for the user's own (TEST_POSTGRES_URL)."""
    with embedded_server() as server:
        yield server
