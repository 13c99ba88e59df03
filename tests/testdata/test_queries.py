"""Query assertions and the lazy-load switch (testsupport/queries.py): the documented example (docs/queries.md) in an
outside app, a handler running three statements caught with them listed, parameters shown but a
secret's, and lazy loads refused, on every target."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import ForeignKey, select, text
from sqlalchemy.ext.asyncio import AsyncAttrs, AsyncConnection, AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload

from service.models import Note, User
from tests.adoption.apps import readme_block
from tests.inner import run_inprocess
from tests.testdata.apps import seeded_app
from testsupport import LazyLoadError
from testsupport.queries import QueryAssertion

STATS = """
async def test_stats_in_one_query(client, assert_max_queries):
    with assert_max_queries(1):
        assert (await client.get("/items/stats")).status_code == 200
"""


def test_a_handler_over_the_limit_fails_with_its_statements(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded_app(pytester, {"test_queries.py": readme_block("query-tests"), "test_stats.py": STATS})
    result = run_inprocess(pytester, monkeypatch)
    result.assert_outcomes(passed=6, failed=3, deselected=9)  # the documented two pass, on every target
    for database, placeholder in (("sqlite", "?"), ("postgres", "$1::VARCHAR"), ("mariadb", "%s")):
        result.stdout.fnmatch_lines(
            [
                f"*test_stats_in_one_query[[]asyncio-{database}[]]*",
                "E * AssertionError: expected at most 1 query, 3 ran (transaction control not counted):",
                "E *1. SELECT count(*) AS count_1 FROM items",
                f"E *2. SELECT min(items.name) AS min_1 FROM items WHERE items.name != {placeholder}",
                "E *   parameters: {name_1='zzz'}",
                "E *3. SELECT max(items.name) AS max_1 FROM items",
            ]
        )


async def test_parameters_are_shown_but_a_secrets(
    db_session: AsyncSession, assert_num_queries: Callable[[int], QueryAssertion]
) -> None:
    with pytest.raises(AssertionError) as caught, assert_num_queries(0):
        await db_session.execute(text("SELECT :email, :password"), {"email": "a@example.com", "password": "hunter2"})
    message = str(caught.value)
    assert "expected 0 queries, 1 ran" in message
    assert "email='a@example.com', password='***'" in message
    assert "hunter2" not in message


async def test_driver_level_sql_shows_no_parameters(
    db_connection: AsyncConnection, assert_num_queries: Callable[[int], QueryAssertion]
) -> None:
    with pytest.raises(AssertionError) as caught:
        async with assert_num_queries(0):
            await db_connection.exec_driver_sql("SELECT 1")
    assert "1. SELECT 1\n   parameters: hidden (driver-level SQL: no parameter names to tell a secret by)" in str(
        caught.value
    )


async def test_sync_code_inside_counts_and_a_right_count_passes(
    db_session: AsyncSession, assert_num_queries: Callable[[int], QueryAssertion]
) -> None:
    with assert_num_queries(2):
        await db_session.run_sync(lambda session: session.execute(text("SELECT 1")))
        await db_session.execute(select(User))


async def test_the_blocks_own_error_is_not_hidden(
    db_session: AsyncSession, assert_max_queries: Callable[[int], QueryAssertion]
) -> None:
    async def over_the_limit_then_an_error() -> None:
        with assert_max_queries(0):
            await db_session.execute(text("SELECT 1"))
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        await over_the_limit_then_an_error()


# The service's tables mapped with a relationship (a metadata of their own: the service's models,
# which the migrations must match, stay as they are).
class Base(AsyncAttrs, DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    notes: Mapped[list[Written]] = relationship()


class Written(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


async def two_authors(db_session: AsyncSession) -> None:
    for n in range(2):
        user = User(email=f"u{n}@example.com", name="U")
        db_session.add(user)
        await db_session.flush()
        db_session.add(Note(user_id=user.id, title="t"))
    await db_session.commit()
    db_session.expunge_all()


async def test_a_lazy_load_loads_without_the_switch(db_session: AsyncSession) -> None:
    await two_authors(db_session)
    authors = (await db_session.scalars(select(Author))).all()
    assert [len(await author.awaitable_attrs.notes) for author in authors] == [1, 1]


@pytest.mark.usefixtures("forbid_lazy_loads")
async def test_forbid_lazy_loads_names_the_attribute_and_the_query(db_session: AsyncSession) -> None:
    await two_authors(db_session)
    authors = (await db_session.scalars(select(Author).order_by(Author.id))).all()
    with pytest.raises(LazyLoadError) as caught:
        await authors[0].awaitable_attrs.notes
    message = str(caught.value)
    assert message.startswith("lazy load of Author.notes on <tests.testdata.test_queries.Author object at ")
    assert "(loaded by: SELECT users.id FROM users ORDER BY users.id)" in message
    # SQLAlchemy 2.0 renders the lazy loader's columns with labels (notes.id AS notes_id), 2.1 without.
    assert re.search(
        r"It would have run: SELECT notes\.id( AS notes_id)?, notes\.user_id( AS notes_user_id)? FROM notes WHERE ",
        message,
    )
    # An eager load is no lazy load.
    eager = (await db_session.scalars(select(Author).options(selectinload(Author.notes)))).all()
    assert [len(author.notes) for author in eager] == [1, 1]


@pytest.mark.db(transaction=True)
async def test_the_handlers_statements_count_in_real_commit_mode_too(
    client: httpx.AsyncClient, assert_num_queries: Callable[[int], QueryAssertion]
) -> None:
    # The app's sessions then take connections of their own from the test engine's pool.
    async with assert_num_queries(2):
        assert (await client.post("/users", json={"email": "r@example.com", "name": "R"})).status_code == 201
        assert (await client.get("/users")).status_code == 200
