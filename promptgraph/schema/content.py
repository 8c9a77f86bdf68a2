"""Inputs that change part of a version's content."""

from typing import Any

import strawberry
from strawberry.scalars import JSON

from promptgraph.schema.types import ModelConfigInput
from promptgraph.services.content import NOT_GIVEN, ContentUpdate


def _given(value: Any) -> Any:
    """Strawberry's UNSET (left out of the input) as the service's NOT_GIVEN; null stays None."""
    return NOT_GIVEN if value is strawberry.UNSET else value


@strawberry.input
class UpdatePromptVersionInput:
    """Fields left out stay as stored; a field given as null is cleared."""

    name: str
    version: int
    description: str | None = strawberry.UNSET
    model_config: ModelConfigInput | None = strawberry.UNSET
    tools: JSON | None = strawberry.UNSET
    response_format: JSON | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET
    models: list[str] | None = strawberry.UNSET

    def update(self) -> ContentUpdate:
        config = self.model_config
        return ContentUpdate(
            description=_given(self.description),
            model_config=_given(
                config if config is strawberry.UNSET else ModelConfigInput.value(config)
            ),
            tools=_given(self.tools),
            response_format=_given(self.response_format),
            metadata=_given(self.metadata),
            models=_given(self.models),
        )
