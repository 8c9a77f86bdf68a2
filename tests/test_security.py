"""API keys: random, stored only as hashes, refused once revoked, never logged (contract 5, 6)."""

import hashlib
import itertools
import logging
import math
from typing import Any

import pytest
from sqlalchemy import inspect, text

from promptgraph.db import Database
from promptgraph.services import auth, catalog
from promptgraph.services.auth import Role

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
