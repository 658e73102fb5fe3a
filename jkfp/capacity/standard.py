"""“三个一”标准与空白点 The standard of 基本医疗有保障 and its blank points, computed for one date.

domain.md §12, issue 16 items 3–4. One home for the rules: ``assess(facts, as_of=…)`` takes what
``selectors.facts`` read (regions, institutions, staff, the standard in force per county) and says, for
every county, township, village and clinic, which requirement holds, fails or is exempted and why, and
which are blank points (空白点). It runs no query, so the rules are tested as tables without a database.

Definitions (all on the as-of date; a standardisation counts from its 达标日期, a staff member between
起始日期 and 终止日期, an empty date meaning no bound):

- a **clinic** is a government-run 村卫生室; it serves the villages of its 服务村代码, or, when there are
  none, the village it stands in; ``clinics`` counts the clinics located in the region;
- a village is **with clinic** when at least one clinic serves it; otherwise it is **covered by the
  exception** when a government-run 乡镇卫生院 or 社区卫生服务中心 lists it in its 服务村代码
  (乡镇卫生院所在村或邻近村); otherwise it is a blank point (kind ``village``);
- a clinic **has a qualified doctor** when at least ``clinic_doctors_min`` (default 1) of its staff on
  post are 乡村医生 or 医生 holding 乡村医生证, 乡村全科执业助理医师, 执业助理医师 or 执业医师; otherwise it
  is a blank point (kind ``clinic``);
- a township is **ok** when one government-run 乡镇卫生院 located in it is standardised (when the county's
  standard asks for it) and has at least ``township_physicians_min`` (default 1) staff on post qualified
  执业医师, 执业助理医师, 乡村全科执业助理医师 or 全科医生培训合格; otherwise a blank point (``township``);
- the county needs ``county_hospitals_min`` government-run 县级医院/中医医院 of level ≥
  ``county_hospital_level_min`` (not a blank point: the JSON lists villages, clinics and townships);
- a village's clinic must be standardised when ``village_standardised`` (a failed check, not a blank).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from jkfp.capacity.models import Qualification, StaffPost, on_post
from jkfp.regions.models import (
    CENTRE_KINDS,
    COUNTY_HOSPITAL_KINDS,
    InstitutionKind,
    RegionLevel,
    scope_prefix,
    standardised_at,
)

CLINIC_DOCTOR_POSTS = frozenset({StaffPost.VILLAGE_DOCTOR, StaffPost.DOCTOR})
CLINIC_DOCTOR_QUALIFICATIONS = frozenset(
    {
        Qualification.VILLAGE_DOCTOR_CERT,
        Qualification.RURAL_GP_ASSISTANT,
        Qualification.ASSISTANT_PHYSICIAN,
        Qualification.PHYSICIAN,
    }
)
TOWNSHIP_PHYSICIAN_QUALIFICATIONS = frozenset(
    {
        Qualification.PHYSICIAN,
        Qualification.ASSISTANT_PHYSICIAN,
        Qualification.RURAL_GP_ASSISTANT,
        Qualification.GP_TRAINED,
    }
)

MET, FAILED, EXEMPTED = "met", "failed", "exempted"
STATE_LABELS = {MET: "达标", FAILED: "未达标", EXEMPTED: "例外/不要求"}
VILLAGE_OK, VILLAGE_EXCEPTION, VILLAGE_BLANK = "ok", "exception", "blank"
VILLAGE_LABELS = {VILLAGE_OK: "有村卫生室", VILLAGE_EXCEPTION: "卫生院覆盖（例外）", VILLAGE_BLANK: "空白点"}
KIND_TOWNSHIP, KIND_VILLAGE, KIND_CLINIC = "township", "village", "clinic"
KIND_LABELS = {KIND_TOWNSHIP: "乡镇", KIND_VILLAGE: "村", KIND_CLINIC: "村卫生室"}
_KIND_ORDER = {KIND_TOWNSHIP: 0, KIND_VILLAGE: 1, KIND_CLINIC: 2}

REQ_COUNTY_HOSPITAL = "县级公立医院"
REQ_TOWNSHIP_CENTRE = "政府办乡镇卫生院"
REQ_TOWNSHIP_STANDARDISED = "乡镇卫生院标准化"
REQ_TOWNSHIP_PHYSICIAN = "执业（助理）医师或全科医生"
REQ_VILLAGE_CLINIC = "村卫生室或例外"
REQ_VILLAGE_STANDARDISED = "标准化村卫生室"
REQ_CLINIC_STANDARDISED = "村卫生室标准化"
REQ_CLINIC_DOCTOR = "合格村医"

WHY_VILLAGE_BLANK = "无村卫生室服务本村，也无政府办乡镇卫生院或社区卫生服务中心覆盖"
WHY_CLINIC_NO_DOCTOR = "无在岗合格村医（持乡村医生证或以上资质的乡村医生、医生）"
WHY_CLINIC_TOO_FEW = "在岗合格村医{n}人，少于要求的{min}人"
WHY_DOCTOR_LEFT = "原村医{name}于{on}离岗"
WHY_NO_CENTRE = "无政府办乡镇卫生院"
WHY_CENTRE_NOT_STANDARDISED = "{name}未标准化达标"
WHY_CENTRE_NO_PHYSICIAN = "{name}无在岗执业（助理）医师、乡村全科执业助理医师或全科医生"
WHY_CENTRE_TOO_FEW = "{name}在岗执业（助理）医师或全科医生{n}人，少于要求的{min}人"
WHY_NO_HOSPITAL = "政府办{level}级及以上县级医院{n}所，少于要求的{min}所"
LEVEL_WORDS = {"1": "一", "2": "二", "3": "三"}
WHY_CLINIC_NOT_STANDARDISED = "村卫生室{names}未标准化达标"
WHY_EXCEPTION = "由{names}覆盖（乡镇卫生院所在村或邻近村）"


@dataclass(frozen=True)
class Standard:
    """标准要求 The requirements in force in one county on one date (defaults: domain.md §12)."""

    county_hospitals_min: int = 1
    county_hospital_level_min: str = "2"
    township_standardised: bool = True
    township_physicians_min: int = 1
    village_standardised: bool = True
    clinic_doctors_min: int = 1
    source: str = "默认标准"


DEFAULT_STANDARD = Standard()


@dataclass(frozen=True)
class Area:
    """区划 A region as the rules see it."""

    code: str
    name: str
    level: str


@dataclass(frozen=True)
class Facility:
    """机构 An institution as the rules see it (``served``: its 服务村代码)."""

    code: str
    name: str
    kind: str
    government_run: bool
    level: str
    region_code: str | None
    standardised: bool = False
    standardised_on: date | None = None
    served: tuple[str, ...] = ()

    def standardised_at(self, on: date) -> bool:
        return standardised_at(self.standardised, self.standardised_on, on)

    @property
    def is_clinic(self) -> bool:
        return self.government_run and self.kind == InstitutionKind.VILLAGE_CLINIC

    @property
    def is_centre(self) -> bool:
        return self.government_run and self.kind in CENTRE_KINDS

    def serves(self) -> tuple[str, ...]:
        """服务村 Its 服务村代码; a clinic without any serves the village it stands in."""
        if self.served:
            return self.served
        if self.is_clinic and self.region_code and len(self.region_code) == 12:
            return (self.region_code,)
        return ()


@dataclass(frozen=True)
class Worker:
    """卫生人员 A staff row as the rules see it."""

    name: str
    institution_code: str
    post: str
    qualification: str
    start_on: date | None = None
    end_on: date | None = None

    def on_post(self, on: date) -> bool:
        return on_post(self.start_on, self.end_on, on)


@dataclass
class Facts:
    """事实 Everything the rules need about one region: its townships and villages, the institutions
    located in it or serving its villages, their staff (all periods) and the standard of each county."""

    region: Area
    townships: list[Area]
    villages: list[Area]
    facilities: list[Facility]
    staff: list[Worker]
    standards: dict[str, Standard] = field(default_factory=dict)  # county code → standard
    counties: list[Area] = field(default_factory=list)  # counties inside the region (county checks)


@dataclass(frozen=True)
class Check:
    """检查项 One requirement of one unit: met, failed or exempted, and why."""

    requirement: str
    state: str
    reason: str = ""

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


@dataclass
class CountyStatus:
    code: str
    name: str
    hospitals: list[Facility]
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.state != FAILED for c in self.checks)


@dataclass
class TownshipStatus:
    code: str
    name: str
    centres: list[Facility]
    physicians: int  # qualified staff on post at the best centre
    ok: bool
    reason: str
    checks: list[Check]


@dataclass
class VillageStatus:
    code: str
    name: str
    township_code: str
    status: str  # ok / exception / blank
    clinics: list[Facility]
    covering: list[Facility]
    checks: list[Check]

    @property
    def status_label(self) -> str:
        return VILLAGE_LABELS[self.status]


@dataclass
class ClinicStatus:
    facility: Facility
    standardised: bool
    doctors: list[Worker]  # qualified doctors on post
    staff_on_post: int
    checks: list[Check]
    reason: str = ""  # why it is a blank point ("" when it is not)

    @property
    def has_qualified_doctor(self) -> bool:
        return not self.reason


@dataclass(frozen=True)
class BlankPoint:
    """空白点 A village without clinic or exception, a clinic without a qualified doctor, a township not ok.

    ``region_code`` is where it lies (the village, the clinic's village, the township): the region a
    rectification item of it belongs to.
    """

    code: str
    name: str
    kind: str
    reason: str
    region_code: str

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "name": self.name, "kind": self.kind, "reason": self.reason}

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def subject(self) -> str:
        """整改对象 The stable key of this blank point in the rectification tracker."""
        return f"blank:{self.kind}:{self.code}"


@dataclass
class Assessment:
    """评估结果 The standard and the blank points of one region on one date."""

    region: Area
    as_of: date
    counties: list[CountyStatus]
    townships: list[TownshipStatus]
    villages: list[VillageStatus]
    clinics: list[ClinicStatus]
    blank_points: list[BlankPoint]

    @property
    def townships_ok(self) -> int:
        return sum(1 for t in self.townships if t.ok)

    @property
    def villages_with_clinic(self) -> int:
        return sum(1 for v in self.villages if v.status == VILLAGE_OK)

    @property
    def villages_covered_by_exception(self) -> int:
        return sum(1 for v in self.villages if v.status == VILLAGE_EXCEPTION)

    @property
    def clinics_standardised(self) -> int:
        return sum(1 for c in self.clinics if c.standardised)

    @property
    def clinics_with_qualified_doctor(self) -> int:
        return sum(1 for c in self.clinics if c.has_qualified_doctor)

    def as_json(self) -> dict[str, Any]:
        """The exact JSON of ``jkfp capacity --json`` (issue 16 item 4), keys in the documented order."""
        return {
            "region": self.region.code,
            "as_of": self.as_of.isoformat(),
            "townships": len(self.townships),
            "townships_ok": self.townships_ok,
            "villages": len(self.villages),
            "villages_with_clinic": self.villages_with_clinic,
            "villages_covered_by_exception": self.villages_covered_by_exception,
            "clinics": len(self.clinics),
            "clinics_standardised": self.clinics_standardised,
            "clinics_with_qualified_doctor": self.clinics_with_qualified_doctor,
            "blank_points": [b.as_json() for b in self.blank_points],
        }

    def village(self, code: str) -> VillageStatus | None:
        return next((v for v in self.villages if v.code == code), None)

    def blank_codes(self, kind: str) -> set[str]:
        return {b.code for b in self.blank_points if b.kind == kind}


def _names(facilities: Iterable[Facility]) -> str:
    return "、".join(f.name for f in facilities)


def _standard(facts: Facts, code: str) -> Standard:
    return facts.standards.get(code[:6], DEFAULT_STANDARD)


def _located_in(facility: Facility, prefix: str) -> bool:
    return facility.region_code is not None and facility.region_code.startswith(prefix)


def assess(facts: Facts, *, as_of: date) -> Assessment:
    """评估 The standard and the blank points of ``facts.region`` on ``as_of``."""
    prefix = scope_prefix(facts.region.code, facts.region.level)
    on_duty: dict[str, list[Worker]] = {}
    left: dict[str, list[Worker]] = {}
    for worker in facts.staff:
        if worker.on_post(as_of):
            on_duty.setdefault(worker.institution_code, []).append(worker)
        elif worker.end_on is not None and worker.end_on < as_of:
            left.setdefault(worker.institution_code, []).append(worker)
    clinics_of: dict[str, list[Facility]] = {}
    centres_of: dict[str, list[Facility]] = {}
    for facility in facts.facilities:
        if facility.is_clinic:
            for village in facility.serves():
                clinics_of.setdefault(village, []).append(facility)
        elif facility.is_centre:
            for village in facility.served:
                centres_of.setdefault(village, []).append(facility)

    clinics = [
        _clinic(
            f, as_of, on_duty.get(f.code, []), left.get(f.code, []), _standard(facts, f.region_code or "")
        )
        for f in sorted(facts.facilities, key=lambda f: f.code)
        if f.is_clinic and _located_in(f, prefix)
    ]
    villages = [
        _village(v, as_of, clinics_of.get(v.code, []), centres_of.get(v.code, []), _standard(facts, v.code))
        for v in sorted(facts.villages, key=lambda v: v.code)
    ]
    townships = [
        _township(t, as_of, facts.facilities, on_duty, _standard(facts, t.code))
        for t in sorted(facts.townships, key=lambda t: t.code)
    ]
    counties = [
        _county(c, facts.facilities, _standard(facts, c.code))
        for c in sorted(facts.counties, key=lambda c: c.code)
    ]
    blanks = [
        *(BlankPoint(t.code, t.name, KIND_TOWNSHIP, t.reason, t.code) for t in townships if not t.ok),
        *(
            BlankPoint(v.code, v.name, KIND_VILLAGE, WHY_VILLAGE_BLANK, v.code)
            for v in villages
            if v.status == VILLAGE_BLANK
        ),
        *(
            BlankPoint(c.facility.code, c.facility.name, KIND_CLINIC, c.reason, c.facility.region_code or "")
            for c in clinics
            if c.reason
        ),
    ]
    blanks.sort(key=lambda b: (_KIND_ORDER[b.kind], b.code))
    return Assessment(
        region=facts.region,
        as_of=as_of,
        counties=counties,
        townships=townships,
        villages=villages,
        clinics=clinics,
        blank_points=blanks,
    )


def _clinic(
    facility: Facility, as_of: date, on_duty: list[Worker], left: list[Worker], std: Standard
) -> ClinicStatus:
    doctors = [
        w
        for w in on_duty
        if w.post in CLINIC_DOCTOR_POSTS and w.qualification in CLINIC_DOCTOR_QUALIFICATIONS
    ]
    standardised = facility.standardised_at(as_of)
    checks: list[Check] = []
    if not std.village_standardised:
        checks.append(Check(REQ_CLINIC_STANDARDISED, EXEMPTED, f"本县标准不要求（{std.source}）"))
    elif standardised:
        checks.append(Check(REQ_CLINIC_STANDARDISED, MET, f"{facility.standardised_on or ''}达标".lstrip()))
    else:
        checks.append(Check(REQ_CLINIC_STANDARDISED, FAILED, "未标准化达标"))
    reason = ""
    if std.clinic_doctors_min == 0:
        checks.append(Check(REQ_CLINIC_DOCTOR, EXEMPTED, f"本县标准不要求（{std.source}）"))
    elif len(doctors) >= std.clinic_doctors_min:
        checks.append(Check(REQ_CLINIC_DOCTOR, MET, "、".join(w.name for w in doctors)))
    else:
        reason = (
            WHY_CLINIC_NO_DOCTOR
            if not doctors
            else WHY_CLINIC_TOO_FEW.format(n=len(doctors), min=std.clinic_doctors_min)
        )
        gone = [
            w
            for w in left
            if w.post in CLINIC_DOCTOR_POSTS and w.qualification in CLINIC_DOCTOR_QUALIFICATIONS
        ]
        if gone:
            last = max(gone, key=lambda w: w.end_on or date.min)
            reason += "；" + WHY_DOCTOR_LEFT.format(name=last.name, on=f"{last.end_on:%Y-%m-%d}")
        checks.append(Check(REQ_CLINIC_DOCTOR, FAILED, reason))
    return ClinicStatus(facility, standardised, doctors, len(on_duty), checks, reason)


def _village(
    area: Area, as_of: date, clinics: list[Facility], centres: list[Facility], std: Standard
) -> VillageStatus:
    township = area.code[:9] + "000"
    checks: list[Check] = []
    if clinics:
        status = VILLAGE_OK
        checks.append(Check(REQ_VILLAGE_CLINIC, MET, f"由{_names(clinics)}服务"))
        done = [c for c in clinics if c.standardised_at(as_of)]
        if not std.village_standardised:
            checks.append(Check(REQ_VILLAGE_STANDARDISED, EXEMPTED, f"本县标准不要求（{std.source}）"))
        elif done:
            checks.append(Check(REQ_VILLAGE_STANDARDISED, MET, f"{_names(done)}已达标"))
        else:
            checks.append(
                Check(
                    REQ_VILLAGE_STANDARDISED,
                    FAILED,
                    WHY_CLINIC_NOT_STANDARDISED.format(names=_names(clinics)),
                )
            )
    elif centres:
        status = VILLAGE_EXCEPTION
        why = WHY_EXCEPTION.format(names=_names(centres))
        checks.append(Check(REQ_VILLAGE_CLINIC, EXEMPTED, why))
        checks.append(Check(REQ_VILLAGE_STANDARDISED, EXEMPTED, why))
    else:
        status = VILLAGE_BLANK
        checks.append(Check(REQ_VILLAGE_CLINIC, FAILED, WHY_VILLAGE_BLANK))
        checks.append(Check(REQ_VILLAGE_STANDARDISED, FAILED, WHY_VILLAGE_BLANK))
    return VillageStatus(area.code, area.name, township, status, clinics, centres, checks)


def _township(
    area: Area, as_of: date, facilities: list[Facility], on_duty: dict[str, list[Worker]], std: Standard
) -> TownshipStatus:
    prefix = area.code[:9]
    centres = sorted(
        (
            f
            for f in facilities
            if f.government_run and f.kind == InstitutionKind.TOWNSHIP_CENTRE and _located_in(f, prefix)
        ),
        key=lambda f: f.code,
    )
    if not centres:
        checks = [
            Check(REQ_TOWNSHIP_CENTRE, FAILED, WHY_NO_CENTRE),
            Check(REQ_TOWNSHIP_STANDARDISED, FAILED, WHY_NO_CENTRE),
            Check(REQ_TOWNSHIP_PHYSICIAN, FAILED, WHY_NO_CENTRE),
        ]
        return TownshipStatus(area.code, area.name, [], 0, False, WHY_NO_CENTRE, checks)
    # The township is ok when one centre meets every requirement; otherwise the centre that misses
    # the fewest is reported (ties: the lowest code), with the reasons of every centre.
    best: tuple[int, int, Facility, list[Check]] | None = None
    reasons: list[str] = []
    for centre in centres:
        physicians = sum(
            1 for w in on_duty.get(centre.code, []) if w.qualification in TOWNSHIP_PHYSICIAN_QUALIFICATIONS
        )
        checks = [Check(REQ_TOWNSHIP_CENTRE, MET, centre.name)]
        missing: list[str] = []
        if not std.township_standardised:
            checks.append(Check(REQ_TOWNSHIP_STANDARDISED, EXEMPTED, f"本县标准不要求（{std.source}）"))
        elif centre.standardised_at(as_of):
            checks.append(
                Check(REQ_TOWNSHIP_STANDARDISED, MET, f"{centre.standardised_on or ''}达标".lstrip())
            )
        else:
            why = WHY_CENTRE_NOT_STANDARDISED.format(name=centre.name)
            checks.append(Check(REQ_TOWNSHIP_STANDARDISED, FAILED, why))
            missing.append(why)
        if std.township_physicians_min == 0:
            checks.append(Check(REQ_TOWNSHIP_PHYSICIAN, EXEMPTED, f"本县标准不要求（{std.source}）"))
        elif physicians >= std.township_physicians_min:
            checks.append(Check(REQ_TOWNSHIP_PHYSICIAN, MET, f"{physicians}人"))
        else:
            why = (
                WHY_CENTRE_NO_PHYSICIAN.format(name=centre.name)
                if physicians == 0
                else WHY_CENTRE_TOO_FEW.format(
                    name=centre.name, n=physicians, min=std.township_physicians_min
                )
            )
            checks.append(Check(REQ_TOWNSHIP_PHYSICIAN, FAILED, why))
            missing.append(why)
        reasons.extend(missing)
        if best is None or len(missing) < best[0]:
            best = (len(missing), physicians, centre, checks)
    assert best is not None
    ok = best[0] == 0
    return TownshipStatus(
        area.code, area.name, centres, best[1], ok, "" if ok else "；".join(reasons), best[3]
    )


def _county(area: Area, facilities: list[Facility], std: Standard) -> CountyStatus:
    hospitals = sorted(
        (
            f
            for f in facilities
            if f.government_run
            and f.kind in COUNTY_HOSPITAL_KINDS
            and f.level >= std.county_hospital_level_min
            and _located_in(f, area.code[:6])
        ),
        key=lambda f: f.code,
    )
    if std.county_hospitals_min == 0:
        check = Check(REQ_COUNTY_HOSPITAL, EXEMPTED, f"本县标准不要求（{std.source}）")
    elif len(hospitals) >= std.county_hospitals_min:
        check = Check(REQ_COUNTY_HOSPITAL, MET, _names(hospitals))
    else:
        check = Check(
            REQ_COUNTY_HOSPITAL,
            FAILED,
            WHY_NO_HOSPITAL.format(
                level=LEVEL_WORDS.get(std.county_hospital_level_min, std.county_hospital_level_min),
                n=len(hospitals),
                min=std.county_hospitals_min,
            ),
        )
    return CountyStatus(area.code, area.name, hospitals, [check])


def counties_in(region: Area) -> bool:
    """Whether county checks belong to the region's assessment (a county or anything above it)."""
    return region.level not in (RegionLevel.TOWNSHIP, RegionLevel.VILLAGE)
