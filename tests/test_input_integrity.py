"""Input integrity (issue 9): every JSON rule holds after variables are substituted, numbers
JSON cannot hold are refused, string arguments are bounded, names and tags hold no invisible
characters, a zero span id is not "no span", and DateTime is RFC 3339 only. Each refusal is a
BAD_USER_INPUT that changes nothing; no stored value makes a later read fail."""

import asyncio
import uuid

import orjson
import pytest
from alembic import command
from sqlalchemy import func, insert, select, update

from promptgraph import migrations, models
from promptgraph.schema import build_schema
from promptgraph.services import auth
from promptgraph.services.auth import Role
from promptgraph.services.errors import BadUserInput

CREATE = """mutation($input: CreatePromptVersionInput!) {
  createPromptVersion(input: $input) { version metadata tools modelConfig { parameters } }
}"""
RECORD_USAGE = """mutation($input: RecordUsageInput!) { recordUsage(input: $input) { status } }"""
RECORD_TRACES = (
    """mutation($traces: [TraceInput!]!) { recordTraces(traces: $traces) { accepted } }"""
)
ZERO_SPAN = "00000000-0000-0000-0000-000000000000"


def nested_list(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


async def version_count(api) -> int:
    data = (
        await api.gql("{ promptVersions(includeArchived: true) { pagination { total } } }")
    ).ok()
    return data["promptVersions"]["pagination"]["total"]


def refused(result, *fragments: str) -> None:
    assert result.status == 200 and result.codes == ["BAD_USER_INPUT"], result.body
    message = result.errors[0]["message"]
    for fragment in fragments:
        assert fragment in message, message


# 1. JSON depth after substitution ---------------------------------------------------------


@pytest.mark.parametrize(
    ("variable_type", "field"),
    [
        ("[JSON]", "metadata: {a: $v}"),
        ("[[[[[[[[[[JSON]]]]]]]]]]", "metadata: {a: {b: $v}}"),
        ("[JSON]", "tools: [$v]"),
        ("[JSON]", 'modelConfig: {model: "m", parameters: {p: $v}}'),
    ],
)
async def test_a_list_variable_inside_a_json_literal_cannot_pass_the_depth_bound(
    api, variable_type, field
):
    """The 262 levels of the report: every element of the list variable is shallow enough
    on its own, the literal around it is shallow, together they are not."""
    query = (
        f"mutation($v: {variable_type}) {{ createPromptVersion(input: "
        f'{{name: "deep", templateText: "x", {field}}}) {{ version }} }}'
    )
    result = await api.gql(query, {"v": [nested_list(260)]})
    refused(result, "nested deeper than 32")
    # Even when each element, and the literal, is within the bound on its own.
    result = await api.gql(query, {"v": [nested_list(31)]})
    refused(result, "nested deeper than 32")
    assert await version_count(api) == 0
    assert (await api.gql("{ prompts { items { name } } }")).ok() == {"prompts": {"items": []}}


async def test_json_after_substitution_within_the_bound_is_stored_as_given(api):
    # metadata (1) > a (the variable's list, 2) > 30 more lists: 32 levels in all.
    value = nested_list(30)
    query = """mutation($v: [JSON]) {
      createPromptVersion(input: {name: "ok", templateText: "x", metadata: {a: $v}}) { metadata }
    }"""
    created = (await api.gql(query, {"v": [value]})).ok()["createPromptVersion"]
    assert created["metadata"] == {"a": [value]}
    read = (await api.gql('{ promptVersion(name: "ok") { metadata } }')).ok()
    assert read["promptVersion"]["metadata"] == {"a": [value]}


async def test_a_variable_left_out_inside_a_json_literal_is_null(api):
    query = """mutation($v: JSON) {
      createPromptVersion(input: {name: "ok", templateText: "x", metadata: {a: $v, b: 1}}) {
        metadata
      }
    }"""
    created = (await api.gql(query)).ok()["createPromptVersion"]
    assert created["metadata"] == {"a": None, "b": 1}


async def test_render_variables_are_checked_after_substitution(api):
    await api.create("greet", "Hello {{ who }}")
    query = """query($v: [JSON]) {
      promptVersion(name: "greet") { render(variables: {who: $v}) { text } }
    }"""
    # {who: [...]}: each element of $v is within the bound, the value rendered is not.
    result = await api.gql(query, {"v": [nested_list(31)]})
    refused(result, "nested deeper than 32")


async def test_a_stored_value_that_breaks_the_rules_fails_only_its_field_masked(api):
    """Defence in depth: a value written before the rules (or by hand) cannot make a read a
    bare HTTP 500; the read gets a masked error with a request id, and other reads work."""
    await api.create("legacy", "x")
    deep: object = {}
    for _ in range(262):
        deep = {"a": deep}
    async with api.db.write() as session:
        await session.execute(update(models.PromptVersion).values(meta=deep))
    result = await api.gql('{ promptVersion(name: "legacy") { version metadata } }')
    assert result.status == 200
    assert result.data == {"promptVersion": None}
    [error] = result.errors
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["extensions"]["requestId"]
    assert error["path"] == ["promptVersion", "metadata"]
    assert "deeper" not in error["message"] and "Traceback" not in error["message"]
    fine = (await api.gql('{ promptVersion(name: "legacy") { version } }')).ok()
    assert fine == {"promptVersion": {"version": 1}}


# 2. numbers JSON cannot hold --------------------------------------------------------------


@pytest.mark.parametrize("number", ["1e999", "-1e999", "1e400"])
@pytest.mark.parametrize(
    "field", ["metadata: {a: NUMBER}", "tools: [NUMBER]", "responseFormat: {a: [NUMBER]}"]
)
async def test_numbers_beyond_json_in_literals_are_refused(api, number, field):
    query = (
        'mutation { createPromptVersion(input: {name: "inf", templateText: "x", '
        + field.replace("NUMBER", number)
        + "}) { version } }"
    )
    refused(await api.gql(query), "finite")
    assert await version_count(api) == 0


async def test_numbers_beyond_json_inside_a_literal_with_variables_are_refused(api):
    query = """mutation($v: [JSON]) {
      createPromptVersion(input: {name: "inf", templateText: "x", metadata: {a: $v, b: 1e999}}) {
        version
      }
    }"""
    refused(await api.gql(query, {"v": [1]}), "finite")
    assert await version_count(api) == 0


async def test_integers_beyond_64_bits_in_literals_are_refused(api):
    query = """mutation { createPromptVersion(input: {name: "big", templateText: "x",
      metadata: {a: 123456789012345678901234567890}}) { version } }"""
    refused(await api.gql(query), "64 bits")
    assert await version_count(api) == 0


async def test_numbers_beyond_json_in_variables_are_refused(api):
    """A JSON body cannot carry Infinity; a number that overflows a double is refused, and
    nothing is stored."""
    body = (
        b'{"query": "mutation($m: JSON) { createPromptVersion(input: {name: \\"inf\\", '
        b'templateText: \\"x\\", metadata: $m}) { version } }", "variables": {"m": {"a": 1e999}}}'
    )
    response = await api.http.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {await api.key()}", "Content-Type": "application/json"},
    )
    assert response.status_code in (200, 400)
    if response.headers.get("content-type", "").startswith("application/json"):
        codes = [e["extensions"]["code"] for e in response.json()["errors"]]
        assert codes == ["BAD_USER_INPUT"]
    assert await version_count(api) == 0


