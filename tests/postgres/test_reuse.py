"""--reuse-db: the cluster and the migrated template survive the run, keyed on the migrations."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from tests.inner import run_inprocess
from tests.service_suite import use_service
from testsupport.config import Settings
from testsupport.pg.template import KEEP_TEMPLATES, KEPT_PREFIX, kept_template, kept_template_name
from testsupport.postgres import URL_ENV, Server

pytestmark = pytest.mark.postgres

SUITE = """
from sqlalchemy import text

async def test_schema_is_there(db_session):
    assert await db_session.scalar(text("SELECT count(*) FROM users")) == 0
"""


def test_template_is_kept_until_the_migrations_change(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, own_cache: Path
) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    # The inner runs are in this process: the fingerprint is whatever FINGERPRINT says (a project
    # overriding the old migrations_fingerprint fixture is refused: testsupport.old_fixtures).
    monkeypatch.setattr(Settings, "fingerprint", property(lambda _settings: os.environ["FINGERPRINT"]))
    use_service(pytester)
    pytester.makepyfile(test_inner=SUITE)

    def run(fingerprint: str) -> str:
        monkeypatch.setenv("FINGERPRINT", fingerprint)
        result = run_inprocess(pytester, monkeypatch, "-k", "postgres", "--reuse-db")
        result.assert_outcomes(passed=1, deselected=5)
        line = next(line for line in result.outlines if line.startswith("testsupport: embedded PostgreSQL"))
        return re.sub(r"\d+ ms", "N ms", line)

    # Full sha256 fingerprints: longer than PostgreSQL's 63-byte names once prefixed, so they must
    # be hashed down to a name that is found again, not cut (which re-migrated on every run).
    # Two projects (or two versions of one's migrations) take turns on the one kept cluster of the
    # user: each keeps its own template (B's runs used to drop A's, and A migrated again).
    one, two = hashlib.sha256(b"one").hexdigest(), hashlib.sha256(b"two").hexdigest()
    first, second, changed, again, back = run(one), run(one), run(two), run(two), run(one)

    assert first == "testsupport: embedded PostgreSQL started in N ms, kept cluster; template migrated in N ms"
    assert second == "testsupport: embedded PostgreSQL started in N ms, kept cluster; template reused in N ms"
    assert changed == first
    assert again == second
    assert back == second
    assert (own_cache / next(p.name for p in own_cache.iterdir()) / "kept" / "data" / "PG_VERSION").exists()


def test_the_least_recently_used_kept_templates_go(own_server: Server) -> None:
    """One kept template per fingerprint, up to KEEP_TEMPLATES per server (the user's own server
    too), the least recently used dropped first."""
    fingerprints = [f"bound{n}" for n in range(KEEP_TEMPLATES + 1)]
    names = [kept_template_name(fp) for fp in fingerprints]
    try:
        for fingerprint in fingerprints[:KEEP_TEMPLATES]:
            assert kept_template(own_server, lambda connection: None, fingerprint, {})[1] is False
        assert kept_template(own_server, lambda connection: None, fingerprints[0], {})[1] is True  # used again
        kept_template(own_server, lambda connection: None, fingerprints[-1], {})

        kept = {name for name in own_server.databases() if name.startswith(KEPT_PREFIX)}
        assert kept & set(names) == {names[0], *names[2:]}  # bound1 was the least recently used
    finally:
        for name in names:
            own_server.drop_database(name)
