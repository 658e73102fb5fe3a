"""备份与恢复 One consistent archive of an installation, and its restore into an empty one.

The archive (``.tar.gz``, or ``.tar``) holds

- ``database.sqlite3`` (SQLite's online backup API) or ``database.pgdump`` (``pg_dump -Fc``);
- ``data/…``: the data directory's files — secret key, attachments, import error reports, kept
  reports — without what is rebuilt or temporary (the database file itself, static files, heartbeats,
  download scratch files);
- ``manifest.json``: jkfp's version, the database engine, the applied migrations, the SHA-256 and size
  of every other member, and each table's row count and content digest.

The database is read once, from one snapshot: SQLite's backup is copied first and digested from the
copy; on PostgreSQL the digest runs in a repeatable-read transaction whose snapshot ``pg_dump
--snapshot`` exports, so the dump and the digests see the same rows. The files are copied after the
snapshot, so every file a row names is there.

``backup_restore`` checks every member against the manifest before it touches anything, refuses a
target that holds data unless ``force``, loads the database (file copy, ``pg_restore``, or — a SQLite
archive into PostgreSQL, the way a county grows out of the embedded default — the rows table by table
through ``COPY``), puts the files back, and compares every table's row count and digest with the
manifest. The digests are taken over the values as Django reads them, so they are equal across engines.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone
from psycopg.types.json import Jsonb

import jkfp
from jkfp.registry.models import ImportRun

FORMAT = 1
MANIFEST = "manifest.json"
DATA_PREFIX = "data/"
SOURCE_ALIAS = "jkfp_restore_source"
CHUNK = 5000
# Data-directory entries never archived: rebuilt (static), per process (run), or scratch (exports).
SKIPPED_DIRS = ("static", "run", "exports", "backups")
SCRATCH_PREFIX = ".jkfp-"  # restore's unpacking folder inside the data directory

Progress = Callable[[str, float], None]


class BackupError(Exception):
    """备份或恢复失败 A refusal or failure, with its Chinese and English message."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en


@dataclass
class Manifest:
    """清单 What an archive holds (``manifest.json``)."""

    version: str
    engine: str
    created_at: str
    data_dir: str
    database: str
    migrations: list[list[str]]
    tables: dict[str, dict[str, Any]]
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    format: int = FORMAT

    def as_json(self) -> bytes:
        return json.dumps(self.__dict__, ensure_ascii=False, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        data = json.loads(raw)
        if data.get("format") != FORMAT:
            raise BackupError(
                f"不认识的备份格式 {data.get('format')}", f"unknown archive format {data.get('format')}"
            )
        return cls(**data)


def _noop(step: str, fraction: float) -> None:
    return None


# --- 数据摘要 -------------------------------------------------------------------------------------


def _canonical(value: Any) -> str:
    """One text per value, equal for equal values read from SQLite and from PostgreSQL."""
    if value is None:
        return "\x00"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | str):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date | time | UUID):
        return str(value) if isinstance(value, UUID) else value.isoformat()
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _models_with_tables(alias: str) -> list[type[models.Model]]:
    existing = set(connections[alias].introspection.table_names())
    found = [
        m
        for m in apps.get_models(include_auto_created=True)
        if m._meta.managed and not m._meta.proxy and m._meta.db_table in existing
    ]
    return sorted(found, key=lambda m: m._meta.db_table)


def _columns(model: type[models.Model]) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]


def database_digest(
    *, using: str = DEFAULT_DB_ALIAS, progress: Progress = _noop
) -> dict[str, dict[str, Any]]:
    """数据摘要 Each table's row count and SHA-256 over its rows in key order, as Django reads them."""
    result: dict[str, dict[str, Any]] = {}
    found = _models_with_tables(using)
    for n, model in enumerate(found):
        digest = hashlib.sha256()
        rows = 0
        query = model._base_manager.using(using).order_by("pk").values_list(*_columns(model))
        for row in query.iterator(chunk_size=CHUNK):
            digest.update("\x1f".join(_canonical(v) for v in row).encode() + b"\x1e")
            rows += 1
        result[model._meta.db_table] = {"rows": rows, "sha256": digest.hexdigest()}
        progress("摘要 digest", (n + 1) / len(found))
    return result


