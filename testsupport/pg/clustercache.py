"""Clusters kept across runs, one folder per PostgreSQL build: the pristine cluster (initdb once,
0.3-0.4 s; each cold start copies it, tens of ms) and the cluster --reuse-db keeps."""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from testsupport.pg import supervisor
from testsupport.pg.errors import PostgresFailedToStart

CACHE_ENV = "TESTSUPPORT_PG_CACHE"  # where the pristine and kept clusters live (default /var/tmp)


@functools.cache
def postgres_version(bindir: Path) -> str:
    """`postgres --version`, once per binaries folder: the cache keys depend on it."""
    return subprocess.run([bindir / "postgres", "--version"], capture_output=True, text=True).stdout


def cluster_cache(bindir: Path) -> Path:
    """A folder per PostgreSQL build that survives the run: the pristine cluster, and the kept one
    of --reuse-db. Under /var/tmp, which the unprivileged server user can reach."""
    key = hashlib.sha256(f"{bindir}\n{postgres_version(bindir)}".encode()).hexdigest()[:12]
    default = Path("/var/tmp") / f"testsupport-{os.geteuid()}"  # noqa: S108 - see the docstring
    base = Path(os.environ.get(CACHE_ENV) or default)
    cache = base / f"pg-{key}"
    cache.mkdir(parents=True, exist_ok=True, mode=0o755)
    return cache


def chown_tree(path: Path) -> None:
    user = supervisor.server_user()
    if not user:
        return
    for folder, dirs, files in os.walk(path):
        for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
            os.lchown(name, user["user"], user["group"])


def pristine_cluster(bindir: Path, cache: Path) -> Path:
    """initdb once per PostgreSQL build (0.3-0.4 s); each cold start copies it (tens of ms)."""
    pristine = cache / "pristine"
    if (pristine / "PG_VERSION").exists():
        return pristine
    with (cache / "init.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (pristine / "PG_VERSION").exists():
            work = Path(tempfile.mkdtemp(dir=cache))
            chown_tree(work)
            try:
                supervisor.initdb(bindir, work / "data", work / "initdb.log")
            except subprocess.CalledProcessError:
                log = (work / "initdb.log").read_text(errors="replace")
                shutil.rmtree(work, ignore_errors=True)
                raise PostgresFailedToStart(f"initdb from {bindir} failed; its log:\n{log}") from None
            (work / "data").rename(pristine)
            shutil.rmtree(work, ignore_errors=True)
    return pristine


def copy_cluster(source: Path, target: Path) -> None:
    shutil.copytree(source, target, symlinks=True)
    chown_tree(target)
    target.chmod(0o700)  # PostgreSQL refuses a data folder others can read
