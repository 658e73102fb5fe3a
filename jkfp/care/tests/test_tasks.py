"""数据变更 → 随访计划 A roster change queues a care sync (cheap receiver); the task creates the schedules;
the care imports announce what they changed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from jkfp.care import imports
from jkfp.care.models import Schedule
from jkfp.care.receivers import MAX_PERSON_IDS
from jkfp.care.tasks import SYNC_TASK_PATH, care_sync_task
from jkfp.care.tests.conftest import TODAY, CareWorld, add_condition, make_person
from jkfp.core.signals import data_changed, send_data_changed

pytestmark = pytest.mark.django_db
DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def _queued_syncs() -> list[Any]:
    return [
        r.args_kwargs["kwargs"].get("person_ids")
        for r in DBTaskResult.objects.filter(task_path=SYNC_TASK_PATH)
    ]


def test_a_roster_change_queues_a_care_sync_on_commit_only(
    cw: CareWorld, settings: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    settings.TASKS = DB_TASKS
    person = make_person(cw.county["t1v2"], "新人", 77)
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        send_data_changed(kind="roster", years=[TODAY.year], person_ids=[person.pk])
        assert _queued_syncs() == []  # nothing before the commit
    assert len(callbacks) == 1
    assert _queued_syncs() == [[person.pk]]
    # Other kinds do not concern the schedules.
    with django_capture_on_commit_callbacks(execute=True):
        send_data_changed(kind="settlement", years=[TODAY.year])
    assert len(_queued_syncs()) == 1


def test_a_large_or_unspecified_roster_change_syncs_everyone(cw: CareWorld, settings: Any) -> None:
    settings.TASKS = DB_TASKS
    data_changed.send(sender="roster", kind="roster", years=[TODAY.year], person_ids=None)
    data_changed.send(
        sender="roster", kind="roster", years=[TODAY.year], person_ids=list(range(1, MAX_PERSON_IDS + 2))
    )
    data_changed.send(sender="roster", kind="roster", years=[TODAY.year], person_ids=[])
    assert _queued_syncs() == [None, None]


def test_the_sync_task_creates_the_schedule_of_a_new_condition(cw: CareWorld, settings: Any) -> None:
    settings.TASKS = DB_TASKS
    person = make_person(cw.county["t1v2"], "新人", 77)
    add_condition(person, cw.diseases["高血压"])
    other = make_person(cw.county["t1v2"], "别人", 79)
    add_condition(other, cw.diseases["高血压"])
    assert not Schedule.objects.filter(person__in=[person, other]).exists()
    result = care_sync_task.call(person_ids=[person.pk])
    assert result == {"created": 1}
    schedule = Schedule.objects.get(person=person)
    assert (schedule.disease, schedule.village_id, schedule.due_on) == (
        cw.diseases["高血压"],
        cw.county["t1v2"].code,
        TODAY,
    )
    assert not Schedule.objects.filter(person=other).exists()  # only the persons named
    # The queued task, run by a worker, does the same for everyone.
    queued = care_sync_task.enqueue(person_ids=None)
    assert DBTaskResult.objects.filter(pk=queued.id).exists()
    assert care_sync_task.call() == {"created": 1}
    assert Schedule.objects.filter(person=other).exists()


def _care_signals(monkeypatch: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(imports, "send_data_changed", lambda **kw: sent.append(kw))
    return sent


def test_care_imports_announce_a_change_only_when_they_changed_something(
    cw: CareWorld, tmp_path: Path, monkeypatch: Any
) -> None:
    sent = _care_signals(monkeypatch)
    zhang = cw.persons["zhang"]
    year = TODAY.year - 1
    contracts = tmp_path / "签约.csv"
    contracts.write_text(
        f"身份证号,签约日期,到期日期,团队,家庭医生\n{zhang.id_number},{year}-03-01,{year + 1}-02-28,第1镇一队,村医甲\n",
        encoding="utf-8",
    )
    imports.contracts_import(path=contracts, errors_dir=tmp_path, today=TODAY)
    assert sent == [{"kind": "care", "years": {year, year + 1}, "person_ids": {zhang.pk}}]
    imports.contracts_import(path=contracts, errors_dir=tmp_path, today=TODAY)
    assert len(sent) == 1  # unchanged: nothing announced
    visits = tmp_path / "随访.csv"
    visits.write_text(
        f"身份证号,随访日期,疾病,方式,收缩压,舒张压,空腹血糖,医生\n{zhang.id_number},{year}-05-06,高血压,门诊,130,80,,\n",
        encoding="utf-8",
    )
    imports.followups_import(path=visits, errors_dir=tmp_path, today=TODAY)
    assert sent[1] == {"kind": "care", "years": {year}, "person_ids": {zhang.pk}}
    imports.followups_import(path=visits, errors_dir=tmp_path, today=TODAY)
    assert len(sent) == 2


def test_the_care_signal_reaches_receivers_after_commit(
    cw: CareWorld, tmp_path: Path, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    received: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        received.append(kwargs)

    data_changed.connect(receiver, dispatch_uid="test-care-receiver")
    try:
        zhang = cw.persons["zhang"]
        visits = tmp_path / "随访.csv"
        visits.write_text(
            f"身份证号,随访日期,疾病,方式,收缩压,舒张压,空腹血糖,医生\n{zhang.id_number},{TODAY.year}-01-01,高血压,门诊,130,80,,\n",
            encoding="utf-8",
        )
        with django_capture_on_commit_callbacks(execute=True):
            imports.followups_import(path=visits, errors_dir=tmp_path, today=TODAY)
    finally:
        data_changed.disconnect(dispatch_uid="test-care-receiver")
    assert [(r["kind"], r["years"], r["person_ids"]) for r in received] == [
        ("care", [TODAY.year], [zhang.pk])
    ]


def test_a_roster_import_gets_new_conditions_scheduled_without_care_sync(
    cw: CareWorld, tmp_path: Path, settings: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    """End to end: the roster import announces kind "roster", the receiver queues the sync, the worker runs it."""
    from datetime import date

    from jkfp.core.idnumber import make_id_number
    from jkfp.registry.imports import roster_import
    from jkfp.registry.models import Person

    settings.TASKS = DB_TASKS
    settings.IMPORT_DIR = tmp_path
    id_number = make_id_number("421321", date(1952, 4, 4), 961)
    roster = tmp_path / "花名册.csv"
    roster.write_text(
        "身份证号,姓名,村代码,户编号,与户主关系,人员类别,患病情况,联系电话\n"
        f"{id_number},钱七,{cw.county['t1v2'].code},R-9,户主,低保,高血压,\n",
        encoding="utf-8",
    )
    with django_capture_on_commit_callbacks(execute=True):
        summary = roster_import(path=roster, source="国家平台", year=TODAY.year, errors_dir=tmp_path)
    assert summary.created == 1
    person = Person.objects.get(id_number=id_number)
    assert not Schedule.objects.filter(person=person).exists()  # queued, not run by the receiver
    queued = DBTaskResult.objects.filter(task_path=SYNC_TASK_PATH)
    assert queued.count() == 1
    care_sync_task.call(**queued.get().args_kwargs["kwargs"])  # what the worker does
    assert Schedule.objects.get(person=person).disease == cw.diseases["高血压"]
