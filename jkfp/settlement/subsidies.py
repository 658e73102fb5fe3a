"""事后补助 County subsidies for stays settled elsewhere, paid to the person's bank card in approved
batches (settlement.md §7, issue 19 Build 4; ``001``: “核算后给予打卡发放”).

- A stay settled by basic and critical illness insurance outside the one-stop network is registered
  from the insurance slip (``elsewhere_register``: the claim with ``basic_paid``/``critical_paid``,
  the slip's photo or PDF) and settled through the same fetch → engine → store path as every claim;
  the county's subsidy is what its own layers pay: medical aid + the safety net
  (``aid + supplementary`` of the claim's current settlement).
- The person's bank account (社保卡/一卡通, ``bank_account_set``) is masked like an ID number and
  revealed with an audit row (the page's reveal).
- Payment batches (打卡发放): ``batch_create`` groups subsidies not yet paid; ``batch_approve`` by a
  second person (maker ≠ checker, refused otherwise, a database constraint backs it);
  ``batch_bank_file`` writes the bank's payment file (audited export); ``batch_return_apply`` reads
  the bank's return file and marks every payment paid or failed with the bank's reason (applying the
  same file again changes nothing). A failed payment's subsidy may go into a later batch; a claim
  has at most one pending or paid payment (``payment_one_live_per_claim``): nothing is paid twice.

Roles (domain.md §2): the county administrator (县卫健局) and the fund office (医保局·民政) make and
approve batches and register stays; both read the ledger; the inspector reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from jkfp import engine
from jkfp.accounts.models import UPPER_ROLES, AuditAction, Role
from jkfp.accounts.scoping import ERR_OUT_OF_SCOPE, role_require, scope, scope_require, user_sees_code
from jkfp.accounts.services import audit_record
from jkfp.core.attachments import (
    AttachmentError,
    UploadedFileLike,
    attachment_check,
    attachment_name,
    attachment_store,
)
from jkfp.core.idnumber import IdNumberError, account_mask, validate_id_number
from jkfp.core.idnumber import mask as mask_id
from jkfp.core.tabular import TableError, read_table, safe_cell
from jkfp.regions.models import Institution
from jkfp.registry.models import Person
from jkfp.settlement.models import (
    LIVE_PAYMENT,
    BankAccount,
    BankAccountKind,
    BatchStatus,
    Claim,
    ClaimAttachment,
    ClaimSource,
    ClaimStatus,
    Payment,
    PaymentBatch,
    PaymentStatus,
    Settlement,
)
from jkfp.settlement.services import claim_submit
from jkfp.settlement.store import actor

SUBSIDY_ROLES = frozenset({Role.COUNTY_ADMIN, Role.FUND})
READ_ROLES = frozenset({Role.COUNTY_ADMIN, Role.FUND, Role.INSPECTOR, *UPPER_ROLES})

ERR_ROLE_SUBSIDY = "只有县卫健局管理员和医保局·民政可以办理事后补助"
ERR_ACCOUNT_NO = "银行账号应为8至32位数字"
ERR_ACCOUNT_KIND = "账户类型应为社保卡或一卡通"
ERR_BANK_NAME = "开户银行不超过100个字"
ERR_BATCH_EMPTY = "请至少选择一笔补助"
ERR_NOT_ELSEWHERE = "结算号“{claim_id}”不是统筹地已结算的住院，没有事后补助"
ERR_NOT_SETTLED = "结算号“{claim_id}”尚未结算或已冲销"
ERR_NO_SUBSIDY = "结算号“{claim_id}”的县级补助为0，无需发放"
ERR_NO_ACCOUNT = "{name}（结算号“{claim_id}”）没有登记银行账号，请先登记"
ERR_ALREADY_LIVE = "结算号“{claim_id}”的补助已在批次{batch}中（待发放或已发放），不能重复发放"
ERR_BATCH_NOTE = "说明不超过300字"
ERR_CONCURRENT = "所选补助刚被另一批次选中，请刷新页面后重试"
ERR_BATCH_STATE = "批次{batch_no}当前为“{status}”，不能{what}"
ERR_MAKER_CHECKER = "制单人不能审批自己制作的批次，须由另一人审批"
ERR_RETURN_COLUMNS = "回盘文件须有“身份证号”或“银行账号”列，以及“金额”“结果”列"
ERR_RETURN_ROW = "第{row}行{column}：{reason}"
ERR_RETURN_NO_MATCH = "本批次中没有这笔发放"
ERR_RETURN_AMBIGUOUS = "本批次中有多笔相符的发放，请用银行账号区分"
ERR_RETURN_AMOUNT = "金额与本批次的发放金额{amount}不符"
ERR_RETURN_RESULT = "结果应为“成功”或“失败”"
ERR_RETURN_REASON = "发放失败须填写原因"
ERR_RETURN_CONFLICT = "这笔发放已回盘为“{status}”，与本文件的结果不同"
ERR_RETURN_TWICE = "与第{row}行是同一笔发放"
ERR_RETURN_EMPTY = "回盘文件没有数据行"

ACCOUNT_RE = re.compile(r"[0-9]{8,32}")
RESULT_WORDS = {"成功": PaymentStatus.PAID, "失败": PaymentStatus.FAILED,
                "success": PaymentStatus.PAID, "failed": PaymentStatus.FAILED}  # fmt: skip
RETURN_COLUMNS: dict[str, tuple[str, ...]] = {
    "id_number": ("身份证号", "id_number", "证件号码", "身份证号码"),
    "account_no": ("银行账号", "account_no", "账号", "卡号"),
    "amount": ("金额", "amount", "发放金额"),
    "result": ("结果", "result", "处理结果"),
    "reason": ("原因", "reason", "失败原因", "备注"),
}
BANK_FILE_HEADERS = ("序号", "姓名", "身份证号", "银行账号", "金额")


def _require(user: Any, roles: Iterable[str] = SUBSIDY_ROLES) -> None:
    role_require(user, frozenset(roles), ERR_ROLE_SUBSIDY)


# --------------------------------------------------------------------------- bank accounts


def bank_account_set(
    *,
    person: Person,
    account_no: str,
    kind: str = BankAccountKind.SOCIAL_SECURITY,
    bank_name: str = "",
    user: Any,
) -> BankAccount:
    """登记银行账号 Set (or replace) the person's subsidy account: 8–32 digits (spaces ignored)."""
    _require(user)
    scope_require(user, person.village_id)
    number = re.sub(r"[\s-]+", "", account_no or "")
    errors: dict[str, str] = {}
    if not ACCOUNT_RE.fullmatch(number):
        errors["account_no"] = ERR_ACCOUNT_NO
    if kind not in BankAccountKind.values:
        errors["kind"] = ERR_ACCOUNT_KIND
    bank_name = (bank_name or "").strip()
    if len(bank_name) > 100:
        errors["bank_name"] = ERR_BANK_NAME
    if errors:
        raise ValidationError(errors)
    account, _ = BankAccount.objects.update_or_create(
        person=person,
        defaults={"account_no": number, "kind": kind, "bank_name": bank_name, "updated_by": actor(user)},
    )
    audit_record(
        user=user,
        action=AuditAction.CHANGE,
        object_type="bank_account",
        object_id=str(person.pk),
        detail=f"{person.name} 登记银行账号 {account_mask(number)}",
        region_code=person.village_id,
    )
    return account


