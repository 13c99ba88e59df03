"""testsupport's migration checks and `migration_runner`, adopted by an outside app configured
only by the documented blocks (factory + migration-checks), its env.py the documented async one, on
SQLite and PostgreSQL, with pytest-asyncio kept out (`-p no:asyncio`): every migration runs on
anyio's session loop."""

from __future__ import annotations

import pytest

from tests.adoption.apps import FACTORY_APP, FACTORY_TESTS, readme_block, write
from tests.adoption.test_adoption import run, service_poison_on_path

# FACTORY_APP's models, and what revisions 0002 and 0003 below add.
MODELS = FACTORY_APP["notes_app/models.py"].replace("import String", "import ForeignKey, String")
MODELS += """    slug: Mapped[str | None] = mapped_column(String(60), index=True)


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
"""

REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = {down!r}
branch_labels = None
depends_on = None
{body}
"""

REVISIONS = {  # after FACTORY_APP's 0001, which creates items(id, name)
    "0002": """
def upgrade():
    op.add_column("items", sa.Column("slug", sa.String(60), nullable=True))
    op.execute("UPDATE items SET slug = lower(replace(name, ' ', '-'))")


def downgrade():
    with op.batch_alter_table("items") as batch:
        batch.drop_column("slug")
""",
    "0003": """
def upgrade():
    op.create_index("ix_items_slug", "items", ["slug"])
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), nullable=False),
    )


def downgrade():
    op.drop_table("tags")
    op.drop_index("ix_items_slug", table_name="items")
