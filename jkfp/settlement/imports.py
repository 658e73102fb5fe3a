"""结算申请导入 Import claims (``jkfp import-claims``), with the roster import's conventions.

Columns (English headers as below; the Chinese headers in brackets are accepted too):
``claim_id`` (结算号), ``person_id`` (身份证号), ``institution_code`` (机构代码), ``admit_date``
(入院日期), ``discharge_date`` (出院日期), ``referred`` (转诊备案), ``total`` (医疗总费用),
``out_of_scope`` (目录外费用). All but ``referred`` are required columns. Optional for a stay already
settled by the insurance platform elsewhere (settlement.md §7, 事后补助): ``basic_paid`` (基本医保已付)
and ``critical_paid`` (大病保险已付) — both or neither; ``settle-claims`` then computes the county's layers.
Optional for an outpatient special chronic disease claim (settlement.md §6): ``kind`` (类别/就诊类别:
``inpatient``/住院, the default, or ``outpatient``/门诊/门诊慢特病) and ``disease`` (病种); its
discharge_date is the visit date and its admit_date empty or equal to it.

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
- ``kind`` is not inpatient/outpatient (or 住院/门诊); an outpatient row's disease is empty or not an
  outpatient disease of the stored policies, its admit_date differs from its visit date, or the
  person holds no valid chronic-disease card (慢病卡) for it on the visit date; a stay names a disease;
- the same claim id of the same institution appears more than once with different values (every such
  row is invalid; identical repeats count once), or the institution's claim with this id is already
  stored with different values.

A claim is keyed by its institution and claim id (claim ids are each institution's own: two
hospitals' rows with the same claim id are two claims).

A claim already stored with the same values is ``unchanged``; new claims are ``created`` (pending)
in one transaction. ``updated`` is always 0: a stored claim is never changed by an import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from jkfp.core.importing import ERR_NOT_IN_ROSTER as ERR_NOT_IN_ROSTER  # the tests read it here
from jkfp.core.importing import (
    ID_NUMBER_HEADERS,
    ImportSummary,
    KeyedRows,
    RowFailures,
    error_report,
    id_number_column,
)
from jkfp.core.tabular import read_table
from jkfp.engine import (
    ADMIT_FUTURE,
    AMOUNT_INVALID,
    DISCHARGE_BEFORE_ADMIT,
    DISCHARGE_FUTURE,
    OUT_OF_SCOPE_ABOVE_TOTAL,
    ClaimValueError,
    amount_fen,
    claim_date_reasons,
    out_of_scope_above_total,
    paid_reasons,
)
from jkfp.engine.claims import PAID_OUTPATIENT_REASON, fen_to_decimal
from jkfp.regions.models import Institution
from jkfp.registry.selectors import persons_by_id_number
from jkfp.settlement.cards import ERR_DISEASE_UNKNOWN, ERR_NO_CARD, card_checker, outpatient_disease_lookup
from jkfp.settlement.compute import ERR_CLAIM_ID as ERR_CLAIM_ID  # the import's message too
from jkfp.settlement.compute import claim_id_valid, request_hash
from jkfp.settlement.incounty import claims_in_county
from jkfp.settlement.models import Claim, ClaimKind, ClaimSource
from jkfp.treatment.imports import parse_date
from jkfp.treatment.selectors import major_case_query, referral_flag

CLAIM_IMPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "claim_id": ("结算号", "住院号"),
    "person_id": (*ID_NUMBER_HEADERS, "id_number"),
    "institution_code": ("机构代码", "医疗机构代码"),
    "admit_date": ("入院日期",),
    "discharge_date": ("出院日期",),
    "referred": ("转诊备案", "转诊"),
    "total": ("医疗总费用", "总费用"),
    "out_of_scope": ("目录外费用", "自费费用"),
    "basic_paid": ("基本医保已付",),
    "critical_paid": ("大病保险已付",),
    "kind": ("类别", "就诊类别"),
    "disease": ("病种", "门诊慢特病病种"),
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
KIND_VALUES = {
    "": ClaimKind.INPATIENT,
    "inpatient": ClaimKind.INPATIENT,
    "住院": ClaimKind.INPATIENT,
    "outpatient": ClaimKind.OUTPATIENT,
    "门诊": ClaimKind.OUTPATIENT,
    "门诊慢特病": ClaimKind.OUTPATIENT,
}
REFERRED_VALUES = {"1": True, "0": False, "是": True, "否": False, "": None, "true": True, "false": False}

ERR_INSTITUTION = "机构代码“{value}”不在医疗机构目录中"
ERR_DATE_EMPTY = "日期不能为空"
# A claim's own fields are checked by the engine's rules, with its messages (``engine/claims.py``).
ERR_ADMIT_FUTURE = ADMIT_FUTURE[0]
ERR_DISCHARGE_FUTURE = DISCHARGE_FUTURE[0]
ERR_DISCHARGE_BEFORE_ADMIT = DISCHARGE_BEFORE_ADMIT[0]
ERR_AMOUNT = AMOUNT_INVALID[0]
ERR_OUT_OF_SCOPE_GT_TOTAL = OUT_OF_SCOPE_ABOVE_TOTAL[0]
DATE_COLUMNS = {"admitted_on": "admit_date", "discharged_on": "discharge_date"}
ERR_REFERRED = "转诊备案应为 1、0、是、否 或留空"
ERR_CONFLICT = "同一结算号在文件中出现多次且内容不同（第{rows}行）"
ERR_EXISTS = "结算号已存在且内容不同（已登记的结算申请不能通过导入修改）"
ERR_KIND = "类别应为 inpatient（住院）或 outpatient（门诊慢特病），或留空（住院）"
ERR_DISEASE_REQUIRED = "门诊慢特病必须填写病种"
ERR_DISEASE_INPATIENT = "住院不填病种（病种只用于门诊慢特病）"
ERR_OUTPATIENT_DATES = "门诊慢特病的入院日期应为空或等于就诊日期"


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
    kind: str = ClaimKind.INPATIENT
    disease: str = ""


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
    kind_col = cols.get("kind", [""] * n)
    disease_col = cols.get("disease", [""] * n)
    diseases = outpatient_disease_lookup()
    numbers = table.row_numbers
    failures = RowFailures(numbers, header)
    fail, problems, bad = failures.fail, failures.problems, failures.bad
    ids = id_number_column(cols["person_id"], failures, "person_id", today=today)
    found = persons_by_id_number([x for x in ids if x], user=user)
    persons = {number: p.pk for number, p in found.items()}
    institutions = {i.code: i for i in Institution.objects.all()}
    holds_card = card_checker(list(persons.values()))

    keyed: KeyedRows[tuple[str, str], _Row] = KeyedRows()  # (institution, claim id) → row
    for i in range(n):
        claim_id = cols["claim_id"][i]
        if not claim_id_valid(claim_id):
            fail(i, "claim_id", claim_id, ERR_CLAIM_ID)
        idn = ids[i]
        person = persons.get(idn) if idn else None
        if idn and person is None:
            fail(i, "person_id", cols["person_id"][i], ERR_NOT_IN_ROSTER)
        code = cols["institution_code"][i]
        if code not in institutions:
            fail(i, "institution_code", code, ERR_INSTITUTION.format(value=code))
        kind = KIND_VALUES.get(kind_col[i].lower())
        if kind is None:
            fail(i, "kind", kind_col[i], ERR_KIND)
        outpatient = kind == ClaimKind.OUTPATIENT
        days: dict[str, date | None] = {}
        for column in ("admit_date", "discharge_date"):
            text = cols[column][i]
            if outpatient and column == "admit_date" and not text:
                text = cols["discharge_date"][i]  # an outpatient visit: admit_date empty = the visit date
            day: date | None = None
            if not text:
                fail(i, column, text, ERR_DATE_EMPTY)
            else:
                day, reason = parse_date(text)
                if day is None:
                    fail(i, column, text, reason.replace("确诊日期", "日期"))
            days[column] = day
        admitted, discharged = days["admit_date"], days["discharge_date"]
        date_reasons = claim_date_reasons(admitted_on=admitted, discharged_on=discharged, today=today)
        if outpatient and admitted and discharged and admitted != discharged:
            fail(i, "admit_date", cols["admit_date"][i], ERR_OUTPATIENT_DATES)
            if date_reasons.get("discharged_on") == DISCHARGE_BEFORE_ADMIT:
                del date_reasons["discharged_on"]
        for field, (zh, _) in date_reasons.items():
            column = DATE_COLUMNS[field]
            fail(i, column, cols[column][i], zh)
        disease = disease_col[i]
        if outpatient and not disease:
            fail(i, "disease", disease, ERR_DISEASE_REQUIRED)
        elif outpatient and disease not in diseases:
            names = "、".join(sorted(set(diseases.values()))) or "无"
            fail(i, "disease", disease, ERR_DISEASE_UNKNOWN.format(value=disease, names=names))
        elif outpatient:
            disease = diseases[disease]
            if person is not None and discharged and not holds_card(person, disease, discharged):
                fail(
                    i,
                    "disease",
                    disease_col[i],
                    ERR_NO_CARD.format(day=discharged.isoformat(), disease=disease),
                )
        elif disease:
            fail(i, "disease", disease, ERR_DISEASE_INPATIENT)
        fen: dict[str, int | None] = {}
        for column in ("total", "out_of_scope"):
            text = cols[column][i]
            try:
                fen[column] = amount_fen(text)
            except ClaimValueError as exc:
                fen[column] = None
                fail(i, column, text, ERR_AMOUNT.format(reason=exc.zh))
        total, oos = fen["total"], fen["out_of_scope"]
        if total is not None and oos is not None and out_of_scope_above_total(total, oos):
            fail(i, "out_of_scope", cols["out_of_scope"][i], ERR_OUT_OF_SCOPE_GT_TOTAL)
        paid: dict[str, int | None] = {"basic_paid": None, "critical_paid": None}
        unreadable = False
        for column in paid:
            if paid_cols[column][i]:
                try:
                    paid[column] = amount_fen(paid_cols[column][i])
                except ClaimValueError as exc:
                    unreadable = True
                    fail(i, column, paid_cols[column][i], ERR_AMOUNT.format(reason=exc.zh))
        basic_paid, critical_paid = paid["basic_paid"], paid["critical_paid"]
        in_scope = None
        if total is not None and oos is not None and not out_of_scope_above_total(total, oos):
            in_scope = total - oos
        if not unreadable and not outpatient:
            for column, (zh, _) in paid_reasons(
                given=(bool(paid_cols["basic_paid"][i]), bool(paid_cols["critical_paid"][i])),
                paid_fen=(basic_paid, critical_paid),
                in_scope_fen=in_scope,
            ).items():
                fail(i, column, paid_cols[column][i], zh)
        if outpatient and (basic_paid is not None or critical_paid is not None):
            column = "basic_paid" if basic_paid is not None else "critical_paid"
            fail(i, column, paid_cols[column][i], PAID_OUTPATIENT_REASON[0])
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
            kind=kind or ClaimKind.INPATIENT,
            disease=disease if outpatient else "",
        )
        keyed.add((code, claim_id), record, i)
    valid = keyed.settle(failures, "claim_id", cols["claim_id"], ERR_CONFLICT)
    if progress:
        progress(50)

    # Claims already stored: identical → unchanged, different → invalid.
    hashes = {key: _hash(r) for key, (r, _) in valid.items()}
    existing: dict[tuple[str, str], str] = {}
    claim_ids = sorted({cid for _, cid in valid})
    for start in range(0, len(claim_ids), 500):
        for code, cid, stored in Claim.objects.filter(
            claim_id__in=claim_ids[start : start + 500]
        ).values_list("institution_id", "claim_id", "request_hash"):
            if (code, cid) in valid:
                existing[(code, cid)] = stored
    unchanged = 0
    for key, stored in existing.items():
        if stored == hashes[key]:
            unchanged += 1
            valid.pop(key)
        else:
            for i in valid.pop(key)[1]:
                fail(i, "claim_id", key[1], ERR_EXISTS)

    summary = ImportSummary(rows=n, invalid=len(bad))
    summary.valid = n - summary.invalid
    summary.unchanged = unchanged
    records = [r for r, _ in valid.values()]
    if records:
        summary.created = _load(records, hashes, user=user)
    summary.errors_file = error_report(problems, errors_dir, f"claims-{path.stem}-errors")
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
        disease=r.disease,
    )


def _load(records: list[_Row], hashes: dict[tuple[str, str], str], *, user: Any) -> int:
    institutions = {i.code: i for i in Institution.objects.all()}
    created_by = user if getattr(user, "is_authenticated", False) else None
    objs = []
    flags = claims_in_county([(institutions[r.institution], r.person_id, r.discharged_on) for r in records])
    for r, in_county in zip(records, flags, strict=True):
        inst = institutions[r.institution]
        if in_county:
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
                in_county=in_county,
                admitted_on=r.admitted_on,
                discharged_on=r.discharged_on,
                total_amount=fen_to_decimal(r.total_fen),
                out_of_scope_amount=fen_to_decimal(r.oos_fen),
                referred=referred,
                basic_paid_amount=None if r.basic_paid_fen is None else fen_to_decimal(r.basic_paid_fen),
                critical_paid_amount=None
                if r.critical_paid_fen is None
                else fen_to_decimal(r.critical_paid_fen),
                kind=r.kind,
                disease=r.disease,
                request_hash=hashes[(r.institution, r.claim_id)],
                source=ClaimSource.IMPORT,
                created_by=created_by,
            )
        )
    # Each claim is linked to a major-disease case by the rule of ``treatment.selectors.major_case_query``.
    case = Subquery(major_case_query(person_id=OuterRef("person_id"), on=OuterRef("discharged_on")))
    with transaction.atomic():
        Claim.objects.bulk_create(objs, batch_size=1000)
        # The new rows by key: ``bulk_create`` sets it on PostgreSQL and SQLite ≥ 3.35 (RETURNING).
        ids = [o.pk for o in objs]
        assert all(ids), "bulk_create returned no keys"
        for start in range(0, len(ids), 500):
            Claim.objects.filter(pk__in=ids[start : start + 500]).update(major_disease_case=case)
    return len(objs)
