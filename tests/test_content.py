"""Lossless content (contract sections 1, 3, 3.1, 4 and 4.1): an overwrite replaces the whole
content and keeps the whole previous content as a revision; updatePromptVersion changes
part of it; labels given with a save are set in the same transaction; a failed render nulls
only `render`; comparisons show the messages of chat versions."""

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from promptgraph.services.auth import Role
from tests.test_versions import (
    MESSAGES,
    TEXT,
    VERSION_FIELDS,
    archive,
    at,
    both_snapshots,
    create,
    integration,
    other_key,
    prompt,
    save,
    seed,
    set_label,
    version,
    write,
)

UPDATE = (
    "mutation($input: UpdatePromptVersionInput!) { updatePromptVersion(input: $input) { ...V } }"
    + VERSION_FIELDS
)

CONTENT_FIELDS = (
    "templateText",
    "messages",
    "description",
    "modelConfig",
    "tools",
    "responseFormat",
    "metadata",
    "models",
)
# Every content field besides the template: a first value, a second one, and what the field
# reads as when empty. Values are written as they read back, so they compare as given.
FIRST = {
    "description": "first",
    "modelConfig": {"provider": "openai", "model": "gpt-4o", "parameters": {"temperature": 0.2}},
    "tools": [{"type": "function", "function": {"name": "lookup"}}],
    "responseFormat": {"type": "json_object"},
    "metadata": {"owner": "ann", "notes": "QA passed", "nested": {"ok": True}},
    "models": ["openai:gpt-4o"],
}
SECOND = {
    "description": "second",
    "modelConfig": {"provider": None, "model": "gpt-4o-mini", "parameters": {"top_p": 0.9}},
    "tools": {"choice": "auto"},
    "responseFormat": {"type": "json_schema", "schema": {"type": "object"}},
    "metadata": {"owner": "bob"},
    "models": ["openai:gpt-4o", "openai:gpt-4o-mini"],
}
EMPTY = {
    "description": None,
    "modelConfig": None,
    "tools": None,
    "responseFormat": None,
    "metadata": {},
    "models": [],
}
SETTINGS = list(FIRST)
OTHER_MESSAGES = [{"role": "user", "content": "Hey {{ topic }}", "name": None}]
READ_MESSAGES = [{"name": None, **message} for message in MESSAGES]


def content(version_or_revision: dict[str, Any]) -> dict[str, Any]:
    return {name: version_or_revision[name] for name in CONTENT_FIELDS}


def text_content(template: str, settings: dict[str, Any]) -> dict[str, Any]:
    return {"templateText": template, "messages": None, **settings}


async def update(api, input: dict[str, Any], key: str | None = None):
    return await api.gql(UPDATE, {"input": input}, key=key)


