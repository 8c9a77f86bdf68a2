"""Keys, roles and workspaces: who may do what, and what a key can see (contract sections 1, 5, 6)."""

import string

import pytest

from promptgraph.services import auth
from promptgraph.services.auth import Role

VIEWER_QUERY = "{ viewer { user workspace role } }"

# Everything a client can observe about the prompts of a workspace, including the
# timestamps a write would move.
STATE_QUERY = """
{
  prompts(limit: 20) {
    pagination { total }
    items {
      id name type updatedAt versionCount
      labels { name version updatedAt }
      versions(includeArchived: true, limit: 40) {
        pagination { total }
        items {
          version templateText description tags labels models isActive isLatest updatedAt
          revisions { templateText }
        }
      }
    }
  }
}
"""

PROMPT_VERSION_FIELDS = "{ version templateText tags labels isActive }"


async def state(api, key=None):
    data = (await api.gql(STATE_QUERY, key=key)).ok()
    assert data["prompts"]["pagination"]["total"] <= 20  # the page holds every prompt
    assert all(p["versions"]["pagination"]["total"] <= 40 for p in data["prompts"]["items"])
    return data


async def seed_greet(api, key=None):
    """`greet`: v1 (tag a, labelled production) and v2 (tag b), created by `key`."""
    create = """mutation($input: CreatePromptVersionInput!) {
                  createPromptVersion(input: $input) { version } }"""
    for version, tag in ((1, "a"), (2, "b")):
        result = await api.gql(
            create,
            {
                "input": {
                    "name": "greet",
                    "version": version,
                    "templateText": f"v{version} {{{{ who }}}}",
                    "tags": [tag],
                }
            },
            key=key,
        )
        result.ok()
    result = await api.gql(
        'mutation { setLabel(name: "greet", label: "production", version: 1) { version } }',
        key=key,
    )
    result.ok()


async def post_with_headers(api, headers):
    response = await api.http.post("/graphql", json={"query": VIEWER_QUERY}, headers=headers)
    return response


def assert_unauthenticated(response):
    assert response.status_code == 401, response.text
    body = response.json()
    assert body.get("data") is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["UNAUTHENTICATED"]
    assert body["errors"][0]["message"]


def _rotate(text: str) -> str:
    """Same shape, different characters: each letter or digit moves on by one in its class."""
    out = []
    for char in text:
        for alphabet in (string.ascii_lowercase, string.ascii_uppercase, string.digits):
            if char in alphabet:
                char = alphabet[(alphabet.index(char) + 1) % len(alphabet)]
                break
        out.append(char)
    return "".join(out)


# --- authentication -------------------------------------------------------------------------


async def test_missing_authorization_header_is_401(api):
    assert_unauthenticated(await post_with_headers(api, {}))


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-key", "Bearer ", "Bearer pgk__", "Token abc", "garbage"],
    ids=["junk", "empty", "separators-only", "other-scheme", "no-scheme"],
)
async def test_malformed_key_is_401(api, authorization):
    assert_unauthenticated(await post_with_headers(api, {"Authorization": authorization}))


async def test_well_formed_but_unknown_key_is_401(api):
    real = await api.key()
    prefix, _, rest = real.partition("_")
    unknown = f"{prefix}_{_rotate(rest)}"
    wrong_secret = real[:-1] + ("A" if real[-1] != "A" else "B")
    assert len(unknown) == len(real) and unknown != real
    # The real key works, so what follows is about the key, not the request.
    (await api.gql(VIEWER_QUERY, key=real)).ok()
    for key in (unknown, wrong_secret):
        assert_unauthenticated(await post_with_headers(api, {"Authorization": f"Bearer {key}"}))


async def test_revoked_key_is_401(api):
    info, key = await auth.create_key(api.db, "acme", "rita", Role.ADMIN)
    data = (await api.gql(VIEWER_QUERY, key=key)).ok()
    assert data["viewer"]["user"] == "rita"

    await auth.revoke_key(api.db, info.id)

    assert_unauthenticated(await post_with_headers(api, {"Authorization": f"Bearer {key}"}))
    # Other keys are unaffected.
    (await api.gql(VIEWER_QUERY)).ok()


