"""接口审计 Issue 17 §4: API reads are audited, and so is a probe of another hospital's claim; API
settlements and reversals carry the claim's amounts."""

from __future__ import annotations

from typing import Any

import pytest

from jkfp.accounts.models import AuditAction, AuditEvent
from jkfp.api.tests.conftest import ApiWorld
from jkfp.api.tests.test_settlements_api import POST, post_example

pytestmark = pytest.mark.django_db


def test_api_reads_and_denied_probes_are_audited(api_as: Any, world: ApiWorld) -> None:
    assert post_example(api_as, world, "E1").status_code == 200
    settled = AuditEvent.objects.get(action=AuditAction.SETTLE)
    assert settled.detail.startswith("接口结算 E1 总费用") and "个人负担" in settled.detail
    own = api_as("H001")
    assert own.get(f"{POST}/E1").status_code == 200
    read = AuditEvent.objects.get(action=AuditAction.API_READ)
    assert read.username.startswith("接口:H001:") and read.detail == f"{POST}/E1"
    assert read.ip_address == "127.0.0.1" and read.region_code == world.institutions["H001"].region_id
    # Another hospital asking for H001's claim: the same 404 as an unknown one, and a denied access.
    assert api_as("H002").get(f"{POST}/E1").status_code == 404
    denied = AuditEvent.objects.get(action=AuditAction.DENIED)
    assert denied.username.startswith("接口:H002:") and denied.detail == f"404 GET {POST}/E1"
    assert AuditEvent.objects.filter(action=AuditAction.API_READ).count() == 1
