"""花名册重复导入比对 Re-import change detection: stage only the persons that changed (ADR 0006).

A person whose active source record of this source and year already holds exactly the values of
the list (name, village, household number, relation, tags, conditions, phone) is "unchanged" for
every statement of ``imports._load``: it is not touched (no canonical field, no ChangeLog), its
source record is not rewritten, and the earlier import that wrote these values opened its tags with
these exited flags and added these conditions. Such persons are left out of the staging tables.

The comparison reads the existing records as one text line per person, concatenated and
aggregated by the database into a few large texts (``string_agg`` / ``group_concat``), and looks
each line of the list up in a set: exact, no hash. The caller skips this when the list may end
older tags (``imports._older_open_tags``), which needs every person the list names.
"""

from __future__ import annotations

from typing import Any

from jkfp.core import bulkdb
from jkfp.regions.models import LEVEL_DIGITS, prefix_range
from jkfp.registry.models import Person, SourceRecord
from jkfp.registry.roster_columns import PersonColumns, Validated

_FIELDS = ("name", "village_code", "household_no", "relation", "tags", "conditions", "phone")


COUNTY_DIGITS = LEVEL_DIGITS["county"]

# A list of fewer persons than this share of the registry reads its records' persons by key.
PROBE_SHARE = 0.2

# Persons per aggregated text: one value of at most a few tens of MB, far below PostgreSQL's 1 GB.
_GROUP_BITS = 18


def _existing_lines(
    cursor: Any,
    *,
    source: str,
    year: int,
    postgres: bool,
    counties: list[str] | None = None,
    listed: int | None = None,
) -> set[str]:
    """The active records of ``source`` for ``year`` as ``id<TAB>name<TAB>…`` lines; with ``counties``
    (code prefixes), only the records of villages in them — a line can only equal a record of its own
    village, so the rest of a province's records would never match (issue 21).

    The database concatenates the fields and aggregates the lines into a few large texts (one per
    block of 2^18 person IDs): a handful of values to fetch instead of one per person (the COPY
    of one line per person spent most of its time handing out the lines one by one in Python).
    Values are compared as stored, unescaped: source records are written only from validated rows,
    whose values hold no tab or newline (control characters make a row invalid), so the separators
    are unambiguous. ``listed``: the persons of the list, to read their persons by key when they are
    a small share of the registry (PostgreSQL).
    """
    records, persons = SourceRecord._meta.db_table, Person._meta.db_table
    joined = " || char(9) || ".join(f"r.{f}" for f in _FIELDS)
    if postgres:
        line = f"p.id_number || chr(9) || {joined.replace('char(9)', 'chr(9)')}"
        aggregate = f"string_agg({line}, chr(10))"
    else:
        line = f"p.id_number || char(9) || {joined}"
        aggregate = f"group_concat({line}, char(10))"
    params: list[Any] = [source, year]
    where = ""
    joined_persons = f" JOIN {persons} p ON p.id = r.person_id"
    if counties:
        where = (
            " AND (" + " OR ".join(["(r.village_code >= %s AND r.village_code < %s)"] * len(counties)) + ")"
        )
        params += [bound for county in counties for bound in prefix_range(county)]
        if postgres and listed is not None and listed < PROBE_SHARE * bulkdb.row_estimate(cursor, persons):
            # A small share of the registry (a county's list in a province): each record's person by its
            # key, county-sized. A join would read every person of the province for its hash table
            # (the planner prices a few thousand key look-ups above that scan).
            aggregate = aggregate.replace(
                "p.id_number",
                f"(SELECT p.id_number FROM {persons} p WHERE p.id = r.person_id)",  # noqa: S608 (a model name)
            )
            joined_persons = ""
    cursor.execute(
        f"SELECT {aggregate} FROM {records} r{joined_persons}"  # noqa: S608 (model names)
        f" WHERE r.source = %s AND r.year = %s AND r.active{where} GROUP BY r.person_id / {1 << _GROUP_BITS}",
        params,
    )
    existing: set[str] = set()
    for (text,) in cursor.fetchall():
        existing.update(text.split("\n"))
    return existing


def changed_persons(
    cursor: Any, checked: Validated, *, source: str, year: int, postgres: bool
) -> PersonColumns:
    """The persons of ``checked`` whose active record of ``source`` for ``year`` differs or is missing.

    Sorted by ID, like ``checked.persons``. The comparison runs over the persons in file order, so an
    unchanged list never pays for sorting them.
    """
    # PersonColumns order: id, name, village, household, relation, phone, tags, conditions.
    idn, name, village, household, relation, phone, tags, conds = checked.unordered.fields()
    counties = sorted({code[:COUNTY_DIGITS] for code in village})
    existing = _existing_lines(
        cursor, source=source, year=year, postgres=postgres, counties=counties, listed=len(idn)
    )
    if not existing:
        return checked.persons
    lines = map("\t".join, zip(idn, name, village, household, relation, tags, conds, phone, strict=True))
    held = list(map(existing.__contains__, lines))  # in C: no Python call per person
    del existing
    if all(held):
        return PersonColumns()
    keep = [i for i, h in enumerate(held) if not h]
    if len(keep) == len(held):
        return checked.persons
    return checked.sorted_at(keep)
