"""The assessment read from the database and ``jkfp capacity``: exact JSON, dates, bad arguments."""

from __future__ import annotations

import json
from datetime import date
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from jkfp.capacity import selectors
from jkfp.capacity.models import CapacityStandard
from jkfp.capacity.tests.conftest import AS_OF, CapacityWorld
from jkfp.regions.models import Region

EXPECTED = {
    "region": "421321",
    "as_of": "2025-06-30",
    "townships": 2,
    "townships_ok": 1,
    "villages": 4,
    "villages_with_clinic": 3,
    "villages_covered_by_exception": 1,
    "clinics": 2,
    "clinics_standardised": 1,
    "clinics_with_qualified_doctor": 1,
    "blank_points": [
        {"code": "421321002000", "name": "第2镇", "kind": "township", "reason": "第2镇卫生院未标准化达标"},
        {
            "code": "C21",
            "name": "第2镇联合卫生室",
            "kind": "clinic",
            "reason": "无在岗合格村医（持乡村医生证或以上资质的乡村医生、医生）；原村医吴村医于2025-05-31离岗",
        },
    ],
}


def run_json(*args: str) -> dict[str, Any]:
    out = StringIO()
    call_command("capacity", *args, "--json", stdout=out)
    parsed: dict[str, Any] = json.loads(out.getvalue())
    return parsed


def test_command_json_is_exact(world: CapacityWorld) -> None:
    assert run_json("--region", "421321", "--as-of", "2025-06-30") == EXPECTED


def test_township_and_village_regions(world: CapacityWorld) -> None:
    t2 = run_json("--region", "421321002000", "--as-of", "2025-06-30")
    assert (t2["townships"], t2["villages"], t2["clinics"], t2["villages_with_clinic"]) == (1, 2, 1, 2)
    # A village served from a clinic standing in the neighbouring village still has a clinic.
    v = run_json("--region", "421321002002", "--as-of", "2025-06-30")
    assert (v["townships"], v["villages"], v["villages_with_clinic"], v["clinics"], v["blank_points"]) == (
        0,
        1,
        1,
        0,
        [],
    )


def test_dates_move_the_result(world: CapacityWorld) -> None:
    """Before the doctor retired C21 had one; before H002's standardisation 第1镇 was not ok."""
    before = run_json("--region", "421321", "--as-of", "2025-05-31")
    assert before["clinics_with_qualified_doctor"] == 2
    assert [b["code"] for b in before["blank_points"]] == ["421321002000"]
    early = run_json("--region", "421321", "--as-of", "2018-12-31")
    assert early["townships_ok"] == 0
    assert early["clinics_standardised"] == 0


def test_county_standard_in_force(world: CapacityWorld) -> None:
    """From 2025-01-01 this county does not ask for standardised township centres: 第2镇 becomes ok."""
    CapacityStandard.objects.create(
        county_id="421321", start_on=date(2025, 1, 1), township_standardised=False, note="县卫健发〔2025〕1号"
    )
    assert run_json("--region", "421321", "--as-of", "2025-06-30")["townships_ok"] == 2
    assert run_json("--region", "421321", "--as-of", "2024-12-31")["townships_ok"] == 1
    county = Region.objects.get(code="421321")
    result = selectors.assessment(region=county, as_of=AS_OF)
    check = result.townships[1].checks[1]
    assert (check.state, check.reason) == ("exempted", "本县标准不要求（县卫健发〔2025〕1号）")
    assert result.counties[0].checks[0].state == "met"


def test_command_text_and_errors(world: CapacityWorld) -> None:
    out = StringIO()
    call_command("capacity", "--region", "421321", "--as-of", "2025-06-30", stdout=out)
    text = out.getvalue()
    assert "空白点 blank points: 2" in text
    assert "[村卫生室] 第2镇联合卫生室（C21）" in text
    with pytest.raises(CommandError, match="区划代码999999不存在") as unknown:
        call_command("capacity", "--region", "999999")
    assert unknown.value.returncode == 2
    with pytest.raises(CommandError, match="日期不存在") as bad:
        call_command("capacity", "--region", "421321", "--as-of", "2025-02-30")
    assert bad.value.returncode == 2


def test_queries_do_not_grow_with_the_county(
    world: CapacityWorld, django_assert_max_num_queries: object
) -> None:
    county = Region.objects.get(code="421321")
    with django_assert_max_num_queries(6):  # type: ignore[operator]
        selectors.assessment(region=county, as_of=AS_OF)
