"""花名册首次导入直写 The fresh load of a roster straight into the registry tables (ADR 0006).

When the registry is empty (no person, household, source record, tag, condition or membership),
every valid person of the file is new and every row the set-based SQL of ``imports._load`` would
write is known in Python: households (village = the smallest village code naming them, numbered in
household-number order), persons (numbered in ID-number order), memberships, source records, tags
and conditions. They are written with reserved IDs (PostgreSQL: a block of the table's sequence;
SQLite: after ``sqlite_sequence``) in key order — PostgreSQL by ``COPY`` straight into the target
tables (``fresh_load_pg``: polars builds each table's COPY text, in a second thread, while the server
reads the previous table), SQLite by ``executemany`` (``fresh_load``, used where ``DIRECT_FRESH_LOAD``
names SQLite: by default the staging path is faster there) — instead of staging tables and joins.

The result is the same database content as the SQL path (a test compares both, table by table).
The caller holds the transaction and has dropped the secondary indexes and (PostgreSQL) foreign keys
of the empty tables; it rebuilds them afterwards.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat
from typing import Any

import numpy as np
import polars as pl

from jkfp.core import bulkdb
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
    source: str,
    year: int,
    now: Any,
    jan1: Any,
    reference: str,
    diseases: dict[str, int],
) -> int:
    """首次导入 (SQLite) Write every person of ``persons`` (sorted by ID) into the empty registry; return the count."""
    n = len(persons)
    ids, names, villages, households, relations, phones, tags, conds = persons.fields()

    # Households: the smallest village code naming each, numbered in household-number order.
    village_of: dict[str, str] = {}
    for number, village in zip(households, villages, strict=True):
        if number:
            seen = village_of.get(number)
            if seen is None or village < seen:
                village_of[number] = village
    numbers = sorted(village_of)
    first_h = bulkdb.reserve_ids(cursor, Household._meta.db_table, len(numbers)) if numbers else 0
    household_ref: dict[str, int | None] = {number: first_h + k for k, number in enumerate(numbers)}
    household_ref[""] = None
    bulkdb.insert_many(
        cursor,
        Household._meta.db_table,
        ("id", "household_no", "village_id", "cadre", "created_at", "head_id"),
        ((household_ref[number], number, village_of[number], "", now, None) for number in numbers),
    )

    first_p = bulkdb.reserve_ids(cursor, Person._meta.db_table, n)
    person_ids = range(first_p, first_p + n)
    pending = VerificationStatus.PENDING.value
    hh_refs = [household_ref[h] for h in households]

    def person_rows() -> Iterator[tuple[Any, ...]]:
        for pk, idn, name, village, hh, relation, phone in zip(
            person_ids, ids, names, villages, hh_refs, relations, phones, strict=True
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
                None,
                pending,
                None,
                None,
                "",
                0,
                now,
                now,
            )

    bulkdb.insert_many(
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
    )

    with_household = [k for k, h in enumerate(households) if h]
    if with_household:
        first_m = bulkdb.reserve_ids(cursor, Membership._meta.db_table, len(with_household))
        bulkdb.insert_many(
            cursor,
            Membership._meta.db_table,
            ("id", "person_id", "household_id", "relation", "start_on", "end_on"),
            (
                (m, person_ids[k], hh_refs[k], relations[k], jan1, None)
                for m, k in zip(range(first_m, first_m + len(with_household)), with_household, strict=True)
            ),
        )

    first_r = bulkdb.reserve_ids(cursor, SourceRecord._meta.db_table, n)
    bulkdb.insert_many(
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
            (rid, pk, source, year, name, village, hh, relation, tg, cd, phone, 1, now, now)
            for rid, pk, name, village, hh, relation, tg, cd, phone in zip(
                range(first_r, first_r + n),
                person_ids,
                names,
                villages,
                households,
                relations,
                tags,
                conds,
                phones,
                strict=True,
            )
        ),
    )

    parsed_tags = {text: _tag_codes(text) for text in set(tags) if text}
    tag_rows = [
        (pk, code, exited)
        for pk, text in zip(person_ids, tags, strict=True)
        if text
        for code, exited in parsed_tags[text]
    ]
    if tag_rows:
        first_t = bulkdb.reserve_ids(cursor, Tag._meta.db_table, len(tag_rows))
        bulkdb.insert_many(
            cursor,
            Tag._meta.db_table,
            ("id", "person_id", "code", "start_on", "end_on", "exited", "source", "reference", "subtype"),
            (
                (first_t + k, pk, code, jan1, None, 1 if exited else 0, source, reference, "")
                for k, (pk, code, exited) in enumerate(tag_rows)
            ),
        )

    cond_rows: list[tuple[int, str]] = []  # (person, disease name as written)
    for pk, text in zip(person_ids, conds, strict=True):
        if text:
            cond_rows.extend(zip(repeat(pk), text.split("、")))
    if cond_rows:
        first_c = bulkdb.reserve_ids(cursor, Condition._meta.db_table, len(cond_rows))
        bulkdb.insert_many(
            cursor,
            Condition._meta.db_table,
            ("id", "person_id", "disease_id", "name", "source", "diagnosed_on"),
            (
                (first_c + k, pk, diseases.get(name), name, source, None)
                for k, (pk, name) in enumerate(cond_rows)
            ),
        )
    return n


# ---------------------------------------------------------------------------------------------
# PostgreSQL: each table's COPY text built by polars
# ---------------------------------------------------------------------------------------------

_FIELDS = ("id_number", "name", "village_code", "household_no", "relation", "phone", "tags", "conditions")
_SPECIAL = ("\\", "\t", "\n", "\r")  # what COPY text format escapes (backslash first)


def _needs_escape(column: list[str]) -> bool:
    joined = "".join(column)
    return any(char in joined for char in _SPECIAL)


def _text(column: str) -> pl.Expr:
    """A text column in COPY text form: backslash, tab, newline and carriage return escaped."""
    expr = pl.col(column)
    for char, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        expr = expr.str.replace_all(char, escaped, literal=True)
    return expr


def _copy_text(frame: pl.DataFrame) -> memoryview:
    """The rows of ``frame`` in COPY text format (``\\N`` for NULL; texts escaped by the caller)."""
    buffer = io.BytesIO()
    frame.write_csv(
        buffer,
        separator="\t",
        line_terminator="\n",
        quote_style="never",
        null_value="\\N",
        include_header=False,
    )
    return buffer.getbuffer()


def _range(first: int, count: int) -> pl.Series:
    return pl.Series(np.arange(first, first + count, dtype=np.int64))


def fresh_load_pg(
    cursor: Any,
    unordered: PersonColumns,
    order: np.ndarray,
    *,
    source: str,
    year: int,
    now: Any,
    jan1: Any,
    reference: str,
    diseases: dict[str, int],
) -> int:
    """首次导入 (PostgreSQL) The persons of ``unordered`` (file order; ``order`` sorts them by ID) into the
    empty registry by ``COPY``; return the count. The same rows as ``fresh_load``.

    The row counts (hence the reserved IDs) follow from a few counts in Python; polars then gathers
    the columns in ID order, derives every column and writes each table's COPY text, in a second
    thread: the next table's text is built while the server reads the current one (households
    first: they need neither the ID order nor the persons).
    """
    n = len(unordered)
    villages, households, tags, conds = (
        unordered.village_code,
        unordered.household_no,
        unordered.tags,
        unordered.conditions,
    )
    parsed_tags = {text: _tag_codes(text) for text in set(tags) if text}
    tag_count = sum(len(parsed_tags[text]) * k for text, k in Counter(tags).items() if text)
    cond_count = sum(len(text.split("、")) * k for text, k in Counter(conds).items() if text)
    household_count = len(set(households) - {""})
    member_count = n - households.count("")
    first_h, first_p, first_m, first_r, first_t, first_c = (
        bulkdb.reserve_ids(cursor, model._meta.db_table, count) if count else 0
        for model, count in (
            (Household, household_count),
            (Person, n),
            (Membership, member_count),
            (SourceRecord, n),
            (Tag, tag_count),
            (Condition, cond_count),
        )
    )

    now_s, jan1_s = str(now), str(jan1)
    source_w, reference_w = bulkdb.copy_escape(source), bulkdb.copy_escape(reference)
    null = pl.lit(None, dtype=pl.String)
    # Validated values hold no control character, so only a backslash may need escaping: the
    # escaped form (``*_w``) is computed only for a column that holds one.
    escape = {
        name: _needs_escape(getattr(unordered, name))
        for name in ("name", "household_no", "relation", "phone", "conditions")
    }

    def written(name: str) -> pl.Expr:
        return (_text(name) if escape[name] else pl.col(name)).alias(name + "_w")

    done: dict[str, pl.DataFrame] = {}

    def household_table() -> pl.DataFrame:
        # The smallest village code naming each household, numbered in household-number order.
        frame = (
            pl.DataFrame(
                {
                    "household_no": pl.Series(households, dtype=pl.String),
                    "village_code": pl.Series(villages, dtype=pl.String),
                }
            )
            .lazy()
            .filter(pl.col("household_no") != "")
            .group_by("household_no")
            .agg(pl.col("village_code").min())
            .sort("household_no")
            .collect()
        )
        if frame.height != household_count:
            raise RuntimeError("household count changed")
        frame = frame.with_columns(_range(first_h, household_count).alias("household_id"))
        done["households"] = frame.select("household_no", "household_id")
        return frame.select(
            pl.col("household_id").alias("id"),
            written("household_no").alias("household_no"),
            pl.col("village_code").alias("village_id"),
            pl.lit("").alias("cadre"),
            pl.lit(now_s).alias("created_at"),
            null.alias("head_id"),
        )

    def person_table() -> pl.DataFrame:
        people = pl.DataFrame(
            {
                name: pl.Series(name, column, dtype=pl.String)
                for name, column in zip(_FIELDS, unordered.fields(), strict=True)
            }
        )[np.asarray(order, dtype=np.int64)]
        people = people.with_columns(
            _range(first_p, n).alias("pk"),
            *(written(c) for c in ("name", "household_no", "relation", "phone", "conditions")),
        ).join(done["households"], on="household_no", how="left", maintain_order="left")
        done["people"] = people
        idn = pl.col("id_number")
        return people.select(
            pl.col("pk").alias("id"),
            "id_number",
            pl.col("name_w").alias("name"),
            pl.when(idn.str.slice(16, 1).is_in(["1", "3", "5", "7", "9"]))
            .then(pl.lit("M"))
            .otherwise(pl.lit("F"))
            .alias("sex"),
            pl.concat_str(
                idn.str.slice(6, 4), idn.str.slice(10, 2), idn.str.slice(12, 2), separator="-"
            ).alias("birth_date"),
            pl.col("phone_w").alias("phone"),
            pl.col("village_code").alias("village_id"),
            "household_id",
            pl.col("relation_w").alias("relation"),
            pl.lit("home").alias("living_status"),
            null.alias("death_on"),
            pl.lit(VerificationStatus.PENDING.value).alias("verification_status"),
            null.alias("verified_on"),
            null.alias("verified_by_id"),
            pl.lit("").alias("verification_note"),
            pl.lit("f").alias("outside_systems"),
            pl.lit(now_s).alias("created_at"),
            pl.lit(now_s).alias("updated_at"),
        )

    def membership_table() -> pl.DataFrame:
        members = done["people"].filter(pl.col("household_id").is_not_null())
        if members.height != member_count:
            raise RuntimeError("membership count changed")
        return members.select(
            _range(first_m, member_count).alias("id"),
            pl.col("pk").alias("person_id"),
            "household_id",
            pl.col("relation_w").alias("relation"),
            pl.lit(jan1_s).alias("start_on"),
            null.alias("end_on"),
        )

    def record_table() -> pl.DataFrame:
        return done["people"].select(
            _range(first_r, n).alias("id"),
            pl.col("pk").alias("person_id"),
            pl.lit(source_w).alias("source"),
            pl.lit(year).alias("year"),
            pl.col("name_w").alias("name"),
            "village_code",
            pl.col("household_no_w").alias("household_no"),
            pl.col("relation_w").alias("relation"),
            "tags",
            pl.col("conditions_w").alias("conditions"),
            pl.col("phone_w").alias("phone"),
            pl.lit("t").alias("active"),
            pl.lit(now_s).alias("first_seen_at"),
            pl.lit(now_s).alias("last_seen_at"),
        )

    def tag_table() -> pl.DataFrame:
        texts = pl.DataFrame(
            [
                (text, code, "t" if exited else "f")
                for text, codes in parsed_tags.items()
                for code, exited in codes
            ],
            schema={"tags": pl.String, "code": pl.String, "exited": pl.String},
            orient="row",
        )
        rows = (
            done["people"]
            .lazy()
            .select("pk", "tags")
            .filter(pl.col("tags") != "")
            .join(texts.lazy(), on="tags", how="inner")
            .sort("pk", "code")
            .collect()
        )
        if rows.height != tag_count:
            raise RuntimeError("tag count changed")
        return rows.select(
            _range(first_t, tag_count).alias("id"),
            pl.col("pk").alias("person_id"),
            "code",
            pl.lit(jan1_s).alias("start_on"),
            null.alias("end_on"),
            "exited",
            pl.lit(source_w).alias("source"),
            pl.lit(reference_w).alias("reference"),
            pl.lit("").alias("subtype"),
        )

    def condition_table() -> pl.DataFrame:
        # One per (person, disease name), in the person's order and the text's order.
        known = pl.DataFrame(
            {"conditions": list(diseases), "disease_id": list(diseases.values())},
            schema={"conditions": pl.String, "disease_id": pl.Int64},
        )
        rows = (
            done["people"]
            .lazy()
            .select("pk", "conditions", "conditions_w")
            .filter(pl.col("conditions") != "")
            .with_columns(pl.col("conditions").str.split("、"), pl.col("conditions_w").str.split("、"))
            .explode("conditions", "conditions_w")
            .collect()
            .join(known, on="conditions", how="left", maintain_order="left")
        )
        if rows.height != cond_count:
            raise RuntimeError("condition count changed")
        return rows.select(
            _range(first_c, cond_count).alias("id"),
            pl.col("pk").alias("person_id"),
            "disease_id",
            pl.col("conditions_w").alias("name"),
            pl.lit(source_w).alias("source"),
            null.alias("diagnosed_on"),
        )

    tables = [
        (Household._meta.db_table, household_table),
        (Person._meta.db_table, person_table),
        (Membership._meta.db_table, membership_table),
        (SourceRecord._meta.db_table, record_table),
        (Tag._meta.db_table, tag_table),
        (Condition._meta.db_table, condition_table),
    ]

    def build(make: Any) -> tuple[list[str], memoryview]:
        frame = make()
        return frame.columns, _copy_text(frame)

    pool = ThreadPoolExecutor(max_workers=1)
    try:
        # One thread builds the next table's text while the server reads the current one — only the
        # next: texts built further ahead would all be held at once (a million persons' source
        # records and persons are some 200 MB of text each; issue 18 item 9 measures the peak).
        building = pool.submit(build, tables[0][1])
        for k, (table, _) in enumerate(tables):
            columns, data = building.result()
            if k + 1 < len(tables):
                building = pool.submit(build, tables[k + 1][1])
            if len(data):
                bulkdb.copy_text_in(
                    cursor,
                    table,
                    columns,
                    (data[start : start + _CHUNK] for start in range(0, len(data), _CHUNK)),
                )
            del columns, data  # each text is freed once sent
    finally:
        pool.shutdown(cancel_futures=True)  # after an error: no more texts built for nothing
    return n