async def updated(api, input: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    return (await update(api, input, key)).ok()["updatePromptVersion"]


async def openai(api) -> None:
    await integration(api, "openai", ["gpt-4o", "gpt-4o-mini"])


# --- savePromptVersion over an existing version -----------------------------------------------


@pytest.mark.parametrize(
    "body, other_body, expected_body, other_expected_body",
    [
        pytest.param(
            {"templateText": "A {{ x }}"},
            {"templateText": "B {{ y }}"},
            {"templateText": "A {{ x }}", "messages": None},
            {"templateText": "B {{ y }}", "messages": None},
            id="text",
        ),
        pytest.param(
            {"messages": MESSAGES},
            {"messages": OTHER_MESSAGES},
            {"templateText": None, "messages": READ_MESSAGES},
            {"templateText": None, "messages": OTHER_MESSAGES},
            id="chat",
        ),
    ],
)
async def test_overwrite_replaces_every_content_field_and_keeps_all_of_it_as_a_revision(
    api, body, other_body, expected_body, other_expected_body
):
    await openai(api)
    await create(api, {"name": "p", **body, **FIRST, "tags": ["t"]})
    (await set_label(api, "p", "production", 1)).ok()
    first = {**expected_body, **FIRST}
    assert content(await version(api, "p", 1)) == first

    bob = await api.key("acme", "bob", Role.EDITOR)
    start = datetime.now(UTC)
    saved = await save(api, {"name": "p", "version": 1, **other_body, **SECOND}, key=bob)
    end = datetime.now(UTC)
    second = {**other_expected_body, **SECOND}
    assert content(saved) == second
    [revision] = saved["revisions"]
    assert content(revision) == first
    assert revision["replacedBy"] == "bob"
    assert start <= at(revision["replacedAt"]) <= end

    # A save that gives the template only: every other content field becomes empty, and
    # what they held is in the newest revision.
    await save(api, {"name": "p", "version": 1, **body})
    stored = await version(api, "p", 1)
    assert content(stored) == {**expected_body, **EMPTY}
    assert [content(r) for r in stored["revisions"]] == [second, first]
    assert [r["replacedBy"] for r in stored["revisions"]] == ["ann", "bob"]
    assert stored["tags"] == ["t"]
    assert stored["labels"] == ["production"]
    assert stored["createdBy"] == "ann"


@pytest.mark.parametrize("field", SETTINGS)
async def test_a_field_left_out_of_an_overwrite_becomes_empty_and_is_kept(api, field):
    await openai(api)
    await create(api, {"name": "p", "templateText": TEXT, **FIRST})
    given = {name: value for name, value in FIRST.items() if name != field}
    saved = await save(api, {"name": "p", "version": 1, "templateText": TEXT, **given})
    assert content(saved) == text_content(TEXT, {**FIRST, field: EMPTY[field]})
    assert [content(r) for r in saved["revisions"]] == [text_content(TEXT, FIRST)]


@pytest.mark.parametrize("field", SETTINGS)
async def test_an_overwrite_changing_one_setting_keeps_a_revision_once(api, field):
    """Model settings and metadata used to be lost silently on an overwrite."""
    await openai(api)
    await create(api, {"name": "p", "templateText": TEXT, **FIRST})
    changed = {**FIRST, field: SECOND[field]}
    saved = await save(api, {"name": "p", "templateText": TEXT, **changed})
    assert saved[field] == SECOND[field]
    assert [content(r) for r in saved["revisions"]] == [text_content(TEXT, FIRST)]
    retried = await save(api, {"name": "p", "templateText": TEXT, **changed})
    assert content(retried) == text_content(TEXT, changed)
    assert len(retried["revisions"]) == 1


async def test_saving_the_whole_identical_content_again_adds_no_revision(api):
    await openai(api)
    await create(api, {"name": "p", "templateText": TEXT, **FIRST})
    again = await save(api, {"name": "p", "templateText": TEXT, **FIRST})
    assert again["revisions"] == []
    # The order of keys in a JSON object, or of the models, is not a change.
    reordered = {
        **FIRST,
        "metadata": dict(reversed(list(FIRST["metadata"].items()))),
        "modelConfig": dict(reversed(list(FIRST["modelConfig"].items()))),
    }
    again = await save(api, {"name": "p", "templateText": TEXT, **reordered})
    assert again["revisions"] == []
    assert content(again) == text_content(TEXT, FIRST)


async def test_true_and_one_are_different_content(api):
    await create(api, {"name": "p", "templateText": TEXT, "metadata": {"flag": True}})
    saved = await save(api, {"name": "p", "templateText": TEXT, "metadata": {"flag": 1}})
    assert saved["metadata"] == {"flag": 1}
    assert [r["metadata"] for r in saved["revisions"]] == [{"flag": True}]


async def test_a_new_version_has_empty_fields_for_what_was_not_given(api):
    saved = await save(api, {"name": "p", "templateText": TEXT, "autoIncrement": True})
    assert content(saved) == text_content(TEXT, EMPTY)


# --- updatePromptVersion --------------------------------------------------------------------


async def _full_version(api) -> dict[str, Any]:
    """`p` v1 with every content field, a tag and a label; returns it as stored."""
    await openai(api)
    await create(api, {"name": "p", "templateText": TEXT, **FIRST, "tags": ["t"]})
    (await set_label(api, "p", "production", 1)).ok()
    return await version(api, "p", 1)


@pytest.mark.parametrize("field", SETTINGS)
async def test_update_replaces_the_given_field_and_leaves_the_others(api, field):
    before = await _full_version(api)
    result = await updated(api, {"name": "p", "version": 1, field: SECOND[field]})
    assert content(result) == {**content(before), field: SECOND[field]}
    assert result["variables"] == before["variables"]
    assert result["tags"] == ["t"]
    assert result["labels"] == ["production"]
    [revision] = result["revisions"]
    assert content(revision) == content(before)
    assert await version(api, "p", 1) == result


@pytest.mark.parametrize("field", SETTINGS)
async def test_update_with_null_clears_the_field(api, field):
    before = await _full_version(api)
    result = await updated(api, {"name": "p", "version": 1, field: None})
    assert result[field] == EMPTY[field]
    assert content(result) == {**content(before), field: EMPTY[field]}
    assert [content(r) for r in result["revisions"]] == [content(before)]


async def test_update_of_several_fields_keeps_one_revision(api):
    before = await _full_version(api)
    result = await updated(
        api,
        {
            "name": "p",
            "version": 1,
            "description": "notes only",
            "metadata": {"notes": "Deployed after nightly QA"},
            "tools": None,
        },
    )
    assert content(result) == {
        **content(before),
        "description": "notes only",
        "metadata": {"notes": "Deployed after nightly QA"},
        "tools": None,
    }
    assert [content(r) for r in result["revisions"]] == [content(before)]


async def test_update_tells_null_from_left_out_in_literals_too(api):
    before = await _full_version(api)
    result = await api.gql(
        'mutation { updatePromptVersion(input: {name: "p", version: 1, description: null,'
        " models: null}) { description models metadata modelConfig { model } } }"
    )
    assert result.ok()["updatePromptVersion"] == {
        "description": None,
        "models": [],
        "metadata": before["metadata"],
        "modelConfig": {"model": "gpt-4o"},
    }


async def test_update_field_given_as_an_unprovided_variable_is_left_out(api):
    """GraphQL: an input field set to a variable the request does not provide is absent."""
    before = await _full_version(api)
    result = await api.gql(
        """mutation($description: String) {
             updatePromptVersion(input: {name: "p", version: 1, description: $description,
                                         metadata: {owner: "carl"}}) { description metadata }
           }"""
    )
    assert result.ok()["updatePromptVersion"] == {
        "description": before["description"],
        "metadata": {"owner": "carl"},
    }


async def test_update_of_an_archived_version(api):
    await openai(api)
    await create(api, {"name": "p", "templateText": TEXT, **FIRST})
    await create(api, {"name": "p", "version": 2, "templateText": TEXT})
    (await archive(api, "p", 1)).ok()
    result = await updated(api, {"name": "p", "version": 1, "description": "retired"})
    assert result["description"] == "retired"
    assert result["isActive"] is False
    assert result["isLatest"] is False
    assert [r["description"] for r in result["revisions"]] == ["first"]
    assert (await prompt(api, "p"))["latestVersion"] == {"version": 2}


async def test_identical_update_adds_no_revision(api):
    before = await _full_version(api)
    result = await updated(
        api, {"name": "p", "version": 1, "description": "first", "models": FIRST["models"]}
    )
    assert content(result) == content(before)
    assert result["revisions"] == []


async def test_update_records_who_replaced_and_when(api):
    await _full_version(api)
    before = await prompt(api, "p")
    bob = await api.key("acme", "bob", Role.EDITOR)
    start = datetime.now(UTC)
    result = await updated(api, {"name": "p", "version": 1, "description": "by bob"}, key=bob)
    end = datetime.now(UTC)
    [revision] = result["revisions"]
    assert revision["replacedBy"] == "bob"
    assert start <= at(revision["replacedAt"]) <= end
    assert result["createdBy"] == "ann"
    assert start <= at(result["updatedAt"]) <= end
    after = await prompt(api, "p")
    assert at(after["updatedAt"]) > at(before["updatedAt"])
    assert after["versionCount"] == 1


async def test_saves_and_updates_keep_every_content_newest_first(api):
    await openai(api)
    await create(api, {"name": "p", "templateText": "one", **FIRST})
    first = text_content("one", FIRST)
    await updated(api, {"name": "p", "version": 1, "metadata": {"step": 2}})
    second = {**first, "metadata": {"step": 2}}
    await save(api, {"name": "p", "templateText": "three", **SECOND})
    third = text_content("three", SECOND)
    result = await updated(api, {"name": "p", "version": 1, "modelConfig": None})
    assert content(result) == {**third, "modelConfig": None}
    assert [content(r) for r in result["revisions"]] == [third, second, first]


async def test_concurrent_updates_of_different_fields_lose_none(api):
    await _full_version(api)
    changes = [{field: SECOND[field]} for field in SETTINGS]
    results = await asyncio.gather(
        *(update(api, {"name": "p", "version": 1, **change}) for change in changes)
    )
    for result in results:
        result.ok()
    stored = await version(api, "p", 1)
    assert content(stored) == text_content(TEXT, SECOND)
    assert len(stored["revisions"]) == len(SETTINGS)


BAD_UPDATES = [
    pytest.param({"name": "greet", "version": 1}, "BAD_USER_INPUT", id="no-field-given"),
    pytest.param(
        {"name": "ghost", "version": 1, "description": "x"}, "NOT_FOUND", id="missing-prompt"
    ),
    pytest.param(
        {"name": "greet", "version": 9, "description": "x"}, "NOT_FOUND", id="missing-version"
    ),
    pytest.param(
        {"name": "secret", "version": 1, "description": "x"},
        "NOT_FOUND",
        id="prompt-of-another-workspace",
    ),
    pytest.param(
        {"name": "greet", "version": 0, "description": "x"}, "BAD_USER_INPUT", id="version-0"
    ),
    pytest.param(
        {"name": "a b", "version": 1, "description": "x"}, "BAD_USER_INPUT", id="bad-name"
    ),
    pytest.param({"name": "greet", "description": "x"}, "BAD_USER_INPUT", id="no-version"),
    # The template is changed by an overwrite (savePromptVersion), not by an update.
    pytest.param(
        {"name": "greet", "version": 1, "templateText": "x"},
        "BAD_USER_INPUT",
        id="template-text",
    ),
    pytest.param(
        {"name": "chat", "version": 1, "messages": [{"role": "user", "content": "x"}]},
        "BAD_USER_INPUT",
        id="messages",
    ),
    *[
        pytest.param({"name": "greet", "version": 1, **fields}, code, id=label)
        for label, fields, code in [
            ("metadata-array", {"metadata": [1]}, "BAD_USER_INPUT"),
            ("metadata-string", {"metadata": "owner=a"}, "BAD_USER_INPUT"),
            ("response-format-array", {"responseFormat": [1]}, "BAD_USER_INPUT"),
            ("tools-string", {"tools": "lookup"}, "BAD_USER_INPUT"),
            ("model-config-empty-model", {"modelConfig": {"model": ""}}, "BAD_USER_INPUT"),
            (
                "model-config-parameters-array",
                {"modelConfig": {"model": "gpt-4o", "parameters": [0.2]}},
                "BAD_USER_INPUT",
            ),
            ("models-no-colon", {"models": ["nocolon"]}, "BAD_USER_INPUT"),
            ("models-unknown-integration", {"models": ["ghost:gpt-4o"]}, "NOT_FOUND"),
            ("models-not-listed", {"models": ["openai:gpt-5"]}, "NOT_FOUND"),
            ("models-other-workspace-integration", {"models": ["azure:gpt-4o"]}, "NOT_FOUND"),
            (
                "one-bad-field-among-good-ones",
                {"description": "fine", "metadata": {"ok": 1}, "tools": 3},
                "BAD_USER_INPUT",
            ),
            (
                "unknown-model-among-good-fields",
                {"description": "fine", "models": ["openai:gpt-4o", "ghost:gpt-4o"]},
                "NOT_FOUND",
            ),
        ]
    ],
]


@pytest.mark.parametrize("input, code", BAD_UPDATES)
async def test_refused_update_changes_nothing(api, input, code):
    await seed(api)
    before = await both_snapshots(api)
    result = await update(api, input)
    assert result.codes == [code], result.body
    assert not result.data
    assert await both_snapshots(api) == before


async def test_update_needs_an_editor(api):
    await seed(api)
    before = await both_snapshots(api)
    viewer = await api.key("acme", "vera", Role.VIEWER)
    result = await update(api, {"name": "greet", "version": 1, "description": "x"}, key=viewer)
    assert result.codes == ["FORBIDDEN"], result.body
    assert await both_snapshots(api) == before


# --- labels on createPromptVersion / savePromptVersion ---------------------------------------


async def test_create_with_labels_sets_them_on_the_new_version(api):
    created = await create(
        api, {"name": "p", "templateText": TEXT, "labels": ["staging", "production", "staging"]}
    )
    assert created["labels"] == ["production", "staging"]
    labels = (await prompt(api, "p"))["labels"]
    assert [(label["name"], label["version"]) for label in labels] == [
        ("production", 1),
        ("staging", 1),
    ]
    assert (await version(api, "p", label="production"))["version"] == 1


async def test_save_with_a_label_puts_the_new_version_live_in_one_step(api):
    await seed(api)
    saved = await save(
        api,
        {"name": "greet", "templateText": "v3", "autoIncrement": True, "labels": ["production"]},
    )
    assert (saved["version"], saved["labels"]) == (3, ["production"])
    assert (await version(api, "greet", 1))["labels"] == []
    assert (await version(api, "greet", label="production"))["templateText"] == "v3"


async def test_overwrite_with_labels_adds_them_and_keeps_the_others(api):
    await seed(api)
    saved = await save(
        api, {"name": "greet", "version": 1, "templateText": "new", "labels": ["staging"]}
    )
    assert saved["labels"] == ["production", "staging"]
    assert (await version(api, "greet", label="staging"))["templateText"] == "new"


async def test_concurrent_saves_with_a_label_leave_it_on_the_last_version(api):
    """Each save numbers its version and moves the label under the prompt's lock, so the
    label ends on the highest number, never on two versions."""
    await create(api, {"name": "p", "templateText": "v1"})
    results = await asyncio.gather(
        *(
            write(
                api,
                "savePromptVersion",
                {
                    "name": "p",
                    "templateText": f"c{i}",
                    "autoIncrement": True,
                    "labels": ["production"],
                },
            )
            for i in range(6)
        )
    )
    numbers = sorted(result.ok()["savePromptVersion"]["version"] for result in results)
    assert numbers == [2, 3, 4, 5, 6, 7]
    stored = await prompt(api, "p")
    assert [(label["name"], label["version"]) for label in stored["labels"]] == [("production", 7)]
    assert [v["version"] for v in stored["all"]["items"] if v["labels"]] == [7]


LABEL_FAILURES = [
    pytest.param(
        "createPromptVersion",
        {"name": "fresh", "templateText": TEXT, "labels": ["production", "latest"]},
        "BAD_USER_INPUT",
        id="create-new-prompt-reserved-label",
    ),
    pytest.param(
        "createPromptVersion",
        {"name": "greet", "version": 3, "templateText": TEXT, "labels": ["staging", "Prod"]},
        "BAD_USER_INPUT",
        id="create-new-version-uppercase-label",
    ),
    pytest.param(
        "savePromptVersion",
        {"name": "fresh", "templateText": TEXT, "labels": [""]},
        "BAD_USER_INPUT",
        id="save-new-prompt-empty-label",
    ),
    pytest.param(
        "savePromptVersion",
        {
            "name": "greet",
            "templateText": TEXT,
            "autoIncrement": True,
            "labels": ["production", "a b"],
        },
        "BAD_USER_INPUT",
        id="save-auto-increment-label-with-space",
    ),
    pytest.param(
        "savePromptVersion",
        {"name": "greet", "version": 1, "templateText": "new", "labels": ["x" * 64]},
        "BAD_USER_INPUT",
        id="overwrite-64-char-label",
    ),
    pytest.param(
        "createPromptVersion",
        {"name": "greet", "version": 2, "templateText": TEXT, "labels": ["production"]},
        "CONFLICT",
        id="create-existing-version",
    ),
    pytest.param(
        "savePromptVersion",
        {
            "name": "greet",
            "templateText": TEXT,
            "autoIncrement": True,
            "models": ["ghost:gpt-4o"],
            "labels": ["production"],
        },
        "NOT_FOUND",
        id="save-unknown-model",
    ),
]


@pytest.mark.parametrize("mutation, input, code", LABEL_FAILURES)
async def test_a_label_that_cannot_be_set_saves_nothing(api, mutation, input, code):
    await seed(api)
    before = await both_snapshots(api)
    result = await write(api, mutation, input)
    assert result.codes == [code], result.body
    assert not result.data
    assert await both_snapshots(api) == before
    assert await prompt(api, "fresh") is None


async def test_labels_given_to_another_workspace_prompt_name_stay_there(api):
    """A save with labels in one workspace creates its own prompt; the other is untouched."""
    await seed(api)
    other_before = await both_snapshots(api)
    saved = await save(api, {"name": "secret", "templateText": TEXT, "labels": ["staging"]})
    assert saved["labels"] == ["staging"]
    assert (await both_snapshots(api))[1] == other_before[1]
    secret = (
        await api.gql(
            '{ prompt(name: "secret") { labels { name version } } }', key=await other_key(api)
        )
    ).ok()["prompt"]
    assert secret["labels"] == [{"name": "production", "version": 1}]


# --- render ---------------------------------------------------------------------------------


async def test_a_failed_render_nulls_only_render(api):
    await create(api, {"name": "greet", "templateText": "Hello {{ who }}", "description": "d"})
    result = await api.gql(
        """{ promptVersion(name: "greet", version: 1) {
               version templateText description render(variables: {}) { text } } }"""
    )
    assert result.data == {
        "promptVersion": {
            "version": 1,
            "templateText": "Hello {{ who }}",
            "description": "d",
            "render": None,
        }
    }
    [error] = result.errors
    assert error["path"] == ["promptVersion", "render"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "who" in error["message"]


async def test_a_failed_render_in_a_page_nulls_only_that_render(api):
    await create(api, {"name": "a-ok", "templateText": "Hi {{ who }}"})
    await create(api, {"name": "b-missing", "templateText": "Hi {{ other }}"})
    result = await api.gql(
        """{ promptVersions(limit: 10) {
               items { name render(variables: {who: "Ann"}) { text } } } }"""
    )
    assert result.data == {
        "promptVersions": {
            "items": [
                {"name": "a-ok", "render": {"text": "Hi Ann"}},
                {"name": "b-missing", "render": None},
            ]
        }
    }
    [error] = result.errors
    assert error["path"] == ["promptVersions", "items", 1, "render"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


# --- comparePromptVersions ------------------------------------------------------------------

COMPARE = """
query($name: String!) {
  comparePromptVersions(name: $name) {
    versions { version templateText messages { role content name } }
  }
}
"""


async def test_comparison_shows_the_messages_of_chat_versions(api):
    await create(api, {"name": "chat", "messages": MESSAGES})
    await create(api, {"name": "chat", "version": 2, "messages": OTHER_MESSAGES})
    await create(api, {"name": "greet", "templateText": TEXT})
    chat = (await api.gql(COMPARE, {"name": "chat"})).ok()["comparePromptVersions"]
    assert chat["versions"] == [
        {"version": 2, "templateText": None, "messages": OTHER_MESSAGES},
        {"version": 1, "templateText": None, "messages": READ_MESSAGES},
    ]
    text = (await api.gql(COMPARE, {"name": "greet"})).ok()["comparePromptVersions"]
    assert text["versions"] == [{"version": 1, "templateText": TEXT, "messages": None}]
