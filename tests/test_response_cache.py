"""The response cache: repeated registry reads cost no SQL, and no client ever reads an answer
older than a write it was told about, whichever process served either (PostgreSQL only:
the cache needs its change notifications)."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from graphql import GraphQLNamedType, GraphQLObjectType, get_named_type

from promptgraph.app import create_app
from promptgraph.db import Database
from promptgraph.schema import build_schema
from promptgraph.schema.caching import ANALYTICS_FIELDS, REGISTRY_FIELDS
from promptgraph.services import auth
from tests.conftest import Api, StatementCounter

postgres_only = pytest.mark.parametrize("backend", ["postgres"], indirect=True)

FETCH = """query($n: String!) {
  promptVersion(name: $n, label: "production") { version templateText }
}"""
SET_LABEL = """mutation($n: String!, $v: Int!) {
  setLabel(name: $n, label: "production", version: $v) { name }
}"""


async def _listening(db: Database) -> None:
    """The feed starts with the first request: wait until it listens and has counted every
    write made so far (an answer read while a change is still being counted is not kept)."""
    assert db.changes is not None
    db.changes.start()
    for _ in range(100):
        if db.changes.connected and await db.changes.barrier():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the change feed never connected")


async def _cached_fetch(
    api: Api, statements: StatementCounter, name: str, key: str | None = None
) -> dict[str, Any]:
    """Fetches twice: the first answer is kept, the second must then cost no SQL at all."""
    await api.gql(FETCH, {"n": name}, key=key)
    statements.reset()
    answer = (await api.gql(FETCH, {"n": name}, key=key)).ok()
    assert statements.count == 0, statements.statements
    return answer


async def _create_in_production(api: Api, name: str, text: str) -> None:
    await api.create(name, text)
    (await api.gql(SET_LABEL, {"n": name, "v": 1})).ok()


@pytest.fixture
async def other_api(database_url: str) -> AsyncIterator[Api]:
    """A second serving process on the same database: its own pool, feed and cache."""
    database = Database(database_url)
    transport = httpx.ASGITransport(app=create_app(db=database))
    async with httpx.AsyncClient(transport=transport, base_url="http://other") as http:
        yield Api(http, database)
    await database.dispose()


@postgres_only
async def test_a_repeated_fetch_is_answered_without_sql(api: Api, statements: StatementCounter):
    await api.create("greet", "v1 {{ who }}")
    await api.create("greet", "v2 {{ who }}", version=2)
    await api.gql(SET_LABEL, {"n": "greet", "v": 2})
    await _listening(api.db)
    statements.reset()
    first = (await api.gql(FETCH, {"n": "greet"})).ok()
    assert statements.count > 0, "the first fetch reads the database"
    statements.reset()
    again = (await api.gql(FETCH, {"n": "greet"})).ok()
    assert statements.count == 0, statements.statements
    assert again == first == {"promptVersion": {"version": 2, "templateText": "v2 {{ who }}"}}


@postgres_only
async def test_a_write_acknowledged_by_one_process_is_read_by_every_other(api: Api, other_api: Api):
    await api.create("flip", "one")
    await api.create("flip", "two", version=2)
    other_api.default_key = await api.key()
    await _listening(api.db)
    await _listening(other_api.db)
    for round_number in range(40):
        writer, reader = (api, other_api) if round_number % 2 == 0 else (other_api, api)
        version = 1 + round_number % 2
        # Both processes have this answer cached from the rounds before.
        (await writer.gql(SET_LABEL, {"n": "flip", "v": version})).ok()
        for client in (reader, writer):
            fetched = (await client.gql(FETCH, {"n": "flip"})).ok()["promptVersion"]
            assert fetched["version"] == version, f"round {round_number}: stale answer"


@postgres_only
async def test_a_version_saved_elsewhere_is_read_at_once_by_latest(api: Api, other_api: Api):
    other_api.default_key = await api.key()
    await api.create("grow", "v1")
    await _listening(other_api.db)
    latest = '{ promptVersion(name: "grow", version: "latest") { version templateText } }'
    for version in range(2, 12):
        (await other_api.gql(latest)).ok()
        await api.save("grow", f"v{version}", autoIncrement=True)
        fetched = (await other_api.gql(latest)).ok()["promptVersion"]
        assert fetched == {"version": version, "templateText": f"v{version}"}


@postgres_only
async def test_a_revoked_key_gets_no_cached_answer(
    api: Api, statements: StatementCounter, database_url: str
):
    key = await api.key(role=auth.Role.VIEWER, user="agent")
    editor = await api.key()
    await _create_in_production(api, "secret", "classified")
    await _listening(api.db)
    await _listening(api.db)
    assert (await _cached_fetch(api, statements, "secret", key))["promptVersion"]["version"] == 1

    # Revoked the way the CLI does it: another process, straight through the service layer.
    cli_db = Database(database_url)
    try:
        await auth.revoke_key(cli_db, key.split("_")[1])
    finally:
        await cli_db.dispose()
    refused = await api.gql(FETCH, {"n": "secret"}, key=key)
    assert refused.status == 401 and refused.codes == ["UNAUTHENTICATED"]
    # Keys still live are unaffected.
    assert (await api.gql(FETCH, {"n": "secret"}, key=editor)).ok()["promptVersion"]


@postgres_only
async def test_each_workspace_gets_its_own_answer(api: Api, statements: StatementCounter):
    acme, beta = await api.key("acme"), await api.key("beta")
    for key, text in ((acme, "acme's"), (beta, "beta's")):
        api.default_key = key
        await _create_in_production(api, "shared-name", text)
    await _listening(api.db)
    for _ in range(3):
        for key, text in ((acme, "acme's"), (beta, "beta's")):
            fetched = (await api.gql(FETCH, {"n": "shared-name"}, key=key)).ok()
            assert fetched["promptVersion"]["templateText"] == text


@postgres_only
async def test_analytics_and_mutations_are_never_served_from_the_cache(
    api: Api, statements: StatementCounter
):
    await _create_in_production(api, "measured", "x")
    await _listening(api.db)
    with_metrics = """{ promptVersion(name: "measured", label: "production") {
        version metrics { totalTraces } } }"""
    record = """mutation($t: UUID!) { recordUsage(input: {promptName: "measured",
        promptVersion: 1, traceId: $t, outcome: {status: SUCCESS}}) { status } }"""
    for round_number in range(3):
        statements.reset()
        metrics = (await api.gql(with_metrics)).ok()["promptVersion"]["metrics"]
        assert statements.count > 0
        assert metrics["totalTraces"] == round_number
        trace = f"00000000-0000-4000-8000-00000000000{round_number}"
        assert (await api.gql(record, {"t": trace})).ok()["recordUsage"]["status"] == "recorded"

    save = """mutation { savePromptVersion(input: {name: "measured", templateText: "y",
        autoIncrement: true}) { version } }"""
    versions = [(await api.gql(save)).ok()["savePromptVersion"]["version"] for _ in range(3)]
    assert versions == [2, 3, 4]


@postgres_only
async def test_nothing_is_served_from_the_cache_while_the_feed_is_not_listening(
    api: Api, statements: StatementCounter
):
    await _create_in_production(api, "steady", "s")
    await _listening(api.db)
    await _cached_fetch(api, statements, "steady")

    feed = api.db.changes
    assert feed is not None and feed._connection is not None
    # The listening connection drops: whatever it missed meanwhile was never counted.
    feed._connection.terminate()
    await asyncio.sleep(0)
    statements.reset()
    assert (await api.gql(FETCH, {"n": "steady"})).ok()["promptVersion"]["version"] == 1
    assert statements.count > 0, "an answer cached before the drop was reused"

    await _listening(api.db)
    statements.reset()
    await api.gql(FETCH, {"n": "steady"})
    assert statements.count > 0, "an answer cached before the reconnection was reused"
    assert (await _cached_fetch(api, statements, "steady"))["promptVersion"]["version"] == 1


def _types_reachable_from_query() -> dict[str, GraphQLObjectType]:
    """Object types a query can select, not descending into the analytics fields."""
    schema = build_schema()._schema
    assert schema.query_type is not None
    found: dict[str, GraphQLObjectType] = {}
    pending: list[GraphQLNamedType] = [schema.query_type]
    while pending:
        current = pending.pop()
        if not isinstance(current, GraphQLObjectType) or current.name in found:
            continue
        found[current.name] = current
        for name, field in current.fields.items():
            if f"{current.name}.{name}" not in ANALYTICS_FIELDS:
                pending.append(get_named_type(field.type))
    return found


def test_every_field_a_query_can_select_is_classified_for_the_cache():
    """A new field must be listed either as a registry field (its writes are announced)
    or as an analytics field (never cached): an unlisted one would be cached without its
    writes invalidating anything."""
    reachable = _types_reachable_from_query()
    unclassified = sorted(
        f"{type_name}.{field}"
        for type_name, object_type in reachable.items()
        for field in object_type.fields
        if field not in REGISTRY_FIELDS.get(type_name, ())
        and f"{type_name}.{field}" not in ANALYTICS_FIELDS
    )
    assert unclassified == []
    listed_but_missing = sorted(
        f"{type_name}.{field}"
        for type_name, fields in REGISTRY_FIELDS.items()
        for field in fields
        if type_name not in reachable or field not in reachable[type_name].fields
    )
    assert listed_but_missing == []


@postgres_only
async def test_a_key_revoked_by_another_process_is_refused_at_once(
    api: Api, other_api: Api, statements: StatementCounter
):
    key = await api.key(user="bot")
    await api.create("p", "x")
    # With analytics in it the answer is never cached: only the key's principal can be.
    page = "{ prompts(limit: 5) { items { name latestVersion { metrics { totalTraces } } } } }"
    await _listening(api.db)
    (await api.gql(page, key=key)).ok()
    statements.reset()
    (await api.gql(page, key=key)).ok()
    assert statements.count > 0
    assert not [s for s in statements.statements if "api_key" in s], "key looked up again"

    await auth.revoke_key(other_api.db, key.split("_")[1])
    refused = await api.gql(page, key=key)
    assert refused.status == 401 and refused.codes == ["UNAUTHENTICATED"]
