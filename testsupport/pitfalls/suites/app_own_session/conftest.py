"""testsupport, configured for myapp. This file is the whole configuration: the suites below only
use its fixtures."""

import pytest
from myapp import Base, create_app
from sqlalchemy.ext.asyncio import async_sessionmaker

pytest_plugins = ["testsupport.plugin"]


@pytest.fixture(scope="session")
def app_factory(refusing_engine):
    def build(engine, sessionmaker):
        return create_app(
            engine=engine or refusing_engine, sessionmaker=sessionmaker or async_sessionmaker(refusing_engine)
        )

    return build


@pytest.fixture(scope="session")
def run_migrations():
    return Base.metadata.create_all


@pytest.fixture(scope="session")
def migrations_fingerprint():
    return "myapp"
