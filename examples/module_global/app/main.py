from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.deps import get_db
from app.models import User


class UserIn(BaseModel):
    email: str


DB = Annotated[AsyncSession, Depends(get_db)]

app = FastAPI()


@app.post("/users", status_code=201)
async def create_user(body: UserIn, db: DB) -> dict[str, int | str]:
    user = User(email=body.email)
    db.add(user)
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise HTTPException(409, "taken") from None
    # No refresh: the app's sessions do not expire on commit (with SQLAlchemy's default they would,
    # and reading user.email here would be a lazy load: MissingGreenlet).
    return {"id": user.id, "email": user.email}


@app.get("/users")
async def list_users(db: DB) -> list[str]:
    return [user.email for user in await db.scalars(select(User).order_by(User.id))]


@app.get("/ping")
async def ping() -> dict[str, bool]:
    return {"ok": True}
