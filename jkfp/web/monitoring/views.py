"""防返贫监测页面 Views of the monitoring pages: parse, call one selector or service, render.

Roles (domain.md §2): the county administrator, township health centres, village doctors, the
insurance/civil-affairs office and inspectors read; the steps follow the workflow's roles
(``jkfp.monitoring.workflow``); inspectors and the fund office only read. Every read goes through
``jkfp.monitoring.selectors`` (404 outside the user's region); case pages, attachment downloads and
ledger exports are audited.
"""

from __future__ import annotations

import mimetypes
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page, Paginator
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from jkfp.accounts.http import AuthedRequest, UploadRequest
from jkfp.accounts.models import AuditAction
from jkfp.accounts.scoping import region_choices, region_get
from jkfp.accounts.services import audit_record
from jkfp.core.replica import replica_reads
from jkfp.monitoring import selectors, services, workflow
from jkfp.monitoring.models import CaseStatus, MonitoringCase
from jkfp.web import background
from jkfp.web.monitoring.forms import MeasureForm, OverviewForm, QueueFilterForm, StepForm
from jkfp.web.uploads import SizeLimitUploadHandler

PAGE_SIZE = 30
MEASURE_ROLES = tuple(services.MEASURE_ROLES)


class AttachmentUploadHandler(SizeLimitUploadHandler):
    """附件上传限额 Stop a step's upload once it exceeds what its attachments may add up to."""

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        per_file = int(getattr(settings, "MONITORING_ATTACHMENT_MAX_BYTES", services.ATTACHMENT_MAX_BYTES))
        self.limit = per_file * services.ATTACHMENT_MAX_COUNT


def _page(request: AuthedRequest, items: Any) -> Page:
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))


def _messages_from(request: AuthedRequest, exc: ValidationError, labels: dict[str, str]) -> None:
    for name, errors in exc.message_dict.items():
        for error in errors:
            label = labels.get(name)
            messages.error(request, f"{label}：{error}" if label else error)


def _form_errors(request: AuthedRequest, form: Any) -> None:
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}：{error}" if label else error)


def _labels(form: Any) -> dict[str, str]:
    return {name: str(f.label) for name, f in form.fields.items() if name not in ("target",)}


# --- 预警队列 ------------------------------------------------------------------------------------


@require_GET
def queue(request: AuthedRequest) -> HttpResponse:
    """预警队列 The cases of the user's region: overdue first (highlighted), filterable."""
    form = QueueFilterForm(
        request.GET or None,
        years=selectors.years(user=request.user),
        regions=region_choices(user=request.user),
        rules=selectors.rule_choices(user=request.user),
    )
    filters: dict[str, Any] = {}
    if form.is_valid():
        status = form.cleaned_data["status"]
        filters = {
            "year": form.cleaned_data["year"],
            "status": status if status in CaseStatus.values else None,
            "open_only": status == "open",
            "region": form.cleaned_data["region"] or None,
            "rule_code": form.cleaned_data["rule"] or None,
            "overdue": form.cleaned_data["overdue"],
        }
    qs = selectors.cases(user=request.user, **filters) if not form.errors else MonitoringCase.objects.none()
    page = _page(request, qs)
    today = timezone.localdate()
    for case in page.object_list:
        case.is_overdue = selectors.is_overdue(case, today=today)
    context = {
        "form": form,
        "page": page,
        "today": today,
        "ledger_region": filters.get("region") or "",
        "ledger_year": filters.get("year") or today.year,
    }
    return render(request, "web/monitoring/queue.html", context)


# --- 监测页 -------------------------------------------------------------------------------------


def _allowed_steps(user: Any, case: MonitoringCase) -> list[workflow.Transition]:
    role = getattr(user, "role", None)
    return [t for t in workflow.next_steps(case.status) if role in t.roles]