@pytest.mark.parametrize("number", [float("inf"), float("-inf"), float("nan")])
async def test_numbers_beyond_json_in_decoded_variables_are_refused_by_the_schema(number):
    """Whatever the HTTP layer's decoder lets through (Python's json reads Infinity and
    NaN), the JSON scalar refuses it before anything runs."""
    query = """mutation($m: JSON) {
      createPromptVersion(input: {name: "inf", templateText: "x", metadata: $m}) { version }
    }"""
    result = await build_schema().execute(query, variable_values={"m": {"a": [number]}})
    assert result.data is None
    [error] = result.errors
    assert error.extensions["code"] == "BAD_USER_INPUT"
    assert "finite" in error.message


# 3. bounded string arguments --------------------------------------------------------------


async def test_a_search_longer_than_any_name_is_refused(api):
    await api.create("classify-intent", "x")
    result = await api.gql(
        "query($s: String) { prompts(search: $s) { items { name } } }", {"s": "a" * 50_000}
    )
    refused(result, "longer than any prompt name")
    assert len(result.errors[0]["message"]) < 200
    longest = await api.gql(
        "query($s: String) { prompts(search: $s) { items { name } } }", {"s": "a" * 128}
    )
    assert longest.ok() == {"prompts": {"items": []}}
    found = await api.gql('{ prompts(search: "INTENT") { items { name } } }')
    assert found.ok() == {"prompts": {"items": [{"name": "classify-intent"}]}}


