"""Workspace isolation through every root field of the schema (contract section 1).

Workspace A (`acme`) holds prompts, versions, revisions, tags, labels, an integration and
traces. For every root Query and Mutation field of the live schema, and for every object
field with arguments reachable from them, keys of workspace B (`globex`, all three roles)
aim at A's data: A's names, FQNs, prompt id, version numbers, labels, tags, trace ids and
integration. To B, A's data does not exist: nothing of A comes back, errors are only
NOT_FOUND / BAD_USER_INPUT (FORBIDDEN only where B's own role is too low for the field),
lists are empty, lookups null, and A's complete state is unchanged after every B write.
A B write that legitimately creates B's own data does so in B.
"""

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType

from promptgraph.schema import build_schema
from promptgraph.services.auth import Role

# --- workspace A ----------------------------------------------------------------------------

A_WORKSPACE = "acme"
A_USER = "ann-acme-owner"
MARKER = "zq7AcmeSecretMarker"
TEXT_PROMPT = "secret-prompt"
CHAT_PROMPT = "secret-chat"
A_FQN = f"prompt:{A_WORKSPACE}/{TEXT_PROMPT}"
TAG_ALPHA = "zq-tag-alpha"
TAG_BETA = "zq-tag-beta"
A_LABEL = "zq-release"
A_INTEGRATION = "acme-llm"
A_MODEL = "zq-model"
T1 = "0b5e7c1e-1a2b-4c3d-8e4f-000000000001"
T2 = "0b5e7c1e-1a2b-4c3d-8e4f-000000000002"
T3 = "0b5e7c1e-1a2b-4c3d-8e4f-000000000003"
SPAN = "0b5e7c1e-1a2b-4c3d-8e4f-0000000000ff"
DAY_START = "2024-01-15T00:00:00Z"
DAY_END = "2024-01-16T00:00:00Z"

# Strings that only A's data holds. None may appear in a response to B, unless B sent it in
# that very request (an error may echo the name it was asked about) or it names B's own data.
A_STRINGS = (
    MARKER,
    TEXT_PROMPT,
    CHAT_PROMPT,
    f"prompt:{A_WORKSPACE}/",
    A_WORKSPACE,
    A_USER,
    TAG_ALPHA,
    TAG_BETA,
    A_LABEL,
    A_INTEGRATION,
    A_MODEL,
    T1,
    T2,
    T3,
    SPAN,
)

# --- workspace B ----------------------------------------------------------------------------

B_WORKSPACE = "globex"
ROLES = [Role.VIEWER, Role.EDITOR, Role.ADMIN]


def b_user(role: Role) -> str:
    return f"bob-{role.value.lower()}"


# --- documents ------------------------------------------------------------------------------

FRAGMENTS = {
    "M": """fragment M on VersionMetrics {
  totalTraces successRate avgCostUsd avgLatencyMs p50LatencyMs p95LatencyMs
  firstUsedAt lastUsedAt successRateCi95 { low high }
}""",
    # Everything of a version a response may carry, including the fields reaching other rows.
    "V": """fragment V on PromptVersion {
  __typename id name version fqn type templateText messages { role content name } variables description
  modelConfig { provider model parameters } tools responseFormat metadata models tags labels
  isActive isLatest createdBy
  revisions { templateText messages { role content name } description replacedBy }
  metrics { ...M }
}""",
    # A prompt, walked through every field that reaches its versions and labels.
    "P": f"""fragment P on Prompt {{
  __typename id name fqn type versionCount
  labels {{ name version }}
  latestVersion {{ ...V }}
  third: version(version: 3) {{ ...V }}
  released: version(label: "{A_LABEL}") {{ ...V }}
  versions(includeArchived: true, limit: 10) {{ pagination {{ total }} items {{ ...V }} }}
}}""",
    "VP": "fragment VP on PromptVersion { ...V prompt { ...P } }",
    "C": """fragment C on PromptComparison {
  name baselineVersion
  versions {
    version templateText totalTraces successRate avgCostUsd avgLatencyMs p95LatencyMs
    successRateCi95 { low high } successRatePValue isBaseline
  }
}""",
    # A version as its own workspace sees it, with the timestamps a write would move.
    "S": f"""fragment S on PromptVersion {{
  __typename id name version fqn type templateText messages {{ role content name }} variables description
  modelConfig {{ provider model parameters }} tools responseFormat metadata models tags labels
  isActive isLatest createdAt updatedAt createdBy
  revisions {{ templateText messages {{ role content name }} description replacedAt replacedBy }}
  metrics {{ ...M }}
  window: metrics(since: "{DAY_START}", until: "{DAY_END}") {{ ...M }}
}}""",
}


def gql(operation: str) -> str:
    """The operation with the fragments it spreads (GraphQL refuses unused fragments)."""
    needed: list[str] = []
    pending = re.findall(r"\.\.\.([A-Z]+)\b", operation)
    while pending:
        name = pending.pop()
        if name not in needed:
            needed.append(name)
            pending += re.findall(r"\.\.\.([A-Z]+)\b", FRAGMENTS[name])
    return "\n".join([operation, *(FRAGMENTS[name] for name in sorted(needed))])


# Everything a workspace can read about itself.
SNAPSHOT = gql(
    f"""query Snapshot {{
  prompts(limit: 10) {{
    pagination {{ total offset limit }}
    items {{
      __typename id name fqn type createdAt updatedAt versionCount
      latestVersion {{ version }}
      labels {{ name version updatedAt }}
      versions(includeArchived: true, limit: 10) {{ pagination {{ total }} items {{ ...S }} }}
    }}
  }}
  all: promptVersions(includeArchived: true, limit: 10) {{
    pagination {{ total }} items {{ __typename id fqn labels }}
  }}
  text: comparePromptVersions(name: "{TEXT_PROMPT}") {{ ...C }}
  chat: comparePromptVersions(name: "{CHAT_PROMPT}") {{ ...C }}
}}"""
)

