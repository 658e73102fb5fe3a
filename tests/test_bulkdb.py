"""数据库机制 ``core.bulkdb`` on its own, on SQLite and on PostgreSQL (whichever the suite runs on):
binary COPY in and out, indexes and foreign keys dropped and rebuilt identically, reserved ids,
set-based updates, the SQLite key check, COPY text escaping."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from jkfp.core import bulkdb
from jkfp.regions.models import Region, RegionLevel
from jkfp.registry.models import Household, Person, Tag

pytestmark = pytest.mark.django_db

TABLES = [Person._meta.db_table, Tag._meta.db_table, Household._meta.db_table]


def _schema() -> list[Any]:
    """The indexes and foreign keys of ``TABLES`` as the catalogue defines them."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                "WHERE indrelid = ANY(%s::regclass[]) ORDER BY 1",
                [TABLES],
            )
            indexes = cursor.fetchall()
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
                "WHERE conrelid = ANY(%s::regclass[]) ORDER BY 1",
                [TABLES],
            )
            return [indexes, cursor.fetchall()]
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN (%s, %s, %s) ORDER BY name",
            TABLES,
        )
        return [cursor.fetchall()]


def test_detach_and_restore_leave_the_schema_as_it_was() -> None:
    before = _schema()
    with transaction.atomic(), connection.cursor() as cursor:
        restore = bulkdb.detach(cursor, TABLES)
        assert restore, "secondary indexes (and PostgreSQL foreign keys) were dropped"
        assert _schema() != before
        assert all(s.upper().startswith(("CREATE", "ALTER TABLE")) for s in restore)
        # indexes first, then the keys (each validated by one join once the rows are in)
        kinds = [s.upper().startswith("ALTER TABLE") for s in restore]
        assert kinds == sorted(kinds)
        bulkdb.restore(cursor, restore)
    assert _schema() == before


def test_detach_keeps_what_it_is_told_to_keep_and_unique_indexes() -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        every = bulkdb.detach(cursor, TABLES)
        bulkdb.restore(cursor, every)
        indexes = [s for s in every if not s.upper().startswith("ALTER TABLE")]
        assert not any(s.upper().startswith("CREATE UNIQUE") for s in indexes)
        kept = bulkdb.detach(cursor, TABLES, keep={(Tag._meta.db_table, ("person_id", "code"))})
        bulkdb.restore(cursor, kept)
    if connection.vendor == "sqlite":
        assert len(kept) == len(every) - 1
    else:  # ``keep`` is SQLite's (appending in order beats a rebuild there only)
        assert kept == every


def test_reserved_ids_are_consecutive_and_unused() -> None:
    county = Region.objects.create(code="421321", name="县", level=RegionLevel.COUNTY)
    Household.objects.create(household_no="H1", village=county)
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    with transaction.atomic(), connection.cursor() as cursor:
        first = bulkdb.reserve_ids(cursor, Household._meta.db_table, 5)
        assert first > Household.objects.get().pk
        bulkdb.insert_many(
            cursor,
            Household._meta.db_table,
            ("id", "household_no", "village_id", "cadre", "created_at"),
            ((first + k, f"R{k}", county.code, "", stamp) for k in range(5)),
            chunk=2,
        )
    assert sorted(Household.objects.values_list("pk", flat=True))[1:] == list(range(first, first + 5))
    made = Household.objects.create(household_no="H2", village=county)
    assert made.pk > first + 4


def test_update_by_ids_and_table_is_empty() -> None:
    county = Region.objects.create(code="421321", name="县", level=RegionLevel.COUNTY)
    rows = [Household.objects.create(household_no=f"H{k}", village=county) for k in range(7)]
    with connection.cursor() as cursor:
        assert not bulkdb.table_is_empty(cursor, Household._meta.db_table)
        assert bulkdb.table_is_empty(cursor, Tag._meta.db_table)
    with transaction.atomic():
        bulkdb.update_by_ids(
            Household._meta.db_table,
            "household_no = household_no || %s",
            ["X"],
            [r.pk for r in rows[::2]],
            "t_ids",
        )
    assert sorted(Household.objects.filter(household_no__endswith="X").values_list("pk", flat=True)) == [
        r.pk for r in rows[::2]
    ]


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="binary COPY is PostgreSQL's")
def test_binary_copy_in_and_out_round_trip() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(-(2**62), 2**62, 70_000)
    b = rng.integers(0, 10, 70_000)
    with transaction.atomic(), connection.cursor() as cursor:
        bulkdb.temp_int64_table(cursor, "t_round", ("a", "b"))
        bulkdb.copy_int64_in(cursor, "t_round", ("a", "b"), [a, b])
        data = bulkdb.copy_out(
            cursor,
            "COPY (SELECT array_agg(a ORDER BY a), array_agg(b ORDER BY a), string_agg(b::text, '' ORDER BY a) "
            "FROM t_round GROUP BY b % 3 ORDER BY b % 3) TO STDOUT (FORMAT BINARY)",
            [],
        )
    matrix, text = bulkdb.int64_arrays_from_copy(data, 2)
    order = np.lexsort((a, b % 3))
    assert np.array_equal(matrix[:, 0], a[order]) and np.array_equal(matrix[:, 1], b[order])
    assert text == "".join(map(str, b[order].tolist())).encode()


@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="PostgreSQL re-adds its keys instead")
def test_sqlite_key_check_finds_a_dangling_reference() -> None:
    county = Region.objects.create(code="421321", name="县", level=RegionLevel.COUNTY)
    Household.objects.create(household_no="H1", village=county)
    with connection.cursor() as cursor:
        bulkdb.sqlite_check_keys(cursor, [Household._meta.db_table])
        cursor.execute("PRAGMA defer_foreign_keys = ON")
        with pytest.raises(IntegrityError), transaction.atomic():  # noqa: PT012 (the block is the one operation under test)
            cursor.execute(f'UPDATE "{Household._meta.db_table}" SET village_id = %s', ["999999"])  # noqa: S608
            bulkdb.sqlite_check_keys(cursor, [Household._meta.db_table])


def test_copy_escape() -> None:
    assert bulkdb.copy_escape("plain 文字") == "plain 文字"
    assert bulkdb.copy_escape("a\\b\tc\nd\re") == "a\\\\b\\tc\\nd\\re"


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="JIT is PostgreSQL's")
def test_jit_is_off_for_the_app_and_on_for_the_aggregates_only() -> None:
    """``JKFP_PG_JIT`` (default off) turns JIT off in the connection options; ``jit_for_aggregates`` turns it
    on for its statements and off again after, also when they fail."""

    def jit() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW jit")
            return str(cursor.fetchone()[0])

    assert jit() == "off"
    with bulkdb.jit_for_aggregates():
        assert jit() == "on"
    assert jit() == "off"

    def failing() -> None:
        with bulkdb.jit_for_aggregates():
            assert jit() == "on"
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        failing()
    assert jit() == "off"
