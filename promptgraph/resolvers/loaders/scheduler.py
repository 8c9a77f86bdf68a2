"""Batch dispatch for all of one request's loaders, once resolution has settled.

Strawberry's DataLoader dispatches a batch on the next loop iteration. Keys that arrive a
moment later (say the tags of a versions page whose query finished just after the latest
versions' query) would then form a second batch, and the number of statements a page costs
would depend on timing. Here a batch waits until no batch of the request is in flight and
the resolvers woken by the last results have run, so each level of the query is one batch
per loader, whatever the page size.
"""

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

from strawberry.dataloader import Batch, DataLoader, dispatch_batch

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

# Event-loop iterations without I/O after which the resolvers have made all the loads that
# the last results lead to (the deepest chain, result -> field -> list item -> load, needs 5).
SETTLE_ITERATIONS = 12


class BatchScheduler:
    def __init__(self) -> None:
        self._pending: list[tuple[DataLoader, Batch]] = []
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._runner: asyncio.Task[None] | None = None

    def schedule(self, loader: DataLoader, batch: Batch) -> None:
        self._pending.append((loader, batch))
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._dispatch_when_settled())

    async def _dispatch_when_settled(self) -> None:
        try:
            while self._pending:
                await self._idle.wait()
                for _ in range(SETTLE_ITERATIONS):
                    await asyncio.sleep(0)
                if self._in_flight:
                    continue
                pending, self._pending = self._pending, []
                for loader, batch in pending:
                    self._in_flight += 1
                    self._idle.clear()
                    task = asyncio.get_running_loop().create_task(dispatch_batch(loader, batch))
                    task.add_done_callback(self._on_batch_done)
        finally:
            self._runner = None

    def _on_batch_done(self, _task: asyncio.Task[None]) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()


class SettledLoader(DataLoader[K, T], Generic[K, T]):
    """A DataLoader whose batches the request's BatchScheduler dispatches."""

    def __init__(
        self, load_fn: Callable[[list[K]], Awaitable[Sequence[T]]], scheduler: BatchScheduler
    ) -> None:
        super().__init__(load_fn)
        self._scheduler = scheduler

    def load(self, key: K) -> Awaitable[T]:
        """One future per key, shared by every field that asks for it. Each caller gets a
        shield of it: when GraphQL cancels one field (a sibling failed), the others that
        wait for the same key still get their value."""
        future = self.cache_map.get(key)
        if future is None or future.cancelled():
            future = self.loop.create_future()
            self.cache_map.set(key, future)
            if self.batch is None or self.batch.dispatched:
                self.batch = Batch()
                self._scheduler.schedule(self, self.batch)
            self.batch.add_task(key, future)
        return asyncio.shield(future)
