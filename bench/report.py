"""The results of one run, and their Markdown report (tables, then targets met or not)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bench.load import WrkResult

GROWTH_FROM, GROWTH_TO = 100_000, 1_000_000
ANALYSIS_MARKER = "<!-- analysis -->"


@dataclass(frozen=True)
class Machine:
    cpus: int
    memory_gb: float
    cpu_model: str
    postgres: str
    kernel: str
    python: str
    wrk: str


@dataclass
class ScaleResult:
    traces: int
    usages: int
    load_s: float
    w2: WrkResult
    w3: WrkResult
    statements: dict[str, int]  # workload -> SQL statements per request


@dataclass
class IngestResult:
    usage: WrkResult
    usage_connections: int
    usages_stored: int
    traces: WrkResult
    traces_connections: int
    traces_stored: int
    batch: int
    statements: dict[str, int]  # call -> SQL statements per request

    @property
    def rows_per_s(self) -> float:
        return self.traces.acknowledged_per_s * self.batch


@dataclass(frozen=True)
class WorkerMemory:
    pid: int
    peak_mb: float  # VmHWM: the worker's own peak over its life
    after_mb: float  # VmRSS after W1-W4


@dataclass
class PeerResult:
    name: str
    packages: str
    w1: WrkResult | None = None
    w2: WrkResult | None = None
    peak_rss_mb: float = 0.0
    processes: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass
class RunResult:
    quick: bool
    started: datetime
    machine: Machine
    commit: str
    commands: list[str]
    workers: int
    workers_note: str | None
    busy_before: float  # share of the CPUs busy with other work before the run
    busy_after: float | None = None
    elapsed_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    w1: WrkResult | None = None
    w2_lite: WrkResult | None = None
    scales: list[ScaleResult] = field(default_factory=list)
    ingest: IngestResult | None = None
    memory: list[WorkerMemory] = field(default_factory=list)
    server_peak_mb: float = 0.0
    server_processes: int = 0
    peers: list[PeerResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def scale(self, traces: int) -> ScaleResult | None:
        return next((s for s in self.scales if s.traces == traces), None)


# --- formatting ---------------------------------------------------------------------------


def _table(headers: list[str], rows: list[list[str]], right_from: int = 1) -> list[str]:
    align = ["---" if i < right_from else "--:" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _count(traces: int) -> str:
    if traces >= 1_000_000 and traces % 1_000_000 == 0:
        return f"{traces // 1_000_000}M"
    if traces >= 1_000 and traces % 1_000 == 0:
        return f"{traces // 1_000}k"
    return str(traces)


def _errors(load: WrkResult) -> str:
    parts = []
    if load.non_2xx:
        parts.append(f"{load.non_2xx} non-2xx")
    if load.socket_errors:
        parts.append(f"{load.socket_errors} socket")
    if load.timeouts:
        parts.append(f"{load.timeouts} timeouts")
    return ", ".join(parts) or "0"


def _share(share: float | None) -> str:
    return "-" if share is None else f"{share:.0%}"


def _other(load: WrkResult) -> str:
    return _share(load.other_cpu)


def _other_line(loads: list[WrkResult]) -> list[str]:
    """Other work on the machine during `loads`: the reader's gauge of how noisy they are."""
    shares = [load.other_cpu for load in loads if load.other_cpu is not None]
    if not shares:
        return []
    return [
        "",
        f"Other work on the machine (outside the harness and PostgreSQL) took {min(shares):.0%}"
        f" to {max(shares):.0%} of the CPUs during these loads.",
    ]


def _ratio(ours: float, theirs: float) -> str:
    if theirs <= 0:
        return "-"
    ratio = ours / theirs
    return f"{ratio:.1f}x" if ratio >= 1 else f"{ratio:.2f}x"


def _growth(result: RunResult, workload: str, attribute: str) -> float | None:
    low, high = result.scale(GROWTH_FROM), result.scale(GROWTH_TO)
    if low is None or high is None:
        return None
    before = getattr(getattr(low, workload), attribute)
    after = getattr(getattr(high, workload), attribute)
    return after / before if before > 0 else None


# --- sections -----------------------------------------------------------------------------


