"""Per-version metrics, exactly as the contract defines them.

A version's linked traces are the distinct trace ids of its usages whose time (the trace's
`started_at` if known, else when the usage was first recorded) lies in [since, until).
Counts, averages and first/last use are aggregated in SQL on both databases; percentiles
too on PostgreSQL (`percentile_cont`), while SQLite, which lacks it, sends the sorted
latencies and they are interpolated here the same way.
"""

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, any_, case, cast, func, literal, select
from sqlalchemy.sql import FromClause, Subquery

from promptgraph.db import Database
from promptgraph.models import Trace, Usage
from promptgraph.models.types import UTCDateTime
from promptgraph.services.errors import BadUserInput

Z_95 = 1.959964
MAX_BUCKETS = 1000


@dataclass(frozen=True)
class Window:
    since: datetime | None = None
    until: datetime | None = None


class Bucket(StrEnum):
    HOUR = "HOUR"
    DAY = "DAY"

    @property
    def width(self) -> timedelta:
        return timedelta(hours=1) if self is Bucket.HOUR else timedelta(days=1)

    def floor(self, moment: datetime) -> datetime:
        moment = moment.astimezone(UTC)
        if self is Bucket.HOUR:
            return moment.replace(minute=0, second=0, microsecond=0)
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Metrics:
    total_traces: int = 0
    successes: int = 0
    with_status: int = 0
    avg_cost_usd: float | None = None
    avg_latency_ms: float | None = None
    p50_latency_ms: float | None = None
    p95_latency_ms: float | None = None
    first_used_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.with_status if self.with_status else None

    @property
    def success_rate_ci95(self) -> tuple[float, float] | None:
        return wilson_interval(self.successes, self.with_status)


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    if n == 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, center - half), min(1.0, center + half)


