"""HTTP limits of a real `promptgraph serve` process (uvicorn with httptools): what the
in-process tests cannot see, such as headers the server would buffer before the app runs."""

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from promptgraph.db import Database
from promptgraph.services import auth
from promptgraph.services.auth import Role

REPO = Path(__file__).resolve().parent.parent
PORTS = range(18200, 18300)
VIEWER_QUERY = "{ viewer { user } }"


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError(f"no free port in {PORTS}")


class Served:
    def __init__(self, base: str, port: int, key: str) -> None:
        self.base, self.port, self.key = base, port, key


@pytest.fixture
async def served(database_url: str, db: Database, tmp_path: Path) -> AsyncIterator[Served]:
    _, key = await auth.create_key(db, "acme", "ann", Role.VIEWER)
    port = free_port()
    env = {
        **os.environ,
        "PROMPTGRAPH_DATABASE_URL": database_url,
        "PYTHONPATH": str(REPO),
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "promptgraph.cli",
            "serve",
            "--port",
            str(port),
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            for _ in range(150):
                assert process.returncode is None, log_path.read_text()
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise AssertionError(f"serve never became healthy: {log_path.read_text()}")
        yield Served(base, port, key)
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def raw_request(
    port: int, head: bytes, *, piece: int, body: bytes = b""
) -> tuple[int, dict[str, str], bytes, int]:
    """Sends `head` (and `body`) in pieces, as a slow client would, watching for an answer
    after each piece; returns (status, headers, body, bytes sent before the answer came)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = head + body
    sent = 0
    answer = b""
    try:
        while sent < len(data):
            try:
                writer.write(data[sent : sent + piece])
                await writer.drain()
            except (ConnectionResetError, BrokenPipeError):
                break
            sent += min(piece, len(data) - sent)
            try:
                answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 0.02)
                break
            except TimeoutError:
                continue
        if not answer:
            answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status_line, *lines = answer.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        content = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 10)
        return int(status_line.split()[1]), headers, content, sent
    finally:
        writer.close()


def head_of(method: str, target: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"{method} {target} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def assert_431(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status == 431, body
    [error] = json.loads(body)["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["requestId"] == headers["x-request-id"]


async def test_serve_refuses_an_8_mb_header_while_it_arrives(served):
    """An 8 MB Authorization: refused with 431 long before the server has read it all, and
    the server goes on answering."""
    huge = "Bearer " + served.key + "x" * 8_000_000
    head = head_of(
        "POST",
        "/graphql",
        {"Authorization": huge, "Content-Type": "application/json", "Content-Length": "2"},
    )
    status, headers, body, sent = await raw_request(served.port, head, body=b"{}", piece=64 * 1024)
    assert_431(status, headers, body)
    assert sent < 1_000_000, f"the server read {sent} bytes of headers before refusing"

    async with httpx.AsyncClient(base_url=served.base, timeout=5) as http:
        assert (await http.get("/healthz")).status_code == 200
        response = await http.post(
            "/graphql",
            json={"query": VIEWER_QUERY},
            headers={"Authorization": f"Bearer {served.key}"},
        )
        assert response.json() == {"data": {"viewer": {"user": "ann"}}}


async def test_serve_answers_431_to_headers_over_16_kib_sent_at_once(served):
    async with httpx.AsyncClient(base_url=served.base, timeout=5) as http:
        for headers in [
            {"Authorization": f"Bearer {served.key}{'x' * 17 * 1024}"},
            {
                "Authorization": f"Bearer {served.key}",
                **{f"X-Pad-{i}": "p" * 1000 for i in range(17)},
            },
        ]:
            response = await http.post(
                "/graphql",
                json={"query": VIEWER_QUERY},
                headers={"X-Request-ID": "big-1", **headers},
            )
            assert_431(response.status_code, response.headers, response.content)
            assert response.headers["x-request-id"] == "big-1"


async def test_serve_takes_headers_just_under_16_kib_and_a_long_url_sent_slowly(served):
    """The limit is on headers, in all: not on the URL (a GET carries its query there), and
    not stricter when headers come in small pieces."""
    padding = {f"X-Pad-{i}": "p" * 1000 for i in range(15)}
    query = "# " + "c" * 40_000 + "\n" + VIEWER_QUERY
    target = "/graphql?" + urlencode({"query": query})
    assert len(target) > 32 * 1024
    head = head_of(
        "GET",
        target,
        {"Authorization": f"Bearer {served.key}", "Accept": "application/json", **padding},
    )
    status, _headers, body, _sent = await raw_request(served.port, head, piece=1024)
    assert status == 200, body
    assert json.loads(body) == {"data": {"viewer": {"user": "ann"}}}
