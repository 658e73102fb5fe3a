"""行政区划与医疗机构 Regions and institutions (domain.md §3)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db import models


class RegionLevel(models.TextChoices):
    """区划级别 Region level: province, city, county, township, village (issue 21)."""

    PROVINCE = "province", "省"
    CITY = "city", "市"
    COUNTY = "county", "县"
    TOWNSHIP = "township", "乡镇"
    VILLAGE = "village", "村"


# Significant digits of a code at each level (GB/T 2260 and the statistical division codes): 省 2, 市 4,
# 县 6, 乡镇 9, 村 12. Stored form (docs/domain.md §3): province, city and county codes as 6 digits
# (``420000``, ``421300``, ``421321`` — the county's has always been 6), township and village as 12.
LEVEL_DIGITS: dict[str, int] = {
    "province": 2,
    "city": 4,
    "county": 6,
    "township": 9,
    "village": 12,
}


def scope_prefix(code: str, level: str) -> str:
    """区划前缀 The code prefix shared by a region and everything below it: the level's significant
    digits (province 2, city 4, county 6, township 9, village 12)."""
    return code[: LEVEL_DIGITS.get(str(level), len(code))]


_PARENT_DIGITS = {2: 0, 4: 2, 6: 4, 9: 6, 12: 9}


def stored_width(level: str) -> int:
    """存储位数 A region code's stored length: 6 for province, city and county, 12 below."""
    return 6 if LEVEL_DIGITS.get(str(level), 12) <= 6 else 12


def canonical_code(code: str, level: str) -> str | None:
    """规范代码 The stored form of a region ``code`` of ``level``, or None when it cannot be one.

    Accepted: the level's significant digits (省 ``42``, 市 ``4213``, 县 ``421321``, 乡镇 ``421321001``,
    村 ``421321001201``), or those padded with zeros to 6 or 12 digits (``420000``, ``421300000000``).
    The significant part may not end in zeros (``421300`` is a city, never a county). Stored: 6 digits
    for province, city and county (``420000``, ``421300``, ``421321``), 12 for township and village.
    """
    digits = LEVEL_DIGITS.get(str(level))
    if digits is None or not (code.isascii() and code.isdigit()):
        return None
    if len(code) < digits or (len(code) != digits and len(code) not in (6, 12)):
        return None
    if code[digits:].strip("0"):
        return None
    significant = code[:digits]
    own = significant[_PARENT_DIGITS[digits] :]  # the digits this level adds to its parent's
    if not own.strip("0"):
        return None
    return significant.ljust(stored_width(level), "0")


def level_of_code(code: str) -> str | None:
    """代码级别 The level a stored region code has by its digits (``420000`` 省, ``421300`` 市,
    ``421321`` 县, ``421321001000`` 乡镇, ``421321001201`` 村), or None when it is not a stored code."""
    if not (code.isascii() and code.isdigit()):
        return None
    if len(code) == 6:
        if code[2:] == "0000":
            return RegionLevel.PROVINCE if code[:2] != "00" else None
        return RegionLevel.CITY if code[4:] == "00" else RegionLevel.COUNTY
    if len(code) == 12:
        if code[6:] == "000000":  # a province, city or county code padded to 12 (``421300000000``)
            return level_of_code(code[:6])
        return RegionLevel.TOWNSHIP if code[9:] == "000" else RegionLevel.VILLAGE
    return None


