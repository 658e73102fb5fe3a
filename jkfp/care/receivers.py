"""数据变更接收 The care app's receiver of ``jkfp.core.signals.data_changed`` (connected in CareConfig.ready).

After a roster import (kind ``roster``) new conditions need follow-up schedules and moved persons'
schedules must follow their village: the receiver only queues ``care_sync_task`` (cheap); the
task does what ``jkfp care-sync`` does. After a staff import (kind ``capacity``) it queues
``members_link_task``, which links family-doctor members to their staff records by name.
"""

from __future__ import annotations

from typing import Any

from jkfp.care.tasks import care_sync_task, members_link_task

# Above this many persons the task syncs everyone: the arguments stay small and one pass is cheaper.
MAX_PERSON_IDS = 5000


def on_data_changed(
    sender: Any, *, kind: str, years: list[int], person_ids: list[int] | None = None, **_: Any
) -> None:
    """花名册变更 → 排队补建随访计划 Queue a care sync for the persons a roster import touched; 卫生人员变更 →
    link the family-doctor members to their staff records."""
    if kind == "capacity":
        members_link_task.enqueue()
        return
    if kind != "roster":
        return
    ids = None if person_ids is None or len(person_ids) > MAX_PERSON_IDS else list(person_ids)
    if ids == []:
        return
    care_sync_task.enqueue(person_ids=ids)
