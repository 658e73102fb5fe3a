"""指标快照刷新 After an import, a settlement batch, a re-settlement or a scan, queue a refresh of the
indicator snapshot of the years it touched (issue 7 §6: "refreshed after imports and settlements").

The refresh is a background task (``jkfp.indicators.tasks.snapshot_refresh_task``, run by the worker
that ``jkfp serve`` starts): at county scale it takes seconds to minutes and must not hold the command
or a request open. Until it has run, the dashboard shows the previous snapshot with its "数据截至" time.
"""

from __future__ import annotations

from collections.abc import Iterable

from jkfp.indicators.tasks import snapshot_refresh_task


def indicators_refresh_later(*, years: Iterable[int]) -> list[int]:
    """Queue one snapshot refresh per distinct year; returns the years queued."""
    queued = sorted(set(years))
    for year in queued:
        snapshot_refresh_task.enqueue(year=year)
    return queued
