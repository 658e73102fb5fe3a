"""防返贫监测页面 Pages: scope on every page, download and export; roles; audit; queries; the step form."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from jkfp.accounts.models import AuditAction, AuditEvent
from jkfp.core.idnumber import mask
from jkfp.monitoring import ledger, services
from jkfp.monitoring.models import CaseStatus, HealthMeasure, MonitoringCase, StepAttachment
from jkfp.monitoring.tests.factories import MonitorWorld, make_person, pay, tag
from jkfp.web.tests.exporting import background_export

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
TODAY = timezone.localdate()


def _html(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _close(response: Any) -> None:
    """Close a download without the request_finished handler that would close the test's connection."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def _alerted(
    mw: MonitorWorld, village: str, name: str, *, amount: str = "6000.00", days_ago: int = 0
) -> MonitoringCase:
    person = make_person(mw.county[village], name)
    tag(person, "poor")
    pay(person, amount, date(TODAY.year, 1, 2), institution=mw.county["hospital"])
    services.alert_scan(as_of=TODAY, today=TODAY - timedelta(days=days_ago))
    return MonitoringCase.objects.get(person=person)


@pytest.fixture
def cases(mw: MonitorWorld) -> dict[str, MonitoringCase]:
    """An overdue case in 第1镇1村 and a fresh one in 第2镇1村."""
    return {
        "t1": _alerted(mw, "t1v1", "一镇逾期", days_ago=20),
        "t2": _alerted(mw, "t2v1", "二镇新增"),
    }


def test_queue_is_scoped_and_highlights_overdue_cases(mw: MonitorWorld, cases: Any, login: Any) -> None:
    html = _html(login(mw.users["t1"]).get(reverse("monitoring:queue")))
    assert "一镇逾期" in html and "二镇新增" not in html
    assert "已逾期" in html and "list-group-item-danger" in html
    assert mask(cases["t1"].person.id_number) in html and cases["t1"].person.id_number not in html

    admin = login(mw.users["admin"])
    both = _html(admin.get(reverse("monitoring:queue")))
    assert "一镇逾期" in both and "二镇新增" in both
    overdue = _html(admin.get(reverse("monitoring:queue"), {"overdue": "on"}))
    assert "一镇逾期" in overdue and "二镇新增" not in overdue
    township = _html(admin.get(reverse("monitoring:queue"), {"region": mw.county["t2"].code}))
    assert "二镇新增" in township and "一镇逾期" not in township


def test_queue_queries_do_not_grow_with_rows(mw: MonitorWorld, cases: Any, login: Any) -> None:
    client = login(mw.users["admin"])

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("monitoring:queue")).status_code == 200
        return len(ctx.captured_queries)

    few = count()
    for i in range(12):
        _alerted(mw, ("t1v1", "t2v2")[i % 2], f"多{i}")
    assert count() == few


def test_case_page_is_404_outside_the_region_and_audited_inside(
    mw: MonitorWorld, cases: Any, login: Any
) -> None:
    case = cases["t1"]
    url = reverse("monitoring:case_detail", args=[case.pk])
    assert login(mw.users["t2"]).get(url).status_code == 404
    html = _html(login(mw.users["t1"]).get(url))
    assert "办理下一步" in html and "分派核实" in html
    event = AuditEvent.objects.filter(action=AuditAction.VIEW_PERSON, object_type="monitoring_case").get()
    assert (event.object_id, event.user) == (str(case.pk), mw.users["t1"])


def test_inspectors_read_but_cannot_take_a_step(mw: MonitorWorld, cases: Any, login: Any) -> None:
    client = login(mw.users["inspector"])
    case = cases["t1"]
    html = _html(client.get(reverse("monitoring:case_detail", args=[case.pk])))
    assert "办理下一步" not in html
    response = client.post(
        reverse("monitoring:case_step", args=[case.pk]),
        {"target": CaseStatus.ASSIGNED, "done_on": TODAY.isoformat(), "assignee_name": "甲"},
    )
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.status == CaseStatus.ALERTED


