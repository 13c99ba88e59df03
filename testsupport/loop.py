"""The event loop: one anyio test runner per backend for the whole session.

anyio's pytest plugin keeps a runner (event loop) alive only while something holds a lease on it:
each async fixture until its teardown, each test while it runs. When the count drops to zero the
loop is closed, so a session-scoped ``anyio_backend`` alone still gives each test a new loop
(anyio issue #686; ../shared/FINDINGS.md section 1). ``anyio_session_runner`` is the lease that
keeps it open: a session-scoped async fixture that depends on nothing but the backend, so
switching the database parameter cannot tear it down.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import anyio.lowlevel
import pytest

from testsupport.constants import BACKENDS

# How often each backend's runner was started in this process: once, unless the tests of the two
# backends were interleaved (each switch closes one loop and sets the session's engines up again).
STARTS_KEY = pytest.StashKey[Counter[str]]()


@pytest.fixture(scope="session", params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The backend, once per session each. Overrides anyio's own, which is module-scoped."""
    backend: str = request.param
    return backend


@pytest.fixture(scope="session")
async def anyio_session_runner(anyio_backend: str, request: pytest.FixtureRequest) -> AsyncIterator[object]:
    """Hold a lease on the runner for the session; yields the loop's identity."""
    request.config.stash.setdefault(STARTS_KEY, Counter())[anyio_backend] += 1
    # A yield, not a return: the lease is held only while this generator is suspended.
    yield current_loop()  # noqa: PT022


def current_loop() -> object:
    """The running event loop (asyncio) or the run's token (trio): identical within one loop."""
    return anyio.lowlevel.current_token().native_token
