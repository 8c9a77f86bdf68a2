"""The read side: listing, filtering, paginating and looking up prompts and versions."""

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from promptgraph.services.auth import Role

RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


# --- helpers ------------------------------------------------------------------------------


async def archive(api, name, version, archived=True):
    result = await api.gql(
        "mutation($n: String!, $v: Int!, $a: Boolean!) {"
        " archivePromptVersion(name: $n, version: $v, archived: $a) { isActive } }",
        {"n": name, "v": version, "a": archived},
    )
    assert result.ok()["archivePromptVersion"]["isActive"] is not archived


async def set_label(api, name, label, version, key=None):
    result = await api.gql(
        "mutation($n: String!, $l: String!, $v: Int!) {"
        " setLabel(name: $n, label: $l, version: $v) { version } }",
        {"n": name, "l": label, "v": version},
        key=key,
    )
    assert result.ok()["setLabel"]["version"] == version


async def seed_catalog(api):
    """Three prompts in "acme" and a same-named one in "globex" that acme must never see.

    alpha: v1 [red] production, v2 [blue, red] (latest), v3 [blue] staging, archived
    beta:  v1 [blue], v2 [green] production (latest)
    gamma: v1 [red], archived: no latest at all
    """
    await api.create("alpha", "alpha one {{ x }}", tags=["red"])
    await api.create("alpha", "alpha two {{ x }}", version=2, tags=["red", "blue"])
    await api.create("alpha", "alpha three {{ x }}", version=3, tags=["blue"])
    await set_label(api, "alpha", "production", 1)
    await set_label(api, "alpha", "staging", 3)
    await archive(api, "alpha", 3)
    await api.create("beta", "beta one", tags=["blue"])
    await api.create("beta", "beta two", version=2, tags=["green"])
    await set_label(api, "beta", "production", 2)
    await api.create("gamma", "gamma one", tags=["red"])
    await archive(api, "gamma", 1)

    globex = await api.key("globex", "gus", Role.ADMIN)
    for version, tags in ((1, ["red", "blue", "green", "theirs"]), (2, ["red"]), (4, ["blue"])):
        result = await api.gql(
            "mutation($input: CreatePromptVersionInput!) {"
            " createPromptVersion(input: $input) { version } }",
            {
                "input": {
                    "name": "alpha",
                    "templateText": "theirs",
                    "version": version,
                    "tags": tags,
                }
            },
            key=globex,
        )
        result.ok()
    await set_label(api, "alpha", "production", 4, key=globex)
    await set_label(api, "alpha", "staging", 2, key=globex)


def pairs(page):
    return [(item["name"], item["version"]) for item in page["items"]]


def names(page):
    return [item["name"] for item in page["items"]]


def describe(value):
    """Readable test ids for argument dicts and expected (name, version) results."""
    if isinstance(value, dict):
        return ",".join(f"{key}={item}" for key, item in value.items()) or "no-args"
    if isinstance(value, tuple):
        return f"{value[0]}{value[1]}"
    if isinstance(value, list):
        return "+".join(describe(item) for item in value) or "empty"
    if value is None:
        return "null"
    return None


A1, A2, A3 = ("alpha", 1), ("alpha", 2), ("alpha", 3)
B1, B2 = ("beta", 1), ("beta", 2)
G1 = ("gamma", 1)

PROMPTS = """
query($search: String, $tag: String, $offset: Int! = 0, $limit: Int! = 20) {
  prompts(search: $search, tag: $tag, offset: $offset, limit: $limit) {
    items { name }
    pagination { total offset limit }
  }
}
"""

PROMPT_VERSIONS = """
query($name: String, $fqn: String, $promptId: ID, $tag: String, $label: String,
      $version: VersionSelector, $includeArchived: Boolean! = false,
      $offset: Int! = 0, $limit: Int! = 20) {
  promptVersions(name: $name, fqn: $fqn, promptId: $promptId, tag: $tag, label: $label,
                 version: $version, includeArchived: $includeArchived,
                 offset: $offset, limit: $limit) {
    items { name version }
    pagination { total offset limit }
  }
}
"""

PROMPT_VERSION = """
query($name: String, $fqn: String, $version: VersionSelector, $label: String) {
  promptVersion(name: $name, fqn: $fqn, version: $version, label: $label) {
    name version isActive isLatest templateText fqn
  }
}
"""


# --- prompts: ordering, search, tag, pagination ---------------------------------------------

# Byte order puts digits, then upper case, then "_", then lower case; "-" < "." < digits.
# A case-insensitive or punctuation-blind collation would order these differently.
ORDER_NAMES = ["b", "B", "a", "aB", "a_b", "a.b", "a-b", "Ab", "Z_", "1z", "Z", "ab"]


