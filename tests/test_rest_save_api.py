"""The create-or-update save API (seed 002; contract section 10), on both databases, with the
seed's own request."""

from typing import Any

from promptgraph.services.auth import Role
from tests.conftest import Api

SEED_TEXT = "What is the population of Russia in 1994?"
VERSIONS = """query($name: String!) { prompt(name: $name) { versions(includeArchived: true) {
  items { version templateText description models revisions { templateText description } } } } }"""


async def save(
    api: Api,
    name: str,
    query: str,
    body: bytes | str = SEED_TEXT,
    *,
    role: Role = Role.ADMIN,
    headers: dict[str, str] | None = None,
) -> Any:
    if headers is None:
        headers = {"X-Authorization": await api.key(role=role), "Content-Type": "application/json"}
    return await api.http.post(f"/api/prompts/{name}?{query}", content=body, headers=headers)


async def versions(api: Api, name: str) -> list[dict[str, Any]]:
    prompt = (await api.gql(VERSIONS, {"name": name})).ok()["prompt"]
    return [] if prompt is None else prompt["versions"]["items"]


async def test_seed_request_saves_and_auto_increments(api: Api) -> None:
    token = await api.key()
    url = "/api/prompts/population-prompt?description=Updated%20description&autoIncrement=true"
    headers = {"accept": "*/*", "X-Authorization": token, "Content-Type": "application/json"}
    for _ in range(2):
        response = await api.http.post(url, headers=headers, content=SEED_TEXT)
        assert response.status_code == 200, response.text
        assert response.content == b""
    assert [
        (v["version"], v["templateText"], v["description"])
        for v in await versions(api, "population-prompt")
    ] == [(2, SEED_TEXT, "Updated description"), (1, SEED_TEXT, "Updated description")]


async def test_enclosing_quotation_marks_are_stripped(api: Api) -> None:
    assert (await save(api, "quoted", "description=d", '"Say \\"hi\\""')).status_code == 200
    assert (await save(api, "inner", "description=d", 'a "b" c')).status_code == 200
    assert (await save(api, "lone", "description=d", '"')).status_code == 200
    assert (await versions(api, "quoted"))[0]["templateText"] == 'Say \\"hi\\"'
    assert (await versions(api, "inner"))[0]["templateText"] == 'a "b" c'
    assert (await versions(api, "lone"))[0]["templateText"] == '"'


async def test_without_version_it_overwrites_version_1_keeping_a_revision(api: Api) -> None:
    assert (await save(api, "p", "description=first", "one")).status_code == 200
    assert (await save(api, "p", "description=second", "two")).status_code == 200
    [only] = await versions(api, "p")
    assert (only["version"], only["templateText"], only["description"]) == (1, "two", "second")
    assert only["revisions"] == [{"templateText": "one", "description": "first"}]


async def test_explicit_version_and_auto_increment_priority(api: Api) -> None:
    assert (await save(api, "p", "description=d&version=5", "five")).status_code == 200
    assert (
        await save(api, "p", "description=d&version=9&autoIncrement=true", "six")
    ).status_code == 200
    assert (
        await save(api, "p", "description=d&autoIncrement=false&version=5", "5b")
    ).status_code == 200
    assert [(v["version"], v["templateText"]) for v in await versions(api, "p")] == [
        (6, "six"),
        (5, "5b"),
    ]


async def test_description_is_required_and_bad_input_is_400_saving_nothing(api: Api) -> None:
    for query in (
        "",
        "autoIncrement=true",
        "description=d&version=0",
        "description=d&version=x",
        "description=d&autoIncrement=maybe",
    ):
        response = await save(api, "p", query)
        assert response.status_code == 400, query
        body = response.json()
        assert body["status"] == 400 and isinstance(body["message"], str)
        assert body["retryable"] is False
    assert (await save(api, "bad%20name", "description=d")).status_code == 400
    assert (await save(api, "p", "description=d", b"\xff\xfe")).status_code == 400
    assert await versions(api, "p") == []


async def test_keys_in_x_authorization_raw_or_bearer_or_authorization(api: Api) -> None:
    token = await api.key()
    for n, headers in enumerate(
        (
            {"X-Authorization": token},
            {"X-Authorization": f"Bearer {token}"},
            {"Authorization": f"Bearer {token}"},
        )
    ):
        assert (await save(api, "p", f"description={n}", headers=headers)).status_code == 200
    assert (await versions(api, "p"))[0]["description"] == "2"
    for headers in ({}, {"X-Authorization": "pgk_bad_bad"}, {"Authorization": "Bearer pgk_x_y"}):
        response = await save(api, "p", "description=x", headers=headers)
        assert response.status_code == 401
        assert response.json()["status"] == 401
    assert (await versions(api, "p"))[0]["description"] == "2"


async def test_a_role_that_may_not_write_is_403(api: Api) -> None:
    await save(api, "p", "description=d", "original")
    for name in ("p", "new"):
        response = await save(api, name, "description=d", "changed", role=Role.VIEWER)
        assert response.status_code == 403
        assert response.json()["status"] == 403
    assert [v["templateText"] for v in await versions(api, "p")] == ["original"]
    assert await versions(api, "new") == []


async def test_models_must_name_an_integration_and_one_of_its_models(api: Api) -> None:
    await api.gql(
        """mutation { createIntegration(input: {name: "openai", provider: "openai",
             models: ["gpt-4o", "gpt-4o-mini"]}) { name } }"""
    )
    for models in ("nope:gpt-4o", "openai:gpt-5", "openai:gpt-4o,nope:x"):
        response = await save(api, "p", f"description=d&models={models}")
        assert response.status_code == 404, models
        assert response.json()["status"] == 404
    assert await versions(api, "p") == []
    ok = await save(api, "p", "description=d&models=openai:gpt-4o-mini,%20openai:gpt-4o")
    assert ok.status_code == 200
    assert (await versions(api, "p"))[0]["models"] == ["openai:gpt-4o", "openai:gpt-4o-mini"]


async def test_nul_characters_are_400_and_save_nothing(api: Api) -> None:
    assert (await save(api, "p", "description=a%00b")).status_code == 400
    assert (await save(api, "p", "description=d", b"a\x00b")).status_code == 400
    assert (await save(api, "p", "description=d&models=a%00:b")).status_code == 400
    assert await versions(api, "p") == []
