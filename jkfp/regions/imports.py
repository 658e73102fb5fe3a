"""行政区划与医疗机构导入 Import regions and institutions from CSV/XLSX (issue 2 item 2, domain.md §3).

Regions: columns ``代码, 名称, 上级代码, 级别`` (``code, name, parent_code, level``), 级别 one of
省 (also 自治区, 直辖市), 市 (also 地级市, 州), 县 (also 区, 县级市, 旗), 乡镇 (also 乡, 镇, 街道), 村 (also
社区, 居委会, 村委会), or ``province/city/county/township/village`` (issue 21). Codes have 2/4/6/9/12
significant digits, written as such or padded with zeros to 6 or 12; they are stored as 6 digits for
province, city and county (``420000``, ``421300``, ``421321``) and 12 for township and village
(``421321001000``, ``421321001201``). A code starts with its parent's significant digits. A blank
parent code is derived from the code (a county's city, else its province, when known). The parent
must exist in the file or in the database; rows may come in any order.

Institutions: columns ``代码, 名称, 级别, 县域内, 所在地区代码`` (``code, name, level, in_county,
region_code``), 级别 1/2/3, 县域内 是/否 or 1/0; the region code (optional) must exist. Optional
columns of primary-care capacity (domain.md §12, issue 16): ``类型`` (县级医院, 中医医院, 妇幼保健院,
乡镇卫生院, 社区卫生服务中心, 村卫生室, 其他), ``政府办`` and ``标准化`` (是/否), ``达标日期`` and
``服务村代码`` (village codes separated by 、 , or ;). A column that the file does not have leaves
that field of existing institutions as it is (files of the old shape keep importing); a column the
file has is authoritative, an empty cell meaning the default (其他, 否, no date, no service villages;
a 达标日期 without 标准化 means 标准化 是). Service villages must be villages of the institution's own
county, and only clinics and township/community centres serve villages.

Both are idempotent (the same file again: created 0, updated 0), skip invalid rows into an error
report and write the valid rows in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

from django.db import transaction

from jkfp.core.importing import (
    YES_NO_VALUES,
    ImportSummary,
    RowProblem,
    error_report,
    has_control_chars,
    parse_date,
    parse_yes_no,
    split_list,
)
from jkfp.core.tabular import read_table
from jkfp.regions.models import (
    SERVING_KINDS,
    Institution,
    InstitutionKind,
    Region,
    RegionLevel,
    canonical_code,
    scope_prefix,
)

REGION_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("代码", "区划代码"),
    "name": ("名称", "区划名称"),
    "parent_code": ("上级代码", "上级区划代码"),
    "level": ("级别", "区划级别"),
}
REGION_REQUIRED = ("code", "name", "level")

LEVEL_VALUES: dict[str, str] = {
    "省": RegionLevel.PROVINCE,
    "自治区": RegionLevel.PROVINCE,
    "直辖市": RegionLevel.PROVINCE,
    "province": RegionLevel.PROVINCE,
    "市": RegionLevel.CITY,
    "地级市": RegionLevel.CITY,
    "州": RegionLevel.CITY,
    "city": RegionLevel.CITY,
    "县": RegionLevel.COUNTY,
    "区": RegionLevel.COUNTY,
    "县级": RegionLevel.COUNTY,
    "县级市": RegionLevel.COUNTY,
    "旗": RegionLevel.COUNTY,
    "county": RegionLevel.COUNTY,
    "乡镇": RegionLevel.TOWNSHIP,
    "乡": RegionLevel.TOWNSHIP,
    "镇": RegionLevel.TOWNSHIP,
    "街道": RegionLevel.TOWNSHIP,
    "township": RegionLevel.TOWNSHIP,
    "村": RegionLevel.VILLAGE,
    "社区": RegionLevel.VILLAGE,
    "居委会": RegionLevel.VILLAGE,
    "村委会": RegionLevel.VILLAGE,
    "village": RegionLevel.VILLAGE,
}
ERR_LEVEL = "级别应为 省/市/县/乡镇/村 / level must be province, city, county, township or village"
_LEVEL_ORDER = (
    RegionLevel.PROVINCE,
    RegionLevel.CITY,
    RegionLevel.COUNTY,
    RegionLevel.TOWNSHIP,
    RegionLevel.VILLAGE,
)
# The levels a region's parent may have, most usual first (a county-level city directly under the
# province, e.g. 仙桃 429004, has the province or its 省直辖 pseudo-city 429000 as parent).
_PARENT_LEVELS: dict[str, tuple[str, ...]] = {
    RegionLevel.PROVINCE: (),
    RegionLevel.CITY: (RegionLevel.PROVINCE,),
    RegionLevel.COUNTY: (RegionLevel.CITY, RegionLevel.PROVINCE),
    RegionLevel.TOWNSHIP: (RegionLevel.COUNTY,),
    RegionLevel.VILLAGE: (RegionLevel.TOWNSHIP,),
}
# Levels whose parent may be missing (the top of a deployment's tree: one county, one city).
_OPTIONAL_PARENT = frozenset({RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.COUNTY})
_CODE_FORMS = {
    RegionLevel.PROVINCE: "省级代码应为2位有效数字（如42或420000） / a province code has 2 significant digits",
    RegionLevel.CITY: "市级代码应为4位有效数字（如4213或421300），末两位不为00 / a city code has 4 significant digits",
    RegionLevel.COUNTY: "县级代码应为6位数字（末两位不为00） / a county code has 6 digits, not ending in 00",
    RegionLevel.TOWNSHIP: "乡镇代码应为9位有效数字（12位时以000结尾） / a township code has 9 significant digits",
    RegionLevel.VILLAGE: "村代码应为12位数字、末3位不为000 / a village code has 12 digits, not ending in 000",
}


INSTITUTION_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("代码", "机构代码"),
    "name": ("名称", "机构名称"),
    "level": ("级别", "等级"),
    "in_county": ("县域内",),
    "region_code": ("所在地区代码", "地区代码"),
    "kind": ("类型", "机构类型"),
    "government_run": ("政府办", "是否政府办"),
    "standardised": ("标准化", "标准化达标", "是否标准化"),
    "standardised_on": ("达标日期", "标准化达标日期"),
    "served_villages": ("服务村代码", "服务村"),
}
# The optional capacity columns: when the file has none of one, existing values are kept.
CAPACITY_COLUMNS = ("kind", "government_run", "standardised", "standardised_on", "served_villages")
KIND_VALUES: dict[str, str] = {
    **{str(label): value for value, label in InstitutionKind.choices},
    **{value: value for value in InstitutionKind.values},
    "县医院": InstitutionKind.COUNTY_HOSPITAL,
    "县人民医院": InstitutionKind.COUNTY_HOSPITAL,
    "中医院": InstitutionKind.TCM_HOSPITAL,
    "卫生院": InstitutionKind.TOWNSHIP_CENTRE,
    "卫生室": InstitutionKind.VILLAGE_CLINIC,
}
ERR_KIND = (
    "类型应为 县级医院、中医医院、妇幼保健院、乡镇卫生院、社区卫生服务中心、村卫生室 或 其他 / unknown kind"
)
ERR_YES_NO = "应为 是/否 或 1/0 / must be 是/否 or 1/0"
ERR_STANDARDISED_DATE = "标准化为“否”时不能填写达标日期 / a 达标日期 needs 标准化 是"
ERR_SERVES_KIND = (
    "只有村卫生室、乡镇卫生院和社区卫生服务中心可填写服务村代码 / only clinics and centres serve villages"
)
ERR_SERVES_NO_REGION = "填写服务村代码须先填写所在地区代码 / service villages need the institution's region"
ERR_SERVES_UNKNOWN = "服务村代码{code}不是已导入的村 / {code} is not a known village"
ERR_SERVES_OUTSIDE = (
    "服务村{code}不在本机构所在县{county}内 / village {code} lies outside the county {county}"
)
# A hospital outside the county (县域内 否) may carry any well-formed region code not in the tree.
OUTSIDE_REGION_CODE = re.compile(r"\d{6}|\d{12}")
ERR_OUTSIDE_REGION_CODE = (
    "县外医院的所在地区代码应为6位或12位数字 / the region code of a hospital outside the county must "
    "have 6 or 12 digits"
)
INSTITUTION_REQUIRED = ("code", "name", "level", "in_county")
INSTITUTION_LEVELS = {"1": "1", "2": "2", "3": "3", "一级": "1", "二级": "2", "三级": "3"}
IN_COUNTY_VALUES = YES_NO_VALUES


V = TypeVar("V")


def _group_rows(
    numbers: list[int], keys: list[str], values: list[V]
) -> tuple[dict[str, tuple[list[int], V]], set[str]]:
    """按代码归并 Group rows by code: identical repeats collapse, differing repeats are conflicts."""
    groups: dict[str, tuple[list[int], V]] = {}
    conflicts: set[str] = set()
    for rownum, key, value in zip(numbers, keys, values, strict=True):
        seen = groups.get(key)
        if seen is None:
            groups[key] = ([rownum], value)
        else:
            seen[0].append(rownum)
            if seen[1] != value:
                conflicts.add(key)
    return groups, conflicts


def _parent_code(text: str, level: str) -> tuple[str, str] | None:
    """上级代码 (stored code, level) of a parent code as written (any accepted form), or None."""
    for parent_level in _PARENT_LEVELS[level]:
        code = canonical_code(text, parent_level)
        if code is not None:
            return code, parent_level
    return None


def _check_parent(code: str, level: str, parent: str, parent_level: str) -> str | None:
    """上级一致 The reason ``code`` cannot lie under ``parent``, or None: a code starts with its parent's
    significant digits."""
    prefix = scope_prefix(parent, parent_level)
    if code.startswith(prefix):
        return None
    if level == RegionLevel.TOWNSHIP:
        return f"乡镇代码前6位应为上级县代码{parent} / a township code starts with its county's code"
    if level == RegionLevel.VILLAGE:
        return f"村代码前9位应与上级乡镇代码{parent}一致 / a village code starts with its township's 9 digits"
    return f"代码前{len(prefix)}位应与上级代码{parent}一致 / a code starts with its parent's {len(prefix)} digits"


def _derived_parents(code: str, level: str) -> tuple[str, ...]:
    """推定上级 The parent codes a blank 上级代码 stands for, most specific first."""
    if level == RegionLevel.VILLAGE:
        return (code[:9] + "000",)
    if level == RegionLevel.TOWNSHIP:
        return (code[:6],)
    if level == RegionLevel.COUNTY:
        return (code[:4] + "00", code[:2] + "0000")
    if level == RegionLevel.CITY:
        return (code[:2] + "0000",)
    return ()


def regions_import(
    *, path: str | Path, errors_dir: Path | None = None, progress: Callable[[int], None] | None = None
) -> ImportSummary:
    """导入行政区划 Import regions; returns the summary (raises TableError for an unreadable file).

    Codes are stored in one form whatever form the file has (``canonical_code``): province, city and
    county 6 digits, township and village 12. A county, city or province without 上级代码 hangs under
    the city or province its code names when that is known (in the file or already imported), else at
    the top; importing a city or province later adopts the parentless counties and cities below it.
    """
    table = read_table(path, REGION_COLUMNS, REGION_REQUIRED)
    header = {c: table.headers.get(c, REGION_COLUMNS[c][0]) for c in REGION_COLUMNS}
    n = len(table)
    blank = [""] * n
    codes = table.columns["code"]
    names = table.columns["name"]
    parents = table.columns.get("parent_code", blank)
    levels = table.columns["level"]
    if progress:
        progress(20)
    problems: list[RowProblem] = []
    bad_rows: set[int] = set()

    def fail(rownum: int, column: str, value: str, reason: str) -> None:
        problems.append(RowProblem(rownum, header[column], value, reason))
        bad_rows.add(rownum)

    # Row-level checks, then duplicates; a parent code left blank is derived later (it may need the
    # levels known from the file and the database).
    records: list[tuple[int, str, tuple[str, str, str]]] = []
    for rownum, raw_code, name, raw_parent, level_text in zip(
        table.row_numbers, codes, names, parents, levels, strict=True
    ):
        level = LEVEL_VALUES.get(level_text.lower())
        ok = True
        if level is None:
            fail(rownum, "level", level_text, ERR_LEVEL)
            ok = False
        if not name:
            fail(rownum, "name", name, "名称为空 / name is empty")
            ok = False
        elif len(name) > 100 or has_control_chars(name):
            fail(rownum, "name", name, "名称过长或含控制字符 / name too long or has control characters")
            ok = False
        if level is None:
            continue
        code = canonical_code(raw_code, level)
        parent = ""
        if code is None:
            fail(rownum, "code", raw_code, _CODE_FORMS[level])
            ok = False
        elif raw_parent and level != RegionLevel.PROVINCE:
            found = _parent_code(raw_parent, level)
            reason = (
                f"上级代码{raw_parent}不是{'或'.join(RegionLevel(p).label for p in _PARENT_LEVELS[level])}"
                f"级代码 / parent {raw_parent} is not a code of the parent's level"
                if found is None
                else _check_parent(code, level, *found)
            )
            if reason:
                fail(
                    rownum,
                    "parent_code" if found is None else "code",
                    raw_parent if found is None else raw_code,
                    reason,
                )
                ok = False
            else:
                parent = found[0] if found else ""
        elif level not in _OPTIONAL_PARENT:
            parent = _derived_parents(code, level)[0]
        if ok and code is not None:
            records.append((rownum, code, (name, level, parent)))
    groups, conflicts = _group_rows([r[0] for r in records], [r[1] for r in records], [r[2] for r in records])
    for code in conflicts:
        for rownum in groups[code][0]:
            fail(
                rownum,
                "code",
                code,
                "同一代码出现多次且内容不同 / the same code appears with different values",
            )

    # Parents: resolved level by level so that rows may come in any order.
    existing = {r.code: r for r in Region.objects.all()}
    known_level = {code: r.level for code, r in existing.items()}
    accepted: dict[str, tuple[str, str, str]] = {}
    for level in _LEVEL_ORDER:
        for code, (numbers, value) in groups.items():
            if code in conflicts or value[1] != level:
                continue
            name, _, parent = value
            if not parent and level in _OPTIONAL_PARENT:
                parent = next(
                    (p for p in _derived_parents(code, level) if known_level.get(p) in _PARENT_LEVELS[level]),
                    "",
                )
            elif known_level.get(parent) not in _PARENT_LEVELS[level]:
                for rownum in numbers:
                    fail(
                        rownum,
                        "parent_code",
                        parent,
                        f"上级代码{parent}不存在或级别不符 / parent {parent} is unknown or of the wrong level",
                    )
                continue
            accepted[code] = (name, level, parent)
            known_level[code] = level
    # Parentless counties and cities already stored (a single-county deployment growing into a city)
    # hang under a city or province this file brings.
    for code, region in existing.items():
        if code in accepted or region.parent_id or region.level not in (RegionLevel.CITY, RegionLevel.COUNTY):
            continue
        parent = next(
            (
                p
                for p in _derived_parents(code, region.level)
                if p in accepted and accepted[p][1] in _PARENT_LEVELS[region.level]
            ),
            "",
        )
        if parent:
            accepted[code] = (region.name, region.level, parent)
    if progress:
        progress(60)

    summary = ImportSummary(rows=n, invalid=len(bad_rows))
    summary.valid = n - summary.invalid
    new: list[Region] = []
    changed: list[Region] = []
    for level in _LEVEL_ORDER:
        for code, (name, lvl, parent) in accepted.items():
            if lvl != level:
                continue
            parent_id = parent or None
            region = existing.get(code)
            if region is None:
                new.append(Region(code=code, name=name, level=lvl, parent_id=parent_id))
            elif (region.name, region.level, region.parent_id) != (name, lvl, parent_id):
                region.name, region.level, region.parent_id = name, lvl, parent_id
                changed.append(region)
            else:
                summary.unchanged += 1
    with transaction.atomic():
        Region.objects.bulk_create(new, batch_size=2000)
        Region.objects.bulk_update(changed, ["name", "level", "parent"], batch_size=2000)
    summary.created, summary.updated = len(new), len(changed)
    summary.errors_file = error_report(problems, errors_dir, "regions-errors")
    if progress:
        progress(100)
    return summary


def _served_villages(
    text: str, region_code: str | None, kind: str, villages: set[str]
) -> tuple[frozenset[str], str | None]:
    """服务村 (village codes, None) or (empty, the reason the 服务村代码 cell is invalid)."""
    codes = split_list(text)
    if not codes:
        return frozenset(), None
    if kind not in SERVING_KINDS:
        return frozenset(), ERR_SERVES_KIND
    if not region_code:
        return frozenset(), ERR_SERVES_NO_REGION
    county = region_code[:6]
    for code in codes:
        if code not in villages:
            return frozenset(), ERR_SERVES_UNKNOWN.format(code=code)
        if code[:6] != county:
            return frozenset(), ERR_SERVES_OUTSIDE.format(code=code, county=county)
    return frozenset(codes), None


# (name, level, in_county, region) + the capacity fields, or None for those the file does not have.
_Capacity = tuple[str, bool, bool, date | None, frozenset[str]]
_InstitutionValue = tuple[str, str, bool, str | None, _Capacity | None]


def institutions_import(
    *, path: str | Path, errors_dir: Path | None = None, progress: Callable[[int], None] | None = None
) -> ImportSummary:
    """导入医疗机构 Import institutions; returns the summary (raises TableError for an unreadable file)."""
    table = read_table(path, INSTITUTION_COLUMNS, INSTITUTION_REQUIRED)
    header = {c: table.headers.get(c, INSTITUTION_COLUMNS[c][0]) for c in INSTITUTION_COLUMNS}
    n = len(table)
    blank = [""] * n
    cols = table.columns
    # A file with any capacity column sets all capacity fields (missing ones: their defaults).
    has_capacity = any(c in cols for c in CAPACITY_COLUMNS)
    if progress:
        progress(20)
    regions = dict(Region.objects.values_list("code", "level"))
    villages = {code for code, level in regions.items() if level == RegionLevel.VILLAGE}
    problems: list[RowProblem] = []
    bad_rows: set[int] = set()

    def fail(rownum: int, column: str, value: str, reason: str) -> None:
        problems.append(RowProblem(rownum, header[column], value, reason))
        bad_rows.add(rownum)

    records: list[tuple[int, str, _InstitutionValue]] = []
    for i, (rownum, code, name, level_text, in_county_text, region_code) in enumerate(
        zip(
            table.row_numbers,
            cols["code"],
            cols["name"],
            cols["level"],
            cols["in_county"],
            cols.get("region_code", blank),
            strict=True,
        )
    ):
        ok = True
        if not code or len(code) > 40 or has_control_chars(code):
            fail(rownum, "code", code, "代码为空或超过40个字符 / code is empty or longer than 40")
            ok = False
        if not name or len(name) > 200 or has_control_chars(name):
            fail(
                rownum,
                "name",
                name,
                "名称为空、过长或含控制字符 / name is empty, too long or has control characters",
            )
            ok = False
        level = INSTITUTION_LEVELS.get(level_text)
        if level is None:
            fail(rownum, "level", level_text, "级别应为1、2或3 / level must be 1, 2 or 3")
            ok = False
        in_county = IN_COUNTY_VALUES.get(in_county_text.lower())
        if in_county is None:
            fail(
                rownum,
                "in_county",
                in_county_text,
                "县域内应为 是/否 或 1/0 / in_county must be 是/否 or 1/0",
            )
            ok = False
        outside_code = ""
        if region_code and region_code not in regions:
            if in_county is False and OUTSIDE_REGION_CODE.fullmatch(region_code):
                outside_code, region_code = region_code, ""  # a hospital outside the county (item 6)
            elif in_county is False:
                fail(rownum, "region_code", region_code, ERR_OUTSIDE_REGION_CODE)
                ok = False
            else:
                fail(rownum, "region_code", region_code, f"地区代码{region_code}不存在 / unknown region code")
                ok = False
        capacity: _Capacity | None = None
        if has_capacity:
            capacity = _capacity_cells(i, rownum, cols, blank, region_code or None, villages, fail)
            ok = ok and capacity is not None
        if ok and level is not None and in_county is not None:
            records.append(
                (rownum, code, (name, level, in_county, region_code or None, outside_code, capacity))
            )
    groups, conflicts = _group_rows([r[0] for r in records], [r[1] for r in records], [r[2] for r in records])
    for code in conflicts:
        for rownum in groups[code][0]:
            fail(
                rownum,
                "code",
                code,
                "同一代码出现多次且内容不同 / the same code appears with different values",
            )
    if progress:
        progress(60)

    existing = {i.code: i for i in Institution.objects.all()}
    served_now: dict[str, frozenset[str]] = {}
    if has_capacity:
        pairs: dict[str, set[str]] = {}
        for inst_code, village in Institution.served_villages.through.objects.values_list(
            "institution_id", "region_id"
        ):
            pairs.setdefault(inst_code, set()).add(village)
        served_now = {k: frozenset(v) for k, v in pairs.items()}
    summary = ImportSummary(rows=n, invalid=len(bad_rows))
    summary.valid = n - summary.invalid
    new: list[Institution] = []
    changed: list[Institution] = []
    new_served: dict[str, frozenset[str]] = {}
    for code, (_, value) in groups.items():
        if code in conflicts:
            continue
        name, level, in_county, region_id, outside_code, capacity = value
        inst = existing.get(code)
        if inst is None:
            inst = Institution(
                code=code,
                name=name,
                level=level,
                in_county=in_county,
                region_id=region_id,
                outside_region_code=outside_code,
            )
            if capacity is not None:
                _set_capacity(inst, capacity)
                if capacity[4]:
                    new_served[code] = capacity[4]
            new.append(inst)
            continue
        before = (inst.name, inst.level, inst.in_county, inst.region_id, inst.outside_region_code)
        differs = before != (name, level, in_county, region_id, outside_code)
        if capacity is not None:
            fields = (inst.kind, inst.government_run, inst.standardised, inst.standardised_on)
            differs = differs or fields != capacity[:4]
            if served_now.get(code, frozenset()) != capacity[4]:
                new_served[code] = capacity[4]
                differs = True
        if not differs:
            summary.unchanged += 1
            continue
        inst.name, inst.level, inst.in_county, inst.region_id = name, level, in_county, region_id
        inst.outside_region_code = outside_code
        if capacity is not None:
            _set_capacity(inst, capacity)
        changed.append(inst)
    update_fields = ["name", "level", "in_county", "region", "outside_region_code"]
    if has_capacity:
        update_fields += ["kind", "government_run", "standardised", "standardised_on"]
    through = Institution.served_villages.through
    with transaction.atomic():
        Institution.objects.bulk_create(new, batch_size=2000)
        Institution.objects.bulk_update(changed, update_fields, batch_size=2000)
        if new_served:
            through.objects.filter(institution_id__in=list(new_served)).delete()
            through.objects.bulk_create(
                [
                    through(institution_id=code, region_id=village)
                    for code, served in new_served.items()
                    for village in sorted(served)
                ],
                batch_size=2000,
            )
    summary.created, summary.updated = len(new), len(changed)
    summary.errors_file = error_report(problems, errors_dir, "institutions-errors")
    if progress:
        progress(100)
    return summary


def _capacity_cells(
    i: int,
    rownum: int,
    cols: dict[str, list[str]],
    blank: list[str],
    region_code: str | None,
    villages: set[str],
    fail: Callable[[int, str, str, str], None],
) -> _Capacity | None:
    """One row's 类型, 政府办, 标准化, 达标日期, 服务村代码 (defaults for empty cells), or None when invalid."""
    ok = True
    kind_text = cols.get("kind", blank)[i]
    kind = KIND_VALUES.get(kind_text, KIND_VALUES.get(kind_text.lower())) if kind_text else "other"
    if kind is None:
        fail(rownum, "kind", kind_text, ERR_KIND)
        ok = False
    flags: list[bool] = []
    for column in ("government_run", "standardised"):
        text = cols.get(column, blank)[i]
        flag = parse_yes_no(text) if text else None
        if text and flag is None:
            fail(rownum, column, text, ERR_YES_NO)
            ok = False
        flags.append(bool(flag))
    date_text = cols.get("standardised_on", blank)[i]
    standardised_on: date | None = None
    if date_text:
        standardised_on, reason = parse_date(date_text)
        if standardised_on is None:
            fail(rownum, "standardised_on", date_text, f"{reason} / invalid date")
            ok = False
        elif cols.get("standardised", blank)[i] and not flags[1]:
            fail(rownum, "standardised_on", date_text, ERR_STANDARDISED_DATE)
            ok = False
        else:
            flags[1] = True
    served_text = cols.get("served_villages", blank)[i]
    served, served_problem = _served_villages(served_text, region_code, kind or "other", villages)
    if served_problem is not None:
        fail(rownum, "served_villages", served_text, served_problem)
        ok = False
    if not ok or kind is None:
        return None
    return (kind, flags[0], flags[1], standardised_on, served)


def _set_capacity(inst: Institution, capacity: _Capacity) -> None:
    inst.kind, inst.government_run, inst.standardised, inst.standardised_on = capacity[:4]
