"""Recording a care service on the page announces it: one ``data_changed`` (kind ``care``) on commit.

The indicators (签约率, 规范管理率, 体检率, 建档率, 慢病卡) refresh from that signal; before, only
the care imports sent it, so a visit typed on the page waited for some other change to show.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction

from jkfp.care import services
from jkfp.care.tests.conftest import TODAY, CareWorld
from jkfp.care.tests.test_void import KINDS

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def _contract(w: CareWorld) -> Any:
    return services.contract_sign(
        user=w.users["doctor"],
        person=w.persons["zhang"],
        team=w.teams["t1"],
        signed_on=TODAY - 40 * DAY,
    )


def _record(w: CareWorld) -> Any:
    return services.health_record_open(
        user=w.users["doctor"], person=w.persons["zhang"], opened_on=TODAY - 3 * DAY
    )


RECORDERS: dict[str, Callable[[CareWorld], Any]] = {
    **{kind: make for kind, (make, _) in KINDS.items()},
    "contract": _contract,
    "health_record": _record,
}
DATES = {
    "followup": "visited_on",
    "checkup": "checked_on",
    "drug_delivery": "delivered_on",
    "chronic_card": "certified_on",
    "contract": "signed_on",
    "health_record": "opened_on",
}


@pytest.mark.parametrize("kind", sorted(RECORDERS))
def test_recording_sends_one_care_change_on_commit(
    cw: CareWorld, kind: str, received: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        entry = RECORDERS[kind](cw)
        assert received == []  # not before the commit
    on = getattr(entry, DATES[kind])
    assert [(c["kind"], c["years"], c["person_ids"]) for c in received] == [
        ("care", [on.year], [cw.persons["zhang"].pk])
    ]


def test_a_rolled_back_visit_sends_nothing(
    cw: CareWorld, received: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    make, _ = KINDS["followup"]
    with django_capture_on_commit_callbacks(execute=True):  # noqa: SIM117 (the outer block must see the rollback of the inner one)
        with pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012 (the block is the one operation under test)
            make(cw)
            raise RuntimeError("rolled back")
    assert received == []
