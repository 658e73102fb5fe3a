"""事后补助页面 County subsidies for stays settled elsewhere (settlement.md §7): registration from the
insurance slip, the person's bank account (masked, revealed with audit), payment batches (make,
approve by a second person, bank file, return file) and the ledger. Views parse, call one service
or selector of ``jkfp.settlement.subsidies``, render.

Roles (domain.md §2): the county administrator and the fund office register, make and approve;
the inspector reads. Everything is scoped to the user's region through the selectors.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jkfp.accounts.http import AuthedRequest, UploadRequest
from jkfp.accounts.models import AuditAction
from jkfp.accounts.services import audit_record
from jkfp.core.attachments import ATTACHMENT_MAX_BYTES, attachment_path
from jkfp.core.idnumber import IdNumberError, mask, validate_id_number
from jkfp.core.replica import replica_reads
from jkfp.registry import selectors as registry_selectors
from jkfp.settlement import subsidies
from jkfp.settlement.models import BankAccount, BatchStatus
from jkfp.treatment import selectors as treatment_selectors
from jkfp.web.exports import file_response
from jkfp.web.settlement.forms import BankAccountForm, BatchForm, ElsewhereForm, ReturnFileForm
from jkfp.web.uploads import SizeLimitUploadHandler

MAKE_ROLES = tuple(subsidies.SUBSIDY_ROLES)


class SlipUploadHandler(SizeLimitUploadHandler):
    """结算单附件上传限额 Stop the slip's upload once it exceeds the attachment limit."""

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.limit = ATTACHMENT_MAX_BYTES


