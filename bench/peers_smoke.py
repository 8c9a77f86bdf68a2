"""Smoke test of the peer systems: install, start, feed, check and load each one briefly.

    cd /work/main && .venv/bin/python bench/peers_smoke.py [--peers phoenix,mlflow,postgraphile]

For every peer: install (idempotent), start on a free port with its own database, feed
20 prompts x 3 versions, check W1 (and W2 for PostGraphile) with direct requests, then run
`wrk -t2 -c16 -d5s --latency -s bench/wrk/fetch.lua` against it and print requests/s, p50
and p99. PostGraphile serves promptgraph's tables, so a scratch promptgraph database is built
first with promptgraph's migrations and service layer. Exits non-zero if any peer failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

if __package__ in (None, ""):  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.peers import (
    DEFAULT_WORKDIR,
    PEERS,
    Endpoint,
    Peer,
    PostGraphilePeer,
    PromptSpec,
    free_port,
    recreate_database,
)

FETCH_LUA = Path(__file__).resolve().parent / "wrk" / "fetch.lua"
WORKSPACE = "bench"
SCRATCH_DATABASE = "smoke_promptgraph"


@dataclass
class LoadResult:
    workload: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    timeouts: int  # beyond wrk's 2 s default; not in the latency figures


@dataclass
class PeerReport:
    name: str
    timings: dict[str, float] = field(default_factory=dict)
    loads: list[LoadResult] = field(default_factory=list)
    processes: int = 0
    rss_mib: float = 0.0  # of the server's process tree, after the load
    error: str | None = None


def make_prompts(count: int, versions: int) -> list[PromptSpec]:
    return [
        PromptSpec(
            name=f"prompt-{i:03d}",
            versions=[
                f"You are assistant {i}, revision {v}. Answer {{{{ question }}}} briefly."
                for v in range(1, versions + 1)
            ],
            # Spread production over every version number so a wrong pick shows.
            production=1 + i % versions,
        )
        for i in range(1, count + 1)
    ]


def tag_set(version: int) -> list[str]:
    return sorted({"bench", f"v{version}"})


def seed_promptgraph(pg_admin_url: str, prompts: list[PromptSpec]) -> str:
    """A scratch promptgraph database holding `prompts`, built through promptgraph itself."""
    from promptgraph.db import Database
    from promptgraph.migrations import upgrade
    from promptgraph.services import registry
    from promptgraph.services.auth import Principal, Role, ensure_user

    url = recreate_database(pg_admin_url, SCRATCH_DATABASE)
    upgrade(url)

    async def fill() -> None:
        db = Database(url)
        try:
            workspace_id, user_id = await ensure_user(db, WORKSPACE, "bench")
            principal = Principal(user_id, "bench", workspace_id, WORKSPACE, Role.ADMIN)
            for prompt in prompts:
                for number, text in enumerate(prompt.versions, start=1):
                    content = registry.VersionContent(template_text=text, tags=tag_set(number))
                    await registry.create_version(db, principal, prompt.name, number, content)
                await registry.set_label(
                    db, principal, prompt.name, "production", prompt.production
                )
        finally:
            await db.dispose()

    asyncio.run(fill())
    return url


def _strings(document: Any) -> set[str]:
    if isinstance(document, str):
        return {document}
    if isinstance(document, dict):
        return set().union(*(_strings(value) for value in document.values()))
    if isinstance(document, list):
        return set().union(*(_strings(value) for value in document))
    return set()


def _send(client: httpx.Client, endpoint: Endpoint, name: str) -> httpx.Response:
    body = endpoint.body_for(name)
    return client.request(
        endpoint.method,
        endpoint.path_for(name),
        content=body.encode() if body is not None else None,
        headers=endpoint.headers,
    )


def check_w1(base_url: str, endpoint: Endpoint, prompts: list[PromptSpec]) -> None:
    """Every prompt answers 200 with its production template and no other version's."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for prompt in prompts:
            response = _send(client, endpoint, prompt.name)
            if response.status_code != 200:
                raise AssertionError(
                    f"W1 {prompt.name}: HTTP {response.status_code}: {response.text[:300]}"
                )
            document = response.json()
            if document.get("errors"):
                raise AssertionError(f"W1 {prompt.name}: {document['errors']}")
            found = _strings(document)
            others = set(prompt.versions) - {prompt.production_text}
            if prompt.production_text not in found or found & others:
                raise AssertionError(
                    f"W1 {prompt.name}: not the production template: {response.text[:300]}"
                )


