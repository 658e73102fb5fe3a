"""进程看护 Keep child processes running: one that dies is started again, never the others stopped.

``jkfp serve`` (gunicorn and the task worker) and ``jkfp worker --concurrency N`` run their children
under ``supervise``: a child that exits while the supervisor is not stopping — killed by the kernel,
aborted by a native library at its memory ceiling, crashed — is logged and started again after
``RESTART_DELAY`` seconds, doubled (up to ``RESTART_DELAY_MAX``) while it keeps dying within
``STABLE_SECONDS`` of its start. SIGINT/SIGTERM stop them all (SIGTERM, then SIGKILL after ``grace``
seconds; ``grace=None`` waits: a worker finishes its running task first).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType

RESTART_DELAY = 1.0
RESTART_DELAY_MAX = 30.0
STABLE_SECONDS = 30.0
POLL_SECONDS = 0.5


@dataclass
class Child:
    """一个子进程 One supervised command, its process and its restarts."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    delay: float = RESTART_DELAY
    restarts: int = 0
    due_at: float | None = field(default=None)

    def start(self) -> None:
        self.process = subprocess.Popen(list(self.argv), env=dict(self.env) if self.env is not None else None)
        self.started_at = time.monotonic()
        self.due_at = None


def supervise(
    children: Sequence[Child],
    *,
    say: Callable[[str], None],
    grace: float | None = 15.0,
    should_stop: Callable[[], bool] | None = None,
) -> None:
    """看护 Start ``children`` and restart any that dies until SIGINT/SIGTERM (or ``should_stop()``)."""
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for child in children:
            child.start()
        while not stopping and not (should_stop is not None and should_stop()):
            now = time.monotonic()
            for child in children:
                if child.due_at is not None:
                    if now >= child.due_at:
                        child.restarts += 1
                        child.start()
                        say(
                            f"已重新启动{child.name} / {child.name} restarted (pid {child.process and child.process.pid})"
                        )
                    continue
                code = child.process.poll() if child.process is not None else None
                if code is None:
                    continue
                quick = now - child.started_at < STABLE_SECONDS
                child.delay = (
                    min(RESTART_DELAY_MAX, child.delay * 2) if quick and child.restarts else RESTART_DELAY
                )
                child.due_at = now + child.delay
                say(
                    f"{child.name}意外退出（退出码 {code}），{child.delay:.0f} 秒后重新启动 / "
                    f"{child.name} exited ({code}), restarting in {child.delay:.0f} s"
                )
            time.sleep(POLL_SECONDS)
    finally:
        running = [c.process for c in children if c.process is not None and c.process.poll() is None]
        for process in running:
            process.terminate()
        deadline = None if grace is None else time.monotonic() + grace
        for process in running:
            try:
                process.wait(timeout=None if deadline is None else max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
