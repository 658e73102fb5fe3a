"""The “三个一” rules and blank points as tables: each requirement met, failed, exempted, and changing with dates.

No database: ``standard.assess`` runs over hand-made facts. One small township (421321001000) with
three villages; each case adds institutions and staff and states what must come out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from jkfp.capacity import standard as s
from jkfp.capacity.standard import Area, Facility, Facts, Standard, Worker

AS_OF = date(2025, 6, 30)
COUNTY = Area("421321", "随县", "county")
TOWN = Area("421321001000", "厉山镇", "township")
V1, V2, V3 = (Area(f"421321001{i:03d}", f"{n}村", "village") for i, n in ((1, "一"), (2, "二"), (3, "三")))


def clinic(
    code: str, village: Area | None, *, served: tuple[str, ...] = (), gov: bool = True, **kw: Any
) -> Facility:
    return Facility(
        code=code,
        name=f"{code}卫生室",
        kind="village_clinic",
        government_run=gov,
        level="1",
        region_code=village.code if village else None,
        standardised=kw.pop("standardised", True),
        standardised_on=kw.pop("on", None),
        served=served,
    )


def centre(
    code: str = "W1",
    *,
    gov: bool = True,
    standardised: bool = True,
    on: date | None = None,
    served: tuple[str, ...] = (),
    kind: str = "township_centre",
    region: str = TOWN.code,
) -> Facility:
    return Facility(code, f"{code}卫生院", kind, gov, "1", region, standardised, on, served)


def hospital(
    code: str = "H1", *, kind: str = "county_hospital", level: str = "2", gov: bool = True
) -> Facility:
    return Facility(code, f"{code}医院", kind, gov, level, COUNTY.code)


def worker(
    inst: str,
    post: str = "village_doctor",
    qual: str = "village_doctor_cert",
    start: date | None = None,
    end: date | None = None,
    name: str = "张医生",
) -> Worker:
    return Worker(name, inst, post, qual, start, end)


def run(
    facilities: list[Facility],
    staff: Sequence[Worker] = (),
    *,
    region: Area = TOWN,
    std: Standard | None = None,
    as_of: date = AS_OF,
) -> s.Assessment:
    facts = Facts(
        region=region,
        townships=[TOWN],
        villages=[V1, V2, V3],
        facilities=list(facilities),
        staff=list(staff),
        standards={"421321": std} if std else {},
        counties=[COUNTY] if region.level == "county" else [],
    )
    return s.assess(facts, as_of=as_of)


def village_status(a: s.Assessment, area: Area) -> str:
    found = a.village(area.code)
    assert found is not None
    return found.status


# --- villages: clinic, joint clinic, the exception, blank ------------------------------------------

VILLAGE_CASES = [
    # (case, facilities, expected status of V1, V2, V3)
    ("own clinic serves its village", [clinic("C1", V1)], ("ok", "blank", "blank")),
    ("joint clinic (与邻村联合设置)", [clinic("C1", V1, served=(V1.code, V2.code))], ("ok", "ok", "blank")),
    ("listed villages only: not its own", [clinic("C1", V1, served=(V2.code,))], ("blank", "ok", "blank")),
    ("exception: centre covers V3", [centre(served=(V3.code,))], ("blank", "blank", "exception")),
    (
        "a clinic wins over the exception",
        [clinic("C3", V3), centre(served=(V3.code,))],
        ("blank", "blank", "ok"),
    ),
    (
        "community centre covers too",
        [centre("S1", kind="community_centre", served=(V2.code,))],
        ("blank", "exception", "blank"),
    ),
    ("a centre covers only what it lists", [centre(region=V1.code)], ("blank", "blank", "blank")),
    ("private clinic does not count", [clinic("C1", V1, gov=False)], ("blank", "blank", "blank")),
    ("private centre is no exception", [centre(gov=False, served=(V1.code,))], ("blank", "blank", "blank")),
    (
        "a clinic of another township serving V2",
        [replace(clinic("C9", None, served=(V2.code,)), region_code="421321002001")],
        ("blank", "ok", "blank"),
    ),
]


@pytest.mark.parametrize(("case", "facilities", "expected"), VILLAGE_CASES, ids=[c[0] for c in VILLAGE_CASES])
def test_villages(case: str, facilities: list[Facility], expected: tuple[str, str, str]) -> None:
    a = run(facilities)
    assert tuple(village_status(a, v) for v in (V1, V2, V3)) == expected
    assert a.blank_codes(s.KIND_VILLAGE) == {
        v.code for v, e in zip((V1, V2, V3), expected, strict=True) if e == "blank"
    }


def test_village_blank_reason_and_checks() -> None:
    a = run([clinic("C1", V1, standardised=False), centre(served=(V3.code,))])
    v1, v2, v3 = (a.village(v.code) for v in (V1, V2, V3))
    assert v1
    assert v2
    assert v3
    assert [(c.requirement, c.state) for c in v1.checks] == [
        (s.REQ_VILLAGE_CLINIC, s.MET),
        (s.REQ_VILLAGE_STANDARDISED, s.FAILED),
    ]
    assert v1.checks[1].reason == "村卫生室C1卫生室未标准化达标"
    assert [c.state for c in v2.checks] == [s.FAILED, s.FAILED]
    assert [c.state for c in v3.checks] == [s.EXEMPTED, s.EXEMPTED]
    assert "W1卫生院" in v3.checks[0].reason
    blank = next(b for b in a.blank_points if b.kind == "village")
    assert blank.as_json() == {
        "code": V2.code,
        "name": "二村",
        "kind": "village",
        "reason": s.WHY_VILLAGE_BLANK,
    }


# --- clinics: the qualified village doctor --------------------------------------------------------

CLINIC_CASES = [
    # (case, staff of C1, standard, has a qualified doctor)
    ("village doctor with 乡村医生证", [worker("C1")], None, True),
    ("doctor post, 执业医师", [worker("C1", "doctor", "physician")], None, True),
    ("乡村全科执业助理医师", [worker("C1", qual="rural_gp_assistant")], None, True),
    ("执业助理医师", [worker("C1", qual="assistant_physician")], None, True),
    ("nurse only", [worker("C1", "nurse", "nurse_licence")], None, False),
    ("village doctor without a certificate", [worker("C1", qual="none")], None, False),
    ("全科医生培训合格 is not a clinic qualification", [worker("C1", qual="gp_trained")], None, False),
    ("qualified, but a manager", [worker("C1", "management", "physician")], None, False),
    ("staff of another clinic", [worker("C2")], None, False),
    ("retired last month", [worker("C1", end=date(2025, 5, 31))], None, False),
    ("retires later", [worker("C1", end=date(2025, 7, 31))], None, True),
    ("on the last day", [worker("C1", end=AS_OF)], None, True),
    ("starts next month", [worker("C1", start=date(2025, 7, 1))], None, False),
    ("started on the day", [worker("C1", start=AS_OF)], None, True),
    ("exempted: the county asks for none", [], Standard(clinic_doctors_min=0, source="试行办法"), True),
    ("two required, one on post", [worker("C1")], Standard(clinic_doctors_min=2), False),
    (
        "two required, two on post",
        [worker("C1"), worker("C1", "doctor", "physician", name="李医生")],
        Standard(clinic_doctors_min=2),
        True,
    ),
]


@pytest.mark.parametrize(
    ("case", "staff", "std", "qualified"), CLINIC_CASES, ids=[c[0] for c in CLINIC_CASES]
)
def test_clinic_doctor(case: str, staff: list[Worker], std: Standard | None, qualified: bool) -> None:
    a = run([clinic("C1", V1), clinic("C2", V2)], staff, std=std)
    c1 = next(c for c in a.clinics if c.facility.code == "C1")
    assert c1.has_qualified_doctor is qualified
    assert ("C1" in a.blank_codes(s.KIND_CLINIC)) is not qualified
    state = next(c.state for c in c1.checks if c.requirement == s.REQ_CLINIC_DOCTOR)
    assert state == (s.EXEMPTED if std and std.clinic_doctors_min == 0 else s.MET if qualified else s.FAILED)


def test_clinic_reasons_name_the_doctor_who_left() -> None:
    a = run(
        [clinic("C1", V1)],
        [worker("C1", end=date(2025, 5, 31), name="王村医"), worker("C1", "nurse", "nurse_licence")],
    )
    blank = next(b for b in a.blank_points if b.kind == "clinic")
    assert blank.as_json() == {
        "code": "C1",
        "name": "C1卫生室",
        "kind": "clinic",
        "reason": f"{s.WHY_CLINIC_NO_DOCTOR}；原村医王村医于2025-05-31离岗",
    }
    assert blank.region_code == V1.code
    too_few = run([clinic("C1", V1)], [worker("C1")], std=Standard(clinic_doctors_min=2)).blank_points[-1]
    assert too_few.reason == "在岗合格村医1人，少于要求的2人"


STANDARDISED_CASES = [
    # (case, standardised, 达标日期, as-of, standard, expected state)
    ("standardised, no date", True, None, AS_OF, None, s.MET),
    ("standardised before", True, date(2020, 1, 1), AS_OF, None, s.MET),
    ("standardised on the day", True, AS_OF, AS_OF, None, s.MET),
    ("standardised later", True, date(2025, 7, 1), AS_OF, None, s.FAILED),
    ("the same clinic after that date", True, date(2025, 7, 1), date(2025, 7, 1), None, s.MET),
    ("not standardised", False, None, AS_OF, None, s.FAILED),
    ("exempted by the county", False, None, AS_OF, Standard(village_standardised=False), s.EXEMPTED),
]


@pytest.mark.parametrize(
    ("case", "flag", "on", "as_of", "std", "state"),
    STANDARDISED_CASES,
    ids=[c[0] for c in STANDARDISED_CASES],
)
def test_clinic_standardisation(
    case: str, flag: bool, on: date | None, as_of: date, std: Standard | None, state: str
) -> None:
    a = run([clinic("C1", V1, standardised=flag, on=on)], [worker("C1")], std=std, as_of=as_of)
    c1 = a.clinics[0]
    assert c1.checks[0].state == state
    assert a.clinics_standardised == (1 if c1.standardised else 0)
    assert c1.standardised is (flag and (on is None or on <= as_of))
    # Standardisation is a check of the standard, never a blank point.
    assert a.blank_codes(s.KIND_CLINIC) == set()


# --- townships: the standardised centre with a licensed physician ----------------------------------

TOWNSHIP_CASES = [
    # (case, facilities, staff, standard, ok)
    ("standardised centre, 执业医师", [centre()], [worker("W1", "doctor", "physician")], None, True),
    ("执业助理医师", [centre()], [worker("W1", "doctor", "assistant_physician")], None, True),
    ("全科医生培训合格", [centre()], [worker("W1", "doctor", "gp_trained")], None, True),
    ("乡村全科执业助理医师", [centre()], [worker("W1", "doctor", "rural_gp_assistant")], None, True),
    (
        "乡村医生证 is not enough",
        [centre()],
        [worker("W1", "village_doctor", "village_doctor_cert")],
        None,
        False,
    ),
    ("no centre", [], [], None, False),
    ("private centre", [centre(gov=False)], [worker("W1", "doctor", "physician")], None, False),
    (
        "a community centre is not a 乡镇卫生院",
        [centre(kind="community_centre")],
        [worker("W1", "doctor", "physician")],
        None,
        False,
    ),
    ("not standardised", [centre(standardised=False)], [worker("W1", "doctor", "physician")], None, False),
    (
        "exempted from standardisation",
        [centre(standardised=False)],
        [worker("W1", "doctor", "physician")],
        Standard(township_standardised=False),
        True,
    ),
    (
        "standardised next month",
        [centre(on=date(2025, 7, 1))],
        [worker("W1", "doctor", "physician")],
        None,
        False,
    ),
    ("physician left", [centre()], [worker("W1", "doctor", "physician", end=date(2025, 1, 1))], None, False),
    ("exempted from physicians", [centre()], [], Standard(township_physicians_min=0), True),
    (
        "two centres, the second ok",
        [centre(standardised=False), centre("W2")],
        [worker("W2", "doctor", "physician")],
        None,
        True,
    ),
    (
        "centre standing in a village of the township",
        [centre(region=V1.code)],
        [worker("W1", "doctor", "physician")],
        None,
        True,
    ),
]


@pytest.mark.parametrize(
    ("case", "facilities", "staff", "std", "ok"), TOWNSHIP_CASES, ids=[c[0] for c in TOWNSHIP_CASES]
)
def test_townships(
    case: str, facilities: list[Facility], staff: list[Worker], std: Standard | None, ok: bool
) -> None:
    a = run(facilities, staff, std=std)
    assert a.townships_ok == (1 if ok else 0)
    assert (TOWN.code in a.blank_codes(s.KIND_TOWNSHIP)) is not ok


def test_township_reasons() -> None:
    none = run([]).blank_points[0]
    assert (none.kind, none.reason) == ("township", s.WHY_NO_CENTRE)
    both = run([centre(standardised=False)]).blank_points[0]
    assert (
        both.reason == "W1卫生院未标准化达标；W1卫生院无在岗执业（助理）医师、乡村全科执业助理医师或全科医生"
    )
    checks = run([centre(standardised=False)], [worker("W1", "doctor", "physician")]).townships[0].checks
    assert [(c.requirement, c.state) for c in checks] == [
        (s.REQ_TOWNSHIP_CENTRE, s.MET),
        (s.REQ_TOWNSHIP_STANDARDISED, s.FAILED),
        (s.REQ_TOWNSHIP_PHYSICIAN, s.MET),
    ]


def test_township_changes_with_dates() -> None:
    """The same township on four dates: centre standardised 2024-03-01, physician 2024-06-01 … 2025-05-31."""
    facilities = [centre(on=date(2024, 3, 1))]
    staff = [worker("W1", "doctor", "physician", start=date(2024, 6, 1), end=date(2025, 5, 31))]
    got = [
        run(facilities, staff, as_of=d).townships_ok
        for d in (date(2024, 2, 29), date(2024, 5, 31), date(2024, 6, 1), date(2025, 6, 1))
    ]
    assert got == [0, 0, 1, 0]


# --- the county hospital -------------------------------------------------------------------------

COUNTY_CASES = [
    ("level-2 government county hospital", [hospital()], None, s.MET),
    ("TCM hospital counts", [hospital(kind="tcm_hospital")], None, s.MET),
    ("level 1 is not enough", [hospital(level="1")], None, s.FAILED),
    ("private hospital", [hospital(gov=False)], None, s.FAILED),
    ("maternal and child health hospital is not one", [hospital(kind="mch_hospital")], None, s.FAILED),
    ("two required", [hospital()], Standard(county_hospitals_min=2), s.FAILED),
    ("level 1 accepted by the county", [hospital(level="1")], Standard(county_hospital_level_min="1"), s.MET),
    ("exempted", [], Standard(county_hospitals_min=0), s.EXEMPTED),
]


@pytest.mark.parametrize(
    ("case", "facilities", "std", "state"), COUNTY_CASES, ids=[c[0] for c in COUNTY_CASES]
)
def test_county_hospital(case: str, facilities: list[Facility], std: Standard | None, state: str) -> None:
    a = run(facilities, std=std, region=COUNTY)
    assert [c.state for c in a.counties[0].checks] == [state]
    assert all(b.kind != "county" for b in a.blank_points)


def test_county_reason() -> None:
    a = run([hospital(level="1")], region=COUNTY)
    assert a.counties[0].checks[0].reason == "政府办二级及以上县级医院0所，少于要求的1所"


# --- the whole JSON --------------------------------------------------------------------------------


def test_json_exact() -> None:
    """One township: V1 joint clinic C1 (serves V1, V2; standardised; qualified doctor), V3 covered by the
    centre; C3 in V3 is private; a second clinic C2 in V2 lost its doctor; the centre has no physician."""
    facilities = [
        clinic("C1", V1, served=(V1.code, V2.code)),
        clinic("C2", V2, standardised=False),
        clinic("C3", V3, gov=False),
        centre(served=(V3.code,)),
        hospital(),
    ]
    staff = [
        worker("C1"),
        worker("C2", end=date(2025, 6, 29), name="赵村医"),
        worker("W1", "nurse", "nurse_licence"),
    ]
    a = run(facilities, staff, region=COUNTY)
    assert a.as_json() == {
        "region": "421321",
        "as_of": "2025-06-30",
        "townships": 1,
        "townships_ok": 0,
        "villages": 3,
        "villages_with_clinic": 2,
        "villages_covered_by_exception": 1,
        "clinics": 2,
        "clinics_standardised": 1,
        "clinics_with_qualified_doctor": 1,
        "blank_points": [
            {
                "code": "421321001000",
                "name": "厉山镇",
                "kind": "township",
                "reason": "W1卫生院无在岗执业（助理）医师、乡村全科执业助理医师或全科医生",
            },
            {
                "code": "C2",
                "name": "C2卫生室",
                "kind": "clinic",
                "reason": f"{s.WHY_CLINIC_NO_DOCTOR}；原村医赵村医于2025-06-29离岗",
            },
        ],
    }
