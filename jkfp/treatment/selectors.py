"""大病救治查询 Treatment reads, always scoped to the user's region through the person's village.

A case or referral belongs to the region of its person's village (domain.md §9); a user sees only
those inside their region, and a detail read outside it raises ``Http404`` (never 403: a guessed
URL must not reveal that the row exists). ``referral_flag`` is the one unscoped read: settlement asks
it for a claim it is already allowed to settle.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Max, Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from jkfp.accounts.scoping import region_narrow, scope
from jkfp.regions.models import Institution, Region, county_of, prefix_range
from jkfp.registry.disease_catalogue import catalogue_on
from jkfp.registry.models import Disease, DiseaseKind
from jkfp.treatment.models import CaseChange, CaseFollowUp, MajorDiseaseCase, Referral, ReferralStatus

PERSON_VILLAGE = "person__village_id"
# An approved referral counts for admissions up to this many days after its date.
REFERRAL_VALID_DAYS = 90
NOT_FOUND_CASE = "大病救治记录不存在或不在您的管辖范围内"
NOT_FOUND_REFERRAL = "转诊记录不存在或不在您的管辖范围内"


def cases(
    *, user: Any, status: str | None = None, disease_id: int | None = None, region: str | None = None
) -> QuerySet[MajorDiseaseCase]:
    """大病救治列表 Cases of the user's region, filtered by status, disease and township/village."""
    qs = scope(MajorDiseaseCase.objects.all(), user, PERSON_VILLAGE)
    if status:
        qs = qs.filter(status=status)
    if disease_id:
        qs = qs.filter(disease_id=disease_id)
    qs = region_narrow(qs, region, PERSON_VILLAGE)
    return qs.select_related(
        "person",
        "person__village",
        "person__village__parent",
        "disease",
        "designated_institution",
        "diagnosis_institution",
    ).order_by(PERSON_VILLAGE, "person_id", "disease_id")


def case_get(*, user: Any, pk: int) -> MajorDiseaseCase:
    """大病救治详情 One case of the user's region with its follow-ups and referrals; ``Http404`` otherwise."""
    case = (
        scope(MajorDiseaseCase.objects.all(), user, PERSON_VILLAGE)
        .select_related(
            "person",
            "person__village",
            "person__village__parent",
            "disease",
            "designated_institution",
            "diagnosis_institution",
            "created_by",
        )
        .prefetch_related(
            Prefetch("followups", queryset=CaseFollowUp.objects.select_related("user")),
            Prefetch(
                "referrals",
                queryset=Referral.objects.select_related("from_institution", "to_institution", "approved_by"),
            ),
            Prefetch("changes", queryset=CaseChange.objects.select_related("user")),
        )
        .filter(pk=pk)
        .first()
    )
    if case is None:
        raise Http404(NOT_FOUND_CASE)
    return case


def case_get_plain(*, user: Any, pk: int) -> MajorDiseaseCase:
    """大病救治（不含明细） One case of the user's region, with its person, for writes; ``Http404`` otherwise."""
    case = (
        scope(MajorDiseaseCase.objects.all(), user, PERSON_VILLAGE)
        .select_related("person", "disease")
        .filter(pk=pk)
        .first()
    )
    if case is None:
        raise Http404(NOT_FOUND_CASE)
    return case


def referrals(*, user: Any, status: str | None = None, region: str | None = None) -> QuerySet[Referral]:
    """转诊列表 Referrals of persons in the user's region, newest first."""
    qs = scope(Referral.objects.all(), user, PERSON_VILLAGE)
    if status:
        qs = qs.filter(status=status)
    qs = region_narrow(qs, region, PERSON_VILLAGE)
    return qs.select_related(
        "person",
        "person__village",
        "person__village__parent",
        "from_institution",
        "to_institution",
        "approved_by",
        "case__disease",
    ).order_by("-referred_on", "-id")


def referral_get(*, user: Any, pk: int) -> Referral:
    """转诊详情 One referral of the user's region; ``Http404`` otherwise."""
    referral = referrals(user=user).filter(pk=pk).first()
    if referral is None:
        raise Http404(NOT_FOUND_REFERRAL)
    return referral


