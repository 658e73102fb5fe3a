"""预警扫描（读） What the scan reads: which persons meet a rule, aggregated in SQL (domain.md §8).

The data of a scan ``as_of`` a date: the live settlements (``Settlement.is_current``: a reversed
claim has none, a re-settled claim only its newest row — settlement interface) of claims
discharged from 1 January of the as-of's year up to and including ``as_of``, and the major-disease
cases diagnosed in that window; persons of one county (their village's code).

- **person_oop** — per person, ``SUM(personal)`` ≥ threshold.
- **household_oop** — per household (``Person.household``), ``SUM(personal)`` of its members ≥
  threshold (an income share is per member: share × income × members). The alert goes to the member
  who paid most (lowest id on a tie), and the household is recorded with it.
- **major_disease** — a major-disease case diagnosed in the window.

Tag conditions look at the tags held on any day from 1 January to ``as_of`` (a person who was 低保
in February is judged as low-income for the whole year's payments).

"Evaluated" = the persons of the county that any rule could look at: those with at least one live
settlement or one major-disease case in the window (distinct persons, counted in SQL).

Amounts are whole fen, so "sum ≥ threshold" is tested as "sum > threshold − half a fen": SQLite
sums decimals as binary floats, and 2500.10 + 2499.90 may come out a hair under 5000.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, F, Min, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from jkfp.monitoring.models import AlertRule, RuleKind, TagMatch, ThresholdBasis
from jkfp.regions.models import prefix_range
from jkfp.registry.models import Person, Tag
from jkfp.settlement.models import Settlement
from jkfp.treatment.models import MajorDiseaseCase

HALF_FEN = Decimal("0.005")


@dataclass(frozen=True)
class Hit:
    """命中 One person (or household, through one member) meeting one rule."""

    person_id: int
    household_id: int | None = None
    amount: Decimal | None = None
    threshold: Decimal | None = None
    major_disease_case_id: int | None = None


def live_settlements(*, county_code: str, as_of: date) -> QuerySet[Settlement]:
    """有效结算 Live settlements of the county's persons discharged from 1 January to ``as_of``."""
    lo, hi = prefix_range(county_code)
    return Settlement.objects.filter(
        is_current=True,
        claim__discharged_on__gte=date(as_of.year, 1, 1),
        claim__discharged_on__lte=as_of,
        claim__person__village_id__gte=lo,
        claim__person__village_id__lt=hi,
    )


def new_major_cases(*, county_code: str, as_of: date) -> QuerySet[MajorDiseaseCase]:
    """新增大病 Major-disease cases of the county's persons diagnosed from 1 January to ``as_of``."""
    lo, hi = prefix_range(county_code)
    return MajorDiseaseCase.objects.filter(
        diagnosed_on__gte=date(as_of.year, 1, 1),
        diagnosed_on__lte=as_of,
        person__village_id__gte=lo,
        person__village_id__lt=hi,
    )


def evaluated_count(*, county_code: str, as_of: date) -> int:
    """评估人数 Distinct persons with a live settlement or a new major-disease case in the window."""
    paid = live_settlements(county_code=county_code, as_of=as_of).values("claim__person_id").order_by()
    diagnosed = new_major_cases(county_code=county_code, as_of=as_of).values("person_id").order_by()
    return paid.union(diagnosed).count()  # UNION (not ALL) removes the duplicates in SQL


def _tags_held(rule: AlertRule, as_of: date, person_ref: str) -> Any:
    """The Q keeping rows whose person (``person_ref`` = OuterRef path) holds/lacks the rule's tags."""
    if rule.tag_match == TagMatch.ANY or not rule.tag_list:
        return None
    held = Tag.objects.filter(
        code__in=rule.tag_list,
        start_on__lte=as_of,
    ).filter(Q(end_on__isnull=True) | Q(end_on__gte=date(as_of.year, 1, 1)))
    exists = Exists(held.filter(person_id=OuterRef(person_ref)))
    return exists if rule.tag_match == TagMatch.HOLDING else ~exists


def _household_tags_held(rule: AlertRule, as_of: date) -> Any:
    """Like ``_tags_held`` for a household: some member holds one of the tags (or none does)."""
    if rule.tag_match == TagMatch.ANY or not rule.tag_list:
        return None
    held = Tag.objects.filter(code__in=rule.tag_list, start_on__lte=as_of).filter(
        Q(end_on__isnull=True) | Q(end_on__gte=date(as_of.year, 1, 1))
    )
    exists = Exists(held.filter(person__household_id=OuterRef("claim__person__household_id")))
    return exists if rule.tag_match == TagMatch.HOLDING else ~exists