def two_proportion_p_value(s1: int, n1: int, s2: int, n2: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test."""
    if n1 == 0 or n2 == 0:
        return None
    pooled = (s1 + s2) / (n1 + n2)
    if pooled in (0.0, 1.0):
        return None
    z = (s1 / n1 - s2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return math.erfc(abs(z) / math.sqrt(2))


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (percentile_cont, numpy's default)."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def _outcomes(db: Database, version_ids: set[int]) -> FromClause:
    """The traces the usages of `version_ids` can link to, with their outcome.

    On PostgreSQL, the traces are fetched by the array of those usages' trace ids: one probe
    per id, in trace-id order, into an index that holds the outcome (`ix_trace_outcome`, so the
    table itself is not read). Left a plain join, the planner reckons those probes costlier
    than a pass over the whole trace table (every workspace's) against a hash of the usages,
    and picks that pass for all but small sets of versions: its cost grows with all traces
    ever recorded, not with those linked. SQLite joins with a probe per usage anyway.
    """
    if db.dialect != "postgresql":
        return Trace.__table__
    used = select(Usage.trace_id).where(Usage.version_id.in_(version_ids)).scalar_subquery()
    return (
        select(
            Trace.workspace_id,
            Trace.trace_id,
            Trace.status,
            Trace.cost_usd,
            Trace.latency_ms,
            Trace.started_at,
        )
        .where(Trace.trace_id == any_(func.array(used)))
        .subquery("outcome")
    )


def _bucket_start(
    db: Database, bucket: Bucket, time: ColumnElement[datetime]
) -> ColumnElement[Any]:
    if db.dialect == "postgresql":
        return func.date_trunc(bucket.value.lower(), time, literal("UTC"))
    pattern = "%Y-%m-%d %H:00:00.000000" if bucket is Bucket.HOUR else "%Y-%m-%d 00:00:00.000000"
    return func.strftime(pattern, time)


def _linked_traces(
    db: Database, version_ids: set[int], window: Window, bucket: Bucket | None
) -> Subquery:
    """One row per (version[, bucket], trace) with the trace's outcome and usage times, in
    that order (so sums and averages add up in the same order whatever the plan).

    A trace row is identified by its trace id and workspace, so grouping by those gives one
    row per linked trace (a trace used twice by a version, as two spans, counts once), and
    its outcome is the same on every usage row of the group: `max` merely picks it.

    On PostgreSQL the join is a FULL join, which the planner can only hash or merge: it
    cannot know how many traces the array of `_outcomes` finds (it assumes 10), and must not
    take that for a reason to rescan them for every usage. The traces it adds, matched by no
    usage (the same trace id in another workspace), come out with no version: `_aggregate`
    drops them. A filter on the usage side above the join would turn it back into a LEFT
    join, hence the versions are picked in `used`, below it.
    """
    used = (
        select(Usage.version_id, Usage.workspace_id, Usage.trace_id, Usage.recorded_at)
        .where(Usage.version_id.in_(version_ids))
        .subquery("used")
    )
    trace = _outcomes(db, version_ids)
    time = func.coalesce(trace.c.started_at, used.c.recorded_at, type_=UTCDateTime)
    keys: list[Any] = [used.c.version_id.label("version_id")]
    if bucket is not None:
        keys.append(_bucket_start(db, bucket, time).label("bucket"))
    conditions = []
    if window.since is not None:
        conditions.append(time >= window.since)
    if window.until is not None:
        conditions.append(time < window.until)
    return (
        select(
            *keys,
            used.c.trace_id,
            func.max(trace.c.status).label("status"),
            func.max(trace.c.cost_usd).label("cost_usd"),
            func.max(trace.c.latency_ms).label("latency_ms"),
            func.min(time).label("first_at"),
            func.max(time).label("last_at"),
        )
        .select_from(used)
        .join(
            trace,
            and_(trace.c.workspace_id == used.c.workspace_id, trace.c.trace_id == used.c.trace_id),
            isouter=True,
            full=db.dialect == "postgresql",
        )
        .where(*conditions)
        .group_by(*keys, used.c.trace_id, trace.c.workspace_id)
        .order_by(*keys, used.c.trace_id)
        .subquery("linked")
    )


async def _aggregate(db: Database, linked: Subquery, by_bucket: bool) -> dict[Any, Metrics]:
    keys = [linked.c.version_id] + ([linked.c.bucket] if by_bucket else [])
    latency = cast(linked.c.latency_ms, Float)
    columns: list[Any] = [
        *keys,
        func.count(),
        func.coalesce(func.sum(case((linked.c.status == "SUCCESS", 1), else_=0)), 0),
        func.count(linked.c.status),
        func.avg(cast(linked.c.cost_usd, Float)),
        func.avg(latency),
        func.min(linked.c.first_at),
        func.max(linked.c.last_at),
    ]
    postgres = db.dialect == "postgresql"
    if postgres:
        columns += [
            func.percentile_cont(0.5).within_group(latency),
            func.percentile_cont(0.95).within_group(latency),
        ]
    async with db.read() as session:
        rows = (await session.execute(select(*columns).group_by(*keys))).all()
        latencies: defaultdict[Any, list[float]] = defaultdict(list)
        if not postgres:
            listed = await session.execute(
                select(*keys, latency).where(latency.is_not(None)).order_by(*keys, latency)
            )
            for *key, value in listed:
                latencies[tuple(key) if by_bucket else key[0]].append(value)
    result: dict[Any, Metrics] = {}
    for row in rows:
        if row[0] is None:  # traces the FULL join added, linked to none of the versions
            continue
        key = tuple(row[: len(keys)]) if by_bucket else row[0]
        total, successes, with_status, cost, mean_latency, first_at, last_at = row[
            len(keys) : len(keys) + 7
        ]
        if postgres:
            p50, p95 = row[len(keys) + 7], row[len(keys) + 8]
        else:
            p50, p95 = percentile(latencies[key], 0.5), percentile(latencies[key], 0.95)
        result[key] = Metrics(
            total_traces=total,
            successes=int(successes),
            with_status=with_status,
            avg_cost_usd=cost,
            avg_latency_ms=mean_latency,
            p50_latency_ms=p50,
            p95_latency_ms=p95,
            first_used_at=_utc(first_at),
            last_used_at=_utc(last_at),
        )
    return result


def _utc(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite hands back aggregates of datetimes as text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def metrics_of_versions(
    db: Database, version_ids: set[int], window: Window
) -> dict[int, Metrics]:
    """Versions with no linked trace in the window are absent: their metrics are Metrics()."""
    if not version_ids:
        return {}
    return await _aggregate(db, _linked_traces(db, version_ids, window, None), by_bucket=False)


def bucket_count(since: datetime, until: datetime, bucket: Bucket) -> int:
    """How many buckets [since, until) spans, the first aligned to the bucket's start."""
    return max(0, math.ceil((until - bucket.floor(since)) / bucket.width))


def bucket_starts(since: datetime, until: datetime, bucket: Bucket) -> list[datetime]:
    if until <= since:
        raise BadUserInput("until must be after since", field="until")
    start, count = bucket.floor(since), bucket_count(since, until, bucket)
    if count > MAX_BUCKETS:
        raise BadUserInput(
            f"at most {MAX_BUCKETS} buckets; {since:%Y-%m-%dT%H:%MZ} to {until:%Y-%m-%dT%H:%MZ} "
            f"by {bucket.value} makes {count}",
            field="bucket",
        )
    return [start + index * bucket.width for index in range(count)]


async def metrics_series(
    db: Database, version_ids: set[int], since: datetime, until: datetime, bucket: Bucket
) -> dict[int, list[tuple[datetime, Metrics]]]:
    """Each version's buckets over [since, until), aligned to the bucket's start, empty ones
    included. The first bucket only counts usages from `since` on."""
    starts = bucket_starts(since, until, bucket)
    linked = _linked_traces(db, version_ids, Window(since, until), bucket)
    aggregated = await _aggregate(db, linked, by_bucket=True)
    by_start = {(version_id, _utc(start)): m for (version_id, start), m in aggregated.items()}
    return {
        version_id: [(start, by_start.get((version_id, start), Metrics())) for start in starts]
        for version_id in version_ids
    }
