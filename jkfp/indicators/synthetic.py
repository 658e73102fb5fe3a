"""示例数据 The demo county's indicator data: premium-subsidy rules, the yearly insurance enrolment (written
as a CSV and loaded through ``enrolment_import``, like a county's file), a few rectification items, the snapshot.

``demo_indicators_build`` runs last in ``jkfp demo`` (after care, settlement and monitoring) so the
snapshot it computes sees all their data. Running it again changes nothing but the computation time.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import transaction

from jkfp.core.importing import ImportSummary
from jkfp.indicators.definitions import target_q, year_bounds
from jkfp.indicators.models import PremiumRule, Rectification, RectificationStatus
from jkfp.indicators.services import snapshot_refresh
from jkfp.regions.models import prefix_range
from jkfp.registry.enrolment import enrolment_import
from jkfp.registry.models import Person, Tag, TagCode

# Illustrative personal premiums (城乡居民医保个人缴费标准, yuan) by year; the county sets its own in the admin.
DEMO_PREMIUMS = {
    2020: "250.00",
    2021: "280.00",
    2022: "320.00",
    2023: "350.00",
    2024: "380.00",
    2025: "400.00",
    2026: "400.00",
}
# domain.md §11 (a 2020 county report): 特困, 孤儿, 低保, 残疾, 严重精神障碍, 计生特困 get the full
# premium; other registered poor (and, in the demo, monitored persons) get half.
FULL = (
    TagCode.TEKUN,
    TagCode.ORPHAN,
    TagCode.DIBAO,
    TagCode.DISABLED,
    TagCode.SEVERE_MENTAL,
    TagCode.FAMILY_PLANNING_HARDSHIP,
)
HALF = (TagCode.POOR, TagCode.MONITORED)
DEMO_FINDINGS = (
    ("部分脱贫户家庭医生签约服务协议未交付到户", "县级督查", 30, True),
    ("个别村慢病随访记录与公卫系统不一致", "市级考核", 60, False),
)


# One target person in UNINSURED_EVERY is not insured in the demo (参保率 ≈ 99.4 %).
UNINSURED_EVERY = 157


@dataclass
class DemoIndicators:
    years: list[int] = field(default_factory=list)
    rules: int = 0
    enrolment: ImportSummary | None = None
    seconds: float = 0.0

    def text(self) -> str:
        years = "、".join(str(y) for y in self.years)
        enrolled = ""
        if self.enrolment is not None:
            e = self.enrolment
            enrolled = f"参保名单 {e.rows} 行（新增 {e.created}，更新 {e.updated}，无效 {e.invalid}），"
        return f"参保资助规则 {self.rules} 条，{enrolled}已计算 {years} 年度指标（{self.seconds:.1f} 秒）"


def demo_enrolment_write(*, path: Path, county_code: str, years: list[int]) -> Path:
    """参保名单 The county's target persons of each year: insured (premium minus the best subsidy of their
    tags paid, the subsidy received) but one in ``UNINSURED_EVERY``; written as a UTF-8 CSV."""
    lo, hi = prefix_range(county_code)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["身份证号", "年度", "参保状态", "个人缴费", "资助金额"])
        for year in years:
            _, dec31 = year_bounds(year)
            rules = dict(PremiumRule.objects.filter(year=year).values_list("tag", "subsidy_amount"))
            premium = Decimal(DEMO_PREMIUMS.get(year, "400.00"))
            persons = Person.objects.filter(target_q(year), village_id__gte=lo, village_id__lt=hi)
            best: dict[int, Decimal] = {}
            for person_id, code in Tag.objects.filter(
                person__in=persons, start_on__lte=dec31, code__in=list(rules)
            ).values_list("person_id", "code"):
                best[person_id] = max(best.get(person_id, Decimal(0)), rules[code])
            for pk, id_number in persons.order_by("pk").values_list("pk", "id_number"):
                if pk % UNINSURED_EVERY == 0:
                    writer.writerow([id_number, year, "未参保", "0.00", "0.00"])
                    continue
                subsidy = best.get(pk, Decimal(0))
                writer.writerow([id_number, year, "已参保", f"{premium - subsidy:.2f}", f"{subsidy:.2f}"])
    return path


def demo_indicators_build(*, county_code: str, today: date, out_dir: Path | None = None) -> DemoIndicators:
    """示例指标 Premium rules and the enrolment (参保名单.csv under ``out_dir``) of the last two years, two
    rectification items, and the snapshots of the last two years."""
    out_dir = out_dir or Path(settings.VAR_DIR) / "demo"
    result = DemoIndicators(years=[today.year - 1, today.year])
    with transaction.atomic():
        for year in result.years:
            premium = Decimal(DEMO_PREMIUMS.get(year, "400.00"))
            for tag in (*FULL, *HALF):
                subsidy = premium if tag in FULL else (premium / 2).quantize(Decimal("0.01"))
                _, created = PremiumRule.objects.get_or_create(
                    year=year, tag=tag, defaults={"premium_amount": premium, "subsidy_amount": subsidy}
                )
                result.rules += int(created)
        township = f"{county_code}001000"
        for finding, source, days, done in DEMO_FINDINGS:
            if Rectification.objects.filter(finding=finding).exists():
                continue
            Rectification.objects.create(
                region_code=township if done else county_code,
                finding=finding,
                source=source,
                owner="乡镇卫生院院长" if done else "县卫健局健康扶贫办",
                deadline_on=today + timedelta(days=days),
                measures="逐户核对，补交协议" if done else "与公卫系统逐条比对",
                evidence="交付回执照片" if done else "",
                status=RectificationStatus.DONE if done else RectificationStatus.OPEN,
                done_on=today if done else None,
            )
    enrolment = demo_enrolment_write(
        path=out_dir / "参保名单.csv", county_code=county_code, years=result.years
    )
    result.enrolment = enrolment_import(path=enrolment, errors_dir=out_dir / "errors")
    for year in result.years:
        result.seconds += snapshot_refresh(year=year).seconds
    return result


def demo_indicators_reset(*, county_code: str) -> None:
    """删除示例整改事项 (premium rules and snapshots are county-independent data, kept)."""
    Rectification.objects.filter(finding__in=[f for f, *_ in DEMO_FINDINGS]).delete()