def _step_form(user: Any, case: MonitoringCase, data: Any = None, files: Any = None) -> StepForm | None:
    steps = _allowed_steps(user, case)
    if not steps:
        return None
    needs_assignee = any(t.target == CaseStatus.ASSIGNED for t in steps)
    form = StepForm(
        data,
        files,
        targets=[(t.target, t.action) for t in steps],
        assignees=selectors.assignee_choices(case=case) if needs_assignee else [],
        initial={"done_on": timezone.localdate()},
    )
    if not needs_assignee:
        del form.fields["assignee"], form.fields["assignee_name"]
    if not any(t.target in (CaseStatus.IDENTIFIED, CaseStatus.ALREADY_MONITORED) for t in steps):
        del form.fields["external_reference"]
    return form


def _measure_form(user: Any, case: MonitoringCase, data: Any = None) -> MeasureForm | None:
    if getattr(user, "role", None) not in MEASURE_ROLES or case.status not in services.MEASURE_STATES:
        return None
    options = selectors.measure_options(case=case)
    return MeasureForm(
        data,
        treatment_cases=options.treatment_cases,
        contracts=options.contracts,
        admissions=options.admissions,
        initial={"taken_on": timezone.localdate()},
    )


@require_GET
def case_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """监测页 One case: person, alerts, deadline, timeline of steps with attachments, measures, the next step's form."""
    case = selectors.case_get(user=request.user, pk=pk)
    audit_record(
        user=request.user,
        action=AuditAction.VIEW_PERSON,
        object_type="monitoring_case",
        object_id=str(case.pk),
        detail=f"{case.person.name} 防返贫监测 {case.year}",
        region_code=case.person.village_id,
        request=request,
    )
    today = timezone.localdate()
    context = {
        "case": case,
        "is_overdue": selectors.is_overdue(case, today=today),
        "is_closed": case.status in workflow.CLOSED,
        "step_form": _step_form(request.user, case),
        "measure_form": _measure_form(request.user, case),
        "deadlines": selectors.deadlines(county_code=case.person.village_id, year=case.year),
    }
    return render(request, "web/monitoring/case_detail.html", context)


@csrf_exempt
def case_step(request: UploadRequest, pk: int) -> HttpResponse:
    """办理步骤 Record the next step; the upload's size limit is enforced while it streams in."""
    if request.method == "POST":
        handler = AttachmentUploadHandler(request)
        request.upload_handlers.insert(0, handler)
        request.jkfp_upload_handler = handler
    return _case_step(request, pk)


@require_POST
@csrf_protect
def _case_step(request: UploadRequest, pk: int) -> HttpResponse:
    case = selectors.case_get_plain(user=request.user, pk=pk)
    handler: AttachmentUploadHandler = request.jkfp_upload_handler
    if handler.too_large:
        limit = handler.limit // (1024 * 1024) or 1
        messages.error(request, f"附件合计超过 {limit} MB，已拒收")
        return redirect("monitoring:case_detail", pk=case.pk)
    form = _step_form(request.user, case, request.POST, request.FILES)
    if form is None:
        raise PermissionDenied("您的角色不能办理此监测的下一步骤")
    if not form.is_valid():
        _form_errors(request, form)
        return redirect("monitoring:case_detail", pk=case.pk)
    data = form.cleaned_data
    assignee = selectors.assignee_get(case=case, pk=data["assignee"]) if data.get("assignee") else None
    try:
        step = services.case_advance(
            user=request.user,
            case=case,
            target=data["target"],
            done_on=data["done_on"],
            note=data.get("note", ""),
            assignee=assignee,
            assignee_name=data.get("assignee_name", ""),
            external_reference=data.get("external_reference", ""),
            attachments=data.get("attachments") or [],
        )
    except ValidationError as exc:
        _messages_from(request, exc, _labels(form))
    else:
        messages.success(request, f"已办理：{workflow.label(step.to_status)}")
    return redirect("monitoring:case_detail", pk=case.pk)


