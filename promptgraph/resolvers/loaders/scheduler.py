"""Batch loading for all of one request's loaders, dispatched once resolution has settled.

A DataLoader of our own (a few lines; strawberry's has no public hook for when a batch goes
out). A loader that dispatches on the next loop iteration would send keys that arrive a
moment later (say the tags of a versions page whose query finished just after the latest
versions' query) as a second batch, and the number of statements a page costs would depend
on timing. Here a batch waits until no batch of the request is in flight and the resolvers
woken by the last results have run, so each level of the query is one batch per loader,
whatever the page size.
"""

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

# Event-loop iterations without I/O after which the resolvers have made all the loads that
# the last results lead to (the deepest chain, result -> field -> list item -> load, needs 5).
SETTLE_ITERATIONS = 12


class BatchScheduler:
    def __init__(self) -> None:
        self._waiting: list[SettledLoader[Any, Any]] = []
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._runner: asyncio.Task[None] | None = None

    def schedule(self, loader: "SettledLoader[Any, Any]") -> None:
        """`loader` has a batch waiting; it goes out with the others once all settles."""
        self._waiting.append(loader)
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._dispatch_when_settled())

    async def _dispatch_when_settled(self) -> None:
        try:
            while self._waiting:
                await self._idle.wait()
                for _ in range(SETTLE_ITERATIONS):
                    await asyncio.sleep(0)
                if self._in_flight:
                    continue
                waiting, self._waiting = self._waiting, []
                for loader in waiting:
                    self._in_flight += 1
                    self._idle.clear()
                    task = asyncio.get_running_loop().create_task(loader.dispatch())
                    task.add_done_callback(self._on_batch_done)
        finally:
            self._runner = None

    def _on_batch_done(self, _task: asyncio.Task[None]) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()


class SettledLoader(Generic[K, T]):
    """Loads keys in batches through `load_fn` (results in key order), each key once per
    request; the request's BatchScheduler decides when a batch goes out."""

    def __init__(
        self, load_fn: Callable[[list[K]], Awaitable[Sequence[T]]], scheduler: BatchScheduler
    ) -> None:
        self._load_fn = load_fn
        self._scheduler = scheduler
        self._futures: dict[K, asyncio.Future[T]] = {}
        self._batch: list[tuple[K, asyncio.Future[T]]] | None = None

    def load(self, key: K) -> Awaitable[T]:
        """One future per key, shared by every field that asks for it. Each caller gets a
        shield of it: when GraphQL cancels one field (a sibling failed), the others that
        wait for the same key still get their value."""
        future = self._futures.get(key)
        if future is None or future.cancelled():
            future = asyncio.get_running_loop().create_future()
            self._futures[key] = future
            if self._batch is None:
                self._batch = []
                self._scheduler.schedule(self)
            self._batch.append((key, future))
        return asyncio.shield(future)

    async def dispatch(self) -> None:
        """Load the waiting batch; a failure of the batch is the failure of each key."""
        batch, self._batch = self._batch or [], None
        try:
            results = await self._load_fn([key for key, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(batch)} keys loaded as {len(results)} results")
        except Exception as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