def _header(result: RunResult) -> list[str]:
    machine = result.machine
    title = "promptgraph benchmark" + (" (quick check)" if result.quick else "")
    lines = [f"# {title}", ""]
    if result.quick:
        lines += [
            "A `--quick` run: short loads, the smallest scale and fewer peers. Not for "
            "comparison; `bench/RESULTS.md` holds the last full run.",
            "",
        ]
    lines += [
        f"- Date: {result.started:%Y-%m-%d %H:%M} UTC; the run took "
        f"{result.elapsed_s / 60:.1f} min "
        f"({', '.join(f'{k} {v:.0f} s' for k, v in result.timings.items())})",
        f"- Commit: {result.commit}",
        f"- Machine: {machine.cpus} CPUs ({machine.cpu_model}), {machine.memory_gb:.1f} GB RAM, "
        f"Linux {machine.kernel}; {machine.postgres}; Python {machine.python}; {machine.wrk}",
        "- Everything (PostgreSQL, the server under test, wrk) shares these CPUs: figures are "
        "for comparison within one run, not capacity planning. CPUs busy with other work: "
        f"{_share(result.busy_before)} before the run, {_share(result.busy_after)} after.",
        f"- promptgraph served with {result.workers} worker(s)"
        + (f" ({result.workers_note})" if result.workers_note else ""),
        "",
        "## Commands",
        "",
        "```",
        *result.commands,
        "```",
        "",
    ]
    return lines


def _w1_section(result: RunResult) -> list[str]:
    lines = [
        "## W1: agent fetch",
        "",
        '`promptVersion(name: $n, label: "production") { version templateText }` with a random '
        "one of 200 names per request; each peer serves the same fetch its own way. Ratio: "
        "promptgraph's req/s over the system's. Peak RSS: the server's whole process tree. "
        "Other CPU load: the share of the CPUs other work on the machine (outside the harness "
        "and PostgreSQL) took during that load.",
        "",
    ]
    if result.w1 is None:
        return [*lines, "Not measured.", ""]
    rows = [
        [
            "promptgraph",
            _n(result.w1.rps),
            _ms(result.w1.p50_ms),
            _ms(result.w1.p99_ms),
            _n(result.w1.requests),
            _errors(result.w1),
            f"{result.server_peak_mb:.0f} ({result.server_processes})",
            "1.0x",
            _other(result.w1),
        ]
    ]
    for peer in result.peers:
        if peer.w1 is None:
            rows.append([peer.name, "-", "-", "-", "-", f"failed: {peer.error}", "-", "-", "-"])
            continue
        rows.append(
            [
                peer.name,
                _n(peer.w1.rps),
                _ms(peer.w1.p50_ms),
                _ms(peer.w1.p99_ms),
                _n(peer.w1.requests),
                _errors(peer.w1),
                f"{peer.peak_rss_mb:.0f} ({peer.processes})",
                _ratio(result.w1.rps, peer.w1.rps),
                _other(peer.w1),
            ]
        )
    headers = ["system", "req/s", "p50 ms", "p99 ms", "requests", "errors"]
    headers += ["peak RSS MB (processes)", "promptgraph / system", "other CPU load"]
    lines += _table(headers, rows)
    versions = [f"{peer.name}: {peer.packages}" for peer in result.peers]
    if versions:
        lines += ["", "Peers: " + "; ".join(versions) + "."]
    return [*lines, ""]


def _w2_lite_section(result: RunResult) -> list[str]:
    postgraphile = next((p for p in result.peers if p.w2 is not None), None)
    if result.w2_lite is None:
        return []
    lines = [
        "### W2 without metrics, against PostGraphile",
        "",
        "`prompts(limit: 50) { pagination { total } items { name versionCount latestVersion "
        "{ version tags } } }`; PostGraphile answers the same page from the same tables.",
        "",
    ]
    rows = [["promptgraph", *_latency_cells(result.w2_lite), "1.0x"]]
    if postgraphile is not None and postgraphile.w2 is not None:
        ratio = _ratio(result.w2_lite.rps, postgraphile.w2.rps)
        rows.append([postgraphile.name, *_latency_cells(postgraphile.w2), ratio])
    headers = ["system", "req/s", "p50 ms", "p99 ms", "errors", "promptgraph / system"]
    loads = [result.w2_lite] + ([postgraphile.w2] if postgraphile and postgraphile.w2 else [])
    return [*lines, *_table(headers, rows), *_other_line(loads), ""]


def _latency_cells(load: WrkResult) -> list[str]:
    return [_n(load.rps), _ms(load.p50_ms), _ms(load.p99_ms), _errors(load)]


