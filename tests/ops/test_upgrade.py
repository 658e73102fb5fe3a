"""升级 Released migrations are frozen, and ``jkfp init`` upgrades a database of an older release.

``jkfp/ops/released_migrations.json`` holds the SHA-256 of every migration file a release shipped
(scripts/release_migrations.py records them): a county's database has run those, so they may never
change. The upgrade test builds a database exactly at the last release's migrations with data in it
(through the historical models, as the old code would have written it), runs ``jkfp init`` of this
version, and finds the new migrations applied and the data kept.

The upgrade runs once, in the SQLite pass, on its own SQLite file: the migration plan does not
depend on the database, and the PostgreSQL pass builds its whole schema from these migrations anyway.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

import jkfp

PACKAGE = Path(jkfp.__file__).resolve().parent
RELEASED = json.loads((PACKAGE / "ops" / "released_migrations.json").read_text())
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")

OLD_DATABASE = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "jkfp.settings"
import django; django.setup()
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
targets = [tuple(t.split(".")) for t in sys.argv[1:]]
MigrationExecutor(connection).migrate(targets)
state = MigrationExecutor(connection).loader.project_state(targets)
Region = state.apps.get_model("regions", "Region")
User = state.apps.get_model("accounts", "User")
county = Region.objects.create(code="421321", name="随县", level="county")
User.objects.create(username="old-admin", password="!", role="county_admin", region=county, full_name="老管理员")
"""


def _last_released() -> list[str]:
    """app.migration of each app's last released migration."""
    latest: dict[str, str] = {}
    for files in RELEASED.values():
        for path in files:
            app, _, name = path.split("/")
            latest[app] = max(latest.get(app, ""), name.removesuffix(".py"))
    return [f"{app}.{name}" for app, name in sorted(latest.items())]


def test_released_migrations_never_change() -> None:
    assert RELEASED, "at least one release is recorded"
    for version, files in RELEASED.items():
        for path, digest in files.items():
            file = PACKAGE / path
            assert file.is_file(), f"{path} of release {version} was removed: write a new migration instead"
            assert hashlib.sha256(file.read_bytes()).hexdigest() == digest, (
                f"{path} of release {version} changed: a released migration is frozen, write a new one"
            )


@pytest.mark.skipif(ON_POSTGRES, reason="upgrades its own SQLite file: runs once, in the SQLite pass")
def test_init_upgrades_a_database_of_the_last_release(tmp_path: Path) -> None:
    database = tmp_path / "old.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JKFP_", "DJANGO_"))}
    env.update(
        JKFP_HOME=str(tmp_path),
        DATABASE_URL=f"sqlite:///{database}",
        JKFP_STATIC_ROOT=str(settings.STATIC_ROOT),
    )
    old = subprocess.run(
        [sys.executable, "-c", OLD_DATABASE, *_last_released()], env=env, capture_output=True, text=True
    )
    assert old.returncode == 0, old.stderr
    with sqlite3.connect(database) as conn:
        before = {(a, n) for a, n in conn.execute("SELECT app, name FROM django_migrations")}
    released = {(p.split("/")[0], p.split("/")[2].removesuffix(".py")) for f in RELEASED.values() for p in f}
    assert released <= before
    refused = subprocess.run(
        [sys.executable, "-m", "jkfp.cli", "reconcile", "--json"], env=env, capture_output=True, text=True
    )
    assert refused.returncode == 2 and "jkfp init" in refused.stderr, (
        "an old database is refused until upgraded"
    )

    done = subprocess.run([sys.executable, "-m", "jkfp.cli", "init"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(database) as conn:
        after = {(a, n) for a, n in conn.execute("SELECT app, name FROM django_migrations")}
        user = conn.execute(
            "SELECT username, full_name, region_id, must_change_password FROM accounts_user"
        ).fetchall()
    new = after - before
    assert ("accounts", "0004_must_change_password") in new and ("ops", "0001_initial") in new
    assert f"应用迁移 {len(new)} 个" in done.stdout
    assert user == [("old-admin", "老管理员", "421321", 0)], "the data of the old release are kept"
    again = subprocess.run(
        [sys.executable, "-m", "jkfp.cli", "init"], env=env, capture_output=True, text=True
    )
    assert "应用迁移 0 个" in again.stdout
