"""Usage recording and per-version metrics, checked against an independent reference:
numpy for percentiles and means, scipy for the Wilson interval, the z-test written from its
definition."""

import asyncio
import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from promptgraph.services.auth import Role

METRIC_FIELDS = """totalTraces successRate avgCostUsd avgLatencyMs p50LatencyMs p95LatencyMs
                   firstUsedAt lastUsedAt successRateCi95 { low high }"""
RECORD_USAGE = """mutation($input: RecordUsageInput!) { recordUsage(input: $input) { status } }"""
RECORD_TRACES = (
    """mutation($traces: [TraceInput!]!) { recordTraces(traces: $traces) { accepted } }"""
)
Z = 1.959964


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class TraceSpec:
    trace_id: uuid.UUID
    status: str | None
    cost: float | None
    latency: float | None
    started_at: datetime | None
    versions: dict[int, list[uuid.UUID | None]] = field(default_factory=dict)  # version -> spans


def generate(rng: random.Random, count: int, versions: list[int]) -> list[TraceSpec]:
    """Random traces with ties, missing values, shared traces and repeated spans."""
    base = datetime(2024, 3, 1, tzinfo=UTC)
    tied_latencies = [120.0, 250.0, 250.0, 980.5]
    traces = []
    for _ in range(count):
        spec = TraceSpec(
            trace_id=uuid.UUID(int=rng.getrandbits(128)),
            status=rng.choice(["SUCCESS", "SUCCESS", "ERROR", None]),
            cost=rng.choice([None, round(rng.uniform(0, 0.05), 6)]),
            latency=rng.choice([None, rng.choice(tied_latencies), round(rng.uniform(50, 3000), 3)]),
            started_at=rng.choice([None, base + timedelta(minutes=rng.randrange(0, 10 * 24 * 60))]),
        )
        for version in rng.sample(versions, rng.choice([1, 1, 2])):
            spec.versions[version] = [
                rng.choice([None, uuid.UUID(int=rng.getrandbits(128))])
                for _ in range(rng.choice([1, 1, 2]))
            ]
        traces.append(spec)
    return traces


@dataclass
class Reference:
    total: int
    successes: int
    with_status: int
    success_rate: float | None
    avg_cost: float | None
    avg_latency: float | None
    p50: float | None
    p95: float | None
    times: list[datetime | None]


def reference(traces: list[TraceSpec], version: int, since=None, until=None, now_range=None):
    linked = []
    for spec in traces:
        if version not in spec.versions:
            continue
        # A trace without started_at is timed by its usages' recording, i.e. during the test.
        if spec.started_at is not None:
            inside = (since is None or spec.started_at >= since) and (
                until is None or spec.started_at < until
            )
        else:
            inside = (since is None or since <= now_range[0]) and (
                until is None or until > now_range[1]
            )
        if inside:
            linked.append(spec)
    statuses = [s.status for s in linked if s.status is not None]
    costs = [s.cost for s in linked if s.cost is not None]
    latencies = [s.latency for s in linked if s.latency is not None]
    successes = statuses.count("SUCCESS")
    return Reference(
        total=len(linked),
        successes=successes,
        with_status=len(statuses),
        success_rate=successes / len(statuses) if statuses else None,
        avg_cost=float(np.mean(costs)) if costs else None,
        avg_latency=float(np.mean(latencies)) if latencies else None,
        p50=float(np.percentile(latencies, 50)) if latencies else None,
        p95=float(np.percentile(latencies, 95)) if latencies else None,
        times=[s.started_at for s in linked],
    )


def approx(value):
    return None if value is None else pytest.approx(value, rel=1e-9, abs=1e-12)


def assert_matches(metrics: dict, ref: Reference, now_range) -> None:
    assert metrics["totalTraces"] == ref.total
    assert metrics["successRate"] == approx(ref.success_rate)
    assert metrics["avgCostUsd"] == approx(ref.avg_cost)
    assert metrics["avgLatencyMs"] == approx(ref.avg_latency)
    assert metrics["p50LatencyMs"] == approx(ref.p50)
    assert metrics["p95LatencyMs"] == approx(ref.p95)
    if ref.with_status:
        wilson = stats.binomtest(ref.successes, ref.with_status).proportion_ci(
            0.95, method="wilson"
        )
        assert metrics["successRateCi95"]["low"] == pytest.approx(wilson.low, rel=1e-6, abs=1e-9)
        assert metrics["successRateCi95"]["high"] == pytest.approx(wilson.high, rel=1e-6, abs=1e-9)
    else:
        assert metrics["successRateCi95"] is None
    if ref.total == 0:
        assert metrics["firstUsedAt"] is None and metrics["lastUsedAt"] is None
        return
    known = [t for t in ref.times if t is not None]
    first, last = parse(metrics["firstUsedAt"]), parse(metrics["lastUsedAt"])
    if known:
        assert first == min(known)
    if len(known) == len(ref.times):
        assert last == max(known)
    else:  # the latest use is a trace timed by its recording, during this test
        assert now_range[0] <= last <= now_range[1]


