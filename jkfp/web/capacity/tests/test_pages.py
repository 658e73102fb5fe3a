"""Capacity pages: tiles and blank points, scope, one-click rectification, lists, ledgers, indicators, report."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import openpyxl
import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from docx import Document

from jkfp.accounts.models import AuditAction, AuditEvent
from jkfp.capacity.imports import supports_import, telemedicine_import, trainings_import
from jkfp.capacity.tests.conftest import AS_OF, CapacityWorld, write_csv
from jkfp.indicators import selectors as indicator_selectors
from jkfp.indicators import services as indicator_services
from jkfp.indicators.models import Rectification
from jkfp.regions.models import Region
from jkfp.web.tests.exporting import background_export

ON = "2025-06-30"


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def admin(world: CapacityWorld, make_user: Any) -> Any:
    return make_user("county_admin", "421321")


def test_overview_tiles_and_blank_points(admin: Any) -> None:
    body = login(admin).get(f"/capacity/?as_of={ON}").content.decode()
    assert 'data-code="421321001001" href' in body  # tiles link to the villages
    assert 'class="village-tile tile-exception" data-status="exception" data-code="421321001002"' in body
    assert 'tile-ok tile-doctorless" data-status="ok" data-code="421321002001"' in body  # C21 lost its doctor
    assert 'data-subject="blank:township:421321002000"' in body
    assert 'data-subject="blank:clinic:C21"' in body
    assert '<div class="fs-5 text-danger" id="blank-count">2</div>' in body
    assert "转为整改" in body


def test_township_user_sees_own_township_only(world: CapacityWorld, make_user: Any) -> None:
    client = login(make_user("township", world.county["t1"].code))
    body = client.get(f"/capacity/?as_of={ON}").content.decode()
    assert "第1镇1村" in body
    assert "第2镇1村" not in body
    assert client.get("/capacity/?region=421321002000").status_code == 404
    assert client.get("/capacity/institutions/C21/").status_code == 404
    assert client.get("/capacity/villages/421321002001/").status_code == 404
    staff = client.get("/capacity/staff/").content.decode()
    assert "孙村医" in staff
    assert "吴村医" not in staff
    assert "郑护士" not in staff
    assert world.ids["孙村医"] not in staff  # ID numbers are masked


def test_village_and_institution_pages(admin: Any, world: CapacityWorld) -> None:
    client = login(admin)
    village = client.get(f"/capacity/villages/421321001002/?as_of={ON}").content.decode()
    assert "卫生院覆盖（例外）" in village
    assert "由第1镇卫生院覆盖（乡镇卫生院所在村或邻近村）" in village
    clinic = client.get(f"/capacity/institutions/C21/?as_of={ON}").content.decode()
    assert "原村医吴村医于2025-05-31离岗" in clinic
    assert "郑护士" in clinic
    assert "吴村医" in clinic  # on post, and the former doctor below
    earlier = client.get("/capacity/institutions/C21/?as_of=2025-05-01").content.decode()
    assert "原村医" not in earlier
    assert client.get("/capacity/villages/421321001000/").status_code == 404  # a township is not a village


def test_one_click_rectification(admin: Any, make_user: Any) -> None:
    client = login(admin)
    response = client.post("/capacity/rectify/", {"subject": "blank:clinic:C21", "as_of": ON})
    assert response.status_code == 302
    assert response["Location"] == "/indicators/rectifications/"
    item = Rectification.objects.get()
    assert (item.subject, item.region_code, item.owner, item.status) == (
        "blank:clinic:C21",
        "421321002001",
        "第2镇卫生院",
        "open",
    )
    assert item.finding.startswith("空白点（村卫生室）：第2镇联合卫生室（C21）无在岗合格村医")
    client.post("/capacity/rectify/", {"subject": "blank:clinic:C21", "as_of": ON})
    assert Rectification.objects.count() == 1  # not raised twice
    body = client.get(f"/capacity/?as_of={ON}").content.decode()
    assert "整改中 · 时限" in body
    # Something that is not a blank point on that date is refused with a message, nothing written.
    client.post("/capacity/rectify/", {"subject": "blank:village:421321001001", "as_of": ON})
    assert Rectification.objects.count() == 1
    inspector = login(make_user("inspector", "421321"))
    assert (
        inspector.post(
            "/capacity/rectify/", {"subject": "blank:township:421321002000", "as_of": ON}
        ).status_code
        == 403
    )


def test_rectify_outside_the_region_is_refused(world: CapacityWorld, make_user: Any) -> None:
    user = make_user("township", world.county["t1"].code)
    with pytest.raises(PermissionDenied):
        indicator_services.rectification_from_blank_point(user=user, subject="blank:clinic:C21", as_of=AS_OF)
    assert not Rectification.objects.exists()


def _records(world: CapacityWorld, tmp_path: Any) -> None:
    supports_import(
        path=write_csv(
            tmp_path / "p.csv",
            [
                "帮扶医院代码",
                "受援机构代码",
                "起始日期",
                "派驻人数",
                "驻点人月",
                "门诊人次",
                "手术台次",
                "培训场次",
            ],
            [["P01", "H002", "2025-01-01", "2", "12", "800", "30", "4"]],
        ),
        errors_dir=tmp_path,
    )
    telemedicine_import(
        path=write_csv(
            tmp_path / "t.csv",
            ["机构代码", "对接机构", "接入日期", "月份", "会诊人次"],
            [
                ["H002", "市远程会诊中心", "2024-06-01", "2025-03", "7"],
                ["H001", "省平台", "2020-01-01", "", ""],
            ],
        ),
        errors_dir=tmp_path,
    )
    trainings_import(
        path=write_csv(
            tmp_path / "tr.csv",
            ["培训日期", "培训主题", "主办单位", "级别", "机构代码", "参训人数"],
            [
                ["2025-04-10", "高血压规范管理", "随县卫健局", "县级", "C11", "3"],
                ["2025-04-10", "高血压规范管理", "随县卫健局", "县级", "W002", "5"],
            ],
        ),
        errors_dir=tmp_path,
    )


def test_lists_and_ledgers(admin: Any, world: CapacityWorld, tmp_path: Any) -> None:
    _records(world, tmp_path)
    client = login(admin)
    assert "随州市中心医院" in client.get("/capacity/support/?year=2025").content.decode()
    tele = client.get("/capacity/telemedicine/?year=2025").content.decode()
    assert "市远程会诊中心" in tele
    assert "已接入 2 所" in tele
    assert "高血压规范管理" in client.get("/capacity/training/?year=2025").content.decode()
    data = background_export(client, "/indicators/ledgers/capacity.xlsx", year=2025, region=421321)
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    assert book.sheetnames == ["汇总", "乡镇卫生院", "村", "村卫生室", "卫生人员", "空白点"]
    blanks = [r for r in book["空白点"].iter_rows(min_row=2, values_only=True) if r[1]]
    assert [(r[0], r[1], r[4]) for r in blanks] == [
        ("乡镇", "421321002000", "未登记整改"),
        ("村卫生室", "C21", "未登记整改"),
    ]
    summary = {r[0]: r[1] for r in book["汇总"].iter_rows(min_row=3, values_only=True)}
    assert (summary["统计日期"], summary["空白点数"], summary["有村卫生室的村"]) == ("2025-12-31", 2, 3)
    staff_ids = [r[2] for r in book["卫生人员"].iter_rows(min_row=2, values_only=True) if r[1]]
    assert staff_ids
    assert all("*" in idn for idn in staff_ids)
    for kind, text in (
        ("support", "随州市中心医院"),
        ("telemedicine", "市远程会诊中心"),
        ("training", "高血压规范管理"),
    ):
        got = background_export(client, f"/indicators/ledgers/{kind}.xlsx", year=2025, region=421321)
        sheet = openpyxl.load_workbook(io.BytesIO(got), read_only=True).active
        assert any(text in str(cell) for row in sheet.iter_rows(values_only=True) for cell in row if cell), (
            kind
        )
    downloads = AuditEvent.objects.filter(action=AuditAction.EXPORT, detail__startswith="下载后台导出：")
    assert downloads.filter(detail__contains="基层医疗卫生服务能力台账").count() == 1


def test_indicators_and_report(admin: Any, world: CapacityWorld, tmp_path: Any) -> None:
    """2025 is over (the as-of date is 31 December): figures of the world, and the report's section."""
    _records(world, tmp_path)
    indicator_services.rectification_from_blank_point(
        user=admin, subject="blank:township:421321002000", as_of=date(2025, 12, 31)
    )
    indicator_services.snapshot_refresh(year=2025)
    county = Region.objects.get(code="421321")
    figures = indicator_selectors.region_report(year=2025, region=county).region.figures
    got = {
        code: (int(f.numerator or 0), int(f.denominator or 0))
        for code, f in figures.items()
        if code
        in {
            "clinic_coverage_rate",
            "qualified_doctor_rate",
            "township_centre_rate",
            "blank_point_count",
            "telemedicine_rate",
            "training_count",
        }
    }
    assert got == {
        "clinic_coverage_rate": (2, 4),  # 1村 (standardised C11) and 2村 (exception); C21 is not standardised
        "qualified_doctor_rate": (1, 2),
        "township_centre_rate": (1, 2),
        "blank_point_count": (2, 8),  # 4 villages + 2 clinics + 2 townships checked
        "telemedicine_rate": (2, 3),  # H001 and H002 connected; W002 not
        "training_count": (8, 8),
    }
    t2 = indicator_selectors.region_report(
        year=2025, region=Region.objects.get(code="421321002000")
    ).region.figures
    assert (t2["blank_point_count"].numerator, t2["blank_point_count"].denominator) == (2, 4)
    client = login(admin)
    dashboard = client.get("/indicators/?year=2025").content.decode()
    assert '<tr data-code="blank_point_count">' in dashboard
    assert "2个" in dashboard
    drill = client.get("/indicators/drill/qualified_doctor_rate/numerator/?year=2025&region=421321")
    assert "第1镇1村卫生室" in drill.content.decode()
    assert "第2镇联合卫生室" not in drill.content.decode()
    to_page = client.get("/indicators/drill/blank_point_count/numerator/?year=2025&region=421321")
    assert to_page.status_code == 302
    assert to_page["Location"] == "/capacity/?region=421321&as_of=2025-12-31"
    report = client.get("/indicators/report.docx?year=2025&region=421321")
    document = Document(io.BytesIO(report.getvalue()))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "五、医疗卫生服务能力建设" in text
    assert "六、组织保障与问题整改" in text
    assert "乡镇卫生院达标率：乡镇 2，达标乡镇 1，乡镇卫生院达标率 50.00%。" in text
    assert "空白点数：检查单元 8，空白点 2个。" in text
    assert "随县县级公立医院：达标（随县人民医院）。" in text
    assert (
        "对口帮扶：2025年 1 家医院帮扶 1 项，派驻人员 2 人、驻点 12.0 人·月，门诊 800 人次、手术 30 台次，开展培训 4 场。"
        in text
    )
    assert "远程医疗：已接入 2 所机构，2025年远程会诊 7 人次。培训：2025年参加培训 1 场，8 人次。" in text
    assert "空白点：共 2 个，已列入问题整改 1 个（其中已整改或销号 0 个），未列入整改 1 个。" in text
    rows = [
        [c.text for c in row.cells]
        for table in document.tables
        for row in table.rows
        if row.cells[0].text in {"乡镇", "村卫生室"}
    ]
    assert rows[0][3].startswith("整改中（责任人 第2镇卫生院")
    assert rows[1][3] == "未列入整改"


def test_list_pages_do_not_grow_in_queries(
    admin: Any, world: CapacityWorld, django_assert_max_num_queries: Any
) -> None:
    client = login(admin)
    for path in (
        "/capacity/staff/",
        "/capacity/institutions/",
        "/capacity/support/",
        "/capacity/telemedicine/",
        "/capacity/training/",
    ):
        client.get(path)
        with django_assert_max_num_queries(9):
            assert client.get(path).status_code == 200
