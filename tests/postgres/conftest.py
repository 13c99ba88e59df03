from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from testsupport.postgres import CACHE_ENV


@pytest.fixture
def own_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A cluster cache of the test's own (TESTSUPPORT_PG_CACHE), never the one a developer's runs
    share; in /var/tmp and reachable by the server's user when run as root."""
    path = Path(tempfile.mkdtemp(prefix="testsupport-cache-test-", dir="/var/tmp"))
    path.chmod(0o755)
    monkeypatch.setenv(CACHE_ENV, str(path))
    yield path
    shutil.rmtree(path, ignore_errors=True)