async def test_prompts_are_ordered_by_name_in_byte_order(api):
    for name in ORDER_NAMES:
        await api.create(name, "hi")
    expected = sorted(ORDER_NAMES)
    assert expected != sorted(ORDER_NAMES, key=str.lower)  # the names tell the orders apart

    page = (await api.gql(PROMPTS)).ok()["prompts"]
    assert names(page) == expected
    assert page["pagination"] == {"total": len(ORDER_NAMES), "offset": 0, "limit": 20}

    # Paging walks the same order without gaps or repeats.
    walked = []
    for offset in range(0, len(ORDER_NAMES), 5):
        chunk = (await api.gql(PROMPTS, {"offset": offset, "limit": 5})).ok()["prompts"]
        walked += names(chunk)
    assert walked == expected


SEARCH_NAMES = ["Classify-Intent", "classifier", "reclassify", "summarize", "a_b", "axb", "A_B2"]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("class", ["Classify-Intent", "classifier", "reclassify"]),
        ("CLASS", ["Classify-Intent", "classifier", "reclassify"]),
        ("ify-IN", ["Classify-Intent"]),
        ("summarize", ["summarize"]),
        ("zzz", []),
        # "_" and "%" are literal characters, not LIKE wildcards.
        ("_", ["A_B2", "a_b"]),
        ("a_b", ["A_B2", "a_b"]),
        ("%", []),
        ("a%b", []),
        ("x%", []),
        # Nor do escape characters of any SQL dialect change the match.
        ("/", []),
        ("\\", []),
        ("a\\_b", []),
        ("a/_b", []),
    ],
)
async def test_prompts_search_is_a_case_insensitive_literal_substring(api, search, expected):
    for name in SEARCH_NAMES:
        await api.create(name, "hi")
    page = (await api.gql(PROMPTS, {"search": search})).ok()["prompts"]
    assert names(page) == expected
    assert page["pagination"]["total"] == len(expected)


async def test_prompts_empty_search_matches_every_name(api):
    for name in ("one", "two"):
        await api.create(name, "hi")
    page = (await api.gql(PROMPTS, {"search": ""})).ok()["prompts"]
    assert names(page) == ["one", "two"]


async def test_prompts_tag_filter_selects_prompts_with_a_version_carrying_the_tag(api):
    await seed_catalog(api)
    await api.create("delta", "untagged")

    async def tagged(tag):
        return names((await api.gql(PROMPTS, {"tag": tag})).ok()["prompts"])

    # "red" is on alpha v1 (not its latest): the prompt still matches.
    assert await tagged("red") == ["alpha"]
    assert await tagged("blue") == ["alpha", "beta"]
    assert await tagged("green") == ["beta"]
    assert await tagged("purple") == []
    # A tag only another workspace uses matches nothing here.
    assert await tagged("theirs") == []


async def test_prompts_tag_filter_ignores_tags_only_on_archived_versions(api):
    # The contract is silent on archived versions here; lists hide archived versions by
    # default, and the tag filter follows that.
    await api.create("only-archived", "x", tags=["old"])
    await archive(api, "only-archived", 1)
    await api.create("active", "x", tags=["old"])
    page = (await api.gql(PROMPTS, {"tag": "old"})).ok()["prompts"]
    assert names(page) == ["active"]
    assert page["pagination"]["total"] == 1


async def test_prompts_search_and_tag_combine_with_and(api):
    await api.create("support-triage", "x", tags=["prod"])
    await api.create("support-reply", "x", tags=["draft"])
    await api.create("sales-triage", "x", tags=["prod"])
    page = (await api.gql(PROMPTS, {"search": "SUPPORT", "tag": "prod"})).ok()["prompts"]
    assert names(page) == ["support-triage"]
    assert page["pagination"]["total"] == 1
    page = (await api.gql(PROMPTS, {"search": "sales", "tag": "draft"})).ok()["prompts"]
    assert names(page) == []
    assert page["pagination"]["total"] == 0


@pytest.mark.parametrize(
    ("offset", "limit", "expected"),
    [
        (0, 20, ["p0", "p1", "p2", "p3", "p4"]),
        (0, 2, ["p0", "p1"]),
        (1, 2, ["p1", "p2"]),
        (3, 2, ["p3", "p4"]),
        (4, 2, ["p4"]),
        (5, 2, []),
        (50, 100, []),
        (0, 100, ["p0", "p1", "p2", "p3", "p4"]),
    ],
)
async def test_prompts_pagination_windows_and_total(api, offset, limit, expected):
    for index in (3, 0, 4, 1, 2):
        await api.create(f"p{index}", "x")
    page = (await api.gql(PROMPTS, {"offset": offset, "limit": limit})).ok()["prompts"]
    assert names(page) == expected
    assert page["pagination"] == {"total": 5, "offset": offset, "limit": limit}


async def test_prompts_total_counts_filtered_prompts_before_the_window(api):
    for index in range(4):
        await api.create(f"keep-{index}", "x")
        await api.create(f"drop-{index}", "x")
    page = (await api.gql(PROMPTS, {"search": "keep", "offset": 1, "limit": 2})).ok()["prompts"]
    assert names(page) == ["keep-1", "keep-2"]
    assert page["pagination"] == {"total": 4, "offset": 1, "limit": 2}


