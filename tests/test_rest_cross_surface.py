"""One registry behind every surface: a version saved through one is seen identically through
GraphQL and the others, and usage recorded through AgentVista counts in GraphQL's metrics."""

from datetime import datetime
from typing import Any

from tests.conftest import Api

GRAPHQL_VERSION = """query($name: String!, $version: VersionSelector!) {
  promptVersion(name: $name, version: $version) {
    id name version fqn templateText description isActive createdAt updatedAt createdBy
    models tags variables type prompt { id } metrics { totalTraces successRate } } }"""


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def views(api: Api, name: str, version: int) -> dict[str, Any]:
    """The version as GraphQL, AgentVista and the prompt-versions list show it."""
    headers = {"Authorization": f"Bearer {await api.key()}"}
    graphql = (await api.gql(GRAPHQL_VERSION, {"name": name, "version": version})).ok()
    agentvista = await api.http.get(f"/api/v1/dashboard/prompts/{name}/versions", headers=headers)
    assert agentvista.status_code == 200
    listed = await api.http.get(
        f"/api/ml/v1/prompt-versions?name={name}&version={version}", headers=headers
    )
    assert listed.status_code == 200
    [item] = listed.json()["data"]
    everything = await api.http.get("/api/v1/dashboard/prompts/", headers=headers)
    return {
        "graphql": graphql["promptVersion"],
        "agentvista": next(v for v in agentvista.json() if v["version"] == version),
        "agentvista_all": next(
            v for v in everything.json() if v["name"] == name and v["version"] == version
        ),
        "prompt_versions": item,
    }


def assert_same(seen: dict[str, Any], text: str, description: str | None) -> None:
    graphql, item = seen["graphql"], seen["prompt_versions"]
    assert seen["agentvista"] == seen["agentvista_all"]
    template = seen["agentvista"]
    assert graphql["templateText"] == template["template_text"] == text
    assert item["manifest"]["template_text"] == text
    assert graphql["description"] == template["description"] == description
    assert item["manifest"]["description"] == description
    assert graphql["id"] == template["id"] == item["id"]
    assert graphql["version"] == template["version"] == item["manifest"]["version"]
    assert graphql["name"] == template["name"] == item["manifest"]["name"]
    assert graphql["fqn"] == item["fqn"]
    assert graphql["prompt"]["id"] == item["prompt_id"]
    assert graphql["isActive"] == template["is_active"]
    assert moment(graphql["createdAt"]) == moment(template["created_at"])
    assert moment(graphql["createdAt"]) == moment(item["created_at"])
    assert moment(graphql["updatedAt"]) == moment(item["updated_at"])
    assert graphql["createdBy"] == item["created_by_subject"]["subjectId"]
    assert graphql["tags"] == item["tags"]
    assert dict.fromkeys(graphql["variables"]) == item["manifest"]["variables"]


async def test_a_version_saved_through_the_save_api_is_the_same_everywhere(api: Api) -> None:
    response = await api.http.post(
        "/api/prompts/population-prompt?description=Updated%20description&autoIncrement=true",
        content='"What is the population of {{ country }} in 1994?"',
        headers={"X-Authorization": await api.key(), "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    seen = await views(api, "population-prompt", 1)
    assert_same(seen, "What is the population of {{ country }} in 1994?", "Updated description")


async def test_a_version_created_through_agentvista_is_the_same_everywhere(api: Api) -> None:
    response = await api.http.post(
        "/api/v1/dashboard/prompts/",
        json={"name": "classify-intent", "version": 3, "template_text": "Classify {{ inquiry }}"},
        headers={"Authorization": f"Bearer {await api.key()}"},
    )
    assert response.status_code == 201
    seen = await views(api, "classify-intent", 3)
    assert seen["agentvista"] == response.json()
    assert_same(seen, "Classify {{ inquiry }}", None)


async def test_a_version_saved_through_graphql_is_the_same_everywhere(api: Api) -> None:
    await api.create("greet", "Hello {{ who }}", description="first", tags=["a", "b"])
    await api.save("greet", "Hello again {{ who }}", description="second")
    assert_same(await views(api, "greet", 1), "Hello again {{ who }}", "second")


async def test_usage_recorded_through_agentvista_counts_in_graphql_metrics(api: Api) -> None:
    await api.create("classify-intent", "x", version=3)
    headers = {"Authorization": f"Bearer {await api.key()}"}
    trace_ids = [f"550e8400-e29b-41d4-a716-44665544000{n}" for n in range(3)]
    for trace_id in [*trace_ids, trace_ids[0]]:
        response = await api.http.post(
            "/api/v1/dashboard/prompts/usage",
            json={"prompt_name": "classify-intent", "prompt_version": 3, "trace_id": trace_id},
            headers=headers,
        )
        assert response.status_code == 201
    await api.gql(
        "mutation($t: [TraceInput!]!) { recordTraces(traces: $t) { accepted } }",
        {
            "t": [
                {"traceId": trace_ids[0], "status": "SUCCESS"},
                {"traceId": trace_ids[1], "status": "ERROR"},
            ]
        },
    )
    metrics = (await api.gql(GRAPHQL_VERSION, {"name": "classify-intent", "version": 3})).ok()[
        "promptVersion"
    ]["metrics"]
    assert metrics == {"totalTraces": 3, "successRate": 0.5}
    compared = await api.http.get(
        "/api/v1/dashboard/prompts/classify-intent/compare", headers=headers
    )
    [three] = compared.json()["versions"]
    assert (three["total_traces"], three["success_rate"]) == (3, 0.5)
