"""Alembic in testsupport: the project's migrations as the tests' schema, and the checks on them.

- ``source``: ``testsupport_alembic_config`` read and checked; ``upgrade`` on a connection handed to
  the project's own ``env.py``, inside the tests' loop, and the errors when ``env.py`` will not.
"""