def bank_account_reveal(*, user: Any, person: Person, request: Any = None) -> str:
    """显示完整银行账号 The person's full account number (``""`` when none); every reveal is audited
    like an ID reveal."""
    _require(user, READ_ROLES)
    scope_require(user, person.village_id)
    account = BankAccount.objects.filter(person=person).first()
    audit_record(
        user=user,
        action=AuditAction.REVEAL_ID,
        object_type="bank_account",
        object_id=str(person.pk),
        detail=f"{person.name} 显示完整银行账号",
        region_code=person.village_id,
        request=request,
    )
    return account.account_no if account is not None else ""


# --------------------------------------------------------------------------- stays settled elsewhere

SLIP_DIR = "settlement/slips"
ERR_PAID_REQUIRED = "请填写统筹地结算单上的基本医保已付和大病保险已付（没有则填0）"


def elsewhere_register(
    *,
    user: Any,
    claim_id: str,
    person: Person,
    institution: Institution,
    admitted_on: date,
    discharged_on: date,
    total_amount: Decimal | str,
    out_of_scope_amount: Decimal | str,
    basic_paid_amount: Decimal | str | None,
    critical_paid_amount: Decimal | str | None,
    referred: bool | None = None,
    attachment: UploadedFileLike | None = None,
) -> Settlement:
    """登记统筹地已结算住院 Register a stay settled elsewhere from the insurance slip and settle the
    county's layers (§7) with the person's year-to-date — ``claim_submit``: fetch → engine → store,
    the same path as every claim. ``attachment``: the slip's photo or PDF (JPG/PNG/PDF, ≤ 10 MB,
    content checked), stored under ``VAR_DIR/settlement/slips``. ``ValidationError({field: …})``."""
    _require(user)
    scope_require(user, person.village_id)
    missing = {
        f: ERR_PAID_REQUIRED
        for f, v in (("basic_paid_amount", basic_paid_amount), ("critical_paid_amount", critical_paid_amount))
        if v is None or (isinstance(v, str) and not v.strip())
    }
    if missing:
        raise ValidationError(missing)
    checked: tuple[str, str] | None = None
    if attachment is not None:
        try:
            checked = attachment_check(attachment)
        except AttachmentError as exc:
            raise ValidationError({"attachment": str(exc)}) from None
    written: list[Path] = []
    try:
        with transaction.atomic():
            settlement, created = claim_submit(
                claim_id=claim_id,
                person=person,
                institution=institution,
                admitted_on=admitted_on,
                discharged_on=discharged_on,
                total_amount=total_amount,
                out_of_scope_amount=out_of_scope_amount,
                referred=referred,
                source=ClaimSource.WINDOW,
                user=user,
                basic_paid_amount=basic_paid_amount,
                critical_paid_amount=critical_paid_amount,
            )
            if attachment is not None and checked is not None and created:
                relative, size = attachment_store(
                    attachment, f"{SLIP_DIR}/{settlement.claim_id}", checked[0], written
                )
                ClaimAttachment.objects.create(
                    claim_id=settlement.claim_id,
                    original_name=attachment_name(attachment)[:255],
                    stored_path=relative,
                    content_type=checked[1],
                    size_bytes=size,
                )
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return settlement


