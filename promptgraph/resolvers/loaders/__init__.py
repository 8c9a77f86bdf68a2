"""Per-request DataLoaders: every field a list can fan out to is loaded in batches.

One loader per module, each naming its key and result types at the top and returning
results in key order. A version's prompt needs no loader: every version query joins it in.
"""

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from promptgraph.db import Database
from promptgraph.resolvers.loaders import (
    latest_version,
    prompt_aliases,
    prompt_labels,
    version_by_selector,
    version_count,
    version_labels,
    version_metrics,
    version_page,
    version_revisions,
    version_series,
    version_tags,
)
from promptgraph.resolvers.loaders.scheduler import BatchScheduler, SettledLoader


class Loaders:
    def __init__(self, db: Database) -> None:
        scheduler = BatchScheduler()

        def loader(load: Callable[[Database, Sequence[Any]], Awaitable[list[Any]]]) -> Any:
            return SettledLoader(partial(load, db), scheduler)

        self.latest_version: SettledLoader[latest_version.Key, latest_version.Result] = loader(
            latest_version.load
        )
        self.version_page: SettledLoader[version_page.Key, version_page.Result] = loader(
            version_page.load
        )
        self.version_by_selector: SettledLoader[
            version_by_selector.Key, version_by_selector.Result
        ] = loader(version_by_selector.load)
        self.version_count: SettledLoader[version_count.Key, version_count.Result] = loader(
            version_count.load
        )
        self.prompt_labels: SettledLoader[prompt_labels.Key, prompt_labels.Result] = loader(
            prompt_labels.load
        )
        self.prompt_aliases: SettledLoader[prompt_aliases.Key, prompt_aliases.Result] = loader(
            prompt_aliases.load
        )
        self.version_tags: SettledLoader[version_tags.Key, version_tags.Result] = loader(
            version_tags.load
        )
        self.version_labels: SettledLoader[version_labels.Key, version_labels.Result] = loader(
            version_labels.load
        )
        self.version_revisions: SettledLoader[version_revisions.Key, version_revisions.Result] = (
            loader(version_revisions.load)
        )
        self.version_metrics: SettledLoader[version_metrics.Key, version_metrics.Result] = loader(
            version_metrics.load
        )
        self.version_series: SettledLoader[version_series.Key, version_series.Result] = loader(
            version_series.load
        )