LIST_QUERIES = {
    "prompts": "query($offset: Int!, $limit: Int!) { prompts(offset: $offset, limit: $limit) { pagination { limit } } }",
    "promptVersions": "query($offset: Int!, $limit: Int!) { promptVersions(offset: $offset, limit: $limit) { pagination { limit } } }",
    "Prompt.versions": 'query($offset: Int!, $limit: Int!) { prompt(name: "p") { versions(offset: $offset, limit: $limit) { pagination { limit } } } }',
}


@pytest.mark.parametrize("where", list(LIST_QUERIES))
@pytest.mark.parametrize(
    ("offset", "limit"), [(-1, 20), (-100, 1), (0, 0), (0, -1), (0, 101), (3, 1000)]
)
async def test_list_rejects_out_of_range_offset_and_limit(api, where, offset, limit):
    await api.create("p", "x")
    result = await api.gql(LIST_QUERIES[where], {"offset": offset, "limit": limit})
    assert result.codes == ["BAD_USER_INPUT"], result.body


@pytest.mark.parametrize("where", list(LIST_QUERIES))
@pytest.mark.parametrize(("offset", "limit"), [(0, 1), (0, 100), (1000, 100)])
async def test_list_accepts_limits_from_1_to_100(api, where, offset, limit):
    await api.create("p", "x")
    data = (await api.gql(LIST_QUERIES[where], {"offset": offset, "limit": limit})).ok()
    data = data["prompt"]["versions"] if where == "Prompt.versions" else data[where]
    assert data["pagination"]["limit"] == limit


# --- prompt(name | fqn) -------------------------------------------------------------------

PROMPT = """
query($name: String, $fqn: String) {
  prompt(name: $name, fqn: $fqn) { id name fqn type }
}
"""


async def test_prompt_by_name_and_by_fqn_are_the_same_prompt(api):
    created = await api.create("classify-intent", "x")
    by_name = (await api.gql(PROMPT, {"name": "classify-intent"})).ok()["prompt"]
    by_fqn = (await api.gql(PROMPT, {"fqn": "prompt:acme/classify-intent"})).ok()["prompt"]
    assert by_name == by_fqn
    assert by_name["name"] == "classify-intent"
    assert by_name["fqn"] == "prompt:acme/classify-intent"
    assert by_name["type"] == "TEXT"
    assert created["fqn"] == "prompt:acme/classify-intent:1"


@pytest.mark.parametrize(
    "variables", [{}, {"name": "greet", "fqn": "prompt:acme/greet"}], ids=["neither", "both"]
)
async def test_prompt_needs_exactly_one_of_name_and_fqn(api, variables):
    await api.create("greet", "x")
    result = await api.gql(PROMPT, variables)
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert result.data == {"prompt": None}


@pytest.mark.parametrize(
    "variables",
    [
        {"name": "missing"},
        {"name": "Greet"},  # names are case-sensitive
        {"fqn": "prompt:acme/missing"},
        {"fqn": "prompt:globex/greet"},  # another workspace: as if it did not exist
        {"fqn": "prompt:nowhere/greet"},
    ],
    ids=describe,
)
async def test_prompt_is_null_when_nothing_matches(api, variables):
    await api.create("greet", "x")
    globex = await api.key("globex", "gus", Role.ADMIN)
    create = 'mutation { createPromptVersion(input: {name: "greet", templateText: "y"}) { id } }'
    (await api.gql(create, key=globex)).ok()
    result = await api.gql(PROMPT, variables)
    assert result.ok() == {"prompt": None}


MALFORMED_FQNS = [
    "",
    "greet",
    "acme/greet",
    "prompt:greet",
    "prompt:acme",
    "prompt:/greet",
    "prompt:acme/",
    "prompt:acme/greet/x",
    "prompt:acme/gr eet",
    "prompt:acme/-greet",
    "prompt:ac me/greet",
    "prompt:acme/greet:",
    "prompt:acme/greet:1:2",
    "prompt-acme/greet",
    "prompts:acme/greet",
]


@pytest.mark.parametrize("fqn", MALFORMED_FQNS)
async def test_malformed_fqn_is_bad_user_input_everywhere(api, fqn):
    await api.create("greet", "x")
    for query, field in (
        (PROMPT, "prompt"),
        (PROMPT_VERSION, "promptVersion"),
        (PROMPT_VERSIONS, "promptVersions"),
    ):
        result = await api.gql(query, {"fqn": fqn})
        assert result.codes == ["BAD_USER_INPUT"], (field, result.body)


PROMPT_FIELDS = """
query($name: String!) {
  prompt(name: $name) {
    name fqn type versionCount createdAt updatedAt
    latestVersion { version isLatest }
    labels { name version updatedAt }
    all: versions(includeArchived: true) { items { version } pagination { total offset limit } }
    active: versions { items { version } pagination { total } }
    blue: versions(tag: "blue") { items { version } pagination { total } }
    blueAll: versions(tag: "blue", includeArchived: true) { items { version } pagination { total } }
    window: versions(includeArchived: true, offset: 1, limit: 1) { items { version } pagination { total offset limit } }
    past: versions(offset: 5) { items { version } pagination { total } }
    one: version(version: 1) { version isActive }
    three: version(version: 3) { version isActive isLatest }
    nine: version(version: 9) { version }
    latest: version(version: "latest") { version }
    production: version(label: "production") { version }
    staging: version(label: "staging") { version isActive }
    nolabel: version(label: "canary") { version }
  }
}
"""


