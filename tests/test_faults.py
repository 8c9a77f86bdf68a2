"""Faults: the database restarts under load, the service is killed under load (PostgreSQL).

Each test runs the real `promptgraph serve` process against a throwaway PostgreSQL cluster
this module starts itself (initdb/pg_ctl, 127.0.0.1 and a free port only), so the
machine's own PostgreSQL service is never touched. A steady write load runs from the test;
every write has its own identity (a prompt name, a text, a trace id) and is never retried,
so afterwards each one must be present exactly once if it was acknowledged, at most once if
its outcome was unknown, and complete (all its tags, its revision, its trace) if present.
"""

import asyncio
import collections
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from promptgraph import migrations
from tests.conftest import run_blocking

CONSOLE_SCRIPT = Path(sys.executable).parent / "promptgraph"
# Contract: a request the store cannot serve fails fast, with this message (extensions.code
# INTERNAL_SERVER_ERROR), as HTTP 503 at the door or as a GraphQL error during execution.
UNAVAILABLE_TEXT = "the store is unavailable"
FAIL_FAST_S = 5.0  # the slowest acceptable answer while the database is down
RECOVERY_S = 10.0  # how long after the database is back every kind of write must succeed
SETTLE_S = 2.0  # after the database is back, requests started this much later must succeed
HTTP_TIMEOUT_S = 20.0  # a request hanging this long is reported as a hang, not waited on
WORKERS = 6
MAX_WRITES_PER_WORKER = 2_000
KINDS = ("create", "auto", "overwrite", "usage")
AUTO_PROMPT = "auto-steady"
USAGE_PROMPT = "usage-target"


# --- the throwaway cluster ------------------------------------------------------------


