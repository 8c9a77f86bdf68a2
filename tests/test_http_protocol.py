"""Request errors are GraphQL-shaped, with the status GraphQL over HTTP gives them, and every
response carries X-Request-ID (contract sections 5 and 6)."""

import json
import logging
import re

import httpx
import pytest

from promptgraph.app import create_app
from promptgraph.db import Database
from promptgraph.services import catalog
from promptgraph.services.auth import Authenticator
from tests.test_response_cache import _listening as wait_until_listening

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
VIEWER = "{ viewer { user } }"
CREATE = 'mutation Create { createPromptVersion(input: {name: "p", templateText: "t"}) { id } }'
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


async def key_headers(api, **headers):
    return {"Authorization": f"Bearer {await api.key()}", **headers}


def assert_request_error(response, status):
    """One error, coded BAD_USER_INPUT, carrying the id the response's header names; no data."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] in (
        "application/json",
        GRAPHQL_RESPONSE_JSON,
    )
    body = response.json()
    assert set(body) == {"errors"}, body
    [error] = body["errors"]
    assert isinstance(error["message"], str) and error["message"], error
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "requestId": response.headers["x-request-id"],
    }
    for leak in ("Traceback", "strawberry", ".py", "Exception"):
        assert leak not in response.text


async def prompt_exists(api) -> bool:
    return (await api.gql('{ prompt(name: "p") { id } }')).ok()["prompt"] is not None


# --- request errors ------------------------------------------------------------------------

MALFORMED_BODIES = {
    "null": b"null",
    "string": b'"s"',
    "number": b"123",
    "true": b"true",
    "false": b"false",
    "empty": b"",
    "truncated": b'{"query": "{ viewer { user } }"',
    "not json": b"NONSENSE",
    "batch": json.dumps([{"query": VIEWER}]).encode(),
    "empty batch": b"[]",
    "no query": b"{}",
    "null query": b'{"query": null}',
    "empty query": b'{"query": ""}',
    "number query": b'{"query": 1}',
    "object query": b'{"query": {"a": 1}}',
    "list variables": json.dumps({"query": VIEWER, "variables": [7]}).encode(),
    "string variables": json.dumps({"query": VIEWER, "variables": "{}"}).encode(),
    "number operationName": json.dumps({"query": VIEWER, "operationName": 3}).encode(),
    "list extensions": json.dumps({"query": VIEWER, "extensions": [1]}).encode(),
}


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE_JSON])
async def test_a_body_that_is_not_a_well_formed_request_is_a_400(api, accept):
    headers = await key_headers(api, **{"Content-Type": "application/json", "Accept": accept})
    for name, body in MALFORMED_BODIES.items():
        response = await api.http.post("/graphql", content=body, headers=headers)
        try:
            assert_request_error(response, 400)
        except AssertionError as error:
            raise AssertionError(f"{name}: {error}") from error


GET_ERRORS = {
    "no query": {},
    "empty query": {"query": ""},
    "list variables": {"query": VIEWER, "variables": "[1]"},
    "malformed variables": {"query": VIEWER, "variables": "{not json"},
    "string variables": {"query": VIEWER, "variables": '"s"'},
    "number extensions": {"query": VIEWER, "extensions": "7"},
}


async def test_a_get_that_is_not_a_well_formed_request_is_a_400(api):
    headers = await key_headers(api, Accept="application/json")
    for name, params in GET_ERRORS.items():
        response = await api.http.get("/graphql", params=params, headers=headers)
        try:
            assert_request_error(response, 400)
        except AssertionError as error:
            raise AssertionError(f"{name}: {error}") from error


UNSUPPORTED_MEDIA_TYPES = [
    None,
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/graphql",
    "application/json; charset=latin-1",
    "multipart/form-data; boundary=x",
]


async def test_an_unsupported_media_type_is_a_415_and_changes_nothing(api):
    for content_type in UNSUPPORTED_MEDIA_TYPES:
        headers = await key_headers(api)
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = await api.http.post(
            "/graphql", content=json.dumps({"query": CREATE}).encode(), headers=headers
        )
        try:
            assert_request_error(response, 415)
        except AssertionError as error:
            raise AssertionError(f"{content_type}: {error}") from error
    assert not await prompt_exists(api)


async def test_media_types_are_case_insensitive_and_may_carry_parameters(api):
    for content_type in [
        "APPLICATION/JSON",
        "Application/Json",
        "application/json; charset=UTF-8",
        "application/json;charset=utf-8",
        "APPLICATION/JSON; CHARSET=UTF-8",
    ]:
        response = await api.http.post(
            "/graphql",
            content=json.dumps({"query": VIEWER}).encode(),
            headers=await key_headers(api, **{"Content-Type": content_type}),
        )
        assert response.status_code == 200, (content_type, response.text)
        assert response.json() == {"data": {"viewer": {"user": "ann"}}}


async def test_a_batch_executes_nothing(api):
    response = await api.http.post(
        "/graphql", json=[{"query": CREATE}, {"query": CREATE}], headers=await key_headers(api)
    )
    assert_request_error(response, 400)
    assert not await prompt_exists(api)


# --- choosing the operation (GetOperation) -------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "status"), [("application/json", 200), (GRAPHQL_RESPONSE_JSON, 400)]
)
async def test_several_operations_without_operation_name_run_none(api, accept, status):
    response = await api.http.post(
        "/graphql",
        json={"query": f"{CREATE} query Who {VIEWER}"},
        headers=await key_headers(api, Accept=accept),
    )
    assert_request_error(response, status)
    assert "operationName" in response.json()["errors"][0]["message"]
    assert not await prompt_exists(api)


@pytest.mark.parametrize(
    ("accept", "status"), [("application/json", 200), (GRAPHQL_RESPONSE_JSON, 400)]
)
@pytest.mark.parametrize("operation_name", ["Nope", "create", ""])
async def test_an_unknown_operation_name_runs_nothing(api, accept, status, operation_name):
    response = await api.http.post(
        "/graphql",
        json={"query": f"{CREATE} query Who {VIEWER}", "operationName": operation_name},
        headers=await key_headers(api, Accept=accept),
    )
    assert_request_error(response, status)
    assert not await prompt_exists(api)


async def test_a_named_operation_among_several_runs_alone(api):
    response = await api.http.post(
        "/graphql",
        json={"query": f"{CREATE} query Who {VIEWER}", "operationName": "Who"},
        headers=await key_headers(api),
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"user": "ann"}}}
    assert not await prompt_exists(api)


async def test_a_document_with_only_fragments_is_a_request_error(api):
    response = await api.http.post(
        "/graphql",
        json={"query": "fragment F on Viewer { user }"},
        headers=await key_headers(api, Accept=GRAPHQL_RESPONSE_JSON),
    )
    assert_request_error(response, 400)


# --- methods -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"query": CREATE},
        {"query": f"query Who {VIEWER} {CREATE}", "operationName": "Create"},
        {"query": "mutation { __typename }"},
    ],
    ids=["mutation", "named mutation among several", "typename mutation"],
)
@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE_JSON])
async def test_a_mutation_over_get_is_a_405_with_one_allow_post(api, params, accept):
    response = await api.http.get(
        "/graphql", params=params, headers=await key_headers(api, Accept=accept)
    )
    assert_request_error(response, 405)
    assert response.headers.get_list("allow") == ["POST"]
    assert not await prompt_exists(api)


async def test_other_methods_are_a_405_naming_get_and_post_once(api):
    for method in ["PUT", "DELETE", "PATCH"]:
        response = await api.http.request(
            method, "/graphql", json={"query": VIEWER}, headers=await key_headers(api)
        )
        assert response.status_code == 405, method
        assert response.headers.get_list("allow") == ["GET, POST"], method
        body = response.json()
        assert body["errors"][0]["extensions"]["requestId"] == response.headers["x-request-id"]


# --- X-Request-ID --------------------------------------------------------------------------


async def test_every_response_carries_the_clients_request_id(api):
    """Success, each request error, 401, 404, 413, 431 and /healthz: the same id everywhere."""
    key = await api.key()
    oversized_body = json.dumps({"query": VIEWER, "variables": {"x": "a" * 1_100_000}})
    cases = {
        "ok": ("POST", "/graphql", {"json": {"query": VIEWER}}, {"Authorization": f"Bearer {key}"}),
        "401": ("POST", "/graphql", {"json": {"query": VIEWER}}, {}),
        "400": (
            "POST",
            "/graphql",
            {"content": b"null"},
            {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        ),
        "404": ("GET", "/nowhere", {}, {}),
        "413": (
            "POST",
            "/graphql",
            {"content": oversized_body},
            {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        ),
        "431": (
            "POST",
            "/graphql",
            {"json": {"query": VIEWER}},
            {"Authorization": f"Bearer {key}", "X-Padding": "p" * 20_000},
        ),
        "healthz": ("GET", "/healthz", {}, {}),
        "graphiql": ("GET", "/graphql", {}, {"Accept": "text/html"}),
    }
    for name, (method, path, body, headers) in cases.items():
        request_id = f"client.{name}-1"
        response = await api.http.request(
            method, path, headers={**headers, "X-Request-ID": request_id}, **body
        )
        assert response.headers.get_list("x-request-id") == [request_id], name
        if response.status_code >= 400:
            assert response.json()["errors"][0]["extensions"]["requestId"] == request_id, name
    assert response.status_code == 200


async def test_an_unsafe_client_request_id_is_replaced_with_a_new_one(api):
    for sent in ["a" * 129, "has space", "semi;colon", "ünïcode", "", 'quote"d', "a/b"]:
        response = await api.http.post(
            "/graphql", json={"query": VIEWER}, headers={"X-Request-ID": sent.encode("utf-8")}
        )
        assert response.status_code == 401
        [request_id] = response.headers.get_list("x-request-id")
        assert request_id != sent and REQUEST_ID.fullmatch(request_id), sent
        assert response.json()["errors"][0]["extensions"]["requestId"] == request_id


async def test_request_ids_are_new_for_each_request_without_one(api):
    ids = {(await api.http.get("/healthz")).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5
    assert all(REQUEST_ID.fullmatch(request_id) for request_id in ids)


async def test_a_masked_internal_error_and_its_log_line_use_the_clients_id(
    api, monkeypatch, caplog
):
    async def broken(*_args, **_kwargs):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(catalog, "list_prompts", broken)
    caplog.set_level(logging.ERROR)
    response = await api.http.post(
        "/graphql",
        json={"query": "{ prompts { items { name } } }"},
        headers=await key_headers(api, **{"X-Request-ID": "trace-42.a_b"}),
    )
    assert response.headers["x-request-id"] == "trace-42.a_b"
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "trace-42.a_b"}
    assert "secret" not in response.text
    assert any(
        "trace-42.a_b" in record.getMessage() and record.exc_info for record in caplog.records
    )


async def test_an_unavailable_store_answers_with_the_request_id():
    database = Database("postgresql+asyncpg://postgres@127.0.0.1:1/x")
    try:
        transport = httpx.ASGITransport(app=create_app(db=database))
        async with httpx.AsyncClient(transport=transport, base_url="http://promptgraph") as http:
            response = await http.post(
                "/graphql",
                json={"query": VIEWER},
                headers={"Authorization": "Bearer pgk_a_b", "X-Request-ID": "store-down"},
            )
    finally:
        await database.dispose()
    assert response.status_code == 503
    assert response.headers["x-request-id"] == "store-down"
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["extensions"]["requestId"] == "store-down"


async def test_an_unhandled_exception_outside_graphql_is_a_masked_500_with_the_id(
    api, monkeypatch, caplog
):
    async def broken(*_args, **_kwargs):
        raise RuntimeError("secret detail from auth")

    monkeypatch.setattr(Authenticator, "principal", broken)
    caplog.set_level(logging.ERROR)
    response = await api.http.post(
        "/graphql",
        json={"query": VIEWER},
        headers=await key_headers(api, **{"X-Request-ID": "boom-1"}),
    )
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "boom-1"
    assert response.json() == {
        "errors": [
            {
                "message": "Internal server error",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "boom-1"},
            }
        ]
    }
    assert any(
        "boom-1" in record.getMessage()
        and record.exc_info
        and "secret detail from auth" in str(record.exc_info[1])
        for record in caplog.records
    )


async def test_an_answer_served_again_carries_each_requests_own_id(api):
    """On PostgreSQL the second answer comes from the response cache."""
    if api.db.changes is not None:
        await wait_until_listening(api.db)
    headers = await key_headers(api)
    for request_id in ("first-1", "second-2", "third-3"):
        response = await api.http.post(
            "/graphql", json={"query": VIEWER}, headers={**headers, "X-Request-ID": request_id}
        )
        assert response.json() == {"data": {"viewer": {"user": "ann"}}}
        assert response.headers.get_list("x-request-id") == [request_id]
