"""大病救治页面 Views of the treatment pages: parse, call one selector or service, render.

Roles (domain.md §2): county administrator and township edit cases and referrals; village doctors
read and add follow-up visits in their own villages; inspectors read only (403 on every POST).
Every read goes through ``jkfp.treatment.selectors`` (404 outside the user's region); case pages
and ledger exports are audited.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jkfp.accounts.http import AuthedRequest
from jkfp.accounts.models import AuditAction
from jkfp.accounts.scoping import region_choices, region_get
from jkfp.accounts.services import audit_record
from jkfp.core.idnumber import IdNumberError, validate_id_number
from jkfp.registry import selectors as registry_selectors
from jkfp.settlement.selectors import case_payment_totals
from jkfp.treatment import history, selectors, services
from jkfp.treatment.models import MajorDiseaseCase, ReferralStatus
from jkfp.web import background
from jkfp.web.treatment.forms import (
    CaseFilterForm,
    CaseForm,
    CaseStatusForm,
    FollowUpForm,
    ReferralDecisionForm,
    ReferralFilterForm,
    ReferralForm,
)

PAGE_SIZE = 50
EDIT_ROLES = tuple(services.EDIT_ROLES)
FOLLOWUP_ROLES = tuple(services.FOLLOWUP_ROLES)


def _page(request: AuthedRequest, items: Any) -> Page:
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))


def _errors_to_messages(request: AuthedRequest, exc: ValidationError, labels: dict[str, str]) -> None:
    for field, errors in exc.message_dict.items():
        for error in errors:
            label = labels.get(field)
            messages.error(request, f"{label}：{error}" if label else error)


def _form_errors_to_messages(request: AuthedRequest, form: Any) -> None:
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}：{error}" if label else error)


def _can(user: Any, roles: tuple[str, ...]) -> bool:
    return getattr(user, "role", None) in roles


# --- 大病救治 ------------------------------------------------------------------------------------


@require_GET
def case_list(request: AuthedRequest) -> HttpResponse:
    """大病救治列表 Cases of the user's region filtered by status, disease and township/village."""
    diseases = [(d.pk, d.name) for d in selectors.major_diseases()]
    form = CaseFilterForm(request.GET or None, diseases=diseases, regions=region_choices(user=request.user))
    filters: dict[str, Any] = {}
    if form.is_valid():
        filters = {
            "status": form.cleaned_data["status"] or None,
            "disease_id": form.cleaned_data["disease"],
            "region": form.cleaned_data["region"] or None,
        }
    qs = selectors.cases(user=request.user, **filters) if not form.errors else MajorDiseaseCase.objects.none()
    context = {
        "form": form,
        "page": _page(request, qs),
        "ledger_region": filters.get("region") or "",
    }
    return render(request, "web/treatment/case_list.html", context)


@require_GET
def case_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """大病救治页 One case: status (and its form), follow-up visits, referrals. Every view is audited."""
    case = selectors.case_get(user=request.user, pk=pk)
    audit_record(
        user=request.user,
        action=AuditAction.VIEW_PERSON,
        object_type="major_disease_case",
        object_id=str(case.pk),
        detail=f"{case.person.name} {case.disease.name}",
        region_code=case.person.village_id,
        request=request,
    )
    context = {
        "case": case,
        "status_form": CaseStatusForm(
            initial={
                "status": case.status,
                "untreated_reason": case.untreated_reason,
                "reason_note": case.reason_note,
            }
        ),
        "followup_form": FollowUpForm(initial={"visited_on": timezone.localdate()}),
        "changes": history.changes_of(case.changes.all()),
        "payments": case_payment_totals(case_ids=[case.pk]).get(case.pk),
        "can_edit": _can(request.user, EDIT_ROLES),
        "can_follow_up": _can(request.user, FOLLOWUP_ROLES),
    }
    return render(request, "web/treatment/case_detail.html", context)


@require_http_methods(["GET", "POST"])
def case_create(request: AuthedRequest) -> HttpResponse:
    """登记大病救治 Register one case for a person of the user's region found by full ID number; the
    diseases offered are the user's county's catalogue today (the service checks the diagnosis day)."""
    diseases = [(d.pk, d.name) for d in selectors.major_diseases(user=request.user)]
    institutions = [(i.code, f"{i.name}（{i.code}）") for i in selectors.institutions()]
    form = CaseForm(request.POST or None, diseases=diseases, institutions=institutions)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            person = _person_by_id(request, form)
            if person is not None:
                codes = [c for c in (data["diagnosis_institution"], data["designated_institution"]) if c]
                by_code = {i.code: i for i in selectors.institutions().filter(code__in=codes)}
                try:
                    case = services.treatment_case_create(
                        user=request.user,
                        person=person,
                        disease=selectors.major_diseases(user=request.user).get(pk=data["disease"]),
                        diagnosed_on=data["diagnosed_on"],
                        status=data["status"],
                        diagnosis_institution=by_code.get(data["diagnosis_institution"]),
                        diagnosis_hospital_name=data["diagnosis_hospital_name"],
                        designated_institution=by_code.get(data["designated_institution"]),
                        untreated_reason=data["untreated_reason"],
                        reason_note=data["reason_note"],
                    )
                except ValidationError as exc:
                    for field, errors in exc.message_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    messages.success(request, f"已登记{person.name}的大病救治（{case.disease.name}）")
                    return redirect("treatment:case_detail", pk=case.pk)
        status = 400
    return render(request, "web/treatment/case_form.html", {"form": form}, status=status)


