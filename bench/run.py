"""promptgraph's benchmark: one command sets everything up, measures, and reports.

    bench/run [options]                       # installs wrk and the venv if missing, then this
    .venv/bin/python -m bench.run [options]   # from the project folder

1. Recreates the database `promptgraph_bench` on the PostgreSQL of `--pg`, migrates it, makes
   an admin key with `promptgraph keys create`, and saves 200 prompts x 10 versions (labels,
   tags) and `compare-20` (20 versions) through promptgraph's service layer (bench/dataset.py).
2. Starts `promptgraph serve` (`--workers 2` when the command has the option) on that database.
3. For each scale (10k, 100k, 1M traces, cumulative; generated in SQL from a fixed seed):
   SQL statements per request of W1-W4, then W2 and W3 latency with wrk.
4. At the largest scale: W1 with wrk (32 connections), W2 without metrics (the page PostGraphile
   can serve too), then W4 (recordUsage; recordTraces in batches of 500), checking
   acknowledged writes against the rows stored. Then promptgraph's memory per worker.
5. Each peer in turn (installed in bench/.work, started alone, fed the same prompts): W1 with
   the same wrk settings, W2 for PostGraphile, peak RSS of its process tree; then stopped.
6. Prints the Markdown report and writes it to bench/RESULTS.md (a `--quick` run, to
   bench/.work/RESULTS-quick.md).

Every load is wrk with a fixed duration against 127.0.0.1, preceded by a short warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx

from bench import dataset as data
from bench.load import (
    FETCH_LUA,
    RECORD_TRACES_LUA,
    RECORD_USAGE_LUA,
    OtherCpu,
    RssSampler,
    WrkResult,
    WrkSettings,
    cpu_busy_share,
    peak_rss_mb,
    rss_mb,
    run_wrk,
    wrk_command,
)
from bench.peers import (
    DEFAULT_WORKDIR,
    HOST,
    MLFLOW_PACKAGES,
    NODE_PACKAGES,
    PEERS,
    PHOENIX_PACKAGES,
    Endpoint,
    PostGraphilePeer,
    database_url,
    free_port,
    recreate_database,
)
from bench.peers_smoke import check_w1
from bench.report import (
    IngestResult,
    Machine,
    PeerResult,
    RunResult,
    ScaleResult,
    WorkerMemory,
    render,
)
from bench.server import PromptgraphServer, promptgraph_executable, supports_workers
from bench.statements import count_statements
from promptgraph.migrations import upgrade

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
RESULTS = BENCH_DIR / "RESULTS.md"
QUICK_RESULTS = DEFAULT_WORKDIR / "RESULTS-quick.md"
DATABASE = "promptgraph_bench"
SCALES = "10k,100k,1M"
QUICK_PEERS = "postgraphile"
WORKERS = 2
TRACE_BATCH = 500
# Batch writers are few in practice, and each of their calls is a 500-row transaction.
BATCH_CONNECTIONS = 8
PEER_PACKAGES = {
    "phoenix": PHOENIX_PACKAGES,
    "mlflow": MLFLOW_PACKAGES,
    "postgraphile": NODE_PACKAGES,
}

W1_QUERY = (
    'query W1($n: String!) { promptVersion(name: $n, label: "production") '
    "{ version templateText } }"
)
W2_QUERY = (
    "query W2($limit: Int!) { prompts(limit: $limit) { pagination { total } items { name "
    "versionCount latestVersion { version tags metrics { totalTraces successRate avgCostUsd "
    "p95LatencyMs } } } } }"
)
W2_LITE_QUERY = (
    "query W2Lite { prompts(limit: 50) { pagination { total } items { name versionCount "
    "latestVersion { version tags } } } }"
)
W3_QUERY = (
    "query W3($n: String!) { comparePromptVersions(name: $n) { name baselineVersion versions { "
    "version totalTraces successRate avgCostUsd avgLatencyMs p95LatencyMs successRateCi95 { low "
    "high } successRatePValue isBaseline } } }"
)
RECORD_USAGE_MUTATION = (
    "mutation($input: RecordUsageInput!) { recordUsage(input: $input) { status } }"
)
RECORD_TRACES_MUTATION = (
    "mutation($traces: [TraceInput!]!) { recordTraces(traces: $traces) { accepted } }"
)

T = TypeVar("T")
_STARTED = time.monotonic()


def log(message: str) -> None:
    elapsed = time.monotonic() - _STARTED
    print(f"[{elapsed // 60:02.0f}:{elapsed % 60:04.1f}] {message}", file=sys.stderr, flush=True)


def timed(timings: dict[str, float], name: str, work: Callable[[], T]) -> T:
    started = time.monotonic()
    try:
        return work()
    finally:
        timings[name] = timings.get(name, 0.0) + time.monotonic() - started


# --- options ------------------------------------------------------------------------------


def parse_scale(text: str) -> int:
    match = re.fullmatch(r"(\d+)([kKmM]?)", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a trace count: {text!r}")
    factor = {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    return int(match.group(1)) * factor


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--pg", default="postgresql://postgres@127.0.0.1:5432/test", help="admin database URL"
    )
    parser.add_argument("--duration", type=int, help="seconds per load (default 20; quick 5)")
    parser.add_argument("--warmup", type=int, help="seconds of warm-up (default 2; quick 1)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--connections", type=int, default=32, help="W1 and W4 (default 32)")
    parser.add_argument("--latency-connections", type=int, default=4, help="W2 and W3 (default 4)")
    parser.add_argument("--scales", help=f"trace counts (default {SCALES}; quick 10k)")
    parser.add_argument(
        "--peers",
        help=f"comma-separated, '' for none (default {','.join(PEERS)}; quick {QUICK_PEERS})",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--quick", action="store_true", help="5 s loads, 10k traces, PostGraphile only"
    )
    parser.add_argument("--output", type=Path, help="report file (default bench/RESULTS.md)")
    args = parser.parse_args(argv)
    args.duration = args.duration or (5 if args.quick else 20)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    scales = args.scales or ("10k" if args.quick else SCALES)
    args.scales = sorted({parse_scale(s) for s in scales.split(",") if s.strip()})
    if args.peers is None:
        args.peers = QUICK_PEERS if args.quick else ",".join(PEERS)
    args.peers = [name.strip() for name in args.peers.split(",") if name.strip()]
    unknown = set(args.peers) - set(PEERS)
    if unknown:
        parser.error(f"unknown peers: {', '.join(sorted(unknown))}")
    args.output = args.output or (QUICK_RESULTS if args.quick else RESULTS)
    return args


# --- the run ------------------------------------------------------------------------------


def graphql_endpoint(key: str, query: str, variables: dict[str, Any] | None = None) -> Endpoint:
    body = json.dumps({"query": query, "variables": variables or {}})
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    return Endpoint("POST", "/graphql", body, headers)


@dataclass
class Bench:
    args: argparse.Namespace
    dataset: data.Dataset
    dsn: str  # plain postgresql://, for asyncpg
    url: str  # postgresql+asyncpg://, for promptgraph
    key: str
    names_file: Path  # the 200 prompt names
    fixed_file: Path  # one line, for requests that take no name
    _seeds: Iterator[int]
    w2_page: Any = None  # promptgraph's W2 page without metrics, PostGraphile's reference

    def settings(self, connections: int) -> WrkSettings:
        return WrkSettings(self.args.threads, connections, self.args.duration)

    @property
    def w1_settings(self) -> WrkSettings:
        return self.settings(self.args.connections)

    @property
    def latency_settings(self) -> WrkSettings:
        return self.settings(self.args.latency_connections)

    def warm(self, base_url: str, script: Path, env: dict[str, str], settings: WrkSettings) -> None:
        if self.args.warmup > 0:
            self.measure(base_url, script, env, settings.shorter(self.args.warmup))

    def measure(
        self, base_url: str, script: Path, env: dict[str, str], settings: WrkSettings
    ) -> WrkResult:
        """One wrk run, with a seed of its own: the write scripts draw their trace ids from it."""
        with OtherCpu() as other:
            result = run_wrk(
                base_url, script, {**env, "WRK_SEED": str(next(self._seeds))}, settings
            )
        return replace(result, other_cpu=other.share)

    def load(
        self, base_url: str, script: Path, env: dict[str, str], settings: WrkSettings
    ) -> WrkResult:
        self.warm(base_url, script, env, settings)
        return self.measure(base_url, script, env, settings)

    def fetch(
        self, base_url: str, endpoint: Endpoint, settings: WrkSettings, *, named: bool = True
    ) -> WrkResult:
        names = self.names_file if named else self.fixed_file
        return self.load(base_url, FETCH_LUA, endpoint.wrk_env(names), settings)

    def endpoint(self, query: str, variables: dict[str, Any] | None = None) -> Endpoint:
        return graphql_endpoint(self.key, query, variables)


def prepare(args: argparse.Namespace, workdir: Path) -> Bench:
    dataset = data.make_dataset(args.seed)
    dsn = recreate_database(args.pg, DATABASE)
    url = database_url(args.pg, DATABASE, scheme="postgresql+asyncpg")
    log(f"database {DATABASE} recreated; migrating")
    upgrade(url)
    key = create_key(url)
    log("saving 200 prompts x 10 versions and compare-20 through the service layer")
    asyncio.run(data.save_prompts(url, dataset))
    names_file = workdir / "bench-names.txt"
    names_file.write_text("".join(f"{name}\n" for name in dataset.names()))
    fixed_file = workdir / "bench-fixed.txt"
    fixed_file.write_text("-\n")
    return Bench(args, dataset, dsn, url, key, names_file, fixed_file, itertools.count(1))


def create_key(url: str) -> str:
    result = subprocess.run(
        [
            promptgraph_executable(),
            "keys",
            "create",
            "--workspace",
            data.WORKSPACE,
            "--user",
            data.USER,
            "--role",
            "admin",
        ],
        env={**os.environ, "PROMPTGRAPH_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def graphql(base_url: str, endpoint: Endpoint, what: str) -> Any:
    body = endpoint.body_for("")
    with httpx.Client(base_url=base_url, timeout=30) as client:
        response = client.post(
            endpoint.path_template, content=(body or "").encode(), headers=endpoint.headers
        )
    document = response.json()
    if response.status_code != 200 or document.get("errors"):
        raise RuntimeError(f"{what}: HTTP {response.status_code}: {str(document)[:500]}")
    return document["data"]


def check_w2(page: Any, limit: int) -> None:
    items = page["prompts"]["items"]
    if len(items) != limit:
        raise RuntimeError(f"W2: {len(items)} items, expected {limit}")
    traces = sum(item["latestVersion"]["metrics"]["totalTraces"] for item in items)
    if traces == 0:
        raise RuntimeError("W2: no traces in the page's metrics")


def check_w3(comparison: Any) -> None:
    versions = comparison["comparePromptVersions"]["versions"]
    if len(versions) != data.COMPARE_VERSIONS:
        raise RuntimeError(f"W3: {len(versions)} versions, expected {data.COMPARE_VERSIONS}")


def read_bodies(dataset: data.Dataset) -> dict[str, dict[str, Any]]:
    return {
        "W1": {"query": W1_QUERY, "variables": {"n": dataset.prompts[0].name}},
        "W2 limit 10": {"query": W2_QUERY, "variables": {"limit": 10}},
        "W2 limit 50": {"query": W2_QUERY, "variables": {"limit": 50}},
        "W3": {"query": W3_QUERY, "variables": {"n": data.COMPARE_NAME}},
    }


def write_bodies(dataset: data.Dataset) -> dict[str, dict[str, Any]]:
    """The W4 calls, with fixed trace ids: counting writes one usage and 500 traces, once."""
    prompt = dataset.prompts[0]
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"promptgraph-bench-{dataset.seed}")
    usage = {
        "promptName": prompt.name,
        "promptVersion": prompt.production,
        "traceId": str(uuid.uuid5(namespace, "usage")),
        "outcome": {"status": "SUCCESS", "costUsd": 0.001, "latencyMs": 500.0},
    }
    traces = [
        {"traceId": str(uuid.uuid5(namespace, f"trace-{i}")), "status": "SUCCESS"}
        for i in range(TRACE_BATCH)
    ]
    return {
        "recordUsage": {"query": RECORD_USAGE_MUTATION, "variables": {"input": usage}},
        "recordTraces": {"query": RECORD_TRACES_MUTATION, "variables": {"traces": traces}},
    }


def measure_scale(bench: Bench, base_url: str, traces: int, loaded: int) -> ScaleResult:
    log(f"loading traces {loaded:,} -> {traces:,} in SQL")
    started = time.monotonic()
    asyncio.run(data.grow_traces(bench.dsn, bench.args.seed, loaded, traces))
    load_s = time.monotonic() - started
    usages = asyncio.run(data.count_rows(bench.dsn, "usage"))
    log(f"{traces:,} traces ({usages:,} usages) loaded in {load_s:.0f} s; counting statements")
    statements = asyncio.run(count_statements(bench.url, bench.key, read_bodies(bench.dataset)))
    w2 = bench.endpoint(W2_QUERY, {"limit": 50})
    check_w2(graphql(base_url, w2, "W2"), 50)
    w3 = bench.endpoint(W3_QUERY, {"n": data.COMPARE_NAME})
    check_w3(graphql(base_url, w3, "W3"))
    log(f"W2 at {traces:,} traces")
    w2_result = bench.fetch(base_url, w2, bench.latency_settings, named=False)
    log(f"W2: p50 {w2_result.p50_ms:.2f} ms, p99 {w2_result.p99_ms:.2f} ms; W3")
    w3_result = bench.fetch(base_url, w3, bench.latency_settings, named=False)
    log(f"W3: p50 {w3_result.p50_ms:.2f} ms, p99 {w3_result.p99_ms:.2f} ms")
    return ScaleResult(traces, usages, load_s, w2_result, w3_result, statements)


def write_env(bench: Bench) -> dict[str, str]:
    return {
        "WRK_NAMES": str(bench.names_file),
        "WRK_VERSIONS": str(data.VERSIONS),
        "WRK_HEADER_1": "Content-Type: application/json",
        "WRK_HEADER_2": f"Authorization: Bearer {bench.key}",
        "WRK_BATCH": str(TRACE_BATCH),
    }


def settled_count(dsn: str, table: str, timeout_s: float = 15.0) -> int:
    """The row count once requests still in flight have landed: two equal counts in a row."""
    deadline = time.monotonic() + timeout_s
    count = asyncio.run(data.count_rows(dsn, table))
    while time.monotonic() < deadline:
        time.sleep(0.5)
        previous, count = count, asyncio.run(data.count_rows(dsn, table))
        if count == previous:
            break
    return count


def measure_writes(
    bench: Bench, base_url: str, script: Path, settings: WrkSettings, table: str
) -> tuple[WrkResult, int]:
    """A write load, and the rows it added to `table` (the warm-up's left out)."""
    env = write_env(bench)
    bench.warm(base_url, script, env, settings)
    before = settled_count(bench.dsn, table)
    result = bench.measure(base_url, script, env, settings)
    return result, settled_count(bench.dsn, table) - before


def measure_ingest(bench: Bench, base_url: str) -> IngestResult:
    statements = asyncio.run(count_statements(bench.url, bench.key, write_bodies(bench.dataset)))
    log("W4 recordUsage")
    usage_settings = bench.settings(bench.args.connections)
    usage, usages_stored = measure_writes(
        bench, base_url, RECORD_USAGE_LUA, usage_settings, "usage"
    )
    log(f"W4 recordUsage: {usage.acknowledged_per_s:,.0f} acknowledged/s; recordTraces")
    traces_settings = bench.settings(BATCH_CONNECTIONS)
    traces, traces_stored = measure_writes(
        bench, base_url, RECORD_TRACES_LUA, traces_settings, "trace"
    )
    log(f"W4 recordTraces: {traces.acknowledged_per_s * TRACE_BATCH:,.0f} rows/s")
    return IngestResult(
        usage,
        usage_settings.connections,
        usages_stored,
        traces,
        traces_settings.connections,
        traces_stored,
        TRACE_BATCH,
        statements,
    )


def promptgraph_w2_page(page: Any) -> tuple[int, list[tuple[str, int, int, list[str]]]]:
    items = page["prompts"]["items"]
    rows = [
        (i["name"], i["versionCount"], i["latestVersion"]["version"], i["latestVersion"]["tags"])
        for i in items
    ]
    return page["prompts"]["pagination"]["total"], rows


def postgraphile_w2_page(page: Any) -> tuple[int, list[tuple[str, int, int, list[str]]]]:
    nodes = page["allPrompts"]["nodes"]
    rows = []
    for node in nodes:
        latest = node["latestVersion"]["nodes"][0]
        tags = [tag["tag"] for tag in latest["tags"]["nodes"]]
        rows.append((node["name"], node["versionCount"]["totalCount"], latest["version"], tags))
    return page["allPrompts"]["totalCount"], rows


def measure_promptgraph(bench: Bench, result: RunResult, workdir: Path) -> None:
    server = PromptgraphServer(result.workers, workdir)
    port = free_port()
    base_url = f"http://{HOST}:{port}"
    log(f"starting: {' '.join(server.command(port))}")
    server.start(bench.url, port)
    try:
        with RssSampler(server.pids) as tree:
            check_w1(base_url, bench.endpoint(W1_QUERY, {"n": "{name}"}), bench.dataset.prompts)
            loaded = 0
            for traces in bench.args.scales:
                result.scales.append(measure_scale(bench, base_url, traces, loaded))
                loaded = traces
            log("W2 without metrics")
            w2_lite = bench.endpoint(W2_LITE_QUERY)
            bench.w2_page = graphql(base_url, w2_lite, "W2 without metrics")
            result.w2_lite = bench.fetch(base_url, w2_lite, bench.latency_settings, named=False)
            log("W1")
            w1 = bench.endpoint(W1_QUERY, {"n": "{name}"})
            result.w1 = bench.fetch(base_url, w1, bench.w1_settings)
            log(f"W1: {result.w1.rps:,.0f} req/s, p99 {result.w1.p99_ms:.2f} ms")
            result.ingest = measure_ingest(bench, base_url)
            time.sleep(1)
            result.memory = [
                WorkerMemory(pid, peak_rss_mb(pid), rss_mb(pid)) for pid in server.worker_pids()
            ]
        result.server_peak_mb, result.server_processes = tree.peak_mb, tree.processes
    finally:
        server.stop()


def measure_peer(bench: Bench, name: str) -> PeerResult:
    result = PeerResult(name, ", ".join(PEER_PACKAGES[name]))
    peer = PEERS[name]()
    timings = result.timings
    try:
        log(f"{name}: install")
        timed(timings, "install", lambda: peer.install(DEFAULT_WORKDIR))
        if isinstance(peer, PostGraphilePeer):
            peer.use_database(bench.dsn, data.WORKSPACE)
        port = free_port()
        base_url = f"http://{HOST}:{port}"
        log(f"{name}: start")
        timed(timings, "start", lambda: peer.start(bench.args.pg, port))
        with RssSampler(peer.pids) as tree:
            log(f"{name}: feed {len(bench.dataset.prompts)} prompts")
            timed(timings, "feed", lambda: peer.feed(bench.dataset.prompts))
            check_w1(base_url, peer.w1(), bench.dataset.prompts)
            log(f"{name}: W1")
            result.w1 = bench.fetch(base_url, peer.w1(), bench.w1_settings)
            log(f"{name}: W1 {result.w1.rps:,.0f} req/s, p99 {result.w1.p99_ms:.2f} ms")
            w2 = peer.w2()
            if w2 is not None:
                ours = promptgraph_w2_page(bench.w2_page)
                theirs = postgraphile_w2_page(graphql(base_url, w2, f"{name} W2"))
                if ours != theirs:
                    raise RuntimeError(f"{name} W2 differs from promptgraph's: {theirs[1][:2]}")
                log(f"{name}: W2")
                result.w2 = bench.fetch(base_url, w2, bench.latency_settings, named=False)
        result.peak_rss_mb, result.processes = tree.peak_mb, tree.processes
    except Exception as error:
        result.error = f"{type(error).__name__}: {str(error)[:300]}"
        traceback.print_exc()
    finally:
        peer.stop()
    return result


# --- about the run ------------------------------------------------------------------------


def machine(dsn: str) -> Machine:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text()
    memory = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.MULTILINE)
    # `wrk -v` prints its version and usage, and exits with 1.
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout

    async def postgres() -> str:
        connection = await asyncpg.connect(dsn, timeout=10)
        try:
            return "PostgreSQL " + str(await connection.fetchval("SHOW server_version"))
        finally:
            await connection.close()

    return Machine(
        cpus=os.cpu_count() or 0,
        memory_gb=int(memory.group(1)) * 1024 / 1e9 if memory else 0.0,
        cpu_model=model.group(1).strip() if model else platform.processor(),
        postgres=asyncio.run(postgres()),
        kernel=platform.release(),
        python=platform.python_version(),
        wrk=wrk.split(" [", 1)[0].strip() or "wrk",
    )


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(PROJECT_DIR), *args], capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    dirty = git("status", "--porcelain")
    return commit + (" (with uncommitted changes)" if dirty else "")