def pooled_p_value(s1: int, n1: int, s2: int, n2: int) -> float | None:
    """From the definition: z = (p1 - p2) / sqrt(p(1-p)(1/n1 + 1/n2)), p pooled."""
    if n1 == 0 or n2 == 0:
        return None
    pooled = (s1 + s2) / (n1 + n2)
    if pooled in (0, 1):
        return None
    z = (s1 / n1 - s2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return float(2 * stats.norm.sf(abs(z)))


async def record(api, traces: list[TraceSpec], rng: random.Random, prompt: str = "p") -> None:
    """Half the outcomes go in with recordTraces before the usages, half with recordUsage."""
    batch = [
        {
            "traceId": str(s.trace_id),
            "status": s.status,
            "costUsd": s.cost,
            "latencyMs": s.latency,
            "startedAt": None if s.started_at is None else iso(s.started_at),
        }
        for s in traces
        if rng.random() < 0.5
    ]
    batched = {t["traceId"] for t in batch}
    if batch:
        result = (await api.gql(RECORD_TRACES, {"traces": batch})).ok()
        assert result["recordTraces"]["accepted"] == len(batch)
    for spec in traces:
        for version, spans in spec.versions.items():
            for span in spans:
                payload = {
                    "promptName": prompt,
                    "promptVersion": version,
                    "traceId": str(spec.trace_id),
                    "spanId": None if span is None else str(span),
                }
                if str(spec.trace_id) not in batched:
                    payload["outcome"] = {
                        "status": spec.status,
                        "costUsd": spec.cost,
                        "latencyMs": spec.latency,
                        "startedAt": None if spec.started_at is None else iso(spec.started_at),
                    }
                assert (await api.gql(RECORD_USAGE, {"input": payload})).ok() == {
                    "recordUsage": {"status": "recorded"}
                }


async def seed_versions(api, count: int, prompt: str = "p") -> None:
    for version in range(1, count + 1):
        await api.create(prompt, f"version {version} {{{{ x }}}}", version=version)


async def version_metrics(api, prompt: str = "p", since=None, until=None) -> dict[int, dict]:
    query = f"""query($name: String!, $since: DateTime, $until: DateTime) {{
      prompt(name: $name) {{ versions(limit: 100, includeArchived: true) {{
        items {{ version metrics(since: $since, until: $until) {{ {METRIC_FIELDS} }} }} }} }} }}"""
    variables = {"name": prompt, "since": since and iso(since), "until": until and iso(until)}
    data = (await api.gql(query, variables)).ok()
    return {item["version"]: item["metrics"] for item in data["prompt"]["versions"]["items"]}


@pytest.mark.parametrize("seed", [7, 2024])
async def test_metrics_match_reference_on_random_traces(api, seed):
    rng = random.Random(seed)
    await seed_versions(api, 4)
    traces = generate(rng, 90, versions=[1, 2])
    lonely = TraceSpec(uuid.uuid4(), "ERROR", 0.01, 777.0, datetime(2024, 3, 5, tzinfo=UTC))
    lonely.versions[3] = [None]
    traces.append(lonely)  # version 3: a single trace; version 4: none
    start = datetime.now(UTC)
    await record(api, traces, rng)
    now_range = (start, datetime.now(UTC))

    metrics = await version_metrics(api)
    for version in (1, 2, 3, 4):
        assert_matches(metrics[version], reference(traces, version, now_range=now_range), now_range)
    assert metrics[4]["totalTraces"] == 0 and metrics[4]["successRate"] is None

    since, until = datetime(2024, 3, 3, tzinfo=UTC), datetime(2024, 3, 8, 12, tzinfo=UTC)
    windowed = await version_metrics(api, since=since, until=until)
    for version in (1, 2, 3):
        ref = reference(traces, version, since, until, now_range)
        assert_matches(windowed[version], ref, now_range)

    comparison = (
        await api.gql(
            """query { comparePromptVersions(name: "p", baseline: 2) { name baselineVersion
                 versions { version totalTraces successRate avgCostUsd p95LatencyMs isBaseline
                            successRatePValue successRateCi95 { low high } } } }"""
        )
    ).ok()["comparePromptVersions"]
    assert comparison["baselineVersion"] == 2
    assert [v["version"] for v in comparison["versions"]] == [4, 3, 2, 1]
    base = reference(traces, 2, now_range=now_range)
    for row in comparison["versions"]:
        ref = reference(traces, row["version"], now_range=now_range)
        assert row["isBaseline"] == (row["version"] == 2)
        assert row["totalTraces"] == ref.total
        assert row["successRate"] == approx(ref.success_rate)
        assert row["p95LatencyMs"] == approx(ref.p95)
        expected = (
            None
            if row["isBaseline"]
            else pooled_p_value(ref.successes, ref.with_status, base.successes, base.with_status)
        )
        assert row["successRatePValue"] == approx(expected)
    # Version 1 against version 2 has statuses on both sides with mixed outcomes: a real p-value.
    assert comparison["versions"][3]["successRatePValue"] is not None


async def test_same_usage_recorded_many_times_counts_one_trace(api):
    await seed_versions(api, 1)
    payload = {
        "promptName": "p",
        "promptVersion": 1,
        "traceId": str(uuid.uuid4()),
        "outcome": {"status": "SUCCESS", "latencyMs": 10.0},
    }
    concurrent = await asyncio.gather(
        *(api.gql(RECORD_USAGE, {"input": payload}) for _ in range(50))
    )
    assert all(r.ok() == {"recordUsage": {"status": "recorded"}} for r in concurrent)
    for _ in range(50):
        (await api.gql(RECORD_USAGE, {"input": payload})).ok()
    metrics = (await version_metrics(api))[1]
    assert metrics["totalTraces"] == 1
    assert metrics["successRate"] == 1.0
    assert metrics["p50LatencyMs"] == 10.0


async def test_trace_shared_by_two_versions_and_two_spans(api):
    await seed_versions(api, 2)
    trace = str(uuid.uuid4())
    for version, span in [(1, uuid.uuid4()), (1, uuid.uuid4()), (1, None), (2, None)]:
        payload = {
            "promptName": "p",
            "promptVersion": version,
            "traceId": trace,
            "spanId": None if span is None else str(span),
        }
        (await api.gql(RECORD_USAGE, {"input": payload})).ok()
    (
        await api.gql(
            RECORD_TRACES, {"traces": [{"traceId": trace, "status": "ERROR", "costUsd": 0.5}]}
        )
    ).ok()
    metrics = await version_metrics(api)
    for version in (1, 2):
        assert metrics[version]["totalTraces"] == 1
        assert metrics[version]["successRate"] == 0.0
        assert metrics[version]["avgCostUsd"] == 0.5


async def test_outcome_before_and_after_usage_and_last_write_wins_per_field(api):
    await seed_versions(api, 1)
    early, late = str(uuid.uuid4()), str(uuid.uuid4())
    (
        await api.gql(
            RECORD_TRACES, {"traces": [{"traceId": early, "status": "SUCCESS", "latencyMs": 100.0}]}
        )
    ).ok()
    for trace in (early, late):
        (
            await api.gql(
                RECORD_USAGE, {"input": {"promptName": "p", "promptVersion": 1, "traceId": trace}}
            )
        ).ok()
    assert (await version_metrics(api))[1]["successRate"] == 1.0  # late has no status yet
    (
        await api.gql(
            RECORD_TRACES, {"traces": [{"traceId": late, "status": "ERROR", "latencyMs": 300.0}]}
        )
    ).ok()
    # A later outcome without latency keeps the stored latency but changes the status.
    (await api.gql(RECORD_TRACES, {"traces": [{"traceId": early, "status": "ERROR"}]})).ok()
    metrics = (await version_metrics(api))[1]
    assert metrics["totalTraces"] == 2
    assert metrics["successRate"] == 0.0
    assert metrics["avgLatencyMs"] == 200.0


async def test_record_traces_batch_limit_and_duplicates(api):
    too_many = [{"traceId": str(uuid.uuid4()), "status": "SUCCESS"} for _ in range(1001)]
    result = await api.gql(RECORD_TRACES, {"traces": too_many})
    assert result.codes == ["BAD_USER_INPUT"]
    trace = str(uuid.uuid4())
    batch = [
        {"traceId": trace, "status": "SUCCESS", "costUsd": 1.0},
        {"traceId": trace, "costUsd": 3.0},
    ]
    assert (await api.gql(RECORD_TRACES, {"traces": batch})).ok()["recordTraces"]["accepted"] == 2
    await seed_versions(api, 1)
    (
        await api.gql(
            RECORD_USAGE, {"input": {"promptName": "p", "promptVersion": 1, "traceId": trace}}
        )
    ).ok()
    metrics = (await version_metrics(api))[1]
    assert (metrics["successRate"], metrics["avgCostUsd"]) == (1.0, 3.0)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"promptName": "missing", "promptVersion": 1}, "NOT_FOUND"),
        ({"promptName": "p", "promptVersion": 9}, "NOT_FOUND"),
        ({"promptName": "p", "promptVersion": 1, "traceId": "not-a-uuid"}, "BAD_USER_INPUT"),
        ({"promptName": "p", "promptVersion": 1, "spanId": "123"}, "BAD_USER_INPUT"),
        ({"promptName": "p", "promptVersion": 1, "outcome": {"latencyMs": -1}}, "BAD_USER_INPUT"),
    ],
)
async def test_record_usage_errors_change_nothing(api, payload, code):
    await seed_versions(api, 1)
    result = await api.gql(RECORD_USAGE, {"input": {"traceId": str(uuid.uuid4()), **payload}})
    assert result.codes == [code]
    assert (await version_metrics(api))[1]["totalTraces"] == 0


