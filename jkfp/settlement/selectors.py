"""结算查询 Settlement reads: policies, claims and settlements, scoped to the user.

Scope (domain.md §2): a hospital-window user (role ``hospital``) sees the claims of their own
institution only (none without one); every other role sees the claims of persons living in their
region (``claim.person.village`` within the user's region; the fund office and the county
administrator are bound to the county, so they see the whole county). A detail read outside the
scope raises ``Http404``. Policies are public reference data.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Subquery, Sum
from django.http import Http404

from jkfp import engine
from jkfp.accounts.models import Role
from jkfp.accounts.scoping import code_q, region_narrow, user_prefix
from jkfp.regions.models import Region, county_of
from jkfp.settlement.compute import engine_policy, policy_in_force_of, ytd_of_fen
from jkfp.settlement.models import Admission, Claim, ClaimStatus, Policy, Settlement, YearLedger

ERR_NO_POLICY = (
    "{county} {day} 没有有效的结算政策，请先为该县（或其所在的市、省、全系统）上传覆盖该日期的政策文件"
)
ERR_NO_CATEGORY = "{day} 该人员没有政策“{policy}”定义的结算类别"
ERR_POLICY_UNKNOWN = "没有名为“{name}”的结算政策"
NOT_FOUND_CLAIM = "结算申请不存在或不在您的管辖范围内"
NOT_FOUND_ADMISSION = "入院登记不存在或不在您的管辖范围内"


# --------------------------------------------------------------------------- policies


def policies() -> QuerySet[Policy]:
    """政策列表 Every stored policy version, by name then newest version first."""
    return Policy.objects.select_related("uploaded_by").order_by("name", "-version")


def policy_in_force(*, on: date, code: str) -> Policy:
    """当日政策 The policy in force on ``on`` for a person living in region ``code``
    (``compute.policy_in_force_of``: the most specific region containing it with a version valid
    that day; there the most recently uploaded).

    Raises ``ValidationError`` naming the county and the date when there is none.
    """
    policy = policy_in_force_of(Policy.objects.defer("source_text"), on, code=code)
    if policy is None:
        raise ValidationError(no_policy_message(code, on), code="no_policy")
    return policy


def no_policy_message(code: str, day: date, names: dict[str, str] | None = None) -> str:
    """无政策 The message of a claim without a policy in force: names the person's county (name and
    code; ``names``: county names already read, ``county_names``) and the discharge date."""
    county = county_of(code) or code
    if names is None:
        names = county_names([county])
    label = f"{names[county]}（{county}）" if county in names else county
    return ERR_NO_POLICY.format(county=label, day=day.isoformat())


def county_names(counties: Iterable[str]) -> dict[str, str]:
    """县名 The names of the counties ``counties`` (6-digit codes, their stored form), by code."""
    return dict(Region.objects.filter(code__in=set(counties)).values_list("code", "name"))


def policies_of(*, code: str = "") -> QuerySet[Policy]:
    """区划政策 The policy versions that apply within region ``code``: those of the regions containing
    it (its own, its city's, its province's and the whole deployment's), by region (most specific
    last), name, newest version first. ``code`` empty: every version."""
    qs = policies().select_related("region")
    if not code:
        return qs
    prefixes = {code[:n] for n in range(len(code) + 1)}
    return qs.filter(scope__in=prefixes).order_by("scope", "name", "-version")


def policies_visible(*, user: Any) -> QuerySet[Policy]:
    """可见政策 The policy versions a user may read (the policies page): those of the regions containing
    the user's region (its own, its city's, its province's, the whole deployment's) and of the regions
    inside it (a city's counties) — never a neighbouring county's. ``used``: a settlement used it."""
    prefix = user_prefix(user)
    if prefix is None:
        return Policy.objects.none()
    above = {prefix[:n] for n in range(len(prefix) + 1)}
    return (
        Policy.objects.filter(Q(scope__in=above) | Q(scope__startswith=prefix))
        .select_related("region")
        .annotate(used=Exists(Settlement.objects.filter(policy_id=OuterRef("pk"))))
        .order_by("scope", "name", "-version")
    )


def policy_latest(*, name: str) -> Policy:
    """最新版本 The highest version of the policy called ``name``; ``ValidationError`` when unknown."""
    policy = Policy.objects.filter(name=name).order_by("-version").first()
    if policy is None:
        raise ValidationError(ERR_POLICY_UNKNOWN.format(name=name), code="unknown_policy")
    return policy


def policy_is_used(*, policy: Policy) -> bool:
    """已使用 True when a settlement used this version (it is then immutable)."""
    return Settlement.objects.filter(policy_id=policy.pk).exists()


# --------------------------------------------------------------------------- scope


def _claim_scope_q(user: Any, prefix: str = "") -> Q:
    """The Q keeping claims the user may see (``prefix`` is the path to the claim, e.g. ``claim__``)."""
    if getattr(user, "role", None) == Role.HOSPITAL:
        institution_id = getattr(user, "institution_id", None)
        if institution_id is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return Q(pk__in=[])
        return Q(**{f"{prefix}institution_id": institution_id})
    return code_q(user, f"{prefix}person__village_id")


def claims_visible(*, user: Any) -> QuerySet[Claim]:
    """可见结算申请 Claims the user may see (see the module docstring)."""
    return Claim.objects.filter(_claim_scope_q(user))


def settlements_visible(*, user: Any) -> QuerySet[Settlement]:
    """可见结算 Settlement rows (current and history) of the claims the user may see."""
    return Settlement.objects.filter(_claim_scope_q(user, "claim__"))


def admissions_visible(*, user: Any) -> QuerySet[Admission]:
    """可见入院登记 Admissions of the user's institution (hospital role) or of persons in the region."""
    if getattr(user, "role", None) == Role.HOSPITAL:
        institution_id = getattr(user, "institution_id", None)
        if institution_id is None:
            return Admission.objects.none()
        return Admission.objects.filter(institution_id=institution_id)
    return Admission.objects.filter(code_q(user, "person__village_id"))


# --------------------------------------------------------------------------- claims and settlements


def settlement_list(
    *,
    user: Any,
    year: int | None = None,
    month: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    institution: str | None = None,
    category: str | None = None,
    status: str | None = None,
    region: str | None = None,
    query: str | None = None,
) -> QuerySet[Settlement]:
    """结算列表 Current settlements of visible claims (reversed claims' last rows included when
    ``status='reversed'``), newest discharge first; filters: year, month ``YYYY-MM``, discharge
    date range ``date_from``..``date_to`` (inclusive), institution
    code, category, claim status, township/village code, claim id or name."""
    qs = settlements_visible(user=user)
    if status == "reversed":
        last_rows = (
            Settlement.objects.filter(claim__status=ClaimStatus.REVERSED)
            .values("claim_id")
            .annotate(last=Max("id"))
            .values("last")
        )
        qs = qs.filter(claim__status=ClaimStatus.REVERSED, id__in=Subquery(last_rows))
    else:
        qs = qs.filter(is_current=True)
        if status:
            qs = qs.filter(claim__status=status)
    if year:
        qs = qs.filter(
            claim__discharged_on__gte=date(year, 1, 1), claim__discharged_on__lte=date(year, 12, 31)
        )
    if month:
        first, last = month_bounds(month)
        qs = qs.filter(claim__discharged_on__gte=first, claim__discharged_on__lte=last)
    if date_from:
        qs = qs.filter(claim__discharged_on__gte=date_from)
    if date_to:
        qs = qs.filter(claim__discharged_on__lte=date_to)
    if institution:
        qs = qs.filter(claim__institution_id=institution)
    if category:
        qs = qs.filter(category=category)
    qs = region_narrow(qs, region, "claim__person__village_id")
    query = (query or "").strip()
    if query:
        qs = qs.filter(Q(claim__claim_id=query) | Q(claim__person__name=query))
    return qs.select_related(
        "claim", "claim__person", "claim__person__village", "claim__institution", "policy"
    ).order_by("-claim__discharged_on", "-claim__claim_id", "-settled_at")


def month_bounds(month: str) -> tuple[date, date]:
    """月份 ``YYYY-MM`` → (first day, last day); ``ValueError`` when malformed."""
    year_text, sep, month_text = month.partition("-")
    if not sep or not (year_text.isdigit() and month_text.isdigit()):
        raise ValueError(month)
    year, mon = int(year_text), int(month_text)
    return date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1])


