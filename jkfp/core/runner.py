"""执行进程 Which process runs a long job, told so that a later process can know whether it still lives.

A token ``pid:start:boot:host`` — the process id, its start time (clock ticks since boot, from
``/proc``: a reused pid has another), the first 8 characters of the kernel's boot id (a reboot ends
every process) and the host name — fits the 64 characters of django-tasks' worker id. Pure Python.
"""

from __future__ import annotations

import os
import socket
from functools import cache
from pathlib import Path

HOST_CHARS = 32


@cache
def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")[:8]
    except OSError:
        return ""


def _host() -> str:
    return socket.gethostname()[:HOST_CHARS].replace(":", "_")


def _start_ticks(pid: int) -> str | None:
    """The start time of process ``pid`` (``/proc/<pid>/stat`` field 22); None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()[19]


def runner_token(pid: int | None = None) -> str:
    """本进程 The token of this process (or of ``pid``)."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{_start_ticks(pid) or ''}:{_boot_id()}:{_host()}"


def runner_alive(token: str) -> bool | None:
    """还在运行吗 True: the process of ``token`` runs; False: it has ended; None: unknown (another host,
    or not a token of ours) — never taken for ended."""
    parts = token.split(":", 3)
    if len(parts) != 4 or not parts[0].isdigit() or parts[3] != _host():
        return None
    pid, start, boot = int(parts[0]), parts[1], parts[2]
    if boot != _boot_id():
        return False  # the machine has restarted since
    return _start_ticks(pid) == start if start else _start_ticks(pid) is not None