B_SNAPSHOT = gql(
    """query { prompts(limit: 10) { pagination { total } items { __typename id name type versionCount
  labels { name version } versions(includeArchived: true, limit: 10) { items { ...V } } } } }"""
)

CREATE = gql(
    "mutation($input: CreatePromptVersionInput!) { createPromptVersion(input: $input) { ...VP } }"
)
INTEGRATION = "mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { name provider models } }"
SAVE = gql(
    "mutation($input: SavePromptVersionInput!) { savePromptVersion(input: $input) { ...VP } }"
)


# --- the test's world -----------------------------------------------------------------------


@dataclass
class World:
    api: Any
    a_key: str
    a_prompt_ids: dict[str, str]
    a_ids: set[str]
    a_state: dict[str, Any]
    b_keys: dict[Role, str]
    b_owned: set[str] = field(default_factory=set)

    async def a_snapshot(self) -> dict[str, Any]:
        return (await self.api.gql(SNAPSHOT, key=self.a_key)).ok()

    async def b_snapshot(self) -> dict[str, Any]:
        return (await self.api.gql(B_SNAPSHOT, key=self.b_keys[Role.ADMIN])).ok()


async def ok(api: Any, query: str, variables: dict[str, Any] | None, key: str) -> Any:
    return (await api.gql(query, variables, key=key)).ok()


async def seed_a(api: Any, key: str) -> None:
    create = "mutation($input: CreatePromptVersionInput!) { createPromptVersion(input: $input) { version } }"
    save = (
        "mutation($input: SavePromptVersionInput!) { savePromptVersion(input: $input) { version } }"
    )
    await ok(
        api,
        INTEGRATION,
        {"input": {"name": A_INTEGRATION, "provider": "openai", "models": [A_MODEL]}},
        key,
    )
    await ok(
        api,
        create,
        {
            "input": {
                "name": TEXT_PROMPT,
                "version": 1,
                "templateText": f"{MARKER} v1 {{{{ who }}}}",
                "description": f"{MARKER} first",
                "tags": [TAG_ALPHA],
                "models": [f"{A_INTEGRATION}:{A_MODEL}"],
                "metadata": {"owner": MARKER},
                "modelConfig": {"provider": "openai", "model": A_MODEL, "parameters": {"t": 0.1}},
                "tools": [{"name": MARKER}],
                "responseFormat": {"type": MARKER},
            }
        },
        key,
    )
    await ok(
        api,
        create,
        {
            "input": {
                "name": TEXT_PROMPT,
                "version": 2,
                "templateText": f"{MARKER} v2 {{{{ who }}}}",
                "tags": [TAG_ALPHA, TAG_BETA],
            }
        },
        key,
    )
    await ok(
        api,
        create,
        {"input": {"name": TEXT_PROMPT, "version": 3, "templateText": f"{MARKER} v3"}},
        key,
    )
    await ok(
        api,
        f'mutation {{ archivePromptVersion(name: "{TEXT_PROMPT}", version: 3) {{ version }} }}',
        None,
        key,
    )
    # Overwrites v1: its first content becomes a revision.
    await ok(
        api,
        save,
        {
            "input": {
                "name": TEXT_PROMPT,
                "version": 1,
                "templateText": f"{MARKER} v1 edited {{{{ who }}}}",
                "description": f"{MARKER} edited",
            }
        },
        key,
    )
    for label, version in (("production", 2), (A_LABEL, 1)):
        await ok(
            api,
            f'mutation {{ setLabel(name: "{TEXT_PROMPT}", label: "{label}", version: {version}) {{ version }} }}',
            None,
            key,
        )
    await ok(
        api,
        create,
        {
            "input": {
                "name": CHAT_PROMPT,
                "messages": [
                    {"role": "system", "content": f"{MARKER} chat {{{{ topic }}}}", "name": MARKER}
                ],
                "tags": [TAG_BETA],
            }
        },
        key,
    )
    usage = "mutation($input: RecordUsageInput!) { recordUsage(input: $input) { status } }"
    for name, version, trace, span, outcome in (
        (
            TEXT_PROMPT,
            1,
            T1,
            None,
            {
                "status": "SUCCESS",
                "costUsd": 0.5,
                "latencyMs": 100.0,
                "startedAt": "2024-01-15T10:00:00Z",
            },
        ),
        (
            TEXT_PROMPT,
            2,
            T2,
            None,
            {
                "status": "ERROR",
                "costUsd": 1.5,
                "latencyMs": 300.0,
                "startedAt": "2024-01-15T11:00:00Z",
            },
        ),
        (
            TEXT_PROMPT,
            2,
            T3,
            SPAN,
            {"status": "SUCCESS", "latencyMs": 50.0, "startedAt": "2024-01-15T12:00:00Z"},
        ),
        (CHAT_PROMPT, 1, T3, None, None),
    ):
        data = await ok(
            api,
            usage,
            {
                "input": {
                    "promptName": name,
                    "promptVersion": version,
                    "traceId": trace,
                    "spanId": span,
                    "outcome": outcome,
                }
            },
            key,
        )
        assert data == {"recordUsage": {"status": "recorded"}}


