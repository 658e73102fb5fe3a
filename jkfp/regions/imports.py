"""行政区划与医疗机构导入 Import regions and institutions from CSV/XLSX (issue 2 item 2, domain.md §3).

Regions: columns ``代码, 名称, 上级代码, 级别`` (``code, name, parent_code, level``), 级别 one of
县/乡镇/村 (``county/township/village``). Codes are checked: a county has 6 digits; a township 12
digits = county code + 3 digits + ``000`` under a county; a village 12 digits whose first 9 are its
township's. A blank parent code is derived from the code. The parent must exist in the file or in the
database; rows may come in any order.

Institutions: columns ``代码, 名称, 级别, 县域内, 所在地区代码`` (``code, name, level, in_county,
region_code``), 级别 1/2/3, 县域内 是/否 or 1/0; the region code (optional) must exist.

Both are idempotent (the same file again: created 0, updated 0), skip invalid rows into an error
report and write the valid rows in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import transaction

from jkfp.core.importing import ImportSummary, RowProblem, has_control_chars, write_error_report
from jkfp.core.tabular import read_table
from jkfp.regions.models import Institution, Region, RegionLevel

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
}
INSTITUTION_REQUIRED = ("code", "name", "level", "in_county")
INSTITUTION_LEVELS = {"1": "1", "2": "2", "3": "3", "一级": "1", "二级": "2", "三级": "3"}
IN_COUNTY_VALUES = {
    "是": True,
    "1": True,
    "y": True,
    "yes": True,
    "true": True,
    "否": False,
    "0": False,
    "n": False,
    "no": False,
    "false": False,
}


def _errors_dir(errors_dir: Path | None) -> Path:
    return Path(errors_dir) if errors_dir is not None else Path(settings.IMPORT_DIR) / "errors"


def _report(problems: list[RowProblem], errors_dir: Path | None, stem: str) -> str | None:
    if not problems:
        return None
    return str(write_error_report(problems, directory=_errors_dir(errors_dir), stem=stem))


def _group_rows(
    numbers: list[int], keys: list[str], values: list[tuple[str, ...]]
) -> tuple[dict[str, tuple[list[int], tuple[str, ...]]], set[str]]:
    """按代码归并 Group rows by code: identical repeats collapse, differing repeats are conflicts."""
    groups: dict[str, tuple[list[int], tuple[str, ...]]] = {}
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


def institutions_import(
    *, path: str | Path, errors_dir: Path | None = None, progress: Callable[[int], None] | None = None
) -> ImportSummary:
    """导入医疗机构 Import institutions; returns the summary (raises TableError for an unreadable file)."""
    table = read_table(path, INSTITUTION_COLUMNS, INSTITUTION_REQUIRED)
    header = {c: table.headers.get(c, INSTITUTION_COLUMNS[c][0]) for c in INSTITUTION_COLUMNS}
    n = len(table)
    blank = [""] * n
    if progress:
        progress(20)
    region_codes = set(Region.objects.values_list("code", flat=True))
    problems: list[RowProblem] = []
    bad_rows: set[int] = set()

    def fail(rownum: int, column: str, value: str, reason: str) -> None:
        problems.append(RowProblem(rownum, header[column], value, reason))
        bad_rows.add(rownum)

    records: list[tuple[int, str, tuple[str, str, bool, str | None]]] = []
    for rownum, code, name, level_text, in_county_text, region_code in zip(
        table.row_numbers,
        table.columns["code"],
        table.columns["name"],
        table.columns["level"],
        table.columns["in_county"],
        table.columns.get("region_code", blank),
        strict=True,
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
        if region_code and region_code not in region_codes:
            fail(rownum, "region_code", region_code, f"地区代码{region_code}不存在 / unknown region code")
            ok = False
        if ok and level is not None and in_county is not None:
            records.append((rownum, code, (name, level, in_county, region_code or None)))
    groups, conflicts = _group_rows(
        [r[0] for r in records],
        [r[1] for r in records],
        [r[2] for r in records],  # type: ignore[misc]
    )
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
    summary = ImportSummary(rows=n, invalid=len(bad_rows))
    summary.valid = n - summary.invalid
    new: list[Institution] = []
    changed: list[Institution] = []
    for code, (_, value) in groups.items():
        if code in conflicts:
            continue
        name, level, in_county, region_id = value  # type: ignore[misc]
        inst = existing.get(code)
        if inst is None:
            new.append(
                Institution(code=code, name=name, level=level, in_county=in_county, region_id=region_id)
            )
        elif (inst.name, inst.level, inst.in_county, inst.region_id) != (name, level, in_county, region_id):
            inst.name, inst.level, inst.in_county, inst.region_id = name, level, in_county, region_id
            changed.append(inst)
        else:
            summary.unchanged += 1
    with transaction.atomic():
        Institution.objects.bulk_create(new, batch_size=2000)
        Institution.objects.bulk_update(changed, ["name", "level", "in_county", "region"], batch_size=2000)
    summary.created, summary.updated = len(new), len(changed)
    summary.errors_file = _report(problems, errors_dir, "institutions-errors")
    if progress:
        progress(100)
    return summary
