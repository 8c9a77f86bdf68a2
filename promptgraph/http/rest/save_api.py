"""The create-or-update save API (seed 002): `POST /api/prompts/{name}` with the prompt text
as the raw body, which is savePromptVersion. The key may come in `X-Authorization` (raw or
`Bearer`) as well as in `Authorization`. Errors are `{status, message, retryable}`."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Security
from fastapi.security import APIKeyHeader, HTTPBearer
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from promptgraph.http.rest.common import (
    STATUSES,
    database_of,
    error_responses,
    principal_of,
    surface_route,
)
from promptgraph.services import content, registry
from promptgraph.services.auth import Credentials, Principal
from promptgraph.services.errors import BadUserInput

X_AUTHORIZATION = "x-authorization"
QUOTE = '"'


class SaveError(BaseModel):
    status: int
    message: str
    retryable: bool


class SaveErrors:
    statuses = STATUSES

    def render(self, status: int, code: str, message: str) -> Response:
        return JSONResponse(
            {"status": status, "message": message, "retryable": status >= 500},
            status_code=status,
        )


def _x_authorization(request: Request) -> Credentials | None:
    """`X-Authorization: <key>` or `X-Authorization: Bearer <key>`; None when absent."""
    values = request.headers.getlist(X_AUTHORIZATION)
    if not values:
        return None
    if len(values) > 1:
        raise BadUserInput("a request may carry one X-Authorization header, not several")
    value = values[0].strip()
    scheme, _, rest = value.partition(" ")
    return Credentials.from_authorization(
        value if scheme.lower() == "bearer" and rest.strip() else f"Bearer {value}"
    )


async def _principal(
    request: Request,
    _key: Annotated[object, Security(APIKeyHeader(name="X-Authorization", auto_error=False))],
    _bearer: Annotated[object, Security(HTTPBearer(auto_error=False))],
) -> Principal:
    return await principal_of(request, _x_authorization(request))


def prompt_text(body: bytes) -> str:
    """The raw body as text, one pair of enclosing quotation marks stripped."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadUserInput("the prompt text must be UTF-8") from error
    if len(text) >= 2 and text.startswith(QUOTE) and text.endswith(QUOTE):
        return text[1:-1]
    return text


def model_list(models: str | None) -> list[str] | None:
    """`integration:model` entries, comma-separated."""
    if models is None:
        return None
    return [model.strip() for model in models.split(",") if model.strip()]


router = APIRouter(
    prefix="/api/prompts", tags=["Save API"], route_class=surface_route(SaveErrors())
)


@router.post(
    "/{name}",
    status_code=200,
    response_class=Response,
    responses={
        200: {"description": "Saved; no body", "content": {}},
        **error_responses(SaveError, 400, 403, 404),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The prompt text, raw; enclosing quotation marks are stripped",
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "string"}},
            },
        }
    },
    summary="Create or update a prompt version",
)
async def save_prompt(
    name: str,
    request: Request,
    principal: Annotated[Principal, Depends(_principal)],
    description: Annotated[str, Query()],
    models: Annotated[
        str | None, Query(description="Comma-separated integrationName:modelName")
    ] = None,
    version: Annotated[int | None, Query(description="Ignored with autoIncrement=true")] = None,
    auto_increment: Annotated[bool, Query(alias="autoIncrement")] = False,
) -> Response:
    """savePromptVersion: autoIncrement takes latest + 1, else `version`, else 1."""
    await registry.save_version(
        database_of(request),
        principal,
        name,
        content.VersionContent(
            template_text=prompt_text(await request.body()),
            description=description,
            models=model_list(models),
        ),
        version=None if auto_increment else version,
        auto_increment=auto_increment,
    )
    return Response(status_code=200)