def _postgres_bin_dir() -> Path | None:
    candidates = sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Cluster:
    """A PostgreSQL cluster in a temporary directory, run as the `postgres` user under root
    (initdb refuses root), trust auth, TCP on 127.0.0.1 only, its socket in the directory."""

    bin_dir: Path
    root: Path
    port: int
    owner: pwd.struct_passwd | None  # who runs the server; None: this process's user

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.owner is not None:
            command = ["runuser", "-u", self.owner.pw_name, "--", *command]
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def _check(self, *args: str, timeout: float = 60) -> str:
        done = self._run(*args, timeout=timeout)
        assert done.returncode == 0, (
            f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
            f"{self.log_tail()}"
        )
        return done.stdout

    def init(self) -> None:
        socket_dir = self.root / "socket"
        socket_dir.mkdir()
        if self.owner is not None:
            os.chown(socket_dir, self.owner.pw_uid, self.owner.pw_gid)
        self._check(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
        )
        settings = (
            f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
            f"unix_socket_directories = '{socket_dir}'\n"
            "fsync = on\nsynchronous_commit = on\nfull_page_writes = on\n"
            "max_connections = 100\n"
        )
        conf = self.data / "postgresql.conf"
        conf.write_text(conf.read_text() + settings)

    def start(self) -> None:
        self._check(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-w", "-t", "30", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._check("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def is_running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", timeout=30).returncode == 0

    def ensure_running(self) -> None:
        if not self.is_running():
            self.start()

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no PostgreSQL log)"
        return "PostgreSQL log tail:\n" + "\n".join(text.splitlines()[-lines:])


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    bin_dir = _postgres_bin_dir()
    owner = None
    problem = None
    if bin_dir is None:
        problem = "PostgreSQL server binaries (initdb, pg_ctl) not found"
    elif os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            problem = "running as root and there is no `postgres` user to run initdb as"
        if shutil.which("runuser") is None:
            problem = "running as root and `runuser` is missing"
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    assert bin_dir is not None
    root = Path(tempfile.mkdtemp(prefix="promptgraph-faults-"))
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    instance = Cluster(bin_dir, root, _free_port(), owner)
    try:
        instance.init()
        instance.start()
        yield instance
    finally:
        try:
            if instance.data.exists():
                instance._run("pg_ctl", "-D", str(instance.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(root, ignore_errors=True)


async def _admin(dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
def fault_database(cluster: Cluster) -> str:
    """A fresh, migrated database in the throwaway cluster; returns its SQLAlchemy URL."""
    cluster.ensure_running()
    name = f"faults_{uuid.uuid4().hex[:12]}"
    run_blocking(asyncio.run, _admin(cluster.dsn(), f'CREATE DATABASE "{name}"'))
    url = cluster.url(name)
    run_blocking(migrations.upgrade, url)
    return url


def _dsn_of(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


# --- the service, as a real process -----------------------------------------------------


def _service_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTGRAPH_")}
    env["PROMPTGRAPH_DATABASE_URL"] = database_url
    env["PYTHONUNBUFFERED"] = "1"
    return env


async def mint_key(database_url: str) -> str:
    process = await asyncio.create_subprocess_exec(
        str(CONSOLE_SCRIPT),
        "keys",
        "create",
        "--workspace",
        "faults",
        "--user",
        "loader",
        "--role",
        "admin",
        env=_service_env(database_url),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, stderr.decode()
    return stdout.decode().strip().splitlines()[-1]


class Service:
    """`promptgraph serve` on 127.0.0.1 and a free port; its output goes to a log file."""

    def __init__(self, database_url: str, log_path: Path) -> None:
        self.database_url = database_url
        self.log_path = log_path
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, ready_within: float = 30) -> None:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                str(CONSOLE_SCRIPT),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                env=_service_env(self.database_url),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + ready_within
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2, trust_env=False) as http:
            while True:
                assert self.process.returncode is None, f"service exited\n{self.log_tail()}"
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"service not ready\n{self.log_tail()}"
                await asyncio.sleep(0.1)

    async def kill(self) -> None:
        """SIGKILL: no shutdown of any kind, like a crash or the OOM killer."""
        assert self.process is not None and self.process.returncode is None
        os.kill(self.process.pid, signal.SIGKILL)
        await asyncio.wait_for(self.process.wait(), timeout=10)

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), timeout=10)
        except TimeoutError:
            self.process.kill()
            await asyncio.wait_for(self.process.wait(), timeout=10)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 20) -> str:
        """The server's own messages (access lines left out), the store-unavailable
        warnings counted by the error they name."""
        reasons: collections.Counter[str] = collections.Counter()
        other: list[str] = []
        for line in self.log().splitlines():
            if '"POST /graphql' in line or '"GET /healthz' in line:
                continue
            if "store unavailable, request" in line:
                reasons[line.split(": ", 2)[-1][:160]] += 1
            else:
                other.append(line[:300])
        counted = "\n".join(f"  {n:5d} x {reason}" for reason, n in reasons.most_common())
        return (
            f"service log, store-unavailable warnings by error:\n{counted or '  none'}\n"
            "service log, other lines (tail):\n" + "\n".join(other[-lines:])
        )

    def lines_about(self, request_id: str) -> list[str]:
        return [line[:400] for line in self.log().splitlines() if request_id in line]


# --- the write load ----------------------------------------------------------------------

CREATE = """mutation($input: CreatePromptVersionInput!) {
  createPromptVersion(input: $input) { name version templateText tags }
}"""
SAVE = """mutation($input: SavePromptVersionInput!) {
  savePromptVersion(input: $input) { name version templateText tags }
}"""
USAGE = """mutation($input: RecordUsageInput!) { recordUsage(input: $input) { status } }"""


def create_tags(name: str) -> list[str]:
    return [f"{name}-a", f"{name}-b", f"{name}-c"]


