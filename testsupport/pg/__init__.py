"""PostgreSQL for the tests, one concern per module; ``testsupport.postgres`` is the public face.
What every server target does the same way (the supervisor's and the lock holder's loops, the
run's one server, the user's URL) is ``testsupport.serverrun``'s; these modules say how PostgreSQL
does its part.

- ``errors``: what can go wrong, and how each is reported.
- ``runstate``: the run's id, its shared folder and lock (one run = the controller + its xdist workers),
  and the sweep of killed runs' folders.
- ``server``: talking to a server (create, clone, drop databases).
- ``userserver``: the user's own server (``TEST_POSTGRES_URL``): its check, and the sweep of killed
  runs' databases on it;
  ``holder``: the process that holds a run's lock there, so other runs can tell it is alive.
- ``embedded``: the throwaway server; ``clustercache``: its initdb'd clusters kept across runs, used
  only while nobody else can change them;
  ``supervisor``: the process that makes sure it dies with the run.
- ``shared``: the run's one server, started (or checked) once for all workers, stopped at the end.
- ``template``: the migrated template database.
- ``workerdb``: each session's (xdist worker's) own clone.
"""