def ids_in(value: Any) -> set[tuple[str, str]]:
    """Every (type, id) anywhere in a response (each document asks `__typename` with `id`)."""
    found: set[tuple[str, str]] = set()
    if isinstance(value, dict):
        if "id" in value:
            found.add((value["__typename"], value["id"]))
        for item in value.values():
            found |= ids_in(item)
    elif isinstance(value, list):
        for item in value:
            found |= ids_in(item)
    return found


@pytest.fixture
async def world(api) -> World:
    a_key = await api.key(A_WORKSPACE, A_USER, Role.ADMIN)
    await seed_a(api, a_key)
    b_keys = {role: await api.key(B_WORKSPACE, b_user(role), role) for role in ROLES}
    state = (await api.gql(SNAPSHOT, key=a_key)).ok()
    # The seed is what the probes aim at: make sure it is really there.
    prompts = {item["name"]: item for item in state["prompts"]["items"]}
    assert sorted(prompts) == [CHAT_PROMPT, TEXT_PROMPT]
    assert prompts[TEXT_PROMPT]["versionCount"] == 3
    assert prompts[TEXT_PROMPT]["labels"][1]["name"] == A_LABEL
    v1 = prompts[TEXT_PROMPT]["versions"]["items"][-1]
    assert v1["revisions"][0]["templateText"].startswith(MARKER)
    assert v1["metrics"]["totalTraces"] == 1 and v1["window"]["successRate"] == 1.0
    a_ids = ids_in(state)
    assert len(a_ids) == 2 + 4
    return World(
        api=api,
        a_key=a_key,
        a_prompt_ids={name: item["id"] for name, item in prompts.items()},
        a_ids=a_ids,
        a_state=state,
        b_keys=b_keys,
    )


# --- probes ---------------------------------------------------------------------------------

NOT_FOUND = "NOT_FOUND"
Check = Callable[[World, Role, Any, dict[str, Any]], Awaitable[None]]


@dataclass
class Probe:
    """One B request aimed at A's data, and what B must get back.

    expect: the exact `data` (reads), NOT_FOUND, or a check of B's own result.
    min_role: below it, B's key is refused for its role (FORBIDDEN), whatever it targets.
    """

    document: str
    expect: Any
    variables: Callable[[World, Role], dict[str, Any]] | dict[str, Any] = field(
        default_factory=dict
    )
    min_role: Role = Role.VIEWER

    @property
    def writes(self) -> bool:
        return "mutation" in self.document

    def variables_for(self, world: World, role: Role) -> dict[str, Any]:
        return self.variables(world, role) if callable(self.variables) else self.variables


EMPTY_PROMPTS = {"pagination": {"total": 0}, "items": []}
EMPTY_VERSIONS = {"pagination": {"total": 0}, "items": []}


def prompts_probe(arguments: str) -> Probe:
    return Probe(
        gql(f"query {{ prompts({arguments}) {{ pagination {{ total }} items {{ ...P }} }} }}"),
        {"prompts": EMPTY_PROMPTS},
    )


def prompt_probe(arguments: str) -> Probe:
    return Probe(gql(f"query {{ prompt({arguments}) {{ ...P }} }}"), {"prompt": None})


def versions_probe(arguments: str, variables: Any = None) -> Probe:
    return Probe(
        gql(
            f"query{'($id: ID)' if '$id' in arguments else ''} {{ promptVersions({arguments}) "
            "{ pagination { total } items { ...VP } } }"
        ),
        {"promptVersions": EMPTY_VERSIONS},
        variables or {},
    )


def version_probe(arguments: str) -> Probe:
    return Probe(
        gql(f"query {{ promptVersion({arguments}) {{ ...VP }} }}"),
        {"promptVersion": None},
    )


def compare_probe(arguments: str) -> Probe:
    return Probe(gql(f"query {{ comparePromptVersions({arguments}) {{ ...C }} }}"), NOT_FOUND)


def a_prompt_id(world: World, _role: Role) -> dict[str, Any]:
    return {"id": world.a_prompt_ids[TEXT_PROMPT]}


def a_chat_id(world: World, _role: Role) -> dict[str, Any]:
    return {"id": world.a_prompt_ids[CHAT_PROMPT]}


def mutation(document: str, min_role: Role = Role.EDITOR) -> Probe:
    return Probe(gql(document), NOT_FOUND, min_role=min_role)


# -- checks of writes that create B's own data --


def b_versions(b_state: dict[str, Any], name: str) -> dict[int, dict[str, Any]]:
    for item in b_state["prompts"]["items"]:
        if item["name"] == name:
            return {v["version"]: v for v in item["versions"]["items"]}
    return {}


def assert_b_version(
    version: dict[str, Any], role: Role, name: str, number: int, text: str, prompt_type: str
) -> None:
    """A version B wrote, carrying nothing of A's version of that name and number."""
    assert version["name"] == name
    assert version["version"] == number
    assert version["fqn"] == f"prompt:{B_WORKSPACE}/{name}:{number}"
    assert version["type"] == prompt_type
    assert version["templateText"] == text
    assert version["messages"] is None
    assert version["createdBy"] in {b_user(r) for r in ROLES}
    assert version["tags"] == []
    assert version["labels"] == []
    assert version["models"] == []
    assert version["metadata"] == {}
    assert version["isActive"] is True
    assert version["metrics"]["totalTraces"] == 0


def assert_b_prompt(prompt: dict[str, Any], name: str, numbers: list[int]) -> None:
    """B's prompt of that name, holding B's versions only (newest first)."""
    assert prompt["name"] == name
    assert prompt["fqn"] == f"prompt:{B_WORKSPACE}/{name}"
    assert prompt["versionCount"] == len(numbers)
    assert prompt["labels"] == []
    assert prompt["released"] is None
    assert [v["version"] for v in prompt["versions"]["items"]] == sorted(numbers, reverse=True)
    assert prompt["versions"]["pagination"]["total"] == len(numbers)
    assert prompt["latestVersion"]["version"] == max(numbers)
    if 3 not in numbers:
        assert prompt["third"] is None


