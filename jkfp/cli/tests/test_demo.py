"""`jkfp demo`: the demo county is imported through the import code, with one account per role,
and running it again changes nothing."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from jkfp.accounts.models import UPPER_ROLES, Role, User
from jkfp.capacity import selectors as capacity_selectors
from jkfp.care.models import TeamMember
from jkfp.ops.models import ExportRun
from jkfp.regions.models import Institution, Region, RegionLevel
from jkfp.registry.models import ChangeLog, Household, Person, SourceRecord, VerificationStatus
from jkfp.registry.reconcile import reconcile_summary
from jkfp.settlement.models import BatchStatus, Claim, ClaimStatus, Payment, PaymentBatch, PaymentStatus

pytestmark = pytest.mark.django_db(transaction=False)

PERSONS = 2000
ROLE_LEVELS = {
    Role.COUNTY_ADMIN: RegionLevel.COUNTY,
    Role.TOWNSHIP: RegionLevel.TOWNSHIP,
    Role.VILLAGE_DOCTOR: RegionLevel.VILLAGE,
    Role.HOSPITAL: RegionLevel.COUNTY,
    Role.FUND: RegionLevel.COUNTY,
    Role.INSPECTOR: RegionLevel.COUNTY,
}


def run_demo(out: Path, **options: Any) -> str:
    buf = io.StringIO()
    call_command("demo", persons=PERSONS, out=out, stdout=buf, **options)
    return buf.getvalue()


def printed_accounts(output: str) -> dict[str, str]:
    """User name → password, read from the table the command prints."""
    accounts = {}
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line) if c.strip()]
        if len(cells) == 4 and cells[0].startswith("demo-"):
            accounts[cells[0]] = cells[3]
    return accounts


def counts() -> dict[str, int]:
    return {
        "persons": Person.objects.count(),
        "households": Household.objects.count(),
        "sources": SourceRecord.objects.count(),
        "changes": ChangeLog.objects.count(),
        "users": User.objects.count(),
        "regions": Region.objects.count(),
        "institutions": Institution.objects.count(),
        "confirmed": Person.objects.filter(verification_status=VerificationStatus.CONFIRMED).count(),
    }


def test_demo_builds_imports_and_is_idempotent(tmp_path: Path) -> None:
    output = run_demo(tmp_path)
    first = counts()
    assert first["persons"] == PERSONS
    assert first["regions"] == 1 + 15 + 350
    for name in ("国家平台.csv", "省健康扶贫系统.xlsx", "县扶贫办.csv", "regions.csv", "institutions.csv"):
        assert (tmp_path / name).is_file()
    assert list((tmp_path / "errors").glob("*.xlsx")), "the invalid rows produce error reports"
    assert "http://127.0.0.1:8000/" in output and "演示账号" in output and "demo accounts" in output

    summary = reconcile_summary()
    assert summary["persons"] == PERSONS
    assert set(summary["sources"]) == {"国家平台", "省健康扶贫系统", "县扶贫办"}
    assert summary["conflicts"] > 0 and summary["in_one"] > 0 and summary["in_all"] > 0
    assert (
        summary["sources"]["省健康扶贫系统"] > summary["sources"]["国家平台"] > summary["sources"]["县扶贫办"]
    )
    statuses = set(Person.objects.values_list("verification_status", flat=True))
    assert {VerificationStatus.PENDING, VerificationStatus.CONFIRMED} <= statuses

    # Capacity (issue 16 item 7): a village without clinic, a clinic whose doctor left last month, a
    # clinic not yet standardised, a village covered by its township centre; members linked to staff.
    today = timezone.localdate()
    result = capacity_selectors.assessment(region=Region.objects.get(code="421321"), as_of=today)
    assert [b.kind for b in result.blank_points] == ["village", "clinic"]
    last_month_end = today.replace(day=1) - timedelta(days=1)
    assert result.blank_points[1].reason.endswith(f"于{last_month_end:%Y-%m-%d}离岗")
    assert result.villages_covered_by_exception == 1
    assert result.clinics_standardised == len(result.clinics) - 1
    assert TeamMember.objects.filter(role="village_doctor", staff__isnull=False).count() > 300

    # 事后补助 (issue 19): stays at a provincial hospital; one batch made and approved by two people and
    # returned by the bank (one card frozen), one batch awaiting approval (with the failed one again).
    batches = list(PaymentBatch.objects.select_related("created_by", "approved_by").order_by("id"))
    assert [(b.status, b.created_by.username, b.approved_by and b.approved_by.username) for b in batches] == [
        (BatchStatus.RETURNED, "demo-admin", "demo-fund"),
        (BatchStatus.PENDING, "demo-fund", None),
    ]
    assert list(Payment.objects.order_by("id").values_list("status", flat=True)) == [
        PaymentStatus.PAID, PaymentStatus.PAID, PaymentStatus.FAILED,
        PaymentStatus.PENDING, PaymentStatus.PENDING, PaymentStatus.PENDING,
    ]  # fmt: skip
    assert Claim.objects.filter(basic_paid_amount__isnull=False, status=ClaimStatus.SETTLED).count() == 5

    output_again = run_demo(tmp_path)
    assert PaymentBatch.objects.count() == 2 and Payment.objects.count() == 6
    assert counts() == first
    assert reconcile_summary() == summary
    assert "新增0，更新0" in output_again and "新增0" in output_again

    accounts = printed_accounts(output_again)
    assert set(accounts) == {"demo-admin", "demo-township", "demo-doctor", "demo-hospital", "demo-fund",
                             "demo-inspector"}  # fmt: skip
    seen_roles = set()
    for username, password in accounts.items():
        user = User.objects.select_related("region").get(username=username)
        seen_roles.add(user.role)
        assert user.region.level == ROLE_LEVELS[user.role]
        assert len(password) >= 8
        client = Client()
        response = client.post(reverse("web:login"), {"username": username, "password": password})
        assert response.status_code == 302, username
        assert client.get(reverse("web:home")).status_code == 200
    # One county: every role of a county; the city and province roles come with --counties (issue 21).
    assert seen_roles == set(Role.values) - UPPER_ROLES
    doctor = User.objects.get(username="demo-doctor")
    township = User.objects.get(username="demo-township")
    assert doctor.region.parent_id == township.region_id
    assert Person.objects.filter(village_id=doctor.region_id).exists()
    hospital = User.objects.get(username="demo-hospital")
    assert hospital.institution is not None and hospital.institution.name == "随县人民医院"


def test_demo_reset_rebuilds_the_same_county(tmp_path: Path) -> None:
    run_demo(tmp_path)
    before = counts()
    admin = User.objects.get(username="demo-admin")
    with pytest.raises(CommandError, match="--yes"):
        run_demo(tmp_path, reset=True, stdin=io.StringIO("y\n"))  # not a terminal, no --yes: refused
    assert counts() == before
    output = run_demo(tmp_path, reset=True, yes=True)
    assert "已删除示例数据" in output
    after = counts()
    assert after == before
    assert not User.objects.filter(pk=admin.pk).exists(), "the accounts were recreated"


def test_demo_refuses_a_tiny_county(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="至少100"):
        call_command("demo", persons=10, out=tmp_path, stdout=io.StringIO())
    assert not Person.objects.exists()


def test_demo_never_touches_a_real_countys_data(tmp_path: Path, county: Any, make_user: Any) -> None:
    """A real 随县 (code 421321, as in the fixture) with a real account: demo and --reset refuse."""
    from jkfp.ops.models import DemoStamp
    from jkfp.registry.models import Person

    make_user(Role.COUNTY_ADMIN, "421321", username="zhang-admin")
    before = (Region.objects.count(), User.objects.count(), Person.objects.count())
    for options in ({}, {"reset": True, "yes": True}):
        with pytest.raises(CommandError, match="示例程序没有创建的数据") as info:
            run_demo(tmp_path, **options)
        assert "区划 regions" in str(info.value) and "the demo did not create" in str(info.value)
    assert (Region.objects.count(), User.objects.count(), Person.objects.count()) == before
    assert not DemoStamp.objects.exists()

    # A demo database where someone then created a real account is no longer the demo's to reset.
    User.objects.all().delete()
    Region.objects.exclude(code__startswith="421321").delete()
    DemoStamp.objects.create(county_code="421321")
    make_user(Role.INSPECTOR, "421321", username="real-inspector")
    with pytest.raises(CommandError, match="real-inspector"):
        run_demo(tmp_path, reset=True, yes=True)
    assert User.objects.filter(username="real-inspector").exists()


def test_demo_enrolment_rate_agrees_in_cli_dashboard_ledger_and_report(tmp_path: Path) -> None:
    """The demo county's 参保率 is computed (not 暂无数据) and is the same number everywhere."""
    import json
    from io import BytesIO

    import openpyxl
    from django.utils import timezone
    from docx import Document

    from jkfp.registry.models import Enrolment

    output = run_demo(tmp_path)
    assert "参保名单" in output and (tmp_path / "参保名单.csv").is_file()
    year = timezone.localdate().year
    out = io.StringIO()
    call_command("indicators", "--year", str(year), "--region", "421321", "--json", stdout=out)
    figure = json.loads(out.getvalue())["indicators"]["enrolment_rate"]
    assert figure["denominator"] > 0 and 0.99 <= figure["value"] < 1, figure  # e.g. 99.4 %
    assert (
        figure["denominator"] - figure["numerator"]
        == Enrolment.objects.filter(year=year, insured=False).count()
    )

    client = Client()
    client.force_login(
        User.objects.get(username="demo-admin"), backend="django.contrib.auth.backends.ModelBackend"
    )
    html = client.get(reverse("indicators:dashboard"), {"year": year}).content.decode()
    for side in ("numerator", "denominator"):
        url = reverse("indicators:drill", args=["enrolment_rate", side])
        shown = re.search(rf'href="{url}\?year={year}&amp;region=421321" title="[^"]*">([^<]+)</a>', html)
        assert shown and shown.group(1) == str(figure[side]), side
    # The ledger is a background export: queued by the page, written by the worker's task, downloaded.
    assert (
        client.post(f"{reverse('indicators:ledger_export', args=['roster'])}?year={year}").status_code == 302
    )
    for queued in DBTaskResult.objects.ready().filter(task_path__endswith=".export_task"):
        queued.task.call(*queued.task_result.args, **queued.task_result.kwargs)
    run = ExportRun.objects.get()
    response = client.get(reverse("web:export_download", args=[run.pk]))
    sheet = openpyxl.load_workbook(BytesIO(b"".join(response.streaming_content))).active
    headers = [c.value for c in sheet[1]]
    rows = [
        r for r in sheet.iter_rows(min_row=2, values_only=True) if isinstance(r[0], int)
    ]  # not 合计/notes
    assert len(rows) == figure["denominator"]
    assert sum(1 for r in rows if r[headers.index("参保状态")] == "已参保") == figure["numerator"]
    response = client.get(reverse("indicators:report"), {"year": year})
    text = "\n".join(p.text for p in Document(BytesIO(b"".join(response.streaming_content))).paragraphs)
    assert f"参保率：目标人数 {figure['denominator']}，参保人数 {figure['numerator']}，" in text
