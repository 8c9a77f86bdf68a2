"""Hostile and oversized requests: a clear error, the right HTTP status, nothing executed."""

import json
import time

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


# --- limits measured in work linear in the document (issue 9) ------------------------------


def _doubling_fragments(levels: int) -> str:
    """`F_i` spreads `F_(i-1)` twice: 2**levels fields once expanded, in a small document."""
    fragments = ["fragment F0 on Viewer { user }"] + [
        f"fragment F{i} on Viewer {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)
    ]
    return f"{{ viewer {{ ...F{levels} }} }}\n" + "\n".join(fragments)


async def test_fragment_fan_out_is_refused_without_expanding_it(api):
    """Before: the check expanded every spread (2**22 fields, seconds of a blocked server)."""
    await api.key()
    started = time.monotonic()
    result = await api.gql(_doubling_fragments(22))
    elapsed = time.monotonic() - started
    assert result.codes == ["QUERY_TOO_COMPLEX"]
    assert result.errors[0]["extensions"]["limit"] == "maxCost"
    assert result.errors[0]["extensions"]["value"] == 2**22 + 1
    assert elapsed < 3, f"the limit check took {elapsed:.1f} s"
    # Far past what could ever be expanded, the answer is the same, and as quick.
    deep = await api.gql(_doubling_fragments(39))
    assert deep.codes == ["QUERY_TOO_COMPLEX"]
    assert time.monotonic() - started < 6
    # Spread within the limits, fragments still run.
    query = _doubling_fragments(3).replace("{ viewer {", "{ viewer { workspace", 1)
    assert (await api.gql(query)).ok() == {"viewer": {"workspace": "acme", "user": "ann"}}


def _introspection_aliases(count: int, selection: str) -> str:
    return "{ __schema { " + " ".join(f"t{i}: {selection}" for i in range(count)) + " } }"


async def test_aliases_under_introspection_are_counted(api):
    result = await api.gql(_introspection_aliases(600, "types { name }"))
    assert result.codes == ["QUERY_TOO_COMPLEX"]
    assert (result.errors[0]["extensions"]["limit"], result.errors[0]["extensions"]["value"]) == (
        "maxAliases",
        600,
    )
    assert "data" not in result.body or result.data is None


def _type_walk(levels: int) -> str:
    """Every type's fields, and the fields of each field's type, `levels` deep."""
    unwrap = "name fields { name args { name } type { name ofType { name ofType { name ofType { %s } } } } }"
    inner = "name"
    for _ in range(levels):
        inner = unwrap % inner
    return f"types {{ {inner} }}"


async def test_introspection_costs_what_it_returns(api):
    """30 aliases (within the alias limit), each walking the schema's types two levels deep:
    the answer would hold more than the 50,000 fields the budget allows."""
    query = _introspection_aliases(30, _type_walk(2))
    result = await api.gql(query)
    assert result.codes == ["QUERY_TOO_COMPLEX"]
    assert result.errors[0]["extensions"]["limit"] == "maxCost"
    # One such list is well within it, and is answered.
    one = (await api.gql(_introspection_aliases(1, "types { name fields { name } }"))).ok()
    assert any(t["name"] == "PromptVersion" for t in one["__schema"]["t0"])


SERIES = """query($since: DateTime!, $until: DateTime!, $bucket: Bucket!) {
  promptVersions(limit: 100) { items { version metricsSeries(since: $since, until: $until, bucket: $bucket) { start totalTraces } } }
}"""


