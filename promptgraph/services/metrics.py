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

from sqlalchemy import ColumnElement, Float, and_, case, cast, func, literal, select
from sqlalchemy.sql import Subquery

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


def _usage_time() -> ColumnElement[datetime]:
    return func.coalesce(Trace.started_at, Usage.recorded_at, type_=UTCDateTime)


def _bucket_start(db: Database, bucket: Bucket) -> ColumnElement[Any]:
    if db.dialect == "postgresql":
        return func.date_trunc(bucket.value.lower(), _usage_time(), literal("UTC"))
    pattern = "%Y-%m-%d %H:00:00.000000" if bucket is Bucket.HOUR else "%Y-%m-%d 00:00:00.000000"
    return func.strftime(pattern, _usage_time())


def _linked_traces(
    version_ids: set[int], window: Window, extra_key: ColumnElement[Any] | None
) -> Subquery:
    """One row per (version[, bucket], trace) with the trace's outcome and usage times."""
    time = _usage_time()
    keys: list[Any] = [Usage.version_id.label("version_id")]
    if extra_key is not None:
        keys.append(extra_key.label("bucket"))
    conditions = [Usage.version_id.in_(version_ids)]
    if window.since is not None:
        conditions.append(time >= window.since)
    if window.until is not None:
        conditions.append(time < window.until)
    return (
        select(
            *keys,
            Usage.trace_id,
            Trace.status,
            Trace.cost_usd,
            Trace.latency_ms,
            func.min(time).label("first_at"),
            func.max(time).label("last_at"),
        )
        .select_from(Usage)
        .outerjoin(
            Trace, and_(Trace.workspace_id == Usage.workspace_id, Trace.trace_id == Usage.trace_id)
        )
        .where(*conditions)
        .group_by(*keys, Usage.trace_id, Trace.id, Trace.status, Trace.cost_usd, Trace.latency_ms)
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
    return await _aggregate(db, _linked_traces(version_ids, window, None), by_bucket=False)


def bucket_starts(since: datetime, until: datetime, bucket: Bucket) -> list[datetime]:
    if until <= since:
        raise BadUserInput("until must be after since", field="until")
    start, end = bucket.floor(since), until
    count = math.ceil((end - start) / bucket.width)
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
    linked = _linked_traces(version_ids, Window(since, until), _bucket_start(db, bucket))
    aggregated = await _aggregate(db, linked, by_bucket=True)
    by_start = {(version_id, _utc(start)): m for (version_id, start), m in aggregated.items()}
    return {
        version_id: [(start, by_start.get((version_id, start), Metrics())) for start in starts]
        for version_id in version_ids
    }
