"""Real-world roster through the web path (issue 18 item 9): header detection and mapping cost, peak memory.

A roster of ``write_roster`` reshaped the way staff receive it — two title rows above the header and
the township's own headers (证件号, 户主编号) — is imported exactly as a web upload is: an ImportRun
with its source's saved template (``ImportTemplate``), run by the background worker's task function
(``roster_import_task``, the reader in interactive mode, title rows skipped, columns mapped, cells
normalised), in a worker process of its own on PostgreSQL when it answers (else SQLite).

- ``import_mapping_share``: seconds of header detection + mapping + normalisation (the reader's
  ``ReadContext.seconds``) ÷ seconds of the whole import; target ≤ 0.05.
- ``import_web_peak_rss``: the worker process's peak resident memory (``ru_maxrss``); target < 1.5 GB
  at 1M rows.

Full size: 1M rows; ``--small``: 20k rows with the same ceilings (a regression guard).
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.django_setup import db_name

PG_DB = db_name("jkfp_bench_map")
SHARE_MAX = 0.05
RSS_MAX_MB = 1536.0
MAPPING = '[columns]\n"证件号" = "身份证号"\n"户主编号" = "户编号"\n'


def reshape(source: Path, target: Path) -> None:
    """Two title rows above the header, and the township's own headers."""
    raw = source.read_bytes()
    end = raw.index(b"\n")
    header = raw[:end].decode("utf-8").replace("身份证号", "证件号").replace("户编号", "户主编号")
    with target.open("wb") as out:
        out.write("某县扶贫对象名单（系统导出）\n导出时间：2024年3月1日\n".encode())
        out.write(header.encode() + raw[end:])


def worker(database: str, data_dir: Path) -> dict[str, Any]:
    from benchmarks.django_setup import pg_database_url, setup_django

    home = data_dir / "home"
    home.mkdir(exist_ok=True)
    setup_django(pg_database_url(PG_DB) if database == "pg" else None, home=home)
    from django.conf import settings

    from jkfp.accounts.models import Role, User
    from jkfp.regions.imports import regions_import
    from jkfp.regions.models import Region
    from jkfp.registry.models import ImportKind, ImportRun, ImportStatus, ImportTemplate
    from jkfp.registry.services import disease_catalogue_load
    from jkfp.registry.tasks import roster_import_task

    disease_catalogue_load()
    regions_import(path=data_dir / "regions.csv", errors_dir=home)
    county = Region.objects.get(code="421321")
    user = User.objects.create(username="bench_admin", role=Role.COUNTY_ADMIN, region=county)
    ImportTemplate.objects.create(kind=ImportKind.ROSTER, source="某镇名单", region=county, mapping=MAPPING)
    upload = Path(settings.IMPORT_DIR) / "upload" / "roster.csv"
    upload.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(data_dir / "real.csv", upload)
    run = ImportRun.objects.create(
        kind=ImportKind.ROSTER,
        source="某镇名单",
        year=2024,
        file_name="roster.csv",
        stored_path=str(upload),
        status=ImportStatus.QUEUED,
        user=user,
        region=county,
        mapping=MAPPING,
    )
    # What the reader spent on detection and mapping: the context the task opens, seen from inside.
    from jkfp.core import tabular_map

    spent: list[float] = []
    original = tabular_map.reading

    def measured(*args: Any, **kwargs: Any) -> Any:
        manager = original(*args, **kwargs)

        class Wrapped:
            def __enter__(self) -> Any:
                self.context = manager.__enter__()
                return self.context

            def __exit__(self, *exc: Any) -> Any:
                spent.append(self.context.seconds)
                return manager.__exit__(*exc)

        return Wrapped()

    import jkfp.registry.tasks as tasks

    setattr(tasks, "reading", measured)  # noqa: B010 (the task's own context, measured from outside)
    started = time.perf_counter()
    roster_import_task.call(run.pk)
    seconds = time.perf_counter() - started
    run.refresh_from_db()
    return {
        "status": run.status,
        "summary": run.summary,
        "message": run.message,
        "seconds": seconds,
        "detection_seconds": sum(spent),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        print(json.dumps(worker(argv[1], Path(argv[2]))))
        return 0
    small = "--small" in argv
    n = 20_000 if small else 1_000_000
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.django_setup import drop_pg_database, fresh_pg_database, pg_available
    from jkfp.registry.synthetic import write_regions, write_roster

    with tempfile.TemporaryDirectory(prefix="jkfp-bench-map-") as tmp:
        data_dir = Path(tmp)
        roster = write_roster(data_dir / "roster.csv", rows=n, seed=11)
        write_regions(data_dir / "regions.csv", villages=list(roster.villages))
        reshape(data_dir / "roster.csv", data_dir / "real.csv")
        database = "pg" if pg_available() else "sqlite"
        if database == "pg":
            fresh_pg_database(PG_DB)
        try:
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.bench_import_mapping",
                    "--worker",
                    database,
                    str(data_dir),
                ],
                capture_output=True,
                text=True,
                check=False,
                cwd=Path(__file__).resolve().parent.parent,
            )
        finally:
            if database == "pg":
                drop_pg_database(PG_DB)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    summary = result["summary"]
    # Normalisation may rescue a row the generator made invalid (a full-width or padded cell): at
    # least the generator's valid rows are valid.
    ok = (
        result["status"] == "done"
        and summary.get("rows") == roster.rows
        and summary.get("valid", 0) >= roster.valid
    )
    share = result["detection_seconds"] / result["seconds"]
    print(
        f"import_mapping_share: ratio={share:.4f} (detection+mapping {result['detection_seconds']:.3f} s, "
        f"import {result['seconds']:.2f} s, n={roster.rows}, {database}) target ≤ {SHARE_MAX}",
        flush=True,
    )
    print(
        f"import_web_peak_rss: {result['peak_rss_mb']:.0f} MB (worker process, n={roster.rows}, {database})"
        f" target < {RSS_MAX_MB:.0f} MB; generator's valid rows {roster.valid}; summary "
        f"{json.dumps({k: v for k, v in summary.items() if k != 'errors_file'}, ensure_ascii=False)}",
        flush=True,
    )
    if not ok:
        print(f"wrong outcome: {result['status']} {result['message']} {summary}", file=sys.stderr)
        return 1
    return 0 if share <= SHARE_MAX and result["peak_rss_mb"] < RSS_MAX_MB else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