async def test_revoked_key_cannot_write(api):
    info, key = await auth.create_key(api.db, "acme", "rita", Role.ADMIN)
    await auth.revoke_key(api.db, info.id)
    response = await api.http.post(
        "/graphql",
        json={
            "query": 'mutation { createPromptVersion(input: {name: "x", templateText: "t"}) { id } }'
        },
        headers={"Authorization": f"Bearer {key}"},
    )
    assert_unauthenticated(response)
    assert (await state(api))["prompts"]["pagination"]["total"] == 0


# --- viewer ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
async def test_viewer_reports_user_workspace_and_role(api, role):
    key = await api.key("initech", "peter", role)
    data = (await api.gql(VIEWER_QUERY, key=key)).ok()
    assert data == {"viewer": {"user": "peter", "workspace": "initech", "role": role.value}}


# --- roles ----------------------------------------------------------------------------------


async def test_viewer_can_read(api):
    await seed_greet(api)
    viewer = await api.key(role=Role.VIEWER)
    data = (
        await api.gql(
            f"""{{
              prompts {{ items {{ name versionCount labels {{ name version }} }} }}
              prompt(name: "greet") {{ name latestVersion {{ version }} }}
              promptVersions(name: "greet") {{ items {{ version }} }}
              promptVersion(name: "greet", label: "production") {PROMPT_VERSION_FIELDS}
            }}""",
            key=viewer,
        )
    ).ok()
    assert data["prompts"]["items"] == [
        {"name": "greet", "versionCount": 2, "labels": [{"name": "production", "version": 1}]}
    ]
    assert data["prompt"] == {"name": "greet", "latestVersion": {"version": 2}}
    assert data["promptVersions"]["items"] == [{"version": 2}, {"version": 1}]
    assert data["promptVersion"] == {
        "version": 1,
        "templateText": "v1 {{ who }}",
        "tags": ["a"],
        "labels": ["production"],
        "isActive": True,
    }


WRITES = {
    "createPromptVersion-new-prompt": (
        'mutation { createPromptVersion(input: {name: "fresh", templateText: "hi"}) { id } }'
    ),
    "createPromptVersion-new-version": (
        'mutation { createPromptVersion(input: {name: "greet", version: 3, templateText: "v3"}) { id } }'
    ),
    "savePromptVersion-overwrite": (
        'mutation { savePromptVersion(input: {name: "greet", version: 1, templateText: "changed"}) { id } }'
    ),
    "savePromptVersion-autoIncrement": (
        'mutation { savePromptVersion(input: {name: "greet", autoIncrement: true, templateText: "v3"}) { id } }'
    ),
    "setPromptVersionTags": (
        'mutation { setPromptVersionTags(name: "greet", version: 1, tags: ["z"]) { id } }'
    ),
    "setLabel-move": (
        'mutation { setLabel(name: "greet", label: "production", version: 2) { id } }'
    ),
    "setLabel-new": ('mutation { setLabel(name: "greet", label: "staging", version: 2) { id } }'),
    "removeLabel": ('mutation { removeLabel(name: "greet", label: "production") { id } }'),
    "archivePromptVersion": ('mutation { archivePromptVersion(name: "greet", version: 2) { id } }'),
    "createIntegration": (
        'mutation { createIntegration(input: {name: "openai", provider: "openai", models: ["gpt-4o"]}) { name } }'
    ),
}


@pytest.mark.parametrize("mutation", list(WRITES.values()), ids=list(WRITES))
async def test_viewer_write_is_forbidden_and_changes_nothing(api, mutation):
    await seed_greet(api)
    before = await state(api)
    viewer = await api.key(role=Role.VIEWER)

    result = await api.gql(mutation, key=viewer)

    assert result.status == 200
    assert result.codes == ["FORBIDDEN"]
    assert result.data is None
    assert await state(api) == before
    if "createIntegration" in mutation:
        # Had the integration been created, the admin could use it in `models`.
        saved = await api.gql(
            'mutation { savePromptVersion(input: {name: "greet", autoIncrement: true, templateText: "x", models: ["openai:gpt-4o"]}) { version } }'
        )
        assert saved.codes == ["NOT_FOUND"]
        assert await state(api) == before


TRACE_ID = "5f0c6a36-2f0e-4d84-9d0a-2b8f6f3c1e01"
METRICS_QUERY = (
    '{ promptVersion(name: "greet", version: 1) { metrics { totalTraces successRate } } }'
)


