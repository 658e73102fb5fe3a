"""Each indicator on the hand-built county (factories.py): expected figures worked out by hand."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from jkfp.indicators import selectors, services
from jkfp.indicators.catalogue import INDICATORS
from jkfp.indicators.compute import Figure
from jkfp.indicators.definitions import target_persons
from jkfp.indicators.tests.factories import YEAR, World

pytestmark = pytest.mark.django_db

T1V1, T1V2, T2V1, T2V2 = "421321001001", "421321001002", "421321002001", "421321002002"
T1, T2, COUNTY = "421321001000", "421321002000", "421321"

# Hand-computed (see the factories docstring): code → region → (numerator, denominator).
EXPECTED: dict[str, dict[str, tuple[int, int]]] = {
    # Ill target persons: A C D (t1v1), I J K (t2v1); verified (confirmed/rejected): A D, J.
    "verification_rate": {
        T1V1: (2, 3), T1V2: (0, 0), T2V1: (1, 3), T2V2: (0, 0), T1: (2, 3), T2: (1, 3), COUNTY: (3, 6),
    },
    # Cases of target persons diagnosed by 2024-12-31, not `not_needed`: A (treated), C (untreated),
    # J (in treatment). D is not_needed, F's case is of 2025, B is not a target.
    "major_treatment_rate": {
        T1V1: (1, 2), T1V2: (0, 0), T2V1: (1, 1), T2V2: (0, 0), T1: (1, 2), T2: (1, 1), COUNTY: (2, 3),
    },
    # At home: A D (t1v1), K (t2v1); C I dead, F away, J lost. Contracts covering 2024: A, D (K's is
    # terminated, E is no target).
    "contract_rate": {T1V1: (2, 2), T1V2: (0, 0), T2V1: (0, 1), T1: (2, 2), T2: (0, 1), COUNTY: (2, 3)},
    # Contracted at home: A (4 face-to-face htn + check: fulfilled), D (3 face-to-face htn, no dm visit).
    "fulfilment_rate": {T1V1: (1, 2), T2V1: (0, 0), COUNTY: (1, 2)},
    # Served (not dead, not lost): A D (t1v1), F (t1v2), K (t2v1). Records by 2024-12-31: A, F.
    "record_rate": {T1V1: (1, 2), T1V2: (1, 1), T2V1: (0, 1), T1: (2, 3), COUNTY: (2, 4)},
    # Checks dated 2024 among served: A, D (J is lost: not in the denominator; F's is of 2023).
    "checkup_rate": {T1V1: (2, 2), T1V2: (0, 1), T2V1: (0, 1), COUNTY: (2, 4)},
    # Served with hypertension: A, D, K (I is dead). ≥ 4 face-to-face: A. Latest controlled: A.
    "htn_standard_rate": {T1V1: (1, 2), T2V1: (0, 1), COUNTY: (1, 3)},
    "htn_control_rate": {T1V1: (1, 2), T2V1: (0, 1), COUNTY: (1, 3)},
    # Served with diabetes: D, K (C dead, J lost). K: 4 home visits, latest controlled.
    "dm_standard_rate": {T1V1: (0, 1), T2V1: (1, 1), COUNTY: (1, 2)},
    "dm_control_rate": {T1V1: (0, 1), T2V1: (1, 1), COUNTY: (1, 2)},
    # Settled claims of targets discharged in 2024: c1, c2 (A), c3 (J). In county: c1, c3.
    "in_county_rate": {T1V1: (1, 2), T2V1: (1, 1), T1: (1, 2), COUNTY: (2, 3)},
    # One slip (window/api): c1, c3; c2 came by import.
    "one_stop_count": {T1V1: (1, 2), T2V1: (1, 1), COUNTY: (2, 3)},
    # Outpatient claims of targets in 2024: o1 (A, window), o2 (J, import); o3 is E's (no target).
    "one_stop_outpatient_count": {T1V1: (1, 1), T2V1: (0, 1), T1: (1, 1), COUNTY: (1, 2)},
    # Admissions of targets in 2024 not cancelled: A (deferred), D.
    "deferred_payment_count": {T1V1: (1, 2), T2V1: (0, 0), COUNTY: (1, 2)},
    # Alerts of 2024: A (in time), E (never verified) in t1v1; J (late) in t2v1. K's is of 2023.
    "alert_handling_rate": {T1V1: (1, 2), T2V1: (0, 1), T1: (1, 2), T2: (0, 1), COUNTY: (1, 3)},
    # Target persons (every one, also C and I who died in 2024; not H who died in 2023, nor E) and those
    # insured in 2024: t1v1 A C D of A C D; t1v2 none of F; t2v1 J of I J K.
    "enrolment_rate": {
        T1V1: (3, 3), T1V2: (0, 1), T2V1: (1, 3), T1: (3, 4), T2: (1, 3), COUNTY: (4, 7),
    },
    # Cards certified 2024 to targets: A, J. Served targets with a chronic condition: A, D, K.
    "chronic_card_count": {T1V1: (1, 2), T2V1: (1, 1), T2: (1, 1), COUNTY: (2, 3)},
}  # fmt: skip


def _figures(code: str) -> dict[str, Figure]:
    services.snapshot_refresh(year=YEAR)
    out = {}
    from jkfp.regions.models import Region

    for region in Region.objects.all():
        report = selectors.region_report(year=YEAR, region=region)
        out[region.code] = report.region.figures[code]
    return out


def test_target_persons_by_hand(world: World) -> None:
    names = set(target_persons(YEAR).values_list("name", flat=True))
    # A 甲, C 丙 (died in the year holding monitored), D 丁 (two tags, once), F 己, I 壬 (held dibao
    # on his death day), J 癸, K 子. Not: B (ended 2023), E (orphan), G (from 2025), H (died 2023).
    assert names == {"甲", "丙", "丁", "己", "壬", "癸", "子"}
    assert target_persons(YEAR).count() == 7


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_indicator_by_hand(world: World, code: str) -> None:
    figures = _figures(code)
    for region, (num, den) in EXPECTED[code].items():
        assert figures[region] == Figure(Decimal(num), Decimal(den)), (code, region)


# Money: yuan with two decimals (hand sums of the factories' claims).
EXPECTED_MONEY: dict[str, dict[str, tuple[str, str]]] = {
    "actual_reimbursement_ratio": {
        T1V1: ("25000.00", "30000.00"), T2V1: ("4000.03", "5000.05"), T1V2: ("0.00", "0.00"),
        COUNTY: ("29000.03", "35000.05"),
    },
    "personal_share": {
        T1V1: ("5000.00", "30000.00"), T2V1: ("1000.02", "5000.05"), COUNTY: ("6000.02", "35000.05"),
    },
    "outpatient_personal_share": {
        T1V1: ("100.00", "1000.00"), T2V1: ("300.00", "2000.00"), COUNTY: ("400.00", "3000.00"),
    },
}  # fmt: skip


@pytest.mark.parametrize("code", sorted(EXPECTED_MONEY))
def test_money_indicator_by_hand(world: World, code: str) -> None:
    figures = _figures(code)
    for region, (num, den) in EXPECTED_MONEY[code].items():
        assert figures[region] == Figure(Decimal(num), Decimal(den)), (code, region)


def test_value_rounding_and_zero_denominator(world: World) -> None:
    figures = _figures("major_treatment_rate")
    assert figures[COUNTY].value == Decimal("0.6667")  # 2/3 half-up to 4 decimals
    assert figures[T1].value == Decimal("0.5000")
    assert figures[T2V2].value is None  # 0/0


def test_enrolment_where_no_record_exists_is_no_data_never_zero(world: World) -> None:
    from jkfp.registry.models import Enrolment

    figures = _figures("enrolment_rate")
    assert figures[COUNTY].value == Decimal("0.5714")  # 4 / 7
    assert figures[T2V2] == Figure(None, None)  # no enrolment record in this village
    # Records only in 第1镇: 第2镇 and its villages are 暂无数据; the county still counts all its targets.
    Enrolment.objects.filter(person__village__parent__code=T2).delete()
    figures = _figures("enrolment_rate")
    assert figures[T1] == Figure(Decimal(3), Decimal(4))
    assert figures[T2] == figures[T2V1] == Figure(None, None)
    assert figures[COUNTY] == Figure(Decimal(3), Decimal(7))
    # No record of the year at all: 暂无数据 everywhere.
    Enrolment.objects.filter(year=YEAR).delete()
    figures = _figures("enrolment_rate")
    assert figures[COUNTY] == figures[T1] == Figure(None, None)
    assert figures[COUNTY].value is None


def test_enrolment_drill_lists_status_and_amounts(world: World) -> None:
    from jkfp.indicators.selectors import drill

    services.snapshot_refresh(year=YEAR)
    rows = drill(
        user=world.users["admin"], year=YEAR, code="enrolment_rate", region_code=T1, side="denominator"
    )
    assert rows is not None
    paths = [c.path for c in rows.columns]
    listed = {
        r[0]: r[1:] for r in rows.rows.values_list("name", "enrol_status", "enrol_premium", "enrol_subsidy")
    }
    assert listed == {
        "甲": ("insured", Decimal("125.00"), Decimal("125.00")),
        "丙": ("insured", Decimal("0.00"), Decimal("250.00")),
        "丁": ("insured", Decimal("0.00"), Decimal("250.00")),
        "己": ("uninsured", Decimal("0.00"), Decimal("0.00")),
    }
    assert "enrol_status" in paths


def test_without_data_every_source_indicator_is_no_data(county: dict[str, Any]) -> None:
    services.snapshot_refresh(year=YEAR)
    report = selectors.region_report(year=YEAR, region=county["county"])
    for code in ("major_treatment_rate", "contract_rate", "checkup_rate", "htn_control_rate",
                 "actual_reimbursement_ratio", "in_county_rate", "chronic_card_count"):  # fmt: skip
        assert not report.region.figures[code].has_data, code
    data = selectors.report_json(report)
    assert data["indicators"]["actual_reimbursement_ratio"] == {
        "numerator": None,
        "denominator": None,
        "value": None,
    }


def test_other_year_counts_only_its_events(world: World) -> None:
    """2025: F's case (diagnosed 2025) and A's 2025 visit count; no settled claim of 2025 exists."""
    services.snapshot_refresh(year=2025)
    report = selectors.region_report(year=2025, region=world.county["county"])
    assert not report.region.figures["actual_reimbursement_ratio"].has_data
    # 2025 targets: A D F G J K (+ C I H died earlier: out). Cases not not_needed: A C(dead 2024: out)
    # → A (treated), F (treated), J (in treatment).
    assert report.region.figures["major_treatment_rate"] == Figure(Decimal(3), Decimal(3))


def _cli(*args: str) -> str:
    out = StringIO()
    call_command("indicators", *args, stdout=out)
    return out.getvalue()


def test_cli_json_shape_exact(world: World) -> None:
    data = json.loads(_cli("--year", str(YEAR), "--region", COUNTY, "--json"))
    assert list(data) == ["region", "year", "indicators", "children"]
    assert data["region"] == COUNTY and data["year"] == YEAR
    assert list(data["indicators"]) == [i.code for i in INDICATORS]
    for entry in data["indicators"].values():
        assert list(entry) == ["numerator", "denominator", "value"]
    assert data["indicators"]["verification_rate"] == {"numerator": 3, "denominator": 6, "value": 0.5}
    assert data["indicators"]["major_treatment_rate"] == {"numerator": 2, "denominator": 3, "value": 0.6667}
    # 29000.03 / 35000.05 = 0.828571… → 0.8286; money as yuan strings.
    assert data["indicators"]["actual_reimbursement_ratio"] == {
        "numerator": "29000.03", "denominator": "35000.05", "value": 0.8286,
    }  # fmt: skip
    assert data["indicators"]["personal_share"]["value"] == 0.1714
    assert data["indicators"]["enrolment_rate"] == {"numerator": 4, "denominator": 7, "value": 0.5714}
    assert [c["region"] for c in data["children"]] == [T1, T2]
    assert all(list(c) == ["region", "indicators"] for c in data["children"])
    assert data["children"][0]["indicators"]["verification_rate"] == {
        "numerator": 2, "denominator": 3, "value": 0.6667,
    }  # fmt: skip
    assert data["children"][1]["indicators"]["verification_rate"] == {
        "numerator": 1, "denominator": 3, "value": 0.3333,
    }  # fmt: skip
    township = json.loads(_cli("--year", str(YEAR), "--region", T2, "--json"))
    assert [c["region"] for c in township["children"]] == [T2V1, T2V2]
    assert township["children"][1]["indicators"]["verification_rate"] == {
        "numerator": 0, "denominator": 0, "value": None,
    }  # fmt: skip


def test_cli_unknown_region(world: World) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="unknown region"):
        _cli("--year", str(YEAR), "--region", "999999", "--json")


def test_cli_table(world: World) -> None:
    text = _cli("--year", str(YEAR), "--refresh")
    assert "大病救治率" in text and "66.67%" in text and "参保率" in text and "57.14%" in text
    assert "暂无数据" in _cli("--year", "2030", "--refresh")  # no data of 2030: never 0


def test_alert_handling_agrees_with_the_monitoring_selector(world: World) -> None:
    from jkfp.monitoring.selectors import alert_handling

    figures = _figures("alert_handling_rate")
    for region_key in ("county", "t1", "t2", "t1v1"):
        region = world.county[region_key]
        theirs = alert_handling(user=world.users["admin"], year=YEAR, region=region)
        assert figures[region.code] == Figure(Decimal(theirs.numerator), Decimal(theirs.denominator))


def test_refresh_task_and_replacement(world: World, settings: Any) -> None:
    from jkfp.indicators.models import IndicatorSnapshot, SnapshotRun
    from jkfp.indicators.tasks import snapshot_refresh_task

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    snapshot_refresh_task.enqueue(year=YEAR)
    first = IndicatorSnapshot.objects.filter(year=YEAR).count()
    snapshot_refresh_task.enqueue(year=YEAR)  # replaces, never duplicates
    assert IndicatorSnapshot.objects.filter(year=YEAR).count() == first > 0
    assert SnapshotRun.objects.get(year=YEAR).computed_at is not None


def test_refresh_refuses_a_silly_year() -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.snapshot_refresh(year=1999)
