"""能力数据导入 Imports of staff, paired support, telemedicine and training (issue 16 items 2 and 5).

The import conventions of every list: CSV (UTF-8/GBK) or XLSX read by ``core.tabular``, Chinese headers
(English canonical names accepted), one line per problem in the ``.xlsx`` error report (行号, 列, 值,
原因; warnings start with 警告), the ``ImportSummary`` counts, and nothing written unless the whole run
succeeds (one transaction). Re-importing the same file changes nothing. Run by a user (the web import
page), institutions outside the user's region are unknown: their rows are invalid.

- **Staff** ``身份证号, 姓名, 机构代码, 岗位, 资质, 证书编号, 执业范围, 起始日期, 终止日期`` keyed by (ID
  number, institution, 起始日期). A person at two institutions in overlapping periods is a warning, not
  an error (village doctors do work at the township centre).
- **Paired support** ``帮扶医院代码, 受援机构代码, 起始日期, 终止日期, 派驻人数, 驻点人月, 门诊人次,
  手术台次, 培训场次, 备注`` keyed by (supporting, supported, 起始日期).
- **Telemedicine** ``机构代码, 对接机构, 接入日期, 停用日期, 月份, 会诊人次``: one link per institution
  (its columns must agree on every row of it); a row with 月份 records that month's consultations.
- **Training** ``培训日期, 培训主题, 主办单位, 级别, 机构代码, 参训人数``: one row per institution
  attending; a training is keyed by (date, topic, organiser).
- **Coverage (the exception)** ``村代码, 覆盖机构代码``: the village is covered by that government-run
  乡镇卫生院 or 社区卫生服务中心 of the same county (乡镇卫生院所在村或邻近村). Stored as the centre's
  服务村代码 (the same field the institutions import writes); a village that has a clinic of its own is
  recorded with a warning (the exception is for villages without one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from jkfp.accounts.scoping import code_q
from jkfp.capacity.models import (
    PairedSupport,
    Qualification,
    Staff,
    StaffPost,
    SupportLevel,
    Teleconsultation,
    TelemedicineLink,
    Training,
    TrainingAttendance,
)
from jkfp.core.importing import (
    ID_NUMBER_HEADERS,
    NAME_HEADERS,
    ImportSummary,
    RowFailures,
    RowProblem,
    error_report,
    has_control_chars,
    id_number_column,
    parse_date,
    parse_month,
)
from jkfp.core.signals import send_data_changed
from jkfp.core.tabular import read_table
from jkfp.regions.models import CENTRE_KINDS, Institution, Region, RegionLevel

STAFF_COLUMNS: dict[str, tuple[str, ...]] = {
    "id_number": ID_NUMBER_HEADERS,
    "name": NAME_HEADERS,
    "institution": ("机构代码", "所在机构代码", "执业机构代码"),
    "post": ("岗位", "岗位类别"),
    "qualification": ("资质", "执业资格", "资格"),
    "certificate_no": ("证书编号", "执业证书编号"),
    "practice_scope": ("执业范围",),
    "start_on": ("起始日期", "开始日期", "入职日期"),
    "end_on": ("终止日期", "结束日期", "离岗日期"),
}
STAFF_REQUIRED = ("id_number", "name", "institution", "post", "qualification")
SUPPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "supporting": ("帮扶医院代码", "帮扶机构代码"),
    "supported": ("受援机构代码", "被帮扶机构代码"),
    "start_on": ("起始日期", "开始日期"),
    "end_on": ("终止日期", "结束日期"),
    # The last header of each: the support ledger's own (indicators.ledgers), which imports again.
    "staff_count": ("派驻人数", "派驻人员", "派驻人员（人）"),
    "staff_months": ("驻点人月", "驻点月数", "驻点时间", "驻点时间（人·月）"),
    "outpatients_count": ("门诊人次", "门诊（人次）"),
    "operations_count": ("手术台次", "手术例数", "手术（台次）"),
    "trainings_count": ("培训场次", "培训（场次）"),
    "note": ("备注",),
}
SUPPORT_REQUIRED = ("supporting", "supported", "start_on")
TELEMEDICINE_COLUMNS: dict[str, tuple[str, ...]] = {
    "institution": ("机构代码",),
    "partner": ("对接机构", "对接平台", "上级机构"),
    "connected_on": ("接入日期", "开通日期"),
    "disconnected_on": ("停用日期",),
    "month": ("月份",),
    "consultations_count": ("会诊人次", "远程会诊人次"),
}
TELEMEDICINE_REQUIRED = ("institution", "partner", "connected_on")
TRAINING_COLUMNS: dict[str, tuple[str, ...]] = {
    "held_on": ("培训日期", "日期"),
    "topic": ("培训主题", "主题", "培训内容"),
    "organiser": ("主办单位", "组织单位"),
    "level": ("级别", "培训级别"),
    "institution": ("机构代码", "参训机构代码"),
    "attendees_count": ("参训人数", "人数"),
}
TRAINING_REQUIRED = ("held_on", "topic", "organiser", "level", "institution", "attendees_count")
COVERAGE_COLUMNS: dict[str, tuple[str, ...]] = {
    "village": ("村代码", "行政村代码", "被覆盖村代码"),
    "institution": ("覆盖机构代码", "机构代码", "卫生院代码"),
}
COVERAGE_REQUIRED = ("village", "institution")


def _choices(choices: Iterable[tuple[str, Any]], **synonyms: str) -> dict[str, str]:
    out = {str(label): value for value, label in choices}
    out.update({value: value for value, _ in choices})
    out.update({word: value for value, words in synonyms.items() for word in words.split()})
    return out


POST_VALUES = _choices(
    StaffPost.choices,
    village_doctor="村医 乡村医生",
    doctor="医师 临床医生",
    pharmacy="药师 药房",
    nurse="护理",
)
QUALIFICATION_VALUES = _choices(
    Qualification.choices,
    physician="执业医师证 医师",
    assistant_physician="助理医师 执业助理医师证",
    rural_gp_assistant="乡村全科助理医师",
    village_doctor_cert="乡村医生执业证书 乡村医生执业证 乡医证",
    gp_trained="全科医生培训合格证 全科转岗培训合格",
    nurse_licence="护士资格证 护士证",
)
LEVEL_VALUES = _choices(SupportLevel.choices, city="地市级 市级", county="区级 县区级", township="乡镇级")
# The values a web upload's mapping step offers for a coded value outside the above (issue 18 item 3).
STAFF_ACCEPTED: dict[str, tuple[str, ...]] = {
    "post": tuple(str(label) for label in StaffPost.labels),
    "qualification": tuple(str(label) for label in Qualification.labels),
}
TRAINING_ACCEPTED: dict[str, tuple[str, ...]] = {"level": tuple(str(label) for label in SupportLevel.labels)}
NAME_MAX, CODE_MAX, TEXT_MAX, NOTE_MAX = 50, 40, 200, 200
COUNT_MAX = 1_000_000

ERR_EMPTY = "不能为空"
ERR_INSTITUTION = "机构代码{code}不存在（或不在您的管辖范围内），请先导入医疗机构"
ERR_POST = "岗位应为 医生、护士、乡村医生、药剂、检验、影像、管理 或 其他"
ERR_QUALIFICATION = (
    "资质应为 执业医师、执业助理医师、乡村全科执业助理医师、乡村医生证、全科医生培训合格、护士执业证 或 无"
)
ERR_LEVEL = "级别应为 国家级、省级、市级、县级 或 乡级"
ERR_END_BEFORE = "终止日期早于起始日期"
ERR_DISCONNECT_BEFORE = "停用日期早于接入日期"
ERR_MONTH_BEFORE = "月份早于接入日期所在月"
ERR_MONTH_NO_COUNT = "填写月份时须填写会诊人次"
ERR_COUNT_NO_MONTH = "填写会诊人次时须填写月份"
ERR_COUNT = "应为0至100万之间的整数"
ERR_ATTENDEES = "参训人数应为1至100万之间的整数"
ERR_MONTHS = "驻点人月应为0至10000之间、最多一位小数的数字"
ERR_SAME = "帮扶医院与受援机构不能相同"
ERR_TEXT_LONG = "内容超过{limit}个字符"
ERR_CONTROL = "含有控制字符"
ERR_CONFLICT = "同一{what}在文件中出现多次且内容不同（第{rows}行）"
WARN_TWO_PLACES = "警告（已导入）：此人同期还在{other}任职（{period}）"
ERR_VILLAGE = "村代码{code}不是已导入的村（或不在您的管辖范围内）"
ERR_NOT_CENTRE = "覆盖机构须为政府办乡镇卫生院或社区卫生服务中心"
ERR_OTHER_COUNTY = "覆盖机构与村不在同一县"
WARN_HAS_CLINIC = "警告（已导入）：本村已有村卫生室{name}服务，例外覆盖通常用于没有村卫生室的村"


class _Sheet:
    """One import run: the table, the problems, the institutions the runner may name, shared checks."""

    def __init__(
        self,
        path: str | Path,
        columns: dict[str, tuple[str, ...]],
        required: tuple[str, ...],
        *,
        user: Any,
        progress: Callable[[int], None] | None,
        accepted: dict[str, Any] | None = None,
    ) -> None:
        self.table = read_table(path, columns, required, accepted=accepted)
        self.header = {c: self.table.headers.get(c, columns[c][0]) for c in columns}
        self.cols = self.table.columns
        self.n = len(self.table)
        self.blank = [""] * self.n
        self.numbers = self.table.row_numbers
        self.failures = RowFailures(self.numbers, self.header)  # the problems and the invalid rows
        self.problems: list[RowProblem] = self.failures.problems
        self.bad: set[int] = self.failures.bad
        self.warnings = 0
        self.progress = progress or (lambda percent: None)
        self.progress(20)
        everyone = Institution.objects.all()
        self.known = set(everyone.values_list("code", flat=True))  # any institution (supporting hospitals)
        mine = everyone if user is None else everyone.filter(code_q(user, "region_id"))
        self.mine = set(mine.values_list("code", flat=True))  # institutions the runner may write for
        self.user = user

    def cell(self, column: str, i: int) -> str:
        return self.cols.get(column, self.blank)[i]

    def fail(self, i: int, column: str, reason: str, value: str | None = None) -> None:
        self.problems.append(
            RowProblem(
                self.numbers[i], self.header[column], self.cell(column, i) if value is None else value, reason
            )
        )
        self.bad.add(i)

    def warn(self, i: int, column: str, reason: str) -> None:
        self.problems.append(RowProblem(self.numbers[i], self.header[column], self.cell(column, i), reason))
        self.warnings += 1

    def text(self, i: int, column: str, limit: int, *, required: bool = False) -> str | None:
        value = self.cell(column, i)
        if required and not value:
            self.fail(i, column, ERR_EMPTY)
            return None
        if has_control_chars(value):
            self.fail(i, column, ERR_CONTROL)
            return None
        if len(value) > limit:
            self.fail(i, column, ERR_TEXT_LONG.format(limit=limit))
            return None
        return value

    def choice(self, i: int, column: str, values: dict[str, str], error: str) -> str | None:
        value = self.cell(column, i)
        found = values.get(value) or values.get(value.lower())
        if found is None:
            self.fail(i, column, ERR_EMPTY if not value else error)
        return found

    def institution(self, i: int, column: str, *, own: bool = True) -> str | None:
        code = self.cell(column, i)
        if not code:
            self.fail(i, column, ERR_EMPTY)
            return None
        if code not in (self.mine if own else self.known):
            self.fail(i, column, ERR_INSTITUTION.format(code=code))
            return None
        return code

    def day(self, i: int, column: str, *, required: bool = False) -> tuple[date | None, bool]:
        """(date or None, ok): an empty optional cell is (None, True)."""
        text = self.cell(column, i)
        if not text:
            if required:
                self.fail(i, column, ERR_EMPTY)
            return None, not required
        on, reason = parse_date(text)
        if on is None:
            self.fail(i, column, reason)
            return None, False
        return on, True

    def count(self, i: int, column: str, *, lowest: int = 0, error: str = ERR_COUNT) -> int | None:
        text = self.cell(column, i)
        if not text and lowest == 0:
            return 0
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = Decimal("NaN")
        if (
            not number.is_finite()
            or number != number.to_integral_value()
            or not lowest <= number <= COUNT_MAX
        ):
            self.fail(i, column, error)
            return None
        return int(number)

    def conflicts(self, keyed: dict[Any, list[tuple[int, Any]]], column: str, what: str) -> dict[Any, Any]:
        """同键冲突 ``key → [(row index, value)]``: identical repeats collapse; differing ones are all invalid.

        Returns ``key → value`` of the keys that are consistent."""
        out: dict[Any, Any] = {}
        for key, rows in keyed.items():
            values = {value for _, value in rows}
            if len(values) == 1:
                out[key] = rows[0][1]
                continue
            numbers = "、".join(str(self.numbers[i]) for i, _ in rows)
            for i, _ in rows:
                self.fail(i, column, ERR_CONFLICT.format(what=what, rows=numbers))
        return out

    def finish(self, summary: ImportSummary, errors_dir: Path | None, stem: str) -> ImportSummary:
        summary.rows = self.n
        summary.invalid = len(self.bad)
        summary.valid = self.n - summary.invalid
        summary.warnings = self.warnings
        summary.errors_file = error_report(self.problems, errors_dir, stem)
        self.progress(100)
        return summary


M = TypeVar("M", bound=Model)


def _merge(
    rows: dict[Any, tuple[Any, ...]],
    existing: dict[Any, M],
    fields: tuple[str, ...],
    make: Callable[[Any], M],
    summary: ImportSummary,
) -> tuple[list[M], list[M]]:
    """合并 (records to create, records changed) for ``rows`` (key → values of ``fields``) against the
    ``existing`` records by key; unchanged ones are counted on ``summary``."""
    new: list[M] = []
    changed: list[M] = []
    for key, values in rows.items():
        record = existing.get(key)
        if record is None:
            record = make(key)
            new.append(record)
        elif tuple(getattr(record, f) for f in fields) == values:
            summary.unchanged += 1
            continue
        else:
            changed.append(record)
        for f, v in zip(fields, values, strict=True):
            setattr(record, f, v)
    return new, changed


def _changed_years(dates: Iterable[date | None], today: date) -> list[int]:
    """The years whose capacity figures a change of rows with these dates can move (and this year)."""
    return sorted({today.year} | {d.year for d in dates if d is not None and d.year <= today.year})


# --- staff -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _StaffRow:
    name: str
    post: str
    qualification: str
    certificate_no: str
    practice_scope: str
    end_on: date | None


def _period(start: date | None, end: date | None) -> str:
    return f"{start or '…'}至{end or '今'}"


def staff_import(
    *,
    path: str | Path,
    user: Any = None,
    errors_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    today: date | None = None,
) -> ImportSummary:
    """导入卫生人员 Import health workers; returns the summary (raises TableError for an unreadable file)."""
    today = today or timezone.localdate()
    sheet = _Sheet(
        path,
        STAFF_COLUMNS,
        STAFF_REQUIRED,
        user=user,
        progress=progress,
        accepted={"post": POST_VALUES, "qualification": QUALIFICATION_VALUES},
    )
    keyed: dict[tuple[str, str, date | None], list[tuple[int, _StaffRow]]] = {}
    ids = id_number_column(sheet.cols["id_number"], sheet.failures, "id_number", today=today)
    for i in range(sheet.n):
        id_number = ids[i]
        name = sheet.text(i, "name", NAME_MAX, required=True)
        institution = sheet.institution(i, "institution")
        post = sheet.choice(i, "post", POST_VALUES, ERR_POST)
        qualification = sheet.choice(i, "qualification", QUALIFICATION_VALUES, ERR_QUALIFICATION)
        certificate = sheet.text(i, "certificate_no", NAME_MAX)
        scope_text = sheet.text(i, "practice_scope", 100)
        start_on, start_ok = sheet.day(i, "start_on")
        end_on, end_ok = sheet.day(i, "end_on")
        if start_on and end_on and end_on < start_on:
            sheet.fail(i, "end_on", ERR_END_BEFORE)
            end_ok = False
        if (
            id_number is None
            or name is None
            or institution is None
            or post is None
            or qualification is None
            or certificate is None
            or scope_text is None
            or not (start_ok and end_ok)
        ):
            continue
        row = _StaffRow(name, post, qualification, certificate, scope_text, end_on)
        keyed.setdefault((id_number, institution, start_on), []).append((i, row))
    rows = sheet.conflicts(keyed, "start_on", "人员、机构与起始日期")
    first_row = {key: entries[0][0] for key, entries in keyed.items()}
    sheet.progress(60)

    # The staff records of these persons the runner may see: those of the institutions of its region
    # (finding S4: a county's upload neither changes nor names another county's records).
    named = sorted({key[0] for key in rows})
    staff_qs = Staff.objects.all()
    if sheet.user is not None:
        staff_qs = staff_qs.filter(code_q(sheet.user, "institution__region_id"))
    existing: dict[tuple[str, str, date | None], Staff] = {}
    for offset in range(0, len(named), 500):
        for staff in staff_qs.filter(id_number__in=named[offset : offset + 500]):
            existing[(staff.id_number, staff.institution_id, staff.start_on)] = staff
    # Two places at once: the periods after the import, of each person named in the file.
    periods: dict[str, dict[tuple[str, date | None], date | None]] = {}
    for (idn, inst, start), staff in existing.items():
        periods.setdefault(idn, {})[(inst, start)] = staff.end_on
    for (idn, inst, start), row in rows.items():
        periods.setdefault(idn, {})[(inst, start)] = row.end_on
    names = dict(
        Institution.objects.filter(code__in={k[1] for k in existing} | {k[1] for k in rows}).values_list(
            "code", "name"
        )
    )
    for (idn, inst, start), row in sorted(rows.items(), key=lambda kv: first_row[kv[0]]):
        for (other, other_start), other_end in periods[idn].items():
            if other != inst and _overlap(start, row.end_on, other_start, other_end):
                sheet.warn(
                    first_row[(idn, inst, start)],
                    "institution",
                    WARN_TWO_PLACES.format(
                        other=names.get(other, other), period=_period(other_start, other_end)
                    ),
                )
                break

    summary = ImportSummary()
    fields = ("name", "post", "qualification", "certificate_no", "practice_scope", "end_on")
    new, changed = _merge(
        {
            key: (row.name, row.post, row.qualification, row.certificate_no, row.practice_scope, row.end_on)
            for key, row in rows.items()
        },
        existing,
        fields,
        lambda key: Staff(id_number=key[0], institution_id=key[1], start_on=key[2]),
        summary,
    )
    with transaction.atomic():
        Staff.objects.bulk_create(new, batch_size=1000)
        Staff.objects.bulk_update(changed, list(fields), batch_size=1000)
        if new or changed:
            dates = [d for s in (*new, *changed) for d in (s.start_on, s.end_on)]
            send_data_changed(kind="capacity", years=_changed_years(dates, today))
    summary.created, summary.updated = len(new), len(changed)
    return sheet.finish(summary, errors_dir, "staff-errors")


def _overlap(a0: date | None, a1: date | None, b0: date | None, b1: date | None) -> bool:
    """Two periods (empty bounds open) share at least one day."""
    return (a0 is None or b1 is None or a0 <= b1) and (b0 is None or a1 is None or b0 <= a1)


# --- paired support --------------------------------------------------------------------------------

SUPPORT_FIELDS = (
    "end_on",
    "staff_count",
    "staff_months",
    "outpatients_count",
    "operations_count",
    "trainings_count",
    "note",
)


def supports_import(
    *,
    path: str | Path,
    user: Any = None,
    errors_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    today: date | None = None,
) -> ImportSummary:
    """导入对口帮扶 Import paired-support records; returns the summary."""
    today = today or timezone.localdate()
    sheet = _Sheet(path, SUPPORT_COLUMNS, SUPPORT_REQUIRED, user=user, progress=progress)
    keyed: dict[tuple[str, str, date], list[tuple[int, tuple[Any, ...]]]] = {}
    for i in range(sheet.n):
        supporting = sheet.institution(i, "supporting", own=False)
        supported = sheet.institution(i, "supported")
        if supporting and supporting == supported:
            sheet.fail(i, "supported", ERR_SAME)
            supported = None
        start_on, _ = sheet.day(i, "start_on", required=True)
        end_on, end_ok = sheet.day(i, "end_on")
        if start_on and end_on and end_on < start_on:
            sheet.fail(i, "end_on", ERR_END_BEFORE)
            end_ok = False
        counts = [
            sheet.count(i, c)
            for c in ("staff_count", "outpatients_count", "operations_count", "trainings_count")
        ]
        months = _months(sheet, i)
        note = sheet.text(i, "note", NOTE_MAX)
        if supporting is None or supported is None or start_on is None or not end_ok or note is None:
            continue
        if months is None or any(c is None for c in counts):
            continue
        value = (end_on, counts[0], months, counts[1], counts[2], counts[3], note)
        keyed.setdefault((supporting, supported, start_on), []).append((i, value))
    rows = sheet.conflicts(keyed, "start_on", "帮扶医院、受援机构与起始日期")
    sheet.progress(60)
    existing = {
        (p.supporting_id, p.supported_id, p.start_on): p
        for p in PairedSupport.objects.filter(supported_id__in={k[1] for k in rows})
    }
    summary = ImportSummary()
    new, changed = _merge(
        rows,
        existing,
        SUPPORT_FIELDS,
        lambda key: PairedSupport(supporting_id=key[0], supported_id=key[1], start_on=key[2]),
        summary,
    )
    with transaction.atomic():
        PairedSupport.objects.bulk_create(new, batch_size=1000)
        PairedSupport.objects.bulk_update(changed, list(SUPPORT_FIELDS), batch_size=1000)
        if new or changed:
            send_data_changed(
                kind="capacity", years=_changed_years((p.start_on for p in (*new, *changed)), today)
            )
    summary.created, summary.updated = len(new), len(changed)
    return sheet.finish(summary, errors_dir, "support-errors")


def _months(sheet: _Sheet, i: int) -> Decimal | None:
    text = sheet.cell("staff_months", i)
    if not text:
        return Decimal("0.0")
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("-1")
    if not value.is_finite() or value < 0 or value > 10000 or value != value.quantize(Decimal("0.1")):
        sheet.fail(i, "staff_months", ERR_MONTHS)
        return None
    return value.quantize(Decimal("0.1"))


# --- telemedicine ----------------------------------------------------------------------------------


def telemedicine_import(
    *,
    path: str | Path,
    user: Any = None,
    errors_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    today: date | None = None,
) -> ImportSummary:
    """导入远程医疗 Import telemedicine links and monthly consultations; returns the summary.

    Counted per record written: a link and each month are one record each (created/updated/unchanged).
    """
    today = today or timezone.localdate()
    sheet = _Sheet(path, TELEMEDICINE_COLUMNS, TELEMEDICINE_REQUIRED, user=user, progress=progress)
    links: dict[str, list[tuple[int, tuple[str, date, date | None]]]] = {}
    months: dict[tuple[str, date], list[tuple[int, int]]] = {}
    for i in range(sheet.n):
        institution = sheet.institution(i, "institution")
        partner = sheet.text(i, "partner", TEXT_MAX, required=True)
        connected_on, _ = sheet.day(i, "connected_on", required=True)
        disconnected_on, off_ok = sheet.day(i, "disconnected_on")
        if connected_on and disconnected_on and disconnected_on < connected_on:
            sheet.fail(i, "disconnected_on", ERR_DISCONNECT_BEFORE)
            off_ok = False
        month_text, count_text = sheet.cell("month", i), sheet.cell("consultations_count", i)
        month: date | None = None
        consultations: int | None = None
        month_ok = True
        if month_text:
            month, reason = parse_month(month_text)
            if month is None:
                sheet.fail(i, "month", reason)
                month_ok = False
            elif connected_on and month < connected_on.replace(day=1):
                sheet.fail(i, "month", ERR_MONTH_BEFORE)
                month_ok = False
            if not count_text:
                sheet.fail(i, "consultations_count", ERR_MONTH_NO_COUNT)
                month_ok = False
            else:
                consultations = sheet.count(i, "consultations_count")
                month_ok = month_ok and consultations is not None
        elif count_text:
            sheet.fail(i, "month", ERR_COUNT_NO_MONTH)
            month_ok = False
        if institution is None or partner is None or connected_on is None or not off_ok or not month_ok:
            continue
        links.setdefault(institution, []).append((i, (partner, connected_on, disconnected_on)))
        if month is not None and consultations is not None:
            months.setdefault((institution, month), []).append((i, consultations))
    link_values = sheet.conflicts(links, "institution", "机构的接入信息")
    month_values = {
        key: value
        for key, value in sheet.conflicts(months, "month", "机构与月份").items()
        if key[0] in link_values
    }
    sheet.progress(60)
    summary = ImportSummary()
    existing = {
        link.institution_id: link
        for link in TelemedicineLink.objects.filter(institution_id__in=list(link_values))
    }
    old_months = {
        (t.link.institution_id, t.month): t
        for t in Teleconsultation.objects.filter(link__institution_id__in=list(link_values)).select_related(
            "link"
        )
    }
    touched: list[date | None] = []
    with transaction.atomic():
        for code, (partner, connected_on, disconnected_on) in link_values.items():
            link = existing.get(code)
            if link is None:
                existing[code] = TelemedicineLink.objects.create(
                    institution_id=code,
                    partner=partner,
                    connected_on=connected_on,
                    disconnected_on=disconnected_on,
                )
                summary.created += 1
                touched += [connected_on, disconnected_on]
            elif (link.partner, link.connected_on, link.disconnected_on) != (
                partner,
                connected_on,
                disconnected_on,
            ):
                link.partner, link.connected_on, link.disconnected_on = partner, connected_on, disconnected_on
                link.save(update_fields=["partner", "connected_on", "disconnected_on"])
                summary.updated += 1
                touched += [connected_on, disconnected_on]
            else:
                summary.unchanged += 1
        new_months: list[Teleconsultation] = []
        changed_months: list[Teleconsultation] = []
        for (code, month), count in month_values.items():
            found = old_months.get((code, month))
            if found is None:
                new_months.append(
                    Teleconsultation(link=existing[code], month=month, consultations_count=count)
                )
            elif found.consultations_count != count:
                found.consultations_count = count
                changed_months.append(found)
            else:
                summary.unchanged += 1
        Teleconsultation.objects.bulk_create(new_months, batch_size=1000)
        Teleconsultation.objects.bulk_update(changed_months, ["consultations_count"], batch_size=1000)
        summary.created += len(new_months)
        summary.updated += len(changed_months)
        touched += [t.month for t in (*new_months, *changed_months)]
        if touched:
            send_data_changed(kind="capacity", years=_changed_years(touched, today))
    return sheet.finish(summary, errors_dir, "telemedicine-errors")


# --- training --------------------------------------------------------------------------------------


def trainings_import(
    *,
    path: str | Path,
    user: Any = None,
    errors_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    today: date | None = None,
) -> ImportSummary:
    """导入培训 Import trainings and their attendance per institution; returns the summary (counted per
    attendance row: created, updated, unchanged)."""
    today = today or timezone.localdate()
    sheet = _Sheet(
        path,
        TRAINING_COLUMNS,
        TRAINING_REQUIRED,
        user=user,
        progress=progress,
        accepted={"level": LEVEL_VALUES},
    )
    levels: dict[tuple[date, str, str], list[tuple[int, str]]] = {}
    attendance: dict[tuple[date, str, str, str], list[tuple[int, int]]] = {}
    for i in range(sheet.n):
        held_on, _ = sheet.day(i, "held_on", required=True)
        topic = sheet.text(i, "topic", TEXT_MAX, required=True)
        organiser = sheet.text(i, "organiser", TEXT_MAX, required=True)
        level = sheet.choice(i, "level", LEVEL_VALUES, ERR_LEVEL)
        institution = sheet.institution(i, "institution")
        attendees = sheet.count(i, "attendees_count", lowest=1, error=ERR_ATTENDEES)
        if held_on is None or topic is None or organiser is None or level is None:
            continue
        if institution is None or attendees is None:
            continue
        levels.setdefault((held_on, topic, organiser), []).append((i, level))
        attendance.setdefault((held_on, topic, organiser, institution), []).append((i, attendees))
    training_levels = sheet.conflicts(levels, "level", "培训（日期、主题、主办单位）的级别")
    counts = {
        key: value
        for key, value in sheet.conflicts(attendance, "institution", "培训的参训机构").items()
        if key[:3] in training_levels
    }
    sheet.progress(60)
    summary = ImportSummary()
    trainings = {
        (t.held_on, t.topic, t.organiser): t
        for t in Training.objects.filter(held_on__in={k[0] for k in training_levels})
    }
    with transaction.atomic():
        changed_years: list[date | None] = []
        for key, level in training_levels.items():
            found = trainings.get(key)
            if found is None:
                trainings[key] = Training.objects.create(
                    held_on=key[0], topic=key[1], organiser=key[2], level=level
                )
            elif found.level != level:
                found.level = level
                found.save(update_fields=["level"])
                changed_years.append(found.held_on)
        old = {
            (a.training_id, a.institution_id): a
            for a in TrainingAttendance.objects.filter(training__in=[trainings[k] for k in training_levels])
        }
        new: list[TrainingAttendance] = []
        changed: list[TrainingAttendance] = []
        for (held_on, topic, organiser, institution), count in counts.items():
            training = trainings[(held_on, topic, organiser)]
            found_row = old.get((training.pk, institution))
            if found_row is None:
                new.append(
                    TrainingAttendance(training=training, institution_id=institution, attendees_count=count)
                )
            elif found_row.attendees_count != count:
                found_row.attendees_count = count
                changed.append(found_row)
            else:
                summary.unchanged += 1
        TrainingAttendance.objects.bulk_create(new, batch_size=1000)
        TrainingAttendance.objects.bulk_update(changed, ["attendees_count"], batch_size=1000)
        changed_years += [a.training.held_on for a in (*new, *changed)]
        if changed_years:
            send_data_changed(kind="capacity", years=_changed_years(changed_years, today))
    summary.created, summary.updated = len(new), len(changed)
    return sheet.finish(summary, errors_dir, "training-errors")


def coverage_import(
    *,
    path: str | Path,
    user: Any = None,
    errors_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    today: date | None = None,
) -> ImportSummary:
    """导入卫生院覆盖村（例外） Record villages covered by a township or community centre; returns the summary."""
    today = today or timezone.localdate()
    sheet = _Sheet(path, COVERAGE_COLUMNS, COVERAGE_REQUIRED, user=user, progress=progress)
    villages = Region.objects.filter(level=RegionLevel.VILLAGE)
    if user is not None:
        villages = villages.filter(code_q(user, "code"))
    known_villages = set(villages.values_list("code", flat=True))
    centres = {
        code: (region or "")
        for code, region in Institution.objects.filter(
            kind__in=sorted(CENTRE_KINDS), government_run=True
        ).values_list("code", "region_id")
    }
    through = Institution.served_villages.through
    clinics: dict[str, str] = {}
    for village, name in through.objects.filter(
        institution__kind="village_clinic", institution__government_run=True
    ).values_list("region_id", "institution__name"):
        clinics.setdefault(village, name)
    for name, region in Institution.objects.filter(
        kind="village_clinic", government_run=True, served_villages__isnull=True
    ).values_list("name", "region_id"):
        clinics.setdefault(region or "", name)
    pairs: dict[tuple[str, str], list[int]] = {}
    for i in range(sheet.n):
        village = sheet.cell("village", i)
        if not village:
            sheet.fail(i, "village", ERR_EMPTY)
        elif village not in known_villages:
            sheet.fail(i, "village", ERR_VILLAGE.format(code=village))
            village = ""
        institution = sheet.institution(i, "institution")
        if institution is not None and institution not in centres:
            sheet.fail(i, "institution", ERR_NOT_CENTRE)
            institution = None
        if institution is not None and village and centres[institution][:6] != village[:6]:
            sheet.fail(i, "institution", ERR_OTHER_COUNTY)
            institution = None
        if not village or institution is None:
            continue
        pairs.setdefault((village, institution), []).append(i)
    sheet.progress(60)
    existing = set(
        through.objects.filter(institution_id__in={k[1] for k in pairs}).values_list(
            "region_id", "institution_id"
        )
    )
    summary = ImportSummary()
    new: list[Any] = []
    for (village, institution), rows in pairs.items():
        if village in clinics:
            sheet.warn(rows[0], "village", WARN_HAS_CLINIC.format(name=clinics[village]))
        if (village, institution) in existing:
            summary.unchanged += 1
        else:
            new.append(through(institution_id=institution, region_id=village))
    with transaction.atomic():
        through.objects.bulk_create(new, batch_size=1000)
        if new:
            send_data_changed(kind="capacity", years=_changed_years((), today))
    summary.created = len(new)
    return sheet.finish(summary, errors_dir, "coverage-errors")


IMPORTERS: dict[str, Callable[..., ImportSummary]] = {
    "staff": staff_import,
    "support": supports_import,
    "telemedicine": telemedicine_import,
    "training": trainings_import,
    "coverage": coverage_import,
}
