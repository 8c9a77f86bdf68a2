"""Errors a client can cause, each with its contract code, and the one place that maps
database constraint violations to them."""

from typing import Any, NoReturn

from graphql import GraphQLError
from sqlalchemy.exc import IntegrityError


class ApiError(GraphQLError):
    """An error the client caused; `code` goes to `extensions.code`."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": self.code, **extensions})


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"


class Forbidden(ApiError):
    code = "FORBIDDEN"


class NotFound(ApiError):
    code = "NOT_FOUND"


class Conflict(ApiError):
    code = "CONFLICT"


class BadUserInput(ApiError):
    code = "BAD_USER_INPUT"


class StoreUnavailable(ApiError):
    """Not the client's fault, so INTERNAL_SERVER_ERROR, but worth telling: retry shortly."""

    code = "INTERNAL_SERVER_ERROR"
    MESSAGE = "the store is unavailable; retry shortly"

    def __init__(self, request_id: str | None = None) -> None:
        extra = {} if request_id is None else {"requestId": request_id}
        super().__init__(self.MESSAGE, reason="STORE_UNAVAILABLE", **extra)


# Constraint name -> the error a client sees when its write breaks it.
_CONSTRAINT_ERRORS: dict[str, tuple[type[ApiError], str]] = {
    "uq_prompt_version_prompt_version": (Conflict, "this version of the prompt already exists"),
    "uq_integration_workspace_name": (Conflict, "an integration with this name already exists"),
    "uq_prompt_workspace_name": (Conflict, "a prompt with this name already exists"),
    "uq_prompt_alias_workspace_name": (
        Conflict,
        "this name is taken by another prompt, as its name or as an alias",
    ),
    # Only a version deleted while a usage was being linked to it (PostgreSQL).
    "fk_usage_version_id_prompt_version": (NotFound, "the version was deleted meanwhile"),
    "uq_prompt_label_prompt_name": (Conflict, "this label already exists on the prompt"),
    "uq_workspace_name": (Conflict, "a workspace with this name already exists"),
    "uq_app_user_workspace_name": (Conflict, "a user with this name already exists"),
    "ck_prompt_version_version_positive": (BadUserInput, "version must be >= 1"),
}


def _violated_constraint(error: IntegrityError) -> str | None:
    # asyncpg names the constraint; SQLite only names the columns, so match on those.
    original = getattr(error.orig, "__cause__", None) or error.orig
    name = getattr(original, "constraint_name", None)
    if name:
        return name
    message = str(error.orig)
    sqlite_columns = {
        "prompt_version.prompt_id, prompt_version.version": "uq_prompt_version_prompt_version",
        "integration.workspace_id, integration.name": "uq_integration_workspace_name",
        "prompt.workspace_id, prompt.name": "uq_prompt_workspace_name",
        "prompt_alias.workspace_id, prompt_alias.name": "uq_prompt_alias_workspace_name",
        "prompt_label.prompt_id, prompt_label.name": "uq_prompt_label_prompt_name",
        "workspace.name": "uq_workspace_name",
        "app_user.workspace_id, app_user.name": "uq_app_user_workspace_name",
        "ck_prompt_version_version_positive": "ck_prompt_version_version_positive",
    }
    return next((name for cols, name in sqlite_columns.items() if cols in message), None)


def raise_for_integrity_error(error: IntegrityError) -> NoReturn:
    """Re-raise a constraint violation as the client error it stands for, or as itself."""
    mapped = _CONSTRAINT_ERRORS.get(_violated_constraint(error) or "")
    if mapped is None:
        raise error
    error_class, message = mapped
    raise error_class(message) from error
