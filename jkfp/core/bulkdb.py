"""数据库机制 The database-vendor machinery of the hot and bulk paths, in one module.

Domain modules call these and hold no vendor-specific SQL beyond ordinary queries:

- **Single rows and batched statements** (API settlement, audit): ``insert_returning`` writes one
  model row with one ``INSERT … RETURNING`` whose values are prepared by the model fields themselves
  (``pre_save`` + ``get_db_prep_save``, as the ORM does — building an ORM ``INSERT`` costs ≈ 0.5 ms of
  Python per row here); ``execute_statements``/``batched_writes`` send independent statements in
  one round trip on PostgreSQL. No ``pre_save``/``post_save`` signals are sent: only for models
  nothing listens to.
- **Binary COPY in and out** (PostgreSQL): ``copy_int64_in`` lays int64 columns out with numpy;
  ``copy_out`` and ``int64_arrays_from_copy`` read chunks of ``bigint[]`` and a text without a Python
  object per value; ``copy_text_in`` writes COPY text, ``copy_escape`` escapes a field.
- **Temporary tables and set-based updates**: ``temp_int64_table``, ``update_by_ids``.
- **Indexes and foreign keys** dropped for a bulk load and rebuilt from the catalogue's own
  definitions: ``detach`` / ``restore`` (both vendors), ``sqlite_check_keys``.
- **Reserved ids**: ``reserve_ids``; **catalogue facts**: ``row_estimate``, ``table_is_empty``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, IntegrityError, connection, connections
from django.db.models import Field, Model
from numpy.typing import NDArray

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


# --------------------------------------------------------------------------- binary COPY (PostgreSQL)

_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_COPY_HEADER = 19  # signature + flags (4) + extension length (4)
_INT8_ELEMENT = np.dtype([("length", ">i4"), ("value", ">i8")])
_COPY_STEP = 200_000  # rows per write


def copy_int64_in(
    cursor: Any, table: str, columns: Sequence[str], values: Sequence[NDArray[np.int64]]
) -> None:
    """PostgreSQL: COPY int64 columns (no NULL) into ``table`` in the binary format, laid out by numpy
    (no Python object per cell)."""
    n = len(values[0]) if values else 0
    if n == 0:
        return
    layout = [("count", ">i2")]
    for k in range(len(values)):
        layout += [(f"l{k}", ">i4"), (f"v{k}", ">i8")]
    rows = np.empty(n, dtype=np.dtype(layout))
    rows["count"] = len(values)
    for k, column in enumerate(values):
        rows[f"l{k}"] = 8
        rows[f"v{k}"] = column
    with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(_COPY_SIGNATURE + struct.pack(">ii", 0, 0))
        for start in range(0, n, _COPY_STEP):
            copy.write(rows[start : start + _COPY_STEP].tobytes())
        copy.write(struct.pack(">h", -1))


def copy_out(cursor: Any, sql: str, params: Sequence[Any]) -> bytes:
    """PostgreSQL: the whole output of ``COPY (sql) TO STDOUT …`` (``sql`` includes the options)."""
    with cursor.cursor.copy(sql, params) as copy:
        return b"".join(bytes(chunk) for chunk in copy)


def int64_arrays_from_copy(data: bytes, width: int) -> tuple[NDArray[np.int64], bytes]:
    """Binary COPY output whose rows are ``width`` non-null ``bigint[]`` columns and one ``text``
    (a chunk of rows each) → the (n, width) int64 matrix of the concatenated arrays and the
    concatenated texts. The array elements are read by numpy in place (no Python object per value).
    Array wire format: ndim, flags, element type, then per dimension size and lower bound, then per
    element int32 length (8) and the big-endian value."""
    columns: list[list[NDArray[np.int64]]] = [[] for _ in range(width)]
    texts: list[bytes] = []
    pos = _COPY_HEADER
    while True:
        (count,) = struct.unpack_from(">h", data, pos)
        pos += 2
        if count == -1:
            break
        if count != width + 1:
            raise RuntimeError("unexpected binary COPY layout")
        for k in range(width):
            length, ndim = struct.unpack_from(">ii", data, pos)
            size = struct.unpack_from(">i", data, pos + 16)[0] if ndim == 1 else 0
            if ndim > 1 or length != (20 + 12 * size if ndim == 1 else 12):
                raise RuntimeError("unexpected binary COPY layout")  # a NULL element: never by the query
            items = np.frombuffer(data, dtype=_INT8_ELEMENT, count=size, offset=pos + 24)
            columns[k].append(items["value"].astype(np.int64))
            pos += 4 + length
        (length,) = struct.unpack_from(">i", data, pos)
        texts.append(data[pos + 4 : pos + 4 + length])
        pos += 4 + length
    if not texts:
        return np.zeros((0, width), dtype=np.int64), b""
    return np.stack([np.concatenate(c) for c in columns], axis=1), b"".join(texts)


def copy_escape(value: str) -> str:
    """COPY text format: backslash, tab, newline and carriage return escaped."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def copy_text_in(cursor: Any, table: str, columns: Iterable[str], chunks: Iterable[str | memoryview]) -> None:
    """PostgreSQL: COPY (text format) of ``chunks`` of whole lines into ``table``."""
    with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for chunk in chunks:
            copy.write(chunk)