HUGE = "x" * 100_000


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($s: String) { prompt(name: $s) { name } }", {"s": HUGE}),
        ("query($s: String) { prompt(fqn: $s) { name } }", {"s": f"prompt:acme/{HUGE}"}),
        ("query($s: String) { promptVersions(fqn: $s) { items { id } } }", {"s": HUGE}),
        ('query($s: String) { promptVersion(name: "p", label: $s) { id } }', {"s": HUGE}),
        ("query($s: String) { promptVersions(tag: $s) { items { id } } }", {"s": HUGE}),
        ("query($s: String) { prompts(tag: $s) { items { name } } }", {"s": HUGE}),
        ("query($s: ID) { promptVersions(promptId: $s) { items { id } } }", {"s": "\u00b2"}),
        ('{ promptVersions(fqn: "prompt:acme/p:\u00b2") { items { id } } }', None),
        (
            "query($s: String) { promptVersions(fqn: $s) { items { id } } }",
            {"s": "prompt:acme/p:" + "9" * 5000},
        ),
        (
            'mutation($s: String!) { setLabel(name: $s, label: "prod", version: 1) { id } }',
            {"s": HUGE},
        ),
        (
            'mutation($t: [String!]!) { setPromptVersionTags(name: "p", version: 1, tags: $t) { id } }',
            {"t": [HUGE]},
        ),
    ],
)
async def test_over_long_string_arguments_are_refused_with_a_short_message(api, query, variables):
    await api.create("p", "x")
    result = await api.gql(query, variables)
    refused(result)
    assert len(result.errors[0]["message"]) < 400, result.errors[0]["message"]


async def test_a_prompt_id_too_large_for_any_prompt_matches_nothing(api):
    await api.create("p", "x")
    query = "query($s: ID) { promptVersions(promptId: $s) { items { id } } }"
    for huge in ("9" * 11, "9" * 5000):
        assert (await api.gql(query, {"s": huge})).ok() == {"promptVersions": {"items": []}}


async def test_over_long_free_text_and_lists_in_a_version_are_refused(api):
    for fields in (
        {"description": "d" * 200_001},
        {"modelConfig": {"model": "m" * 257}},
        {"modelConfig": {"model": "gpt", "provider": "p" * 129}},
        {"messages": [{"role": "user", "content": "hi", "name": "n" * 129}]},
        {"models": [f"openai:m{i}" for i in range(101)]},
    ):
        variables = {"input": {"name": "long", **fields}}
        if "messages" not in fields:
            variables["input"]["templateText"] = "x"
        refused(await api.gql(CREATE, variables))
    assert await version_count(api) == 0


