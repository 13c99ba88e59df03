"""The fixtures a project overrode to configure testsupport before the ini keys. Left in a
conftest.py they are not what configures it any more: ``app_factory`` is ignored, and the three
testsupport still defines for itself would replace, unseen, what it derives from the keys. A
project still defining one gets a collection error naming it, where it is, and what replaces it."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import ModuleType

import pytest
from _pytest.fixtures import getfixturemarker

from testsupport.collection import stop_collection

# Old fixture -> what it did, and what takes its place.
REPLACED = {
    "engine_factory": "built the test engines; testsupport builds them itself now (SQLite's savepoint fix, "
    "the loop guard, MariaDB's DDL refusal), and overriding it drops those. Fix: delete it; the app gets the test "
    "engine as the `engine=` parameter of the factory testsupport_app names",
    "app_factory": "built the app; testsupport no longer calls it. Fix: delete it; set testsupport_app = "
    "'pkg.main:create_app' (the app, or a factory taking engine= and/or sessionmaker=) and testsupport_sessionmaker "
    "= 'pkg.db:make_sessionmaker' (where the handlers get their sessions)",
    "run_migrations": "migrated the test databases; overriding it bypasses testsupport_alembic_config, "
    "--no-migrations and the refusal of engines env.py builds for itself. Fix: delete it; set "
    "testsupport_alembic_config = 'alembic.ini' (upgrade head, on the connection testsupport hands env.py) and/or "
    "testsupport_metadata = 'pkg.models:Base.metadata' (create_all)",
    "migrations_fingerprint": "keyed the --reuse-db template; overridden, a changed migration could reuse a stale "
    "template. Fix: delete it; --reuse-db keys its template on a hash of the migrations folder "
    "(testsupport_alembic_config), or of the models' DDL (testsupport_metadata), by itself",
}


def _location(config: pytest.Config, func: object) -> tuple[str, str]:
    """(the defining file relative to the rootdir, file:line) of a fixture function."""
    func = inspect.unwrap(func)  # type: ignore[arg-type]
    file = Path(inspect.getsourcefile(func) or "?")  # type: ignore[arg-type]
    line = getattr(getattr(func, "__code__", None), "co_firstlineno", 0)
    try:
        shown = file.relative_to(config.rootpath).as_posix()
    except ValueError:
        shown = str(file)
    return shown, f"{shown}:{line}"


def _project_modules(config: pytest.Config, items: list[pytest.Item]) -> list[ModuleType]:
    """The conftest.py files pytest loaded, and the collected test modules."""
    modules = {
        id(plugin): plugin
        for plugin in config.pluginmanager.get_plugins()
        if isinstance(plugin, ModuleType) and Path(getattr(plugin, "__file__", None) or "").name == "conftest.py"
    }
    for item in items:
        module = getattr(item, "module", None)
        if isinstance(module, ModuleType):
            modules.setdefault(id(module), module)
    return list(modules.values())


def old_definitions(config: pytest.Config, items: list[pytest.Item]) -> dict[str, list[str]]:
    """file -> one line per old fixture the project defines there. Its own ``app_factory``, one a
    collected test asks for, is left alone: testsupport never defined that name."""
    used = {name for item in items for name in getattr(getattr(item, "_fixtureinfo", None), "names_closure", ())}
    found: dict[str, list[str]] = {}
    for module in _project_modules(config, items):
        for attribute, obj in vars(module).items():
            marker = getfixturemarker(obj)
            name = (marker.name or attribute) if marker is not None else None
            if name not in REPLACED or (name == "app_factory" and name in used):
                continue
            file, where = _location(config, obj)
            line = (
                f"{where}: fixture `{name}` is how testsupport was configured before its ini keys: it {REPLACED[name]}."
            )
            if line not in found.get(file, []):
                found.setdefault(file, []).append(line)
    return found


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselect: whether a test asks for app_factory counts them all
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    found = old_definitions(config, items)
    if found:
        stop_collection(config, items, {file: "\n".join(lines) for file, lines in found.items()})
