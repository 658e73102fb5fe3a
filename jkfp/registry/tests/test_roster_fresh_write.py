"""花名册首次导入的外键 A fresh load verifies every foreign key before it commits (ADR 0006).

On SQLite a fresh load outside a caller's transaction inserts with ``PRAGMA foreign_keys = OFF`` and
checks the keys of the six registry tables set-based before the commit (``_sqlite_check_keys``); on
PostgreSQL the foreign keys are dropped for the load and re-added (each checked in one pass). Both
must refuse a dangling reference (nothing written) and write, outside a transaction, exactly what a
load inside one (keys checked row by row) writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from jkfp.core import bulkdb
from jkfp.registry import imports
from jkfp.registry.models import Condition, Household, Membership, Person, SourceRecord, Tag
from jkfp.registry.roster_columns import validate_columns
from jkfp.registry.services import disease_catalogue_load
from jkfp.registry.synthetic import write_roster
from jkfp.registry.tests.test_roster_fast import TODAY, VILLAGES, _clear, _lists, _run

_NOWHERE = "421321009009"  # a village code with no region


def _counts() -> list[int]:
    return [m.objects.count() for m in (Person, Household, Membership, SourceRecord, Tag, Condition)]


def _foreign_keys_on() -> bool:
    if connection.vendor != "sqlite":
        return True
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA foreign_keys")
        return bool(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("direct", [False, True])
def test_a_fresh_load_refuses_a_dangling_reference_and_writes_nothing(
    county: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, direct: bool
) -> None:
    # Validation is told that a village without a region exists: the only guard left is the
    # database's check of the foreign key person.village → region.
    disease_catalogue_load()
    monkeypatch.setattr(imports, "DIRECT_FRESH_LOAD", frozenset({connection.vendor} if direct else ()))
    validate = validate_columns

    def lenient(*args: Any, villages: set[str], **kwargs: Any) -> Any:
        return validate(*args, villages=villages | {_NOWHERE}, **kwargs)

    monkeypatch.setattr(imports, "validate_columns", lenient)
    checks: list[list[str]] = []
    check = bulkdb.sqlite_check_keys

    def counted(cursor: Any, tables: list[str]) -> None:
        checks.append(tables)
        check(cursor, tables)

    monkeypatch.setattr(bulkdb, "sqlite_check_keys", counted)
    roster = write_roster(tmp_path / "r.csv", rows=200, villages=[*sorted(VILLAGES), _NOWHERE], seed=4)
    assert not connection.in_atomic_block
    with pytest.raises(IntegrityError):
        imports.roster_import(
            path=roster.path, source="国家平台", year=2024, today=TODAY, errors_dir=tmp_path
        )
    assert _counts() == [0, 0, 0, 0, 0, 0]
    assert _foreign_keys_on()
    # SQLite: found by the set-based check (keys were off); PostgreSQL: by re-adding the key.
    assert len(checks) == (connection.vendor == "sqlite")
    # The same list without the unknown village loads.
    monkeypatch.setattr(imports, "validate_columns", validate)
    summary = imports.roster_import(
        path=roster.path, source="国家平台", year=2024, today=TODAY, errors_dir=tmp_path
    )
    assert summary.created > 0 and summary.invalid > 0
    assert not Person.objects.filter(village_id=_NOWHERE).exists()
    assert _foreign_keys_on()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("direct", [False, True])
def test_a_fresh_load_outside_a_transaction_writes_what_one_inside_writes(
    county: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, direct: bool
) -> None:
    disease_catalogue_load()
    monkeypatch.setattr(imports, "DIRECT_FRESH_LOAD", frozenset({connection.vendor} if direct else ()))
    steps = _lists(tmp_path, 6)[:3]  # fresh, the same list again, a later year's changed list
    outside = _run(steps, tmp_path)
    assert _foreign_keys_on()
    _clear()
    with transaction.atomic():  # keys stay on: checked by the database row by row
        inside = _run(steps, tmp_path)
    assert outside[0][1]["persons"] and outside[0][1]["tags"] and outside[0][1]["memberships"]
    assert outside == inside


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite check (PostgreSQL re-adds its keys)")
@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        ("SR", "person_id", 10**9),  # integer key, contiguous parent: the range test
        ("SR", "person_id", "abc"),  # a text in an integer column refers to nothing
        ("TG", "person_id", 1.5),  # inside the range, yet no integer
        ("M", "person_id", 0),
        ("P", "household_id", 10**9),
        ("P", "village_id", _NOWHERE),  # text key: the look-up
        ("C", "disease_id", 10**9),
    ],
)
def test_the_sqlite_key_check_finds_every_kind_of_dangling_reference(
    county: Any, tmp_path: Path, table: str, column: str, value: Any
) -> None:
    disease_catalogue_load()
    roster = write_roster(tmp_path / "r.csv", rows=60, villages=sorted(VILLAGES), seed=2, invalid_rate=0)
    imports.roster_import(path=roster.path, source="国家平台", year=2024, today=TODAY, errors_dir=tmp_path)
    tables = [imports._T[k] for k in ("P", "H", "SR", "TG", "C", "M")]
    with connection.cursor() as cursor:
        bulkdb.sqlite_check_keys(cursor, tables)  # everything holds
        # Keys are deferred inside the test's transaction: the bad row goes in until the check
        # (and goes again with the savepoint).
        undo = transaction.savepoint()
        cursor.execute(
            f"UPDATE {imports._T[table]} SET {column} = %s WHERE id = (SELECT MAX(id) FROM {imports._T[table]})",  # noqa: S608
            [value],
        )
        with pytest.raises(IntegrityError, match=column):
            bulkdb.sqlite_check_keys(cursor, tables)
        transaction.savepoint_rollback(undo)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite check (PostgreSQL re-adds its keys)")
def test_the_sqlite_key_check_looks_up_keys_when_the_parent_has_gaps(county: Any, tmp_path: Path) -> None:
    disease_catalogue_load()
    roster = write_roster(tmp_path / "r.csv", rows=60, villages=sorted(VILLAGES), seed=2, invalid_rate=0)
    imports.roster_import(path=roster.path, source="国家平台", year=2024, today=TODAY, errors_dir=tmp_path)
    tables = [imports._T[k] for k in ("P", "H", "SR", "TG", "C", "M")]
    middle = Person.objects.order_by("id").values_list("id", flat=True)[10]
    with connection.cursor() as cursor:
        undo = transaction.savepoint()
        # A gap in persons inside the range of the references: only a look-up can see it.
        cursor.execute(f"DELETE FROM {imports._T['P']} WHERE id = %s", [middle])  # noqa: S608
        with pytest.raises(IntegrityError, match="person_id"):
            bulkdb.sqlite_check_keys(cursor, tables)
        transaction.savepoint_rollback(undo)