def create_variables(name: str) -> Callable[[World, Role], dict[str, Any]]:
    def build(_world: World, role: Role) -> dict[str, Any]:
        # The editor creates B's version 1, the admin B's version 2: the same numbers A has.
        number = {Role.VIEWER: 1, Role.EDITOR: 1, Role.ADMIN: 2}[role]
        return {"input": {"name": name, "version": number, "templateText": f"b {role.value}"}}

    return build


def check_created(name: str) -> Check:
    async def check(world: World, role: Role, data: Any, b_before: dict[str, Any]) -> None:
        number = {Role.EDITOR: 1, Role.ADMIN: 2}[role]
        version = data["createPromptVersion"]
        # A's prompt of that name does not exist for B: no CONFLICT, and the type is B's.
        assert_b_version(version, role, name, number, f"b {role.value}", "TEXT")
        assert version["createdBy"] == b_user(role)
        assert version["revisions"] == []
        numbers = sorted([*b_versions(b_before, name), number])
        assert_b_prompt(version["prompt"], name, numbers)
        world.b_owned.add(name)
        after = b_versions(await world.b_snapshot(), name)
        assert sorted(after) == numbers

    return check


def save_variables(name: str, **extra: Any) -> Callable[[World, Role], dict[str, Any]]:
    def build(_world: World, role: Role) -> dict[str, Any]:
        return {"input": {"name": name, "templateText": f"b {role.value} {extra}", **extra}}

    return build


def check_saved(name: str, **extra: Any) -> Check:
    async def check(world: World, role: Role, data: Any, b_before: dict[str, Any]) -> None:
        version = data["savePromptVersion"]
        mine = b_versions(b_before, name)
        # With autoIncrement, B's numbering: A's three versions do not count.
        auto = max(mine, default=0) + 1
        number = auto if extra.get("autoIncrement") else extra.get("version", 1)
        text = f"b {role.value} {extra}"
        assert_b_version(version, role, name, number, text, "TEXT")
        # An overwrite keeps B's previous content as the revision: never A's.
        previous = mine.get(number)
        expected_revisions = (
            []
            if previous is None
            else [previous["templateText"]] + [r["templateText"] for r in previous["revisions"]]
        )
        assert [r["templateText"] for r in version["revisions"]] == expected_revisions
        assert all(r["replacedBy"] == b_user(role) for r in version["revisions"][:1])
        numbers = sorted({*mine, number})
        assert_b_prompt(version["prompt"], name, numbers)
        world.b_owned.add(name)
        after = b_versions(await world.b_snapshot(), name)
        assert after[number]["templateText"] == text

    return check


async def check_traces(world: World, role: Role, data: Any, b_before: dict[str, Any]) -> None:
    # B may record outcomes of traces of its own; that A used the same ids changes nothing
    # of A (checked after every probe). B's usage of T1 sees B's outcome of it, not A's.
    assert data == {"recordTraces": {"accepted": 2}}
    api, key = world.api, world.b_keys[role]
    saved = await ok(
        api,
        'mutation { savePromptVersion(input: {name: "b-traced", templateText: "t", autoIncrement: true}) { version } }',
        None,
        key,
    )
    number = saved["savePromptVersion"]["version"]
    usage = {"promptName": "b-traced", "promptVersion": number, "traceId": T1}
    await ok(api, USAGE, {"input": usage}, key)
    metrics = await ok(
        api,
        f'{{ promptVersion(name: "b-traced", version: {number}) {{ metrics {{ totalTraces successRate avgCostUsd avgLatencyMs firstUsedAt }} }} }}',
        None,
        key,
    )
    assert metrics["promptVersion"]["metrics"] == {
        "totalTraces": 1,
        "successRate": 0.0,
        "avgCostUsd": 999.0,
        "avgLatencyMs": 9999.0,
        "firstUsedAt": "2030-01-01T00:00:00Z",
    }


async def check_integration(world: World, role: Role, data: Any, b_before: dict[str, Any]) -> None:
    # An integration of A's name is B's own: created in B, with B's models only.
    assert data == {
        "createIntegration": {"name": A_INTEGRATION, "provider": "openai", "models": ["b-model"]}
    }
    world.b_owned.add(A_INTEGRATION)
    key = world.b_keys[role]
    use = 'mutation($m: [String!]) { savePromptVersion(input: {name: "b-model-user", templateText: "t", autoIncrement: true, models: $m}) { models } }'
    refused = await world.api.gql(use, {"m": [f"{A_INTEGRATION}:{A_MODEL}"]}, key=key)
    assert refused.codes == ["NOT_FOUND"], refused.body
    used = await world.api.gql(use, {"m": [f"{A_INTEGRATION}:b-model"]}, key=key)
    assert used.ok() == {"savePromptVersion": {"models": [f"{A_INTEGRATION}:b-model"]}}


TRACES_VARIABLES = {
    "traces": [
        {
            "traceId": T1,
            "status": "ERROR",
            "costUsd": 999.0,
            "latencyMs": 9999.0,
            "startedAt": "2030-01-01T00:00:00Z",
        },
        {
            "traceId": T2,
            "status": "SUCCESS",
            "costUsd": 0.0,
            "latencyMs": 1.0,
            "startedAt": "2031-01-01T00:00:00Z",
        },
    ]
}

