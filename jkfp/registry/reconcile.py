"""名单比对 Reconciliation of source lists (精准识别, issue 2 item 6, domain.md §4.1).

A source "names" a person when the person has an active SourceRecord of it (its latest list names
the person). Conflicts: two active sources disagree on the name, the village code or the household
number of a person (a blank household number is unknown, not a disagreement).
Everything is computed with aggregate SQL; the page helpers read one page of persons in at most two
queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import NullIf

from jkfp.regions.models import Region
from jkfp.registry.models import Person, SourceRecord

FIELD_LABELS = {"name": "姓名", "village": "村", "household_no": "户编号", "tags": "人员类别"}


def source_names() -> list[str]:
    """来源名单 The names of every source ever imported, sorted."""
    return sorted(SourceRecord.objects.values_list("source", flat=True).distinct().order_by())


def _conflicting_person_ids() -> QuerySet[Any]:
    return (
        SourceRecord.objects.filter(active=True)
        .values("person_id")
        .annotate(
            names=Count("name", distinct=True),
            villages=Count("village_code", distinct=True),
            households=Count(NullIf("household_no", Value("")), distinct=True),
        )
        .filter(Q(names__gt=1) | Q(villages__gt=1) | Q(households__gt=1))
        .values("person_id")
    )


def _sql(text: str) -> str:
    """SQL text with the SourceRecord table name filled in (never user data)."""
    return text.format(table=SourceRecord._meta.db_table)


def reconcile_summary() -> dict[str, Any]:
    """比对汇总 ``{"persons", "sources", "in_all", "in_one", "conflicts"}`` (the ``jkfp reconcile --json``)."""
    with connection.cursor() as cur:
        cur.execute(_sql("SELECT COUNT(DISTINCT person_id) FROM {table}"))
        persons = int(cur.fetchone()[0] or 0)
        cur.execute(
            _sql(
                "SELECT source, COUNT(DISTINCT CASE WHEN active = %s THEN person_id END)"
                " FROM {table} GROUP BY source ORDER BY source"
            ),
            [True],
        )
        sources = {name: int(n) for name, n in cur.fetchall()}
        cur.execute(
            _sql(
                "SELECT SUM(CASE WHEN n = %s THEN 1 ELSE 0 END), SUM(CASE WHEN n = 1 THEN 1 ELSE 0 END),"
                " SUM(CASE WHEN names > 1 OR villages > 1 OR households > 1 THEN 1 ELSE 0 END)"
                " FROM (SELECT person_id, COUNT(DISTINCT source) AS n, COUNT(DISTINCT name) AS names,"
                " COUNT(DISTINCT village_code) AS villages,"
                " COUNT(DISTINCT NULLIF(household_no, '')) AS households"
                " FROM {table} WHERE active = %s GROUP BY person_id) x"
            ),
            [len(sources), True],
        )
        in_all, in_one, conflicts = cur.fetchone()
    return {
        "persons": persons,
        "sources": sources,
        "in_all": int(in_all or 0),
        "in_one": int(in_one or 0),
        "conflicts": int(conflicts or 0),
    }


def reconciliation_queryset(
    persons_qs: QuerySet[Person],
    *,
    only_conflicts: bool = False,
    missing_source: str | None = None,
    present_source: str | None = None,
) -> QuerySet[Person]:
    """比对筛选 Filter (already scoped) persons: only conflicts, missing from or present in a source."""
    qs = persons_qs
    if present_source:
        qs = qs.filter(
            Exists(SourceRecord.objects.filter(person_id=OuterRef("pk"), source=present_source, active=True))
        )
    if missing_source:
        qs = qs.filter(
            ~Exists(SourceRecord.objects.filter(person_id=OuterRef("pk"), source=missing_source, active=True))
        )
    if only_conflicts:
        qs = qs.filter(pk__in=_conflicting_person_ids())
    return qs


@dataclass
class ReconRow:
    """比对行 One person of the reconciliation page."""

    person: Person
    present: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    disagreements: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def has_conflict(self) -> bool:
        return bool(self.disagreements)


def reconciliation_rows(persons: Iterable[Person]) -> list[ReconRow]:
    """比对明细 Sources present/absent and disagreeing fields for a page of persons (two queries)."""
    people = list(persons)
    if not people:
        return []
    names = source_names()
    village_name = Region.objects.filter(code=OuterRef("village_code")).values("name")[:1]
    records = (
        SourceRecord.objects.filter(person_id__in=[p.pk for p in people], active=True)
        .annotate(village_name=Subquery(village_name))
        .values_list("person_id", "source", "name", "village_code", "village_name", "household_no", "tags")
        .order_by("person_id", "source")
    )
    by_person: dict[int, list[tuple[Any, ...]]] = {}
    for row in records:
        by_person.setdefault(row[0], []).append(row)
    result = []
    for person in people:
        rows = by_person.get(person.pk, [])
        present = [r[1] for r in rows]
        values: dict[str, dict[str, str]] = {key: {} for key in FIELD_LABELS}
        for _, source, name, code, vname, household_no, tags in rows:
            values["name"][source] = name
            values["village"][source] = f"{vname}（{code}）" if vname else code
            if household_no:
                values["household_no"][source] = household_no
            values["tags"][source] = tags
        disagreements = {
            FIELD_LABELS[key]: by_source
            for key, by_source in values.items()
            if len(set(by_source.values())) > 1
        }
        result.append(
            ReconRow(
                person=person,
                present=present,
                absent=[n for n in names if n not in present],
                disagreements=disagreements,
            )
        )
    return result
