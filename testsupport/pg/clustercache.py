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

import contextlib
import fcntl
import functools
import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from testsupport.pg import supervisor
from testsupport.pg.errors import PostgresFailedToStart, PostgresMisconfigured
from testsupport.serverrun.account import private_folder, server_user

CACHE_ENV = "TESTSUPPORT_PG_CACHE"  # where the pristine and kept clusters live (default /var/tmp)
PRUNE_DAYS = 14
KEEP_ENTRIES = 4
USE_LOCK = "use.lock"
LAST_USED = "last-used"
KEPT = "kept"  # the kept cluster's folder (--reuse-db): as root, root's, in the run's server group
CONFIG_FILES = ("postgresql.conf", "postgresql.auto.conf", "pg_hba.conf", "pg_ident.conf")
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


def distrust(path: Path, owners: set[int]) -> str | None:
    """Why ``path`` may not be used: a link, owned by a user not in ``owners``, or writable by
    others (group or world); None when it may, or when it does not exist."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISLNK(info.st_mode):
        return f"{path} is a symbolic link"
    if info.st_uid not in owners:
        return f"{path} is owned by uid {info.st_uid}, not by uid {os.geteuid()} who runs the tests"
    if mode & 0o022:
        return f"{path} is writable by others (mode {mode:04o})"
    return None


def _entry_distrust(entry: Path) -> str | None:
    """Why the entry's pristine cluster and binaries may not be used, or None. Both are this
    user's alone (as root too: a pristine cluster owned by nobody could be edited by any process
    of that uid, and every cold start copies it)."""
    me = {os.geteuid()}
    pristine = entry / "pristine"
    paths = [entry, pristine, *(pristine / name for name in CONFIG_FILES), entry / "install"]
    return next(filter(None, (distrust(path, me) for path in paths)), None)


def kept_distrust(kept: Path) -> str | None:
    """Why the kept cluster (--reuse-db) may not be used, or None: its folder is this user's and
    closed to others; its data the server user's (PostgreSQL runs on it in place)."""
    me = {os.geteuid()}
    server = me | {server_user().get("user", os.geteuid())}
    data = kept / "data"
    reason = distrust(kept, me) or next(
        filter(None, (distrust(path, server) for path in [data, *(data / name for name in CONFIG_FILES)])), None
    )
    if reason is None and kept.exists() and stat.S_IMODE(kept.stat().st_mode) & 0o007:
        reason = f"{kept} is open to others (mode {stat.S_IMODE(kept.stat().st_mode):04o})"
    return reason


def cluster_cache(bindir: Path) -> tuple[Path, str | None]:
    """The build's folder, made on first use (without locking it: see ``use_entry``), and why it
    was rebuilt, if it was. A cache base that is not this user's alone is refused: the clusters
    in it are what every test server starts from."""
    base = cache_base()
    base.mkdir(parents=True, exist_ok=True, mode=0o755)
    reason = distrust(base, {os.geteuid()})
    if reason:
        raise PostgresMisconfigured(
            f"the PostgreSQL cluster cache is not yours alone: {reason}. Another user could change the "
            "clusters the tests run on (a setting planted in one reaches every test server). Fix: remove it, "
            f"or set {CACHE_ENV} to a folder of your own that others cannot write."
        )
    cache = base / f"pg-{build_key(bindir)}"
    cache.mkdir(exist_ok=True, mode=0o755)
    reason = _entry_distrust(cache)
    if reason:
        # Aside at once (prune removes it once no run uses it), and a new entry in its place.
        with contextlib.suppress(FileNotFoundError):  # another run just did
            cache.rename(cache.with_name(f".{cache.name}.untrusted-{os.getpid()}-{time.time_ns()}"))
        cache.mkdir(exist_ok=True, mode=0o755)
        return cache, f"rebuilt the cluster cache entry {cache}: {reason}"
    return cache, None


def use_entry(bindir: Path) -> tuple[Path, int, str | None]:
    """The build's folder, a file descriptor holding its lock shared (the entry is not pruned
    while the descriptor is open: the run's supervisor keeps it), and why the entry was rebuilt,
    if it was. Marks it used now, and prunes the others."""
    for _ in range(3):
        entry, rebuilt = cluster_cache(bindir)
        fd = os.open(entry / USE_LOCK, os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(fd, fcntl.LOCK_SH)
        # A pruning run may have removed the folder between mkdir and flock: start again.
        if (entry / USE_LOCK).exists() and os.stat(entry / USE_LOCK).st_ino == os.fstat(fd).st_ino:
            (entry / LAST_USED).touch(mode=0o644)
            prune(entry.parent, keep=entry)
            return entry, fd, rebuilt
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
    for rank, entry in enumerate([*candidates, *base.glob(".pg-*.untrusted-*")]):
        idle = now - last_used(entry)
        untrusted = entry.name.startswith(".")  # set aside by cluster_cache: removed once unused
        if entry == keep or (not untrusted and idle < (days * 86400 if rank < entries else 86400)):
            continue
        fd = os.open(entry / USE_LOCK, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            doomed = entry.with_name(f".{entry.name.lstrip('.')}.removing-{os.getpid()}")
            entry.rename(doomed)  # at once, so no run starts on a half-removed entry
        except OSError:  # BlockingIOError: in use; or another run is removing it
            continue
        finally:
            os.close(fd)
        shutil.rmtree(doomed, ignore_errors=True)
        removed.append(entry)
    return removed


def chown_tree(path: Path, user: dict[str, Any] | None = None) -> None:
    """``path`` and all in it to the server's user (as root), or to ``user``."""
    user = server_user() if user is None else user
    if not user:
        return
    for folder, dirs, files in os.walk(path):
        for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
            os.lchown(name, user["user"], user["group"])


def own_tree(path: Path) -> None:
    """``path`` and all in it back to this user (as root: from the server's user)."""
    if os.geteuid() == 0:
        chown_tree(path, {"user": 0, "group": 0})


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
                private_folder(work)  # initdb (as root: nobody) writes in it
                supervisor.initdb(bindir, work / "data", work / "initdb.log")
                own_tree(work / "data")  # as root: nobody's processes cannot edit what every run copies
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
