"""签约服务页面 Care pages: the village doctor's work list, recording a visit, contracts, registers, cards.

Views parse, call one selector or service, render. Roles (domain.md §2): village doctors, township
health centres and the county administrator record services; township and county renew contracts;
inspectors read. Person pages and every export are audited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jkfp.accounts.http import AuthedRequest
from jkfp.accounts.models import AuditAction, Role
from jkfp.accounts.scoping import region_choices, region_get, role_require
from jkfp.accounts.services import audit_record
from jkfp.capacity import selectors as capacity_selectors
from jkfp.care import exports, selectors, services
from jkfp.care.models import Checkup, ChronicCard, DrugDelivery, FollowUp
from jkfp.core.fonts import cjk_font_css
from jkfp.regions.models import Region, RegionLevel, level_of_code
from jkfp.settlement.cards import outpatient_diseases
from jkfp.web import background
from jkfp.web.care.forms import (
    AssignForm,
    CardForm,
    CheckupForm,
    DeliveryForm,
    HealthRecordForm,
    MemberForm,
    RegisterForm,
    RenewForm,
    TeamForm,
    TeamRenameForm,
    VisitForm,
    VoidForm,
    WorklistForm,
)

PAGE_SIZE = 50
SERVICE_ROLES = tuple(services.SERVICE_ROLES)
MANAGE_ROLES = tuple(services.MANAGE_ROLES)
PDF_TYPE = "application/pdf"


def _today() -> date:
    return timezone.localdate()


@require_GET
def worklist(request: AuthedRequest) -> HttpResponse:
    """随访工作清单 Overdue, due this week, not seen this year: one section at a time, 50 items a page."""
    today = _today()
    form = WorklistForm(request.GET or None, regions=region_choices(user=request.user))
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
        "is_doctor": request.user.role == Role.VILLAGE_DOCTOR,
    }
    return render(request, "web/care/worklist.html", context)


@require_GET
def escalated(request: AuthedRequest) -> HttpResponse:
    """逾期上报 Items overdue past the escalation date, for the township (oldest first)."""
    today = _today()
    form = WorklistForm(request.GET or None, regions=region_choices(user=request.user))
    region = form.cleaned_data["region"] or None if form.is_valid() else None
    page = Paginator(selectors.escalated(user=request.user, today=today, region=region), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    for item in page.object_list:
        item.overdue_days = (today - item.due_on).days
    return render(request, "web/care/escalated.html", {"form": form, "page": page, "today": today})


def _visit_form(request: AuthedRequest, person: Any, data: Any = None) -> tuple[VisitForm, list[Any]]:
    conditions = selectors.visit_conditions(person=person, today=_today())
    form = VisitForm(
        data,
        conditions=[(c.disease_id, c.name) for c in conditions],
        initial={"visited_on": _today(), "diseases": [c.disease_id for c in conditions if c.ticked]},
    )
    return form, conditions


def _person_page(
    request: AuthedRequest, pk: int, form: VisitForm | None = None, status: int = 200
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
        "can_record": request.user.role in SERVICE_ROLES,
        "today": _today(),
        "preview": _preview_lines(person, form) if form.is_bound else [],
        "void_form": VoidForm(),
    }
    return render(request, "web/care/person.html", context, status=status)


@require_GET
def person_care(request: AuthedRequest, pk: int) -> HttpResponse:
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


@require_POST
def visit_preview(request: AuthedRequest, pk: int) -> HttpResponse:
    """预计下次随访 (htmx) The classification and next due date the visit being typed would give."""
    person = selectors.person_get(user=request.user, pk=pk)
    form, _ = _visit_form(request, person, request.POST)
    lines = _preview_lines(person, form)
    return render(request, "web/care/_preview.html", {"preview": lines, "form": form})


@require_http_methods(["POST"])
def visit_record(request: AuthedRequest, pk: int) -> HttpResponse:
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


def _register_filters(request: AuthedRequest) -> tuple[RegisterForm, int, str | None]:
    form = RegisterForm(
        request.GET or None,
        regions=region_choices(user=request.user),
        initial={"year": _today().year},
    )
    if form.is_valid():
        return form, form.cleaned_data["year"], form.cleaned_data["region"] or None
    return form, _today().year, None


@require_GET
def contract_list(request: AuthedRequest) -> HttpResponse:
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
        "can_renew": request.user.role in MANAGE_ROLES,
        "renew_form": RenewForm(
            initial={"year": year + 1, "village": region if region and not region.endswith("000") else ""}
        ),
        "villages": [
            (c, n) for c, n in region_choices(user=request.user) if level_of_code(c) == RegionLevel.VILLAGE
        ],
    }
    return render(request, "web/care/contracts.html", context)


@require_POST
def contracts_renew(request: AuthedRequest) -> HttpResponse:
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


def _export(request: AuthedRequest, kind: str, title: str) -> HttpResponseBase:
    """Queue a register of the year and region as a background export (``jkfp.web.background``)."""
    _, year, _ = _register_filters(request)
    # The raw code: one outside the user's region is a 404, not silently the user's own region.
    region = region_get(user=request.user, code=request.GET.get("region"))
    return background.export_queue(
        request,
        kind=background.KIND_CARE_REGISTER,
        title=f"{title} {region.name} {year}年",
        params={"register": kind, "year": year, "region": region.code},
        file_name=f"{title}-{region.name}-{year}.xlsx",
    )


@require_POST
def contract_register(request: AuthedRequest) -> HttpResponseBase:
    """签约登记簿 .xlsx of the year's contracts, written in the background; audited."""
    return _export(request, "contract_register", "签约登记簿")


