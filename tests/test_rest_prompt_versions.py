"""TrueFoundry's prompt-versions list (seed 004; contract section 10), on both databases."""

from datetime import datetime
from typing import Any

from tests.conftest import Api

URL = "/api/ml/v1/prompt-versions"
CHAT = {
    "name": "support-chat",
    "messages": [
        {"role": "system", "content": "You help {{ customer }}.", "name": "sys"},
        {"role": "user", "content": "{{ question }}"},
    ],
    "description": "first cut",
    "modelConfig": {"provider": "openai", "model": "gpt-4o", "parameters": {"temperature": 0.2}},
    "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {}}}],
    "responseFormat": {"type": "json_object"},
    "metadata": {"team": "care"},
    "tags": ["prod", "care"],
}


async def listed(api: Api, query: str = "", key: str | None = None) -> Any:
    token = key or await api.key()
    return await api.http.get(f"{URL}{query}", headers={"Authorization": f"Bearer {token}"})


async def test_seed_request_answers_data_and_pagination(api: Api) -> None:
    await api.create("a", "x")
    response = await listed(api)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data", "pagination"}
    assert body["pagination"] == {"total": 1, "offset": 0, "limit": 20}


async def test_item_has_the_seeds_fields_with_the_manifest(api: Api) -> None:
    result = await api.gql(
        """mutation($input: CreatePromptVersionInput!) { createPromptVersion(input: $input) {
             id fqn createdAt updatedAt prompt { id } } }""",
        {"input": CHAT},
    )
    created = result.ok()["createPromptVersion"]
    [item] = (await listed(api)).json()["data"]
    assert item["id"] == created["id"]
    assert item["fqn"] == created["fqn"] == "prompt:acme/support-chat:1"
    assert item["prompt_id"] == created["prompt"]["id"]
    assert item["created_by_subject"] == {
        "subjectId": "ann",
        "subjectType": "user",
        "subjectSlug": "ann",
        "subjectDisplayName": "ann",
    }
    for field in ("created_at", "updated_at"):
        assert datetime.fromisoformat(item[field].replace("Z", "+00:00")) == datetime.fromisoformat(
            created[field.replace("_at", "At")].replace("Z", "+00:00")
        )
    assert item["tags"] == ["care", "prod"]
    manifest = item["manifest"]
    assert manifest == {
        "name": "support-chat",
        "version": 1,
        "description": "first cut",
        "metadata": {"team": "care"},
        "type": "chat_prompt",
        "messages": [
            {"role": "system", "content": "You help {{ customer }}.", "name": "sys"},
            {"role": "user", "content": "{{ question }}", "name": None},
        ],
        "template_text": None,
        "variables": {"customer": None, "question": None},
        "model_configuration": {
            "provider": "openai",
            "model": "gpt-4o",
            "parameters": {"temperature": 0.2},
        },
        "tools": CHAT["tools"],
        "response_format": {"type": "json_object"},
    }


async def test_a_text_prompt_is_a_text_prompt_with_its_text(api: Api) -> None:
    await api.create("greet", "Hello {{ who }}")
    [item] = (await listed(api)).json()["data"]
    manifest = item["manifest"]
    assert manifest["type"] == "text_prompt"
    assert manifest["template_text"] == "Hello {{ who }}" and manifest["messages"] is None
    assert manifest["variables"] == {"who": None}
    assert manifest["model_configuration"] is None and manifest["metadata"] == {}


async def test_every_filter_and_the_paging(api: Api) -> None:
    for name in ("alpha", "beta"):
        for version in (1, 2, 3):
            await api.create(name, f"{name}{version}", version=version, tags=[f"t{version}"])
    beta_id = (await api.gql('{ prompt(name: "beta") { id } }')).ok()["prompt"]["id"]

    async def pairs(query: str) -> list[tuple[str, int]]:
        response = await listed(api, query)
        assert response.status_code == 200, (query, response.text)
        return [(i["manifest"]["name"], i["manifest"]["version"]) for i in response.json()["data"]]

    everything = [(n, v) for n in ("alpha", "beta") for v in (3, 2, 1)]
    assert await pairs("") == everything
    assert await pairs("?tag=t2") == [("alpha", 2), ("beta", 2)]
    assert await pairs("?name=beta") == [("beta", 3), ("beta", 2), ("beta", 1)]
    assert await pairs(f"?prompt_id={beta_id}") == [("beta", 3), ("beta", 2), ("beta", 1)]
    assert await pairs("?version=latest") == [("alpha", 3), ("beta", 3)]
    assert await pairs("?version=2") == [("alpha", 2), ("beta", 2)]
    assert await pairs("?fqn=prompt:acme/alpha") == [("alpha", 3), ("alpha", 2), ("alpha", 1)]
    assert await pairs("?fqn=prompt:acme/alpha:2") == [("alpha", 2)]
    assert await pairs("?fqn=prompt:acme/beta:latest") == [("beta", 3)]
    assert await pairs("?fqn=prompt:globex/beta") == []
    assert await pairs("?name=alpha&tag=t3") == [("alpha", 3)]
    page = (await listed(api, "?offset=2&limit=3")).json()
    assert page["pagination"] == {"total": 6, "offset": 2, "limit": 3}
    assert [(i["manifest"]["name"], i["manifest"]["version"]) for i in page["data"]] == (
        everything[2:5]
    )
    assert (await listed(api, "?limit=100")).status_code == 200


async def test_bad_parameters_are_400(api: Api) -> None:
    for query in (
        "?limit=0",
        "?limit=101",
        "?offset=-1",
        "?version=0",
        "?version=newest",
        "?fqn=chat_prompt:x",
        "?limit=ten",
        "?prompt_id=abc",
    ):
        response = await listed(api, query)
        assert response.status_code == 400, query
        body = response.json()
        assert body["statusCode"] == 400 and body["error"] == "Bad Request"
        assert isinstance(body["message"], str) and body["message"]


async def test_keys_and_workspaces(api: Api) -> None:
    await api.create("a", "x")
    response = await api.http.get(URL)
    assert response.status_code == 401 and response.json()["statusCode"] == 401
    other = await api.key(workspace="globex")
    assert (await listed(api, key=other)).json() == {
        "data": [],
        "pagination": {"total": 0, "offset": 0, "limit": 20},
    }
