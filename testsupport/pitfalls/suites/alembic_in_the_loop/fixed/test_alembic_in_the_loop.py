import os

import anyio.to_thread
import pytest
from alembic import command
from alembic.config import Config


@pytest.fixture(scope="session", params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param


@pytest.fixture(scope="session")
def alembic_config(tmp_path_factory):  # `alembic init -t async`: its env.py as generated
    folder = tmp_path_factory.mktemp("project")
    command.init(Config(folder / "alembic.ini"), str(folder / "migrations"), template="async")
    config = Config(folder / "alembic.ini")
    config.set_main_option("sqlalchemy.url", os.environ["DATABASE_URL"])
    return config


@pytest.mark.anyio
async def test_migrate_inside_the_loop(alembic_config, anyio_backend):
    # A worker thread has no running loop, so env.py's asyncio.run() works there; anyio's helper
    # works on any backend.
    await anyio.to_thread.run_sync(command.upgrade, alembic_config, "head")
