"""Metrics of versions bucketed by hour or day (`PromptVersion.metricsSeries`)."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from promptgraph.db import Database
from promptgraph.services.metrics import Bucket, Metrics, metrics_series


@dataclass(frozen=True)
class Key:
    version_id: int
    since: datetime
    until: datetime
    bucket: Bucket


Result = list[tuple[datetime, Metrics]]


async def load(db: Database, keys: Sequence[Key]) -> list[Result]:
    groups: defaultdict[tuple[datetime, datetime, Bucket], set[int]] = defaultdict(set)
    for key in keys:
        groups[(key.since, key.until, key.bucket)].add(key.version_id)
    found: dict[Key, Result] = {}
    for (since, until, bucket), version_ids in groups.items():
        series = await metrics_series(db, version_ids, since, until, bucket)
        for version_id, buckets in series.items():
            found[Key(version_id, since, until, bucket)] = buckets
    return [found[key] for key in keys]
