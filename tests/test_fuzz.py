"""Property-based fuzzing of the GraphQL API with hypothesis-graphql.

Queries and mutations are generated from the schema (valid ones, and in one test ones that
break it in one place), then reshaped a little: some optional arguments left out, a few
values taken from pools that name the seeded rows (names, labels, FQNs, templates; see
HINTS), some or all arguments moved into variables. Scalars come from pools of their own,
mostly valid, partly hostile (huge numbers, odd dates, deep JSON, NULs, Jinja snippets).
Each operation goes over HTTP to the ASGI app, with an admin's or a viewer's key. However
wrong the input, the answer is never a 5xx, never INTERNAL_SERVER_ERROR, every error
carries a contract code, and a viewer's writes are FORBIDDEN.

A failure reports the request, the response and the server log (with its traceback).
PROMPTGRAPH_FUZZ_EXAMPLES sets the examples per test (default 150); under CI the examples
are derandomized, so a run is reproducible. Failures are not shrunk unless
PROMPTGRAPH_FUZZ_SHRINK is set. `--hypothesis-show-statistics` shows how each root field
fared. FOUND keeps the failures found so far, reduced by hand, as fixed cases.

Hypothesis drives a synchronous test function, so the app, its database and the HTTP
client live on an event loop in a background thread, for the whole module (one seeded
database per backend), and each request is handed to that loop.
"""

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import random
import shutil
import threading
import traceback
import uuid
from collections.abc import Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema

from promptgraph.app import create_app
from promptgraph.db import Database
from promptgraph.schema import build_schema
from promptgraph.services.auth import Role
from tests.conftest import BACKENDS, Api, _postgres_admin, _url_of

T = TypeVar("T")

CI = bool(os.environ.get("CI"))
EXAMPLES = int(os.environ.get("PROMPTGRAPH_FUZZ_EXAMPLES", "150"))
# A request taking longer than this is a failure too (a hang).
REQUEST_TIMEOUT_S = 60
CLIENT_CODES = frozenset(
    {"UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "CONFLICT", "BAD_USER_INPUT", "QUERY_TOO_COMPLEX"}
)
# Request errors (before execution) a viewer may get instead of FORBIDDEN.
PRE_EXECUTION_CODES = frozenset({"BAD_USER_INPUT", "QUERY_TOO_COMPLEX"})

# The app's state changes with every example, so a shrunk example proves little, and
# shrinking takes minutes: a failure reports the failing request as it was generated.
SHRINK = bool(os.environ.get("PROMPTGRAPH_FUZZ_SHRINK"))

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=CI,
    database=None if CI else settings.default.database,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, *([Phase.shrink] if SHRINK else [])],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)

# --- What the seeded database holds, and values around it ---------------------------

WORKSPACE = "fuzz"
FOUND_WORKSPACE = "found"  # see FOUND
TRACE_IDS = [str(uuid.UUID(int=n)) for n in (1, 2, 3, 0xFEED)]
STARTED_AT = "2024-01-15T10:00:00Z"

# Values that name seeded rows, and values of the same kind that are refused or odd.
NAMES = ["greeting", "support-chat"]
OTHER_NAMES = ["missing", "secret", "Greeting", "-dash", "has space", "a/b", "a" * 129, "名前", ""]
LABELS = ["production", "staging"]
OTHER_LABELS = ["default", "latest", "Production", "x" * 63, "x" * 64, "-x"]
TAGS = ["beta", "en"]
OTHER_TAGS = ["fr", "x" * 64, "x" * 65, "tab\there", "new\nline", " ", ""]
FQNS = [
    "prompt:fuzz/greeting",
    "prompt:fuzz/greeting:1",
    "prompt:fuzz/greeting:2",
    "prompt:fuzz/greeting:latest",
    "prompt:fuzz/support-chat:1",
]
OTHER_FQNS = [
    "prompt:other/secret",
    "prompt:other/secret:1",
    "prompt:fuzz/greeting:0",
    "prompt:fuzz/greeting:-1",
    "prompt:fuzz/greeting:99999999999999999999",
    "prompt:fuzz/greeting:production",
    "prompt:fuzz/greeting:1:2",
    "prompt:fuzz/",
    "prompt:",
    "fuzz/greeting",
]
MODELS = ["openai:gpt-4o", "openai:gpt-4o-mini"]
OTHER_MODELS = ["openai:gpt-5", "anthropic:claude", "gpt-4o", ":"]
TEMPLATES = ["Hello {{ who }}", "{{ who }} meets {{ place }}", "no variables"]
# Syntax errors, sandbox escapes, runtime errors, loaders, recursion.
OTHER_TEMPLATES = [
    *["{{", "{% if %}", "{% for i in range(3) %}{{ i }}{% endfor %}", "{{ who|upper }}"],
    *["{{ who|nope }}", "{{ [1, 2]|map('nope')|list }}", "{{ who.__class__.__mro__ }}"],
    *["{{ ''.__class__ }}", "{{ 1 / 0 }}", "{{ range(10 ** 9) }}", "{% include 'other' %}"],
    *["{% extends 'base' %}", "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}"],
    *["{{ '{0.__class__}'.format(who) }}", "{{ who[0] }}{{ who.missing }}", "{{ lipsum(1) }}"],
]
SEARCHES = ["greet", "CHAT"]
OTHER_SEARCHES = ["%", "_", "\\", "%_%", "'", '"', "'; DROP TABLE prompt; --"]
ODD_STRINGS = ["\x00", "\x07", "\u202e", "🙂", "null", "{}", "x" * 10_000]

