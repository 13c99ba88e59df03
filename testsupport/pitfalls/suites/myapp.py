"""The app the pitfall suites test: a small FastAPI + async SQLAlchemy app written the usual way
(models, an engine made in the lifespan, one session per request, a bearer token). It stands for
your project's code; it is not part of testsupport."""

import os
import secrets
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

API_TOKEN = os.environ.get("API_TOKEN", "test-token")


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(100))


class UserIn(BaseModel):
    email: str
    name: str


async def get_db(request: Request):
    async with request.state.sessionmaker() as session:  # set by the lifespan
        yield session


def verify_auth(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(HTTPBearer(auto_error=False))]):
    if credentials is None or not secrets.compare_digest(credentials.credentials, API_TOKEN):
        raise HTTPException(401, "Missing or invalid bearer token.")
    return "api"


Db = Annotated[object, Depends(get_db)]
Auth = Annotated[str, Depends(verify_auth)]


def make_sessionmaker(engine):
    # expire_on_commit=False: handlers read the object they just committed without another query.
    return async_sessionmaker(engine, expire_on_commit=False)


def create_app(database_url=None, *, engine=None, sessionmaker=None):
    """The app on its own engine (made from ``database_url``), or on the ``engine`` and
    ``sessionmaker`` it is given."""

    @asynccontextmanager
    async def lifespan(_app):
        app_engine = engine or create_async_engine(database_url)
        if engine is None:
            async with app_engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
        yield {"sessionmaker": sessionmaker or make_sessionmaker(app_engine)}
        if engine is None:
            await app_engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/users")
    async def list_users(db: Db):
        return [{"id": u.id, "email": u.email, "name": u.name} for u in await db.scalars(select(User))]

    @app.post("/users", status_code=201)
    async def create_user(body: UserIn, db: Db, _auth: Auth):
        user = User(email=body.email, name=body.name)
        db.add(user)
        await db.commit()
        return {"id": user.id, "email": user.email, "name": user.name}

    @app.delete("/users/{user_id}", status_code=204)
    async def delete_user(user_id: int, db: Db, _auth: Auth):
        user = await db.get(User, user_id)
        if user is None:
            raise HTTPException(404, "No such user.")
        await db.delete(user)
        await db.commit()

    return app
