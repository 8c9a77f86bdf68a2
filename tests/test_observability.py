"""CORS, GET /metrics and JSON logs (contract section 6), through the real app."""

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from promptgraph.app import create_app
from promptgraph.config import Settings
from promptgraph.services.auth import Role

REPO = Path(__file__).resolve().parent.parent
LISTED = "https://app.example.com"
ALSO_LISTED = "http://localhost:5173"
UNLISTED = "https://evil.example.net"


async def client_of(db, environ: dict[str, str]) -> httpx.AsyncClient:
    app = create_app(db=db, settings=Settings.from_env(environ))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://promptgraph")


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }


async def test_listed_origins_get_preflight_answers_and_allow_origin(db, api):
    key = await api.key()
    environ = {"PROMPTGRAPH_CORS_ORIGINS": f"{LISTED},{ALSO_LISTED}"}
    async with await client_of(db, environ) as http:
        for origin in (LISTED, ALSO_LISTED):
            answer = await http.options("/graphql", headers=preflight(origin))
            assert answer.status_code == 200
            assert answer.headers["access-control-allow-origin"] == origin
            assert "POST" in answer.headers["access-control-allow-methods"]
            allowed = answer.headers["access-control-allow-headers"].lower()
            assert "authorization" in allowed and "content-type" in allowed
            assert "access-control-allow-credentials" not in answer.headers

            response = await http.post(
                "/graphql",
                json={"query": "{ viewer { role } }"},
                headers={"Origin": origin, "Authorization": f"Bearer {key}"},
            )
            assert response.json() == {"data": {"viewer": {"role": "ADMIN"}}}
            assert response.headers["access-control-allow-origin"] == origin
            assert "origin" in response.headers["vary"].lower()


async def test_other_origins_get_no_cors_headers(db, api):
    key = await api.key()
    for environ in ({"PROMPTGRAPH_CORS_ORIGINS": LISTED}, {}):
        async with await client_of(db, environ) as http:
            answer = await http.options("/graphql", headers=preflight(UNLISTED))
            assert cors_headers(answer) == {}
            assert answer.status_code != 200
            response = await http.post(
                "/graphql",
                json={"query": "{ viewer { role } }"},
                headers={"Origin": UNLISTED, "Authorization": f"Bearer {key}"},
            )
            assert response.status_code == 200
            assert cors_headers(response) == {}
        # With none listed, even the origin listed above is refused.
        if not environ:
            async with await client_of(db, environ) as http:
                answer = await http.options("/graphql", headers=preflight(LISTED))
                assert cors_headers(answer) == {}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def scrape(http: httpx.AsyncClient) -> dict:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


RECORD_USAGE = """mutation($t: UUID!) { recordUsage(input: {promptName: "greet",
  promptVersion: 1, traceId: $t}) { status } }"""


async def test_metrics_count_requests_by_operation_and_outcome(api, backend):
    http = api.http
    viewer = await api.key(role=Role.VIEWER)
    await api.create("greet")
    before = await scrape(http)

    assert (await api.gql("{ viewer { role } }")).ok()
    assert (await api.gql("{ viewer { role } }")).ok()
    assert (await api.gql(RECORD_USAGE, {"t": str(uuid.uuid4())})).ok()
    forbidden = await api.gql(RECORD_USAGE, {"t": str(uuid.uuid4())}, key=viewer)
    assert forbidden.codes == ["FORBIDDEN"]
    assert (await api.gql("{ viewer { nope } }")).codes == ["BAD_USER_INPUT"]
    unauthenticated = await http.post("/graphql", json={"query": "{ viewer { role } }"})
    assert unauthenticated.status_code == 401

    after = await scrape(http)
    requests = "promptgraph_requests_total"
    assert delta(before, after, requests, operation="query", outcome="ok") == 2
    assert delta(before, after, requests, operation="mutation", outcome="ok") == 1
    assert delta(before, after, requests, operation="mutation", outcome="error") == 1
    assert delta(before, after, requests, operation="query", outcome="error") == 1
    assert delta(before, after, requests, operation="none", outcome="error") == 1
    assert (
        sum(
            delta(before, after, requests, operation=o, outcome="internal_error")
            for o in ("query", "mutation", "subscription", "none")
        )
        == 0
    )
    latency = "promptgraph_request_duration_seconds_count"
    assert delta(before, after, latency, operation="query") == 3
    assert delta(before, after, latency, operation="mutation") == 2
    assert delta(before, after, "promptgraph_usages_recorded_total") == 1

    # Answers from the response cache (PostgreSQL only) are counted as hits, and as queries.
    cached_query = '{ prompt(name: "greet") { name } }'
    for _ in range(3):
        assert (await api.gql(cached_query)).ok()
    final = await scrape(http)
    hits = delta(after, final, "promptgraph_response_cache_lookups_total", result="hit")
    misses = delta(after, final, "promptgraph_response_cache_lookups_total", result="miss")
    assert (hits, misses) == ((2, 1) if backend == "postgres" else (0, 0))
    assert delta(after, final, requests, operation="query", outcome="ok") == 3
    assert delta(after, final, latency, operation="query") == 3


