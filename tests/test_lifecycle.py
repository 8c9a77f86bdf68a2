"""The prompt lifecycle (contract sections 1 and 4.1): renames and aliases, deleting versions
and prompts, integrations, and batches of usages. What each does, what it refuses, that a
refused write changes nothing, and that concurrent writers never lose anything."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from promptgraph import migrations
from promptgraph.app import create_app
from promptgraph.db import Database
from promptgraph.models import PromptRevision, Trace, Usage, VersionTag
from promptgraph.services.auth import Role
from tests.conftest import Api, _postgres_admin, _url_of, run_blocking
from tests.test_response_cache import _listening

RENAME = """
mutation($name: String!, $newName: String!) {
  renamePrompt(name: $name, newName: $newName) { id name fqn aliases versionCount }
}
"""
REMOVE_ALIAS = """
mutation($name: String!, $alias: String!) {
  removePromptAlias(name: $name, alias: $alias) { name aliases }
}
"""
DELETE_VERSION = """
mutation($name: String!, $version: Int!) {
  deletePromptVersion(name: $name, version: $version) {
    name versionCount latestVersion { version } labels { name version }
    versions(includeArchived: true) { items { version } }
  }
}
"""
DELETE_PROMPT = """
mutation($name: String!) { deletePrompt(name: $name) { name versionsDeleted } }
"""
INTEGRATIONS = "{ integrations { name provider models } }"
CREATE_INTEGRATION = """
mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { name } }
"""
UPDATE_INTEGRATION = """
mutation($input: CreateIntegrationInput!) {
  updateIntegration(input: $input) { name provider models }
}
"""
DELETE_INTEGRATION = "mutation($name: String!) { deleteIntegration(name: $name) }"
RECORD_USAGE = "mutation($input: RecordUsageInput!) { recordUsage(input: $input) { status } }"
RECORD_USAGES = """
mutation($usages: [RecordUsageInput!]!) {
  recordUsages(usages: $usages) { recorded rejected { index code message } }
}
"""
SET_LABEL = """
mutation($name: String!, $label: String!, $version: Int!) {
  setLabel(name: $name, label: $label, version: $version) { name version labels }
}
"""
SAVE = """
mutation($input: SavePromptVersionInput!) { savePromptVersion(input: $input) { name version fqn } }
"""
CREATE = """
mutation($input: CreatePromptVersionInput!) {
  createPromptVersion(input: $input) { name version fqn type }
}
"""
ARCHIVE = """
mutation($name: String!, $version: Int!) {
  archivePromptVersion(name: $name, version: $version) { version isActive }
}
"""
METRICS = """
query($name: String!, $version: VersionSelector!) {
  promptVersion(name: $name, version: $version) {
    fqn metrics { totalTraces successRate avgCostUsd }
  }
}
"""
# Everything a workspace can read about its prompts and integrations.
SNAPSHOT = """
{
  integrations { name provider models }
  prompts(limit: 20) {
    pagination { total }
    items {
      id name fqn type createdAt updatedAt versionCount aliases
      labels { name version updatedAt }
      latestVersion { version }
      versions(includeArchived: true, limit: 25) {
        pagination { total }
        items {
          id version fqn templateText description models tags labels isActive updatedAt
          revisions { templateText replacedAt }
          metrics { totalTraces successRate avgCostUsd firstUsedAt }
        }
      }
    }
  }
}
"""


def trace() -> str:
    return str(uuid.uuid4())


async def other_key(api) -> str:
    return await api.key("other", "olga", Role.ADMIN)


async def snapshot(api, key: str | None = None) -> dict[str, Any]:
    data = (await api.gql(SNAPSHOT, key=key)).ok()
    assert data["prompts"]["pagination"]["total"] <= 20
    assert all(p["versions"]["pagination"]["total"] <= 25 for p in data["prompts"]["items"])
    return data


async def both_snapshots(api) -> tuple[dict[str, Any], dict[str, Any]]:
    return await snapshot(api), await snapshot(api, key=await other_key(api))


async def rename(api, name: str, new_name: str, key: str | None = None):
    return await api.gql(RENAME, {"name": name, "newName": new_name}, key=key)


async def usage(api, name: str, version: int, trace_id: str, **outcome: Any):
    variables = {
        "input": {
            "promptName": name,
            "promptVersion": version,
            "traceId": trace_id,
            "outcome": outcome or None,
        }
    }
    return await api.gql(RECORD_USAGE, variables)


async def metrics(api, name: str, version: int | str, key: str | None = None) -> dict[str, Any]:
    found = (await api.gql(METRICS, {"name": name, "version": version}, key=key)).ok()
    return found["promptVersion"]


async def integration(api, name: str, models: list[str], key: str | None = None) -> None:
    variables = {"input": {"name": name, "provider": "openai", "models": models}}
    (await api.gql(CREATE_INTEGRATION, variables, key=key)).ok()


async def seed(api) -> None:
    """`greet` (v1 tagged, overwritten once, used by a trace, labelled production; v2),
    `other-prompt`, which was once called `former`; an integration `openai`; and in workspace
    `other`, a prompt `greet` of its own with an alias `old-greet`."""
    await integration(api, "openai", ["gpt-4o", "gpt-4o-mini"])
    await api.create("greet", "Hello {{ who }}", tags=["stable"], models=["openai:gpt-4o"])
    await api.save("greet", "Hello there {{ who }}", version=1, models=["openai:gpt-4o"])
    await api.create("greet", "Hi {{ who }}", version=2)
    (await api.gql(SET_LABEL, {"name": "greet", "label": "production", "version": 1})).ok()
    (await usage(api, "greet", 1, trace(), status="SUCCESS", costUsd=0.5)).ok()
    await api.create("former", "Other")
    (await rename(api, "former", "other-prompt")).ok()
    other = await other_key(api)
    result = await api.gql(CREATE, {"input": {"name": "old-greet", "templateText": "x"}}, key=other)
    result.ok()
    (await rename(api, "old-greet", "greet", key=other)).ok()


# --- renamePrompt ----------------------------------------------------------------------------


async def test_rename_keeps_everything_and_the_old_name_keeps_resolving_everywhere(api):
    await seed(api)
    before = (await snapshot(api))["prompts"]["items"]
    greet = next(p for p in before if p["name"] == "greet")

    renamed = (await rename(api, "greet", "hello")).ok()["renamePrompt"]
    assert renamed == {
        "id": greet["id"],
        "name": "hello",
        "fqn": "prompt:acme/hello",
        "aliases": ["greet"],
        "versionCount": 2,
    }
    after = (await snapshot(api))["prompts"]["items"]
    hello = next(p for p in after if p["name"] == "hello")
    # Versions, tags, labels, revisions and analytics stay; FQNs follow the new name.
    for old, new in zip(greet["versions"]["items"], hello["versions"]["items"], strict=True):
        assert new["fqn"] == old["fqn"].replace("/greet:", "/hello:")
        assert {**new, "fqn": None, "updatedAt": None} == {**old, "fqn": None, "updatedAt": None}
    assert hello["labels"] == greet["labels"]
    assert hello["versions"]["items"][1]["metrics"]["totalTraces"] == 1

    lookups = (
        await api.gql(
            """{
      byName: prompt(name: "greet") { name aliases }
      byFqn: prompt(fqn: "prompt:acme/greet") { name }
      version: promptVersion(name: "greet", version: 1) { fqn name }
      byLabel: promptVersion(name: "greet", label: "production") { fqn }
      versionFqn: promptVersion(fqn: "prompt:acme/greet:1") { fqn }
      latestFqn: promptVersion(fqn: "prompt:acme/greet:latest") { fqn }
      list: promptVersions(name: "greet") { pagination { total } items { fqn } }
      listFqn: promptVersions(fqn: "prompt:acme/greet") { pagination { total } }
      listFqnVersion: promptVersions(fqn: "prompt:acme/greet:2") { items { fqn } }
      listBoth: promptVersions(name: "hello", fqn: "prompt:acme/greet") { pagination { total } }
      compare: comparePromptVersions(name: "greet") { name baselineVersion }
      searchOld: prompts(search: "greet") { pagination { total } }
      searchNew: prompts(search: "HELL") { items { name } }
    }"""
        )
    ).ok()
    assert lookups == {
        "byName": {"name": "hello", "aliases": ["greet"]},
        "byFqn": {"name": "hello"},
        "version": {"fqn": "prompt:acme/hello:1", "name": "hello"},
        "byLabel": {"fqn": "prompt:acme/hello:1"},
        "versionFqn": {"fqn": "prompt:acme/hello:1"},
        "latestFqn": {"fqn": "prompt:acme/hello:2"},
        "list": {
            "pagination": {"total": 2},
            "items": [{"fqn": "prompt:acme/hello:2"}, {"fqn": "prompt:acme/hello:1"}],
        },
        "listFqn": {"pagination": {"total": 2}},
        "listFqnVersion": {"items": [{"fqn": "prompt:acme/hello:2"}]},
        "listBoth": {"pagination": {"total": 2}},
        "compare": {"name": "hello", "baselineVersion": 1},
        # search matches current names only; the alias finds the prompt by exact name.
        "searchOld": {"pagination": {"total": 0}},
        "searchNew": {"items": [{"name": "hello"}]},
    }
    # The other workspace's prompt `greet` is another prompt, untouched.
    other = await snapshot(api, key=await other_key(api))
    assert [(p["name"], p["aliases"]) for p in other["prompts"]["items"]] == [
        ("greet", ["old-greet"])
    ]


async def test_every_mutation_taking_a_prompt_name_accepts_an_alias(api):
    await api.create("greet", "v1 {{ who }}")
    (await rename(api, "greet", "hello")).ok()
    steps = [
        (SET_LABEL, {"name": "greet", "label": "staging", "version": 1}),
        (
            'mutation { setPromptVersionTags(name: "greet", version: 1, tags: ["a"]) { tags } }',
            {},
        ),
        (SAVE, {"input": {"name": "greet", "templateText": "v2", "autoIncrement": True}}),
        # Creating under an alias adds a version to the prompt it names.
        (CREATE, {"input": {"name": "greet", "templateText": "v3", "version": 3}}),
        (ARCHIVE, {"name": "greet", "version": 3}),
        ('mutation { removeLabel(name: "greet", label: "staging") { name } }', {}),
    ]
    for document, variables in steps:
        (await api.gql(document, variables)).ok()
    (await usage(api, "greet", 2, trace(), status="SUCCESS")).ok()
    batch = [{"promptName": "greet", "promptVersion": 1, "traceId": trace()}]
    recorded = (await api.gql(RECORD_USAGES, {"usages": batch})).ok()["recordUsages"]
    assert recorded == {"recorded": 1, "rejected": []}

    hello = (
        await api.gql(
            """{ prompt(name: "hello") { name aliases labels { name }
                 versions(includeArchived: true) { items { version fqn tags isActive
                   metrics { totalTraces } } } } }"""
        )
    ).ok()["prompt"]
    assert hello == {
        "name": "hello",
        "aliases": ["greet"],
        "labels": [],
        "versions": {
            "items": [
                {
                    "version": 3,
                    "fqn": "prompt:acme/hello:3",
                    "tags": [],
                    "isActive": False,
                    "metrics": {"totalTraces": 0},
                },
                {
                    "version": 2,
                    "fqn": "prompt:acme/hello:2",
                    "tags": [],
                    "isActive": True,
                    "metrics": {"totalTraces": 1},
                },
                {
                    "version": 1,
                    "fqn": "prompt:acme/hello:1",
                    "tags": ["a"],
                    "isActive": True,
                    "metrics": {"totalTraces": 1},
                },
            ]
        },
    }
    prompts = (await api.gql("{ prompts { items { name } } }")).ok()["prompts"]["items"]
    assert prompts == [{"name": "hello"}]


async def test_a_version_of_the_other_type_under_an_alias_is_refused(api):
    await api.create("greet", "text")
    (await rename(api, "greet", "hello")).ok()
    before = await both_snapshots(api)
    chat = {"name": "greet", "messages": [{"role": "user", "content": "hi"}]}
    result = await api.gql(CREATE, {"input": {**chat, "version": 2}})
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert await both_snapshots(api) == before


async def test_renaming_to_an_own_alias_swaps_them_and_aliases_are_sorted(api):
    await api.create("b-name", "t")
    (await rename(api, "b-name", "c-name")).ok()
    (await rename(api, "c-name", "a-name")).ok()
    assert (await rename(api, "a-name", "d-name")).ok()["renamePrompt"]["aliases"] == [
        "a-name",
        "b-name",
        "c-name",
    ]
    swapped = (await rename(api, "d-name", "b-name")).ok()["renamePrompt"]
    assert (swapped["name"], swapped["aliases"]) == ("b-name", ["a-name", "c-name", "d-name"])
    # Renaming by an alias renames the prompt it names.
    again = (await rename(api, "a-name", "e-name")).ok()["renamePrompt"]
    assert (again["name"], again["aliases"]) == ("e-name", ["a-name", "b-name", "c-name", "d-name"])


async def test_renaming_to_the_current_name_changes_nothing(api):
    await api.create("greet", "t")
    before = await both_snapshots(api)
    renamed = (await rename(api, "greet", "greet")).ok()["renamePrompt"]
    assert (renamed["name"], renamed["aliases"]) == ("greet", [])
    assert await both_snapshots(api) == before
    # A retry of a rename that went through: nothing more changes either.
    (await rename(api, "greet", "hello")).ok()
    before = await both_snapshots(api)
    retried = (await rename(api, "greet", "hello")).ok()["renamePrompt"]
    assert (retried["name"], retried["aliases"]) == ("hello", ["greet"])
    assert await both_snapshots(api) == before


@pytest.mark.parametrize(
    ("name", "new_name", "code"),
    [
        ("greet", "other-prompt", "CONFLICT"),  # another prompt's name
        ("greet", "former", "CONFLICT"),  # another prompt's alias
        ("other-prompt", "greet", "CONFLICT"),
        ("former", "greet", "CONFLICT"),  # by alias, onto another prompt's name
        ("missing", "fresh", "NOT_FOUND"),
        ("greet", "bad name", "BAD_USER_INPUT"),
        ("greet", "", "BAD_USER_INPUT"),
        ("greet", "x" * 129, "BAD_USER_INPUT"),
        ("bad/name", "fresh", "BAD_USER_INPUT"),
    ],
)
async def test_refused_rename_changes_nothing(api, name, new_name, code):
    await seed(api)
    before = await both_snapshots(api)
    result = await rename(api, name, new_name)
    assert result.codes == [code], result.body
    assert result.data is None
    assert await both_snapshots(api) == before


async def test_a_taken_name_is_not_free_in_another_workspace_and_vice_versa(api):
    await seed(api)
    # `old-greet` is an alias in `other` only: free here.
    renamed = (await rename(api, "other-prompt", "old-greet")).ok()["renamePrompt"]
    assert renamed["aliases"] == ["former", "other-prompt"]


# --- removePromptAlias ----------------------------------------------------------------------


async def test_removing_an_alias_frees_the_name(api):
    await seed(api)
    removed = await api.gql(REMOVE_ALIAS, {"name": "other-prompt", "alias": "former"})
    assert removed.ok()["removePromptAlias"] == {"name": "other-prompt", "aliases": []}
    gone = (
        await api.gql(
            '{ prompt(name: "former") { name } promptVersions(name: "former") { pagination { total } } }'
        )
    ).ok()
    assert gone == {"prompt": None, "promptVersions": {"pagination": {"total": 0}}}
    refused = await usage(api, "former", 1, trace())
    assert refused.codes == ["NOT_FOUND"]
    # The name is free: a new prompt takes it.
    created = (await api.gql(CREATE, {"input": {"name": "former", "templateText": "new"}})).ok()
    assert created["createPromptVersion"]["fqn"] == "prompt:acme/former:1"
    names = (await api.gql("{ prompts { items { name versionCount } } }")).ok()
    assert names["prompts"]["items"] == [
        {"name": "former", "versionCount": 1},
        {"name": "greet", "versionCount": 2},
        {"name": "other-prompt", "versionCount": 1},
    ]


@pytest.mark.parametrize(
    ("name", "alias", "code"),
    [
        ("other-prompt", "greet", "NOT_FOUND"),  # another prompt's name
        ("other-prompt", "other-prompt", "NOT_FOUND"),  # its own name is no alias
        ("greet", "former", "NOT_FOUND"),  # another prompt's alias
        ("greet", "never", "NOT_FOUND"),
        ("missing", "former", "NOT_FOUND"),
        ("other-prompt", "old-greet", "NOT_FOUND"),  # an alias in another workspace
        ("other-prompt", "bad alias", "BAD_USER_INPUT"),
    ],
)
async def test_refused_alias_removal_changes_nothing(api, name, alias, code):
    await seed(api)
    before = await both_snapshots(api)
    result = await api.gql(REMOVE_ALIAS, {"name": name, "alias": alias})
    assert result.codes == [code], result.body
    assert await both_snapshots(api) == before


# --- roles ----------------------------------------------------------------------------------

ROLE_CASES = [
    (Role.VIEWER, RENAME, {"name": "greet", "newName": "hello"}),
    (Role.VIEWER, REMOVE_ALIAS, {"name": "other-prompt", "alias": "former"}),
    (Role.EDITOR, DELETE_VERSION, {"name": "greet", "version": 2}),
    (Role.EDITOR, DELETE_PROMPT, {"name": "greet"}),
    (
        Role.EDITOR,
        UPDATE_INTEGRATION,
        {"input": {"name": "openai", "provider": "x", "models": ["m"]}},
    ),
    (Role.EDITOR, DELETE_INTEGRATION, {"name": "openai"}),
    (
        Role.VIEWER,
        RECORD_USAGES,
        {"usages": [{"promptName": "greet", "promptVersion": 1, "traceId": str(uuid.UUID(int=7))}]},
    ),
]


@pytest.mark.parametrize(("role", "document", "variables"), ROLE_CASES)
async def test_a_role_too_low_is_forbidden_and_changes_nothing(api, role, document, variables):
    await seed(api)
    before = await both_snapshots(api)
    result = await api.gql(document, variables, key=await api.key(role=role))
    assert result.codes == ["FORBIDDEN"], result.body
    assert await both_snapshots(api) == before


async def test_editors_rename_and_remove_aliases_admins_delete(api):
    await seed(api)
    editor = await api.key(role=Role.EDITOR)
    (await rename(api, "greet", "hello", key=editor)).ok()
    (await api.gql(REMOVE_ALIAS, {"name": "hello", "alias": "greet"}, key=editor)).ok()
    (await api.gql(DELETE_VERSION, {"name": "hello", "version": 2})).ok()
    (await api.gql(DELETE_PROMPT, {"name": "hello"})).ok()


# --- deletePromptVersion --------------------------------------------------------------------


async def _count(db, model, version_id: int) -> int:
    async with db.read() as session:
        statement = select(func.count()).select_from(model).where(model.version_id == version_id)
        return (await session.execute(statement)).scalar_one()


async def test_deleting_a_version_moves_its_labels_to_the_latest_remaining_active_one(api):
    for number in range(1, 5):
        await api.create("greet", f"v{number}", version=number, tags=["t"])
    (await api.gql(ARCHIVE, {"name": "greet", "version": 3})).ok()
    for label, number in (("production", 4), ("staging", 4), ("canary", 1)):
        (await api.gql(SET_LABEL, {"name": "greet", "label": label, "version": number})).ok()
    shared, own = trace(), trace()
    (await usage(api, "greet", 4, shared, status="SUCCESS", costUsd=2.0)).ok()
    (await usage(api, "greet", 2, shared)).ok()
    (await usage(api, "greet", 4, own, status="ERROR")).ok()
    await api.save("greet", "v4 again", version=4)
    v4_id = int(
        (await api.gql('{ promptVersion(name: "greet", version: 4) { id } }')).ok()[
            "promptVersion"
        ]["id"]
    )
    assert await _count(api.db, PromptRevision, v4_id) == 1

    deleted = (await api.gql(DELETE_VERSION, {"name": "greet", "version": 4})).ok()
    assert deleted["deletePromptVersion"] == {
        "name": "greet",
        "versionCount": 3,
        "latestVersion": {"version": 2},
        # Archived v3 is skipped: the labels land on v2, the latest active one.
        "labels": [
            {"name": "canary", "version": 1},
            {"name": "production", "version": 2},
            {"name": "staging", "version": 2},
        ],
        "versions": {"items": [{"version": 3}, {"version": 2}, {"version": 1}]},
    }
    gone = (
        await api.gql(
            """{ v4: promptVersion(name: "greet", version: 4) { version }
                 byFqn: promptVersion(fqn: "prompt:acme/greet:4") { version }
                 tagged: promptVersions(tag: "t", includeArchived: true) { items { version } }
                 production: promptVersion(name: "greet", label: "production") { version labels } }"""
        )
    ).ok()
    assert gone == {
        "v4": None,
        "byFqn": None,
        "tagged": {"items": [{"version": 3}, {"version": 2}, {"version": 1}]},
        "production": {"version": 2, "labels": ["production", "staging"]},
    }
    # Its tags, revisions and usages are gone; the traces stay (v2 still sees the shared one).
    for model in (VersionTag, PromptRevision, Usage):
        assert await _count(api.db, model, v4_id) == 0
    async with api.db.read() as session:
        traces = (await session.execute(select(func.count()).select_from(Trace))).scalar_one()
    assert traces == 2
    assert (await metrics(api, "greet", 2))["metrics"] == {
        "totalTraces": 1,
        "successRate": 1.0,
        "avgCostUsd": 2.0,
    }


async def test_deleting_the_last_active_version_removes_its_labels_and_the_prompt_stays(api):
    await api.create("greet", "v1")
    await api.create("greet", "v2", version=2)
    (await api.gql(ARCHIVE, {"name": "greet", "version": 1})).ok()
    (await api.gql(SET_LABEL, {"name": "greet", "label": "production", "version": 2})).ok()
    first = (await api.gql(DELETE_VERSION, {"name": "greet", "version": 2})).ok()
    assert first["deletePromptVersion"] == {
        "name": "greet",
        "versionCount": 1,
        "latestVersion": None,
        "labels": [],
        "versions": {"items": [{"version": 1}]},
    }
    second = (await api.gql(DELETE_VERSION, {"name": "greet", "version": 1})).ok()
    assert second["deletePromptVersion"] == {
        "name": "greet",
        "versionCount": 0,
        "latestVersion": None,
        "labels": [],
        "versions": {"items": []},
    }
    listed = (
        await api.gql("{ prompts { items { name versionCount latestVersion { version } } } }")
    ).ok()
    assert listed["prompts"]["items"] == [
        {"name": "greet", "versionCount": 0, "latestVersion": None}
    ]
    # The prompt keeps its type: a version of the other type is still refused.
    chat = {"name": "greet", "messages": [{"role": "user", "content": "hi"}], "autoIncrement": True}
    assert (await api.gql(SAVE, {"input": chat})).codes == ["BAD_USER_INPUT"]


async def test_deleted_version_numbers_are_never_reused(api):
    for number in range(1, 4):
        await api.create("greet", f"v{number}", version=number)
    (await api.gql(DELETE_VERSION, {"name": "greet", "version": 3})).ok()
    auto = {"name": "greet", "templateText": "next", "autoIncrement": True}
    assert (await api.gql(SAVE, {"input": auto})).ok()["savePromptVersion"]["version"] == 4
    (await api.gql(DELETE_VERSION, {"name": "greet", "version": 4})).ok()
    (await api.gql(DELETE_VERSION, {"name": "greet", "version": 1})).ok()
    before = await both_snapshots(api)
    for document, input in (
        (CREATE, {"name": "greet", "templateText": "x", "version": 4}),
        (CREATE, {"name": "greet", "templateText": "x", "version": 1}),
        (SAVE, {"name": "greet", "templateText": "x", "version": 3}),
        (SAVE, {"name": "greet", "templateText": "x"}),  # version 1, deleted
    ):
        result = await api.gql(document, {"input": input})
        assert result.codes == ["CONFLICT"], (input, result.body)
    assert await both_snapshots(api) == before
    assert (await api.gql(SAVE, {"input": auto})).ok()["savePromptVersion"]["version"] == 5
    # Overwriting a version that still exists is unaffected.
    overwrite = {"name": "greet", "templateText": "v2 again", "version": 2}
    assert (await api.gql(SAVE, {"input": overwrite})).ok()["savePromptVersion"]["version"] == 2


async def test_a_version_can_be_deleted_by_an_alias(api):
    await api.create("greet", "v1")
    await api.create("greet", "v2", version=2)
    (await rename(api, "greet", "hello")).ok()
    deleted = (await api.gql(DELETE_VERSION, {"name": "greet", "version": 2})).ok()
    assert deleted["deletePromptVersion"]["name"] == "hello"
    assert deleted["deletePromptVersion"]["versionCount"] == 1


@pytest.mark.parametrize(
    ("name", "version", "code"),
    [
        ("greet", 3, "NOT_FOUND"),
        ("missing", 1, "NOT_FOUND"),
        ("old-greet", 1, "NOT_FOUND"),  # an alias of another workspace
        ("greet", 0, "BAD_USER_INPUT"),
        ("greet", -1, "BAD_USER_INPUT"),
        ("bad name", 1, "BAD_USER_INPUT"),
    ],
)
async def test_refused_version_deletion_changes_nothing(api, name, version, code):
    await seed(api)
    before = await both_snapshots(api)
    result = await api.gql(DELETE_VERSION, {"name": name, "version": version})
    assert result.codes == [code], result.body
    assert await both_snapshots(api) == before


# --- deletePrompt ---------------------------------------------------------------------------


async def test_deleting_a_prompt_removes_everything_of_it_and_frees_its_names(api):
    await seed(api)
    shared = trace()
    (await usage(api, "greet", 2, shared, status="SUCCESS", costUsd=1.0)).ok()
    (await rename(api, "greet", "hello")).ok()
    other_before = await snapshot(api, key=await other_key(api))
    before = (await snapshot(api))["prompts"]["items"]

    deleted = (await api.gql(DELETE_PROMPT, {"name": "greet"})).ok()  # by its alias
    assert deleted == {"deletePrompt": {"name": "hello", "versionsDeleted": 2}}
    after = await snapshot(api)
    assert after["prompts"]["items"] == [p for p in before if p["name"] != "hello"]
    assert after["integrations"] == [
        {"name": "openai", "provider": "openai", "models": ["gpt-4o", "gpt-4o-mini"]}
    ]
    assert await snapshot(api, key=await other_key(api)) == other_before
    for name in ("hello", "greet"):
        found = (
            await api.gql("query($n: String!) { prompt(name: $n) { name } }", {"n": name})
        ).ok()
        assert found == {"prompt": None}
        assert (await usage(api, name, 1, trace())).codes == ["NOT_FOUND"]
    async with api.db.read() as session:
        usages = (await session.execute(select(func.count()).select_from(Usage))).scalar_one()
    assert usages == 0
    # Both names are free; the trace's outcome stayed, and a new prompt's usage of it sees it.
    created = (await api.gql(CREATE, {"input": {"name": "greet", "templateText": "new"}})).ok()
    assert created["createPromptVersion"]["fqn"] == "prompt:acme/greet:1"
    (await rename(api, "other-prompt", "hello")).ok()
    (await usage(api, "greet", 1, shared)).ok()
    assert (await metrics(api, "greet", 1))["metrics"] == {
        "totalTraces": 1,
        "successRate": 1.0,
        "avgCostUsd": 1.0,
    }
    fresh = (
        await api.gql('{ prompt(name: "greet") { versionCount labels { name } aliases } }')
    ).ok()
    assert fresh == {"prompt": {"versionCount": 1, "labels": [], "aliases": []}}


@pytest.mark.parametrize(
    ("name", "code"),
    [("missing", "NOT_FOUND"), ("old-greet", "NOT_FOUND"), ("bad name", "BAD_USER_INPUT")],
)
async def test_refused_prompt_deletion_changes_nothing(api, name, code):
    await seed(api)
    before = await both_snapshots(api)
    result = await api.gql(DELETE_PROMPT, {"name": name})
    assert result.codes == [code], result.body
    assert await both_snapshots(api) == before


# --- integrations ---------------------------------------------------------------------------


async def test_integrations_are_listed_by_name_for_every_role(api):
    await integration(api, "zeta", ["b", "a", "b"])
    await integration(api, "alpha", ["m"])
    await integration(api, "elsewhere", ["m"], key=await other_key(api))
    expected = {
        "integrations": [
            {"name": "alpha", "provider": "openai", "models": ["m"]},
            {"name": "zeta", "provider": "openai", "models": ["a", "b"]},
        ]
    }
    for role in Role:
        assert (await api.gql(INTEGRATIONS, key=await api.key(role=role))).ok() == expected


async def test_update_integration_replaces_provider_and_models(api):
    await integration(api, "openai", ["gpt-4o", "gpt-4o-mini"])
    await api.create("greet", "t", models=["openai:gpt-4o"])
    variables = {"input": {"name": "openai", "provider": "azure", "models": ["o1", "gpt-4o", "o1"]}}
    updated = (await api.gql(UPDATE_INTEGRATION, variables)).ok()
    assert updated == {
        "updateIntegration": {"name": "openai", "provider": "azure", "models": ["gpt-4o", "o1"]}
    }
    assert (await api.gql(INTEGRATIONS)).ok()["integrations"] == [updated["updateIntegration"]]
    # The new model can be used, the dropped one no longer.
    uses = {"name": "greet", "templateText": "t", "autoIncrement": True}
    (await api.gql(SAVE, {"input": {**uses, "models": ["openai:o1"]}})).ok()
    refused = await api.gql(SAVE, {"input": {**uses, "models": ["openai:gpt-4o-mini"]}})
    assert refused.codes == ["NOT_FOUND"]


@pytest.mark.parametrize(
    ("models", "code"),
    [
        (["gpt-4o-mini"], "CONFLICT"),  # would drop gpt-4o, which greet v1 uses
        ([], "BAD_USER_INPUT"),
        ([""], "BAD_USER_INPUT"),
    ],
)
async def test_refused_integration_update_changes_nothing(api, models, code):
    await seed(api)
    before = await both_snapshots(api)
    variables = {"input": {"name": "openai", "provider": "azure", "models": models}}
    result = await api.gql(UPDATE_INTEGRATION, variables)
    assert result.codes == [code], result.body
    assert await both_snapshots(api) == before


async def test_integration_updates_and_deletes_of_missing_ones_are_not_found(api):
    await seed(api)
    await integration(api, "azure", ["m"], key=await other_key(api))
    before = await both_snapshots(api)
    for name in ("missing", "azure"):
        variables = {"input": {"name": name, "provider": "x", "models": ["m"]}}
        assert (await api.gql(UPDATE_INTEGRATION, variables)).codes == ["NOT_FOUND"]
        assert (await api.gql(DELETE_INTEGRATION, {"name": name})).codes == ["NOT_FOUND"]
    assert (await api.gql(DELETE_INTEGRATION, {"name": "bad name"})).codes == ["BAD_USER_INPUT"]
    assert await both_snapshots(api) == before


async def test_an_integration_in_use_cannot_be_deleted_until_no_version_uses_it(api):
    await integration(api, "openai", ["gpt-4o"])
    # Names that a careless text match on "openai" would mistake for it.
    await integration(api, "open", ["ai"])
    await integration(api, "open_i", ["x"])
    await api.create("greet", "t", models=["openai:gpt-4o"])
    await api.create("greet", "t", version=2)
    (await api.gql(ARCHIVE, {"name": "greet", "version": 1})).ok()
    before = await both_snapshots(api)
    refused = await api.gql(DELETE_INTEGRATION, {"name": "openai"})
    assert refused.codes == ["CONFLICT"], refused.body
    assert "greet" in refused.errors[0]["message"]
    assert await both_snapshots(api) == before
    for unused in ("open", "open_i"):
        assert (await api.gql(DELETE_INTEGRATION, {"name": unused})).ok() == {
            "deleteIntegration": True
        }
    (await api.gql(DELETE_VERSION, {"name": "greet", "version": 1})).ok()
    assert (await api.gql(DELETE_INTEGRATION, {"name": "openai"})).ok() == {
        "deleteIntegration": True
    }
    assert (await api.gql(INTEGRATIONS)).ok() == {"integrations": []}
    # Its name is free again.
    await integration(api, "openai", ["gpt-5"])


# --- recordUsages ---------------------------------------------------------------------------


async def test_record_usages_records_the_valid_ones_and_rejects_each_invalid_one(api):
    await seed(api)
    (await rename(api, "greet", "hello")).ok()
    good, rejected_trace = trace(), trace()
    usages = [
        {
            "promptName": "hello",
            "promptVersion": 2,
            "traceId": good,
            "outcome": {"status": "SUCCESS", "costUsd": 1.0},
        },
        {
            "promptName": "missing",
            "promptVersion": 1,
            "traceId": rejected_trace,
            "outcome": {"status": "ERROR"},
        },
        {"promptName": "hello", "promptVersion": 9, "traceId": rejected_trace},
        {"promptName": "bad name", "promptVersion": 1, "traceId": rejected_trace},
        {"promptName": "hello", "promptVersion": 0, "traceId": rejected_trace},
        {
            "promptName": "hello",
            "promptVersion": 2,
            "traceId": rejected_trace,
            "outcome": {"costUsd": -1.0},
        },
        {"promptName": "greet", "promptVersion": 2, "traceId": good, "spanId": trace()},
        {"promptName": "old-greet", "promptVersion": 1, "traceId": rejected_trace},
        {"promptName": "hello", "promptVersion": 1, "traceId": good},
    ]
    result = (await api.gql(RECORD_USAGES, {"usages": usages})).ok()["recordUsages"]
    assert result["recorded"] == 3
    assert [(r["index"], r["code"]) for r in result["rejected"]] == [
        (1, "NOT_FOUND"),
        (2, "NOT_FOUND"),
        (3, "BAD_USER_INPUT"),
        (4, "BAD_USER_INPUT"),
        (5, "BAD_USER_INPUT"),
        (7, "NOT_FOUND"),
    ]
    messages = [r["message"] for r in result["rejected"]]
    assert "'missing'" in messages[0] and "version 9" in messages[1]
    assert "promptName" in messages[2] and "promptVersion" in messages[3]
    assert "cost_usd" in messages[4]
    assert all("SELECT" not in m for m in messages)
    assert (await metrics(api, "hello", 2))["metrics"] == {
        "totalTraces": 1,
        "successRate": 1.0,
        "avgCostUsd": 1.0,
    }
    assert (await metrics(api, "hello", 1))["metrics"]["totalTraces"] == 2
    # The rejected items changed nothing: their trace has no outcome, in either workspace.
    async with api.db.read() as session:
        stored = (
            await session.execute(select(Trace).where(Trace.trace_id == uuid.UUID(rejected_trace)))
        ).all()
    assert stored == []
    other = await snapshot(api, key=await other_key(api))
    assert other["prompts"]["items"][0]["versions"]["items"][0]["metrics"]["totalTraces"] == 0

    # Idempotent: the same batch again records the same and changes nothing.
    before = await both_snapshots(api)
    again = (await api.gql(RECORD_USAGES, {"usages": usages})).ok()["recordUsages"]
    assert again == result
    assert await both_snapshots(api) == before


async def test_record_usages_takes_up_to_a_thousand(api):
    await api.create("greet", "t")
    usages = [{"promptName": "greet", "promptVersion": 1, "traceId": trace()} for _ in range(1001)]
    before = await both_snapshots(api)
    refused = await api.gql(RECORD_USAGES, {"usages": usages})
    assert refused.codes == ["BAD_USER_INPUT"], refused.body
    assert await both_snapshots(api) == before
    accepted = (await api.gql(RECORD_USAGES, {"usages": usages[:1000]})).ok()
    assert accepted == {"recordUsages": {"recorded": 1000, "rejected": []}}
    assert (await metrics(api, "greet", 1))["metrics"]["totalTraces"] == 1000
    empty = (await api.gql(RECORD_USAGES, {"usages": []})).ok()
    assert empty == {"recordUsages": {"recorded": 0, "rejected": []}}


async def test_a_malformed_trace_id_refuses_the_whole_batch(api):
    await api.create("greet", "t")
    before = await both_snapshots(api)
    usages = [
        {"promptName": "greet", "promptVersion": 1, "traceId": trace()},
        {"promptName": "greet", "promptVersion": 1, "traceId": "not-a-uuid"},
    ]
    result = await api.gql(RECORD_USAGES, {"usages": usages})
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert await both_snapshots(api) == before


# The key lookup on SQLite (PostgreSQL remembers keys), then one statement each: the
# versions the items name, the usages, the outcomes.
BATCH_STATEMENTS = {"sqlite": 4, "postgres": 3}


@pytest.mark.parametrize("size", [5, 500])
async def test_record_usages_costs_the_same_statements_whatever_its_size(
    api, statements, backend, size
):
    for index in range(3):
        await api.create(f"p{index}", "t")
        await api.create(f"p{index}", "t", version=2)
    (await rename(api, "p0", "renamed")).ok()
    names = ["p0", "renamed", "p1", "p2", "missing"]
    usages = [
        {
            "promptName": names[index % 5],
            "promptVersion": 1 + index % 3,
            "traceId": trace(),
            "outcome": {"status": "SUCCESS", "latencyMs": float(index)},
        }
        for index in range(size)
    ]
    if backend == "postgres":
        await _listening(api.db)
    (await api.gql("{ viewer { user } }")).ok()  # PostgreSQL now remembers the key
    statements.reset()
    result = (await api.gql(RECORD_USAGES, {"usages": usages})).ok()["recordUsages"]
    expected_rejected = [i for i in range(size) if i % 5 == 4 or i % 3 == 2]
    assert [r["index"] for r in result["rejected"]] == expected_rejected
    assert result["recorded"] == size - len(expected_rejected)
    assert statements.count == BATCH_STATEMENTS[backend], "\n".join(
        s[:120].replace("\n", " ") for s in statements.statements
    )


# --- concurrency ----------------------------------------------------------------------------


async def test_a_rename_racing_saves_and_usages_under_the_old_name_loses_nothing(api):
    await api.create("old", "v1")
    traces = [trace() for _ in range(20)]
    saves = [
        api.gql(
            SAVE, {"input": {"name": "old", "templateText": f"draft {i}", "autoIncrement": True}}
        )
        for i in range(20)
    ]
    usages = [usage(api, "old", 1, trace_id) for trace_id in traces]
    batch = api.gql(
        RECORD_USAGES,
        {"usages": [{"promptName": "old", "promptVersion": 1, "traceId": t} for t in traces[:5]]},
    )
    results = await asyncio.gather(
        *saves[:10], rename(api, "old", "new"), *saves[10:], *usages, batch
    )
    assert [r.errors for r in results] == [[]] * len(results)
    assert results[-1].data["recordUsages"] == {"recorded": 5, "rejected": []}
    numbers = sorted(r.data["savePromptVersion"]["version"] for r in results[:10] + results[11:21])
    assert numbers == list(range(2, 22))
    state = (
        await api.gql(
            """{ prompts { items { name aliases versionCount
                 versions(limit: 30) { items { templateText } } } }
                 v1: promptVersion(name: "old", version: 1) { fqn metrics { totalTraces } } }"""
        )
    ).ok()
    [prompt] = state["prompts"]["items"]
    assert (prompt["name"], prompt["aliases"], prompt["versionCount"]) == ("new", ["old"], 21)
    texts = sorted(v["templateText"] for v in prompt["versions"]["items"])
    assert texts == sorted(["v1", *(f"draft {i}" for i in range(20))])
    assert state["v1"] == {"fqn": "prompt:acme/new:1", "metrics": {"totalTraces": 20}}


async def test_concurrent_renames_to_one_name_have_one_winner(api):
    for index in range(6):
        await api.create(f"p{index}", "t")
    results = await asyncio.gather(*(rename(api, f"p{i}", "target") for i in range(6)))
    winners = [r.data["renamePrompt"] for r in results if not r.errors]
    assert len(winners) == 1
    assert sorted(code for r in results for code in r.codes) == ["CONFLICT"] * 5
    prompts = (await api.gql("{ prompts { items { name aliases } } }")).ok()["prompts"]["items"]
    winner = winners[0]["aliases"][0]
    assert prompts == sorted(
        [{"name": "target", "aliases": [winner]}]
        + [{"name": f"p{i}", "aliases": []} for i in range(6) if f"p{i}" != winner],
        key=lambda p: p["name"],
    )


async def test_a_rename_racing_a_create_of_the_new_name_gives_one_prompt_that_name(api):
    await api.create("old", "t")
    results = await asyncio.gather(
        rename(api, "old", "fresh"),
        api.gql(CREATE, {"input": {"name": "fresh", "templateText": "c", "version": 2}}),
    )
    renamed, created = results
    found = (await api.gql("{ prompts { items { name aliases versionCount } } }")).ok()
    items = found["prompts"]["items"]
    if renamed.errors:
        # The create made a new prompt `fresh` first: the rename lost.
        assert renamed.codes == ["CONFLICT"]
        assert items == [
            {"name": "fresh", "aliases": [], "versionCount": 1},
            {"name": "old", "aliases": [], "versionCount": 1},
        ]
    else:
        # Renamed first: the create added version 2 to the renamed prompt.
        assert not created.errors, created.body
        assert items == [{"name": "fresh", "aliases": ["old"], "versionCount": 2}]


async def test_a_delete_racing_set_label_leaves_nothing_half_done(api):
    for round_ in range(6):
        name = f"p{round_}"
        for number in (1, 2, 3):
            await api.create(name, f"v{number}", version=number)
        results = await asyncio.gather(
            api.gql(SET_LABEL, {"name": name, "label": "production", "version": 3}),
            api.gql(DELETE_VERSION, {"name": name, "version": 3}),
            api.gql(SET_LABEL, {"name": name, "label": "staging", "version": 3}),
        )
        set_production, deleted, set_staging = results
        assert not deleted.errors, deleted.body
        state = (
            await api.gql(
                "query($n: String!) { prompt(name: $n) { versionCount labels { name version } } }",
                {"n": name},
            )
        ).ok()["prompt"]
        assert state["versionCount"] == 2
        expected = []
        for label, result in (("production", set_production), ("staging", set_staging)):
            if result.errors:
                # Set after the deletion: the version was gone, and nothing changed.
                assert result.codes == ["NOT_FOUND"], result.body
            else:
                # Set before: the deletion moved it to the latest remaining version.
                expected.append({"name": label, "version": 2})
        assert state["labels"] == expected


async def test_usages_racing_a_version_deletion_are_recorded_or_not_found(api):
    for round_ in range(4):
        name = f"p{round_}"
        await api.create(name, "v1")
        await api.create(name, "v2", version=2)
        singles = [usage(api, name, 2, trace()) for _ in range(30)]
        batch = [
            {"promptName": name, "promptVersion": 2, "traceId": trace()},
            {"promptName": name, "promptVersion": 1, "traceId": trace()},
        ]
        results = await asyncio.gather(
            *singles[:15],
            api.gql(DELETE_VERSION, {"name": name, "version": 2}),
            api.gql(RECORD_USAGES, {"usages": batch}),
            *singles[15:],
        )
        for result in results[:15] + results[17:]:
            assert result.codes in ([], ["NOT_FOUND"]), result.body
        assert not results[15].errors, results[15].body
        recorded = results[16].ok()["recordUsages"]
        if recorded["rejected"]:
            # The deletion came first: the batch's item naming version 2 is rejected alone.
            assert recorded["recorded"] == 1
            assert [(r["index"], r["code"]) for r in recorded["rejected"]] == [(0, "NOT_FOUND")]
        else:
            assert recorded["recorded"] == 2
        # Version 1's usage always landed; nothing links to the deleted version.
        assert (await metrics(api, name, 1))["metrics"]["totalTraces"] == 1
        async with api.db.read() as session:
            linked = (await session.execute(select(func.count()).select_from(Usage))).scalar_one()
        assert linked == round_ + 1


async def test_a_save_taking_a_model_and_an_update_dropping_it_never_both_succeed(api):
    await api.create("p", "t")
    for round_ in range(6):
        name = f"llm{round_}"
        await integration(api, name, ["keep", "drop"])
        save, update = await asyncio.gather(
            api.gql(
                SAVE,
                {
                    "input": {
                        "name": "p",
                        "templateText": f"t{round_}",
                        "autoIncrement": True,
                        "models": [f"{name}:drop"],
                    }
                },
            ),
            api.gql(
                UPDATE_INTEGRATION,
                {"input": {"name": name, "provider": "openai", "models": ["keep"]}},
            ),
        )
        # Either the save came first and the update is refused, or the other way round.
        assert sorted([save.codes, update.codes]) in ([[], ["CONFLICT"]], [[], ["NOT_FOUND"]])
        listed = {
            i["name"]: i["models"] for i in (await api.gql(INTEGRATIONS)).ok()["integrations"]
        }
        used = (
            await api.gql('{ promptVersions(name: "p", limit: 100) { items { models } } }')
        ).ok()["promptVersions"]["items"]
        for version in used:
            for model in version["models"]:
                integration_name, _, model_name = model.partition(":")
                assert model_name in listed[integration_name], (model, listed)


# --- migration ------------------------------------------------------------------------------


@pytest.fixture
async def fresh_url(backend: str, tmp_path) -> Any:
    """An empty database, to migrate step by step."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"promptgraph_fresh_{uuid.uuid4().hex[:12]}"
    await _postgres_admin(f'CREATE DATABASE "{name}"')
    yield _url_of(name)
    await _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_prompts_made_before_the_lifecycle_migration_answer_to_their_names(fresh_url):
    run_blocking(migrations.upgrade, fresh_url, "0003")
    db = Database(fresh_url)
    try:
        async with db.write() as session:
            await session.execute(
                text("INSERT INTO workspace (name, created_at) VALUES ('acme', :at)"),
                {"at": datetime(2024, 1, 15, tzinfo=UTC).replace(tzinfo=None)},
            )
            for name in ("greet", "chat"):
                await session.execute(
                    text(
                        "INSERT INTO prompt (workspace_id, name, type, created_at, updated_at) "
                        "SELECT id, :name, 'TEXT', created_at, created_at FROM workspace"
                    ),
                    {"name": name},
                )
            await session.execute(
                text(
                    "INSERT INTO prompt_version (prompt_id, version, template_text, variables, "
                    "meta, models, is_active, created_at, updated_at, created_by) "
                    "SELECT id, 1, 'old', '[]', '{}', '[]', :active, created_at, created_at, 'ann' "
                    "FROM prompt WHERE name = 'greet'"
                ),
                {"active": True},
            )
    finally:
        await db.dispose()
    run_blocking(migrations.upgrade, fresh_url, "head")
    db = Database(fresh_url)
    try:
        app = create_app(db=db)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://promptgraph") as http:
            api = Api(http, db)
            found = (await api.gql('{ prompt(name: "greet") { name aliases versionCount } }')).ok()
            assert found == {"prompt": {"name": "greet", "aliases": [], "versionCount": 1}}
            # The name is taken: a create under it adds to the prompt, a rename onto it is refused.
            saved = await api.gql(
                SAVE, {"input": {"name": "greet", "templateText": "new", "autoIncrement": True}}
            )
            assert saved.ok()["savePromptVersion"]["fqn"] == "prompt:acme/greet:2"
            assert (await rename(api, "chat", "greet")).codes == ["CONFLICT"]
            renamed = (await rename(api, "greet", "hello")).ok()["renamePrompt"]
            assert (renamed["name"], renamed["aliases"], renamed["versionCount"]) == (
                "hello",
                ["greet"],
                2,
            )
    finally:
        await db.dispose()
