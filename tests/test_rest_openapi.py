"""/openapi.json documents every REST route with its schemas, and schemathesis, driven by it
against a real `promptgraph serve` process with a key, finds no 500 and no answer that breaks
the documented statuses, media types, headers or schemas."""

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from promptgraph.db import Database
from promptgraph.services import auth
from promptgraph.services.auth import Role
from tests.conftest import Api

REPO = Path(__file__).resolve().parent.parent
PORTS = range(19000, 19100)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 15
REST_ROUTES = {
    ("post", "/api/v1/dashboard/prompts/"),
    ("get", "/api/v1/dashboard/prompts/"),
    ("get", "/api/v1/dashboard/prompts/{name}/versions"),
    ("get", "/api/v1/dashboard/prompts/{name}/compare"),
    ("post", "/api/v1/dashboard/prompts/usage"),
    ("post", "/api/prompts/{name}"),
    ("get", "/api/ml/v1/prompt-versions"),
    ("get", "/api/v2/prompts"),
    ("post", "/api/v2/prompts"),
    ("post", "/api/v2/prompts/revert"),
}


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError(f"no free port in {PORTS}")


@pytest.fixture
async def served(database_url: str, db: Database, tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    env = {**os.environ, "PROMPTGRAPH_DATABASE_URL": database_url, "PYTHONPATH": str(REPO)}
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "promptgraph.cli", "serve", "--port", str(port)),
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            for _ in range(150):
                assert process.returncode is None, log_path.read_text()
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise AssertionError(f"serve never became healthy: {log_path.read_text()}")
        yield base
    finally:
        process.terminate()
        await process.wait()
    assert "Traceback" not in log_path.read_text(), log_path.read_text()


async def test_openapi_documents_every_rest_route_and_not_graphql(api: Api) -> None:
    response = await api.http.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    documented = {(method, path) for path, item in paths.items() for method in item}
    assert documented >= REST_ROUTES
    assert not any(path.startswith("/graphql") for path in paths)
    for method, path in REST_ROUTES:
        operation = paths[path][method]
        assert operation["security"], (method, path)
        success = next(s for s in operation["responses"] if s[0] in "23")
        if success == "200" and path != "/api/prompts/{name}":  # 200 with no body
            schema = operation["responses"][success]["content"]["application/json"]["schema"]
            assert schema.get("$ref") or schema.get("items", {}).get("$ref"), (method, path)
        for status in ("401", "500"):
            assert "$ref" in str(operation["responses"][status]["content"]), (method, path)


async def test_schemathesis_finds_no_server_error_and_no_answer_off_schema(
    served: str, db: Database
) -> None:
    _, key = await auth.create_key(db, "acme", "ann", Role.ADMIN)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=served, headers=headers) as http:
        # Something to find, so that the generated requests also reach the success paths.
        created = await http.post(
            "/api/v1/dashboard/prompts/", json={"name": "a", "template_text": "Hi {{ x }}"}
        )
        assert created.status_code == 201
    schema = schemathesis.openapi.from_url(f"{served}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.lower(), op.path) for op in operations} >= REST_ROUTES

    def check_all() -> None:
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(
                    base_url=served, headers={**(case.headers or {}), **headers}, checks=CHECKS
                )

            check()

    await asyncio.to_thread(check_all)
