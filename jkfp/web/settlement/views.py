"""一站式结算页面 The settlement pages: window (admission, discharge), list, slip (+ PDF), reversal,
re-settlement report and fund clearing. Views parse, call one selector or service, render.

Roles (domain.md §2): the hospital window (role ``hospital``, bound to an institution) registers
admissions, settles discharges and reverses its own claims; the county administrator and the fund
office read everything in the county (the re-settlement report and clearing are theirs); inspectors
read. Every read goes through ``jkfp.settlement.selectors`` (404 outside the user's scope); slips,
PDFs and exports are audited.
"""

from __future__ import annotations

import os
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jkfp.accounts.http import AuthedRequest
from jkfp.accounts.models import AuditAction, Role
from jkfp.accounts.services import audit_record
from jkfp.core.idnumber import IdNumberError, mask, validate_id_number
from jkfp.core.replica import replica_reads
from jkfp.registry import selectors as registry_selectors
from jkfp.settlement import bulk, clearing, selectors, services, subsidies
from jkfp.settlement.cards import outpatient_disease_names
from jkfp.settlement.compute import CATEGORY_LABELS
from jkfp.settlement.incounty import in_county
from jkfp.settlement.models import AdmissionStatus, Claim, ClaimKind, ClaimSource, ClaimStatus, Settlement
from jkfp.treatment import selectors as treatment_selectors
from jkfp.web.exports import file_response
from jkfp.web.settlement.forms import (
    AdmissionForm,
    DischargeForm,
    MonthForm,
    OutpatientForm,
    ResettleForm,
    ReverseForm,
    SettlementFilterForm,
)
from jkfp.web.settlement.slip import slip_pdf

PAGE_SIZE = 50
REVERSE_ROLES = tuple(services.REVERSE_ROLES)
PDF_TYPE = "application/pdf"

# The layers of a slip, in the order of settlement.md §2, with their Chinese names.
LAYERS = (
    ("basic", "基本医保"),
    ("critical", "大病保险"),
    ("aid", "医疗救助"),
    ("supplementary", "补充医疗保险（兜底保障）"),
)
FUND_COLUMNS = (
    ("counted_total", "计入结算费用"),
    ("hospital_absorbed", "医院承担"),
    ("basic", "基本医保"),
    ("critical", "大病保险"),
    ("aid", "医疗救助"),
    ("supplementary", "补充医疗保险"),
    ("personal", "个人负担"),
)


def _form_errors(exc: ValidationError, form: Any, fields: dict[str, str] | None = None) -> None:
    """A service's ValidationError onto the form (field errors where the form has the field; ``fields``
    renames a service's field to the form's)."""
    if not hasattr(exc, "error_dict"):
        for message in exc.messages:
            form.add_error(None, message)
        return
    for name, errors in exc.message_dict.items():
        field = (fields or {}).get(name, name)
        target = field if field in form.fields else None
        label = (
            "" if target else {"person": "人员", "admission": "入院登记", "kind": "就诊类别"}.get(field, "")
        )
        for error in errors:
            form.add_error(target, f"{label}：{error}" if label else error)


def _institution_choices(user: Any) -> list[tuple[str, str]]:
    if getattr(user, "role", None) == Role.HOSPITAL:
        institution = getattr(user, "institution", None)
        return [(institution.code, institution.name)] if institution is not None else []
    return [(i.code, f"{i.name}（{i.code}）") for i in treatment_selectors.institutions()]


# --- 结算列表 -------------------------------------------------------------------------------------


@require_GET
def settlement_list(request: AuthedRequest) -> HttpResponse:
    """结算列表 Settlements in the user's scope, filtered by discharge dates, institution, category, status."""
    form = SettlementFilterForm(request.GET or None, institutions=_institution_choices(request.user))
    filters: dict[str, Any] = {}
    if form.is_valid():
        data = form.cleaned_data
        filters = {
            "date_from": data["date_from"],
            "date_to": data["date_to"],
            "institution": data["institution"] or None,
            "category": data["category"] or None,
            "status": data["status"] or None,
            "query": data["q"] or None,
        }
    if form.errors:
        rows = Settlement.objects.none()
    else:
        rows = selectors.settlement_list(user=request.user, **filters)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    for row in page:
        row.category_label = CATEGORY_LABELS.get(row.category, row.category)
    return render(request, "web/settlement/settlement_list.html", {"form": form, "page": page})


