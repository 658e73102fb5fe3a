"""大病救治导入 Import major-disease cases (issue 6 item 6), with the roster import's conventions.

Columns (Chinese headers; English aliases accepted): ``身份证号 id_number``, ``病种 disease``,
``确诊医院 diagnosis_hospital``, ``确诊日期 diagnosed_on``, ``定点医院 designated_hospital``,
``救治状态 status``, ``未救治原因 untreated_reason``. 身份证号, 病种, 确诊日期 and 救治状态 are
required columns.

A row is **invalid** (written to the error report, one line per problem, and skipped) when:

- the ID number fails GB 11643, or names nobody in the roster (within the user's region when the
  import is run by a user);
- the disease is neither the name nor an alias of a major disease of the catalogue, or is not in
  the catalogue of the county the person lived in on the diagnosis date (``registry.disease_catalogue``: the county's
  setting over its city's, its province's and the deployment's);
- the diagnosis date is empty, unreadable, impossible (2023-02-30, before the person's birth) or in
  the future;
- the status is not one of 已救治/救治中/未救治/无需救治 (or ``treated/in_treatment/untreated/not_needed``);
- the status is 未救治 and the reason is empty;
- a hospital (确诊医院 or 定点医院) is neither the code nor the name of exactly one institution;
- a text is too long or holds control characters;
- the same person and disease appear more than once with different values (then every such row
  is invalid; identical repeats count once).

A reason that is neither a reason code nor its label is kept as 其他 with the text as the note, and
counted as a warning; a reason given for a status other than 未救治 is ignored with a warning.
Warnings are listed in the error report too (their reason starts with 警告), so that staff see them.
Cases are keyed by (person, disease): a new pair is created, an existing one is updated when a
value differs (a blank hospital cell keeps the hospital already recorded). The same file again
gives ``created 0, updated 0``. Valid rows are written in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from jkfp.core.importing import (
    ERR_DATE_IMPOSSIBLE as CORE_DATE_IMPOSSIBLE,
)
from jkfp.core.importing import ERR_NOT_IN_ROSTER as ERR_NOT_IN_ROSTER  # the tests read it here
from jkfp.core.importing import (
    ID_NUMBER_HEADERS,
    ImportSummary,
    KeyedRows,
    RowFailures,
    RowProblem,
    error_report,
    has_control_chars,
    id_number_column,
)
from jkfp.core.importing import parse_date as core_parse_date
from jkfp.core.signals import send_data_changed
from jkfp.core.tabular import read_table
from jkfp.regions.models import Institution
from jkfp.registry.disease_catalogue import Setting, catalogue_settings
from jkfp.registry.models import DiseaseKind
from jkfp.registry.selectors import PersonByIdNumber, VillageHistory, disease_lookup, persons_by_id_number
from jkfp.treatment import history
from jkfp.treatment.models import CaseStatus, DesignatedHospital, MajorDiseaseCase, UntreatedReason
from jkfp.treatment.services import catalogue_refusal, county_label

CASE_COLUMNS: dict[str, tuple[str, ...]] = {
    "id_number": ID_NUMBER_HEADERS,
    "disease": ("病种", "疾病名称", "病种名称"),
    "diagnosis_hospital": ("确诊医院", "确诊机构"),
    "diagnosed_on": ("确诊日期", "确诊时间"),
    "designated_hospital": ("定点医院", "定点救治医院"),
    "status": ("救治状态",),
    "untreated_reason": ("未救治原因",),
}
CASE_REQUIRED = ("id_number", "disease", "diagnosed_on", "status")

STATUS_VALUES: dict[str, str] = {
    **{str(label): value for value, label in CaseStatus.choices},
    **{value: value for value in CaseStatus.values},
    "treated": CaseStatus.TREATED,
    "in treatment": CaseStatus.IN_TREATMENT,
    "not needed": CaseStatus.NOT_NEEDED,
    # Synonyms of the lists staff receive (docs/import-formats.md).
    "正在救治": CaseStatus.IN_TREATMENT,
    "治疗中": CaseStatus.IN_TREATMENT,
    "已治疗": CaseStatus.TREATED,
    "不需救治": CaseStatus.NOT_NEEDED,
    "不需要救治": CaseStatus.NOT_NEEDED,
}
REASON_VALUES: dict[str, str] = {
    **{str(label): value for value, label in UntreatedReason.choices},
    **{value: value for value in UntreatedReason.values},
}
NOTE_MAX = 300

ERR_DISEASE = "病种“{value}”不在大病专项救治目录中（按病种名称或别名匹配）"
ERR_DATE_EMPTY = "确诊日期不能为空"
ERR_DATE_FORMAT = "确诊日期无法识别，应为 YYYY-MM-DD"
ERR_DATE_IMPOSSIBLE = "确诊日期不存在"
ERR_DATE_FUTURE = "确诊日期在将来"
ERR_DATE_BEFORE_BIRTH = "确诊日期早于出生日期"
ERR_STATUS = "救治状态“{value}”无效，应为 已救治、救治中、未救治 或 无需救治"
ERR_UNTREATED_REASON = "救治状态为“未救治”时必须填写未救治原因"
ERR_HOSPITAL_UNKNOWN = "医院“{value}”不在医疗机构目录中（按机构代码或名称匹配）"
ERR_HOSPITAL_AMBIGUOUS = "医院名称“{value}”对应多个机构，请填写机构代码"
ERR_TOO_LONG = "内容超过{limit}个字符"
ERR_CONTROL = "含有控制字符"
ERR_CONFLICT = "同一人同一病种在文件中出现多次且内容不同（第{rows}行）"
WARN_REASON_OTHER = "警告（已导入）：未救治原因不在代码表中，按“其他”登记，原文记为原因说明"
WARN_REASON_IGNORED = "警告（已导入）：救治状态不是“未救治”，未救治原因已忽略"


@dataclass(frozen=True)
class _Row:
    """One valid row, keyed by (person_id, disease_id)."""

    person_id: int
    disease_id: int
    diagnosed_on: date
    diagnosis_institution: str | None
    diagnosis_hospital_name: str
    designated_institution: str | None
    status: str
    untreated_reason: str
    reason_note: str


def parse_date(text: str) -> tuple[date | None, str]:
    """解析日期 (date, "") or (None, Chinese reason): the forms of ``core.importing.parse_date``."""
    day, reason = core_parse_date(text)
    if day is None:
        return None, ERR_DATE_IMPOSSIBLE if reason == CORE_DATE_IMPOSSIBLE else ERR_DATE_FORMAT
    return day, ""


def major_disease_lookup() -> dict[str, int]:
    """大病名称表 Name or alias → disease id, over the major diseases; a name wins over another's alias."""
    return disease_lookup(kind=DiseaseKind.MAJOR)