SEEDED_STRINGS = [
    *NAMES,
    *LABELS,
    *TAGS,
    *FQNS,
    *MODELS,
    *TEMPLATES,
    *SEARCHES,
    *["openai", "system", "user"],
]
HOSTILE_STRINGS = [
    *OTHER_NAMES,
    *OTHER_LABELS,
    *OTHER_TAGS,
    *OTHER_FQNS,
    *OTHER_MODELS,
    *OTHER_TEMPLATES,
    *OTHER_SEARCHES,
    *ODD_STRINGS,
    *TRACE_IDS,
]
# Arguments or input fields of which the app wants exactly one (or at most one) ...
EXCLUSIVE = [{"name", "fqn"}, {"version", "label"}, {"templateText", "messages"}]
# ... and the values given to input fields added when none of their group is there.
ADDITIONS = {
    "templateText": lambda choose: choose.choice(TEMPLATES + OTHER_TEMPLATES),
    "messages": lambda choose: [
        {"role": "system", "content": choose.choice(TEMPLATES + OTHER_TEMPLATES)},
        {"role": "user", "content": "{{ question }}", "name": "asker"},
    ][: choose.randint(1, 2)],
    "name": lambda choose: choose.choice(NAMES),
    "fqn": lambda choose: choose.choice(FQNS),
    "version": lambda choose: choose.randint(1, 4),
    "label": lambda choose: choose.choice(LABELS),
}
# By argument or input field name: a String there (or a null) is often replaced by one of
# these, mostly from the first list.
HINTS = {
    "name": (NAMES, OTHER_NAMES),
    "promptName": (NAMES, OTHER_NAMES),
    "fqn": (FQNS, OTHER_FQNS),
    "label": (LABELS, OTHER_LABELS),
    "tag": (TAGS, OTHER_TAGS),
    "search": (SEARCHES, OTHER_SEARCHES),
    "templateText": (TEMPLATES, OTHER_TEMPLATES),
    "content": (TEMPLATES, OTHER_TEMPLATES),
}
INT32 = (-(2**31), 2**31 - 1)
INTERESTING_INTS = [0, -1, 5, 20, 99, 100, 101, 1000, 1001, *INT32]