@require_POST
def fulfilment_register(request: AuthedRequest) -> HttpResponseBase:
    """履约服务登记簿 .xlsx of the year's services per contracted person, in the background; audited."""
    return _export(request, "fulfilment_register", "履约服务登记簿")


@require_GET
def contact_cards(request: AuthedRequest) -> HttpResponse:
    """联系卡 One PDF of A6 cards for every household of a village; audited."""
    village = selectors.village_get(user=request.user, code=request.GET.get("village"))
    cards = selectors.contact_cards(user=request.user, village=village, today=_today())
    html = render_to_string(
        "web/care/cards_pdf.html", {"cards": cards, "village": village, "font_css": cjk_font_css()}
    )
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

    return quote(name)


# --- per-person services: health checks, drug deliveries, chronic cards, health records ---------


def _add_service_errors(form: Any, exc: ValidationError, rename: dict[str, str] | None = None) -> None:
    """Put a service's ``{field: message}`` errors on the form's fields (non-field when unknown)."""
    for field, errors in exc.message_dict.items():
        name = (rename or {}).get(field, field)
        form.add_error(name if name in form.fields else None, errors)


def _audit_person(request: AuthedRequest, person: Any, what: str) -> None:
    audit_record(
        user=request.user,
        action=AuditAction.VIEW_PERSON,
        object_type="person",
        object_id=str(person.pk),
        detail=f"{what} {person.name}",
        region_code=person.village_id,
        request=request,
    )


@dataclass(frozen=True)
class _ServicePage:
    """One per-person service page: what differs between 体检, 送药, 慢病卡 and 健康档案."""

    title: str
    active: str  # the nav tab, and the URL name to return to after saving
    url_name: str
    audit_label: str
    form_class: type[Any]
    initial_field: str  # the date field that starts at today
    roles: tuple[str, ...]  # who may record
    headers: list[str]
    submit: str
    save: Callable[[AuthedRequest, Any, Any], str]  # (request, person, form) → success message; may raise
    rows: Callable[[Any], list[list[Any]]]
    form_kwargs: Callable[[Any], dict[str, Any]] = lambda person: {}  # (person) → the form's extra arguments
    note: str = ""
    empty_note: str = ""  # shown while the person has no rows
    once: bool = False  # the form is offered only while the person has no rows
    void: str = ""  # 作废: the ``entry_void`` kind of the rows (then ``rows`` returns ``_EntryRow``s)


class _EntryRow(list[Any]):
    """The cells of one entry, with its id so that the page can offer 作废 on it."""

    def __init__(self, pk: int, cells: list[Any]) -> None:
        super().__init__(cells)
        self.pk = pk


def _person_service(request: AuthedRequest, pk: int, page: _ServicePage) -> HttpResponse:
    """The person's records of one kind, and the form to record one (role-checked, errors on their fields)."""
    person = selectors.person_get(user=request.user, pk=pk)
    extra = page.form_kwargs(person)
    form = page.form_class(initial={page.initial_field: _today()}, **extra)
    status = 200
    if request.method == "POST":
        role_require(request.user, page.roles)
        form = page.form_class(request.POST, **extra)
        if form.is_valid():
            try:
                message = page.save(request, person, form)
            except ValidationError as exc:
                _add_service_errors(form, exc)
            else:
                messages.success(request, message)
                return redirect(f"care:{page.url_name}", pk=person.pk)
        status = 400
    else:
        _audit_person(request, person, page.audit_label)
    rows = page.rows(person)
    context = {
        "person": person,
        "title": page.title,
        "active": page.active,
        "form": form,
        "can_record": request.user.role in page.roles and not (page.once and rows),
        "headers": page.headers,
        "rows": rows,
        "submit": page.submit,
        "note": page.note or ("" if rows else page.empty_note),
        "void": page.void,
        "can_void": bool(page.void) and request.user.role in page.roles,
        "void_form": VoidForm(),
    }
    return render(request, "web/care/person_service.html", context, status=status)


