"""Traces (one outcome per client-chosen trace id) and usages (trace T, span S used version V)."""

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, UniqueConstraint, Uuid, text
from sqlmodel import Field, SQLModel

from promptgraph.models.types import UTCDateTime, name_string, utcnow

# A usage without a span has a NULL span id, which no client value can equal (the zero UUID
# is a span like any other). SQL treats NULLs as distinct, so the unique key on (version,
# trace, span) covers the usages with a span, and a partial unique index on (version, trace)
# those without one.
NO_SPAN_WHERE = text("span_id IS NULL")


class Trace(SQLModel, table=True):
    __tablename__ = "trace"
    __table_args__ = (
        UniqueConstraint("workspace_id", "trace_id", name="uq_trace_workspace_trace"),
        CheckConstraint("status IN ('SUCCESS', 'ERROR')", name="status"),
        # Metrics fetch the traces of a set of usages by an array of trace ids, one probe per
        # id; with the outcome in the index (PostgreSQL) the table itself is not read.
        Index(
            "ix_trace_outcome",
            "trace_id",
            postgresql_include=["workspace_id", "status", "cost_usd", "latency_ms", "started_at"],
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(
        sa_column_args=[ForeignKey("workspace.id", ondelete="CASCADE")], nullable=False
    )
    trace_id: uuid.UUID = Field(sa_type=Uuid, nullable=False)
    status: str | None = Field(default=None, sa_type=name_string(8), nullable=True)
    cost_usd: float | None = Field(default=None, sa_type=Float, nullable=True)
    latency_ms: float | None = Field(default=None, sa_type=Float, nullable=True)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Usage(SQLModel, table=True):
    __tablename__ = "usage"
    __table_args__ = (
        UniqueConstraint("version_id", "trace_id", "span_id", name="uq_usage_version_trace_span"),
        Index(
            "uq_usage_version_trace_no_span",
            "version_id",
            "trace_id",
            unique=True,
            sqlite_where=NO_SPAN_WHERE,
            postgresql_where=NO_SPAN_WHERE,
        ),
        Index("ix_usage_workspace_trace", "workspace_id", "trace_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(
        sa_column_args=[ForeignKey("workspace.id", ondelete="CASCADE")], nullable=False
    )
    version_id: int = Field(
        sa_column_args=[ForeignKey("prompt_version.id", ondelete="CASCADE")], nullable=False
    )
    trace_id: uuid.UUID = Field(sa_type=Uuid, nullable=False)
    span_id: uuid.UUID | None = Field(default=None, sa_type=Uuid, nullable=True)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