def mostly(valid: st.SearchStrategy[T], other: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """Valid values seven times in eight: an operation often holds many values of a kind
    (a list of traces, each with a startedAt), and one bad value refuses all of it."""
    return st.one_of(*[valid] * 7, other)


# --- Strategies for argument values (AST value nodes) ----------------------------------


def _string(value: str) -> graphql.ValueNode:
    return graphql.StringValueNode(value=value)


def _int(value: int) -> graphql.ValueNode:
    return graphql.IntValueNode(value=str(value))


def _literal(value: Any) -> graphql.ValueNode:
    """The GraphQL literal of a JSON value (whose object keys are GraphQL names)."""
    if value is None:
        return graphql.NullValueNode()
    if isinstance(value, bool):
        return graphql.BooleanValueNode(value=value)
    if isinstance(value, int):
        return _int(value)
    if isinstance(value, float):
        return graphql.FloatValueNode(value=repr(value))
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return graphql.ListValueNode(values=tuple(map(_literal, value)))
    return graphql.ObjectValueNode(
        fields=tuple(
            graphql.ObjectFieldNode(name=graphql.NameNode(value=key), value=_literal(item))
            for key, item in value.items()
        )
    )


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def _utc(moment: Any) -> str:
    return moment.isoformat() + "Z"


strings = mostly(
    st.one_of(
        st.sampled_from(SEEDED_STRINGS),
        st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True),
    ),
    st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=40)),
).map(_string)
ints = mostly(
    st.integers(1, 4), st.one_of(st.sampled_from(INTERESTING_INTS), st.integers(*INT32))
).map(_int)
floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, -1.0, 0.5, 250.0, 1e308, -1e308, 5e-324]),
).map(lambda value: graphql.FloatValueNode(value=repr(value)))
ids = st.one_of(
    st.sampled_from(
        ["1", "2", "3", "4", "0", "-1", "abc", "1.5", " 1", "99999999999999999999"]
    ).map(_string),
    st.sampled_from([1, 2, 3, 0, -1, 10**20]).map(_int),
)
datetimes = mostly(
    st.one_of(
        # Around the seeded usages, so that metrics windows hold some.
        st.datetimes(datetime(2024, 1, 1), datetime(2024, 3, 1)).map(_utc),
        st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat()),
        st.sampled_from(
            [
                STARTED_AT,
                "2024-01-15T10:00:00.123456+05:30",
                "0001-01-01T00:00:00Z",
                "9999-12-31T23:59:59Z",
            ]
        ),
    ),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "2024-01-15T10:00:00",
            "2024-01-15",
            "2024-13-01T00:00:00Z",
            "",
            "now",
        ]
    ),
).map(_string)
uuids = mostly(
    st.one_of(st.sampled_from(TRACE_IDS), st.uuids().map(str)),
    st.sampled_from(
        [
            "",
            "not-a-uuid",
            TRACE_IDS[0].upper(),
            TRACE_IDS[0].replace("-", ""),
            "{" + TRACE_IDS[0] + "}",
            "urn:uuid:" + TRACE_IDS[0],
            TRACE_IDS[0] + "0",
        ]
    ),
).map(_string)
version_selectors = mostly(
    st.one_of(st.integers(1, 4).map(_int), st.just(_string("latest"))),
    st.sampled_from(
        [
            _int(0),
            _int(-1),
            _int(2**31 - 1),
            _int(2**31),
            _int(2**63),
            _int(10**30),
            _string("LATEST"),
            _string("1"),
            _string(""),
            graphql.FloatValueNode(value="1.5"),
            graphql.BooleanValueNode(value=True),
        ]
    ),
)
_json_keys = st.sampled_from(
    ["who", "place", "customer", "question", "temperature"]
) | st.from_regex(r"[_A-Za-z][_0-9A-Za-z]{0,7}", fullmatch=True)


def _json_containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=4) | st.dictionaries(_json_keys, children, max_size=4)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    _json_containers,
    max_leaves=16,
)
json_values = mostly(
    st.one_of(
        _json.filter(lambda value: value is not None),  # JSON! is more common than JSON
        st.dictionaries(_json_keys, _json, max_size=4),
        # Variables for render().
        st.fixed_dictionaries({"who": _json}, optional={"place": st.text(max_size=5)}),
    ),
    # Around the nesting limit of 32 levels.
    st.integers(30, 34).map(_nested),
).map(_literal)

CUSTOM_SCALARS = {
    "String": strings,
    "Int": ints,
    "Float": floats,
    "ID": ids,
    "DateTime": datetimes,
    "UUID": uuids,
    "VersionSelector": version_selectors,
    "JSON": json_values,
}
SCHEMA = graphql.build_schema(build_schema().as_str())


def _document(document: graphql.DocumentNode) -> graphql.DocumentNode:
    return document


def _seeded(document: graphql.DocumentNode, seed: int) -> random.Random:
    """A Random for rewrite(): st.randoms() leans to the first choice, and Hypothesis draws
    the same few seeds again and again, so the document goes into the seed too."""
    return random.Random(f"{seed}:{graphql.print_ast(document)}")


def operations(mode: Mode = Mode.POSITIVE) -> st.SearchStrategy[tuple[Any, ...]]:
    """(document, Random for rewrite(), Accept header)."""
    documents = from_schema(SCHEMA, custom_scalars=CUSTOM_SCALARS, print_ast=_document, mode=mode)
    accepts = st.sampled_from(
        ["application/json", "application/graphql-response+json", "*/*", None]
    )
    return st.tuples(documents, st.integers(0, 2**32 - 1), accepts).map(
        lambda drawn: (drawn[0], _seeded(drawn[0], drawn[1]), drawn[2])
    )