def stored_code(text: str) -> str | None:
    """存储代码 A region code as someone types it (``42``, ``4213``, ``421321``, ``421321001``, a 12-digit
    code, ``421300000000``) in its stored form, or None when it is no region code — for a command's
    ``--region`` or a form's region field."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    by_length = {2: RegionLevel.PROVINCE, 4: RegionLevel.CITY, 9: RegionLevel.TOWNSHIP}
    if len(text) in by_length:
        return canonical_code(text, by_length[len(text)])
    if len(text) == 12 and text[6:] == "000000":
        text = text[:6]
    return text if level_of_code(text) is not None else None


def code_prefix(code: str) -> str:
    """代码前缀 The scope prefix of a stored region code by its digits alone (``scope_prefix`` for its
    level; a code of no known shape is its own prefix)."""
    level = level_of_code(code)
    return scope_prefix(code, level) if level is not None else code


def county_of(code: str) -> str | None:
    """所属县 The county (6 digits) a region code lies in, or None for a province or city code."""
    level = level_of_code(code)
    if level is None or level in (RegionLevel.PROVINCE, RegionLevel.CITY):
        return None
    return code[:6]


T = TypeVar("T")


def most_specific(items: Iterable[T], code: str, scope: Callable[[T], str]) -> list[T]:
    """最具体区划 The items of the most specific region containing ``code``: among the items whose
    ``scope`` (a region's code prefix, ``scope_prefix``; ``""`` = the whole deployment) is a prefix of
    ``code``, those with the longest scope. Empty when none contains ``code``.

    The one rule of "a county's setting overrides the city's, which overrides the province's,
    which overrides the deployment's" (issue 21 item 3): settlement policies, and any rule table
    keyed by region. Callers filter by date first ("valid on day D"), then pick among the result
    (e.g. the most recently uploaded)."""
    best: list[T] = []
    length = -1
    for item in items:
        prefix = scope(item)
        if not code.startswith(prefix) or len(prefix) < length:
            continue
        if len(prefix) > length:
            best, length = [], len(prefix)
        best.append(item)
    return best


def containing_codes(code: str) -> list[str]:
    """上级区划代码 The stored codes of the province, city and county that would contain ``code``
    (``420000``, ``421300``, ``421321`` for ``421321001201``): a SQL filter narrowing the rows of a
    rule table keyed by region before ``most_specific`` picks among them exactly."""
    return sorted({code[:n].ljust(6, "0") for n in (2, 4, 6) if len(code) >= n})


def prefix_range(prefix: str) -> tuple[str, str]:
    """前缀区间 ``[lo, hi)`` such that ``lo <= code < hi`` exactly when ``code`` starts with ``prefix``.

    A range uses the B-tree index on both SQLite and PostgreSQL, a LIKE prefix does not on SQLite.
    """
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def code_range(code: str) -> tuple[str, str] | None:
    """区划代码区间 ``[lo, hi)`` of the stored region ``code`` and everything below it (a province, city,
    county, township or village, by its digits), or None when ``code`` is no region code — the one
    reading of a page's or export's region filter."""
    if level_of_code(code) is None:
        return None
    return prefix_range(code_prefix(code))


class Region(models.Model):
    """行政区划 A province, city, county, township or village, keyed by its statistical code."""

    code = models.CharField("代码", max_length=12, primary_key=True)
    name = models.CharField("名称", max_length=100)
    level = models.CharField("级别", max_length=10, choices=RegionLevel.choices)
    parent = models.ForeignKey(
        "self", verbose_name="上级", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    class Meta:
        verbose_name = "行政区划"
        verbose_name_plural = "行政区划"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"

    @property
    def prefix(self) -> str:
        """区划前缀 The scope prefix by the code's digits alone (``code_prefix``): never by ``level``, which
        an editor could change to widen a scope (a county 421321 set to 省 would see all of 42)."""
        return code_prefix(self.code)

    def clean(self) -> None:
        """级别与代码一致 The level must be the one the code's digits give (``level_of_code``)."""
        super().clean()
        expected = level_of_code(self.code or "")
        if self.level and expected is not None and self.level != expected:
            raise ValidationError(
                {
                    "level": f"区划代码{self.code}是{RegionLevel(expected).label}级，级别不能设为"
                    f"{RegionLevel(self.level).label if self.level in RegionLevel.values else self.level}"
                }
            )

    def contains_code(self, code: str) -> bool:
        """包含 True when ``code`` (a region code) lies within this region."""
        return code.startswith(self.prefix)


class InstitutionLevel(models.TextChoices):
    """医院等级 Hospital level."""

    ONE = "1", "一级"
    TWO = "2", "二级"
    THREE = "3", "三级"


class InstitutionKind(models.TextChoices):
    """机构类型 What an institution is (domain.md §12: the "三个一" facilities)."""

    COUNTY_HOSPITAL = "county_hospital", "县级医院"
    TCM_HOSPITAL = "tcm_hospital", "中医医院"
    MCH_HOSPITAL = "mch_hospital", "妇幼保健院"
    TOWNSHIP_CENTRE = "township_centre", "乡镇卫生院"
    COMMUNITY_CENTRE = "community_centre", "社区卫生服务中心"
    VILLAGE_CLINIC = "village_clinic", "村卫生室"
    OTHER = "other", "其他"


# Kinds that may serve villages (服务村代码): a clinic its own and neighbouring villages, a township
# or community centre the village it stands in or a neighbouring one without a clinic (the exception).
SERVING_KINDS = frozenset(
    {InstitutionKind.VILLAGE_CLINIC, InstitutionKind.TOWNSHIP_CENTRE, InstitutionKind.COMMUNITY_CENTRE}
)
CENTRE_KINDS = frozenset({InstitutionKind.TOWNSHIP_CENTRE, InstitutionKind.COMMUNITY_CENTRE})
COUNTY_HOSPITAL_KINDS = frozenset({InstitutionKind.COUNTY_HOSPITAL, InstitutionKind.TCM_HOSPITAL})


class Institution(models.Model):
    """医疗机构 A hospital, health centre or clinic: level, in-county flag, kind, ownership, standardisation.

    ``served_villages`` (服务村代码) are the villages a clinic or centre serves; a clinic with none
    serves the village it stands in (``region``).
    """

    code = models.CharField("代码", max_length=40, primary_key=True)
    name = models.CharField("名称", max_length=200)
    level = models.CharField("等级", max_length=1, choices=InstitutionLevel.choices)
    in_county = models.BooleanField("县域内", default=True)
    region = models.ForeignKey(
        Region, verbose_name="所在地区", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # 县外医院的地区代码 A hospital outside the county (县域内 否) keeps its own region code (6 or 12
    # digits, e.g. 421300) when that code is not in the region tree (issue 18 item 6); ``region`` is then empty.
    outside_region_code = models.CharField("县外地区代码", max_length=12, blank=True, default="")
    kind = models.CharField(
        "类型", max_length=20, choices=InstitutionKind.choices, default=InstitutionKind.OTHER
    )
    government_run = models.BooleanField("政府办", default=False)
    standardised = models.BooleanField("标准化达标", default=False)
    standardised_on = models.DateField("达标日期", null=True, blank=True)
    served_villages = models.ManyToManyField(
        Region, verbose_name="服务村", blank=True, related_name="serving_institutions"
    )

    class Meta:
        verbose_name = "医疗机构"
        verbose_name_plural = "医疗机构"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    def standardised_at(self, on: date) -> bool:
        """某日达标 Standardised on ``on``: flagged, and the 达标日期 (if any) not after it."""
        return standardised_at(self.standardised, self.standardised_on, on)


def standardised_at(standardised: bool, standardised_on: date | None, on: date) -> bool:
    """某日达标 The one rule: a standardisation counts from its 达标日期; no date means no bound."""
    return standardised and (standardised_on is None or standardised_on <= on)