def rule_hits(*, rule: AlertRule, county_code: str, as_of: date, threshold: Decimal | None) -> list[Hit]:
    """规则命中 The persons meeting ``rule`` in the window (one SQL aggregate per rule)."""
    if rule.kind == RuleKind.MAJOR_DISEASE:
        return _major_hits(rule, county_code, as_of)
    assert threshold is not None
    if rule.kind == RuleKind.HOUSEHOLD_OOP:
        return _household_hits(rule, county_code, as_of, threshold)
    return _person_hits(rule, county_code, as_of, threshold)


def _person_hits(rule: AlertRule, county_code: str, as_of: date, threshold: Decimal) -> list[Hit]:
    qs = live_settlements(county_code=county_code, as_of=as_of)
    held = _tags_held(rule, as_of, "claim__person_id")
    if held is not None:
        qs = qs.filter(held)
    rows = (
        qs.values("claim__person_id")
        .annotate(total=Sum("personal"))
        .filter(total__gt=threshold - HALF_FEN)
        .values_list("claim__person_id", "total")
        .order_by("claim__person_id")
    )
    return [Hit(person_id=pid, amount=_fen(total), threshold=threshold) for pid, total in rows]


def _household_hits(rule: AlertRule, county_code: str, as_of: date, threshold: Decimal) -> list[Hit]:
    qs = live_settlements(county_code=county_code, as_of=as_of).filter(claim__person__household__isnull=False)
    held = _household_tags_held(rule, as_of)
    if held is not None:
        qs = qs.filter(held)
    grouped = qs.values("claim__person__household_id").annotate(total=Sum("personal"))
    if rule.basis == ThresholdBasis.INCOME_SHARE:
        # threshold is per member: compare with threshold × the household's current members.
        members = (
            Person.objects.filter(household_id=OuterRef("claim__person__household_id"))
            .order_by()
            .values("household_id")
            .annotate(n=Count("id"))
            .values("n")
        )
        grouped = grouped.annotate(members=Coalesce(Subquery(members), Value(1))).filter(
            total__gt=F("members") * Value(threshold) - Value(HALF_FEN)
        )
        rows = list(grouped.values_list("claim__person__household_id", "total", "members"))
    else:
        grouped = grouped.filter(total__gt=threshold - HALF_FEN)
        rows = [(hh, total, 1) for hh, total in grouped.values_list("claim__person__household_id", "total")]
    if not rows:
        return []
    # The member who paid most carries the household's alert: one more aggregate over those households.
    payer: dict[int, tuple[Decimal, int]] = {}
    per_person = (
        live_settlements(county_code=county_code, as_of=as_of)
        .filter(claim__person__household_id__in=[hh for hh, _, _ in rows])
        .values("claim__person__household_id", "claim__person_id")
        .annotate(total=Sum("personal"))
        .values_list("claim__person__household_id", "claim__person_id", "total")
        .order_by("claim__person__household_id", "-total", "claim__person_id")
    )
    for hh, pid, total in per_person:
        payer.setdefault(hh, (total, pid))
    return [
        Hit(
            person_id=payer[hh][1],
            household_id=hh,
            amount=_fen(total),
            threshold=(threshold * members).quantize(Decimal("0.01")),
        )
        for hh, total, members in sorted(rows)
    ]


def _major_hits(rule: AlertRule, county_code: str, as_of: date) -> list[Hit]:
    qs = new_major_cases(county_code=county_code, as_of=as_of)
    held = _tags_held(rule, as_of, "person_id")
    if held is not None:
        qs = qs.filter(held)
    rows = (
        qs.values("person_id")
        .annotate(first=Min("id"))
        .values_list("person_id", "first")
        .order_by("person_id")
    )
    return [Hit(person_id=pid, major_disease_case_id=first) for pid, first in rows]


def person_households(*, person_ids: Iterable[int]) -> list[tuple[int, int | None]]:
    """(person id, household id) of the given persons."""
    return list(Person.objects.filter(pk__in=list(person_ids)).values_list("pk", "household_id"))


def _fen(value: Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal("0.01"))
