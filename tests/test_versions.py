"""Writes to versions, tags and labels (contract sections 1, 3, 4 and 5): what each mutation
does, what it refuses, and that a refused write changes nothing."""

from datetime import UTC, datetime
from typing import Any

import pytest

from promptgraph.services.auth import Role

VERSION_FIELDS = """
fragment V on PromptVersion {
  name version fqn type templateText messages { role content name } variables description
  modelConfig { provider model parameters } tools responseFormat metadata models tags labels
  isActive isLatest createdBy createdAt updatedAt
  revisions {
    templateText messages { role content name } description modelConfig { provider model parameters }
    tools responseFormat metadata models replacedAt replacedBy
  }
}
"""

CREATE = (
    "mutation($input: CreatePromptVersionInput!) { createPromptVersion(input: $input) { ...V } }"
    + VERSION_FIELDS
)
SAVE = (
    "mutation($input: SavePromptVersionInput!) { savePromptVersion(input: $input) { ...V } }"
    + VERSION_FIELDS
)
WRITES = {"createPromptVersion": CREATE, "savePromptVersion": SAVE}
SET_TAGS = """
mutation($name: String!, $version: Int!, $tags: [String!]!) {
  setPromptVersionTags(name: $name, version: $version, tags: $tags) { name version tags }
}
"""
SET_LABEL = """
mutation($name: String!, $label: String!, $version: Int!) {
  setLabel(name: $name, label: $label, version: $version) { name version labels }
}
"""
REMOVE_LABEL = """
mutation($name: String!, $label: String!) {
  removeLabel(name: $name, label: $label) { name labels { name version } }
}
"""
ARCHIVE = """
mutation($name: String!, $version: Int!, $archived: Boolean!) {
  archivePromptVersion(name: $name, version: $version, archived: $archived) {
    name version isActive isLatest
  }
}
"""
CREATE_INTEGRATION = """
mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { name models } }
"""
PROMPT = (
    """
query($name: String!) {
  prompt(name: $name) {
    name fqn type createdAt updatedAt versionCount
    labels { name version updatedAt }
    latestVersion { version }
    active: versions { pagination { total } items { version } }
    all: versions(includeArchived: true, limit: 100) { pagination { total } items { ...V } }
  }
}
"""
    + VERSION_FIELDS
)
VERSION = (
    """
query($name: String!, $version: VersionSelector, $label: String) {
  promptVersion(name: $name, version: $version, label: $label) { ...V }
}
"""
    + VERSION_FIELDS
)
SNAPSHOT = (
    """
{
  prompts(limit: 20) {
    pagination { total }
    items {
      id name fqn type createdAt updatedAt versionCount
      labels { name version updatedAt }
      latestVersion { version }
      versions(includeArchived: true, limit: 40) { pagination { total } items { id ...V } }
    }
  }
}
"""
    + VERSION_FIELDS
)

TEXT = "Hello {{ who }}"
MESSAGES = [
    {"role": "system", "content": "You are {{ persona }}."},
    {"role": "user", "content": "I am {{ who }}", "name": "ann"},
]


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def write(api, mutation: str, input: dict[str, Any], key: str | None = None):
    return await api.gql(WRITES[mutation], {"input": input}, key=key)


