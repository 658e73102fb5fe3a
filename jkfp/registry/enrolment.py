"""参保导入 Import the yearly insurance enrolment of the roster's persons (issue 7: ``enrolment_rate``).

``enrolment_import`` reads a CSV (UTF-8 or GBK) or XLSX list — 身份证号, 年度, 参保状态 (已参保/未参保, 是/否,
1/0), 个人缴费, 资助金额 and optionally 参保日期 — validates every row, writes the invalid ones to an
error report (行号, 列, 值, 原因) and writes the valid ones in ONE transaction (an error rolls it all
back: nothing half-written). One ``Enrolment`` per (person, year).

A row is invalid (the report names the column) when: the ID number fails GB 11643 (length,
characters, check character, birth date) or names nobody in the roster; the year is not a number,
before 2014 or after next year (next year's list is collected in the autumn); the status is not one of the accepted words; an amount is not a number,
negative, has more than two decimals or exceeds ``MAX_AMOUNT`` (a resident's yearly premium is a few
hundred yuan); the date is impossible or in the future; or the same ID and year appear more than once
with different values (then every row of that ID and year is invalid; identical repeats count once).
Without a 年度 column ``--year`` gives the year; with both, a row of another year is invalid.

With ``user`` (the web import) only persons inside the user's region are found
(``registry.selectors.persons_by_id_number``): a person of another region is an invalid row naming
the 身份证号 column with ``ERR_NOT_IN_ROSTER`` — the same words as a person nobody has, so that an
upload never tells whether another county's person exists. The command line (no user) may write
every person of the roster. ``progress`` receives percentages (below 100).

created / updated / unchanged count the distinct (person, year) records of the valid rows: the same
file again gives created 0, updated 0. A change sends ``data_changed(kind="enrolment")`` on commit
(the indicators refresh their snapshot).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from jkfp.core.importing import ERR_NOT_IN_ROSTER as ERR_NOT_IN_ROSTER  # the tests read it here
from jkfp.core.importing import (
    ID_NUMBER_HEADERS,
    ImportSummary,
    RowFailures,
    error_report,
    id_number_column,
    parse_date,
)
from jkfp.core.signals import send_data_changed
from jkfp.core.tabular import TableError, read_table
from jkfp.registry.models import Enrolment
from jkfp.registry.selectors import persons_by_id_number
from jkfp.registry.years import LIST_MIN_YEAR, list_max_year, list_year_ok

ENROLMENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "id_number": (*ID_NUMBER_HEADERS, "id_number"),
    "year": ("年度", "参保年度", "year"),
    "insured": ("参保状态", "是否参保", "insured"),
    "premium": ("个人缴费", "个人缴费金额", "premium"),
    "subsidy": ("资助金额", "资助", "subsidy"),
    "insured_on": ("参保日期", "insured_on"),
}
ENROLMENT_REQUIRED = ("id_number", "insured")
MIN_YEAR = LIST_MIN_YEAR
MAX_AMOUNT = Decimal("5000.00")
CENTS = Decimal("0.01")
CHUNK = 2000

YES = frozenset({"已参保", "参保", "是", "1", "y", "yes", "true", "已缴费"})
NO = frozenset({"未参保", "不参保", "否", "0", "n", "no", "false", "未缴费"})
# 参保状态 values a web upload's mapping step offers for a value outside YES and NO (issue 18 item 3).
ENROLMENT_ACCEPTED: dict[str, tuple[str, ...]] = {"insured": ("已参保", "未参保")}
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T].*)?$")

ERR_YEAR = "年度应为{lo}至{hi}年之间的整数 / the year must be a whole number from {lo} to {hi}"
ERR_YEAR_OTHER = "年度与 --year {year} 不一致 / the year differs from --year {year}"
ERR_STATUS = "参保状态应为“已参保”或“未参保”（或1/0）/ the status must be 已参保 or 未参保 (or 1/0)"
ERR_AMOUNT = "金额应为数字 / the amount must be a number"
ERR_AMOUNT_NEGATIVE = "金额不能为负 / the amount cannot be negative"
ERR_AMOUNT_PLACES = "金额最多两位小数 / at most two decimals"
ERR_AMOUNT_ABSURD = "金额超过{max}元，不合理 / the amount exceeds {max} yuan"
ERR_DATE = "日期无效，应为 YYYY-MM-DD / invalid date, expected YYYY-MM-DD"
ERR_DATE_FUTURE = "日期晚于今天 / the date is in the future"
ERR_CONFLICT = "同一身份证号同一年度出现多次且内容不一致（第{rows}行）/ the same ID and year appear in rows {rows} with different values"


@dataclass(frozen=True)
class _Record:
    person_id: int
    year: int
    insured: bool
    insured_on: date | None
    premium: Decimal
    subsidy: Decimal

    def values(self) -> tuple[Any, ...]:
        return (self.insured, self.insured_on, self.premium, self.subsidy)


def _amount(text: str) -> tuple[Decimal, str]:
    if not text:
        return Decimal("0.00"), ""
    try:
        amount = Decimal(text.replace(",", "").replace("，", ""))
    except InvalidOperation:
        return Decimal(0), ERR_AMOUNT
    if not amount.is_finite():
        return Decimal(0), ERR_AMOUNT
    if amount < 0:
        return Decimal(0), ERR_AMOUNT_NEGATIVE
    if amount != amount.quantize(CENTS):
        return Decimal(0), ERR_AMOUNT_PLACES
    if amount > MAX_AMOUNT:
        return Decimal(0), ERR_AMOUNT_ABSURD.format(max=MAX_AMOUNT)
    return amount.quantize(CENTS), ""


def _date(text: str, today: date) -> tuple[date | None, str]:
    if not text:
        return None, ""
    day, _ = parse_date(text)  # every form of the one date parser (compact, Excel serial …)
    if day is None:
        match = _DATE.match(text)  # a date with any time of day
        if match is None:
            return None, ERR_DATE
        try:
            day = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return None, ERR_DATE
    if day > today:
        return None, ERR_DATE_FUTURE
    return day, ""


def _last_year(today: date) -> int:
    return list_max_year(today)


def _check_year(year: int | None, today: date) -> None:
    if year is not None and not list_year_ok(year, today):
        raise TableError(
            f"参保年度{year}不合理（应在{MIN_YEAR}至{_last_year(today)}年之间）",
            f"enrolment year {year} is not plausible (from {MIN_YEAR} to {_last_year(today)})",
        )


def enrolment_import(
    *,
    path: str | Path,
    year: int | None = None,
    user: Any = None,
    progress: Callable[[int], None] | None = None,
    errors_dir: Path | None = None,
    today: date | None = None,
) -> ImportSummary:
    """导入参保名单 Import enrolment rows; returns the summary (the exact ``--json`` of ``jkfp import-enrolment``).

    Raises ``TableError`` (``.zh``/``.en``) when the file cannot be read, lacks a required column, has
    neither a 年度 column nor ``year``, or ``year`` is implausible: then nothing is written.
    """
    path = Path(path)
    today = today or timezone.localdate()
    _check_year(year, today)
    table = read_table(path, ENROLMENT_COLUMNS, ENROLMENT_REQUIRED, accepted={"insured": YES | NO})
    if progress:
        progress(20)
    if "year" not in table.headers and year is None:
        raise TableError(
            "缺少“年度”列：请在文件中给出年度，或用 --year 指定",
            "missing column 年度 (year): add it to the file or give --year",
        )
    header = {c: table.headers.get(c, ENROLMENT_COLUMNS[c][0]) for c in ENROLMENT_COLUMNS}
    failures = RowFailures(table.row_numbers, header)
    fail, problems, bad = failures.fail, failures.problems, failures.bad
    cols = table.columns
    n = len(table)
    empty = [""] * n
    ids_raw, years_raw = cols["id_number"], cols.get("year", empty)
    ids = id_number_column(ids_raw, failures, "id_number", today=today)
    parsed: list[tuple[str, int, bool, date | None, Decimal, Decimal] | None] = []
    for i in range(n):
        idn = ids[i] or ""
        row_year = year or 0
        text = years_raw[i].strip()
        if text:
            try:
                row_year = int(Decimal(text)) if Decimal(text) == Decimal(text).to_integral_value() else -1
            except InvalidOperation:
                row_year = -1
            if not list_year_ok(row_year, today):
                fail(i, "year", text, ERR_YEAR.format(lo=MIN_YEAR, hi=_last_year(today)))
            elif year is not None and row_year != year:
                fail(i, "year", text, ERR_YEAR_OTHER.format(year=year))
        elif year is None:
            fail(i, "year", text, ERR_YEAR.format(lo=MIN_YEAR, hi=_last_year(today)))
        status = cols["insured"][i].strip().lower()
        insured = status in YES
        if not insured and status not in NO:
            fail(i, "insured", cols["insured"][i], ERR_STATUS)
        amounts = []
        for column in ("premium", "subsidy"):
            value = cols.get(column, empty)[i].strip()
            amount, reason = _amount(value)
            if reason:
                fail(i, column, value, reason)
            amounts.append(amount)
        insured_on, reason = _date(cols.get("insured_on", empty)[i].strip(), today)
        if reason:
            fail(i, "insured_on", cols["insured_on"][i], reason)
        ok = i not in bad
        parsed.append((idn, row_year, insured, insured_on, amounts[0], amounts[1]) if ok else None)

    if progress:
        progress(50)
    # Persons of the roster by normalised ID: with a user, of the user's region only.
    found = persons_by_id_number({p[0] for p in parsed if p is not None}, user=user)
    person_of = {idn: p.pk for idn, p in found.items()}
    records: dict[tuple[int, int], _Record] = {}
    rows_of: dict[tuple[int, int], list[int]] = {}
    conflicts: set[tuple[int, int]] = set()
    for i, item in enumerate(parsed):
        if item is None:
            continue
        idn, row_year, insured, insured_on, premium, subsidy = item
        person_id = person_of.get(idn)
        if person_id is None:
            fail(i, "id_number", ids_raw[i], ERR_NOT_IN_ROSTER)
            continue
        key = (person_id, row_year)
        record = _Record(person_id, row_year, insured, insured_on, premium, subsidy)
        rows_of.setdefault(key, []).append(i)
        if key in records and records[key] != record:
            conflicts.add(key)
        records.setdefault(key, record)
    for key in conflicts:
        listed = "、".join(str(table.row_numbers[i]) for i in rows_of[key])
        for i in rows_of[key]:
            fail(i, "id_number", ids_raw[i], ERR_CONFLICT.format(rows=listed))
        del records[key]

    summary = ImportSummary(rows=n, invalid=len(bad))
    summary.valid = n - summary.invalid
    if progress:
        progress(70)
    if records:
        summary.created, summary.updated = _load(list(records.values()), source=path.name[:100])
        summary.unchanged = len(records) - summary.created - summary.updated
    summary.errors_file = error_report(problems, errors_dir, f"enrolment-{path.stem}-errors")
    return summary


def _load(records: list[_Record], *, source: str) -> tuple[int, int]:
    """(created, updated) in one transaction; unchanged records are not touched."""
    with transaction.atomic():
        person_ids = sorted({r.person_id for r in records})
        years = sorted({r.year for r in records})
        existing: dict[tuple[int, int], Enrolment] = {}
        for start in range(0, len(person_ids), CHUNK):
            for row in Enrolment.objects.filter(
                person_id__in=person_ids[start : start + CHUNK], year__in=years
            ):
                existing[(row.person_id, row.year)] = row
        creates: list[Enrolment] = []
        updates: list[Enrolment] = []
        now = timezone.now()
        for r in records:
            row = existing.get((r.person_id, r.year))
            if row is None:
                creates.append(
                    Enrolment(
                        person_id=r.person_id,
                        year=r.year,
                        insured=r.insured,
                        insured_on=r.insured_on,
                        premium_paid=r.premium,
                        subsidy_amount=r.subsidy,
                        source=source,
                        updated_at=now,
                    )
                )
            elif (row.insured, row.insured_on, row.premium_paid, row.subsidy_amount) != r.values():
                row.insured, row.insured_on, row.premium_paid, row.subsidy_amount = r.values()
                row.source, row.updated_at = source, now
                updates.append(row)
        Enrolment.objects.bulk_create(creates, batch_size=CHUNK)
        Enrolment.objects.bulk_update(
            updates,
            ["insured", "insured_on", "premium_paid", "subsidy_amount", "source", "updated_at"],
            batch_size=CHUNK,
        )
        changed_years = {r.year for r in creates} | {r.year for r in updates}
        if changed_years:
            send_data_changed(kind="enrolment", years=changed_years)
    return len(creates), len(updates)