async def test_integration_names_providers_and_models_are_bounded(api):
    query = """mutation($input: CreateIntegrationInput!) {
      createIntegration(input: $input) { name }
    }"""
    for integration in (
        {"name": "openai", "provider": "p" * 129, "models": ["gpt"]},
        {"name": "openai", "provider": "openai", "models": ["m" * 257]},
        {"name": "openai", "provider": "openai", "models": [f"m{i}" for i in range(101)]},
        {"name": HUGE, "provider": "openai", "models": ["gpt"]},
    ):
        result = await api.gql(query, {"input": integration})
        refused(result)
        assert len(result.errors[0]["message"]) < 400


# 4. invisible characters in names and tags ------------------------------------------------

INVISIBLE = ["\u202e", "\u200b", "\u2028", "\u2029", "\u00ad", "\ufeff", "\x85", "\x07"]


@pytest.mark.parametrize("character", INVISIBLE)
async def test_tags_refuse_format_separator_and_control_characters(api, character):
    tag = f"prod{character}uction"
    result = await api.gql(CREATE, {"input": {"name": "p", "templateText": "x", "tags": [tag]}})
    refused(result, "tag")
    assert await version_count(api) == 0
    await api.create("q", "x", tags=["ok"])
    result = await api.gql(
        'mutation($t: [String!]!) { setPromptVersionTags(name: "q", version: 1, tags: $t) '
        "{ tags } }",
        {"t": [tag]},
    )
    refused(result, "tag")
    tags = (await api.gql('{ promptVersion(name: "q") { tags } }')).ok()["promptVersion"]["tags"]
    assert tags == ["ok"]


async def test_tags_are_any_visible_1_to_64_characters(api):
    """The contract's rule for tags, to the letter: spaces, accents and scripts are fine."""
    tags = [" ", "prod uction", "\u00e9t\u00e9", "\u65e5\u672c", "t" * 64]
    await api.create("p", "x", tags=tags)
    read = (await api.gql('{ promptVersion(name: "p") { tags } }')).ok()
    assert read["promptVersion"]["tags"] == sorted(tags)
    refused(await api.gql(CREATE, {"input": {"name": "q", "templateText": "x", "tags": [""]}}))
    too_long = {"input": {"name": "q", "templateText": "x", "tags": ["t" * 65]}}
    refused(await api.gql(CREATE, too_long))


@pytest.mark.parametrize("character", ["\u202e", "\u200b", "\u2028"])
async def test_names_of_things_refuse_invisible_characters(api, character):
    bad = f"gpt{character}4"
    for fields in (
        {"messages": [{"role": f"user{character}", "content": "hi"}]},
        {"messages": [{"role": "user", "content": "hi", "name": bad}]},
        {"templateText": "x", "modelConfig": {"model": bad}},
        {"templateText": "x", "modelConfig": {"model": "gpt", "provider": bad}},
        {"templateText": "x", "models": [f"openai:{bad}"]},
    ):
        refused(await api.gql(CREATE, {"input": {"name": "p", **fields}}))
    assert await version_count(api) == 0
    integration = """mutation($input: CreateIntegrationInput!) {
      createIntegration(input: $input) { name }
    }"""
    for value in (
        {"name": "openai", "provider": bad, "models": ["gpt"]},
        {"name": "openai", "provider": "openai", "models": [bad]},
    ):
        refused(await api.gql(integration, {"input": value}))


@pytest.mark.parametrize("character", ["\u202e", "\u200b", "\u2028", "\x00"])
async def test_user_names_refuse_invisible_characters(api, character):
    with pytest.raises(BadUserInput):
        await auth.create_key(api.db, "acme", f"ann{character}", Role.VIEWER)
    async with api.db.read() as session:
        users = (await session.execute(select(func.count()).select_from(models.User))).scalar()
    assert users == 0


