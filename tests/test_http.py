"""The HTTP surface: GraphQL over HTTP, GraphiQL, health, and error masking (sections 5, 6)."""

import json
import logging

import httpx

from promptgraph.app import create_app
from promptgraph.db import Database
from promptgraph.services import catalog

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


def codes_of(body):
    return [error.get("extensions", {}).get("code") for error in body.get("errors") or []]


async def auth_headers(api, **headers):
    return {"Authorization": f"Bearer {await api.key()}", **headers}


# --- GraphiQL and GET -----------------------------------------------------------------------


async def test_graphiql_page_loads_without_a_key(api):
    response = await api.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()
    assert "<html" in response.text.lower()


async def test_query_via_get_with_a_key(api):
    response = await api.http.get(
        "/graphql",
        params={"query": "{ viewer { user workspace role } }"},
        headers=await auth_headers(api, Accept="application/json"),
    )
    assert response.status_code == 200
    assert response.json() == {
        "data": {"viewer": {"user": "ann", "workspace": "acme", "role": "ADMIN"}}
    }


async def test_query_via_get_with_variables(api):
    await api.create("greet")
    response = await api.http.get(
        "/graphql",
        params={
            "query": "query($n: String!) { prompt(name: $n) { name } }",
            "variables": json.dumps({"n": "greet"}),
        },
        headers=await auth_headers(api),
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"prompt": {"name": "greet"}}}


async def test_query_via_get_without_a_key_is_401(api):
    response = await api.http.get(
        "/graphql", params={"query": "{ viewer { user } }"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 401
    assert codes_of(response.json()) == ["UNAUTHENTICATED"]


async def test_mutation_via_get_is_refused_and_changes_nothing(api):
    response = await api.http.get(
        "/graphql",
        params={
            "query": 'mutation { createPromptVersion(input: {name: "p", templateText: "t"}) { id } }'
        },
        headers=await auth_headers(api, Accept="application/json"),
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert (await api.gql('{ prompt(name: "p") { id } }')).ok() == {"prompt": None}


# --- POST and media types -------------------------------------------------------------------


async def test_post_with_graphql_response_json(api):
    response = await api.http.post(
        "/graphql",
        json={"query": "query Who { viewer { user } }", "operationName": "Who"},
        headers=await auth_headers(api, Accept=GRAPHQL_RESPONSE_JSON),
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    assert response.json() == {"data": {"viewer": {"user": "ann"}}}


async def test_request_error_with_graphql_response_json_is_4xx(api):
    """GraphQL over HTTP: with this media type, a response without `data` is a 4xx."""
    response = await api.http.post(
        "/graphql",
        json={"query": "{ viewer { user "},
        headers=await auth_headers(api, Accept=GRAPHQL_RESPONSE_JSON),
    )
    assert 400 <= response.status_code < 500
    body = response.json()
    assert "data" not in body
    assert codes_of(body) == ["BAD_USER_INPUT"]


async def test_post_with_operation_name_picks_the_operation(api):
    response = await api.http.post(
        "/graphql",
        json={
            "query": "query A { viewer { user } } query B { viewer { workspace } }",
            "operationName": "B",
        },
        headers=await auth_headers(api),
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"workspace": "acme"}}}


# --- health ---------------------------------------------------------------------------------


async def test_healthz_is_200_when_the_database_answers(api):
    response = await api.http.get("/healthz")
    assert response.status_code == 200


async def test_healthz_is_503_when_the_database_does_not_answer():
    database = Database("postgresql+asyncpg://postgres@127.0.0.1:1/x")
    app = create_app(db=database)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://promptgraph") as http:
            response = await http.get("/healthz")
        assert response.status_code == 503
    finally:
        await database.dispose()


# --- errors ---------------------------------------------------------------------------------


async def test_internal_errors_are_masked_and_logged_with_the_request_id(api, monkeypatch, caplog):
    async def broken(*_args, **_kwargs):
        raise RuntimeError("secret SQL detail")

    monkeypatch.setattr(catalog, "list_prompts", broken)
    caplog.set_level(logging.ERROR)

    result = await api.gql("{ prompts { items { name } } }")

    assert result.status == 200
    assert result.data is None  # prompts is non-null, so the error reaches the root
    [error] = result.errors
    extensions = error["extensions"]
    assert extensions["code"] == "INTERNAL_SERVER_ERROR"
    request_id = extensions["requestId"]
    assert isinstance(request_id, str) and request_id
    raw = json.dumps(result.body)
    for leak in ("secret", "SQL", "RuntimeError", "Traceback", "list_prompts", ".py"):
        assert leak not in raw
    assert error["message"]

    logged = [record for record in caplog.records if request_id in record.getMessage()]
    assert logged, [record.getMessage() for record in caplog.records]
    assert any(
        record.exc_info
        and isinstance(record.exc_info[1], RuntimeError)
        and "secret SQL detail" in str(record.exc_info[1])
        for record in logged
    )


async def test_each_request_gets_its_own_request_id(api, monkeypatch):
    async def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(catalog, "list_prompts", broken)
    ids = set()
    for _ in range(2):
        result = await api.gql("{ prompts { items { name } } }")
        ids.add(result.errors[0]["extensions"]["requestId"])
    assert len(ids) == 2


async def test_syntax_error_is_bad_user_input(api):
    result = await api.gql("{ viewer { user ")
    assert result.codes == ["BAD_USER_INPUT"]
    assert result.data is None


async def test_unknown_field_is_bad_user_input(api):
    result = await api.gql("{ viewer { user } nonsense }")
    assert result.codes == ["BAD_USER_INPUT"]
    assert result.data is None


async def test_bad_variable_is_bad_user_input(api):
    result = await api.gql(
        "query($limit: Int!) { prompts(limit: $limit) { items { name } } }", {"limit": "ten"}
    )
    assert result.codes == ["BAD_USER_INPUT"]
    assert result.data is None


async def test_field_error_leaves_sibling_fields_intact(api):
    result = await api.gql('{ viewer { user } prompt(fqn: "bad") { name } }')
    assert result.status == 200
    assert result.data == {"viewer": {"user": "ann"}, "prompt": None}
    [error] = result.errors
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["path"] == ["prompt"]