def referral_flag(*, person_id: int, institution_code: str, admitted_on: date) -> bool:
    """转诊标志 True when the person has an approved referral to the institution for this admission.

    The referral must be dated on or before the admission and at most ``REFERRAL_VALID_DAYS``
    before it. Settlement uses the flag for out-of-county stays (domain.md §7).
    """
    return Referral.objects.filter(
        person_id=person_id,
        to_institution_id=institution_code,
        status=ReferralStatus.APPROVED,
        referred_on__lte=admitted_on,
        referred_on__gte=admitted_on - timedelta(days=REFERRAL_VALID_DAYS),
    ).exists()


def major_case_query(*, person_id: Any, on: Any) -> QuerySet[Any, Any]:
    """关联大病救治 The rule linking a claim to a major-disease case: the person's case with the latest
    diagnosis date on or before ``on`` (ties: the newest case), as a query of at most one pk.
    ``person_id`` and ``on`` are values or ``OuterRef``s (the import links many claims at once)."""
    return (
        MajorDiseaseCase.objects.filter(person_id=person_id, diagnosed_on__lte=on)
        .order_by("-diagnosed_on", "-pk")
        .values("pk")[:1]
    )


def major_case_for(*, person_id: int, on: date) -> int | None:
    """The pk of the case ``major_case_query`` finds, or None."""
    found = list(major_case_query(person_id=person_id, on=on))
    return int(found[0]["pk"]) if found else None


# ``major_case_query`` compiled once per database vendor: (sub-select, position of the person parameter).
_MAJOR_CASE_SQL: dict[str, tuple[str, int]] = {}
_PERSON_MARK = -424242
_DAY_MARK = date(1901, 2, 3)


def major_case_sql(*, person_id: int, on: date) -> tuple[str, list[Any]]:
    """``major_case_query`` as a parenthesised sub-select and its parameters, for a hand-written
    statement (the claim ``INSERT`` of the hot path): the ORM's own SQL of the rule, compiled once."""
    vendor = connection.vendor
    shape = _MAJOR_CASE_SQL.get(vendor)
    if shape is None:
        sql, params = major_case_query(person_id=_PERSON_MARK, on=_DAY_MARK).query.sql_with_params()
        if len(params) != 2 or _PERSON_MARK not in params:
            raise RuntimeError(f"unexpected parameters of the major-case query: {params!r}")
        shape = _MAJOR_CASE_SQL[vendor] = (f"({sql})", list(params).index(_PERSON_MARK))
    sql, at = shape
    day = connection.ops.adapt_datefield_value(on)
    return sql, [person_id, day] if at == 0 else [day, person_id]


def major_diseases(*, user: Any = None, on: date | None = None) -> QuerySet[Disease]:
    """大病目录 The major diseases of the catalogue (names only; the catalogue holds no persons).

    With ``user``: the catalogue of the user's region on ``on`` (default today) — a county's own
    setting over its city's and province's (``registry.disease_catalogue``); a township's or village's
    user gets its county's. Without: every major disease (to filter the cases already recorded)."""
    qs = Disease.objects.filter(kind=DiseaseKind.MAJOR).order_by("name")
    if user is None:
        return qs
    code = getattr(user, "region_id", None) or ""
    county = county_of(code) or code
    return qs.filter(pk__in=catalogue_on(county, on or timezone.localdate(), kinds=[DiseaseKind.MAJOR]))


def institutions() -> QuerySet[Institution]:
    """医疗机构 All institutions (public reference data, not scoped)."""
    return Institution.objects.order_by("code")


def ledger_cases(*, user: Any, region: Region) -> QuerySet[MajorDiseaseCase]:
    """台账病例 Cases of ``region`` inside the user's scope, in township, village and person order."""
    lo, hi = prefix_range(region.prefix)
    return (
        scope(MajorDiseaseCase.objects.all(), user, PERSON_VILLAGE)
        .filter(person__village_id__gte=lo, person__village_id__lt=hi)
        .order_by(PERSON_VILLAGE, "person_id", "disease_id")
    )


def ledger_followups(*, cases: QuerySet[MajorDiseaseCase]) -> dict[int, tuple[int, date]]:
    """台账回访 ``case id → (number of follow-ups, last visit date)`` of already scoped ``cases``.

    One GROUP BY on the follow-up table alone: grouping the case rows with all their joined columns
    costs several times more.
    """
    rows = (
        CaseFollowUp.objects.filter(case__in=cases.values("pk"))
        .values("case_id")
        .annotate(n=Count("id"), last=Max("visited_on"))
        .values_list("case_id", "n", "last")
        .order_by()
    )
    return {case_id: (n, last) for case_id, n, last in rows}
