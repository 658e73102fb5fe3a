"""指标写操作 Indicator services: refreshing the snapshot, premium rules, the rectification tracker.

``snapshot_refresh(year=…)`` is what imports, settlements and the demo call after they change data
(issue 7 §6); it replaces the year's snapshot in one transaction, so a page reads either the old or
the new figures, never a mix.
"""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from jkfp.accounts.models import Role
from jkfp.accounts.scoping import user_sees_code
from jkfp.indicators.catalogue import INDICATORS
from jkfp.indicators.compute import RegionTree, compute_all
from jkfp.indicators.models import (
    IndicatorSnapshot,
    PremiumRule,
    Rectification,
    RectificationStatus,
    SnapshotRun,
)

REFRESH_ROLES = frozenset({Role.COUNTY_ADMIN})
RECTIFY_ROLES = frozenset({Role.COUNTY_ADMIN, Role.TOWNSHIP})
ERR_ROLE_REFRESH = "只有县卫健局管理员可以重新计算指标"
ERR_ROLE_RECTIFY = "只有县卫健局管理员和乡镇卫生院可以登记或修改问题整改"
ERR_REGION = "区划不在您的管辖范围内"
ERR_EVIDENCE = "标记为已整改或已销号时必须填写佐证材料"
ERR_YEAR = "年度须在2016至2100之间"
ERR_SUBSIDY = "资助金额不能为负，也不能超过个人缴费标准"


def snapshot_refresh(*, year: int) -> SnapshotRun:
    """刷新指标快照 Recompute every indicator of ``year`` for every region and replace the stored figures."""
    if not 2016 <= year <= 2100:
        raise ValidationError({"year": ERR_YEAR})
    started = time.perf_counter()
    tree = RegionTree.load()
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
    if getattr(user, "role", None) not in REFRESH_ROLES:
        raise PermissionDenied(ERR_ROLE_REFRESH)
    return snapshot_refresh(year=year)


def premium_rule_set(*, year: int, tag: str, premium_amount: Decimal, subsidy_amount: Decimal) -> PremiumRule:
    """设置参保资助规则 Create or change the subsidy a tag earns in ``year`` (domain.md §11)."""
    if subsidy_amount < 0 or subsidy_amount > premium_amount:
        raise ValidationError({"subsidy_amount": ERR_SUBSIDY})
    rule = PremiumRule.objects.filter(year=year, tag=tag).first() or PremiumRule(year=year, tag=tag)
    rule.premium_amount = premium_amount
    rule.subsidy_amount = subsidy_amount
    rule.full_clean()
    rule.save()
    return rule


def _check_rectify(user: Any, region_code: str) -> None:
    if getattr(user, "role", None) not in RECTIFY_ROLES:
        raise PermissionDenied(ERR_ROLE_RECTIFY)
    if not user_sees_code(user, region_code):
        raise PermissionDenied(ERR_REGION)


def rectification_create(
    *,
    user: Any,
    region_code: str,
    finding: str,
    owner: str,
    deadline_on: date,
    source: str = "",
    measures: str = "",
) -> Rectification:
    """登记整改问题 Record a finding for a region inside the user's scope."""
    _check_rectify(user, region_code)
    item = Rectification(
        region_code=region_code,
        finding=finding.strip(),
        owner=owner.strip(),
        deadline_on=deadline_on,
        source=source.strip(),
        measures=measures.strip(),
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