def _scales_section(result: RunResult, connections: int) -> list[str]:
    lines = [
        "## W2 dashboard page and W3 compare, by scale",
        "",
        "W2: `prompts(limit: 50)` with `versionCount` and `latestVersion { version tags metrics "
        "{ totalTraces successRate avgCostUsd p95LatencyMs } }`. W3: `comparePromptVersions` "
        f'of "compare-20" (20 versions). {connections} connections, so latency and not '
        "queueing is measured. Statements: SQL statements per request (transaction control "
        "left out), counted in-process on the same database.",
        "",
    ]
    if not result.scales:
        return [*lines, "Not measured.", ""]
    rows = []
    for scale in result.scales:
        s = scale.statements
        rows.append(
            [
                _count(scale.traces),
                _n(scale.usages),
                _ms(scale.w2.p50_ms),
                _ms(scale.w2.p99_ms),
                _n(scale.w2.rps),
                _ms(scale.w3.p50_ms),
                _ms(scale.w3.p99_ms),
                _n(scale.w3.rps),
                str(s.get("W1", "-")),
                f"{s.get('W2 limit 10', '-')} / {s.get('W2 limit 50', '-')}",
                str(s.get("W3", "-")),
            ]
        )
    headers = ["traces", "usages", "W2 p50 ms", "W2 p99 ms", "W2 req/s", "W3 p50 ms"]
    headers += ["W3 p99 ms", "W3 req/s", "stmts W1", "stmts W2 (limit 10 / 50)", "stmts W3"]
    lines += _table(headers, rows)
    errors = [
        f"{_count(s.traces)} {name}: {_errors(load)}"
        for s in result.scales
        for name, load in (("W2", s.w2), ("W3", s.w3))
        if not load.clean
    ]
    if errors:
        lines += ["", "Errors: " + "; ".join(errors) + "."]
    growth = []
    for workload in ("w2", "w3"):
        p50, p99 = _growth(result, workload, "p50_ms"), _growth(result, workload, "p99_ms")
        if p50 is not None and p99 is not None:
            growth.append(f"{workload.upper()} p50 x{p50:.2f}, p99 x{p99:.2f}")
    if growth:
        lines += ["", "Growth from 100k to 1M traces: " + "; ".join(growth) + "."]
    lines += _other_line([load for s in result.scales for load in (s.w2, s.w3)])
    loads = ", ".join(f"{_count(s.traces)} in {s.load_s:.0f} s" for s in result.scales)
    lines += ["", f"Data loads (cumulative, with VACUUM ANALYZE): {loads}."]
    return [*lines, ""]


def _ingest_section(result: RunResult) -> list[str]:
    lines = ["## W4: ingest", ""]
    ingest = result.ingest
    if ingest is None:
        return [*lines, "Not measured.", ""]
    lines += [
        "Acknowledged: HTTP 200 without GraphQL errors. Stored: rows the measured run added, "
        "counted in SQL once the count settles. Requests still in flight when wrk stops (up to "
        "one per connection) are stored but not acknowledged, so no acknowledged write was lost "
        "when stored >= acknowledged.",
        "",
    ]
    rows = [
        [
            "recordUsage with an outcome",
            str(ingest.usage_connections),
            _n(ingest.usage.acknowledged_per_s),
            _n(ingest.usage.acknowledged_per_s),
            _n(ingest.usage.acknowledged or 0),
            f"{_n(ingest.usages_stored)} usages",
            _ms(ingest.usage.p50_ms),
            _ms(ingest.usage.p99_ms),
            _errors(ingest.usage),
            str(ingest.statements.get("recordUsage", "-")),
        ],
        [
            f"recordTraces, {ingest.batch} per call",
            str(ingest.traces_connections),
            _n(ingest.traces.acknowledged_per_s, 1),
            _n(ingest.rows_per_s),
            _n((ingest.traces.acknowledged or 0) * ingest.batch),
            f"{_n(ingest.traces_stored)} traces",
            _ms(ingest.traces.p50_ms),
            _ms(ingest.traces.p99_ms),
            _errors(ingest.traces),
            str(ingest.statements.get("recordTraces", "-")),
        ],
    ]
    headers = ["workload", "connections", "acknowledged calls/s", "rows/s"]
    headers += ["acknowledged rows", "stored", "p50 ms", "p99 ms", "errors", "SQL stmts/call"]
    return [*lines, *_table(headers, rows), *_other_line([ingest.usage, ingest.traces]), ""]


def _memory_section(result: RunResult) -> list[str]:
    lines = ["## Memory", ""]
    if not result.memory:
        return [*lines, "Not measured.", ""]
    lines += [
        "promptgraph per serving process: peak (VmHWM, over its life, W1-W4 included) and "
        "resident after W1-W4. Peers: see the W1 table (whole tree, sampled every 0.25 s).",
        "",
    ]
    rows = [
        [f"worker {i} (pid {w.pid})", f"{w.peak_mb:.0f}", f"{w.after_mb:.0f}"]
        for i, w in enumerate(result.memory, start=1)
    ]
    lines += _table(["process", "peak RSS MB", "RSS after W1-W4 MB"], rows)
    return [*lines, ""]


