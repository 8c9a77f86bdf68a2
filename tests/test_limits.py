"""Hostile and oversized requests: a clear error, the right HTTP status, nothing executed."""

import json

import httpx
import pytest

from promptgraph.app import create_app
from promptgraph.config import QueryLimits, Settings

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def _count_prompts(api) -> int:
    return (await api.gql("{ prompts { pagination { total } } }")).ok()["prompts"]["pagination"][
        "total"
    ]


def nested_versions(depth: int) -> str:
    """`prompts > items > latestVersion > prompt > ... > name`: `depth` fields deep, valid."""
    wrappers = ["latestVersion" if level % 2 == 0 else "prompt" for level in range(depth - 3)]
    inner = "name"
    for field in reversed(wrappers):
        inner = f"{field} {{ {inner} }}"
    return f"{{ prompts {{ items {{ {inner} }} }} }}"


@pytest.mark.parametrize(
    ("query", "limit", "value"),
    [
        (nested_versions(11), "maxDepth", 11),
        ("{ " + " ".join(f"a{i}: viewer {{ user }}" for i in range(31)) + " }", "maxAliases", 31),
        ("{ " + " ".join(["viewer { user }"] * 21) + " }", "maxRootFields", 21),
        (
            "{ prompts(limit: 100) { items { versions(limit: 100) { items { id name version tags labels variables } } } } }",
            "maxCost",
            # prompts + items (100) + versions (100) + items (100 * 100) + 6 leaves per version
            1 + 100 + 100 + 100 * 100 * 7,
        ),
        ("{ viewer { " + " ".join(["user"] * 5000) + " } }", "maxTokens", 5005),
        (nested_versions(60), "maxDepth", 60),
    ],
)
async def test_limits_reject_before_anything_runs(api, statements, query, limit, value):
    statements.reset()
    key = await api.key()
    statements.reset()
    response = await api.http.post(
        "/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {key}", "Accept": GRAPHQL_RESPONSE},
    )
    body = response.json()
    assert response.status_code == 400
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert (error["extensions"]["limit"], error["extensions"]["value"]) == (limit, value)
    assert str(value) in error["message"]
    assert str(getattr(QueryLimits(), _field(limit))) in error["message"]
    assert statements.count == 1  # the key lookup: nothing of the query ran


def _field(limit: str) -> str:
    return {
        "maxDepth": "max_depth",
        "maxAliases": "max_aliases",
        "maxRootFields": "max_root_fields",
        "maxCost": "max_cost",
        "maxTokens": "max_tokens",
    }[limit]


async def test_a_query_just_inside_every_limit_runs(api):
    await api.create("p", "x")
    depth_ten = (await api.gql(nested_versions(10))).ok()
    assert depth_ten["prompts"]["items"][0]["latestVersion"]["prompt"]
    aliases = "{ " + " ".join(f"a{i}: viewer {{ user }}" for i in range(20)) + " }"
    assert len((await api.gql(aliases)).ok()) == 20
    cost = "{ prompts(limit: 100) { items { versions(limit: 100) { items { id } } } } }"
    assert (await api.gql(cost)).ok()["prompts"]["items"][0]["versions"]["items"]


async def test_cost_counts_variables_and_fragments(api):
    query = """query($n: Int!) { prompts(limit: $n) { items { ...v } } }
               fragment v on Prompt { versions(limit: 100) { items { id tags labels variables } } }"""
    small = await api.gql(query, {"n": 5})
    assert small.ok()
    large = await api.gql(query, {"n": 100})
    assert large.codes == ["QUERY_TOO_COMPLEX"]
    assert large.errors[0]["extensions"]["limit"] == "maxCost"


async def test_introspection_has_no_depth_or_cost(api):
    """GraphiQL's introspection query is deep, but it must keep working."""
    from graphql import get_introspection_query

    result = await api.gql(get_introspection_query())
    assert result.ok()["__schema"]["queryType"]["name"] == "Query"


