"""Recording which version each trace used, and how each trace went."""

import functools
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Select, bindparam, func, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from promptgraph.db import Database, insert_for
from promptgraph.models import PromptAlias, PromptVersion, Trace, Usage, utcnow
from promptgraph.services import names, validation
from promptgraph.services.auth import Principal, Role
from promptgraph.services.errors import (
    ApiError,
    BadUserInput,
    NotFound,
    raise_for_integrity_error,
)
from promptgraph.telemetry import USAGES_RECORDED

MAX_TRACES_PER_CALL = 1000
MAX_USAGES_PER_CALL = 1000
OUTCOME_FIELDS = ("status", "cost_usd", "latency_ms", "started_at")
# Generous bounds (a million dollars, a year) that keep sums over any number of traces
# finite, so averages never overflow.
OUTCOME_MAXIMA = {"cost_usd": 1e6, "latency_ms": 365 * 24 * 3600 * 1000.0}


@dataclass(frozen=True)
class TraceOutcome:
    """None means "not given": the stored value of that field stays."""

    trace_id: uuid.UUID
    status: str | None = None
    cost_usd: float | None = None
    latency_ms: float | None = None
    started_at: datetime | None = None

    def validate(self) -> "TraceOutcome":
        if self.status not in (None, "SUCCESS", "ERROR"):
            raise BadUserInput("status must be SUCCESS or ERROR", field="status")
        for name, maximum in OUTCOME_MAXIMA.items():
            value = getattr(self, name)
            if value is not None and not 0 <= value <= maximum:
                raise BadUserInput(f"{name} must be between 0 and {maximum:g}", field=name)
        return self

    def given(self) -> dict[str, Any]:
        return {
            name: getattr(self, name) for name in OUTCOME_FIELDS if getattr(self, name) is not None
        }


def _merge(outcomes: Sequence[TraceOutcome]) -> list[dict[str, Any]]:
    """One row per trace id, later outcomes winning field by field (one upsert may not touch a
    row twice)."""
    merged: dict[uuid.UUID, dict[str, Any]] = {}
    for outcome in outcomes:
        merged.setdefault(outcome.trace_id, {}).update(outcome.given())
    return [{"trace_id": trace_id, **fields} for trace_id, fields in merged.items()]


async def _upsert_outcomes(
    connection: AsyncConnection, workspace_id: int, outcomes: Sequence[TraceOutcome]
) -> None:
    now = utcnow()
    rows = [
        {
            "workspace_id": workspace_id,
            "updated_at": now,
            **{f: None for f in OUTCOME_FIELDS},
            **row,
        }
        for row in _merge(outcomes)
    ]
    if rows:
        await connection.execute(_statements(connection.dialect.name).upsert_outcomes, rows)


@dataclass(frozen=True)
class UsageRecord:
    """Trace `trace_id` (span `span_id`, if any) used version `version` of prompt `prompt_name`."""

    prompt_name: str
    version: int
    trace_id: uuid.UUID
    span_id: uuid.UUID | None = None


async def _find_version_ids(
    connection: AsyncConnection, principal: Principal, usages: Sequence[UsageRecord]
) -> dict[tuple[str, int], int]:
    """Version id of each (prompt name or alias, version) that exists; one statement."""
    wanted = {(usage.prompt_name, usage.version) for usage in usages}
    if not wanted:
        return {}
    rows = await connection.execute(
        _statements(connection.dialect.name).version_ids,
        {"workspace_id": principal.workspace_id, "wanted": sorted(wanted)},
    )
    return {(name, version): version_id for name, version, version_id in rows}


def _not_found(usage: UsageRecord) -> NotFound:
    return NotFound(f"version {usage.version} of prompt {usage.prompt_name!r} not found")


def _validate_usage(usage: UsageRecord) -> None:
    validation.prompt_name(usage.prompt_name, field="promptName")
    validation.version_number(usage.version, field="promptVersion")


async def _insert_usages(
    connection: AsyncConnection,
    principal: Principal,
    usages: Sequence[UsageRecord],
    version_ids: dict[tuple[str, int], int],
) -> None:
    now = utcnow()
    rows = [
        {
            "workspace_id": principal.workspace_id,
            "version_id": version_ids[(usage.prompt_name, usage.version)],
            "trace_id": usage.trace_id,
            "span_id": usage.span_id,
            "recorded_at": now,
        }
        for usage in usages
    ]
    if rows:
        await connection.execute(_statements(connection.dialect.name).insert_usages, rows)


@dataclass(frozen=True)
class _Statements:
    version_ids: Select[tuple[str, int, int]]
    insert_usages: Insert
    upsert_outcomes: Insert