async def test_viewer_cannot_record(api):
    await seed_versions(api, 1)
    viewer = await api.key(user="vic", role=Role.VIEWER)
    payload = {"promptName": "p", "promptVersion": 1, "traceId": str(uuid.uuid4())}
    assert (await api.gql(RECORD_USAGE, {"input": payload}, key=viewer)).codes == ["FORBIDDEN"]
    assert (await version_metrics(api))[1]["totalTraces"] == 0


SERIES = """query($since: DateTime!, $until: DateTime!, $bucket: Bucket!) {
  promptVersion(name: "p", version: 1) {
    metricsSeries(since: $since, until: $until, bucket: $bucket) {
      start totalTraces successRate avgCostUsd avgLatencyMs p95LatencyMs } } }"""


async def test_metrics_series_buckets(api):
    await seed_versions(api, 1)
    day = datetime(2024, 5, 1, tzinfo=UTC)
    moments = [
        day + timedelta(hours=1, minutes=5),
        day + timedelta(hours=1, minutes=50),
        day + timedelta(hours=3),
        day + timedelta(days=1, hours=2),
    ]
    latencies = [100.0, 300.0, 50.0, 70.0]
    statuses = ["SUCCESS", "ERROR", "SUCCESS", "SUCCESS"]
    for moment, latency, status in zip(moments, latencies, statuses, strict=True):
        trace = str(uuid.uuid4())
        outcome = {"status": status, "latencyMs": latency, "startedAt": iso(moment)}
        (
            await api.gql(
                RECORD_USAGE,
                {
                    "input": {
                        "promptName": "p",
                        "promptVersion": 1,
                        "traceId": trace,
                        "outcome": outcome,
                    }
                },
            )
        ).ok()
    hourly = (
        await api.gql(
            SERIES, {"since": iso(day), "until": iso(day + timedelta(hours=5)), "bucket": "HOUR"}
        )
    ).ok()["promptVersion"]["metricsSeries"]
    assert [b["start"] for b in hourly] == [
        iso(day + timedelta(hours=h)).replace(".000000", "") for h in range(5)
    ]
    assert [b["totalTraces"] for b in hourly] == [0, 2, 0, 1, 0]
    assert hourly[0]["successRate"] is None and hourly[0]["p95LatencyMs"] is None
    assert hourly[1]["successRate"] == 0.5
    assert hourly[1]["p95LatencyMs"] == pytest.approx(float(np.percentile([100.0, 300.0], 95)))
    # Days are aligned to midnight UTC even when `since` is not.
    daily = (
        await api.gql(
            SERIES,
            {
                "since": iso(day + timedelta(hours=2)),
                "until": iso(day + timedelta(days=2)),
                "bucket": "DAY",
            },
        )
    ).ok()["promptVersion"]["metricsSeries"]
    assert [b["start"] for b in daily] == ["2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z"]
    assert [b["totalTraces"] for b in daily] == [1, 1]
    assert daily[0]["avgLatencyMs"] == 50.0


