"""Write docs/permissions.md from the permission matrix (jkfp/accounts/permissions.py)."""

from __future__ import annotations

import os
import sys

import django


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jkfp.settings")
    django.setup()
    from jkfp.accounts.permissions import DOC_PATH, matrix_markdown  # noqa: PLC0415 (after django.setup())

    DOC_PATH.write_text(matrix_markdown(), encoding="utf-8")
    print(f"已写入 wrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
