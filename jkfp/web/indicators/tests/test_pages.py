"""指标页面 Dashboard == CLI == drill-down == ledgers == report; scoping, roles, audit, query counts."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from io import BytesIO, StringIO
from typing import Any

import openpyxl
import pytest
from django.core.management import call_command
from django.core.signals import request_finished
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from jkfp.accounts.models import AuditAction, AuditEvent
from jkfp.indicators import services
from jkfp.indicators.catalogue import INDICATORS
from jkfp.indicators.models import PremiumRule, Rectification, RectificationStatus
from jkfp.indicators.tests.factories import YEAR, World
from jkfp.web.tests.exporting import background_export

pytestmark = pytest.mark.django_db
COUNTY, T1, T2, T1V1 = "421321", "421321001000", "421321002000", "421321001001"


def _close(response: Any) -> None:
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def _download(client: Any, url: str, **params: Any) -> bytes:
    response = client.get(url, params)
    assert response.status_code == 200, response.status_code
    data = b"".join(response.streaming_content)
    _close(response)
    return data


def _cli(region: str) -> dict[str, Any]:
    out = StringIO()
    call_command("indicators", "--year", str(YEAR), "--region", region, "--json", stdout=out)
    return json.loads(out.getvalue())


def _drill_count(client: Any, code: str, side: str, region: str) -> int:
    response = client.get(reverse("indicators:drill", args=[code, side]), {"year": YEAR, "region": region})
    assert response.status_code == 200
    match = re.search(r'id="drill-count">共 <strong>(\d+)</strong>', response.content.decode())
    assert match, code
    return int(match.group(1))


def test_dashboard_agrees_with_cli_and_every_figure_drills_to_as_many_rows(world: World, login: Any) -> None:
    client = login(world.users["admin"])
    response = client.get(reverse("indicators:dashboard"), {"year": YEAR})
    html = response.content.decode()
    assert response.status_code == 200
    data = _cli(COUNTY)
    assert "数据截至" in html
    # 第2镇2村 has no enrolment record: its 参保率 is 暂无数据, not 0 (the township's page shows it).
    township = client.get(reverse("indicators:dashboard"), {"year": YEAR, "region": T2}).content.decode()
    assert "暂无数据" in township
    assert _cli(T2)["children"][1]["indicators"]["enrolment_rate"] == {
        "numerator": None, "denominator": None, "value": None,
    }  # fmt: skip
    for region in (COUNTY, T1, T2):
        figures = _cli(region)["indicators"] if region != COUNTY else data["indicators"]
        for indicator in INDICATORS:
            entry = figures[indicator.code]
            if entry["denominator"] is None:
                continue
            # The dashboard shows the same numbers, each a link to the rows behind it.
            for side in ("numerator", "denominator"):
                url = reverse("indicators:drill", args=[indicator.code, side])
                shown = re.search(
                    rf'href="{url}\?year={YEAR}&amp;region={region}" title="[^"]*">([^<]+)</a>', html
                )
                assert shown and shown.group(1) == str(entry[side]), (indicator.code, side, region)
            if indicator.money:
                continue  # the rows behind are claims: their sums are checked by the export test
            assert _drill_count(client, indicator.code, "numerator", region) == entry["numerator"], (
                indicator.code
            )
            assert _drill_count(client, indicator.code, "denominator", region) == entry["denominator"], (
                indicator.code
            )


def test_money_drill_export_sums_equal_the_figure(world: World, login: Any) -> None:
    client = login(world.users["admin"])
    data = _cli(COUNTY)["indicators"]["actual_reimbursement_ratio"]
    url = reverse("indicators:drill_export", args=["actual_reimbursement_ratio", "denominator"])
    book = openpyxl.load_workbook(BytesIO(background_export(client, url, year=YEAR)))
    sheet = book.active
    headers = [c.value for c in sheet[1]]
    rows = [r for r in sheet.iter_rows(min_row=2, values_only=True) if isinstance(r[0], int)]
    counted = sum(Decimal(str(r[headers.index("计入结算费用")])) for r in rows)
    funds = sum(
        Decimal(str(r[headers.index(h)]))
        for r in rows
        for h in ("基本医保", "大病保险", "医疗救助", "补充保障")
    )
    assert f"{counted:.2f}" == data["denominator"] == "35000.05"
    assert f"{funds:.2f}" == data["numerator"] == "29000.03"
    assert sheet.freeze_panes == "A2"
    downloads = AuditEvent.objects.filter(
        action=AuditAction.EXPORT, detail__startswith="下载后台导出：2024年度"
    )
    assert downloads.count() == 1


def test_township_user_sees_only_its_township(world: World, login: Any) -> None:
    client = login(world.users["t1"])
    html = client.get(reverse("indicators:dashboard"), {"year": YEAR}).content.decode()
    assert "第1镇" in html and "第2镇" not in html
    # Another township's dashboard, drill-down, export, ledger and report: 404.
    for name, args in (
        ("indicators:dashboard", []),
        ("indicators:drill", ["contract_rate", "denominator"]),
        ("indicators:drill_export", ["contract_rate", "denominator"]),
        ("indicators:ledger_export", ["roster"]),
        ("indicators:report", []),
    ):
        send = client.post if name.endswith("_export") else client.get  # exports are queued by POST
        for region in (T2, COUNTY):
            assert send(f"{reverse(name, args=args)}?year={YEAR}&region={region}").status_code == 404, name
    # Its own township's drill lists only its persons.
    assert _drill_count(client, "verification_rate", "denominator", T1) == 3
    page = client.get(reverse("indicators:drill", args=["verification_rate", "denominator"]), {"year": YEAR})
    text = page.content.decode()
    assert "甲" in text and "子" not in text and "癸" not in text


def test_village_doctor_scope_and_hospital_refused(world: World, login: Any) -> None:
    client = login(world.users["doctor"])
    assert client.get(reverse("indicators:dashboard"), {"year": YEAR}).status_code == 200
    assert client.get(reverse("indicators:dashboard"), {"year": YEAR, "region": T1}).status_code == 404
    assert _drill_count(client, "verification_rate", "denominator", T1V1) == 3
    client = login(world.users["hospital"])
    assert client.get(reverse("indicators:dashboard")).status_code == 403


def test_bad_parameters_are_404(world: World, login: Any) -> None:
    client = login(world.users["admin"])
    assert (
        client.get(reverse("indicators:drill", args=["nope", "numerator"]), {"year": YEAR}).status_code == 404
    )
    assert (
        client.get(reverse("indicators:drill", args=["contract_rate", "x"]), {"year": YEAR}).status_code
        == 404
    )
    assert client.get(reverse("indicators:dashboard"), {"year": "abc"}).status_code == 404


def test_no_data_indicator_drill_says_so(world: World, login: Any) -> None:
    client = login(world.users["admin"])
    # No enrolment record of 2030: 暂无数据.
    html = client.get(reverse("indicators:drill", args=["enrolment_rate", "numerator"]), {"year": 2030})
    assert "暂无数据" in html.content.decode()


def test_dashboard_query_count_is_constant(world: World, login: Any) -> None:
    client = login(world.users["admin"])
    client.get(reverse("indicators:dashboard"), {"year": YEAR})
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("indicators:dashboard"), {"year": YEAR}).status_code == 200
    assert len(queries) <= 12


def test_drill_view_is_audited(world: World, login: Any) -> None:
    client = login(world.users["inspector"])
    _drill_count(client, "contract_rate", "numerator", COUNTY)
    event = AuditEvent.objects.get(action=AuditAction.VIEW_PERSON, object_type="indicator_drill")
    assert (
        event.object_id == "contract_rate/numerator" and event.username == world.users["inspector"].username
    )


def test_refresh_only_county_admin(world: World, login: Any) -> None:
    client = login(world.users["t1"])
    assert client.post(reverse("indicators:refresh"), {"year": YEAR}).status_code == 403
    client = login(world.users["admin"])
    response = client.post(reverse("indicators:refresh"), {"year": YEAR})
    assert response.status_code == 302


# --- ledgers -------------------------------------------------------------------------------------


def _ledger(client: Any, kind: str, region: str = COUNTY) -> tuple[list[Any], list[tuple[Any, ...]], str]:
    data = background_export(
        client, reverse("indicators:ledger_export", args=[kind]), year=YEAR, region=region
    )
    sheet = openpyxl.load_workbook(BytesIO(data)).active
    headers = [c.value for c in sheet[1]]
    assert sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    body = [r for r in rows if isinstance(r[0], int)]
    total = next(r for r in rows if r[0] == "合计")
    return headers, body, str(total[1])


def test_ledger_totals_equal_the_indicators(world: World, login: Any) -> None:
    client = login(world.users["admin"])
    figures = _cli(COUNTY)["indicators"]
    headers, roster, total = _ledger(client, "roster")
    assert total == "7人" and len(roster) == 7  # the hand count of target persons
    insured = sum(1 for r in roster if r[headers.index("参保状态")] == "已参保")
    assert insured == figures["enrolment_rate"]["numerator"] == 4
    assert len(roster) == figures["enrolment_rate"]["denominator"]
    headers, contracts, total = _ledger(client, "contracts")
    assert len(contracts) == figures["contract_rate"]["numerator"] == 2
    fulfilled = sum(1 for r in contracts if r[headers.index("履约")] == "是")
    assert fulfilled == figures["fulfilment_rate"]["numerator"] == 1
    headers, claims, total = _ledger(client, "settlement")
    # Both kinds: the stays are the stays' indicators' rows, the outpatient claims the outpatient ones'.
    kind = headers.index("就诊类别")
    stays = [r for r in claims if r[kind] == "住院"]
    outpatient = [r for r in claims if r[kind] == "门诊慢特病"]
    assert len(claims) == len(stays) + len(outpatient)
    assert len(stays) == figures["in_county_rate"]["denominator"] == 3
    assert len(outpatient) == figures["one_stop_outpatient_count"]["denominator"] == 2
    assert {r[headers.index("门诊慢特病病种")] for r in outpatient} == {"高血压"}
    counted = sum(Decimal(str(r[headers.index("计入结算费用")])) for r in stays)
    assert f"{counted:.2f}" == figures["actual_reimbursement_ratio"]["denominator"]
    counted = sum(Decimal(str(r[headers.index("计入结算费用")])) for r in outpatient)
    personal = sum(Decimal(str(r[headers.index("个人负担")])) for r in outpatient)
    assert f"{counted:.2f}" == figures["outpatient_personal_share"]["denominator"] == "3000.00"
    assert f"{personal:.2f}" == figures["outpatient_personal_share"]["numerator"] == "400.00"
    _, cards, total = _ledger(client, "cards")
    assert len(cards) == figures["chronic_card_count"]["numerator"] == 2 and total == "2张"
    _, t1_roster, _ = _ledger(client, "roster", T1)
    assert len(t1_roster) == 4  # A C D F


def test_treatment_ledger_reused(world: World, login: Any) -> None:
    client = login(world.users["admin"])
    data = background_export(client, reverse("indicators:ledger_export", args=["treatment"]), year=YEAR)
    sheet = openpyxl.load_workbook(BytesIO(data)).active
    assert sheet.title == "大病专项救治台账"
    # With the settlement amounts of each case (issue 6), not the "no settlement data" note.
    headers = [c.value for c in sheet[1]]
    assert {"结算次数", "医疗总费用", "个人自付", "实际报销比例"} <= set(headers)
    notes = [row[0] for row in sheet.iter_rows(values_only=True) if isinstance(row[0], str)]
    assert not any("暂无结算数据" in note for note in notes)


def test_premium_ledger_most_favourable_rule(world: World, login: Any) -> None:
    client = login(world.users["admin"])
    page = client.get(reverse("indicators:ledgers"), {"year": YEAR}).content.decode()
    assert "参保资助台账" in page and "暂无数据" in page  # no rule yet: not offered
    assert (
        client.post(f"{reverse('indicators:ledger_export', args=['premium'])}?year={YEAR}").status_code == 404
    )
    for tag, subsidy in (("poor", "125.00"), ("tekun", "250.00"), ("dibao", "250.00"), ("orphan", "250.00")):
        services.premium_rule_set(
            year=YEAR, tag=tag, premium_amount=Decimal("250.00"), subsidy_amount=Decimal(subsidy)
        )
    headers, rows, total = _ledger(client, "premium")
    by_name = {r[headers.index("姓名")]: r for r in rows}
    # Alive on 2024-12-31 holding a subsidised tag: A D F J K (poor), E (orphan); D also tekun → 250.
    # Not: B (dibao ended 2023), C I H (dead), G (tekun from 2025).
    assert sorted(by_name) == sorted(["甲", "丁", "己", "癸", "子", "戊"])
    assert (
        by_name["丁"][headers.index("资助金额")] == 250
        and by_name["丁"][headers.index("资助类别")] == "特困供养"
    )
    assert by_name["甲"][headers.index("资助金额")] == 125 and by_name["甲"][headers.index("个人实缴")] == 125
    # The enrolment records: status, premium actually paid, subsidy actually received (blank: no record).
    status, paid, got = (headers.index(h) for h in ("参保状态", "实际个人缴费", "实际资助金额"))
    assert [by_name[n][status] for n in ("甲", "丁", "己", "戊", "子")] == [
        "已参保", "已参保", "未参保", "已参保", "无参保记录",
    ]  # fmt: skip
    assert (by_name["丁"][paid], by_name["丁"][got]) == (0, 250)
    assert by_name["子"][paid] is None and by_name["子"][got] is None
    assert total == "6人"
    assert PremiumRule.objects.count() == 4


def test_rectification_tracker(world: World, login: Any) -> None:
    client = login(world.users["t1"])
    response = client.post(
        reverse("indicators:rectification_list"),
        {"region_code": T1, "finding": "部分签约未交付", "owner": "王院长", "deadline_on": "2024-12-31"},
    )
    assert response.status_code == 302
    item = Rectification.objects.get()
    # Another township's region is refused; done without evidence is refused.
    client.post(
        reverse("indicators:rectification_list"),
        {"region_code": T2, "finding": "x", "owner": "y", "deadline_on": "2024-12-31"},
    )
    assert Rectification.objects.count() == 1
    client.post(
        reverse("indicators:rectification_update", args=[item.pk]), {"status": "done", "evidence": ""}
    )
    item.refresh_from_db()
    assert item.status == RectificationStatus.OPEN
    client.post(
        reverse("indicators:rectification_update", args=[item.pk]), {"status": "done", "evidence": "交付照片"}
    )
    item.refresh_from_db()
    assert item.status == RectificationStatus.DONE and item.done_on is not None
    other = login(world.users["t2"])
    assert (
        other.post(reverse("indicators:rectification_update", args=[item.pk]), {"status": "open"}).status_code
        == 404
    )
    assert "部分签约未交付" not in other.get(reverse("indicators:rectification_list")).content.decode()
    headers, rows, total = _ledger(login(world.users["admin"]), "rectification")
    assert total == "1项" and rows[0][headers.index("状态")] == "已整改"


# --- report --------------------------------------------------------------------------------------


def test_report_figures_equal_the_snapshot(world: World, login: Any) -> None:
    from docx import Document

    client = login(world.users["admin"])
    data = _download(client, reverse("indicators:report"), year=YEAR)
    document = Document(BytesIO(data))
    text = "\n".join(p.text for p in document.paragraphs)
    for heading in (
        "精准识别",
        "先诊疗后付费",
        "一站式结算",
        "大病集中救治一批",
        "慢病签约服务管理一批",
        "重病兜底保障一批",
        "结算保障",
        "组织保障",
    ):
        assert heading in text, heading
    assert "大病救治率：应救治病例 3，已救治+救治中 2，大病救治率 66.67%。" in text
    assert "实际报销比例：计入结算费用（元） 35000.05，报销金额（元） 29000.03，实际报销比例 82.86%。" in text
    assert "参保率：目标人数 7，参保人数 4，参保率 57.14%。" in text
    # Summary table + one table per township, each with every indicator.
    assert len(document.tables) == 3
    township = document.tables[1]
    rows = {r.cells[0].text: [c.text for c in r.cells] for r in township.rows}
    cli = _cli(T1)["indicators"]
    assert rows["签约率"][1:3] == [
        str(cli["contract_rate"]["numerator"]),
        str(cli["contract_rate"]["denominator"]),
    ]
    assert AuditEvent.objects.filter(object_type="self_assessment_report").count() == 1


def test_alert_ledger_reused_and_no_data_ledgers_not_offered(world: World, login: Any) -> None:
    client = login(world.users["admin"])
    data = background_export(client, reverse("indicators:ledger_export", args=["alerts"]), year=YEAR)
    assert openpyxl.load_workbook(BytesIO(data)).active.title == "防返贫监测预警台账"
    # 2030: no claims, cards or alerts → those ledgers are not offered (404), never empty fakes.
    for kind in ("settlement", "cards", "alerts", "contracts", "premium"):
        response = client.post(f"{reverse('indicators:ledger_export', args=[kind])}?year=2030")
        assert response.status_code == 404, kind
    assert client.post(f"{reverse('indicators:ledger_export', args=['nope'])}?year={YEAR}").status_code == 404


def test_drill_page_query_count_does_not_grow_with_rows(world: World, login: Any) -> None:
    client = login(world.users["admin"])
    url = reverse("indicators:drill", args=["verification_rate", "denominator"])

    def queries(region: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url, {"year": YEAR, "region": region}).status_code == 200
        return len(captured)

    # 6 rows county-wide, 3 in t2v1: the same number of queries.
    assert queries(COUNTY) == queries("421321002001")
