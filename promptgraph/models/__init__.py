from promptgraph.models.analytics import Trace, Usage
from promptgraph.models.tables import (
    ApiKey,
    Integration,
    Prompt,
    PromptAlias,
    PromptLabel,
    PromptRevision,
    PromptVersion,
    User,
    VersionTag,
    Workspace,
)
from promptgraph.models.types import utcnow

metadata = Prompt.metadata

__all__ = [
    "ApiKey",
    "Integration",
    "Prompt",
    "PromptAlias",
    "PromptLabel",
    "PromptRevision",
    "PromptVersion",
    "Trace",
    "Usage",
    "User",
    "VersionTag",
    "Workspace",
    "metadata",
    "utcnow",
]