# --- targets ------------------------------------------------------------------------------


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "NOT met", None: "not measured"}[met]


Target = tuple[str, bool | None, str]  # what, met (None: not measured), the figures


def _w1_targets(result: RunResult) -> list[Target]:
    more, fast = "W1: more req/s than every peer", "W1: p99 < 10 ms with serve --workers 2"
    w1 = result.w1
    if w1 is None:
        return [(more, None, ""), (fast, None, "")]
    measured = [(p.name, p.w1.rps) for p in result.peers if p.w1 is not None]
    failed = [p.name for p in result.peers if p.w1 is None]
    detail = f"promptgraph {w1.rps:,.0f} req/s; " + ", ".join(f"{n} {r:,.0f}" for n, r in measured)
    if failed:
        detail += f" (failed: {', '.join(failed)})"
    beaten = all(w1.rps > rps for _, rps in measured) if measured else None
    workers = "" if result.workers == 2 else f" (ran with {result.workers} worker(s))"
    return [(more, beaten, detail), (fast, w1.p99_ms < 10, f"p99 {w1.p99_ms:.2f} ms{workers}")]


def _scale_targets(result: RunResult) -> list[Target]:
    targets: list[Target] = []
    top = result.scale(GROWTH_TO)
    for workload in ("w2", "w3"):
        what = f"{workload.upper()}: p50 < 50 ms at 1M traces"
        if top is None:
            targets.append((what, None, "1M not loaded"))
        else:
            p50 = getattr(top, workload).p50_ms
            targets.append((what, p50 < 50, f"{p50:.2f} ms"))
    pairs = [
        (s.statements.get("W2 limit 10"), s.statements.get("W2 limit 50")) for s in result.scales
    ]
    targets.append(
        (
            "W2: statements per request do not grow with the page",
            all(a is not None and a == b for a, b in pairs) if pairs else None,
            "limit 10 / 50: " + ", ".join(f"{a} / {b}" for a, b in pairs),
        )
    )
    for workload in ("w2", "w3"):
        growth = _growth(result, workload, "p50_ms")
        targets.append(
            (
                f"{workload.upper()}: latency growth 100k -> 1M under 5x",
                None if growth is None else growth < 5,
                "" if growth is None else f"p50 x{growth:.2f}",
            )
        )
    return targets


def _ingest_targets(result: RunResult) -> list[Target]:
    single, batched = "W4: >= 3,000 usages/s single-call", "W4: >= 30,000 rows/s batched"
    ingest = result.ingest
    if ingest is None:
        return [(single, None, ""), (batched, None, "")]
    usages, rows = ingest.usage.acknowledged_per_s, ingest.rows_per_s
    return [
        (single, usages >= 3000, f"{usages:,.0f}/s"),
        (batched, rows >= 30000, f"{rows:,.0f}/s"),
    ]


def _memory_targets(result: RunResult) -> list[Target]:
    what = "Memory: < 200 MB RSS per worker after W1-W4"
    if not result.memory:
        return [(what, None, "")]
    after = max(w.after_mb for w in result.memory)
    peak = max(w.peak_mb for w in result.memory)
    return [(what, after < 200, f"largest {after:.0f} MB; peak during the run {peak:.0f} MB")]


def _targets(result: RunResult) -> list[Target]:
    return [
        *_w1_targets(result),
        *_scale_targets(result),
        *_ingest_targets(result),
        *_memory_targets(result),
    ]


def render(result: RunResult, latency_connections: int) -> str:
    lines = _header(result)
    lines += _w1_section(result)
    lines += _w2_lite_section(result)
    lines += _scales_section(result, latency_connections)
    lines += _ingest_section(result)
    lines += _memory_section(result)
    lines += ["## Targets (reported, not asserted)", ""]
    lines += [
        f"- {_verdict(met)}: {name}" + (f" ({detail})" if detail else "")
        for name, met, detail in _targets(result)
    ]
    if result.errors:
        lines += ["", "## Errors during the run", ""] + [f"- {error}" for error in result.errors]
    lines += [
        "",
        "## Analysis",
        "",
        ANALYSIS_MARKER,
        "_To be written by a human after reading the numbers above._",
        "",
    ]
    return "\n".join(lines)
