"""指标写操作 Indicator services: refreshing the snapshot, premium rules, the rectification tracker.

``snapshot_refresh(year=…)`` is what imports, settlements and the demo call after they change data
(issue 7 §6); it replaces the year's snapshot in one transaction, so a page reads either the old or
the new figures, never a mix.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from jkfp.accounts.models import Role
from jkfp.accounts.scoping import role_require, scope_require
from jkfp.capacity import selectors as capacity_selectors
from jkfp.capacity.standard import KIND_CLINIC, KIND_TOWNSHIP, KIND_VILLAGE, BlankPoint
from jkfp.core.bulkdb import jit_for_aggregates
from jkfp.indicators.catalogue import INDICATORS
from jkfp.indicators.compute import RegionTree, compute_all
from jkfp.indicators.models import (
    IndicatorSnapshot,
    PremiumRule,
    Rectification,
    RectificationStatus,
    SnapshotRun,
)
from jkfp.regions.models import Institution, InstitutionKind, Region, prefix_range

REFRESH_ROLES = frozenset({Role.COUNTY_ADMIN})
RECTIFY_ROLES = frozenset({Role.COUNTY_ADMIN, Role.TOWNSHIP})
ERR_ROLE_REFRESH = "只有县卫健局管理员可以重新计算指标"
ERR_ROLE_RECTIFY = "只有县卫健局管理员和乡镇卫生院可以登记或修改问题整改"
ERR_REGION = "区划不在您的管辖范围内"
ERR_EVIDENCE = "标记为已整改或已销号时必须填写佐证材料"
ERR_YEAR = "年度须在2016至2100之间"
ERR_SUBSIDY = "资助金额不能为负，也不能超过个人缴费标准"
ERR_BLANK_GONE = "该空白点在{on}已不存在（可能已整改或数据已更新），请刷新页面"
BLANK_DEADLINE_DAYS = 30  # the deadline a one-click rectification item gets; edited afterwards as any item
BLANK_SOURCE = "空白点排查（{on}）"
BLANK_MEASURES = {
    KIND_VILLAGE: "设置政府办村卫生室，或由乡镇卫生院覆盖并登记服务村",
    KIND_CLINIC: "配备持乡村医生证或以上资质的乡村医生",
    KIND_TOWNSHIP: "乡镇卫生院标准化建设，配备执业（助理）医师或全科医生",
}


def snapshot_refresh(*, year: int) -> SnapshotRun:
    """刷新指标快照 Recompute every indicator of ``year`` for every region and replace the stored figures."""
    if not 2016 <= year <= 2100:
        raise ValidationError({"year": ERR_YEAR})
    started = time.perf_counter()
    tree = RegionTree.load()
    with jit_for_aggregates():
        figures, months = compute_all(year, indicators=INDICATORS, tree=tree)
    now = timezone.now()
    rows: list[IndicatorSnapshot] = []
    for indicator in INDICATORS:
        by_region = figures[indicator.code]
        if by_region is None:
            # 暂无数据: one NULL row per region of the tree, so pages know the figure was computed.
            for code, level in tree.level.items():
                rows.append(
                    IndicatorSnapshot(
                        year=year, region_code=code, level=level, code=indicator.code, computed_at=now
                    )
                )
            continue
        for code, level in tree.level.items():
            pair = by_region.get(code, (Decimal(0), Decimal(0)))
            if pair is None:  # no data in this region (Spec.coverage): 暂无数据
                rows.append(
                    IndicatorSnapshot(
                        year=year, region_code=code, level=level, code=indicator.code, computed_at=now
                    )
                )
                continue
            num, den = pair
            rows.append(
                IndicatorSnapshot(
                    year=year,
                    region_code=code,
                    level=level,
                    code=indicator.code,
                    numerator=num,
                    denominator=den,
                    computed_at=now,
                )
            )
        for (code, month), (num, den) in months.get(indicator.code, {}).items():
            rows.append(
                IndicatorSnapshot(
                    year=year,
                    month=month,
                    region_code=code,
                    level=tree.level.get(code, ""),
                    code=indicator.code,
                    numerator=num,
                    denominator=den,
                    computed_at=now,
                )
            )
    seconds = time.perf_counter() - started
    with transaction.atomic():
        IndicatorSnapshot.objects.filter(year=year).delete()
        IndicatorSnapshot.objects.bulk_create(rows, batch_size=2000)
        if connection.vendor == "postgresql":
            # A province's year is ~10^5 rows replaced at once: pages read them with fresh statistics
            # (without, the planner scanned the table for a county's dashboard; bench_province).
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {IndicatorSnapshot._meta.db_table}")
        run, _ = SnapshotRun.objects.update_or_create(
            year=year,
            defaults={
                "computed_at": now,
                "seconds": seconds,
                "villages_count": sum(1 for level in tree.level.values() if level == "village"),
            },
        )
    return run


def snapshot_refresh_by(*, user: Any, year: int) -> SnapshotRun:
    """按需刷新 The county administrator's "recompute now" button."""
    role_require(user, REFRESH_ROLES, ERR_ROLE_REFRESH)
    return snapshot_refresh(year=year)


