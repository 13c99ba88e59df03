"""What every server target (PostgreSQL in ``pg``, MariaDB in ``maria``) does the same way around its
server; each target keeps only what differs (how its server starts, how it creates, drops and owns
a database).

- ``account``: as root, the user and group the run's servers run as, and the folders closed to others.
- ``supervisor``: the loop of the process that makes sure a throwaway server dies with the run;
  ``embedded``: starting that process, waiting for its server, stopping it.
- ``holder``: who owns a database on the user's server (the run's lock and owner record), and the
  loop of the process that holds the lock; ``userserver``: the user's URL, starting that process.
- ``shared``: the run's one server per target, started (or checked) once for all xdist workers.
- ``workerdb``: how a request for a database ends when there is none.

The run itself (its id, owner, shared folder, lock, helper processes) is ``testsupport.pg.runstate``.
"""
