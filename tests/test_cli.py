"""The `promptgraph` command, run as a real process (contract section 7)."""

import asyncio
import os
import re
import socket
import sqlite3
import sys
from pathlib import Path

import httpx
import pytest

from promptgraph.app import create_app
from promptgraph.db import Database
from promptgraph.models import metadata
from promptgraph.services import auth

CONSOLE_SCRIPT = Path(sys.executable).parent / "promptgraph"


async def run_cli(*args: str, database_url: str | None, cwd: Path | None = None):
    """Runs `python -m promptgraph.cli ARGS`; returns (exit code, stdout, stderr)."""
    env = {key: value for key, value in os.environ.items() if key != "PROMPTGRAPH_DATABASE_URL"}
    if database_url is not None:
        env["PROMPTGRAPH_DATABASE_URL"] = database_url
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "promptgraph.cli",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode, stdout.decode(), stderr.decode()


async def viewer_with(database_url: str, key: str) -> httpx.Response:
    db = Database(database_url)
    try:
        transport = httpx.ASGITransport(app=create_app(db=db))
        async with httpx.AsyncClient(transport=transport, base_url="http://promptgraph") as http:
            return await http.post(
                "/graphql",
                json={"query": "{ viewer { user workspace role } }"},
                headers={"Authorization": f"Bearer {key}"},
            )
    finally:
        await db.dispose()


def leaked_fragments(key: str, text: str, size: int = 24) -> list[str]:
    """Runs of `size` characters of the key found in `text` (a key id is shorter than that)."""
    return [key[i : i + size] for i in range(len(key) - size + 1) if key[i : i + size] in text]


async def test_keys_create_list_revoke(database_url):
    code, stdout, stderr = await run_cli(
        "keys",
        "create",
        "--workspace",
        "wonka",
        "--user",
        "charlie",
        "--role",
        "editor",
        database_url=database_url,
    )
    assert code == 0, stderr
    key = stdout.strip().splitlines()[-1]
    assert key and " " not in key

    response = await viewer_with(database_url, key)
    assert response.status_code == 200
    assert response.json() == {
        "data": {"viewer": {"user": "charlie", "workspace": "wonka", "role": "EDITOR"}}
    }

    code, listing, stderr = await run_cli("keys", "list", database_url=database_url)
    assert code == 0, stderr
    assert key not in listing
    assert leaked_fragments(key, listing) == []
    rows = [line for line in listing.splitlines() if "wonka" in line and "charlie" in line]
    assert len(rows) == 1, listing
    assert re.search(r"\beditor\b", rows[0], re.IGNORECASE)
    key_id = rows[0].split()[0]

    code, _, stderr = await run_cli("keys", "revoke", key_id, database_url=database_url)
    assert code == 0, stderr
    response = await viewer_with(database_url, key)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_revoking_an_unknown_key_fails(database_url):
    code, stdout, stderr = await run_cli("keys", "revoke", "no-such-key", database_url=database_url)
    assert code != 0
    assert (stdout + stderr).strip()
    assert "Traceback" not in stderr


async def test_keys_create_rejects_a_bad_role(db, database_url):
    code, _, stderr = await run_cli(
        "keys",
        "create",
        "--workspace",
        "wonka",
        "--user",
        "charlie",
        "--role",
        "owner",
        database_url=database_url,
    )
    assert code != 0
    assert "role" in stderr.lower()
    assert "Traceback" not in stderr
    assert not any(info.workspace == "wonka" for info in await auth.list_keys(db))


async def test_db_upgrade_creates_the_schema_and_is_idempotent(tmp_path):
    path = tmp_path / "fresh.db"
    url = f"sqlite+aiosqlite:///{path}"
    for _ in range(2):
        code, _, stderr = await run_cli("db", "upgrade", database_url=url)
        assert code == 0, stderr
        with sqlite3.connect(path) as connection:
            tables = {
                name
                for (name,) in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                )
            }
            revisions = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        assert set(metadata.tables) <= tables
        assert len(revisions) == 1

    # The upgraded file is usable by the app.
    db = Database(url)
    try:
        _, key = await auth.create_key(db, "w", "u", auth.Role.VIEWER)
    finally:
        await db.dispose()
    assert (await viewer_with(url, key)).status_code == 200


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(not CONSOLE_SCRIPT.exists(), reason="console script not installed")
async def test_serve_migrates_and_serves(tmp_path):
    """`promptgraph serve` on the default database (./promptgraph.db in the working directory)."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "PROMPTGRAPH_DATABASE_URL"}
    log = (tmp_path / "serve.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        str(CONSOLE_SCRIPT),
        "serve",
        "--port",
        str(port),
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while True:
                assert process.returncode is None, (tmp_path / "serve.log").read_text()
                try:
                    health = await http.get("/healthz")
                    if health.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert loop.time() < deadline, "serve did not become healthy within 30 s"
                await asyncio.sleep(0.2)

            page = await http.get("/graphql", headers={"Accept": "text/html"})
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
            assert "graphiql" in page.text.lower()

            # The migrations were applied to the default database file before serving.
            url = f"sqlite+aiosqlite:///{tmp_path / 'promptgraph.db'}"
            db = Database(url)
            try:
                _, key = await auth.create_key(db, "acme", "ann", auth.Role.VIEWER)
            finally:
                await db.dispose()
            response = await http.post(
                "/graphql",
                json={"query": "{ viewer { role } prompts { pagination { total } } }"},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert response.status_code == 200
            assert response.json() == {
                "data": {"viewer": {"role": "VIEWER"}, "prompts": {"pagination": {"total": 0}}}
            }
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


async def test_demo_seed_fills_the_demo_workspace_and_is_idempotent(database_url):
    outputs = []
    for _ in range(2):
        code, stdout, stderr = await run_cli(
            "demo", "seed", "--traces", "90", database_url=database_url
        )
        assert code == 0, stderr
        outputs.append(stdout.strip().splitlines()[-1])
    assert outputs[0] == outputs[1] == "workspace 'demo': 3 prompts, 6 versions, 90 traces"

    code, stdout, _ = await run_cli(
        "keys",
        "create",
        "--workspace",
        "demo",
        "--user",
        "eve",
        "--role",
        "viewer",
        database_url=database_url,
    )
    key = stdout.strip().splitlines()[-1]
    db = Database(database_url)
    try:
        transport = httpx.ASGITransport(app=create_app(db=db))
        async with httpx.AsyncClient(transport=transport, base_url="http://promptgraph") as http:
            response = await http.post(
                "/graphql",
                json={
                    "query": "{ prompts { items { name versionCount labels { name version } "
                    "versions { items { metrics { totalTraces } } } } } }"
                },
                headers={"Authorization": f"Bearer {key}"},
            )
    finally:
        await db.dispose()
    items = response.json()["data"]["prompts"]["items"]
    assert [item["name"] for item in items] == [
        "classify-intent",
        "summarize-ticket",
        "support-reply",
    ]
    assert [item["versionCount"] for item in items] == [3, 1, 2]  # the second run added none
    assert {"name": "production", "version": 2} in items[0]["labels"]
    # Each synthetic trace used one version, once, however often the seed ran.
    totals = [v["metrics"]["totalTraces"] for item in items for v in item["versions"]["items"]]
    assert sum(totals) == 90 and all(totals)
