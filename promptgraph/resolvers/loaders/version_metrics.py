"""Metrics of versions over a time window (`PromptVersion.metrics`)."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from promptgraph.db import Database
from promptgraph.services.metrics import Metrics, Window, metrics_of_versions


@dataclass(frozen=True)
class Key:
    version_id: int
    window: Window


Result = Metrics


async def load(db: Database, keys: Sequence[Key]) -> list[Result]:
    by_window: defaultdict[Window, set[int]] = defaultdict(set)
    for key in keys:
        by_window[key.window].add(key.version_id)
    found: dict[Key, Metrics] = {}
    for window, version_ids in by_window.items():
        for version_id, metrics in (await metrics_of_versions(db, version_ids, window)).items():
            found[Key(version_id, window)] = metrics
    return [found.get(key, Metrics()) for key in keys]