async def test_viewer_cannot_record_usage_or_traces(api):
    await seed_greet(api)
    viewer = await api.key(role=Role.VIEWER)

    usage = await api.gql(
        """mutation($t: UUID!) { recordUsage(input: {promptName: "greet", promptVersion: 1,
             traceId: $t, outcome: {status: SUCCESS}}) { status } }""",
        {"t": TRACE_ID},
        key=viewer,
    )
    traces = await api.gql(
        "mutation($t: UUID!) { recordTraces(traces: [{traceId: $t, status: SUCCESS}]) { accepted } }",
        {"t": TRACE_ID},
        key=viewer,
    )
    assert usage.codes == ["FORBIDDEN"]
    assert traces.codes == ["FORBIDDEN"]

    metrics = (await api.gql(METRICS_QUERY)).ok()["promptVersion"]["metrics"]
    assert metrics == {"totalTraces": 0, "successRate": None}
    # Linking the trace now shows that no outcome was stored for it either.
    (
        await api.gql(
            """mutation($t: UUID!) { recordUsage(input: {promptName: "greet", promptVersion: 1,
                 traceId: $t}) { status } }""",
            {"t": TRACE_ID},
        )
    ).ok()
    metrics = (await api.gql(METRICS_QUERY)).ok()["promptVersion"]["metrics"]
    assert metrics == {"totalTraces": 1, "successRate": None}


async def test_editor_can_do_every_write_but_create_integration(api):
    editor = await api.key(user="ed", role=Role.EDITOR)
    await seed_greet(api, key=editor)
    for mutation in (
        'mutation { savePromptVersion(input: {name: "greet", version: 1, templateText: "changed"}) { id } }',
        'mutation { savePromptVersion(input: {name: "greet", autoIncrement: true, templateText: "v3"}) { id } }',
        'mutation { setPromptVersionTags(name: "greet", version: 1, tags: ["z"]) { id } }',
        'mutation { setLabel(name: "greet", label: "staging", version: 2) { id } }',
        'mutation { removeLabel(name: "greet", label: "production") { id } }',
        'mutation { archivePromptVersion(name: "greet", version: 3) { id } }',
    ):
        (await api.gql(mutation, key=editor)).ok()
    data = (
        await api.gql(
            '{ prompt(name: "greet") { versionCount labels { name version } latestVersion { version } version(version: 1) { templateText tags } } }',
            key=editor,
        )
    ).ok()
    assert data["prompt"] == {
        "versionCount": 3,
        "labels": [{"name": "staging", "version": 2}],
        "latestVersion": {"version": 2},
        "version": {"templateText": "changed", "tags": ["z"]},
    }


async def test_create_integration_needs_admin(api):
    editor = await api.key(user="ed", role=Role.EDITOR)
    create = 'mutation { createIntegration(input: {name: "openai", provider: "openai", models: ["gpt-4o"]}) { name provider models } }'

    refused = await api.gql(create, key=editor)
    assert refused.codes == ["FORBIDDEN"]
    assert refused.data is None
    # The refused call created nothing: the editor cannot use it, and the admin can still
    # create an integration of that name (no CONFLICT).
    unusable = await api.gql(
        'mutation { createPromptVersion(input: {name: "p", templateText: "t", models: ["openai:gpt-4o"]}) { id } }',
        key=editor,
    )
    assert unusable.codes == ["NOT_FOUND"]

    admin = await api.key(role=Role.ADMIN)
    data = (await api.gql(create, key=admin)).ok()
    assert data["createIntegration"] == {
        "name": "openai",
        "provider": "openai",
        "models": ["gpt-4o"],
    }
    used = await api.gql(
        'mutation { createPromptVersion(input: {name: "p", templateText: "t", models: ["openai:gpt-4o"]}) { models } }',
        key=editor,
    )
    assert used.ok()["createPromptVersion"]["models"] == ["openai:gpt-4o"]


# --- workspace isolation --------------------------------------------------------------------


@pytest.fixture
async def workspaces(api):
    """Workspace acme holds `greet` (2 versions, tags a/b, production -> 1); returns
    (acme admin key, globex admin key, acme's prompt id)."""
    acme = await api.key("acme", "ann", Role.ADMIN)
    globex = await api.key("globex", "bob", Role.ADMIN)
    await seed_greet(api, key=acme)
    prompt_id = (await api.gql('{ prompt(name: "greet") { id } }', key=acme)).ok()["prompt"]["id"]
    return acme, globex, prompt_id


