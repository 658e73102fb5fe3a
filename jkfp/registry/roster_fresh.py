"""花名册首次导入直写 The fresh load of a roster straight into the registry tables (ADR 0006).

When the registry is empty (no person, household, source record, tag, condition or membership),
every valid person of the file is new and every row the set-based SQL of ``imports._load`` would
write is known in Python: households (village = the smallest village code naming them, numbered in
household-number order), persons (numbered in ID-number order), memberships, source records, tags
and conditions. They are written with reserved IDs (PostgreSQL: a block of the table's sequence;
SQLite: after ``sqlite_sequence``) in key order — PostgreSQL by ``COPY`` straight into the target
tables, SQLite by ``executemany`` — instead of staging tables and joins.

The result is the same database content as the SQL path (a test compares both, table by table).
The caller holds the transaction and has dropped the secondary indexes and (PostgreSQL) foreign keys
of the empty tables; it rebuilds them afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import repeat
from typing import Any

from jkfp.registry.models import (
    SOURCE_TAG_VALUES,
    Condition,
    Household,
    Membership,
    Person,
    SourceRecord,
    Tag,
    VerificationStatus,
)
from jkfp.registry.roster_columns import PersonColumns

_CHUNK = 1 << 20  # characters per COPY write


def _copy_escape(value: str) -> str:
    """COPY text format: backslash, tab, newline and carriage return escaped."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _escaped(column: list[str]) -> list[str]:
    """A column in COPY text form (values without control characters: backslashes doubled)."""
    if "\\" not in "".join(column):
        return column
    return [value.replace("\\", "\\\\") for value in column]


def _reserve(cursor: Any, table: str, count: int, postgres: bool) -> int:
    """The first of ``count`` consecutive new primary keys of ``table``, reserved for this load."""
    if postgres:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        sequence = cursor.fetchone()[0]
        cursor.execute("SELECT nextval(%s)", [sequence])
        first = int(cursor.fetchone()[0])
        if count > 1:
            cursor.execute("SELECT setval(%s, %s)", [sequence, first + count - 1])
        return first
    cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
    row = cursor.fetchone()
    cursor.execute(f'SELECT MAX(id) FROM "{table}"')  # noqa: S608 (a model table name)
    highest = cursor.fetchone()[0]
    return max(int(row[0]) if row else 0, int(highest or 0)) + 1


