"""慢病卡导入 Import chronic-disease cards (``jkfp import-cards``), as after a 集中认定 campaign.

Columns ``身份证号, 病种, 认定日期, 认定机构, 有效期至`` (English aliases ``id_number, disease,
certified_on, institution, valid_until``); 认定机构 and 有效期至 may be absent or empty (有效期至 empty:
no end). The conventions of the other imports: CSV (UTF-8/GBK) or XLSX through ``core.tabular``, the
error report (行号, 列, 值, 原因), the ``ImportSummary`` counts, and nothing written unless the whole
run succeeds (one transaction).

A card is keyed by (person, disease): a stored card with the same values is ``unchanged``, with
other values ``updated`` (a re-certification), else ``created``. A row is **invalid** when:

- the ID number fails GB 11643 or names nobody in the roster (within the user's region when a user
  runs the import);
- 病种 is empty or not an outpatient special chronic disease of a stored policy
  (``outpatient_diseases``, matched by catalogue name or alias);
- 认定日期 is empty, unreadable, impossible, in the future or before the birth date;
- 有效期至 is unreadable or before 认定日期;
- 认定机构 is neither an institution code nor exactly one institution's name;
- the same person and disease appear twice with different values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from jkfp.care.models import ChronicCard
from jkfp.core.importing import ERR_NOT_IN_ROSTER as ERR_NOT_IN_ROSTER  # the tests read it here
from jkfp.core.importing import (
    ImportSummary,
    KeyedRows,
    RowFailures,
    error_report,
    id_number_column,
    parse_date,
)
from jkfp.core.signals import send_data_changed
from jkfp.core.tabular import read_table
from jkfp.regions.models import Institution
from jkfp.registry.selectors import disease_lookup, persons_by_id_number
from jkfp.settlement.cards import outpatient_diseases

CARD_COLUMNS: dict[str, tuple[str, ...]] = {
    "id_number": ("身份证号", "身份证号码", "证件号码"),
    "disease": ("病种", "慢病病种", "疾病"),
    "certified_on": ("认定日期", "认定时间"),
    "institution": ("认定机构", "认定机构代码", "认定机构名称"),
    "valid_until": ("有效期至", "有效期", "valid_to"),
}
CARD_REQUIRED = ("id_number", "disease", "certified_on")

ERR_EMPTY = "不能为空"
ERR_DISEASE = "病种“{value}”不是结算政策的门诊慢特病病种（按病种名称或别名匹配：{names}）"
ERR_DATE_FUTURE = "日期在将来"
ERR_DATE_BEFORE_BIRTH = "日期早于出生日期"
ERR_VALID_BEFORE = "有效期至早于认定日期"
ERR_INSTITUTION = "认定机构“{value}”既不是机构代码也不是机构名称"
ERR_INSTITUTION_AMBIGUOUS = "认定机构名称“{value}”对应多个机构，请填机构代码"
ERR_CONFLICT = "同一人同一病种在文件中出现多次且内容不同（第{rows}行）"


@dataclass(frozen=True)
class _Card:
    person_id: int
    disease_id: int
    certified_on: date
    institution: str | None
    valid_to: date | None


def cards_import(
    *,
    path: str | Path,
    user: Any = None,
    errors_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    today: date | None = None,
) -> ImportSummary:
    """导入慢病卡 Import chronic-disease cards; returns the summary. ``TableError`` when the file cannot
    be read or lacks a required column (nothing written)."""
    path = Path(path)
    today = today or timezone.localdate()
    table = read_table(path, CARD_COLUMNS, CARD_REQUIRED)
    if progress:
        progress(20)
    header = {c: table.headers.get(c, CARD_COLUMNS[c][0]) for c in CARD_COLUMNS}
    n = len(table)
    cols = table.columns
    blank = [""] * n
    numbers = table.row_numbers
    failures = RowFailures(numbers, header)
    fail, problems, bad = failures.fail, failures.problems, failures.bad
    ids = id_number_column(cols["id_number"], failures, "id_number", today=today)
    found = persons_by_id_number([x for x in ids if x], user=user)
    persons: dict[str, tuple[int, date | None]] = {n: (p.pk, p.birth_date) for n, p in found.items()}
    allowed = outpatient_diseases()
    lookup = disease_lookup(pks=set(allowed))
    names = "、".join(sorted(allowed.values())) or "无"
    by_code: dict[str, str] = {}
    by_name: dict[str, list[str]] = {}
    for code, name in Institution.objects.values_list("code", "name"):
        by_code[code] = code
        by_name.setdefault(name, []).append(code)

    def day(i: int, column: str, text: str, born: date | None) -> date | None:
        on, reason = parse_date(text)
        if on is None:
            fail(i, column, text, reason)
        elif on > today:
            fail(i, column, text, ERR_DATE_FUTURE)
            return None
        elif born is not None and on < born:
            fail(i, column, text, ERR_DATE_BEFORE_BIRTH)
            return None
        return on

    keyed: KeyedRows[tuple[int, int], _Card] = KeyedRows()  # (person, disease) → card
    for i in range(n):
        idn = ids[i]
        person = persons.get(idn) if idn else None
        if idn and person is None:
            fail(i, "id_number", cols["id_number"][i], ERR_NOT_IN_ROSTER)
        disease_text = cols["disease"][i]
        disease = lookup.get(disease_text)
        if not disease_text:
            fail(i, "disease", disease_text, ERR_EMPTY)
        elif disease is None:
            fail(i, "disease", disease_text, ERR_DISEASE.format(value=disease_text, names=names))
        certified_text = cols["certified_on"][i]
        certified_on = None
        if not certified_text:
            fail(i, "certified_on", certified_text, ERR_EMPTY)
        else:
            certified_on = day(i, "certified_on", certified_text, person[1] if person else None)
        valid_text = cols.get("valid_until", blank)[i]
        valid_to = None
        if valid_text:
            valid_to, reason = parse_date(valid_text)
            if valid_to is None:
                fail(i, "valid_until", valid_text, reason)
            elif certified_on is not None and valid_to < certified_on:
                fail(i, "valid_until", valid_text, ERR_VALID_BEFORE)
        inst_text = cols.get("institution", blank)[i]
        institution = None
        if inst_text:
            institution = by_code.get(inst_text)
            if institution is None:
                codes = by_name.get(inst_text, [])
                if len(codes) == 1:
                    institution = codes[0]
                elif codes:
                    fail(i, "institution", inst_text, ERR_INSTITUTION_AMBIGUOUS.format(value=inst_text))
                else:
                    fail(i, "institution", inst_text, ERR_INSTITUTION.format(value=inst_text))
        if i in bad or person is None or disease is None or certified_on is None:
            continue
        card = _Card(person[0], disease, certified_on, institution, valid_to)
        keyed.add((card.person_id, card.disease_id), card, i)
    valid = keyed.settle(failures, "disease", cols["disease"], ERR_CONFLICT)
    if progress:
        progress(50)
    summary = ImportSummary(rows=n, invalid=len(bad))
    summary.valid = n - summary.invalid
    with transaction.atomic():
        person_ids = sorted({k[0] for k in valid})
        existing: dict[tuple[int, int], ChronicCard] = {}
        for start in range(0, len(person_ids), 500):
            for stored in ChronicCard.objects.filter(person_id__in=person_ids[start : start + 500]):
                existing[(stored.person_id, stored.disease_id)] = stored
        inserts: list[ChronicCard] = []
        updates: list[ChronicCard] = []
        for key, (row, _) in valid.items():
            old = existing.get(key)
            if old is None:
                inserts.append(
                    ChronicCard(
                        person_id=row.person_id,
                        disease_id=row.disease_id,
                        certified_on=row.certified_on,
                        institution_id=row.institution,
                        valid_to=row.valid_to,
                    )
                )
            elif (old.certified_on, old.institution_id, old.valid_to) != (
                row.certified_on,
                row.institution,
                row.valid_to,
            ):
                old.certified_on, old.institution_id, old.valid_to = (
                    row.certified_on,
                    row.institution,
                    row.valid_to,
                )
                updates.append(old)
        ChronicCard.objects.bulk_create(inserts, batch_size=2000)
        ChronicCard.objects.bulk_update(
            updates, ["certified_on", "institution_id", "valid_to"], batch_size=2000
        )
        changed = [*inserts, *updates]
        if changed:
            # The indicators (慢病卡办理数) refresh the certification years when the transaction commits.
            send_data_changed(
                kind="care",
                years={c.certified_on.year for c in changed},
                person_ids={c.person_id for c in changed},
            )
    summary.created, summary.updated = len(inserts), len(updates)
    summary.unchanged = len(valid) - summary.created - summary.updated
    summary.errors_file = error_report(problems, errors_dir, f"cards-{path.stem}-errors")
    if progress:
        progress(100)
    return summary