def _applied(using: str) -> list[list[str]]:
    recorder = MigrationRecorder(connections[using])
    if not recorder.has_table():
        return []
    return sorted([app, name] for app, name in recorder.applied_migrations())


# --- 额外数据库连接 -----------------------------------------------------------------------------------


@contextmanager
def _extra_database(alias: str, config: dict[str, Any]) -> Iterator[str]:
    """A second Django connection (the archive's SQLite copy) for as long as the block runs."""
    configured = connections.configure_settings(
        {DEFAULT_DB_ALIAS: connections.settings[DEFAULT_DB_ALIAS], alias: config}
    )
    connections.settings[alias] = configured[alias]
    try:
        yield alias
    finally:
        if alias in connections:
            connections[alias].close()
            del connections[alias]
        connections.settings.pop(alias, None)


def _sqlite_config(path: Path) -> dict[str, Any]:
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path), "OPTIONS": {}}


def _engine(alias: str = DEFAULT_DB_ALIAS) -> str:
    vendor = str(connections[alias].vendor)
    if vendor not in {"sqlite", "postgresql"}:
        raise BackupError(f"不支持的数据库 {vendor}", f"unsupported database {vendor}")
    return vendor


def _pg_env(alias: str = DEFAULT_DB_ALIAS) -> dict[str, str]:
    """libpq's variables for pg_dump/pg_restore (no password on their command line)."""
    config = connections[alias].settings_dict
    env = {**os.environ, "PGDATABASE": str(config["NAME"])}
    for key, var in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD")):
        if config.get(key):
            env[var] = str(config[key])
    return env


def _sqlite_path(alias: str = DEFAULT_DB_ALIAS) -> Path:
    return Path(str(connections[alias].settings_dict["NAME"])).resolve()


# --- 备份 -------------------------------------------------------------------------------------------


def _data_files(*, exclude: set[Path]) -> list[Path]:
    root = Path(settings.VAR_DIR)
    skipped = {root / name for name in SKIPPED_DIRS} | {Path(settings.STATIC_ROOT)}
    found = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        if path.resolve() in exclude or any(path.is_relative_to(s) for s in skipped):
            continue
        if any(part.startswith(SCRATCH_PREFIX) for part in path.relative_to(root).parts):
            continue
        found.append(path)
    return found


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_gz(path: Path) -> bool:
    return path.name.endswith((".gz", ".tgz"))