def _institution_lookup() -> tuple[dict[str, str], dict[str, list[str]]]:
    by_code: dict[str, str] = {}
    by_name: dict[str, list[str]] = {}
    for code, name in Institution.objects.values_list("code", "name"):
        by_code[code] = name
        by_name.setdefault(name, []).append(code)
    return by_code, by_name


def _designation_lookup() -> dict[int, list[tuple[date, date | None, str]]]:
    table: dict[int, list[tuple[date, date | None, str]]] = {}
    for disease_id, start, end, code in DesignatedHospital.objects.values_list(
        "disease_id", "valid_from", "valid_to", "institution_id"
    ):
        table.setdefault(disease_id, []).append((start, end, code))
    return table


def cases_import(
    *,
    path: str | Path,
    user: Any = None,
    errors_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    today: date | None = None,
) -> ImportSummary:
    """导入大病救治 Import major-disease cases from a CSV/XLSX file; returns the summary.

    Raises ``TableError`` (``.zh``/``.en``) when the file cannot be read or lacks a required
    column: then nothing is written. With ``user`` (the web or a named operator) only persons in
    the user's region are found; without it (the command line) the whole roster is searched.
    """
    path = Path(path)
    today = today or timezone.localdate()
    table = read_table(path, CASE_COLUMNS, CASE_REQUIRED)
    if progress:
        progress(20)
    header = {c: table.headers.get(c, CASE_COLUMNS[c][0]) for c in CASE_COLUMNS}
    n = len(table)
    blank = [""] * n
    cols = table.columns

    diseases = major_disease_lookup()
    by_code, by_name = _institution_lookup()
    designations = _designation_lookup()
    numbers = table.row_numbers
    failures = RowFailures(numbers, header)
    fail, problems, bad = failures.fail, failures.problems, failures.bad
    # Every ID is checked first (ERR_ID recorded) so that the persons, of the user's region only, are
    # fetched in one query per chunk.
    ids = id_number_column(cols["id_number"], failures, "id_number", today=today)
    persons = persons_by_id_number([idn for idn in ids if idn], user=user)
    history = VillageHistory(p.pk for p in persons.values())  # the county on the diagnosis date
    # 按县的目录 The major-disease catalogue of each county met, read once (``registry.disease_catalogue``).
    catalogues: dict[str, tuple[dict[int, Setting], str]] = {}

    warnings = 0
    keyed: KeyedRows[tuple[int, int], _Row] = KeyedRows()  # (person, disease) → case

    def hospital(i: int, column: str, text: str) -> tuple[str | None, str]:
        if not text:
            return None, ""
        if text in by_code:
            return text, by_code[text]
        codes = by_name.get(text, [])
        if len(codes) == 1:
            return codes[0], text
        fail(i, column, text, (ERR_HOSPITAL_AMBIGUOUS if codes else ERR_HOSPITAL_UNKNOWN).format(value=text))
        return None, ""

    rows = zip(
        ids,
        cols["id_number"],
        cols["disease"],
        cols.get("diagnosis_hospital", blank),
        cols["diagnosed_on"],
        cols.get("designated_hospital", blank),
        cols["status"],
        cols.get("untreated_reason", blank),
        strict=True,
    )
    for i, (
        idn,
        raw_id,
        disease_text,
        diag_text,
        date_text,
        desig_text,
        status_text,
        reason_text,
    ) in enumerate(rows):
        person: PersonByIdNumber | None = None
        if idn is not None:  # else its ERR_ID is recorded
            person = persons.get(idn)
            if person is None:
                fail(i, "id_number", raw_id, ERR_NOT_IN_ROSTER)
        disease_id = diseases.get(disease_text)
        if disease_id is None:
            fail(i, "disease", disease_text, ERR_DISEASE.format(value=disease_text))
        diagnosed_on: date | None = None
        if not date_text:
            fail(i, "diagnosed_on", date_text, ERR_DATE_EMPTY)
        else:
            diagnosed_on, date_reason = parse_date(date_text)
            if diagnosed_on is None:
                fail(i, "diagnosed_on", date_text, date_reason)
            elif diagnosed_on > today:
                fail(i, "diagnosed_on", date_text, ERR_DATE_FUTURE)
                diagnosed_on = None
            elif person is not None and diagnosed_on < person.birth_date:
                fail(i, "diagnosed_on", date_text, ERR_DATE_BEFORE_BIRTH)
                diagnosed_on = None
        status = STATUS_VALUES.get(status_text) or STATUS_VALUES.get(status_text.lower())
        if status is None:
            fail(i, "status", status_text, ERR_STATUS.format(value=status_text))
        reason, note = "", ""
        if has_control_chars(reason_text):
            fail(i, "untreated_reason", reason_text, ERR_CONTROL)
        elif status == CaseStatus.UNTREATED:
            if not reason_text:
                fail(i, "untreated_reason", reason_text, ERR_UNTREATED_REASON)
            elif reason_text in REASON_VALUES or reason_text.lower() in REASON_VALUES:
                reason = REASON_VALUES.get(reason_text) or REASON_VALUES[reason_text.lower()]
            elif len(reason_text) > NOTE_MAX:
                fail(i, "untreated_reason", reason_text, ERR_TOO_LONG.format(limit=NOTE_MAX))
            else:
                reason, note = UntreatedReason.OTHER, reason_text
        diag_code, diag_name = hospital(i, "diagnosis_hospital", diag_text)
        desig_code, _ = hospital(i, "designated_hospital", desig_text)
        if person is not None and disease_id is not None and diagnosed_on is not None:
            county = history.on(person.pk, person.village_id, diagnosed_on)[:6]
            if county not in catalogues:
                catalogues[county] = (
                    catalogue_settings(county, kinds=[DiseaseKind.MAJOR]),
                    county_label(county),
                )
            setting = catalogues[county][0].get(disease_id)
            if setting is None or not setting.valid_on(diagnosed_on):
                refusal = catalogue_refusal(disease_text, catalogues[county][1], diagnosed_on)
                fail(i, "disease", disease_text, refusal)
        if i in bad or person is None or disease_id is None or diagnosed_on is None or status is None:
            continue
        if status == CaseStatus.UNTREATED and reason == UntreatedReason.OTHER and note:
            problems.append(
                RowProblem(numbers[i], header["untreated_reason"], reason_text, WARN_REASON_OTHER)
            )
            warnings += 1
        elif status != CaseStatus.UNTREATED and reason_text:
            problems.append(
                RowProblem(numbers[i], header["untreated_reason"], reason_text, WARN_REASON_IGNORED)
            )
            warnings += 1
        if desig_code is None and not desig_text:
            open_ = [
                c
                for s, e, c in designations.get(disease_id, [])
                if s <= diagnosed_on and (e is None or e >= diagnosed_on)
            ]
            desig_code = open_[0] if len(open_) == 1 else None
        record = _Row(
            person_id=person.pk,
            disease_id=disease_id,
            diagnosed_on=diagnosed_on,
            diagnosis_institution=diag_code,
            diagnosis_hospital_name=diag_name,
            designated_institution=desig_code,
            status=status,
            untreated_reason=reason,
            reason_note=note,
        )
        keyed.add((record.person_id, record.disease_id), record, i)
    valid = keyed.settle(failures, "disease", cols["disease"], ERR_CONFLICT)
    if progress:
        progress(50)

    summary = ImportSummary(rows=n, invalid=len(bad), warnings=warnings)
    summary.valid = n - summary.invalid
    records = [record for record, _ in valid.values()]
    if records:
        summary.created, summary.updated = _load(records, user=user)
        summary.unchanged = len(records) - summary.created - summary.updated
        if summary.created or summary.updated:  # a case counts in every year from its diagnosis
            send_data_changed(
                kind="treatment", years=range(min(r.diagnosed_on for r in records).year, today.year + 1)
            )
    summary.errors_file = error_report(problems, errors_dir, f"cases-{path.stem}-errors")
    if progress:
        progress(100)
    return summary


