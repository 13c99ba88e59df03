"""The user's own server, ``TEST_POSTGRES_URL``: checked once, every failure named with its fix."""

from __future__ import annotations

import socket

import asyncpg
from sqlalchemy.engine import make_url

from testsupport.pg.errors import PostgresMisconfigured
from testsupport.pg.runstate import run_id
from testsupport.pg.server import Server, shown

URL_ENV = "TEST_POSTGRES_URL"


def parse_url(raw: str) -> Server:
    """The URL as a Server, or an error that never shows the password (not even a URL that does
    not parse: it may still hold one)."""
    try:
        url = make_url(raw)
    except Exception:  # noqa: BLE001 - ArgumentError and ValueError both mean "not a URL"
        raise PostgresMisconfigured(
            f"{URL_ENV} is set but is not a database URL (its value is not shown: it may hold a password); "
            "use postgresql://user:password@host:port/db."
        ) from None
    if url.get_backend_name() != "postgresql":
        raise PostgresMisconfigured(
            f"{URL_ENV}={shown(url)} is not a PostgreSQL URL; use postgresql://user:password@host:port/db."
        )
    return Server(url)


def external_server(raw: str) -> Server:
    """Check TEST_POSTGRES_URL once; every failure names the URL (password hidden) and the fix."""
    server = parse_url(raw)
    url = server.admin_url
    hint = f"Fix {URL_ENV}, or unset it to use a throwaway embedded server."
    probe = f"test_{run_id()}_probe"
    try:
        server.create_database(probe)
        server.drop_database(probe)
    except socket.gaierror as exc:
        raise PostgresMisconfigured(f"{URL_ENV}={shown(url)}: unknown host ({exc}). {hint}") from None
    except (TimeoutError, OSError) as exc:
        raise PostgresMisconfigured(
            f"{URL_ENV}={shown(url)}: cannot connect ({exc}). Start that server, or {hint[0].lower()}{hint[1:]}"
        ) from None
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        raise PostgresMisconfigured(
            f"{URL_ENV}={shown(url)}: authentication failed ({exc}). Put the right user and password in the URL. {hint}"
        ) from None
    except asyncpg.InsufficientPrivilegeError:
        raise PostgresMisconfigured(
            f"{URL_ENV}={shown(url)}: role {url.username!r} may not create databases; the tests create "
            f'and drop their own. Run `ALTER ROLE "{url.username}" CREATEDB;` as a superuser, or use a '
            "role that has it."
        ) from None
    except asyncpg.PostgresError as exc:
        raise PostgresMisconfigured(f"{URL_ENV}={shown(url)}: {exc}. {hint}") from None
    return server
