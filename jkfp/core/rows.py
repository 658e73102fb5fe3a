"""单行写入 Insert one model row with one hand-written statement (hot paths: API settlement, audit).

Building an ORM ``INSERT`` costs ≈ 0.5 ms of Python per row on this machine class; this writes the
same row with one ``INSERT … RETURNING`` whose values are prepared by the model fields themselves
(``pre_save`` + ``get_db_prep_save``, as the ORM does), so the stored values are identical. No
``pre_save``/``post_save`` signals are sent: use it only for models nothing listens to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Field, Model

# (model label, database, SQL-given columns and their SQL, returning) → (statement, fields): built once per process.
_SHAPES: dict[tuple[Any, ...], tuple[str, list[Field[Any, Any]]]] = {}


def insert_statement(
    obj: Model,
    *,
    sql: dict[str, tuple[str, list[Any]]] | None = None,
    returning: tuple[str, ...] = (),
    using: str = DEFAULT_DB_ALIAS,
) -> tuple[str, list[Any]]:
    """The ``INSERT … RETURNING pk, *returning`` of ``obj`` and its parameters (see ``insert_returning``)."""
    connection = connections[using]
    meta = obj._meta
    special = sql or {}
    key = (meta.label, using, tuple((name, expr) for name, (expr, _) in special.items()), returning)
    shape = _SHAPES.get(key)
    if shape is None:
        qn = connection.ops.quote_name
        fields = [f for f in meta.concrete_fields if not f.primary_key]
        cols = ", ".join(qn(f.column) for f in fields)
        marks = ", ".join(special[f.attname][0] if f.attname in special else "%s" for f in fields)
        back = ", ".join(qn(c) for c in (meta.pk.column, *returning))
        statement = f"INSERT INTO {qn(meta.db_table)} ({cols}) VALUES ({marks}) RETURNING {back}"  # noqa: S608 (names from the model)
        shape = _SHAPES[key] = (statement, fields)
    statement, fields = shape
    params: list[Any] = []
    for f in fields:
        if f.attname in special:
            params.extend(special[f.attname][1])
        else:
            params.append(f.get_db_prep_save(f.pre_save(obj, True), connection))
    return statement, params


def inserted(obj: Model, got: tuple[Any, ...], *, using: str = DEFAULT_DB_ALIAS) -> tuple[Any, ...]:
    """Mark ``obj`` stored with the row ``got`` read back by its ``insert_statement``; returns the
    further columns."""
    obj.pk = got[0]
    obj._state.adding = False
    obj._state.db = using
    return tuple(got[1:])


def insert_returning(
    obj: Model,
    *,
    sql: dict[str, tuple[str, list[Any]]] | None = None,
    returning: tuple[str, ...] = (),
    using: str = DEFAULT_DB_ALIAS,
) -> tuple[Any, ...]:
    """Insert ``obj`` and set its pk. ``sql`` gives some columns as SQL expressions with their own
    parameters (``{attname: (sql, params)}``, e.g. a sub-select); ``returning`` names further
    columns to read back: their raw values are returned, in order.

    Inside ``batched_writes`` the row is written when the batch ends (its pk is set then) and
    nothing is returned."""
    statement, params = insert_statement(obj, sql=sql, returning=returning, using=using)
    batch: list[_Queued] | None = getattr(connections[using], BATCH_ATTR, None)
    if batch is not None:
        batch.append((statement, params, lambda got: inserted(obj, got, using=using)))
        return ()
    with connections[using].cursor() as cursor:
        cursor.execute(statement, params)
        got = cursor.fetchone()
    return inserted(obj, got, using=using)


# --------------------------------------------------------------------------- fewer round trips
# Every statement is a network round trip: on a small shared server each costs ≈ 0.3–0.5 ms of
# CPU (client and server) besides the statement itself. On PostgreSQL, statements that do not
# depend on each other's results go as ONE multi-statement simple query (psycopg's client-side
# binding, Django's default): each statement still runs on its own (own snapshot under READ
# COMMITTED, as if sent one after the other; the first error stops the rest and aborts the
# transaction). Other backends run them one by one.

BATCH_ATTR = "jkfp_write_batch"
_Queued = tuple[str, list[Any], Callable[[tuple[Any, ...]], object] | None]


def _one_query(using: str) -> bool:
    """PostgreSQL with client-side binding (a server-side bound query holds one statement only)."""
    connection = connections[using]
    return connection.vendor == "postgresql" and not connection.settings_dict["OPTIONS"].get(
        "server_side_binding"
    )


def execute_statements(
    statements: Sequence[tuple[str, Sequence[Any], bool]], *, using: str = DEFAULT_DB_ALIAS
) -> list[list[tuple[Any, ...]] | None]:
    """Run ``(sql, params, fetch)`` statements in order, in one round trip on PostgreSQL; returns
    each statement's rows (``fetch``) or None. The SQL must not contain ``;`` or a literal ``%``."""
    connection = connections[using]
    out: list[list[tuple[Any, ...]] | None] = []
    with connection.cursor() as cursor:
        if _one_query(using) and len(statements) > 1:
            cursor.execute("; ".join(s for s, _, _ in statements), [p for _, ps, _ in statements for p in ps])
            for n, (_, _, fetch) in enumerate(statements):
                if n:
                    cursor.nextset()
                out.append(list(cursor.fetchall()) if fetch else None)
        else:
            for statement, params, fetch in statements:
                cursor.execute(statement, params)
                out.append(list(cursor.fetchall()) if fetch else None)
    return out


def write_later(
    statement: str,
    params: list[Any],
    on_row: Callable[[tuple[Any, ...]], object] | None = None,
    *,
    using: str = DEFAULT_DB_ALIAS,
) -> bool:
    """Queue a write in the open ``batched_writes`` (``on_row`` gets its ``RETURNING`` row when the
    batch is sent); False, and nothing queued, when no batch is open."""
    batch: list[_Queued] | None = getattr(connections[using], BATCH_ATTR, None)
    if batch is None:
        return False
    batch.append((statement, params, on_row))
    return True


@contextmanager
def batched_writes(*, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Writes queued inside (``insert_returning``, ``write_later``) are sent together when the
    block ends without an exception (one round trip on PostgreSQL), in the order queued. Use it
    only around writes whose effects nothing reads before the block ends; an exception discards
    them (the enclosing transaction is rolled back anyway)."""
    connection = connections[using]
    if getattr(connection, BATCH_ATTR, None) is not None:  # nested: the outer block sends
        yield
        return
    batch: list[_Queued] = []
    setattr(connection, BATCH_ATTR, batch)
    try:
        yield
    finally:
        setattr(connection, BATCH_ATTR, None)
    if batch:
        results = execute_statements([(s, p, on_row is not None) for s, p, on_row in batch], using=using)
        for (_, _, on_row), rows in zip(batch, results, strict=True):
            if on_row is not None and rows:
                on_row(rows[0])
