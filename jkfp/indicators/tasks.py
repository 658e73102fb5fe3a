"""后台任务 Background refresh of the indicator snapshot (django-tasks).

Imports and batch settlements should enqueue this rather than call ``snapshot_refresh`` inline: at
county scale a refresh takes seconds to minutes and must not hold a request or an import open.
``snapshot_refresh_task.enqueue(year=2026)``.
"""

from __future__ import annotations

from django_tasks import task

from jkfp.indicators.services import snapshot_refresh


@task()
def snapshot_refresh_task(year: int) -> dict[str, float | int]:
    """刷新指标快照（后台）"""
    run = snapshot_refresh(year=year)
    return {"year": run.year, "seconds": run.seconds}
