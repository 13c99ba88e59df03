"""Installing the net: the engine-creation record and the class-level listeners, once per process."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.pool import Pool

from testsupport.net.hooks import NetPlugin
from testsupport.net.state import NET

_installed: list[Callable[[], None]] = []


def install(config: pytest.Config) -> None:
    """Watch every engine from now until the process ends (called from the plugin before the first
    conftest.py is imported). An inline pytester run inside a run shares the listeners."""
    owner = not _installed
    if owner:
        install_listeners()
    config.pluginmanager.register(NetPlugin(owner), "testsupport-net")


def install_listeners() -> None:
    """The process-wide part: the engine-creation record and the class-level listeners."""
    original = Dialect.__dict__["engine_created"]

    # `create_engine` calls the dialect class's `engine_created` hook on every engine it returns
    # (sqlalchemy/engine/create.py). Wrapping `Engine.__init__` instead hid the keywords
    # create_engine reads from that signature (util.get_cls_kwargs: `echo=`, `execution_options=`
    # were refused as invalid arguments).
    # https://docs.sqlalchemy.org/en/20/core/internals.html#sqlalchemy.engine.Dialect.engine_created
    def recording(cls: type[Dialect], engine: Engine) -> None:
        original.__func__(cls, engine)
        NET.seen(engine)

    Dialect.engine_created = classmethod(recording)  # type: ignore[method-assign,assignment]
    # Class-level, so engines made before the net was installed are watched too. Both are
    # DialectEvents / PoolEvents: no per-statement dispatch (a ConnectionEvents listener would).
    # https://docs.sqlalchemy.org/en/20/core/events.html#sqlalchemy.events.DialectEvents.do_connect
    # https://docs.sqlalchemy.org/en/20/core/events.html#sqlalchemy.events.PoolEvents.checkout
    event.listen(Engine, "do_connect", NET.on_do_connect)
    event.listen(Pool, "checkout", NET.on_checkout)
    NET.active = True

    def remove() -> None:
        NET.active = False
        Dialect.engine_created = original  # type: ignore[method-assign]
        event.remove(Engine, "do_connect", NET.on_do_connect)
        event.remove(Pool, "checkout", NET.on_checkout)

    _installed.append(remove)


def uninstall() -> None:
    """Remove the listeners (benchmarks/net_cost.py; a run leaves them on)."""
    while _installed:
        _installed.pop()()