""",
}


def project(pytester: pytest.Pytester, **changes: str) -> None:
    """The factory app with three linear revisions, the models at head, the documented data-migration
    test; ``changes`` replaces files (a name: its text)."""
    files = {**FACTORY_APP, "notes_app/models.py": MODELS}
    del files[FACTORY_TESTS]
    down = "0001"
    for revision, body in REVISIONS.items():
        files[f"migrations/versions/{revision}.py"] = REVISION.format(revision=revision, down=down, body=body)
        down = revision
    files["test_data_migration.py"] = readme_block("data-migration")
    files.update(changes)
    write(pytester, files, readme_block("factory") + readme_block("migration-checks"))


def test_three_linear_revisions_pass_every_check(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    project(pytester)
    result = run(pytester, monkeypatch, "-v")
    # The head check once; the stairway, downgrade to base, models and the data migration test on
    # each database (on trio: deselected).
    result.assert_outcomes(passed=13, deselected=12)
    result.stdout.fnmatch_lines(
        [
            "*testsupport-migration-checks::test_migrations_have_one_head PASSED*",
            "*testsupport-migration-checks::test_migrations_stairway[[]asyncio-sqlite[]] PASSED*",
            "*test_data_migration.py::test_0002_fills_the_slugs[[]asyncio-postgres[]] PASSED*",
            "*testsupport-migration-checks::test_migrations_match_the_models[[]asyncio-postgres[]] PASSED*",
        ],
        consecutive=False,
    )
    assert "asyncio.run()" not in result.stdout.str()


def revision_file(revision: str, down: str | None, body: str) -> dict[str, str]:
    return {f"migrations/versions/{revision}.py": REVISION.format(revision=revision, down=down, body=body)}


def test_a_downgrade_that_forgets_a_table_names_the_revision_and_the_table(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project(pytester, **revision_file("0003", "0002", REVISIONS["0003"].replace('op.drop_table("tags")', "pass")))
    result = run(pytester, monkeypatch, "-k", "stairway or downgrade_to_base")
    result.assert_outcomes(failed=6, deselected=19)
    for target in ("sqlite", "postgres"):
        result.stdout.fnmatch_lines(
            [
                f"*test_migrations_stairway[[]asyncio-{target}[]]*",
                "revision 0003: `alembic upgrade 0003` then `alembic downgrade -1` changed the schema:",
                "left behind: column tags.id INTEGER() NOT NULL",
                "left behind: table tags",
            ],
            consecutive=False,
        )
    # SQLite drops `items` under the forgotten `tags` (no foreign key check on DROP); PostgreSQL refuses.
    result.stdout.fnmatch_lines(
        [
            "*test_migrations_downgrade_to_base_leaves_nothing[[]asyncio-sqlite[]]*",
            "`alembic downgrade base` after `alembic upgrade heads` did not leave the database empty:",
            "left behind: table tags",
            "*test_migrations_downgrade_to_base_leaves_nothing[[]asyncio-postgres[]]*",
            "the migrations: `alembic downgrade base` failed: *cannot drop table items because other objects depend*",
        ],
        consecutive=False,
    )


def test_a_model_column_missing_from_the_migrations_names_table_and_column(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = MODELS + "    note: Mapped[str | None] = mapped_column(String(20))\n"
    project(pytester, **{"notes_app/models.py": models})
    result = run(pytester, monkeypatch, "-k", "match_the_models")
    result.assert_outcomes(failed=3, deselected=22)
    for target in ("sqlite", "postgres"):
        result.stdout.fnmatch_lines(
            [
                f"*test_migrations_match_the_models[[]asyncio-{target}[]]*",
                "the models differ from the schema the migrations build (models: testsupport_metadata):",
                "column tags.note: in the models, not in the migrations",
                "Fix: write the missing revision, from the rootdir: alembic -c alembic.ini revision --autogenerate *",
            ],
            consecutive=False,
        )


def two_heads(pytester: pytest.Pytester) -> None:
    body = "\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
    project(pytester, **revision_file("0004a", "0003", body), **revision_file("0004b", "0003", body))


def test_two_heads_are_named_with_the_merge_command(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    two_heads(pytester)
    result = run(pytester, monkeypatch, "-k", "one_head or fills")
    # The tests still run, on `upgrade heads`; the head check is the one that fails.
    result.assert_outcomes(failed=1, passed=3, deselected=21)
    result.stdout.fnmatch_lines(
        [
            "*test_migrations_have_one_head*",
            'the migrations have 2 heads: 0004a, 0004b. Fix: merge them with `alembic merge -m "merge heads" heads`*',
        ],
        consecutive=False,
    )


def test_two_heads_without_the_checks_stop_the_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    two_heads(pytester)
    result = run(pytester, monkeypatch, "-o", "testsupport_migration_checks=")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: testsupport_alembic_config = 'alembic.ini': *several heads [[]'0004a', '0004b'[]]*"]
    )


def test_a_broken_data_migration_fails_the_data_migration_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = REVISIONS["0002"].replace("lower(replace(name, ' ', '-'))", "lower(name)")
    project(pytester, **revision_file("0002", "0001", broken))
    result = run(pytester, monkeypatch, "-k", "fills")
    result.assert_outcomes(failed=3, deselected=22)
    result.stdout.fnmatch_lines(
        ["E       AssertionError: assert [[]'blue pen', 'ink'[]] == [[]'blue-pen', 'ink'[]]"] * 2
    )


def test_a_revision_without_a_downgrade_is_named_not_crashed_on(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    irreversible = REVISIONS["0002"].split("def downgrade")[0] + "def downgrade():\n    raise NotImplementedError\n"
    project(pytester, **revision_file("0002", "0001", irreversible))
    result = run(pytester, monkeypatch, "-k", "stairway and sqlite", "-rs")
    result.assert_outcomes(skipped=1, deselected=24)
    result.stdout.fnmatch_lines(
        ["SKIPPED * every step was checked but the downgrade of these revisions, which have none: revision 0002*"]
    )


THREADSAFE_ENV_PY = (
    FACTORY_APP["migrations/env.py"].split("connection = config.attributes")[0]
    + """
