from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.core.config import settings

engine = create_async_engine(settings.DATABASE_URL)
# testsupport_sessionmaker names this object: in the tests it is rebound to each test's connection,
# so the handlers' sessions are the test's, and the engine above is never connected.
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)
