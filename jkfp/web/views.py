"""网页 Views: parse, call the selector or service, render.

Every read of people goes through a scoped selector (jkfp.registry.selectors); a person or
household outside the user's region is a 404. Person views, ID reveals and exports are audited.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from jkfp.accounts.http import AuthedRequest, UploadRequest
from jkfp.accounts.models import AuditAction
from jkfp.accounts.selectors import audit_events, user_by_username
from jkfp.accounts.services import audit_record
from jkfp.capacity.services import capacity_import_start
from jkfp.care import uploads as care_uploads
from jkfp.registry import selectors
from jkfp.registry.models import ImportStatus, Person
from jkfp.registry.services import enrolment_run_start, import_run_start, person_verify
from jkfp.web import exports
from jkfp.web.capacity.forms import CapacityImportForm
from jkfp.web.care.forms import CareImportForm
from jkfp.web.forms import (
    AuditFilterForm,
    EnrolmentImportForm,
    ImportForm,
    PersonSearchForm,
    ReconFilterForm,
    VerifyForm,
)
from jkfp.web.permissions import can_verify
from jkfp.web.uploads import SizeLimitUploadHandler

PAGE_SIZE = 50
# A search never counts more than this many persons: counting every 张 of a county costs ~100 ms
# on PostgreSQL at 1M persons, and nobody pages through more than 20 pages of results.
SEARCH_CAP = 1000
CARE_IMPORT_KINDS = ("contracts", "followups")
CAPACITY_IMPORT_KINDS = ("staff", "support", "telemedicine", "training", "coverage")
ENROLMENT_KIND = "enrolment"


class CappedPaginator(Paginator):
    """限量分页 A paginator that counts at most ``cap`` rows (``truncated`` tells when there were more)."""

    def __init__(self, object_list: Any, per_page: int, *, cap: int) -> None:
        super().__init__(object_list, per_page)
        self.cap = cap
        self.truncated = False

    @cached_property
    def count(self) -> int:
        found = int(self.object_list[: self.cap + 1].count())
        self.truncated = found > self.cap
        return min(found, self.cap)


def _page(request: AuthedRequest, items: Any, *, cap: int | None = None) -> Page:
    paginator = Paginator(items, PAGE_SIZE) if cap is None else CappedPaginator(items, PAGE_SIZE, cap=cap)
    return paginator.get_page(request.GET.get("page"))


def _is_htmx(request: AuthedRequest) -> bool:
    return bool(getattr(request, "htmx", False))


# --- 登录 -------------------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    """登录 Django's login with our template; successful and failed logins are audited."""

    template_name = "web/accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        user = form.get_user()
        audit_record(
            user=user,
            action=AuditAction.LOGIN,
            object_type="user",
            object_id=user.username,
            region_code=user.region_id or "",
            request=self.request,
        )
        return response

    def form_invalid(self, form: Any) -> HttpResponse:
        username = str(form.data.get("username") or "").strip()[:150]
        known = user_by_username(username=username) if username else None
        locked = bool(getattr(self.request, "axes_locked_out", False))
        audit_record(
            # An unknown name is recorded as typed, without a user.
            user=known or SimpleNamespace(username=username, is_authenticated=False),
            action=AuditAction.LOGIN_FAILED,
            object_type="user",
            object_id=username,
            detail="尝试次数过多，已锁定" if locked else "用户名或密码错误",
            region_code=(known.region_id or "") if known else "",
            request=self.request,
        )
        return super().form_invalid(form)


def home(request: AuthedRequest) -> HttpResponse:
    """首页 The user's name, role, region and the pages they may use."""
    return render(request, "web/home.html")


# --- 人员与户 -----------------------------------------------------------------------------------