USAGE = "mutation($input: RecordUsageInput!) { recordUsage(input: $input) { status } }"


def usage_probe(name: str, version: int, trace: str, span: str | None, outcome: Any) -> Probe:
    return Probe(
        USAGE,
        NOT_FOUND,
        {
            "input": {
                "promptName": name,
                "promptVersion": version,
                "traceId": trace,
                "spanId": span,
                "outcome": outcome,
            }
        },
        min_role=Role.EDITOR,
    )


ROOT_PROBES: dict[str, list[Probe]] = {
    # Query
    "viewer": [
        Probe("query { viewer { user workspace role } }", "viewer"),
    ],
    "prompts": [
        prompts_probe("limit: 10"),
        prompts_probe('search: "secret"'),
        prompts_probe('search: "SECRET-PROMPT"'),
        prompts_probe(f'tag: "{TAG_ALPHA}"'),
        prompts_probe(f'search: "chat", tag: "{TAG_BETA}"'),
        prompts_probe("offset: 1, limit: 1"),
    ],
    "prompt": [
        prompt_probe(f'name: "{TEXT_PROMPT}"'),
        prompt_probe(f'name: "{CHAT_PROMPT}"'),
        prompt_probe(f'fqn: "{A_FQN}"'),
        prompt_probe(f'fqn: "prompt:{B_WORKSPACE}/{TEXT_PROMPT}"'),
    ],
    "promptVersions": [
        versions_probe("limit: 50"),
        versions_probe("includeArchived: true, limit: 50"),
        versions_probe(f'name: "{TEXT_PROMPT}"'),
        versions_probe(f'name: "{TEXT_PROMPT}", includeArchived: true'),
        versions_probe(f'name: "{CHAT_PROMPT}"'),
        versions_probe(f'fqn: "{A_FQN}"'),
        versions_probe(f'fqn: "{A_FQN}:1"'),
        versions_probe(f'fqn: "{A_FQN}:3", includeArchived: true'),
        versions_probe(f'fqn: "{A_FQN}:latest"'),
        versions_probe("promptId: $id", a_prompt_id),
        versions_probe("promptId: $id, includeArchived: true", a_prompt_id),
        versions_probe("promptId: $id", a_chat_id),
        versions_probe(f'tag: "{TAG_ALPHA}"'),
        versions_probe(f'tag: "{TAG_BETA}", includeArchived: true'),
        versions_probe(f'label: "{A_LABEL}"'),
        versions_probe('label: "production"'),
        versions_probe('version: "latest"'),
        versions_probe("version: 3, includeArchived: true"),
        versions_probe(f'name: "{TEXT_PROMPT}", version: 2'),
    ],
    "promptVersion": [
        version_probe(f'name: "{TEXT_PROMPT}"'),
        version_probe(f'name: "{TEXT_PROMPT}", version: 1'),
        version_probe(f'name: "{TEXT_PROMPT}", version: 3'),
        version_probe(f'name: "{TEXT_PROMPT}", version: "latest"'),
        version_probe(f'name: "{TEXT_PROMPT}", label: "{A_LABEL}"'),
        version_probe(f'name: "{TEXT_PROMPT}", label: "production"'),
        version_probe(f'name: "{CHAT_PROMPT}"'),
        version_probe(f'fqn: "{A_FQN}:1"'),
        version_probe(f'fqn: "{A_FQN}:latest"'),
        version_probe(f'fqn: "{A_FQN}", label: "{A_LABEL}"'),
        version_probe(f'fqn: "{A_FQN}"'),
    ],
    "comparePromptVersions": [
        compare_probe(f'name: "{TEXT_PROMPT}"'),
        compare_probe(f'name: "{TEXT_PROMPT}", baseline: 1'),
        compare_probe(f'name: "{TEXT_PROMPT}", since: "{DAY_START}", until: "{DAY_END}"'),
        compare_probe(f'name: "{CHAT_PROMPT}"'),
    ],
    # Mutation
    "createPromptVersion": [
        Probe(CREATE, check_created(TEXT_PROMPT), create_variables(TEXT_PROMPT), Role.EDITOR),
        # A's chat prompt fixes nothing for B: B's prompt of that name is a TEXT prompt.
        Probe(CREATE, check_created(CHAT_PROMPT), create_variables(CHAT_PROMPT), Role.EDITOR),
        Probe(
            CREATE,
            NOT_FOUND,
            {
                "input": {
                    "name": "b-uses-a-model",
                    "templateText": "t",
                    "models": [f"{A_INTEGRATION}:{A_MODEL}"],
                }
            },
            Role.EDITOR,
        ),
    ],
    "savePromptVersion": [
        Probe(
            SAVE,
            check_saved(TEXT_PROMPT, autoIncrement=True),
            save_variables(TEXT_PROMPT, autoIncrement=True),
            Role.EDITOR,
        ),
        Probe(
            SAVE,
            check_saved(TEXT_PROMPT, version=1),
            save_variables(TEXT_PROMPT, version=1),
            Role.EDITOR,
        ),
        Probe(
            SAVE,
            check_saved(TEXT_PROMPT, version=3),
            save_variables(TEXT_PROMPT, version=3),
            Role.EDITOR,
        ),
        Probe(SAVE, check_saved(CHAT_PROMPT), save_variables(CHAT_PROMPT), Role.EDITOR),
        Probe(
            SAVE,
            NOT_FOUND,
            {
                "input": {
                    "name": "b-uses-a-model",
                    "templateText": "t",
                    "models": [f"{A_INTEGRATION}:{A_MODEL}"],
                }
            },
            Role.EDITOR,
        ),
    ],
    "updatePromptVersion": [
        mutation(
            f'mutation {{ updatePromptVersion(input: {{name: "{TEXT_PROMPT}", version: 1, description: "b"}}) {{ ...VP }} }}'
        ),
        mutation(
            f'mutation {{ updatePromptVersion(input: {{name: "{CHAT_PROMPT}", version: 1, metadata: null}}) {{ ...VP }} }}'
        ),
        mutation(
            f'mutation {{ updatePromptVersion(input: {{name: "{TEXT_PROMPT}", version: 3, models: ["{A_INTEGRATION}:{A_MODEL}"]}}) {{ ...VP }} }}'
        ),
    ],
    "recordUsage": [
        usage_probe(TEXT_PROMPT, 1, T1, None, None),
        usage_probe(TEXT_PROMPT, 2, T2, SPAN, {"status": "SUCCESS", "costUsd": 42.0}),
        usage_probe(
            TEXT_PROMPT, 3, T3, None, {"status": "ERROR", "startedAt": "2030-01-01T00:00:00Z"}
        ),
    ],
    "recordTraces": [
        Probe(
            "mutation($traces: [TraceInput!]!) { recordTraces(traces: $traces) { accepted } }",
            check_traces,
            TRACES_VARIABLES,
            Role.EDITOR,
        ),
    ],
    "setPromptVersionTags": [
        mutation(
            f'mutation {{ setPromptVersionTags(name: "{TEXT_PROMPT}", version: 1, tags: ["{TAG_BETA}"]) {{ ...VP }} }}'
        ),
        mutation(
            f'mutation {{ setPromptVersionTags(name: "{CHAT_PROMPT}", version: 1, tags: ["x"]) {{ ...VP }} }}'
        ),
    ],
    "setLabel": [
        mutation(
            f'mutation {{ setLabel(name: "{TEXT_PROMPT}", label: "{A_LABEL}", version: 2) {{ ...VP }} }}'
        ),
        mutation(
            f'mutation {{ setLabel(name: "{TEXT_PROMPT}", label: "production", version: 1) {{ ...VP }} }}'
        ),
        mutation(
            f'mutation {{ setLabel(name: "{TEXT_PROMPT}", label: "staging", version: 3) {{ ...VP }} }}'
        ),
    ],
    "removeLabel": [
        mutation(
            f'mutation {{ removeLabel(name: "{TEXT_PROMPT}", label: "{A_LABEL}") {{ ...P }} }}'
        ),
        mutation(
            f'mutation {{ removeLabel(name: "{TEXT_PROMPT}", label: "production") {{ ...P }} }}'
        ),
    ],
    "archivePromptVersion": [
        mutation(
            f'mutation {{ archivePromptVersion(name: "{TEXT_PROMPT}", version: 1) {{ ...VP }} }}'
        ),
        mutation(
            f'mutation {{ archivePromptVersion(name: "{TEXT_PROMPT}", version: 3, archived: false) {{ ...VP }} }}'
        ),
    ],
    "createIntegration": [
        Probe(
            INTEGRATION,
            check_integration,
            {"input": {"name": A_INTEGRATION, "provider": "openai", "models": ["b-model"]}},
            min_role=Role.ADMIN,
        ),
    ],
}


