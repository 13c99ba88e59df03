import asyncio
import os

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
    if anyio_backend == "asyncio":
        command.upgrade(alembic_config, "head")  # env.py's asyncio.run() inside the running loop
    else:
        await asyncio.to_thread(command.upgrade, alembic_config, "head")  # asyncio's helper, on trio