def claim_attachment_get(*, user: Any, pk: int) -> ClaimAttachment:
    """结算单附件 One slip attachment of a claim in the user's scope; ``Http404`` otherwise."""
    _require(user, READ_ROLES)
    item = (
        scope(ClaimAttachment.objects.filter(pk=pk), user, "claim__person__village_id")
        .select_related("claim", "claim__person")
        .first()
    )
    if item is None:
        raise Http404("附件不存在或不在您的管辖范围内")
    return item


# --------------------------------------------------------------------------- reads


def subsidy_amount(settlement: Settlement) -> Decimal:
    """县级补助 What the county pays of a stay settled elsewhere: medical aid + the safety net."""
    return engine.county_subsidy(settlement.aid, settlement.supplementary)


def elsewhere_claims(*, user: Any) -> QuerySet[Claim]:
    """统筹地已结算的住院 Settled stays settled elsewhere in the user's scope, newest first."""
    _require(user, READ_ROLES)
    return scope(
        Claim.objects.filter(basic_paid_amount__isnull=False, status=ClaimStatus.SETTLED),
        user,
        "person__village_id",
    ).order_by("-discharged_on", "-id")


@dataclass(frozen=True)
class Payable:
    """待发放补助 One subsidy not yet in a pending or paid payment."""

    claim: Claim
    settlement: Settlement
    amount: Decimal
    account: BankAccount | None
    failed_before: int  # failed payments of the claim so far


def subsidies_payable(*, user: Any) -> list[Payable]:
    """待发放补助 Subsidies (> 0) of settled stays settled elsewhere in the user's scope that have no
    pending or paid payment (a failed one may be paid again), by discharge date."""
    _require(user, READ_ROLES)
    rows = (
        scope(
            Settlement.objects.filter(
                is_current=True, claim__status=ClaimStatus.SETTLED, claim__basic_paid_amount__isnull=False
            ),
            user,
            "claim__person__village_id",
        )
        .annotate(subsidy=F("aid") + F("supplementary"))
        .filter(subsidy__gt=0)
        .exclude(claim__payments__status__in=LIVE_PAYMENT)
        .select_related("claim", "claim__person", "claim__institution")
        .order_by("claim__discharged_on", "claim__claim_id")
    )
    settlements = list(rows)
    person_ids = [s.claim.person_id for s in settlements]
    accounts = {a.person_id: a for a in BankAccount.objects.filter(person_id__in=person_ids)}
    failed: dict[int, int] = {}
    for claim_id in Payment.objects.filter(
        claim_id__in=[s.claim_id for s in settlements], status=PaymentStatus.FAILED
    ).values_list("claim_id", flat=True):
        failed[claim_id] = failed.get(claim_id, 0) + 1
    return [
        Payable(s.claim, s, subsidy_amount(s), accounts.get(s.claim.person_id), failed.get(s.claim_id, 0))
        for s in settlements
    ]


