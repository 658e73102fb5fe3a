"""示例县数据 Synthetic demo county and roster files (deterministic by seed).

Pure Python + numpy + xlsxwriter, no Django at module level: the benchmarks use it without a
database. Two entry points:

- :func:`build_county` writes a whole county the way it arrives at the health bureau: the region
  table, the institutions, and three roster lists (national platform, provincial health-poverty
  system, county poverty office) that disagree as ``domain.md`` §1 and §4.1 describe.
- :func:`write_roster` / :func:`write_regions` write one large roster fast (1M rows in seconds) for
  the import benchmarks.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import random
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from jkfp.core.idnumber import CHECK_CHARS, WEIGHTS, check_char, make_id_number

ROSTER_HEADER = ("身份证号", "姓名", "村代码", "户编号", "与户主关系", "人员类别", "患病情况", "联系电话")
REGION_HEADER = ("代码", "名称", "上级代码", "级别")
INSTITUTION_HEADER = ("代码", "名称", "级别", "县域内", "所在地区代码")

# The three source lists of the demo: (name, file name, year, encoding). The provincial system
# still carries the 2020 campaign list; the national platform and the poverty office sent 2021 lists.
NATIONAL = "国家平台"
PROVINCIAL = "省健康扶贫系统"
OFFICE = "县扶贫办"
SOURCE_FILES: tuple[tuple[str, str, int, str], ...] = (
    (PROVINCIAL, "省健康扶贫系统.xlsx", 2020, "xlsx"),
    (NATIONAL, "国家平台.csv", 2021, "utf-8"),
    (OFFICE, "县扶贫办.csv", 2021, "gbk"),
)

# Ages are computed at this date so that the files do not change with the calendar.
REFERENCE_DATE = date(2021, 6, 30)

# 随县's real townships first; more are made up when asked for more.
TOWNSHIP_NAMES = (
    "厉山镇", "高城镇", "殷店镇", "草店镇", "小林镇", "淮河镇", "万和镇", "尚市镇", "唐县镇", "吴山镇",
    "新街镇", "安居镇", "环潭镇", "洪山镇", "长岗镇", "三里岗镇", "柳林镇", "均川镇", "万福店农场",
)  # fmt: skip
_TOWNSHIP_EXTRA = "青龙白石桂花双河金桥柏树梅岭杨柳莲花凤凰"

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
# Hubei villages: 胡, 刘, 王, 张, 李, 陈 are the big clans; weights fall off after them.
_SURNAME_WEIGHTS = tuple(
    12.0 if c in "胡刘王张李陈" else 6.0 if i < 30 else 2.0 for i, c in enumerate(SURNAMES)
)
_SURNAME_CUM = tuple(itertools.accumulate(_SURNAME_WEIGHTS))
MALE_CHARS = "伟强军明华建国平勇刚斌杰涛峰林波辉鹏飞超俊文志红海东春玉永德新成兵山忠福生龙宏金学光庆友"
FEMALE_CHARS = "芳丽娟敏静霞秀英兰琴梅艳燕玲红凤桂珍萍莉华云慧婷雪洁琳玉春翠菊莲"

# 同音字 Homophones that clerks type for one another (张伟 / 张玮).
HOMOPHONES = {
    "伟": "玮", "强": "蔷", "军": "君", "明": "铭", "华": "桦", "建": "健", "国": "帼", "平": "萍",
    "勇": "永", "刚": "钢", "斌": "彬", "杰": "洁", "涛": "韬", "峰": "锋", "林": "琳", "波": "博",
    "辉": "晖", "鹏": "朋", "飞": "菲", "超": "潮", "俊": "骏", "文": "雯", "志": "智", "红": "宏",
    "东": "冬", "春": "椿", "玉": "钰", "永": "勇", "新": "鑫", "成": "诚", "兵": "冰", "山": "珊",
    "忠": "中", "福": "富", "生": "升", "龙": "隆", "宏": "鸿", "金": "津", "学": "雪", "芳": "方",
    "丽": "莉", "娟": "鹃", "静": "靖", "霞": "侠", "秀": "琇", "英": "瑛", "兰": "岚", "琴": "芹",
    "梅": "玫", "艳": "燕", "燕": "艳", "玲": "铃", "凤": "风", "桂": "贵", "珍": "贞", "萍": "平",
    "莉": "丽", "云": "芸", "慧": "惠", "婷": "亭", "雪": "学", "洁": "杰", "翠": "萃", "菊": "桔",
    "莲": "连", "海": "凯", "德": "得", "光": "广", "庆": "青", "友": "有", "敏": "闵",
}  # fmt: skip

_VILLAGE_FEATURES = "湾畈冲岗河店庄坡寨桥沟岭铺垱堰山"
_VILLAGE_PLAIN = (
    "桃园", "龙泉", "新店", "双河", "三里", "红星", "新华", "团结", "光明", "和平", "白果树", "杨树岗",
    "柳树沟", "黄土岗", "石桥", "青山", "凤凰", "金鸡", "马鞍山", "大堰", "长冲", "花园", "联合", "胜利",
    "前进", "东风", "太平", "永兴", "雷公", "银杏", "松林", "古城", "何店", "王家店", "龙潭", "石门",
)  # fmt: skip

# Neighbouring places where spouses and some others were born (ID prefix other than the county).
_BIRTH_PLACES_ELSEWHERE = ("421303", "421381", "420684", "420821", "420116", "411528", "420982")

# Chronic and major conditions with their weight among ill persons (domain.md §5, §6).
_CONDITIONS: tuple[tuple[str, float], ...] = (
    ("高血压", 50.0), ("2型糖尿病", 18.0), ("脑卒中", 7.0), ("冠心病", 7.0), ("慢性阻塞性肺疾病", 6.0),
    ("老年慢性支气管炎", 5.0), ("骨关节炎", 4.0), ("类风湿性关节炎", 2.0), ("严重精神障碍", 2.0),
    ("肺结核", 0.8), ("终末期肾病", 1.2), ("白内障", 2.5), ("肺癌", 0.6), ("胃癌", 0.4), ("食管癌", 0.4),
    ("乳腺癌", 0.3), ("宫颈癌", 0.3), ("肝癌", 0.3), ("急性心肌梗死", 0.6), ("尘肺病", 0.5),
    ("慢性阻塞性肺气肿", 0.8),
    # not in the catalogue: imported as unmatched conditions with a warning
    ("腰椎间盘突出", 2.0), ("颈椎病", 1.0), ("胆结石", 0.8), ("慢性胃炎", 0.8),
)  # fmt: skip
_CONDITION_NAMES = tuple(n for n, _ in _CONDITIONS)
_CONDITION_CUM = tuple(itertools.accumulate(w for _, w in _CONDITIONS))
# How the national platform writes some names (aliases the catalogue knows).
_ALIASES = {"2型糖尿病": "糖尿病", "慢性阻塞性肺疾病": "慢阻肺", "脑卒中": "中风", "终末期肾病": "尿毒症"}

OUT_OF_COUNTY_HOSPITALS = (
    ("H4213000001", "随州市中心医院"),
    ("H4201000001", "湖北省人民医院"),
    ("H4201000002", "华中科技大学同济医学院附属同济医院"),
    ("H4206000001", "襄阳市中心医院"),
)


@dataclass(frozen=True)
class SourceFile:
    """来源名单文件 One roster list of the demo."""

    name: str
    path: Path
    year: int
    encoding: str
    rows: int
    invalid_rows: int
    persons: int  # distinct valid persons the list names


@dataclass(frozen=True)
class DemoFiles:
    """示例县文件 What :func:`build_county` wrote, with the figures the import should reproduce."""

    out_dir: Path
    regions: Path
    institutions: Path
    sources: tuple[SourceFile, ...]
    county_code: str
    county_name: str
    township_codes: tuple[str, ...]
    village_codes: tuple[str, ...]
    county_hospital_code: str
    persons: int  # distinct valid persons across the three lists
    households: int
    in_all: int
    in_one: int
    name_conflicts: int
    village_conflicts: int
    household_conflicts: int
    ill_persons: int

    def source(self, name: str) -> SourceFile:
        return next(s for s in self.sources if s.name == name)


@dataclass
class _Person:
    id_number: str
    name: str
    sex: str
    age: int
    relation: str
    village: str
    household_no: str
    phone: str
    tags: list[str] = field(default_factory=list)  # tag codes
    conditions: list[str] = field(default_factory=list)
    lists: list[str] = field(default_factory=list)


@dataclass
class _Household:
    number: str
    village: str
    kind: str  # "target", "former" (provincial list only), "new" (monitored / dibao, office list)
    members: list[_Person]


class _Ids:
    """身份证号发号 Unique, valid ID numbers with the sex digit and the birth date given."""

    def __init__(self, rng: random.Random, county_code: str) -> None:
        self.rng = rng
        self.county = county_code
        self.used: set[str] = set()

    def make(self, *, age: int, sex: str, elsewhere: float) -> str:
        rng = self.rng
        while True:
            region = rng.choice(_BIRTH_PLACES_ELSEWHERE) if rng.random() < elsewhere else self.county
            born = REFERENCE_DATE - timedelta(days=age * 365 + rng.randrange(365) + age // 4)
            serial = rng.randrange(500) * 2 + (1 if sex == "M" else 0)
            number = make_id_number(region, born, serial)
            if number not in self.used:
                self.used.add(number)
                return number


def _given_name(rng: random.Random, sex: str, age: int) -> str:
    pool = MALE_CHARS if sex == "M" else FEMALE_CHARS
    single = 0.35 if age >= 50 else 0.2
    if rng.random() < single:
        return rng.choice(pool)
    return rng.choice(pool) + rng.choice(pool)


def _surname(rng: random.Random) -> str:
    return rng.choices(SURNAMES, cum_weights=_SURNAME_CUM)[0]


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


# Household compositions by size: relation names in order after 户主.
_COMPOSITIONS: dict[int, tuple[tuple[float, tuple[str, ...]], ...]] = {
    1: ((1.0, ()),),
    2: ((0.6, ("配偶",)), (0.25, ("子女",)), (0.15, ("父母",))),
    3: ((0.6, ("配偶", "子女")), (0.25, ("配偶", "父母")), (0.15, ("子", "孙"))),
    4: ((0.55, ("配偶", "子女", "子女")), (0.3, ("配偶", "子女", "父母")), (0.15, ("配偶", "子", "儿媳"))),
    5: ((0.5, ("配偶", "子", "儿媳", "孙")), (0.5, ("配偶", "子女", "子女", "父母"))),
    6: ((0.5, ("配偶", "子", "儿媳", "孙", "孙")), (0.5, ("配偶", "子女", "子女", "父亲", "母亲"))),
}


def _members(rng: random.Random, ids: _Ids, size: int) -> list[tuple[str, str, int, str, str]]:
    """(relation, sex, age, surname-kind, id) for the members of one household."""
    weights = [w for w, _ in _COMPOSITIONS[size]]
    shape = rng.choices([c for _, c in _COMPOSITIONS[size]], weights=weights)[0]
    if size == 1:
        head_age = rng.randint(55, 92) if rng.random() < 0.8 else rng.randint(28, 54)
    elif "孙" in shape:
        head_age = rng.randint(52, 80)
    elif "父母" in shape or "父亲" in shape:
        head_age = rng.randint(30, 58)
    elif "子女" in shape or "子" in shape:
        head_age = rng.randint(32, 75)
    else:
        head_age = rng.randint(35, 85)
    head_sex = "M" if rng.random() < 0.86 else "F"
    out: list[tuple[str, str, int, str, str]] = [("户主", head_sex, head_age, "own", "")]
    son_age = 0
    for role in shape:
        if role == "配偶":
            age = max(18, head_age + (rng.randint(-6, 3) if head_sex == "M" else rng.randint(-3, 6)))
            out.append(("配偶", "F" if head_sex == "M" else "M", age, "other", ""))
        elif role in ("子女", "子"):
            sex = "M" if role == "子" or rng.random() < 0.52 else "F"
            age = max(0, head_age - rng.randint(20, 36))
            if role == "子" or "孙" in shape:
                age = max(age, 22)
            son_age = max(son_age, age)
            out.append(("子" if sex == "M" else "女", sex, age, "own", ""))
        elif role == "儿媳":
            out.append(("儿媳", "F", max(20, son_age + rng.randint(-4, 2)), "other", ""))
        elif role == "孙":
            sex = "M" if rng.random() < 0.53 else "F"
            age = max(0, min(son_age - 20, rng.randint(0, 16)))
            out.append(("孙子" if sex == "M" else "孙女", sex, age, "own", ""))
        elif role in ("父母", "父亲", "母亲"):
            sex = "M" if role == "父亲" or (role == "父母" and rng.random() < 0.4) else "F"
            age = min(99, head_age + rng.randint(22, 34))
            out.append(("父亲" if sex == "M" else "母亲", sex, age, "own" if sex == "M" else "other", ""))
    result = []
    for relation, sex, age, kind, _ in out:
        elsewhere = 0.3 if relation in ("配偶", "儿媳", "母亲") else 0.05
        result.append((relation, sex, age, kind, ids.make(age=age, sex=sex, elsewhere=elsewhere)))
    return result


def _household_sizes(rng: random.Random, households: int, persons: int) -> list[int]:
    base = [1, 2, 3, 4, 5, 6]
    weights = [0.2, 0.25, 0.22, 0.17, 0.1, 0.06]
    sizes = rng.choices(base, weights=weights, k=households)
    diff = persons - sum(sizes)
    step = 1 if diff > 0 else -1
    candidates = list(range(households))
    while diff:
        i = rng.choice(candidates)
        if 1 <= sizes[i] + step <= 6:
            sizes[i] += step
            diff -= step
    return sizes


def _region_tree(
    rng: random.Random, county_code: str, townships: int, villages: int
) -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, str]]]]:
    """Townships (code, name) and their villages (code, name)."""
    town_list: list[tuple[str, str]] = []
    for t in range(townships):
        if t < len(TOWNSHIP_NAMES):
            name = TOWNSHIP_NAMES[t]
        else:
            a, b = divmod(t - len(TOWNSHIP_NAMES), len(_TOWNSHIP_EXTRA) // 2)
            name = _TOWNSHIP_EXTRA[2 * b : 2 * b + 2] + ("镇" if a == 0 else f"{a + 1}镇")
        town_list.append((f"{county_code}{100 + t:03d}000", name))
    weights = [rng.uniform(0.6, 1.4) for _ in range(townships)]
    counts = [1] * townships
    for _ in range(max(0, villages - townships)):
        counts[rng.choices(range(townships), weights=weights)[0]] += 1
    tree: dict[str, list[tuple[str, str]]] = {}
    for (tcode, _tname), count in zip(town_list, counts, strict=True):
        names: list[str] = []
        seen: set[str] = set()
        while len(names) < count:
            if rng.random() < 0.45:
                name = f"{_surname(rng)}家{rng.choice(_VILLAGE_FEATURES)}村"
            else:
                name = f"{rng.choice(_VILLAGE_PLAIN)}村"
            if name in seen:
                name = f"{name[:-1]}{rng.choice('东西南北')}村"
            if name in seen:
                continue
            seen.add(name)
            names.append(name)
        tree[tcode] = [(f"{tcode[:9]}{201 + v:03d}", n) for v, n in enumerate(names)]
    return town_list, tree


def _pick_conditions(rng: random.Random, age: int, ill_factor: float) -> list[str]:
    base = 0.10 if age < 40 else 0.42 if age < 60 else 0.62
    if age < 18:
        base = 0.03
    if rng.random() >= min(0.95, base * ill_factor):
        return []
    names, cum = _CONDITION_NAMES, _CONDITION_CUM
    count = 1 if rng.random() < 0.72 else 2 if rng.random() < 0.8 else 3
    chosen: list[str] = []
    for _ in range(count):
        name = rng.choices(names, cum_weights=cum)[0]
        if name not in chosen:
            chosen.append(name)
    if age < 14 and rng.random() < 0.3:
        chosen = ["儿童先天性心脏病"]
    return chosen


def _render_tags(person: _Person, source: str, rng: random.Random) -> str:
    """How one list writes a person's tags (each system has its own vocabulary, domain.md §4.1)."""
    out: list[str] = []
    for code in person.tags:
        if code == "poor":
            if source == PROVINCIAL:
                out.append("建档立卡")
            elif source == NATIONAL:
                out.append("脱贫")
            else:
                out.append("建档立卡" if rng.random() < 0.7 else "脱贫")
        elif code == "monitored" and source in (NATIONAL, OFFICE, PROVINCIAL):
            out.append("监测对象")
        elif code == "dibao" and source == OFFICE:
            out.append("低保")
        elif code == "tekun" and source in (PROVINCIAL, OFFICE):
            out.append("特困")
        elif code == "disabled" and source in (PROVINCIAL, OFFICE):
            out.append("残疾")
        elif code == "severe_mental" and source in (PROVINCIAL, OFFICE):
            out.append("严重精神障碍")
        elif code == "family_planning_hardship" and source == OFFICE:
            out.append("计生特困")
    return "、".join(out)