@require_GET
def person_search(request: AuthedRequest) -> HttpResponse:
    """人员查询 Search by name, ID number (full or last digits) and village, 50 per page."""
    form = PersonSearchForm(request.GET or None, villages=selectors.village_choices(user=request.user))
    persons = Person.objects.none()
    searched = False
    if form.is_valid():
        q, village = form.cleaned_data["q"], form.cleaned_data["village"]
        searched = bool(q or village)
        persons = selectors.person_search(user=request.user, q=q, village=village)
    context = {"form": form, "page": _page(request, persons, cap=SEARCH_CAP), "searched": searched}
    if _is_htmx(request):
        return render(request, "web/registry/person_search.html#results", context)
    return render(request, "web/registry/person_search.html", context)


def _audit_person(request: AuthedRequest, person: Person, action: str) -> None:
    """Record a read of one person (a page view or an ID reveal) in the audit log."""
    audit_record(
        user=request.user,
        action=action,
        object_type="person",
        object_id=str(person.pk),
        detail=person.name,
        region_code=person.village_id,
        request=request,
    )


@require_GET
def person_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """人员页 Basic data, tags, conditions, sources, history and verification of one person."""
    person = selectors.person_get(user=request.user, pk=pk)
    _audit_person(request, person, AuditAction.VIEW_PERSON)
    return render(
        request,
        "web/registry/person_detail.html",
        {"person": person, "verify_form": VerifyForm(), "can_verify": can_verify(request.user)},
    )


@require_POST
def person_reveal(request: AuthedRequest, pk: int) -> HttpResponse:
    """显示完整身份证号 Reveal the full ID number (htmx); every reveal is audited."""
    person = selectors.person_get_plain(user=request.user, pk=pk)
    _audit_person(request, person, AuditAction.REVEAL_ID)
    return render(request, "web/registry/person_detail.html#id-number", {"person": person, "revealed": True})