def batches(*, user: Any) -> QuerySet[PaymentBatch]:
    """发放批次 The batches of the user's region (made by a user bound to it or below), newest first."""
    _require(user, READ_ROLES)
    return (
        scope(PaymentBatch.objects.all(), user, "county_id")
        .select_related("created_by", "approved_by")
        .annotate(total=Sum("payments__amount"), count=Count("payments"))
        .order_by("-created_at", "-id")  # Meta.ordering is not applied to an aggregating query
    )


def batch_get(*, user: Any, pk: int) -> PaymentBatch:
    """发放批次 One batch of the user's region; ``Http404`` otherwise."""
    _require(user, READ_ROLES)
    batch = (
        scope(PaymentBatch.objects.filter(pk=pk), user, "county_id")
        .select_related("created_by", "approved_by")
        .first()
    )
    if batch is None:
        raise Http404("批次不存在或不在您的管辖范围内")
    return batch


def batch_payments(*, batch: PaymentBatch) -> QuerySet[Payment]:
    """批次明细 The payments of a batch with their persons and claims, in order."""
    return batch.payments.select_related("person", "claim", "claim__institution").order_by("id")


# --------------------------------------------------------------------------- batches


def _batch_create(*, user: Any, note: str, now: Any) -> PaymentBatch:
    """A new batch numbered ``BF20200915-003`` (the day's next number after the highest one; two
    makers at the same moment: the second takes the number after)."""
    stem = f"BF{timezone.localdate():%Y%m%d}-"
    last = (
        PaymentBatch.objects.filter(batch_no__startswith=stem)
        .order_by("-batch_no")
        .values_list("batch_no", flat=True)
        .first()
    )
    number = int(last[len(stem) :]) if last and last[len(stem) :].isdigit() else 0
    for step in range(1, 6):
        try:
            with transaction.atomic():
                return PaymentBatch.objects.create(
                    batch_no=f"{stem}{number + step:03d}",
                    county_id=user.region_id,
                    note=note,
                    created_by=user,
                    created_at=now,
                )
        except IntegrityError:
            continue
    raise ValidationError({"claims": ERR_CONCURRENT})


def batch_create(*, user: Any, claims: Sequence[int], note: str = "") -> PaymentBatch:
    """制作发放批次 Group the subsidies of ``claims`` (claim keys: a claim number is unique only within
    its institution) into a new batch awaiting approval. Every claim must be a settled stay settled elsewhere in the user's scope with a
    subsidy above 0, a bank account, and no pending or paid payment; otherwise nothing is written
    and ``ValidationError({"claims": [...]})`` names each refused claim."""
    _require(user)
    note = (note or "").strip()
    if len(note) > 300:
        raise ValidationError({"note": ERR_BATCH_NOTE})
    wanted = list(dict.fromkeys(int(c) for c in claims))
    if not wanted:
        raise ValidationError({"claims": ERR_BATCH_EMPTY})
    with transaction.atomic():
        found = {
            c.pk: c for c in Claim.objects.select_for_update().filter(pk__in=wanted).select_related("person")
        }
        current = {s.claim_id: s for s in Settlement.objects.filter(claim_id__in=wanted, is_current=True)}
        accounts = {
            a.person_id: a
            for a in BankAccount.objects.filter(person_id__in=[c.person_id for c in found.values()])
        }
        live = {
            p.claim_id: p.batch.batch_no
            for p in Payment.objects.filter(claim_id__in=wanted, status__in=LIVE_PAYMENT).select_related(
                "batch"
            )
        }
        errors: list[str] = []
        rows: list[tuple[Claim, Decimal, BankAccount]] = []
        for key in wanted:
            claim = found.get(key)
            if claim is None or not user_sees_code(user, claim.person.village_id):
                errors.append(f"#{key}：{ERR_OUT_OF_SCOPE}")
                continue
            claim_id = claim.claim_id
            if not claim.settled_elsewhere:
                errors.append(ERR_NOT_ELSEWHERE.format(claim_id=claim_id))
                continue
            settlement = current.get(claim.pk)
            if claim.status != ClaimStatus.SETTLED or settlement is None:
                errors.append(ERR_NOT_SETTLED.format(claim_id=claim_id))
                continue
            amount = subsidy_amount(settlement)
            if amount <= 0:
                errors.append(ERR_NO_SUBSIDY.format(claim_id=claim_id))
                continue
            if claim.pk in live:
                errors.append(ERR_ALREADY_LIVE.format(claim_id=claim_id, batch=live[claim.pk]))
                continue
            account = accounts.get(claim.person_id)
            if account is None:
                errors.append(ERR_NO_ACCOUNT.format(name=claim.person.name, claim_id=claim_id))
                continue
            rows.append((claim, amount, account))
        if errors:
            raise ValidationError({"claims": errors})
        now = timezone.now()
        batch = _batch_create(user=user, note=note, now=now)
        try:
            with transaction.atomic():
                Payment.objects.bulk_create(
                    [
                        Payment(
                            batch=batch,
                            claim=claim,
                            person_id=claim.person_id,
                            amount=amount,
                            account_no=account.account_no,
                        )
                        for claim, amount, account in rows
                    ]
                )
        except IntegrityError:  # a concurrent batch took one of them first (payment_one_live_per_claim)
            raise ValidationError({"claims": ERR_CONCURRENT}) from None
        audit_record(
            user=user,
            action=AuditAction.CHANGE,
            object_type="payment_batch",
            object_id=batch.batch_no,
            detail=f"制作发放批次 {len(rows)}笔 {sum((a for _, a, _ in rows), Decimal('0.00')):.2f}元",
            region_code=batch.county_id,
        )
    return batch


