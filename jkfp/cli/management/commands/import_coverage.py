"""`jkfp import-coverage FILE [--json]`: 导入卫生院覆盖村（例外）(村代码, 覆盖机构代码) (issue 16)."""

from __future__ import annotations

from typing import Any

from jkfp.capacity.imports import coverage_import
from jkfp.cli.management.commands.import_roster import ImportCommand
from jkfp.core.importing import ImportSummary
from jkfp.registry.models import ImportKind


class Command(ImportCommand):
    help = "导入卫生院覆盖村（例外）（CSV/XLSX：村代码, 覆盖机构代码）/ import villages covered by a township centre"
    kind = ImportKind.COVERAGE

    def run_import(self, options: dict[str, Any], **kwargs: Any) -> ImportSummary:
        return coverage_import(path=options["file"], **kwargs)
