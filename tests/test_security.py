"""API keys: random, stored only as hashes, refused once revoked, never logged (contract 5, 6)."""

import hashlib
import itertools
import logging
import math
from typing import Any

import pytest
from sqlalchemy import inspect, text

from promptgraph.db import Database
from promptgraph.response_cache import ResponseCache
from promptgraph.services import auth, catalog
from promptgraph.services.auth import Role
from tests.test_response_cache import _listening as wait_until_listening

VIEWER_QUERY = "{ viewer { user workspace role } }"
URL_SAFE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def secret_of(key: str) -> str:
    """A key is `pgk_<public id>_<secret>`; the secret may itself hold `_`."""
    prefix, public_id, secret = key.split("_", 2)
    assert prefix == "pgk" and public_id and secret, key
    return secret


async def post(api: Any, key: str, query: str = VIEWER_QUERY, scheme: str = "Bearer") -> Any:
    return await api.http.post(
        "/graphql", json={"query": query}, headers={"Authorization": f"{scheme} {key}"}
    )


def assert_unauthenticated(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["UNAUTHENTICATED"]


# --- entropy --------------------------------------------------------------------------------


async def test_keys_are_high_entropy_and_all_distinct(api):
    keys = []
    for index in range(200):
        _, key = await auth.create_key(api.db, "acme", f"user-{index % 7}", Role.VIEWER)
        keys.append(key)
    secrets = [secret_of(key) for key in keys]

    assert len(set(keys)) == 200
    assert len(set(secrets)) == 200
    assert len({key.split("_", 2)[1] for key in keys}) == 200
    # Keys travel in an HTTP header: printable, URL-safe characters only.
    alphabet = set("".join(secrets))
    assert alphabet <= URL_SAFE, alphabet - URL_SAFE
    # The secret's alphabet is really used (not, say, digits only)...
    assert len(alphabet) >= 16, sorted(alphabet)
    # ...every position varies from key to key (no fixed or counter-like part)...
    shortest = min(len(secret) for secret in secrets)
    for position in range(shortest):
        assert len({secret[position] for secret in secrets}) >= 8, position
    # ...and, so spread, the secret is long enough to carry at least 256 bits.
    for secret in secrets:
        assert len(secret) * math.log2(len(alphabet)) >= 256, secret
    # No two secrets start alike, as they would if derived from a clock or a sequence.
    ordered = sorted(secrets)
    assert all(a[:8] != b[:8] for a, b in itertools.pairwise(ordered))
    # And they are real keys: the last one authenticates.
    data = (await api.gql(VIEWER_QUERY, key=keys[-1])).ok()
    assert data["viewer"] == {"user": "user-3", "workspace": "acme", "role": "VIEWER"}


# --- storage --------------------------------------------------------------------------------


async def all_rows(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of the database."""
    async with db.read_engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        rows = {}
        for table in tables:
            result = await connection.execute(text(f'SELECT * FROM "{table}"'))
            rows[table] = [dict(row._mapping) for row in result]
    return rows


def as_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    return str(value)


async def test_database_stores_only_a_sha256_of_the_secret(api):
    _, key = await auth.create_key(api.db, "acme", "ann", Role.ADMIN)
    secret = secret_of(key)
    # Use the key, so that anything recorded on use is in the database too.
    (await api.gql(VIEWER_QUERY, key=key)).ok()
    (
        await api.gql(
            'mutation { createPromptVersion(input: {name: "p", templateText: "t"}) { id } }',
            key=key,
        )
    ).ok()

    rows = await all_rows(api.db)
    assert rows["api_key"], rows.keys()
    for table, table_rows in rows.items():
        for row in table_rows:
            for column, value in row.items():
                stored = as_text(value)
                assert secret not in stored, f"{table}.{column} holds the key's secret"
                assert key not in stored, f"{table}.{column} holds the key"
    digest = hashlib.sha256(secret.encode()).hexdigest()
    stored_values = [as_text(v) for row in rows["api_key"] for v in row.values()]
    assert digest in stored_values, "the api_key table holds no SHA-256 of the secret"


# --- revocation -----------------------------------------------------------------------------


async def test_revocation_by_another_process_is_refused_on_the_very_next_request(api):
    """`promptgraph keys revoke` runs in its own process, with its own connection pool:
    a server that had just accepted the key refuses it on its next request."""
    info, key = await auth.create_key(api.db, "acme", "rita", Role.EDITOR)
    for _ in range(3):
        assert (await post(api, key)).status_code == 200
    response = await api.http.get(
        "/graphql", params={"query": VIEWER_QUERY}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200

    other_process = Database(api.db.url)
    try:
        await auth.revoke_key(other_process, info.id)
    finally:
        await other_process.dispose()

    assert_unauthenticated(await post(api, key))
    assert_unauthenticated(
        await api.http.get(
            "/graphql", params={"query": VIEWER_QUERY}, headers={"Authorization": f"Bearer {key}"}
        )
    )
    write = await post(
        api,
        key,
        'mutation { createPromptVersion(input: {name: "late", templateText: "t"}) { id } }',
    )
    assert_unauthenticated(write)
    assert (await api.gql('{ prompt(name: "late") { id } }')).ok() == {"prompt": None}


# --- logs -----------------------------------------------------------------------------------


def record_texts(record: logging.LogRecord) -> list[str]:
    texts = [record.getMessage(), repr(record.msg), repr(record.args), repr(vars(record))]
    if record.exc_info:
        texts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        texts.append(record.exc_text)
    if record.stack_info:
        texts.append(record.stack_info)
    return texts


@pytest.mark.parametrize("logger_name", [None, "promptgraph"], ids=["all-loggers", "promptgraph"])
async def test_keys_never_appear_in_logs(api, caplog, capsys, monkeypatch, logger_name):
    caplog.set_level(logging.DEBUG, logger=logger_name)
    info, key = await auth.create_key(api.db, "acme", "ann", Role.ADMIN)
    revoked_info, revoked = await auth.create_key(api.db, "acme", "rex", Role.ADMIN)
    await auth.revoke_key(api.db, revoked_info.id)
    wrong_secret = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")

    # Authenticated requests that succeed...
    assert (await post(api, key)).status_code == 200
    created = await post(
        api,
        key,
        'mutation { createPromptVersion(input: {name: "p", templateText: "Hi {{ x }}"}) { version } }',
    )
    assert created.json()["data"] == {"createPromptVersion": {"version": 1}}
    # ...that fail on the client's side...
    bad_input = await post(api, key, '{ promptVersion(name: "bad name!") { id } }')
    assert bad_input.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # ...with a wrong secret, a revoked key, or the key under another scheme...
    assert_unauthenticated(await post(api, wrong_secret))
    assert_unauthenticated(await post(api, revoked))
    assert_unauthenticated(await post(api, key, scheme="Token"))

    # ...and one that fails inside the server.
    def explode(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("listing exploded")

    monkeypatch.setattr(catalog, "list_prompts", explode)
    failed = (await post(api, key, "{ prompts { items { name } } }")).json()
    [error] = failed["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"

    # The internal error's detail did reach the log, with the request id it carries.
    request_id = error["extensions"]["requestId"]
    assert any(
        request_id in "\n".join(record_texts(r))
        and "listing exploded" in "\n".join(record_texts(r))
        for r in caplog.records
    ), [r.getMessage() for r in caplog.records]

    secrets = {
        "key": key,
        "secret": secret_of(key),
        "revoked key's secret": secret_of(revoked),
        "wrong secret": secret_of(wrong_secret),
    }
    for record in caplog.records:
        for logged in record_texts(record):
            for what, value in secrets.items():
                assert value not in logged, f"{what} logged by {record.name}: {logged[:300]}"
    captured = capsys.readouterr()
    for what, value in secrets.items():
        assert value not in captured.out + captured.err, f"{what} printed"
    assert info.id  # the key id itself is not secret: `keys list` shows it


# --- one Authorization header, read once -----------------------------------------------------


async def test_a_second_authorization_header_cannot_plant_an_answer_for_another_key(api):
    """The response cache and auth must read the same header: a request carrying a valid key
    and a made-up one must not leave the valid key's answer for the made-up one."""
    key = await api.key(role=Role.VIEWER)
    made_up = "pgk_0000000000000000_madeup"
    await feed_listening(api.db)
    for pair in ([f"Bearer {key}", f"Bearer {made_up}"], [f"Bearer {made_up}", f"Bearer {key}"]):
        both = await api.http.post(
            "/graphql",
            json={"query": VIEWER_QUERY},
            headers=[("Authorization", value) for value in pair],
        )
        # The made-up key alone, with exactly the same request: no answer without a valid key.
        assert_unauthenticated(await post(api, made_up))
        assert both.status_code == 400, both.text
        [error] = both.json()["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["requestId"] == both.headers["x-request-id"]
        assert "data" not in both.json()
    # The valid key itself still works, twice (the second may come from the cache).
    for _ in range(2):
        assert (await post(api, key)).json()["data"]["viewer"]["role"] == "VIEWER"
    assert_unauthenticated(await post(api, made_up))


async def test_two_authorization_headers_are_a_400_even_when_equal(api):
    key = await api.key()
    for method, request in [
        ("POST", {"json": {"query": VIEWER_QUERY}}),
        ("GET", {"params": {"query": VIEWER_QUERY}}),
    ]:
        response = await api.http.request(
            method,
            "/graphql",
            headers=[("Authorization", f"Bearer {key}"), ("Authorization", f"Bearer {key}")],
            **request,
        )
        assert response.status_code == 400, (method, response.text)
        assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["BAD_USER_INPUT"]


async def feed_listening(db: Database) -> None:
    """On PostgreSQL, where answers and keys are cached, wait until the cache may keep them."""
    if db.changes is not None:
        await wait_until_listening(db)


def _middleware(app: Any, kind: type) -> Any:
    node = app.middleware_stack
    while node is not None and not isinstance(node, kind):
        node = getattr(node, "app", None)
    assert node is not None, f"no {kind.__name__} in the app"
    return node


def _texts(value: Any) -> list[str]:
    if isinstance(value, tuple | list):
        return [text for item in value for text in _texts(item)]
    return [as_text(value)]


async def test_caches_hold_digests_of_keys_never_keys(api, backend):
    _, key = await auth.create_key(api.db, "acme", "dora", Role.VIEWER)
    await feed_listening(api.db)
    for _ in range(3):
        assert (await post(api, key)).status_code == 200
    app = api.http._transport.app
    response_cache_keys = list(_middleware(app, ResponseCache)._entries)
    key_cache_keys = list(app.state.authenticator._known)
    held = [held for entry in response_cache_keys + key_cache_keys for held in _texts(entry)]
    for value in held:
        assert key not in value and secret_of(key) not in value, value[:200]
    digest = hashlib.sha256(key.encode()).hexdigest()
    if backend == "postgres":  # only PostgreSQL announces changes, so only there is anything cached
        assert response_cache_keys and key_cache_keys
        assert all(digest in _texts(entry) for entry in response_cache_keys)
        assert key_cache_keys == [digest]
    else:
        assert held == []


# --- header size ----------------------------------------------------------------------------


async def test_headers_over_16_kib_are_a_431_before_auth_or_the_database(api, statements):
    key = await api.key()
    (await api.gql(VIEWER_QUERY, key=key)).ok()
    oversized = {
        "huge key": {"Authorization": f"Bearer {key}{'x' * 8_000_000}"},
        "17 KiB key": {"Authorization": "Bearer " + "k" * 17 * 1024},
        "many headers": {
            "Authorization": f"Bearer {key}",
            **{f"X-Pad-{i}": "p" * 1000 for i in range(17)},
        },
    }
    for name, headers in oversized.items():
        statements.reset()
        response = await api.http.post(
            "/graphql",
            json={"query": VIEWER_QUERY},
            headers={**headers, "X-Request-ID": f"big-{name.replace(' ', '-')}"},
        )
        assert response.status_code == 431, (name, response.status_code)
        [error] = response.json()["errors"]
        assert error["extensions"] == {
            "code": "BAD_USER_INPUT",
            "requestId": f"big-{name.replace(' ', '-')}",
        }
        assert statements.count == 0, (name, statements.statements)
    # Just under the limit, in all, is served.
    padding = {f"X-Pad-{i}": "p" * 1000 for i in range(15)}
    response = await api.http.post(
        "/graphql",
        json={"query": VIEWER_QUERY},
        headers={"Authorization": f"Bearer {key}", **padding},
    )
    assert response.status_code == 200, response.text
