"""花名册查询 Registry reads, always scoped to the user's region (domain.md §2).

Every function here takes the user and returns only what lies inside the user's region; a
detail read outside it raises ``Http404`` (never 403: a guessed URL must not reveal that the
row exists).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Lower
from django.http import Http404
from django.utils import timezone

from jkfp.accounts.models import Role
from jkfp.accounts.scoping import code_q, region_choices, region_narrow, scope, user_prefix
from jkfp.core.importing import split_list
from jkfp.regions.models import Region, RegionLevel, prefix_range
from jkfp.registry.models import (
    ChangeLog,
    Condition,
    Disease,
    Household,
    ImportRun,
    Membership,
    Person,
    SourceRecord,
)
from jkfp.registry.reconcile import reconciliation_queryset, reconciliation_rows, source_names

ID_DIGITS = re.compile(r"^[0-9]{1,17}[0-9Xx]?$")
# Fewer trailing digits than this would match a large share of the county: refuse them.
MIN_ID_TAIL = 4
# Person.id_tail_rev holds this many trailing characters of the ID number, reversed.
ID_TAIL_LEN = 8
# ID numbers per ``IN (…)`` query when persons are fetched by ID number (SQLite's parameter limit).
ID_NUMBER_CHUNK = 500


# Least privilege (docs/permissions.md): the hospital window reaches persons only through the
# admission form (``person_for_admission``: the full ID number, of any county); the fund office only
# the persons behind its claims, alerts and monitoring cases; neither searches.
NO_SEARCH_ROLES = frozenset({Role.HOSPITAL, Role.FUND})
# The reverse relations (by name: settlement and monitoring sit above the registry) whose persons the
# fund office may open.
FUND_PERSON_RELATIONS = ("claims", "alerts", "monitoring_cases")


def _persons(user: Any) -> QuerySet[Person]:
    qs = scope(Person.objects.all(), user, "village_id")
    role = getattr(user, "role", None)
    if role == Role.HOSPITAL:
        return qs.none()
    if role == Role.FUND:
        behind = Q()
        for name in FUND_PERSON_RELATIONS:
            related = Person._meta.get_field(name).related_model
            behind |= Q(Exists(related._default_manager.filter(person=OuterRef("pk"))))
        qs = qs.filter(behind)
    return qs


def person_for_admission(*, user: Any, id_number: str) -> Person | None:
    """按完整身份证号查人 The person whose full, validated ID number was typed (the window's admission,
    the fund office's subsidy registration): an exact match only, never a search.

    A hospital clerk with an institution finds a person of any county of the deployment — hospitals
    treat neighbouring counties' residents, and the API's admission (``settlement.fetch.person_by_id_number``)
    already does — but only by the full number: the clerk cannot search, list or open persons
    (``NO_SEARCH_ROLES``, ``_persons``), and the window shows the name and the masked ID only.
    Everyone else (the fund office) finds persons of their own region only."""
    if len(id_number) != 18:
        return None
    exact = Person.objects.filter(id_number=id_number.upper())
    if getattr(user, "role", None) == Role.HOSPITAL and getattr(user, "institution_id", None):
        return exact.first()
    return scope(exact, user, "village_id").first()


def person_search(*, user: Any, q: str, village: str | None = None) -> QuerySet[Person]:
    """人员查询 Persons in the user's region matching a name prefix, a full ID or its last digits.

    ``q`` is read as an ID number when it is made of digits (with an optional final ``X``): 18
    characters match exactly, 4 to 17 match the end of the number. Anything else is a name
    prefix, searched as a code range so that the name index is used on SQLite and PostgreSQL.
    ``village`` (a village or township code) narrows the search to that region. Empty ``q`` and
    no ``village`` give an empty result: nobody browses the whole county by accident.
    """
    if getattr(user, "role", None) in NO_SEARCH_ROLES:
        return Person.objects.none()
    q = (q or "").strip()
    village = (village or "").strip()
    id_tail = bool(ID_DIGITS.match(q)) and MIN_ID_TAIL <= len(q) < 18
    if id_tail and not village:
        # The region range goes through LOWER() (digits are unchanged) so that no planner picks
        # the region index over the tail index: SQLite without statistics would scan the county.
        qs = scope(Person.objects.alias(region_code=Lower("village_id")), user, "region_code")
    else:
        qs = _persons(user)
    if not q and not village:
        return qs.none()
    if village:
        qs = region_narrow(qs, village, "village_id")
    order: tuple[str, ...] = ("village_id", "household_id", "id")
    if q:
        if ID_DIGITS.match(q):
            number = q.upper()
            if len(number) == 18:
                qs = qs.filter(id_number=number)
            elif len(number) >= MIN_ID_TAIL:
                # "Ends with" as a range on the indexed reversed tail (Person.id_tail_rev, the last
                # 8 characters reversed); longer tails are then checked in full.
                lo, hi = prefix_range(number[::-1][:ID_TAIL_LEN])
                qs = qs.filter(id_tail_rev__gte=lo, id_tail_rev__lt=hi)
                if len(number) > ID_TAIL_LEN:
                    qs = qs.filter(id_number__endswith=number)
                order = ("id_tail_rev", "id")
            else:
                return qs.none()
        else:
            lo, hi = prefix_range(q)
            qs = qs.filter(name__gte=lo, name__lt=hi)
            # Name order walks the name index and stops after one page.
            order = ("name", "id")
    return (
        qs.select_related("village", "village__parent", "household").prefetch_related("tags").order_by(*order)
    )


def person_get(*, user: Any, pk: int) -> Person:
    """人员详情 One person of the user's region with everything the person page shows.

    Raises ``Http404`` when the person does not exist or lies outside the user's region.
    """
    qs = (
        _persons(user)
        .select_related("village", "village__parent", "household", "verified_by")
        .prefetch_related(
            "tags",
            Prefetch("conditions", queryset=Condition.objects.select_related("disease")),
            "sources",
            Prefetch("changes", queryset=ChangeLog.objects.select_related("user").order_by("-at", "-id")),
            Prefetch("memberships", queryset=Membership.objects.select_related("household")),
        )
    )
    person = qs.filter(pk=pk).first()
    if person is None:
        raise Http404("人员不存在或不在您的管辖范围内")
    return person


def person_get_plain(*, user: Any, pk: int) -> Person:
    """人员（不含明细） One person of the user's region, without related rows (for writes and reveals)."""
    person = _persons(user).select_related("village").filter(pk=pk).first()
    if person is None:
        raise Http404("人员不存在或不在您的管辖范围内")
    return person


def household_get(*, user: Any, pk: int) -> Household:
    """户详情 One household of the user's region, its members (scoped too) and membership history.

    Raises ``Http404`` when the household does not exist or lies outside the user's region.
    """
    members = _persons(user).prefetch_related("tags").order_by("id")
    history = Membership.objects.filter(Q(person__in=_persons(user).values("pk"))).select_related("person")
    household = (
        scope(Household.objects.all(), user, "village_id")
        .select_related("village", "village__parent", "head")
        .prefetch_related(
            Prefetch("members", queryset=members),
            Prefetch("memberships", queryset=history.order_by("start_on", "id")),
        )
        .filter(pk=pk)
        .first()
    )
    if household is None:
        raise Http404("户不存在或不在您的管辖范围内")
    return household


def village_choices(*, user: Any) -> list[tuple[str, str]]:
    """可选村 ``(code, label)`` of the villages in the user's region, township name first; above the
    county (a city's or province's thousands of villages) the region picker's counties and townships,
    or cities and counties (``scoping.region_choices``)."""
    region = getattr(user, "region", None)
    if region is not None and region.level in (RegionLevel.PROVINCE, RegionLevel.CITY):
        return region_choices(user=user)
    villages = scope(
        Region.objects.filter(level=RegionLevel.VILLAGE).select_related("parent"), user, "code"
    ).order_by("code")
    return [(v.code, f"{v.parent.name if v.parent else ''} {v.name}".strip()) for v in villages]


def import_runs(*, user: Any) -> QuerySet[ImportRun]:
    """导入记录 Import runs started in the user's region; only a county administrator has any."""
    if getattr(user, "role", None) != Role.COUNTY_ADMIN or user_prefix(user) is None:
        return ImportRun.objects.none()
    return scope(ImportRun.objects.all(), user, "region_id").select_related("user")


def import_run_get(*, user: Any, pk: int) -> ImportRun:
    """导入记录详情 One import run of the user's county; ``Http404`` otherwise."""
    run = import_runs(user=user).filter(pk=pk).first()
    if run is None:
        raise Http404("导入记录不存在或不在您的管辖范围内")
    return run


def reconciliation_sources(*, user: Any) -> list[str]:
    """来源名单 The names of the source lists that name at least one person of the user's region.

    One EXISTS query per source name (there are a handful), each stopping at its first match.
    """

    in_scope = code_q(user, "person__village_id")
    return [name for name in source_names() if SourceRecord.objects.filter(in_scope, source=name).exists()]


def reconciliation_persons(
    *,
    user: Any,
    only_conflicts: bool = False,
    missing_source: str | None = None,
    present_source: str | None = None,
) -> QuerySet[Person]:
    """比对人员 Persons of the user's region for the reconciliation page, filtered (domain.md §4.1)."""

    return reconciliation_queryset(
        _persons(user),
        only_conflicts=only_conflicts,
        missing_source=missing_source,
        present_source=present_source,
    ).select_related("village", "village__parent", "household")


def reconciliation_page_rows(persons: list[Person]) -> list[Any]:
    """比对行 The reconciliation rows (present, absent, disagreements) of already scoped persons."""

    return reconciliation_rows(persons)


def disease_lookup(*, kind: str | None = None, pks: Collection[int] | None = None) -> dict[str, int]:
    """病种名称表 Name or alias (、-separated in the catalogue) → disease id, over the diseases of
    ``kind`` (and ``pks``) or all; a catalogue name wins over another disease's alias. Every import
    that reads disease names matches them here."""
    qs = Disease.objects.all()
    if kind is not None:
        qs = qs.filter(kind=kind)
    if pks is not None:
        qs = qs.filter(pk__in=list(pks))
    return disease_lookup_of(list(qs.values_list("id", "name", "aliases")))


def disease_lookup_of(rows: Iterable[tuple[int, str, str]]) -> dict[str, int]:
    """``disease_lookup`` of catalogue rows already read: (id, name, aliases)."""
    rows = list(rows)
    lookup: dict[str, int] = {}
    for pk, _, aliases in rows:
        for alias in split_list(aliases):
            lookup.setdefault(alias, pk)
    lookup.update({name: pk for pk, name, _ in rows})
    return lookup


# --------------------------------------------------------------------------- residence on a date
# A person's village on a past date (issue 21 item 2, the county of an "in county" claim): the roster
# import records every change of a person's village in the change log (field ``village``, old → new,
# when it was imported). The village on day ``d`` is the old value of the first change recorded after
# ``d``, or the current village when none was.
VILLAGE_FIELD = "village"


def _day_after(on: date) -> datetime:
    return datetime.combine(on + timedelta(days=1), time.min, tzinfo=timezone.get_current_timezone())


def village_change_sql(person_column: str) -> tuple[str, list[Any]]:
    """住址变更子查询 SQL of a scalar sub-select (with its parameters but the day bound, last) giving the
    old village of the first village change of ``person_column``'s person on or after a bound, or NULL;
    for a hand-written person query that must not cost a round trip more (the API's window)."""
    table = ChangeLog._meta.db_table
    return (
        f"(SELECT c.old_value FROM {table} c WHERE c.person_id = {person_column}"  # noqa: S608 (table and column names from the code)
        " AND c.field = %s AND c.at >= %s ORDER BY c.at, c.id LIMIT 1)",
        [VILLAGE_FIELD],
    )


def village_on_bound(on: date) -> datetime:
    """住址变更界限 The bound of ``village_change_sql`` for the day ``on``: changes from the next day."""
    return _day_after(on)


def village_on(*, person: Person, on: date) -> str:
    """某日住址村 The village ``person`` lived in on ``on`` (see above); one query."""
    old = (
        ChangeLog.objects.filter(person=person, field=VILLAGE_FIELD, at__gte=_day_after(on))
        .order_by("at", "id")
        .values_list("old_value", flat=True)
        .first()
    )
    return old or person.village_id


class VillageHistory:
    """住址变更（批量） The village changes of many persons, read at once (one query per 5,000 persons):
    ``on`` is ``village_on`` without a query."""

    def __init__(self, person_ids: Iterable[int]) -> None:
        ids = sorted(set(person_ids))
        self.changes: dict[int, list[tuple[datetime, str]]] = {}
        for start in range(0, len(ids), 5000):
            for person_id, at, old in (
                ChangeLog.objects.filter(person_id__in=ids[start : start + 5000], field=VILLAGE_FIELD)
                .order_by("person_id", "at", "id")
                .values_list("person_id", "at", "old_value")
            ):
                self.changes.setdefault(person_id, []).append((at, old))

    def on(self, person_id: int, current: str, day: date) -> str:
        """The village of person ``person_id`` (living in ``current`` now) on ``day``."""
        bound = _day_after(day)
        later = next((old for at, old in self.changes.get(person_id, ()) if at >= bound), None)
        return later or current


def villages_on(pairs: Collection[tuple[int, date]]) -> dict[tuple[int, date], str]:
    """某日住址村（批量） ``village_on`` for many (person id, date) pairs: two queries per 5,000 persons."""
    ids = sorted({p for p, _ in pairs})
    current: dict[int, str] = {}
    for start in range(0, len(ids), 5000):
        current.update(
            Person.objects.filter(pk__in=ids[start : start + 5000]).values_list("pk", "village_id")
        )
    history = VillageHistory(ids)
    return {(person_id, on): history.on(person_id, current.get(person_id, ""), on) for person_id, on in pairs}


class PersonByIdNumber(NamedTuple):
    """按身份证号查到的人 A person found by ID number: key, birth date, village."""

    pk: int
    birth_date: date
    village_id: str


def persons_by_id_number(id_numbers: Collection[str], *, user: Any) -> dict[str, PersonByIdNumber]:
    """按身份证号批量查人 Normalised ID number → the person, for the persons in the user's region (all
    persons when ``user`` is None: the command line); one query per ``ID_NUMBER_CHUNK`` numbers. Every
    import that matches its rows to the roster by ID number reads it here."""
    qs = Person.objects.all() if user is None else scope(Person.objects.all(), user, "village_id")
    wanted = sorted(set(id_numbers))
    found: dict[str, PersonByIdNumber] = {}
    for start in range(0, len(wanted), ID_NUMBER_CHUNK):
        rows = qs.filter(id_number__in=wanted[start : start + ID_NUMBER_CHUNK]).values_list(
            "id_number", "id", "birth_date", "village_id"
        )
        for number, pk, born, village in rows:
            found[number] = PersonByIdNumber(pk, born, village)
    return found