def versions_of(page):
    return [item["version"] for item in page["items"]]


async def test_prompt_fields(api):
    await seed_catalog(api)
    alpha = (await api.gql(PROMPT_FIELDS, {"name": "alpha"})).ok()["prompt"]
    assert alpha["name"] == "alpha"
    assert alpha["fqn"] == "prompt:acme/alpha"
    assert alpha["type"] == "TEXT"
    assert alpha["versionCount"] == 3  # archived versions count
    assert alpha["latestVersion"] == {"version": 2, "isLatest": True}
    assert [(label["name"], label["version"]) for label in alpha["labels"]] == [
        ("production", 1),
        ("staging", 3),
    ]
    assert versions_of(alpha["all"]) == [3, 2, 1]
    assert alpha["all"]["pagination"] == {"total": 3, "offset": 0, "limit": 20}
    assert versions_of(alpha["active"]) == [2, 1]
    assert alpha["active"]["pagination"]["total"] == 2
    assert versions_of(alpha["blue"]) == [2]
    assert alpha["blue"]["pagination"]["total"] == 1
    assert versions_of(alpha["blueAll"]) == [3, 2]
    assert alpha["blueAll"]["pagination"]["total"] == 2
    assert versions_of(alpha["window"]) == [2]
    assert alpha["window"]["pagination"] == {"total": 3, "offset": 1, "limit": 1}
    assert alpha["past"] == {"items": [], "pagination": {"total": 2}}
    assert alpha["one"] == {"version": 1, "isActive": True}
    assert alpha["three"] == {"version": 3, "isActive": False, "isLatest": False}
    assert alpha["nine"] is None
    assert alpha["latest"] == {"version": 2}
    assert alpha["production"] == {"version": 1}
    assert alpha["staging"] == {"version": 3, "isActive": False}
    assert alpha["nolabel"] is None

    gamma = (await api.gql(PROMPT_FIELDS, {"name": "gamma"})).ok()["prompt"]
    assert gamma["versionCount"] == 1
    assert gamma["latestVersion"] is None
    assert gamma["latest"] is None
    assert gamma["one"] == {"version": 1, "isActive": False}
    assert gamma["labels"] == []
    assert versions_of(gamma["active"]) == []
    assert gamma["active"]["pagination"]["total"] == 0
    assert versions_of(gamma["all"]) == [1]


async def test_prompt_type_is_chat_for_chat_prompts(api):
    result = await api.gql(
        'mutation { createPromptVersion(input: {name: "chatty", messages: [{role: "system", content: "Be {{ tone }}"}]}) { type } }'
    )
    assert result.ok()["createPromptVersion"]["type"] == "CHAT"
    prompt = (await api.gql(PROMPT, {"name": "chatty"})).ok()["prompt"]
    assert prompt["type"] == "CHAT"


async def test_prompt_versions_pages_are_per_prompt_when_listing_many_prompts(api):
    for name, count in (("x", 3), ("y", 1), ("z", 4)):
        for version in range(1, count + 1):
            await api.create(name, "t", version=version, tags=["odd" if version % 2 else "even"])
    query = """
    { prompts { items { name
        versions(offset: 1, limit: 2) { items { version } pagination { total } }
        odd: versions(tag: "odd") { items { version } pagination { total } } } } }
    """
    items = (await api.gql(query)).ok()["prompts"]["items"]
    got = {
        item["name"]: (
            versions_of(item["versions"]),
            item["versions"]["pagination"]["total"],
            versions_of(item["odd"]),
            item["odd"]["pagination"]["total"],
        )
        for item in items
    }
    assert got == {
        "x": ([2, 1], 3, [3, 1], 2),
        "y": ([], 1, [1], 1),
        "z": ([3, 2], 4, [3, 1], 2),
    }


@pytest.mark.parametrize(
    "arguments",
    ["", '(version: 1, label: "production")', '(version: "latest", label: "production")'],
)
async def test_prompt_version_field_needs_exactly_one_argument(api, arguments):
    await api.create("greet", "x")
    await set_label(api, "greet", "production", 1)
    result = await api.gql(f'{{ prompt(name: "greet") {{ version{arguments} {{ version }} }} }}')
    assert result.codes == ["BAD_USER_INPUT"], result.body


# --- promptVersions -----------------------------------------------------------------------