def _state(batch: PaymentBatch, allowed: Iterable[str], what: str) -> None:
    if batch.status not in allowed:
        raise ValidationError(
            {
                "status": ERR_BATCH_STATE.format(
                    batch_no=batch.batch_no, status=batch.get_status_display(), what=what
                )
            }
        )


ERR_CLAIM_REVERSED = "结算号“{claim_id}”已冲销，不能发放；请撤销本批次后重新制作"


def _claims_still_settled(batch: PaymentBatch) -> None:
    """A pending payment whose claim was reversed since the batch was made stops the batch."""
    gone = list(
        batch.payments.filter(status=PaymentStatus.PENDING)
        .exclude(claim__status=ClaimStatus.SETTLED)
        .values_list("claim__claim_id", flat=True)
    )
    if gone:
        raise ValidationError({"claims": [ERR_CLAIM_REVERSED.format(claim_id=c) for c in gone]})


def batch_approve(*, user: Any, batch: PaymentBatch) -> PaymentBatch:
    """审批发放批次 A second person approves a pending batch (maker ≠ checker: ``PermissionDenied``
    when the maker tries; the database refuses it too)."""
    _require(user)
    scope_require(user, batch.county_id)
    with transaction.atomic():
        batch = PaymentBatch.objects.select_for_update().get(pk=batch.pk)
        _state(batch, (BatchStatus.PENDING,), "审批")
        if batch.created_by_id == user.pk:
            raise PermissionDenied(ERR_MAKER_CHECKER)
        _claims_still_settled(batch)
        batch.status = BatchStatus.APPROVED
        batch.approved_by = user
        batch.approved_at = timezone.now()
        batch.save(update_fields=["status", "approved_by", "approved_at"])
        audit_record(
            user=user,
            action=AuditAction.CONFIRM,
            object_type="payment_batch",
            object_id=batch.batch_no,
            detail="审批发放批次",
            region_code=batch.county_id,
        )
    return batch


def batch_withdraw(*, user: Any, batch: PaymentBatch) -> None:
    """撤销发放批次 Delete a batch not yet approved (its subsidies become payable again)."""
    _require(user)
    scope_require(user, batch.county_id)
    with transaction.atomic():
        batch = PaymentBatch.objects.select_for_update().get(pk=batch.pk)
        _state(batch, (BatchStatus.PENDING,), "撤销")
        number = batch.batch_no
        batch.payments.all().delete()
        batch.delete()
        audit_record(
            user=user,
            action=AuditAction.CHANGE,
            object_type="payment_batch",
            object_id=number,
            detail="撤销发放批次",
            region_code=user.region_id,
        )