def _write(
    cursor: Any, table: str, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]], postgres: bool
) -> None:
    """Rows (texts already in COPY form on PostgreSQL: escaped, ``\\N`` for NULL) into ``table``."""
    if postgres:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            buffer: list[str] = []
            size = 0
            for row in rows:
                line = "\t".join(row)
                buffer.append(line)
                size += len(line)
                if size >= _CHUNK:
                    copy.write("\n".join(buffer) + "\n")
                    buffer.clear()
                    size = 0
            if buffer:
                copy.write("\n".join(buffer) + "\n")
        return
    marks = ", ".join(["%s"] * len(columns))
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= 100_000:
            cursor.executemany(f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({marks})', batch)  # noqa: S608 (model names)
            batch.clear()
    if batch:
        cursor.executemany(f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({marks})', batch)  # noqa: S608 (model names)


def _tag_codes(text: str) -> list[tuple[str, bool]]:
    codes: dict[str, bool] = {}
    for value in text.split("、"):
        code, exited = SOURCE_TAG_VALUES[value]
        codes[str(code)] = codes.get(str(code), False) or exited
    return sorted(codes.items())


def fresh_load(
    cursor: Any,
    persons: PersonColumns,
    *,
    postgres: bool,
    source: str,
    year: int,
    now: Any,
    jan1: Any,
    reference: str,
    diseases: dict[str, int],
) -> int:
    """首次导入 Write every person of ``persons`` (sorted by ID) into the empty registry; return the count."""
    n = len(persons)
    ids, names, villages, households, relations, phones, tags, conds = persons.fields()
    if postgres:
        now_s, jan1_s = str(now), str(jan1)
        t, f, null = "t", "f", "\\N"
        source_s, reference_s = _copy_escape(source), _copy_escape(reference)
        year_s: Any = str(year)
        # Validated values hold no control character: only backslashes need escaping, and only
        # in a column that has one.
        names_w, households_w, relations_w, phones_w, conds_w = (
            _escaped(c) for c in (names, households, relations, phones, conds)
        )
    else:
        now_s, jan1_s = now, jan1
        t, f, null = 1, 0, None  # type: ignore[assignment]
        source_s, reference_s = source, reference
        year_s = year
        names_w, households_w, relations_w, phones_w, conds_w = names, households, relations, phones, conds

    # Households: the smallest village code naming each, numbered in household-number order.
    village_of: dict[str, str] = {}
    for number, village in zip(households, villages, strict=True):
        if number:
            seen = village_of.get(number)
            if seen is None or village < seen:
                village_of[number] = village
    numbers = sorted(village_of)
    first_h = _reserve(cursor, Household._meta.db_table, len(numbers), postgres) if numbers else 0
    household_id = {number: first_h + k for k, number in enumerate(numbers)}
    if postgres:
        household_ref = {number: str(pk) for number, pk in household_id.items()}
    else:
        household_ref = dict(household_id)  # type: ignore[arg-type]
    household_ref[""] = null  # type: ignore[assignment]
    _write(
        cursor,
        Household._meta.db_table,
        ("id", "household_no", "village_id", "cadre", "created_at", "head_id"),
        (
            (
                household_ref[number],
                _copy_escape(number) if postgres else number,
                village_of[number],
                "",
                now_s,
                null,
            )
            for number in numbers
        ),
        postgres,
    )

    first_p = _reserve(cursor, Person._meta.db_table, n, postgres)
    person_ids: list[Any] = list(range(first_p, first_p + n))
    if postgres:
        person_ids = list(map(str, person_ids))
    pending = VerificationStatus.PENDING.value
    hh_refs = [household_ref[h] for h in households]

    def person_rows() -> Iterator[tuple[Any, ...]]:
        for pk, idn, name, village, hh, relation, phone in zip(
            person_ids, ids, names_w, villages, hh_refs, relations_w, phones_w, strict=True
        ):
            yield (
                pk,
                idn,
                name,
                "M" if idn[16] in "13579" else "F",
                f"{idn[6:10]}-{idn[10:12]}-{idn[12:14]}",
                phone,
                village,
                hh,
                relation,
                "home",
                null,
                pending,
                null,
                null,
                "",
                f,
                now_s,
                now_s,
            )

    _write(
        cursor,
        Person._meta.db_table,
        (
            "id",
            "id_number",
            "name",
            "sex",
            "birth_date",
            "phone",
            "village_id",
            "household_id",
            "relation",
            "living_status",
            "death_on",
            "verification_status",
            "verified_on",
            "verified_by_id",
            "verification_note",
            "outside_systems",
            "created_at",
            "updated_at",
        ),
        person_rows(),
        postgres,
    )

    with_household = [k for k, h in enumerate(households) if h]
    if with_household:
        first_m = _reserve(cursor, Membership._meta.db_table, len(with_household), postgres)
        membership_ids = range(first_m, first_m + len(with_household))
        _write(
            cursor,
            Membership._meta.db_table,
            ("id", "person_id", "household_id", "relation", "start_on", "end_on"),
            (
                (str(m) if postgres else m, person_ids[k], hh_refs[k], relations_w[k], jan1_s, null)
                for m, k in zip(membership_ids, with_household, strict=True)
            ),
            postgres,
        )

    first_r = _reserve(cursor, SourceRecord._meta.db_table, n, postgres)
    record_ids: Iterable[Any] = range(first_r, first_r + n)
    if postgres:
        record_ids = map(str, record_ids)
    _write(
        cursor,
        SourceRecord._meta.db_table,
        (
            "id",
            "person_id",
            "source",
            "year",
            "name",
            "village_code",
            "household_no",
            "relation",
            "tags",
            "conditions",
            "phone",
            "active",
            "first_seen_at",
            "last_seen_at",
        ),
        (
            (
                rid,
                pk,
                source_s,
                year_s,
                name,
                village,
                hh,
                relation,
                tg,
                cd,
                phone,
                t,
                now_s,
                now_s,
            )
            for rid, pk, name, village, hh, relation, tg, cd, phone in zip(
                record_ids,
                person_ids,
                names_w,
                villages,
                households_w,
                relations_w,
                tags,
                conds_w,
                phones_w,
                strict=True,
            )
        ),
        postgres,
    )

    parsed_tags = {text: _tag_codes(text) for text in set(tags) if text}
    tag_rows = [
        (pk, code, exited)
        for pk, text in zip(person_ids, tags, strict=True)
        if text
        for code, exited in parsed_tags[text]
    ]
    if tag_rows:
        first_t = _reserve(cursor, Tag._meta.db_table, len(tag_rows), postgres)
        _write(
            cursor,
            Tag._meta.db_table,
            ("id", "person_id", "code", "start_on", "end_on", "exited", "source", "reference", "subtype"),
            (
                (
                    str(first_t + k) if postgres else first_t + k,
                    pk,
                    code,
                    jan1_s,
                    null,
                    t if exited else f,
                    source_s,
                    reference_s,
                    "",
                )
                for k, (pk, code, exited) in enumerate(tag_rows)
            ),
            postgres,
        )

    disease_ref: dict[str, Any] = {}
    cond_rows: list[tuple[Any, str, str]] = []  # (person, name, name as written)
    for pk, text, written in zip(person_ids, conds, conds_w, strict=True):
        if text:
            cond_rows.extend(zip(repeat(pk), text.split("、"), written.split("、")))
    if cond_rows:
        first_c = _reserve(cursor, Condition._meta.db_table, len(cond_rows), postgres)

        def disease(name: str) -> Any:
            ref = disease_ref.get(name)
            if ref is None and name not in disease_ref:
                pk = diseases.get(name)
                ref = disease_ref[name] = null if pk is None else (str(pk) if postgres else pk)
            return ref

        _write(
            cursor,
            Condition._meta.db_table,
            ("id", "person_id", "disease_id", "name", "source", "diagnosed_on"),
            (
                (str(first_c + k) if postgres else first_c + k, pk, disease(name), name_w, source_s, null)
                for k, (pk, name, name_w) in enumerate(cond_rows)
            ),
            postgres,
        )
    return n
