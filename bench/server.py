"""promptgraph's own server under test: `promptgraph serve`, one process or several workers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.load import cmdline, descendants
from bench.peers import DEFAULT_WORKDIR, HOST, ServerProcess


def promptgraph_executable() -> str:
    """The console script next to the running interpreter (the project's venv), else PATH's."""
    beside = Path(sys.executable).parent / "promptgraph"
    found = str(beside) if beside.exists() else shutil.which("promptgraph")
    if found is None:
        raise RuntimeError("no `promptgraph` command: install the project (pip install -e .)")
    return found


def supports_workers() -> bool:
    help_text = subprocess.run(
        [promptgraph_executable(), "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return "--workers" in help_text


class PromptgraphServer(ServerProcess):
    name = "promptgraph"

    def __init__(self, workers: int, workdir: Path = DEFAULT_WORKDIR) -> None:
        super().__init__(workdir)
        self.workers = workers

    def command(self, port: int) -> list[str]:
        command = [promptgraph_executable(), "serve", "--host", HOST, "--port", str(port)]
        if self.workers > 1:
            command += ["--workers", str(self.workers)]
        return command

    def start(self, database_url: str, port: int) -> None:
        self.port = port
        env = {**os.environ, "PROMPTGRAPH_DATABASE_URL": database_url}
        self._launch(
            self.command(port),
            env,
            self.workdir,
            lambda client: client.get("/healthz").status_code == 200,
            settle_s=1,
        )

    def worker_pids(self) -> list[int]:
        """The processes serving requests: the workers a supervisor spawned, or the server
        itself when it serves alone. multiprocessing's resource tracker serves nothing."""
        if self._process is None or self._process.poll() is not None:
            return []
        root = self._process.pid
        workers = [pid for pid in descendants(root) if "resource_tracker" not in cmdline(pid)]
        return workers or [root]
