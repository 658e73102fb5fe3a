"""Care work lists at county scale (issue 5): a village doctor's list ≤ 200 ms, a township's overdue list ≤ 500 ms.

Builds N persons in ~1,000 villages of 15 townships, one or two chronic conditions each, their
precomputed schedules, and M follow-up visits with one condition item each (PostgreSQL: ``COPY``;
SQLite: ``executemany``), then measures the real pages in process through Django's test client
(server time: middleware, view, selector, template): ``/care/`` for a village doctor (1,000 persons)
and ``/care/overdue/`` for a township user. Baseline in the same run, on the same data: what a work
list costs without the precomputed schedule — the last visit per person and condition of the same
village (township) computed from the follow-up items with a ``GROUP BY``.

Full size: PostgreSQL 1M persons / 10M follow-ups (``--persons``/``--followups`` to change), SQLite
200k / 1M. ``--small``: 20k / 100k on each database (a few seconds).
"""

from __future__ import annotations

import io
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from datetime import date, timedelta

from benchmarks.django_setup import db_name

VILLAGE_LIMIT_S = 0.200
TOWNSHIP_LIMIT_S = 0.500
TOWNSHIPS = 15


def _arg(argv: list[str], name: str, default: int) -> int:
    return int(argv[argv.index(name) + 1]) if name in argv else default


def _copy(table: str, columns: tuple[str, ...], rows: Iterable[tuple[object, ...]]) -> int:
    """Load rows: COPY on PostgreSQL (tab-separated text in 50k-row blocks), executemany on SQLite."""
    from django.db import connection

    n = 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Generated rows are consistent by construction: skip the deferred foreign-key triggers,
            # which otherwise check 10M rows one by one at COMMIT (minutes on 2 cores).
            cursor.execute("SET LOCAL session_replication_role = replica")
            raw = cursor.cursor
            with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                buf = io.StringIO()
                for row in rows:
                    buf.write("\t".join("\\N" if v is None else str(v) for v in row))
                    buf.write("\n")
                    n += 1
                    if n % 50_000 == 0:
                        copy.write(buf.getvalue())
                        buf = io.StringIO()
                copy.write(buf.getvalue())
        return n
    marks = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
    chunk: list[tuple[object, ...]] = []
    with connection.cursor() as cursor:
        for row in rows:
            chunk.append(tuple(str(v) if isinstance(v, date) else v for v in row))
            if len(chunk) == 50_000:
                cursor.executemany(sql, chunk)
                n += len(chunk)
                chunk = []
        if chunk:
            cursor.executemany(sql, chunk)
            n += len(chunk)
    return n


