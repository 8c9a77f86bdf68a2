"""AgentVista's dashboard prompts API (seeds 000, 001; contract section 10), on both databases,
with the seed's own requests."""

from datetime import datetime
from typing import Any

from promptgraph.services.auth import Role
from tests.conftest import Api

BASE = "/api/v1/dashboard/prompts"
SEED_CREATE = {
    "name": "classify-intent",
    "version": 3,
    "template_text": "You are a lead classification agent. Classify the following inquiry as "
    "qualified, unqualified, or escalate:\n\n{{inquiry}}",
    "description": "Added escalation class for high-value leads",
}
SEED_USAGE = {
    "prompt_name": "classify-intent",
    "prompt_version": 3,
    "trace_id": "550e8400-e29b-41d4-a716-446655440000",
    "span_id": "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
}
TEMPLATE_FIELDS = {
    "id",
    "name",
    "version",
    "template_text",
    "description",
    "is_active",
    "created_at",
}


async def bearer(api: Api, role: Role = Role.ADMIN, workspace: str = "acme") -> dict[str, str]:
    return {"Authorization": f"Bearer {await api.key(workspace=workspace, role=role)}"}


async def post(api: Api, path: str, body: Any, **key: Any) -> Any:
    return await api.http.post(f"{BASE}{path}", json=body, headers=await bearer(api, **key))


async def get(api: Api, path: str, **key: Any) -> Any:
    return await api.http.get(f"{BASE}{path}", headers=await bearer(api, **key))


async def test_seed_create_answers_201_with_the_template_and_409_when_the_version_exists(
    api: Api,
) -> None:
    response = await post(api, "/", SEED_CREATE)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == TEMPLATE_FIELDS
    assert {k: body[k] for k in ("name", "version", "template_text", "description")} == {
        k: SEED_CREATE[k] for k in ("name", "version", "template_text", "description")
    }
    assert body["is_active"] is True
    assert isinstance(body["id"], str) and body["id"]
    assert datetime.fromisoformat(body["created_at"].replace("Z", "+00:00")).tzinfo is not None

    again = await post(api, "/", {**SEED_CREATE, "template_text": "other"})
    assert again.status_code == 409
    assert isinstance(again.json()["detail"], str)
    listed = (await get(api, "/classify-intent/versions")).json()
    assert [v["template_text"] for v in listed] == [SEED_CREATE["template_text"]]


async def test_create_defaults_to_version_1_and_the_version_is_graphqls(api: Api) -> None:
    response = await post(api, "/", {"name": "greet", "template_text": "Hi {{ who }}"})
    assert response.status_code == 201
    body = response.json()
    assert body["version"] == 1 and body["description"] is None
    seen = (
        await api.gql('{ promptVersion(name: "greet", version: 1) { id templateText isActive } }')
    ).ok()["promptVersion"]
    assert seen == {"id": body["id"], "templateText": "Hi {{ who }}", "isActive": True}


async def test_list_gives_every_version_by_name_then_newest_first_archived_included(
    api: Api,
) -> None:
    for name, version in [("b", 1), ("a", 1), ("b", 2), ("a", 2), ("a", 3)]:
        await api.create(name, f"{name} v{version}", version=version)
    await api.gql('mutation { archivePromptVersion(name: "a", version: 2) { version } }')
    response = await get(api, "/")
    assert response.status_code == 200
    body = response.json()
    assert [(v["name"], v["version"]) for v in body] == [
        ("a", 3),
        ("a", 2),
        ("a", 1),
        ("b", 2),
        ("b", 1),
    ]
    assert [v["is_active"] for v in body] == [True, False, True, True, True]
    assert all(set(v) == TEMPLATE_FIELDS for v in body)


async def test_list_is_not_cut_at_a_page(api: Api) -> None:
    for version in range(1, 106):
        await api.create("many", f"v{version}", version=version)
    body = (await get(api, "/")).json()
    assert [v["version"] for v in body] == list(range(105, 0, -1))
    body = (await get(api, "/many/versions")).json()
    assert len(body) == 105


async def test_versions_of_a_name_newest_first_and_404_for_unknown(api: Api) -> None:
    for version in (1, 2, 3):
        await api.create("classify-intent", f"v{version}", version=version)
    await api.create("other", "x")
    response = await get(api, "/classify-intent/versions")
    assert response.status_code == 200
    assert [(v["name"], v["version"]) for v in response.json()] == [
        ("classify-intent", 3),
        ("classify-intent", 2),
        ("classify-intent", 1),
    ]
    missing = await get(api, "/nope/versions")
    assert missing.status_code == 404
    assert set(missing.json()) == {"detail"} and "nope" in missing.json()["detail"]


