"""审计（结算窗口） Issue 17 §4: the window's settlement and reversal carry IP, user agent, the claim and
its amounts; a probe of another hospital's claim is a denied access."""

from __future__ import annotations

from typing import Any

import pytest

from jkfp.accounts.models import AuditAction, AuditEvent
from jkfp.settlement.models import Admission
from jkfp.settlement.tests.factories import SettleWorld
from jkfp.web.settlement.tests.test_pages import _settled, admit, url

pytestmark = pytest.mark.django_db

BROWSER: dict[str, Any] = {"REMOTE_ADDR": "10.20.30.40", "HTTP_USER_AGENT": "Mozilla/5.0 窗口测试"}


def test_window_settlement_carries_ip_agent_claim_and_amounts(sw: SettleWorld, login: Any) -> None:
    client = login(sw.users["hosp"])
    assert admit(client, sw).status_code == 302
    admission = Admission.objects.get()
    response = client.post(
        url("discharge", admission.pk),
        {
            "claim_id": "ZY-0001",
            "discharged_on": "2020-03-01",
            "total_amount": "20000.00",
            "out_of_scope_amount": "1000.00",
        },
        **BROWSER,
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=AuditAction.SETTLE, object_id="ZY-0001")
    assert (event.username, event.ip_address, event.user_agent) == (
        "hosp",
        "10.20.30.40",
        "Mozilla/5.0 窗口测试",
    )
    # The worked example E1 of settlement.md, to the fen.
    assert event.detail == (
        "结算 ZY-0001 总费用20000.00 目录外1000.00 基本医保14800.00 大病保险0.00 医疗救助2940.00 "
        "补充保险260.00 医院承担0.00 个人负担2000.00"
    )


def test_window_reversal_carries_ip_agent_claim_and_amounts(sw: SettleWorld, login: Any) -> None:
    _settled(sw)
    response = login(sw.users["hosp"]).post(url("reverse", "E1"), {"reason": "费用录入错误"}, **BROWSER)
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=AuditAction.REVERSE, object_id="E1")
    assert (event.ip_address, event.user_agent) == ("10.20.30.40", "Mozilla/5.0 窗口测试")
    assert event.detail == (
        "冲销（费用录入错误） E1 总费用20000.00 目录外1000.00 基本医保14800.00 大病保险0.00 "
        "医疗救助2940.00 补充保险260.00 医院承担0.00 个人负担2000.00"
    )


def test_admission_from_the_window_is_audited_as_a_write(sw: SettleWorld, login: Any) -> None:
    """A web write whose service audits nothing itself still leaves a row with IP and agent."""
    client = login(sw.users["hosp"])
    assert admit(client, sw).status_code == 302
    event = AuditEvent.objects.get(action=AuditAction.SUBMIT)
    assert (event.username, event.object_id, event.ip_address) == ("hosp", "settlement:window", "127.0.0.1")
    assert event.detail == "POST /settlement/window/ 302"


def test_another_hospitals_claim_is_a_denied_access(sw: SettleWorld, login: Any) -> None:
    _settled(sw)
    path = url("slip", "E1")
    assert login(sw.users["clinic"]).get(path, **BROWSER).status_code == 404
    event = AuditEvent.objects.get(action=AuditAction.DENIED)
    assert (event.username, event.object_id, event.ip_address) == ("clinicuser", path, "10.20.30.40")
    assert event.detail == f"404 GET {path}"