async def test_limits_are_configurable(db):
    settings = Settings(limits=QueryLimits(max_depth=3, max_root_fields=2))
    app = create_app(db=db, settings=settings)
    from promptgraph.services import auth

    _, key = await auth.create_key(db, "acme", "ann", auth.Role.ADMIN)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://x"
    ) as http:
        headers = {"Authorization": f"Bearer {key}"}
        deep = await http.post(
            "/graphql",
            json={"query": "{ prompts { items { latestVersion { id } } } }"},
            headers=headers,
        )
        assert deep.json()["errors"][0]["extensions"]["limit"] == "maxDepth"
        roots = await http.post(
            "/graphql",
            json={"query": "{ a: viewer { user } b: viewer { user } c: viewer { user } }"},
            headers=headers,
        )
        assert "3 root fields exceed the limit of 2" in roots.json()["errors"][0]["message"]
        intro = await http.post(
            "/graphql", json={"query": "{ __schema { queryType { name } } }"}, headers=headers
        )
        assert intro.json()["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_introspection_can_be_switched_off(db):
    from promptgraph.services import auth

    _, key = await auth.create_key(db, "acme", "ann", auth.Role.ADMIN)
    app = create_app(db=db, settings=Settings(introspection=False))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://x"
    ) as http:
        headers = {"Authorization": f"Bearer {key}"}
        intro = await http.post(
            "/graphql", json={"query": "{ __schema { types { name } } }"}, headers=headers
        )
        body = intro.json()
        assert (
            body.get("data") is None and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        )
        assert "introspection" in body["errors"][0]["message"].lower()
        ok = await http.post("/graphql", json={"query": "{ viewer { user } }"}, headers=headers)
        assert ok.json() == {"data": {"viewer": {"user": "ann"}}}


async def test_body_over_one_mebibyte_is_413_and_changes_nothing(api):
    key = await api.key()
    text = "x" * (1024 * 1024)
    query = 'mutation($t: String!) { createPromptVersion(input: {name: "big", templateText: $t}) { id } }'
    response = await api.http.post(
        "/graphql",
        json={"query": query, "variables": {"t": text}},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # Without a Content-Length (chunked), the same limit holds.
    body = json.dumps({"query": query, "variables": {"t": text}}).encode()

    async def chunks():
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    streamed = await api.http.post(
        "/graphql",
        content=chunks(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    assert await _count_prompts(api) == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"templateText": "x" * 200_001}, "200000"),
        ({"messages": [{"role": "user", "content": "x" * 200_001}]}, "200000"),
        ({"messages": [{"role": "user", "content": "hi"}] * 101}, "100"),
        ({"templateText": "x", "tags": [f"t{i}" for i in range(51)]}, "50"),
    ],
)
async def test_oversized_inputs_are_bad_user_input_and_change_nothing(api, fields, message):
    query = (
        "mutation($input: CreatePromptVersionInput!) { createPromptVersion(input: $input) { id } }"
    )
    result = await api.gql(query, {"input": {"name": "big", **fields}})
    assert result.codes == ["BAD_USER_INPUT"]
    assert message in result.errors[0]["message"]
    assert await _count_prompts(api) == 0


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize("depth", [33, 500, 50_000])
async def test_deeply_nested_json_arguments_are_refused(api, depth):
    query = 'mutation($m: JSON) { createPromptVersion(input: {name: "deep", templateText: "x", metadata: $m}) { id } }'
    # Written by hand: Python's own encoder would give up on the deepest one.
    body = (
        json.dumps({"query": query})[:-1]
        + ', "variables": {"m": '
        + '{"a": ' * depth
        + "1"
        + "}" * depth
        + "}}"
    )
    response = await api.http.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {await api.key()}", "Content-Type": "application/json"},
    )
    assert 200 <= response.status_code < 500
    if response.status_code == 200:
        assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["BAD_USER_INPUT"]
    assert await _count_prompts(api) == 0


async def test_deeply_nested_json_literal_is_refused(api):
    literal = "{a: " * 40 + "1" + "}" * 40
    query = (
        'mutation { createPromptVersion(input: {name: "deep", templateText: "x", metadata: '
        + literal
        + "}) { id } }"
    )
    result = await api.gql(query)
    assert result.codes == ["BAD_USER_INPUT"]
    assert "nested deeper than 32" in result.errors[0]["message"]
    assert await _count_prompts(api) == 0


async def test_json_nested_within_the_bound_is_kept(api):
    metadata = _nested(31)
    await api.create("ok", "x", metadata=metadata)
    stored = (await api.gql('{ promptVersion(name: "ok") { metadata } }')).ok()["promptVersion"][
        "metadata"
    ]
    assert stored == metadata
