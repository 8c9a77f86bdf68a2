"""API keys and the principal a request acts as."""

import hashlib
import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update

from promptgraph import changes
from promptgraph.changes import Stamp
from promptgraph.db import Database
from promptgraph.models import ApiKey, User, Workspace, utcnow
from promptgraph.services import validation
from promptgraph.services.errors import Forbidden, NotFound, Unauthenticated

KEY_PREFIX = "pgk"


class Role(StrEnum):
    VIEWER = "VIEWER"
    EDITOR = "EDITOR"
    ADMIN = "ADMIN"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


@dataclass(frozen=True)
class Principal:
    user_id: int
    user: str
    workspace_id: int
    workspace: str
    role: Role

    def require(self, role: Role) -> None:
        if self.role.rank < role.rank:
            raise Forbidden(f"this needs the {role} role; this key has {self.role}")


@dataclass(frozen=True)
class KeyInfo:
    id: str
    workspace: str
    user: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Credentials:
    """The bearer token a request presents, read once from its one Authorization header,
    with the SHA-256 digest that caches key on, so that no cache holds a key itself."""

    token: str | None
    digest: str | None

    @classmethod
    def from_authorization(cls, value: str | None) -> "Credentials":
        """`Bearer <token>` (the scheme is case-insensitive); anything else carries none."""
        scheme, _, token = (value or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return NO_CREDENTIALS
        return cls(token, _sha256(token))


NO_CREDENTIALS = Credentials(None, None)


def _split_key(token: str) -> tuple[str, str] | None:
    prefix, _, rest = token.partition("_")
    public_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not public_id or not secret:
        return None
    return public_id, secret


async def authenticate(db: Database, token: str | None) -> Principal:
    """The principal of a live key. Unknown, malformed and revoked keys look the same."""
    parts = _split_key(token or "")
    if parts is None:
        raise Unauthenticated("a valid API key is required: Authorization: Bearer <key>")
    public_id, secret = parts
    async with db.read() as session:
        row = (
            await session.execute(
                select(ApiKey.secret_sha256, ApiKey.role, ApiKey.revoked_at, User, Workspace)
                .join(User, User.id == ApiKey.user_id)
                .join(Workspace, Workspace.id == ApiKey.workspace_id)
                .where(ApiKey.public_id == public_id)
            )
        ).first()
    if (
        row is None
        or row.revoked_at is not None
        or not hmac.compare_digest(row.secret_sha256, _sha256(secret))
    ):
        raise Unauthenticated("a valid API key is required: Authorization: Bearer <key>")
    return Principal(
        row.User.id, row.User.name, row.Workspace.id, row.Workspace.name, Role(row.role)
    )


@dataclass(frozen=True)
class _KnownKey:
    principal: Principal
    stamp: Stamp


class Authenticator:
    """`authenticate`, remembering the principals of keys seen lately for as long as their
    workspace is unchanged, which revoking a key is not (promptgraph/changes.py): a revoked
    key is refused from the moment its revocation is acknowledged, by every process."""

    def __init__(self, db: Database, max_keys: int = 10_000) -> None:
        self.db = db
        self.max_keys = max_keys
        self._known: OrderedDict[str, _KnownKey] = OrderedDict()

    async def principal(self, credentials: Credentials) -> Principal:
        feed = self.db.changes
        token, digest = credentials.token, credentials.digest
        if feed is None or token is None or digest is None:
            return await authenticate(self.db, token)
        feed.start()
        # Looked up by digest, so the process does not hold on to keys themselves.
        known = self._known.get(digest)
        if known is not None:
            self._known.move_to_end(digest)
            if await feed.is_current(known.stamp):
                return known.principal
            # Others may have dropped it while this one awaited the barrier.
            self._known.pop(digest, None)
        since = feed.position()
        principal = await authenticate(self.db, token)
        stamp = feed.stamp(since, principal.workspace_id)
        if stamp is not None:
            self._known[digest] = _KnownKey(principal, stamp)
            if len(self._known) > self.max_keys:
                self._known.popitem(last=False)
        return principal


async def ensure_user(db: Database, workspace: str, user: str) -> tuple[int, int]:
    """Workspace and user ids, creating either if needed (safe under concurrency)."""
    async with db.write() as session:
        await session.execute(
            db.insert(Workspace)
            .values(name=workspace, created_at=utcnow())
            .on_conflict_do_nothing()
        )
        workspace_id = (
            await session.execute(select(Workspace.id).where(Workspace.name == workspace))
        ).scalar_one()
        await session.execute(
            db.insert(User)
            .values(workspace_id=workspace_id, name=user, created_at=utcnow())
            .on_conflict_do_nothing()
        )
        user_id = (
            await session.execute(
                select(User.id).where(User.workspace_id == workspace_id, User.name == user)
            )
        ).scalar_one()
    return workspace_id, user_id


async def create_key(db: Database, workspace: str, user: str, role: Role) -> tuple[KeyInfo, str]:
    """Creates the workspace and user if needed. The key itself is returned only here."""
    validation.workspace_name(workspace)
    validation.user_name(user)
    workspace_id, user_id = await ensure_user(db, workspace, user)
    public_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    row = ApiKey(
        public_id=public_id,
        secret_sha256=_sha256(secret),
        user_id=user_id,
        workspace_id=workspace_id,
        role=role.value,
    )
    async with db.write() as session:
        session.add(row)
    info = KeyInfo(public_id, workspace, user, role, row.created_at, None)
    return info, f"{KEY_PREFIX}_{public_id}_{secret}"


async def list_keys(db: Database) -> list[KeyInfo]:
    async with db.read() as session:
        rows = await session.execute(
            select(ApiKey, User.name, Workspace.name)
            .join(User, User.id == ApiKey.user_id)
            .join(Workspace, Workspace.id == ApiKey.workspace_id)
            .order_by(Workspace.name, User.name, ApiKey.created_at)
        )
        return [
            KeyInfo(key.public_id, workspace, user, Role(key.role), key.created_at, key.revoked_at)
            for key, user, workspace in rows
        ]


async def revoke_key(db: Database, key_id: str) -> None:
    """Revoking an already revoked key is a no-op; an unknown id is NOT_FOUND."""
    async with db.write() as session:
        found = (
            await session.execute(
                select(ApiKey.id, ApiKey.workspace_id).where(ApiKey.public_id == key_id)
            )
        ).first()
        if found is None:
            raise NotFound(f"no API key with id {key_id!r}")
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == found.id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        # Answers cached for this key must not outlive it.
        await changes.announce(session, found.workspace_id)
