"""Demo data, so a new user sees prompts, labels and analytics in GraphiQL at once.

Deterministic (fixed seed, fixed trace ids) and safe to run again: versions are saved with
explicit numbers (identical content adds nothing) and usages and traces are idempotent.
"""

import math
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta

from promptgraph.db import Database
from promptgraph.models import utcnow
from promptgraph.services import registry, usage
from promptgraph.services.auth import Principal, Role, ensure_user

WORKSPACE = "demo"
SEED = 20241115


@dataclass(frozen=True)
class DemoVersion:
    content: registry.VersionContent
    success_rate: float
    median_latency_ms: float
    mean_cost_usd: float
    share: float  # of the traces


def _text(template: str, description: str, tags: list[str]) -> registry.VersionContent:
    return registry.VersionContent(
        template_text=template,
        description=description,
        tags=tags,
        model_config={
            "provider": "openai",
            "model": "gpt-4o-mini",
            "parameters": {"temperature": 0},
        },
    )


def _chat(system: str, description: str, tags: list[str]) -> registry.VersionContent:
    return registry.VersionContent(
        messages=[
            {"role": "system", "content": system, "name": None},
            {"role": "user", "content": "{{ question }}", "name": None},
        ],
        description=description,
        tags=tags,
        model_config={"provider": "anthropic", "model": "claude-haiku", "parameters": {}},
        metadata={"owner": "support-team"},
    )


PROMPTS: dict[str, tuple[list[DemoVersion], dict[str, int]]] = {
    "classify-intent": (
        [
            DemoVersion(
                _text("Classify the intent of: {{ message }}", "first cut", ["intent"]),
                0.78,
                900,
                0.0021,
                0.2,
            ),
            DemoVersion(
                _text(
                    "Classify the user's intent as one of {{ intents }}.\n\nMessage: {{ message }}",
                    "closed label set",
                    ["intent", "stable"],
                ),
                0.87,
                820,
                0.0024,
                0.5,
            ),
            DemoVersion(
                _text(
                    "You are a precise classifier. Intents: {{ intents }}.\n"
                    "Answer with the intent only.\n\nMessage: {{ message }}",
                    "terse answers",
                    ["intent", "experiment"],
                ),
                0.91,
                610,
                0.0019,
                0.3,
            ),
        ],
        {"production": 2, "staging": 3},
    ),
    "support-reply": (
        [
            DemoVersion(
                _chat("You are a support agent for {{ product }}.", "baseline", ["support"]),
                0.72,
                2400,
                0.011,
                0.3,
            ),
            DemoVersion(
                _chat(
                    "You are a friendly support agent for {{ product }}. Cite the help "
                    "centre when you can.",
                    "cite sources",
                    ["support", "stable"],
                ),
                0.84,
                2700,
                0.013,
                0.7,
            ),
        ],
        {"production": 2},
    ),
    "summarize-ticket": (
        [
            DemoVersion(
                _text(
                    "Summarize this ticket in one sentence: {{ ticket }}", "one line", ["summaries"]
                ),
                0.93,
                1300,
                0.004,
                1.0,
            ),
        ],
        {"production": 1},
    ),
}


async def seed(db: Database, traces: int) -> dict[str, int]:
    """Fill workspace `demo`; returns how many prompts, versions and traces it holds."""
    workspace_id, user_id = await ensure_user(db, WORKSPACE, "demo")
    principal = Principal(user_id, "demo", workspace_id, WORKSPACE, Role.ADMIN)
    rng = random.Random(SEED)
    now = utcnow()
    usages: list[usage.UsageRecord] = []
    outcomes: list[usage.TraceOutcome] = []
    versions = 0
    for name, (demo_versions, labels) in PROMPTS.items():
        for number, demo in enumerate(demo_versions, start=1):
            await registry.save_version(
                db, principal, name, demo.content, version=number, auto_increment=False
            )
            versions += 1
            share = round(traces * demo.share / len(PROMPTS))
            for index in range(share):
                trace_id = uuid.UUID(int=rng.getrandbits(128))
                usages.append(usage.UsageRecord(name, number, trace_id))
                outcomes.append(
                    usage.TraceOutcome(
                        trace_id=trace_id,
                        status="SUCCESS" if rng.random() < demo.success_rate else "ERROR",
                        cost_usd=round(rng.gammavariate(4, demo.mean_cost_usd / 4), 6),
                        latency_ms=round(
                            rng.lognormvariate(math.log(demo.median_latency_ms), 0.45), 1
                        ),
                        started_at=now - timedelta(minutes=rng.randrange(14 * 24 * 60)),
                    )
                    if index % 25
                    else usage.TraceOutcome(trace_id=trace_id)  # some traces never report back
                )
        for label, number in labels.items():
            await registry.set_label(db, principal, name, label, number)
    for start in range(0, len(usages), usage.MAX_TRACES_PER_CALL):
        await usage.record_usages(
            db,
            principal,
            usages[start : start + usage.MAX_TRACES_PER_CALL],
            outcomes[start : start + usage.MAX_TRACES_PER_CALL],
        )
    return {"prompts": len(PROMPTS), "versions": versions, "traces": len(usages)}
