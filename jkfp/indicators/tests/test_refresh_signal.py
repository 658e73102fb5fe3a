"""指标快照自动刷新 Every committed change queues exactly one background refresh of its year, coalesced.

The changes send ``jkfp.core.signals.data_changed`` on commit; ``jkfp.indicators.refresh`` queues the
``snapshot_refresh_task`` (database task backend: rows, not run). Tests run inside a transaction, so
``django_capture_on_commit_callbacks(execute=True)`` plays the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from jkfp.core.signals import send_data_changed
from jkfp.indicators.refresh import TASK_PATH, refresh_memo_clear, refresh_years_later
from jkfp.registry.tests.test_roster_import import diseases, pid, row, write_csv  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]


@pytest.fixture(autouse=True)
def _fresh_memo() -> Iterator[None]:
    refresh_memo_clear()
    yield
    refresh_memo_clear()


def _queued() -> list[int]:
    """Years of the refresh tasks waiting to run (task ids are UUIDs: sort the years)."""
    rows = DBTaskResult.objects.filter(task_path=TASK_PATH, status="READY")
    return sorted(r.args_kwargs["kwargs"]["year"] for r in rows)


def _import_roster(path: Path, year: int = 2024) -> dict[str, Any]:
    import json

    out = StringIO()
    call_command("import_roster", str(path), "--source", "扶贫办", "--year", str(year), "--json", stdout=out)
    return dict(json.loads(out.getvalue()))


@pytest.mark.usefixtures("diseases")
def test_cli_roster_import_queues_one_refresh_and_a_second_change_adds_none(
    tmp_path: Path, settings: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    settings.IMPORT_DIR = tmp_path / "imports"
    first = write_csv(tmp_path / "a.csv", [row(pid(1))])
    with django_capture_on_commit_callbacks(execute=True):
        assert _import_roster(first)["created"] == 1
    assert _queued() == [2024]
    task = DBTaskResult.objects.get(task_path=TASK_PATH)
    assert task.run_after > timezone.now()  # delayed: a burst of changes folds into this one
    second = write_csv(tmp_path / "b.csv", [row(pid(1)), row(pid(2), "李四")])
    with django_capture_on_commit_callbacks(execute=True):
        assert _import_roster(second)["created"] == 1
    assert _queued() == [2024]  # coalesced (this process remembered the waiting task)
    refresh_memo_clear()  # another process: it asks the database, finds the waiting task
    third = write_csv(tmp_path / "c.csv", [row(pid(1)), row(pid(2), "李四"), row(pid(3), "王五")])
    with django_capture_on_commit_callbacks(execute=True):
        assert _import_roster(third)["created"] == 1
    assert _queued() == [2024]


@pytest.mark.usefixtures("diseases")
def test_an_import_that_changes_nothing_queues_nothing(
    tmp_path: Path, settings: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    settings.IMPORT_DIR = tmp_path / "imports"
    f = write_csv(tmp_path / "a.csv", [row(pid(1))])
    _import_roster(f)  # outside the capture: its commit callbacks are dropped
    with django_capture_on_commit_callbacks(execute=True):
        assert _import_roster(f)["updated"] == 0
    assert _queued() == []


@pytest.mark.usefixtures("diseases")
def test_web_roster_import_task_queues_one_refresh(
    tmp_path: Path, settings: Any, make_user: Callable[..., Any], django_capture_on_commit_callbacks: Capture
) -> None:
    from jkfp.accounts.models import Role
    from jkfp.registry.services import import_run_start
    from jkfp.registry.tasks import roster_import_task

    settings.IMPORT_DIR = tmp_path / "imports"
    admin = make_user(Role.COUNTY_ADMIN, "421321")
    data = write_csv(tmp_path / "a.csv", [row(pid(1)), row(pid(2), "李四")]).read_bytes()
    run = import_run_start(user=admin, upload=SimpleUploadedFile("a.csv", data), source="扶贫办", year=2025)
    with django_capture_on_commit_callbacks(execute=True):
        result = roster_import_task.call(run_id=run.pk)
    assert result["created"] == 2
    assert _queued() == [2025]


def _settle_world(county: dict[str, Any], make_user: Callable[..., Any]) -> Any:
    from jkfp.settlement.tests.factories import build_world

    return build_world(county, make_user)


def test_window_settlement_and_reversal_each_queue_one_refresh(
    county: dict[str, Any], make_user: Callable[..., Any], django_capture_on_commit_callbacks: Capture
) -> None:
    from jkfp.settlement.models import Claim
    from jkfp.settlement.services import claim_reverse
    from jkfp.settlement.tests.factories import submit

    sw = _settle_world(county, make_user)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        submit(sw, "S1", "poor1", "county2", date(2020, 3, 1), "20000.00", "1000.00")
    assert len(callbacks) == 1  # one signal for the settlement
    assert _queued() == [2020]
    with django_capture_on_commit_callbacks(execute=True):
        submit(sw, "S2", "poor2", "county2", date(2020, 4, 1), "8000.00", "800.00")
    assert _queued() == [2020]  # the waiting refresh covers it

    DBTaskResult.objects.all().delete()  # the worker ran it
    refresh_memo_clear()
    with django_capture_on_commit_callbacks(execute=True):
        claim_reverse(claim=Claim.objects.get(claim_id="S1"), user=sw.users["hosp"], reason="重复结算")
    assert _queued() == [2020]


def test_a_rolled_back_settlement_queues_nothing(
    county: dict[str, Any], make_user: Callable[..., Any], django_capture_on_commit_callbacks: Capture
) -> None:
    from jkfp.settlement.models import Claim
    from jkfp.settlement.tests.factories import submit

    sw = _settle_world(county, make_user)
    with django_capture_on_commit_callbacks(execute=True):  # noqa: SIM117 (the outer block must see the rollback of the inner one)
        with pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012 (the block is the one operation under test)
            submit(sw, "S1", "poor1", "county2", date(2020, 3, 1), "20000.00", "1000.00")
            raise RuntimeError("rolled back")
    assert not Claim.objects.filter(claim_id="S1").exists()
    assert _queued() == []


def test_batch_settlement_queues_one_refresh(
    county: dict[str, Any], make_user: Callable[..., Any], django_capture_on_commit_callbacks: Capture
) -> None:
    from jkfp.settlement.services import claim_create

    sw = _settle_world(county, make_user)
    for i, day in enumerate((date(2020, 3, 1), date(2020, 5, 1))):
        claim_create(
            claim_id=f"B{i}",
            person=sw.persons["poor1"],
            institution=sw.institutions["county2"],
            admitted_on=day,
            discharged_on=day,
            total_amount=Decimal("5000.00"),
            out_of_scope_amount=Decimal("0"),
        )
    with django_capture_on_commit_callbacks(execute=True):
        out = StringIO()
        call_command("settle_claims", "--year", "2020", "--json", stdout=out)
    assert '"settled": 2' in out.getvalue()
    assert _queued() == [2020]


def test_a_scan_that_raises_alerts_queues_one_refresh(
    county: dict[str, Any], make_user: Callable[..., Any], django_capture_on_commit_callbacks: Capture
) -> None:
    from jkfp.monitoring import rules
    from jkfp.monitoring.tests.factories import YEAR, build_world, make_person, pay, tag

    build_world(county, make_user)
    person = make_person(county["t1v1"], "低收入超")
    tag(person, "poor")
    low = rules.DEFAULT_RULES[0].threshold_amount
    assert low is not None
    pay(person, str(low + Decimal("0.01")), date(YEAR, 3, 1), institution=county["hospital"])
    as_of = min(date(YEAR, 9, 30), timezone.localdate())
    with django_capture_on_commit_callbacks(execute=True):
        out = StringIO()
        call_command("monitor", "scan", "--as-of", as_of.isoformat(), "--json", stdout=out)
    assert '"alerts_created": 1' in out.getvalue()
    assert _queued() == [YEAR]
    DBTaskResult.objects.all().delete()
    refresh_memo_clear()
    with django_capture_on_commit_callbacks(execute=True):  # nothing new: no signal, no refresh
        call_command("monitor", "scan", "--as-of", as_of.isoformat(), "--json", stdout=StringIO())
    assert _queued() == []


def test_a_started_refresh_does_not_hide_a_later_change(django_capture_on_commit_callbacks: Capture) -> None:
    assert refresh_years_later([2024]) == [2024]
    # The worker starts it: a change committed now is not in what it reads, so a new one is queued.
    DBTaskResult.objects.filter(task_path=TASK_PATH).update(status="RUNNING")
    refresh_memo_clear()
    assert refresh_years_later([2024]) == [2024]
    # A waiting task about to start (its run_after past) is not trusted either.
    DBTaskResult.objects.filter(task_path=TASK_PATH, status="READY").update(
        run_after=timezone.now() - timedelta(seconds=1)
    )
    refresh_memo_clear()
    assert refresh_years_later([2024]) == [2024]
    assert len(_queued()) == 2


def test_the_memo_spares_the_database_on_the_hot_path(django_assert_num_queries: Callable[..., Any]) -> None:
    assert refresh_years_later([2024, 2023, 2024]) == [2023, 2024]
    with django_assert_num_queries(0):
        assert refresh_years_later([2024, 2023]) == []
    refresh_memo_clear()
    with django_assert_num_queries(2):  # one look-up per year, nothing queued
        assert refresh_years_later([2024, 2023]) == []
    assert _queued() == [2023, 2024]
    assert refresh_years_later([1999, 2200]) == []  # years snapshot_refresh refuses


def test_the_signal_reaches_the_receiver_only_on_commit(django_capture_on_commit_callbacks: Capture) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        send_data_changed(kind="enrolment", years=[2025])
    assert _queued() == []  # not committed yet
    for callback in callbacks:
        callback()
    assert _queued() == [2025]