async def test_metrics_define_subscription_and_feed_instruments_and_no_tenant_data(api):
    key = await api.key(workspace="secret-workspace-name", user="secret-user-name")
    result = await api.gql(
        """mutation { createPromptVersion(input: {name: "secret-prompt-name",
             templateText: "hi"}) { name } }""",
        key=key,
    )
    assert result.ok()
    response = await api.http.get("/metrics")
    kinds = {family.name: family.type for family in text_string_to_metric_families(response.text)}
    assert kinds["promptgraph_open_subscriptions"] == "gauge"
    assert kinds["promptgraph_change_delivery_lag_seconds"] == "histogram"
    assert kinds["promptgraph_requests"] == "counter"
    assert kinds["promptgraph_request_duration_seconds"] == "histogram"
    for secret in ("secret-workspace-name", "secret-user-name", "secret-prompt-name", key):
        assert secret not in response.text
    labels = {
        name: value
        for family in text_string_to_metric_families(response.text)
        if family.name.startswith("promptgraph_")
        for sample in family.samples
        for name, value in sample.labels.items()
    }
    assert set(labels) <= {"operation", "outcome", "result", "le"}


async def test_metrics_need_no_key(api):
    response = await api.http.get("/metrics")
    assert response.status_code == 200
    assert "promptgraph_requests_total" in response.text


@pytest.fixture
async def json_server(database_url, tmp_path) -> AsyncIterator[tuple[str, Path]]:
    """A real `promptgraph serve` with PROMPTGRAPH_LOG_FORMAT=json; yields its URL and log."""
    port = 18310 + (os.getpid() % 40)
    log = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTGRAPH_")}
    env |= {
        "PYTHONPATH": str(REPO),
        "PROMPTGRAPH_DATABASE_URL": database_url,
        "PROMPTGRAPH_LOG_FORMAT": "json",
    }
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "promptgraph.cli",
            "serve",
            "--port",
            str(port),
            "--access-log",
            env=env,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            for _ in range(150):
                assert process.returncode is None, log.read_text()
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            else:
                pytest.fail(f"serve did not become healthy: {log.read_text()}")
        yield base, log
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def test_json_logs_are_one_object_per_line_with_request_ids(json_server, db):
    from promptgraph.services import auth

    base, log = json_server
    _, key = await auth.create_key(db, "acme", "ann", Role.VIEWER)
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        response = await http.post(
            "/graphql",
            json={"query": "{ viewer { role } }"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.json() == {"data": {"viewer": {"role": "VIEWER"}}}
        health_response = await http.get("/healthz")
    await asyncio.sleep(0.5)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert len(records) >= 4  # start-up lines and two requests
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record)
        assert record["time"].endswith("Z") and record["level"] in {"INFO", "WARNING", "ERROR"}
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    graphql = [r for r in access if "POST /graphql" in r["message"]]
    assert len(graphql) == 1
    assert graphql[0].get("request_id") == response.headers["x-request-id"]
    health = [r for r in access if "GET /healthz" in r["message"]]
    # Every request gets its id before anything else runs, GraphQL or not.
    # (the earlier ones are the fixture's readiness polls)
    assert all(r.get("request_id") for r in health)
    assert health[-1]["request_id"] == health_response.headers["x-request-id"]
