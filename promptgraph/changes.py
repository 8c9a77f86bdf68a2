"""Which workspaces changed, as PostgreSQL tells every process serving the same database.

A write that changes what a cached answer could contain announces its workspace with
`pg_notify` inside its own transaction, so the announcement is delivered exactly when the
write commits (and never if it rolls back). Every serving process listens on one dedicated
connection and counts announcements per workspace: a cached answer is valid while its
workspace's count (its *generation*) is unchanged.

Delivery is asynchronous, so a process could otherwise serve an answer from before a write
another process has already acknowledged. `barrier()` closes that gap: it makes a round trip
on the listening connection that starts after the call. PostgreSQL signals listeners while
the writing transaction commits, before its client hears of the commit, and a listening
backend sends every notification it has been signalled for before it answers its next
query; asyncpg schedules the listener callbacks before it resumes whoever awaits that
answer. So once `barrier()` returns, every write acknowledged before it was called has been
counted. Concurrent callers share round trips: one in flight and at most one queued.

While the listening connection is down nothing is counted, so caches must not be used:
`barrier()` returns False, and every reconnection starts a new epoch, which invalidates
everything cached before it.

Caches use it in two steps: take `position()` before reading, then `stamp()` what was read
(None if any change was counted meanwhile: it may predate a write); later, `is_current()`
says whether a stamped value may still be served.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

CHANNEL = "promptgraph_changes"
RECONNECT_DELAY_S = 1.0
CONNECT_TIMEOUT_S = 10
# A listening connection that stops answering is as good as closed.
ROUND_TRIP_TIMEOUT_S = 5

logger = logging.getLogger("promptgraph.changes")


async def announce(session: AsyncSession, workspace_id: int) -> None:
    """Tell every listener, when this transaction commits, that the workspace changed."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(select(func.pg_notify(CHANNEL, str(workspace_id))))


@dataclass(frozen=True)
class Position:
    """Where the feed stood: its epoch and how many changes it had counted in it."""

    epoch: int
    sequence: int


@dataclass(frozen=True)
class Stamp:
    """What a value read from one workspace is valid for."""

    epoch: int
    workspace_id: int
    generation: int


class ChangeFeed:
    def __init__(self, url: URL) -> None:
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._connection: asyncpg.Connection | None = None
        self._runner: asyncio.Task[None] | None = None
        self._generations: defaultdict[int, int] = defaultdict(int)
        self.epoch = 0
        # Announcements counted in this epoch, whatever the workspace.
        self.sequence = 0
        self._queued: asyncio.Future[bool] | None = None
        self._round_trip: asyncio.Task[None] | None = None
        self._closed = False

    def position(self) -> Position:
        return Position(self.epoch, self.sequence)

    def stamp(self, since: Position, workspace_id: int) -> Stamp | None:
        """The stamp of a value of the workspace read after `since`, if the feed listened
        throughout and counted no change at all meanwhile (so the workspace's generation
        now is the one the read saw); None otherwise, and the value must not be kept."""
        if not self.connected or self.position() != since:
            return None
        return Stamp(self.epoch, workspace_id, self._generations[workspace_id])

    async def is_current(self, stamp: Stamp) -> bool:
        """Whether a stamped value may be served: no change to its workspace has been
        acknowledged since it was read, by any process."""
        return (
            await self.barrier()
            and stamp.epoch == self.epoch
            and stamp.generation == self._generations[stamp.workspace_id]
        )

    @property
    def connected(self) -> bool:
        return self._connection is not None and not self._connection.is_closed()

    def start(self) -> None:
        if self._runner is None and not self._closed:
            self._runner = asyncio.get_running_loop().create_task(self._listen_forever())

    async def barrier(self) -> bool:
        """True once every change acknowledged before this call has been counted; False when
        the feed cannot tell (not listening), in which case nothing cached may be used."""
        self.start()
        if not self.connected:
            return False
        if self._queued is None:
            self._queued = asyncio.get_running_loop().create_future()
            if self._round_trip is None:
                self._round_trip = asyncio.get_running_loop().create_task(self._round_trips())
        return await asyncio.shield(self._queued)

    async def _round_trips(self) -> None:
        try:
            while self._queued is not None:
                waiting, self._queued = self._queued, None
                waiting.set_result(await self._ping())
        finally:
            self._round_trip = None

    async def _ping(self) -> bool:
        connection = self._connection
        if connection is None:
            return False
        try:
            await connection.fetchval("SELECT 1", timeout=ROUND_TRIP_TIMEOUT_S)
        except Exception as error:
            logger.warning("change feed round trip failed: %r", error)
            if self._connection is connection:
                self._connection = None
                connection.terminate()
            return False
        return self._connection is connection

    def _on_notification(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        with contextlib.suppress(ValueError):
            self._generations[int(payload)] += 1
        self.sequence += 1

    def _on_termination(self, connection: object) -> None:
        if self._connection is connection:
            self._connection = None

    async def _listen_forever(self) -> None:
        while not self._closed:
            if not self.connected:
                try:
                    await self._connect()
                except Exception as error:
                    logger.warning("change feed cannot listen: %r", error)
            await asyncio.sleep(RECONNECT_DELAY_S)

    async def _connect(self) -> None:
        connection = await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT_S)
        try:
            await connection.add_listener(CHANNEL, self._on_notification)
        except BaseException:
            await connection.close()
            raise
        connection.add_termination_listener(self._on_termination)
        # Whatever was announced before LISTEN took effect was never counted.
        self.epoch += 1
        self.sequence = 0
        self._generations.clear()
        self._connection = connection

    async def close(self) -> None:
        self._closed = True
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(Exception):
                await connection.close()
