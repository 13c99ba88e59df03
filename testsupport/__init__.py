"""A pytest plugin for testing an async FastAPI + SQLAlchemy app on one event loop, on PostgreSQL
and SQLite. Load ``testsupport.plugin``; the README's fixture map says which module owns what."""