def commands(args: argparse.Namespace, bench_workers: int, argv: list[str]) -> list[str]:
    entry = os.environ.get("BENCH_ENTRY", "python -m bench.run")
    serve = ["promptgraph", "serve", "--host", HOST, "--port", "<free port>"]
    if bench_workers > 1:
        serve += ["--workers", str(bench_workers)]
    url = "http://127.0.0.1:<port>"

    def wrk(script: Path, connections: int) -> str:
        settings = WrkSettings(args.threads, connections, args.duration)
        return " ".join(wrk_command(url, script.relative_to(PROJECT_DIR), settings))

    return [
        f"$ {' '.join([entry, *argv])}",
        f"# server: PROMPTGRAPH_DATABASE_URL=postgresql+asyncpg://.../{DATABASE} {' '.join(serve)}",
        f"# W1 (and each peer's W1): {wrk(FETCH_LUA, args.connections)}",
        f"# W2, W3 (and PostGraphile's W2): {wrk(FETCH_LUA, args.latency_connections)}",
        f"# W4 recordUsage: {wrk(RECORD_USAGE_LUA, args.connections)}",
        f"# W4 recordTraces (WRK_BATCH={TRACE_BATCH}): {wrk(RECORD_TRACES_LUA, BATCH_CONNECTIONS)}",
        f"# each load follows a {args.warmup} s warm-up with the same settings; "
        f"seed {args.seed}; scales {', '.join(f'{s:,}' for s in args.scales)} traces",
    ]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench: wrk is missing (apt-get install -y wrk, or run bench/run)", file=sys.stderr)
        return 2
    DEFAULT_WORKDIR.mkdir(parents=True, exist_ok=True)
    workers = WORKERS if supports_workers() else 1
    note = None if workers == WORKERS else "`promptgraph serve` has no --workers option yet"
    started = datetime.now(UTC)
    busy_before = cpu_busy_share()
    timings: dict[str, float] = {}
    bench = timed(timings, "setup", lambda: prepare(args, DEFAULT_WORKDIR))
    result = RunResult(
        quick=args.quick,
        started=started,
        machine=machine(bench.dsn),
        commit=git_commit(),
        commands=commands(args, workers, argv),
        workers=workers,
        workers_note=note,
        busy_before=busy_before,
        timings=timings,
    )
    timed(timings, "promptgraph", lambda: measure_promptgraph(bench, result, DEFAULT_WORKDIR))
    for name in args.peers:
        peer = timed(timings, "peers", lambda name=name: measure_peer(bench, name))
        result.peers.append(peer)
        if peer.error:
            result.errors.append(f"{name}: {peer.error}")
    result.busy_after = cpu_busy_share()
    result.elapsed_s = time.monotonic() - _STARTED
    report = render(result, args.latency_connections)
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    log(f"written to {args.output}")
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
