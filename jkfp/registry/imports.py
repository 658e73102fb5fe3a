"""花名册导入 Import a roster list (issue 2 item 5, domain.md §4, §4.1).

``roster_import`` reads a CSV (UTF-8 or GBK) or XLSX list of one source, validates every row,
writes the invalid ones to an error report and loads the valid ones in ONE transaction:

1. Parse and validate column by column (``roster_columns.validate_columns``: numpy for the ID
   column, whole-column scans, a sort for repeated IDs; ``registry/tests/roster_oracle.py`` holds the per-row
   specification it is tested against). The valid persons are columns sorted by ID (ADR 0006).
2. Re-import: persons whose active record of this source and year already holds the list's values
   are left out (``roster_diff``), unless the list may end older tags (then all are staged).
   Load the valid persons into TEMP staging tables (PostgreSQL: ``COPY``; SQLite: ``executemany`` in
   key order; their tags and conditions expanded in SQL from the distinct texts) and apply set-based SQL, the same statements on both databases: change detection,
   ``INSERT … SELECT`` of new households and persons, ``UPDATE … FROM`` of changed persons with one
   ChangeLog row per changed field, ``INSERT … ON CONFLICT DO UPDATE … WHERE`` (changed) of source
   records, dated tags and conditions.
3. A fresh load (no person in the database yet) skips the look-ups of rows that cannot exist and
   loads without secondary indexes, rebuilding them (sorted, once) before the commit; on PostgreSQL
   the foreign keys are dropped and re-added too (one set-based check each instead of a deferred
   check per row at commit), with their names and definitions read from the catalogue. On
   PostgreSQL an empty registry is written straight into its tables by ``COPY`` with reserved IDs
   (``roster_fresh``), without staging tables.

Semantics (tested in ``registry/tests/test_roster_import.py``):

- Persons are keyed by the normalised 18-character ID (15-digit IDs converted); sex and birth date
  come from the ID.
- A row is invalid when the ID fails GB 11643 (length, characters, check character, impossible,
  future or pre-1900 birth date); the name is empty, longer than 50, starts with ``= + - @`` or holds
  control characters; the village code is not a village Region; a tag value is unknown; the phone
  holds letters or control characters; a text is longer than its field; or the same ID appears more
  than once with a different name, village code or household number (then every row of that ID is
  invalid). Identical repeats count once (rows of the same ID, name, village and household are merged:
  tags and conditions united, the first non-empty relation and phone kept).
- Unknown disease names (neither a catalogue name nor one of its 、-separated aliases) are kept as
  unmatched conditions; ``warnings`` counts one warning per unknown name per person.
- A source's tags hold from 1 January of the list's year; a later year's list of the same source that
  no longer names the tag ends it on 31 December of the year before. A list of the same year never
  ends tags, and only a later year's list marks a source record inactive.
- Per (person, source) a SourceRecord keeps the values the list gave (tags and conditions as sorted
  、-joined texts); it is rewritten only when these values change, the record comes back (inactive) or a
  later year's list names the person again (then ``last_seen_at`` moves too).
- Canonical person fields (name, village, household, relation, phone) are set on creation; an import
  that brings this source newly for the person, or changes this source's value of a field, overwrites
  the field when it differs and the new value is not blank, unless the person is confirmed (核准). Each
  change writes a ChangeLog row; a household change closes the open Membership and opens a new one.
  Tags and conditions are applied to confirmed persons too (they are provenance of the list).
- created / updated / unchanged count distinct persons of the valid rows: created = new person;
  updated = existing person who gained this source (or it came back) or whose values from this
  source changed; unchanged otherwise. The same file again: created 0, updated 0, no new rows.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.db.models.expressions import RawSQL
from django.utils import timezone

from jkfp.accounts.scoping import code_q
from jkfp.core import bulkdb
from jkfp.core.idnumber import id_number_checked
from jkfp.core.importing import (
    ID_NUMBER_HEADERS,
    NAME_HEADERS,
    ImportSummary,
    RowProblem,
    error_report,
    has_control_chars,
)
from jkfp.core.signals import send_data_changed
from jkfp.core.tabular import TableError, read_table
from jkfp.regions.models import Region, RegionLevel, prefix_range
from jkfp.registry.models import (
    SOURCE_TAG_VALUES,
    ChangeLog,
    Condition,
    Household,
    Membership,
    Person,
    SourceRecord,
    Tag,
    VerificationStatus,
    tag_codes,
)
from jkfp.registry.roster_columns import (
    TAG_SYNONYMS,
    PersonColumns,
    Validated,
    validate_columns,
)
from jkfp.registry.roster_diff import changed_persons
from jkfp.registry.roster_fresh import fresh_load, fresh_load_pg
from jkfp.registry.selectors import disease_lookup
from jkfp.registry.years import LIST_MIN_YEAR, list_max_year, list_year_ok

ROSTER_COLUMNS: dict[str, tuple[str, ...]] = {
    "id_number": ID_NUMBER_HEADERS,
    "name": NAME_HEADERS,
    "village_code": ("村代码", "行政村代码"),
    "household_no": ("户编号", "户号"),
    "relation": ("与户主关系",),
    "tags": ("人员类别",),
    "conditions": ("患病情况", "疾病名称"),
    "phone": ("联系电话", "电话"),
}
ROSTER_REQUIRED = ("id_number", "name", "village_code")
# The accepted values the web mapping step offers for a value it does not know.
ROSTER_ACCEPTED: dict[str, tuple[str, ...]] = {"tags": tuple(SOURCE_TAG_VALUES)}

# Stage columns, in COPY order.
_STAGE_COLUMNS = (
    "id_number",
    "name",
    "village_code",
    "household_no",
    "relation",
    "tags",
    "conditions",
    "phone",
)


# ---------------------------------------------------------------------------------------------
# Validation (pure Python, no database access except the look-up sets passed in)
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Loading (one transaction; set-based SQL shared by both databases)
# ---------------------------------------------------------------------------------------------

_T = {
    "P": Person._meta.db_table,
    "H": Household._meta.db_table,
    "SR": SourceRecord._meta.db_table,
    "TG": Tag._meta.db_table,
    "C": Condition._meta.db_table,
    "CL": ChangeLog._meta.db_table,
    "M": Membership._meta.db_table,
}

# Database vendors on which an empty registry is loaded straight into its tables (roster_fresh).
# PostgreSQL only: there ``COPY`` into the target tables beats staging + ``INSERT … SELECT``; on SQLite
# the staging path is faster (``executemany`` binds each value in Python, ``INSERT … SELECT`` runs in C,
# and the direct path binds about twice as many values). Tests change it to compare both paths.
DIRECT_FRESH_LOAD = frozenset({"postgresql"})

# Re-imports stage only the persons whose source record differs (roster_diff); tests compare both.
DIFF_REIMPORT = True

_TEMP_TABLES = (
    "jkfp_stage",
    "jkfp_stage_tag",
    "jkfp_stage_cond",
    "jkfp_tag_text",
    "jkfp_cond_text",
    "jkfp_touched",
    "jkfp_change",
)


_SOURCE_UPSERT = (
    " ON CONFLICT (person_id, source) DO UPDATE SET"
    " year = CASE WHEN excluded.year > {SR}.year THEN excluded.year ELSE {SR}.year END,"
    " name = excluded.name, village_code = excluded.village_code,"
    " household_no = excluded.household_no, relation = excluded.relation, tags = excluded.tags,"
    " conditions = excluded.conditions, phone = excluded.phone, active = {true},"
    " last_seen_at = excluded.last_seen_at"
    " WHERE {SR}.active = {false} OR {SR}.year < excluded.year"
    " OR {SR}.name <> excluded.name OR {SR}.village_code <> excluded.village_code"
    " OR {SR}.household_no <> excluded.household_no OR {SR}.relation <> excluded.relation"
    " OR {SR}.tags <> excluded.tags OR {SR}.conditions <> excluded.conditions"
    " OR {SR}.phone <> excluded.phone"
)


def _sql(text: str, **extra: str) -> str:
    """SQL text with the registry table names (and dialect constants) filled in; never user data."""
    return text.format(**_T, **extra)


def _stage_ddl(postgres: bool) -> list[str]:
    if postgres:
        suffix = " ON COMMIT DROP"
        return [
            "CREATE TEMP TABLE jkfp_stage (id_number varchar(18), name varchar(50), village_code varchar(12),"
            " household_no varchar(40), relation varchar(20), tags varchar(200), conditions varchar(500),"
            " phone varchar(40))" + suffix,
            "CREATE TEMP TABLE jkfp_stage_tag (id_number varchar(18), code varchar(30), exited boolean,"
            " subtype varchar(30))" + suffix,
            "CREATE TEMP TABLE jkfp_stage_cond (id_number varchar(18), name varchar(100), disease_id bigint)"
            + suffix,
        ]
    return [
        "CREATE TEMP TABLE jkfp_stage (id_number TEXT PRIMARY KEY, name TEXT, village_code TEXT,"
        " household_no TEXT, relation TEXT, tags TEXT, conditions TEXT, phone TEXT) WITHOUT ROWID",
        "CREATE TEMP TABLE jkfp_stage_tag (id_number TEXT, code TEXT, exited INTEGER, subtype TEXT,"
        " PRIMARY KEY (id_number, code)) WITHOUT ROWID",
        "CREATE TEMP TABLE jkfp_stage_cond (id_number TEXT, name TEXT, disease_id INTEGER,"
        " PRIMARY KEY (id_number, name)) WITHOUT ROWID",
    ]


def _copy_lines(
    cursor: Any, table: str, columns: Iterable[str], lines: Iterable[str], *, escape: bool = False
) -> None:
    """PostgreSQL COPY (text format) of tab-separated lines.

    With ``escape`` the backslashes of the whole chunk are doubled (the same as escaping each field:
    the separators hold none; no field may then be NULL), else the caller escapes them.
    """

    def chunks() -> Iterator[str]:
        buffer: list[str] = []
        for line in lines:
            buffer.append(line)
            if len(buffer) >= 50000:
                chunk = "\n".join(buffer) + "\n"
                yield chunk.replace("\\", "\\\\") if escape and "\\" in chunk else chunk
                buffer.clear()
        if buffer:
            chunk = "\n".join(buffer) + "\n"
            yield chunk.replace("\\", "\\\\") if escape and "\\" in chunk else chunk

    bulkdb.copy_text_in(cursor, table, columns, chunks())


def _stage_rows(persons: PersonColumns) -> Iterable[tuple[str, ...]]:
    """The staged values in ``_STAGE_COLUMNS`` order (sex and birth date follow from the ID in SQL)."""
    p = persons
    return zip(
        p.id_number,
        p.name,
        p.village_code,
        p.household_no,
        p.relation,
        p.tags,
        p.conditions,
        p.phone,
        strict=True,
    )


def _stage_tags_and_conditions(
    cursor: Any, persons: PersonColumns, diseases: dict[str, int], postgres: bool
) -> None:
    """Fill ``jkfp_stage_tag`` and ``jkfp_stage_cond`` from the staged persons, in SQL.

    Only the distinct 人员类别 and 患病情况 texts (a few hundred or thousand) are parsed in Python and
    sent, one row per (text, code) and (text, disease name); a join with the staged persons expands
    them to a row per person. Same rows as one per person and value from Python, without binding
    a million tuples.
    """
    tag_texts = [
        (text, code, exited if postgres else int(exited), subtype)
        for text in sorted(set(persons.tags))
        if text
        for code, exited, subtype in tag_codes(text)
    ]
    cond_texts = [
        (text, name, diseases.get(name))
        for text in sorted(set(persons.conditions))
        if text
        for name in text.split("、")
    ]
    if postgres:
        cursor.execute(
            "CREATE TEMP TABLE jkfp_tag_text (text varchar(200), code varchar(30), exited boolean,"
            " subtype varchar(30), PRIMARY KEY (text, code)) ON COMMIT DROP"
        )
        cursor.execute(
            "CREATE TEMP TABLE jkfp_cond_text (text varchar(500), name varchar(100), disease_id bigint,"
            " PRIMARY KEY (text, name)) ON COMMIT DROP"
        )
    else:
        cursor.execute(
            "CREATE TEMP TABLE jkfp_tag_text (text TEXT, code TEXT, exited INTEGER, subtype TEXT,"
            " PRIMARY KEY (text, code)) WITHOUT ROWID"
        )
        cursor.execute(
            "CREATE TEMP TABLE jkfp_cond_text (text TEXT, name TEXT, disease_id INTEGER,"
            " PRIMARY KEY (text, name)) WITHOUT ROWID"
        )
    if tag_texts:
        cursor.executemany(
            "INSERT INTO jkfp_tag_text (text, code, exited, subtype) VALUES (%s, %s, %s, %s)", tag_texts
        )
    if cond_texts:
        cursor.executemany(
            "INSERT INTO jkfp_cond_text (text, name, disease_id) VALUES (%s, %s, %s)", cond_texts
        )
    if postgres:
        cursor.execute("ANALYZE jkfp_tag_text")
        cursor.execute("ANALYZE jkfp_cond_text")
    cursor.execute(
        "INSERT INTO jkfp_stage_tag (id_number, code, exited, subtype)"
        " SELECT s.id_number, t.code, t.exited, t.subtype"
        " FROM jkfp_stage s JOIN jkfp_tag_text t ON t.text = s.tags WHERE s.tags <> ''"
        " ORDER BY s.id_number, t.code"
    )
    cursor.execute(
        "INSERT INTO jkfp_stage_cond (id_number, name, disease_id) SELECT s.id_number, c.name, c.disease_id"
        " FROM jkfp_stage s JOIN jkfp_cond_text c ON c.text = s.conditions WHERE s.conditions <> ''"
        " ORDER BY s.id_number, c.name"
    )
    if postgres:
        cursor.execute("ANALYZE jkfp_stage_tag")
        cursor.execute("ANALYZE jkfp_stage_cond")


def _empty_tables(cursor: Any, keys: Iterable[str]) -> list[str]:
    """The registry tables (by ``_T`` key) that hold no row at all."""
    return [_T[k] for k in keys if bulkdb.table_is_empty(cursor, _T[k])]


# (table, indexed columns) that a fresh load fills in index order: on SQLite appending to them costs
# less than a rebuild, so ``bulkdb.detach`` keeps them.
_APPEND_ORDER = {
    (_T["M"], ("person_id",)),
    (_T["SR"], ("source", "active")),
    (_T["TG"], ("person_id", "code")),
    (_T["TG"], ("source", "code")),
    (_T["H"], ("head_id",)),
    (_T["C"], ("disease_id",)),
}


def _in_counties(column: str, counties: list[str]) -> tuple[str, list[Any]]:
    """`` AND (column in one of the counties)``, with its parameters; no county: no condition.

    A list speaks for the counties of its villages (issue 21): in a deployment of several counties a
    later year's list of one county ends the tags and records of its own persons only.
    """
    if not counties:
        return "", []
    ranges = " OR ".join([f"({column} >= %s AND {column} < %s)"] * len(counties))
    return f" AND ({ranges})", [bound for county in counties for bound in prefix_range(county)]


def _older_open_tags(cursor: Any, source: str, jan1: Any, counties: list[str] | None = None) -> bool:
    """True when the source has open tags started before the list's year (the list may end some) —
    of persons in ``counties`` (the list's own) when given.

    Ending them needs every person the list names, skipped ones too: then the whole list is staged.
    """
    in_counties, params = _in_counties("p.village_id", counties or [])
    if in_counties:
        sql = "SELECT 1 FROM {TG} t JOIN {P} p ON p.id = t.person_id WHERE t.source = %s"
        sql += " AND t.end_on IS NULL AND t.start_on < %s" + in_counties + " LIMIT 1"
        cursor.execute(_sql(sql), [source, jan1, *params])
    else:
        cursor.execute(
            _sql("SELECT 1 FROM {TG} WHERE source = %s AND end_on IS NULL AND start_on < %s LIMIT 1"),
            [source, jan1],
        )
    return cursor.fetchone() is not None


def _scalar(cursor: Any, sql: str, params: Iterable[Any] = ()) -> int:
    cursor.execute(sql, list(params))
    return int(cursor.fetchone()[0] or 0)


@dataclass
class _LoadResult:
    created: int
    updated: int


def _load(
    checked: Validated,
    *,
    source: str,
    year: int,
    today: date,
    user: Any,
    reference: str,
    diseases: dict[str, int],
    progress: Callable[[int], None] | None,
) -> _LoadResult:
    """The valid persons into the registry, in one transaction.

    SQLite, fresh load, not inside a caller's transaction: the inserts run with foreign keys off (the
    pragma works only outside a transaction) and ``_sqlite_check_keys`` verifies every foreign key of
    the six tables before the commit, set-based (an error rolls everything back).
    """
    unchecked = (
        connection.vendor == "sqlite" and not connection.in_atomic_block and not Person.objects.exists()
    ) and connection.disable_constraint_checking()
    try:
        return _load_rows(
            checked,
            source=source,
            year=year,
            today=today,
            user=user,
            reference=reference,
            diseases=diseases,
            progress=progress,
            check_keys=unchecked,
        )
    finally:
        if unchecked:
            connection.enable_constraint_checking()


def _load_rows(
    checked: Validated,
    *,
    source: str,
    year: int,
    today: date,
    user: Any,
    reference: str,
    diseases: dict[str, int],
    progress: Callable[[int], None] | None,
    check_keys: bool,
) -> _LoadResult:
    postgres = connection.vendor == "postgresql"
    ops = connection.ops
    now = ops.adapt_datetimefield_value(timezone.now())
    jan1 = ops.adapt_datefield_value(date(year, 1, 1))
    dec31_before = ops.adapt_datefield_value(date(year - 1, 12, 31))
    day = ops.adapt_datefield_value(today)
    day_before = ops.adapt_datefield_value(today - timedelta(days=1))
    true, false = ("TRUE", "FALSE") if postgres else ("1", "0")

    def q(text: str, **extra: str) -> str:
        pieces = {k: _sql(v, true=true, false=false) for k, v in extra.items()}
        return _sql(text, true=true, false=false, **pieces)

    user_id = getattr(user, "pk", None)

    def step(percent: int) -> None:
        if progress:
            progress(percent)

    with transaction.atomic(), connection.cursor() as cur:
        if not postgres:
            # A larger page cache while a million index entries go in (restored below).
            cur.execute("PRAGMA cache_size")
            cache_size = cur.fetchone()[0]
            cur.execute("PRAGMA cache_size = -262144")
            # The staging tables live in the temp database, whose page cache is separate (2 MB by
            # default): a million staged rows would go through the temp file page by page.
            cur.execute("PRAGMA temp.cache_size")
            temp_cache_size = cur.fetchone()[0]
            cur.execute("PRAGMA temp.cache_size = -131072")
        if postgres:
            cur.execute("SET LOCAL synchronous_commit TO OFF")
            # Hash joins and sorts over a million staged rows stay in memory instead of spilling.
            cur.execute("SET LOCAL work_mem TO '256MB'")
        for name in _TEMP_TABLES:
            cur.execute(f"DROP TABLE IF EXISTS {name}")
        # A fresh load (no person yet, so no source record, tag, condition or membership either):
        # PostgreSQL loads without foreign keys and secondary indexes and rebuilds them at the end,
        # and the statements below skip their look-ups of rows that cannot exist.
        fresh = bool(_empty_tables(cur, ["P"]))
        restore: list[str] = []
        empty = _empty_tables(cur, ["P", "H", "SR", "TG", "C", "M"]) if fresh else []
        if fresh:
            # Without secondary indexes (and on PostgreSQL foreign keys): one sorted build each and
            # one set-based key check before the commit, instead of a million insertions and checks.
            restore = bulkdb.detach(cur, empty, keep=_APPEND_ORDER)
        if connection.vendor in DIRECT_FRESH_LOAD and len(empty) == 6:
            # An empty registry: every row to write is known in Python (roster_fresh).
            step(55)
            if postgres:
                created = fresh_load_pg(
                    cur,
                    checked.unordered,
                    checked.order,
                    source=source,
                    year=year,
                    now=now,
                    jan1=jan1,
                    reference=reference,
                    diseases=diseases,
                )
            else:
                created = fresh_load(
                    cur,
                    checked.persons,
                    source=source,
                    year=year,
                    now=now,
                    jan1=jan1,
                    reference=reference,
                    diseases=diseases,
                )
            step(92)
            bulkdb.restore(cur, restore)
            if check_keys:
                bulkdb.sqlite_check_keys(cur, [_T[k] for k in ("P", "H", "SR", "TG", "C", "M")])
            if postgres:
                for table in ("P", "H", "SR", "TG", "C", "M"):
                    cur.execute(q("ANALYZE {" + table + "}"))
            else:
                cur.execute("PRAGMA analysis_limit = 1000")
                for table in ("P", "H", "SR", "TG", "C", "M"):
                    cur.execute(q("ANALYZE {" + table + "}"))
                cur.execute(f"PRAGMA cache_size = {int(cache_size)}")
                cur.execute(f"PRAGMA temp.cache_size = {int(temp_cache_size)}")
            step(98)
            return _LoadResult(created=created, updated=0)
        # With the difference only (no open tag of this source started before the list's year), the
        # statement ending such tags has nothing to end, and with nobody staged the statements that
        # only join the staged tags and conditions have nothing to do: both are skipped.
        counties = sorted({code[:6] for code in checked.unordered.fields()[2]})
        diffed = not fresh and DIFF_REIMPORT and not _older_open_tags(cur, source, jan1, counties)
        if diffed:
            # Persons whose record of this source already holds exactly these values for this
            # year need no statement below: stage only the others (roster_diff).
            persons = changed_persons(cur, checked, source=source, year=year, postgres=postgres)
        else:
            persons = checked.persons
        for ddl in _stage_ddl(postgres):
            cur.execute(ddl)
        if postgres:
            _copy_lines(
                cur,
                "jkfp_stage",
                _STAGE_COLUMNS,
                map("\t".join, _stage_rows(persons)),
                escape=True,  # control characters never get here (invalid rows): only backslashes
            )
            cur.execute("ANALYZE jkfp_stage")
        else:
            cur.executemany(
                "INSERT INTO jkfp_stage (id_number, name, village_code, household_no, relation, tags,"
                " conditions, phone) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                list(_stage_rows(persons)),
            )
        _stage_tags_and_conditions(cur, persons, diseases, postgres)
        step(55)
        changed = 0  # rows of the registry tables this import inserted or updated (beyond persons)

        # Who is new, and which existing persons gained this source or got changed values from it.
        created = _scalar(
            cur,
            q(
                "SELECT COUNT(*) FROM jkfp_stage s WHERE NOT EXISTS (SELECT 1 FROM {P} p WHERE p.id_number = s.id_number)"
            ),
        )
        cur.execute(
            q(
                "CREATE TEMP TABLE jkfp_touched AS"
                " SELECT p.id AS person_id, s.id_number,"
                " CASE WHEN r.id IS NULL OR r.active = {false} THEN 1 ELSE 0 END AS gained,"
                " r.name AS r_name, r.village_code AS r_village, r.household_no AS r_household,"
                " r.relation AS r_relation, r.phone AS r_phone,"
                " s.name AS s_name, s.village_code AS s_village, s.household_no AS s_household,"
                " s.relation AS s_relation, s.phone AS s_phone"
                " FROM jkfp_stage s JOIN {P} p ON p.id_number = s.id_number"
                " LEFT JOIN {SR} r ON r.person_id = p.id AND r.source = %s"
                " WHERE r.id IS NULL OR r.active = {false} OR r.name <> s.name"
                " OR r.village_code <> s.village_code OR r.household_no <> s.household_no"
                " OR r.relation <> s.relation OR r.tags <> s.tags OR r.conditions <> s.conditions"
                " OR r.phone <> s.phone"
            ),
            [source],
        )
        updated = _scalar(cur, "SELECT COUNT(*) FROM jkfp_touched")
        step(60)

        # New households (village from the first row naming them).
        cur.execute(
            q(
                "INSERT INTO {H} (household_no, village_id, cadre, created_at, head_id)"
                " SELECT s.household_no, MIN(s.village_code), '', %s, NULL FROM jkfp_stage s"
                " WHERE s.household_no <> ''"
                " AND NOT EXISTS (SELECT 1 FROM {H} h WHERE h.household_no = s.household_no)"
                " GROUP BY s.household_no ORDER BY s.household_no"
            ),
            [now],
        )
        changed += max(cur.rowcount, 0)

        # Canonical field changes of existing persons (not of confirmed ones).
        cur.execute(
            "CREATE TEMP TABLE jkfp_change (person_id bigint, field varchar(20), old_value varchar(500),"
            " new_value varchar(500))" + (" ON COMMIT DROP" if postgres else "")
        )
        for fname, old in (
            ("name", "p.name"),
            ("village", "p.village_id"),
            ("household", "COALESCE(h.household_no, '')"),
            ("relation", "p.relation"),
            ("phone", "p.phone"),
        ):
            cur.execute(
                q(
                    "INSERT INTO jkfp_change (person_id, field, old_value, new_value)"
                    " SELECT t.person_id, %s, {old}, t.s_{f} FROM jkfp_touched t"
                    " JOIN {P} p ON p.id = t.person_id LEFT JOIN {H} h ON h.id = p.household_id"
                    " WHERE p.verification_status <> %s AND t.s_{f} <> ''"
                    " AND (t.gained = 1 OR t.r_{f} <> t.s_{f}) AND {old} <> t.s_{f}",
                    f=fname,
                    old=old,
                ),
                [fname, VerificationStatus.CONFIRMED.value],
            )
        if _scalar(cur, "SELECT COUNT(*) FROM jkfp_change"):
            for fname, setter in (
                ("name", "name = c.new_value"),
                ("village", "village_id = c.new_value"),
                (
                    "household",
                    _sql("household_id = (SELECT h.id FROM {H} h WHERE h.household_no = c.new_value)"),
                ),
                ("relation", "relation = c.new_value"),
                ("phone", "phone = c.new_value"),
            ):
                cur.execute(
                    q(
                        "UPDATE {P} SET {setter}, updated_at = %s FROM jkfp_change c"
                        " WHERE c.person_id = {P}.id AND c.field = %s",
                        setter=setter,
                    ),
                    [now, fname],
                )
            cur.execute(
                q(
                    "INSERT INTO {CL} (person_id, at, field, old_value, new_value, source, user_id)"
                    " SELECT person_id, %s, field, old_value, new_value, %s, %s FROM jkfp_change"
                    " ORDER BY person_id, field"
                ),
                [now, source, user_id],
            )
            cur.execute(
                q(
                    "UPDATE {M} SET end_on = CASE WHEN start_on > %s THEN start_on ELSE %s END"
                    " WHERE end_on IS NULL"
                    " AND person_id IN (SELECT person_id FROM jkfp_change WHERE field = 'household')"
                ),
                [day_before, day_before],
            )
            cur.execute(
                q(
                    "INSERT INTO {M} (person_id, household_id, relation, start_on, end_on)"
                    " SELECT p.id, p.household_id, p.relation, %s, NULL FROM jkfp_change c"
                    " JOIN {P} p ON p.id = c.person_id"
                    " WHERE c.field = 'household' AND p.household_id IS NOT NULL"
                ),
                [day],
            )
        step(65)

        # New persons (in key order), with their first membership.
        cur.execute(
            q(
                "INSERT INTO {P} (id_number, name, sex, birth_date, phone, village_id, household_id, relation,"
                " living_status, death_on, verification_status, verified_on, verified_by_id,"
                " verification_note, outside_systems, created_at, updated_at)"
                " SELECT s.id_number, s.name,"
                " CASE WHEN substr(s.id_number, 17, 1) IN ('1', '3', '5', '7', '9') THEN 'M' ELSE 'F' END,"
                " {birth}, s.phone, s.village_code, h.id, s.relation,"
                " 'home', NULL, %s, NULL, NULL, '', {false}, %s, %s"
                " FROM jkfp_stage s LEFT JOIN {H} h ON h.household_no = s.household_no AND s.household_no <> ''"
                "{unless_held} ORDER BY s.id_number",
                # Sex and birth date from the (validated) ID, in SQL: two values fewer to stage per person.
                birth="to_date(substr(s.id_number, 7, 8), 'YYYYMMDD')"
                if postgres
                else "substr(s.id_number, 7, 4) || '-' || substr(s.id_number, 11, 2) || '-'"
                " || substr(s.id_number, 13, 2)",
                unless_held=""
                if fresh
                else " WHERE NOT EXISTS (SELECT 1 FROM {P} p WHERE p.id_number = s.id_number)",
            ),
            [VerificationStatus.PENDING.value, now, now],
        )
        step(75)
        if postgres and created:
            # Fresh rows inside this transaction have no statistics yet: without them the planner
            # picks nested loops over a million rows for the statements below.
            cur.execute(q("ANALYZE {P}"))
            cur.execute(q("ANALYZE {H}"))
        if created:
            cur.execute(
                q(
                    "INSERT INTO {M} (person_id, household_id, relation, start_on, end_on)"
                    " SELECT p.id, p.household_id, p.relation, %s, NULL FROM {P} p"
                    " WHERE p.created_at = %s AND p.household_id IS NOT NULL{unless_held}",
                    unless_held=""
                    if fresh
                    else " AND NOT EXISTS (SELECT 1 FROM {M} m WHERE m.person_id = p.id)",
                ),
                [jan1, now],
            )

        # Provenance: records of this source the later list no longer names become inactive.
        in_counties, county_params = _in_counties(_sql("{SR}.village_code"), counties)
        cur.execute(
            q(
                "UPDATE {SR} SET active = {false} WHERE source = %s AND active = {true} AND year < %s"
                " AND NOT EXISTS (SELECT 1 FROM {P} p JOIN jkfp_stage s ON s.id_number = p.id_number"
                " WHERE p.id = {SR}.person_id)"
            )
            + in_counties,
            [source, year, *county_params],
        )
        changed += max(cur.rowcount, 0)
        cur.execute(
            q(
                "INSERT INTO {SR} (person_id, source, year, name, village_code, household_no, relation, tags,"
                " conditions, phone, active, first_seen_at, last_seen_at)"
                " SELECT p.id, %s, %s, s.name, s.village_code, s.household_no, s.relation, s.tags,"
                " s.conditions, s.phone, {true}, %s, %s"
                " FROM jkfp_stage s JOIN {P} p ON p.id_number = s.id_number WHERE 1 = 1"
                " ORDER BY p.id{upsert}",
                upsert="" if fresh else _SOURCE_UPSERT,
            ),
            [source, year, now, now],
        )
        changed += max(cur.rowcount, 0)
        step(85)

        # Tags: a later year's list ends the tags it drops; open tags get the list's exited flag;
        # tags the list names that are not open yet start on 1 January of its year.
        if not diffed:
            in_counties, county_params = _in_counties("pc.village_id", counties)
            of_counties = ""
            if in_counties:
                of_counties = q(" AND {TG}.person_id IN (SELECT pc.id FROM {P} pc WHERE 1 = 1")
                of_counties += in_counties + ")"
            cur.execute(
                q(
                    "UPDATE {TG} SET end_on = %s WHERE source = %s AND end_on IS NULL AND start_on < %s"
                    " AND NOT EXISTS (SELECT 1 FROM {P} p JOIN jkfp_stage_tag st ON st.id_number = p.id_number"
                    " WHERE p.id = {TG}.person_id AND st.code = {TG}.code)"
                )
                + of_counties,
                [dec31_before, source, jan1, *county_params],
            )
            changed += max(cur.rowcount, 0)
        if persons:
            cur.execute(
                q(
                    "UPDATE {TG} SET exited = x.exited, subtype = x.subtype FROM (SELECT p.id AS person_id,"
                    " st.code, st.exited, st.subtype FROM jkfp_stage_tag st JOIN {P} p ON p.id_number = st.id_number) x"
                    " WHERE {TG}.person_id = x.person_id AND {TG}.code = x.code AND {TG}.source = %s"
                    " AND {TG}.end_on IS NULL AND ({TG}.exited <> x.exited OR {TG}.subtype <> x.subtype)"
                ),
                [source],
            )
            changed += max(cur.rowcount, 0)
        cur.execute(
            q(
                "INSERT INTO {TG} (person_id, code, start_on, end_on, exited, source, reference, subtype)"
                " SELECT p.id, st.code, %s, NULL, st.exited, %s, %s, st.subtype"
                " FROM jkfp_stage_tag st JOIN {P} p ON p.id_number = st.id_number{unless_held}"
                " ORDER BY p.id, st.code",
                unless_held=""
                if fresh
                else " WHERE NOT EXISTS (SELECT 1 FROM {TG} t WHERE t.person_id = p.id"
                " AND t.code = st.code AND t.source = %s AND t.end_on IS NULL)",
            ),
            [jan1, source, reference] + ([] if fresh else [source]),
        )
        changed += max(cur.rowcount, 0)
        step(92)

        # Conditions: one per (person, disease name); names already held are left alone.
        cur.execute(
            q(
                "INSERT INTO {C} (person_id, disease_id, name, source, diagnosed_on)"
                " SELECT p.id, sc.disease_id, sc.name, %s, NULL"
                " FROM jkfp_stage_cond sc JOIN {P} p ON p.id_number = sc.id_number{unless_held}"
                " ORDER BY p.id, sc.name",
                unless_held=""
                if fresh
                else " WHERE NOT EXISTS (SELECT 1 FROM {C} c WHERE c.person_id = p.id AND c.name = sc.name)",
            ),
            [source],
        )
        changed += max(cur.rowcount, 0)
        for name in _TEMP_TABLES:
            cur.execute(f"DROP TABLE IF EXISTS {name}")
        bulkdb.restore(cur, restore)  # indexes first, then the foreign keys (each checked in one pass)
        if check_keys:
            # Foreign keys were off for these inserts: the database verifies them now (ChangeLog
            # too when the registry turned out not to be empty after all).
            bulkdb.sqlite_check_keys(
                cur, [_T[k] for k in ("P", "H", "SR", "TG", "C", "M") + (() if fresh else ("CL",))]
            )
        if postgres and (created or updated or changed):
            # Fresh statistics for the next import's plans (autovacuum may not have run yet); a fresh
            # load analysed persons and households already, after their last change. An import that
            # changed nothing leaves the statistics as they are.
            for table in ("SR", "TG", "C", "M") if fresh and created else ("P", "H", "SR", "TG", "C", "M"):
                cur.execute(q("ANALYZE {" + table + "}"))
        elif not postgres:
            # Statistics (sampled: quick) so that SQLite's planner knows that (person, code) is
            # selective and (source, code) is not; without them it may pick the latter for the tag
            # look-ups of the next import and scan half the table per row.
            cur.execute("PRAGMA analysis_limit = 1000")
            for table in ("P", "H", "SR", "TG", "C", "M"):
                cur.execute(q("ANALYZE {" + table + "}"))
            cur.execute(f"PRAGMA cache_size = {int(cache_size)}")
            cur.execute(f"PRAGMA temp.cache_size = {int(temp_cache_size)}")
        step(98)
    return _LoadResult(created=created, updated=updated)


# ---------------------------------------------------------------------------------------------
# The service
# ---------------------------------------------------------------------------------------------


def _warning_count(persons: PersonColumns, diseases: dict[str, int]) -> int:
    """One warning per unknown disease name per person."""
    unknown: dict[str, int] = {}
    total = 0
    for text in persons.conditions:
        if text:
            count = unknown.get(text)
            if count is None:
                count = unknown[text] = sum(1 for name in text.split("、") if name not in diseases)
            total += count
    return total


def _check_arguments(source: str, year: int, today: date) -> None:
    if not source or len(source) > 50 or has_control_chars(source):
        raise TableError(
            "来源名称不能为空且不超过50个字符 / the source name must be 1 to 50 characters",
            "the source name must be 1 to 50 characters",
        )
    if not list_year_ok(year, today):
        lo, hi = LIST_MIN_YEAR, list_max_year(today)
        raise TableError(
            f"名单年度{year}不合理（应在{lo}至{hi}年之间） / list year {year} is not plausible (from {lo} to {hi})",
            f"list year {year} is not plausible (from {lo} to {hi})",
        )
    newest = SourceRecord.objects.filter(source=source).aggregate(newest=Max("year"))["newest"]
    if newest is not None and year < newest:
        # A list older than one already imported would reopen the tags the newer list ended
        # (tags hold until a *later* list of the same source drops them): refuse it.
        raise TableError(
            f"来源“{source}”已导入{newest}年的名单，不能再导入更早的{year}年名单（可用其他来源名称导入历史名单）",
            f"source '{source}' already has a {newest} list; an older {year} list cannot be imported "
            "(import a historical list under another source name)",
        )


def roster_import(
    *,
    path: str | Path,
    source: str,
    year: int | None = None,
    user: Any = None,
    progress: Callable[[int], None] | None = None,
    errors_dir: Path | None = None,
    today: date | None = None,
) -> ImportSummary:
    """导入花名册 Import one source's roster list; returns the summary.

    Raises ``TableError`` (Chinese ``.zh`` and English ``.en``) when the file cannot be read as a
    roster (missing file, wrong type or encoding, missing required column, bad source or year):
    then nothing is written. Invalid rows go to an error report (``.xlsx`` under ``errors_dir``,
    default ``settings.IMPORT_DIR / "errors"``), written only when there are some; the valid rows are
    written in one transaction. ``progress`` receives percentages. ``warnings`` counts unknown
    disease names, one per name per person.
    """
    path = Path(path)
    today = today or timezone.localdate()
    year = year or today.year
    source = source.strip()
    _check_arguments(source, year, today)
    # Millions of small objects live only for this call: the cyclic garbage collector would walk
    # them again and again (it doubled the time of a 1M-row import) and finds nothing to free.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _import(
            path=path,
            source=source,
            year=year,
            user=user,
            progress=progress,
            errors_dir=errors_dir,
            today=today,
        )
    finally:
        if collecting:
            gc.enable()


ERR_OTHER_COUNTY = (
    "此人属于其他县（区），不能由本县名单修改 / this person belongs to another county; "
    "this county's list cannot change them"
)


def _other_counties_refused(checked: Validated, table: Any, *, user: Any, header: str, today: date) -> None:
    """Rows naming a person the registry holds outside the user's region are invalid (S4): a county's
    list must not move another county's resident (matched by ID number) into its villages. One scoped
    query for all the file's ID numbers; the rows are searched only when some are found."""
    ids = checked.unordered.id_number
    if not ids or not Person.objects.exists():
        return
    # The file's IDs as one parameter (an array, a JSON list): a semi-join, not 5000 bound values a query.
    listed = (
        RawSQL("SELECT unnest(%s::text[])", [ids])
        if connection.vendor == "postgresql"
        else RawSQL("SELECT value FROM json_each(%s)", [json.dumps(ids)])
    )
    outside = Person.objects.exclude(code_q(user, "village_id")).filter(id_number__in=listed)
    foreign = set(outside.values_list("id_number", flat=True))
    if not foreign:
        return
    checked.drop([i for i, idn in enumerate(ids) if idn in foreign])
    already = {p.row for p in checked.problems}
    numbers = table.row_numbers
    for i, raw in enumerate(table.columns["id_number"]):
        idn = id_number_checked(raw, today=today)[0] if len(raw) == 15 else raw.upper()  # as validated
        if idn in foreign:
            checked.problems.append(RowProblem(numbers[i], header, raw, ERR_OTHER_COUNTY))
            checked.invalid_rows += numbers[i] not in already
    checked.problems.sort(key=lambda p: p.row)