async def test_other_workspace_lists_see_nothing(api, workspaces):
    acme, globex, _ = workspaces
    query = """{
      all: prompts { pagination { total } items { name } }
      searched: prompts(search: "GRE") { pagination { total } items { name } }
      tagged: prompts(tag: "a") { pagination { total } items { name } }
    }"""
    mine = (await api.gql(query, key=acme)).ok()
    assert all(page["items"] == [{"name": "greet"}] for page in mine.values())

    data = (await api.gql(query, key=globex)).ok()
    assert data == {name: {"pagination": {"total": 0}, "items": []} for name in mine}


PROMPT_VERSIONS_FILTERS = [
    "",
    'name: "greet"',
    'fqn: "prompt:acme/greet"',
    'fqn: "prompt:acme/greet:1"',
    'fqn: "prompt:acme/greet:latest"',
    "promptId: $id",
    "promptId: $id, includeArchived: true",
    'tag: "a"',
    'label: "production"',
    'version: "latest"',
    "version: 1",
    'name: "greet", version: 2',
    "includeArchived: true",
    'name: "greet", includeArchived: true',
]


async def test_other_workspace_prompt_versions_see_nothing(api, workspaces):
    acme, globex, prompt_id = workspaces
    fields = "\n".join(
        f"f{index}: promptVersions{f'({arguments})' if arguments else ''} "
        "{ pagination { total } items { name version } }"
        for index, arguments in enumerate(PROMPT_VERSIONS_FILTERS)
    )
    query = f"query($id: ID) {{ {fields} }}"
    # Each filter finds acme's versions with acme's key...
    mine = (await api.gql(query, {"id": prompt_id}, key=acme)).ok()
    assert all(page["pagination"]["total"] >= 1 for page in mine.values()), mine
    # ...and nothing with globex's.
    data = (await api.gql(query, {"id": prompt_id}, key=globex)).ok()
    assert data == {name: {"pagination": {"total": 0}, "items": []} for name in mine}


async def test_other_workspace_lookups_return_null(api, workspaces):
    acme, globex, _ = workspaces
    query = """{
      byName: prompt(name: "greet") { id }
      byFqn: prompt(fqn: "prompt:acme/greet") { id }
      ownFqn: prompt(fqn: "prompt:globex/greet") { id }
      latest: promptVersion(name: "greet") { id }
      number: promptVersion(name: "greet", version: 1) { id }
      label: promptVersion(name: "greet", label: "production") { id }
      fqnVersion: promptVersion(fqn: "prompt:acme/greet:1") { id }
      fqnLatest: promptVersion(fqn: "prompt:acme/greet:latest") { id }
      fqnLabel: promptVersion(fqn: "prompt:acme/greet", label: "production") { id }
    }"""
    mine = (await api.gql(query, key=acme)).ok()
    assert all(value is not None for key, value in mine.items() if key != "ownFqn")

    data = (await api.gql(query, key=globex)).ok()
    assert data == dict.fromkeys(data, None)
    assert len(data) == 9


async def test_same_name_in_other_workspace_is_an_independent_prompt(api, workspaces):
    acme, globex, acme_id = workspaces
    before = await state(api, key=acme)

    created = await api.gql(
        'mutation { createPromptVersion(input: {name: "greet", templateText: "globex {{ x }}"}) { version fqn } }',
        key=globex,
    )
    assert created.ok()["createPromptVersion"] == {"version": 1, "fqn": "prompt:globex/greet:1"}
    # Numbering is per prompt: acme's versions 1 and 2 do not count.
    saved = await api.gql(
        'mutation { savePromptVersion(input: {name: "greet", autoIncrement: true, templateText: "globex 2"}) { version } }',
        key=globex,
    )
    assert saved.ok()["savePromptVersion"] == {"version": 2}

    data = (
        await api.gql(
            """{
              prompts { pagination { total } items { id name fqn versionCount labels { name } } }
              prompt(name: "greet") {
                id
                latestVersion { version templateText tags }
                v1: version(version: 1) { templateText tags labels }
                v3: version(version: 3) { version }
                production: version(label: "production") { version }
                versions { items { version templateText } }
              }
            }""",
            key=globex,
        )
    ).ok()
    assert data["prompts"]["pagination"]["total"] == 1
    [item] = data["prompts"]["items"]
    assert item["id"] != acme_id
    assert item == {
        "id": item["id"],
        "name": "greet",
        "fqn": "prompt:globex/greet",
        "versionCount": 2,
        "labels": [],
    }
    prompt = data["prompt"]
    assert prompt["id"] == item["id"]
    assert prompt["latestVersion"] == {"version": 2, "templateText": "globex 2", "tags": []}
    assert prompt["v1"] == {"templateText": "globex {{ x }}", "tags": [], "labels": []}
    assert prompt["v3"] is None
    assert prompt["production"] is None
    assert prompt["versions"]["items"] == [
        {"version": 2, "templateText": "globex 2"},
        {"version": 1, "templateText": "globex {{ x }}"},
    ]
    assert await state(api, key=acme) == before


