"""签约服务页面 Care pages: the village doctor's work list, recording a visit, contracts, registers, cards.

Views parse, call one selector or service, render. Roles (domain.md §2): village doctors, township
health centres and the county administrator record services; township and county renew contracts;
inspectors read. Person pages and every export are audited.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jkfp.accounts.models import AuditAction, Role
from jkfp.accounts.services import audit_record
from jkfp.care import exports, selectors, services
from jkfp.web.care.forms import RegisterForm, RenewForm, VisitForm, WorklistForm
from jkfp.web.exports import file_response
from jkfp.web.permissions import role_required

PAGE_SIZE = 50
READ_ROLES = (Role.COUNTY_ADMIN, Role.TOWNSHIP, Role.VILLAGE_DOCTOR, Role.INSPECTOR)
SERVICE_ROLES = tuple(services.SERVICE_ROLES)
MANAGE_ROLES = tuple(services.MANAGE_ROLES)
ESCALATION_ROLES = (Role.COUNTY_ADMIN, Role.TOWNSHIP, Role.INSPECTOR)
PDF_TYPE = "application/pdf"


def _today() -> date:
    return timezone.localdate()


@role_required(*READ_ROLES)
@require_GET
def worklist(request: HttpRequest) -> HttpResponse:
    """随访工作清单 Overdue, due this week, not seen this year: one section at a time, 50 items a page."""
    today = _today()
    form = WorklistForm(request.GET or None, regions=selectors.region_choices(user=request.user))
    section, region = "overdue", None
    if form.is_valid():
        section = form.cleaned_data["section"] or "overdue"
        region = form.cleaned_data["region"] or None
    counts = selectors.worklist_counts(user=request.user, today=today, region=region)
    if not request.GET.get("section") and counts["overdue"] == 0 and counts["week"]:
        section = "week"
    page = Paginator(
        selectors.worklist(user=request.user, section=section, today=today, region=region), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    for item in page.object_list:
        item.overdue_days = (today - item.due_on).days
    context = {
        "form": form,
        "section": section,
        "sections": [(s, selectors.SECTION_LABELS[s], counts[s]) for s in selectors.SECTIONS],
        "page": page,
        "today": today,
        "region": region or "",
        "can_escalate": request.user.role in ESCALATION_ROLES,  # type: ignore[union-attr]
        "is_doctor": request.user.role == Role.VILLAGE_DOCTOR,  # type: ignore[union-attr]
    }
    return render(request, "web/care/worklist.html", context)


@role_required(*ESCALATION_ROLES)
@require_GET
def escalated(request: HttpRequest) -> HttpResponse:
    """逾期上报 Items overdue past the escalation date, for the township (oldest first)."""
    today = _today()
    form = WorklistForm(request.GET or None, regions=selectors.region_choices(user=request.user))
    region = form.cleaned_data["region"] or None if form.is_valid() else None
    page = Paginator(selectors.escalated(user=request.user, today=today, region=region), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    for item in page.object_list:
        item.overdue_days = (today - item.due_on).days
    return render(request, "web/care/escalated.html", {"form": form, "page": page, "today": today})


def _visit_form(request: HttpRequest, person: Any, data: Any = None) -> tuple[VisitForm, list[Any]]:
    conditions = selectors.visit_conditions(person=person, today=_today())
    form = VisitForm(
        data,
        conditions=[(c.disease_id, c.name) for c in conditions],
        initial={"visited_on": _today(), "diseases": [c.disease_id for c in conditions if c.ticked]},
    )
    return form, conditions


def _person_page(
    request: HttpRequest, pk: int, form: VisitForm | None = None, status: int = 200
) -> HttpResponse:
    care = selectors.person_care(user=request.user, pk=pk)
    person = care.person
    audit_record(
        user=request.user,
        action=AuditAction.VIEW_PERSON,
        object_type="person",
        object_id=str(person.pk),
        detail=f"签约服务 {person.name}",
        region_code=person.village_id,
        request=request,
    )
    if form is None:
        form, _ = _visit_form(request, person)
    context = {
        "care": care,
        "person": person,
        "form": form,
        "can_record": request.user.role in SERVICE_ROLES,  # type: ignore[union-attr]
        "today": _today(),
        "preview": _preview_lines(person, form) if form.is_bound else [],
    }
    return render(request, "web/care/person.html", context, status=status)


@role_required(*READ_ROLES)
@require_GET
def person_care(request: HttpRequest, pk: int) -> HttpResponse:
    """人员签约服务页 Schedules, visits, contracts, checks, deliveries, cards, and the visit form."""
    return _person_page(request, pk)


def _preview_lines(person: Any, form: VisitForm) -> list[selectors.PreviewLine]:
    data = form.cleaned_data if form.is_valid() else {}
    if not data:
        return []
    return selectors.visit_preview(
        person=person,
        visited_on=data["visited_on"],
        disease_ids=data["diseases"],
        systolic=data["systolic"],
        diastolic=data["diastolic"],
        glucose=data["glucose"],
        adverse_reaction=data["adverse_reaction"],
        new_complication=data["new_complication"],
        unstable=data["unstable"],
    )


@role_required(*SERVICE_ROLES)
@require_POST
def visit_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """预计下次随访 (htmx) The classification and next due date the visit being typed would give."""
    person = selectors.person_get(user=request.user, pk=pk)
    form, _ = _visit_form(request, person, request.POST)
    lines = _preview_lines(person, form)
    return render(request, "web/care/_preview.html", {"preview": lines, "form": form})


@role_required(*SERVICE_ROLES)
@require_http_methods(["POST"])
def visit_record(request: HttpRequest, pk: int) -> HttpResponse:
    """登记随访 Record the visit; back to the person's page with the moved due dates."""
    person = selectors.person_get(user=request.user, pk=pk)
    form, _ = _visit_form(request, person, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            visit = services.followup_record(
                user=request.user,
                person=person,
                visited_on=data["visited_on"],
                kind=data["kind"],
                disease_ids=data["diseases"],
                systolic=data["systolic"],
                diastolic=data["diastolic"],
                glucose=data["glucose"],
                weight=data["weight"],
                medication=data["medication"],
                adverse_reaction=data["adverse_reaction"],
                new_complication=data["new_complication"],
                unstable=data["unstable"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                name = "diseases" if field == "disease_ids" else field
                form.add_error(name if name in form.fields else None, errors)
        else:
            messages.success(request, f"已登记{person.name}的随访，下次随访 {visit.next_on:%Y-%m-%d}")
            return redirect("care:person", pk=person.pk)
    return _person_page(request, pk, form=form, status=400)


# --- contracts, registers, cards ---------------------------------------------------------------


def _register_filters(request: HttpRequest) -> tuple[RegisterForm, int, str | None]:
    form = RegisterForm(
        request.GET or None,
        regions=selectors.region_choices(user=request.user),
        initial={"year": _today().year},
    )
    if form.is_valid():
        return form, form.cleaned_data["year"], form.cleaned_data["region"] or None
    return form, _today().year, None


@role_required(*READ_ROLES)
@require_GET
def contract_list(request: HttpRequest) -> HttpResponse:
    """签约列表 Contracts covering a year in the user's region, with the register exports and renewal."""
    form, year, region = _register_filters(request)
    page = Paginator(selectors.contracts(user=request.user, year=year, region=region), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "form": form,
        "page": page,
        "year": year,
        "region": region or "",
        "can_renew": request.user.role in MANAGE_ROLES,  # type: ignore[union-attr]
        "renew_form": RenewForm(
            initial={"year": year + 1, "village": region if region and not region.endswith("000") else ""}
        ),
        "villages": [(c, n) for c, n in selectors.region_choices(user=request.user) if not c.endswith("000")],
    }
    return render(request, "web/care/contracts.html", context)


@role_required(*MANAGE_ROLES)
@require_POST
def contracts_renew(request: HttpRequest) -> HttpResponse:
    """整村续签 Renew every contract of a village for the next year in one action."""
    form = RenewForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("care:contracts")
    village = selectors.village_get(user=request.user, code=form.cleaned_data["village"])
    year = form.cleaned_data["year"]
    created = services.contracts_renew_village(user=request.user, village=village, year=year)
    messages.success(request, f"{village.name}已续签{year}年签约{created}人")
    return redirect(f"{reverse('care:contracts')}?year={year}&region={village.code}")


def _export(
    request: HttpRequest, kind: str, title: str, writer: Callable[..., exports.RegisterTotals]
) -> HttpResponseBase:
    _, year, _ = _register_filters(request)
    # The raw code: one outside the user's region is a 404, not silently the user's own region.
    region = selectors.region_get(user=request.user, code=request.GET.get("region"))
    directory = Path(settings.VAR_DIR) / "exports"
    directory.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f"{kind}-", suffix=".xlsx", dir=directory)
    os.close(handle)
    path = Path(name)
    try:
        totals = writer(user=request.user, region=region, year=year, target=path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    audit_record(
        user=request.user,
        action=AuditAction.EXPORT,
        object_type=kind,
        object_id=region.code,
        detail=f"{title} {region.name} {year}年 {totals.rows}人",
        region_code=region.code,
        request=request,
    )
    return file_response(path, f"{title}-{region.name}-{year}.xlsx")


@role_required(*READ_ROLES)
@require_GET
def contract_register(request: HttpRequest) -> HttpResponseBase:
    """签约登记簿 .xlsx of the year's contracts; audited."""
    return _export(request, "contract_register", "签约登记簿", exports.contract_register_write)


@role_required(*READ_ROLES)
@require_GET
def fulfilment_register(request: HttpRequest) -> HttpResponseBase:
    """履约服务登记簿 .xlsx of the year's services per contracted person; audited."""
    return _export(request, "fulfilment_register", "履约服务登记簿", exports.fulfilment_register_write)


@role_required(*READ_ROLES)
@require_GET
def contact_cards(request: HttpRequest) -> HttpResponse:
    """联系卡 One PDF of A6 cards for every household of a village; audited."""
    village = selectors.village_get(user=request.user, code=request.GET.get("village"))
    cards = selectors.contact_cards(user=request.user, village=village, today=_today())
    html = render_to_string("web/care/cards_pdf.html", {"cards": cards, "village": village})
    pdf = exports.cards_pdf(html)
    audit_record(
        user=request.user,
        action=AuditAction.EXPORT,
        object_type="contact_cards",
        object_id=village.code,
        detail=f"联系卡 {village.name} {len(cards)}户",
        region_code=village.code,
        request=request,
    )
    response = HttpResponse(pdf, content_type=PDF_TYPE)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{_quote(f'联系卡-{village.name}.pdf')}"
    return response


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name)


@role_required(*READ_ROLES)
@require_GET
def team_list(request: HttpRequest) -> HttpResponse:
    """家庭医生团队 Teams of the townships in the user's region with their members and phones."""
    return render(request, "web/care/teams.html", {"teams": selectors.teams(user=request.user)})
