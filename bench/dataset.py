"""The benchmark's data, reproducible from one seed.

- Prompts: 200 TEXT prompts x 10 versions, a `production` label on a seeded-random version of
  each, two or three tags per version, and `compare-20` with 20 versions for W3. Saved through
  promptgraph's service layer, as a client's saves would be. The 200 are also what the peers
  are fed (`PromptSpec`), with the same production version.
- Traces and usages: generated in SQL, `setseed` per chunk of 10,000 traces, so trace `i` is the
  same whichever scale it is loaded for and however the scales are stepped through. Each trace
  is used by one version: the prompt uniformly among the 201, the version its production one
  60% of the time and else uniformly among its versions. 2% of the traces have no outcome.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from bench.peers import PromptSpec
from promptgraph.db import Database
from promptgraph.services import registry
from promptgraph.services.auth import Principal, Role, ensure_user

WORKSPACE = "bench"
USER = "bench"
PROMPT_COUNT = 200
VERSIONS = 10
COMPARE_NAME = "compare-20"
COMPARE_VERSIONS = 20
TAG_POOL = ("cheap", "eval", "experiment", "fast", "long-context", "stable")
TOPICS = ("billing", "search", "triage", "summaries", "routing", "extraction", "support", "code")
STYLES = ("Be brief.", "Think step by step.", "Answer in JSON.", "Cite your sources.")
CHUNK = 10_000
PRODUCTION_SHARE = 0.6
ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)  # traces start in the 30 days before it
SAVE_CONCURRENCY = 8


@dataclass(frozen=True)
class Dataset:
    seed: int
    prompts: list[PromptSpec]  # the 200, fed to the peers as well
    compare: PromptSpec
    tags: dict[tuple[str, int], list[str]]

    @property
    def all_prompts(self) -> list[PromptSpec]:
        return [*self.prompts, self.compare]

    def names(self) -> list[str]:
        return [prompt.name for prompt in self.prompts]


def _text(rng: random.Random, index: int, version: int) -> str:
    topic, style = rng.choice(TOPICS), rng.choice(STYLES)
    return (
        f"You are assistant {index:03d} for {topic}, revision {version}. {style}\n"
        "Question: {{ x }}"
    )


def make_dataset(seed: int) -> Dataset:
    rng = random.Random(seed)
    prompts = []
    for index in range(1, PROMPT_COUNT + 1):
        texts = [_text(rng, index, version) for version in range(1, VERSIONS + 1)]
        prompts.append(PromptSpec(f"prompt-{index:03d}", texts, rng.randint(1, VERSIONS)))
    compare_texts = [_text(rng, 0, version) for version in range(1, COMPARE_VERSIONS + 1)]
    compare = PromptSpec(COMPARE_NAME, compare_texts, rng.randint(1, COMPARE_VERSIONS))
    tags = {
        (prompt.name, version): sorted({"bench", f"v{version}", rng.choice(TAG_POOL)})
        for prompt in [*prompts, compare]
        for version in range(1, len(prompt.versions) + 1)
    }
    return Dataset(seed, prompts, compare, tags)


async def _save_prompt(
    db: Database, principal: Principal, dataset: Dataset, prompt: PromptSpec
) -> None:
    for version, text in enumerate(prompt.versions, start=1):
        content = registry.VersionContent(
            template_text=text, tags=dataset.tags[(prompt.name, version)]
        )
        await registry.create_version(db, principal, prompt.name, version, content)
    await registry.set_label(db, principal, prompt.name, "production", prompt.production)


async def save_prompts(url: str, dataset: Dataset) -> None:
    """Every prompt of `dataset` through the service layer; prompts in parallel, each one's
    versions in order."""
    db = Database(url)
    try:
        workspace_id, user_id = await ensure_user(db, WORKSPACE, USER)
        principal = Principal(user_id, USER, workspace_id, WORKSPACE, Role.ADMIN)
        gate = asyncio.Semaphore(SAVE_CONCURRENCY)

        async def save(prompt: PromptSpec) -> None:
            async with gate:
                await _save_prompt(db, principal, dataset, prompt)

        await asyncio.gather(*(save(prompt) for prompt in dataset.all_prompts))
    finally:
        await db.dispose()


# The prompts by name order, each with its version ids by version number and its production
# version's number; a trace's draws index into it.
_PICK_TABLE = """
CREATE TEMP TABLE bench_pick AS
SELECT (row_number() OVER (ORDER BY p.name) - 1)::int AS idx,
       array_agg(v.id ORDER BY v.version) AS version_ids,
       max(pv.version) AS production