def _build(n_persons: int, n_followups: int, today: date) -> tuple[list[str], dict[str, float]]:
    from django.db import connection, transaction
    from django.utils import timezone

    from benchmarks.bench_search import _persons
    from jkfp.regions.models import Region, RegionLevel
    from jkfp.registry.models import Disease, Person
    from jkfp.registry.services import disease_catalogue_load

    timings: dict[str, float] = {}
    started = time.perf_counter()
    disease_catalogue_load()
    htn = Disease.objects.get(name="高血压").pk
    dm = Disease.objects.get(name="2型糖尿病").pk
    county = Region.objects.create(code="421321", name="随县", level=RegionLevel.COUNTY)
    per_township = max(1, n_persons // 1000 // TOWNSHIPS)
    villages: list[str] = []
    for t in range(1, TOWNSHIPS + 1):
        town = Region.objects.create(
            code=f"421321{t:03d}000", name=f"镇{t}", level=RegionLevel.TOWNSHIP, parent=county
        )
        Region.objects.bulk_create(
            Region(code=f"421321{t:03d}{v:03d}", name=f"村{t}-{v}", level=RegionLevel.VILLAGE, parent=town)
            for v in range(1, per_township + 1)
        )
        villages += [f"421321{t:03d}{v:03d}" for v in range(1, per_township + 1)]
    now = timezone.now().isoformat()
    rows = _persons(n_persons, villages, seed=11)
    with transaction.atomic():
        _copy(
            "registry_person",
            (
                "id_number",
                "name",
                "sex",
                "birth_date",
                "village_id",
                "phone",
                "relation",
                "living_status",
                "verification_status",
                "verification_note",
                "outside_systems",
                "created_at",
                "updated_at",
            ),
            (
                (
                    *r,
                    "",
                    "",
                    "home",
                    "pending",
                    "",
                    "false" if connection.vendor == "postgresql" else 0,
                    now,
                    now,
                )
                for r in rows
            ),
        )
    timings["persons"] = time.perf_counter() - started
    ids = list(Person.objects.order_by("pk").values_list("pk", "village_id"))
    rng = random.Random(5)

    step = time.perf_counter()

    # Schedules: every person has hypertension, one in three also type-2 diabetes.
    def schedules() -> Iterable[tuple[object, ...]]:
        for pk, village in ids:
            for disease in (htn, dm) if pk % 3 == 0 else (htn,):
                due = today + timedelta(days=rng.randrange(-150, 92))
                last = due - timedelta(days=91)
                yield (pk, disease, village, last, "controlled", 0, due, "routine", due + timedelta(days=30))

    with transaction.atomic():
        n_schedules = _copy(
            "care_schedule",
            (
                "person_id",
                "disease_id",
                "village_id",
                "last_visit_on",
                "last_classification",
                "uncontrolled_streak",
                "due_on",
                "reason",
                "escalate_on",
            ),
            schedules(),
        )
    timings["schedules"] = time.perf_counter() - step

    step = time.perf_counter()
    n_ids = len(ids)
    t_false = "false" if connection.vendor == "postgresql" else 0
    t_true = "true" if connection.vendor == "postgresql" else 1

    def visits() -> Iterable[tuple[object, ...]]:
        for j in range(n_followups):
            pk = ids[j % n_ids][0]
            on = today - timedelta(days=30 * (j // n_ids) + pk % 29)
            yield (
                pk,
                on,
                "home",
                130,
                80,
                None,
                None,
                "",
                t_false,
                t_false,
                t_false,
                None,
                None,
                "import",
                None,
                now,
            )

    def items() -> Iterable[tuple[object, ...]]:
        for j in range(n_followups):
            pk = ids[j % n_ids][0]
            on = today - timedelta(days=30 * (j // n_ids) + pk % 29)
            yield (first + j, pk, htn, on, t_true, "controlled")

    with transaction.atomic():
        _copy(
            "care_followup",
            (
                "person_id",
                "visited_on",
                "kind",
                "systolic",
                "diastolic",
                "glucose",
                "weight",
                "medication",
                "adverse_reaction",
                "new_complication",
                "unstable",
                "next_on",
                "doctor_id",
                "source",
                "recorded_by_id",
                "created_at",
            ),
            visits(),
        )
    from jkfp.care.models import FollowUp

    first = FollowUp.objects.order_by("pk").values_list("pk", flat=True).first() or 1
    with transaction.atomic():
        _copy(
            "care_followupitem",
            ("followup_id", "person_id", "disease_id", "visited_on", "face_to_face", "classification"),
            items(),
        )
    timings["followups"] = time.perf_counter() - step
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in ("registry_person", "care_schedule", "care_followup", "care_followupitem"):
                cursor.execute(f"VACUUM ANALYZE {table}")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    timings["schedules_n"] = n_schedules
    return villages, timings


def _best(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def run_one(db: str, n_persons: int, n_followups: int) -> int:
    sys.path.insert(0, ".")
    from benchmarks.django_setup import fresh_pg_database, setup_django

    setup_django(fresh_pg_database(db_name("jkfp_bench_care")) if db == "pg" else None)
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from jkfp.accounts.services import user_create
    from jkfp.regions.models import prefix_range

    today = timezone.localdate()
    villages, timings = _build(n_persons, n_followups, today)
    rng = random.Random(9)
    sample_villages = rng.sample(villages, min(5, len(villages)))
    township = "421321001000"
    doctors = []
    for i, village in enumerate(sample_villages):
        user = user_create(
            username=f"cy{i}", password="bench-pass-2026", role="village_doctor", region_code=village
        )
        client = Client()
        client.force_login(user)
        doctors.append((village, client))
    town_user = user_create(username="xz", password="bench-pass-2026", role="township", region_code=township)
    town = Client()
    town.force_login(town_user)

    def page(client: Client, url: str) -> None:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        assert b"</html>" in response.content

    for _, client in doctors:  # warm the caches
        page(client, "/care/")
    page(town, "/care/overdue/")

    ours_village = max(
        _best(lambda c=client, s=section: page(c, f"/care/?section={s}"))  # type: ignore[misc]
        for _, client in doctors
        for section in ("overdue", "week", "unseen")
    )
    ours_town = _best(lambda: page(town, "/care/overdue/"))

    # Baseline: the last visit per person and condition, from the follow-ups (no schedule table).
    sql = (
        "SELECT i.person_id, i.disease_id, MAX(i.visited_on) FROM care_followupitem i "
        "JOIN registry_person p ON p.id = i.person_id WHERE p.village_id >= %s AND p.village_id < %s "
        "GROUP BY i.person_id, i.disease_id"
    )

    def scan(prefix: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, prefix_range(prefix))
            cursor.fetchall()

    base_village = max(_best(lambda v=v: scan(v)) for v, _ in doctors)  # type: ignore[misc]
    base_town = _best(lambda: scan(township[:9]), repeat=2)
    persons_per_village = n_persons // len(villages)
    load = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items() if k != "schedules_n")
    size = f"n={n_persons} persons, {n_followups} follow-ups, {int(timings['schedules_n'])} schedules"
    print(
        f"care_worklist_village[{db}]: ratio={base_village / ours_village:.1f} (ours {ours_village:.4f} s, "
        f"baseline {base_village:.4f} s, {size}, {persons_per_village} persons/village; load {load}) "
        f"target ≤ {VILLAGE_LIMIT_S * 1000:.0f} ms",
        flush=True,
    )
    print(
        f"care_overdue_township[{db}]: ratio={base_town / ours_town:.1f} (ours {ours_town:.4f} s, "
        f"baseline {base_town:.4f} s, {size}, {n_persons // TOWNSHIPS} persons/township) "
        f"target ≤ {TOWNSHIP_LIMIT_S * 1000:.0f} ms",
        flush=True,
    )
    ok = ours_village <= VILLAGE_LIMIT_S and ours_town <= TOWNSHIP_LIMIT_S
    return 0 if ok else 1


def main(argv: list[str]) -> int:
    if "--db" in argv:
        return run_one(
            argv[argv.index("--db") + 1], _arg(argv, "--persons", 20_000), _arg(argv, "--followups", 100_000)
        )
    sys.path.insert(0, ".")
    from benchmarks.django_setup import drop_pg_database, pg_available

    small = "--small" in argv
    sizes = {
        "sqlite": (20_000, 100_000)
        if small
        else (_arg(argv, "--sqlite-persons", 200_000), _arg(argv, "--sqlite-followups", 1_000_000)),
        "pg": (20_000, 100_000)
        if small
        else (_arg(argv, "--persons", 1_000_000), _arg(argv, "--followups", 10_000_000)),
    }
    dbs = [a for a in ("sqlite", "pg") if f"--only-{a}" in argv] or ["sqlite", "pg"]
    if "pg" in dbs and not pg_available():
        print("care_worklist[pg]: PostgreSQL not reachable, measured on SQLite only")
        dbs.remove("pg")
    code = 0
    for db in dbs:
        persons, followups = sizes[db]
        code |= subprocess.call(
            [
                sys.executable,
                "-c",
                "import sys, benchmarks.bench_care as m; sys.exit(m.main(sys.argv[1:]))",
                "--db",
                db,
                "--persons",
                str(persons),
                "--followups",
                str(followups),
            ]
        )
        if db == "pg":
            drop_pg_database(db_name("jkfp_bench_care"))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