# --------------------------------------------------------------------------- temp tables, updates


def temp_int64_table(cursor: Any, name: str, columns: Sequence[str]) -> None:
    """A temporary table of ``bigint`` columns, dropped at the commit (PostgreSQL)."""
    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {name} ({', '.join(f'{c} bigint' for c in columns)}) ON COMMIT DROP"
    )


# Fewer rows than this share of a table are reached by key (``by_key``), not by a join over the table.
BY_KEY_SHARE = 0.2


def by_key(cursor: Any, table: str, rows: int) -> bool:
    """PostgreSQL: True when ``rows`` rows are a small share of ``table`` (its row estimate): a statement
    joining them to the table should reach them through the key. The planner, pricing a key look-up
    as a random page read, joins a temporary table of a county's 15,000 ids by a merge join over the
    whole table's key index — a province's every settlement (issue 21)."""
    return rows < BY_KEY_SHARE * row_estimate(cursor, table)


def update_by_ids(table: str, assignments: str, params: list[Any], ids: Sequence[int], tmp: str) -> None:
    """``UPDATE table SET assignments WHERE id IN ids`` in bulk: on PostgreSQL the ids go by binary
    COPY into the temporary table ``tmp`` and one ``UPDATE`` takes them — as one array through the
    key when they are a small share of the table (``by_key``), else joined; elsewhere 500 at a time."""
    if not len(ids):
        return
    quoted = connection.ops.quote_name(table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            temp_int64_table(cursor, tmp, ("id",))
            copy_int64_in(cursor, tmp, ("id",), [np.asarray(ids, dtype=np.int64)])
            if by_key(cursor, table, len(ids)):
                sql = f"UPDATE {quoted} t SET {assignments} WHERE t.id = ANY(ARRAY(SELECT id FROM {tmp}))"  # noqa: S608
            else:
                sql = f"UPDATE {quoted} t SET {assignments} FROM {tmp} WHERE t.id = {tmp}.id"  # noqa: S608
            cursor.execute(sql, params)
        else:
            ids = list(ids)
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(
                    f"UPDATE {quoted} SET {assignments} WHERE id IN ({marks})",  # noqa: S608
                    [*params, *chunk],
                )


def insert_many(
    cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], chunk: int = 100_000
) -> None:
    """Rows into ``table`` by ``executemany``, ``chunk`` at a time (bounded memory for a generator)."""
    marks = ", ".join(["%s"] * len(columns))
    sql = f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({marks})'  # noqa: S608 (model names)
    batch: list[Sequence[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= chunk:
            cursor.executemany(sql, batch)
            batch.clear()
    if batch:
        cursor.executemany(sql, batch)


# --------------------------------------------------------------------------- catalogue facts, ids


def row_estimate(cursor: Any, table: str) -> float:
    """PostgreSQL: the planner's row estimate of ``table`` (0 before the first ANALYZE)."""
    cursor.execute("SELECT GREATEST(reltuples, 0) FROM pg_class WHERE oid = %s::regclass", [table])
    return float(cursor.fetchone()[0])


def table_is_empty(cursor: Any, table: str) -> bool:
    """True when ``table`` holds no row (one index probe, not a count)."""
    cursor.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} LIMIT 1) x")  # noqa: S608 (a model table)
    return not int(cursor.fetchone()[0] or 0)


