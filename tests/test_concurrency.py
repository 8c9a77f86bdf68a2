"""Concurrent writers never collide, duplicate or lose anything."""

import asyncio

SAVE = """
mutation($text: String!) {
  savePromptVersion(input: {name: "busy", templateText: $text, autoIncrement: true}) { version }
}
"""


async def test_concurrent_auto_increment_saves_get_versions_one_to_n(api):
    results = await asyncio.gather(
        *(api.gql(SAVE, {"text": f"draft {index}"}) for index in range(30))
    )
    assert [r.errors for r in results] == [[]] * 30
    numbers = sorted(r.data["savePromptVersion"]["version"] for r in results)
    assert numbers == list(range(1, 31))

    listed = (
        await api.gql(
            '{ promptVersions(name: "busy", limit: 100) { items { version templateText } '
            "pagination { total } } }"
        )
    ).ok()["promptVersions"]
    assert listed["pagination"]["total"] == 30
    # Each save's text landed in exactly one version: nothing overwritten, nothing lost.
    texts = sorted(item["templateText"] for item in listed["items"])
    assert texts == sorted(f"draft {index}" for index in range(30))


async def test_concurrent_explicit_saves_keep_every_overwritten_content(api):
    query = """
    mutation($text: String!) {
      savePromptVersion(input: {name: "hot", templateText: $text, version: 3}) { version }
    }
    """
    results = await asyncio.gather(*(api.gql(query, {"text": f"text {i}"}) for i in range(12)))
    assert all(not r.errors for r in results), [r.errors for r in results if r.errors]
    version = (
        await api.gql(
            '{ promptVersion(name: "hot", version: 3) { templateText revisions { templateText } } }'
        )
    ).ok()["promptVersion"]
    seen = [version["templateText"]] + [r["templateText"] for r in version["revisions"]]
    assert sorted(seen) == sorted(f"text {i}" for i in range(12))


async def test_concurrent_creates_of_one_version_give_one_winner_and_conflicts(api):
    query = """
    mutation($text: String!) {
      createPromptVersion(input: {name: "race", templateText: $text}) { version }
    }
    """
    results = await asyncio.gather(*(api.gql(query, {"text": f"t{i}"}) for i in range(10)))
    winners = [r for r in results if not r.errors]
    assert len(winners) == 1
    assert sorted(code for r in results for code in r.codes) == ["CONFLICT"] * 9


async def test_concurrent_set_label_ends_on_exactly_one_version(api):
    for version in range(1, 6):
        await api.create("labelled", f"v{version}", version=version)
    query = 'mutation($v: Int!) { setLabel(name: "labelled", label: "production", version: $v) { version } }'
    results = await asyncio.gather(*(api.gql(query, {"v": v}) for v in range(1, 6)))
    assert all(not r.errors for r in results)
    data = (
        await api.gql(
            '{ prompt(name: "labelled") { labels { name version } '
            "versions(limit: 10) { items { version labels } } } }"
        )
    ).ok()["prompt"]
    assert len(data["labels"]) == 1
    holders = [item["version"] for item in data["versions"]["items"] if item["labels"]]
    assert holders == [data["labels"][0]["version"]]
