"""指标快照刷新 An import that changed something, a settlement batch and a scan that raised alerts queue
one background refresh of the indicator snapshot for the year they touched; nothing changed, nothing queued."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from jkfp.cli.refresh import indicators_refresh_later
from jkfp.registry.tests.test_roster_import import diseases, pid, row, write_csv  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
TASK = "jkfp.indicators.tasks.snapshot_refresh_task"


def _queued() -> list[Any]:
    # Task ids are UUIDs: sort the years, not the rows.
    return sorted(r.args_kwargs["kwargs"]["year"] for r in DBTaskResult.objects.filter(task_path=TASK))


def test_refresh_queues_one_task_per_distinct_year() -> None:
    assert indicators_refresh_later(years=[2026, 2025, 2026]) == [2025, 2026]
    assert _queued() == [2025, 2026]


@pytest.mark.usefixtures("diseases")
def test_roster_import_queues_a_refresh_of_its_year_only_when_it_changed_something(
    tmp_path: Path, settings: Any
) -> None:
    settings.IMPORT_DIR = tmp_path / "imports"
    f = write_csv(tmp_path / "a.csv", [row(pid(1))])
    call_command("import_roster", str(f), "--source", "扶贫办", "--year", "2024", "--json", stdout=StringIO())
    assert _queued() == [2024]
    call_command("import_roster", str(f), "--source", "扶贫办", "--year", "2024", "--json", stdout=StringIO())
    assert _queued() == [2024]  # the same file again: created 0, updated 0, nothing queued
