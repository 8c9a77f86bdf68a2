"""The prompt repository (seed 003; contract section 10), on both databases, with the seed's
own requests."""

from typing import Any

from promptgraph.services.auth import Role
from tests.conftest import Api

BASE = "/api/v2/prompts"
FORM = "application/x-www-form-urlencoded"


async def headers(api: Api, role: Role = Role.ADMIN, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await api.key(role=role)}", **extra}


async def manifest(api: Api) -> dict[str, Any]:
    response = await api.http.get(f"{BASE}?json=true", headers=await headers(api))
    assert response.status_code == 200
    return response.json()


async def form(api: Api, data: dict[str, str], role: Role = Role.ADMIN) -> Any:
    return await api.http.post(BASE, data=data, headers=await headers(api, role))


async def test_seed_new_prompt_as_json_is_saved_with_its_type(api: Api) -> None:
    response = await api.http.post(
        BASE,
        json={
            "new_prompt_name": "summarize_baseline",
            "new_prompt_type": "response",
            "new_prompt_content": "Summarize the following text: {{ input }}",
        },
        headers=await headers(api),
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{BASE}?saved=true"
    body = await manifest(api)
    [entry] = body["prompts"]["response_templates"]
    assert entry["name"] == "summarize_baseline.j2" and entry["is_current"] is False
    assert entry["metadata"] == {"prompt_type": "response"}
    assert body["prompts"]["system_prompts"] == [] and body["prompts"]["experiments"] == []
    seen = (
        await api.gql(
            '{ promptVersion(name: "summarize_baseline.j2") { id templateText metadata } }'
        )
    ).ok()["promptVersion"]
    assert seen["id"] == entry["id"]
    assert seen["templateText"] == "Summarize the following text: {{ input }}"
    assert seen["metadata"] == {"prompt_type": "response"}


async def test_seed_editor_save_versions_the_prompt_and_makes_it_default(api: Api) -> None:
    data = {
        "system_prompt": "You are the nightly assistant.",
        "system_prompt_label": "Night shift baseline",
        "system_prompt_make_default": "on",
    }
    response = await form(api, data)
    assert response.status_code == 303
    assert response.headers["location"] == f"{BASE}?saved=true&default_set=true"
    body = await manifest(api)
    [entry] = body["prompts"]["system_prompts"]
    assert entry["is_current"] is True
    assert entry["metadata"] == {"prompt_type": "system", "label": "Night shift baseline"}
    assert body["configured_defaults"]["system_prompts"] == [entry["name"]]
    assert body["effective"]["system_prompt"] == "You are the nightly assistant."
    # A second save versions the same prompt, and the default follows it.
    again = await form(api, {**data, "system_prompt": "You are the day assistant."})
    assert again.status_code == 303
    entries = (await manifest(api))["versions_by_type"]["system"]["entries"]
    assert [(e["name"], e["version"], e["is_current"]) for e in entries] == [
        (entry["name"], 2, True),
        (entry["name"], 1, False),
    ]
    labels = (
        await api.gql(f'{{ prompt(name: "{entry["name"]}") {{ labels {{ name version }} }} }}')
    ).ok()["prompt"]["labels"]
    assert labels == [{"name": "default", "version": 2}]


async def test_seed_make_default_by_path_filename_or_id_and_default_failed(api: Api) -> None:
    for name in ("autumn_baseline", "winter_baseline"):
        data = {"new_prompt_name": name, "new_prompt_type": "system", "new_prompt_content": name}
        assert (await form(api, data)).status_code == 303
    seed = "action=make_default_prompt&prompt_type=system&prompt_identifier=system_prompts/autumn_baseline.j2"
    response = await api.http.post(
        BASE, content=seed, headers=await headers(api, **{"Content-Type": FORM})
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{BASE}?default_set=true"
    body = await manifest(api)
    current = {e["name"]: e["is_current"] for e in body["prompts"]["system_prompts"]}
    assert current == {"autumn_baseline.j2": True, "winter_baseline.j2": False}
    winter_id = next(
        e["id"] for e in body["prompts"]["system_prompts"] if e["name"] == "winter_baseline.j2"
    )
    for identifier in (winter_id, "winter_baseline"):
        data = {
            "action": "make_default_prompt",
            "prompt_type": "system",
            "prompt_identifier": identifier,
        }
        assert (await form(api, data)).headers["location"] == f"{BASE}?default_set=true"
    assert (await manifest(api))["configured_defaults"]["system_prompts"] == [
        "autumn_baseline.j2",
        "winter_baseline.j2",
    ]
    for data in (
        {"action": "make_default_prompt", "prompt_type": "system"},
        {"action": "make_default_prompt", "prompt_type": "system", "prompt_identifier": "nope.j2"},
        {
            "action": "make_default_prompt",
            "prompt_type": "response",
            "prompt_identifier": "winter_baseline.j2",
        },
    ):
        response = await form(api, data)
        assert response.status_code == 303
        assert response.headers["location"] == f"{BASE}?error=default_failed"


async def test_seed_revert_makes_an_earlier_version_default(api: Api) -> None:
    data = {"system_prompt": "one", "system_prompt_make_default": "on"}
    await form(api, data)
    await form(api, {**data, "system_prompt": "two"})
    name = (await manifest(api))["prompts"]["system_prompts"][0]["name"]
    response = await api.http.post(
        f"{BASE}/revert",
        json={"type": "system", "name": name, "version": "1"},
        headers=await headers(api),
    )
    assert response.status_code == 200
    assert response.json() == {"status": "success", "reverted_to": 1}
    assert (await manifest(api))["effective"]["system_prompt"] == "one"
    for body in (
        {"type": "system", "name": name, "version": 9},
        {"type": "response", "name": name, "version": 1},
    ):
        missing = await api.http.post(f"{BASE}/revert", json=body, headers=await headers(api))
        assert missing.status_code == 404 and isinstance(missing.json()["detail"], str)
    bad = await api.http.post(
        f"{BASE}/revert",
        json={"type": "system", "name": name, "version": "x"},
        headers=await headers(api),
    )
    assert bad.status_code == 400


async def test_prompts_without_a_type_stay_out_and_manifest_on_accept(api: Api) -> None:
    await api.create("plain", "x")
    await api.create("typed", "y", metadata={"prompt_type": "experiment"})
    response = await api.http.get(BASE, headers=await headers(api, Accept="application/json"))
    body = response.json()
    assert [e["name"] for e in body["prompts"]["experiments"]] == ["typed"]
    assert body["prompts"]["system_prompts"] == body["prompts"]["response_templates"] == []
    assert body["configured_defaults"] == {"system_prompts": [], "response_template": None}
    assert set(body["versions_by_type"]) == {"system", "response", "experiment"}


async def test_errors_roles_and_keys(api: Api) -> None:
    for data in (
        {},
        {"new_prompt_name": "x"},
        {"new_prompt_name": "x", "new_prompt_type": "weird", "new_prompt_content": "c"},
        {"new_prompt_name": "bad name", "new_prompt_type": "system", "new_prompt_content": "c"},
    ):
        response = await form(api, data)
        assert response.status_code == 400, data
        assert isinstance(response.json()["detail"], str)
    viewer = await form(api, {"system_prompt": "x"}, role=Role.VIEWER)
    assert viewer.status_code == 403 and isinstance(viewer.json()["detail"], str)
    assert (await manifest(api))["prompts"]["system_prompts"] == []
    for method, path in (("GET", BASE), ("POST", BASE), ("POST", f"{BASE}/revert")):
        response = await api.http.request(method, path)
        assert response.status_code == 401 and set(response.json()) == {"detail"}


async def test_seed_metadata_update_changes_the_named_keys_only(api: Api) -> None:
    await api.create(
        "assistant_default.j2",
        "You are the nightly assistant...",
        metadata={"prompt_type": "system", "owner": "ops"},
    )
    seed = (
        "action=update_prompt_metadata&prompt_type=system&prompt_identifier=assistant_default.j2"
        "&metadata_label=Assistant default (Q4)&metadata_prompt_tag=default"
        "&metadata_notes=Deployed%20after%20nightly%20QA"
    )
    response = await api.http.post(
        BASE, content=seed, headers=await headers(api, **{"Content-Type": FORM})
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{BASE}?metadata_saved=true"
    [entry] = (await manifest(api))["prompts"]["system_prompts"]
    expected = {
        "prompt_type": "system",
        "owner": "ops",
        "label": "Assistant default (Q4)",
        "prompt_tag": "default",
        "notes": "Deployed after nightly QA",
    }
    assert entry["metadata"] == expected
    seen = (
        await api.gql(
            '{ promptVersion(name: "assistant_default.j2") { templateText metadata '
            "revisions { metadata } } }"
        )
    ).ok()["promptVersion"]
    assert seen["templateText"] == "You are the nightly assistant..."
    assert seen["metadata"] == expected
    assert seen["revisions"] == [{"metadata": {"prompt_type": "system", "owner": "ops"}}]
    missing = await form(
        api,
        {"action": "update_prompt_metadata", "prompt_type": "system", "prompt_identifier": "nope"},
    )
    assert missing.status_code == 404 and isinstance(missing.json()["detail"], str)
    viewer = await form(
        api,
        {
            "action": "update_prompt_metadata",
            "prompt_type": "system",
            "prompt_identifier": "assistant_default.j2",
            "metadata_notes": "x",
        },
        role=Role.VIEWER,
    )
    assert viewer.status_code == 403
