"""Side-by-side metrics of a prompt's versions, each tested against a baseline version."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from promptgraph.db import Database
from promptgraph.models import PromptLabel, PromptVersion
from promptgraph.services import validation
from promptgraph.services.auth import Principal
from promptgraph.services.catalog import find_prompt
from promptgraph.services.errors import NotFound
from promptgraph.services.metrics import (
    Metrics,
    Window,
    metrics_of_versions,
    two_proportion_p_value,
)

BASELINE_LABEL = "production"


@dataclass(frozen=True)
class VersionComparison:
    version: int
    template_text: str | None
    messages: list[dict[str, Any]] | None
    metrics: Metrics
    success_rate_p_value: float | None
    is_baseline: bool


@dataclass(frozen=True)
class PromptComparison:
    name: str
    baseline_version: int | None
    versions: list[VersionComparison]  # newest first


def _default_baseline(versions: list[PromptVersion], production: int | None) -> int | None:
    """The version labelled production, else the latest (highest active) version."""
    if production is not None:
        return production
    return next((row.version for row in versions if row.is_active), None)


async def compare_versions(
    db: Database, principal: Principal, name: str, window: Window, baseline: int | None
) -> PromptComparison:
    prompt = await find_prompt(db, principal, name=name, fqn=None)
    if prompt is None:
        raise NotFound(f"prompt {name!r} not found")
    async with db.read() as session:
        versions = list(
            (
                await session.execute(
                    select(PromptVersion)
                    .where(PromptVersion.prompt_id == prompt.id)
                    .order_by(PromptVersion.version.desc())
                )
            ).scalars()
        )
        production = (
            await session.execute(
                select(PromptVersion.version)
                .join(PromptLabel, PromptLabel.version_id == PromptVersion.id)
                .where(PromptLabel.prompt_id == prompt.id, PromptLabel.name == BASELINE_LABEL)
            )
        ).scalar_one_or_none()
    if baseline is not None:
        validation.version_number(baseline, field="baseline")
        if baseline not in {row.version for row in versions}:
            raise NotFound(f"version {baseline} of prompt {name!r} not found")
    else:
        baseline = _default_baseline(versions, production)
    metrics = await metrics_of_versions(db, {row.id for row in versions}, window)
    base = metrics.get(next((r.id for r in versions if r.version == baseline), -1), Metrics())
    compared = []
    for row in versions:
        own = metrics.get(row.id, Metrics())
        is_baseline = row.version == baseline
        p_value = (
            None
            if is_baseline
            else two_proportion_p_value(
                own.successes, own.with_status, base.successes, base.with_status
            )
        )
        compared.append(
            VersionComparison(
                row.version, row.template_text, row.messages, own, p_value, is_baseline
            )
        )
    return PromptComparison(prompt.name, baseline, compared)
