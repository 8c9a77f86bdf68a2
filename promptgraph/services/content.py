"""The content of a version: how a client's input becomes it, and how it is kept when replaced.

Content is every field a client writes about a version except tags and labels (contract,
section 1). Overwrites, updates, revisions and the "nothing changed" test of a retry all walk
the one list `CONTENT_COLUMNS`, so no field can be forgotten by one of them: a forgotten field
is exactly how model settings and metadata used to be lost on an overwrite.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Final

from promptgraph.models import PromptRevision, PromptVersion
from promptgraph.services import templates, validation
from promptgraph.services.errors import BadUserInput

TEXT, CHAT = "TEXT", "CHAT"
MAX_MESSAGES = 100
MAX_CONTENT_LENGTH = 200_000
MAX_ROLE_LENGTH = 64
MAX_MODEL_LENGTH = 256
MAX_MODELS = 100

# The content columns of a version; a revision holds the same ones.
CONTENT_COLUMNS: Final = (
    "template_text",
    "messages",
    "description",
    "llm_config",
    "tools",
    "response_format",
    "meta",
    "models",
)


class NotGiven(Enum):
    """A field the client left out, which None cannot stand for: None clears a field."""

    NOT_GIVEN = "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven.NOT_GIVEN


def check_length(text: str, field: str) -> None:
    if len(text) > MAX_CONTENT_LENGTH:
        raise BadUserInput(f"{field} is longer than {MAX_CONTENT_LENGTH} characters", field=field)


def split_model(model: str) -> tuple[str, str]:
    """`integration:model`; only the first colon separates them."""
    validation.free_name(model, "models", validation.MAX_NAME_LENGTH + 1 + MAX_MODEL_LENGTH)
    integration, sep, name = model.partition(":")
    if not sep or not integration or not name:
        raise BadUserInput(f"model {model!r} must be written integration:model", field="models")
    return integration, name


def _message(message: dict[str, Any]) -> dict[str, Any]:
    """A message's content is free text (newlines, tabs, any script); its role and name
    name something, so they follow the rules of names."""
    role, content, name = message.get("role"), message.get("content"), message.get("name")
    if not isinstance(role, str):
        raise BadUserInput("each message needs a role", field="messages")
    validation.free_name(role, "messages.role", MAX_ROLE_LENGTH)
    if name is not None:
        validation.free_name(name, "messages.name")
    if not isinstance(content, str):
        raise BadUserInput("each message needs a string content", field="messages")
    check_length(content, "messages.content")
    return {"role": role, "content": content, "name": name}


# Each setting's stored form of a given value; None is the client's "empty", and each
# stores its own empty value (null, {} for metadata, [] for models).


def _description(value: str | None) -> str | None:
    if value is not None:
        check_length(value, "description")
    return value


def _model_config(config: dict[str, Any] | None) -> dict[str, Any] | None:
    if config is None:
        return None
    model, provider = config.get("model"), config.get("provider")
    if not isinstance(model, str):
        raise BadUserInput("modelConfig.model must be a non-empty string", field="modelConfig")
    validation.free_name(model, "modelConfig.model", MAX_MODEL_LENGTH)
    if provider is not None:
        validation.free_name(provider, "modelConfig.provider")
    parameters = config.get("parameters")
    parameters = {} if parameters is None else validation.json_object(parameters, "parameters")
    return {"provider": provider, "model": model, "parameters": parameters}


def _tools(value: Any) -> Any:
    if value is not None:
        if not isinstance(value, list | dict):
            raise BadUserInput("tools must be a JSON array or object", field="tools")
        validation.json_value(value, "tools")
    return value


def _response_format(value: Any) -> Any:
    return None if value is None else validation.json_object(value, "responseFormat")


def _metadata(value: Any) -> dict[str, Any]:
    return {} if value is None else validation.json_object(value, "metadata")


def _models(value: list[str] | None) -> list[str]:
    models = sorted(set(value or []))
    if len(models) > MAX_MODELS:
        raise BadUserInput(f"at most {MAX_MODELS} models per version", field="models")
    for model in models:
        split_model(model)
    return models


@dataclass(frozen=True)
class _Setting:
    column: str
    graphql_name: str
    stored: Callable[[Any], Any]


# The content fields besides the template, by their name in VersionContent / ContentUpdate.
SETTINGS: Final = {
    "description": _Setting("description", "description", _description),
    "model_config": _Setting("llm_config", "modelConfig", _model_config),
    "tools": _Setting("tools", "tools", _tools),
    "response_format": _Setting("response_format", "responseFormat", _response_format),
    "metadata": _Setting("meta", "metadata", _metadata),
    "models": _Setting("models", "models", _models),
}


def _settings_columns(given: Mapping[str, Any]) -> dict[str, Any]:
    """The stored form of the given settings, by column."""
    return {SETTINGS[name].column: SETTINGS[name].stored(value) for name, value in given.items()}


@dataclass
class VersionContent:
    """A version's whole content as a client gives it to create or save. None means "not
    given", which stores the field empty (null, {} for metadata, [] for models): a save
    replaces the whole content, so what it leaves out does not survive from before."""

    template_text: str | None = None
    messages: list[dict[str, Any]] | None = None
    description: str | None = None
    model_config: dict[str, Any] | None = None
    tools: Any = None
    response_format: Any = None
    metadata: dict[str, Any] | None = None
    models: list[str] | None = None
    tags: list[str] | None = None
    type: str = field(init=False, default=TEXT)
    variables: list[str] = field(init=False, default_factory=list)
    columns: dict[str, Any] = field(init=False, default_factory=dict)

    def validate(self) -> "VersionContent":
        """Checks the input and fills `type`, `variables` and `columns` (the stored form)."""
        validation.one_of({"templateText": self.template_text, "messages": self.messages})
        if self.template_text is not None:
            self.type = TEXT
            check_length(self.template_text, "templateText")
            sources = [self.template_text]
        else:
            self.type = CHAT
            self.messages = [_message(m) for m in self.messages or []]
            if not 1 <= len(self.messages) <= MAX_MESSAGES:
                raise BadUserInput(f"messages must hold 1 to {MAX_MESSAGES} messages")
            sources = [m["content"] for m in self.messages]
        self.variables = templates.variables_of(sources)
        self.columns = {
            "template_text": self.template_text,
            "messages": self.messages,
            **_settings_columns({name: getattr(self, name) for name in SETTINGS}),
        }
        if self.tags is not None:
            self.tags = validation.tags(self.tags)
        return self


@dataclass(frozen=True)
class ContentUpdate:
    """Part of a version's content to change (updatePromptVersion): a field left NOT_GIVEN
    stays as stored, a field given replaces it, and None clears it."""

    description: str | NotGiven | None = NOT_GIVEN
    model_config: dict[str, Any] | NotGiven | None = NOT_GIVEN
    tools: Any = NOT_GIVEN
    response_format: Any = NOT_GIVEN
    metadata: dict[str, Any] | NotGiven | None = NOT_GIVEN
    models: list[str] | NotGiven | None = NOT_GIVEN

    def columns(self) -> dict[str, Any]:
        """The stored form of the fields given, by column; at least one must be given."""
        given = {
            name: value for name in SETTINGS if (value := getattr(self, name)) is not NOT_GIVEN
        }
        if not given:
            names = ", ".join(setting.graphql_name for setting in SETTINGS.values())
            raise BadUserInput(f"give at least one of {names}")
        return _settings_columns(given)


def stored_content(row: PromptVersion) -> dict[str, Any]:
    return {column: getattr(row, column) for column in CONTENT_COLUMNS}


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values. Python's == alone would take true for 1 (and a save changing
    one into the other for a retry); numbers compare by value, as a store may give 1e20
    back as 100000000000000000000."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[key], b[key]) for key in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same_json, a, b))
    return bool(a == b)


def replace_content(
    row: PromptVersion, columns: Mapping[str, Any], replaced_by: str, replaced_at: datetime
) -> PromptRevision | None:
    """Give the version the content in `columns` (the others stay) and return what it held
    before as a revision to keep; None when nothing changes, so a retried write adds no
    revision."""
    previous = stored_content(row)
    if all(same_json(value, previous[column]) for column, value in columns.items()):
        return None
    for column, value in columns.items():
        setattr(row, column, value)
    return PromptRevision(
        version_id=row.id, replaced_at=replaced_at, replaced_by=replaced_by, **previous
    )
