"""`jkfp import-enrolment FILE [--year YEAR] [--json]`: 导入参保名单 import the yearly insurance enrolment.

Columns: 身份证号, 年度, 参保状态 (已参保/未参保 or 1/0), 个人缴费, 资助金额 (and optionally 参保日期); see
``jkfp.registry.enrolment``. ``--json`` prints exactly one JSON object (the ImportSummary:
``{"rows", "valid", "invalid", "created", "updated", "unchanged", "warnings", "errors_file"}``);
a file that cannot be read → message on stderr, exit status 2, nothing imported. Every run is recorded
as an ImportRun (done or failed).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from jkfp.cli.management.commands.import_roster import ImportCommand
from jkfp.core.importing import ImportSummary
from jkfp.registry.enrolment import enrolment_import
from jkfp.registry.models import ImportKind


class Command(ImportCommand):
    help = "导入参保名单（CSV/XLSX）/ import the insurance enrolment of a year"
    kind = ImportKind.ENROLMENT

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--year",
            type=int,
            default=None,
            help="参保年度（文件无“年度”列时必填）/ enrolment year (required when the file has no 年度 column)",
        )

    def run_import(self, options: dict[str, Any], **kwargs: Any) -> ImportSummary:
        return enrolment_import(path=options["file"], year=options.get("year"))