@dataclass(frozen=True)
class Write:
    kind: str
    worker: int
    index: int

    @property
    def ident(self) -> str:
        """What identifies the write in the store: a prompt name, a text or a trace id."""
        if self.kind == "create":
            return f"crt-{self.worker}-{self.index}"
        if self.kind == "usage":
            return str(uuid.uuid5(uuid.NAMESPACE_URL, f"trace-{self.worker}-{self.index}"))
        prefix = "auto" if self.kind == "auto" else "ovr"
        return f"{prefix}-{self.worker}-{self.index}"

    def request(self) -> tuple[str, dict[str, Any]]:
        ident = self.ident
        if self.kind == "create":
            content = {
                "name": ident,
                "templateText": f"text of {ident}",
                "tags": create_tags(ident),
                "metadata": {"writer": self.worker, "index": self.index},
            }
            return CREATE, {"input": content}
        if self.kind == "auto":
            content = {"name": AUTO_PROMPT, "templateText": ident, "autoIncrement": True}
            return SAVE, {"input": {**content, "tags": [ident]}}
        if self.kind == "overwrite":
            content = {"name": f"ovr-{self.worker}", "templateText": ident, "version": 1}
            return SAVE, {"input": {**content, "tags": [ident]}}
        outcome = {"status": "SUCCESS", "latencyMs": float(self.index)}
        usage = {"promptName": USAGE_PROMPT, "promptVersion": 1, "traceId": ident}
        return USAGE, {"input": {**usage, "outcome": outcome}}

    def acknowledged(self, data: Any) -> bool:
        """Whether a response's data is this write's success, with the content it sent."""
        if not isinstance(data, dict):
            return False
        if self.kind == "usage":
            return data.get("recordUsage") == {"status": "recorded"}
        payload = data.get("createPromptVersion" if self.kind == "create" else "savePromptVersion")
        if not isinstance(payload, dict):
            return False
        if self.kind == "create":
            return payload["tags"] == sorted(create_tags(self.ident)) and payload["version"] == 1
        return payload["templateText"] == self.ident and self.ident in payload["tags"]


@dataclass
class Attempt:
    write: Write
    started: float  # time.monotonic()
    elapsed: float
    status: int | None  # None: no HTTP response (transport error)
    body: Any
    outcome: str  # "ok", "unavailable", "transport", "unexpected"
    shape: str  # what the response looked like, for the report


def describe(status: int | None, body: Any, error: BaseException | None = None) -> str:
    if error is not None:
        return f"no response: {type(error).__name__}"
    if not isinstance(body, dict):
        return f"HTTP {status}, non-JSON body"
    errors = body.get("errors") or []
    parts = [f"HTTP {status}"]
    if "data" in body:
        parts.append("data=null" if body["data"] is None else "data")
    for error in errors[:2]:
        extensions = error.get("extensions") or {}
        keys = sorted(k for k in extensions if k not in {"code", "reason"})
        parts.append(
            f"error(code={extensions.get('code')}, reason={extensions.get('reason')}, "
            f"message={error.get('message')!r}, path={error.get('path')}, other={keys})"
        )
    return ", ".join(parts)


def classify(write: Write, status: int | None, body: Any) -> str:
    if status is None:
        return "transport"
    if not isinstance(body, dict):
        return "unexpected"
    errors = body.get("errors") or []
    if status == 200 and not errors and write.acknowledged(body.get("data")):
        return "ok"
    unavailable = bool(errors) and all(
        (e.get("extensions") or {}).get("code") == "INTERNAL_SERVER_ERROR"
        and UNAVAILABLE_TEXT in str(e.get("message", "")).lower()
        for e in errors
    )
    if unavailable and status in (200, 503):
        return "unavailable"
    return "unexpected"


@dataclass
class Load:
    http: httpx.AsyncClient
    key: str
    pause: float
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    attempts: list[Attempt] = field(default_factory=list)
    in_flight: int = 0

    async def send(self, write: Write) -> Attempt:
        query, variables = write.request()
        started = time.monotonic()
        self.in_flight += 1
        try:
            response = await self.http.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {self.key}"},
            )
        except httpx.TransportError as error:
            elapsed = time.monotonic() - started
            return Attempt(
                write, started, elapsed, None, None, "transport", describe(None, None, error)
            )
        finally:
            self.in_flight -= 1
        elapsed = time.monotonic() - started
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text[:500]
        outcome = classify(write, response.status_code, body)
        return Attempt(
            write, started, elapsed, response.status_code, body, outcome,
            describe(response.status_code, body),
        )  # fmt: skip

    async def worker(self, number: int, deadline: float) -> None:
        for index in range(MAX_WRITES_PER_WORKER):
            if self.stop.is_set() or time.monotonic() > deadline:
                return
            write = Write(KINDS[(index + number) % len(KINDS)], number, index)
            self.attempts.append(await self.send(write))
            await asyncio.sleep(self.pause)

    def run(self, seconds_at_most: float) -> "asyncio.Future[list[None]]":
        deadline = time.monotonic() + seconds_at_most
        return asyncio.gather(*(self.worker(number, deadline) for number in range(WORKERS)))

    def acked(self) -> set[Write]:
        return {a.write for a in self.attempts if a.outcome == "ok"}

    def attempted(self) -> set[Write]:
        return {a.write for a in self.attempts}


