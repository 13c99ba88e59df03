"""The net records every engine without changing what `create_engine` accepts (issue 19): it once
replaced `Engine.__init__` with a ``(*args, **kwargs)`` wrapper, and create_engine, which reads the
keywords it passes on from that signature, refused `echo=` and `execution_options=`. This outer
run has the net installed, so these engines are made under it."""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool, StaticPool

from testsupport.net import NET

# Every keyword of SQLAlchemy's create_engine reference, with a value that works on SQLite.
# https://docs.sqlalchemy.org/en/20/core/engines.html#sqlalchemy.create_engine
KEYWORDS: dict[str, Any] = {
    "connect_args": {"timeout": 5},
    "creator": lambda: sqlite3.connect(":memory:"),
    "echo": False,
    "echo_pool": False,
    "enable_from_linting": True,
    "execution_options": {"logging_token": "app"},
    "future": True,
    "hide_parameters": True,
    "insertmanyvalues_page_size": 100,
    "isolation_level": "SERIALIZABLE",
    "json_deserializer": json.loads,
    "json_serializer": json.dumps,
    "label_length": 30,
    "logging_name": "app",
    "max_identifier_length": 64,
    "max_overflow": 2,
    "module": sqlite3,
    "paramstyle": "qmark",
    "plugins": [],
    "pool_logging_name": "app-pool",
    "pool_pre_ping": True,
    "pool_recycle": 3600,
    "pool_reset_on_return": "rollback",
    "pool_size": 3,
    "pool_timeout": 5,
    "pool_use_lifo": True,
    "poolclass": StaticPool,
    "query_cache_size": 100,
    "skip_autocommit_rollback": False,
    "use_insertmanyvalues": True,
}
QUEUE_POOL_ONLY = {"max_overflow", "pool_size", "pool_timeout", "pool_use_lifo"}
NO_LONGER_USED = {"empty_in_strategy"}  # deprecated, "no longer has any effect": warns


def documented_keywords() -> set[str]:
    """The `:param name:` entries of create_engine's docstring (this SQLAlchemy's own list)."""
    return set(re.findall(r":param (\w+):", create_engine.__doc__ or "")) - NO_LONGER_USED


def test_the_list_covers_every_keyword_this_sqlalchemy_documents() -> None:
    assert documented_keywords() <= set(KEYWORDS), "add the new keyword to KEYWORDS"


@pytest.mark.parametrize("keyword", sorted(KEYWORDS))
def test_an_engine_made_under_the_net_accepts_each_keyword(keyword: str, tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'own.db'}"
    extra = {"poolclass": QueuePool} if keyword in QUEUE_POOL_ONLY else {}
    engine: Engine = create_engine(url, **{keyword: KEYWORDS[keyword]}, **extra)
    try:
        assert engine.dialect in NET.engines  # recorded: URL and creation site for the net's messages
        with engine.connect() as connection:  # the test's own engine: its business
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()