async def test_free_text_keeps_newlines_tabs_and_joiners(api):
    """Template text, message content and descriptions are free text: line breaks, tabs,
    the zero-width joiner of emoji sequences and right-to-left marks stay as given."""
    text = "Line one\n\tLine two\u2028{{ who }} \U0001f469\u200d\U0001f4bb \u200f"
    variables = {
        "input": {
            "name": "free",
            "messages": [{"role": "system", "content": text}],
            "description": text,
        }
    }
    (await api.gql(CREATE, variables)).ok()
    read = await api.gql(
        '{ promptVersion(name: "free") { description messages { content } '
        'render(variables: {who: "ann"}) { messages { content } } } }'
    )
    version = read.ok()["promptVersion"]
    assert version["description"] == text
    assert version["messages"] == [{"content": text}]
    assert version["render"]["messages"] == [{"content": text.replace("{{ who }}", "ann")}]


# 5. a zero span id is a span like any other -----------------------------------------------


async def _usage_rows(api) -> int:
    async with api.db.read() as session:
        return (await session.execute(select(func.count()).select_from(models.Usage))).scalar()


async def test_a_zero_span_id_and_no_span_are_two_usages(api):
    await api.create("p", "x")
    trace = str(uuid.uuid4())
    for _ in range(2):  # both idempotent
        for span in (ZERO_SPAN, None):
            usage = {"promptName": "p", "promptVersion": 1, "traceId": trace, "spanId": span}
            (await api.gql(RECORD_USAGE, {"input": usage})).ok()
    assert await _usage_rows(api) == 2
    metrics = (await api.gql('{ promptVersion(name: "p") { metrics { totalTraces } } }')).ok()
    assert metrics["promptVersion"]["metrics"]["totalTraces"] == 1
    other = {"promptName": "p", "promptVersion": 1, "traceId": trace, "spanId": str(uuid.uuid4())}
    (await api.gql(RECORD_USAGE, {"input": other})).ok()
    assert await _usage_rows(api) == 3


async def test_recording_usages_in_one_call_keeps_zero_span_and_no_span_apart(api):
    await api.create("p", "x")
    trace = str(uuid.uuid4())
    usages = [
        {"promptName": "p", "promptVersion": 1, "traceId": trace, "spanId": ZERO_SPAN},
        {"promptName": "p", "promptVersion": 1, "traceId": trace},
        {"promptName": "p", "promptVersion": 1, "traceId": trace},
    ]
    for usage in usages:
        (await api.gql(RECORD_USAGE, {"input": usage})).ok()
    assert await _usage_rows(api) == 2


async def test_migration_0004_turns_the_old_zero_span_into_no_span(api, database_url):
    """Rows written before 0004 used the zero UUID for "no span"; after it they are "no
    span", so recording the same usage again adds nothing."""
    await api.create("p", "x")
    trace = uuid.uuid4()
    config = migrations.alembic_config(database_url)
    await _release_connections(api)
    await asyncio.to_thread(command.downgrade, config, "0003")
    async with api.db.write() as session:
        version_id = (await session.execute(select(models.PromptVersion.id))).scalar_one()
        workspace_id = (await session.execute(select(models.Workspace.id))).scalar_one()
        await session.execute(
            insert(models.Usage.__table__).values(
                workspace_id=workspace_id,
                version_id=version_id,
                trace_id=trace,
                span_id=uuid.UUID(int=0),
                recorded_at=models.utcnow(),
            )
        )
    await _release_connections(api)
    await asyncio.to_thread(command.upgrade, config, "head")
    async with api.db.read() as session:
        spans = (await session.execute(select(models.Usage.span_id))).scalars().all()
    assert spans == [None]
    usage = {"promptName": "p", "promptVersion": 1, "traceId": str(trace)}
    (await api.gql(RECORD_USAGE, {"input": usage})).ok()
    assert await _usage_rows(api) == 1
    (await api.gql(RECORD_USAGE, {"input": {**usage, "spanId": ZERO_SPAN}})).ok()
    assert await _usage_rows(api) == 2


