"""Jinja2 templates: which variables a version uses, and rendering, bounded, off the server.

A template is code its author wrote and anyone may run: `{{ 'a' * 10**9 }}` asks for a
gigabyte, three nested `range(1000)` loops for a billion steps, and one C-level operation
(`'x'.ljust(10**9)`, `'%0999999999d' % 1`) cannot be interrupted once started. So rendering
is bounded in three layers, each catching what the one before cannot:

1. In the template (`template_sandbox`, a Jinja2 sandbox): every loop iteration (each
   `for` is compiled to count its steps), call, filter, operator and output chunk spends
   from a work budget (`MAX_WORK` steps, and `SECONDS` of time); `*` and `**` are refused
   before they run when their result would be too large; every value a `~` concat, an
   operator, a call, a filter, a macro or a `{% set %}` block produces is refused once
   longer than the output bound; output is streamed from `generate()` and counted, stopping
   past `MAX_OUTPUT` (1,000,000) characters.
2. In a process of its own: renders run in a small pool of worker processes, each with an
   address-space limit (`WORKER_MEMORY_BYTES` above what it needs at rest), so a single
   allocation the first layer cannot foresee (`center(10**9)`) fails there with a
   MemoryError, not in the server.
3. Under a deadline: the server waits `DEADLINE_SECONDS` for a worker's answer, then kills
   it; the next render starts a fresh one.

The server's event loop only hands a job to a thread of the pool's own executor (one per
worker, so renders never take the threads other work needs), which talks to a worker over a
socket; the loop never runs template code, so a hostile render delays nobody else's
request. A render over a bound is the template author's BAD_USER_INPUT, saying which bound.
Hand-written because no maintained library bounds Jinja2's work: its sandbox bounds what a
template may touch, not how much it does.
"""

import asyncio
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError, meta

from promptgraph.services.errors import BadUserInput
from promptgraph.services.template_sandbox import SECONDS, environment

DEADLINE_SECONDS = SECONDS + 0.4
WORKERS = max(2, min(4, os.cpu_count() or 1))
WORKER_START_SECONDS = 60.0


def variables_of(sources: Iterable[str]) -> list[str]:
    """Sorted names of the variables the templates use; a syntax error is an input error."""
    names: set[str] = set()
    for source in sources:
        try:
            names |= meta.find_undeclared_variables(environment.parse(source))
        except TemplateSyntaxError as error:
            raise BadUserInput(
                f"template syntax error on line {error.lineno}: {error.message}"
            ) from error
    return sorted(names)


class _Worker:
    """A `python -c` process (not multiprocessing's spawn, which would import the server's
    main module again) serving jobs over a socket pair."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        package_root = str(Path(__file__).resolve().parents[2])
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")]),
        }
        code = f"from promptgraph.services.template_sandbox import serve; serve({theirs.fileno()})"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code], pass_fds=[theirs.fileno()], env=environment
        )
        theirs.close()
        self.connection = Connection(ours.detach())
        if not self.connection.poll(WORKER_START_SECONDS):
            self.stop()
            raise RuntimeError("a render worker did not start")
        self.connection.recv()

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        self.connection.close()


class _Pool:
    def __init__(self, size: int) -> None:
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._threads = ThreadPoolExecutor(size, thread_name_prefix="promptgraph-render")

    async def render(self, sources: list[str], variables: dict[str, Any]) -> list[str]:
        loop = asyncio.get_running_loop()
        status, value = await loop.run_in_executor(self._threads, self._run, sources, variables)
        if status != "ok":
            raise BadUserInput(f"cannot render: {value}")
        return value

    def _run(self, sources: list[str], variables: dict[str, Any]) -> tuple[str, Any]:
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is None or not worker.alive():
            worker = _Worker()
        try:
            worker.connection.send((sources, variables))
            if not worker.connection.poll(DEADLINE_SECONDS):
                worker.stop()
                return "refused", f"the template takes longer than {DEADLINE_SECONDS:g} s"
            outcome = worker.connection.recv()
        except (EOFError, OSError):
            worker.stop()
            return "refused", "the template needs more memory than rendering allows"
        with self._lock:
            self._idle.append(worker)
        return outcome


_pool = _Pool(WORKERS)


async def render_all(sources: list[str], variables: dict[str, Any]) -> list[str]:
    """Each template rendered with the variables, within the bounds of the module docstring;
    together they may output at most MAX_OUTPUT characters."""
    if not sources:
        return []
    return await _pool.render(sources, variables)


async def render(source: str, variables: dict[str, Any]) -> str:
    [text] = await render_all([source], variables)
    return text


def require_variables(used: list[str], given: dict[str, Any]) -> None:
    missing = [name for name in used if name not in given]
    if missing:
        raise BadUserInput(
            f"missing template variable{'s' if len(missing) > 1 else ''}: {', '.join(missing)}",
            missing=missing,
        )