def claim_get(*, user: Any, pk: int) -> Claim:
    """结算申请详情 The visible claim with this primary key (person, institution, admission loaded);
    ``Http404`` otherwise. Pages name a claim by its key: a claim id (结算号) is unique only within its
    institution, and a county user sees every institution's."""
    claim = (
        claims_visible(user=user)
        .select_related("person", "person__village", "person__village__parent", "institution", "admission")
        .filter(pk=pk)
        .first()
    )
    if claim is None:
        raise Http404(NOT_FOUND_CLAIM)
    return claim


def claim_by_institution(*, institution_code: str, claim_id: str) -> Claim:
    """机构结算申请 The claim ``claim_id`` of the institution (the API: scope = the token's institution)."""
    claim = (
        Claim.objects.select_related("person", "institution")
        .filter(claim_id=claim_id, institution_id=institution_code)
        .first()
    )
    if claim is None:
        raise Http404(NOT_FOUND_CLAIM)
    return claim


def settlement_current(*, claim: Claim) -> Settlement | None:
    """当前结算 The current settlement row of the claim (None when pending or reversed)."""
    return Settlement.objects.select_related("policy").filter(claim_id=claim.pk, is_current=True).first()


def settlement_last(*, claim: Claim) -> Settlement | None:
    """最近结算 The current row, else the newest row (a reversed claim's last settlement)."""
    return (
        Settlement.objects.select_related("policy")
        .filter(claim_id=claim.pk)
        .order_by("-is_current", "-settled_at", "-id")
        .first()
    )


