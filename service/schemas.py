"""Request and response bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from service.models import BODY_MAX, EMAIL_MAX, NAME_MAX, TITLE_MAX


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000 (asyncpg: CharacterNotInRepertoireError, a 500) and SQLite
    # stores it: refuse it here so both databases answer the same 422, naming the field.
    # https://www.postgresql.org/docs/current/datatype-character.html
    if "\x00" in value:
        raise PydanticCustomError("string_nul", "Text must not contain the NUL character (U+0000)")
    return value


NoNul = AfterValidator(_no_nul)
# Emails are unique case-insensitively on both databases: store them lower-cased.
Email = Annotated[EmailStr, Field(max_length=EMAIL_MAX), NoNul, AfterValidator(str.lower)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX), NoNul]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX), NoNul]
Body = Annotated[str, Field(max_length=BODY_MAX), NoNul]


def _as_utc(value: datetime) -> datetime:
    # SQLite returns naive datetimes for server-side CURRENT_TIMESTAMP (which is UTC);
    # PostgreSQL returns aware ones. Answer the same on both.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email
    name: Name


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email | None = None
    name: Name | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str
    name: str
    created_at: datetime

    _utc = field_validator("created_at")(_as_utc)


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title
    body: Body = ""


class NoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    user_id: int
    title: str
    body: str
    created_at: datetime

    _utc = field_validator("created_at")(_as_utc)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    limit: int
    offset: int


class Health(BaseModel):
    status: str
    database: str
