"""MariaDB (and MySQL) for the tests, one concern per module; ``testsupport.mariadb`` is the public face.

- ``errors``: what can go wrong, and how each is reported.
- ``server``: talking to a server (create and drop databases), through SQLAlchemy and aiomysql.
- ``embedded``: the throwaway server from the binaries on PATH; ``supervisor``: the process that
  makes sure it dies with the run.
- ``userserver``: the user's own server (``TEST_MARIADB_URL``), who owns each database on it, and
  the process that holds a run's lock there (``holder``).
- ``shared``: the run's one server, started (or checked) once for all xdist workers, stopped at the end.
- ``workerdb``: each session's (xdist worker's) own database.

What every server target does the same way (the supervisor's and the lock holder's loops, the
run's one server, the user's URL) is ``testsupport.serverrun``'s; the run itself (its id, owner,
shared folder, lock, helper processes) is ``testsupport.pg.runstate``, which holds nothing
PostgreSQL-specific.
"""
