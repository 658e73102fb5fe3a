"""签约与随访导入 Import contracts and follow-ups from the public-health system (issue 5 item 7).

Same conventions as the roster import: CSV (UTF-8/GBK) or XLSX, Chinese headers (English aliases
accepted), an error report with one line per problem (行号, 列, 值, 原因), the ``ImportSummary``
counts, and nothing written unless the whole run succeeds (one transaction).

**Contracts** ``身份证号, 签约日期, 到期日期, 团队, 家庭医生`` (家庭医生 optional), keyed by (person,
签约日期). **Follow-ups** ``身份证号, 随访日期, 疾病, 方式, 收缩压, 舒张压, 空腹血糖, 医生`` (readings and
医生 optional; 疾病 may name several diseases separated by 、), keyed by (person, 随访日期): rows of the
same person and day are one visit serving several conditions.

A row is invalid when the ID number is wrong or names nobody in the roster (within the user's
region when a user runs the import); a date is empty, unreadable, impossible, in the future or
before the birth date; the expiry precedes the signing date or lies more than three years after it;
a disease is not a chronic disease with a follow-up rule; the kind is not 门诊/家庭/电话; a reading
is unreadable or implausible (systolic not above diastolic, out of range); or the same key appears
twice with different values. A team or doctor name not yet known is created under the person's
township and counted as a warning (once per new name); a follow-up of a disease the roster does
not record for the person adds the condition, with a warning. Warnings are listed in the error
report too (their reason starts with 警告).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from jkfp.care.bulk import VisitRecord, followups_write
from jkfp.care.models import Contract, MemberRole, Team, TeamMember, VisitKind
from jkfp.care.rules import reading_problems
from jkfp.care.selectors import rules_for
from jkfp.care.services import MAX_CONTRACT_DAYS, township_health_centre
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
    parse_date,
    split_list,
)
from jkfp.core.signals import send_data_changed
from jkfp.core.tabular import read_table
from jkfp.regions.models import Region
from jkfp.registry.models import Condition, Disease, DiseaseKind
from jkfp.registry.selectors import disease_lookup, persons_by_id_number

CONTRACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "id_number": ID_NUMBER_HEADERS,
    "signed_on": ("签约日期", "签约时间"),
    "end_on": ("到期日期", "截止日期", "到期时间"),
    "team": ("团队", "签约团队", "团队名称"),
    "doctor": ("家庭医生", "签约医生"),
}
CONTRACT_REQUIRED = ("id_number", "signed_on", "end_on", "team")
FOLLOWUP_COLUMNS: dict[str, tuple[str, ...]] = {
    "id_number": ID_NUMBER_HEADERS,
    "visited_on": ("随访日期", "随访时间"),
    "disease": ("疾病", "病种", "随访疾病"),
    "kind": ("方式", "随访方式"),
    "systolic": ("收缩压",),
    "diastolic": ("舒张压",),
    "glucose": ("空腹血糖", "血糖"),
    "doctor": ("医生", "随访医生"),
}
FOLLOWUP_REQUIRED = ("id_number", "visited_on", "disease", "kind")
KIND_VALUES: dict[str, str] = {
    **{str(label): value for value, label in VisitKind.choices},
    **{value: value for value in VisitKind.values},
    "门诊随访": VisitKind.CLINIC,
    "家庭随访": VisitKind.HOME,
    "电话随访": VisitKind.PHONE,
}
# 随访方式 values a web upload's mapping step offers for a value outside KIND_VALUES (issue 18 item 3).
FOLLOWUP_ACCEPTED: dict[str, tuple[str, ...]] = {"kind": tuple(str(label) for label in VisitKind.labels)}
NAME_MAX = 50
TEAM_MAX = 100
CONDITION_SOURCE = "随访导入"

ERR_EMPTY = "不能为空"
ERR_DATE_FUTURE = "日期在将来"
ERR_DATE_BEFORE_BIRTH = "日期早于出生日期"
ERR_END_BEFORE = "到期日期早于签约日期"
ERR_TOO_LONG_CONTRACT = "签约期限超过3年"
ERR_DISEASE = "疾病“{value}”不是有随访规则的慢病（按病种名称或别名匹配）"
ERR_KIND = "随访方式“{value}”无效，应为 门诊、家庭 或 电话"
ERR_NUMBER = "不是数字"
ERR_TEXT_LONG = "内容超过{limit}个字符"
ERR_CONTROL = "含有控制字符"
ERR_CONFLICT = "同一人同一日期在文件中出现多次且内容不同（第{rows}行）"
WARN_TEAM = "警告（已导入）：团队“{value}”不存在，已在{township}新建"
WARN_DOCTOR = "警告（已导入）：医生“{value}”不存在，已在团队“{team}”新建"
WARN_CONDITION = "警告（已导入）：花名册未登记此人患“{value}”，已按随访记录新增"


def chronic_lookup(rules: set[int]) -> dict[str, int]:
    """慢病名称表 Name or alias → disease id over the chronic diseases that have a rule."""
    return disease_lookup(kind=DiseaseKind.CHRONIC, pks=rules)


class _Run:
    """What both imports share: the table, the persons, the problems, the team/doctor registry."""

    def __init__(
        self,
        path: Path,
        columns: dict[str, tuple[str, ...]],
        required: tuple[str, ...],
        user: Any,
        today: date,
        accepted: dict[str, Any] | None = None,
    ):
        self.path = path
        self.today = today
        self.table = read_table(path, columns, required, accepted=accepted)
        self.header = {c: self.table.headers.get(c, columns[c][0]) for c in columns}
        self.cols = self.table.columns
        self.blank = [""] * len(self.table)
        self.numbers = self.table.row_numbers
        self.failures = RowFailures(self.numbers, self.header)
        self.problems, self.bad = self.failures.problems, self.failures.bad
        self.warnings = 0
        # The ID check records its problems now; the roster is read in the user's region only.
        self.ids = id_number_column(self.cols["id_number"], self.failures, "id_number", today=today)
        found = persons_by_id_number([idn for idn in self.ids if idn], user=user)
        self.persons: dict[str, tuple[int, date, str]] = {
            idn: (p.pk, p.birth_date, p.village_id) for idn, p in found.items()
        }
        self.teams: dict[tuple[str, str], int] = {
            (t, n): pk for pk, t, n in Team.objects.values_list("pk", "township_id", "name")
        }
        self.members: dict[tuple[int, str], int] = {
            (t, n): pk for pk, t, n in TeamMember.objects.values_list("pk", "team_id", "name")
        }
        self.township_members: dict[tuple[str, str], int] = {}
        for pk, township, name in TeamMember.objects.order_by("pk").values_list(
            "pk", "team__township_id", "name"
        ):
            self.township_members.setdefault((township, name), pk)
        self.new_teams: dict[tuple[str, str], int] = {}  # key → row index that named it first
        self.new_members: dict[tuple[tuple[str, str], str], int] = {}

    def fail(self, i: int, column: str, value: str, reason: str) -> None:
        self.failures.fail(i, column, value, reason)

    def warn(self, i: int, column: str, value: str, reason: str) -> None:
        self.problems.append(RowProblem(self.numbers[i], self.header[column], value, reason))
        self.warnings += 1

    def person(self, i: int) -> tuple[int, date, str] | None:
        idn = self.ids[i]
        if idn is None:
            return None  # its ERR_ID is recorded
        found = self.persons.get(idn)
        if found is None:
            self.fail(i, "id_number", self.cols["id_number"][i], ERR_NOT_IN_ROSTER)
        return found

    def day(self, i: int, column: str, born: date | None) -> date | None:
        text = self.cols[column][i]
        if not text:
            self.fail(i, column, text, ERR_EMPTY)
            return None
        on, reason = parse_date(text)
        if on is None:
            self.fail(i, column, text, reason)
        elif on > self.today:
            self.fail(i, column, text, ERR_DATE_FUTURE)
            return None
        elif born is not None and on < born:
            self.fail(i, column, text, ERR_DATE_BEFORE_BIRTH)
            return None
        return on

    def text(self, i: int, column: str, limit: int) -> str | None:
        value = self.cols.get(column, self.blank)[i]
        if has_control_chars(value):
            self.fail(i, column, value, ERR_CONTROL)
            return None
        if len(value) > limit:
            self.fail(i, column, value, ERR_TEXT_LONG.format(limit=limit))
            return None
        return value

    def report(self, summary: ImportSummary, errors_dir: Path | None, stem: str) -> None:
        summary.errors_file = error_report(self.problems, errors_dir, stem)

    # Teams and doctors named in the file are resolved to ("new", key) until the transaction creates them.
    def team_ref(self, i: int, township: str, name: str) -> tuple[str, str]:
        key = (township, name)
        if key not in self.teams and key not in self.new_teams:
            self.new_teams[key] = i
        return key

    def member_ref(self, i: int, team_key: tuple[str, str], name: str) -> None:
        team_id = self.teams.get(team_key)
        if team_id is not None and (team_id, name) in self.members:
            return
        self.new_members.setdefault((team_key, name), i)

    def create_named(self, doctor_column: str, team_column: str | None) -> None:
        """Create the teams and doctors not yet known (inside the caller's transaction), with warnings."""
        townships = dict(
            Region.objects.filter(code__in={k[0] for k in self.new_teams}).values_list("code", "name")
        )
        for key, i in sorted(self.new_teams.items(), key=lambda kv: kv[1]):
            township = Region.objects.get(code=key[0])
            team = Team.objects.create(
                township=township, name=key[1], institution=township_health_centre(township=township)
            )
            self.teams[key] = team.pk
            if team_column is not None:
                self.warn(
                    i,
                    team_column,
                    key[1],
                    WARN_TEAM.format(value=key[1], township=townships.get(key[0], key[0])),
                )
        for (team_key, name), i in sorted(self.new_members.items(), key=lambda kv: kv[1]):
            team_id = self.teams[team_key]
            if (team_id, name) in self.members:
                continue
            member = TeamMember.objects.create(team_id=team_id, name=name, role=MemberRole.VILLAGE_DOCTOR)
            self.members[(team_id, name)] = member.pk
            self.township_members.setdefault((team_key[0], name), member.pk)
            self.warn(i, doctor_column, name, WARN_DOCTOR.format(value=name, team=team_key[1]))


def _township_of(village: str) -> str:
    return village[:9] + "000"


@dataclass(frozen=True)
class _ContractRow:
    person_id: int
    signed_on: date
    end_on: date
    team_key: tuple[str, str]
    doctor: str


def contracts_import(
    *,
    path: str | Path,
    user: Any = None,
    errors_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    today: date | None = None,
) -> ImportSummary:
    """导入签约 Import contracts; returns the summary. ``TableError`` when the file cannot be read (nothing written)."""
    path = Path(path)
    run = _Run(path, CONTRACT_COLUMNS, CONTRACT_REQUIRED, user, today or timezone.localdate())
    if progress:
        progress(20)
    keyed: KeyedRows[tuple[int, date], _ContractRow] = KeyedRows()  # (person, signing date) → row
    for i in range(len(run.table)):
        person = run.person(i)
        born = person[1] if person else None
        signed_on = run.day(i, "signed_on", born)
        end_text = run.cols["end_on"][i]
        end_on: date | None = None
        if not end_text:
            run.fail(i, "end_on", end_text, ERR_EMPTY)
        else:
            end_on, reason = parse_date(end_text)
            if end_on is None:
                run.fail(i, "end_on", end_text, reason)
            elif signed_on is not None and end_on < signed_on:
                run.fail(i, "end_on", end_text, ERR_END_BEFORE)
            elif signed_on is not None and (end_on - signed_on).days > MAX_CONTRACT_DAYS:
                run.fail(i, "end_on", end_text, ERR_TOO_LONG_CONTRACT)
        team = run.text(i, "team", TEAM_MAX)
        if team == "":
            run.fail(i, "team", team, ERR_EMPTY)
        doctor = run.text(i, "doctor", NAME_MAX)
        if (
            i in run.bad
            or person is None
            or signed_on is None
            or end_on is None
            or not team
            or doctor is None
        ):
            continue
        record = _ContractRow(person[0], signed_on, end_on, (_township_of(person[2]), team), doctor)
        keyed.add((record.person_id, record.signed_on), record, i)
    valid = keyed.settle(run.failures, "signed_on", run.cols["signed_on"], ERR_CONFLICT)
    for record, indexes in valid.values():
        run.team_ref(indexes[0], *record.team_key)
        if record.doctor:
            run.member_ref(indexes[0], record.team_key, record.doctor)
    if progress:
        progress(50)
    summary = ImportSummary(rows=len(run.table), invalid=len(run.bad))
    summary.valid = summary.rows - summary.invalid
    with transaction.atomic():
        run.create_named("doctor", "team")
        existing = {
            (c.person_id, c.signed_on): c
            for c in Contract.objects.filter(person_id__in=sorted({k[0] for k in valid}))
        }
        inserts, updates = [], []
        for key, (record, _) in valid.items():
            team_id = run.teams[record.team_key]
            doctor_id = run.members.get((team_id, record.doctor)) if record.doctor else None
            old = existing.get(key)
            if old is None:
                inserts.append(
                    Contract(
                        person_id=record.person_id,
                        team_id=team_id,
                        doctor_id=doctor_id,
                        signed_on=record.signed_on,
                        end_on=record.end_on,
                    )
                )
            elif (old.end_on, old.team_id, old.doctor_id) != (
                record.end_on,
                team_id,
                doctor_id or old.doctor_id,
            ):
                old.end_on, old.team_id, old.doctor_id = record.end_on, team_id, doctor_id or old.doctor_id
                updates.append(old)
        Contract.objects.bulk_create(inserts, batch_size=2000)
        Contract.objects.bulk_update(updates, ["end_on", "team_id", "doctor_id"], batch_size=2000)
        changed = [*inserts, *updates]
        if changed:
            # Sent when the transaction commits: the indicators refresh the years the contracts cover.
            send_data_changed(
                kind="care",
                years={y for c in changed for y in range(c.signed_on.year, c.end_on.year + 1)},
                person_ids={c.person_id for c in changed},
            )
    summary.created, summary.updated = len(inserts), len(updates)
    summary.unchanged = len(valid) - summary.created - summary.updated
    summary.warnings = run.warnings
    run.report(summary, errors_dir, f"contracts-{path.stem}-errors")
    if progress:
        progress(100)
    return summary


def _number(run: _Run, i: int, column: str, *, decimal: bool) -> tuple[Any, bool]:
    text = run.cols.get(column, run.blank)[i]
    if not text:
        return None, True
    try:
        value = Decimal(text)
    except InvalidOperation:
        run.fail(i, column, text, ERR_NUMBER)
        return None, False
    if not value.is_finite():
        run.fail(i, column, text, ERR_NUMBER)
        return None, False
    if decimal:
        return value.quantize(Decimal("0.1")), True
    if value != value.to_integral_value():
        run.fail(i, column, text, ERR_NUMBER)
        return None, False
    return int(value), True


@dataclass(frozen=True)
class _VisitRow:
    kind: str
    systolic: int | None
    diastolic: int | None
    glucose: Decimal | None
    doctor: str


def followups_import(
    *,
    path: str | Path,
    user: Any = None,
    errors_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    today: date | None = None,
) -> ImportSummary:
    """导入随访 Import follow-ups; schedules of the persons and conditions named are recomputed.

    Counts are per visit (person and day): ``created`` new visits, ``updated`` visits whose readings
    changed or that serve a new condition, ``unchanged`` the rest.
    """
    path = Path(path)
    today = today or timezone.localdate()
    run = _Run(path, FOLLOWUP_COLUMNS, FOLLOWUP_REQUIRED, user, today, {"kind": KIND_VALUES})
    if progress:
        progress(20)
    rules_cache: dict[str, set[int]] = {}
    lookup_cache: dict[str, dict[str, int]] = {}
    visits: dict[tuple[int, date], tuple[_VisitRow, set[int], list[int], str]] = {}
    conflicts: set[tuple[int, date]] = set()
    for i in range(len(run.table)):
        person = run.person(i)
        visited_on = run.day(i, "visited_on", person[1] if person else None)
        county = person[2][:6] if person else "421321"
        if county not in lookup_cache:
            rules_cache[county] = set(rules_for(county_code=county))
            lookup_cache[county] = chronic_lookup(rules_cache[county])
        lookup = lookup_cache[county]
        disease_text = run.cols["disease"][i]
        names = split_list(disease_text)
        disease_ids: set[int] = set()
        if not names:
            run.fail(i, "disease", disease_text, ERR_EMPTY)
        for name in names:
            if name in lookup:
                disease_ids.add(lookup[name])
            else:
                run.fail(i, "disease", disease_text, ERR_DISEASE.format(value=name))
        kind_text = run.cols["kind"][i]
        kind = KIND_VALUES.get(kind_text) or KIND_VALUES.get(kind_text.lower())
        if kind is None:
            run.fail(i, "kind", kind_text, ERR_KIND.format(value=kind_text))
        systolic, ok1 = _number(run, i, "systolic", decimal=False)
        diastolic, ok2 = _number(run, i, "diastolic", decimal=False)
        glucose, ok3 = _number(run, i, "glucose", decimal=True)
        if ok1 and ok2 and ok3:
            for field_name, message in reading_problems(
                systolic=systolic, diastolic=diastolic, glucose=glucose
            ):
                run.fail(i, field_name, run.cols.get(field_name, run.blank)[i], message)
        doctor = run.text(i, "doctor", NAME_MAX)
        if i in run.bad or person is None or visited_on is None or kind is None or doctor is None:
            continue
        row = _VisitRow(kind, systolic, diastolic, glucose, doctor)
        key = (person[0], visited_on)
        seen = visits.get(key)
        if seen is None:
            visits[key] = (row, set(disease_ids), [i], person[2])
        else:
            seen[1].update(disease_ids)
            seen[2].append(i)
            if seen[0] != row:
                conflicts.add(key)
    for key in conflicts:
        indexes = visits.pop(key)[2]
        listed = "、".join(str(run.numbers[i]) for i in indexes)
        for i in indexes:
            run.fail(i, "visited_on", run.cols["visited_on"][i], ERR_CONFLICT.format(rows=listed))
    # An unknown doctor goes into the township's default team (created when needed).
    township_names = dict(
        Region.objects.filter(code__in={_township_of(v[3]) for v in visits.values()}).values_list(
            "code", "name"
        )
    )
    for row, _, indexes, village in visits.values():
        township = _township_of(village)
        if row.doctor and (township, row.doctor) not in run.township_members:
            team_key = (township, f"{township_names.get(township, township)}家庭医生团队")
            run.team_ref(indexes[0], *team_key)
            run.member_ref(indexes[0], team_key, row.doctor)
    if progress:
        progress(50)
    summary = ImportSummary(rows=len(run.table), invalid=len(run.bad))
    summary.valid = summary.rows - summary.invalid
    with transaction.atomic():
        run.create_named("doctor", None)
        have = set(
            Condition.objects.filter(
                person_id__in=sorted({k[0] for k in visits}), disease__isnull=False
            ).values_list("person_id", "disease_id")
        )
        disease_names = dict(Disease.objects.values_list("pk", "name"))
        new_conditions: dict[tuple[int, int], int] = {}
        for (person_id, _), (_, disease_ids, indexes, _) in visits.items():
            for d in disease_ids:
                if (person_id, d) not in have and (person_id, d) not in new_conditions:
                    new_conditions[(person_id, d)] = indexes[0]
        existing_names = set(
            Condition.objects.filter(person_id__in=sorted({p for p, _ in new_conditions})).values_list(
                "person_id", "name"
            )
        )
        condition_rows = []
        for (person_id, d), i in sorted(new_conditions.items(), key=lambda kv: kv[1]):
            name = disease_names[d]
            run.warn(i, "disease", run.cols["disease"][i], WARN_CONDITION.format(value=name))
            if (person_id, name) in existing_names:
                Condition.objects.filter(person_id=person_id, name=name).update(disease_id=d)
            else:
                condition_rows.append(
                    Condition(person_id=person_id, disease_id=d, name=name, source=CONDITION_SOURCE)
                )
        Condition.objects.bulk_create(condition_rows, batch_size=2000)
        records = []
        for (person_id, visited_on), (row, disease_ids, _, village) in visits.items():
            doctor_id = run.township_members.get((_township_of(village), row.doctor)) if row.doctor else None
            records.append(
                VisitRecord(
                    person_id=person_id,
                    visited_on=visited_on,
                    kind=row.kind,
                    disease_ids=frozenset(disease_ids),
                    systolic=row.systolic,
                    diastolic=row.diastolic,
                    glucose=row.glucose,
                    doctor_id=doctor_id,
                )
            )
        # followups_write also creates the schedules of conditions added above.
        summary.created, summary.updated, summary.unchanged = followups_write(records, today=today)
        if summary.created or summary.updated:
            send_data_changed(
                kind="care",
                years={r.visited_on.year for r in records},
                person_ids={r.person_id for r in records},
            )
    summary.warnings = run.warnings
    run.report(summary, errors_dir, f"followups-{path.stem}-errors")
    if progress:
        progress(100)
    return summary