@require_POST
def case_status(request: AuthedRequest, pk: int) -> HttpResponse:
    """设置救治状态 Change the status; 未救治 without a reason is refused with the field named."""
    case = selectors.case_get_plain(user=request.user, pk=pk)
    form = CaseStatusForm(request.POST)
    if not form.is_valid():
        _form_errors_to_messages(request, form)
    else:
        try:
            services.case_status_set(user=request.user, case=case, **form.cleaned_data)
        except ValidationError as exc:
            _errors_to_messages(request, exc, {name: str(f.label) for name, f in form.fields.items()})
        else:
            messages.success(request, f"救治状态已改为“{case.get_status_display()}”")
    return redirect("treatment:case_detail", pk=case.pk)


@require_POST
def case_followup(request: AuthedRequest, pk: int) -> HttpResponse:
    """登记回访 Add a follow-up visit (village doctors too, in their own villages)."""
    case = selectors.case_get_plain(user=request.user, pk=pk)
    form = FollowUpForm(request.POST)
    if not form.is_valid():
        _form_errors_to_messages(request, form)
    else:
        try:
            services.case_followup_add(user=request.user, case=case, **form.cleaned_data)
        except ValidationError as exc:
            _errors_to_messages(request, exc, {name: str(f.label) for name, f in form.fields.items()})
        else:
            messages.success(request, "回访已登记")
    return redirect("treatment:case_detail", pk=case.pk)


# --- 台账 ----------------------------------------------------------------------------------------


@require_POST
def ledger_export(request: AuthedRequest) -> HttpResponseBase:
    """导出大病专项救治台账 The ledger of the user's region, or of ``?region=`` inside it, written in the
    background (``jkfp.web.background``); audited when queued and downloaded."""
    region = region_get(user=request.user, code=request.GET.get("region"))
    return background.export_queue(
        request,
        kind=background.KIND_TREATMENT_LEDGER,
        title=f"大病专项救治台账 {region.name}",
        params={"region": region.code},
        file_name=f"大病专项救治台账-{region.name}-{timezone.localdate():%Y%m%d}.xlsx",
    )


# --- 转诊备案 ------------------------------------------------------------------------------------


@require_GET
def referral_list(request: AuthedRequest) -> HttpResponse:
    """转诊列表 Referrals of the user's region, filterable by approval state and township/village."""
    form = ReferralFilterForm(request.GET or None, regions=region_choices(user=request.user))
    filters: dict[str, Any] = {}
    if form.is_valid():
        filters = {
            "status": form.cleaned_data["status"] or None,
            "region": form.cleaned_data["region"] or None,
        }
    qs = (
        selectors.referrals(user=request.user, **filters)
        if not form.errors
        else selectors.referrals(user=request.user).none()
    )
    context = {
        "form": form,
        "page": _page(request, qs),
        "can_edit": _can(request.user, EDIT_ROLES),
        "decision_form": ReferralDecisionForm(),
        "pending": ReferralStatus.PENDING,
    }
    return render(request, "web/treatment/referral_list.html", context)


@require_http_methods(["GET", "POST"])
def referral_create(request: AuthedRequest) -> HttpResponse:
    """转诊备案 Record a referral: from a case page (``?case=``) or for a person found by full ID number."""
    case = None
    case_pk = request.GET.get("case") or request.POST.get("case")
    if case_pk:
        if not str(case_pk).isdigit():
            return redirect("treatment:referral_create")
        case = selectors.case_get_plain(user=request.user, pk=int(case_pk))
    institutions = [(i.code, f"{i.name}（{i.code}）") for i in selectors.institutions()]
    form = ReferralForm(request.POST or None, institutions=institutions, person_fixed=case is not None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            person = case.person if case is not None else _person_by_id(request, form)
            if person is not None:
                by_code = {
                    i.code: i
                    for i in selectors.institutions().filter(
                        code__in=[data["from_institution"], data["to_institution"]]
                    )
                }
                try:
                    referral = services.referral_create(
                        user=request.user,
                        person=person,
                        case=case,
                        from_institution=by_code[data["from_institution"]],
                        to_institution=by_code[data["to_institution"]],
                        referred_on=data["referred_on"],
                        reason=data["reason"],
                    )
                except ValidationError as exc:
                    for field, errors in exc.message_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    messages.success(request, f"已登记{person.name}的转诊备案，待审批")
                    if case is not None:
                        return redirect("treatment:case_detail", pk=case.pk)
                    return redirect(f"{reverse('treatment:referral_list')}#referral-{referral.pk}")
        status = 400
    return render(request, "web/treatment/referral_form.html", {"form": form, "case": case}, status=status)


def _person_by_id(request: AuthedRequest, form: ReferralForm | CaseForm) -> Any:
    """The person of the form's full ID number inside the user's region, or None with a form error."""
    try:
        id_number = validate_id_number(form.cleaned_data["id_number"])
    except IdNumberError as exc:
        form.add_error("id_number", f"身份证号不合法：{exc.zh}")
        return None
    person = registry_selectors.person_search(user=request.user, q=id_number).first()
    if person is None:
        form.add_error("id_number", "在您的管辖范围内没有找到此人")
    return person


@require_POST
def referral_decide(request: AuthedRequest, pk: int) -> HttpResponse:
    """审批转诊 Approve or reject a pending referral."""
    referral = selectors.referral_get(user=request.user, pk=pk)
    form = ReferralDecisionForm(request.POST)
    if not form.is_valid():
        _form_errors_to_messages(request, form)
    else:
        try:
            services.referral_approve(
                user=request.user,
                referral=referral,
                approve=form.cleaned_data["decision"] == ReferralStatus.APPROVED,
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            _errors_to_messages(request, exc, {"decision_note": "审批意见"})
        else:
            messages.success(request, f"转诊{referral.get_status_display()}")
    target = request.POST.get("next") or ""
    if target.startswith("/treatment/") and "//" not in target:
        return redirect(target)
    return redirect("treatment:referral_list")
