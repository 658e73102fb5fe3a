"""The demo care data: written through the bulk code, repeatable, removable."""

from __future__ import annotations

from datetime import date

import pytest

from jkfp.care.models import Contract, FollowUp, FollowUpItem, Schedule, Team, TeamMember
from jkfp.care.synthetic import demo_care_build, demo_care_reset
from jkfp.care.tests.conftest import TODAY, CareWorld
from jkfp.registry.models import Tag

pytestmark = pytest.mark.django_db


def test_demo_build_is_repeatable_and_resettable(cw: CareWorld) -> None:
    for person in cw.persons.values():
        Tag.objects.create(person=person, code="poor", start_on=date(2016, 1, 1), source="国家平台")
    first = demo_care_build(county_code="421321", today=TODAY, seed=1, doctor_user=cw.users["doctor"])
    assert first.teams == 2 and first.visits > 0 and first.contracts > 0
    # Every visit's items carry a classification and every served condition has a schedule.
    assert not FollowUpItem.objects.filter(classification="").exists()
    pairs = set(FollowUpItem.objects.values_list("person_id", "disease_id"))
    assert pairs <= set(Schedule.objects.values_list("person_id", "disease_id"))
    assert all(f.next_on is not None for f in FollowUp.objects.all())
    # The demo doctor account is the village doctor of its village.
    assert TeamMember.objects.filter(user=cw.users["doctor"], name__endswith="（第1镇1村）").count() == 1
    counts = (Contract.objects.count(), FollowUp.objects.count(), Schedule.objects.count())
    again = demo_care_build(county_code="421321", today=TODAY, seed=1, doctor_user=cw.users["doctor"])
    assert (again.teams, again.contracts, again.visits) == (0, 0, 0)
    assert (Contract.objects.count(), FollowUp.objects.count(), Schedule.objects.count()) == counts
    demo_care_reset(county_code="421321")
    assert not Contract.objects.exists() and not Schedule.objects.exists()
    assert not Team.objects.filter(township__code__startswith="421321").exists()