# Columns compared and written, in the order of the tuples below (all of MajorDiseaseCase but the
# key, the creator and the timestamps).
_FIELDS = (
    "diagnosed_on",
    "diagnosis_institution_id",
    "diagnosis_hospital_name",
    "designated_institution_id",
    "status",
    "untreated_reason",
    "reason_note",
)
# The database columns of _FIELDS (the ``_id`` attributes are the foreign keys' columns).
_COLUMNS = tuple(MajorDiseaseCase._meta.get_field(f.removesuffix("_id")).column for f in _FIELDS)
_CHUNK = 500


def _values(r: _Row, old: tuple[Any, ...] | None) -> tuple[Any, ...]:
    """The row's values of ``_FIELDS``; a blank hospital cell keeps what ``old`` holds (like the roster's blanks)."""
    diag_id, diag_name = r.diagnosis_institution, r.diagnosis_hospital_name
    desig_id = r.designated_institution
    if old is not None:
        if diag_id is None:
            diag_id, diag_name = old[1], old[2]
        if desig_id is None:
            desig_id = old[3]
    return (r.diagnosed_on, diag_id, diag_name, desig_id, r.status, r.untreated_reason, r.reason_note)


def _load(records: list[_Row], *, user: Any) -> tuple[int, int]:
    """(created, updated): insert new (person, disease) pairs, update the changed ones, in one transaction.

    Plain parameterised statements (multi-row INSERT, UPDATE by id), the same on SQLite and PostgreSQL: Django's
    bulk_create/bulk_update spend about 0.2 ms per row preparing values (measured: 50,000 rows
    11.7 s), which is most of an import.
    """
    created_by = user.pk if getattr(user, "is_authenticated", False) else None
    ops = connection.ops
    at = timezone.now()
    now = ops.adapt_datetimefield_value(at)
    meta = MajorDiseaseCase._meta
    table = ops.quote_name(meta.db_table)
    with transaction.atomic():
        person_ids = sorted({r.person_id for r in records})
        existing: dict[tuple[int, int], tuple[int, tuple[Any, ...]]] = {}
        for start in range(0, len(person_ids), _CHUNK):
            for pk, person_id, disease_id, *values in MajorDiseaseCase.objects.filter(
                person_id__in=person_ids[start : start + _CHUNK]
            ).values_list("pk", "person_id", "disease_id", *_FIELDS):
                existing[(person_id, disease_id)] = (pk, tuple(values))
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        changes: list[tuple[Any, ...]] = []
        for r in records:
            old = existing.get((r.person_id, r.disease_id))
            values = _values(r, old[1] if old else None)
            if old is None:
                inserts.append(
                    (
                        r.person_id,
                        r.disease_id,
                        ops.adapt_datefield_value(values[0]),
                        *values[1:],
                        created_by,
                        now,
                        now,
                    )
                )
            elif values != old[1]:
                updates.append((ops.adapt_datefield_value(values[0]), *values[1:], now, old[0]))
                changes.extend(
                    history.diff_rows(
                        case_id=old[0],
                        old=dict(zip(_FIELDS, old[1], strict=True)),
                        new=dict(zip(_FIELDS, values, strict=True)),
                        source=history.SOURCE_IMPORT,
                        user_id=created_by,
                        at=at,
                    )
                )
        with connection.cursor() as cursor:
            # Table and column names come from the model's _meta, quoted; every value is a parameter.
            if inserts:
                plain = ("person_id", "disease_id", *_COLUMNS, "created_by_id", "created_at", "updated_at")
                names = ", ".join(ops.quote_name(name) for name in plain)
                marks = "(" + ", ".join(["%s"] * len(plain)) + ")"
                # Multi-row VALUES: one round trip per chunk (PostgreSQL pays one per statement).
                for start in range(0, len(inserts), _CHUNK):
                    chunk = inserts[start : start + _CHUNK]
                    sql = f"INSERT INTO {table} ({names}) VALUES {', '.join([marks] * len(chunk))}"  # noqa: S608
                    cursor.execute(sql, [value for row in chunk for value in row])
            if updates:
                sets = ", ".join(f"{ops.quote_name(name)} = %s" for name in (*_COLUMNS, "updated_at"))
                sql = f"UPDATE {table} SET {sets} WHERE {ops.quote_name(meta.pk.column)} = %s"  # noqa: S608
                for start in range(0, len(updates), _CHUNK):
                    cursor.executemany(sql, updates[start : start + _CHUNK])
        if inserts:
            # The new cases' ids, for their "registered" history line.
            created = {(r[0], r[1]) for r in inserts}
            for start in range(0, len(person_ids), _CHUNK):
                for pk, person_id, disease_id, status in MajorDiseaseCase.objects.filter(
                    person_id__in=person_ids[start : start + _CHUNK]
                ).values_list("pk", "person_id", "disease_id", "status"):
                    if (person_id, disease_id) in created:
                        changes.extend(
                            history.diff_rows(
                                case_id=pk,
                                old=None,
                                new={"status": status},
                                source=history.SOURCE_IMPORT,
                                user_id=created_by,
                                at=at,
                            )
                        )
        history.changes_insert(changes)
    return len(inserts), len(updates)
