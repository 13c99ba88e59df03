"""Alembic in testsupport: the project's migrations as the tests' schema, and the checks on them.

- ``source``: ``testsupport_alembic_config`` read and checked; ``upgrade`` on a connection handed to
  the project's own ``env.py``, inside the tests' loop, and the errors when ``env.py`` will not;
- ``runner``: ``migration_runner``, Alembic on a new empty database per test (data migrations);
- ``schema``: what a database holds, for "the downgrade left nothing behind";
- ``checks``: the checks, test functions; ``collect``: ``testsupport_migration_checks``, which
  collects them as a module of a folder of the project's tests.
"""
