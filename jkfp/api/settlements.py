"""结算接口 ``/api/v1/settlements``: discharge settlement, lookup and reversal for the token's institution.

Handlers only parse, call one service or selector of ``jkfp.settlement`` and render. Errors:
``422`` invalid body (the field named), ``404`` unknown person or a claim of another institution,
``409`` the same ``claim_id`` with a different body (or already reversed), ``401`` no valid token.
A ``claim_id`` is the institution's own: unique per institution, so another hospital's use of the
same id is neither seen nor answered with 409 (issue 17 §6).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from ninja import Router

from jkfp.accounts.models import AuditAction
from jkfp.accounts.services import audit_record
from jkfp.api.auth import ApiCaller
from jkfp.api.errors import ApiError, ErrorOut, field_error
from jkfp.api.schemas import ReverseIn, SettlementIn, SettlementOut, SettlementStatusOut
from jkfp.regions.models import Institution
from jkfp.registry.models import Person
from jkfp.settlement import fetch, selectors, services
from jkfp.settlement.models import Claim, ClaimKind, ClaimSource, Settlement

router = Router(tags=["结算 settlements"])

ERR_UNKNOWN_PERSON = "身份证号（id_number）：人员库中没有此人 / no person with this ID number"
ERR_NOT_SETTLED = "该结算申请尚未结算或已冲销 / the claim has no settlement"
ERR_STAY_FIELD = "住院必填，未提供（门诊慢特病可省略）"
# Required for a stay, optional for an outpatient visit (its date; the person's referral record).
STAY_FIELDS = ("admitted_on", "referred")
ERRORS = {401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 413: ErrorOut, 422: ErrorOut}


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def render_settlement(row: Settlement, claim: Claim | None = None) -> dict[str, Any]:
    """结算结果 The API body of a settlement row (amounts as strings with two decimals)."""
    claim = claim or row.claim
    return {
        "claim_id": claim.claim_id,
        "kind": claim.kind,
        "disease": claim.disease,
        "category": row.category,
        "policy": row.policy.label,
        "counted_total": _money(row.counted_total),
        "hospital_absorbed": _money(row.hospital_absorbed),
        "basic": _money(row.basic),
        "critical": _money(row.critical),
        "aid": _money(row.aid),
        "supplementary": _money(row.supplementary),
        "personal": _money(row.personal),
        "ratio": None if row.ratio is None else f"{row.ratio:.6f}",
    }


def _caller(request: HttpRequest) -> ApiCaller:
    """The institution behind the request's token (set by ``InstitutionBearer``)."""
    caller: ApiCaller = request.auth  # type: ignore[attr-defined]
    return caller


def _institution(request: HttpRequest) -> Institution:
    return _caller(request).institution


def _audit(request: HttpRequest, action: str, claim: Claim, detail: str) -> None:
    """Audit an API write under the token's name (the services audit only user accounts)."""
    audit_record(
        user=_caller(request),
        action=action,
        object_type="claim",
        object_id=claim.claim_id,
        detail=detail,
        region_code=claim.person.village_id,
        request=request,
    )


def _person(id_number: str, on: date | None = None) -> Person:
    """The registered person with this (validated) ID number, any region: the token is bound to an
    institution, not to a region (the window may admit anyone insured in the county). 404 otherwise.
    ``on``: the discharge date, to read the person's village on that day in the same query."""
    person = fetch.person_by_id_number(id_number, on)
    if person is None:
        raise Http404(ERR_UNKNOWN_PERSON)
    return person


def _invalid(exc: ValidationError) -> ApiError:
    """A service's ValidationError as a 422 naming each field (or 409 for a claim-id conflict)."""
    if hasattr(exc, "error_dict"):
        errors = [field_error(f, m) for f, messages in exc.message_dict.items() for m in messages]
    else:
        errors = [field_error("", m) for m in exc.messages]
    status, code = (409, "conflict") if isinstance(exc, services.ClaimConflict) else (422, "invalid")
    return ApiError(status, code, "；".join(e["message"] for e in errors), errors)


