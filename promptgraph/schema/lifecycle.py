"""GraphQL types of the prompt lifecycle: deletions and batches of usages."""

import strawberry

from promptgraph.services.usage import UsageBatchResult


@strawberry.type
class DeletePromptPayload:
    name: str
    versions_deleted: int


@strawberry.type
class RejectedUsage:
    index: int
    code: str
    message: str


@strawberry.type
class RecordUsagesPayload:
    recorded: int
    rejected: list[RejectedUsage] = strawberry.field(description="In the order of the input.")

    @classmethod
    def of(cls, result: UsageBatchResult) -> "RecordUsagesPayload":
        return cls(
            recorded=result.recorded,
            rejected=[
                RejectedUsage(index=r.index, code=r.code, message=r.message)
                for r in result.rejected
            ],
        )
