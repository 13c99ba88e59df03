"""--reuse-db: the cluster and the migrated template survive the run, keyed on the migrations."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from tests.inner import run_inprocess
from tests.service_suite import use_service
from testsupport.postgres import URL_ENV

pytestmark = pytest.mark.postgres

CONFTEST = """
import os

@pytest.fixture(scope="session")
def migrations_fingerprint():
    return os.environ["FINGERPRINT"]
"""

SUITE = """
from sqlalchemy import text

async def test_schema_is_there(db_session):
    assert await db_session.scalar(text("SELECT count(*) FROM users")) == 0
"""


def test_template_is_kept_until_the_migrations_change(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, own_cache: Path
) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    use_service(pytester, CONFTEST)
    pytester.makepyfile(test_inner=SUITE)

    def run(fingerprint: str) -> str:
        monkeypatch.setenv("FINGERPRINT", fingerprint)
        result = run_inprocess(pytester, monkeypatch, "-k", "postgres", "--reuse-db")
        result.assert_outcomes(passed=1, deselected=5)
        line = next(line for line in result.outlines if line.startswith("testsupport: embedded PostgreSQL"))
        return re.sub(r"\d+ ms", "N ms", line)

    # Full sha256 fingerprints: longer than PostgreSQL's 63-byte names once prefixed, so they must
    # be hashed down to a name that is found again, not cut (which re-migrated on every run).
    one, two = hashlib.sha256(b"one").hexdigest(), hashlib.sha256(b"two").hexdigest()
    first, second, changed, again = run(one), run(one), run(two), run(two)

    assert first == "testsupport: embedded PostgreSQL started in N ms, kept cluster; template migrated in N ms"
    assert second == "testsupport: embedded PostgreSQL started in N ms, kept cluster; template reused in N ms"
    assert changed == first
    assert again == second
    assert (own_cache / next(p.name for p in own_cache.iterdir()) / "data" / "PG_VERSION").exists()