def _client(base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=HTTP_TIMEOUT_S,
        trust_env=False,
        limits=httpx.Limits(max_connections=WORKERS + 4, max_keepalive_connections=WORKERS + 4),
    )


async def gql(http: httpx.AsyncClient, key: str, query: str, variables: Any = None) -> Any:
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {key}"},
    )
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return body["data"]


async def prepare(http: httpx.AsyncClient, key: str) -> None:
    await gql(
        http,
        key,
        CREATE,
        {"input": {"name": USAGE_PROMPT, "templateText": "the target of usages"}},
    )


# --- what the store holds afterwards -----------------------------------------------------


@dataclass
class Snapshot:
    # created prompt name -> its versions as (version, text, sorted tags, metadata)
    created: dict[str, list[tuple[int, str | None, list[str], Any]]]
    # versions of AUTO_PROMPT as (version, text, sorted tags), by version
    auto: list[tuple[int, str | None, list[str]]]
    # overwritten prompt name -> its versions as (version, texts oldest first, sorted tags)
    overwritten: dict[str, list[tuple[int, list[str | None], list[str]]]]
    # trace id -> (usages of it, its trace status); None when read through the API
    traces: dict[str, tuple[int, str | None]] | None
    distinct_traces: int


async def sql_snapshot(database_url: str) -> Snapshot:
    connection = await asyncpg.connect(_dsn_of(database_url), timeout=10)
    try:
        tags_of = """COALESCE((SELECT array_agg(t.tag ORDER BY t.tag) FROM version_tag t
                               WHERE t.version_id = v.id), '{}')"""
        created: dict[str, list[Any]] = collections.defaultdict(list)
        for row in await connection.fetch(
            f"""SELECT p.name, v.version, v.template_text, v.meta, {tags_of} AS tags
                FROM prompt p LEFT JOIN prompt_version v ON v.prompt_id = p.id
                WHERE p.name LIKE 'crt-%' ORDER BY p.name, v.version"""
        ):
            meta = json.loads(row["meta"]) if row["meta"] is not None else None
            created[row["name"]].append(
                (row["version"], row["template_text"], list(row["tags"]), meta)
            )
        auto = [
            (row["version"], row["template_text"], list(row["tags"]))
            for row in await connection.fetch(
                f"""SELECT v.version, v.template_text, {tags_of} AS tags
                    FROM prompt p JOIN prompt_version v ON v.prompt_id = p.id
                    WHERE p.name = $1 ORDER BY v.version""",
                AUTO_PROMPT,
            )
        ]
        overwritten: dict[str, list[Any]] = collections.defaultdict(list)
        for row in await connection.fetch(
            f"""SELECT p.name, v.version, v.template_text, {tags_of} AS tags,
                       COALESCE((SELECT array_agg(r.template_text ORDER BY r.id)
                                 FROM prompt_revision r WHERE r.version_id = v.id), '{{}}')
                         AS revisions
                FROM prompt p LEFT JOIN prompt_version v ON v.prompt_id = p.id
                WHERE p.name LIKE 'ovr-%' ORDER BY p.name, v.version"""
        ):
            texts = [*row["revisions"], row["template_text"]]
            overwritten[row["name"]].append((row["version"], texts, list(row["tags"])))
        traces: dict[str, tuple[int, str | None]] = {}
        for row in await connection.fetch(
            """SELECT COALESCE(u.trace_id, t.trace_id)::text AS trace_id,
                      count(u.id) AS usages, max(t.status) AS status
               FROM usage u FULL JOIN trace t ON t.trace_id = u.trace_id
               GROUP BY COALESCE(u.trace_id, t.trace_id)"""
        ):
            traces[row["trace_id"]] = (row["usages"], row["status"])
        distinct = await connection.fetchval("SELECT count(DISTINCT trace_id) FROM usage")
    finally:
        await connection.close()
    return Snapshot(dict(created), auto, dict(overwritten), traces, distinct)