def _object_type(graphql_type: Any) -> Any:
    while isinstance(graphql_type, GraphQLNonNull | GraphQLList):
        graphql_type = graphql_type.of_type
    return graphql_type


def schema_roots() -> dict[str, list[str]]:
    schema = build_schema()._schema
    return {
        "Query": list(schema.query_type.fields),
        "Mutation": list(schema.mutation_type.fields),
    }


def fields_with_arguments() -> set[str]:
    """`Type.field` for every field taking arguments on an object type reachable from the roots
    (other than the roots themselves): arguments there could reach other rows."""
    schema = build_schema()._schema
    seen: set[str] = set()
    found: set[str] = set()
    pending = [schema.query_type, schema.mutation_type]
    while pending:
        current = pending.pop()
        if current.name in seen:
            continue
        seen.add(current.name)
        for name, graphql_field in current.fields.items():
            if graphql_field.args and current not in (schema.query_type, schema.mutation_type):
                found.add(f"{current.name}.{name}")
            target = _object_type(graphql_field.type)
            if isinstance(target, GraphQLObjectType):
                pending.append(target)
    return found


ROOTS = schema_roots()
ROOT_FIELDS = [f"{kind}.{name}" for kind, names in ROOTS.items() for name in names]


# --- running a probe ------------------------------------------------------------------------


def assert_nothing_of_a(world: World, result: Any, sent: str) -> None:
    body = json.dumps(result.body)
    for secret in A_STRINGS:
        if secret in sent or any(secret in owned for owned in world.b_owned):
            continue
        assert secret not in body, f"{secret!r} of workspace A in B's response: {body}"
    leaked = ids_in(result.data) & world.a_ids
    assert not leaked, f"ids {leaked} of workspace A in B's response: {body}"


