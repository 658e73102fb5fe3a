"""进度条 One progress bar for the long commands (rich), shown only on a terminal and without ``--json``.

``with command_progress(stdout, enabled=…) as report:`` yields ``report(step, fraction)``: a bar that
follows the step's name and its fraction (0–1; ``UNKNOWN`` for a step whose length is not known, which
pulses). Anywhere else — a pipe, a log, ``--json`` — it does
nothing, so scripts read clean output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

Report = Callable[[str, float], None]
UNKNOWN = -1.0


def _quiet(step: str, fraction: float) -> None:
    return None


def progress_wanted(stream: Any, *, json_output: bool = False) -> bool:
    """True when ``stream`` is a terminal and the output is not JSON."""
    target = getattr(stream, "_out", stream)  # Django's OutputWrapper keeps the real stream in _out
    isatty = getattr(target, "isatty", None)
    return bool(not json_output and callable(isatty) and isatty())


@contextmanager
def command_progress(stream: Any, *, enabled: bool) -> Iterator[Report]:
    """进度 A ``report(step, fraction)`` drawing a bar on ``stream`` while the block runs (if enabled)."""
    if not enabled:
        yield _quiet
        return
    console = Console(file=getattr(stream, "_out", stream))
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("", total=1.0)

        def report(step: str, fraction: float) -> None:
            if fraction < 0:
                bar.update(task, description=step, total=None)
            else:
                bar.update(task, description=step, total=1.0, completed=min(1.0, fraction))

        yield report