loop = asyncio.get_event_loop()
asyncio.run_coroutine_threadsafe(run_async_migrations(), loop).result(timeout=15)
"""
)


def test_env_py_that_waits_on_the_running_loop_is_stopped_at_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The env.py some projects use inside a running loop: .result() would block that loop for
    the 15 s and end in a bare TimeoutError."""
    project(pytester, **{"migrations/env.py": THREADSAFE_ENV_PY})
    result = run(pytester, monkeypatch, "-k", "stairway and sqlite", "--durations=1")
    result.assert_outcomes(failed=1, deselected=24)
    result.stdout.fnmatch_lines(
        [
            "*MigrationsInLoopError: Alembic's env.py called asyncio.run_coroutine_threadsafe(...) on the tests' "
            "running loop*",
            '*    connection = config.attributes.get("connection")',
        ],
        consecutive=False,
    )
    assert "TimeoutError" not in result.stdout.str()


def test_the_checks_under_xdist(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    service_poison_on_path(pytester, monkeypatch)
    project(pytester)
    result = pytester.runpytest_subprocess("-p", "no:asyncio", "-p", "no:cacheprovider", "-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=13)


def test_an_enum_type_left_by_a_downgrade_is_named_on_postgres(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`op.drop_table` knows nothing of the table's enum column, so PostgreSQL keeps its type (and
    the next upgrade fails on it); SQLite has no enum types."""
    key = 'sa.Column("id", sa.Integer, primary_key=True),'
    colour = 'sa.Column("colour", sa.Enum("red", "blue", name="colour")),'
    with_enum = REVISIONS["0003"].replace(key, f"{key}\n        {colour}")
    project(pytester, **revision_file("0003", "0002", with_enum))
    result = run(pytester, monkeypatch, "-k", "stairway")
    result.assert_outcomes(passed=2, failed=1, deselected=22)
    result.stdout.fnmatch_lines(
        [
            "*test_migrations_stairway[[]asyncio-postgres[]]*",
            "revision 0003: `alembic upgrade 0003` then `alembic downgrade -1` changed the schema:",
            "left behind: enum type colour ('red', 'blue')",
        ],
        consecutive=False,
    )


def test_the_models_are_compared_with_the_options_env_py_gives(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """env.py's include_object leaves the `audit` table (say, another tool's) out of the comparison."""
    models = (
        MODELS
        + '\n\nclass Audit(Base):\n    __tablename__ = "audit"\n    id: Mapped[int] = mapped_column(primary_key=True)\n'
    )
    env_py = FACTORY_APP["migrations/env.py"].replace(
        "render_as_batch=True)", 'render_as_batch=True, include_object=lambda o, name, *_: name != "audit")'
    )
    assert env_py != FACTORY_APP["migrations/env.py"]
    project(pytester, **{"notes_app/models.py": models, "migrations/env.py": env_py})
    run(pytester, monkeypatch, "-k", "match_the_models").assert_outcomes(passed=3, deselected=22)
    project(pytester, **{"notes_app/models.py": models})
    result = run(pytester, monkeypatch, "-k", "match_the_models")
    result.assert_outcomes(failed=3, deselected=22)
    result.stdout.fnmatch_lines(["table audit: in the models, not in the migrations"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "testsupport_migration_checks=nowhere",
            "testsupport_migration_checks = 'nowhere': */nowhere is not a folder. Fix: name the folder of your tests*",
        ),
        (
            "testsupport_alembic_config=",
            "testsupport_migration_checks = '.': the checks test the Alembic migrations, and none are configured. "
            "Fix: set testsupport_alembic_config*",
        ),
    ],
    ids=["no-such-folder", "no-alembic-config"],
)
def test_a_wrong_checks_key_stops_the_run_naming_the_fix(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, override: str, message: str
) -> None:
    project(pytester)
    result = run(pytester, monkeypatch, "-o", override)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


def test_no_migrations_says_the_checks_are_not_collected(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project(pytester)
    result = run(pytester, monkeypatch, "--no-migrations", "-k", "one_head")
    result.assert_outcomes(deselected=6)
    result.stdout.fnmatch_lines(["testsupport: migration checks not collected (--no-migrations)"])
