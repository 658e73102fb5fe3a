from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.signals import setting_changed

from jkfp.core import fonts
from jkfp.core.tablebounds import MB, TableLimits, table_limits_set

LIMIT_SETTINGS = ("IMPORT_MAX_INFLATED_MB", "IMPORT_MAX_ROWS", "IMPORT_MAX_COLUMNS", "IMPORT_MAX_CELL_CHARS")


def table_limits_from_settings(*, setting: str | None = None, **_: Any) -> None:
    """The reader's limits (core/tablebounds.py) from the settings ``IMPORT_MAX_*``."""
    if setting not in (None, *LIMIT_SETTINGS):
        return
    table_limits_set(
        TableLimits(
            max_inflated_bytes=int(settings.IMPORT_MAX_INFLATED_MB) * MB,
            max_rows=int(settings.IMPORT_MAX_ROWS),
            max_columns=int(settings.IMPORT_MAX_COLUMNS),
            max_cell_chars=int(settings.IMPORT_MAX_CELL_CHARS),
        )
    )


class CoreConfig(AppConfig):
    name = "jkfp.core"
    label = "core"
    verbose_name = "共享内核"
    # The CJK font system check (jkfp.E001) is registered by importing jkfp.core.fonts.
    checks = (fonts.check_cjk_font,)

    def ready(self) -> None:
        table_limits_from_settings()
        # A test's ``settings`` override of a limit reaches the reader too.
        setting_changed.connect(table_limits_from_settings, dispatch_uid="jkfp-table-limits")