def backup_create(*, out: Path, progress: Progress = _noop) -> Manifest:
    """备份 Write one consistent archive of the database and the data directory to ``out``."""
    out = Path(out).resolve()
    engine = _engine()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".jkfp-backup-", dir=out.parent) as scratch:
        work = Path(scratch)
        exclude = {out}
        if engine == "sqlite":
            database = "database.sqlite3"
            db_path = _sqlite_path()
            exclude |= {db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm"), Path(f"{db_path}-journal")}
            progress("数据库 database", 0.0)
            source = sqlite3.connect(db_path)
            try:
                target = sqlite3.connect(work / database)
                with target:
                    source.backup(target)
                target.close()
            finally:
                source.close()
            with _extra_database(SOURCE_ALIAS, _sqlite_config(work / database)) as alias:
                tables = database_digest(using=alias, progress=progress)
                migrations = _applied(alias)
        else:
            database = "database.pgdump"
            tables, migrations = _pg_dump(work / database, progress)
        manifest = Manifest(
            version=jkfp.__version__,
            engine=engine,
            created_at=timezone.now().isoformat(),
            data_dir=str(Path(settings.VAR_DIR).resolve()),
            database=database,
            migrations=migrations,
            tables=tables,
        )
        manifest.files[database] = {
            "size": (work / database).stat().st_size,
            "sha256": _sha256_file(work / database),
        }
        files = _data_files(exclude=exclude)
        partial = out.with_name(out.name + ".partial")
        # gzip level 1: most of the gain at a fraction of the time (pg_dump's part is compressed already).
        opened = tarfile.open(partial, "w:gz", compresslevel=1) if _is_gz(out) else tarfile.open(partial, "w")  # noqa: SIM115 -- entered on the next line; two modes, one context
        with opened as archive:
            archive.add(work / database, arcname=database)
            root = Path(settings.VAR_DIR)
            for n, path in enumerate(files):
                name = DATA_PREFIX + path.relative_to(root).as_posix()
                manifest.files[name] = {"size": path.stat().st_size, "sha256": _sha256_file(path)}
                archive.add(path, arcname=name)
                progress("文件 files", (n + 1) / max(1, len(files)))
            raw = manifest.as_json()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(raw)
            info.mtime = int(timezone.now().timestamp())
            archive.addfile(info, io.BytesIO(raw))
        partial.replace(out)
    return manifest


def _pg_dump(target: Path, progress: Progress) -> tuple[dict[str, dict[str, Any]], list[list[str]]]:
    """pg_dump and the digests from one snapshot (exported by a repeatable-read transaction)."""
    connection = connections[DEFAULT_DB_ALIAS]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
        progress("数据库 database", 0.0)
        dump = subprocess.run(
            ["pg_dump", "-Fc", "--no-owner", "--no-acl", f"--snapshot={snapshot}", "-f", str(target)],
            env=_pg_env(),
            capture_output=True,
            text=True,
        )
        if dump.returncode != 0:
            raise BackupError(
                f"pg_dump 失败：{dump.stderr.strip()}", f"pg_dump failed: {dump.stderr.strip()}"
            )
        tables = database_digest(progress=progress)
        migrations = _applied(DEFAULT_DB_ALIAS)
    return tables, migrations


# --- 恢复 -------------------------------------------------------------------------------------------


def _safe_member(name: str) -> bool:
    path = Path(name)
    return not path.is_absolute() and ".." not in path.parts and name != ""


def _extract_verified(archive_path: Path, work: Path, progress: Progress) -> Manifest:
    """Unpack into ``work`` and check every member against the manifest (nothing else is touched)."""
    try:
        archive = tarfile.open(archive_path, "r:gz" if _is_gz(archive_path) else "r")  # noqa: SIM115 -- entered below, after its own error message
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"无法读取备份文件：{exc}", f"cannot read the archive: {exc}") from exc
    with archive:
        try:
            members = archive.getmembers()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise BackupError(f"备份文件已损坏：{exc}", f"the archive is damaged: {exc}") from exc
        names = {m.name for m in members}
        if MANIFEST not in names:
            raise BackupError("备份文件中没有清单 manifest.json", "the archive has no manifest.json")
        handle = archive.extractfile(MANIFEST)
        assert handle is not None
        manifest = Manifest.from_json(handle.read())
        expected = set(manifest.files) | {MANIFEST}
        if names != expected:
            odd = sorted(names ^ expected)[:5]
            raise BackupError(
                f"备份内容与清单不符：{odd}", f"the archive's members differ from its manifest: {odd}"
            )
        for n, member in enumerate(members):
            if member.name == MANIFEST:
                continue
            if not member.isfile() or not _safe_member(member.name):
                raise BackupError(f"备份中有不安全的条目 {member.name}", f"unsafe member {member.name}")
            target = work / member.name
            target.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            assert source is not None
            digest = hashlib.sha256()
            with target.open("wb") as out:
                for block in iter(lambda: source.read(1 << 20), b""):  # noqa: B023 (consumed at once)
                    digest.update(block)
                    out.write(block)
            listed = manifest.files[member.name]
            if digest.hexdigest() != listed["sha256"] or target.stat().st_size != listed["size"]:
                raise BackupError(
                    f"校验失败：{member.name} 与清单中的 SHA-256 不符，备份已损坏或被改动",
                    f"checksum mismatch: {member.name} differs from its manifest entry",
                )
            progress("校验 verify", (n + 1) / len(members))
    return manifest


