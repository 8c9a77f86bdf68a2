"""A page costs a fixed number of SQL statements, whatever its size."""

import uuid

import pytest

from tests.test_analytics import RECORD_USAGE

PAGE_QUERY = """
query($limit: Int!) {
  prompts(limit: $limit) {
    pagination { total }
    items {
      name
      aliases
      versionCount
      labels { name version }
      latestVersion { version tags labels isLatest prompt { name } metrics { ...figures } }
      versions(limit: 10) {
        pagination { total }
        items { version tags labels revisions { replacedAt } metrics(since: "2024-01-01T00:00:00Z") { ...figures } }
      }
      production: version(label: "production") { version }
      first: version(version: 1) { version tags }
    }
  }
}
fragment figures on VersionMetrics {
  totalTraces successRate avgCostUsd avgLatencyMs p50LatencyMs p95LatencyMs successRateCi95 { low high }
}
"""

# The key lookup, the prompts count and page (3), then one batch per loader: version count,
# prompt labels, aliases, latest version, versions page (count + rows: 2), version by number
# and by label (2), tags, version labels, revisions; and metrics for each of the two windows asked
# for: one statement on PostgreSQL, two on SQLite (which sends latencies for percentiles).
EXPECTED_STATEMENTS = {"postgres": 14 + 2, "sqlite": 14 + 4}
RENAME = "mutation($name: String!, $newName: String!) { renamePrompt(name: $name, newName: $newName) { id } }"


async def _seed(api, prompts: int) -> None:
    for index in range(prompts):
        # Each prompt has been renamed, and answers to its former name as an alias too.
        former, name = f"draft-{index:03d}", f"prompt-{index:03d}"
        await api.create(former, "v1 {{ x }}", tags=["alpha", f"t{index % 3}"])
        (await api.gql(RENAME, {"name": former, "newName": name})).ok()
        await api.create(name, "v2 {{ x }}", version=2, tags=["beta"])
        for version, status in ((1, "SUCCESS"), (2, "ERROR"), (2, "SUCCESS")):
            usage = {
                "promptName": name,
                "promptVersion": version,
                "traceId": str(uuid.uuid4()),
                "outcome": {"status": status, "latencyMs": 10.0 * version},
            }
            (await api.gql(RECORD_USAGE, {"input": usage})).ok()
        await api.save(name, "v2 rewritten {{ x }}", version=2)
        result = await api.gql(
            'mutation($n: String!) { setLabel(name: $n, label: "production", version: 1) { id } }',
            {"n": name},
        )
        result.ok()


@pytest.mark.parametrize("size", [5, 50])
async def test_page_statement_count_does_not_grow(api, statements, backend, size):
    await _seed(api, size)
    statements.reset()
    data = (await api.gql(PAGE_QUERY, {"limit": size})).ok()
    items = data["prompts"]["items"]
    assert len(items) == size
    assert all(item["versionCount"] == 2 for item in items)
    assert [item["aliases"] for item in items] == [[f"draft-{i:03d}"] for i in range(size)]
    assert all(item["latestVersion"]["tags"] == ["beta"] for item in items)
    assert all(item["production"] == {"version": 1} for item in items)
    assert all(len(item["versions"]["items"][0]["revisions"]) == 1 for item in items)
    assert all(item["latestVersion"]["metrics"]["successRate"] == 0.5 for item in items)
    assert all(item["latestVersion"]["metrics"]["p95LatencyMs"] == 20.0 for item in items)
    assert all(
        [v["metrics"]["totalTraces"] for v in item["versions"]["items"]] == [2, 1] for item in items
    )
    assert statements.count == EXPECTED_STATEMENTS[backend], "\n".join(
        s[:150].replace("\n", " ") for s in statements.statements
    )