def _render_conditions(person: _Person, source: str, rng: random.Random) -> str:
    if not person.conditions:
        return ""
    if source == PROVINCIAL:
        return "、".join(person.conditions)
    if source == NATIONAL:
        names = [_ALIASES.get(c, c) if rng.random() < 0.4 else c for c in person.conditions]
        return "、".join(names)
    return person.conditions[0] if rng.random() < 0.5 else ""


def _homophone(name: str) -> str | None:
    for i in range(len(name) - 1, 0, -1):
        if name[i] in HOMOPHONES:
            return name[:i] + HOMOPHONES[name[i]] + name[i + 1 :]
    return None


def _invalid_rows(
    rng: random.Random, ids: _Ids, county_code: str, village: str, kinds: Sequence[str]
) -> list[list[str]]:
    """A handful of rows the import must refuse, so the demo shows its error report."""
    rows: list[list[str]] = []
    hh = f"{village}9{rng.randrange(1000):03d}"

    def person(age: int = 45, sex: str = "M") -> tuple[str, str]:
        number = ids.make(age=age, sex=sex, elsewhere=0.0)
        return number, _surname(rng) + _given_name(rng, sex, age)

    for kind in kinds:
        number, name = person()
        row = [number, name, village, hh, "户主", "建档立卡", "", _phone(rng)]
        if kind == "check":
            bad = CHECK_CHARS[(CHECK_CHARS.index(number[17]) + 3) % 11]
            row[0] = number[:17] + bad
        elif kind == "empty_name":
            row[1] = ""
        elif kind == "unknown_village":
            row[2] = f"{county_code}999999"
        elif kind == "hyperlink":
            row[1] = f'=HYPERLINK("http://example.invalid/x","{name}")'
            body = f"{number[:6]}19990231{number[14:17]}"  # 2月31日 does not exist
            row[0] = body + check_char(body)
        elif kind == "future":
            body = f"{number[:6]}20990101{number[14:17]}"
            row[0] = body + check_char(body)
        elif kind == "unknown_tag":
            row[5] = "低收入户"  # a word no synonym covers (五保户 is 特困 since issue 18)
        elif kind == "short":
            row[0] = number[:16]
        elif kind == "conflict":
            # the same ID twice with different names: both rows are invalid
            rows.append(row)
            row = [*row]
            row[1] = _surname(rng) + _given_name(rng, "M", 45)
        rows.append(row)
    return rows