async def run_probe(world: World, probe: Probe, role: Role) -> None:
    api = world.api
    variables = probe.variables_for(world, role)
    b_before = await world.b_snapshot() if probe.writes else {}
    result = await api.gql(probe.document, variables, key=world.b_keys[role])
    context = f"{role.value}: {probe.document.splitlines()[0]} {variables}"

    assert result.status == 200, (context, result.body)
    assert "INTERNAL_SERVER_ERROR" not in result.codes, (context, result.body)
    assert_nothing_of_a(world, result, probe.document + json.dumps(variables))

    refused = role.rank < probe.min_role.rank
    if refused:
        # B's own role is too low for this field: refused as for any target.
        assert result.codes in (["FORBIDDEN"], ["NOT_FOUND"]), (context, result.body)
        assert result.data is None, (context, result.body)
    else:
        assert set(result.codes) <= {"NOT_FOUND", "BAD_USER_INPUT"}, (context, result.body)
        if probe.expect == NOT_FOUND:
            assert result.codes == ["NOT_FOUND"], (context, result.body)
            assert result.data is None, (context, result.body)
        elif probe.expect == "viewer":
            assert result.ok() == {
                "viewer": {"user": b_user(role), "workspace": B_WORKSPACE, "role": role.value}
            }
        elif callable(probe.expect):
            await probe.expect(world, role, result.ok(), b_before)
        else:
            assert result.ok() == probe.expect, context
    if probe.writes:
        # A failed write changes nothing, in B either; and no B write changes anything of A.
        failed = refused or probe.expect == NOT_FOUND
        a_after, b_after = await asyncio.gather(
            world.a_snapshot(), world.b_snapshot() if failed else asyncio.sleep(0, b_before)
        )
        assert a_after == world.a_state, f"A changed after {context}"
        assert b_after == b_before, f"B changed after the failed {context}"


# --- tests ----------------------------------------------------------------------------------


def test_every_root_field_has_isolation_probes():
    """A root field added to the schema must get probes here before this suite passes."""
    assert set(ROOT_PROBES) == {name for names in ROOTS.values() for name in names}
    assert all(ROOT_PROBES.values())
    assert ROOTS["Query"] and ROOTS["Mutation"]


@pytest.mark.parametrize("root_field", ROOT_FIELDS)
async def test_workspace_b_cannot_reach_workspace_a_through_root_field(world, root_field):
    _, name = root_field.split(".")
    probes = ROOT_PROBES[name]
    for role in ROLES:
        for probe in probes:
            await run_probe(world, probe, role)
    # Whatever B did, A reads exactly what it read before.
    assert await world.a_snapshot() == world.a_state
    # A's integration has no read field: A's writes show it is still A's own, unchanged.
    use = 'mutation($m: [String!]) { savePromptVersion(input: {name: "a-model-user", templateText: "t", models: $m}) { models } }'
    refused = await world.api.gql(use, {"m": [f"{A_INTEGRATION}:b-model"]}, key=world.a_key)
    assert refused.codes == ["NOT_FOUND"], refused.body
    assert await world.a_snapshot() == world.a_state
    used = await world.api.gql(use, {"m": [f"{A_INTEGRATION}:{A_MODEL}"]}, key=world.a_key)
    assert used.ok() == {"savePromptVersion": {"models": [f"{A_INTEGRATION}:{A_MODEL}"]}}


# -- object fields with arguments: B reaches them through its own prompt of A's name --------

NESTED_OWN_TEXT = "b own {{ who }}"


def nested_version_probe(selection: str, expected: Any) -> Probe:
    return Probe(
        gql(f'query {{ prompt(name: "{TEXT_PROMPT}") {{ name {selection} }} }}'),
        {"prompt": {"name": TEXT_PROMPT, **expected}},
    )


def own_version_probe(selection: str, expected: Any) -> Probe:
    return Probe(
        gql(
            f'query {{ promptVersion(name: "{TEXT_PROMPT}", version: 1) {{ version {selection} }} }}'
        ),
        {"promptVersion": {"version": 1, **expected}},
    )


B_METRICS = {
    # B linked A's trace T1 to its own version; A's outcome of T1 is not B's.
    "totalTraces": 1,
    "successRate": None,
    "avgCostUsd": None,
    "avgLatencyMs": None,
    "p50LatencyMs": None,
    "p95LatencyMs": None,
    "successRateCi95": None,
}
B_WINDOW_METRICS = {**B_METRICS, "totalTraces": 0, "firstUsedAt": None, "lastUsedAt": None}
EMPTY_BUCKET = {"totalTraces": 0, "successRate": None, "avgCostUsd": None, "avgLatencyMs": None}