async def _pages(
    http: httpx.AsyncClient, key: str, query: str, variables: dict[str, Any], root: str
) -> list[Any]:
    items: list[Any] = []
    for offset in range(0, 100_000, 100):
        page = (await gql(http, key, query, {**variables, "offset": offset}))[root]
        items.extend(page["items"])
        if offset + 100 >= page["pagination"]["total"]:
            return items
    raise AssertionError("too many pages")


async def api_snapshot(http: httpx.AsyncClient, key: str) -> Snapshot:
    prompts = """query($search: String!, $offset: Int!) {
      prompts(search: $search, offset: $offset, limit: 100) {
        items { name versionCount versions(includeArchived: true, limit: 5) {
          items { version templateText tags metadata revisions { templateText } } } }
        pagination { total }
      }
    }"""
    created = {
        prompt["name"]: [
            (v["version"], v["templateText"], v["tags"], v["metadata"])
            for v in reversed(prompt["versions"]["items"])
        ]
        for prompt in await _pages(http, key, prompts, {"search": "crt-"}, "prompts")
        if prompt["name"].startswith("crt-")
    }
    overwritten = {
        prompt["name"]: [
            (
                v["version"],
                [r["templateText"] for r in reversed(v["revisions"])] + [v["templateText"]],
                v["tags"],
            )
            for v in reversed(prompt["versions"]["items"])
        ]
        for prompt in await _pages(http, key, prompts, {"search": "ovr-"}, "prompts")
        if prompt["name"].startswith("ovr-")
    }
    versions = """query($name: String!, $offset: Int!) {
      promptVersions(name: $name, includeArchived: true, offset: $offset, limit: 100) {
        items { version templateText tags } pagination { total }
      }
    }"""
    auto = sorted(
        (v["version"], v["templateText"], v["tags"])
        for v in await _pages(http, key, versions, {"name": AUTO_PROMPT}, "promptVersions")
    )
    metrics = (
        f'{{ promptVersion(name: "{USAGE_PROMPT}", version: 1) {{ metrics {{ totalTraces }} }} }}'
    )
    distinct = (await gql(http, key, metrics))["promptVersion"]["metrics"]["totalTraces"]
    return Snapshot(created, auto, overwritten, None, distinct)


