"""test_module_a.py's checks, collected again from a second module: one loop across modules."""

from __future__ import annotations

from tests.loopscope.test_module_a import (
    test_with_database_the_pool_was_opened_on_this_loop,
    test_without_database_all_tests_share_one_loop,
)

__all__ = ["test_with_database_the_pool_was_opened_on_this_loop", "test_without_database_all_tests_share_one_loop"]
