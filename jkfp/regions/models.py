"""行政区划与医疗机构 Regions and institutions (domain.md §3)."""

from __future__ import annotations

from django.db import models


class RegionLevel(models.TextChoices):
    """区划级别 Region level."""

    COUNTY = "county", "县"
    TOWNSHIP = "township", "乡镇"
    VILLAGE = "village", "村"


def scope_prefix(code: str, level: str) -> str:
    """区划前缀 The code prefix shared by a region and everything below it.

    County codes are 6 digits; township codes are 9 significant digits + ``000``; village codes 12.
    """
    if level == RegionLevel.COUNTY:
        return code[:6]
    if level == RegionLevel.TOWNSHIP:
        return code[:9]
    return code


def prefix_range(prefix: str) -> tuple[str, str]:
    """前缀区间 ``[lo, hi)`` such that ``lo <= code < hi`` exactly when ``code`` starts with ``prefix``.

    A range uses the B-tree index on both SQLite and PostgreSQL, a LIKE prefix does not on SQLite.
    """
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


class Region(models.Model):
    """行政区划 A county, township or village, keyed by its statistical code."""

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
        return scope_prefix(self.code, self.level)

    def contains_code(self, code: str) -> bool:
        """包含 True when ``code`` (a region code) lies within this region."""
        return code.startswith(self.prefix)


class InstitutionLevel(models.TextChoices):
    """医院等级 Hospital level."""

    ONE = "1", "一级"
    TWO = "2", "二级"
    THREE = "3", "三级"


class Institution(models.Model):
    """医疗机构 A hospital, health centre or clinic with its level and in-county flag."""

    code = models.CharField("代码", max_length=40, primary_key=True)
    name = models.CharField("名称", max_length=200)
    level = models.CharField("等级", max_length=1, choices=InstitutionLevel.choices)
    in_county = models.BooleanField("县域内", default=True)
    region = models.ForeignKey(
        Region, verbose_name="所在地区", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = "医疗机构"
        verbose_name_plural = "医疗机构"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name
