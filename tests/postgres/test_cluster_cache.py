"""The cluster cache: one entry per PostgreSQL build wherever it is installed, pruned when
unused, never while a run uses it (issue 13 item 8)."""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from pathlib import Path

import pytest

from testsupport.pg.clustercache import LAST_USED, USE_LOCK, cluster_cache, prune
from testsupport.postgres import BINDIR_ENV, embedded_server, find_bindir

pytestmark = pytest.mark.postgres
DAY = 86400


def test_the_same_build_elsewhere_shares_one_entry(
    own_cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(BINDIR_ENV, raising=False)
    bindir = find_bindir()
    # Another checkout's copy of the same wheel: the installation and the libraries beside it.
    install, root = bindir.parent, bindir.parent.parent.parent
    for part in [install, *root.glob(f"{install.parent.name}.libs")]:
        shutil.copytree(part, tmp_path / part.relative_to(root), symlinks=True)
    copy = tmp_path / bindir.relative_to(root)

    assert cluster_cache(copy) == cluster_cache(bindir)
    assert [p.name for p in own_cache.iterdir()] == [cluster_cache(bindir)[0].name]


def _entry(base: Path, name: str, idle_days: float) -> Path:
    entry = base / f"pg-{name}"
    entry.mkdir()
    (entry / LAST_USED).touch()
    used = time.time() - idle_days * DAY
    os.utime(entry / LAST_USED, (used, used))
    return entry


def test_prune_removes_what_is_unused_and_never_what_is_in_use(own_cache: Path) -> None:
    fresh = _entry(own_cache, "fresh", 0)
    recent = [_entry(own_cache, f"recent{i}", 2 + i / 10) for i in range(5)]  # idle 2.0 ... 2.4 days
    old = _entry(own_cache, "old", 20)
    busy = _entry(own_cache, "busy", 30)
    fd = os.open(busy / USE_LOCK, os.O_CREAT | os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_SH)  # as a running server's supervisor holds it
    try:
        removed = prune(own_cache, days=14, entries=4)
    finally:
        os.close(fd)

    # Four most recently used kept; beyond them, idle for more than a day: removed.
    assert sorted(removed) == sorted([recent[3], recent[4], old])
    assert sorted(own_cache.iterdir()) == sorted([fresh, *recent[:3], busy])


def test_an_entry_is_in_use_while_its_server_runs(own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BINDIR_ENV, raising=False)
    month_ago = time.time() - 30 * DAY
    with embedded_server():
        (entry,) = own_cache.iterdir()
        assert (entry / "pristine" / "PG_VERSION").exists()
        os.utime(entry / LAST_USED, (month_ago, month_ago))
        assert prune(own_cache) == []  # unused for a month by its mark, but its server runs
    assert prune(own_cache) == [entry]
    assert not any(own_cache.iterdir())