def _save_checkup(request: AuthedRequest, person: Any, form: Any) -> str:
    data = form.cleaned_data
    services.checkup_record(
        user=request.user,
        person=person,
        checked_on=data["checked_on"],
        items=form.items(),
        conclusion=data["conclusion"],
    )
    return f"已登记{person.name} {data['checked_on']:%Y-%m-%d} 的体检"


def _save_delivery(request: AuthedRequest, person: Any, form: Any) -> str:
    data = form.cleaned_data
    services.drug_delivery_record(
        user=request.user,
        person=person,
        delivered_on=data["delivered_on"],
        drugs=data["drugs"],
        supply_days=data["supply_days"],
    )
    return f"已登记{person.name}的送药（{data['supply_days']}天）"


def _save_card(request: AuthedRequest, person: Any, form: Any) -> str:
    data = form.cleaned_data
    services.chronic_card_issue(
        user=request.user,
        person=person,
        disease=data["disease"],
        certified_on=data["certified_on"],
        valid_to=data["valid_to"],
        card_no=data["card_no"],
        also=outpatient_diseases(),
    )
    return f"已为{person.name}办理{data['disease'].name}慢病卡"


def _save_record(request: AuthedRequest, person: Any, form: Any) -> str:
    data = form.cleaned_data
    services.health_record_open(
        user=request.user, person=person, opened_on=data["opened_on"], record_no=data["record_no"]
    )
    return f"已为{person.name}建立健康档案"


def _record_rows(person: Any) -> list[list[Any]]:
    record = selectors.person_health_record(person=person)
    return [[record.opened_on, record.record_no or "—"]] if record else []


CHECKUPS = _ServicePage(
    title="体检",
    active="checkups",
    url_name="checkups",
    audit_label="体检记录",
    form_class=CheckupForm,
    initial_field="checked_on",
    roles=SERVICE_ROLES,
    headers=["体检日期", "体检项目", "体检结论"],
    submit="保存体检",
    save=_save_checkup,
    rows=lambda person: [
        _EntryRow(
            c.pk,
            [
                c.checked_on,
                "；".join(f"{k}：{v}" for k, v in (c.items or {}).items()) or "—",
                c.conclusion or "—",
            ],
        )
        for c in selectors.person_checkups(person=person)
    ],
    void="checkups",
)
DELIVERIES = _ServicePage(
    title="送药",
    active="deliveries",
    url_name="deliveries",
    audit_label="送药记录",
    form_class=DeliveryForm,
    initial_field="delivered_on",
    roles=SERVICE_ROLES,
    headers=["送药日期", "药品", "用药天数"],
    submit="保存送药",
    save=_save_delivery,
    rows=lambda person: [
        _EntryRow(d.pk, [d.delivered_on, d.drugs, f"{d.supply_days}天"])
        for d in selectors.person_deliveries(person=person)
    ],
    note="每次送药不超过3个月（92天）的用量。",
    void="deliveries",
)
CARDS = _ServicePage(
    title="慢病卡",
    active="cards",
    url_name="cards_person",
    audit_label="慢病卡",
    form_class=CardForm,
    initial_field="certified_on",
    roles=MANAGE_ROLES,
    headers=["病种", "认定日期", "有效期至", "卡号"],
    submit="办理慢病卡",
    save=_save_card,
    rows=lambda person: [
        _EntryRow(c.pk, [c.disease.name, c.certified_on, c.valid_to or "长期", c.card_no or "—"])
        for c in selectors.person_cards(person=person)
    ],
    # besides chronic diseases, the settlement policies' outpatient ones (issue 19: 终末期肾病 …)
    # (the chronic ones of the person's county's catalogue: ``registry.disease_catalogue``)
    form_kwargs=lambda person: {
        "diseases": selectors.card_diseases(also=outpatient_diseases(), county_code=person.village_id[:6])
    },
    void="cards",
)
HEALTH_RECORD = _ServicePage(
    title="健康档案",
    active="record",
    url_name="record",
    audit_label="健康档案",
    form_class=HealthRecordForm,
    initial_field="opened_on",
    roles=SERVICE_ROLES,
    headers=["建档日期", "档案编号"],
    submit="建立健康档案",
    save=_save_record,
    rows=_record_rows,
    empty_note="此人还没有健康档案。",
    once=True,
)


