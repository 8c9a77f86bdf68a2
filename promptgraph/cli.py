"""The `promptgraph` command: serve, keys, db, schema, demo."""

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from promptgraph import migrations
from promptgraph.config import Settings, describe_invalid
from promptgraph.db import Database
from promptgraph.services import auth
from promptgraph.services.errors import ApiError


def _with_database(settings: Settings, work: Callable[[Database], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        db = Database(settings.database_url, sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    import logging
    import logging.config

    import uvicorn

    from promptgraph.http.server import HeaderLimitedHttpToolsProtocol
    from promptgraph.logs import log_config

    config = log_config(settings.log_format)
    # The migrations' own lines go out in the chosen format too.
    logging.config.dictConfig(config)
    migrations.upgrade(settings.database_url)
    logging.getLogger("promptgraph").info("GraphiQL at http://%s:%s/graphql", args.host, args.port)
    # Workers are separate processes: each builds its app from the environment.
    uvicorn.run(
        "promptgraph.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=config,
        log_level="info",
        # One log line per request costs about a tenth of a cached fetch; errors are logged
        # with their request id either way.
        access_log=args.access_log,
        loop="uvloop",
        http=HeaderLimitedHttpToolsProtocol,
    )


def _keys_create(settings: Settings, args: argparse.Namespace) -> None:
    migrations.upgrade(settings.database_url)
    role = auth.Role(args.role.upper())
    info, key = _with_database(
        settings, lambda db: auth.create_key(db, args.workspace, args.user, role)
    )
    print(f"created key {info.id} for {info.user} in workspace {info.workspace} as {info.role}")
    print("the key is shown once; keep it:")
    print(key)


def _keys_list(settings: Settings, _args: argparse.Namespace) -> None:
    keys = _with_database(settings, auth.list_keys)
    print(f"{'ID':<18} {'WORKSPACE':<20} {'USER':<20} {'ROLE':<7} {'CREATED':<20} REVOKED")
    for key in keys:
        revoked = key.revoked_at.strftime("%Y-%m-%d %H:%M:%S") if key.revoked_at else "-"
        print(
            f"{key.id:<18} {key.workspace:<20} {key.user:<20} {key.role.value:<7} "
            f"{key.created_at:%Y-%m-%d %H:%M:%S}  {revoked}"
        )


def _keys_revoke(settings: Settings, args: argparse.Namespace) -> None:
    _with_database(settings, lambda db: auth.revoke_key(db, args.key_id))
    print(f"revoked key {args.key_id}")


def _demo_seed(settings: Settings, args: argparse.Namespace) -> None:
    from promptgraph.services import demo

    migrations.upgrade(settings.database_url)
    counts = _with_database(settings, lambda db: demo.seed(db, args.traces))
    print(
        f"workspace {demo.WORKSPACE!r}: {counts['prompts']} prompts, "
        f"{counts['versions']} versions, {counts['traces']} traces"
    )


def _db_upgrade(settings: Settings, _args: argparse.Namespace) -> None:
    migrations.upgrade(settings.database_url)
    print("database is up to date")


def _schema(settings: Settings, _args: argparse.Namespace) -> None:
    from promptgraph.schema import build_schema

    print(build_schema(settings).as_str())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="promptgraph",
        description="A GraphQL registry of versioned prompt templates. "
        "Database: PROMPTGRAPH_DATABASE_URL (default sqlite+aiosqlite:///./promptgraph.db).",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="apply pending migrations, then serve")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument(
        "--access-log", action="store_true", help="log one line per request (default off)"
    )
    serve.set_defaults(handler=_serve)

    keys = commands.add_parser("keys", help="manage API keys").add_subparsers(
        dest="keys_command", required=True
    )
    create = keys.add_parser("create", help="create a key (and its workspace and user)")
    create.add_argument("--workspace", required=True)
    create.add_argument("--user", required=True)
    create.add_argument(
        "--role", required=True, choices=["viewer", "editor", "admin"], type=str.lower
    )
    create.set_defaults(handler=_keys_create)
    keys.add_parser("list", help="list keys").set_defaults(handler=_keys_list)
    revoke = keys.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    revoke.set_defaults(handler=_keys_revoke)

    demo = commands.add_parser("demo", help="demo data").add_subparsers(
        dest="demo_command", required=True
    )
    seed = demo.add_parser("seed", help="fill workspace 'demo' with prompts, labels and traces")
    seed.add_argument("--traces", type=int, default=2000, help="synthetic traces (default 2000)")
    seed.set_defaults(handler=_demo_seed)

    db = commands.add_parser("db", help="database maintenance").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("upgrade", help="apply pending migrations").set_defaults(handler=_db_upgrade)

    schema = commands.add_parser("schema", help="print the served GraphQL schema (SDL)")
    schema.set_defaults(handler=_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValidationError as error:
        print(f"promptgraph: {describe_invalid(error)}", file=sys.stderr)
        return 2
    except SettingsError as error:  # a variable it cannot even parse, such as one for `limits`
        print(f"promptgraph: {error}", file=sys.stderr)
        return 2
    try:
        args.handler(settings, args)
    except ApiError as error:
        print(f"promptgraph: {error.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