@require_POST
def measure_add(request: AuthedRequest, pk: int) -> HttpResponse:
    """登记帮扶措施 Record a health measure of an identified case."""
    case = selectors.case_get_plain(user=request.user, pk=pk)
    form = _measure_form(request.user, case, request.POST)
    if form is None:
        messages.error(request, services.ERR_MEASURE_STATE.format(current=workflow.label(case.status)))
        return redirect("monitoring:case_detail", pk=case.pk)
    if not form.is_valid():
        _form_errors(request, form)
        return redirect("monitoring:case_detail", pk=case.pk)
    data = form.cleaned_data
    links = selectors.measure_records(
        case=case,
        treatment_case_id=data["treatment_case"],
        contract_id=data["contract"],
        admission_id=data["admission"],
    )
    try:
        services.health_measure_add(
            user=request.user,
            case=case,
            kind=data["kind"],
            taken_on=data["taken_on"],
            amount=data["amount"],
            reference=data["reference"],
            note=data["note"],
            **links,
        )
    except ValidationError as exc:
        _messages_from(request, exc, _labels(form))
    else:
        messages.success(request, "帮扶措施已登记")
    return redirect("monitoring:case_detail", pk=case.pk)


@require_GET
def attachment(request: AuthedRequest, pk: int) -> HttpResponseBase:
    """附件 Download an attachment of a case in the user's region; audited."""
    item = selectors.attachment_get(user=request.user, pk=pk)
    path = Path(settings.VAR_DIR) / item.stored_path
    base = (Path(settings.VAR_DIR) / services.ATTACHMENT_DIR).resolve()
    if not path.resolve().is_relative_to(base) or not path.is_file():
        raise Http404(selectors.NOT_FOUND_ATTACHMENT)
    person = item.step.case.person
    audit_record(
        user=request.user,
        action=AuditAction.VIEW_PERSON,
        object_type="monitoring_attachment",
        object_id=str(item.pk),
        detail=f"{person.name} 附件 {item.original_name}"[:500],
        region_code=person.village_id,
        request=request,
    )
    content_type = (
        item.content_type or mimetypes.guess_type(item.original_name)[0] or "application/octet-stream"
    )
    return FileResponse(
        path.open("rb"),
        as_attachment=not content_type.startswith("image/"),
        filename=item.original_name,
        content_type=content_type,
    )


# --- 县级概览与台账 ------------------------------------------------------------------------------


@require_GET
@replica_reads
def overview(request: AuthedRequest) -> HttpResponse:
    """县级概览 Cases of the year per township: counts by state, open and overdue; the handling rate."""
    years = selectors.years(user=request.user)
    form = OverviewForm(request.GET or None, years=years)
    year = (form.cleaned_data.get("year") if form.is_valid() else None) or years[0]
    rows = selectors.overview(user=request.user, year=year)
    handling = selectors.alert_handling(user=request.user, year=year)
    totals = {status: sum(r.by_status[status] for r in rows) for status in workflow.ORDER}
    context = {
        "form": form,
        "year": year,
        "rows": rows,
        "statuses": [(s, workflow.label(s)) for s in workflow.ORDER],
        "totals": totals,
        "total": sum(r.total for r in rows),
        "open": sum(r.open for r in rows),
        "overdue": sum(r.overdue for r in rows),
        "handling": handling,
        "handling_text": "—"
        if handling.rate is None
        else f"{(handling.rate * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%",
    }
    return render(request, "web/monitoring/overview.html", context)


@require_POST
def ledger_export(request: AuthedRequest) -> HttpResponseBase:
    """导出防返贫监测预警台账 The ledger of the user's region (or ``?region=`` inside it) and ``?year=``,
    written in the background (``jkfp.web.background``); audited when queued and downloaded."""
    region = region_get(user=request.user, code=request.GET.get("region"))
    year_text = (request.GET.get("year") or "").strip()
    year = (
        int(year_text)
        if year_text.isdigit() and 2000 <= int(year_text) <= 2100
        else timezone.localdate().year
    )
    return background.export_queue(
        request,
        kind=background.KIND_MONITORING_LEDGER,
        title=f"防返贫监测预警台账 {region.name} {year}年",
        params={"year": year, "region": region.code},
        file_name=f"防返贫监测预警台账-{region.name}-{year}-{timezone.localdate():%Y%m%d}.xlsx",
    )