def _import(
    *,
    path: Path,
    source: str,
    year: int,
    user: Any,
    progress: Callable[[int], None] | None,
    errors_dir: Path | None,
    today: date,
) -> ImportSummary:
    table = read_table(
        path,
        ROSTER_COLUMNS,
        ROSTER_REQUIRED,
        values={"tags": TAG_SYNONYMS},
        accepted={"tags": SOURCE_TAG_VALUES},
    )
    if progress:
        progress(20)
    # A user (the web import) writes only to the villages of their own region; the command line,
    # run by the county's operator, may write to every village in the database.
    village_rows = Region.objects.filter(level=RegionLevel.VILLAGE)
    if user is not None:
        village_rows = village_rows.filter(code_q(user, "code"))
    villages = set(village_rows.values_list("code", flat=True))
    diseases = disease_lookup()
    header_of = {c: table.headers.get(c, ROSTER_COLUMNS[c][0]) for c in ROSTER_COLUMNS}
    header_of_id = header_of["id_number"]
    checked = validate_columns(
        table,
        villages=villages,
        header_of=header_of,
        slow_id=partial(id_number_checked, today=today),
        today=today,
    )
    if user is not None:
        _other_counties_refused(checked, table, user=user, header=header_of_id, today=today)
    # The read columns are no longer needed (the persons' columns share their texts): not held
    # through the load (issue 18 item 9, the worker's peak memory).
    del table
    if progress:
        progress(45)
    persons = checked.unordered  # file order; ``checked.persons`` sorts them by ID when needed
    warnings = _warning_count(persons, diseases)
    summary = ImportSummary(
        rows=checked.rows,
        valid=checked.rows - checked.invalid_rows,
        invalid=checked.invalid_rows,
        warnings=warnings,
    )
    count = len(persons)  # (a fresh PostgreSQL load empties ``persons`` once it has read them)
    if persons:
        result = _load(
            checked,
            source=source,
            year=year,
            today=today,
            user=user,
            reference=path.name[:100],
            diseases=diseases,
            progress=progress,
        )
        summary.created, summary.updated = result.created, result.updated
        summary.unchanged = count - result.created - result.updated
        if result.created or result.updated:
            send_data_changed(kind="roster", years=[year])
    summary.errors_file = error_report(checked.problems, errors_dir, f"roster-{path.stem}-errors")
    if progress:
        progress(100)
    return summary
