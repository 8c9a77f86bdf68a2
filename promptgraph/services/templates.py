"""Jinja2 templates: which variables a version uses, and rendering in a sandbox."""

from collections.abc import Iterable
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from promptgraph.services.errors import BadUserInput

_environment = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def variables_of(sources: Iterable[str]) -> list[str]:
    """Sorted names of the variables the templates use; a syntax error is an input error."""
    names: set[str] = set()
    for source in sources:
        try:
            names |= meta.find_undeclared_variables(_environment.parse(source))
        except TemplateSyntaxError as error:
            raise BadUserInput(
                f"template syntax error on line {error.lineno}: {error.message}"
            ) from error
    return sorted(names)


def render(source: str, variables: dict[str, Any]) -> str:
    """Any failure of the template itself (undefined names, bad filters, unsafe access,
    runaway recursion, type errors in expressions) is the template author's input error."""
    try:
        return _environment.from_string(source).render(variables)
    except UndefinedError as error:
        raise BadUserInput(f"cannot render: {error.message}") from error
    except RecursionError as error:
        raise BadUserInput("cannot render: the template recurses too deeply") from error
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as error:
        raise BadUserInput(f"cannot render: {error}") from error


def require_variables(used: list[str], given: dict[str, Any]) -> None:
    missing = [name for name in used if name not in given]
    if missing:
        raise BadUserInput(
            f"missing template variable{'s' if len(missing) > 1 else ''}: {', '.join(missing)}",
            missing=missing,
        )
