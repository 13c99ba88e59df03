"""``python -m service`` migrates and serves; ``python -m service migrate`` only migrates."""

from __future__ import annotations

import argparse

import uvicorn

from service import migrate
from service.db import async_url, engine_url
from service.main import create_app
from service.settings import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    parser.add_argument("command", nargs="?", choices=["serve", "migrate"], default="serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-migrate", action="store_true", help="serve without applying migrations")
    args = parser.parse_args(argv)

    settings = Settings()
    try:
        engine_url(settings.database_url)  # a URL no driver takes stops here, with the fix
    except ValueError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    shown = async_url(settings.database_url).render_as_string(hide_password=True)
    if args.command == "migrate" or not args.no_migrate:
        print(f"Migrating {shown} to head", flush=True)
        migrate.upgrade(url=settings.database_url)
    if args.command == "serve":
        print(f"Serving on http://{args.host}:{args.port} with {shown}", flush=True)
        uvicorn.run(create_app(settings), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