async def test_prompt_versions_ordered_by_name_then_version_descending(api):
    for name, numbers in (("b", [1, 3, 2]), ("B", [1]), ("a", [2, 1]), ("a-1", [1])):
        for number in numbers:
            await api.create(name, "t", version=number)
    page = (await api.gql(PROMPT_VERSIONS)).ok()["promptVersions"]
    assert pairs(page) == [("B", 1), ("a", 2), ("a", 1), ("a-1", 1), ("b", 3), ("b", 2), ("b", 1)]
    assert page["pagination"] == {"total": 7, "offset": 0, "limit": 20}


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, [A2, A1, B2, B1]),
        ({"includeArchived": True}, [A3, A2, A1, B2, B1, G1]),
        ({"name": "alpha"}, [A2, A1]),
        ({"name": "alpha", "includeArchived": True}, [A3, A2, A1]),
        ({"name": "gamma"}, []),
        ({"name": "missing"}, []),
        ({"fqn": "prompt:acme/alpha"}, [A2, A1]),
        ({"fqn": "prompt:acme/alpha", "includeArchived": True}, [A3, A2, A1]),
        ({"fqn": "prompt:acme/alpha:1"}, [A1]),
        ({"fqn": "prompt:acme/alpha:3"}, [A3]),  # archived, asked for by number
        ({"fqn": "prompt:acme/alpha:9"}, []),
        ({"fqn": "prompt:acme/alpha:latest"}, [A2]),
        ({"fqn": "prompt:acme/gamma:latest"}, []),  # every version archived: no latest
        ({"fqn": "prompt:acme/missing"}, []),
        ({"fqn": "prompt:globex/alpha"}, []),
        ({"fqn": "prompt:globex/alpha:4"}, []),
        ({"fqn": "prompt:acme/alpha", "version": 1}, [A1]),
        ({"fqn": "prompt:acme/alpha", "version": "latest"}, [A2]),
        ({"fqn": "prompt:acme/alpha:1", "label": "production"}, [A1]),
        ({"fqn": "prompt:acme/alpha:2", "label": "production"}, []),
        ({"fqn": "prompt:acme/alpha", "name": "alpha"}, [A2, A1]),
        ({"fqn": "prompt:acme/alpha", "name": "beta"}, []),
        ({"tag": "red"}, [A2, A1]),
        ({"tag": "red", "includeArchived": True}, [A2, A1, G1]),
        ({"tag": "blue"}, [A2, B1]),
        ({"tag": "blue", "includeArchived": True}, [A3, A2, B1]),
        ({"tag": "purple"}, []),
        ({"tag": "blue", "name": "beta"}, [B1]),
        ({"label": "production"}, [A1, B2]),
        ({"label": "staging"}, [A3]),  # archived, asked for by label
        ({"label": "canary"}, []),
        ({"label": "production", "tag": "red"}, [A1]),
        ({"label": "production", "name": "beta"}, [B2]),
        ({"label": "production", "version": 2}, [B2]),
        ({"label": "production", "version": "latest"}, [B2]),
        ({"version": 2}, [A2, B2]),
        ({"version": 1}, [A1, B1, G1]),  # asked for by number: archived ones included
        ({"version": 7}, []),
        ({"version": "latest"}, [A2, B2]),
        ({"version": "latest", "includeArchived": True}, [A2, B2]),
        ({"version": "latest", "tag": "blue"}, [A2]),
        ({"version": "latest", "tag": "green"}, [B2]),
        ({"version": "latest", "tag": "red", "name": "beta"}, []),
        ({"version": 3, "name": "alpha"}, [A3]),
    ],
    ids=describe,
)
async def test_prompt_versions_filters(api, variables, expected):
    await seed_catalog(api)
    page = (await api.gql(PROMPT_VERSIONS, variables)).ok()["promptVersions"]
    assert pairs(page) == expected
    assert page["pagination"]["total"] == len(expected)


async def test_prompt_versions_by_prompt_id(api):
    await seed_catalog(api)
    ids = {
        item["name"]: item["id"]
        for item in (await api.gql("{ prompts { items { id name } } }")).ok()["prompts"]["items"]
    }
    globex = await api.key("globex", "gus", Role.ADMIN)
    theirs = (await api.gql('{ prompt(name: "alpha") { id } }', key=globex)).ok()["prompt"]["id"]
    assert theirs != ids["alpha"]

    async def listed(**variables):
        page = (await api.gql(PROMPT_VERSIONS, variables)).ok()["promptVersions"]
        assert page["pagination"]["total"] == len(page["items"])
        return pairs(page)

    assert await listed(promptId=ids["beta"]) == [B2, B1]
    assert await listed(promptId=ids["alpha"], includeArchived=True) == [A3, A2, A1]
    assert await listed(promptId=ids["alpha"], tag="blue") == [A2]
    assert await listed(promptId=ids["alpha"], version="latest") == [A2]
    assert await listed(promptId=ids["alpha"], name="beta") == []
    assert await listed(promptId=theirs) == []  # another workspace's prompt does not exist


async def test_prompt_versions_pagination(api):
    await seed_catalog(api)
    everything = [A3, A2, A1, B2, B1, G1]
    for offset, limit in ((0, 6), (0, 4), (2, 2), (4, 4), (5, 1), (6, 3), (99, 100)):
        variables = {"includeArchived": True, "offset": offset, "limit": limit}
        page = (await api.gql(PROMPT_VERSIONS, variables)).ok()["promptVersions"]
        assert pairs(page) == everything[offset : offset + limit], (offset, limit)
        assert page["pagination"] == {"total": 6, "offset": offset, "limit": limit}


