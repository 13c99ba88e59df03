from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from notes_app.db import make_engine, make_sessionmaker
from notes_app.models import Item


class ItemIn(BaseModel):
    name: str


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    # The sessionmaker the lifespan put on the app: the production one, or the one it was given.
    async with request.app.state.sessionmaker() as session:
        yield session


DB = Annotated[AsyncSession, Depends(get_db)]


def create_app(
    engine: AsyncEngine | None = None, sessionmaker: async_sessionmaker[AsyncSession] | None = None
) -> FastAPI:
    """Production: `uvicorn --factory notes_app.main:create_app`. testsupport calls it with the
    test engine and the test sessionmaker (made by make_sessionmaker), once per database."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if sessionmaker is not None:
            # Given one (the tests): every request's session is on the test's transaction, and
            # no engine of the app's own is made, so nothing can reach the production database.
            app.state.sessionmaker = sessionmaker
            yield
            return
        # Made here, at start-up, not at import: importing the app opens no database.
        app_engine = engine if engine is not None else make_engine()
        app.state.sessionmaker = make_sessionmaker(app_engine)
        yield
        if engine is None:  # dispose only the engine made here: a given one is its owner's
            await app_engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/items", status_code=201)
    async def create_item(body: ItemIn, db: DB) -> dict[str, int | str]:
        item = Item(name=body.name)
        db.add(item)
        try:
            await db.commit()
        except IntegrityError:
            await db.rollback()
            raise HTTPException(409, "taken") from None
        return {"id": item.id, "name": item.name}

    @app.get("/items")
    async def list_items(db: DB) -> list[str]:
        return [item.name for item in await db.scalars(select(Item).order_by(Item.id))]

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    return app
