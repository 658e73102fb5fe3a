"""离线应用测试数据 The data of the offline app's browser tests and of its render benchmark.

``seed(N)`` (in a test, on its database) loads the catalogue and creates 随县 with one township of two
villages, the village doctor ``cunyi`` (村医甲, 第1镇1村), the county administrator ``xian``, and N
persons in 第1镇1村 (the first five and every third with hypertension, the first five and every fifth
with diabetes, first visits due five days ago); the first three have a household, a contract and a
family doctor. ``python -m tests.browser.offline_seed N`` does the same on ``DATABASE_URL`` after
migrating it, and prints the first persons as JSON.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date, timedelta


def seed(count: int) -> list[tuple[int, str]]:
    """The offline app's test county with ``count`` persons; returns the first five (id, name)."""
    from django.utils import timezone

    from jkfp.accounts.models import Role
    from jkfp.accounts.services import user_create
    from jkfp.care.bulk import schedules_sync
    from jkfp.care.models import Contract, DoctorAssignment, Team, TeamMember
    from jkfp.core.idnumber import make_id_number
    from jkfp.regions.models import Region, RegionLevel
    from jkfp.registry.models import Condition, Disease, Household, Person
    from jkfp.registry.services import disease_catalogue_load

    disease_catalogue_load()
    today = timezone.localdate()
    county = Region.objects.create(code="421321", name="随县", level=RegionLevel.COUNTY)
    town = Region.objects.create(code="421321001000", name="第1镇", level=RegionLevel.TOWNSHIP, parent=county)
    v1 = Region.objects.create(code="421321001001", name="第1镇1村", level=RegionLevel.VILLAGE, parent=town)
    Region.objects.create(code="421321001002", name="第1镇2村", level=RegionLevel.VILLAGE, parent=town)
    doctor = user_create(
        username="cunyi",
        password="Passw0rd!jkfp",
        role=Role.VILLAGE_DOCTOR,
        region_code=v1.code,
        full_name="村医甲",
    )
    user_create(username="xian", password="Passw0rd!jkfp", role=Role.COUNTY_ADMIN, region_code=county.code)
    htn, dm = Disease.objects.get(name="高血压"), Disease.objects.get(name="2型糖尿病")
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
    given = "春花秋月明华建国秀英志强桂兰海燕玉梅金凤德胜丽娟"
    persons = []
    for i in range(count):
        born = date(1950 + i % 30, 1 + i % 12, 1 + i % 28)
        name = surnames[i % len(surnames)] + given[(i * 7) % len(given)] + given[(i * 3 + 1) % len(given)]
        persons.append(
            Person(
                id_number=make_id_number("421321", born, i),
                name=name if i >= 5 else ["欧阳春花", "司马建国", "诸葛秀英", "上官德胜", "东方玉梅"][i],
                sex="M" if i % 2 else "F",
                birth_date=born,
                phone=f"1380000{i:04d}",
                village=v1,
            )
        )
    Person.objects.bulk_create(persons, batch_size=500)
    persons = list(Person.objects.order_by("pk"))
    conditions = []
    for i, p in enumerate(persons):
        if i < 5 or i % 3 == 0:
            conditions.append(Condition(person=p, disease=htn, name="高血压"))
        if i < 5 or i % 5 == 0:
            conditions.append(Condition(person=p, disease=dm, name="2型糖尿病"))
    Condition.objects.bulk_create(conditions, batch_size=500)
    schedules_sync(today=today - timedelta(days=5))
    team = Team.objects.create(township=town, name="第1镇家庭医生团队")
    member = TeamMember.objects.create(
        team=team, name="村医甲", role="village_doctor", phone="13900001111", user=doctor
    )
    for p in persons[:3]:
        household = Household.objects.create(household_no=f"H{p.pk:05d}", village=v1, head=p)
        Person.objects.filter(pk=p.pk).update(household=household)
        DoctorAssignment.objects.create(household=household, member=member, start_on=date(today.year, 1, 1))
        Contract.objects.create(
            person=p,
            team=team,
            doctor=member,
            signed_on=date(today.year, 1, 1),
            end_on=date(today.year, 12, 31),
        )
    return [(p.pk, p.name) for p in persons[:5]]


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jkfp.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    first = seed(int(argv[0]) if argv else 20)
    print(json.dumps({"persons": first}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