def batch_bank_file(*, user: Any, batch: PaymentBatch, path: str | Path, request: Any = None) -> Path:
    """银行发放文件 The bank's payment file of an approved batch (``.xlsx``: 序号, 姓名, 身份证号 in
    full, 银行账号, 金额); an audited export. Pending payments only (a returned batch has none left
    to pay; a failed payment goes into a later batch)."""
    import xlsxwriter  # noqa: PLC0415 (a heavy library, loaded only when a file is written)

    _require(user)
    scope_require(user, batch.county_id)
    batch = PaymentBatch.objects.get(pk=batch.pk)
    _state(batch, (BatchStatus.APPROVED,), "导出银行文件")
    path = Path(path)
    _claims_still_settled(batch)
    rows = list(batch_payments(batch=batch).filter(status=PaymentStatus.PENDING))
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False})
    try:
        bold = workbook.add_format({"bold": True})
        money = workbook.add_format({"num_format": "0.00"})
        sheet = workbook.add_worksheet("发放明细")
        for col, head in enumerate(BANK_FILE_HEADERS):
            sheet.write_string(0, col, head, bold)
        sheet.set_column(1, 1, 12)
        sheet.set_column(2, 3, 24)
        sheet.set_column(4, 4, 14)
        for line, p in enumerate(rows, start=1):
            sheet.write_number(line, 0, line)
            sheet.write_string(line, 1, safe_cell(p.person.name))
            sheet.write_string(line, 2, p.person.id_number)
            sheet.write_string(line, 3, p.account_no)
            sheet.write_number(line, 4, float(p.amount), money)
        total = sum((p.amount for p in rows), Decimal("0.00"))
        sheet.write_string(len(rows) + 1, 1, "合计", bold)
        sheet.write_number(len(rows) + 1, 4, float(total), money)
    finally:
        workbook.close()
    batch.exported_at = timezone.now()
    batch.save(update_fields=["exported_at"])
    audit_record(
        user=user,
        action=AuditAction.EXPORT,
        object_type="payment_batch",
        object_id=batch.batch_no,
        detail=f"导出银行发放文件 {len(rows)}笔 {total:.2f}元（含完整身份证号、银行账号）",
        region_code=batch.county_id,
        request=request,
    )
    return path


@dataclass(frozen=True)
class ReturnResult:
    """回盘结果 What applying a return file did."""

    paid: int
    failed: int
    unchanged: int
    batch_status: str


def _return_amount(text: str) -> Decimal | None:
    try:
        value = Decimal(text.replace(",", "").strip())
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite():
        return None
    return value


def batch_return_apply(
    *, user: Any, batch: PaymentBatch, path: str | Path, request: Any = None
) -> ReturnResult:
    """导入银行回盘 Mark the batch's payments paid or failed from the bank's return file (``.xlsx`` or
    ``.csv``: 身份证号 or 银行账号, 金额, 结果 成功/失败, 原因).

    All or nothing: any row that names no payment of this batch, a different amount, an unknown
    result, a failure without a reason, or a result contrary to one already recorded refuses the
    file (``ValidationError({"file": [第n行…]})``). Applying the same file again changes nothing.
    When every payment has a result the batch is returned (已回盘).
    """
    _require(user)
    scope_require(user, batch.county_id)
    batch = PaymentBatch.objects.get(pk=batch.pk)
    _state(batch, (BatchStatus.APPROVED, BatchStatus.RETURNED), "导入回盘")
    try:
        table = read_table(path, RETURN_COLUMNS, required=("amount", "result"), max_bytes=20 * 1024 * 1024)
    except TableError as exc:
        raise ValidationError({"file": exc.zh}) from None
    if "id_number" not in table.columns and "account_no" not in table.columns:
        raise ValidationError({"file": ERR_RETURN_COLUMNS})
    if not len(table):
        raise ValidationError({"file": ERR_RETURN_EMPTY})
    head = table.headers
    with transaction.atomic():
        batch = PaymentBatch.objects.select_for_update().get(pk=batch.pk)
        _state(batch, (BatchStatus.APPROVED, BatchStatus.RETURNED), "导入回盘")
        payments = list(batch.payments.select_related("person").order_by("id"))
        errors: list[str] = []
        decided: dict[int, tuple[int, str, str]] = {}  # payment pk → (row, status, reason)
        for row, cells in table.rows():

            def bad(column: str, reason: str, row: int = row) -> None:
                errors.append(
                    ERR_RETURN_ROW.format(row=row, column=f"“{head.get(column, column)}”", reason=reason)
                )

            number = cells.get("id_number", "").strip().upper()
            account = re.sub(r"[\s-]+", "", cells.get("account_no", ""))
            if number:
                try:
                    number = validate_id_number(number)
                except IdNumberError as exc:
                    bad("id_number", exc.zh)
                    continue
            matches = [
                p
                for p in payments
                if (not number or p.person.id_number == number) and (not account or p.account_no == account)
            ]
            if not number and not account:
                bad("id_number" if "id_number" in table.columns else "account_no", ERR_RETURN_NO_MATCH)
                continue
            amount = _return_amount(cells.get("amount", ""))
            if amount is not None and len(matches) > 1:
                matches = [p for p in matches if p.amount == amount] or matches
            if not matches:
                bad("id_number" if number else "account_no", ERR_RETURN_NO_MATCH)
                continue
            if len(matches) > 1:
                bad("account_no" if account else "id_number", ERR_RETURN_AMBIGUOUS)
                continue
            payment = matches[0]
            if amount is None or amount != payment.amount:
                bad("amount", ERR_RETURN_AMOUNT.format(amount=f"{payment.amount:.2f}"))
                continue
            status = RESULT_WORDS.get(cells.get("result", "").strip().lower())
            if status is None:
                bad("result", ERR_RETURN_RESULT)
                continue
            reason = cells.get("reason", "").strip()[:300]
            if status == PaymentStatus.FAILED and not reason:
                bad("reason", ERR_RETURN_REASON)
                continue
            if payment.pk in decided:
                bad(
                    "id_number" if number else "account_no",
                    ERR_RETURN_TWICE.format(row=decided[payment.pk][0]),
                )
                continue
            if payment.status != PaymentStatus.PENDING and payment.status != status:
                bad("result", ERR_RETURN_CONFLICT.format(status=payment.get_status_display()))
                continue
            decided[payment.pk] = (row, status, reason)
        if errors:
            raise ValidationError({"file": errors})
        now = timezone.now()
        paid = failed = unchanged = 0
        for payment in payments:
            got = decided.get(payment.pk)
            if got is None:
                continue
            _, outcome, reason = got
            if payment.status == outcome:
                unchanged += 1
                continue
            payment.status = outcome
            payment.bank_reason = reason
            payment.returned_at = now
            payment.save(update_fields=["status", "bank_reason", "returned_at"])
            if outcome == PaymentStatus.PAID:
                paid += 1
            else:
                failed += 1
        if all(p.status != PaymentStatus.PENDING for p in payments) and batch.status != BatchStatus.RETURNED:
            batch.status = BatchStatus.RETURNED
            batch.returned_at = now
            batch.save(update_fields=["status", "returned_at"])
        audit_record(
            user=user,
            action=AuditAction.IMPORT,
            object_type="payment_batch",
            object_id=batch.batch_no,
            detail=f"导入银行回盘：成功{paid}笔，失败{failed}笔，未变{unchanged}笔",
            region_code=batch.county_id,
            request=request,
        )
    return ReturnResult(paid, failed, unchanged, batch.status)