@require_http_methods(["GET", "POST"])
def person_checkups(request: AuthedRequest, pk: int) -> HttpResponse:
    """体检 The person's health checks with their items; record one (village doctor, township, county)."""
    return _person_service(request, pk, CHECKUPS)


@require_http_methods(["GET", "POST"])
def person_deliveries(request: AuthedRequest, pk: int) -> HttpResponse:
    """送药 The person's drug deliveries; record one (at most 3 months' supply)."""
    return _person_service(request, pk, DELIVERIES)


@require_http_methods(["GET", "POST"])
def person_cards(request: AuthedRequest, pk: int) -> HttpResponse:
    """慢病卡 The person's chronic-disease cards; issue one (township health centre or county)."""
    return _person_service(request, pk, CARDS)


@require_http_methods(["GET", "POST"])
def person_health_record(request: AuthedRequest, pk: int) -> HttpResponse:
    """健康档案 Whether the person has a resident health record; open it (mark as recorded)."""
    return _person_service(request, pk, HEALTH_RECORD)


# --- 作废: voiding a mistaken visit, check, delivery or card -----------------------------------

# The URL's kind → (the entry's model, the page listing it, which the void returns to).
VOID_PAGES: dict[str, tuple[type[Any], str]] = {
    "visits": (FollowUp, "person"),
    "checkups": (Checkup, "checkups"),
    "deliveries": (DrugDelivery, "deliveries"),
    "cards": (ChronicCard, "cards_person"),
}


@require_POST
def entry_void(request: AuthedRequest, pk: int, kind: str, entry_pk: int) -> HttpResponse:
    """作废 Delete a mistaken entry of the person (reason required, audited with every value); back to its list.

    Who may void is who may record it (慢病卡: township and county only); a person outside the
    user's region, or an entry of another person, is a 404.
    """
    if kind not in VOID_PAGES:
        raise Http404(selectors.NOT_FOUND_ENTRY)
    model, url_name = VOID_PAGES[kind]
    role_require(request.user, tuple(services.VOID_KINDS[model].roles))
    person = selectors.person_get(user=request.user, pk=pk)
    entry = selectors.care_entry_get(person=person, model=model, pk=entry_pk)
    label = services.VOID_KINDS[model].label
    form = VoidForm(request.POST)
    if form.is_valid():
        try:
            values = services.care_entry_void(
                user=request.user, entry=entry, reason=form.cleaned_data["reason"], request=request
            )
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(
                request, f"已作废{person.name} {values['date']} 的{label}记录；如需更正，请重新登记"
            )
            return redirect(f"care:{url_name}", pk=person.pk)
    for name, errors in form.errors.items():
        for error in errors:
            messages.error(request, f"{form.fields[name].label}：{error}" if name in form.fields else error)
    return redirect(f"care:{url_name}", pk=person.pk)


# --- teams and family doctors ------------------------------------------------------------------


def _team_list(request: AuthedRequest, form: TeamForm | None = None, status: int = 200) -> HttpResponse:
    can_manage = request.user.role in MANAGE_ROLES
    if form is None and can_manage:
        form = TeamForm(townships=selectors.township_choices(user=request.user))
    context = {"teams": selectors.teams(user=request.user), "form": form, "can_manage": can_manage}
    return render(request, "web/care/teams.html", context, status=status)


@require_GET
def team_list(request: AuthedRequest) -> HttpResponse:
    """家庭医生团队 Teams of the townships in the user's region with their members and phones."""
    return _team_list(request)


@require_POST
def team_create(request: AuthedRequest) -> HttpResponse:
    """新建团队 A team of a township health centre of the user's region."""
    form = TeamForm(request.POST, townships=selectors.township_choices(user=request.user))
    if form.is_valid():
        township = region_get(user=request.user, code=form.cleaned_data["township"])
        try:
            team = services.team_create(user=request.user, township=township, name=form.cleaned_data["name"])
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(request, f"已新建团队“{team.name}”，请添加成员")
            return redirect("care:team", pk=team.pk)
    return _team_list(request, form=form, status=400)


