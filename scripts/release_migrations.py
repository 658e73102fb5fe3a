"""Freeze the migrations of a release: record the SHA-256 of every migration file not yet recorded.

    python scripts/release_migrations.py 0.2.0

run when a version is released (CHANGELOG.md). tests/ops/test_upgrade.py then fails if a recorded
file changes or disappears: a county's database has run it, so it must never change (write a new
migration instead).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "jkfp" / "ops" / "released_migrations.json"


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    version = sys.argv[1]
    record: dict[str, dict[str, str]] = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    known = {path for files in record.values() for path in files}
    new = {
        path.relative_to(ROOT / "jkfp").as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((ROOT / "jkfp").glob("*/migrations/[0-9]*.py"))
        if path.relative_to(ROOT / "jkfp").as_posix() not in known
    }
    record.setdefault(version, {}).update(new)
    RECORD.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    print(f"{len(new)} migrations frozen as released in {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
