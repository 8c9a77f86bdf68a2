"""A page costs a fixed number of SQL statements, whatever its size."""

import pytest

PAGE_QUERY = """
query($limit: Int!) {
  prompts(limit: $limit) {
    pagination { total }
    items {
      name
      versionCount
      labels { name version }
      latestVersion { version tags labels isLatest prompt { name } }
      versions(limit: 10) { pagination { total } items { version tags labels revisions { replacedAt } } }
      production: version(label: "production") { version }
      first: version(version: 1) { version tags }
    }
  }
}
"""

# The key lookup, the prompts count and page (3), then one batch per loader: version count,
# prompt labels, latest version, versions page (count + rows: 2), version by number and by
# label (2), tags, version labels, revisions.
EXPECTED_STATEMENTS = 13


async def _seed(api, prompts: int) -> None:
    for index in range(prompts):
        name = f"prompt-{index:03d}"
        await api.create(name, "v1 {{ x }}", tags=["alpha", f"t{index % 3}"])
        await api.create(name, "v2 {{ x }}", version=2, tags=["beta"])
        await api.save(name, "v2 rewritten {{ x }}", version=2)
        result = await api.gql(
            'mutation($n: String!) { setLabel(name: $n, label: "production", version: 1) { id } }',
            {"n": name},
        )
        result.ok()


@pytest.mark.parametrize("size", [5, 50])
async def test_page_statement_count_does_not_grow(api, statements, size):
    await _seed(api, size)
    statements.reset()
    data = (await api.gql(PAGE_QUERY, {"limit": size})).ok()
    items = data["prompts"]["items"]
    assert len(items) == size
    assert all(item["versionCount"] == 2 for item in items)
    assert all(item["latestVersion"]["tags"] == ["beta"] for item in items)
    assert all(item["production"] == {"version": 1} for item in items)
    assert all(len(item["versions"]["items"][0]["revisions"]) == 1 for item in items)
    assert statements.count == EXPECTED_STATEMENTS, "\n".join(
        s[:150].replace("\n", " ") for s in statements.statements
    )