@pytest.mark.parametrize(
    "variables",
    [
        {"fqn": "prompt:acme/alpha:1", "version": 1},
        {"fqn": "prompt:acme/alpha:1", "version": 2},
        {"fqn": "prompt:acme/alpha:latest", "version": "latest"},
        {"fqn": "prompt:acme/alpha:2", "version": "latest"},
    ],
    ids=describe,
)
async def test_prompt_versions_fqn_with_version_and_version_argument_is_bad_input(api, variables):
    await seed_catalog(api)
    result = await api.gql(PROMPT_VERSIONS, variables)
    assert result.codes == ["BAD_USER_INPUT"], result.body


# Each location that takes a version selector, as (query with {sel} standing for it).
SELECTOR_SITES = {
    "promptVersions": "{{ promptVersions(version: {sel}) {{ items {{ version }} }} }}",
    "promptVersion": '{{ promptVersion(name: "alpha", version: {sel}) {{ version }} }}',
    "Prompt.version": '{{ prompt(name: "alpha") {{ version(version: {sel}) {{ version }} }} }}',
}
SELECTOR_VARIABLE_SITES = {
    "promptVersions": "query($v: VersionSelector) { promptVersions(version: $v) { items { version } } }",
    "promptVersion": 'query($v: VersionSelector) { promptVersion(name: "alpha", version: $v) { version } }',
    "Prompt.version": 'query($v: VersionSelector) { prompt(name: "alpha") { version(version: $v) { version } } }',
}
BAD_SELECTORS = [0, -1, "newest", 1.5, "Latest", "", True]


@pytest.mark.parametrize("site", list(SELECTOR_SITES))
@pytest.mark.parametrize("selector", BAD_SELECTORS, ids=repr)
async def test_malformed_version_selector_is_bad_user_input(api, site, selector):
    await api.create("alpha", "x")
    literal = SELECTOR_SITES[site].format(sel=json.dumps(selector))
    result = await api.gql(literal)
    assert result.codes == ["BAD_USER_INPUT"], (literal, result.body)
    result = await api.gql(SELECTOR_VARIABLE_SITES[site], {"v": selector})
    assert result.codes == ["BAD_USER_INPUT"], ("variable", result.body)


@pytest.mark.parametrize("suffix", ["0", "-1", "newest", "1.5", "Latest", "01x"])
@pytest.mark.parametrize("query", [PROMPT_VERSION, PROMPT_VERSIONS], ids=["one", "list"])
async def test_malformed_version_in_fqn_is_bad_user_input(api, query, suffix):
    await api.create("alpha", "x")
    result = await api.gql(query, {"fqn": f"prompt:acme/alpha:{suffix}"})
    assert result.codes == ["BAD_USER_INPUT"], result.body


# --- promptVersion --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"name": "alpha"}, A2),
        ({"name": "alpha", "version": 1}, A1),
        ({"name": "alpha", "version": 3}, A3),  # archived, by number
        ({"name": "alpha", "version": "latest"}, A2),
        ({"name": "alpha", "label": "production"}, A1),
        ({"name": "alpha", "label": "staging"}, A3),  # archived, by label
        ({"name": "beta"}, B2),
        ({"name": "beta", "label": "production"}, B2),
        ({"name": "gamma", "version": 1}, G1),
        ({"fqn": "prompt:acme/alpha"}, A2),
        ({"fqn": "prompt:acme/alpha:1"}, A1),
        ({"fqn": "prompt:acme/alpha:3"}, A3),
        ({"fqn": "prompt:acme/alpha:latest"}, A2),
        ({"fqn": "prompt:acme/alpha", "version": 3}, A3),
        ({"fqn": "prompt:acme/alpha", "version": "latest"}, A2),
        ({"fqn": "prompt:acme/alpha", "label": "production"}, A1),
        # nothing matches: null, not an error
        ({"name": "gamma"}, None),  # every version archived: no latest
        ({"name": "gamma", "version": "latest"}, None),
        ({"name": "missing"}, None),
        ({"name": "missing", "version": 1}, None),
        ({"name": "alpha", "version": 9}, None),
        ({"name": "alpha", "label": "canary"}, None),
        ({"name": "beta", "label": "staging"}, None),
        ({"fqn": "prompt:acme/missing:1"}, None),
        ({"fqn": "prompt:acme/alpha:9"}, None),
        ({"fqn": "prompt:globex/alpha"}, None),
        ({"fqn": "prompt:globex/alpha:4"}, None),
        ({"fqn": "prompt:globex/alpha", "label": "production"}, None),
    ],
    ids=describe,
)
async def test_prompt_version_lookup(api, variables, expected):
    await seed_catalog(api)
    found = (await api.gql(PROMPT_VERSION, variables)).ok()["promptVersion"]
    if expected is None:
        assert found is None
        return
    assert (found["name"], found["version"]) == expected
    assert found["fqn"] == f"prompt:acme/{expected[0]}:{expected[1]}"
    assert found["isActive"] is (expected not in (A3, G1))
    assert found["isLatest"] is (expected in (A2, B2))


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"version": 1},
        {"name": "alpha", "fqn": "prompt:acme/alpha"},
        {"name": "alpha", "version": 1, "label": "production"},
        {"name": "alpha", "version": "latest", "label": "production"},
        {"fqn": "prompt:acme/alpha", "version": 1, "label": "production"},
        {"fqn": "prompt:acme/alpha:1", "version": 1},
        {"fqn": "prompt:acme/alpha:1", "label": "production"},
    ],
    ids=describe,
)
async def test_prompt_version_bad_argument_combinations(api, variables):
    await seed_catalog(api)
    result = await api.gql(PROMPT_VERSION, variables)
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert result.data == {"promptVersion": None}


