"""村医离线数据 What the phone stores on each sync: the doctor's villages' persons and the follow-up rules.

Everything is read through ``jkfp.accounts.scoping.scope`` (nothing outside the user's region is
ever sent) in a fixed number of queries whatever the number of persons; ID numbers are masked.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Max
from django.http import Http404
from django.utils import timezone

from jkfp.accounts.models import Role, User
from jkfp.accounts.scoping import scope, user_prefix
from jkfp.care.models import (
    Checkup,
    Classification,
    Contract,
    DoctorAssignment,
    DrugDelivery,
    DueReason,
    FollowUp,
    Schedule,
    VisitKind,
)
from jkfp.care.rules import rules_as_data
from jkfp.care.selectors import WEEK_DAYS, contracts_covering, rules_for
from jkfp.core.idnumber import mask
from jkfp.offline.models import Device, SyncEntry
from jkfp.registry.models import Condition, LivingStatus, Person

NOT_FOUND_DEVICE = "设备不存在或不在您的管辖范围内"
# How far back the phone's "last readings" look: a person not visited for longer shows none.
LAST_VISIT_DAYS = 400


@dataclass(frozen=True)
class Snapshot:
    """离线数据包 The scope sent to one phone, with the time it was read (数据截至)."""

    as_of: datetime
    today: date
    data: dict[str, Any]


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def field_snapshot(*, user: User, today: date | None = None) -> Snapshot:
    """离线数据包 The persons of the user's villages with what the app's pages show, and the rules.

    Dead persons are left out (nothing can be recorded for them); a person who moved away or died
    since the last sync disappears from the phone with the next one.
    """
    today = today or timezone.localdate()
    as_of = timezone.now()
    persons_qs = scope(Person.objects.all(), user).exclude(living_status=LivingStatus.DEAD)
    persons: dict[int, dict[str, Any]] = {}
    for row in persons_qs.values(
        "id",
        "name",
        "sex",
        "birth_date",
        "phone",
        "id_number",
        "village_id",
        "village__name",
        "household_id",
        "household__household_no",
        "living_status",
    ).order_by("village_id", "household_id", "id"):
        persons[row["id"]] = {
            "id": row["id"],
            "name": row["name"],
            "sex": row["sex"],
            "birth_date": _iso(row["birth_date"]),
            "phone": row["phone"],
            "id_masked": mask(row["id_number"]),
            "village": row["village_id"],
            "village_name": row["village__name"],
            "household_no": row["household__household_no"] or "",
            "household_id": row["household_id"],
            "away": row["living_status"] == LivingStatus.AWAY,
            "conditions": [],
            "schedules": [],
            "last_visit": None,
            "contract": None,
            "family_doctor": None,
            "last_checkup_on": None,
            "last_delivery_on": None,
        }
    ids = list(persons)
    county = (user.region_id or "")[:6]
    rules = rules_for(county_code=county)
    seen: set[tuple[int, int | None]] = set()
    for person_id, disease_id, name, disease_name in (
        scope(Condition.objects.all(), user, "person__village_id")
        .exclude(person__living_status=LivingStatus.DEAD)
        .values_list("person_id", "disease_id", "name", "disease__name")
        .order_by("person_id", "disease__name", "name")
    ):
        if (person_id, disease_id) in seen or person_id not in persons:
            continue
        seen.add((person_id, disease_id))
        persons[person_id]["conditions"].append(
            {"disease_id": disease_id, "name": disease_name or name, "followed": disease_id in rules}
        )
    for s in (
        scope(Schedule.objects.all(), user)
        .values(
            "person_id",
            "disease_id",
            "due_on",
            "reason",
            "last_visit_on",
            "last_classification",
            "uncontrolled_streak",
            "escalate_on",
        )
        .order_by("due_on", "person_id", "disease_id")
    ):
        person = persons.get(s["person_id"])
        if person is None:
            continue
        person["schedules"].append(
            {
                "disease_id": s["disease_id"],
                "due_on": _iso(s["due_on"]),
                "reason": s["reason"],
                "last_visit_on": _iso(s["last_visit_on"]),
                "last_classification": s["last_classification"],
                "streak": s["uncontrolled_streak"],
                "escalate_on": _iso(s["escalate_on"]),
            }
        )
    for v in (
        scope(FollowUp.objects.all(), user, "person__village_id")
        .filter(visited_on__gte=today - timedelta(days=LAST_VISIT_DAYS))
        .values("person_id", "visited_on", "kind", "systolic", "diastolic", "glucose", "weight", "next_on")
        .order_by("person_id", "-visited_on")
    ):
        person = persons.get(v["person_id"])
        if person is None or person["last_visit"] is not None:
            continue
        person["last_visit"] = {
            "visited_on": _iso(v["visited_on"]),
            "kind": v["kind"],
            "systolic": v["systolic"],
            "diastolic": v["diastolic"],
            "glucose": None if v["glucose"] is None else str(v["glucose"]),
            "weight": None if v["weight"] is None else str(v["weight"]),
            "next_on": _iso(v["next_on"]),
        }
    for c in (
        scope(Contract.objects.all(), user, "person__village_id")
        .filter(contracts_covering(year=today.year), signed_on__lte=today, end_on__gte=today)
        .values(
            "person_id", "signed_on", "end_on", "team__name", "doctor__name", "doctor__phone", "package__name"
        )
        .order_by("person_id", "signed_on")
    ):
        person = persons.get(c["person_id"])
        if person is not None:
            person["contract"] = {
                "signed_on": _iso(c["signed_on"]),
                "end_on": _iso(c["end_on"]),
                "team": c["team__name"],
                "doctor": c["doctor__name"] or "",
                "doctor_phone": c["doctor__phone"] or "",
                "package": c["package__name"] or "",
            }
    doctors: dict[int, dict[str, str]] = {}
    for a in (
        scope(DoctorAssignment.objects.all(), user, "household__village_id")
        .filter(end_on__isnull=True)
        .values("household_id", "member__name", "member__phone", "member__team__name")
    ):
        doctors[a["household_id"]] = {
            "name": a["member__name"],
            "phone": a["member__phone"] or "",
            "team": a["member__team__name"],
        }
    checks = dict(
        scope(Checkup.objects.all(), user, "person__village_id")
        .values("person_id")
        .annotate(last=Max("checked_on"))
        .values_list("person_id", "last")
        .order_by()
    )
    deliveries = dict(
        scope(DrugDelivery.objects.all(), user, "person__village_id")
        .values("person_id")
        .annotate(last=Max("delivered_on"))
        .values_list("person_id", "last")
        .order_by()
    )
    for person_id, person in persons.items():
        household = person.pop("household_id")
        person["family_doctor"] = doctors.get(household) if household is not None else None
        person["last_checkup_on"] = _iso(checks.get(person_id))
        person["last_delivery_on"] = _iso(deliveries.get(person_id))
    disease_names = {
        c["disease_id"]: c["name"]
        for p in persons.values()
        for c in p["conditions"]
        if c["disease_id"] is not None
    }
    data: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "today": today.isoformat(),
        "user": {
            "id": user.pk,
            "username": user.username,
            "name": str(user),
            "role": user.role,
            "region": user.region_id,
            "region_name": user.region.name if user.region else "",
        },
        "week_days": WEEK_DAYS,
        "rules": rules_as_data({d: r for d, r in rules.items() if d in disease_names}),
        "diseases": {str(k): v for k, v in sorted(disease_names.items())},
        "labels": {
            "classification": dict(Classification.choices),
            "reason": dict(DueReason.choices),
            "kind": dict(VisitKind.choices),
        },
        "persons": [persons[i] for i in ids],
    }
    return Snapshot(as_of=as_of, today=today, data=data)


def devices(*, user: User) -> list[Device]:
    """离线设备 The devices of the accounts of a county administrator's region (anyone else: none)."""
    if user.role != Role.COUNTY_ADMIN or user_prefix(user) is None:
        return []
    return list(
        scope(Device.objects.all(), user, "user__region_id")
        .select_related("user", "user__region")
        .order_by("revoked_at", "-last_sync_at", "-id")
    )


def device_get(*, user: User, pk: int) -> Device:
    """离线设备 One device of the county administrator's region; ``Http404`` otherwise."""
    device = next((d for d in devices(user=user) if d.pk == pk), None)
    if device is None:
        raise Http404(NOT_FOUND_DEVICE)
    return device


def device_entry_counts(*, device_ids: list[int]) -> dict[int, dict[str, int]]:
    """每台设备的记录数 ``device pk → {status: count}`` of the entries the devices sent."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for device_id, status, n in (
        SyncEntry.objects.filter(device_id__in=device_ids)
        .values("device_id", "status")
        .annotate(n=Count("id"))
        .values_list("device_id", "status", "n")
        .order_by()
    ):
        counts[device_id][status] = n
    return counts
