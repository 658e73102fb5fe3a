"""Family-doctor team members link to their staff records (卫生人员): by choice, or by a unique name."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django_tasks_db.models import DBTaskResult

from jkfp.capacity.models import Staff
from jkfp.capacity.tests.conftest import AS_OF, CapacityWorld, world
from jkfp.care import services
from jkfp.care.models import Team, TeamMember
from jkfp.care.receivers import on_data_changed

__all__ = ["world"]


def test_members_link_by_unique_name(world: CapacityWorld, make_user: Any) -> None:
    t1, t2 = world.county["t1"], world.county["t2"]
    team1 = Team.objects.create(township=t1, name="一队")
    team2 = Team.objects.create(township=t2, name="二队")
    sun = TeamMember.objects.create(team=team1, name="孙村医")
    stranger = TeamMember.objects.create(team=team1, name="郑护士")  # works in 第2镇, not here
    wu = TeamMember.objects.create(team=team2, name="吴村医")  # retired 2025-05-31
    assert services.members_link_staff(on=AS_OF) == 1
    sun.refresh_from_db()
    stranger.refresh_from_db()
    wu.refresh_from_db()
    assert sun.staff == Staff.objects.get(name="孙村医")
    assert stranger.staff is None
    assert wu.staff is None


def test_member_added_with_staff_of_the_township(world: CapacityWorld, make_user: Any) -> None:
    admin = make_user("county_admin", "421321")
    team = Team.objects.create(township=world.county["t1"], name="一队")
    member = services.team_member_add(user=admin, team=team, name="钱医师")
    assert member.staff == Staff.objects.get(name="钱医师")  # matched by name
    other = Staff.objects.get(name="周医师")  # of 第2镇卫生院
    with pytest.raises(ValidationError) as exc:
        services.team_member_add(user=admin, team=team, name="周医师", staff=other)
    assert exc.value.message_dict == {"staff": [services.ERR_STAFF_TOWNSHIP]}
    client = Client()
    client.force_login(admin)
    page = client.get(f"/care/teams/{team.pk}/").content.decode()
    assert "执业医师（第1镇卫生院）" in page


def test_staff_import_queues_the_link(world: CapacityWorld) -> None:
    before = DBTaskResult.objects.filter(task_path="jkfp.care.tasks.members_link_task").count()
    on_data_changed(None, kind="capacity", years=[2025])
    assert DBTaskResult.objects.filter(task_path="jkfp.care.tasks.members_link_task").count() == before + 1
