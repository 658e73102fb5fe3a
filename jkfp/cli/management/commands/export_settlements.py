"""`jkfp export-settlements --year YEAR --out FILE [--claims FILE]`: 导出结算结果 in the output format
of ``jkfp settle`` (same CSV header), live settlements of claims discharged in YEAR, by claim id.
``--claims`` also writes the same claims in the engine's input format (with their settled
category), so that ``jkfp settle --claims`` on it reproduces the export byte for byte."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jkfp.accounts.models import AuditAction
from jkfp.accounts.services import audit_record
from jkfp.settlement.exports import claims_csv, settlements_csv


def _write(path: Path, data: bytes) -> None:
    if path.is_dir():
        raise CommandError(f"{path} 是文件夹 / {path} is a directory", returncode=2)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise CommandError(f"无法写入 {path}：{exc.strerror} / cannot write {path}", returncode=2) from exc
    finally:
        if tmp.exists():
            tmp.unlink()


class Command(BaseCommand):
    help = "导出某年结算结果（jkfp settle 输出格式）/ export a year's settlements in the jkfp settle format"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", type=int, required=True, help="出院年度 / discharge year")
        parser.add_argument("--out", type=Path, required=True, help="输出CSV / output CSV")
        parser.add_argument(
            "--claims", type=Path, default=None, help="同时导出结算输入 / also write the claims file"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        data = settlements_csv(year=options["year"])
        _write(options["out"], data)
        if options["claims"] is not None:
            _write(options["claims"], claims_csv(year=options["year"]))
        rows = data.count(b"\n") - 1
        audit_record(
            user=None, action=AuditAction.EXPORT, object_type="settlements", object_id=str(options["year"])
        )
        self.stdout.write(f"已导出 {rows} 笔结算 / {rows} settlements written to {options['out']}")
