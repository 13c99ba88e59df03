"""How a request for a target's database ends when there is none, the same for every target."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from testsupport.pg.runstate import worker


@contextmanager
def no_database_ends_the_test(
    target: str,
    require_env: str,
    session: pytest.Session | None,
    unavailable: type[Exception],
    failed: type[Exception],
    misconfigured: type[Exception],
    unavailable_prefix: str = "",
) -> Iterator[None]:
    """How a request for a server's database ends when there is none, for every server target
    (PostgreSQL in pg.workerdb, MariaDB in maria.workerdb): no server skips naming the fix (fails where
    ``require_env`` is set), a server that failed to start fails, a wrong configuration stops the run."""
    __tracebackhide__ = True
    try:
        yield
    except unavailable as exc:
        if os.environ.get(require_env):
            pytest.fail(f"{require_env} is set and {unavailable_prefix}{exc}", pytrace=False)
        pytest.skip(f"{target} tests skipped: {exc}")
    except failed as exc:
        pytest.fail(str(exc), pytrace=False)
    except misconfigured as exc:
        if worker() == "main":
            pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)
        # pytest.exit in an xdist worker is a crash to the controller (an INTERNALERROR that loses
        # the message). A worker stops instead: this test errors with the message, and xdist ends
        # the run with it ("Interrupted: ..."), as for -x (xdist's dsession.worker_workerfinished).
        if session is not None:
            session.shouldstop = str(exc)
        pytest.fail(str(exc), pytrace=False)