async def test_compare_gives_the_seeds_fields_newest_first_equal_to_graphqls(api: Api) -> None:
    await api.create("classify-intent", "Classify the following lead inquiry...", version=2)
    assert (await post(api, "/", SEED_CREATE)).status_code == 201
    traces = [
        ("11111111-1111-4111-8111-111111111111", 3, "SUCCESS", 0.004, 1000.0),
        ("22222222-2222-4222-8222-222222222222", 3, "ERROR", 0.002, 2000.0),
        ("33333333-3333-4333-8333-333333333333", 2, "SUCCESS", 0.001, 500.0),
    ]
    for trace_id, version, status, cost, latency in traces:
        usage = {"prompt_name": "classify-intent", "prompt_version": version, "trace_id": trace_id}
        assert (await post(api, "/usage", usage)).status_code == 201
        await api.gql(
            "mutation($t: [TraceInput!]!) { recordTraces(traces: $t) { accepted } }",
            {"t": [{"traceId": trace_id, "status": status, "costUsd": cost, "latencyMs": latency}]},
        )
    response = await get(api, "/classify-intent/compare")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "classify-intent"
    assert [v["version"] for v in body["versions"]] == [3, 2]
    three = body["versions"][0]
    assert three == {
        "version": 3,
        "template_text": SEED_CREATE["template_text"],
        "total_traces": 2,
        "success_rate": 0.5,
        "avg_cost_usd": three["avg_cost_usd"],
        "avg_latency_ms": 1500.0,
        "p95_latency_ms": 1950.0,
    }
    assert abs(three["avg_cost_usd"] - 0.003) < 1e-12
    graphql = (
        await api.gql(
            """{ comparePromptVersions(name: "classify-intent") { name versions {
                 version templateText totalTraces successRate avgCostUsd avgLatencyMs
                 p95LatencyMs } } }"""
        )
    ).ok()["comparePromptVersions"]
    assert [
        [
            v["version"],
            v["templateText"],
            v["totalTraces"],
            v["successRate"],
            v["avgCostUsd"],
            v["avgLatencyMs"],
            v["p95LatencyMs"],
        ]
        for v in graphql["versions"]
    ] == [
        [
            v["version"],
            v["template_text"],
            v["total_traces"],
            v["success_rate"],
            v["avg_cost_usd"],
            v["avg_latency_ms"],
            v["p95_latency_ms"],
        ]
        for v in body["versions"]
    ]
    missing = await get(api, "/nope/compare")
    assert missing.status_code == 404 and isinstance(missing.json()["detail"], str)


async def test_seed_usage_is_recorded_idempotently_and_counts_in_graphql_metrics(api: Api) -> None:
    assert (await post(api, "/", SEED_CREATE)).status_code == 201
    for _ in range(2):
        response = await post(api, "/usage", SEED_USAGE)
        assert response.status_code == 201
        assert response.json() == {"status": "recorded"}
    other_span = {**SEED_USAGE, "span_id": None}
    assert (await post(api, "/usage", other_span)).status_code == 201
    metrics = (
        await api.gql(
            """{ promptVersion(name: "classify-intent", version: 3) {
                 metrics { totalTraces firstUsedAt } } }"""
        )
    ).ok()["promptVersion"]["metrics"]
    assert metrics["totalTraces"] == 1 and metrics["firstUsedAt"] is not None


async def test_usage_of_an_unknown_version_is_404_and_bad_ids_are_422(api: Api) -> None:
    await api.create("classify-intent", "x")
    missing = await post(api, "/usage", SEED_USAGE)
    assert missing.status_code == 404 and isinstance(missing.json()["detail"], str)
    bad = await post(api, "/usage", {**SEED_USAGE, "prompt_version": 1, "trace_id": "not-a-uuid"})
    assert bad.status_code == 422 and isinstance(bad.json()["detail"], str)
    assert "trace_id" in bad.json()["detail"]
    no_name = await post(api, "/usage", {"prompt_version": 1, "trace_id": SEED_USAGE["trace_id"]})
    assert no_name.status_code == 422


async def test_bad_create_input_is_422_and_saves_nothing(api: Api) -> None:
    for body in (
        {"name": "bad name!", "template_text": "x"},
        {"name": "ok", "version": 0, "template_text": "x"},
        {"name": "ok"},
        {"name": "ok", "template_text": "x", "version": "three"},
    ):
        response = await post(api, "/", body)
        assert response.status_code == 422, body
        assert isinstance(response.json()["detail"], str)
    assert (await get(api, "/")).json() == []


async def test_keys_roles_and_workspaces_are_graphqls(api: Api) -> None:
    await api.create("classify-intent", "x")
    for headers in ({}, {"Authorization": "Bearer pgk_nope_nope"}, {"Authorization": "Basic x"}):
        response = await api.http.get(f"{BASE}/", headers=headers)
        assert response.status_code == 401
        assert set(response.json()) == {"detail"}
    viewer = await post(api, "/", {"name": "new", "template_text": "x"}, role=Role.VIEWER)
    assert viewer.status_code == 403 and isinstance(viewer.json()["detail"], str)
    assert (await get(api, "/", role=Role.VIEWER)).status_code == 200
    assert (await get(api, "/new/versions")).status_code == 404
    # Another workspace's prompt does not exist for this key.
    assert (await get(api, "/", workspace="globex")).json() == []
    assert (await get(api, "/classify-intent/versions", workspace="globex")).status_code == 404
    assert (await get(api, "/classify-intent/compare", workspace="globex")).status_code == 404
    usage = {**SEED_USAGE, "prompt_version": 1}
    assert (await post(api, "/usage", usage, workspace="globex")).status_code == 404


async def test_nul_characters_are_422_and_save_nothing(api: Api) -> None:
    for body in (
        {"name": "p", "template_text": "a\u0000b"},
        {"name": "p", "template_text": "x", "description": "\u0000"},
    ):
        response = await post(api, "/", body)
        assert response.status_code == 422 and "NUL" in response.json()["detail"]
    assert (await get(api, "/")).json() == []
