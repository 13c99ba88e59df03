"""Test data from factories (polyfactory's ``SQLAlchemyFactory``, or any code that needs a
session and cannot take a fixture), written through the running test's ``db_session``:

    class ItemFactory(SQLAlchemyFactory[Item]):
        __async_session__ = factory_session

so its rows are rolled back with the test (or restored after a real-commit test). Anywhere else
(at import, in a wider-scoped fixture, in a test that asked for no database) it raises the safety
net's error instead of writing anywhere: there is no session it could safely write through.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from testsupport.net import NET, DatabaseBlockedError, Mode, NetError, TestEngineMisuseError
from testsupport.transaction import current_transaction

FIX = (
    "create test data inside the test, or in a function-scoped fixture, that requests `db_session` "
    "(the factory then writes through it, inside the test's transaction)"
)


def factory_session() -> AsyncSession:
    """The running test's `db_session`, for a factory's ``__async_session__``."""
    __tracebackhide__ = True
    transaction = current_transaction()
    if transaction is not None and transaction.sessions:
        return transaction.sessions[0]
    raise _refusal(transaction is not None)


def _refusal(has_connection: bool) -> NetError:
    if NET.fixtures or NET.mode is Mode.IDLE:
        where = f"fixture `{NET.fixtures[-1].name}`" if NET.fixtures else "code outside any test (an import?)"
        return TestEngineMisuseError(
            f"{where} used a factory (testsupport.factory_session) outside any test's transaction: rows written "
            f"there would be committed for real and leak into every later test. Fix: {FIX}."
        )
    if has_connection or NET.mode in (Mode.SAVEPOINT, Mode.TRANSACTION, Mode.OWN):
        return DatabaseBlockedError(
            f"{NET.test_name} used a factory (testsupport.factory_session) but did not request `db_session`, "
            f"the session it writes through. Fix: {FIX}."
        )
    return DatabaseBlockedError(
        f"{NET.test_name} did not ask for the database, but it used a factory (testsupport.factory_session). "
        f"Fix: {FIX}."
    )