NESTED_PROBES: dict[str, list[Probe]] = {
    "Prompt.version": [
        nested_version_probe("v: version(version: 2) { ...V }", {"v": None}),
        nested_version_probe("v: version(version: 3) { ...V }", {"v": None}),
        nested_version_probe(f'v: version(label: "{A_LABEL}") {{ ...V }}', {"v": None}),
        nested_version_probe('v: version(label: "production") { ...V }', {"v": None}),
        nested_version_probe(
            'v: version(version: "latest") { version templateText tags labels revisions { templateText } }',
            {
                "v": {
                    "version": 1,
                    "templateText": NESTED_OWN_TEXT,
                    "tags": [],
                    "labels": [],
                    "revisions": [],
                }
            },
        ),
        nested_version_probe(
            "v: version(version: 1) { version templateText description tags labels models metadata createdBy revisions { templateText } }",
            {
                "v": {
                    "version": 1,
                    "templateText": NESTED_OWN_TEXT,
                    "description": None,
                    "tags": [],
                    "labels": [],
                    "models": [],
                    "metadata": {},
                    "createdBy": b_user(Role.ADMIN),
                    "revisions": [],
                }
            },
        ),
    ],
    "Prompt.versions": [
        nested_version_probe(
            f'v: versions(tag: "{TAG_ALPHA}", includeArchived: true) {{ pagination {{ total }} items {{ ...V }} }}',
            {"v": EMPTY_VERSIONS},
        ),
        nested_version_probe(
            f'v: versions(tag: "{TAG_BETA}") {{ pagination {{ total }} items {{ ...V }} }}',
            {"v": EMPTY_VERSIONS},
        ),
        nested_version_probe(
            "versionCount labels { name } v: versions(includeArchived: true, limit: 100) { pagination { total } items { version templateText } }",
            {
                "versionCount": 1,
                "labels": [],
                "v": {
                    "pagination": {"total": 1},
                    "items": [{"version": 1, "templateText": NESTED_OWN_TEXT}],
                },
            },
        ),
        nested_version_probe(
            "v: versions(offset: 1, limit: 5) { pagination { total } items { version } }",
            {"v": {"pagination": {"total": 1}, "items": []}},
        ),
    ],
    "PromptVersion.metrics": [
        own_version_probe(
            "metrics { ...M }",
            {"metrics": {**B_METRICS, "firstUsedAt": "<set>", "lastUsedAt": "<set>"}},
        ),
        own_version_probe(
            f'metrics(since: "{DAY_START}", until: "{DAY_END}") {{ ...M }}',
            {"metrics": B_WINDOW_METRICS},
        ),
    ],
    "PromptVersion.metricsSeries": [
        own_version_probe(
            f'metricsSeries(since: "{DAY_START}", until: "{DAY_END}", bucket: HOUR) {{ totalTraces successRate avgCostUsd avgLatencyMs }}',
            {"metricsSeries": [EMPTY_BUCKET] * 24},
        ),
        own_version_probe(
            f'metricsSeries(since: "{DAY_START}", until: "{DAY_END}") {{ totalTraces successRate avgCostUsd avgLatencyMs }}',
            {"metricsSeries": [EMPTY_BUCKET]},
        ),
    ],
    "PromptVersion.render": [
        own_version_probe(
            'render(variables: {who: "x"}) { text messages { content } }',
            {"render": {"text": "b own x", "messages": None}},
        ),
    ],
}

# Root reads that now find B's own prompt of A's name, and only it.
OWN_ROOT_PROBES = [
    Probe(
        gql(f'query {{ comparePromptVersions(name: "{TEXT_PROMPT}") {{ ...C }} }}'),
        {
            "comparePromptVersions": {
                "name": TEXT_PROMPT,
                "baselineVersion": 1,
                "versions": [
                    {
                        "version": 1,
                        "templateText": NESTED_OWN_TEXT,
                        "totalTraces": 1,
                        "successRate": None,
                        "avgCostUsd": None,
                        "avgLatencyMs": None,
                        "p95LatencyMs": None,
                        "successRateCi95": None,
                        "successRatePValue": None,
                        "isBaseline": True,
                    }
                ],
            }
        },
    ),
    compare_probe(f'name: "{TEXT_PROMPT}", baseline: 2'),
    Probe(
        f'query {{ promptVersions(name: "{TEXT_PROMPT}", includeArchived: true) {{ pagination {{ total }} items {{ fqn version }} }} '
        f'byLabel: promptVersions(label: "{A_LABEL}") {{ pagination {{ total }} }} '
        f'byTag: promptVersions(tag: "{TAG_ALPHA}", includeArchived: true) {{ pagination {{ total }} }} }}',
        {
            "promptVersions": {
                "pagination": {"total": 1},
                "items": [{"fqn": f"prompt:{B_WORKSPACE}/{TEXT_PROMPT}:1", "version": 1}],
            },
            "byLabel": {"pagination": {"total": 0}},
            "byTag": {"pagination": {"total": 0}},
        },
    ),
    version_probe(f'name: "{TEXT_PROMPT}", version: 2'),
    version_probe(f'name: "{TEXT_PROMPT}", label: "{A_LABEL}"'),
    versions_probe("promptId: $id, includeArchived: true", a_prompt_id),
]


def test_every_object_field_with_arguments_has_isolation_probes():
    assert set(NESTED_PROBES) == fields_with_arguments()
    assert all(NESTED_PROBES.values())


def _fill_set_markers(expected: Any, actual: Any) -> Any:
    """`"<set>"` in an expectation matches any non-null value."""
    if expected == "<set>":
        return actual if actual is not None else expected
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {k: _fill_set_markers(v, actual.get(k)) for k, v in expected.items()}
    return expected


async def test_workspace_b_cannot_reach_workspace_a_through_object_fields(world):
    """B owns a prompt of A's name, whose v1 used A's trace id T1: every field with
    arguments below it finds B's rows only (A's versions 2 and 3, labels, tags, revisions and
    the outcome A recorded for T1 stay out of reach)."""
    api, admin = world.api, world.b_keys[Role.ADMIN]
    await ok(
        api,
        "mutation($input: CreatePromptVersionInput!) { createPromptVersion(input: $input) { version } }",
        {"input": {"name": TEXT_PROMPT, "templateText": NESTED_OWN_TEXT}},
        admin,
    )
    recorded = await ok(
        api,
        USAGE,
        {"input": {"promptName": TEXT_PROMPT, "promptVersion": 1, "traceId": T1}},
        admin,
    )
    assert recorded == {"recordUsage": {"status": "recorded"}}
    world.b_owned.update({TEXT_PROMPT, T1})
    assert await world.a_snapshot() == world.a_state

    for role in ROLES:
        for name, probes in NESTED_PROBES.items():
            for probe in probes:
                result = await api.gql(probe.document, {}, key=world.b_keys[role])
                assert result.status == 200, (name, result.body)
                assert_nothing_of_a(world, result, probe.document)
                data = result.ok()
                assert data == _fill_set_markers(probe.expect, data), (name, role)
        for probe in OWN_ROOT_PROBES:
            await run_probe(world, probe, role)
    assert await world.a_snapshot() == world.a_state