def premium_rule_set(
    *, year: int, tag: str, premium_amount: Decimal, subsidy_amount: Decimal, region: Region | None = None
) -> PremiumRule:
    """设置参保资助规则 Create or change the subsidy a tag earns in ``year`` (domain.md §11) in
    ``region`` (None: the whole deployment; a county's rule overrides its city's and province's)."""
    if subsidy_amount < 0 or subsidy_amount > premium_amount:
        raise ValidationError({"subsidy_amount": ERR_SUBSIDY})
    scope = "" if region is None else region.prefix
    rule = PremiumRule.objects.filter(year=year, tag=tag, scope=scope).first() or PremiumRule(
        year=year, tag=tag, region=region, scope=scope
    )
    rule.premium_amount = premium_amount
    rule.subsidy_amount = subsidy_amount
    rule.full_clean()
    rule.save()
    return rule


def _check_rectify(user: Any, region_code: str) -> None:
    role_require(user, RECTIFY_ROLES, ERR_ROLE_RECTIFY)
    scope_require(user, region_code, ERR_REGION)


def rectification_create(
    *,
    user: Any,
    region_code: str,
    finding: str,
    owner: str,
    deadline_on: date,
    source: str = "",
    measures: str = "",
    subject: str = "",
) -> Rectification:
    """登记整改问题 Record a finding for a region inside the user's scope."""
    _check_rectify(user, region_code)
    item = Rectification(
        region_code=region_code,
        finding=finding.strip()[:500],
        owner=owner.strip(),
        deadline_on=deadline_on,
        source=source.strip(),
        measures=measures.strip(),
        subject=subject,
        created_by=user,
    )
    item.full_clean()
    item.save()
    return item


def rectification_update(
    *,
    user: Any,
    item: Rectification,
    status: str,
    evidence: str = "",
    measures: str | None = None,
    done_on: date | None = None,
) -> Rectification:
    """更新整改状态 Move an item to 整改中 / 已整改 / 已销号; done or verified needs evidence."""
    _check_rectify(user, item.region_code)
    evidence = evidence.strip()
    if status != RectificationStatus.OPEN and not evidence:
        raise ValidationError({"evidence": ERR_EVIDENCE})
    item.status = status
    item.evidence = evidence
    if measures is not None:
        item.measures = measures.strip()
    item.done_on = done_on or (timezone.localdate() if status != RectificationStatus.OPEN else None)
    item.full_clean()
    item.save()
    return item


def _blank_region(subject: str) -> tuple[str, str]:
    """(kind, region code to assess) of a blank point's subject ``blank:<kind>:<code>``."""
    parts = subject.split(":", 2)
    if len(parts) != 3 or parts[0] != "blank" or parts[1] not in BLANK_MEASURES:
        raise ValidationError({"subject": "空白点标识无效"})
    kind, code = parts[1], parts[2]
    if kind == KIND_CLINIC:
        region = Institution.objects.filter(code=code).values_list("region_id", flat=True).first()
        return kind, region or ""
    return kind, code


def rectification_from_blank_point(*, user: Any, subject: str, as_of: date) -> tuple[Rectification, bool]:
    """空白点转整改 Raise the blank point ``subject`` (as assessed on ``as_of``) as a rectification item.

    The blank point is assessed again here (the page's text is not trusted); an open item of the same
    subject is returned instead of a second one. Returns (item, created).
    """
    kind, region_code = _blank_region(subject)
    _check_rectify(user, region_code)
    region = Region.objects.filter(code=region_code).first()
    if region is None:
        raise ValidationError({"subject": ERR_BLANK_GONE.format(on=as_of)})
    found = capacity_selectors.assessment(region=region, as_of=as_of)
    point: BlankPoint | None = next((b for b in found.blank_points if b.subject == subject), None)
    if point is None:
        raise ValidationError({"subject": ERR_BLANK_GONE.format(on=as_of)})
    existing = Rectification.objects.filter(subject=subject, status=RectificationStatus.OPEN).first()
    if existing is not None:
        return existing, False
    owner = _blank_owner(point.region_code)
    item = rectification_create(
        user=user,
        region_code=point.region_code,
        finding=f"空白点（{point.kind_label}）：{point.name}（{point.code}）{point.reason}",
        owner=owner,
        deadline_on=timezone.localdate() + timedelta(days=BLANK_DEADLINE_DAYS),
        source=BLANK_SOURCE.format(on=f"{as_of:%Y-%m-%d}"),
        measures=BLANK_MEASURES[kind],
        subject=subject,
    )
    return item, True


def _blank_owner(region_code: str) -> str:
    """责任人 The township's government-run health centre, else the township government."""
    lo, hi = prefix_range(region_code[:9])
    centre = (
        Institution.objects.filter(
            region_id__gte=lo, region_id__lt=hi, kind=InstitutionKind.TOWNSHIP_CENTRE, government_run=True
        )
        .order_by("code")
        .values_list("name", flat=True)
        .first()
    )
    if centre:
        return str(centre)
    name = Region.objects.filter(code=region_code[:9] + "000").values_list("name", flat=True).first()
    return f"{name or region_code}人民政府"