# --------------------------------------------------------------------------- the ledger (事后补助台账)


@dataclass(frozen=True)
class LedgerRow:
    """台账行 One stay settled elsewhere: what the insurance paid, what the county pays, what is left
    to the person, and what has been paid to the card so far."""

    claim: Claim
    settlement: Settlement
    insurance_paid: Decimal  # basic + critical (the insurance slip)
    subsidy: Decimal  # aid + safety net (the county)
    personal: Decimal
    paid_amount: Decimal  # paid to the card
    status: str  # 未发放 / 待发放 / 已发放 / 发放失败
    batch_nos: str


def ledger_rows(*, user: Any, year: int | None = None) -> list[LedgerRow]:
    """事后补助台账 Every settled stay settled elsewhere in the user's scope (``year``: of discharge),
    by discharge date, with its payments."""
    _require(user, READ_ROLES)
    rows = scope(
        Settlement.objects.filter(
            is_current=True, claim__status=ClaimStatus.SETTLED, claim__basic_paid_amount__isnull=False
        ),
        user,
        "claim__person__village_id",
    ).select_related("claim", "claim__person", "claim__person__village", "claim__institution")
    if year is not None:
        rows = rows.filter(
            claim__discharged_on__gte=date(year, 1, 1), claim__discharged_on__lte=date(year, 12, 31)
        )
    settlements = list(rows.order_by("claim__discharged_on", "claim__claim_id"))
    by_claim: dict[int, list[Payment]] = {}
    ids = [s.claim_id for s in settlements]
    for start in range(0, len(ids), 500):
        for p in (
            Payment.objects.filter(claim_id__in=ids[start : start + 500])
            .select_related("batch")
            .order_by("id")
        ):
            by_claim.setdefault(p.claim_id, []).append(p)
    out: list[LedgerRow] = []
    for s in settlements:
        payments = by_claim.get(s.claim_id, [])
        paid = sum((p.amount for p in payments if p.status == PaymentStatus.PAID), Decimal("0.00"))
        last = payments[-1] if payments else None
        status = "未发放" if last is None else last.get_status_display()
        claim = s.claim
        assert claim.basic_paid_amount is not None and claim.critical_paid_amount is not None
        out.append(
            LedgerRow(
                claim=claim,
                settlement=s,
                insurance_paid=engine.insurance_paid(claim.basic_paid_amount, claim.critical_paid_amount),
                subsidy=subsidy_amount(s),
                personal=s.personal,
                paid_amount=paid,
                status=status,
                batch_nos="、".join(p.batch.batch_no for p in payments),
            )
        )
    return out