@dataclass
class Choice:
    omitted: set[str]
    exclusive: set[str]


class _Shape(graphql.Visitor):
    """Leaves out some optional arguments and input fields (hypothesis-graphql gives every
    one, if only as null, while many lookups and inputs take exactly one of two), and
    often gives a String argument or field a value of its kind (see HINTS)."""

    def __init__(self, type_info: graphql.TypeInfo, choose: random.Random) -> None:
        super().__init__()
        self.type_info = type_info
        self.choose = choose
        # Of the field and of each input object being visited: the arguments or fields to
        # leave out, and those kept as the one of their EXCLUSIVE group.
        self.arguments: Choice = Choice(set(), set())
        self.fields: list[Choice] = []

    def _some_of(self, optional: list[str], defined: Iterable[str]) -> Choice:
        """Leaves out each with the same chance, drawn for the field or object, and mostly
        all but one of each group of EXCLUSIVE arguments or fields (of those defined)."""
        keep = self.choose.choice([0.2, 0.5, 0.8, 1.0])
        choice = Choice({name for name in optional if self.choose.random() >= keep}, set())
        for group in EXCLUSIVE:
            present = sorted(group.intersection(optional))
            if present and group <= set(defined) and self.choose.random() < 0.9:
                kept = self.choose.choice(present)
                choice.omitted |= set(present) - {kept}
                choice.omitted.discard(kept)
                choice.exclusive.add(kept)
        return choice

    def _hinted(self, node: Any, choice: Choice) -> Any:
        """The argument or input field with another value, or None to keep it as it is."""
        name, value = node.name.value, node.value
        # The one kept of an EXCLUSIVE group: mostly not null.
        if (
            name in choice.exclusive
            and isinstance(value, graphql.NullValueNode)
            and self.choose.random() < 0.9
        ):
            return dataclasses.replace(node, value=_literal(ADDITIONS[name](self.choose)))
        hint = HINTS.get(name)
        if hint is None or not isinstance(value, graphql.StringValueNode | graphql.NullValueNode):
            return None
        if self.choose.random() < 0.4:
            return None
        values = hint[0] if self.choose.random() < 0.7 else hint[1]
        return dataclasses.replace(node, value=_string(self.choose.choice(values)))

    def enter_field(self, node: graphql.FieldNode, *_: Any) -> None:
        definition = self.type_info.get_field_def()
        arguments = definition.args if definition is not None else {}
        self.arguments = self._some_of(
            [
                argument.name.value
                for argument in node.arguments or ()
                if argument.name.value in arguments
                and not graphql.is_required_argument(arguments[argument.name.value])
            ],
            arguments,
        )

    def enter_argument(self, node: graphql.ArgumentNode, *_: Any) -> Any:
        if node.name.value in self.arguments.omitted:
            return graphql.REMOVE
        return self._hinted(node, self.arguments)

    def enter_object_value(self, node: graphql.ObjectValueNode, *_: Any) -> Any:
        input_type = graphql.get_named_type(self.type_info.get_input_type())
        fields = input_type.fields if isinstance(input_type, graphql.GraphQLInputObjectType) else {}
        given = [field.name.value for field in node.fields if field.name.value in fields]
        self.fields.append(
            self._some_of(
                [name for name in given if not graphql.is_required_input_field(fields[name])],
                fields,
            )
        )
        # hypothesis-graphql gives a few of an input's optional fields: mostly add one of
        # a group that the app needs one of, when none is there.
        for group in EXCLUSIVE:
            missing = group <= fields.keys() and not group.intersection(given)
            if missing and self.choose.random() < 0.9:
                name = self.choose.choice(sorted(group))
                value = _literal(ADDITIONS[name](self.choose))
                added = graphql.ObjectFieldNode(name=graphql.NameNode(value=name), value=value)
                return dataclasses.replace(node, fields=(*node.fields, added))
        return None

    def leave_object_value(self, *_: Any) -> None:
        self.fields.pop()

    def enter_object_field(self, node: graphql.ObjectFieldNode, *_: Any) -> Any:
        choice = self.fields[-1] if self.fields else Choice(set(), set())
        return graphql.REMOVE if node.name.value in choice.omitted else self._hinted(node, choice)


