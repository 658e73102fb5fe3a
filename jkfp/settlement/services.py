"""一站式结算写操作 Settlement services: policies, admissions, claims, settlement, reversal.

Every write of the settlement app goes through these functions. Errors:

- ``ValidationError`` — bad input; ``message_dict`` maps the field (``claim_id``, ``total_amount``,
  ``discharged_on``, ``source_text``, …) to a Chinese message; the messages are the ``ERR_*``
  constants (format placeholders in braces).
- ``ClaimConflict`` (a ``ValidationError`` subclass, code ``conflict``) — the same ``claim_id`` was
  submitted by the same institution (claim ids are each institution's own) with different inputs, or re-submitted after its reversal (the API answers 409).
- ``PermissionDenied`` — the user's role or institution may not do this.

Concurrency (issue 4): settling, reversing and re-ordering a person's claims of one calendar year
happen inside one transaction that first locks the person's ``YearLedger`` row
(``select_for_update`` on PostgreSQL; SQLite serialises writers with ``BEGIN IMMEDIATE``). Two
windows settling the same person at once therefore give the serial result.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from jkfp import engine
from jkfp.accounts.models import AuditAction, Role
from jkfp.accounts.scoping import role_require
from jkfp.accounts.services import audit_record
from jkfp.core.bulkdb import (
    batched_writes,
    execute_statements,
    insert_returning,
    insert_statement,
    inserted,
)
from jkfp.core.importing import has_control_chars
from jkfp.core.signals import send_data_changed
from jkfp.engine.claims import PAID_OUTPATIENT_REASON, PAID_PAIR_REASON
from jkfp.regions.models import Institution, Region, RegionLevel, stored_code
from jkfp.registry.models import Person
from jkfp.settlement import fetch, store
from jkfp.settlement.cards import ERR_DISEASE_UNKNOWN, OutpatientFacts, outpatient_facts
from jkfp.settlement.compute import ERR_CLAIM_ID as ERR_CLAIM_ID  # the services' message too
from jkfp.settlement.compute import (
    claim_id_valid,
    engine_policy,
    outpatient_problem,
    request_hash,
)
from jkfp.settlement.incounty import claim_in_county
from jkfp.settlement.models import (
    Admission,
    AdmissionStatus,
    Claim,
    ClaimKind,
    ClaimSource,
    ClaimStatus,
    Policy,
    PolicyFormat,
    Settlement,
    SettlementReason,
)
from jkfp.settlement.selectors import policy_is_used
from jkfp.settlement.store import actor
from jkfp.treatment.selectors import major_case_sql, referral_flag

POLICY_ROLES = frozenset({Role.COUNTY_ADMIN})
SETTLE_ROLES = frozenset({Role.HOSPITAL, Role.COUNTY_ADMIN})
# Stays settled elsewhere (§7, 事后补助): registered by the county, not at a hospital window.
ELSEWHERE_ROLES = frozenset({Role.COUNTY_ADMIN, Role.FUND})
REVERSE_ROLES = frozenset({Role.HOSPITAL, Role.COUNTY_ADMIN})

ERR_ROLE_POLICY = "只有县卫健局管理员可以上传结算政策"
ERR_ROLE_SETTLE = "只有定点医疗机构结算窗口和县卫健局管理员可以办理结算"
ERR_ROLE_ELSEWHERE = "只有县卫健局管理员和医保局·民政可以登记统筹地已结算的住院"
ERR_PAID_PAIR = PAID_PAIR_REASON[0]
ERR_ROLE_REVERSE = "只有定点医疗机构结算窗口和县卫健局管理员可以冲销结算"
ERR_OTHER_INSTITUTION = "只能办理本机构的结算业务"
ERR_NO_INSTITUTION = "您的账号未绑定医疗机构，不能办理结算"
ERR_POLICY_FORMAT = "政策文件格式应为 toml 或 json"
ERR_POLICY_INVALID = "政策文件不合法：{problems}"
ERR_POLICY_USED = "政策“{label}”已用于结算，不能修改；请上传新版本"
ERR_POLICY_REGION_UNKNOWN = "区划代码“{code}”不在区划库中，请先导入行政区划"
ERR_POLICY_REGION_LEVEL = "政策只能按县及县以上区划设置，“{region}”是{level}"
ERR_POLICY_OTHER_REGION = "政策“{name}”已用于{other}，同名政策的新版本须用于同一区划（或改用新的政策名称）"
WHOLE_DEPLOYMENT = "全系统"
ERR_CLAIM_EXISTS = "结算号“{claim_id}”已存在"
ERR_CONFLICT = "结算号“{claim_id}”已以不同内容提交过"
ERR_CONFLICT_REVERSED = "结算号“{claim_id}”已冲销，不能再次结算；请使用新的结算号"
ERR_AMOUNT = engine.AMOUNT_INVALID[0]
ERR_OUT_OF_SCOPE_GT_TOTAL = engine.OUT_OF_SCOPE_ABOVE_TOTAL[0]
ERR_DISCHARGE_BEFORE_ADMIT = engine.DISCHARGE_BEFORE_ADMIT[0]
ERR_DISCHARGE_FUTURE = engine.DISCHARGE_FUTURE[0]
ERR_ADMIT_FUTURE = engine.ADMIT_FUTURE[0]
ERR_ADMIT_BEFORE_BIRTH = engine.ADMIT_BEFORE_BIRTH[0]
ERR_NOT_SETTLED = "只有已结算的申请可以冲销"
ERR_REVERSAL_REASON = "请填写冲销原因（不超过300字）"
ERR_REVERSED = "该结算申请已冲销"
ERR_ADMISSION_MISMATCH = "入院登记与结算申请的人员或机构不一致"
ERR_ADMISSION_STATE = "该入院登记已出院结算或已撤销"
ERR_ADMISSION_OPEN = "该人员在本机构已有在院登记（{day} 入院）"
ERR_AGREEMENT_DATE = "签署先诊疗后付费协议时必须填写协议签署日期"
ERR_DEPOSIT_WITHOUT_AGREEMENT = "未签署先诊疗后付费协议时不能免交押金"
ERR_AGREEMENT_FUTURE = "协议签署日期不能晚于今天"
ERR_KIND = "就诊类别应为 inpatient（住院）或 outpatient（门诊慢特病）"
ERR_DISEASE_REQUIRED = "门诊慢特病结算必须填写病种"
ERR_DISEASE_INPATIENT = "住院结算不填病种（病种只用于门诊慢特病）"
ERR_OUTPATIENT_DATES = "门诊慢特病的入院日期即就诊日期，两者应相同"
ERR_OUTPATIENT_ADMISSION = "门诊慢特病结算没有入院登记"


class ClaimConflict(ValidationError):
    """结算号冲突 The same claim id with different inputs (HTTP 409)."""


def _require_institution(user: Any, institution_code: str) -> None:
    """A hospital-window user acts only for their own institution; other roles (and ``None``:
    the command line or an API token already bound to the institution) are not restricted."""
    if user is None or getattr(user, "role", None) != Role.HOSPITAL:
        return
    if getattr(user, "institution_id", None) is None:
        raise PermissionDenied(ERR_NO_INSTITUTION)
    if user.institution_id != institution_code:
        raise PermissionDenied(ERR_OTHER_INSTITUTION)


# --------------------------------------------------------------------------- policies


def policy_region(code: str, *, any_level: bool = False) -> Region:
    """政策区划 The region a policy is installed for, by code in any accepted form
    (``regions.models.stored_code``); ``ValidationError({"region": …})`` when it is not in the tree or (unless ``any_level``:
    listing the policies that apply within a township or village) is below a county."""
    code = (code or "").strip()
    stored = stored_code(code)
    region = None if stored is None else Region.objects.filter(code=stored).first()
    if region is None:
        raise ValidationError(
            {"region": ValidationError(ERR_POLICY_REGION_UNKNOWN.format(code=code), code="region_unknown")}
        )
    if not any_level and region.level in (RegionLevel.TOWNSHIP, RegionLevel.VILLAGE):
        message = ERR_POLICY_REGION_LEVEL.format(region=str(region), level=region.get_level_display())
        raise ValidationError({"region": ValidationError(message, code="region_level")})
    return region


def _region_label(region: Region | None) -> str:
    return WHOLE_DEPLOYMENT if region is None else str(region)


def policy_upload(*, text: str, fmt: str, user: Any = None, region: Region | None = None) -> Policy:
    """上传政策 Validate a policy file with the engine and store it for ``region`` (None: the whole
    deployment; issue 21 item 3 — the county's policy overrides the city's, the province's and the
    deployment's, ``compute.policy_in_force_of``).

    A new name becomes version 1. For a known name: when its highest version has not been used by
    a settlement it is replaced in place (same version); otherwise a new version (+1) is created.
    Identical text to the highest version changes nothing. A name belongs to one region: a new
    version for another region is refused (``ValidationError({"region": …})``). Raises
    ``ValidationError({"source_text": …})`` naming the offending key (the engine's message, the
    ``engine.PolicyError`` as its cause), or for ``fmt`` other than toml/json.
    """
    role_require(user, POLICY_ROLES, ERR_ROLE_POLICY, system=True)
    fmt = (fmt or "").lower()
    if fmt not in PolicyFormat.values:
        raise ValidationError({"source_format": ValidationError(ERR_POLICY_FORMAT, code="format")})
    try:
        parsed = engine.loads_policy(text, fmt=fmt, source="")  # type: ignore[arg-type]
    except engine.PolicyError as exc:
        problems = "；".join(f"{p.path}：{p.zh}" if p.path else p.zh for p in exc.problems)
        raise ValidationError(
            {"source_text": ValidationError(ERR_POLICY_INVALID.format(problems=problems), code="invalid")}
        ) from exc
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    with transaction.atomic():
        latest = Policy.objects.select_for_update().filter(name=parsed.name).order_by("-version").first()
        if latest is not None and latest.region_id != (region.pk if region else None):
            message = ERR_POLICY_OTHER_REGION.format(name=parsed.name, other=_region_label(latest.region))
            raise ValidationError({"region": ValidationError(message, code="other_region")})
        if latest is not None and latest.sha256 == digest:
            return latest
        if latest is not None and not policy_is_used(policy=latest):
            policy = latest
        else:
            policy = Policy(name=parsed.name, version=(latest.version + 1) if latest else 1)
        policy.title = parsed.title[:300]
        policy.valid_from = parsed.valid_from
        policy.valid_to = parsed.valid_to
        policy.source_text = text
        policy.source_format = fmt
        policy.sha256 = digest
        policy.uploaded_by = actor(user)
        policy.uploaded_at = timezone.now()
        policy.region = region
        policy.scope = "" if region is None else region.prefix
        policy.full_clean()
        policy.save()
        if user is not None:
            audit_record(user=user, action=AuditAction.POLICY, object_type="policy", object_id=policy.label)
    return policy


def policy_update(*, policy: Policy, text: str, fmt: str, user: Any = None) -> Policy:
    """修改政策 Replace the text of an unused version; ``ValidationError`` when it has been used
    (immutable: upload a new version instead)."""
    if policy_is_used(policy=policy):
        raise ValidationError({"source_text": ERR_POLICY_USED.format(label=policy.label)})
    return policy_upload(text=text, fmt=fmt, user=user, region=policy.region)


def policy_install_preset(
    *, name: str, as_name: str | None = None, year: int | None = None, title: str | None = None
) -> Policy:
    """安装预置政策 Store a shipped preset (``jkfp init``). With ``as_name``/``year``/``title`` a copy
    is re-dated to 1 January – 31 December of ``year`` under another name (the demo's illustrative
    policy). Installing the same text twice changes nothing."""

    text = engine.preset_text(name, as_name=as_name, year=year, title=title)
    existing = Policy.objects.filter(sha256=hashlib.sha256(text.encode("utf-8")).hexdigest()).first()
    if existing is not None:
        return existing
    return policy_upload(text=text, fmt="toml", user=None)


def policies_install_presets() -> list[Policy]:
    """预置政策入库 Store every shipped preset (idempotent)."""
    return [policy_install_preset(name=n) for n in engine.preset_names()]


# --------------------------------------------------------------------------- admissions


def admission_register(
    *,
    person: Person,
    institution: Institution,
    admitted_on: date,
    deferred_payment: bool,
    agreement_signed_on: date | None = None,
    deposit_waived_amount: Decimal | str = Decimal("0.00"),
    user: Any = None,
) -> Admission:
    """入院登记 Register an admission (with the 先诊疗后付费 agreement and the deposit waived)."""
    role_require(user, SETTLE_ROLES, ERR_ROLE_SETTLE, system=True)
    _require_institution(user, institution.code)
    today = timezone.localdate()
    waived = _amount(deposit_waived_amount, "deposit_waived_amount")
    errors = _date_errors(admitted_on=admitted_on, discharged_on=None, today=today, born=person.birth_date)
    if deferred_payment and agreement_signed_on is None:
        errors["agreement_signed_on"] = ERR_AGREEMENT_DATE
    elif agreement_signed_on is not None and agreement_signed_on > today:
        errors["agreement_signed_on"] = ERR_AGREEMENT_FUTURE
    if not deferred_payment and waived > 0:
        errors["deposit_waived_amount"] = ERR_DEPOSIT_WITHOUT_AGREEMENT
    open_one = Admission.objects.filter(
        person=person, institution=institution, status=AdmissionStatus.ADMITTED
    ).first()
    if open_one is not None:
        errors["person"] = ERR_ADMISSION_OPEN.format(day=open_one.admitted_on.isoformat())
    if errors:
        raise ValidationError(errors)
    admission = Admission(
        person=person,
        institution=institution,
        admitted_on=admitted_on,
        deferred_payment=deferred_payment,
        agreement_signed_on=agreement_signed_on if deferred_payment else None,
        deposit_waived_amount=waived,
        created_by=actor(user),
    )
    admission.full_clean()
    admission.save()
    return admission


def admission_cancel(*, admission: Admission, user: Any = None) -> Admission:
    """撤销入院登记 Cancel an admission that has not been settled."""
    role_require(user, SETTLE_ROLES, ERR_ROLE_SETTLE, system=True)
    _require_institution(user, admission.institution_id)
    if admission.status != AdmissionStatus.ADMITTED:
        raise ValidationError({"status": ERR_ADMISSION_STATE})
    admission.status = AdmissionStatus.CANCELLED
    admission.save(update_fields=["status"])
    return admission


# --------------------------------------------------------------------------- claims


def _amount(value: Decimal | str | int, field: str) -> Decimal:
    """An amount by the engine's rule (``engine.amount_fen``), as Decimal yuan with two decimals."""
    return engine.fen_to_decimal(_amount_fen(value, field))


def _amount_fen(value: Decimal | str | int, field: str) -> int:
    try:
        return engine.amount_fen(value)
    except engine.ClaimValueError as exc:
        raise ValidationError({field: ERR_AMOUNT.format(reason=exc.zh)}) from None


def _date_errors(*, admitted_on: date, discharged_on: date | None, today: date, born: date) -> dict[str, str]:
    """The engine's date rules of a claim (``engine.claim_date_reasons``), by field."""
    reasons = engine.claim_date_reasons(
        admitted_on=admitted_on, discharged_on=discharged_on, today=today, born=born
    )
    return {field: zh for field, (zh, _) in reasons.items()}


@dataclass(frozen=True)
class ClaimInput:
    """结算申请输入 Validated inputs of a new claim (what ``claim_create`` stores)."""

    claim_id: str
    person: Person
    institution: Institution
    admitted_on: date
    discharged_on: date
    total_amount: Decimal
    out_of_scope_amount: Decimal
    referred: bool | None
    admission: Admission | None
    request_hash: str
    basic_paid_amount: Decimal | None = None  # §7: settled elsewhere
    critical_paid_amount: Decimal | None = None
    kind: str = ClaimKind.INPATIENT
    disease: str = ""  # outpatient: the policies' name of the disease (§6)


def claim_validate(
    *,
    claim_id: str,
    person: Person,
    institution: Institution,
    admitted_on: date,
    discharged_on: date,
    total_amount: Decimal | str,
    out_of_scope_amount: Decimal | str,
    referred: bool | None = None,
    admission: Admission | None = None,
    today: date | None = None,
    basic_paid_amount: Decimal | str | None = None,
    critical_paid_amount: Decimal | str | None = None,
    kind: str = ClaimKind.INPATIENT,
    disease: str = "",
) -> ClaimInput:
    """校验结算申请 Check a claim's inputs; ``ValidationError({field: message})`` listing every problem.

    A stay settled elsewhere (§7) gives both ``basic_paid_amount`` and ``critical_paid_amount``
    (the engine's rules: both or neither, their sum within the in-scope cost).

    An outpatient claim (``kind`` outpatient, §6) names a disease of the policies'
    ``outpatient_diseases`` (a catalogue alias is read as that disease), has no admission and no paid
    amounts, its admission date is the visit date, and the person holds a valid card (慢病卡) for
    that disease on the visit date (``cards.outpatient_facts``: one statement)."""
    today = today or timezone.localdate()
    errors: dict[str, str] = {}
    kind = (kind or ClaimKind.INPATIENT).strip()
    disease = (disease or "").strip()
    outpatient: OutpatientFacts | None = None  # read when the claim names a disease
    if kind not in ClaimKind.values:
        errors["kind"] = ERR_KIND
    elif kind == ClaimKind.OUTPATIENT:
        if not disease:
            errors["disease"] = ERR_DISEASE_REQUIRED
        else:
            outpatient = outpatient_facts(person.pk)
            lookup = outpatient.lookup
            if disease not in lookup:
                names = "、".join(sorted(set(lookup.values()))) or "无"
                errors["disease"] = ERR_DISEASE_UNKNOWN.format(value=disease, names=names)
            else:
                disease = lookup[disease]
        if admitted_on != discharged_on:
            errors["admitted_on"] = ERR_OUTPATIENT_DATES
        if admission is not None:
            errors["admission"] = ERR_OUTPATIENT_ADMISSION
        if basic_paid_amount not in (None, "") or critical_paid_amount not in (None, ""):
            errors["basic_paid_amount"] = PAID_OUTPATIENT_REASON[0]
    elif disease:
        errors["disease"] = ERR_DISEASE_INPATIENT
    claim_id = (claim_id or "").strip()
    if not claim_id_valid(claim_id):
        errors["claim_id"] = ERR_CLAIM_ID
    fen: dict[str, int] = {}
    for field, value in (("total_amount", total_amount), ("out_of_scope_amount", out_of_scope_amount)):
        try:
            fen[field] = _amount_fen(value, field)
        except ValidationError as exc:
            errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if len(fen) == 2 and engine.out_of_scope_above_total(fen["total_amount"], fen["out_of_scope_amount"]):
        errors["out_of_scope_amount"] = ERR_OUT_OF_SCOPE_GT_TOTAL
    paid: dict[str, int | None] = {"basic_paid_amount": None, "critical_paid_amount": None}
    given: list[bool] = []
    for field, paid_value in zip(paid, (basic_paid_amount, critical_paid_amount), strict=True):
        given.append(not (paid_value is None or (isinstance(paid_value, str) and not paid_value.strip())))
        if paid_value is not None and given[-1]:
            try:
                paid[field] = _amount_fen(paid_value, field)
            except ValidationError as exc:
                errors.update({k: v[0] for k, v in exc.message_dict.items()})
    in_scope = None
    if len(fen) == 2 and "out_of_scope_amount" not in errors:
        in_scope = fen["total_amount"] - fen["out_of_scope_amount"]
    if not any(f in errors for f in paid):
        for name, (zh, _) in engine.paid_reasons(
            given=(given[0], given[1]),
            paid_fen=(paid["basic_paid_amount"], paid["critical_paid_amount"]),
            in_scope_fen=in_scope,
        ).items():
            errors[f"{name}_amount"] = zh
    errors.update(
        _date_errors(
            admitted_on=admitted_on, discharged_on=discharged_on, today=today, born=person.birth_date
        )
    )
    if admission is not None:
        if admission.person_id != person.pk or admission.institution_id != institution.code:
            errors["admission"] = ERR_ADMISSION_MISMATCH
        elif admission.status != AdmissionStatus.ADMITTED:
            errors["admission"] = ERR_ADMISSION_STATE
    if outpatient is not None and "disease" not in errors and "discharged_on" not in errors:
        try:
            outpatient.card_require(disease=disease, on=discharged_on)
        except ValidationError as exc:
            errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    total, out = engine.fen_to_decimal(fen["total_amount"]), engine.fen_to_decimal(fen["out_of_scope_amount"])
    basic_paid, critical_paid = (
        None if v is None else engine.fen_to_decimal(v)
        for v in (paid["basic_paid_amount"], paid["critical_paid_amount"])
    )
    digest = request_hash(
        claim_id=claim_id,
        id_number=person.id_number,
        institution_code=institution.code,
        admitted_on=admitted_on,
        discharged_on=discharged_on,
        total_amount=total,
        out_of_scope_amount=out,
        referred=referred,
        basic_paid_amount=basic_paid,
        critical_paid_amount=critical_paid,
        disease=disease if kind == ClaimKind.OUTPATIENT else "",
    )
    return ClaimInput(
        claim_id,
        person,
        institution,
        admitted_on,
        discharged_on,
        total,
        out,
        referred,
        admission,
        digest,
        basic_paid,
        critical_paid,
        kind=kind,
        disease=disease if kind == ClaimKind.OUTPATIENT else "",
    )


def claim_create(
    *,
    claim_id: str,
    person: Person,
    institution: Institution,
    admitted_on: date,
    discharged_on: date,
    total_amount: Decimal | str,
    out_of_scope_amount: Decimal | str,
    referred: bool | None = None,
    admission: Admission | None = None,
    source: str = ClaimSource.WINDOW,
    user: Any = None,
    kind: str = ClaimKind.INPATIENT,
    disease: str = "",
) -> Claim:
    """登记结算申请 Store a pending claim. Level and in-county are copied from the institution;
    ``referred`` is ignored in county and, for an out-of-county stay, taken from the person's
    approved referral (``treatment.selectors.referral_flag``) when not given."""
    role_require(user, SETTLE_ROLES, ERR_ROLE_SETTLE, system=True)
    _require_institution(user, institution.code)
    data = claim_validate(
        claim_id=claim_id,
        person=person,
        institution=institution,
        admitted_on=admitted_on,
        discharged_on=discharged_on,
        total_amount=total_amount,
        out_of_scope_amount=out_of_scope_amount,
        referred=referred,
        admission=admission,
        kind=kind,
        disease=disease,
    )
    return _claim_insert(data, source=source, user=user)[0]


def _claim_insert(
    data: ClaimInput,
    *,
    source: str,
    user: Any,
    savepoint: bool = True,
    status: str = ClaimStatus.PENDING,
    then: list[tuple[str, list[Any]]] | None = None,
) -> tuple[Claim, list[list[tuple[Any, ...]]]]:
    """Store the claim with one ``INSERT``: the major-disease case link (the rule
    ``treatment.selectors.major_case_query``, compiled to SQL) is a sub-select of the statement. ``status`` is ``settled`` only inside ``claim_submit``'s
    transaction, which settles the claim or rolls it back. The statements ``then`` run right after
    the ``INSERT``, in the same round trip on PostgreSQL (``execute_statements``): their rows are
    returned (only without ``savepoint``)."""
    in_county = claim_in_county(
        institution=data.institution, person=data.person, discharged_on=data.discharged_on
    )
    if in_county:
        flag = False
    elif data.referred is None:
        flag = referral_flag(
            person_id=data.person.pk, institution_code=data.institution.code, admitted_on=data.admitted_on
        )
    else:
        flag = bool(data.referred)
    claim = Claim(
        claim_id=data.claim_id,
        person=data.person,
        institution=data.institution,
        level=int(data.institution.level),
        in_county=in_county,
        admission=data.admission,
        admitted_on=data.admitted_on,
        discharged_on=data.discharged_on,
        total_amount=data.total_amount,
        out_of_scope_amount=data.out_of_scope_amount,
        referred=flag,
        basic_paid_amount=data.basic_paid_amount,
        critical_paid_amount=data.critical_paid_amount,
        kind=data.kind,
        disease=data.disease,
        request_hash=data.request_hash,
        source=source,
        status=status,
        created_by=actor(user),
    )
    # The related objects are the caller's (already fetched): no existence query per foreign key.
    claim.full_clean(
        exclude=["person", "institution", "admission", "major_disease_case", "created_by", "reversed_by"],
        validate_unique=False,
        validate_constraints=False,
    )
    major_case = major_case_sql(person_id=data.person.pk, on=data.discharged_on)
    after: list[list[tuple[Any, ...]]] = []
    try:
        if savepoint:
            with transaction.atomic():
                (case_id,) = insert_returning(
                    claim, sql={"major_disease_case_id": major_case}, returning=("major_disease_case_id",)
                )
        else:  # inside claim_submit's transaction, which is rolled back as a whole on a duplicate id
            insert = insert_statement(
                claim, sql={"major_disease_case_id": major_case}, returning=("major_disease_case_id",)
            )
            got = execute_statements([(s, p, True) for s, p in [insert, *(then or [])]])
            first = got[0]
            assert first is not None  # fetched
            (case_id,) = inserted(claim, first[0])
            after = [rows or [] for rows in got[1:]]
    except IntegrityError:
        raise ValidationError({"claim_id": ERR_CLAIM_EXISTS.format(claim_id=data.claim_id)}) from None
    claim.major_disease_case_id = case_id
    return claim, after


def claim_submit(
    *,
    claim_id: str,
    person: Person,
    institution: Institution,
    admitted_on: date,
    discharged_on: date,
    total_amount: Decimal | str,
    out_of_scope_amount: Decimal | str,
    referred: bool | None = None,
    admission: Admission | None = None,
    source: str = ClaimSource.API,
    user: Any = None,
    on_created: Callable[[Settlement], object] | None = None,
    basic_paid_amount: Decimal | str | None = None,
    critical_paid_amount: Decimal | str | None = None,
    kind: str = ClaimKind.INPATIENT,
    disease: str = "",
) -> tuple[Settlement, bool]:
    """出院结算（幂等） Create and settle a claim in one transaction; returns (current settlement, created).

    Idempotent: the same ``claim_id`` with the same inputs returns the claim's current settlement
    with ``created=False`` (whether it was settled directly or re-settled since); with different
    inputs, or after the claim was reversed, raises ``ClaimConflict``. Concurrent identical
    submissions settle once. ``on_created(settlement)`` runs inside the transaction when the claim
    is new (the API writes its audit row there: it commits with the settlement, in one commit).

    With ``basic_paid_amount``/``critical_paid_amount`` it is a stay already settled elsewhere
    (§7): registered by the county administrator or the fund office, not a hospital window.

    An outpatient claim (``kind`` outpatient, ``disease``; §6) is settled the same way; without the
    person's valid card for the disease on the visit date it is refused (``ValidationError`` on
    ``disease``).
    """
    if basic_paid_amount is not None or critical_paid_amount is not None:
        role_require(user, ELSEWHERE_ROLES, ERR_ROLE_ELSEWHERE, system=True)
    else:
        role_require(user, SETTLE_ROLES, ERR_ROLE_SETTLE, system=True)
        _require_institution(user, institution.code)
    data = claim_validate(
        claim_id=claim_id,
        person=person,
        institution=institution,
        admitted_on=admitted_on,
        discharged_on=discharged_on,
        total_amount=total_amount,
        out_of_scope_amount=out_of_scope_amount,
        referred=referred,
        admission=admission,
        basic_paid_amount=basic_paid_amount,
        critical_paid_amount=critical_paid_amount,
        kind=kind,
        disease=disease,
    )
    # The common case is a new claim: insert it first and look the stored one up only when the id
    # exists (a duplicate rolls this transaction back; concurrent identical posts settle once).
    try:
        with transaction.atomic():
            # One round trip for the claim INSERT, the ledger lock and the settlement's inputs; one
            # for the settlement row, the ledger and ``on_created``'s writes (PostgreSQL).
            claim, fetched = _claim_insert(
                data,
                source=source,
                user=user,
                savepoint=False,
                status=ClaimStatus.SETTLED,
                then=fetch.statements(data.person.pk, data.discharged_on),
            )
            with batched_writes():
                row = _settle_locked(fetch.facts(claim, fetched=fetched), user=user)
                if on_created is not None:
                    on_created(row)
            return row, True
    except ValidationError as exc:
        exists = [ERR_CLAIM_EXISTS.format(claim_id=data.claim_id)]
        if not hasattr(exc, "error_dict") or exc.message_dict.get("claim_id") != exists:
            raise
    # Claim ids are the institution's own (unique per institution): another hospital's is not seen.
    existing = Claim.objects.get(institution_id=institution.code, claim_id=data.claim_id)
    if existing.request_hash != data.request_hash:
        raise ClaimConflict({"claim_id": ERR_CONFLICT.format(claim_id=data.claim_id)}, code="conflict")
    if existing.status == ClaimStatus.REVERSED:
        raise ClaimConflict(
            {"claim_id": ERR_CONFLICT_REVERSED.format(claim_id=data.claim_id)}, code="conflict"
        )
    if existing.status == ClaimStatus.PENDING:
        with transaction.atomic():
            row = claim_settle(claim=existing, user=user)
            if on_created is not None:
                on_created(row)
            return row, True
    current = Settlement.objects.select_related("policy").get(claim_id=existing.pk, is_current=True)
    return current, False


# --------------------------------------------------------------------------- settlement


def claim_settle(*, claim: Claim, user: Any = None) -> Settlement:
    """出院结算 Settle a pending claim with the policy in force on its discharge date and the
    person's category on that day; returns its current settlement (an already settled claim's
    current row). Locks the person's ledger row of the year.

    Fast path: no settled claim of the same person and year sorts after this one (by discharge
    date, claim id) → settled on top of the ledger. Otherwise the year is re-settled in order:
    this claim and every later one (later rows whose results change get new rows, reason
    ``reorder``; history keeps the old ones).

    ``claim_submit`` does the same (``_settle_locked``) for the claim it has just inserted.
    """
    if claim.basic_paid_amount is not None:  # a stay settled elsewhere: the county's (§7)
        role_require(user, ELSEWHERE_ROLES, ERR_ROLE_ELSEWHERE, system=True)
    else:
        role_require(user, SETTLE_ROLES, ERR_ROLE_SETTLE, system=True)
        _require_institution(user, claim.institution_id)
    # savepoint=False: inside claim_submit's transaction no savepoint pair is needed (any error
    # rolls the whole submission back); called alone it is a transaction of its own.
    with transaction.atomic(savepoint=False):
        facts = fetch.facts(claim)  # locks the ledger row, re-reads the claim
        claim = facts.claim
        if claim.status == ClaimStatus.SETTLED:
            return Settlement.objects.select_related("policy").get(claim_id=claim.pk, is_current=True)
        if claim.status == ClaimStatus.REVERSED:
            raise ValidationError({"claim_id": ERR_REVERSED})
        return _settle_locked(facts, user=user, fresh=False)


def _settle_locked(facts: fetch.ClaimFacts, *, user: Any, fresh: bool = True) -> Settlement:
    """Fetch → engine → store for a claim whose facts were read under the ledger lock. ``fresh``
    (``claim_submit``): the claim was inserted in this transaction, already marked settled, with
    ``person`` attached."""
    claim = facts.claim
    if claim.outpatient:
        new = next(i for i in facts.items if i.claim is claim)
        _outpatient_check(claim, new.policy, new.category)
    results = engine.settle_in_order(facts.engine_items(), start=facts.start)
    rows = store.save(
        store.Writes.of_claims(
            facts, results, reason=SettlementReason.REORDER, user=user, settled=[] if fresh else [claim.pk]
        ),
        one_by_one=True,
    )
    (row,) = [r for r in rows if r.claim_id == claim.pk]
    claim.status = ClaimStatus.SETTLED
    send_data_changed(kind="settlement", years=[claim.discharged_on.year], person_ids=[claim.person_id])
    if claim.admission_id is not None:
        Admission.objects.filter(pk=claim.admission_id, status=AdmissionStatus.ADMITTED).update(
            status=AdmissionStatus.DISCHARGED
        )
    if user is not None:
        audit_record(
            user=user,
            action=AuditAction.SETTLE,
            object_type="claim",
            object_id=claim.claim_id,
            detail=settlement_audit_detail(claim, row, what="结算"),
            region_code=claim.person.village_id,
        )
    row.policy = next(i.policy for i in facts.items if i.claim is claim)
    row.claim = claim
    return row


def settlement_audit_detail(claim: Claim, row: Settlement | None, *, what: str) -> str:
    """结算审计说明 The audit detail of a settlement or reversal: the claim, its amounts and what each
    fund paid (of ``row``, the settlement made or reversed), e.g. ``结算 H001-1 总费用10000.00 …``."""
    text = f"{what} {claim.claim_id} 总费用{claim.total_amount:.2f} 目录外{claim.out_of_scope_amount:.2f}"
    if row is None:
        return text
    return (
        f"{text} 基本医保{row.basic:.2f} 大病保险{row.critical:.2f} 医疗救助{row.aid:.2f} "
        f"补充保险{row.supplementary:.2f} 医院承担{row.hospital_absorbed:.2f} 个人负担{row.personal:.2f}"
    )


def _outpatient_check(claim: Claim, policy: Policy, category: str) -> None:
    """An outpatient claim needs an ``outpatient`` block for the person's category and its disease
    in the ``outpatient_diseases`` of the policy in force (§6); ``ValidationError`` naming the field."""
    problem = outpatient_problem(engine_policy(policy), policy.label, category, claim.disease)
    if problem is not None:
        raise ValidationError({problem[0]: problem[1]})


def claim_reverse(*, claim: Claim, user: Any = None, reason: str) -> Claim:
    """冲销 Reverse a settled claim: its settlement rows are kept (none stays current), the claim is
    marked reversed, and the person's later claims of the year are re-settled (reason
    ``reversal_resettle``) so that the ledger equals the remaining claims settled in order."""
    role_require(user, REVERSE_ROLES, ERR_ROLE_REVERSE, system=True)
    _require_institution(user, claim.institution_id)
    reason = (reason or "").strip()
    if not reason or len(reason) > 300 or has_control_chars(reason):
        raise ValidationError({"reason": ERR_REVERSAL_REASON})
    with transaction.atomic():
        facts = fetch.facts(claim, reversal=True)  # locks the ledger row, re-reads the claim
        claim = facts.claim
        if claim.status != ClaimStatus.SETTLED:
            raise ValidationError({"claim_id": ERR_NOT_SETTLED})
        current = Settlement.objects.filter(claim_id=claim.pk, is_current=True).first()
        Settlement.objects.filter(claim_id=claim.pk, is_current=True).update(is_current=False)
        claim.status = ClaimStatus.REVERSED
        claim.reversed_at = timezone.now()
        claim.reversed_by = actor(user)
        claim.reversal_reason = reason
        claim.save(update_fields=["status", "reversed_at", "reversed_by", "reversal_reason"])
        send_data_changed(kind="settlement", years=[claim.discharged_on.year], person_ids=[claim.person_id])
        results = engine.settle_in_order(facts.engine_items(), start=facts.start)
        store.save(
            store.Writes.of_claims(
                facts, results, reason=SettlementReason.REVERSAL_RESETTLE, user=user, settled=[]
            ),
            one_by_one=True,
        )
        if user is not None:
            audit_record(
                user=user,
                action=AuditAction.REVERSE,
                object_type="claim",
                object_id=claim.claim_id,
                detail=settlement_audit_detail(claim, current, what=f"冲销（{reason}）"),
                region_code=claim.person.village_id,
            )
    return claim


__all__ = [
    "ClaimConflict",
    "ClaimInput",
    "admission_cancel",
    "admission_register",
    "claim_create",
    "claim_reverse",
    "claim_settle",
    "claim_submit",
    "claim_validate",
    "policies_install_presets",
    "policy_install_preset",
    "policy_region",
    "policy_update",
    "policy_upload",
    "settlement_audit_detail",
]
