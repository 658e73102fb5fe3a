"""结算申请导入 Import claims (``jkfp import-claims``), with the roster import's conventions.

Columns (English headers as below; the Chinese headers in brackets are accepted too):
``claim_id`` (结算号), ``person_id`` (身份证号), ``institution_code`` (机构代码), ``admit_date``
(入院日期), ``discharge_date`` (出院日期), ``referred`` (转诊备案), ``total`` (医疗总费用),
``out_of_scope`` (目录外费用). All but ``referred`` are required columns. Optional for a stay already
settled by the insurance platform elsewhere (settlement.md §7, 事后补助): ``basic_paid`` (基本医保已付)
and ``critical_paid`` (大病保险已付) — both or neither; ``settle-claims`` then computes the county's layers.

Level and in-county come from the institution; the category is decided when the claim is
settled (``jkfp settle-claims``: the person's tags on the discharge date). A row is **invalid**
(written to the error report — row, column, value, reason — and skipped) when:

- the claim id is empty, longer than 64 characters or holds control characters;
- the ID number fails GB 11643 or names nobody in the roster (within the user's region when run
  by a user);
- the institution code is unknown;
- a date is empty, unreadable, impossible or in the future; discharge before admission;
- an amount is not a non-negative number with at most two decimals, or is absurdly large; the
  out-of-scope cost exceeds the total;
- only one of ``basic_paid``/``critical_paid`` is given, one is not an amount, or their sum exceeds
  the in-scope cost (total − out-of-scope);
- ``referred`` is not one of 1/0/是/否/blank (blank: taken from the person's approved referral for
  an out-of-county stay);
- the same claim id appears more than once with different values (every such row is invalid;
  identical repeats count once), or a claim with this id is already stored with different values.

A claim already stored with the same values is ``unchanged``; new claims are ``created`` (pending)
in one transaction. ``updated`` is always 0: a stored claim is never changed by an import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from jkfp.accounts.scoping import scope
from jkfp.core.idnumber import IdNumberError, validate_id_number
from jkfp.core.importing import ImportSummary, RowProblem, has_control_chars, write_error_report
from jkfp.core.tabular import read_table
from jkfp.engine import OUT_OF_SCOPE_ABOVE_TOTAL, ClaimValueError, out_of_scope_above_total, parse_amount_fen
from jkfp.engine.claims import PAID_PAIR_REASON, fen_to_decimal, paid_over_scope_reason
from jkfp.regions.models import Institution
from jkfp.registry.models import Person
from jkfp.settlement.compute import request_hash
from jkfp.settlement.models import Claim, ClaimSource
from jkfp.treatment.imports import parse_date
from jkfp.treatment.models import MajorDiseaseCase
from jkfp.treatment.selectors import referral_flag

CLAIM_IMPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "claim_id": ("结算号", "住院号"),
    "person_id": ("身份证号", "id_number"),
    "institution_code": ("机构代码", "医疗机构代码"),
    "admit_date": ("入院日期",),
    "discharge_date": ("出院日期",),
    "referred": ("转诊备案", "转诊"),
    "total": ("医疗总费用", "总费用"),
    "out_of_scope": ("目录外费用", "自费费用"),
    "basic_paid": ("基本医保已付",),
    "critical_paid": ("大病保险已付",),
}
CLAIM_IMPORT_REQUIRED = (
    "claim_id",
    "person_id",
    "institution_code",
    "admit_date",
    "discharge_date",
    "total",
    "out_of_scope",
)
REFERRED_VALUES = {"1": True, "0": False, "是": True, "否": False, "": None, "true": True, "false": False}

ERR_CLAIM_ID = "结算号不能为空，不超过64个字符，不能含控制字符"
ERR_ID = "身份证号不合法：{reason}"
ERR_NOT_IN_ROSTER = "花名册中没有此人（或不在您的管辖范围内），请先导入花名册"
ERR_INSTITUTION = "机构代码“{value}”不在医疗机构目录中"
ERR_DATE_EMPTY = "日期不能为空"
ERR_DATE_FUTURE = "日期在将来"
ERR_DISCHARGE_BEFORE_ADMIT = "出院日期早于入院日期"
ERR_AMOUNT = "金额不合法：{reason}"
ERR_OUT_OF_SCOPE_GT_TOTAL = OUT_OF_SCOPE_ABOVE_TOTAL[0]
ERR_REFERRED = "转诊备案应为 1、0、是、否 或留空"
ERR_CONFLICT = "同一结算号在文件中出现多次且内容不同（第{rows}行）"
ERR_EXISTS = "结算号已存在且内容不同（已登记的结算申请不能通过导入修改）"


@dataclass(frozen=True)
class _Row:
    claim_id: str
    person_id: int
    id_number: str
    institution: str
    admitted_on: date
    discharged_on: date
    total_fen: int
    oos_fen: int
    referred: bool | None
    basic_paid_fen: int | None = None  # §7: settled elsewhere
    critical_paid_fen: int | None = None


def claims_import(
    *,
    path: str | Path,
    user: Any = None,
    errors_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    today: date | None = None,
) -> ImportSummary:
    """导入结算申请 Import claims from a CSV/XLSX file as pending claims; returns the summary.

    Raises ``TableError`` (``.zh``/``.en``) when the file cannot be read or lacks a required column:
    then nothing is written.
    """
    path = Path(path)
    today = today or timezone.localdate()
    table = read_table(path, CLAIM_IMPORT_COLUMNS, CLAIM_IMPORT_REQUIRED)
    if progress:
        progress(20)
    header = {c: table.headers.get(c, c) for c in CLAIM_IMPORT_COLUMNS}
    n = len(table)
    cols = table.columns
    referred_col = cols.get("referred", [""] * n)
    paid_cols = {c: cols.get(c, [""] * n) for c in ("basic_paid", "critical_paid")}
    numbers = table.row_numbers
    problems: list[RowProblem] = []
    bad: set[int] = set()

    def fail(i: int, column: str, value: str, reason: str) -> None:
        problems.append(RowProblem(numbers[i], header[column], value, reason))
        bad.add(i)

    ids: list[str | None] = []
    for i, raw in enumerate(cols["person_id"]):
        try:
            ids.append(validate_id_number(raw, today=today))
        except IdNumberError as exc:
            ids.append(None)
            fail(i, "person_id", raw, ERR_ID.format(reason=exc.zh))
    wanted = sorted({x for x in ids if x})
    persons_qs = Person.objects.all() if user is None else scope(Person.objects.all(), user, "village_id")
    persons: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        persons.update(
            persons_qs.filter(id_number__in=wanted[start : start + 500]).values_list("id_number", "id")
        )
    institutions = {i.code: i for i in Institution.objects.all()}

    valid: dict[str, tuple[_Row, list[int]]] = {}
    conflicts: set[str] = set()
    for i in range(n):
        claim_id = cols["claim_id"][i]
        if not claim_id or len(claim_id) > 64 or has_control_chars(claim_id):
            fail(i, "claim_id", claim_id, ERR_CLAIM_ID)
        idn = ids[i]
        person = persons.get(idn) if idn else None
        if idn and person is None:
            fail(i, "person_id", cols["person_id"][i], ERR_NOT_IN_ROSTER)
        code = cols["institution_code"][i]
        if code not in institutions:
            fail(i, "institution_code", code, ERR_INSTITUTION.format(value=code))
        days: dict[str, date | None] = {}
        for column in ("admit_date", "discharge_date"):
            text = cols[column][i]
            day: date | None = None
            if not text:
                fail(i, column, text, ERR_DATE_EMPTY)
            else:
                day, reason = parse_date(text)
                if day is None:
                    fail(i, column, text, reason.replace("确诊日期", "日期"))
                elif day > today:
                    fail(i, column, text, ERR_DATE_FUTURE)
                    day = None
            days[column] = day
        admitted, discharged = days["admit_date"], days["discharge_date"]
        if admitted and discharged and discharged < admitted:
            fail(i, "discharge_date", cols["discharge_date"][i], ERR_DISCHARGE_BEFORE_ADMIT)
        fen: dict[str, int | None] = {}
        for column in ("total", "out_of_scope"):
            text = cols[column][i]
            try:
                fen[column] = parse_amount_fen(text)
            except ClaimValueError as exc:
                fen[column] = None
                fail(i, column, text, ERR_AMOUNT.format(reason=exc.zh))
        total, oos = fen["total"], fen["out_of_scope"]
        if total is not None and oos is not None and out_of_scope_above_total(total, oos):
            fail(i, "out_of_scope", cols["out_of_scope"][i], ERR_OUT_OF_SCOPE_GT_TOTAL)
        paid: dict[str, int | None] = {"basic_paid": None, "critical_paid": None}
        given = [c for c in paid if paid_cols[c][i]]
        for column in given:
            try:
                paid[column] = parse_amount_fen(paid_cols[column][i])
            except ClaimValueError as exc:
                fail(i, column, paid_cols[column][i], ERR_AMOUNT.format(reason=exc.zh))
        if len(given) == 1:
            other = "critical_paid" if given[0] == "basic_paid" else "basic_paid"
            fail(i, other, "", PAID_PAIR_REASON[0])
        basic_paid, critical_paid = paid["basic_paid"], paid["critical_paid"]
        if (
            basic_paid is not None
            and critical_paid is not None
            and total is not None
            and oos is not None
            and oos <= total
            and basic_paid + critical_paid > total - oos
        ):
            column = "basic_paid" if basic_paid > total - oos else "critical_paid"
            fail(i, column, paid_cols[column][i], paid_over_scope_reason(total - oos)[0])
        ref_text = referred_col[i]
        if ref_text.lower() not in REFERRED_VALUES:
            fail(i, "referred", ref_text, ERR_REFERRED)
        if i in bad:
            continue
        assert (
            idn and person is not None and admitted and discharged and total is not None and oos is not None
        )
        record = _Row(
            claim_id,
            person,
            idn,
            code,
            admitted,
            discharged,
            total,
            oos,
            REFERRED_VALUES[ref_text.lower()],
            basic_paid,
            critical_paid,
        )
        seen = valid.get(claim_id)
        if seen is None:
            valid[claim_id] = (record, [i])
        else:
            seen[1].append(i)
            if seen[0] != record:
                conflicts.add(claim_id)
    for claim_id in conflicts:
        rows = valid.pop(claim_id)[1]
        listed = "、".join(str(numbers[i]) for i in rows)
        for i in rows:
            fail(i, "claim_id", claim_id, ERR_CONFLICT.format(rows=listed))
    if progress:
        progress(50)

    # Claims already stored: identical → unchanged, different → invalid.
    hashes = {cid: _hash(r) for cid, (r, _) in valid.items()}
    existing: dict[str, str] = {}
    keys = sorted(valid)
    for start in range(0, len(keys), 500):
        existing.update(
            Claim.objects.filter(claim_id__in=keys[start : start + 500]).values_list(
                "claim_id", "request_hash"
            )
        )
    unchanged = 0
    for cid, stored in existing.items():
        if stored == hashes[cid]:
            unchanged += 1
            valid.pop(cid)
        else:
            for i in valid.pop(cid)[1]:
                fail(i, "claim_id", cid, ERR_EXISTS)

    summary = ImportSummary(rows=n, invalid=len(bad))
    summary.valid = n - summary.invalid
    summary.unchanged = unchanged
    records = [r for r, _ in valid.values()]
    if records:
        summary.created = _load(records, hashes, user=user)
    if problems:
        directory = Path(errors_dir) if errors_dir is not None else Path(settings.IMPORT_DIR) / "errors"
        summary.errors_file = str(
            write_error_report(problems, directory=directory, stem=f"claims-{path.stem}-errors")
        )
    if progress:
        progress(100)
    return summary


def _hash(r: _Row) -> str:
    return request_hash(
        claim_id=r.claim_id,
        id_number=r.id_number,
        institution_code=r.institution,
        admitted_on=r.admitted_on,
        discharged_on=r.discharged_on,
        total_amount=fen_to_decimal(r.total_fen),
        out_of_scope_amount=fen_to_decimal(r.oos_fen),
        referred=r.referred,
        basic_paid_amount=None if r.basic_paid_fen is None else fen_to_decimal(r.basic_paid_fen),
        critical_paid_amount=None if r.critical_paid_fen is None else fen_to_decimal(r.critical_paid_fen),
    )


def _load(records: list[_Row], hashes: dict[str, str], *, user: Any) -> int:
    institutions = {i.code: i for i in Institution.objects.all()}
    created_by = user if getattr(user, "is_authenticated", False) else None
    # Each claim is linked to the person's major-disease case diagnosed last on or before the
    # discharge date (services.major_case_for, here for all persons at once).
    cases: dict[int, list[tuple[date, int]]] = {}
    person_ids = sorted({r.person_id for r in records})
    for start in range(0, len(person_ids), 500):
        for pid, day, pk in MajorDiseaseCase.objects.filter(
            person_id__in=person_ids[start : start + 500]
        ).values_list("person_id", "diagnosed_on", "pk"):
            cases.setdefault(pid, []).append((day, pk))
    objs = []
    for r in records:
        linked = max((c for c in cases.get(r.person_id, []) if c[0] <= r.discharged_on), default=None)
        inst = institutions[r.institution]
        if inst.in_county:
            referred = False
        elif r.referred is None:
            referred = referral_flag(
                person_id=r.person_id, institution_code=inst.code, admitted_on=r.admitted_on
            )
        else:
            referred = r.referred
        objs.append(
            Claim(
                claim_id=r.claim_id,
                person_id=r.person_id,
                institution_id=inst.code,
                level=int(inst.level),
                in_county=inst.in_county,
                admitted_on=r.admitted_on,
                discharged_on=r.discharged_on,
                major_disease_case_id=linked[1] if linked else None,
                total_amount=fen_to_decimal(r.total_fen),
                out_of_scope_amount=fen_to_decimal(r.oos_fen),
                referred=referred,
                basic_paid_amount=None if r.basic_paid_fen is None else fen_to_decimal(r.basic_paid_fen),
                critical_paid_amount=None
                if r.critical_paid_fen is None
                else fen_to_decimal(r.critical_paid_fen),
                request_hash=hashes[r.claim_id],
                source=ClaimSource.IMPORT,
                created_by=created_by,
            )
        )
    with transaction.atomic():
        Claim.objects.bulk_create(objs, batch_size=1000)
    return len(objs)