# --- 窗口：入院登记与出院结算 --------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def window(request: AuthedRequest) -> HttpResponse:
    """结算窗口 Register a deferred-payment admission; the institution's patients in hospital."""
    institution = getattr(request.user, "institution", None)
    if institution is None:
        raise PermissionDenied(services.ERR_NO_INSTITUTION)
    form = AdmissionForm(
        request.POST or None, initial={"admitted_on": timezone.localdate(), "deposit_waived_amount": "0.00"}
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            person = _person_by_id(request, form)
            if person is not None:
                try:
                    admission = services.admission_register(
                        person=person,
                        institution=institution,
                        admitted_on=data["admitted_on"],
                        deferred_payment=data["deferred_payment"],
                        agreement_signed_on=data["agreement_signed_on"],
                        deposit_waived_amount=data["deposit_waived_amount"] or Decimal("0.00"),
                        user=request.user,
                    )
                except ValidationError as exc:
                    _form_errors(exc, form)
                else:
                    messages.success(request, f"已登记{person.name}入院（{admission.admitted_on:%Y-%m-%d}）")
                    return redirect("settlement:window")
    admissions = (
        selectors.admissions_visible(user=request.user)
        .filter(status=AdmissionStatus.ADMITTED)
        .select_related("person")
        .order_by("-admitted_on", "-id")[:200]
    )
    context = {"form": form, "admissions": admissions, "institution": institution}
    return render(request, "web/settlement/window.html", context, status=status)


@require_http_methods(["GET", "POST"])
def outpatient(request: AuthedRequest) -> HttpResponse:
    """门诊慢特病结算 One screen: person, disease, visit date, amounts → settled at once, to the slip.
    The person needs a valid chronic-disease card (慢病卡) for the disease on the visit date."""
    institution = getattr(request.user, "institution", None)
    if institution is None:
        raise PermissionDenied(services.ERR_NO_INSTITUTION)
    today = timezone.localdate()
    initial = {"visited_on": today, "claim_id": f"{institution.code}-MZ{timezone.localtime():%Y%m%d%H%M%S}"}
    form = OutpatientForm(request.POST or None, initial=initial, diseases=outpatient_disease_names())
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            person = _person_by_id(request, form)
            if person is not None:
                try:
                    row, _created = services.claim_submit(
                        claim_id=data["claim_id"],
                        person=person,
                        institution=institution,
                        admitted_on=data["visited_on"],
                        discharged_on=data["visited_on"],
                        total_amount=data["total_amount"],
                        out_of_scope_amount=data["out_of_scope_amount"],
                        kind=ClaimKind.OUTPATIENT,
                        disease=data["disease"],
                        source=ClaimSource.WINDOW,
                        user=request.user,
                    )
                except ValidationError as exc:
                    status = 422  # refused by the rules (e.g. no valid card), named on its field
                    _form_errors(exc, form, {"discharged_on": "visited_on", "admitted_on": "visited_on"})
                else:
                    messages.success(request, f"门诊慢特病结算完成：个人负担 {row.personal:.2f} 元")
                    return redirect("settlement:slip", pk=row.claim.pk)
    context = {"form": form, "institution": institution}
    return render(request, "web/settlement/outpatient.html", context, status=status)


def _person_by_id(request: AuthedRequest, form: AdmissionForm | OutpatientForm) -> Any:
    """The person of the form's full ID number inside the user's region, or None with a form error."""
    try:
        id_number = validate_id_number(form.cleaned_data["id_number"])
    except IdNumberError as exc:
        form.add_error("id_number", f"身份证号不合法：{exc.zh}")
        return None
    person = registry_selectors.person_for_admission(user=request.user, id_number=id_number)
    if person is None:
        form.add_error("id_number", "人员库中没有此人（或不在您的管辖范围内）")
    return person


@require_http_methods(["GET", "POST"])
def discharge(request: AuthedRequest, pk: int) -> HttpResponse:
    """出院结算 Enter the stay's amounts, settle, and go to the slip."""
    admission = selectors.admission_get(user=request.user, pk=pk)
    initial = {
        "claim_id": f"{admission.institution_id}-{admission.admitted_on:%Y%m%d}-{admission.pk}",
        "discharged_on": timezone.localdate(),
    }
    form = DischargeForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if admission.status != AdmissionStatus.ADMITTED:
            form.add_error(None, services.ERR_ADMISSION_STATE)
        elif form.is_valid():
            data = form.cleaned_data
            try:
                row, _created = services.claim_submit(
                    claim_id=data["claim_id"],
                    person=admission.person,
                    institution=admission.institution,
                    admitted_on=admission.admitted_on,
                    discharged_on=data["discharged_on"],
                    total_amount=data["total_amount"],
                    out_of_scope_amount=data["out_of_scope_amount"],
                    referred=data["referred"],
                    admission=admission,
                    source=ClaimSource.WINDOW,
                    user=request.user,
                )
            except ValidationError as exc:
                _form_errors(exc, form)
            else:
                messages.success(request, f"结算完成：个人负担 {row.personal:.2f} 元")
                return redirect("settlement:slip", pk=row.claim.pk)
    context = {
        "form": form,
        "admission": admission,
        "masked_id": mask(admission.person.id_number),
        # 县域内 derived for this patient (a neighbouring county's resident is out of county here)
        "in_county": in_county(admission.institution, admission.person.village_id),
    }
    return render(request, "web/settlement/discharge.html", context, status=status)


# --- 结算单 --------------------------------------------------------------------------------------


def _slip_context(request: AuthedRequest, pk: int) -> dict[str, Any]:
    """Everything the slip shows, read through the selectors (404 outside the user's scope)."""
    claim = selectors.claim_get(user=request.user, pk=pk)
    row = selectors.settlement_last(claim=claim)
    if row is None:
        raise Http404("该结算申请尚未结算")
    ratio = row.ratio
    outpatient = claim.outpatient
    # An outpatient claim (§6) has no critical illness layer; its slip shows the person's share.
    layers = [
        (label, getattr(row, name)) for name, label in LAYERS if not (outpatient and name == "critical")
    ]
    share = None
    if outpatient and row.counted_total > 0:
        share = (row.personal * 100 / row.counted_total).quantize(Decimal("0.01"))
    return {
        "claim": claim,
        "outpatient": outpatient,
        "personal_share_percent": share,
        "person": claim.person,
        "masked_id": mask(claim.person.id_number),
        "settlement": row,
        "category_label": CATEGORY_LABELS.get(row.category, row.category),
        "layers": layers,
        "ratio_percent": None if ratio is None else (ratio * 100).quantize(Decimal("0.01")),
        "trace_lines": selectors.settlement_trace(settlement=row).splitlines(),
        "reversed": claim.status == ClaimStatus.REVERSED,
        "printed_at": timezone.localtime(),
        # §7 事后补助: what the insurance paid, what the county pays, what is left; the slip's scan
        "elsewhere": _elsewhere(claim, row) if claim.settled_elsewhere else None,
    }


def _elsewhere(claim: Claim, row: Settlement) -> dict[str, Any]:
    assert claim.basic_paid_amount is not None and claim.critical_paid_amount is not None
    return {
        "insurance_paid": claim.basic_paid_amount + claim.critical_paid_amount,
        "subsidy": subsidies.subsidy_amount(row),
        "attachments": list(claim.attachments.all()),
        "payments": list(claim.payments.select_related("batch").order_by("id")),
    }


def _audit_slip(request: AuthedRequest, claim: Claim, action: str, what: str) -> None:
    audit_record(
        user=request.user,
        action=action,
        object_type="claim",
        object_id=claim.claim_id,
        detail=f"{what} {claim.person.name} {claim.claim_id}",
        region_code=claim.person.village_id,
        request=request,
    )


@require_GET
def slip(request: AuthedRequest, pk: int) -> HttpResponse:
    """结算单 The printable slip: patient (masked ID), stay, every layer, what the person pays, the trace."""
    context = _slip_context(request, pk)
    _audit_slip(request, context["claim"], AuditAction.VIEW_SLIP, "查看结算单")
    context["history"] = selectors.settlement_history(claim=context["claim"])
    context["can_reverse"] = (
        getattr(request.user, "role", None) in REVERSE_ROLES
        and context["claim"].status == ClaimStatus.SETTLED
    )
    context["reverse_form"] = ReverseForm()
    return render(request, "web/settlement/slip.html", context)


@require_GET
def slip_download(request: AuthedRequest, pk: int) -> HttpResponse:
    """结算单 PDF The slip as a PDF (WeasyPrint, Noto Sans CJK); audited as an export."""
    context = _slip_context(request, pk)
    pdf = slip_pdf(context)
    _audit_slip(request, context["claim"], AuditAction.EXPORT, "下载结算单PDF")
    response = HttpResponse(pdf, content_type=PDF_TYPE)
    response["Content-Disposition"] = f'attachment; filename="slip-{context["claim"].claim_id}.pdf"'
    return response


@require_POST
def reverse_claim(request: AuthedRequest, pk: int) -> HttpResponse:
    """冲销 Reverse a settled claim (with a reason); the person's later claims are re-settled."""
    claim = selectors.claim_get(user=request.user, pk=pk)
    form = ReverseForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"冲销原因：{services.ERR_REVERSAL_REASON}")
    else:
        try:
            services.claim_reverse(claim=claim, user=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            for errors in exc.message_dict.values():
                for error in errors:
                    messages.error(request, error)
        else:
            messages.success(request, f"结算号{claim.claim_id}已冲销，当年累计已恢复")
    return redirect("settlement:slip", pk=claim.pk)


# --- 政策调整测算与基金清算 ----------------------------------------------------------------------


@require_GET
def policy_list(request: AuthedRequest) -> HttpResponse:
    """结算政策（按区划） The policy versions that apply in or inside the user's region (what ``jkfp policy
    list`` shows), read-only: a county sees its own, its city's, its province's and the deployment's."""
    policies = list(selectors.policies_visible(user=request.user))
    return render(request, "web/settlement/policies.html", {"policies": policies})


@require_GET
def resettle_report(request: AuthedRequest) -> HttpResponse:
    """政策调整测算 Re-settle a year with another policy (dry run): fund totals before/after, per
    township, and the persons who pay more, largest first."""
    # One choice per policy name: its highest version (policies() is ordered by name, -version).
    names: dict[str, str] = {}
    for policy in selectors.policies():
        names.setdefault(policy.name, f"{policy.name}（{policy.title}）")
    form = ResettleForm(request.GET or None, policies=list(names.items()))
    report = None
    if form.is_valid():
        try:
            report = bulk.year_resettle(
                year=form.cleaned_data["year"],
                policy_name=form.cleaned_data["policy"],
                dry_run=True,
                user=request.user,
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
    funds: list[tuple[str, Decimal, Decimal, Decimal]] = []
    townships: list[tuple[str, Decimal, Decimal]] = []
    if report is not None:
        before, after = report.totals_before, report.totals_after
        funds = [
            (label, before[name], after[name], after[name] - before[name]) for name, label in FUND_COLUMNS
        ]
        townships = [(t.name, t.before["personal"], t.after["personal"]) for t in report.townships]
    context = {"form": form, "report": report, "funds": funds, "townships": townships}
    return render(request, "web/settlement/resettle_report.html", context)


def _clearing_rows(request: AuthedRequest) -> tuple[MonthForm, list[Any]]:
    form = MonthForm(
        request.GET or None,
        institutions=_institution_choices(request.user),
        initial={"month": timezone.localdate().strftime("%Y-%m")},
    )
    rows: list[Any] = []
    if form.is_valid():
        rows = clearing.clearing_statement(
            month=form.cleaned_data["month"],
            user=request.user,
            institution=form.cleaned_data["institution"] or None,
        )
    return form, rows


@require_GET
def clearing_page(request: AuthedRequest) -> HttpResponse:
    """基金清算 Per institution and month, what each fund owes the hospital (claims discharged that month)."""
    form, rows = _clearing_rows(request)
    context = {
        "form": form,
        "rows": [(r, [getattr(r, name) for name, _ in FUND_COLUMNS]) for r in rows],
        "totals": [sum((getattr(r, name) for r in rows), Decimal("0.00")) for name, _ in FUND_COLUMNS],
        "total_claims": sum(r.claims for r in rows),
        "total_outpatient_claims": sum(r.outpatient_claims for r in rows),
        "total_outpatient_funds": sum((r.outpatient_funds for r in rows), Decimal("0.00")),
        "columns": FUND_COLUMNS,
    }
    return render(request, "web/settlement/clearing.html", context)


@require_GET
@replica_reads
def clearing_export(request: AuthedRequest) -> HttpResponseBase:
    """导出清算表 The clearing statement as .xlsx (formula-safe cells); audited."""
    form, rows = _clearing_rows(request)
    if not form.is_valid():
        messages.error(request, "月份应为 YYYY-MM，如 2020-03")
        return redirect("settlement:clearing")
    directory = Path(settings.VAR_DIR) / "exports"
    directory.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix="clearing-", suffix=".xlsx", dir=directory)
    os.close(handle)
    path = Path(name)
    try:
        clearing.clearing_xlsx(rows, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    month = form.cleaned_data["month"]
    audit_record(
        user=request.user,
        action=AuditAction.EXPORT,
        object_type="clearing_statement",
        object_id=month,
        detail=f"基金清算表 {month} {form.cleaned_data['institution'] or '全部机构'} {len(rows)}家",
        region_code=getattr(request.user, "region_id", "") or "",
        request=request,
    )
    return file_response(path, f"基金清算表-{month}.xlsx")