def check_writes(load: Load, snapshot: Snapshot) -> list[str]:
    """Everything acknowledged is there exactly once; nothing is there twice, or in part,
    or without having been sent."""
    problems: list[str] = []
    acked, attempted = load.acked(), load.attempted()

    def sent(kind: str) -> dict[str, Write]:
        return {w.ident: w for w in attempted if w.kind == kind}

    # createPromptVersion: one prompt, one version 1, its text, exactly its three tags.
    creates = sent("create")
    for name, versions in snapshot.created.items():
        write = creates.get(name)
        if write is None:
            problems.append(f"create {name}: in the store but never sent")
            continue
        expected = [
            (
                1,
                f"text of {name}",
                sorted(create_tags(name)),
                {"writer": write.worker, "index": write.index},
            )
        ]
        if versions != expected:
            problems.append(f"create {name}: stored {versions}, sent {expected}")
    for write in acked:
        if write.kind == "create" and write.ident not in snapshot.created:
            problems.append(f"create {write.ident}: acknowledged but missing")

    # savePromptVersion(autoIncrement): each text in exactly one version, with its tag;
    # numbers 1..N without a gap (a failed save uses no number).
    autos = sent("auto")
    texts = collections.Counter(text for _, text, _ in snapshot.auto)
    numbers = [number for number, _, _ in snapshot.auto]
    if numbers != list(range(1, len(numbers) + 1)):
        problems.append(f"auto: version numbers are not 1..N: {numbers}")
    for number, text, tags in snapshot.auto:
        if text not in autos:
            problems.append(f"auto v{number}: text {text!r} never sent")
        elif texts[text] > 1:
            problems.append(f"auto: text {text!r} stored {texts[text]} times")
        if tags != [text]:
            problems.append(f"auto v{number} {text!r}: tags {tags}, expected [{text!r}]")
    for write in acked:
        if write.kind == "auto" and texts[write.ident] != 1:
            problems.append(f"auto {write.ident}: acknowledged, stored {texts[write.ident]} times")

    # savePromptVersion(version: 1), sequential per worker: the version's history (revisions,
    # then its current text) is the worker's committed saves in order, each with its tag.
    overwrites = sent("overwrite")
    for name, versions in snapshot.overwritten.items():
        if [number for number, _, _ in versions] != [1]:
            problems.append(f"{name}: versions {[v for v, _, _ in versions]}, expected [1]")
            continue
        _, history, tags = versions[0]
        if any(text not in overwrites for text in history):
            problems.append(f"{name}: history {history} holds a text never sent")
            continue
        order = [overwrites[text].index for text in history]
        if order != sorted(set(order)):
            problems.append(f"{name}: history out of order or repeated: {history}")
        if tags != sorted(history):
            problems.append(f"{name}: tags {tags} do not match history {history}")
    for write in acked:
        if write.kind != "overwrite":
            continue
        versions = snapshot.overwritten.get(f"ovr-{write.worker}", [])
        if not any(write.ident in history for _, history, _ in versions):
            problems.append(f"overwrite {write.ident}: acknowledged but not in the history")

    # recordUsage with an outcome: one usage and its trace's status, or neither.
    usages = sent("usage")
    if snapshot.traces is not None:
        for trace, (count, status) in snapshot.traces.items():
            if trace not in usages:
                problems.append(f"trace {trace}: in the store but never sent")
            elif (count, status) != (1, "SUCCESS"):
                problems.append(f"trace {trace}: {count} usages, status {status}")
        for write in acked:
            if write.kind == "usage" and write.ident not in snapshot.traces:
                problems.append(f"usage {write.ident}: acknowledged but missing")
    acked_usages = sum(1 for w in acked if w.kind == "usage")
    sent_usages = len(usages)
    if not acked_usages <= snapshot.distinct_traces <= sent_usages:
        problems.append(
            f"usage: {snapshot.distinct_traces} traces stored, "
            f"{acked_usages} acknowledged, {sent_usages} sent"
        )
    return problems


def stored_writes(snapshot: Snapshot) -> set[str]:
    """The identities of every write the store holds."""
    present = set(snapshot.created) | {text for _, text, _ in snapshot.auto}
    for versions in snapshot.overwritten.values():
        present.update(text for _, history, _ in versions for text in history)
    present.update(snapshot.traces or {})
    return {text for text in present if text is not None}


def _error_below_root(body: Any) -> bool:
    """Whether a GraphQL error sits on a field under the mutation (tags, version...)."""
    errors = body.get("errors") if isinstance(body, dict) else None
    return any(len(error.get("path") or ()) > 1 for error in errors or ())


def _request_id(body: Any) -> str:
    for error in body.get("errors") or ():
        request_id = (error.get("extensions") or {}).get("requestId")
        if request_id:
            return str(request_id)
    return "(no request id)"


def comparable(snapshot: Snapshot) -> tuple[Any, ...]:
    return snapshot.created, snapshot.auto, snapshot.overwritten, snapshot.distinct_traces


def summary(attempts: list[Attempt]) -> str:
    shapes = collections.Counter((a.write.kind, a.outcome, a.shape) for a in attempts)
    return "\n".join(f"  {n:5d} x {k} {o}: {s}" for (k, o, s), n in sorted(shapes.items()))


def describe_all(attempts: Iterable[Attempt]) -> list[str]:
    """One line per attempt (kind, identity, duration, response shape, body): the evidence."""
    return [
        f"{a.write.kind} {a.write.ident} in {a.elapsed:.2f}s: {a.shape}; body={str(a.body)[:300]}"
        for a in attempts
    ]


def first(attempts: list[Attempt], limit: int = 5) -> str:
    return "\n".join(describe_all(attempts[:limit]))


@pytest.fixture
async def services() -> AsyncIterator[list[Service]]:
    """Every service a test starts is stopped at its end, whatever happened."""
    started: list[Service] = []
    try:
        yield started
    finally:
        for service in started:
            await service.stop()


