"""花名册逐行校验（测试基准） The per-row roster validation: the executable specification that the
column-wise validator (``jkfp.registry.roster_columns.validate_columns``, the one used by every import
path) is tested against. Kept here, under tests, as an oracle only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from jkfp.core.idnumber import id_number_checked
from jkfp.core.importing import RowProblem, has_control_chars
from jkfp.core.tabular import Table
from jkfp.registry.imports import ROSTER_COLUMNS
from jkfp.registry.models import SOURCE_TAG_VALUES
from jkfp.registry.roster_columns import (
    _CONTROL_ANY,
    _LETTER_OR_CONTROL,
    FORMULA_START,
    NAME_MAX,
    PersonColumns,
    column_suspect,
)
from jkfp.registry.roster_columns import parse_conditions as _parse_conditions
from jkfp.registry.roster_columns import parse_tags as _parse_tags


@dataclass(slots=True)
class Person:
    """One valid person of the file (identical repeats merged)."""

    id_number: str
    name: str
    village_code: str
    household_no: str
    relation: str
    phone: str
    tag_values: tuple[str, ...]
    conditions: tuple[str, ...]


@dataclass
class Validated:
    persons: list[Person]
    problems: list[RowProblem]
    rows: int
    invalid_rows: int


@dataclass
class Lookups:
    villages: set[str]  # the villages the importing user may write to
    diseases: dict[str, int]  # name or alias → disease id
    today: date


def validate_reference(table: Table, lookups: Lookups) -> Validated:
    """The per-row validation: the executable specification of ``roster_columns.validate_columns``."""
    n = len(table)
    blank = [""] * n
    cols = table.columns
    header = {c: table.headers.get(c, ROSTER_COLUMNS[c][0]) for c in ROSTER_COLUMNS}
    villages = lookups.villages
    tag_cache: dict[str, tuple[tuple[str, ...], list[str]]] = {}
    cond_cache: dict[str, tuple[tuple[str, ...], str]] = {}
    problems: list[RowProblem] = []
    bad: set[int] = set()  # indexes of invalid rows
    first: dict[str, int] = {}  # id → index of its first row (any validity)
    key_of: dict[str, tuple[str, str, str]] = {}
    repeats: dict[str, list[int]] = {}
    conflicts: set[str] = set()
    ids: list[str | None] = [None] * n
    numbers = table.row_numbers

    def fail(i: int, column: str, value: str, reason: str) -> None:
        problems.append(RowProblem(numbers[i], header[column], value, reason))
        bad.add(i)

    col_id = cols["id_number"]
    col_name = cols["name"]
    col_village = cols["village_code"]
    col_household = cols.get("household_no", blank)
    col_relation = cols.get("relation", blank)
    col_tags = cols.get("tags", blank)
    col_conds = cols.get("conditions", blank)
    col_phone = cols.get("phone", blank)
    # Column-level scans (in C) decide which per-row checks can be skipped altogether.
    name_bad = column_suspect(col_name, NAME_MAX, _CONTROL_ANY)
    household_bad = column_suspect(col_household, 40, _CONTROL_ANY)
    relation_bad = column_suspect(col_relation, 20, _CONTROL_ANY)
    phone_bad = column_suspect(col_phone, 40, _LETTER_OR_CONTROL) or any(
        p.startswith(("=", "@")) for p in col_phone if p
    )
    for i, (raw_id, name, village, household_no, relation, tags, conds, phone) in enumerate(
        zip(
            col_id,
            col_name,
            col_village,
            col_household,
            col_relation,
            col_tags,
            col_conds,
            col_phone,
            strict=True,
        )
    ):
        idn, reason = id_number_checked(raw_id, today=lookups.today)
        if idn is None:
            fail(i, "id_number", raw_id, reason)
        if not name:
            fail(i, "name", name, "姓名为空 / name is empty")
        elif name.startswith(FORMULA_START) or (
            name_bad and (len(name) > NAME_MAX or _CONTROL_ANY.search(name))
        ):
            fail(
                i,
                "name",
                name,
                "姓名超过50个字符、以 = + - @ 开头或含控制字符 / name longer than 50, starting with "
                "= + - @ or holding control characters",
            )
        if village not in villages:
            fail(
                i,
                "village_code",
                village,
                f"村代码{village}不存在或不在您的管辖范围内（须为村级区划）/ unknown village code, or outside your region",
            )
        if household_bad and household_no and (len(household_no) > 40 or has_control_chars(household_no)):
            fail(i, "household_no", household_no, "户编号超过40个字符或含控制字符 / household number invalid")
        if relation_bad and relation and (len(relation) > 20 or has_control_chars(relation)):
            fail(i, "relation", relation, "与户主关系超过20个字符或含控制字符 / relation invalid")
        if tags:
            parsed = tag_cache.get(tags)
            if parsed is None:
                parsed = tag_cache[tags] = _parse_tags(tags)
            if parsed[1]:
                fail(
                    i,
                    "tags",
                    tags,
                    f"人员类别“{'、'.join(parsed[1])}”不认识（可用：{'、'.join(SOURCE_TAG_VALUES)}）"
                    f" / unknown tag value",
                )
        if conds:
            parsed_c = cond_cache.get(conds)
            if parsed_c is None:
                parsed_c = cond_cache[conds] = _parse_conditions(conds)
            if parsed_c[1]:
                fail(i, "conditions", conds, parsed_c[1])
        if (
            phone_bad
            and phone
            and (len(phone) > 40 or phone.startswith(("=", "@")) or _LETTER_OR_CONTROL.search(phone))
        ):
            fail(
                i,
                "phone",
                phone,
                "联系电话含字母或控制字符，或超过40个字符 / phone holds letters or is too long",
            )
        if idn is None:
            continue
        ids[i] = idn
        j = first.get(idn)
        if j is None:
            first[idn] = i
            key_of[idn] = (name, village, household_no)
        else:
            repeats.setdefault(idn, [j]).append(i)
            if key_of[idn] != (name, village, household_no):
                conflicts.add(idn)

    for idn in conflicts:
        where = "、".join(str(numbers[i]) for i in repeats[idn])
        for i in repeats[idn]:
            fail(
                i,
                "id_number",
                cols["id_number"][i],
                f"同一身份证号出现多次且姓名、村代码或户编号不一致（第{where}行）"
                f" / the same ID appears in rows {where} with a different name, village or household",
            )

    col_rel = col_relation
    persons: list[Person] = []
    for idn, i in first.items():
        if idn in conflicts:
            continue
        group = [k for k in repeats.get(idn, (i,)) if k not in bad]
        if not group:
            continue
        k0 = group[0]
        tag_values = tag_cache[col_tags[k0]][0] if col_tags[k0] else ()
        cond_names = cond_cache[col_conds[k0]][0] if col_conds[k0] else ()
        relation, phone = col_rel[k0], col_phone[k0]
        for k in group[1:]:  # identical repeats: unite tags and conditions, keep first non-empty texts
            if col_tags[k]:
                tag_values = tuple(sorted(set(tag_values) | set(tag_cache[col_tags[k]][0])))
            if col_conds[k]:
                cond_names = tuple(sorted(set(cond_names) | set(cond_cache[col_conds[k]][0])))
            relation = relation or col_rel[k]
            phone = phone or col_phone[k]
        name, village, household_no = key_of[idn]
        persons.append(Person(idn, name, village, household_no, relation, phone, tag_values, cond_names))
    return Validated(persons=persons, problems=problems, rows=n, invalid_rows=len(bad))


def columns_of(persons: list[Person]) -> PersonColumns:
    """The reference's person objects as columns sorted by ID (what ``validate_columns`` returns)."""
    out = PersonColumns()
    for p in sorted(persons, key=lambda p: p.id_number):
        out.id_number.append(p.id_number)
        out.name.append(p.name)
        out.village_code.append(p.village_code)
        out.household_no.append(p.household_no)
        out.relation.append(p.relation)
        out.phone.append(p.phone)
        out.tags.append("、".join(p.tag_values))
        out.conditions.append("、".join(p.conditions))
    return out
