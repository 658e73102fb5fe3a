"""示例县的基层能力数据 The demo county's facilities, staff, paired support, telemedicine and training.

Written as files and loaded through the imports (``regions.imports.institutions_import`` with the
capacity columns, then ``capacity.imports``), so the demo exercises the same code as a county's data.
Deterministic for a given county and ``today``. Deliberate cases, so that the pages have something to show
(issue 16 item 7):

- the seat village of the first township has no clinic of its own: the township centre covers it
  (the exception 乡镇卫生院所在村或邻近村);
- a clinic whose only village doctor retired on the last day of last month (a blank point, kind clinic);
- a clinic that is not yet standardised (its 达标日期 is next month: a failed check, not a blank point);
- a village with neither a clinic nor a covering centre (a blank point, kind village);
- joint clinics (与邻村联合设置) serving a neighbouring village, a hand-over between two doctors, and a
  village doctor who also works at the township centre (a warning of the staff import).
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from jkfp.capacity.imports import staff_import, supports_import, telemedicine_import, trainings_import
from jkfp.capacity.models import (
    CapacityStandard,
    PairedSupport,
    Staff,
    TelemedicineLink,
    Training,
    TrainingAttendance,
)
from jkfp.core.idnumber import make_id_number
from jkfp.core.importing import ImportSummary
from jkfp.regions.imports import institutions_import
from jkfp.regions.models import Institution, Region, RegionLevel, prefix_range

INSTITUTION_HEADER = (
    "代码",
    "名称",
    "级别",
    "县域内",
    "所在地区代码",
    "类型",
    "政府办",
    "标准化",
    "达标日期",
    "服务村代码",
)
STAFF_HEADER = (
    "身份证号",
    "姓名",
    "机构代码",
    "岗位",
    "资质",
    "证书编号",
    "执业范围",
    "起始日期",
    "终止日期",
)
SUPPORT_HEADER = (
    "帮扶医院代码",
    "受援机构代码",
    "起始日期",
    "终止日期",
    "派驻人数",
    "驻点人月",
    "门诊人次",
    "手术台次",
    "培训场次",
    "备注",
)
TELEMEDICINE_HEADER = ("机构代码", "对接机构", "接入日期", "停用日期", "月份", "会诊人次")
TRAINING_HEADER = ("培训日期", "培训主题", "主办单位", "级别", "机构代码", "参训人数")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕兰凤洁梅琳素云莲真环雪荣爱妹香月莺媛瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜可姬舒影荔枝丽阳"
TRAINING_TOPICS = (
    ("高血压、糖尿病规范化管理", "县卫健局", "县级"),
    ("基本公共卫生服务规范", "县卫健局", "县级"),
    ("家庭医生签约服务政策", "县卫健局", "县级"),
    ("急诊急救技能", "随州市卫健委", "市级"),
    ("中医适宜技术推广", "县中医医院", "县级"),
    ("乡村医生岗位培训", "省卫健委", "省级"),
)


@dataclass
class DemoCapacity:
    """示例基层能力 What was loaded, per file."""

    summaries: dict[str, ImportSummary] = field(default_factory=dict)
    retired_doctor: str = ""  # the clinic whose doctor retired last month
    not_standardised: str = ""
    exception_village: str = ""
    blank_village: str = ""

    def text(self) -> str:
        parts = [
            f"{name} 新增{s.created} 更新{s.updated} 警告{s.warnings} 无效{s.invalid}"
            for name, s in self.summaries.items()
        ]
        return "；".join(parts)


def _write(path: Path, header: tuple[str, ...], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _last_month_end(today: date) -> date:
    return today.replace(day=1) - timedelta(days=1)


def demo_capacity_build(
    *,
    county_code: str,
    today: date,
    out_dir: Path,
    errors_dir: Path,
    doctor_names: dict[str, str] | None = None,
    seed: int = 2020,
) -> DemoCapacity:
    """示例基层能力 Write and import the capacity files of ``county_code`` (its regions and institutions exist).

    ``doctor_names`` (village code → name) names the village doctors as the family-doctor teams do, so that
    team members can be linked to their staff records.
    """
    rng = random.Random(seed)
    names = doctor_names or {}
    out = DemoCapacity()
    out_dir.mkdir(parents=True, exist_ok=True)
    lo, hi = prefix_range(county_code)
    townships = list(
        Region.objects.filter(level=RegionLevel.TOWNSHIP, code__gte=lo, code__lt=hi)
        .order_by("code")
        .values_list("code", "name")
    )
    villages: dict[str, list[tuple[str, str]]] = {t: [] for t, _ in townships}
    for code, name, parent in (
        Region.objects.filter(level=RegionLevel.VILLAGE, code__gte=lo, code__lt=hi)
        .order_by("code")
        .values_list("code", "name", "parent_id")
    ):
        villages.setdefault(parent, []).append((code, name))
    existing = dict(
        Institution.objects.filter(region_id__gte=lo, region_id__lt=hi).values_list("code", "name")
    )
    last_month_end = _last_month_end(today)
    next_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)

    facilities: list[list[str]] = []
    staff: list[list[str]] = []
    serial = 7000

    def person(name: str, born_year: int) -> str:
        nonlocal serial
        serial += 1
        return make_id_number(county_code, date(born_year, 1 + serial % 12, 1 + serial % 28), serial)

    def worker(name: str, inst: str, post: str, qual: str, start: date, end: date | None = None) -> None:
        born = start.year - rng.randint(24, 40)
        cert = f"{inst[-6:]}{serial % 1000:03d}" if qual != "无" else ""
        staff.append(
            [
                person(name, born),
                name,
                inst,
                post,
                qual,
                cert,
                "",
                f"{start:%Y-%m-%d}",
                f"{end:%Y-%m-%d}" if end else "",
            ]
        )

    county_hospital = f"H{county_code}0001"
    for code, kind, std in (
        (county_hospital, "县级医院", "2012-06-30"),
        (f"H{county_code}0002", "中医医院", "2014-12-31"),
        (f"H{county_code}0003", "妇幼保健院", "2015-06-30"),
    ):
        if code in existing:
            facilities.append([code, existing[code], "2", "是", county_code, kind, "是", "是", std, ""])
            for _ in range(4):
                worker(_name(rng), code, "医生", "执业医师", date(2008 + rng.randint(0, 10), 7, 1))
            worker(_name(rng), code, "护士", "护士执业证", date(2015, 8, 1))

    for t_index, (tcode, tname) in enumerate(townships):
        centre = f"W{tcode[:9]}"
        own = villages.get(tcode, [])
        covered: list[str] = []
        if t_index == 0 and own:
            covered.append(own[0][0])  # the seat village: covered by the centre, no clinic
            out.exception_village = own[0][1]
        facilities.append(
            [
                centre,
                existing.get(centre, f"{tname}卫生院"),
                "1",
                "是",
                tcode,
                "乡镇卫生院",
                "是",
                "是",
                f"{2016 + t_index % 4}-06-30",
                "、".join(covered),
            ]
        )
        worker(_name(rng), centre, "医生", "执业医师", date(2010, 7, 1))
        worker(_name(rng), centre, "医生", rng.choice(("执业助理医师", "全科医生培训合格")), date(2016, 7, 1))
        worker(_name(rng), centre, "护士", "护士执业证", date(2018, 3, 1))
        worker(_name(rng), centre, "管理", "无", date(2012, 1, 1))
        skip_next = False
        for v_index, (vcode, vname) in enumerate(own):
            if vcode in covered:
                continue
            if skip_next:  # served by the previous village's joint clinic
                skip_next = False
                continue
            if t_index == 1 and v_index == 2 and not out.blank_village:
                out.blank_village = vname  # neither a clinic nor a covering centre
                continue
            clinic = f"C{vcode}"
            served = [vcode]
            if v_index % 7 == 3 and v_index + 1 < len(own):
                served.append(own[v_index + 1][0])  # 与邻村联合设置
                skip_next = True
            std_on = f"{2017 + (v_index % 4)}-{1 + v_index % 12:02d}-15"
            if t_index == 0 and v_index == 2:
                std_on = f"{next_month:%Y-%m-%d}"  # not yet standardised
                out.not_standardised = existing.get(clinic, f"{tname}{vname}卫生室")
            facilities.append(
                [
                    clinic,
                    existing.get(clinic, f"{tname}{vname}卫生室"),
                    "1",
                    "是",
                    vcode,
                    "村卫生室",
                    "是",
                    "是",
                    std_on,
                    "、".join(served) if len(served) > 1 else "",
                ]
            )
            doctor = names.get(vcode) or _name(rng)
            if t_index == 0 and v_index == 1:
                # retired on the last day of last month, nobody yet in the post: a blank point
                worker(doctor, clinic, "乡村医生", "乡村医生证", date(1995, 3, 1), last_month_end)
                out.retired_doctor = existing.get(clinic, f"{tname}{vname}卫生室")
            elif t_index == 0 and v_index == 4:
                # a hand-over: the old doctor retired in 2023, the successor started the next day
                worker(_name(rng), clinic, "乡村医生", "乡村医生证", date(1990, 5, 1), date(2023, 6, 30))
                worker(doctor, clinic, "乡村医生", "乡村全科执业助理医师", date(2023, 7, 1))
            else:
                qualification = "执业助理医师" if v_index % 9 == 5 else "乡村医生证"
                worker(doctor, clinic, "乡村医生", qualification, date(2005 + v_index % 12, 3, 1))
                if v_index % 10 == 6:
                    worker(_name(rng), clinic, "护士", "护士执业证", date(2019, 9, 1))
            if t_index == 2 and not any(row[2] == centre and row[3] == "乡村医生" for row in staff):
                # this village doctor also sits at the township centre (a warning of the staff import)
                idn, name, *_ = staff[-1]
                staff.append(
                    [idn, name, centre, "乡村医生", "乡村医生证", "", "", f"{today.year - 1}-01-01", ""]
                )

    files = {
        "医疗机构": _write(out_dir / "capacity-institutions.csv", INSTITUTION_HEADER, facilities),
        "卫生人员": _write(out_dir / "capacity-staff.csv", STAFF_HEADER, staff),
    }
    out.summaries["医疗机构"] = institutions_import(path=files["医疗机构"], errors_dir=errors_dir)
    out.summaries["卫生人员"] = staff_import(path=files["卫生人员"], errors_dir=errors_dir, today=today)

    centres = [f"W{t[:9]}" for t, _ in townships]
    city = "H4213000001" if Institution.objects.filter(code="H4213000001").exists() else None
    support_rows: list[list[str]] = []
    if city:
        for year in (today.year - 1, today.year):
            support_rows.append(
                [
                    city,
                    county_hospital,
                    f"{year}-01-01",
                    f"{year}-12-31",
                    "5",
                    "30",
                    str(rng.randint(1500, 3000)),
                    str(rng.randint(60, 140)),
                    "12",
                    "三级医院对口帮扶县级医院",
                ]
            )
            support_rows.extend(
                [
                    county_hospital,
                    centre,
                    f"{year}-03-01",
                    f"{year}-12-31",
                    "2",
                    "10",
                    str(rng.randint(300, 900)),
                    str(rng.randint(5, 30)),
                    "4",
                    "县级医院帮扶乡镇卫生院",
                ]
                for centre in centres[:3]
            )
    out.summaries["对口帮扶"] = supports_import(
        path=_write(out_dir / "capacity-support.csv", SUPPORT_HEADER, support_rows),
        errors_dir=errors_dir,
        today=today,
    )

    tele_rows: list[list[str]] = []
    connected = [county_hospital, *centres[: max(1, len(centres) - 2)]]
    for index, code in enumerate(connected):
        since = date(2019 + index % 3, 1 + index % 6, 1)
        partner = "随州市远程会诊中心" if code == county_hospital else "随县人民医院远程会诊平台"
        months = [date(today.year - 1, m, 1) for m in range(1, 13)] + [
            date(today.year, m, 1) for m in range(1, today.month)
        ]
        tele_rows.extend(
            [code, partner, f"{since:%Y-%m-%d}", "", f"{month:%Y-%m}", str(rng.randint(2, 40))]
            for month in months
        )
    out.summaries["远程医疗"] = telemedicine_import(
        path=_write(out_dir / "capacity-telemedicine.csv", TELEMEDICINE_HEADER, tele_rows),
        errors_dir=errors_dir,
        today=today,
    )

    clinic_codes = [row[0] for row in facilities if row[5] == "村卫生室"]
    training_rows: list[list[str]] = []
    for year in (today.year - 1, today.year):
        for index, (topic, organiser, level) in enumerate(TRAINING_TOPICS):
            held = date(year, 2 + index * 2, 10)
            if held > today:
                continue
            training_rows.extend(
                [f"{held:%Y-%m-%d}", topic, organiser, level, code, str(rng.randint(3, 20))]
                for code in [county_hospital, *centres]
            )
            training_rows.extend(
                [f"{held:%Y-%m-%d}", topic, organiser, level, code, "1"] for code in clinic_codes[index::3]
            )
    out.summaries["培训"] = trainings_import(
        path=_write(out_dir / "capacity-training.csv", TRAINING_HEADER, training_rows),
        errors_dir=errors_dir,
        today=today,
    )
    return out


def demo_capacity_reset(*, county_code: str) -> None:
    """删除示例基层能力数据 Staff, support, telemedicine, training and standards of the county (before its
    institutions are deleted)."""
    lo, hi = prefix_range(county_code)
    in_county = {"institution__region_id__gte": lo, "institution__region_id__lt": hi}
    Staff.objects.filter(**in_county).delete()
    PairedSupport.objects.filter(supported__region_id__gte=lo, supported__region_id__lt=hi).delete()
    PairedSupport.objects.filter(supporting__region_id__gte=lo, supporting__region_id__lt=hi).delete()
    TelemedicineLink.objects.filter(**in_county).delete()
    TrainingAttendance.objects.filter(**in_county).delete()
    Training.objects.filter(attendances__isnull=True).delete()
    CapacityStandard.objects.filter(county_id=county_code).delete()
