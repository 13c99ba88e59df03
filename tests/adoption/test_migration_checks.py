"""testsupport's migration checks and `migration_runner`, adopted by an outside app configured
only by the README's blocks (factory + migration-checks), its env.py the README's async one, on
SQLite and PostgreSQL, with pytest-asyncio kept out (`-p no:asyncio`): every migration runs on
anyio's session loop."""

from __future__ import annotations

import pytest

from tests.adoption.apps import FACTORY_APP, readme_block, write
from tests.adoption.test_adoption import run

MODELS = """
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    slug: Mapped[str | None] = mapped_column(String(60), index=True)


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

REVISIONS = {
    "0001": """
def upgrade():
    op.create_table(
        "items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False, unique=True),
    )


def downgrade():
    op.drop_table("items")
""",
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
    """The factory app with three linear revisions, the models at head, the README's data-migration
    test; ``changes`` replaces files (a name: its text)."""
    files = {**FACTORY_APP, "notes_app/models.py": MODELS}
    del files["migrations/versions/0001_items.py"], files["test_items.py"]
    down = None
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
    result.assert_outcomes(passed=9, deselected=8)
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