@pytest.mark.parametrize(
    ("since", "until", "bucket"),
    [
        ("2024-01-01T00:00:00Z", "2024-03-01T00:00:00Z", "HOUR"),  # 1,440 buckets
        ("2024-01-02T00:00:00Z", "2024-01-01T00:00:00Z", "DAY"),  # until before since
    ],
)
async def test_metrics_series_rejects_bad_windows(api, since, until, bucket):
    await seed_versions(api, 1)
    result = await api.gql(SERIES, {"since": since, "until": until, "bucket": bucket})
    assert result.codes == ["BAD_USER_INPUT"]


async def test_compare_baseline_defaults_and_errors(api):
    await seed_versions(api, 3)
    query = """query($baseline: Int) { comparePromptVersions(name: "p", baseline: $baseline) {
                 baselineVersion versions { version isBaseline successRatePValue } } }"""
    latest = (await api.gql(query)).ok()["comparePromptVersions"]
    assert latest["baselineVersion"] == 3
    assert [v["isBaseline"] for v in latest["versions"]] == [True, False, False]
    assert all(v["successRatePValue"] is None for v in latest["versions"])  # no statuses
    (await api.gql('mutation { setLabel(name: "p", label: "production", version: 2) { id } }')).ok()
    assert (await api.gql(query)).ok()["comparePromptVersions"]["baselineVersion"] == 2
    assert (await api.gql(query, {"baseline": 1})).ok()["comparePromptVersions"][
        "baselineVersion"
    ] == 1
    assert (await api.gql(query, {"baseline": 7})).codes == ["NOT_FOUND"]
    missing = await api.gql('{ comparePromptVersions(name: "nope") { name } }')
    assert missing.codes == ["NOT_FOUND"]