async def create(api, input: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    return (await write(api, "createPromptVersion", input, key)).ok()["createPromptVersion"]


async def save(api, input: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    return (await write(api, "savePromptVersion", input, key)).ok()["savePromptVersion"]


async def set_label(api, name: str, label: str, version: int):
    return await api.gql(SET_LABEL, {"name": name, "label": label, "version": version})


async def archive(api, name: str, version: int, archived: bool = True):
    return await api.gql(ARCHIVE, {"name": name, "version": version, "archived": archived})


async def integration(api, name: str, models: list[str], key: str | None = None) -> None:
    result = await api.gql(
        CREATE_INTEGRATION,
        {"input": {"name": name, "provider": "openai", "models": models}},
        key=key,
    )
    result.ok()


async def prompt(api, name: str, key: str | None = None) -> dict[str, Any] | None:
    return (await api.gql(PROMPT, {"name": name}, key=key)).ok()["prompt"]


async def version(
    api, name: str, number: int | str | None = None, label: str | None = None
) -> dict[str, Any] | None:
    variables = {"name": name, "version": number, "label": label}
    return (await api.gql(VERSION, variables)).ok()["promptVersion"]


async def snapshot(api, key: str | None = None) -> dict[str, Any]:
    """Everything a client can read about a workspace's prompts (pages big enough for all)."""
    data = (await api.gql(SNAPSHOT, key=key)).ok()
    assert data["prompts"]["pagination"]["total"] <= 20
    assert all(p["versions"]["pagination"]["total"] <= 40 for p in data["prompts"]["items"])
    return data


async def other_key(api) -> str:
    return await api.key("other", "olga", Role.ADMIN)


async def seed(api) -> None:
    """TEXT prompt `greet` (v1 tagged and labelled production, v2), CHAT prompt `chat`, an
    integration `openai`; and in workspace `other`: integration `azure`, prompt `secret`."""
    await integration(api, "openai", ["gpt-4o", "gpt-4o-mini"])
    await create(
        api,
        {"name": "greet", "templateText": TEXT, "description": "first", "tags": ["stable"]},
    )
    await create(api, {"name": "greet", "version": 2, "templateText": "Hi {{ who }}"})
    (await set_label(api, "greet", "production", 1)).ok()
    await create(api, {"name": "chat", "messages": MESSAGES})
    other = await other_key(api)
    await integration(api, "azure", ["gpt-4o"], key=other)
    await create(api, {"name": "secret", "templateText": TEXT, "tags": ["x"]}, key=other)
    result = await api.gql(
        SET_LABEL, {"name": "secret", "label": "production", "version": 1}, key=other
    )
    result.ok()


async def both_snapshots(api) -> tuple[dict[str, Any], dict[str, Any]]:
    return await snapshot(api), await snapshot(api, key=await other_key(api))


# --- createPromptVersion ---------------------------------------------------------------------


async def test_create_makes_the_prompt_with_defaults(api):
    assert await prompt(api, "greet") is None
    created = await create(api, {"name": "greet", "templateText": "{{ who }} says {{ greeting }}"})
    assert created["name"] == "greet"
    assert created["version"] == 1
    assert created["fqn"] == "prompt:acme/greet:1"
    assert created["type"] == "TEXT"
    assert created["templateText"] == "{{ who }} says {{ greeting }}"
    assert created["messages"] is None
    assert created["variables"] == ["greeting", "who"]
    assert created["isActive"] is True
    assert created["isLatest"] is True
    assert created["metadata"] == {}
    assert created["models"] == []
    assert created["tags"] == []
    assert created["labels"] == []
    assert created["revisions"] == []
    assert created["description"] is None
    assert created["modelConfig"] is None
    assert created["createdBy"] == "ann"

    stored = await prompt(api, "greet")
    assert stored["type"] == "TEXT"
    assert stored["fqn"] == "prompt:acme/greet"
    assert stored["versionCount"] == 1
    assert stored["latestVersion"] == {"version": 1}
    assert stored["all"]["items"] == [created]


async def test_create_stores_every_given_field(api):
    await integration(api, "openai", ["gpt-4o", "gpt-4o-mini"])
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
    created = await create(
        api,
        {
            "name": "classify-intent",
            "version": 3,
            "templateText": "Classify: {{ text }}",
            "description": "intent classifier",
            "modelConfig": {
                "provider": "openai",
                "model": "gpt-4o",
                "parameters": {"temperature": 0.2, "max_tokens": 50},
            },
            "tools": tools,
            "responseFormat": {"type": "json_object"},
            "metadata": {"owner": "team-a", "nested": {"n": [1, 2]}},
            "models": ["openai:gpt-4o"],
            "tags": ["prod", "beta", "prod"],
        },
    )
    expected = {
        "version": 3,
        "description": "intent classifier",
        "modelConfig": {
            "provider": "openai",
            "model": "gpt-4o",
            "parameters": {"temperature": 0.2, "max_tokens": 50},
        },
        "tools": tools,
        "responseFormat": {"type": "json_object"},
        "metadata": {"owner": "team-a", "nested": {"n": [1, 2]}},
        "models": ["openai:gpt-4o"],
        "tags": ["beta", "prod"],
        "variables": ["text"],
    }
    assert {field: created[field] for field in expected} == expected
    stored = await version(api, "classify-intent", 3)
    assert {field: stored[field] for field in expected} == expected


async def test_model_config_without_parameters_has_empty_parameters(api):
    # Contract silent on the default; {} for a non-null JSON field is the code's choice.
    created = await create(
        api, {"name": "greet", "templateText": TEXT, "modelConfig": {"model": "gpt-4o"}}
    )
    assert created["modelConfig"] == {"provider": None, "model": "gpt-4o", "parameters": {}}


async def test_created_by_is_the_name_of_the_keys_user(api):
    bob = await api.key("acme", "bob", Role.EDITOR)
    created = await create(api, {"name": "greet", "templateText": TEXT}, key=bob)
    saved = await save(api, {"name": "greet", "templateText": "v2", "autoIncrement": True}, key=bob)
    assert created["createdBy"] == "bob"
    assert saved["createdBy"] == "bob"
    assert (await version(api, "greet", 1))["createdBy"] == "bob"


async def test_create_chat_version(api):
    created = await create(api, {"name": "chat", "messages": MESSAGES})
    assert created["type"] == "CHAT"
    assert created["templateText"] is None
    assert created["messages"] == [
        {"role": "system", "content": "You are {{ persona }}.", "name": None},
        {"role": "user", "content": "I am {{ who }}", "name": "ann"},
    ]
    assert created["variables"] == ["persona", "who"]
    stored = await prompt(api, "chat")
    assert stored["type"] == "CHAT"
    assert stored["all"]["items"][0]["messages"] == created["messages"]


async def test_create_further_versions_by_number(api):
    await create(api, {"name": "greet", "templateText": "one"})
    await create(api, {"name": "greet", "version": 3, "templateText": "three"})
    await create(api, {"name": "greet", "version": 2, "templateText": "two"})
    stored = await prompt(api, "greet")
    assert stored["versionCount"] == 3
    assert stored["latestVersion"] == {"version": 3}
    assert [(v["version"], v["templateText"]) for v in stored["all"]["items"]] == [
        (3, "three"),
        (2, "two"),
        (1, "one"),
    ]
    assert [v["isLatest"] for v in stored["all"]["items"]] == [True, False, False]


async def test_same_name_in_another_workspace_is_another_prompt(api):
    await create(api, {"name": "greet", "templateText": TEXT})
    before = await snapshot(api)
    other = await other_key(api)
    created = await create(api, {"name": "greet", "messages": MESSAGES}, key=other)
    assert created["version"] == 1
    assert created["type"] == "CHAT"
    assert created["fqn"] == "prompt:other/greet:1"
    assert await snapshot(api) == before


@pytest.mark.parametrize(
    "template, variables",
    [
        ("no placeholders", []),
        ("{{ b }} {{ a }} {{ b }}", ["a", "b"]),
        ("{{name}} and {{  spaced  }}", ["name", "spaced"]),
        ("{{ user.name }} {{ items[0] }}", ["items", "user"]),
        ("{{ who | upper }}", ["who"]),
        ("{% for item in items %}{{ item }}{% endfor %}", ["items"]),
        ("{% if formal %}Dear {{ who }}{% endif %}", ["formal", "who"]),
    ],
)
async def test_variables_are_the_names_the_template_uses_sorted(api, template, variables):
    created = await create(api, {"name": "greet", "templateText": template})
    assert created["variables"] == variables
    assert (await version(api, "greet", 1))["variables"] == variables


@pytest.mark.parametrize(
    "name", ["classify-intent", "system_prompt.j2", "A", "9lives", "a" * 128, "x-._y"]
)
async def test_valid_prompt_names_are_accepted(api, name):
    created = await create(api, {"name": name, "templateText": TEXT})
    assert created["name"] == name
    assert (await prompt(api, name))["name"] == name


@pytest.mark.parametrize("tag", ["t" * 64, "ü" * 64, "with space", "a", "Mixed/Case:tag"])
async def test_valid_tags_are_accepted(api, tag):
    created = await create(api, {"name": "greet", "templateText": TEXT, "tags": [tag]})
    assert created["tags"] == [tag]
    assert (await version(api, "greet", 1))["tags"] == [tag]


# Inputs that are refused by both createPromptVersion and savePromptVersion. Every one is
# valid apart from the one thing named in its id.
BAD_CONTENT = [
    pytest.param(
        {"name": "fresh", "templateText": TEXT, "messages": MESSAGES},
        "BAD_USER_INPUT",
        id="both-text-and-messages",
    ),
    pytest.param({"name": "fresh"}, "BAD_USER_INPUT", id="neither-text-nor-messages"),
    pytest.param({"name": "fresh", "messages": []}, "BAD_USER_INPUT", id="no-messages"),
    pytest.param(
        {"name": "greet", "version": 3, "messages": MESSAGES},
        "BAD_USER_INPUT",
        id="chat-version-of-text-prompt",
    ),
    pytest.param(
        {"name": "chat", "version": 2, "templateText": TEXT},
        "BAD_USER_INPUT",
        id="text-version-of-chat-prompt",
    ),
    *[
        pytest.param({"name": name, "templateText": TEXT}, "BAD_USER_INPUT", id=f"name-{label}")
        for label, name in [
            ("leading-dash", "-x"),
            ("leading-dot", ".x"),
            ("leading-underscore", "_x"),
            ("space", "a b"),
            ("slash", "a/b"),
            ("colon", "a:b"),
            ("non-ascii", "naïve"),
            ("trailing-newline", "abc\n"),
            ("empty", ""),
            ("129-chars", "a" * 129),
        ]
    ],
    pytest.param(
        {"name": "fresh", "version": 0, "templateText": TEXT}, "BAD_USER_INPUT", id="version-0"
    ),
    pytest.param(
        {"name": "greet", "version": -1, "templateText": TEXT},
        "BAD_USER_INPUT",
        id="version-negative",
    ),
    *[
        pytest.param(
            {"name": "fresh", "templateText": TEXT, "tags": ["ok", tag]},
            "BAD_USER_INPUT",
            id=f"tag-{label}",
        )
        for label, tag in [
            ("empty", ""),
            ("65-chars", "t" * 65),
            ("tab", "a\tb"),
            ("newline", "a\nb"),
            ("nul", "a\x00b"),
            ("escape", "\x1b[31m"),
            ("delete", "a\x7f"),
        ]
    ],
    *[
        pytest.param(
            {"name": "fresh", "templateText": template}, "BAD_USER_INPUT", id=f"syntax-{label}"
        )
        for label, template in [
            ("unclosed-variable", "Hello {{ who"),
            ("empty-expression", "Hello {{ }}"),
            ("unclosed-block", "{% if who %}Hello"),
            ("stray-end", "Hello {% endfor %}"),
            ("unknown-tag", "{% frobnicate %}"),
        ]
    ],
    pytest.param(
        {"name": "fresh", "messages": [{"role": "user", "content": "Hi {{ who"}]},
        "BAD_USER_INPUT",
        id="syntax-in-chat-message",
    ),
    *[
        pytest.param(
            {"name": "fresh", "templateText": TEXT, "metadata": metadata},
            "BAD_USER_INPUT",
            id=f"metadata-{label}",
        )
        for label, metadata in [
            ("array", [1, 2]),
            ("string", "owner=a"),
            ("number", 42),
            ("boolean", True),
        ]
    ],
    *[
        pytest.param(
            {
                "name": "fresh",
                "templateText": TEXT,
                "modelConfig": {"model": "gpt-4o", "parameters": parameters},
            },
            "BAD_USER_INPUT",
            id=f"parameters-{label}",
        )
        for label, parameters in [("array", [0.2]), ("string", "t=0.2"), ("number", 0.2)]
    ],
    *[
        pytest.param(
            {"name": "fresh", "templateText": TEXT, "models": models},
            code,
            id=f"models-{label}",
        )
        for label, models, code in [
            ("no-colon", ["nocolon"], "BAD_USER_INPUT"),
            # Contract silent; an empty side is not an integration:model string.
            ("empty-model", ["openai:"], "BAD_USER_INPUT"),
            ("empty-integration", [":gpt-4o"], "BAD_USER_INPUT"),
            ("unknown-integration", ["ghost:gpt-4o"], "NOT_FOUND"),
            ("model-not-listed", ["openai:gpt-5"], "NOT_FOUND"),
            ("one-bad-among-good", ["openai:gpt-4o", "ghost:gpt-4o"], "NOT_FOUND"),
            ("other-workspace-integration", ["azure:gpt-4o"], "NOT_FOUND"),
        ]
    ],
    pytest.param(
        {"name": "greet", "version": 3, "templateText": TEXT, "models": ["ghost:gpt-4o"]},
        "NOT_FOUND",
        id="models-unknown-on-existing-prompt",
    ),
]


@pytest.mark.parametrize("mutation", list(WRITES))
@pytest.mark.parametrize("input, code", BAD_CONTENT)
async def test_bad_version_input_is_refused_and_changes_nothing(api, mutation, input, code):
    await seed(api)
    before = await both_snapshots(api)
    result = await write(api, mutation, input)
    assert result.codes == [code], result.body
    assert not result.data
    assert await both_snapshots(api) == before


@pytest.mark.parametrize(
    "input, code",
    [
        pytest.param(
            {"name": "greet", "version": 1, "templateText": "replacement"},
            "CONFLICT",
            id="existing-version",
        ),
        pytest.param(
            {"name": "greet", "version": 2, "templateText": "Hi {{ who }}"},
            "CONFLICT",
            id="existing-version-same-content",
        ),
        pytest.param({"name": "greet", "templateText": TEXT}, "CONFLICT", id="default-version-1"),
    ],
)
async def test_create_of_an_existing_version_conflicts_and_changes_nothing(api, input, code):
    await seed(api)
    before = await both_snapshots(api)
    result = await write(api, "createPromptVersion", input)
    assert result.codes == [code], result.body
    assert await both_snapshots(api) == before


@pytest.mark.parametrize(
    "input, code",
    [
        pytest.param(
            {"name": "greet", "version": 1, "messages": MESSAGES},
            "BAD_USER_INPUT",
            id="overwrite-text-version-with-messages",
        ),
        pytest.param(
            {"name": "chat", "templateText": TEXT},
            "BAD_USER_INPUT",
            id="overwrite-chat-version-with-text",
        ),
        pytest.param(
            {"name": "chat", "templateText": TEXT, "autoIncrement": True},
            "BAD_USER_INPUT",
            id="auto-increment-text-on-chat-prompt",
        ),
        pytest.param(
            {"name": "greet", "version": 1, "templateText": "new", "models": ["ghost:gpt-4o"]},
            "NOT_FOUND",
            id="overwrite-with-unknown-model",
        ),
        pytest.param(
            {"name": "greet", "version": 1, "templateText": "new", "tags": [""]},
            "BAD_USER_INPUT",
            id="overwrite-with-bad-tag",
        ),
        pytest.param(
            {"name": "greet", "version": 1, "templateText": "new {{ x"},
            "BAD_USER_INPUT",
            id="overwrite-with-syntax-error",
        ),
        pytest.param(
            {"name": "greet", "version": 1, "templateText": "new", "metadata": []},
            "BAD_USER_INPUT",
            id="overwrite-with-array-metadata",
        ),
    ],
)
async def test_refused_save_over_an_existing_version_changes_nothing(api, input, code):
    await seed(api)
    before = await both_snapshots(api)
    result = await write(api, "savePromptVersion", input)
    assert result.codes == [code], result.body
    assert await both_snapshots(api) == before


async def test_models_naming_a_listed_model_of_an_integration_are_accepted(api):
    await integration(api, "openai", ["gpt-4o", "gpt-4o-mini"])
    await integration(api, "local", ["llama:8b"])
    created = await create(
        api, {"name": "greet", "templateText": TEXT, "models": ["openai:gpt-4o-mini"]}
    )
    assert created["models"] == ["openai:gpt-4o-mini"]
    # Only the first colon separates the integration from the model.
    saved = await save(
        api, {"name": "greet", "templateText": TEXT, "models": ["local:llama:8b"], "version": 2}
    )
    assert saved["models"] == ["local:llama:8b"]


# --- savePromptVersion ----------------------------------------------------------------------


async def test_auto_increment_starts_at_one_and_counts_up(api):
    numbers = [
        (await save(api, {"name": "draft", "templateText": f"v{i}", "autoIncrement": True}))[
            "version"
        ]
        for i in range(3)
    ]
    assert numbers == [1, 2, 3]
    stored = await prompt(api, "draft")
    assert [(v["version"], v["templateText"]) for v in stored["all"]["items"]] == [
        (3, "v2"),
        (2, "v1"),
        (1, "v0"),
    ]
    assert all(v["revisions"] == [] for v in stored["all"]["items"])


async def test_auto_increment_counts_archived_versions(api):
    for number in (1, 2, 3):
        await create(api, {"name": "draft", "version": number, "templateText": f"v{number}"})
    (await archive(api, "draft", 3)).ok()
    saved = await save(api, {"name": "draft", "templateText": "v4", "autoIncrement": True})
    assert saved["version"] == 4
    archived = await version(api, "draft", 3)
    assert archived["templateText"] == "v3"
    assert archived["isActive"] is False
    assert archived["revisions"] == []


async def test_auto_increment_never_reuses_numbers_when_everything_is_archived(api):
    await create(api, {"name": "draft", "templateText": "v1"})
    (await archive(api, "draft", 1)).ok()
    saved = await save(api, {"name": "draft", "templateText": "v2", "autoIncrement": True})
    assert saved["version"] == 2
    assert (await version(api, "draft", 1))["templateText"] == "v1"


async def test_auto_increment_goes_past_the_highest_number(api):
    await create(api, {"name": "draft", "version": 5, "templateText": "v5"})
    saved = await save(api, {"name": "draft", "templateText": "v6", "autoIncrement": True})
    assert saved["version"] == 6


async def test_auto_increment_takes_precedence_over_version(api):
    await create(api, {"name": "draft", "templateText": "v1"})
    await create(api, {"name": "draft", "version": 2, "templateText": "v2"})
    saved = await save(
        api, {"name": "draft", "templateText": "v3", "version": 1, "autoIncrement": True}
    )
    assert saved["version"] == 3
    first = await version(api, "draft", 1)
    assert first["templateText"] == "v1"
    assert first["revisions"] == []


async def test_save_creates_the_prompt_at_version_one_by_default(api):
    saved = await save(api, {"name": "draft", "templateText": "Hi {{ who }}"})
    assert saved["version"] == 1
    assert saved["isActive"] is True
    assert saved["metadata"] == {}
    assert saved["variables"] == ["who"]
    assert saved["createdBy"] == "ann"
    assert (await prompt(api, "draft"))["versionCount"] == 1


async def test_save_without_version_or_auto_increment_targets_version_one(api):
    await create(api, {"name": "draft", "templateText": "v1"})
    await create(api, {"name": "draft", "version": 2, "templateText": "v2"})
    saved = await save(api, {"name": "draft", "templateText": "v1 again"})
    assert saved["version"] == 1
    assert saved["templateText"] == "v1 again"
    assert [r["templateText"] for r in saved["revisions"]] == ["v1"]
    second = await version(api, "draft", 2)
    assert second["templateText"] == "v2"
    assert second["revisions"] == []
    assert (await prompt(api, "draft"))["versionCount"] == 2


async def test_save_with_version_creates_that_version(api):
    saved = await save(api, {"name": "draft", "templateText": "v4", "version": 4})
    assert saved["version"] == 4
    stored = await prompt(api, "draft")
    assert stored["versionCount"] == 1
    assert stored["latestVersion"] == {"version": 4}


async def test_overwrite_keeps_old_content_as_revisions_newest_first(api):
    await create(
        api,
        {"name": "greet", "templateText": "A {{ x }}", "description": "first", "tags": ["t"]},
    )
    (await set_label(api, "greet", "production", 1)).ok()
    bob = await api.key("acme", "bob", Role.EDITOR)

    start = datetime.now(UTC)
    saved = await save(
        api,
        {"name": "greet", "version": 1, "templateText": "B {{ y }}", "description": "second"},
        key=bob,
    )
    middle = datetime.now(UTC)
    assert saved["templateText"] == "B {{ y }}"
    assert saved["description"] == "second"
    assert saved["variables"] == ["y"]
    assert saved["tags"] == ["t"]
    assert saved["labels"] == ["production"]
    [revision] = saved["revisions"]
    assert revision["templateText"] == "A {{ x }}"
    assert revision["description"] == "first"
    assert revision["messages"] is None
    assert revision["replacedBy"] == "bob"
    assert start <= at(revision["replacedAt"]) <= middle

    # No description given: the description is replaced too, and kept in the revision.
    await save(api, {"name": "greet", "version": 1, "templateText": "C"})
    stored = await version(api, "greet", 1)
    assert stored["templateText"] == "C"
    assert stored["description"] is None
    assert stored["variables"] == []
    assert [
        (r["templateText"], r["description"], r["replacedBy"]) for r in stored["revisions"]
    ] == [
        ("B {{ y }}", "second", "ann"),
        ("A {{ x }}", "first", "bob"),
    ]
    assert at(stored["revisions"][0]["replacedAt"]) >= at(stored["revisions"][1]["replacedAt"])
    assert stored["tags"] == ["t"]
    assert stored["labels"] == ["production"]
    assert (await version(api, "greet", label="production"))["templateText"] == "C"
    # Contract silent; createdBy stays the version's creator.
    assert stored["createdBy"] == "ann"
    assert (await prompt(api, "greet"))["versionCount"] == 1


async def test_overwrite_changing_only_the_description_keeps_a_revision(api):
    await create(api, {"name": "greet", "templateText": TEXT, "description": "old"})
    saved = await save(api, {"name": "greet", "templateText": TEXT, "description": "new"})
    assert saved["description"] == "new"
    assert [(r["templateText"], r["description"]) for r in saved["revisions"]] == [(TEXT, "old")]


async def test_overwrite_of_a_chat_version_keeps_the_old_messages(api):
    await create(api, {"name": "chat", "messages": MESSAGES})
    new_messages = [{"role": "user", "content": "Hey {{ topic }}"}]
    saved = await save(api, {"name": "chat", "version": 1, "messages": new_messages})
    assert saved["messages"] == [{"role": "user", "content": "Hey {{ topic }}", "name": None}]
    assert saved["variables"] == ["topic"]
    [revision] = saved["revisions"]
    assert revision["templateText"] is None
    assert revision["messages"] == [
        {"role": "system", "content": "You are {{ persona }}.", "name": None},
        {"role": "user", "content": "I am {{ who }}", "name": "ann"},
    ]


async def test_saving_identical_content_again_adds_no_revision(api):
    await create(api, {"name": "greet", "templateText": TEXT, "description": "d"})
    again = await save(api, {"name": "greet", "templateText": TEXT, "description": "d"})
    assert again["version"] == 1
    assert again["revisions"] == []
    await save(api, {"name": "greet", "templateText": "changed", "description": "d"})
    retried = await save(api, {"name": "greet", "templateText": "changed", "description": "d"})
    assert [r["templateText"] for r in retried["revisions"]] == [TEXT]
    assert (await prompt(api, "greet"))["versionCount"] == 1


async def test_saving_identical_chat_content_again_adds_no_revision(api):
    await create(api, {"name": "chat", "messages": MESSAGES})
    again = await save(api, {"name": "chat", "messages": MESSAGES})
    assert again["revisions"] == []


async def test_overwrite_with_tags_adds_them_to_the_existing_ones(api):
    # Contract: on overwrite "tags and labels stay"; it is silent on tags given with the
    # save. The code adds them, which keeps the existing ones.
    await create(api, {"name": "greet", "templateText": TEXT, "tags": ["b"]})
    saved = await save(api, {"name": "greet", "templateText": "new", "tags": ["c", "a"]})
    assert saved["tags"] == ["a", "b", "c"]


# --- setPromptVersionTags -------------------------------------------------------------------


async def test_set_tags_replaces_them_sorted_and_deduplicated(api):
    await create(api, {"name": "greet", "templateText": TEXT, "tags": ["old", "keep"]})
    await create(api, {"name": "greet", "version": 2, "templateText": TEXT, "tags": ["old"]})
    result = await api.gql(
        SET_TAGS, {"name": "greet", "version": 1, "tags": ["zeta", "alpha", "zeta", "keep"]}
    )
    assert result.ok()["setPromptVersionTags"] == {
        "name": "greet",
        "version": 1,
        "tags": ["alpha", "keep", "zeta"],
    }
    assert (await version(api, "greet", 1))["tags"] == ["alpha", "keep", "zeta"]
    assert (await version(api, "greet", 2))["tags"] == ["old"]
    by_tag = await api.gql('{ promptVersions(tag: "old") { items { name version } } }')
    assert by_tag.ok()["promptVersions"]["items"] == [{"name": "greet", "version": 2}]
    by_tag = await api.gql('{ promptVersions(tag: "zeta") { items { name version } } }')
    assert by_tag.ok()["promptVersions"]["items"] == [{"name": "greet", "version": 1}]


async def test_set_tags_to_an_empty_list_clears_them(api):
    await create(api, {"name": "greet", "templateText": TEXT, "tags": ["a", "b"]})
    result = await api.gql(SET_TAGS, {"name": "greet", "version": 1, "tags": []})
    assert result.ok()["setPromptVersionTags"]["tags"] == []
    assert (await version(api, "greet", 1))["tags"] == []


@pytest.mark.parametrize("tags", [[""], ["t" * 65], ["ok", "a\tb"], ["a\nb"], ["a\x00b"], ["\x7f"]])
async def test_set_tags_refuses_bad_tags_and_changes_nothing(api, tags):
    await seed(api)
    before = await both_snapshots(api)
    result = await api.gql(SET_TAGS, {"name": "greet", "version": 1, "tags": tags})
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert await both_snapshots(api) == before


# --- setLabel / removeLabel -----------------------------------------------------------------


async def test_set_label_moves_it_between_versions(api):
    for number in (1, 2, 3):
        await create(api, {"name": "greet", "version": number, "templateText": f"v{number}"})

    result = await set_label(api, "greet", "production", 1)
    assert result.ok()["setLabel"] == {"name": "greet", "version": 1, "labels": ["production"]}
    result = await set_label(api, "greet", "production", 2)
    assert result.ok()["setLabel"] == {"name": "greet", "version": 2, "labels": ["production"]}

    stored = await prompt(api, "greet")
    assert [(label["name"], label["version"]) for label in stored["labels"]] == [("production", 2)]
    assert {v["version"]: v["labels"] for v in stored["all"]["items"]} == {
        3: [],
        2: ["production"],
        1: [],
    }
    assert (await version(api, "greet", label="production"))["templateText"] == "v2"
    listed = await api.gql('{ promptVersions(label: "production") { items { version } } }')
    assert listed.ok()["promptVersions"]["items"] == [{"version": 2}]

    # Setting it where it already is keeps it on that one version.
    (await set_label(api, "greet", "production", 2)).ok()
    stored = await prompt(api, "greet")
    assert [(label["name"], label["version"]) for label in stored["labels"]] == [("production", 2)]

    # Rolling back.
    (await set_label(api, "greet", "production", 1)).ok()
    assert (await version(api, "greet", label="production"))["version"] == 1
    assert (await version(api, "greet", 2))["labels"] == []


async def test_labels_are_sorted_by_name(api):
    await create(api, {"name": "greet", "templateText": "v1"})
    await create(api, {"name": "greet", "version": 2, "templateText": "v2"})
    for label, number in [("staging", 2), ("default", 1), ("production", 2), ("canary", 2)]:
        (await set_label(api, "greet", label, number)).ok()
    stored = await prompt(api, "greet")
    assert [(label["name"], label["version"]) for label in stored["labels"]] == [
        ("canary", 2),
        ("default", 1),
        ("production", 2),
        ("staging", 2),
    ]
    assert {v["version"]: v["labels"] for v in stored["all"]["items"]} == {
        2: ["canary", "production", "staging"],
        1: ["default"],
    }


async def test_labels_are_per_prompt(api):
    await create(api, {"name": "alpha", "templateText": "a1"})
    await create(api, {"name": "beta", "templateText": "b1"})
    await create(api, {"name": "beta", "version": 2, "templateText": "b2"})
    (await set_label(api, "alpha", "production", 1)).ok()
    (await set_label(api, "beta", "production", 2)).ok()
    assert (await version(api, "alpha", label="production"))["templateText"] == "a1"
    assert (await version(api, "beta", label="production"))["templateText"] == "b2"
    assert (await version(api, "alpha", 1))["labels"] == ["production"]


@pytest.mark.parametrize("label", ["a" * 63, "0", "v1.2_rc-3", "production"])
async def test_valid_labels_are_accepted(api, label):
    await create(api, {"name": "greet", "templateText": TEXT})
    result = await set_label(api, "greet", label, 1)
    assert result.ok()["setLabel"]["labels"] == [label]
    assert (await version(api, "greet", label=label))["version"] == 1


@pytest.mark.parametrize(
    "label",
    ["latest", "Production", "-x", ".x", "", "a" * 64, "a b", "prod\n", "prod/x", "étape"],
)
async def test_set_label_refuses_bad_labels_and_changes_nothing(api, label):
    await seed(api)
    before = await both_snapshots(api)
    result = await set_label(api, "greet", label, 2)
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert await both_snapshots(api) == before


async def test_remove_label(api):
    await create(api, {"name": "greet", "templateText": "v1"})
    await create(api, {"name": "greet", "version": 2, "templateText": "v2"})
    (await set_label(api, "greet", "production", 1)).ok()
    (await set_label(api, "greet", "staging", 2)).ok()
    result = await api.gql(REMOVE_LABEL, {"name": "greet", "label": "production"})
    assert result.ok()["removeLabel"] == {
        "name": "greet",
        "labels": [{"name": "staging", "version": 2}],
    }
    assert await version(api, "greet", label="production") is None
    assert (await version(api, "greet", 1))["labels"] == []
    assert (await version(api, "greet", 2))["labels"] == ["staging"]
    assert [label["name"] for label in (await prompt(api, "greet"))["labels"]] == ["staging"]


@pytest.mark.parametrize(
    "name, label",
    [
        pytest.param("greet", "staging", id="never-set"),
        pytest.param("chat", "production", id="only-on-another-prompt"),
    ],
)
async def test_remove_label_that_is_not_there_is_not_found(api, name, label):
    await seed(api)
    before = await both_snapshots(api)
    result = await api.gql(REMOVE_LABEL, {"name": name, "label": label})
    assert result.codes == ["NOT_FOUND"], result.body
    assert await both_snapshots(api) == before


async def test_remove_label_twice_is_not_found_the_second_time(api):
    await seed(api)
    (await api.gql(REMOVE_LABEL, {"name": "greet", "label": "production"})).ok()
    before = await both_snapshots(api)
    result = await api.gql(REMOVE_LABEL, {"name": "greet", "label": "production"})
    assert result.codes == ["NOT_FOUND"], result.body
    assert await both_snapshots(api) == before


# --- archivePromptVersion -------------------------------------------------------------------


async def test_archived_version_is_never_latest_but_still_found(api):
    for number in (1, 2, 3):
        await create(api, {"name": "greet", "version": number, "templateText": f"v{number}"})
    (await set_label(api, "greet", "production", 3)).ok()

    result = await archive(api, "greet", 3)
    assert result.ok()["archivePromptVersion"] == {
        "name": "greet",
        "version": 3,
        "isActive": False,
        "isLatest": False,
    }
    stored = await prompt(api, "greet")
    assert stored["versionCount"] == 3
    assert stored["latestVersion"] == {"version": 2}
    assert [v["version"] for v in stored["active"]["items"]] == [2, 1]
    assert stored["active"]["pagination"]["total"] == 2
    assert [(v["version"], v["isActive"], v["isLatest"]) for v in stored["all"]["items"]] == [
        (3, False, False),
        (2, True, True),
        (1, True, False),
    ]
    by_number = await version(api, "greet", 3)
    assert (by_number["templateText"], by_number["isActive"]) == ("v3", False)
    by_label = await version(api, "greet", label="production")
    assert (by_label["version"], by_label["isActive"]) == (3, False)
    assert (await version(api, "greet", "latest"))["version"] == 2
    field = await api.gql('{ prompt(name: "greet") { version(version: 3) { version isActive } } }')
    assert field.ok()["prompt"]["version"] == {"version": 3, "isActive": False}


async def test_unarchive_makes_the_version_active_and_latest_again(api):
    await create(api, {"name": "greet", "templateText": "v1"})
    await create(api, {"name": "greet", "version": 2, "templateText": "v2"})
    (await archive(api, "greet", 2)).ok()
    result = await archive(api, "greet", 2, archived=False)
    assert result.ok()["archivePromptVersion"] == {
        "name": "greet",
        "version": 2,
        "isActive": True,
        "isLatest": True,
    }
    stored = await prompt(api, "greet")
    assert stored["latestVersion"] == {"version": 2}
    assert [v["version"] for v in stored["active"]["items"]] == [2, 1]


async def test_archiving_an_older_version_leaves_latest_alone(api):
    await create(api, {"name": "greet", "templateText": "v1"})
    await create(api, {"name": "greet", "version": 2, "templateText": "v2"})
    (await archive(api, "greet", 1)).ok()
    stored = await prompt(api, "greet")
    assert stored["latestVersion"] == {"version": 2}
    assert [v["version"] for v in stored["active"]["items"]] == [2]


async def test_with_every_version_archived_there_is_no_latest(api):
    await create(api, {"name": "greet", "templateText": "v1"})
    await create(api, {"name": "greet", "version": 2, "templateText": "v2"})
    (await archive(api, "greet", 1)).ok()
    (await archive(api, "greet", 2)).ok()
    stored = await prompt(api, "greet")
    assert stored["latestVersion"] is None
    assert stored["versionCount"] == 2
    assert stored["active"]["items"] == []
    assert [v["isLatest"] for v in stored["all"]["items"]] == [False, False]
    assert await version(api, "greet", "latest") is None
    assert (await version(api, "greet", 2))["templateText"] == "v2"


# --- NOT_FOUND in mutations -----------------------------------------------------------------

MISSING_TARGETS = [
    pytest.param("ghost", 1, id="missing-prompt"),
    pytest.param("greet", 99, id="missing-version"),
    pytest.param("secret", 1, id="prompt-of-another-workspace"),
]


@pytest.mark.parametrize("name, number", MISSING_TARGETS)
@pytest.mark.parametrize(
    "query, extra",
    [
        pytest.param(SET_LABEL, {"label": "staging"}, id="setLabel"),
        pytest.param(SET_TAGS, {"tags": ["new"]}, id="setPromptVersionTags"),
        pytest.param(ARCHIVE, {"archived": True}, id="archive"),
        pytest.param(ARCHIVE, {"archived": False}, id="unarchive"),
    ],
)
async def test_missing_prompt_or_version_is_not_found_and_changes_nothing(
    api, query, extra, name, number
):
    await seed(api)
    before = await both_snapshots(api)
    result = await api.gql(query, {"name": name, "version": number, **extra})
    assert result.codes == ["NOT_FOUND"], result.body
    assert await both_snapshots(api) == before


@pytest.mark.parametrize("name", ["ghost", "secret"])
async def test_remove_label_of_a_missing_prompt_is_not_found(api, name):
    await seed(api)
    before = await both_snapshots(api)
    result = await api.gql(REMOVE_LABEL, {"name": name, "label": "production"})
    assert result.codes == ["NOT_FOUND"], result.body
    assert await both_snapshots(api) == before


# --- updatedAt ------------------------------------------------------------------------------

CHANGES = [
    pytest.param(
        CREATE, {"input": {"name": "greet", "version": 3, "templateText": "v3"}}, id="create"
    ),
    pytest.param(SAVE, {"input": {"name": "greet", "templateText": "new text"}}, id="overwrite"),
    pytest.param(
        SAVE,
        {"input": {"name": "greet", "templateText": "v3", "autoIncrement": True}},
        id="save-new",
    ),
    pytest.param(SET_TAGS, {"name": "greet", "version": 2, "tags": ["x"]}, id="set-tags"),
    pytest.param(
        SET_LABEL, {"name": "greet", "label": "production", "version": 2}, id="move-label"
    ),
    pytest.param(SET_LABEL, {"name": "greet", "label": "staging", "version": 2}, id="add-label"),
    pytest.param(REMOVE_LABEL, {"name": "greet", "label": "production"}, id="remove-label"),
    pytest.param(ARCHIVE, {"name": "greet", "version": 2, "archived": True}, id="archive"),
    pytest.param(ARCHIVE, {"name": "greet", "version": 1, "archived": False}, id="unarchive"),
]


@pytest.mark.parametrize("query, variables", CHANGES)
async def test_prompt_updated_at_moves_with_every_change(api, query, variables):
    await seed(api)
    (await archive(api, "greet", 1)).ok()
    before = await prompt(api, "greet")
    result = await api.gql(query, variables)
    result.ok()
    after = await prompt(api, "greet")
    assert at(after["updatedAt"]) > at(before["updatedAt"])
    assert after["createdAt"] == before["createdAt"]


# --- render ---------------------------------------------------------------------------------

RENDER = """
query($name: String!, $variables: JSON!) {
  promptVersion(name: $name, version: 1) {
    render(variables: $variables) { text messages { role content name } }
  }
}
"""


async def render(api, name: str, variables: Any):
    return await api.gql(RENDER, {"name": name, "variables": variables})


@pytest.mark.parametrize(
    "template, variables, text",
    [
        ("Hello {{ who }}!", {"who": "World"}, "Hello World!"),
        ("{{ who }} is {{ age }}", {"who": "Ann", "age": 30}, "Ann is 30"),
        ("Hi {{ who }}", {"who": "Ann", "unused": "ignored"}, "Hi Ann"),
        ("{% for i in items %}[{{ i }}]{% endfor %}", {"items": ["a", "b"]}, "[a][b]"),
        ("{{ user.name | upper }}", {"user": {"name": "ann"}}, "ANN"),
        ("no variables", {}, "no variables"),
    ],
)
async def test_render_text(api, template, variables, text):
    await create(api, {"name": "greet", "templateText": template})
    result = await render(api, "greet", variables)
    assert result.ok()["promptVersion"]["render"] == {"text": text, "messages": None}


async def test_render_chat(api):
    await create(api, {"name": "chat", "messages": MESSAGES})
    result = await render(api, "chat", {"persona": "a pirate", "who": "Ann"})
    assert result.ok()["promptVersion"]["render"] == {
        "text": None,
        "messages": [
            {"role": "system", "content": "You are a pirate.", "name": None},
            {"role": "user", "content": "I am Ann", "name": "ann"},
        ],
    }


async def test_render_uses_the_overwritten_content(api):
    await create(api, {"name": "greet", "templateText": "Hello {{ who }}"})
    await save(api, {"name": "greet", "templateText": "Bye {{ who }}"})
    result = await render(api, "greet", {"who": "Ann"})
    assert result.ok()["promptVersion"]["render"]["text"] == "Bye Ann"


@pytest.mark.parametrize(
    "name, input, variables, missing",
    [
        ("greet", {"templateText": "Hello {{ who }}"}, {}, ["who"]),
        ("greet", {"templateText": "{{ a }} {{ zed }}"}, {"a": 1}, ["zed"]),
        ("greet", {"templateText": "{{ first }} {{ second }}"}, {}, ["first", "second"]),
        ("chat", {"messages": MESSAGES}, {"persona": "a pirate"}, ["who"]),
    ],
)
async def test_render_with_a_missing_variable_names_it(api, name, input, variables, missing):
    await create(api, {"name": name, **input})
    result = await render(api, name, variables)
    assert result.codes == ["BAD_USER_INPUT"], result.body
    for variable in missing:
        assert variable in result.errors[0]["message"]


@pytest.mark.parametrize("variables", [["who"], "who=Ann", 42, True, None])
async def test_render_variables_must_be_an_object(api, variables):
    await create(api, {"name": "greet", "templateText": "Hello {{ who }}"})
    result = await render(api, "greet", variables)
    assert result.codes == ["BAD_USER_INPUT"], result.body


async def test_render_runs_in_a_sandbox(api):
    # The contract asks for a sandbox; refusing with BAD_USER_INPUT is the code's choice.
    await create(api, {"name": "greet", "templateText": "{{ who.__class__.__mro__ }}"})
    result = await render(api, "greet", {"who": "Ann"})
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert "class" not in str(result.data)