async def test_prompt_version_field_does_not_reach_other_workspace(api, workspaces):
    """Prompt.version by number or label only sees the prompt's own versions."""
    acme, globex, _ = workspaces
    (
        await api.gql(
            'mutation { createPromptVersion(input: {name: "greet", templateText: "g"}) { id } }',
            key=globex,
        )
    ).ok()
    query = """{ prompt(name: "greet") {
        two: version(version: 2) { templateText }
        prod: version(label: "production") { templateText }
        latest: version(version: "latest") { version templateText }
    } }"""
    mine = (await api.gql(query, key=acme)).ok()["prompt"]
    assert mine["two"] == {"templateText": "v2 {{ who }}"}
    assert mine["prod"] == {"templateText": "v1 {{ who }}"}
    theirs = (await api.gql(query, key=globex)).ok()["prompt"]
    assert theirs == {"two": None, "prod": None, "latest": {"version": 1, "templateText": "g"}}


OTHER_WORKSPACE_WRITES = {
    "setLabel": 'mutation { setLabel(name: "greet", label: "staging", version: 1) { id } }',
    "setLabel-move": 'mutation { setLabel(name: "greet", label: "production", version: 2) { id } }',
    "setPromptVersionTags": 'mutation { setPromptVersionTags(name: "greet", version: 1, tags: ["x"]) { id } }',
    "archivePromptVersion": 'mutation { archivePromptVersion(name: "greet", version: 2) { id } }',
    "removeLabel": 'mutation { removeLabel(name: "greet", label: "production") { id } }',
}


@pytest.mark.parametrize(
    "mutation", list(OTHER_WORKSPACE_WRITES.values()), ids=list(OTHER_WORKSPACE_WRITES)
)
async def test_other_workspace_writes_are_not_found_and_change_nothing(api, workspaces, mutation):
    """Not FORBIDDEN: globex's key is an admin, and existence must not leak."""
    acme, other, _ = workspaces
    before = await state(api, key=acme)

    result = await api.gql(mutation, key=other)

    assert result.status == 200
    assert result.codes == ["NOT_FOUND"]
    assert result.data is None
    assert await state(api, key=acme) == before
    assert (await state(api, key=other))["prompts"]["pagination"]["total"] == 0


async def test_other_workspace_cannot_record_usage_of_a_prompt(api, workspaces):
    acme, globex, _ = workspaces
    result = await api.gql(
        """mutation($t: UUID!) { recordUsage(input: {promptName: "greet", promptVersion: 1,
             traceId: $t, outcome: {status: SUCCESS}}) { status } }""",
        {"t": TRACE_ID},
        key=globex,
    )
    assert result.codes == ["NOT_FOUND"]
    metrics = (await api.gql(METRICS_QUERY, key=acme)).ok()["promptVersion"]["metrics"]
    assert metrics == {"totalTraces": 0, "successRate": None}


async def test_integrations_are_per_workspace(api, workspaces):
    acme, globex, _ = workspaces
    create = 'mutation { createIntegration(input: {name: "openai", provider: "openai", models: ["gpt-4o"]}) { name } }'
    (await api.gql(create, key=acme)).ok()
    uses_it = 'mutation { savePromptVersion(input: {name: "other", templateText: "t", models: ["openai:gpt-4o"]}) { models } }'

    refused = await api.gql(uses_it, key=globex)
    assert refused.codes == ["NOT_FOUND"]
    assert (await api.gql('{ prompt(name: "other") { id } }', key=globex)).ok() == {"prompt": None}

    # acme can use it, and globex may create its own integration of the same name.
    assert (await api.gql(uses_it, key=acme)).ok()["savePromptVersion"]["models"] == [
        "openai:gpt-4o"
    ]
    (await api.gql(create, key=globex)).ok()
    assert (await api.gql(uses_it, key=globex)).ok()["savePromptVersion"]["models"] == [
        "openai:gpt-4o"
    ]