async def _release_connections(api) -> None:
    """Alembic alters the table: the app's pooled connections go first (it reconnects)."""
    for engine in api.db.engines:
        await engine.dispose()


# 6. DateTime is RFC 3339 only -------------------------------------------------------------

NOT_RFC_3339 = [
    "20240115T100000Z",  # basic format
    "2024-W03-1T10:00:00Z",  # ISO week date
    "2024-015T10:00:00Z",  # ordinal date
    "2024-01-15T10:00:00",  # no offset
    "2024-01-15",  # no time
    "2024-01-15T10:00Z",  # no seconds
    "2024-01-15T10Z",
    "2024-01-15T10:00:00+0100",  # offset without colon
    "2024-01-15T10:00:00+01",
    "2024-01-15T10:00:00.Z",
    "2024-01-15T10:00:00,5Z",  # comma fraction
    "2024-01-15_10:00:00Z",
    " 2024-01-15T10:00:00Z",
    "2024-01-15T10:00:00Z\n",
    "\uff12\uff10\uff12\uff14-01-15T10:00:00Z",  # full-width digits
    "2024-13-01T00:00:00Z",
    "2024-02-30T00:00:00Z",
    "2024-01-15T24:00:00Z",
    "2024-01-15T10:00:00+24:00",
    "2024-01-15T10:00:00+01:60",
    "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
]


@pytest.mark.parametrize("value", NOT_RFC_3339)
async def test_datetimes_that_are_not_rfc_3339_are_refused(api, value):
    await api.create("p", "x")
    literal = await api.gql(
        '{ promptVersion(name: "p") { metrics(since: ' + orjson.dumps(value).decode() + ") "
        "{ totalTraces } } }"
    )
    refused(literal, "DateTime")
    variable = await api.gql(
        'query($s: DateTime) { promptVersion(name: "p") { metrics(since: $s) { totalTraces } } }',
        {"s": value},
    )
    refused(variable)
    trace = {"traceId": str(uuid.uuid4()), "status": "SUCCESS", "startedAt": value}
    refused(await api.gql(RECORD_TRACES, {"traces": [trace]}))


@pytest.mark.parametrize(
    ("value", "utc"),
    [
        ("2024-01-15T10:00:00Z", "2024-01-15T10:00:00Z"),
        ("2024-01-15t10:00:00z", "2024-01-15T10:00:00Z"),
        ("2024-01-15 10:00:00Z", "2024-01-15T10:00:00Z"),
        ("2024-01-15T11:30:00+01:30", "2024-01-15T10:00:00Z"),
        ("2024-01-15T05:00:00-05:00", "2024-01-15T10:00:00Z"),
        ("2024-01-15T10:00:00-00:00", "2024-01-15T10:00:00Z"),
        ("2024-01-15T10:00:00.25Z", "2024-01-15T10:00:00.250000Z"),
        ("2024-01-15T10:00:00.123456789Z", "2024-01-15T10:00:00.123456Z"),
        ("2024-01-16T00:30:00+14:30", "2024-01-15T10:00:00Z"),
    ],
)
async def test_rfc_3339_datetimes_are_read_in_utc(api, value, utc):
    await api.create("p", "x")
    trace = str(uuid.uuid4())
    usage = {"promptName": "p", "promptVersion": 1, "traceId": trace}
    (await api.gql(RECORD_USAGE, {"input": usage})).ok()
    (await api.gql(RECORD_TRACES, {"traces": [{"traceId": trace, "startedAt": value}]})).ok()
    metrics = (await api.gql('{ promptVersion(name: "p") { metrics { firstUsedAt } } }')).ok()
    assert metrics["promptVersion"]["metrics"]["firstUsedAt"] == utc
    literal = await api.gql(
        '{ promptVersion(name: "p") { metrics(since: ' + orjson.dumps(value).decode() + ") "
        "{ totalTraces } } }"
    )
    assert literal.ok()["promptVersion"]["metrics"]["totalTraces"] == 1
