"""花名册重复导入比对 Re-import change detection: stage only the persons that changed (ADR 0006).

A person whose active source record of this source and year already holds exactly the values of
the list (name, village, household number, relation, tags, conditions, phone) is "unchanged" for
every statement of ``imports._load``: it is not touched (no canonical field, no ChangeLog), its
source record is not rewritten, and the earlier import that wrote these values opened its tags with
these exited flags and added these conditions. Such persons are left out of the staging tables.

The comparison reads the existing records as one text line per person (PostgreSQL: ``COPY … TO
STDOUT``; SQLite: one concatenated column) and looks each line of the list up in a set: exact, no
hash. The caller skips this when the list may end older tags (``imports._older_open_tags``), which
needs every person the list names.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from jkfp.registry.models import Person, SourceRecord
from jkfp.registry.roster_columns import PersonColumns

_FIELDS = ("name", "village_code", "household_no", "relation", "tags", "conditions", "phone")


def _escaped(column: list[str]) -> list[str]:
    if "\\" not in "".join(column):
        return column
    return [value.replace("\\", "\\\\") for value in column]


def _existing_lines(cursor: Any, *, source: str, year: int, postgres: bool) -> set[str]:
    records, persons = SourceRecord._meta.db_table, Person._meta.db_table
    if postgres:
        from psycopg import sql

        statement = sql.SQL(
            "COPY (SELECT p.id_number, {fields} FROM {records} r JOIN {persons} p ON p.id = r.person_id"
            " WHERE r.source = {source} AND r.year = {year} AND r.active) TO STDOUT"
        ).format(
            fields=sql.SQL(", ").join(sql.SQL("r.") + sql.Identifier(f) for f in _FIELDS),
            records=sql.Identifier(records),
            persons=sql.Identifier(persons),
            source=sql.Literal(source),
            year=sql.Literal(year),
        )
        with cursor.cursor.copy(statement) as copy:
            data = b"".join(bytes(chunk) for chunk in copy)
        lines = data.decode("utf-8").split("\n")
        return set(lines)
    fields = " || char(9) || ".join(f"r.{f}" for f in _FIELDS)
    cursor.execute(
        f"SELECT p.id_number || char(9) || {fields} FROM {records} r"  # noqa: S608 (model names)
        f" JOIN {persons} p ON p.id = r.person_id WHERE r.source = %s AND r.year = %s AND r.active",
        [source, year],
    )
    return {row[0] for row in cursor.fetchall()}


def changed_persons(
    cursor: Any, persons: PersonColumns, *, source: str, year: int, postgres: bool
) -> PersonColumns:
    """The persons of ``persons`` whose active record of ``source`` for ``year`` differs or is missing."""
    existing = _existing_lines(cursor, source=source, year=year, postgres=postgres)
    if not existing:
        return persons
    fields = persons.fields()
    shown = [_escaped(c) for c in fields] if postgres else list(fields)
    # PersonColumns order: id, name, village, household, relation, phone, tags, conditions.
    idn, name, village, household, relation, phone, tags, conds = shown
    lines = map("\t".join, zip(idn, name, village, household, relation, tags, conds, phone, strict=True))
    keep = [i for i, line in enumerate(lines) if line not in existing]
    if len(keep) == len(persons):
        return persons
    out = PersonColumns()
    if not keep:
        return out
    get = itemgetter(*keep)
    picked = [list(get(c)) if len(keep) > 1 else [c[keep[0]]] for c in fields]
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
