"""大病救治变更记录 The change history of cases: what to record and how to write many rows fast.

Both the services (one case at a time) and the import (thousands in one transaction) describe a
change as the case's values of ``FIELDS`` before and after; this module turns the difference into
``CaseChange`` rows with readable values (labels for codes, the institution's code for a hospital).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from django.db import connection

from jkfp.treatment.models import CaseChange, CaseStatus, UntreatedReason

# The fields whose changes are recorded, with their Chinese names (the case page shows these).
FIELDS: dict[str, str] = {
    "diagnosed_on": "确诊日期",
    "diagnosis_institution_id": "确诊医院",
    "diagnosis_hospital_name": "确诊医院名称",
    "designated_institution_id": "定点医院",
    "status": "救治状态",
    "untreated_reason": "未救治原因",
    "reason_note": "原因说明",
}
CREATED = "created"
FIELD_LABELS = {**FIELDS, CREATED: "登记"}

SOURCE_PAGE = "页面"
SOURCE_IMPORT = "导入"
SOURCE_SERVICE = "系统"

_CHOICE_LABELS = {
    "status": {value: str(label) for value, label in CaseStatus.choices},
    "untreated_reason": {value: str(label) for value, label in UntreatedReason.choices},
}
_CHUNK = 500


def display(field: str, value: Any) -> str:
    """变更值文字 The text a value is recorded as (labels for codes, ISO dates, '' for none)."""
    if value is None:
        return ""
    if field in _CHOICE_LABELS:
        return _CHOICE_LABELS[field].get(str(value), str(value))
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    return str(value)[:300]


def diff_rows(
    *,
    case_id: int,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    source: str,
    user_id: int | None,
    at: datetime,
) -> list[tuple[Any, ...]]:
    """The (case, at, field, old, new, source, user) rows of one case's change; a creation is one row."""
    if old is None:
        return [(case_id, at, CREATED, "", display("status", new.get("status")), source, user_id)]
    rows = []
    for field in FIELDS:
        before, after = display(field, old.get(field)), display(field, new.get(field))
        if before != after:
            rows.append((case_id, at, field, before, after, source, user_id))
    return rows


def changes_insert(rows: Sequence[tuple[Any, ...]]) -> None:
    """Write change rows with multi-row INSERTs (the import writes thousands; bulk_create is slow)."""
    if not rows:
        return
    ops = connection.ops
    meta = CaseChange._meta
    columns = ("case_id", "at", "field", "old_value", "new_value", "source", "user_id")
    names = ", ".join(ops.quote_name(meta.get_field(c.removesuffix("_id")).column) for c in columns)
    marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
    table = ops.quote_name(meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            # Names come from the model's _meta, quoted; every value is a parameter.
            sql = f"INSERT INTO {table} ({names}) VALUES {', '.join([marks] * len(chunk))}"  # noqa: S608
            cursor.execute(
                sql,
                [
                    ops.adapt_datetimefield_value(v) if isinstance(v, datetime) else v
                    for r in chunk
                    for v in r
                ],
            )


def values_of(case: Any) -> dict[str, Any]:
    """A case's values of ``FIELDS``."""
    return {field: getattr(case, field) for field in FIELDS}


def changes_of(rows: Iterable[CaseChange]) -> list[dict[str, Any]]:
    """Rows for the case page: time, who, field label, from, to, through."""
    return [
        {
            "at": c.at,
            "user": c.user,
            "field": FIELD_LABELS.get(c.field, c.field),
            "old": c.old_value,
            "new": c.new_value,
            "source": c.source,
        }
        for c in rows
    ]
