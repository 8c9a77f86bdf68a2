"""Many clients writing at once (contract sections 1 and 4): auto-increment numbering,
overwrites kept as revisions, idempotent usage, labels that end on one version.

Each client is its own HTTP client with its own key and user, all against one app."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from promptgraph.app import create_app
from promptgraph.models import Usage
from promptgraph.services import auth
from promptgraph.services.auth import Role

CLIENTS = 5


@dataclass
class Client:
    user: str
    http: httpx.AsyncClient

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
async def clients(db) -> AsyncIterator[list[Client]]:
    app = create_app(db=db)
    opened = []
    for index in range(CLIENTS):
        user = f"writer-{index}"
        _, key = await auth.create_key(db, "acme", user, Role.EDITOR)
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://promptgraph",
            headers={"Authorization": f"Bearer {key}"},
        )
        opened.append(Client(user, http))
    yield opened
    for client in opened:
        await client.http.aclose()


def ok(body: dict[str, Any]) -> Any:
    assert not body.get("errors"), body
    return body["data"]


async def run_all(calls: list[Any]) -> list[dict[str, Any]]:
    bodies = await asyncio.gather(*calls)
    failures = [body["errors"] for body in bodies if body.get("errors")]
    assert failures == [], f"{len(failures)} of {len(bodies)} failed: {failures[:3]}"
    return bodies


SAVE_AUTO = """mutation($text: String!) {
  savePromptVersion(input: {name: "busy", templateText: $text, autoIncrement: true}) {
    version templateText createdBy
  }
}"""


async def test_fifty_auto_increment_saves_from_five_clients_get_versions_one_to_fifty(clients):
    calls, sent = [], {}
    for index, client in enumerate(clients):
        for save in range(10):
            text = f"client {index} save {save}"
            sent[text] = client.user
            calls.append(client.gql(SAVE_AUTO, {"text": text}))

    bodies = await run_all(calls)

    returned = [body["data"]["savePromptVersion"] for body in bodies]
    assert sorted(r["version"] for r in returned) == list(range(1, 51))
    listed = ok(
        await clients[0].gql(
            """{ prompt(name: "busy") { versionCount latestVersion { version }
                 versions(limit: 100) { pagination { total }
                   items { version templateText createdBy } } } }"""
        )
    )["prompt"]
    assert listed["versionCount"] == 50
    assert listed["latestVersion"] == {"version": 50}
    items = listed["versions"]["items"]
    assert listed["versions"]["pagination"]["total"] == 50
    assert [item["version"] for item in items] == list(range(50, 0, -1))
    # Every text landed in exactly one version, saved by the client that sent it, and each
    # response named the version its text went to.
    assert sorted(item["templateText"] for item in items) == sorted(sent)
    assert all(item["createdBy"] == sent[item["templateText"]] for item in items)
    stored = {item["version"]: item["templateText"] for item in items}
    assert all(stored[r["version"]] == r["templateText"] for r in returned)


SAVE_EXPLICIT = """mutation($text: String!) {
  savePromptVersion(input: {name: "hot", templateText: $text, version: 1}) { version }
}"""


async def test_fifty_explicit_saves_of_one_version_lose_nothing(clients):
    texts = [f"text {index}-{save}" for index in range(CLIENTS) for save in range(10)]
    calls = [clients[i % CLIENTS].gql(SAVE_EXPLICIT, {"text": t}) for i, t in enumerate(texts)]

    bodies = await run_all(calls)

    assert [body["data"]["savePromptVersion"]["version"] for body in bodies] == [1] * 50
    prompt = ok(
        await clients[0].gql(
            """{ prompt(name: "hot") { versionCount
                 version(version: 1) { templateText revisions { templateText replacedBy } } } }"""
        )
    )["prompt"]
    assert prompt["versionCount"] == 1
    version = prompt["version"]
    revisions = version["revisions"]
    assert len(revisions) == 49
    # The final content and the 49 it replaced are the 50 texts, each once.
    assert sorted([version["templateText"]] + [r["templateText"] for r in revisions]) == sorted(
        texts
    )
    assert {r["replacedBy"] for r in revisions} <= {client.user for client in clients}


RECORD = """mutation($trace: UUID!) {
  recordUsage(input: {promptName: "tracked", promptVersion: 1, traceId: $trace}) { status }
}"""


async def test_two_hundred_identical_record_usage_calls_make_one_usage(api, clients):
    await api.create("tracked", "t")
    trace = str(uuid.uuid4())

    bodies = await run_all([clients[i % CLIENTS].gql(RECORD, {"trace": trace}) for i in range(200)])

    assert {body["data"]["recordUsage"]["status"] for body in bodies} == {"recorded"}
    metrics = ok(
        await clients[0].gql(
            '{ promptVersion(name: "tracked", version: 1) '
            "{ metrics { totalTraces firstUsedAt lastUsedAt } } }"
        )
    )["promptVersion"]["metrics"]
    assert metrics["totalTraces"] == 1
    # One usage, first recorded once: its time is both the first and the last.
    assert metrics["firstUsedAt"] is not None
    assert metrics["firstUsedAt"] == metrics["lastUsedAt"]
    async with api.db.read() as session:
        rows = (await session.execute(select(func.count()).select_from(Usage))).scalar_one()
    assert rows == 1


SET_LABEL = """mutation($v: Int!) {
  setLabel(name: "labelled", label: "production", version: $v) { version labels }
}"""
LABEL_STATE = """{
  prompt(name: "labelled") {
    labels { name version }
    versions(limit: 20) { items { version labels } }
  }
  promptVersions(name: "labelled", label: "production") { pagination { total } items { version } }
  promptVersion(name: "labelled", label: "production") { version labels }
}"""


async def test_concurrent_set_label_to_ten_versions_ends_on_one(api, clients):
    for version in range(1, 11):
        await api.create("labelled", f"v{version}", version=version)

    # The first round creates the label, the others move it.
    for _ in range(3):
        calls = [clients[v % CLIENTS].gql(SET_LABEL, {"v": v}) for v in range(1, 11)]
        bodies = await run_all(calls)
        assert sorted(body["data"]["setLabel"]["version"] for body in bodies) == list(range(1, 11))

        data = ok(await clients[0].gql(LABEL_STATE))
        labels = data["prompt"]["labels"]
        assert [label["name"] for label in labels] == ["production"]
        holder = labels[0]["version"]
        assert holder in range(1, 11)
        # Prompt.labels and PromptVersion.labels tell the same story.
        holders = [
            item["version"]
            for item in data["prompt"]["versions"]["items"]
            if "production" in item["labels"]
        ]
        assert holders == [holder]
        assert all(
            item["labels"] in ([], ["production"]) for item in data["prompt"]["versions"]["items"]
        )
        assert data["promptVersions"] == {
            "pagination": {"total": 1},
            "items": [{"version": holder}],
        }
        assert data["promptVersion"] == {"version": holder, "labels": ["production"]}
