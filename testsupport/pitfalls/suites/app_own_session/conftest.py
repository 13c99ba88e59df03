"""testsupport is configured for myapp in pytest.ini; this only authenticates its `client`."""

import pytest


@pytest.fixture(scope="session")
def client_headers():
    return {"Authorization": "Bearer test-token"}