def _messages(request: AuthedRequest, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        for message in exc.messages:
            messages.error(request, message)
        return
    for errors in exc.message_dict.values():
        for error in errors:
            messages.error(request, error)


def _institutions() -> list[tuple[str, str]]:
    """Hospitals, those outside the county first (where stays settled elsewhere happen)."""
    found = sorted(treatment_selectors.institutions(), key=lambda i: (i.in_county, i.code))
    return [
        (i.code, f"{i.name}（{i.get_level_display()}{'' if i.in_county else '，县域外'}）") for i in found
    ]


# --- 总览：待发放补助与批次 ------------------------------------------------------------------------


@require_GET
def overview(request: AuthedRequest) -> HttpResponse:
    """事后补助 Subsidies awaiting payment (to group into a batch) and the batches."""
    payable = subsidies.subsidies_payable(user=request.user)
    context = {
        "payable": [
            {
                "row": p,
                "masked_id": mask(p.claim.person.id_number),
                "masked_account": subsidies.account_mask(p.account.account_no) if p.account else "",
            }
            for p in payable
        ],
        "batches": subsidies.batches(user=request.user)[:100],
        "can_make": request.user.role in MAKE_ROLES,
    }
    return render(request, "web/settlement/subsidies/overview.html", context)


@require_POST
def batch_create(request: AuthedRequest) -> HttpResponse:
    """制作发放批次 Group the chosen subsidies into a batch awaiting approval."""
    wanted = request.POST.getlist("claims")
    form = BatchForm(request.POST, claim_keys=wanted)
    if not form.is_valid():
        messages.error(request, subsidies.ERR_BATCH_EMPTY)
        return redirect("settlement:subsidies")
    try:
        batch = subsidies.batch_create(
            user=request.user, claims=form.cleaned_data["claims"], note=form.cleaned_data["note"]
        )
    except ValidationError as exc:
        _messages(request, exc)
        return redirect("settlement:subsidies")
    messages.success(request, f"已制作发放批次{batch.batch_no}，请由另一人审批")
    return redirect("settlement:subsidy_batch", pk=batch.pk)


# --- 登记统筹地已结算住院 ----------------------------------------------------------------------------


@csrf_exempt
def register(request: UploadRequest) -> HttpResponse:
    """登记 The registration form; the slip's upload is size-limited while it streams in."""
    if request.method == "POST":
        handler = SlipUploadHandler(request)
        request.upload_handlers = [handler, *request.upload_handlers]
        request.jkfp_upload_handler = handler
    return _register(request)


@require_http_methods(["GET", "POST"])
@csrf_protect
def _register(request: UploadRequest) -> HttpResponse:
    form = ElsewhereForm(request.POST or None, request.FILES or None, institutions=_institutions())
    status = 200
    if request.method == "POST":
        status = 400
        handler: SlipUploadHandler = request.jkfp_upload_handler
        if handler.too_large:
            form.add_error("attachment", f"附件超过 {handler.limit // (1024 * 1024)} MB，已拒收")
        elif form.is_valid():
            data = form.cleaned_data
            person = None
            try:
                id_number = validate_id_number(data["id_number"])
            except IdNumberError as exc:
                form.add_error("id_number", f"身份证号不合法：{exc.zh}")
            else:
                person = registry_selectors.person_for_admission(user=request.user, id_number=id_number)
                if person is None:
                    form.add_error("id_number", "人员库中没有此人（或不在您的管辖范围内）")
            institution = next(
                (i for i in treatment_selectors.institutions() if i.code == data["institution"]), None
            )
            if person is not None and institution is not None:
                try:
                    row = subsidies.elsewhere_register(
                        user=request.user,
                        claim_id=data["claim_id"],
                        person=person,
                        institution=institution,
                        admitted_on=data["admitted_on"],
                        discharged_on=data["discharged_on"],
                        total_amount=data["total_amount"],
                        out_of_scope_amount=data["out_of_scope_amount"],
                        basic_paid_amount=data["basic_paid_amount"],
                        critical_paid_amount=data["critical_paid_amount"],
                        referred={"1": True, "0": False}.get(data["referred"] or ""),
                        attachment=data.get("attachment"),
                    )
                except ValidationError as exc:
                    for field, errors in exc.message_dict.items():
                        for error in errors:
                            form.add_error(field if field in form.fields else None, error)
                else:
                    messages.success(
                        request,
                        f"已登记并核算：县级补助 {subsidies.subsidy_amount(row):.2f} 元，个人负担 {row.personal:.2f} 元",
                    )
                    return redirect("settlement:slip", pk=row.claim.pk)
    return render(request, "web/settlement/subsidies/register.html", {"form": form}, status=status)


@require_GET
def attachment(request: AuthedRequest, pk: int) -> HttpResponseBase:
    """结算单附件 Download the slip's scan of a claim in the user's region; audited."""
    item = subsidies.claim_attachment_get(user=request.user, pk=pk)
    path = attachment_path(item.stored_path, subsidies.SLIP_DIR)
    if path is None:
        raise Http404("附件文件不存在")
    audit_record(
        user=request.user,
        action=AuditAction.VIEW_PERSON,
        object_type="claim_attachment",
        object_id=str(item.pk),
        detail=f"{item.claim.person.name} 结算单附件 {item.claim.claim_id}",
        region_code=item.claim.person.village_id,
        request=request,
    )
    return FileResponse(path.open("rb"), filename=item.original_name, content_type=item.content_type)


# --- 银行账号 ---------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def bank_account(request: AuthedRequest, pk: int) -> HttpResponse:
    """银行账号 The person's subsidy account, masked; set or replace it (county staff, fund office)."""
    person = registry_selectors.person_get_plain(user=request.user, pk=pk)
    account = BankAccount.objects.filter(person=person).first()
    initial = {"kind": account.kind, "bank_name": account.bank_name} if account else {}
    form = BankAccountForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                subsidies.bank_account_set(user=request.user, person=person, **form.cleaned_data)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                messages.success(request, f"已登记{person.name}的银行账号")
                after = request.POST.get("next", "")  # only a page of ours (never another site)
                return redirect(after if after.startswith("/settlement/") else "settlement:subsidies")
    context = {
        "person": person,
        "masked_id": mask(person.id_number),
        "account": account,
        "masked_account": subsidies.account_mask(account.account_no) if account else "",
        "form": form,
        "can_make": request.user.role in MAKE_ROLES,
        "next": request.GET.get("next", ""),
    }
    return render(request, "web/settlement/subsidies/bank_account.html", context, status=status)


@require_POST
def bank_account_reveal(request: AuthedRequest, pk: int) -> HttpResponse:
    """显示完整银行账号 (htmx); every reveal is audited, as an ID reveal is."""
    person = registry_selectors.person_get_plain(user=request.user, pk=pk)
    number = subsidies.bank_account_reveal(user=request.user, person=person, request=request)
    return render(
        request,
        "web/settlement/subsidies/bank_account.html#account-number",
        {"person": person, "revealed": True, "account_no": number},
    )


# --- 批次 -------------------------------------------------------------------------------------------


@require_GET
def batch_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """发放批次 The payments of a batch (masked IDs and accounts), approval, bank file, return file."""
    batch = subsidies.batch_get(user=request.user, pk=pk)
    payments = list(subsidies.batch_payments(batch=batch))
    role_ok = request.user.role in MAKE_ROLES
    context = {
        "batch": batch,
        "rows": [
            {
                "p": p,
                "masked_id": mask(p.person.id_number),
                "masked_account": subsidies.account_mask(p.account_no),
            }
            for p in payments
        ],
        "total": sum((p.amount for p in payments), 0),
        "can_approve": role_ok
        and batch.status == BatchStatus.PENDING
        and batch.created_by_id != request.user.pk,
        "is_maker": batch.created_by_id == request.user.pk,
        "can_withdraw": role_ok and batch.status == BatchStatus.PENDING,
        "can_export": role_ok and batch.status == BatchStatus.APPROVED,
        "can_return": role_ok and batch.status in (BatchStatus.APPROVED, BatchStatus.RETURNED),
        "return_form": ReturnFileForm(),
    }
    return render(request, "web/settlement/subsidies/batch.html", context)


@require_POST
def batch_approve(request: AuthedRequest, pk: int) -> HttpResponse:
    """审批 A second person approves the batch (the maker is refused with a message)."""
    batch = subsidies.batch_get(user=request.user, pk=pk)
    try:
        subsidies.batch_approve(user=request.user, batch=batch)
    except ValidationError as exc:
        _messages(request, exc)
    else:
        messages.success(request, f"批次{batch.batch_no}已审批，可导出银行发放文件")
    return redirect("settlement:subsidy_batch", pk=batch.pk)


@require_POST
def batch_withdraw(request: AuthedRequest, pk: int) -> HttpResponse:
    """撤销 Delete a batch awaiting approval; its subsidies await payment again."""
    batch = subsidies.batch_get(user=request.user, pk=pk)
    try:
        subsidies.batch_withdraw(user=request.user, batch=batch)
    except ValidationError as exc:
        _messages(request, exc)
        return redirect("settlement:subsidy_batch", pk=batch.pk)
    messages.success(request, f"批次{batch.batch_no}已撤销")
    return redirect("settlement:subsidies")


@require_GET
def batch_bank_file(request: AuthedRequest, pk: int) -> HttpResponseBase:
    """银行发放文件 The approved batch's payment file (.xlsx, full ID numbers): an audited export."""
    batch = subsidies.batch_get(user=request.user, pk=pk)
    handle, name = tempfile.mkstemp(suffix=".xlsx", prefix="bank-", dir=settings.VAR_DIR)
    os.close(handle)
    try:
        path = subsidies.batch_bank_file(user=request.user, batch=batch, path=name, request=request)
    except ValidationError as exc:
        Path(name).unlink(missing_ok=True)
        _messages(request, exc)
        return redirect("settlement:subsidy_batch", pk=batch.pk)
    return file_response(path, f"bank-{batch.batch_no}.xlsx")


@csrf_exempt
def batch_return(request: UploadRequest, pk: int) -> HttpResponse:
    """导入回盘 The bank's return file; the upload is size-limited while it streams in."""
    if request.method == "POST":
        handler = SizeLimitUploadHandler(request)
        request.upload_handlers = [handler, *request.upload_handlers]
        request.jkfp_upload_handler = handler
    return _batch_return(request, pk)


@require_POST
@csrf_protect
def _batch_return(request: UploadRequest, pk: int) -> HttpResponse:
    batch = subsidies.batch_get(user=request.user, pk=pk)
    handler: SizeLimitUploadHandler = request.jkfp_upload_handler
    form = ReturnFileForm(request.POST, request.FILES)
    if handler.too_large:
        messages.error(request, f"文件超过 {handler.limit // (1024 * 1024)} MB，已拒收")
        return redirect("settlement:subsidy_batch", pk=batch.pk)
    if not form.is_valid():
        messages.error(request, "请选择银行回盘文件（.xlsx 或 .csv）")
        return redirect("settlement:subsidy_batch", pk=batch.pk)
    upload = form.cleaned_data["file"]
    suffix = Path(upload.name or "").suffix.lower()
    handle, name = tempfile.mkstemp(
        suffix=suffix if suffix in (".xlsx", ".csv") else ".bin", dir=settings.VAR_DIR
    )
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        result = subsidies.batch_return_apply(user=request.user, batch=batch, path=name, request=request)
    except ValidationError as exc:
        _messages(request, exc)
    else:
        messages.success(
            request, f"已导入回盘：成功{result.paid}笔，失败{result.failed}笔，已回盘未变{result.unchanged}笔"
        )
    finally:
        Path(name).unlink(missing_ok=True)
    return redirect("settlement:subsidy_batch", pk=batch.pk)


# --- 台账 -------------------------------------------------------------------------------------------


@require_GET
@replica_reads
def ledger_export(request: AuthedRequest) -> HttpResponseBase:
    """事后补助台账 Per person and per batch (.xlsx, ID numbers masked); audited."""
    handle, name = tempfile.mkstemp(suffix=".xlsx", prefix="subsidy-ledger-", dir=settings.VAR_DIR)
    os.close(handle)
    path, _count = subsidies.ledger_xlsx(user=request.user, path=name, request=request)
    return file_response(path, "事后补助台账.xlsx")