def _data_dir_contents() -> list[Path]:
    """What the data directory holds besides what jkfp makes by itself (secret key, static, run)."""
    root = Path(settings.VAR_DIR)
    own = {root / "secret_key"}
    db = _sqlite_path() if _engine() == "sqlite" else None
    if db is not None:
        own |= {db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}-journal")}
    return [p for p in _data_files(exclude=own) if p.resolve() not in own]


def _database_tables() -> list[str]:
    return list(connections[DEFAULT_DB_ALIAS].introspection.table_names())


def backup_restore(*, archive: Path, force: bool = False, progress: Progress = _noop) -> Manifest:
    """恢复 Restore ``archive`` into this installation's (empty) database and data directory."""
    archive = Path(archive).resolve()
    if not archive.is_file():
        raise BackupError(f"找不到备份文件 {archive}", f"no such archive {archive}")
    engine = _engine()
    root = Path(settings.VAR_DIR)
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX + "restore-", dir=root) as scratch:
        work = Path(scratch)
        manifest = _extract_verified(archive, work, progress)
        if manifest.engine == "postgresql" and engine != "postgresql":
            raise BackupError(
                "PostgreSQL 的备份只能恢复到 PostgreSQL（请设置 DATABASE_URL）",
                "a PostgreSQL archive restores into PostgreSQL only (set DATABASE_URL)",
            )
        tables = _database_tables()
        files = _data_dir_contents()
        if (tables or files) and not force:
            zh = [f"数据库有 {len(tables)} 个表"] if tables else []
            en = [f"the database has {len(tables)} tables"] if tables else []
            if files:
                zh.append(f"数据目录有 {len(files)} 个文件")
                en.append(f"the data directory has {len(files)} files")
            raise BackupError(
                "目标不是空的（" + "；".join(zh) + "）：确认要覆盖请加 --force",
                "the target is not empty (" + "; ".join(en) + "): add --force to overwrite it",
            )
        progress("数据库 database", 0.0)
        if manifest.engine == "sqlite" and engine == "sqlite":
            _restore_sqlite_file(work / manifest.database)
        elif manifest.engine == "postgresql":
            _drop_all_tables()
            _pg_restore(work / manifest.database)
        else:
            _drop_all_tables()
            try:
                _copy_sqlite_into_postgresql(work / manifest.database, manifest, progress)
            except Exception as exc:
                _drop_all_tables()  # leave the target empty for the next try, not half-loaded
                raise BackupError(
                    f"复制到 PostgreSQL 失败，目标已清空：{exc}",
                    f"copying into PostgreSQL failed, target emptied: {exc}",
                ) from exc
        progress("核对 compare", 0.0)
        restored = database_digest(progress=progress)
        differing = sorted(t for t in manifest.tables if restored.get(t) != manifest.tables[t])
        if differing:
            raise BackupError(
                f"恢复后的数据与备份不符：{differing[:5]}",
                f"the restored data differ from the archive: {differing[:5]}",
            )
        for path in files:
            path.unlink()
        _put_files(work, manifest)
        _rewrite_paths(old=manifest.data_dir, new=str(root.resolve()))
    return manifest


def _restore_sqlite_file(source: Path) -> None:
    target = _sqlite_path()
    connections[DEFAULT_DB_ALIAS].close()
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    staged = target.with_name(target.name + ".restoring")
    shutil.copyfile(source, staged)
    staged.replace(target)


# The functions the migrations create (PostgreSQL): dropped with the tables by ``--force``.
DATABASE_FUNCTIONS = ("jkfp_audit_immutable",)


