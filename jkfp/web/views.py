"""网页 Views: parse, call the selector or service, render.

Every read of people goes through a scoped selector (jkfp.registry.selectors); a person or
household outside the user's region is a 404. Person views, ID reveals and exports are audited.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
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
from jkfp.accounts.selectors import audit_denial_alerts, audit_events
from jkfp.accounts.services import audit_record
from jkfp.capacity.services import capacity_import_start
from jkfp.care import uploads as care_uploads
from jkfp.ops.exports import export_file, export_run_of, export_runs_of
from jkfp.registry import selectors
from jkfp.registry.models import ImportStatus, Person
from jkfp.registry.services import enrolment_run_start, import_run_start, person_verify
from jkfp.settlement.uploads import bank_accounts_import_start, cards_import_start
from jkfp.web import background, exports
from jkfp.web.capacity.forms import CapacityImportForm
from jkfp.web.care.forms import CareImportForm
from jkfp.web.forms import (
    AuditFilterForm,
    BankAccountImportForm,
    CardImportForm,
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
CARDS_KIND = "cards"
BANK_KIND = "bank_accounts"


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
    """登录 Django's login with our template; successful logins are audited here, failed ones wherever
    they happen by ``jkfp.accounts.signals`` (this page and ``/admin/`` alike)."""

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


@require_POST
def reconciliation_export(request: AuthedRequest) -> HttpResponseBase:
    """导出比对表 Queue the filtered reconciliation as a background .xlsx (masked IDs; see ``export_list``)."""
    _, filters, _ = _recon_filters(request)
    described = "；".join(f"{k}={v}" for k, v in filters.items() if v) or "全部"
    return background.export_queue(
        request,
        kind=background.KIND_RECONCILIATION,
        title=f"名单比对表（筛选：{described}）",
        params=filters,
        file_name=f"名单比对-{timezone.localdate():%Y%m%d}.xlsx",
    )


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
    cards_form = CardImportForm()
    bank_form = BankAccountImportForm()
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
                user=request.user,
                upload=data["file"],
                kind=data["kind"],
                request=request,
                preview=data.get("preview", False),
            ),
            keep=("kind",),
        )
        if response is not None:
            return response
    elif request.method == "POST" and request.POST.get("kind") == CARDS_KIND:
        response, cards_form, upload_error, status = _side_import(
            request,
            CardImportForm,
            lambda data: cards_import_start(
                user=request.user, upload=data["file"], request=request, preview=data.get("preview", False)
            ),
            keep=(),
        )
        if response is not None:
            return response
    elif request.method == "POST" and request.POST.get("kind") == BANK_KIND:
        response, bank_form, upload_error, status = _side_import(
            request,
            BankAccountImportForm,
            lambda data: bank_accounts_import_start(user=request.user, upload=data["file"], request=request),
            keep=(),
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
                    preview=form.cleaned_data.get("preview", False),
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                if run.status == ImportStatus.MAPPING:  # the worker already found it needs the mapping step
                    return redirect("web:import_mapping", pk=run.pk)
                return redirect("web:import_detail", pk=run.pk)
        if form.errors:
            status = status if status != 200 else 400
    context = {
        "form": form,
        "care_form": care_form,
        "enrolment_form": enrolment_form,
        "capacity_form": capacity_form,
        "cards_form": cards_form,
        "bank_form": bank_form,
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
            user=request.user,
            upload=data["file"],
            kind=data["kind"],
            request=request,
            preview=data.get("preview", False),
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
            preview=data.get("preview", False),
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
    alerts = audit_denial_alerts(user=request.user)
    return render(request, "web/accounts/audit_log.html", {"form": form, "page": page, "alerts": alerts})


# --- 后台导出 -----------------------------------------------------------------------------------


@require_GET
def export_list(request: AuthedRequest) -> HttpResponse:
    """我的导出 The user's background exports with progress and download links (htmx polls while one runs)."""
    runs = list(export_runs_of(user=request.user)[:20])
    context = {
        "runs": runs,
        "active": any(r.active for r in runs),
        "limit": settings.EXPORT_MAX_PER_USER,
        "keep_hours": settings.EXPORT_KEEP_HOURS,
    }
    if _is_htmx(request):
        return render(request, "web/exports/export_list.html#runs", context)
    return render(request, "web/exports/export_list.html", context)


@require_GET
def export_download(request: AuthedRequest, pk: int) -> HttpResponseBase:
    """下载导出 The file of one finished background export — its owner's only; audited as an export."""
    run = export_run_of(user=request.user, pk=pk)
    if run is None:
        raise Http404("没有这个导出")
    path = export_file(run)
    if path is None:
        raise Http404(run.message or "该导出还没有完成或文件已删除")
    audit_record(
        user=request.user,
        action=AuditAction.EXPORT,
        object_type="export_run",
        object_id=str(run.pk),
        detail=f"下载后台导出：{run.title} {run.summary}"[:500],
        region_code=request.user.region_id or "",
        request=request,
    )
    return exports.file_response(path, run.file_name, delete=False)
