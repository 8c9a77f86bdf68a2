"""Running wrk, and reading the memory of process trees from /proc."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

WRK_DIR = Path(__file__).resolve().parent / "wrk"
FETCH_LUA = WRK_DIR / "fetch.lua"
RECORD_USAGE_LUA = WRK_DIR / "record_usage.lua"
RECORD_TRACES_LUA = WRK_DIR / "record_traces.lua"
# wrk itself is bounded by -d; this only catches a wrk that hangs.
WRK_GRACE_S = 60


@dataclass(frozen=True)
class WrkSettings:
    threads: int
    connections: int
    duration_s: int
    timeout_s: int = 10

    def args(self) -> list[str]:
        return [
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{self.duration_s}s",
            "--latency",
            "--timeout",
            f"{self.timeout_s}s",
        ]

    def shorter(self, duration_s: int) -> WrkSettings:
        return WrkSettings(self.threads, self.connections, duration_s, self.timeout_s)


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    timeouts: int  # no answer within --timeout; missing from the latency figures
    acknowledged: int | None  # 200 without GraphQL errors, from the write scripts only
    # Share of all CPUs that processes outside this harness (PostgreSQL aside) used meanwhile.
    other_cpu: float | None = None

    @property
    def clean(self) -> bool:
        return not (self.non_2xx or self.socket_errors or self.timeouts)

    @property
    def acknowledged_per_s(self) -> float:
        return (self.acknowledged or 0) / self.duration_s


def wrk_command(url: str, script: Path, settings: WrkSettings) -> list[str]:
    return ["wrk", *settings.args(), "-s", str(script), url]


def run_wrk(url: str, script: Path, env: dict[str, str], settings: WrkSettings) -> WrkResult:
    command = wrk_command(url, script, settings)
    result = subprocess.run(
        command,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        capture_output=True,
        text=True,
        timeout=settings.duration_s + WRK_GRACE_S,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("WRK_RESULT ")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(
            f"wrk failed ({result.returncode}): {' '.join(command)}\n{result.stdout}\n"
            f"{result.stderr}"
        )
    summary = json.loads(lines[-1].removeprefix("WRK_RESULT "))
    return WrkResult(
        requests=summary["requests"],
        duration_s=summary["duration_s"],
        rps=summary["rps"],
        p50_ms=summary["p50_ms"],
        p99_ms=summary["p99_ms"],
        non_2xx=summary["non_2xx_3xx"],
        socket_errors=summary["socket_errors"],
        timeouts=summary["timeouts"],
        acknowledged=summary.get("acknowledged"),
    )


# --- memory -------------------------------------------------------------------------------


def _status_kib(pid: int, field: str) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def rss_mb(pid: int) -> float:
    """Resident set size now, in MB (10^6 bytes)."""
    return _status_kib(pid, "VmRSS") * 1024 / 1e6


def peak_rss_mb(pid: int) -> float:
    """The process's own high-water mark of its resident set (VmHWM), in MB."""
    return _status_kib(pid, "VmHWM") * 1024 / 1e6


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    tree, pending = [], children(pid)
    while pending:
        child = pending.pop()
        tree.append(child)
        pending.extend(children(child))
    return tree


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot; iowait counts as idle."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def cpu_busy_share(seconds: float = 2.0) -> float:
    """The share of all CPUs busy over the next `seconds`: work this harness did not start
    when taken while nothing of the harness runs."""
    busy, total = _cpu_ticks()
    time.sleep(seconds)
    busy_after, total_after = _cpu_ticks()
    return (busy_after - busy) / max(1, total_after - total)


def _foreign_ticks() -> dict[int, int]:
    """CPU jiffies so far of each process that is neither this harness nor one it started,
    nor PostgreSQL (which serves the loads, and whatever else uses it)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name, rest = stat.split(" (", 1)[1].rsplit(") ", 1)
        fields = rest.split()
        pid = int(entry)
        parents[pid], names[pid] = int(fields[1]), name
        ticks[pid] = int(fields[11]) + int(fields[12])
    ours = {os.getpid()}
    for pid in ticks:
        chain, current = [], pid
        while current not in ours and current in parents and current not in chain:
            chain.append(current)
            current = parents[current]
        if current in ours:
            ours.update(chain)
    return {pid: t for pid, t in ticks.items() if pid not in ours and names[pid] != "postgres"}


class OtherCpu:
    """Measures the CPU share other work on the machine took while the block ran."""

    def __enter__(self) -> OtherCpu:
        self._before = _foreign_ticks()
        self._started = time.monotonic()
        self.share = 0.0
        return self

    def __exit__(self, *_exc: object) -> None:
        elapsed = time.monotonic() - self._started
        after = _foreign_ticks()
        used = sum(max(0, t - self._before.get(pid, 0)) for pid, t in after.items())
        capacity = elapsed * os.sysconf("SC_CLK_TCK") * (os.cpu_count() or 1)
        self.share = used / capacity if capacity else 0.0


class RssSampler:
    """Samples the summed RSS of a process tree in a thread, keeping the peak. A tree's peak
    is not the sum of its processes' own peaks, which need not coincide."""

    def __init__(self, pids: Callable[[], list[int]], interval_s: float = 0.25) -> None:
        self._pids = pids
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak_mb = 0.0
        self.processes = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = self._pids()
            total = sum(rss_mb(pid) for pid in pids)
            if total > self.peak_mb:
                self.peak_mb, self.processes = total, len(pids)
            self._stop.wait(self._interval_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