def build_county(
    out_dir: Path,
    *,
    townships: int = 15,
    villages: int = 350,
    persons: int = 50_000,
    households: int = 17_000,
    seed: int = 2020,
    county_code: str = "421321",
    county_name: str = "随县",
) -> DemoFiles:
    """生成示例县 Write the demo county's regions, institutions and three disagreeing roster lists."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    townships = max(1, townships)
    villages = max(townships, villages)
    persons = max(1, persons)
    households = max(min(max(1, households), persons), math.ceil(persons / 6))

    town_list, tree = _region_tree(rng, county_code, townships, villages)
    village_list = [code for t, _ in town_list for code, _ in tree[t]]
    village_town = {code: t for t, _ in town_list for code, _ in tree[t]}

    regions_path = out_dir / "regions.csv"
    with regions_path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(REGION_HEADER)
        w.writerow([county_code, county_name, "", "县"])
        for tcode, tname in town_list:
            w.writerow([tcode, tname, county_code, "乡镇"])
            for vcode, vname in tree[tcode]:
                w.writerow([vcode, vname, tcode, "村"])

    institutions_path = out_dir / "institutions.csv"
    county_hospital = f"H{county_code}0001"
    with institutions_path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(INSTITUTION_HEADER)
        w.writerow([county_hospital, f"{county_name}人民医院", "2", "是", county_code])
        w.writerow([f"H{county_code}0002", f"{county_name}中医医院", "2", "是", county_code])
        w.writerow([f"H{county_code}0003", f"{county_name}妇幼保健院", "2", "是", county_code])
        for tcode, tname in town_list:
            w.writerow([f"W{tcode[:9]}", f"{tname}卫生院", "1", "是", tcode])
            for i, (vcode, vname) in enumerate(tree[tcode]):
                if i % 5 == 0:
                    w.writerow([f"C{vcode}", f"{tname}{vname}卫生室", "1", "是", vcode])
        for code, name in OUT_OF_COUNTY_HOSPITALS:
            w.writerow([code, name, "3", "否", ""])

    # --- the people ---------------------------------------------------------------------------
    ids = _Ids(rng, county_code)
    village_cum = list(itertools.accumulate(rng.lognormvariate(0, 0.45) for _ in village_list))
    sizes = _household_sizes(rng, households, persons)
    seq: dict[str, int] = {}
    all_households: list[_Household] = []
    for size in sizes:
        village = rng.choices(village_list, cum_weights=village_cum)[0]
        seq[village] = seq.get(village, 0) + 1
        number = f"{village}{seq[village]:04d}"
        surname = _surname(rng)
        members: list[_Person] = []
        household_phone = _phone(rng)
        for relation, sex, age, kind, number_id in _members(rng, ids, size):
            family = surname if kind == "own" else _surname(rng)
            phone = ""
            if age >= 16:
                phone = _phone(rng) if rng.random() < 0.45 else household_phone
            members.append(
                _Person(
                    id_number=number_id,
                    name=family + _given_name(rng, sex, age),
                    sex=sex,
                    age=age,
                    relation=relation,
                    village=village,
                    household_no=number,
                    phone=phone,
                )
            )
        all_households.append(_Household(number=number, village=village, kind="target", members=members))

    # household kind: ill households more often left only in the provincial list (domain.md §1)
    for hh in all_households:
        ill_factor = 1.0
        for p in hh.members:
            p.conditions = _pick_conditions(rng, p.age, ill_factor)
        any_ill = any(p.conditions for p in hh.members)
        r = rng.random()
        if r < 0.045:
            hh.kind = "new"
        elif r < 0.045 + (0.5 if any_ill else 0.12):
            hh.kind = "former"

    for hh in all_households:
        dibao = hh.kind != "former" and rng.random() < 0.13
        for p in hh.members:
            tags: list[str] = []
            if hh.kind in ("target", "former"):
                tags.append("poor")
            if hh.kind == "new" or (hh.kind == "target" and rng.random() < 0.004):
                tags.append("monitored")
            if dibao:
                tags.append("dibao")
            if len(hh.members) == 1 and p.age >= 60 and hh.kind == "target" and rng.random() < 0.7:
                tags.append("tekun")
            if rng.random() < 0.05:
                tags.append("disabled")
            if "严重精神障碍" in p.conditions:
                tags.append("severe_mental")
            if hh.kind != "former" and p.age >= 50 and rng.random() < 0.005:
                tags.append("family_planning_hardship")
            p.tags = tags

    # --- which lists name whom ---------------------------------------------------------------
    membership = {
        "target": {PROVINCIAL: 0.88, NATIONAL: 0.93, OFFICE: 0.72},
        "former": {PROVINCIAL: 1.0, NATIONAL: 0.06, OFFICE: 0.03},
        "new": {PROVINCIAL: 0.15, NATIONAL: 0.35, OFFICE: 1.0},
    }
    primary = {"target": NATIONAL, "former": PROVINCIAL, "new": OFFICE}
    for hh in all_households:
        chosen = [s for s, p in membership[hh.kind].items() if rng.random() < p]
        for person in hh.members:
            # a member missing from one list (moved out, married in, not yet entered)
            lists = [s for s in chosen if rng.random() >= 0.03]
            person.lists = lists or [primary[hh.kind]]

    everyone = [p for hh in all_households for p in hh.members]
    # --- per-list variants: what each list says of each person -------------------------------
    variants: dict[str, dict[str, dict[str, str]]] = {s: {} for s, *_ in SOURCE_FILES}
    name_conflicts = village_conflicts = household_conflicts = 0
    for person in everyone:
        for source in person.lists:
            variants[source][person.id_number] = {
                "name": person.name,
                "village": person.village,
                "household_no": person.household_no,
                "phone": person.phone,
                "tags": _render_tags(person, source, rng),
                "conditions": _render_conditions(person, source, rng),
            }
        if len(person.lists) < 2:
            continue
        target = rng.choice(person.lists)
        slot = variants[target][person.id_number]
        r = rng.random()
        if r < 0.035:
            alt = _homophone(person.name)
            if alt is not None:
                slot["name"] = alt
                name_conflicts += 1
        elif r < 0.045:
            town = village_town[person.village]
            others = [c for c, _ in tree[town] if c != person.village]
            if others:
                slot["village"] = rng.choice(others)
                village_conflicts += 1
        elif r < 0.053:
            hh_no = person.household_no
            swapped = hh_no[:-2] + hh_no[-1] + hh_no[-2]
            if swapped == hh_no:
                swapped = hh_no[:-1] + str((int(hh_no[-1]) + 1) % 10)
            slot["household_no"] = swapped
            household_conflicts += 1
        elif r < 0.09:
            slot["phone"] = _phone(rng)

    # --- write the lists ------------------------------------------------------------------------
    invalid_kinds = {
        PROVINCIAL: ("check", "empty_name", "unknown_village", "unknown_tag", "conflict", "short"),
        NATIONAL: ("check", "check", "hyperlink", "future", "unknown_village"),
        OFFICE: ("check", "empty_name", "unknown_tag", "conflict"),
    }
    sources: list[SourceFile] = []
    by_id = {p.id_number: p for p in everyone}
    for source, file_name, year, encoding in SOURCE_FILES:
        rows: list[list[str]] = []
        for person in everyone:
            v = variants[source].get(person.id_number)
            if v is None:
                continue
            number = person.id_number
            rows.append(
                [
                    number,
                    v["name"],
                    v["village"],
                    v["household_no"],
                    person.relation,
                    v["tags"],
                    v["conditions"],
                    v["phone"] if (source != OFFICE or rng.random() < 0.6) else "",
                ]
            )
        valid_persons = len(rows)
        # written differently but the same person: an old 15-digit number, a lower-case x
        for row in rows:
            number = row[0]
            if source == NATIONAL and number[6:8] == "19" and rng.random() < 0.002:
                row[0] = number[:6] + number[8:17]
            elif source == OFFICE and number.endswith("X") and rng.random() < 0.05:
                row[0] = number[:17] + "x"
        # identical repeated rows count once (valid)
        for _ in range(3):
            rows.insert(rng.randrange(len(rows) + 1), list(rows[rng.randrange(len(rows))]))
        bad = _invalid_rows(rng, ids, county_code, rng.choice(village_list), invalid_kinds[source])
        for row in bad:
            rows.insert(rng.randrange(len(rows) + 1), row)
        path = out_dir / file_name
        if encoding == "xlsx":
            _write_xlsx_small(path, rows)
        else:
            buf = io.StringIO(newline="")
            w = csv.writer(buf, lineterminator="\r\n")
            w.writerow(ROSTER_HEADER)
            w.writerows(rows)
            # GBK: what Excel writes on a Chinese Windows; every generated character is in GBK.
            path.write_bytes(buf.getvalue().encode(encoding))
        sources.append(
            SourceFile(
                name=source,
                path=path,
                year=year,
                encoding=encoding,
                rows=len(rows),
                invalid_rows=len(bad),
                persons=valid_persons,
            )
        )

    counts = [len(p.lists) for p in everyone]
    return DemoFiles(
        out_dir=out_dir,
        regions=regions_path,
        institutions=institutions_path,
        sources=tuple(sources),
        county_code=county_code,
        county_name=county_name,
        township_codes=tuple(t for t, _ in town_list),
        village_codes=tuple(village_list),
        county_hospital_code=county_hospital,
        persons=len(by_id),
        households=len(all_households),
        in_all=sum(1 for c in counts if c == len(SOURCE_FILES)),
        in_one=sum(1 for c in counts if c == 1),
        name_conflicts=name_conflicts,
        village_conflicts=village_conflicts,
        household_conflicts=household_conflicts,
        ill_persons=sum(1 for p in everyone if p.conditions),
    )


def _write_xlsx_small(path: Path, rows: list[list[str]]) -> None:
    """Write a roster with xlsxwriter; every cell as text (IDs and household numbers are not numbers)."""
    import xlsxwriter  # noqa: PLC0415 (a heavy library, loaded only when a file is written)

    # Shared strings as Excel writes them (and twice as fast as constant_memory's inline strings).
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False})
    try:
        sheet = workbook.add_worksheet("花名册")
        for c, text in enumerate(ROSTER_HEADER):
            sheet.write_string(0, c, text)
        for r, row in enumerate(rows, start=1):
            for c, text in enumerate(row):
                if text:
                    sheet.write_string(r, c, text)
    finally:
        workbook.close()


# ---------------------------------------------------------------------------------------------
# Fast roster for benchmarks
# ---------------------------------------------------------------------------------------------

_BENCH_TAGS = np.array(
    [
        "脱贫",
        "建档立卡",
        "脱贫、低保",
        "脱贫、残疾",
        "监测对象",
        "特困",
        "建档立卡、低保",
        "低保",
        "脱贫、监测对象",
    ]
)
_BENCH_TAG_P = np.array([0.45, 0.2, 0.08, 0.05, 0.05, 0.02, 0.05, 0.05, 0.05])
_BENCH_CONDITIONS = np.array(
    ["", "高血压", "2型糖尿病", "高血压、2型糖尿病", "脑卒中", "冠心病", "慢性阻塞性肺疾病", "终末期肾病",
     "白内障", "肺癌", "腰椎间盘突出", "高血压、冠心病"]
)  # fmt: skip
_BENCH_COND_P = np.array([0.65, 0.14, 0.05, 0.04, 0.025, 0.025, 0.02, 0.005, 0.01, 0.003, 0.01, 0.022])
_RELATIONS = np.array(["户主", "配偶", "子", "女", "孙子", "孙女"])


@dataclass(frozen=True)
class RosterFile:
    """大花名册 What :func:`write_roster` wrote; ``valid + invalid == rows``."""

    path: Path
    rows: int
    valid: int
    invalid: int
    persons: int  # distinct persons among the valid rows
    duplicates: int  # identical repeated rows (valid, count once)
    villages: tuple[str, ...]


def default_villages(
    county_code: str = "421321", *, townships: int = 15, per_township: int = 24
) -> list[str]:
    """示例村代码 Village codes ``county + 3 digits + 3 digits`` used when none are given."""
    return [f"{county_code}{100 + t:03d}{201 + v:03d}" for t in range(townships) for v in range(per_township)]


def write_regions(
    path: Path,
    *,
    county_code: str = "421321",
    county_name: str = "随县",
    villages: list[str] | None = None,
    fmt: str = "csv",
) -> list[str]:
    """写区划表 Write the county, townships and ``villages`` (default :func:`default_villages`)."""
    villages = list(villages) if villages is not None else default_villages(county_code)
    townships = sorted({v[:9] for v in villages})
    rows: list[list[str]] = [[county_code, county_name, "", "县"]]
    for i, t in enumerate(townships):
        name = TOWNSHIP_NAMES[i] if i < len(TOWNSHIP_NAMES) else f"第{i + 1}镇"
        rows.append([f"{t}000", name, county_code, "乡镇"])
    for i, v in enumerate(villages):
        rows.append([v, f"第{i + 1}村", f"{v[:9]}000", "村"])
    path = Path(path)
    if fmt == "xlsx":
        _write_xlsx_fast(path, list(REGION_HEADER), [list(c) for c in zip(*rows, strict=True)])
    else:
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(REGION_HEADER)
            w.writerows(rows)
    return villages


def _yyyymmdd(days: np.ndarray) -> np.ndarray:
    dates = np.datetime64("1930-01-01", "D") + days
    years = dates.astype("datetime64[Y]")
    months = dates.astype("datetime64[M]")
    y = years.astype(np.int64) + 1970
    m = (months - years).astype(np.int64) + 1
    d = (dates - months).astype(np.int64) + 1
    return y * 10000 + m * 100 + d


def _check_indices(body: np.ndarray) -> np.ndarray:
    total = np.zeros(body.shape, dtype=np.int64)
    for position, weight in enumerate(WEIGHTS):
        total += (body // 10 ** (16 - position)) % 10 * weight
    return total % 11


def write_roster(
    path: Path,
    *,
    rows: int,
    county_code: str = "421321",
    villages: list[str] | None = None,
    seed: int = 1,
    invalid_rate: float = 0.01,
    duplicate_rate: float = 0.01,
    fmt: str = "csv",
    encoding: str = "utf-8",
) -> RosterFile:
    """写大花名册 Write a roster of ``rows`` data rows fast (numpy; 1M rows in a few seconds).

    ``invalid_rate`` of the rows are invalid (bad check character, empty name, unknown village,
    unknown tag, future birth date, and pairs of rows with the same ID and different names);
    ``duplicate_rate`` are identical repeats of valid rows. The returned counts are exact.
    """
    path = Path(path)
    villages = list(villages) if villages is not None else default_villages(county_code)
    rng = np.random.default_rng(seed)
    n_dup = int(rows * duplicate_rate)
    n_invalid = round(rows * invalid_rate)
    n_conf = n_invalid // 10
    n_inv_base = n_invalid - 2 * n_conf
    n_base = rows - n_dup - n_conf
    if n_base <= 0 or n_base - n_inv_base - n_conf < n_dup:
        raise ValueError("rows too small for the requested invalid and duplicate rates")

    # unique (birth date, serial) pairs through an affine bijection of [0, N)
    n_days = int((np.datetime64("2019-12-31") - np.datetime64("1930-01-01")).astype(int))
    slots = n_days * 1000
    if n_base > slots:
        raise ValueError("too many rows for unique ID numbers")
    step = 2654435761 % slots
    while math.gcd(step, slots) != 1:
        step += 1
    start = int(rng.integers(slots))
    k = (np.arange(n_base, dtype=np.int64) * step + start) % slots
    serial = k % 1000
    male = serial % 2 == 1
    region = np.where(
        rng.random(n_base) < 0.92,
        int(county_code),
        rng.choice(np.array([int(c) for c in _BIRTH_PLACES_ELSEWHERE]), size=n_base),
    ).astype(np.int64)
    body = region * 10**11 + _yyyymmdd(k // 1000) * 1000 + serial
    check = np.array(list(CHECK_CHARS))[_check_indices(body)]

    surnames = np.array(list(SURNAMES))
    sw = np.array(_SURNAME_WEIGHTS)
    surname = surnames[rng.choice(len(surnames), size=n_base, p=sw / sw.sum())]
    male_given = np.array([a + b for a in MALE_CHARS for b in MALE_CHARS] + list(MALE_CHARS))
    female_given = np.array([a + b for a in FEMALE_CHARS for b in FEMALE_CHARS] + list(FEMALE_CHARS))
    given = np.where(
        male,
        male_given[rng.integers(len(male_given), size=n_base)],
        female_given[rng.integers(len(female_given), size=n_base)],
    )

    # households of 1-6 consecutive rows
    sizes = rng.choice(np.arange(1, 7), size=n_base // 2 + 6, p=[0.2, 0.25, 0.22, 0.17, 0.1, 0.06])
    hh = np.repeat(np.arange(len(sizes)), sizes)[:n_base]
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    pos = np.arange(n_base) - starts[hh]
    rel = np.where(pos == 0, 0, np.where(pos == 1, 1, np.where(male, 2, 3)))
    rel = np.where((pos >= 4) & (rel >= 2), rel + 2, rel)
    n_v = len(villages)
    village_arr = np.array(villages)
    hh_village = rng.integers(n_v, size=len(sizes))
    hh_seq = np.zeros(len(sizes), dtype=np.int64)
    order = np.argsort(hh_village, kind="stable")
    counts = np.bincount(hh_village, minlength=n_v)
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))
    hh_seq[order] = np.arange(len(sizes)) - np.repeat(first, counts)
    row_village = hh_village[hh]
    tags = _BENCH_TAGS[rng.choice(len(_BENCH_TAGS), size=n_base, p=_BENCH_TAG_P)]
    conditions = _BENCH_CONDITIONS[rng.choice(len(_BENCH_CONDITIONS), size=n_base, p=_BENCH_COND_P)]
    phone = (10 + rng.integers(3, 10, size=n_base)) * 10**9 + rng.integers(10**9, size=n_base)

    ids = [f"{b}{c}" for b, c in zip(body.tolist(), check.tolist(), strict=True)]
    names = [s + g for s, g in zip(surname.tolist(), given.tolist(), strict=True)]
    village_col = village_arr[row_village].tolist()
    hh_numbers = [
        f"{v}{s + 1:05d}" for v, s in zip(village_arr[hh_village].tolist(), hh_seq.tolist(), strict=True)
    ]
    household_col = [hh_numbers[i] for i in hh.tolist()]
    relation_col = _RELATIONS[rel].tolist()
    tag_col = tags.tolist()
    cond_col = conditions.tolist()
    phone_col = [str(p) for p in phone.tolist()]

    # choose disjoint rows: invalid, conflict sources, duplicate sources
    picked = rng.permutation(n_base)[: n_inv_base + n_conf + n_dup]
    invalid_idx = picked[:n_inv_base].tolist()
    conflict_idx = picked[n_inv_base : n_inv_base + n_conf].tolist()
    dup_idx = picked[n_inv_base + n_conf :].tolist()
    # No unknown tag among them: a web upload with an unknown coded value stops at the mapping step
    # (issue 18), and these files are uploaded through the web too.
    kinds = ("check", "empty_name", "unknown_village", "short", "future")
    bad_village = f"{county_code}999999"
    for j, i in enumerate(invalid_idx):
        kind = kinds[j % len(kinds)]
        if kind == "check":
            ids[i] = ids[i][:17] + CHECK_CHARS[(CHECK_CHARS.index(ids[i][17]) + 1) % 11]
        elif kind == "empty_name":
            names[i] = ""
        elif kind == "unknown_village":
            village_col[i] = bad_village
        elif kind == "short":
            ids[i] = ids[i][:16]  # neither 18 digits nor a 15-digit old number
        else:
            future = f"{ids[i][:6]}2099{ids[i][10:17]}"
            ids[i] = future + check_char(future)
    columns = [ids, names, village_col, household_col, relation_col, tag_col, cond_col, phone_col]
    extra_src = conflict_idx + dup_idx
    for col in columns:
        col.extend(col[i] for i in extra_src)
    for j in range(n_conf):
        at = n_base + j
        names[at] = names[at][0] + ("明" if names[at][-1] != "明" else "亮")
    # place the extra rows at random positions among the base rows
    key = np.concatenate((np.arange(n_base, dtype=np.float64), rng.random(len(extra_src)) * n_base))
    final = np.argsort(key, kind="stable").tolist()

    if fmt == "xlsx":
        _write_xlsx_fast(path, list(ROSTER_HEADER), [[col[i] for i in final] for col in columns])
    else:
        with path.open("w", encoding=encoding, newline="") as fh:
            fh.write(",".join(ROSTER_HEADER) + "\n")
            chunk = 200_000
            for lo in range(0, len(final), chunk):
                fh.write(
                    "".join(
                        f"{ids[i]},{names[i]},{village_col[i]},{household_col[i]},{relation_col[i]},"
                        f"{tag_col[i]},{cond_col[i]},{phone_col[i]}\n"
                        for i in final[lo : lo + chunk]
                    )
                )
    total = n_base + n_conf + n_dup
    invalid = n_inv_base + 2 * n_conf
    return RosterFile(
        path=path,
        rows=total,
        valid=total - invalid,
        invalid=invalid,
        persons=n_base - n_inv_base - n_conf,
        duplicates=n_dup,
        villages=tuple(villages),
    )


def _xml_escape(text: str) -> str:
    if "&" in text or "<" in text or ">" in text:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _write_xlsx_fast(path: Path, header: list[str], columns: list[list[str]]) -> None:
    """A minimal .xlsx (shared strings, one sheet), as Excel lays it out, written without a library.

    xlsxwriter needs about a minute for a million rows; this writes the same structure in seconds.
    """
    n_rows = len(columns[0]) if columns else 0
    strings: list[str] = list(header)
    index: dict[str, int] = {s: i for i, s in enumerate(header)}
    col_idx: list[list[int]] = []
    for col in columns:
        ids = []
        for text in col:
            i = index.get(text)
            if i is None:
                i = index[text] = len(strings)
                strings.append(text)
            ids.append(i)
        col_idx.append(ids)
    letters = [_column_letter(c) for c in range(len(header))]
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        "</Types>"
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>'
    )
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="花名册" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    workbook_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        'Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
        'Target="sharedStrings.xml"/></Relationships>'
    )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", content_types)
        zf.writestr("_rels/.rels", rels)
        zf.writestr("xl/workbook.xml", workbook)
        zf.writestr("xl/_rels/workbook.xml.rels", workbook_rels)
        with zf.open("xl/sharedStrings.xml", "w", force_zip64=True) as fh:
            fh.write(
                (
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                    f'count="{(n_rows + 1) * len(header)}" uniqueCount="{len(strings)}">'
                ).encode()
            )
            for lo in range(0, len(strings), 100_000):
                fh.write(
                    "".join(
                        f'<si><t xml:space="preserve">{_xml_escape(s)}</t></si>'
                        for s in strings[lo : lo + 100_000]
                    ).encode()
                )
            fh.write(b"</sst>")
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            last = f"{letters[-1]}{n_rows + 1}"
            fh.write(
                (
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                    f'<dimension ref="A1:{last}"/><sheetData>'
                ).encode()
            )
            head = "".join(f'<c r="{letters[c]}1" t="s"><v>{c}</v></c>' for c in range(len(header)))
            fh.write(f'<row r="1">{head}</row>'.encode())
            chunk = 50_000
            width = len(columns)
            for lo in range(0, n_rows, chunk):
                parts: list[str] = []
                for r in range(lo, min(n_rows, lo + chunk)):
                    num = r + 2
                    cells = "".join(
                        f'<c r="{letters[c]}{num}" t="s"><v>{col_idx[c][r]}</v></c>'
                        for c in range(width)
                        if strings[col_idx[c][r]]
                    )
                    parts.append(f'<row r="{num}">{cells}</row>')
                fh.write("".join(parts).encode())
            fh.write(b"</sheetData></worksheet>")


def describe(files: DemoFiles) -> dict[str, Any]:
    """概况 A plain summary of the demo files (for printing)."""
    return {
        "persons": files.persons,
        "households": files.households,
        "in_all": files.in_all,
        "in_one": files.in_one,
        "name_conflicts": files.name_conflicts,
        "village_conflicts": files.village_conflicts,
        "household_conflicts": files.household_conflicts,
        "sources": {
            s.name: {"rows": s.rows, "invalid": s.invalid_rows, "persons": s.persons} for s in files.sources
        },
    }