def reserve_ids(cursor: Any, table: str, count: int) -> int:
    """The first of ``count`` consecutive new primary keys of ``table``, reserved for this load
    (PostgreSQL: the serial sequence moved on; SQLite: past the highest id and the autoincrement
    sequence — the writer lock of the transaction keeps them ours)."""
    if connection.vendor == "postgresql":
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


# --------------------------------------------------------------------------- indexes and foreign keys


def detach(
    cursor: Any,
    tables: Sequence[str],
    *,
    unique_indexes: bool = False,
    references: Sequence[str] | None = None,
    keep: Collection[tuple[str, tuple[str, ...]]] = (),
    checks_immediate: bool = False,
) -> list[str]:
    """Drop the secondary indexes and (PostgreSQL) the foreign keys of ``tables`` for a bulk write;
    return the statements that recreate them, identical (names and definitions read from the
    catalogue), indexes first — run them with ``restore`` before the commit: one sorted build per
    index instead of a million insertions, one set-based check per key instead of one per row.

    Indexes backing a constraint (primary keys, unique constraints) always stay; other unique
    indexes (a partial unique index: "one current row per claim") go only with ``unique_indexes``
    — then their rebuild re-checks them. ``references``: only the keys to these tables (PostgreSQL);
    ``keep``: (table, indexed columns) that stay (SQLite: indexes a load fills in their own order
    cost less to append to than to rebuild). PostgreSQL alters no table with pending trigger events:
    the deferred checks queued so far run now; with ``checks_immediate`` the remaining keys are
    checked per statement until ``restore``. Everything is transactional.
    """
    if not tables:
        return []
    if connection.vendor != "postgresql":
        return _sqlite_detach(cursor, tables, unique_indexes=unique_indexes, keep=keep)
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    if not checks_immediate:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    restore_indexes: list[str] = []
    restore_keys: list[str] = []
    cursor.execute(
        "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c"
        " WHERE c.contype = 'f' AND c.conrelid = ANY(%s::regclass[])"
        " AND (%s::regclass[] IS NULL OR c.confrelid = ANY(%s::regclass[])) ORDER BY 1, 2",
        [list(tables), references, references],
    )
    for table, name, definition in cursor.fetchall():
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        restore_keys.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " WHERE i.indrelid = ANY(%s::regclass[]) AND (%s OR NOT i.indisunique) AND NOT i.indisprimary"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1",
        [list(tables), unique_indexes],
    )
    for name, definition in cursor.fetchall():
        cursor.execute(f"DROP INDEX {name}")
        restore_indexes.append(definition)
    return restore_indexes + restore_keys


def _sqlite_detach(
    cursor: Any, tables: Sequence[str], *, unique_indexes: bool, keep: Collection[tuple[str, tuple[str, ...]]]
) -> list[str]:
    cursor.execute(
        "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name"
    )
    restore: list[str] = []
    for name, table, definition in cursor.fetchall():
        if table not in tables or (not unique_indexes and definition.upper().startswith("CREATE UNIQUE")):
            continue
        if keep:
            cursor.execute(f'PRAGMA index_info("{name}")')
            if (table, tuple(row[2] for row in cursor.fetchall())) in keep:
                continue
        cursor.execute(f'DROP INDEX "{name}"')
        restore.append(definition)
    return restore