async def test_latest_is_the_highest_numbered_active_version(api):
    # Created out of order: latest goes by number, not by creation time.
    await api.create("late", "three", version=3)
    await api.create("late", "two", version=2)
    await api.create("late", "one", version=1)

    async def latest():
        found = (await api.gql(PROMPT_VERSION, {"name": "late"})).ok()["promptVersion"]
        return None if found is None else found["version"]

    async def flags():
        page = (
            await api.gql(
                '{ promptVersions(name: "late", includeArchived: true) { items { version isLatest } } }'
            )
        ).ok()["promptVersions"]
        return {item["version"]: item["isLatest"] for item in page["items"]}

    assert await latest() == 3
    assert await flags() == {3: True, 2: False, 1: False}
    await archive(api, "late", 3)
    assert await latest() == 2
    assert await flags() == {3: False, 2: True, 1: False}
    await archive(api, "late", 1)
    assert await latest() == 2
    await archive(api, "late", 2)
    assert await latest() is None
    assert await flags() == {3: False, 2: False, 1: False}
    prompt = (await api.gql('{ prompt(name: "late") { latestVersion { version } } }')).ok()
    assert prompt == {"prompt": {"latestVersion": None}}
    await archive(api, "late", 1, archived=False)
    assert await latest() == 1
    await archive(api, "late", 3, archived=False)
    assert await latest() == 3


# --- workspaces and roles -------------------------------------------------------------------


async def test_reads_see_only_the_callers_workspace(api):
    await seed_catalog(api)
    globex = await api.key("globex", "gus", Role.VIEWER)
    theirs = (
        await api.gql(
            """{ prompts { items { name fqn versionCount }
                          pagination { total } }
                 promptVersions(includeArchived: true) { items { name version fqn } }
                 prompt(name: "alpha") { fqn labels { name version } latestVersion { version } }
                 beta: prompt(name: "beta") { name }
                 mine: promptVersion(fqn: "prompt:acme/alpha:1") { version } }""",
            key=globex,
        )
    ).ok()
    assert theirs["prompts"] == {
        "items": [{"name": "alpha", "fqn": "prompt:globex/alpha", "versionCount": 3}],
        "pagination": {"total": 1},
    }
    assert [(v["name"], v["version"], v["fqn"]) for v in theirs["promptVersions"]["items"]] == [
        ("alpha", 4, "prompt:globex/alpha:4"),
        ("alpha", 2, "prompt:globex/alpha:2"),
        ("alpha", 1, "prompt:globex/alpha:1"),
    ]
    assert theirs["prompt"] == {
        "fqn": "prompt:globex/alpha",
        "labels": [{"name": "production", "version": 4}, {"name": "staging", "version": 2}],
        "latestVersion": {"version": 4},
    }
    assert theirs["beta"] is None
    assert theirs["mine"] is None

    viewer = await api.key("acme", "vic", Role.VIEWER)
    page = (await api.gql(PROMPTS, key=viewer)).ok()["prompts"]
    assert names(page) == ["alpha", "beta", "gamma"]


# --- content fields -------------------------------------------------------------------------

VERSION_CONTENT = """
query($name: String!) {
  promptVersion(name: $name) {
    name version fqn type templateText messages { role content name } variables description
    modelConfig { provider model parameters }
    tools responseFormat metadata models tags labels isActive isLatest
    createdAt updatedAt createdBy
    prompt { name fqn createdAt updatedAt labels { name updatedAt } }
  }
}
"""

METADATA = {
    "team": "search",
    "owner": {"name": "Zoë", "ids": [1, 2, 3]},
    "ratio": 0.25,
    "flags": [True, False, None],
    "empty": {},
    "quote": 'he said "hi" \\ ok',
}
TOOLS = {
    "functions": [
        {
            "name": "lookup",
            "description": "Find a customer",
            "parameters": {
                "type": "object",
                "properties": {"id": {"type": "string"}},
                "required": ["id"],
            },
        }
    ]
}
RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "answer", "schema": {"type": "object", "additionalProperties": False}},
}
PARAMETERS = {"temperature": 0.2, "max_tokens": 512, "stop": ["\n\n"], "top_p": 1}


