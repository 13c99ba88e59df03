"""Clusters kept across runs, one folder per PostgreSQL build: the pristine cluster (initdb once,
0.3-0.4 s; each cold start copies it, tens of ms), the cluster --reuse-db keeps, and (as root,
when the binaries are not reachable by the server's user) a copy of the binaries.

The folder is named after the build, not after where the binaries are: every checkout and
virtualenv with the same PostgreSQL shares it. Entries are pruned: one not used for
``PRUNE_DAYS`` days goes, and beyond the ``KEEP_ENTRIES`` most recently used an entry goes once
unused for a day; an entry in use (a run holds its lock shared, for the run's life) is never
removed.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from testsupport.pg import supervisor
from testsupport.pg.errors import PostgresFailedToStart

CACHE_ENV = "TESTSUPPORT_PG_CACHE"  # where the pristine and kept clusters live (default /var/tmp)
PRUNE_DAYS = 14
KEEP_ENTRIES = 4
USE_LOCK = "use.lock"
LAST_USED = "last-used"
_IDENTITY_BYTES = 64 * 1024  # holds the ELF build id (.note.gnu.build-id) or Mach-O LC_UUID


@functools.cache
def postgres_version(bindir: Path) -> str:
    """`postgres --version`, once per binaries folder: the cache keys depend on it."""
    return subprocess.run([bindir / "postgres", "--version"], capture_output=True, text=True).stdout


@functools.cache
def build_key(bindir: Path) -> str:
    """The build's identity, wherever it is installed: its version, the size of its `postgres`
    binary and a hash of the binary's head, where the linker's build id lives (hashing all
    11 MB would cost 40 ms per run)."""
    binary = (bindir / "postgres").resolve()
    with binary.open("rb") as handle:
        head = handle.read(_IDENTITY_BYTES)
    identity = f"{postgres_version(bindir)}\n{binary.stat().st_size}\n".encode() + head
    return hashlib.sha256(identity).hexdigest()[:16]


def cache_base() -> Path:
    """Under /var/tmp, which the unprivileged server user can reach and a reboot keeps."""
    default = Path("/var/tmp") / f"testsupport-{os.geteuid()}"  # noqa: S108 - see the docstring
    return Path(os.environ.get(CACHE_ENV) or default)


def cluster_cache(bindir: Path) -> Path:
    """The build's folder, made on first use (without locking it: see ``use_entry``)."""
    cache = cache_base() / f"pg-{build_key(bindir)}"
    cache.mkdir(parents=True, exist_ok=True, mode=0o755)
    return cache


def use_entry(bindir: Path) -> tuple[Path, int]:
    """The build's folder and a file descriptor holding its lock shared: the entry is not pruned
    while the descriptor is open (the run's supervisor keeps it). Marks it used now, and prunes
    the others."""
    for _ in range(3):
        entry = cluster_cache(bindir)
        fd = os.open(entry / USE_LOCK, os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(fd, fcntl.LOCK_SH)
        # A pruning run may have removed the folder between mkdir and flock: start again.
        if (entry / USE_LOCK).exists() and os.stat(entry / USE_LOCK).st_ino == os.fstat(fd).st_ino:
            (entry / LAST_USED).touch()
            prune(entry.parent, keep=entry)
            return entry, fd
        os.close(fd)
    raise PostgresFailedToStart(f"the cluster cache {entry} keeps disappearing; is another process removing it?")


def prune(base: Path, keep: Path | None = None, days: float = PRUNE_DAYS, entries: int = KEEP_ENTRIES) -> list[Path]:
    """Remove the entries of ``base`` unused for ``days``, and those beyond the ``entries`` most
    recently used that were unused for a day; never ``keep`` or an entry in use. Returns what it
    removed."""

    def last_used(entry: Path) -> float:
        marker = entry / LAST_USED
        return (marker if marker.exists() else entry).stat().st_mtime

    candidates = sorted((e for e in base.glob("pg-*") if e.is_dir()), key=last_used, reverse=True)
    now = time.time()
    removed = []
    for rank, entry in enumerate(candidates):
        idle = now - last_used(entry)
        if entry == keep or idle < (days * 86400 if rank < entries else 86400):
            continue
        fd = os.open(entry / USE_LOCK, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            doomed = entry.with_name(f".{entry.name}.removing-{os.getpid()}")
            entry.rename(doomed)  # at once, so no run starts on a half-removed entry
        except OSError:  # BlockingIOError: in use; or another run is removing it
            continue
        finally:
            os.close(fd)
        shutil.rmtree(doomed, ignore_errors=True)
        removed.append(entry)
    return removed


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
            try:
                chown_tree(work)
                supervisor.initdb(bindir, work / "data", work / "initdb.log")
                (work / "data").rename(pristine)
            except (subprocess.CalledProcessError, OSError) as exc:
                log = (work / "initdb.log").read_text(errors="replace") if (work / "initdb.log").exists() else exc
                raise PostgresFailedToStart(f"initdb from {bindir} failed; its log:\n{log}") from None
            finally:
                shutil.rmtree(work, ignore_errors=True)
    return pristine


def copy_cluster(source: Path, target: Path) -> None:
    shutil.copytree(source, target, symlinks=True)
    chown_tree(target)
    target.chmod(0o700)  # PostgreSQL refuses a data folder others can read