async def test_metrics_series_buckets_are_in_the_cost(api):
    await api.create("p", "x")
    thousand_hours = {
        "since": "2024-01-01T00:00:00Z",
        "until": "2024-02-11T16:00:00Z",
        "bucket": "HOUR",
    }
    result = await api.gql(SERIES, thousand_hours)
    assert result.codes == ["QUERY_TOO_COMPLEX"]
    assert result.errors[0]["extensions"]["limit"] == "maxCost"
    # Written as literals, the same.
    literal = SERIES.replace("$since", '"2024-01-01T00:00:00Z"').replace(
        "$until", '"2024-02-11T16:00:00Z"'
    )
    literal = literal.replace("$bucket", "HOUR").split("{", 1)[1]
    assert (await api.gql("{" + literal)).codes == ["QUERY_TOO_COMPLEX"]
    # A day by hour, for 100 versions, is within the budget.
    day = {"since": "2024-01-01T00:00:00Z", "until": "2024-01-02T00:00:00Z", "bucket": "HOUR"}
    [item] = (await api.gql(SERIES, day)).ok()["promptVersions"]["items"]
    assert len(item["metricsSeries"]) == 24


@pytest.mark.parametrize(
    "query",
    [
        # A version's revisions, a prompt's labels, a version's messages: lists without a
        # `limit`, each counted as `unpaged_list_size` items (each was one before).
        "{ prompts(limit: 100) { items { versions(limit: 100) { items { revisions { templateText description } } } } } }",
        "{ prompts(limit: 100) { items { versions(limit: 100) { items { prompt { labels { name } } } } } } }",
        "{ promptVersions(limit: 100) { items { prompt { versions(limit: 100) { items { messages { role content } } } } } } }",
        # Each render may produce a million characters.
        "{ promptVersions(limit: 100) { items { render(variables: {}) { text } } } }",
    ],
)
async def test_every_list_fan_out_is_in_the_cost(api, query):
    result = await api.gql(query)
    assert result.codes == ["QUERY_TOO_COMPLEX"], result.body
    assert result.errors[0]["extensions"]["limit"] == "maxCost"


async def test_limits_use_variables_as_execution_coerces_them(api):
    """An Int variable given as 100.0 is 100 when it runs, so it costs 100."""
    query = """query($n: Int!) { prompts(limit: $n) { items { versions(limit: 100) { items { id tags labels variables } } } } }"""
    result = await api.gql(query, {"n": 100.0})
    assert result.codes == ["QUERY_TOO_COMPLEX"]
    assert result.errors[0]["extensions"]["value"] == 1 + 100 * (1 + 1 + 100 * 5)


async def test_limits_are_checked_before_validation(api):
    """600 conflicting aliases: refused by the alias limit, without validating the document
    (whose field-merging check is quadratic)."""
    fields = " ".join("user: workspace user" for _ in range(600))
    result = await api.gql(f"{{ viewer {{ {fields} }} }}")
    assert result.codes == ["QUERY_TOO_COMPLEX"]
    assert result.errors[0]["extensions"]["limit"] == "maxAliases"


def _doubled_at_each_level(levels: int) -> str:
    """`prompt { latestVersion {...} latestVersion {...} }`, doubled at each level: small,
    within depth and cost, but validation compares every pair of same-named fields."""
    inner = "name"
    for level in range(levels):
        field = "latestVersion" if (levels - level) % 2 == 1 else "prompt"
        inner = f"{field} {{ {inner} }} {field} {{ {inner} }}"
    return '{ prompt(name: "p") { ' + inner + " } }"


async def test_fields_to_merge_are_bounded_before_validation(api):
    """Before: 1,800 tokens within every limit held the server for seconds in validation."""
    await api.create("p", "x")
    result = await api.gql(_doubled_at_each_level(8))
    assert result.codes == ["QUERY_TOO_COMPLEX"], result.body
    assert result.errors[0]["extensions"]["limit"] == "maxMergedPairs"
    same_field = (
        '{ prompt(name: "p") { ' + " ".join(["versions(limit: 1) { items { id } }"] * 300) + " } }"
    )
    assert (await api.gql(same_field)).errors[0]["extensions"]["limit"] == "maxMergedPairs"
    # A few repeated fields, as fragments often repeat `id`, are fine.
    small = (await api.gql(_doubled_at_each_level(3))).ok()
    assert small["prompt"]["latestVersion"]["prompt"]["latestVersion"]["name"] == "p"