def settlement_history(*, claim: Claim) -> QuerySet[Settlement]:
    """结算历史 Every settlement row of the claim, newest first."""
    return (
        Settlement.objects.select_related("policy", "settled_by")
        .filter(claim_id=claim.pk)
        .order_by("-settled_at", "-id")
    )


def year_ledger(*, person_id: int, year: int) -> YearLedger | None:
    """年度累计 The person's ledger row of ``year`` (None before their first settlement that year)."""
    return YearLedger.objects.filter(person_id=person_id, year=year).first()


def admission_get(*, user: Any, pk: int) -> Admission:
    """入院登记详情 A visible admission; ``Http404`` otherwise."""
    admission = admissions_visible(user=user).select_related("person", "institution").filter(pk=pk).first()
    if admission is None:
        raise Http404(NOT_FOUND_ADMISSION)
    return admission


def settlement_trace(*, settlement: Settlement) -> str:
    """计算过程 The settlement's trace; rows written by the batch engine (``settle-claims``,
    ``resettle``) store none, so it is recomputed from the stored inputs and ``ytd_before_fen`` with the
    reference engine (which the batch engine equals to the fen)."""
    if settlement.trace:
        return settlement.trace
    claim = settlement.claim
    result = engine.settle_claim(
        engine_policy(settlement.policy),
        engine.Claim(
            claim_id=claim.claim_id,
            person_id=claim.person.id_number,
            category=settlement.category,
            discharge_on=claim.discharged_on,
            level=claim.level,
            in_county=claim.in_county,
            referred=claim.referred,
            total_amount=claim.total_amount,
            out_of_scope_amount=claim.out_of_scope_amount,
        ),
        ytd_of_fen(settlement.ytd_before_fen),
        trace=True,
    )
    return "\n".join(result.trace)


@dataclass(frozen=True)
class CasePayments:
    """大病救治费用 What the live settlements of a major-disease case's claims add up to."""

    claim_count: int
    counted_total: Decimal
    hospital_absorbed: Decimal
    basic: Decimal
    critical: Decimal
    aid: Decimal
    supplementary: Decimal
    personal: Decimal


def case_payment_totals(*, case_ids: Iterable[int]) -> dict[int, CasePayments]:
    """大病救治费用汇总 Per major-disease case (``Claim.major_disease_case``): the claim count and the
    sums of the live settlements (``is_current``: reversed claims count nothing). Cases without a
    settled claim are absent. Unscoped: the caller has already scoped the cases."""
    ids = sorted(set(case_ids))
    out: dict[int, CasePayments] = {}
    fields = ("counted_total", "hospital_absorbed", "basic", "critical", "aid", "supplementary", "personal")
    zero = Decimal("0.00")
    for start in range(0, len(ids), 500):
        rows = (
            Settlement.objects.filter(
                is_current=True, claim__major_disease_case_id__in=ids[start : start + 500]
            )
            .values("claim__major_disease_case_id")
            .annotate(claim_count=Count("id"), **{f: Sum(f) for f in fields})
            .order_by()
        )
        for r in rows:
            out[r["claim__major_disease_case_id"]] = CasePayments(
                claim_count=r["claim_count"],
                **{f: Decimal(r[f] or zero).quantize(Decimal("0.01")) for f in fields},
            )
    return out
