"""Recording which version each trace used, and how each trace went."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from promptgraph.db import Database
from promptgraph.models import Prompt, PromptVersion, Trace, Usage, utcnow
from promptgraph.models.analytics import NO_SPAN
from promptgraph.services import validation
from promptgraph.services.auth import Principal, Role
from promptgraph.services.errors import BadUserInput, NotFound

MAX_TRACES_PER_CALL = 1000
OUTCOME_FIELDS = ("status", "cost_usd", "latency_ms", "started_at")


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
        for name in ("cost_usd", "latency_ms"):
            value = getattr(self, name)
            if value is not None and not (value >= 0 and value != float("inf")):
                raise BadUserInput(f"{name} must be a finite number >= 0", field=name)
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
    db: Database, session: Any, workspace_id: int, outcomes: Sequence[TraceOutcome]
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
    if not rows:
        return
    statement = db.insert(Trace).values(rows)
    excluded = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Trace.workspace_id, Trace.trace_id],
            set_={
                **{f: func.coalesce(excluded[f], getattr(Trace, f)) for f in OUTCOME_FIELDS},
                "updated_at": excluded.updated_at,
            },
        )
    )


async def record_usage(
    db: Database,
    principal: Principal,
    *,
    prompt_name: str,
    version: int,
    trace_id: uuid.UUID,
    span_id: uuid.UUID | None,
    outcome: TraceOutcome | None,
) -> None:
    """Idempotent on (version, trace, span); the usage keeps the time it was first recorded."""
    principal.require(Role.EDITOR)
    validation.prompt_name(prompt_name, field="promptName")
    validation.version_number(version, field="promptVersion")
    if outcome is not None:
        outcome.validate()
    async with db.write() as session:
        version_id = (
            await session.execute(
                select(PromptVersion.id)
                .join(Prompt, Prompt.id == PromptVersion.prompt_id)
                .where(
                    Prompt.workspace_id == principal.workspace_id,
                    Prompt.name == prompt_name,
                    PromptVersion.version == version,
                )
            )
        ).scalar_one_or_none()
        if version_id is None:
            raise NotFound(f"version {version} of prompt {prompt_name!r} not found")
        await session.execute(
            db.insert(Usage)
            .values(
                workspace_id=principal.workspace_id,
                version_id=version_id,
                trace_id=trace_id,
                span_id=span_id or NO_SPAN,
                recorded_at=utcnow(),
            )
            .on_conflict_do_nothing()
        )
        if outcome is not None:
            await _upsert_outcomes(db, session, principal.workspace_id, [outcome])


async def record_traces(db: Database, principal: Principal, outcomes: list[TraceOutcome]) -> int:
    principal.require(Role.EDITOR)
    if len(outcomes) > MAX_TRACES_PER_CALL:
        raise BadUserInput(
            f"at most {MAX_TRACES_PER_CALL} traces per call, got {len(outcomes)}", field="traces"
        )
    for outcome in outcomes:
        outcome.validate()
    async with db.write() as session:
        await _upsert_outcomes(db, session, principal.workspace_id, outcomes)
    return len(outcomes)
