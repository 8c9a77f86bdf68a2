"""Recording which version each trace used, and how each trace went."""

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Select, bindparam, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from promptgraph.db import Database, insert_for
from promptgraph.models import Prompt, PromptVersion, Trace, Usage, utcnow
from promptgraph.services import validation
from promptgraph.services.auth import Principal, Role
from promptgraph.services.errors import BadUserInput, NotFound
from promptgraph.telemetry import USAGES_RECORDED

MAX_TRACES_PER_CALL = 1000
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


async def _version_ids(
    connection: AsyncConnection, principal: Principal, usages: Sequence[UsageRecord]
) -> dict[tuple[str, int], int]:
    wanted = {(usage.prompt_name, usage.version) for usage in usages}
    rows = await connection.execute(
        _statements(connection.dialect.name).version_ids,
        {"workspace_id": principal.workspace_id, "wanted": sorted(wanted)},
    )
    found = {(name, version): version_id for name, version, version_id in rows}
    for name, version in sorted(wanted - found.keys()):
        raise NotFound(f"version {version} of prompt {name!r} not found")
    return found


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
        version_ids=select(Prompt.name, PromptVersion.version, PromptVersion.id)
        .join(Prompt, Prompt.id == PromptVersion.prompt_id)
        .where(
            Prompt.workspace_id == bindparam("workspace_id"),
            tuple_(Prompt.name, PromptVersion.version).in_(bindparam("wanted", expanding=True)),
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
        validation.prompt_name(usage.prompt_name, field="promptName")
        validation.version_number(usage.version, field="promptVersion")
    for outcome in outcomes:
        outcome.validate()
    async with db.write() as session:
        # Core, not the ORM: these are plain rows, and this is the hot write path.
        connection = await session.connection()
        version_ids = await _version_ids(connection, principal, usages) if usages else {}
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
            await connection.execute(_statements(db.dialect).insert_usages, rows)
        await _upsert_outcomes(connection, principal.workspace_id, outcomes)
    USAGES_RECORDED.inc(len(usages))


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