LEDGER_HEADERS = ("序号", "姓名", "身份证号", "村", "结算号", "医院", "出院日期", "医疗总费用", "基本医保已付",
                  "大病保险已付", "医疗救助", "兜底保障", "县级补助合计", "个人负担", "已发放", "发放状态", "批次")  # fmt: skip


def ledger_xlsx(
    *, user: Any, path: str | Path, year: int | None = None, request: Any = None
) -> tuple[Path, int]:
    """事后补助台账导出 Two sheets: per person (stays and payments) and per batch; ID numbers masked.
    Audited as an export."""
    import xlsxwriter  # noqa: PLC0415 (a heavy library, loaded only when a file is written)

    rows = ledger_rows(user=user, year=year)
    batch_list = list(batches(user=user))
    path = Path(path)
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False})
    try:
        bold = workbook.add_format({"bold": True})
        money = workbook.add_format({"num_format": "#,##0.00"})
        sheet = workbook.add_worksheet("按人")
        for col, head in enumerate(LEDGER_HEADERS):
            sheet.write_string(0, col, head, bold)
        for line, r in enumerate(rows, start=1):
            c, s = r.claim, r.settlement
            texts = (c.person.name, mask_id(c.person.id_number), c.person.village.name, c.claim_id,
                     c.institution.name, c.discharged_on.isoformat())  # fmt: skip
            sheet.write_number(line, 0, line)
            for col, text in enumerate(texts, start=1):
                sheet.write_string(line, col, safe_cell(text))
            numbers = (c.total_amount, c.basic_paid_amount, c.critical_paid_amount, s.aid, s.supplementary,
                       r.subsidy, r.personal, r.paid_amount)  # fmt: skip
            for col, value in enumerate(numbers, start=7):
                sheet.write_number(line, col, float(value or 0), money)
            sheet.write_string(line, 15, r.status)
            sheet.write_string(line, 16, r.batch_nos)
        total_line = len(rows) + 1
        sheet.write_string(total_line, 1, "合计", bold)
        columns: tuple[list[Decimal], ...] = (
            [r.claim.total_amount for r in rows],
            [r.claim.basic_paid_amount or Decimal("0.00") for r in rows],
            [r.claim.critical_paid_amount or Decimal("0.00") for r in rows],
            [r.settlement.aid for r in rows],
            [r.settlement.supplementary for r in rows],
            [r.subsidy for r in rows],
            [r.personal for r in rows],
            [r.paid_amount for r in rows],
        )
        for col, values in enumerate(columns, start=7):
            sheet.write_number(total_line, col, float(sum(values, Decimal("0.00"))), money)
        per_batch = workbook.add_worksheet("按批次")
        heads = (
            "批次号",
            "状态",
            "笔数",
            "金额",
            "成功笔数",
            "成功金额",
            "失败笔数",
            "制单人",
            "制单时间",
            "审批人",
            "审批时间",
        )
        for col, head in enumerate(heads):
            per_batch.write_string(0, col, head, bold)
        for line, b in enumerate(batch_list, start=1):
            stats = b.payments.values("status").annotate(n=Count("id"), total=Sum("amount"))
            by = {x["status"]: x for x in stats}
            ok = by.get(PaymentStatus.PAID, {"n": 0, "total": Decimal("0.00")})
            bad = by.get(PaymentStatus.FAILED, {"n": 0})
            per_batch.write_string(line, 0, b.batch_no)
            per_batch.write_string(line, 1, b.get_status_display())
            per_batch.write_number(line, 2, getattr(b, "count", 0))
            per_batch.write_number(line, 3, float(getattr(b, "total", None) or 0), money)
            per_batch.write_number(line, 4, ok["n"])
            per_batch.write_number(line, 5, float(ok["total"] or 0), money)
            per_batch.write_number(line, 6, bad["n"])
            per_batch.write_string(line, 7, safe_cell(str(b.created_by)))
            per_batch.write_string(line, 8, timezone.localtime(b.created_at).strftime("%Y-%m-%d %H:%M"))
            per_batch.write_string(line, 9, safe_cell(str(b.approved_by or "")))
            per_batch.write_string(
                line,
                10,
                timezone.localtime(b.approved_at).strftime("%Y-%m-%d %H:%M") if b.approved_at else "",
            )
    finally:
        workbook.close()
    audit_record(
        user=user,
        action=AuditAction.EXPORT,
        object_type="subsidy_ledger",
        object_id=str(year or ""),
        detail=f"导出事后补助台账 {len(rows)}笔",
        region_code=user.region_id,
        request=request,
    )
    return path, len(rows)