# --- the tests ----------------------------------------------------------------------------


async def test_database_restart_under_load(cluster, fault_database, services, tmp_path):
    service = Service(fault_database, tmp_path / "service.log")
    services.append(service)
    _, key = await asyncio.gather(service.start(), mint_key(fault_database))

    async with _client(service.base_url) as http, _client(service.base_url) as probe:
        await prepare(http, key)
        load = Load(http, key, pause=0.02)
        workers = asyncio.ensure_future(load.run(seconds_at_most=40))
        try:
            await asyncio.sleep(2.0)
            assert (await probe.get("/healthz")).status_code == 200
            assert len([a for a in load.attempts if a.outcome == "ok"]) > 20, summary(load.attempts)

            outage_began = time.monotonic()
            await asyncio.to_thread(cluster.stop, "fast")
            database_down = time.monotonic()
            health_down: list[tuple[int, float]] = []
            while time.monotonic() < database_down + 3.0:
                started = time.monotonic()
                status = (await probe.get("/healthz")).status_code
                health_down.append((status, time.monotonic() - started))
                await asyncio.sleep(0.3)
            restart_began = time.monotonic()
            await asyncio.to_thread(cluster.start)
            database_up = time.monotonic()

            # Without restarting the service, every kind of write succeeds again, soon.
            recovered: dict[str, float] = {}
            health_up = None
            while time.monotonic() < database_up + RECOVERY_S:
                for attempt in load.attempts:
                    if attempt.outcome == "ok" and attempt.started >= database_up:
                        recovered.setdefault(attempt.write.kind, attempt.started - database_up)
                if health_up is None and (await probe.get("/healthz")).status_code == 200:
                    health_up = time.monotonic() - database_up
                if len(recovered) == len(KINDS) and health_up is not None:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(SETTLE_S + 1.0)
        finally:
            load.stop.set()
            await asyncio.wait_for(workers, timeout=HTTP_TIMEOUT_S + 10)

        attempts = load.attempts
        report = (
            f"outage {restart_began - database_down:.1f}s; shapes seen:\n{summary(attempts)}\n"
            f"healthz while down: {[(s, round(e, 3)) for s, e in health_down]}\n"
            f"recovered after: { {k: round(v, 3) for k, v in recovered.items()} }, "
            f"healthz 200 after {health_up}\n{service.log_tail()}"
        )
        print(report)
        stored = await sql_snapshot(fault_database)
        listed = await api_snapshot(http, key)
        assert service.process is not None and service.process.returncode is None

    # Each check adds what it finds, so one run reports every way the contract is broken.
    violations: list[str] = []

    def check(name: str, found: list[Any]) -> None:
        if found:
            violations.append(f"{name}:\n" + "\n".join(f"  {item}" for item in found[:10]))

    # Every acknowledged write is there exactly once, complete; the API agrees with SQL.
    check("writes lost, duplicated or half-written", check_writes(load, stored))
    if comparable(listed) != comparable(stored):
        violations.append("the API and the database disagree")

    # Nothing hangs: while the store is down every answer is quick, /healthz says 503.
    check(
        f"requests taking >= {FAIL_FAST_S}s",
        describe_all(a for a in attempts if a.elapsed >= FAIL_FAST_S),
    )
    check(
        "/healthz while the database is down",
        [
            f"HTTP {status} in {elapsed:.2f}s"
            for status, elapsed in health_down
            if status != 503 or elapsed >= FAIL_FAST_S
        ]
        or ([] if health_down else ["never probed"]),
    )

    # Nothing but success or a clear "store unavailable": no 401, no masked 500, no dropped
    # connection, no stack or SQL in a body.
    check(
        "responses neither a success nor 'store unavailable'",
        describe_all(a for a in attempts if a.outcome not in {"ok", "unavailable"}),
    )
    down = [a for a in attempts if database_down <= a.started < restart_began]
    check("requests sent while the database was down", [] if down else ["none"])
    check(
        "successes while the database was down", describe_all(a for a in down if a.outcome == "ok")
    )
    before = [a for a in attempts if a.started + a.elapsed < outage_began]
    check("failures before the outage", describe_all(a for a in before if a.outcome != "ok"))

    # Back without a restart: each kind of write succeeds within RECOVERY_S, and from
    # SETTLE_S on, every request does.
    check("kinds of write that never recovered", sorted(set(KINDS) - set(recovered)))
    check("/healthz never 200 again", [] if health_up is not None else ["never"])
    settled = [a for a in attempts if a.started >= database_up + SETTLE_S]
    check("requests after recovery", [] if settled else ["none"])
    check("failures after recovery", describe_all(a for a in settled if a.outcome != "ok"))

    # A write that fails changes nothing (contract, section 5). An error below the mutation's
    # root field means the mutation itself returned, so its transaction had committed: the
    # client is told "failed" about a write that is stored, and a retry would duplicate it.
    # (An error on the root field with the write stored would be a commit whose answer was
    # lost, which no server can rule out; it is reported, not failed on.)
    present = stored_writes(stored)
    failed_but_stored = [a for a in attempts if a.outcome != "ok" and a.write.ident in present]
    committed = [a for a in failed_but_stored if _error_below_root(a.body)]
    check(
        "writes answered with an error after they committed",
        [
            f"{line}\n    server log: {service.lines_about(_request_id(attempt.body))}"
            for attempt, line in zip(committed, describe_all(committed), strict=True)
        ],
    )
    in_doubt = describe_all(a for a in failed_but_stored if a not in committed)
    report += "\nroot-level errors whose write is stored (in doubt): " + str(in_doubt or "none")

    # An INTERNAL_SERVER_ERROR carries the request id the server logged it under (section 5).
    check(
        "INTERNAL_SERVER_ERROR without extensions.requestId",
        describe_all(
            a
            for a in attempts
            if a.outcome == "unavailable"
            and not all((e.get("extensions") or {}).get("requestId") for e in a.body["errors"])
        ),
    )
    if violations:
        pytest.fail("\n".join(violations) + "\n" + report, pytrace=False)