@router.post(
    "",
    response={200: SettlementOut, **ERRORS},
    summary="出院结算 Settle a discharge",
    description=(
        "按出院日期适用的政策和人员当日的类别结算一次住院（须填 admitted_on、referred），或一次门诊慢特病就诊"
        "（kind=outpatient，须填 disease，入院日期即就诊日期，admitted_on、referred 可省略，"
        "须持该病种就诊当日有效的慢病卡，否则 422 指明 disease）。claim_id 在本机构内唯一（其他机构可用相同的号）；"
        "本机构同一 claim_id 以相同内容重复提交返回相同结果（幂等）；内容不同返回 409。"
    ),
)
def settlement_create(request: HttpRequest, payload: SettlementIn) -> Any:
    institution = _institution(request)
    outpatient = payload.kind == ClaimKind.OUTPATIENT
    missing = [] if outpatient else [f for f in STAY_FIELDS if getattr(payload, f) is None]
    if missing:
        errors = [field_error(f, ERR_STAY_FIELD) for f in missing]
        raise ApiError(422, "invalid", "；".join(e["message"] for e in errors), errors)
    try:
        row, _created = services.claim_submit(
            claim_id=payload.claim_id,
            person=_person(payload.id_number, payload.discharged_on),
            institution=institution,
            # an outpatient visit's admission date is its date (settlement.md §6)
            admitted_on=payload.admitted_on or payload.discharged_on,
            discharged_on=payload.discharged_on,
            total_amount=Decimal(payload.total_amount),
            out_of_scope_amount=Decimal(payload.out_of_scope_amount),
            referred=payload.referred,
            kind=payload.kind,
            disease=payload.disease or "",
            source=ClaimSource.API,
            # The audit row is written in the settlement's transaction (one commit for both).
            on_created=lambda row: _audit(
                request,
                AuditAction.SETTLE,
                row.claim,
                services.settlement_audit_detail(row.claim, row, what="接口结算"),
            ),
        )
    except Http404 as exc:
        raise ApiError(
            404, "unknown_person", ERR_UNKNOWN_PERSON, [field_error("id_number", "人员库中没有此人")]
        ) from exc
    except ValidationError as exc:
        raise _invalid(exc) from exc
    return render_settlement(row)


@router.get(
    "/{claim_id}",
    response={200: SettlementStatusOut, **ERRORS},
    summary="查询结算 Get a claim's settlement",
    description="本机构的结算申请的当前结算（已冲销的返回冲销前的最后结算，status 为 reversed）。",
)
def settlement_get(request: HttpRequest, claim_id: str) -> Any:
    claim = selectors.claim_by_institution(institution_code=_institution(request).code, claim_id=claim_id)
    row = selectors.settlement_last(claim=claim)
    if row is None:
        raise ApiError(404, "not_settled", ERR_NOT_SETTLED)
    return {**render_settlement(row, claim), "status": claim.status}


@router.post(
    "/{claim_id}/reverse",
    response={200: SettlementStatusOut, **ERRORS},
    summary="冲销 Reverse a settlement",
    description="冲销本机构的一笔已结算申请：恢复当年累计，并重算该人员此后的结算。",
)
def settlement_reverse(request: HttpRequest, claim_id: str, payload: ReverseIn) -> Any:
    claim = selectors.claim_by_institution(institution_code=_institution(request).code, claim_id=claim_id)
    reversed_row = selectors.settlement_last(claim=claim)
    try:
        claim = services.claim_reverse(claim=claim, reason=payload.reason)
    except ValidationError as exc:
        error = _invalid(exc)
        if "reason" not in getattr(exc, "error_dict", {}):
            # Not settled (pending or already reversed): the request conflicts with the claim's state.
            error.status, error.code = 409, "conflict"
        raise error from exc
    _audit(
        request,
        AuditAction.REVERSE,
        claim,
        services.settlement_audit_detail(claim, reversed_row, what=f"接口冲销（{payload.reason}）"),
    )
    row = selectors.settlement_last(claim=claim)
    assert row is not None  # a settled claim has rows
    return {**render_settlement(row, claim), "status": claim.status}