@require_POST
def person_verify_view(request: AuthedRequest, pk: int) -> HttpResponse:
    """核实核准 Confirm or reject a person (county administrator and township only)."""
    person = selectors.person_get_plain(user=request.user, pk=pk)
    form = VerifyForm(request.POST)
    if form.is_valid():
        try:
            person = person_verify(
                person=person,
                user=request.user,
                status=form.cleaned_data["status"],
                note=form.cleaned_data["note"],
                request=request,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form = VerifyForm()
            if not _is_htmx(request):
                messages.success(
                    request, f"已保存{person.name}的核实结果：{person.get_verification_status_display()}"
                )
    if _is_htmx(request):
        return render(
            request,
            "web/registry/_verification.html",
            {
                "person": person,
                "verify_form": form,
                "can_verify": True,
                "saved": not form.errors,
                "next_url": _safe_next(request),
            },
        )
    if form.errors:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect(_safe_next(request) or reverse("web:person_detail", args=[person.pk]))


def _safe_next(request: AuthedRequest) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return ""


@require_GET
def household_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """户页 Members with masked IDs and the membership history of one household."""
    household = selectors.household_get(user=request.user, pk=pk)
    audit_record(
        user=request.user,
        action=AuditAction.VIEW_HOUSEHOLD,
        object_type="household",
        object_id=str(household.pk),
        detail=household.household_no,
        region_code=household.village_id,
        request=request,
    )
    return render(request, "web/registry/household_detail.html", {"household": household})


# --- 名单比对 -----------------------------------------------------------------------------------


def _recon_filters(request: AuthedRequest) -> tuple[ReconFilterForm, dict[str, Any], list[str]]:
    sources = selectors.reconciliation_sources(user=request.user)
    form = ReconFilterForm(request.GET or None, sources=sources)
    filters: dict[str, Any] = {"only_conflicts": False, "missing_source": None, "present_source": None}
    if form.is_valid():
        filters = {
            "only_conflicts": form.cleaned_data["only_conflicts"],
            "missing_source": form.cleaned_data["missing_source"] or None,
            "present_source": form.cleaned_data["present_source"] or None,
        }
    return form, filters, sources


@require_GET
def reconciliation(request: AuthedRequest) -> HttpResponse:
    """名单比对 Persons with the sources present and absent and the fields that disagree."""
    form, filters, sources = _recon_filters(request)
    page = _page(request, selectors.reconciliation_persons(user=request.user, **filters))
    context = {
        "form": form,
        "page": page,
        "rows": selectors.reconciliation_page_rows(list(page.object_list)),
        "sources": sources,
        "can_verify": can_verify(request.user),
        "verify_form": VerifyForm(),
        "export_query": request.GET.urlencode(),
    }
    return render(request, "web/registry/reconciliation.html", context)


@require_GET
def reconciliation_export(request: AuthedRequest) -> HttpResponseBase:
    """导出比对表 The filtered reconciliation as .xlsx (masked IDs); every export is audited."""
    _, filters, sources = _recon_filters(request)
    persons = selectors.reconciliation_persons(user=request.user, **filters)
    path, count = exports.reconciliation_xlsx(persons, sources=sources)
    described = "；".join(f"{k}={v}" for k, v in filters.items() if v) or "全部"
    audit_record(
        user=request.user,
        action=AuditAction.EXPORT,
        object_type="reconciliation",
        detail=f"名单比对表 {count}人 筛选：{described}",
        region_code=request.user.region_id or "",
        request=request,
    )
    filename = f"名单比对-{timezone.localdate():%Y%m%d}.xlsx"
    return exports.file_response(path, filename)


# --- 导入 ---------------------------------------------------------------------------------------


@csrf_exempt
def import_page(request: UploadRequest) -> HttpResponse:
    """导入名单 Upload a roster; the size limit is enforced while the upload streams in."""
    if request.method == "POST":
        handler = SizeLimitUploadHandler(request)
        request.upload_handlers.insert(0, handler)
        request.jkfp_upload_handler = handler
    return _import_page(request)


@csrf_protect
def _import_page(request: UploadRequest) -> HttpResponse:
    status = 200
    form = ImportForm()
    care_form = CareImportForm()
    enrolment_form = EnrolmentImportForm()
    capacity_form = CapacityImportForm()
    upload_error = ""
    if request.method == "POST" and request.POST.get("kind") in CARE_IMPORT_KINDS:
        response, care_form, upload_error, status = _care_import(request)
        if response is not None:
            return response
    elif request.method == "POST" and request.POST.get("kind") in CAPACITY_IMPORT_KINDS:
        response, capacity_form, upload_error, status = _side_import(
            request,
            CapacityImportForm,
            lambda data: capacity_import_start(
                user=request.user, upload=data["file"], kind=data["kind"], request=request
            ),
            keep=("kind",),
        )
        if response is not None:
            return response
    elif request.method == "POST" and request.POST.get("kind") == ENROLMENT_KIND:
        response, enrolment_form, upload_error, status = _enrolment_import(request)
        if response is not None:
            return response
    elif request.method == "POST":
        handler: SizeLimitUploadHandler = request.jkfp_upload_handler
        form = ImportForm(request.POST, request.FILES)
        if handler.too_large:
            form = ImportForm(
                initial={"source": request.POST.get("source", ""), "year": request.POST.get("year", "")}
            )
            upload_error = (
                f"文件超过上限 {settings.UPLOAD_MAX_BYTES // (1024 * 1024) or 1} MB，已拒收。"
                "请把名单拆成几个较小的文件分别导入。"
            )
            status = 413
        elif form.is_valid():
            try:
                run = import_run_start(
                    user=request.user,
                    upload=form.cleaned_data["file"],
                    source=form.cleaned_data["source"],
                    year=form.cleaned_data["year"],
                    request=request,
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                return redirect("web:import_detail", pk=run.pk)
        if form.errors:
            status = status if status != 200 else 400
    context = {
        "form": form,
        "care_form": care_form,
        "enrolment_form": enrolment_form,
        "capacity_form": capacity_form,
        "upload_error": upload_error,
        "runs": selectors.import_runs(user=request.user)[:20],
        "max_mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024),
        "max_bytes": settings.UPLOAD_MAX_BYTES,
        "source_names": selectors.reconciliation_sources(user=request.user),
    }
    return render(request, "web/imports/import.html", context, status=status)


def _care_import(request: UploadRequest) -> tuple[HttpResponse | None, Any, str, int]:
    """签约/随访导入 The contract or follow-up upload of the import page (jkfp.care runs it in the background)."""
    return _side_import(
        request,
        CareImportForm,
        lambda data: care_uploads.care_import_start(
            user=request.user, upload=data["file"], kind=data["kind"], request=request
        ),
        keep=("kind",),
    )


def _enrolment_import(request: UploadRequest) -> tuple[HttpResponse | None, Any, str, int]:
    """参保名单导入 The enrolment upload of the import page (jkfp.registry runs it in the background)."""
    return _side_import(
        request,
        EnrolmentImportForm,
        lambda data: enrolment_run_start(
            user=request.user,
            upload=data["file"],
            year=data["year"],
            request=request,
        ),
        keep=("year",),
    )


def _side_import(
    request: UploadRequest,
    form_class: Any,
    start: Callable[[dict[str, Any]], Any],
    *,
    keep: tuple[str, ...],
) -> tuple[HttpResponse | None, Any, str, int]:
    """One upload form of the import page besides the roster: (redirect or None, form, upload error, status).

    ``start`` receives the cleaned data and returns the queued ImportRun; its ``ValidationError`` is shown
    on the field it names. A file over the limit was never stored (jkfp.web.uploads): 413, ``keep`` kept.
    """
    handler: SizeLimitUploadHandler = request.jkfp_upload_handler
    if handler.too_large:
        limit = settings.UPLOAD_MAX_BYTES // (1024 * 1024) or 1
        message = f"文件超过上限 {limit} MB，已拒收。请把文件拆成几个较小的文件分别导入。"
        return None, form_class(initial={k: request.POST.get(k) for k in keep}), message, 413
    form = form_class(request.POST, request.FILES)
    if form.is_valid():
        try:
            run = start(form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            return redirect("web:import_detail", pk=run.pk), form, "", 302
    return None, form, "", 400


@require_GET
def import_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """导入进度 Progress, summary and error-report link of one import (htmx polls every second)."""
    run = selectors.import_run_get(user=request.user, pk=pk)
    context = {"run": run, "active": run.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)}
    if _is_htmx(request):
        return render(request, "web/imports/import_detail.html#status", context)
    return render(request, "web/imports/import_detail.html", context)


@require_GET
def import_errors(request: AuthedRequest, pk: int) -> HttpResponseBase:
    """下载错误报告 The error report of one import (county administrator of that county only)."""
    run = selectors.import_run_get(user=request.user, pk=pk)
    path = Path(run.errors_file).resolve() if run.errors_file else None
    # Only files the import wrote under IMPORT_DIR are ever sent, whatever the database says.
    if path is None or not path.is_file() or not path.is_relative_to(Path(settings.IMPORT_DIR).resolve()):
        raise Http404("该导入没有错误报告")
    audit_record(
        user=request.user,
        action=AuditAction.EXPORT,
        object_type="import_run",
        object_id=str(run.pk),
        detail=f"导入错误报告 {run.file_name}"[:500],
        region_code=request.user.region_id or "",
        request=request,
    )
    return exports.file_response(path, f"错误报告-{run.source}-{run.pk}.xlsx", delete=False)


# --- 审计日志 -----------------------------------------------------------------------------------


@require_GET
def audit_log(request: AuthedRequest) -> HttpResponse:
    """审计日志 Events of the users of the administrator's region, filterable, 50 per page."""
    form = AuditFilterForm(request.GET or None)
    filters: dict[str, Any] = {}
    if form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v}
    page = _page(request, audit_events(user=request.user, **filters))
    return render(request, "web/accounts/audit_log.html", {"form": form, "page": page})