async def test_service_killed_under_load(cluster, fault_database, services, tmp_path):
    first_service = Service(fault_database, tmp_path / "service-1.log")
    services.append(first_service)
    _, key = await asyncio.gather(first_service.start(), mint_key(fault_database))

    async with _client(first_service.base_url) as http:
        await prepare(http, key)
        load = Load(http, key, pause=0.0)
        workers = asyncio.ensure_future(load.run(seconds_at_most=30))
        try:
            await asyncio.sleep(1.5)
            in_flight = load.in_flight
            killed_at = time.monotonic()
            await first_service.kill()
        finally:
            load.stop.set()
            await asyncio.wait_for(workers, timeout=HTTP_TIMEOUT_S + 10)

    attempts = load.attempts
    report = (
        f"requests in flight at the kill: {in_flight}\n{summary(attempts)}\n"
        f"{first_service.log_tail()}"
    )
    print(report)
    assert first_service.process is not None and first_service.process.returncode == -9
    finished_before = [a for a in attempts if a.started + a.elapsed < killed_at]
    assert len(finished_before) > 20 and all(a.outcome == "ok" for a in finished_before), report
    odd = [a for a in attempts if a.outcome not in {"ok", "transport"}]
    assert not odd, f"unexpected responses:\n{first(odd)}\n{report}"
    assert in_flight > 0, report

    second_service = Service(fault_database, tmp_path / "service-2.log")
    services.append(second_service)
    await second_service.start()
    stored = await sql_snapshot(fault_database)
    problems = check_writes(load, stored)
    assert not problems, "\n".join(problems[:30]) + "\n" + report

    async with _client(second_service.base_url) as http:
        assert comparable(await api_snapshot(http, key)) == comparable(stored)
        # The restarted service carries on where the killed one stopped.
        after = await gql(
            http,
            key,
            SAVE,
            {
                "input": {
                    "name": AUTO_PROMPT,
                    "templateText": "after the kill",
                    "autoIncrement": True,
                }
            },
        )
        assert after["savePromptVersion"]["version"] == len(stored.auto) + 1
        created = await gql(
            http,
            key,
            CREATE,
            {"input": {"name": "after-kill", "templateText": "x", "tags": ["b", "a"]}},
        )
        assert created["createPromptVersion"]["tags"] == ["a", "b"]
