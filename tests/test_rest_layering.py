"""The REST surfaces are adapters: no module of promptgraph/http/rest reaches the database
itself (no SQL toolkit, no models, no sessions), so every rule stays in the service layer."""

import ast
from pathlib import Path

import promptgraph.http.rest

REST = Path(promptgraph.http.rest.__file__).parent
FORBIDDEN_MODULES = ("sqlalchemy", "sqlmodel", "asyncpg", "aiosqlite", "promptgraph.models")
# Database's own ways in: a session, the engines, a raw connection.
FORBIDDEN_ATTRIBUTES = {"read", "write", "session", "engines", "connection", "execute"}


def offences(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        found += [
            f"imports {name}"
            for name in names
            if any(name == m or name.startswith(f"{m}.") for m in FORBIDDEN_MODULES)
        ]
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            found.append(f"uses .{node.attr}")
    return found


def test_the_check_catches_a_module_that_queries() -> None:
    source = (
        "from sqlalchemy import select\nfrom promptgraph.models import Prompt\n"
        "async def f(db):\n    async with db.read() as session:\n"
        "        await session.execute(select(Prompt))\n"
    )
    assert sorted(offences(source)) == [
        "imports promptgraph.models",
        "imports sqlalchemy",
        "uses .execute",
        "uses .read",
    ]


def test_no_rest_adapter_reaches_the_database() -> None:
    modules = sorted(REST.glob("*.py"))
    assert {m.stem for m in modules} >= {"agentvista", "save_api", "prompt_versions"}
    found = {m.name: offences(m.read_text()) for m in modules}
    assert {name: what for name, what in found.items() if what} == {}