class _ToVariables(graphql.Visitor):
    """Moves the values of none, about half or all of the arguments into variables of the
    argument's type."""

    def __init__(self, type_info: graphql.TypeInfo, choose: random.Random) -> None:
        super().__init__()
        self.type_info = type_info
        self.choose = choose
        self.share = choose.choice([0.0, 0.5, 1.0])
        self.variables: dict[str, Any] = {}
        self.definitions: list[graphql.VariableDefinitionNode] = []

    def enter_argument(self, node: graphql.ArgumentNode, *_: Any) -> Any:
        argument = self.type_info.get_argument()
        if argument is None or self.choose.random() >= self.share:
            return None
        name = f"v{len(self.definitions)}"
        variable = graphql.VariableNode(name=graphql.NameNode(value=name))
        self.variables[name] = graphql.value_from_ast_untyped(node.value)
        self.definitions.append(
            graphql.VariableDefinitionNode(
                variable=variable, type=graphql.parse_type(str(argument.type)), directives=()
            )
        )
        return graphql.ArgumentNode(name=node.name, value=variable)

    def leave_operation_definition(self, node: graphql.OperationDefinitionNode, *_: Any) -> Any:
        definitions = (*(node.variable_definitions or ()), *self.definitions)
        return dataclasses.replace(node, variable_definitions=definitions)


def rewrite(
    document: graphql.DocumentNode, choose: random.Random
) -> tuple[graphql.DocumentNode, dict[str, Any]]:
    """The document reshaped (_Shape) and with some arguments moved into variables; and
    the variables' values."""
    shape = _Shape(graphql.TypeInfo(SCHEMA), choose)
    document = graphql.visit(document, graphql.TypeInfoVisitor(shape.type_info, shape))
    move = _ToVariables(graphql.TypeInfo(SCHEMA), choose)
    document = graphql.visit(document, graphql.TypeInfoVisitor(move.type_info, move))
    return document, move.variables


# --- The app on a background event loop -------------------------------------------------


class LoopThread:
    """An event loop running in a thread of its own; run() hands it a coroutine and waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fuzz-loop", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def close(self) -> None:
        self.run(self.loop.shutdown_asyncgens())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class LogCapture(logging.Handler):
    """Keeps the server's warnings and errors (with their tracebacks) of the latest request."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def drain(self) -> list[str]:
        records, self.records = self.records, []
        return [self.format(record) for record in records]


@dataclass
class Exchange:
    """One request and what came back."""

    role: Role
    workspace: str
    query: str
    variables: dict[str, Any]
    accept: str | None
    status: int | None = None
    body: Any = None
    crash: str | None = None  # an exception that escaped the app, with its traceback
    server_log: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors = self.body.get("errors") if isinstance(self.body, dict) else None
        return errors if isinstance(errors, list) else []

    def report(self, problems: list[str]) -> str:
        return "\n".join(
            [
                "; ".join(problems),
                f"key: {self.role} in workspace {self.workspace}",
                f"query:\n{self.query}",
                f"variables: {json.dumps(self.variables, ensure_ascii=False)[:5000]}",
                f"accept: {self.accept}",
                f"status: {self.status}",
                f"body: {json.dumps(self.body, ensure_ascii=False)[:5000]}",
                *([f"exception raised by the app:\n{self.crash}"] if self.crash else []),
                "server log:",
                *(self.server_log or ["(empty)"]),
            ]
        )


@dataclass
class Server:
    loop: LoopThread
    http: httpx.AsyncClient
    keys: dict[tuple[str, Role], str]
    log: LogCapture

    def send(
        self,
        role: Role,
        query: str,
        variables: dict[str, Any],
        accept: str | None = None,
        workspace: str = WORKSPACE,
    ) -> Exchange:
        exchange = Exchange(role, workspace, query, variables, accept)
        self.log.drain()
        try:
            self.loop.run(self._post(exchange), timeout=REQUEST_TIMEOUT_S)
        except TimeoutError:
            exchange.crash = f"no response within {REQUEST_TIMEOUT_S} s"
        exchange.server_log = self.log.drain()
        return exchange

    async def _post(self, exchange: Exchange) -> None:
        headers = {"Authorization": f"Bearer {self.keys[exchange.workspace, exchange.role]}"}
        if exchange.accept is not None:
            headers["Accept"] = exchange.accept
        payload = {"query": exchange.query, "variables": exchange.variables}
        try:
            response = await self.http.post("/graphql", json=payload, headers=headers)
        except (Exception, asyncio.CancelledError):
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # send() gave up waiting
                raise
            # A CancelledError that the app raised, not one aimed at this task, escapes the
            # app like any other exception would: a server answers HTTP 500.
            exchange.crash = traceback.format_exc()
            return
        exchange.status = response.status_code
        try:
            exchange.body = response.json()
        except ValueError:
            exchange.body = response.text