def restore(cursor: Any, statements: Sequence[str]) -> None:
    """Run ``detach``'s statements (indexes first, then the keys, each validated by one join), with
    more sort memory for the index builds on PostgreSQL; deferrable constraints are deferred again
    (every one of the project is INITIALLY DEFERRED)."""
    if connection.vendor != "postgresql":
        for statement in statements:
            cursor.execute(statement)
        return
    cursor.execute("SELECT current_setting('maintenance_work_mem')")
    (memory,) = cursor.fetchone()
    cursor.execute("SELECT set_config('maintenance_work_mem', '256MB', true)")
    for statement in statements:
        cursor.execute(statement)
    cursor.execute("SELECT set_config('maintenance_work_mem', %s, true)", [memory])
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@contextmanager
def jit_for_aggregates() -> Iterator[None]:
    """即时编译 PostgreSQL's JIT on for the statements inside when the app's connections have it off
    (``settings.PG_JIT``): whole-province aggregates, where compiling pays (the snapshot refresh of 2M
    persons: 144–165 s with it, 172–186 s without). Session-level (the reads are not one transaction),
    off again after; a connection that cannot say so is closed, which ends its session."""
    if connection.vendor != "postgresql" or settings.PG_JIT != "off":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('jit', 'on', false)")
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('jit', 'off', false)")
        except DatabaseError:  # an aborted transaction: the session goes with the connection
            connection.close()


def sqlite_check_keys(cursor: Any, tables: Sequence[str]) -> None:
    """SQLite: every foreign key of ``tables`` holds, checked by the database; else ``IntegrityError``.

    For a load run with ``PRAGMA foreign_keys = OFF``: one set-based query per key instead of a
    look-up per inserted row and key. A key whose parent column is the parent's integer primary key,
    when the parent's keys are one contiguous range (``COUNT(*) = MAX - MIN + 1``, as after a fresh
    load), holds exactly when every non-NULL value is an integer of that range: one scan of the child
    column and no look-up. Any other key: a look-up per non-NULL value.
    """
    ranges: dict[str, tuple[str, int, int] | None] = {}  # parent: (key column, lowest, highest)

    def contiguous(parent: str) -> tuple[str, int, int] | None:
        if parent not in ranges:
            cursor.execute(f'PRAGMA table_info("{parent}")')
            keys = [row for row in cursor.fetchall() if row[5]]
            ranges[parent] = None
            if len(keys) == 1 and keys[0][2].upper() == "INTEGER":  # the rowid's alias
                cursor.execute(f'SELECT MIN("{keys[0][1]}"), MAX("{keys[0][1]}"), COUNT(*) FROM "{parent}"')  # noqa: S608 (catalogue names)
                low, high, count = cursor.fetchone()
                if count and count == high - low + 1:
                    ranges[parent] = (keys[0][1], low, high)
        return ranges[parent]

    for table in tables:
        cursor.execute(f'PRAGMA foreign_key_list("{table}")')
        for row in cursor.fetchall():
            parent, column, target = row[2], row[3], row[4]
            span = contiguous(parent)
            if span is not None and span[0] == target:
                cursor.execute(
                    f'SELECT 1 FROM "{table}" WHERE "{column}" IS NOT NULL'  # noqa: S608 (catalogue names)
                    f' AND NOT (typeof("{column}") = \'integer\' AND "{column}" BETWEEN %s AND %s) LIMIT 1',
                    [span[1], span[2]],
                )
            else:
                cursor.execute(
                    f'SELECT 1 FROM "{table}" c WHERE c."{column}" IS NOT NULL'  # noqa: S608 (catalogue names)
                    f' AND NOT EXISTS (SELECT 1 FROM "{parent}" p WHERE p."{target}" = c."{column}") LIMIT 1'
                )
            bad = cursor.fetchone()
            if bad is not None:
                raise IntegrityError(f"{table}.{column} refers to a row of {parent} that does not exist")
