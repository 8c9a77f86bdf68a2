"""Whole answers to repeated registry reads, served without parsing, auth or SQL.

Agents fetch the same few prompt versions over and over with the same key, so a POST to
/graphql whose key (by its digest), headers, query string and body match an earlier successful
registry-only query (see `schema/caching.py`) gets that query's answer again, as long as
nothing in its workspace has changed since. Changes are counted by the `ChangeFeed`; before
an answer is reused its barrier makes sure every write acknowledged so far, by any process,
has been counted, so no client is ever sent a version older than one it was told was
written. Revoking a key counts as a change in its workspace, so a revoked key's answers go
too.

Only PostgreSQL announces changes; on SQLite nothing is cached.
"""

from collections import OrderedDict
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from promptgraph.changes import ChangeFeed, Position, Stamp
from promptgraph.http.credentials import credentials_of
from promptgraph.telemetry import record_cache_lookup

STATE_KEY = "response_cache"
CACHED_HEADERS = (b"accept", b"content-type")

CacheKey = tuple[bytes, ...]


@dataclass
class Ticket:
    """What a request that missed the cache learns on its way, to decide whether its answer
    may be kept: the feed's position when it started, its workspace, and whether the query
    was a successful registry-only one."""

    since: Position
    workspace_id: int | None = None
    cacheable: bool = False


@dataclass(frozen=True)
class Entry:
    stamp: Stamp
    start: Message
    body: bytes


def ticket_of(scope: Scope) -> Ticket | None:
    ticket = scope.get("state", {}).get(STATE_KEY)
    return ticket if isinstance(ticket, Ticket) else None


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


class ResponseCache:
    def __init__(
        self, app: ASGIApp, feed: ChangeFeed | None, max_bytes: int, path: str = "/graphql"
    ) -> None:
        self.app = app
        self.feed = feed
        self.max_bytes = max_bytes
        self.path = path
        self._entries: OrderedDict[CacheKey, Entry] = OrderedDict()
        self._bytes = 0

    @staticmethod
    def _key(digest: str, scope: Scope, body: bytes) -> CacheKey:
        """The key's digest, read once for the request (`http/credentials.py`) like the token
        auth checks: the same key as the answer's, and never the key itself."""
        headers = dict(scope["headers"])
        cached = (headers.get(name, b"") for name in CACHED_HEADERS)
        return (digest.encode(), *cached, scope.get("query_string", b""), body)

    @staticmethod
    def _size(key: CacheKey, entry: Entry) -> int:
        return len(entry.body) + len(key[-1])

    def _drop(self, key: CacheKey) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= self._size(key, entry)

    def _keep(self, key: CacheKey, entry: Entry) -> None:
        size = self._size(key, entry)
        if size > self.max_bytes // 16:
            return
        self._drop(key)
        self._entries[key] = entry
        self._bytes += size
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        feed = self.feed
        digest = credentials_of(scope).digest if scope["type"] == "http" else None
        if (
            feed is None
            or self.max_bytes <= 0
            or digest is None
            or scope["method"] != "POST"
            or scope["path"] != self.path
        ):
            await self.app(scope, receive, send)
            return
        feed.start()
        body, messages = await _read_body(receive)
        key = self._key(digest, scope, body)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            if await feed.is_current(entry.stamp):
                record_cache_lookup(hit=True)
                await send(entry.start)
                await send({"type": "http.response.body", "body": entry.body})
                return
            # Others may have dropped or replaced it while this one awaited the barrier.
            if feed.connected and self._entries.get(key) is entry:
                self._drop(key)

        record_cache_lookup(hit=False)
        ticket = Ticket(feed.position())
        scope.setdefault("state", {})[STATE_KEY] = ticket
        sent: list[Message] = []

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        async def send_and_keep(message: Message) -> None:
            sent.append(message)
            await send(message)

        await self.app(scope, replay, send_and_keep)
        self._consider(key, ticket, sent)

    def _consider(self, key: CacheKey, ticket: Ticket, sent: list[Message]) -> None:
        """Keep the answer if it may be reused: a successful registry-only query whose
        reads no counted change can have overtaken."""
        feed = self.feed
        assert feed is not None
        if not (
            ticket.cacheable
            and ticket.workspace_id is not None
            and len(sent) == 2
            and sent[0]["type"] == "http.response.start"
            and sent[0]["status"] == 200
            and not sent[1].get("more_body", False)
        ):
            return
        stamp = feed.stamp(ticket.since, ticket.workspace_id)
        if stamp is not None:
            self._keep(key, Entry(stamp, dict(sent[0]), sent[1].get("body", b"")))