FROM prompt p
JOIN prompt_version v ON v.prompt_id = p.id
JOIN prompt_label l ON l.prompt_id = p.id AND l.name = 'production'
JOIN prompt_version pv ON pv.id = l.version_id
WHERE p.workspace_id = $1
GROUP BY p.id, p.name
"""

# One chunk of traces [$2, $3) after `setseed`. The draws come first, materialized, so their
# order is that of generate_series whatever plan the joins get. Success rates differ a little
# by version number, so a comparison has something to find.
_CHUNK_INSERT = """
WITH draws AS MATERIALIZED (
    SELECT i, random() AS r_prompt, random() AS r_production, random() AS r_version,
           random() AS r_status, random() AS r_cost, random() AS r_latency, random() AS r_time
    FROM generate_series($2::bigint, $3::bigint - 1) AS i
),
picked AS MATERIALIZED (
    SELECT md5($4::text || ':' || d.i)::uuid AS trace_id,
           CASE WHEN d.r_production < $6::float8 THEN b.production
                ELSE 1 + floor(d.r_version * cardinality(b.version_ids))::int
           END AS version,
           b.version_ids, d.r_status, d.r_cost, d.r_latency,
           $5::timestamptz - d.r_time * interval '30 days' AS started_at
    FROM draws d
    JOIN bench_pick b ON b.idx = floor(d.r_prompt * $7::int)::int
),
traces AS (
    INSERT INTO trace (workspace_id, trace_id, status, cost_usd, latency_ms, started_at,
                       updated_at)
    SELECT $1::int, trace_id,
           CASE WHEN r_status < 0.02 THEN NULL
                WHEN r_status < 0.80 + 0.02 * (version % 8) THEN 'SUCCESS'
                ELSE 'ERROR' END,
           CASE WHEN r_status >= 0.02 THEN round((0.0005 + r_cost * 0.02)::numeric, 6) END,
           CASE WHEN r_status >= 0.02 THEN round((150 + 3000 * r_latency ^ 2)::numeric, 1) END,
           CASE WHEN r_status >= 0.02 THEN started_at END,
           started_at
    FROM picked
)
INSERT INTO usage (workspace_id, version_id, trace_id, span_id, recorded_at)
SELECT $1::int, version_ids[version], trace_id, NULL,
       started_at + interval '1 second'
FROM picked
"""


def _chunk_seed(seed: int, chunk: int) -> float:
    """A `setseed` argument in [-1, 1) for one chunk."""
    return ((seed * 1_000_003 + chunk * 7_919) % 2_000_000) / 1_000_000 - 1


async def _workspace_id(connection: asyncpg.Connection) -> int:
    found = await connection.fetchval("SELECT id FROM workspace WHERE name = $1", WORKSPACE)
    if found is None:
        raise RuntimeError(f"no workspace {WORKSPACE!r}: save the prompts first")
    return int(found)


async def grow_traces(dsn: str, seed: int, start: int, end: int) -> None:
    """Add traces [start, end) and their usages, then VACUUM ANALYZE both tables (so plans
    and index-only scans see settled tables, not whatever autovacuum got to)."""
    if start % CHUNK or end % CHUNK:
        raise ValueError(f"trace counts must be multiples of {CHUNK}")
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        workspace_id = await _workspace_id(connection)
        await connection.execute("DROP TABLE IF EXISTS bench_pick")
        await connection.execute(_PICK_TABLE, workspace_id)
        prompts = await connection.fetchval("SELECT count(*) FROM bench_pick")
        for low in range(start, end, CHUNK):
            async with connection.transaction():
                await connection.execute("SELECT setseed($1)", _chunk_seed(seed, low // CHUNK))
                await connection.execute(
                    _CHUNK_INSERT,
                    workspace_id,
                    low,
                    low + CHUNK,
                    str(seed),
                    ANCHOR,
                    PRODUCTION_SHARE,
                    prompts,
                )
        await connection.execute("VACUUM ANALYZE trace, usage")
    finally:
        await connection.close()


async def count_rows(dsn: str, table: str) -> int:
    if table not in {"trace", "usage"}:
        raise ValueError(table)
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        return int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await connection.close()