def _drop_all_tables() -> None:
    """Empty the target database (``--force``): every table goes, SQLite's and PostgreSQL's alike."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor == "sqlite":
        connection.close()
        path = _sqlite_path()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(table)} CASCADE")
        # Functions outlive their tables; a dump re-creates its own (the audit log's trigger function,
        # accounts migration 0006), so pg_restore would stop on "already exists".
        for function in DATABASE_FUNCTIONS:
            cursor.execute(f"DROP FUNCTION IF EXISTS {function}() CASCADE")


def _pg_restore(dump: Path) -> None:
    connections[DEFAULT_DB_ALIAS].close()
    done = subprocess.run(
        ["pg_restore", "--no-owner", "--no-acl", "--exit-on-error", "--single-transaction", "-d",
         str(connections[DEFAULT_DB_ALIAS].settings_dict["NAME"]), str(dump)],
        env=_pg_env(),
        capture_output=True,
        text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise BackupError(
            f"pg_restore 失败：{done.stderr.strip()}", f"pg_restore failed: {done.stderr.strip()}"
        )


def _copy_sqlite_into_postgresql(source: Path, manifest: Manifest, progress: Progress) -> None:
    """SQLite → PostgreSQL: the schema at the archive's migrations, then every table's rows by COPY."""
    _migrate_to(manifest.migrations)
    connection = connections[DEFAULT_DB_ALIAS]
    with _extra_database(SOURCE_ALIAS, _sqlite_config(source)) as alias:
        found = [m for m in _models_with_tables(alias) if m._meta.db_table in manifest.tables]
        with transaction.atomic(), connection.cursor() as cursor:
            tables = ", ".join(
                connection.ops.quote_name(m._meta.db_table) for m in _models_with_tables("default")
            )
            if tables:
                cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            raw = cursor.cursor
            for n, model in enumerate(found):
                # Generated columns (GeneratedField) are computed by the database and cannot be copied.
                fields = [f for f in model._meta.concrete_fields if not getattr(f, "generated", False)]
                json_at = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
                columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
                query = (
                    model._base_manager.using(alias).order_by("pk").values_list(*[f.attname for f in fields])
                )
                with raw.copy(
                    f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
                ) as copy:
                    for row in query.iterator(chunk_size=CHUNK):
                        if json_at:
                            values = list(row)
                            for i in json_at:
                                if values[i] is not None:
                                    values[i] = Jsonb(values[i])
                            row = tuple(values)
                        copy.write_row(row)
                progress("复制 copy", (n + 1) / len(found))
            for statement in connection.ops.sequence_reset_sql(no_style(), found):
                cursor.execute(statement)


def _migrate_to(applied: list[list[str]]) -> None:
    """Bring the empty target to the archive's migrations: all of them in one run when the archive is of
    this version, else each app to its last migration in the archive (a later ``jkfp init`` upgrades)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    wanted = {(app, name) for app, name in applied}
    if wanted == set(loader.graph.nodes):
        call_command("migrate", interactive=False, verbosity=0)
        return
    labels = {config.label for config in apps.get_app_configs()}
    for app in sorted({a for a, _ in wanted} & labels):
        names = [n for a, n in wanted if a == app]
        for name in names:
            later = [m for m in names if m != name and (app, name) in loader.graph.forwards_plan((app, m))]
            if not later:  # the app's last applied migration
                call_command("migrate", app, name, interactive=False, verbosity=0)


def _put_files(work: Path, manifest: Manifest) -> None:
    root = Path(settings.VAR_DIR)
    for name in manifest.files:
        if not name.startswith(DATA_PREFIX):
            continue
        target = root / name[len(DATA_PREFIX) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(work / name), target)
        if target.name == "secret_key":
            target.chmod(0o600)


def _rewrite_paths(*, old: str, new: str) -> None:
    """Paths recorded absolute (imports' stored files and error reports) follow a moved data directory."""
    if old == new:
        return
    for column in ("stored_path", "errors_file"):
        ImportRun.objects.filter(**{f"{column}__startswith": old + "/"}).update(
            **{column: Concat(Value(new), Substr(column, len(old) + 1))}
        )