@functools.cache
def _statements(dialect: str) -> _Statements:
    """Built once: on this hot path, building a statement and computing its cache key cost
    more than running it. Every statement has one shape whatever the rows, so many rows go
    as one batch."""
    insert = insert_for(dialect)
    upsert = insert(Trace)
    return _Statements(
        version_ids=names.versions_by_name().where(
            PromptAlias.workspace_id == bindparam("workspace_id"),
            tuple_(PromptAlias.name, PromptVersion.version).in_(
                bindparam("wanted", expanding=True)
            ),
        ),
        insert_usages=insert(Usage).on_conflict_do_nothing(),
        upsert_outcomes=upsert.on_conflict_do_update(
            index_elements=[Trace.workspace_id, Trace.trace_id],
            set_={
                **{f: func.coalesce(upsert.excluded[f], getattr(Trace, f)) for f in OUTCOME_FIELDS},
                "updated_at": upsert.excluded.updated_at,
            },
        ),
    )


async def record_usages(
    db: Database,
    principal: Principal,
    usages: Sequence[UsageRecord],
    outcomes: Sequence[TraceOutcome] = (),
) -> None:
    """Idempotent on (version, trace, span): a usage keeps the time it was first recorded.
    All or nothing: one unknown version and nothing is recorded."""
    principal.require(Role.EDITOR)
    for usage in usages:
        _validate_usage(usage)
    for outcome in outcomes:
        outcome.validate()
    async with _usage_transaction(db) as connection:
        version_ids = await _find_version_ids(connection, principal, usages)
        for usage in usages:
            if (usage.prompt_name, usage.version) not in version_ids:
                raise _not_found(usage)
        await _insert_usages(connection, principal, usages, version_ids)
        await _upsert_outcomes(connection, principal.workspace_id, outcomes)
    USAGES_RECORDED.inc(len(usages))


@asynccontextmanager
async def _usage_transaction(db: Database) -> AsyncIterator[AsyncConnection]:
    """Core, not the ORM: these are plain rows, and this is the hot write path. A version
    deleted between finding it and linking to it is NOT_FOUND (services/errors.py)."""
    try:
        async with db.write() as session:
            yield await session.connection()
    except IntegrityError as error:
        raise_for_integrity_error(error)


async def record_usage(
    db: Database, principal: Principal, usage: UsageRecord, outcome: TraceOutcome | None
) -> None:
    await record_usages(db, principal, [usage], [] if outcome is None else [outcome])


async def record_traces(db: Database, principal: Principal, outcomes: list[TraceOutcome]) -> int:
    if len(outcomes) > MAX_TRACES_PER_CALL:
        raise BadUserInput(
            f"at most {MAX_TRACES_PER_CALL} traces per call, got {len(outcomes)}", field="traces"
        )
    await record_usages(db, principal, [], outcomes)
    return len(outcomes)


@dataclass(frozen=True)
class RejectedUsage:
    index: int
    code: str
    message: str


@dataclass(frozen=True)
class UsageBatchResult:
    recorded: int
    rejected: list[RejectedUsage]


async def record_usage_batch(
    db: Database,
    principal: Principal,
    items: Sequence[tuple[UsageRecord, TraceOutcome | None]],
) -> UsageBatchResult:
    """Each item exactly as `record_usage`, but an invalid item does not stop the others: it
    is reported with its index, and the valid ones are recorded (each idempotent). Agents
    flush buffers of usages; one stale version must not make them drop or resend the rest.
    A constant number of statements whatever the number of items."""
    principal.require(Role.EDITOR)
    if len(items) > MAX_USAGES_PER_CALL:
        raise BadUserInput(
            f"at most {MAX_USAGES_PER_CALL} usages per call, got {len(items)}", field="usages"
        )
    rejected: dict[int, RejectedUsage] = {}
    valid: list[tuple[int, UsageRecord, TraceOutcome | None]] = []
    for index, (usage, outcome) in enumerate(items):
        try:
            _validate_usage(usage)
            if outcome is not None:
                outcome.validate()
        except ApiError as error:
            rejected[index] = RejectedUsage(index, error.code, error.message)
        else:
            valid.append((index, usage, outcome))
    try:
        found, missing = await _record_found(db, principal, valid)
    except NotFound:
        # A version was deleted between finding it and linking to it: once more, and it is
        # then rejected like any missing one.
        found, missing = await _record_found(db, principal, valid)
    for index, usage in missing:
        error = _not_found(usage)
        rejected[index] = RejectedUsage(index, error.code, error.message)
    return UsageBatchResult(found, [rejected[index] for index in sorted(rejected)])


async def _record_found(
    db: Database,
    principal: Principal,
    items: Sequence[tuple[int, UsageRecord, TraceOutcome | None]],
) -> tuple[int, list[tuple[int, UsageRecord]]]:
    """Records the items whose version exists: how many, and the (index, usage) of the others."""
    async with _usage_transaction(db) as connection:
        version_ids = await _find_version_ids(connection, principal, [u for _, u, _ in items])
        found = [item for item in items if (item[1].prompt_name, item[1].version) in version_ids]
        await _insert_usages(connection, principal, [u for _, u, _ in found], version_ids)
        await _upsert_outcomes(
            connection, principal.workspace_id, [o for _, _, o in found if o is not None]
        )
    missing = [(i, u) for i, u, _ in items if (u.prompt_name, u.version) not in version_ids]
    return len(found), missing