def check_postgraphile_w2(base_url: str, endpoint: Endpoint, prompts: list[PromptSpec]) -> None:
    """The page lists every prompt by name with its version count, latest version and tags."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        response = _send(client, endpoint, "")
    if response.status_code != 200:
        raise AssertionError(f"W2: HTTP {response.status_code}: {response.text[:300]}")
    document = response.json()
    if document.get("errors"):
        raise AssertionError(f"W2: {document['errors']}")
    page = document["data"]["allPrompts"]
    got = [
        (
            node["name"],
            node["versionCount"]["totalCount"],
            node["latestVersion"]["nodes"][0]["version"],
            [tag["tag"] for tag in node["latestVersion"]["nodes"][0]["tags"]["nodes"]],
        )
        for node in page["nodes"]
    ]
    expected = sorted(
        (p.name, len(p.versions), len(p.versions), tag_set(len(p.versions))) for p in prompts
    )[:50]
    if page["totalCount"] != len(prompts) or got != expected:
        raise AssertionError(f"W2: unexpected page: total {page['totalCount']}, {got[:3]}...")


def rss_mib(pids: list[int]) -> float:
    total_kib = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kib += int(line.split()[1])
    return total_kib / 1024


def run_wrk(
    base_url: str, endpoint: Endpoint, names_file: Path, workload: str, duration: str
) -> LoadResult:
    command = ["wrk", "-t2", "-c16", f"-d{duration}", "--latency", "-s", str(FETCH_LUA), base_url]
    result = subprocess.run(
        command,
        env={"PATH": "/usr/bin:/bin", **endpoint.wrk_env(names_file)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("WRK_RESULT ")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stdout}\n{result.stderr}")
    summary = json.loads(lines[-1].removeprefix("WRK_RESULT "))
    return LoadResult(
        workload,
        summary["rps"],
        summary["p50_ms"],
        summary["p99_ms"],
        summary["requests"],
        summary["non_2xx_3xx"],
        summary["socket_errors"],
        summary["timeouts"],
    )


def smoke_peer(
    name: str,
    prompts: list[PromptSpec],
    args: argparse.Namespace,
    names_file: Path,
) -> PeerReport:
    report = PeerReport(name)
    peer: Peer = PEERS[name]()
    try:
        started = time.monotonic()
        peer.install(args.workdir)
        report.timings["install"] = time.monotonic() - started

        if isinstance(peer, PostGraphilePeer):
            started = time.monotonic()
            peer.use_database(seed_promptgraph(args.pg, prompts), WORKSPACE)
            report.timings["seed promptgraph"] = time.monotonic() - started

        port = free_port()
        started = time.monotonic()
        peer.start(args.pg, port)
        report.timings["start"] = time.monotonic() - started

        started = time.monotonic()
        peer.feed(prompts)
        report.timings["feed"] = time.monotonic() - started

        base_url = f"http://127.0.0.1:{port}"
        check_w1(base_url, peer.w1(), prompts)
        workloads = [("W1", peer.w1())]
        if (w2 := peer.w2()) is not None:
            check_postgraphile_w2(base_url, w2, prompts)
            workloads.append(("W2", w2))
        for workload, endpoint in workloads:
            report.loads.append(run_wrk(base_url, endpoint, names_file, workload, args.duration))
        pids = peer.pids()
        report.processes, report.rss_mib = len(pids), rss_mib(pids)
        for load in report.loads:
            # A timeout is a slow answer, not a wrong one: reported, not failed.
            if load.non_2xx or load.socket_errors:
                raise AssertionError(
                    f"{load.workload}: {load.non_2xx} non-2xx responses, "
                    f"{load.socket_errors} socket errors"
                )
    except Exception as error:
        report.error = f"{type(error).__name__}: {error}"
        traceback.print_exc()
    finally:
        peer.stop()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated (default: all)")
    parser.add_argument(
        "--pg", default="postgresql://postgres@127.0.0.1:5432/postgres", help="admin URL"
    )
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--prompts", type=int, default=20)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--duration", default="5s", help="wrk -d (default 5s)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print(
            "peers_smoke: wrk is missing: apt-get update && apt-get install -y wrk", file=sys.stderr
        )
        return 2

    prompts = make_prompts(args.prompts, args.versions)
    args.workdir.mkdir(parents=True, exist_ok=True)
    names_file = args.workdir / "smoke-names.txt"
    names_file.write_text("".join(f"{p.name}\n" for p in prompts))

    reports = []
    for name in args.peers.split(","):
        print(f"== {name}", flush=True)
        report = smoke_peer(name, prompts, args, names_file)
        timings = ", ".join(f"{key} {value:.1f}s" for key, value in report.timings.items())
        print(
            f"   {timings}; {report.processes} processes, RSS {report.rss_mib:.0f} MiB", flush=True
        )
        reports.append(report)

    header = ("peer", "workload", "req/s", "p50 ms", "p99 ms", "requests")
    print("\n{:<14}{:<10}{:>10}{:>10}{:>10}{:>10}  status".format(*header))
    for report in reports:
        for load in report.loads:
            status = "ok" if not (load.non_2xx or load.socket_errors) else "ERRORS"
            if load.timeouts:
                status += f" ({load.timeouts} timed out, left out of p50/p99)"
            print(
                f"{report.name:<14}{load.workload:<10}{load.rps:>10.1f}{load.p50_ms:>10.2f}"
                f"{load.p99_ms:>10.2f}{load.requests:>10}  {status}"
            )
        if report.error:
            print(f"{report.name:<14}FAILED: {report.error}")
    return 1 if any(report.error for report in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