def _staff_choices(request: AuthedRequest, team: Any) -> list[tuple[int, str]]:
    """卫生人员 The staff on post today at the institutions of the team's township (for the member form)."""
    township = Region.objects.get(code=team.township_id)
    rows = capacity_selectors.staff(user=request.user, region=township, on=timezone.localdate())
    return [(s.pk, f"{s.name}（{s.institution.name}，{s.get_qualification_display()}）") for s in rows[:500]]


def _team_page(
    request: AuthedRequest,
    team: Any,
    *,
    rename: TeamRenameForm | None = None,
    member_form: MemberForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "team": team,
        "members": list(
            team.members.select_related("staff__institution").order_by("-active", "role", "name")
        ),
        "rename": rename or TeamRenameForm(initial={"name": team.name}),
        "member_form": member_form or MemberForm(staff=_staff_choices(request, team)),
    }
    return render(request, "web/care/team_edit.html", context, status=status)


@require_http_methods(["GET", "POST"])
def team_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    """编辑团队 Rename the team; its members (add, remove) on the same page."""
    team = selectors.team_get(user=request.user, pk=pk)
    if request.method == "GET":
        return _team_page(request, team)
    form = TeamRenameForm(request.POST)
    if form.is_valid():
        try:
            services.team_update(user=request.user, team=team, name=form.cleaned_data["name"])
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(request, f"团队已改名为“{team.name}”")
            return redirect("care:team", pk=team.pk)
    team.refresh_from_db()
    return _team_page(request, team, rename=form, status=400)


@require_POST
def team_member_add(request: AuthedRequest, pk: int) -> HttpResponse:
    """加团队成员 Name, role and phone."""
    team = selectors.team_get(user=request.user, pk=pk)
    form = MemberForm(request.POST, staff=_staff_choices(request, team))
    if form.is_valid():
        data = form.cleaned_data
        try:
            staff = None
            if data["staff"] is not None:
                staff = capacity_selectors.staff(user=request.user).filter(pk=data["staff"]).first()
            member = services.team_member_add(
                user=request.user,
                team=team,
                name=data["name"],
                role=data["role"],
                phone=data["phone"],
                staff=staff,
            )
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(request, f"已添加成员{member.name}（{member.get_role_display()}）")
            return redirect("care:team", pk=team.pk)
    return _team_page(request, team, member_form=form, status=400)


@require_POST
def team_member_remove(request: AuthedRequest, pk: int, member_pk: int) -> HttpResponse:
    """移出团队成员 Delete a member, or mark one who has served as 离岗 (history kept)."""
    team = selectors.team_get(user=request.user, pk=pk)
    member = selectors.team_member_get(team=team, pk=member_pk)
    if services.team_member_remove(user=request.user, member=member):
        messages.success(request, f"已移出成员{member.name}")
    else:
        messages.success(request, f"{member.name}已有服务记录，已标记为离岗（记录保留）")
    return redirect("care:team", pk=team.pk)


@require_http_methods(["GET", "POST"])
def household_doctor(request: AuthedRequest, pk: int) -> HttpResponse:
    """户的家庭医生 The current family doctor, the re-assignment history, and (township/county) re-assign."""
    household = selectors.household_get(user=request.user, pk=pk)
    choices = selectors.doctor_choices(household=household)
    members = [(m.pk, f"{m.team.name} · {m.name}（{m.get_role_display()}）") for m in choices]
    form = AssignForm(initial={"start_on": _today()}, members=members)
    status = 200
    if request.method == "POST":
        role_require(request.user, MANAGE_ROLES)
        form = AssignForm(request.POST, members=members)
        if form.is_valid():
            member = next(m for m in choices if m.pk == form.cleaned_data["member"])
            try:
                services.family_doctor_assign(
                    user=request.user,
                    household=household,
                    member=member,
                    start_on=form.cleaned_data["start_on"],
                )
            except ValidationError as exc:
                _add_service_errors(form, exc)
            else:
                messages.success(request, f"已指定{member.name}为{household.household_no}户的家庭医生")
                return redirect("care:household_doctor", pk=household.pk)
        status = 400
    else:
        audit_record(
            user=request.user,
            action=AuditAction.VIEW_HOUSEHOLD,
            object_type="household",
            object_id=str(household.pk),
            detail=f"家庭医生 {household.household_no}",
            region_code=household.village_id,
            request=request,
        )
    context = {
        "household": household,
        "history": selectors.doctor_assignments(household=household),
        "form": form,
        "can_assign": request.user.role in MANAGE_ROLES,
    }
    return render(request, "web/care/household_doctor.html", context, status=status)