async def test_compare_on_demo_data_matches_reference_from_raw_rows(api, db):
    """`promptgraph demo seed`'s data, compared, against numbers computed from the raw rows."""
    from sqlalchemy import select

    from promptgraph.models import Prompt, PromptVersion, Trace, Usage
    from promptgraph.services import demo

    await demo.seed(db, traces=600)
    key = await api.key(workspace=demo.WORKSPACE, user="reader", role=Role.VIEWER)
    async with db.read() as session:
        rows = (
            await session.execute(
                select(
                    PromptVersion.version,
                    Usage.trace_id,
                    Trace.status,
                    Trace.cost_usd,
                    Trace.latency_ms,
                )
                .join(Usage, Usage.version_id == PromptVersion.id)
                .join(Prompt, Prompt.id == PromptVersion.prompt_id)
                .outerjoin(Trace, Trace.trace_id == Usage.trace_id)
                .where(Prompt.name == "classify-intent")
            )
        ).all()
    comparison = (
        await api.gql(
            """{ comparePromptVersions(name: "classify-intent") { baselineVersion versions {
                 version totalTraces successRate avgCostUsd avgLatencyMs p95LatencyMs
                 successRatePValue successRateCi95 { low high } } } }""",
            key=key,
        )
    ).ok()["comparePromptVersions"]
    assert comparison["baselineVersion"] == 2  # labelled production by the seed
    by_version = {v: [r for r in rows if r.version == v] for v in (1, 2, 3)}
    base = by_version[2]
    for row in comparison["versions"]:
        own = by_version[row["version"]]
        statuses = [r.status for r in own if r.status]
        latencies = [r.latency_ms for r in own if r.latency_ms is not None]
        assert row["totalTraces"] == len({r.trace_id for r in own}) > 0
        assert row["successRate"] == approx(statuses.count("SUCCESS") / len(statuses))
        assert row["avgCostUsd"] == approx(
            float(np.mean([r.cost_usd for r in own if r.cost_usd is not None]))
        )
        assert row["avgLatencyMs"] == approx(float(np.mean(latencies)))
        assert row["p95LatencyMs"] == approx(float(np.percentile(latencies, 95)))
        base_statuses = [r.status for r in base if r.status]
        expected = (
            None
            if row["version"] == 2
            else pooled_p_value(
                statuses.count("SUCCESS"),
                len(statuses),
                base_statuses.count("SUCCESS"),
                len(base_statuses),
            )
        )
        assert row["successRatePValue"] == approx(expected)
