"""指标快照自动刷新 Queue a background refresh of the indicator snapshot whenever records change.

Every change that moves an indicator — a roster, enrolment or treatment import, a window/API settlement
or reversal, a settlement batch or re-settlement, a monitoring scan that raised alerts — sends the one
``jkfp.core.signals.data_changed`` signal after its transaction commits (a rolled-back change sends
nothing). ``on_data_changed`` (connected in ``IndicatorsConfig.ready``) queues ONE
``snapshot_refresh_task`` per year, coalesced:

- the task is queued to run ``JKFP_INDICATOR_REFRESH_DELAY`` seconds later (default 30), so a burst of
  single settlements is folded into one refresh;
- a year is skipped while a refresh of it is queued and has not started (status READY, ``run_after``
  still ahead): that task will read the committed change;
- the receiver sits on the hot path of single API settlements, so each process remembers (in memory,
  monotonic clock) until when it knows such a task is waiting, and asks the database again only after
  that — at most once per delay (≈ 30 s) per year per process. Inside that window a refresh is known not
  to have started yet, so no change is missed; the memo costs a dictionary look-up per call.

Staleness: the dashboard shows the previous snapshot with its "数据截至" time until the worker (started
by ``jkfp serve``) has run the task — about the delay plus the refresh time after the first change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from jkfp.indicators.tasks import snapshot_refresh_task

DEFAULT_DELAY_SECONDS = 30
MARGIN_SECONDS = 2.0  # a waiting task is trusted only until this long before it may start
TASK_PATH = "jkfp.indicators.tasks.snapshot_refresh_task"
MIN_YEAR, MAX_YEAR = 2016, 2100  # the years snapshot_refresh accepts

_lock = threading.Lock()
_waiting_until: dict[tuple[str, int], float] = {}  # (database alias, year) → monotonic deadline


def refresh_memo_clear() -> None:
    """清空记忆 Forget what this process knows about queued refreshes (tests)."""
    with _lock:
        _waiting_until.clear()


def _delay() -> float:
    return float(getattr(settings, "JKFP_INDICATOR_REFRESH_DELAY", DEFAULT_DELAY_SECONDS))


def _queued_until(year: int, backend: Any) -> float | None:
    """Seconds until a queued, not yet started refresh of ``year`` may start (None: none waiting)."""

    now = timezone.now()
    row = (
        DBTaskResult.objects.filter(
            task_path=TASK_PATH,
            status="READY",
            backend_name=backend.alias,
            args_kwargs__kwargs__year=year,
            run_after__gt=now + timedelta(seconds=MARGIN_SECONDS),
        )
        .order_by("-run_after")
        .values_list("run_after", flat=True)
        .first()
    )
    return None if row is None else (row - now).total_seconds()


def refresh_years_later(years: Iterable[int]) -> list[int]:
    """排队刷新 Queue one snapshot refresh per year unless one is already waiting; returns the years queued."""

    backend = snapshot_refresh_task.get_backend()
    is_db = isinstance(backend, DatabaseBackend)
    delay = _delay()
    queued: list[int] = []
    for year in sorted({int(y) for y in years}):
        if not MIN_YEAR <= year <= MAX_YEAR:
            continue
        key = (backend.alias, year)
        now = time.monotonic()
        with _lock:
            if _waiting_until.get(key, 0.0) > now:
                continue  # known to be waiting: no database round trip
        if is_db:
            left = _queued_until(year, backend)
            if left is not None:
                with _lock:
                    _waiting_until[key] = now + left - MARGIN_SECONDS
                continue
        task = snapshot_refresh_task
        if backend.supports_defer and delay > 0:
            task = task.using(run_after=timezone.now() + timedelta(seconds=delay))
        task.enqueue(year=year)
        queued.append(year)
        if is_db and delay > MARGIN_SECONDS:
            with _lock:
                _waiting_until[key] = now + delay - MARGIN_SECONDS
    return queued


def on_data_changed(
    sender: Any, *, kind: str, years: list[int], person_ids: list[int] | None = None, **_: Any
) -> None:
    """``data_changed`` receiver: every kind of change moves some indicator of its years."""
    refresh_years_later(years)
