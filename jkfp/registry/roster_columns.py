"""花名册列式校验 Vectorised validation of a roster table (ADR 0006).

The same rules, the same problems and the same persons as the per-row reference
``jkfp.registry.tests.roster_oracle.validate_reference`` (the property test compares both on random rosters
with every kind of error), computed column by column:

- GB 11643 for the whole ID column at once with numpy (characters, check character, real birth
  date, not in the future, not before 1900); only the IDs that fail there (invalid ones, 15-digit
  ones, lower-case ``x``) go through the per-row checker for their exact message or normalisation.
- The other columns are first scanned as a whole (in C: a set of distinct values, ``in`` on a list,
  one regular-expression search over the joined column); a per-row loop runs only over a column
  that the scan flags.
- Repeated IDs are found by sorting an int64 key (the first 17 digits fix the check character);
  only the few IDs that occur more than once are compared and merged in Python.

The result is columnar (one list per field, persons sorted by ID number): no object per person.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import compress, count
from operator import itemgetter
from typing import Any

import numpy as np

from jkfp.core.idnumber import ids_check
from jkfp.core.importing import RowProblem, has_control_chars, split_list
from jkfp.registry.models import SOURCE_TAG_VALUES

NAME_MAX = 50
FORMULA_START = ("=", "+", "-", "@")

_LETTER_OR_CONTROL = re.compile(r"[^\W\d_]|[\x00-\x1f\x7f-\x9f]")
_CONTROL_ANY = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# Problem reasons (shared with the per-row reference).
NAME_EMPTY = "姓名为空 / name is empty"
NAME_BAD = (
    "姓名超过50个字符、以 = + - @ 开头或含控制字符 / name longer than 50, starting with "
    "= + - @ or holding control characters"
)
HOUSEHOLD_BAD = "户编号超过40个字符或含控制字符 / household number invalid"
RELATION_BAD = "与户主关系超过20个字符或含控制字符 / relation invalid"
PHONE_BAD = "联系电话含字母或控制字符，或超过40个字符 / phone holds letters or is too long"


# 人员类别 as the lists staff receive write them (issue 18 item 2; docs/import-formats.md): the reader
# maps each value (part by part in a、b cell) to the accepted value before validation.
TAG_SYNONYMS: dict[str, str] = {
    "建档立卡贫困户": "建档立卡",
    "贫困户": "建档立卡",
    "建档立卡户": "建档立卡",
    "脱贫户": "脱贫",
    "已脱贫": "脱贫",
    "脱贫人口": "脱贫",
    "监测户": "监测对象",
    "农村低保": "低保",
    "低保户": "低保",
    "城市低保": "低保",
    "特困供养": "特困",
    "特困人员": "特困",
    "五保户": "特困",
    "五保": "特困",
}


def village_reason(village: str) -> str:
    return f"村代码{village}不存在或不在您的管辖范围内（须为村级区划）/ unknown village code, or outside your region"


def tag_reason(unknown: Sequence[str]) -> str:
    return f"人员类别“{'、'.join(unknown)}”不认识（可用：{'、'.join(SOURCE_TAG_VALUES)}） / unknown tag value"


def conflict_reason(where: str) -> str:
    return (
        f"同一身份证号出现多次且姓名、村代码或户编号不一致（第{where}行）"
        f" / the same ID appears in rows {where} with a different name, village or household"
    )


def column_suspect(
    column: Sequence[str],
    max_len: int,
    pattern: re.Pattern[str],
    *,
    bound: int | None = None,
    printable: bool = False,
) -> bool:
    """True when some cell of the column may be too long or match ``pattern`` (then check per row).

    ``pattern`` matches control characters (and maybe more); a joined column that ``isprintable``
    holds none, and one that ``isdigit`` holds no letter either (both in C, faster than the search).
    ``bound`` (no cell is longer) and ``printable`` (no cell holds a non-printable character) are
    what the reader already knows (``Table.length_bounds``, ``Table.printable``): scans they settle
    are skipped.
    """
    if not column:
        return False
    if (bound is None or bound > max_len) and max(map(len, column)) > max_len:
        return True
    if printable and pattern is _CONTROL_ANY:
        return False
    joined = "".join(column)
    if joined.isdigit() or (pattern is _CONTROL_ANY and joined.isprintable()):
        return False
    return pattern.search(joined) is not None


def starts_formula(column: Sequence[str], starts: str = "=+-@", *, absent: str = "") -> bool:
    """True when some cell of the column may start with one of ``starts`` (then check per row).

    ``absent``: characters no cell starts with (``Table.no_start``).
    """
    starts = "".join(c for c in starts if c not in absent)
    if not starts:
        return False
    text = "\n" + "\n".join(column)
    return any("\n" + c in text for c in starts)


def parse_tags(text: str) -> tuple[tuple[str, ...], list[str]]:
    """(sorted unique values, unknown values) of a 人员类别 cell."""
    values = split_list(text)
    unknown = [v for v in values if v not in SOURCE_TAG_VALUES]
    return tuple(sorted(set(values))), unknown


def parse_conditions(text: str) -> tuple[tuple[str, ...], str]:
    """(sorted unique names, reason when invalid) of a 患病情况 cell."""
    names = tuple(sorted(set(split_list(text))))
    for name in names:
        if len(name) > 100:
            return names, f"疾病名称“{name[:20]}…”超过100个字符 / a disease name is longer than 100"
        if has_control_chars(name):
            return names, "疾病名称含控制字符 / a disease name has control characters"
    if len("、".join(names)) > 500:
        return names, "患病情况超过500个字符 / conditions longer than 500 characters"
    return names, ""


@dataclass
class PersonColumns:
    """有效人员（按列） The valid persons of a file, one list per field, sorted by ID number.

    ``tags`` and ``conditions`` are the canonical texts (sorted unique values joined by 、), as the
    source record keeps them.
    """

    id_number: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    village_code: list[str] = field(default_factory=list)
    household_no: list[str] = field(default_factory=list)
    relation: list[str] = field(default_factory=list)
    phone: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.id_number)

    def clear(self) -> None:
        """Empty every list (their texts freed once nothing else holds them)."""
        for column in self.fields():
            column.clear()

    def fields(self) -> tuple[list[str], ...]:
        return (
            self.id_number,
            self.name,
            self.village_code,
            self.household_no,
            self.relation,
            self.phone,
            self.tags,
            self.conditions,
        )


def _pick(columns: PersonColumns, positions: Sequence[int]) -> PersonColumns:
    """The persons at ``positions`` (in that order) of ``columns``."""
    out = PersonColumns()
    if not positions:
        return out
    if len(positions) == 1:
        picked = [[c[positions[0]]] for c in columns.fields()]
    else:
        get = itemgetter(*positions)
        picked = [list(get(c)) for c in columns.fields()]
    (
        out.id_number,
        out.name,
        out.village_code,
        out.household_no,
        out.relation,
        out.phone,
        out.tags,
        out.conditions,
    ) = picked
    return out


class Validated:
    """校验结果 Problems, counts and the valid persons.

    The persons are kept in file order (``unordered``: one person per distinct valid ID, at its first
    row) with ``order``, the permutation to ID order. ``persons`` (sorted by ID) is built on first use:
    gathering a million strings in an order other than the one they were read in costs seconds
    (every access misses the cache), and a re-import whose persons are unchanged never needs it
    (``roster_diff`` compares in file order and sorts only the changed ones, ``sorted_at``).
    """

    def __init__(
        self,
        *,
        unordered: PersonColumns,
        order: np.ndarray,
        problems: list[RowProblem],
        rows: int,
        invalid_rows: int,
    ) -> None:
        self.unordered = unordered
        self.order = order
        self.problems = problems
        self.rows = rows
        self.invalid_rows = invalid_rows
        self._persons: PersonColumns | None = None

    @property
    def persons(self) -> PersonColumns:
        """The valid persons sorted by ID number."""
        if self._persons is None:
            self._persons = _pick(self.unordered, self.order.tolist())
        return self._persons

    def drop(self, positions: Sequence[int]) -> None:
        """Remove the persons at file-order ``positions`` of ``unordered`` (found invalid afterwards)."""
        keep = np.ones(len(self.order), dtype=bool)
        keep[np.asarray(positions, dtype=np.int64)] = False
        new_at = np.cumsum(keep) - 1
        self.unordered = _pick(self.unordered, np.flatnonzero(keep).tolist())
        self.order = new_at[self.order[keep[self.order]]]
        self._persons = None

    def sorted_at(self, positions: Sequence[int]) -> PersonColumns:
        """The persons at file-order ``positions`` of ``unordered``, sorted by ID number."""
        rank = np.empty(len(self.order), dtype=np.int64)
        rank[self.order] = np.arange(len(self.order), dtype=np.int64)
        chosen = np.asarray(positions, dtype=np.int64)
        return _pick(self.unordered, chosen[np.argsort(rank[chosen], kind="stable")].tolist())


def validate_columns(
    table: Any,
    *,
    villages: set[str],
    header_of: dict[str, str],
    slow_id: Callable[[str], tuple[str | None, str]],
    today: date,
) -> Validated:
    """校验（列式） Validate a roster ``Table``; same result as the per-row reference."""
    n = len(table)
    blank = [""] * n
    cols = table.columns
    numbers = table.row_numbers
    col_id: list[str] = cols["id_number"]
    col_name: list[str] = cols["name"]
    col_village: list[str] = cols["village_code"]
    col_household: list[str] = cols.get("household_no", blank)
    col_relation: list[str] = cols.get("relation", blank)
    col_tags: list[str] = cols.get("tags", blank)
    col_conds: list[str] = cols.get("conditions", blank)
    col_phone: list[str] = cols.get("phone", blank)
    # What the reader knows of every cell (a plain CSV): scans it settles are skipped.
    printable: bool = getattr(table, "printable", False)
    absent: str = getattr(table, "no_start", "")
    bounds: dict[str, int] = getattr(table, "length_bounds", {})

    # (row index, field order, column, value, reason): sorted at the end to the reference's order.
    found: list[tuple[int, int, str, str, str]] = []

    # -- ID numbers -----------------------------------------------------------------------------
    checks = ids_check(col_id, today)
    ok, keys, lower_x = checks.ok, checks.key, checks.lower_x
    ids: list[str | None] = list(col_id)
    for i in np.flatnonzero(lower_x).tolist():
        ids[i] = col_id[i][:17] + "X"
    id_ok = ok.copy()
    for i in np.flatnonzero(~ok).tolist():
        idn, reason = slow_id(col_id[i])
        ids[i] = idn
        if idn is None:
            found.append((i, 0, "id_number", col_id[i], reason))
        else:
            id_ok[i] = True
            keys[i] = int(idn[:17])

    # -- names ------------------------------------------------------------------------------------
    name_suspect = column_suspect(
        col_name, NAME_MAX, _CONTROL_ANY, bound=bounds.get("name"), printable=printable
    )
    found.extend((i, 1, "name", "", NAME_EMPTY) for i in _positions_of(col_name, ""))
    if name_suspect or starts_formula(col_name, absent=absent):
        for i, s in enumerate(col_name):
            if s and (
                s.startswith(FORMULA_START)
                or (name_suspect and (len(s) > NAME_MAX or _CONTROL_ANY.search(s)))
            ):
                found.append((i, 1, "name", s, NAME_BAD))

    # -- villages ---------------------------------------------------------------------------------
    unknown_villages = set(col_village) - villages
    if unknown_villages:
        found.extend(
            (i, 2, "village_code", col_village[i], village_reason(col_village[i]))
            for i in _positions_in(col_village, unknown_villages)
        )

    # -- household number, relation -----------------------------------------------------------------
    if column_suspect(col_household, 40, _CONTROL_ANY, bound=bounds.get("household_no"), printable=printable):
        found.extend(
            (i, 3, "household_no", s, HOUSEHOLD_BAD)
            for i, s in enumerate(col_household)
            if s and (len(s) > 40 or has_control_chars(s))
        )
    if column_suspect(col_relation, 20, _CONTROL_ANY, bound=bounds.get("relation"), printable=printable):
        found.extend(
            (i, 4, "relation", s, RELATION_BAD)
            for i, s in enumerate(col_relation)
            if s and (len(s) > 20 or has_control_chars(s))
        )

    # -- tags and conditions: each distinct text parsed once ---------------------------------------
    tag_parsed = {text: parse_tags(text) for text in set(col_tags) if text}
    bad_tags = {text: p[1] for text, p in tag_parsed.items() if p[1]}
    if bad_tags:
        found.extend(
            (i, 5, "tags", col_tags[i], tag_reason(bad_tags[col_tags[i]]))
            for i in _positions_in(col_tags, bad_tags)
        )
    cond_parsed = {text: parse_conditions(text) for text in set(col_conds) if text}
    bad_conds = {text: p[1] for text, p in cond_parsed.items() if p[1]}
    if bad_conds:
        found.extend(
            (i, 6, "conditions", col_conds[i], bad_conds[col_conds[i]])
            for i in _positions_in(col_conds, bad_conds)
        )

    # -- phone ------------------------------------------------------------------------------------
    if column_suspect(
        col_phone, 40, _LETTER_OR_CONTROL, bound=bounds.get("phone"), printable=printable
    ) or starts_formula(col_phone, "=@", absent=absent):
        found.extend(
            (i, 7, "phone", s, PHONE_BAD)
            for i, s in enumerate(col_phone)
            if s and (len(s) > 40 or s.startswith(("=", "@")) or _LETTER_OR_CONTROL.search(s))
        )

    found.sort(key=lambda p: (p[0], p[1]))
    problems = [RowProblem(numbers[i], header_of[c], v, r) for i, _, c, v, r in found]
    bad = np.zeros(n, dtype=bool)
    if found:
        bad[[p[0] for p in found]] = True

    # -- repeated IDs -------------------------------------------------------------------------------
    rows_ok = np.flatnonzero(id_ok)
    order = rows_ok[np.argsort(keys[rows_ok], kind="stable")]  # by ID, then by row
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]) if len(order) else order
    sizes = np.diff(np.r_[starts, len(order)])
    single = order[starts[sizes == 1]]
    multi_starts = starts[sizes > 1].tolist()
    multi_sizes = sizes[sizes > 1].tolist()
    order_list = order.tolist()

    conflict_rows: list[int] = []
    merged: list[tuple[int, tuple[str, ...]]] = []  # (first row, person fields) of merged repeats
    for s, size in zip(multi_starts, multi_sizes, strict=True):
        group = order_list[s : s + size]
        i0 = group[0]
        key0 = (col_name[i0], col_village[i0], col_household[i0])
        if any((col_name[k], col_village[k], col_household[k]) != key0 for k in group[1:]):
            where = "、".join(str(numbers[k]) for k in group)
            reason = conflict_reason(where)
            for k in group:
                problems.append(RowProblem(numbers[k], header_of["id_number"], col_id[k], reason))
                conflict_rows.append(k)
            continue
        good = [k for k in group if not bad[k]]
        if not good:
            continue
        k0 = good[0]
        tag_values = tag_parsed[col_tags[k0]][0] if col_tags[k0] else ()
        cond_names = cond_parsed[col_conds[k0]][0] if col_conds[k0] else ()
        relation, phone = col_relation[k0], col_phone[k0]
        for k in good[1:]:
            if col_tags[k]:
                tag_values = tuple(sorted(set(tag_values) | set(tag_parsed[col_tags[k]][0])))
            if col_conds[k]:
                cond_names = tuple(sorted(set(cond_names) | set(cond_parsed[col_conds[k]][0])))
            relation = relation or col_relation[k]
            phone = phone or col_phone[k]
        idn = ids[i0]
        assert idn is not None
        merged.append(
            (
                i0,
                (idn, *key0, relation, phone, "、".join(tag_values), "、".join(cond_names)),
            )
        )
    if conflict_rows:
        bad[conflict_rows] = True
    invalid_rows = int(bad.sum())

    # -- the persons: gathered in file order (cheap), with the permutation to ID order -------------
    single = single[~bad[single]]
    canon_tags = {text: "、".join(p[0]) for text, p in tag_parsed.items()}
    canon_conds = {text: "、".join(p[0]) for text, p in cond_parsed.items()}
    taken = np.zeros(n, dtype=bool)
    taken[single] = True
    merged_rows = np.array([m[0] for m in merged], dtype=np.int64)
    taken[merged_rows] = True
    take = np.flatnonzero(taken)  # one row per person (its first), in file order
    position = np.cumsum(taken) - 1  # row index → position among the taken rows
    # The first row of each group of equal IDs, in ID order: taken or not (at most one per ID).
    firsts = order[starts]
    by_key = position[firsts[taken[firsts]]]
    spans = _runs(take)

    def pick(col: list[Any], canon: dict[str, str] | None = None) -> list[Any]:
        if len(spans) == 1:
            out = col[spans[0][0] : spans[0][1]]
        else:
            out = []
            for a, b in spans:
                out += col[a:b]
        if canon is not None and any(k != v for k, v in canon.items()):
            canon[""] = ""
            out = list(map(canon.__getitem__, out))
        return out

    persons = PersonColumns()
    persons.id_number = pick(ids)
    persons.name = pick(col_name)
    persons.village_code = pick(col_village)
    persons.household_no = pick(col_household)
    persons.relation = pick(col_relation)
    persons.phone = pick(col_phone)
    persons.tags = pick(col_tags, canon_tags)
    persons.conditions = pick(col_conds, canon_conds)
    if merged:
        # The merged repeats' united values replace those of their first row.
        cols_out = persons.fields()  # id, name, village, household, relation, phone, tags, conds
        at = position[merged_rows].tolist()
        for j, (_, values) in zip(at, merged, strict=True):
            for f, value in enumerate(values):
                cols_out[f][j] = value
    return Validated(unordered=persons, order=by_key, problems=problems, rows=n, invalid_rows=invalid_rows)


def _runs(rows: np.ndarray) -> list[tuple[int, int]]:
    """The ascending row indexes ``rows`` as (start, stop) ranges of consecutive indexes."""
    if not len(rows):
        return []
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    begin = rows[np.r_[0, breaks]]
    stop = rows[np.r_[breaks - 1, len(rows) - 1]] + 1
    return list(zip(begin.tolist(), stop.tolist(), strict=True))


def _positions_of(column: list[str], value: str) -> list[int]:
    """The indexes of ``value`` in ``column`` (``list.index`` in C from one to the next)."""
    out: list[int] = []
    i = -1
    try:
        while True:
            i = column.index(value, i + 1)
            out.append(i)
    except ValueError:
        return out


def _positions_in(column: Sequence[str], values: Container[str]) -> list[int]:
    """The indexes of the cells of ``column`` that are in ``values`` (the scan runs in C)."""
    return list(compress(count(), map(values.__contains__, column)))
