"""The migration checks, collected as a module of the project's tests when
``testsupport_migration_checks`` names a folder (testsupport.migrations.collect). Each database
check runs on every target, on an empty database of its own, through the project's env.py.

Asserts here are not rewritten (this is not a test file): every failure is a ``pytest.fail`` that
names the revision, the step and the object."""

from __future__ import annotations

from typing import Any

import pytest

from testsupport.config import Settings
from testsupport.migrations.runner import MigrationRunner
from testsupport.migrations.schema import changes

CHECKS = (
    "test_migrations_have_one_head",
    "test_migrations_stairway",
    "test_migrations_downgrade_to_base_leaves_nothing",
    "test_migrations_match_the_models",
)


def _fail(lines: list[str]) -> None:
    __tracebackhide__ = True
    pytest.fail("\n".join(lines), pytrace=False)


def _no_downgrade(exc: BaseException) -> bool:
    """A revision that cannot be downgraded on purpose: its downgrade() raises NotImplementedError,
    or it has none."""
    return isinstance(exc, NotImplementedError) or (isinstance(exc, AttributeError) and "downgrade" in str(exc))


def _label(runner: MigrationRunner, revision: str) -> str:
    script = runner.script.get_revision(revision)
    return f"revision {revision} ({script.doc})" if script is not None and script.doc else f"revision {revision}"


async def _step(runner: MigrationRunner, what: str, command: str, revision: str) -> BaseException | None:
    """Run one command; a failure other than a missing downgrade fails the check, naming it."""
    __tracebackhide__ = True
    try:
        await (runner.upgrade if command == "upgrade" else runner.downgrade)(revision)
    except Exception as exc:  # noqa: BLE001 - any error of the project's migration is the finding
        failed = exc
    else:
        return None
    if command == "downgrade" and _no_downgrade(failed):
        return failed
    _fail([f"{what}: `alembic {command} {revision}` failed: {type(failed).__name__}: {failed}"])
    return None


def test_migrations_have_one_head(testsupport_settings: Settings) -> None:
    """One head: several mean two branches of revisions that nothing merges."""
    source = testsupport_settings.alembic
    assert source is not None
    if len(source.heads) > 1:
        _fail(
            [
                f"the migrations have {len(source.heads)} heads: {', '.join(sorted(source.heads))}. Fix: "
                'merge them with `alembic merge -m "merge heads" heads` (a revision that revises both).'
            ]
        )


async def test_migrations_stairway(migration_runner: MigrationRunner) -> None:
    """Each revision in turn: upgrade, downgrade, upgrade again. The downgrade must leave the schema
    exactly as the upgrade found it; the second upgrade, from that same schema, must not fail (a
    type or index the downgrade left would)."""
    runner = migration_runner
    await runner.ensure_version_table()
    before = await runner.snapshot()
    irreversible = []
    for revision in runner.revisions:
        what = _label(runner, revision)
        await _step(runner, what, "upgrade", revision)
        upgraded = await runner.snapshot()
        refused = await _step(runner, what, "downgrade", "-1")
        if refused is not None:
            irreversible.append(f"{what}: {type(refused).__name__}: {refused}".rstrip(": "))
            before = upgraded
            continue
        found = changes(before, await runner.snapshot())
        if found:
            _fail([f"{what}: `alembic upgrade {revision}` then `alembic downgrade -1` changed the schema:", *found])
        await _step(runner, f"{what}, upgraded again after its downgrade", "upgrade", revision)
        before = upgraded
    if irreversible:
        pytest.skip(
            "every step was checked but the downgrade of these revisions, which have none: " + "; ".join(irreversible)
        )


async def test_migrations_downgrade_to_base_leaves_nothing(migration_runner: MigrationRunner) -> None:
    """``upgrade heads`` then ``downgrade base``: no table, column, index, constraint, view,
    sequence or (PostgreSQL) enum type is left."""
    runner = migration_runner
    await runner.ensure_version_table()
    empty = await runner.snapshot()
    await _step(runner, "the migrations", "upgrade", "heads")
    refused = await _step(runner, "the migrations", "downgrade", "base")
    if refused is not None:
        pytest.skip(f"a revision has no downgrade, so base cannot be reached: {type(refused).__name__}: {refused}")
    found = changes(empty, await runner.snapshot())
    if found:
        _fail(["`alembic downgrade base` after `alembic upgrade heads` did not leave the database empty:", *found])


async def test_migrations_match_the_models(migration_runner: MigrationRunner, testsupport_settings: Settings) -> None:
    """At head the schema is what the models describe (Alembic autogenerate's comparison, with the
    options env.py gives it): a model change without its revision fails here."""
    runner = migration_runner
    await _step(runner, "the migrations", "upgrade", "heads")
    found = await runner.differences()
    if found:
        source = testsupport_settings.alembic
        assert source is not None
        _fail(
            [
                "the models differ from the schema the migrations build (models: "
                + ("testsupport_metadata" if runner.metadata is not None else "env.py's target_metadata")
                + "):",
                *(describe(difference) for difference in found),
                "Fix: write the missing revision, from the rootdir: " + source.autogenerate_command(),
            ]
        )


def describe(difference: Any) -> str:
    """One of autogenerate's differences, table by table, column by column."""
    if isinstance(difference, list):  # column modifications come as a list of one tuple
        return "; ".join(describe(d) for d in difference)
    kind, *args = difference
    where = {"add": "in the models, not in the migrations", "remove": "in the migrations, not in the models"}
    verb, _, noun = kind.partition("_")
    if kind in ("add_table", "remove_table"):
        return f"table {args[0].name}: {where[verb]}"
    if kind in ("add_column", "remove_column"):
        _schema, table, column = args
        return f"column {table}.{column.name}: {where[verb]}"
    if kind in ("add_index", "remove_index", "add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        obj = args[0]
        columns = ", ".join(str(c.name) for c in getattr(obj, "columns", ()))
        label = {"index": "index", "constraint": type(obj).__name__, "fk": "foreign key"}[noun]
        return f"{label} {obj.name} on {obj.table.name}({columns}): {where[verb]}"
    if verb == "modify":
        _schema, table, column, _existing, migrated, models = args
        return f"column {table}.{column}: {noun} {migrated!r} in the migrations, {models!r} in the models"
    return repr(difference)
