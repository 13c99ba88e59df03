"""Engine and session factories. They own the dialect differences, so the app and the tests run
each database the same way."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

_ASYNC_DRIVERS = {"postgresql": "asyncpg", "sqlite": "aiosqlite", "mysql": "aiomysql", "mariadb": "aiomysql"}


def async_url(url: str | URL) -> URL:
    """The URL with its async driver: ``postgresql://`` becomes ``postgresql+asyncpg://``."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(
            f"Unsupported database {backend!r} in DATABASE_URL; use a postgresql://, mysql:// or sqlite:// URL."
        )
    if "+" not in parsed.drivername:  # no driver named: the async one (an explicit one is kept)
        parsed = parsed.set(drivername=f"{backend}+{_ASYNC_DRIVERS[backend]}")
    return parsed


# libpq URL parameters (https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PARAMKEYWORDS)
# that asyncpg's own DSN parser reads (asyncpg/connect_utils.py, _parse_connect_dsn_and_args). SQLAlchemy
# would pass them to asyncpg.connect() as keywords, a TypeError; asyncpg takes them in its `dsn`.
_ASYNCPG_DSN_PARAMS = frozenset(
    {
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "sslpassword",
        "sslcrl",
        "sslnegotiation",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "target_session_attrs",
        "krbsrvname",
        "gsslib",
        "passfile",
    }
)
# Kept in the URL: SQLAlchemy's asyncpg dialect reads them (host: multiple hosts or a socket folder).
_URL_PARAMS = frozenset({"host", "prepared_statement_cache_size", "ssl"})
# Any other query parameter would reach asyncpg as a keyword it does not take, or (in its dsn) be
# sent as a server setting: refuse it at start-up, naming it.
SUPPORTED_POSTGRES_PARAMS = sorted(_ASYNCPG_DSN_PARAMS | _URL_PARAMS | {"connect_timeout", "application_name"})


def asyncpg_connect_args(url: URL) -> tuple[URL, dict[str, Any]]:
    """Split libpq-style query parameters off an asyncpg URL into asyncpg's connect arguments:
    ``?sslmode=require`` works as it does with psql. Raises ValueError naming unknown parameters."""
    unknown = sorted(set(url.query) - set(SUPPORTED_POSTGRES_PARAMS))
    if unknown:
        raise ValueError(
            f"DATABASE_URL has query parameters asyncpg cannot take: {', '.join(unknown)}. "
            f"Supported: {', '.join(SUPPORTED_POSTGRES_PARAMS)}."
        )
    args: dict[str, Any] = {}
    single = {key: value for key, value in url.query.items() if isinstance(value, str)}
    repeated = sorted(set(url.query) - set(single) - {"host"})
    if repeated:
        raise ValueError(f"DATABASE_URL repeats the query parameters {', '.join(repeated)}; give each once.")
    dsn_params = {key: single[key] for key in sorted(_ASYNCPG_DSN_PARAMS & set(single))}
    if dsn_params:
        if "ssl" in single and "sslmode" in dsn_params:
            raise ValueError("DATABASE_URL has both ssl and sslmode; give one.")
        args["dsn"] = "postgresql://?" + urlencode(dsn_params)  # host, user... come as keywords
    if "connect_timeout" in single:
        try:
            args["timeout"] = float(single["connect_timeout"])
        except ValueError:
            raise ValueError(
                f"DATABASE_URL: connect_timeout must be a number of seconds, not {single['connect_timeout']!r}."
            ) from None
    if "application_name" in single:
        args["server_settings"] = {"application_name": single["application_name"]}
    return url.difference_update_query([*dsn_params, "connect_timeout", "application_name"]), args


def engine_url(url: str | URL) -> tuple[URL, dict[str, Any]]:
    """The URL SQLAlchemy gets and the driver's connect arguments taken out of its query.
    Raises ValueError, with the fix, for a URL no driver would take (``python -m service`` checks
    this before it migrates or serves)."""
    parsed = async_url(url)
    if parsed.drivername == "postgresql+asyncpg":
        return asyncpg_connect_args(parsed)
    if parsed.get_backend_name() in ("mysql", "mariadb") and "charset" not in parsed.query:
        # The connection's character set: MySQL's "utf8" is 3 bytes a character (no emoji), and
        # the drivers' default differs; SQLAlchemy's MySQL docs recommend charset=utf8mb4.
        # https://docs.sqlalchemy.org/en/20/dialects/mysql.html#unicode
        return parsed.update_query_dict({"charset": "utf8mb4"}), {}
    return parsed, {}


def make_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    """Create an engine; never at import time, so each caller owns its pool and its event loop."""
    parsed, connect_args = engine_url(url)
    if connect_args:
        kwargs["connect_args"] = {**connect_args, **kwargs.get("connect_args", {})}
    engine = create_async_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    elif engine.dialect.driver == "asyncpg":
        _wrap_connect_errors(engine)
    return engine


def _wrap_connect_errors(engine: AsyncEngine) -> None:
    # SQLAlchemy 2.0's asyncpg dialect lets asyncpg's connect-time errors (no such database or role)
    # escape unwrapped, so the app's DBAPIError handler never saw them; 2.1 wraps them
    # (AsyncAdapt_asyncpg_connection.create). Raising the adapted DB-API's Error makes 2.0 wrap them too.
    import asyncpg

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except asyncpg.PostgresError as error:
            wrapped = dialect.loaded_dbapi.Error(f"{type(error).__name__}: {error}")
            wrapped.sqlstate = wrapped.pgcode = error.sqlstate
            raise wrapped from error


def _configure_sqlite(engine: AsyncEngine) -> None:
    # The sqlite3 module emits no BEGIN of its own, so a RELEASE SAVEPOINT would commit for real
    # and rows would leak out of a test's outer transaction. Take over transaction control:
    # https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl-asyncio-version
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")  # off by default in SQLite, per connection
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: handlers return ORM objects after commit without a refresh query.
    return async_sessionmaker(engine, expire_on_commit=False)


def integrity_kind(exc: IntegrityError) -> str:
    """``"unique"``, ``"foreign_key"`` or ``"other"``, the same on asyncpg and sqlite3."""
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate == "23505":
        return "unique"
    if sqlstate == "23503":
        return "foreign_key"
    name = getattr(orig, "sqlite_errorname", "")
    if name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"):
        return "unique"
    if name == "SQLITE_CONSTRAINT_FOREIGNKEY":
        return "foreign_key"
    # MariaDB/MySQL (pymysql, aiomysql): the server's error number. 1062 ER_DUP_ENTRY; 1452 a
    # child row without its parent, 1451 a parent row still referenced.
    # https://mariadb.com/kb/en/mariadb-error-code-reference/
    code = orig.args[0] if orig is not None and orig.args and isinstance(orig.args[0], int) else None
    if code == 1062:
        return "unique"
    if code in (1451, 1452):
        return "foreign_key"
    return "other"


# SQLSTATEs that mean "this database cannot serve you now", whenever they happen (asyncpg raises the
# connect-time ones, such as a database or role that does not exist, from the first checkout):
# connection exception (08), invalid authorization (28: unknown role, wrong password), insufficient
# resources (53: too many connections), operator intervention (57P: shutdown, cannot connect now),
# and 3D000 invalid catalog name (no such database).
# https://www.postgresql.org/docs/current/errcodes-appendix.html
_UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "28", "53", "57P", "3D000")


def unavailable_sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a driver error that means the database is unavailable, else None."""
    orig = getattr(exc, "orig", exc)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATE_PREFIXES):
        return sqlstate
    return None