def test_step_form_records_steps_with_attachments_and_refuses_illegal_ones(
    mw: MonitorWorld, cases: Any, login: Any, settings: Any, tmp_path: Path
) -> None:
    settings.VAR_DIR = tmp_path
    case = cases["t1"]
    client = login(mw.users["t1"])
    url = reverse("monitoring:case_step", args=[case.pk])

    response = client.post(
        url,
        {"target": CaseStatus.ASSIGNED, "done_on": TODAY.isoformat(), "assignee": mw.users["doctor11"].pk},
        follow=True,
    )
    assert "已办理：已分派" in _html(response)
    case.refresh_from_db()
    assert (case.status, case.assignee_name) == (CaseStatus.ASSIGNED, "一村村医")

    # A target that does not follow the current state is refused by the form with the field named.
    response = client.post(url, {"target": CaseStatus.IDENTIFIED, "done_on": TODAY.isoformat()}, follow=True)
    assert "办理为" in _html(response)
    case.refresh_from_db()
    assert case.status == CaseStatus.ASSIGNED

    photo = SimpleUploadedFile("入户.png", PNG, content_type="image/png")
    response = client.post(
        url,
        {
            "target": CaseStatus.VERIFIED,
            "done_on": TODAY.isoformat(),
            "note": "入户核实属实",
            "attachments": [photo],
        },
        follow=True,
    )
    html = _html(response)
    assert "已办理：已入户核实" in html and "入户.png" in html
    attachment = StepAttachment.objects.get()
    assert (tmp_path / attachment.stored_path).read_bytes() == PNG

    download = client.get(reverse("monitoring:attachment", args=[attachment.pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == PNG
    _close(download)
    assert AuditEvent.objects.filter(
        object_type="monitoring_attachment", object_id=str(attachment.pk)
    ).exists()
    assert (
        login(mw.users["t2"]).get(reverse("monitoring:attachment", args=[attachment.pk])).status_code == 404
    )

    bad = SimpleUploadedFile("x.pdf", b"not a pdf", content_type="application/pdf")
    response = login(mw.users["t1"]).post(
        url,
        {"target": CaseStatus.PROPOSED, "done_on": TODAY.isoformat(), "note": "提请", "attachments": [bad]},
        follow=True,
    )
    assert services.ERR_ATTACHMENT_TYPE.format(name="x.pdf") in _html(response)
    case.refresh_from_db()
    assert case.status == CaseStatus.VERIFIED


def test_measure_form_links_the_persons_records(mw: MonitorWorld, cases: Any, login: Any) -> None:
    case = cases["t1"]
    admin = mw.users["admin"]
    services.case_advance(
        user=admin, case=case, target=CaseStatus.ASSIGNED, done_on=TODAY, assignee_name="甲"
    )
    services.case_advance(user=admin, case=case, target=CaseStatus.VERIFIED, done_on=TODAY, note="入户")
    services.case_advance(user=admin, case=case, target=CaseStatus.PROPOSED, done_on=TODAY, note="提请")
    services.case_advance(
        user=admin, case=case, target=CaseStatus.IDENTIFIED, done_on=TODAY, external_reference="N-1"
    )
    client = login(mw.users["t1"])
    response = client.post(
        reverse("monitoring:measure_add", args=[case.pk]),
        {"kind": "aid", "taken_on": TODAY.isoformat(), "amount": "800.50", "reference": "救助-1"},
        follow=True,
    )
    assert "帮扶措施已登记" in _html(response)
    assert HealthMeasure.objects.get().amount == Decimal("800.50")
    response = client.post(
        reverse("monitoring:measure_add", args=[case.pk]),
        {"kind": "contract", "taken_on": TODAY.isoformat()},
        follow=True,
    )
    assert services.ERR_MEASURE_CONTRACT in _html(response)


def test_overview_counts_by_township_and_is_scoped(mw: MonitorWorld, cases: Any, login: Any) -> None:
    html = _html(login(mw.users["admin"]).get(reverse("monitoring:overview")))
    assert "第1镇" in html and "第2镇" in html
    assert 'id="total-cases">2<' in html and 'id="total-overdue">1<' in html
    township = _html(login(mw.users["t2"]).get(reverse("monitoring:overview")))
    assert "第2镇" in township and "第1镇" not in township
    assert 'id="total-cases">1<' in township
    assert login(mw.users["doctor11"]).get(reverse("monitoring:overview")).status_code == 403


def test_ledger_export_is_scoped_safe_and_totalled(mw: MonitorWorld, login: Any) -> None:
    first = _alerted(mw, "t1v1", '=HYPERLINK("http://x")', amount="5000.01", days_ago=20)
    _alerted(mw, "t1v2", "钱二", amount="7000.00")
    _alerted(mw, "t2v1", "孙三", amount="9000.00")
    admin = mw.users["admin"]
    services.case_advance(
        user=admin,
        case=first,
        target=CaseStatus.ASSIGNED,
        done_on=TODAY - timedelta(days=19),
        assignee_name="甲",
    )
    services.case_advance(
        user=admin, case=first, target=CaseStatus.VERIFIED, done_on=TODAY - timedelta(days=10), note="入户"
    )

    client = login(mw.users["t1"])
    book = openpyxl.load_workbook(
        BytesIO(background_export(client, reverse("monitoring:ledger_export"), year=TODAY.year))
    )
    sheet = book[ledger.SHEET_NAME]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ledger.HEADERS
    assert sheet.freeze_panes == "A2"
    data = rows[1:3]
    names = [r[ledger.COL_NAME] for r in data]
    assert names == ['\'=HYPERLINK("http://x")', "钱二"]  # formula neutralised, 第2镇 absent
    assert data[0][4] == mask(first.person.id_number)
    assert data[0][ledger.COL_AMOUNT] == 5000.01 and data[0][ledger.COL_IN_TIME] == "是"
    assert data[1][ledger.COL_IN_TIME] == "否"
    total = rows[3]
    assert total[0] == "合计" and total[ledger.COL_NAME] == "=COUNTA(D2:D3)"
    assert total[ledger.COL_AMOUNT] == "=SUM(J2:J3)"
    event = AuditEvent.objects.get(action=AuditAction.EXPORT, detail__startswith="下载后台导出：")
    assert "2条" in event.detail and "50.0%" in event.detail

    outside = f"{reverse('monitoring:ledger_export')}?region={mw.county['t2'].code}"
    assert client.post(outside).status_code == 404


def test_queue_filters_by_rule_and_state(mw: MonitorWorld, cases: Any, login: Any) -> None:
    from jkfp.registry.models import Disease, DiseaseKind
    from jkfp.treatment.models import MajorDiseaseCase

    person = make_person(mw.county["t1v2"], "大病新增")
    disease = Disease.objects.create(name="白血病", kind=DiseaseKind.MAJOR)
    MajorDiseaseCase.objects.create(
        person=person, disease=disease, diagnosed_on=date(TODAY.year, 1, 3), status="treated"
    )
    services.alert_scan(as_of=TODAY)
    client = login(mw.users["admin"])

    major = _html(client.get(reverse("monitoring:queue"), {"rule": "major_disease"}))
    assert "大病新增" in major and "一镇逾期" not in major
    services.case_advance(
        user=mw.users["admin"],
        case=cases["t2"],
        target=CaseStatus.ASSIGNED,
        done_on=TODAY,
        assignee_name="甲",
    )
    assigned = _html(client.get(reverse("monitoring:queue"), {"status": "assigned"}))
    assert "二镇新增" in assigned and "一镇逾期" not in assigned and "大病新增" not in assigned
    opened = _html(client.get(reverse("monitoring:queue"), {"status": "open", "year": str(TODAY.year)}))
    assert all(name in opened for name in ("二镇新增", "一镇逾期", "大病新增"))


def test_overview_queries_do_not_grow_with_cases(mw: MonitorWorld, cases: Any, login: Any) -> None:
    client = login(mw.users["admin"])

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("monitoring:overview")).status_code == 200
        return len(ctx.captured_queries)

    few = count()
    for i in range(8):
        _alerted(mw, ("t1v2", "t2v2")[i % 2], f"概览{i}", days_ago=i)
    assert count() == few
