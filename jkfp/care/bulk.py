"""批量写入 Set-based writes of follow-ups and schedules, shared by the imports and the demo data.

A visit recorded on the page goes through ``jkfp.care.services.followup_record``; many visits at
once (an import from the public-health system, the demo year) come here. Both derive the schedule
with ``jkfp.care.rules`` so the result does not depend on the path. Every function runs inside the
caller's transaction.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Model
from django.utils import timezone

from jkfp.care.models import FACE_TO_FACE_KINDS, FollowUp, FollowUpItem, FollowUpSource, Schedule
from jkfp.care.rules import Due, Rule, age_on, classify, next_due, replay
from jkfp.care.selectors import rules_for
from jkfp.registry.models import Condition, Person

CHUNK = 2000


@dataclass(frozen=True)
class VisitRecord:
    """一次随访 One visit to write: the person, the day, how, the readings and the conditions served."""

    person_id: int
    visited_on: date
    kind: str
    disease_ids: frozenset[int]
    systolic: int | None = None
    diastolic: int | None = None
    glucose: Decimal | None = None
    weight: Decimal | None = None
    doctor_id: int | None = None
    medication: str = ""
    adverse_reaction: bool = False
    new_complication: bool = False
    unstable: bool = False


# Visit fields compared to decide "updated" vs "unchanged".
_VISIT_FIELDS = ("kind", "systolic", "diastolic", "glucose", "weight", "doctor_id")


def raw_insert(objs: Sequence[Model]) -> int:
    """快速插入 Insert unsaved model instances of one model with plain ``executemany``; returns the row count.

    Django's ``bulk_create`` spends most of its time preparing each value (about 0.2–0.4 ms a row
    here, the same finding as the treatment import); this converts column by column with one adapter
    per field. No signals, no ``save()``: the caller has validated the rows. ``auto_now(_add)``
    fields get the current time; a foreign key set through an object saved after the instance was
    built (visit → item) is read from that object.
    """
    if not objs:
        return 0
    model = type(objs[0])
    ops = connection.ops
    now = ops.adapt_datetimefield_value(timezone.now())
    fields = [f for f in model._meta.concrete_fields if not f.primary_key and not f.generated]
    converters: list[Callable[[Model], Any]] = []
    for f in fields:
        converters.append(_converter(f, now))
    table = ops.quote_name(model._meta.db_table)
    names = ", ".join(ops.quote_name(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 — names from _meta, values are parameters
    with connection.cursor() as cursor:
        for start in range(0, len(objs), 5000):
            cursor.executemany(sql, [tuple(c(o) for c in converters) for o in objs[start : start + 5000]])
    return len(objs)


def _converter(f: Any, now: Any) -> Callable[[Model], Any]:
    ops = connection.ops
    attname = f.attname
    if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
        return lambda o: now
    if isinstance(f, models.ForeignKey):
        name = f.name

        def fk(o: Model) -> Any:
            value = getattr(o, attname)
            if value is None and f.is_cached(o):
                related = getattr(o, name)
                value = related.pk if related is not None else None
            return value

        return fk
    if isinstance(f, models.DateTimeField):
        return lambda o: ops.adapt_datetimefield_value(getattr(o, attname))
    if isinstance(f, models.DateField):
        return lambda o: ops.adapt_datefield_value(getattr(o, attname))
    if isinstance(f, models.DecimalField):
        return lambda o: None if getattr(o, attname) is None else str(getattr(o, attname))
    if isinstance(f, models.JSONField):
        return lambda o: json.dumps(getattr(o, attname), ensure_ascii=False)
    return lambda o: getattr(o, attname)


def _chunks(items: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def followups_write(
    records: list[VisitRecord], *, today: date, source: str = FollowUpSource.IMPORT
) -> tuple[int, int, int]:
    """写入随访 Insert or update visits keyed by (person, day) and their condition items; refresh schedules.

    Returns (created, updated, unchanged) counted per visit. A visit already recorded keeps its
    other conditions: the items of ``records`` are added to it.
    """
    if not records:
        return 0, 0, 0
    person_ids = sorted({r.person_id for r in records})
    births: dict[int, tuple[date, str]] = {}
    existing: dict[tuple[int, date], FollowUp] = {}
    items: set[tuple[int, int, date]] = set()
    for chunk in _chunks(person_ids):
        births.update(
            {
                pk: (born, village)
                for pk, born, village in Person.objects.filter(pk__in=chunk).values_list(
                    "pk", "birth_date", "village_id"
                )
            }
        )
        for f in FollowUp.objects.filter(person_id__in=chunk):
            existing[(f.person_id, f.visited_on)] = f
        items.update(
            FollowUpItem.objects.filter(person_id__in=chunk).values_list(
                "person_id", "disease_id", "visited_on"
            )
        )
    counties = {village[:6] for _, village in births.values()}
    rules_by_county = {c: rules_for(county_code=c) for c in counties}
    created = updated = unchanged = 0
    new_visits: list[FollowUp] = []
    changed: list[FollowUp] = []
    for r in records:
        key = (r.person_id, r.visited_on)
        old = existing.get(key)
        values = {
            "kind": r.kind,
            "systolic": r.systolic,
            "diastolic": r.diastolic,
            "glucose": r.glucose,
            "weight": r.weight,
            "doctor_id": r.doctor_id,
        }
        if old is None:
            visit = FollowUp(
                person_id=r.person_id,
                visited_on=r.visited_on,
                medication=r.medication,
                adverse_reaction=r.adverse_reaction,
                new_complication=r.new_complication,
                unstable=r.unstable,
                source=source,
                **values,
            )
            new_visits.append(visit)
            existing[key] = visit
            created += 1
            continue
        differs = any(getattr(old, name) != value for name, value in values.items() if value is not None)
        new_items = any((r.person_id, d, r.visited_on) not in items for d in r.disease_ids)
        if differs:
            for name, value in values.items():
                if value is not None:
                    setattr(old, name, value)
            changed.append(old)
        if differs or new_items:
            updated += 1
        else:
            unchanged += 1
    raw_insert(new_visits)
    # The new visits' ids, for their items.
    for chunk in _chunks(sorted({v.person_id for v in new_visits})):
        for pk, person_id, visited_on in FollowUp.objects.filter(person_id__in=chunk).values_list(
            "pk", "person_id", "visited_on"
        ):
            existing[(person_id, visited_on)].pk = pk
    if changed:
        FollowUp.objects.bulk_update(changed, list(_VISIT_FIELDS), batch_size=CHUNK)
    new_items_rows: list[FollowUpItem] = []
    reclassify: list[FollowUpItem] = []
    touched: set[tuple[int, int]] = set()
    for r in records:
        visit = existing[(r.person_id, r.visited_on)]
        born, village = births[r.person_id]
        rules = rules_by_county[village[:6]]
        for disease_id in r.disease_ids:
            rule = rules.get(disease_id)
            measure = rule.measure if rule else "none"
            cls = classify(
                measure,
                systolic=visit.systolic,
                diastolic=visit.diastolic,
                glucose=visit.glucose,
                unstable=visit.unstable,
                age=age_on(born, r.visited_on),
            )
            touched.add((r.person_id, disease_id))
            item = FollowUpItem(
                followup=visit,
                person_id=r.person_id,
                disease_id=disease_id,
                visited_on=r.visited_on,
                face_to_face=visit.kind in FACE_TO_FACE_KINDS,
                classification=cls,
            )
            if (r.person_id, disease_id, r.visited_on) in items:
                reclassify.append(item)
            else:
                items.add((r.person_id, disease_id, r.visited_on))
                new_items_rows.append(item)
    raw_insert(new_items_rows)
    for item in reclassify:
        FollowUpItem.objects.filter(
            person_id=item.person_id, disease_id=item.disease_id, visited_on=item.visited_on
        ).update(classification=item.classification, face_to_face=item.face_to_face)
    schedules_refresh(pairs=touched, today=today)
    return created, updated, unchanged


def schedules_refresh(*, pairs: set[tuple[int, int]], today: date) -> int:
    """重算随访计划 Recompute the schedule of each (person, disease) from its whole history; returns rows written.

    Also sets each visit's ``next_on`` to the earliest due date among the conditions it served.
    """
    if not pairs:
        return 0
    person_ids = sorted({p for p, _ in pairs})
    history: dict[tuple[int, int], list[tuple[date, str, bool, bool]]] = defaultdict(list)
    visit_of: dict[tuple[int, date], int] = {}
    villages: dict[int, str] = {}
    for chunk in _chunks(person_ids):
        villages.update(dict(Person.objects.filter(pk__in=chunk).values_list("pk", "village_id")))
        for person_id, disease_id, visited_on, cls, adverse, complication, followup_id in (
            FollowUpItem.objects.filter(person_id__in=chunk)
            .order_by("person_id", "disease_id", "visited_on")
            .values_list(
                "person_id",
                "disease_id",
                "visited_on",
                "classification",
                "followup__adverse_reaction",
                "followup__new_complication",
                "followup_id",
            )
        ):
            # Every condition of a touched person: a visit's next date is the earliest over all it served.
            history[(person_id, disease_id)].append((visited_on, cls, adverse, complication))
            visit_of[(person_id, visited_on)] = followup_id
    rules_by_county: dict[str, dict[int, Rule]] = {}
    rows: list[Schedule] = []
    next_on: dict[int, date] = {}
    for person_id, disease_id in sorted(set(pairs) | set(history)):
        village = villages.get(person_id)
        if village is None:
            continue
        if village[:6] not in rules_by_county:
            rules_by_county[village[:6]] = rules_for(county_code=village[:6])
        rules = rules_by_county[village[:6]]
        rule = rules.get(disease_id)
        if rule is None:
            continue
        hist = history.get((person_id, disease_id), [])
        due, last_on, last_cls = replay(rule, hist, start=today)
        after: Due | None = None
        for visited_on, cls, adverse, complication in hist:
            after = next_due(
                rule,
                visited_on=visited_on,
                classification=cls,
                previous_streak=after.streak if after else 0,
                adverse_reaction=adverse,
                new_complication=complication,
            )
            visit_id = visit_of[(person_id, visited_on)]
            if visit_id not in next_on or after.due_on < next_on[visit_id]:
                next_on[visit_id] = after.due_on
        rows.append(
            Schedule(
                person_id=person_id,
                disease_id=disease_id,
                village_id=village,
                last_visit_on=last_on,
                last_classification=last_cls,
                uncontrolled_streak=due.streak,
                due_on=due.due_on,
                reason=due.reason,
                escalate_on=due.escalate_on,
            )
        )
    Schedule.objects.bulk_create(
        rows,
        batch_size=CHUNK,
        update_conflicts=True,
        unique_fields=["person", "disease"],
        update_fields=[
            "village",
            "last_visit_on",
            "last_classification",
            "uncontrolled_streak",
            "due_on",
            "reason",
            "escalate_on",
        ],
    )
    by_date: dict[date, list[int]] = defaultdict(list)
    for visit_id, on in next_on.items():
        by_date[on].append(visit_id)
    for on, ids in by_date.items():
        for chunk in _chunks(ids):
            FollowUp.objects.filter(pk__in=chunk).update(next_on=on)
    return len(rows)


def schedules_sync(*, today: date, person_ids: list[int] | None = None) -> int:
    """补建随访计划 Create the missing schedules (first visit due ``today``) of conditions that have a rule.

    For every person (or only ``person_ids``); schedules of conditions no longer recorded are
    removed, and a schedule's village follows its person. Returns the number of schedules created.
    """
    with transaction.atomic():
        persons = Person.objects.all() if person_ids is None else Person.objects.filter(pk__in=person_ids)
        wanted: set[tuple[int, int]] = set()
        villages: dict[int, str] = {}
        for person_id, disease_id, village in (
            Condition.objects.filter(person__in=persons, disease__isnull=False)
            .values_list("person_id", "disease_id", "person__village_id")
            .iterator(chunk_size=CHUNK)
        ):
            wanted.add((person_id, disease_id))
            villages[person_id] = village
        have: dict[tuple[int, int], tuple[int, str]] = {}
        for pk, person_id, disease_id, village in (
            Schedule.objects.filter(person__in=persons)
            .values_list("pk", "person_id", "disease_id", "village_id")
            .iterator(chunk_size=CHUNK)
        ):
            have[(person_id, disease_id)] = (pk, village)
        stale = [pk for key, (pk, _) in have.items() if key not in wanted]
        for chunk in _chunks(stale):
            Schedule.objects.filter(pk__in=chunk).delete()
        moved: dict[str, list[int]] = defaultdict(list)
        for key, (pk, village) in have.items():
            if key in wanted and villages[key[0]] != village:
                moved[villages[key[0]]].append(pk)
        for village, ids in moved.items():
            Schedule.objects.filter(pk__in=ids).update(village_id=village)
        rules_by_county: dict[str, dict[int, Rule]] = {}
        rows = []
        for person_id, disease_id in sorted(wanted - set(have)):
            village = villages[person_id]
            if village[:6] not in rules_by_county:
                rules_by_county[village[:6]] = rules_for(county_code=village[:6])
            rules = rules_by_county[village[:6]]
            rule = rules.get(disease_id)
            if rule is None:
                continue
            due, _, _ = replay(rule, [], start=today)
            rows.append(
                Schedule(
                    person_id=person_id,
                    disease_id=disease_id,
                    village_id=village,
                    due_on=due.due_on,
                    reason=due.reason,
                    escalate_on=due.escalate_on,
                )
            )
        Schedule.objects.bulk_create(rows, batch_size=CHUNK)
        return len(rows)
