"""An app in the shape of the FastAPI full-stack template: settings read from the environment at
import, one module-global engine and sessionmaker built from them. DATABASE_URL stands for the
developer's own database."""

import os

from fastapi import Depends, FastAPI
from pydantic import BaseModel
from sqlalchemy import String
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

engine = create_async_engine(os.environ["DATABASE_URL"])  # settings.database_url, at import time
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(100))


class UserIn(BaseModel):
    email: str
    name: str


async def get_db():
    async with SessionLocal() as session:
        yield session


app = FastAPI()


@app.post("/users", status_code=201)
async def create_user(body: UserIn, db=Depends(get_db)):  # noqa: B008
    user = User(email=body.email, name=body.name)
    db.add(user)
    await db.commit()
    return {"id": user.id, "email": user.email}
