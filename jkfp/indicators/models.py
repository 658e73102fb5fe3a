"""指标快照、参保资助规则与问题整改 Indicator snapshots, premium-subsidy rules, rectification (domain.md §9–§11).

Indicators are computed per village by set-based SQL and rolled up to townships and the county;
every level is stored in ``IndicatorSnapshot`` so pages read a few hundred rows instead of scanning
millions (issue 7 §6). ``SnapshotRun`` says when the figures of a year were computed ("data as of").
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from jkfp.regions.models import Region
from jkfp.registry.models import TagCode


class IndicatorSnapshot(models.Model):
    """指标快照 Numerator and denominator of one indicator, for one year and one region.

    ``numerator``/``denominator`` are NULL when the indicator's data does not exist for the year
    (暂无数据) — never zero. Counts are whole numbers; money indicators hold yuan with two decimals.
    ``month`` 0 is the whole year; 1–12 hold the figures of the events dated in that month (trend).
    """

    year = models.PositiveSmallIntegerField("年度")
    month = models.PositiveSmallIntegerField("月份（0=全年）", default=0)
    region_code = models.CharField("区划代码", max_length=12)
    level = models.CharField("区划级别", max_length=10)
    code = models.CharField("指标", max_length=40)
    numerator = models.DecimalField("分子", max_digits=18, decimal_places=2, null=True, blank=True)
    denominator = models.DecimalField("分母", max_digits=18, decimal_places=2, null=True, blank=True)
    computed_at = models.DateTimeField("计算时间")

    class Meta:
        verbose_name = "指标快照"
        verbose_name_plural = "指标快照"
        ordering = ["year", "region_code", "code", "month"]
        constraints = [
            models.UniqueConstraint(
                fields=["year", "region_code", "code", "month"], name="snapshot_year_region_code_month_uniq"
            )
        ]


class SnapshotRun(models.Model):
    """指标计算记录 One refresh of the snapshot of a year: when, how long, by whom."""

    year = models.PositiveSmallIntegerField("年度", unique=True)
    computed_at = models.DateTimeField("计算时间")
    seconds = models.FloatField("用时（秒）")
    villages_count = models.PositiveIntegerField("村数", default=0)

    class Meta:
        verbose_name = "指标计算记录"
        verbose_name_plural = "指标计算记录"
        ordering = ["-year"]


class PremiumRule(models.Model):
    """参保资助规则 The personal premium of a year and the subsidy a tag earns (domain.md §11).

    A person holding several tags gets the most favourable (largest) subsidy of the year. A rule is
    for a region (``region``; empty: the whole deployment): per tag, the rule of the most specific
    region containing the person's county applies — a county's overrides its city's, a city's its
    province's (issue 21 item 3; ``scope`` is the region's code prefix, "" for the deployment).
    """

    year = models.PositiveSmallIntegerField("年度")
    tag = models.CharField("人员类别", max_length=30, choices=TagCode.choices)
    premium_amount = models.DecimalField("个人缴费标准（元）", max_digits=14, decimal_places=2)
    subsidy_amount = models.DecimalField("资助金额（元）", max_digits=14, decimal_places=2)
    region = models.ForeignKey(
        Region, verbose_name="适用区划", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    scope = models.CharField("区划前缀", max_length=12, blank=True, default="")

    class Meta:
        verbose_name = "参保资助规则"
        verbose_name_plural = "参保资助规则"
        ordering = ["year", "tag", "scope"]
        constraints = [
            models.UniqueConstraint(fields=["year", "tag", "scope"], name="premium_rule_year_tag_scope_uniq"),
            models.CheckConstraint(
                condition=Q(subsidy_amount__gte=0) & Q(subsidy_amount__lte=models.F("premium_amount")),
                name="premium_rule_subsidy_within_premium",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.get_tag_display()} {self.subsidy_amount}/{self.premium_amount}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """The scope is always the region's prefix ("" for none), never typed in."""
        self.scope = self.region.prefix if self.region is not None else ""
        super().save(*args, **kwargs)

    def clean(self) -> None:
        """同年同类同区划唯一 One rule per year, tag and region: checked here because ``scope`` (derived
        from the region) is not on the admin's form, so the unique constraint is not validated there."""
        super().clean()
        scope = self.region.prefix if self.region is not None else ""
        same = PremiumRule.objects.filter(year=self.year, tag=self.tag, scope=scope).exclude(pk=self.pk)
        if self.year and self.tag and same.exists():
            raise ValidationError(f"{self.year}年该人员类别在此区划已有参保资助规则")


class RectificationStatus(models.TextChoices):
    """整改状态 State of a rectification item."""

    OPEN = "open", "整改中"
    DONE = "done", "已整改"
    VERIFIED = "verified", "已销号"


class Rectification(models.Model):
    """问题整改 A finding (e.g. of an inspection) with its owner, deadline, evidence and status."""

    region_code = models.CharField("区划代码", max_length=12, db_index=True)
    finding = models.CharField("发现问题", max_length=500)
    source = models.CharField("问题来源", max_length=100, blank=True)
    owner = models.CharField("责任人", max_length=100)
    deadline_on = models.DateField("整改时限")
    measures = models.CharField("整改措施", max_length=500, blank=True)
    evidence = models.CharField("佐证材料", max_length=500, blank=True)
    status = models.CharField(
        "状态", max_length=10, choices=RectificationStatus.choices, default=RectificationStatus.OPEN
    )
    done_on = models.DateField("完成日期", null=True, blank=True)
    # 整改对象: the stable key of what the item is about when the system raised it (e.g. a blank point
    # ``blank:village:<code>``), so that a page can show its rectification and never raise it twice.
    subject = models.CharField("整改对象", max_length=80, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="登记人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField("登记时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "问题整改"
        verbose_name_plural = "问题整改"
        ordering = ["status", "deadline_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=RectificationStatus.OPEN) | ~Q(evidence=""),
                name="rectification_done_needs_evidence",
            )
        ]

    def __str__(self) -> str:
        return self.finding[:40]
