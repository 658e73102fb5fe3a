"""行政区划与医疗机构导入 Import regions and institutions from CSV/XLSX (issue 2 item 2, domain.md §3).

Regions: columns ``代码, 名称, 上级代码, 级别`` (``code, name, parent_code, level``), 级别 one of
县/乡镇/村 (``county/township/village``). Codes are checked: a county has 6 digits; a township 12
digits = county code + 3 digits + ``000`` under a county; a village 12 digits whose first 9 are its
township's. A blank parent code is derived from the code. The parent must exist in the file or in the
database; rows may come in any order.

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

from django.conf import settings
from django.db import transaction

from jkfp.core.importing import (
    YES_NO_VALUES,
    ImportSummary,
    RowProblem,
    has_control_chars,
    parse_date,
    parse_yes_no,
    split_list,
    write_error_report,
)
from jkfp.core.tabular import read_table
from jkfp.regions.models import SERVING_KINDS, Institution, InstitutionKind, Region, RegionLevel

REGION_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("代码", "区划代码"),
    "name": ("名称", "区划名称"),
    "parent_code": ("上级代码", "上级区划代码"),
    "level": ("级别", "区划级别"),
}
REGION_REQUIRED = ("code", "name", "level")

LEVEL_VALUES: dict[str, str] = {
    "县": RegionLevel.COUNTY,
    "区": RegionLevel.COUNTY,
    "县级": RegionLevel.COUNTY,
    "county": RegionLevel.COUNTY,
    "乡镇": RegionLevel.TOWNSHIP,
    "乡": RegionLevel.TOWNSHIP,
    "镇": RegionLevel.TOWNSHIP,
    "街道": RegionLevel.TOWNSHIP,
    "township": RegionLevel.TOWNSHIP,
    "村": RegionLevel.VILLAGE,
    "社区": RegionLevel.VILLAGE,
    "village": RegionLevel.VILLAGE,
}
_LEVEL_ORDER = (RegionLevel.COUNTY, RegionLevel.TOWNSHIP, RegionLevel.VILLAGE)
_PARENT_LEVEL = {RegionLevel.TOWNSHIP: RegionLevel.COUNTY, RegionLevel.VILLAGE: RegionLevel.TOWNSHIP}

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


def _errors_dir(errors_dir: Path | None) -> Path:
    return Path(errors_dir) if errors_dir is not None else Path(settings.IMPORT_DIR) / "errors"


def _report(problems: list[RowProblem], errors_dir: Path | None, stem: str) -> str | None:
    if not problems:
        return None
    return str(write_error_report(problems, directory=_errors_dir(errors_dir), stem=stem))


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


def _check_code(code: str, level: str, parent: str) -> str | None:
    """代码格式 The reason the code does not fit its level and parent, or None."""
    if level == RegionLevel.COUNTY:
        if len(code) != 6 or not (code.isascii() and code.isdigit()):
            return "县级代码应为6位数字 / a county code has 6 digits"
        return None
    if len(code) != 12 or not (code.isascii() and code.isdigit()):
        return "乡镇、村代码应为12位数字 / township and village codes have 12 digits"
    if level == RegionLevel.TOWNSHIP:
        if not code.endswith("000") or code[9:] != "000":
            return "乡镇代码应以000结尾 / a township code ends with 000"
        if parent != code[:6]:
            return f"乡镇代码前6位应为上级县代码{parent} / a township code starts with its county's code"
        return None
    if code.endswith("000"):
        return "村代码末3位不能为000 / a village code does not end with 000"
    if parent[:9] != code[:9] or not parent.endswith("000"):
        return f"村代码前9位应与上级乡镇代码{parent}一致 / a village code starts with its township's 9 digits"
    return None


def regions_import(
    *, path: str | Path, errors_dir: Path | None = None, progress: Callable[[int], None] | None = None
) -> ImportSummary:
    """导入行政区划 Import regions; returns the summary (raises TableError for an unreadable file)."""
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

    # Row-level checks, then duplicates; a parent code left blank is derived from the code.
    records: list[tuple[int, str, tuple[str, str, str]]] = []
    for rownum, code, name, parent, level_text in zip(
        table.row_numbers, codes, names, parents, levels, strict=True
    ):
        level = LEVEL_VALUES.get(level_text.lower())
        ok = True
        if level is None:
            fail(
                rownum, "level", level_text, "级别应为 县/乡镇/村 / level must be county, township or village"
            )
            ok = False
        if not name:
            fail(rownum, "name", name, "名称为空 / name is empty")
            ok = False
        elif len(name) > 100 or has_control_chars(name):
            fail(rownum, "name", name, "名称过长或含控制字符 / name too long or has control characters")
            ok = False
        if level is not None:
            if level == RegionLevel.COUNTY:
                parent = ""
            elif not parent:
                parent = code[:6] if level == RegionLevel.TOWNSHIP else code[:9] + "000"
            reason = _check_code(code, level, parent)
            if reason:
                fail(rownum, "code", code, reason)
                ok = False
        if ok and level is not None:
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
            if level != RegionLevel.COUNTY and known_level.get(parent) != _PARENT_LEVEL[level]:
                for rownum in numbers:
                    fail(
                        rownum,
                        "parent_code",
                        parent,
                        f"上级代码{parent}不存在或级别不符 / parent {parent} is unknown or of the wrong level",
                    )
                continue
            accepted[code] = value
            known_level[code] = level
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
    summary.errors_file = _report(problems, errors_dir, "regions-errors")
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
    summary.errors_file = _report(problems, errors_dir, "institutions-errors")
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
