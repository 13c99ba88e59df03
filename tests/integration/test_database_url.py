"""DATABASE_URL as people write it for PostgreSQL: libpq query parameters (``?sslmode=require``) reach
asyncpg as it takes them, unknown ones stop start-up naming them, and a database or role that does
not exist is a 503, not a 500.

The PostgreSQL tests run on the suite's server: the embedded one (a unix socket, where libpq and
asyncpg never use SSL) or TEST_POSTGRES_URL's (CI points it at a TCP server); each asserts what
that server really does with each sslmode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest
from asgi_lifespan import LifespanManager
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from service.__main__ import main as cli
from service.db import engine_url, make_engine
from service.main import create_app
from service.settings import Settings

# These are about PostgreSQL URLs: run them on the postgres target only (the summary says so).
postgres_only = pytest.mark.db(databases="postgres")


def with_query(url: str | URL, **params: str) -> str:
    return make_url(url).update_query_dict(params).render_as_string(hide_password=False)


@asynccontextmanager
async def serving(url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app on its own engine for ``url``, lifespan running (reads only: nothing is written)."""
    app = create_app(Settings(database_url=url, api_token=SecretStr("t")))
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app),
            base_url="http://testserver",
            headers={"Authorization": "Bearer t"},
        ) as client,
    ):
        yield client


def test_libpq_parameters_become_asyncpg_arguments() -> None:
    url, args = engine_url("postgresql://u@db.example/app?sslmode=verify-full&sslrootcert=/ca.pem&connect_timeout=7")
    assert url.render_as_string() == "postgresql+asyncpg://u@db.example/app"
    assert args == {"dsn": "postgresql://?sslmode=verify-full&sslrootcert=%2Fca.pem", "timeout": 7.0}


def test_unknown_query_parameters_are_refused_naming_them() -> None:
    with pytest.raises(ValueError, match=r"cannot take: foo, options\. Supported: .*sslmode"):
        make_engine("postgresql://u@localhost/db?sslmode=require&foo=1&options=-c%20x")


def test_cli_refuses_unknown_query_parameters_before_connecting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/db?sslmode=disable&keepalives=1")
    with pytest.raises(SystemExit) as exit_info:
        cli(["migrate"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        "python -m service: error: DATABASE_URL has query parameters asyncpg cannot take: keepalives. "
        "Supported: application_name, connect_timeout, gsslib, host, krbsrvname, passfile, "
        "prepared_statement_cache_size, ssl, ssl_max_protocol_version, ssl_min_protocol_version, sslcert, "
        "sslcrl, sslkey, sslmode, sslnegotiation, sslpassword, sslrootcert, target_session_attrs.\n"
    )


@postgres_only
@pytest.mark.parametrize("sslmode", ["disable", "allow", "prefer", "require"])
async def test_sslmode_does_what_libpq_does(database_url: str, sslmode: str) -> None:
    # Engines of its own only (the safety net leaves a test that asks for no test connection to them).
    probe = make_engine(database_url)
    try:
        async with probe.connect() as connection:
            server_ssl = await connection.scalar(text("SHOW ssl")) == "on"
    finally:
        await probe.dispose()
    url = make_url(database_url)
    over_socket = url.host is None or str(url.query.get("host", "")).startswith("/")
    # libpq's rules, which asyncpg follows: never SSL on a unix socket; over TCP, `require` fails
    # against a server without SSL, `prefer` uses it when offered, `allow` only if plain fails.
    refused = not over_socket and not server_ssl and sslmode == "require"
    expect_ssl = not over_socket and server_ssl and sslmode in ("prefer", "require")

    engine = make_engine(with_query(database_url, sslmode=sslmode))
    try:
        if refused:
            with pytest.raises(ConnectionError, match="rejected SSL upgrade"):
                await (await engine.connect()).close()
        else:
            async with engine.connect() as connection:
                used = await connection.scalar(text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))
            assert used is expect_ssl
    finally:
        await engine.dispose()

    async with serving(with_query(database_url, sslmode=sslmode)) as client:
        health = await client.get("/health")
    if refused:
        assert health.status_code == 503
        assert health.json() == {"detail": "The database is unavailable; try again later.", "error": "ConnectionError"}
    else:
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "database": "postgresql"}


@postgres_only
async def test_migrate_takes_libpq_parameters(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `python -m service migrate`, in a worker thread (its Alembic env.py runs asyncio.run). The
    # session's database is at head already: this connects, finds nothing to do, writes nothing.
    url = with_query(database_url, sslmode="disable", application_name="migrate-test", connect_timeout="10")
    monkeypatch.setenv("DATABASE_URL", url)
    await anyio.to_thread.run_sync(cli, ["migrate"])
    assert "sslmode=disable" in capsys.readouterr().out


@postgres_only
@pytest.mark.parametrize("missing", ["database", "role"], ids=["no-such-database", "no-such-role"])
async def test_missing_database_or_role_is_503(database_url: str, missing: str) -> None:
    # asyncpg raises these at connect (InvalidCatalogNameError 3D000, InvalidAuthorizationSpecification
    # 28000); SQLAlchemy wraps them in a plain DBAPIError, which the app used to answer with a 500.
    url = make_url(database_url)
    url = url.set(database="testsupport_does_not_exist") if missing == "database" else url.set(username="nobody_here")
    async with serving(url.render_as_string(hide_password=False)) as client:
        responses = [
            await client.get("/health"),
            await client.get("/users/1"),
            await client.post("/users", json={"email": "ada@example.com", "name": "Ada"}),
        ]
    for response in responses:
        assert response.status_code == 503, response.text
        assert response.json() == {"detail": "The database is unavailable; try again later.", "error": "DBAPIError"}
        assert response.headers["retry-after"] == "5"


@postgres_only
async def test_application_name_and_connect_timeout_reach_the_connection(database_url: str) -> None:
    engine = make_engine(with_query(database_url, application_name="libpq-style", connect_timeout="7"))
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("SHOW application_name")) == "libpq-style"
    finally:
        await engine.dispose()


mariadb_only = pytest.mark.db(databases="mariadb")


def test_a_mysql_url_gets_aiomysql_and_utf8mb4() -> None:
    url, args = engine_url("mysql://u:pw@db.example:3306/app")
    assert url.render_as_string() == "mysql+aiomysql://u:***@db.example:3306/app?charset=utf8mb4"
    assert args == {}
    assert engine_url("mariadb+aiomysql://u@db/app?charset=latin1")[0].query == {"charset": "latin1"}  # kept


@mariadb_only
@pytest.mark.parametrize("missing", ["database", "user"], ids=["no-such-database", "no-such-user"])
async def test_missing_database_or_user_on_mariadb_is_503(database_url: str, missing: str) -> None:
    # pymysql raises the server's 1049 (unknown database) and 1045 (access denied) at connect as
    # OperationalError, which the app answers with 503 on every database.
    url = make_url(database_url)
    url = url.set(database="testsupport_does_not_exist") if missing == "database" else url.set(username="nobody_here")
    async with serving(url.render_as_string(hide_password=False)) as client:
        responses = [await client.get("/health"), await client.get("/users/1")]
    for response in responses:
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "5"