async def test_json_fields_round_trip(api):
    await api.create(
        "rich",
        "Hi {{ user }}, about {{ topic }}",
        description="A rich prompt",
        metadata=METADATA,
        tools=TOOLS,
        responseFormat=RESPONSE_FORMAT,
        modelConfig={"provider": "openai", "model": "gpt-4o", "parameters": PARAMETERS},
        tags=["b", "a"],
    )
    await set_label(api, "rich", "staging", 1)
    await set_label(api, "rich", "production", 1)
    version = (await api.gql(VERSION_CONTENT, {"name": "rich"})).ok()["promptVersion"]
    assert version["metadata"] == METADATA
    assert version["tools"] == TOOLS
    assert version["responseFormat"] == RESPONSE_FORMAT
    assert version["modelConfig"] == {
        "provider": "openai",
        "model": "gpt-4o",
        "parameters": PARAMETERS,
    }
    assert version["templateText"] == "Hi {{ user }}, about {{ topic }}"
    assert sorted(version["variables"]) == ["topic", "user"]
    assert version["description"] == "A rich prompt"
    assert version["tags"] == ["a", "b"]
    assert version["labels"] == ["production", "staging"]
    assert version["messages"] is None
    assert version["type"] == "TEXT"
    assert version["fqn"] == "prompt:acme/rich:1"
    assert version["createdBy"] == "ann"


async def test_optional_content_defaults(api):
    await api.create("plain", "just text")
    await api.create(
        "configured", "x", modelConfig={"model": "claude-3-5-sonnet"}, metadata={}, tools={}
    )
    plain = (await api.gql(VERSION_CONTENT, {"name": "plain"})).ok()["promptVersion"]
    assert plain["metadata"] == {}
    assert plain["modelConfig"] is None
    assert plain["tools"] is None
    assert plain["responseFormat"] is None
    assert plain["description"] is None
    assert plain["models"] == []
    assert plain["tags"] == []
    assert plain["labels"] == []
    assert plain["variables"] == []
    configured = (await api.gql(VERSION_CONTENT, {"name": "configured"})).ok()["promptVersion"]
    assert configured["modelConfig"] == {
        "provider": None,
        "model": "claude-3-5-sonnet",
        "parameters": {},
    }
    assert configured["metadata"] == {}
    assert configured["tools"] == {}


async def test_chat_messages_round_trip(api):
    messages = [
        {"role": "system", "content": "You are {{ persona }}.", "name": None},
        {"role": "user", "content": "{{ question }}", "name": "alice"},
    ]
    result = await api.gql(
        "mutation($input: CreatePromptVersionInput!) { createPromptVersion(input: $input) { id } }",
        {"input": {"name": "chat", "messages": messages}},
    )
    result.ok()
    version = (await api.gql(VERSION_CONTENT, {"name": "chat"})).ok()["promptVersion"]
    assert version["type"] == "CHAT"
    assert version["templateText"] is None
    assert version["messages"] == messages
    assert sorted(version["variables"]) == ["persona", "question"]


@pytest.fixture
def far_from_utc(monkeypatch):
    """Run the server in a local time zone 5h30 ahead of UTC: UTC output must not move."""
    monkeypatch.setenv("TZ", "IST-5:30")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("zone", ["server-utc", "server-ist"])
async def test_datetimes_are_rfc3339_utc(api, request, zone):
    if zone == "server-ist":
        request.getfixturevalue("far_from_utc")
    before = datetime.now(UTC)
    await api.create("dated", "x")
    await set_label(api, "dated", "production", 1)
    after = datetime.now(UTC)
    version = (await api.gql(VERSION_CONTENT, {"name": "dated"})).ok()["promptVersion"]
    stamps = [
        version["createdAt"],
        version["updatedAt"],
        version["prompt"]["createdAt"],
        version["prompt"]["updatedAt"],
        version["prompt"]["labels"][0]["updatedAt"],
    ]
    slack = timedelta(seconds=5)
    for stamp in stamps:
        assert RFC3339_UTC.match(stamp), stamp
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        assert before - slack <= moment <= after + slack, (stamp, before, after)


# --- GET ------------------------------------------------------------------------------------


async def test_get_request_runs_queries(api):
    await seed_catalog(api)
    token = await api.key()
    headers = {"Authorization": f"Bearer {token}"}
    response = await api.http.get(
        "/graphql",
        params={"query": '{ prompt(name: "alpha") { fqn latestVersion { version } } }'},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "data": {"prompt": {"fqn": "prompt:acme/alpha", "latestVersion": {"version": 2}}}
    }

    response = await api.http.get(
        "/graphql",
        params={
            "query": "query($v: VersionSelector) { promptVersions(version: $v) { items { name version } } }",
            "variables": json.dumps({"v": "latest"}),
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert pairs(response.json()["data"]["promptVersions"]) == [A2, B2]


async def test_get_request_does_not_run_mutations(api):
    token = await api.key()
    response = await api.http.get(
        "/graphql",
        params={
            "query": 'mutation { createPromptVersion(input: {name: "sneaky", templateText: "x"}) { id } }'
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert 400 <= response.status_code < 500, response.text
    assert (await api.gql('{ prompt(name: "sneaky") { id } }')).ok() == {"prompt": None}
