"""Routes. Handlers commit and roll back themselves, as a real app does; each does the fewest
statements its work needs (a create is one INSERT ... RETURNING, a list one SELECT)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import integrity_kind
from service.dependencies import DbSession, verify_auth
from service.errors import responses
from service.models import Note, User
from service.schemas import Health, NoteCreate, NoteOut, Page, UserCreate, UserOut, UserUpdate

router = APIRouter()
# Writes check the token as a route dependency: FastAPI resolves those before the handler's own,
# so a rejected request never opens a database session.
Auth = [Depends(verify_auth)]

# Ids are 32-bit integers in both schemas; a larger path value is a 422, not a driver error.
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]


def _not_found(what: str, ident: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{what} {ident} not found.")


def _email_taken(email: str) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, detail=f"A user with email {email!r} already exists.")


@router.get("/health", response_model=Health, tags=["health"], responses=responses(503))
async def health(session: DbSession) -> Health:
    await session.execute(text("SELECT 1"))
    return Health(status="ok", database=session.get_bind().dialect.name)


@router.post(
    "/users",
    dependencies=Auth,
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    tags=["users"],
    responses=responses(400, 401, 409, 413, 503),
)
async def create_user(body: UserCreate, session: DbSession) -> User:
    user = User(email=body.email, name=body.name)
    session.add(user)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        if integrity_kind(exc) == "unique":
            raise _email_taken(body.email) from None
        raise
    return user


@router.get("/users", response_model=Page[UserOut], tags=["users"], responses=responses(503))
async def list_users(session: DbSession, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    rows = await session.scalars(select(User).order_by(User.id).limit(limit).offset(offset))
    return {"items": rows.all(), "limit": limit, "offset": offset}


@router.get("/users/{user_id}", response_model=UserOut, tags=["users"], responses=responses(404, 503))
async def get_user(user_id: Id, session: DbSession) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise _not_found("User", user_id)
    return user


@router.patch(
    "/users/{user_id}",
    dependencies=Auth,
    response_model=UserOut,
    tags=["users"],
    responses=responses(400, 401, 404, 409, 413, 503),
)
async def update_user(user_id: Id, body: UserUpdate, session: DbSession) -> User:
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        return await get_user(user_id, session)
    statement = update(User).where(User.id == user_id).values(**changes)
    user: User | None
    try:
        if session.get_bind().dialect.update_returning:
            user = await session.scalar(statement.returning(User))
        else:  # MariaDB has DELETE ... RETURNING but no UPDATE ... RETURNING: the row is read back
            await session.execute(statement)
            user = await session.get(User, user_id, populate_existing=True)
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        if integrity_kind(exc) == "unique":
            raise _email_taken(changes["email"]) from None
        raise
    if user is None:
        raise _not_found("User", user_id)
    return user


@router.delete(
    "/users/{user_id}",
    dependencies=Auth,
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["users"],
    responses=responses(401, 404, 503),
)
async def delete_user(user_id: Id, session: DbSession) -> Response:
    # The database's ON DELETE CASCADE removes the user's notes in the same statement.
    return await _delete_one(session, User, user_id)


@router.post(
    "/users/{user_id}/notes",
    dependencies=Auth,
    response_model=NoteOut,
    status_code=status.HTTP_201_CREATED,
    tags=["notes"],
    responses=responses(400, 401, 404, 413, 503),
)
async def create_note(user_id: Id, body: NoteCreate, session: DbSession) -> Note:
    note = Note(user_id=user_id, title=body.title, body=body.body)
    session.add(note)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        if integrity_kind(exc) == "foreign_key":
            raise _not_found("User", user_id) from None
        raise
    return note


@router.get("/users/{user_id}/notes", response_model=Page[NoteOut], tags=["notes"], responses=responses(404, 503))
async def list_notes(user_id: Id, session: DbSession, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    statement = select(Note).where(Note.user_id == user_id).order_by(Note.id).limit(limit).offset(offset)
    notes = (await session.scalars(statement)).all()
    # An empty page is ambiguous: only then ask whether the user exists.
    if not notes and await session.get(User, user_id) is None:
        raise _not_found("User", user_id)
    return {"items": notes, "limit": limit, "offset": offset}


@router.delete(
    "/notes/{note_id}",
    dependencies=Auth,
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["notes"],
    responses=responses(401, 404, 503),
)
async def delete_note(note_id: Id, session: DbSession) -> Response:
    return await _delete_one(session, Note, note_id)


async def _delete_one(session: AsyncSession, model: type[User] | type[Note], ident: int) -> Response:
    """One DELETE ... RETURNING: 404 when nothing was deleted, else 204."""
    deleted = await session.scalar(delete(model).where(model.id == ident).returning(model.id))
    await session.commit()
    if deleted is None:
        raise _not_found(model.__name__, ident)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
