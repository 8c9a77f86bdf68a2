"""SQL statements per request, counted in-process as tests/conftest.py's StatementCounter does:
the real ASGI app on the benchmark database, a listener on its engines, transaction control
left out."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import event

from promptgraph.app import create_app
from promptgraph.db import Database

TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK"}


class StatementCounter:
    def __init__(self, db: Database) -> None:
        self.count = 0
        for engine in db.engines:
            event.listen(engine.sync_engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.split(None, 1)[0].upper() not in TRANSACTION_CONTROL:
            self.count += 1


async def _steady(db: Database) -> None:
    """Counts are for a server in its steady state, whose change feed listens (until it
    does, nothing is cached, not even the key's principal)."""
    if db.changes is None:
        return
    db.changes.start()
    for _ in range(100):
        if await db.changes.barrier():
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("promptgraph's change feed did not start listening")


async def count_statements(url: str, key: str, bodies: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Statements for each GraphQL body, sent twice: the second, with warm caches, counts."""
    db = Database(url)
    counter = StatementCounter(db)
    transport = httpx.ASGITransport(app=create_app(db=db))
    headers = {"Authorization": f"Bearer {key}"}
    counts: dict[str, int] = {}
    try:
        await _steady(db)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for name, body in bodies.items():
                for _ in range(2):
                    counter.count = 0
                    response = await client.post("/graphql", json=body, headers=headers)
                    document = response.json()
                    if response.status_code != 200 or document.get("errors"):
                        raise RuntimeError(f"{name}: HTTP {response.status_code}: {document}")
                counts[name] = counter.count
    finally:
        await db.dispose()
    return counts