async def _seed(api: Api) -> None:
    """Rows for generated operations to find: two prompts of each type, versions, labels,
    tags, revisions, an archived version, an integration, usages and trace outcomes."""
    admin = api.default_key

    async def gql(query: str, variables: dict[str, Any], key: str | None = admin) -> None:
        (await api.gql(query, variables, key=key)).ok()

    await gql(
        """mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { name } }""",
        {"input": {"name": "openai", "provider": "openai", "models": ["gpt-4o", "gpt-4o-mini"]}},
    )
    await api.create(
        "greeting",
        "Hello {{ who }}",
        tags=["beta", "en"],
        models=["openai:gpt-4o"],
        modelConfig={"provider": "openai", "model": "gpt-4o", "parameters": {"temperature": 0.2}},
        metadata={"team": "core"},
        description="first",
    )
    await api.save("greeting", "Hi {{ who }}, welcome to {{ place }}", autoIncrement=True)
    await api.save("greeting", "Hey {{ who }}", autoIncrement=True)
    await api.save("greeting", "Hi {{ who }}, from {{ place }}", version=2, description="fixed")
    await api.create(
        "support-chat",
        messages=[
            {"role": "system", "content": "You help {{ customer }}."},
            {"role": "user", "content": "{{ question }}", "name": "asker"},
        ],
        text=None,
        tools=[{"type": "function", "function": {"name": "lookup"}}],
        responseFormat={"type": "json_object"},
        tags=["beta"],
    )
    await api.save(
        "support-chat",
        None,
        messages=[{"role": "system", "content": "Be brief with {{ customer }}."}],
        autoIncrement=True,
    )
    set_label = """mutation($name: String!, $label: String!, $version: Int!) {
        setLabel(name: $name, label: $label, version: $version) { id } }"""
    await gql(set_label, {"name": "greeting", "label": "production", "version": 2})
    await gql(set_label, {"name": "greeting", "label": "staging", "version": 1})
    await gql(set_label, {"name": "support-chat", "label": "production", "version": 1})
    await gql("""mutation { archivePromptVersion(name: "greeting", version: 3) { id } }""", {})
    record = """mutation($input: RecordUsageInput!) { recordUsage(input: $input) { status } }"""
    for (name, version), trace_id, status in [
        (("greeting", 1), TRACE_IDS[0], "SUCCESS"),
        (("greeting", 2), TRACE_IDS[1], "ERROR"),
        (("greeting", 2), TRACE_IDS[2], "SUCCESS"),
        (("support-chat", 1), TRACE_IDS[0], "SUCCESS"),
    ]:
        outcome = {"status": status, "costUsd": 0.01, "latencyMs": 250.0, "startedAt": STARTED_AT}
        await gql(
            record,
            {
                "input": {
                    "promptName": name,
                    "promptVersion": version,
                    "traceId": trace_id,
                    "outcome": outcome,
                }
            },
        )
    await gql(
        """mutation($traces: [TraceInput!]!) { recordTraces(traces: $traces) { accepted } }""",
        {"traces": [{"traceId": TRACE_IDS[3], "status": "ERROR", "latencyMs": 1e6}]},
    )
    # Another tenant's prompt, which the keys under test must never see.
    other = await api.key("other", "olga", Role.ADMIN)
    await gql(
        """mutation { createPromptVersion(input: {name: "secret", templateText: "s"}) { id } }""",
        {},
        key=other,
    )


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The app on a seeded database of its own, for the whole module."""
    loop, log, cleanup = LoopThread(), LogCapture(), contextlib.AsyncExitStack()
    try:
        if request.param == "sqlite":
            path = tmp_path_factory.mktemp("fuzz") / "promptgraph.db"
            shutil.copy(request.getfixturevalue("sqlite_template"), path)
            url = f"sqlite+aiosqlite:///{path}"
        else:
            template = request.getfixturevalue("postgres_template")
            name = f"promptgraph_fuzz_{uuid.uuid4().hex[:12]}"
            loop.run(_postgres_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            cleanup.push_async_callback(_postgres_admin, drop)
            url = _url_of(name)

        async def start() -> Server:
            db = Database(url)
            cleanup.push_async_callback(db.dispose)
            transport = httpx.ASGITransport(app=create_app(db=db))
            http = httpx.AsyncClient(transport=transport, base_url="http://promptgraph")
            cleanup.push_async_callback(http.aclose)
            api = Api(http, db)
            keys = {
                (workspace, role): await api.key(workspace, role.lower(), role)
                for workspace, role in [
                    (WORKSPACE, Role.ADMIN),
                    (WORKSPACE, Role.VIEWER),
                    (FOUND_WORKSPACE, Role.ADMIN),
                ]
            }
            api.default_key = keys[WORKSPACE, Role.ADMIN]
            await _seed(api)
            return Server(loop, http, keys, log)

        fuzzed = loop.run(start())
        logging.getLogger().addHandler(log)
        yield fuzzed
    finally:
        logging.getLogger().removeHandler(log)
        loop.run(cleanup.aclose())
        loop.close()


# --- The properties ---------------------------------------------------------------------


def _operation_type(document: graphql.DocumentNode) -> graphql.OperationType:
    (operation,) = (
        d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)
    )
    return operation.operation


def exchange(server: Server, role: Role, operation: tuple[Any, ...]) -> tuple[Exchange, bool]:
    """Send one generated operation; returns what came back and whether it was a mutation."""
    document, choose, accept = operation
    document, variables = rewrite(document, choose)
    query = graphql.print_ast(document)
    note(f"{role} query:\n{query}\nvariables: {json.dumps(variables, ensure_ascii=False)}")
    result = server.send(role, query, variables, accept)
    is_mutation = _operation_type(document) == graphql.OperationType.MUTATION
    for outcome in _outcomes(result):
        event(outcome)  # shown by --hypothesis-show-statistics
    return result, is_mutation


def _outcomes(result: Exchange) -> set[str]:
    """How each root field fared, or why the request was refused before execution."""
    data = result.body.get("data") if isinstance(result.body, dict) else None
    fields = {error["path"][0]: error for error in result.errors if error.get("path")}
    outcomes = {
        f"{name}: {(fields[name].get('extensions') or {}).get('code') if name in fields else 'ok'}"
        for name in (data or {}) | fields
    }
    for error in result.errors:
        if not error.get("path"):
            outcomes.add(f"refused: {(error.get('extensions') or {}).get('code')}")
    return outcomes


def problems_of(result: Exchange) -> list[str]:
    """What breaks the contract, whatever the request was."""
    problems = []
    if result.crash is not None:
        problems.append("an exception escaped the app (a server answers HTTP 500)")
    elif result.status is not None and result.status >= 500:
        problems.append(f"HTTP {result.status}")
    if result.crash is None and not isinstance(result.body, dict):
        problems.append("the body is not a JSON object")
    for error in result.errors:
        code = (error.get("extensions") or {}).get("code")
        if code == "INTERNAL_SERVER_ERROR":
            problems.append(f"INTERNAL_SERVER_ERROR at {error.get('path')}")
        elif code not in CLIENT_CODES:
            problems.append(f"error without a contract code: {error}")
    return problems


def assert_ok(result: Exchange, problems: list[str]) -> None:
    if problems:
        pytest.fail(result.report(problems), pytrace=False)


# Failures this fuzzer found, reduced by hand: each a sequence of operations that must
# pass the same checks, so that CI checks them whichever examples it draws. They run by an
# admin of a workspace of their own, whose odd rows the random examples never see.
FOUND = {
    "id-out-of-range": [
        ('{ promptVersions(promptId: "99999999999999999999") { pagination { total } } }', {})
    ],
    "selector-out-of-range": [
        ('mutation { savePromptVersion(input: {name: "one", templateText: "x"}) { id } }', {}),
        ('{ promptVersion(name: "one", version: 2147483648) { id } }', {}),
        ('{ promptVersion(fqn: "prompt:found/one:99999999999999999999") { id } }', {}),
    ],
    "version-beyond-int32": [
        (
            "mutation($input: CreatePromptVersionInput!) {"
            " createPromptVersion(input: $input) { version } }",
            {"input": {"name": "last", "templateText": "x", "version": 2**31 - 1}},
        ),
        (
            'mutation { savePromptVersion(input: {name: "last", templateText: "y",'
            " autoIncrement: true}) { version } }",
            {},
        ),
        ('{ prompt(name: "last") { latestVersion { version } } }', {}),
    ],
    "json-integer-beyond-64-bits": [
        (
            'mutation { savePromptVersion(input: {name: "big", templateText: "x",'
            " metadata: {n: 100000000000000000000}}) { id } }",
            {},
        ),
        ('{ promptVersion(name: "big", version: 1) { metadata } }', {}),
    ],
    "cost-beyond-64-bits": [
        (
            "{ prompts(limit: 2147483647) { items { versions(limit: 2147483647) { items {"
            " prompt { versions(limit: 2147483647) { items { id } } } } } } } }",
            {},
        )
    ],
    "nul-character": [
        (
            "mutation($input: SavePromptVersionInput!) { savePromptVersion(input: $input) { id } }",
            {"input": {"name": "nul", "templateText": "a\x00b", "autoIncrement": True}},
        ),
        ("query($q: String) { prompts(search: $q) { items { id } } }", {"q": "\x00"}),
    ],
    "jinja-runtime-error": [
        (
            "mutation($input: SavePromptVersionInput!) {"
            " savePromptVersion(input: $input) { render(variables: {}) { text } } }",
            {"input": {"name": "jinja", "templateText": template, "autoIncrement": True}},
        )
        for template in [
            "{{ [1, 2]|map('nope')|list }}",
            "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
        ]
    ],
    "loader-cancelled": [
        (
            'mutation { savePromptVersion(input: {name: "siblings", templateText: "x"}) { id } }',
            {},
        ),
        (
            '{ prompt(name: "siblings") { a: latestVersion { prompt { versionCount } }'
            " b: latestVersion { prompt { versionCount }"
            ' metricsSeries(since: "2024-01-01T00:00:00Z", until: "2024-01-01T00:00:00Z")'
            " { start } } } }",
            {},
        ),
    ],
    "float-overflow": [
        (
            'mutation { savePromptVersion(input: {name: "overflow", templateText: "x"}) { id } }',
            {},
        ),
        *(
            (
                "mutation($input: RecordUsageInput!) { recordUsage(input: $input) { status } }",
                {
                    "input": {
                        "promptName": "overflow",
                        "promptVersion": 1,
                        "traceId": trace_id,
                        "outcome": {"costUsd": 1e308, "latencyMs": 1e308},
                    }
                },
            )
            for trace_id in (str(uuid.UUID(int=0xF1)), str(uuid.UUID(int=0xF2)))
        ),
        ('{ promptVersion(name: "overflow", version: 1) { metrics { avgCostUsd } } }', {}),
    ],
}


@pytest.mark.parametrize("case", list(FOUND))
def test_found_by_fuzzing(server: Server, case: str) -> None:
    for query, variables in FOUND[case]:
        result = server.send(Role.ADMIN, query, variables, workspace=FOUND_WORKSPACE)
        assert_ok(result, problems_of(result))


@FUZZ
@given(operation=operations())
def test_admin_operations_never_fail_internally(server: Server, operation: tuple[Any, ...]) -> None:
    result, _ = exchange(server, Role.ADMIN, operation)
    assert_ok(result, problems_of(result))


@FUZZ
@given(operation=operations())
def test_viewer_writes_are_forbidden(server: Server, operation: tuple[Any, ...]) -> None:
    result, is_mutation = exchange(server, Role.VIEWER, operation)
    problems = problems_of(result)
    if is_mutation and isinstance(result.body, dict):
        data = result.body.get("data")
        if isinstance(data, dict) and any(value is not None for value in data.values()):
            problems.append("a viewer's write succeeded")
        for error in result.errors:
            code = (error.get("extensions") or {}).get("code")
            executed = error.get("path") is not None
            if code != "FORBIDDEN" and (executed or code not in PRE_EXECUTION_CODES):
                problems.append(f"a viewer's write got {code}, not FORBIDDEN: {error}")
    assert_ok(result, problems)


@FUZZ
@given(operation=operations(Mode.NEGATIVE))
def test_invalid_operations_are_client_errors(server: Server, operation: tuple[Any, ...]) -> None:
    """Operations that break the schema in one place: rejected with a client error."""
    result, _ = exchange(server, Role.ADMIN, operation)
    assert_ok(result, problems_of(result))
