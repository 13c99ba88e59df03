"""Talking to a server from synchronous code, for every target: its admin work on a loop of its own,
and its URL as messages show it."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy.engine import URL, make_url

T = TypeVar("T")


def in_thread(fn: Callable[[], T]) -> T:
    # Admin work runs on its own loop in a worker thread, so it never touches the test loop
    # (or needs one: the fixtures that call this are synchronous).
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


def shown(url: URL | str) -> str:
    return make_url(url).render_as_string(hide_password=True)
