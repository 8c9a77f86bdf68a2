"""Rendering is bounded (contract section 4, issue 9): at most 1,000,000 characters and a
bounded amount of work; a template over either is BAD_USER_INPUT at `render`, and the
server keeps answering others while one renders."""

import asyncio
import time
from typing import Any

import pytest

RENDER = """query($name: String!, $variables: JSON!) {
  promptVersion(name: $name) { version render(variables: $variables) { text messages { role content } } }
}"""

NESTED_LOOPS = (
    "{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}"
    "{% endfor %}{% endfor %}{% endfor %}"
)


async def _render(api, name: str, variables: dict[str, Any] | None = None):
    return await api.gql(RENDER, {"name": name, "variables": variables or {}})


def _refused(result, *words: str) -> str:
    assert result.status == 200, result.body
    assert result.codes == ["BAD_USER_INPUT"], result.body
    [error] = result.errors
    assert error["path"] == ["promptVersion", "render"]
    # render is nullable: only it is null, the rest of the version is answered.
    assert result.data["promptVersion"]["render"] is None
    assert result.data["promptVersion"]["version"] >= 1
    for word in words:
        assert word in error["message"], error["message"]
    return error["message"]


@pytest.mark.parametrize(
    ("template", "words"),
    [
        # Repetition and power asked for in one expression.
        ("{{ 'a' * 10**9 }}", ["1,000,000"]),
        ("{{ [0] * 10**8 }}", ["1,000,000"]),
        ("{{ 7 ** 10000000 }}", ["**"]),
        # Loops: a billion iterations, no output.
        (NESTED_LOOPS, ["work"]),
        # A value doubled in a loop, by concatenation.
        (
            "{% set ns = namespace(x='ab') %}{% for i in range(40) %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}{{ ns.x|length }}",
            ["1,000,000"],
        ),
        # Recursion: a macro calling itself twice, 2**40 calls.
        (
            "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
            [],
        ),
        # Filters and methods that amplify in one C call.
        ("{{ 'x'|center(10**9) }}", []),
        ("{{ 'x'|indent(10**9) }}", []),
        ("{{ 'x'.ljust(10**9) }}", []),
        ("{{ '%0999999999d'|format(1) }}", []),
        ("{{ '{:>999999999}'.format(1) }}", []),
        ("{{ ('ab' * 400000)|replace('a', 'a' * 900000) }}", []),
        ("{{ (['ab'] * 900000)|join('x' * 900000) }}", []),
        # Output past the bound, in many small pieces.
        ("{% for i in range(100000) %}{{ '0123456789!' }}{% endfor %}", ["1,000,000"]),
    ],
)
async def test_a_hostile_template_is_refused(api, template, words):
    await api.create("hostile", template)
    started = time.monotonic()
    message = _refused(await _render(api, "hostile"), "cannot render", *words)
    assert time.monotonic() - started < 10, message
    # The next render is served as usual.
    await api.create("fine", "Hello {{ who }}")
    assert (await _render(api, "fine", {"who": "Ann"})).ok()["promptVersion"]["render"] == {
        "text": "Hello Ann",
        "messages": None,
    }


async def test_output_is_rendered_up_to_the_bound_and_refused_past_it(api):
    await api.create("big", "{% for i in range(100000) %}{{ '0123456789' }}{% endfor %}")
    text = (await _render(api, "big")).ok()["promptVersion"]["render"]["text"]
    assert len(text) == 1_000_000
    await api.create("repeat", "{{ 'a' * 1000000 }}")
    assert (await _render(api, "repeat")).ok()["promptVersion"]["render"]["text"] == "a" * 10**6
    items = [{"name": f"n{i}"} for i in range(1000)]
    await api.create("list", "{% for item in items %}{{ loop.index }}:{{ item.name }};{% endfor %}")
    text = (await _render(api, "list", {"items": items})).ok()["promptVersion"]["render"]["text"]
    assert text == "".join(f"{i + 1}:n{i};" for i in range(1000))
    # One more character is over it.
    await api.create("over", "{{ 'a' * 1000000 }}!")
    _refused(await _render(api, "over"), "1,000,000")


async def test_the_output_bound_covers_all_of_a_chat_prompts_messages(api):
    messages = [{"role": "user", "content": "{{ 'a' * 600000 }}"}] * 2
    await api.create("chat", None, templateText=None, messages=messages)
    _refused(await _render(api, "chat"), "1,000,000")
    await api.create("chat-ok", None, templateText=None, messages=messages[:1])
    [message] = (await _render(api, "chat-ok")).ok()["promptVersion"]["render"]["messages"]
    assert len(message["content"]) == 600_000


async def test_others_are_answered_while_a_hostile_template_renders(api):
    """A million iterations, each building a 100 KB string: seconds of work, refused by the
    work or time budget. Meanwhile /healthz and another query are answered promptly, before the
    render is done (before, the render held the event loop until it had finished)."""
    await api.create(
        "slow",
        "{% for i in range(1000) %}{% for j in range(1000) %}{% set x = 'a' * 100000 %}"
        "{% endfor %}{% endfor %}",
    )
    key = await api.key()
    render = asyncio.create_task(_render(api, "slow"))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    health = await api.http.get("/healthz")
    viewer = await api.http.post(
        "/graphql",
        json={"query": "{ viewer { user } }"},
        headers={"Authorization": f"Bearer {key}"},
    )
    answered_in = time.monotonic() - started
    assert not render.done(), "the render finished before the others were answered"
    assert health.status_code == 200
    assert viewer.json() == {"data": {"viewer": {"user": "ann"}}}
    assert answered_in < 1, f"others waited {answered_in:.1f} s"
    message = _refused(await render, "cannot render")
    assert "work" in message or "longer than" in message, message
