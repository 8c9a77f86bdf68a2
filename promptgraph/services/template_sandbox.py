"""The sandbox a render worker runs templates in: the first two layers of the bounds that
`promptgraph.services.templates` describes. It imports only Jinja2 and the standard library,
so a worker starts quickly."""

import math
import resource
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache, wraps
from multiprocessing.connection import Connection
from typing import Any

from jinja2 import StrictUndefined, TemplateError, UndefinedError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_OUTPUT = 1_000_000  # characters of one render (all of a chat prompt's messages together)
MAX_WORK = 250_000  # loop iterations, calls, filters, operators and output chunks of one render
MAX_INTEGER_BITS = 100_000  # about 30,000 digits
SECONDS = 1.6  # the worker's own deadline; the server kills it a little later
WORKER_MEMORY_BYTES = 512 * 1024 * 1024  # address space above what the worker needs at rest
_COUNTED = "_promptgraph_counted"


class RenderRefused(Exception):
    """The template crossed a bound; the message says which."""


class _Budget(threading.local):
    """The current render's work and deadline (one render at a time per worker thread)."""

    steps = 0
    ends_at = math.inf

    def start(self) -> None:
        self.steps, self.ends_at = 0, time.monotonic() + SECONDS

    def spend(self, steps: int = 1) -> None:
        self.steps += steps
        if self.steps > MAX_WORK:
            raise RenderRefused(f"the template does more than {MAX_WORK:,} steps of work")
        if self.steps % 1024 == 0 and time.monotonic() > self.ends_at:
            raise RenderRefused(f"the template takes longer than {SECONDS:g} s")


_budget = _Budget()


def _bounded(value: Any) -> Any:
    """A produced value, refused when longer than any render may output."""
    if isinstance(value, str | list | tuple | dict) and len(value) > MAX_OUTPUT:
        raise RenderRefused(
            f"the template produces a value of {len(value):,} items, over {MAX_OUTPUT:,}"
        )
    return value


def _counted(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        _budget.spend()
        yield item


def _size_of_product(left: Any, right: Any) -> int:
    """Characters, items or bits that `left * right` would hold."""
    if isinstance(left, int) and isinstance(right, str | list | tuple):
        left, right = right, left
    if isinstance(left, str | list | tuple) and isinstance(right, int):
        return len(left) * max(right, 0)
    if isinstance(left, int) and isinstance(right, int):
        return (left.bit_length() + right.bit_length()) * MAX_OUTPUT // MAX_INTEGER_BITS
    return 0


def _bits_of_power(base: Any, exponent: Any) -> int:
    if not (isinstance(base, int) and isinstance(exponent, int)) or exponent <= 0:
        return 0
    return exponent * abs(base).bit_length() if abs(base) > 1 else 0


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles `a ~ b` so that the joined string is checked against the output bound."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded(")
        super().visit_Concat(node, frame)
        self.write(")")


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"-", "+"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False)
        self.filters = {name: _bounded_filter(f) for name, f in self.filters.items()}
        self.filters[_COUNTED] = _counted

    @staticmethod
    def bounded(value: Any) -> Any:
        return _bounded(value)

    def concat(self, parts: Iterable[str]) -> str:  # the output of macros and `{% set %}` blocks
        return _bounded("".join(parts))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _budget.spend()
        if operator == "*" and _size_of_product(left, right) > MAX_OUTPUT:
            raise RenderRefused(f"`*` would produce more than {MAX_OUTPUT:,} characters")
        if operator == "**" and _bits_of_power(left, right) > MAX_INTEGER_BITS:
            raise RenderRefused(f"`**` would produce a number over {MAX_INTEGER_BITS:,} bits")
        return _bounded(super().call_binop(context, operator, left, right))

    def call_unop(self, context: Any, operator: str, arg: Any) -> Any:
        _budget.spend()
        return super().call_unop(context, operator, arg)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _budget.spend()
        return _bounded(super().call(__context, __obj, *args, **kwargs))


def _bounded_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(function)  # keeps `jinja_pass_arg`, which tells Jinja2 what to pass first
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _budget.spend()
        return _bounded(function(*args, **kwargs))

    return bounded


environment = _BoundedEnvironment()


@lru_cache(maxsize=64)
def _compile(source: str) -> Any:
    """The template, with each `for` loop's iterable counted step by step."""
    tree = environment.parse(source)
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, _COUNTED, [], [], None, None, lineno=loop.lineno)
    return environment.from_string(tree)


def render_in_this_process(sources: list[str], variables: dict[str, Any]) -> list[str]:
    """What a worker runs. Any failure of the template itself (undefined names, bad
    filters, unsafe access, runaway recursion, type errors, a bound) is a RenderRefused."""
    _budget.start()
    written, texts = 0, []
    try:
        for source in sources:
            chunks = []
            for chunk in _compile(source).generate(variables):
                written += len(chunk)
                if written > MAX_OUTPUT:
                    raise RenderRefused(f"the output is longer than {MAX_OUTPUT:,} characters")
                _budget.spend()
                chunks.append(chunk)
            texts.append("".join(chunks))
    except UndefinedError as error:
        raise RenderRefused(error.message or "undefined") from error
    except RecursionError as error:
        raise RenderRefused("the template recurses too deeply") from error
    except MemoryError as error:
        raise RenderRefused("the template needs more memory than rendering allows") from error
    except OverflowError as error:
        raise RenderRefused(f"a number or range is too large: {error}") from error
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as error:
        raise RenderRefused(str(error)) from error
    return texts


def _limit_memory() -> None:
    try:
        with open("/proc/self/statm") as statm:
            in_use = int(statm.read().split()[0]) * resource.getpagesize()
    except OSError:  # not Linux: the deadline still bounds a render
        return
    limit = in_use + WORKER_MEMORY_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def serve(descriptor: int) -> None:
    """A worker's loop, one job at a time. A MemoryError leaves it usable: the allocation that
    failed never happened."""
    connection = Connection(descriptor)
    _limit_memory()
    connection.send("ready")
    while True:
        try:
            sources, variables = connection.recv()
        except (EOFError, OSError):
            return
        try:
            connection.send(("ok", render_in_this_process(sources, variables)))
        except RenderRefused as refused:
            connection.send(("refused", str(refused)))
        except Exception as error:  # any other failure of a template is still its author's
            connection.send(("refused", f"the template failed ({type(error).__name__})"))
