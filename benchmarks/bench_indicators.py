"""Indicators at county scale (issue 7): the township table from persons, tags, conditions and follow-ups.

Data (raw bulk SQL, not timed as part of the result): N persons in 20 townships × 20 villages, a target
tag for 95 %, 1 % dead, hypertension for 40 %, diabetes for 15 %, and F follow-up items (care.FollowUpItem,
the per-condition rows the indicators read) spread over 2022–2024.

Measured in the same run, best of 3:
- ``ours``: what ``jkfp indicators --refresh`` does for the follow-up and registry indicators —
  ``village_figures`` (one Django ``GROUP BY`` over the village code per indicator) + ``roll_up`` —
  for verification_rate, htn/dm standard and control rates;
- ``baseline``: hand-written raw SQL ``GROUP BY village`` computing the same numerators and
  denominators (checked equal); the target population as a correlated ``EXISTS`` on PostgreSQL, as an
  uncorrelated ``id IN (…)`` on SQLite (whose planner runs the EXISTS-under-OR once per person);
- ``table``: the county's township table read from the snapshot (``region_report``), and the
  dashboard page p95 over 40 requests (Django test client, logged in as the county admin).

Prints ``indicators_township_table[db]: ratio=… (ours … s, baseline … s, n=…)`` and the snapshot lines.
Exit status 1 when a target is missed (ratio ≤ 1.5 on PostgreSQL; snapshot table ≤ 2 s; dashboard p95 ≤ 300 ms).
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from typing import Any

from benchmarks.django_setup import db_name

YEAR = 2024
CODES = ("verification_rate", "htn_standard_rate", "htn_control_rate", "dm_standard_rate", "dm_control_rate")


def _regions() -> list[str]:
    from jkfp.regions.models import Region, RegionLevel

    county = Region.objects.create(code="421321", name="随县", level=RegionLevel.COUNTY)
    villages = []
    for t in range(1, 21):
        town = Region.objects.create(
            code=f"421321{t:03d}000", name=f"镇{t}", level=RegionLevel.TOWNSHIP, parent=county
        )
        for v in range(1, 21):
            code = f"421321{t:03d}{v:03d}"
            Region.objects.create(code=code, name=f"村{t}-{v}", level=RegionLevel.VILLAGE, parent=town)
            villages.append(code)
    return villages


def _bulk(table: str, columns: tuple[str, ...], rows: Any) -> None:
    """Load rows: COPY on PostgreSQL, executemany in 50k chunks on SQLite."""
    from django.db import connection, transaction

    if connection.vendor == "postgresql":
        connection.ensure_connection()
        raw = connection.connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        raw.commit()
        return
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    batch: list[Any] = []
    with transaction.atomic(), connection.cursor() as cursor:
        for row in rows:
            batch.append(row)
            if len(batch) >= 50_000:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)


def _load(n: int, followups: int) -> dict[str, int]:
    from django.db import connection
    from django.utils import timezone

    from jkfp.care.models import FollowUp
    from jkfp.core.idnumber import make_id_number
    from jkfp.registry.models import Disease, Person
    from jkfp.registry.services import disease_catalogue_load

    disease_catalogue_load()
    htn = Disease.objects.get(name="高血压").pk
    dm = Disease.objects.get(name="2型糖尿病").pk
    villages = _regions()
    rng = random.Random(11)
    now = timezone.now()
    born0 = date(1930, 1, 1)
    statuses = ("pending", "confirmed", "rejected")

    def persons() -> Any:
        for i in range(n):
            born = born0 + timedelta(days=(i // 1000) * 29 % 30011)
            dead = i % 100 == 7
            yield (
                make_id_number("421321", born, i % 1000),
                f"人{i}",
                "M" if i % 2 else "F",
                born,
                villages[i % len(villages)],
                "",
                "",
                "dead" if dead else "home",
                date(2023, 6, 1) if dead else None,
                statuses[i % 3],
                "",
                False,
                now,
                now,
            )

    _bulk(
        "registry_person",
        ("id_number", "name", "sex", "birth_date", "village_id", "phone", "relation", "living_status", "death_on",
         "verification_status", "verification_note", "outside_systems", "created_at", "updated_at"),
        persons(),
    )  # fmt: skip
    first = Person.objects.order_by("pk").values_list("pk", flat=True).first() or 1
    ids = range(first, first + n)
    _bulk(
        "registry_tag",
        ("person_id", "code", "start_on", "end_on", "exited", "source", "reference", "subtype"),
        ((pk, ("poor", "dibao", "monitored", "tekun")[pk % 4], date(2016, 1, 1), None, False, "bench", "", "")
         for pk in ids if pk % 20),
    )  # fmt: skip
    htn_people = [pk for pk in ids if pk % 5 < 2]
    dm_people = [pk for pk in ids if pk % 20 < 3]
    _bulk(
        "registry_condition",
        ("person_id", "disease_id", "name", "source"),
        [
            *((pk, htn, "高血压", "bench") for pk in htn_people),
            *((pk, dm, "2型糖尿病", "bench") for pk in dm_people),
        ],
    )
    dummy = FollowUp.objects.create(person_id=first, visited_on=date(2000, 1, 1), kind="clinic")
    pairs = [(pk, htn) for pk in htn_people] + [(pk, dm) for pk in dm_people]
    per = max(1, followups // max(1, len(pairs)))
    classes = ("controlled", "uncontrolled", "controlled", "not_assessed")

    def items() -> Any:
        count = 0
        day0 = date(2022, 1, 3)
        for pk, disease in pairs:
            k = max(0, per + rng.randint(-3, 3))
            for j in range(k):
                if count >= followups:
                    return
                count += 1
                yield (dummy.pk, pk, disease, day0 + timedelta(days=j * 1095 // max(k, 1)), rng.random() < 0.8,
                       classes[(pk + j) % 4])  # fmt: skip

    _bulk(
        "care_followupitem",
        ("followup_id", "person_id", "disease_id", "visited_on", "face_to_face", "classification"),
        items(),
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return {"htn": htn, "dm": dm}


SERVED_EXISTS = """
  ((p.death_on IS NULL OR p.death_on > %(dec31)s) AND EXISTS (
      SELECT 1 FROM registry_tag t WHERE t.person_id = p.id AND t.code IN ('poor', 'monitored', 'tekun', 'dibao')
      AND t.start_on <= %(dec31)s AND (t.end_on IS NULL OR t.end_on >= %(dec31)s)))
  AND p.living_status NOT IN ('dead', 'lost')
"""
TARGET_EXISTS = """
  (((p.death_on IS NULL OR p.death_on > %(dec31)s) AND EXISTS (
      SELECT 1 FROM registry_tag t WHERE t.person_id = p.id AND t.code IN ('poor', 'monitored', 'tekun', 'dibao')
      AND t.start_on <= %(dec31)s AND (t.end_on IS NULL OR t.end_on >= %(dec31)s)))
   OR (p.death_on >= %(jan1)s AND p.death_on <= %(dec31)s AND EXISTS (
      SELECT 1 FROM registry_tag t WHERE t.person_id = p.id AND t.code IN ('poor', 'monitored', 'tekun', 'dibao')
      AND t.start_on <= p.death_on AND (t.end_on IS NULL OR t.end_on >= p.death_on))))
"""

# SQLite plans the correlated EXISTS-under-OR above as a scan with a subquery per person (322 s at 200k
# persons, hours at 1M): there the hand-written SQL uses the uncorrelated ``id IN (…)`` form instead.
TARGET_IN = """
  p.id IN (SELECT t.person_id FROM registry_tag t JOIN registry_person q ON q.id = t.person_id
           WHERE t.code IN ('poor', 'monitored', 'tekun', 'dibao') AND (
             ((q.death_on IS NULL OR q.death_on > %(dec31)s) AND t.start_on <= %(dec31)s
              AND (t.end_on IS NULL OR t.end_on >= %(dec31)s))
             OR (q.death_on >= %(jan1)s AND q.death_on <= %(dec31)s AND t.start_on <= q.death_on
                 AND (t.end_on IS NULL OR t.end_on >= q.death_on))))
"""
SERVED_IN = f"""
  {TARGET_IN} AND (p.death_on IS NULL OR p.death_on > %(dec31)s) AND p.living_status NOT IN ('dead', 'lost')
"""


def _baseline(diseases: dict[str, int]) -> dict[str, dict[str, tuple[int, int]]]:
    """The same counts in hand-written SQL, rolled up to townships in SQL too."""
    from django.db import connection

    params = {"jan1": date(YEAR, 1, 1), "dec31": date(YEAR, 12, 31)}
    in_form = connection.vendor == "sqlite"
    target, served = (TARGET_IN, SERVED_IN) if in_form else (TARGET_EXISTS, SERVED_EXISTS)
    out: dict[str, dict[str, tuple[int, int]]] = {}
    queries = {
        "verification_rate": f"""
            SELECT substr(p.village_id, 1, 9), SUM(CASE WHEN p.verification_status IN ('confirmed', 'rejected')
                   THEN 1 ELSE 0 END), COUNT(*)
            FROM registry_person p WHERE {target}
              AND EXISTS (SELECT 1 FROM registry_condition c WHERE c.person_id = p.id)
            GROUP BY substr(p.village_id, 1, 9)""",
    }
    for name, key in (("htn", "htn"), ("dm", "dm")):
        queries[f"{name}_standard_rate"] = f"""
            SELECT substr(p.village_id, 1, 9), SUM(CASE WHEN f.n >= 4 THEN 1 ELSE 0 END), COUNT(*)
            FROM registry_person p
            LEFT JOIN (SELECT person_id, COUNT(*) AS n FROM care_followupitem
                       WHERE disease_id = {diseases[key]} AND face_to_face AND visited_on >= %(jan1)s
                         AND visited_on <= %(dec31)s GROUP BY person_id) f ON f.person_id = p.id
            WHERE {served} AND EXISTS (SELECT 1 FROM registry_condition c WHERE c.person_id = p.id
                                        AND c.disease_id = {diseases[key]})
            GROUP BY substr(p.village_id, 1, 9)"""
        queries[f"{name}_control_rate"] = f"""
            SELECT substr(p.village_id, 1, 9), SUM(CASE WHEN l.classification = 'controlled' THEN 1 ELSE 0 END),
                   COUNT(*)
            FROM registry_person p
            LEFT JOIN (SELECT i.person_id, i.classification FROM care_followupitem i
                       JOIN (SELECT person_id, MAX(visited_on) AS m FROM care_followupitem
                             WHERE disease_id = {diseases[key]} AND visited_on >= %(jan1)s AND visited_on <= %(dec31)s
                             GROUP BY person_id) x ON x.person_id = i.person_id AND x.m = i.visited_on
                       WHERE i.disease_id = {diseases[key]}) l ON l.person_id = p.id
            WHERE {served} AND EXISTS (SELECT 1 FROM registry_condition c WHERE c.person_id = p.id
                                        AND c.disease_id = {diseases[key]})
            GROUP BY substr(p.village_id, 1, 9)"""
    with connection.cursor() as cursor:
        for code, sql in queries.items():
            cursor.execute(sql, params)
            out[code] = {f"{t}000": (int(num or 0), int(den)) for t, num, den in cursor.fetchall()}
    return out


def _ours() -> dict[str, dict[str, tuple[int, int]]]:
    from jkfp.indicators.catalogue import BY_CODE
    from jkfp.indicators.compute import RegionTree, roll_up, village_figures

    tree = RegionTree.load()
    out = {}
    for code in CODES:
        spec = BY_CODE[code].build(YEAR)
        assert spec is not None
        rolled = roll_up(village_figures(spec), tree)
        out[code] = {c: (int(n), int(d)) for c, (n, d) in rolled.items() if tree.level.get(c) == "township"}
    return out


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def run_one(db: str, n: int, followups: int) -> int:
    sys.path.insert(0, ".")
    from benchmarks.django_setup import fresh_pg_database, setup_django

    setup_django(fresh_pg_database(db_name("jkfp_bench_indicators")) if db == "pg" else None)
    from django.test import Client

    from jkfp.accounts.services import user_create
    from jkfp.indicators.selectors import region_report
    from jkfp.indicators.services import snapshot_refresh
    from jkfp.regions.models import Region

    started = time.perf_counter()
    diseases = _load(n, followups)
    load_s = time.perf_counter() - started
    ours_t: list[float] = []
    base_t: list[float] = []
    ours = base = None
    for _ in range(3):  # best of 3 (performance.md); alternate so the cache helps both alike
        t = time.perf_counter()
        base = _baseline(diseases)
        base_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        ours = _ours()
        ours_t.append(time.perf_counter() - t)
    assert ours is not None and base is not None
    for code in CODES:
        for township, figure in base[code].items():
            if ours[code].get(township) != figure:
                print(f"MISMATCH {code} {township}: ours {ours[code].get(township)} baseline {figure}")
                return 1
    o, b = min(ours_t), min(base_t)
    print(
        f"indicators_township_table[{db}]: ratio={o / b:.2f} (ours {o:.3f} s, baseline {b:.3f} s, "
        f"n={n} persons, {followups} follow-up items; {len(CODES)} indicators, counts identical; load {load_s:.0f} s)",
        flush=True,
    )
    t = time.perf_counter()
    run = snapshot_refresh(year=YEAR)
    refresh_s = time.perf_counter() - t
    county = Region.objects.get(code="421321")
    reads = []
    for _ in range(20):
        t = time.perf_counter()
        report = region_report(year=YEAR, region=county)
        reads.append(time.perf_counter() - t)
    assert len(report.children) == 20
    admin = user_create(
        username="bench", password="bench-pass-2026", role="county_admin", region_code="421321"
    )
    client = Client()
    client.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")
    pages = []
    for _ in range(40):
        t = time.perf_counter()
        response = client.get("/indicators/", {"year": YEAR})
        pages.append(time.perf_counter() - t)
        assert response.status_code == 200
    table, page = min(reads), _p95(pages)
    print(
        f"indicators_snapshot[{db}]: township table from the snapshot {table * 1000:.1f} ms, dashboard p95 "
        f"{page * 1000:.1f} ms (40 requests); full refresh of all {len(report.region.figures)} indicators "
        f"{refresh_s:.1f} s (stored run {run.seconds:.1f} s)",
        flush=True,
    )
    ok = table <= 2.0 and page <= 0.300
    if db == "pg":
        ok = ok and o / b <= 1.5
    # At --small size the floors are loose (shared noisy machines): only a count mismatch fails.
    return 0 if ok or n < 100_000 else 1


def main(argv: list[str]) -> int:
    if "--db" in argv:
        db = argv[argv.index("--db") + 1]
        return run_one(db, int(argv[argv.index("--n") + 1]), int(argv[argv.index("--followups") + 1]))
    sys.path.insert(0, ".")
    from benchmarks.django_setup import pg_available

    small = "--small" in argv
    n, followups = (4_000, 40_000) if small else (1_000_000, 10_000_000)
    if "--persons" in argv:
        n = int(argv[argv.index("--persons") + 1])
    if "--followups" in argv:
        followups = int(argv[argv.index("--followups") + 1])
    dbs = ["sqlite"] + (["pg"] if pg_available() else [])
    if "--only" in argv:
        dbs = [argv[argv.index("--only") + 1]]
    if "pg" not in dbs and "--only" not in argv:
        print("indicators[pg]: PostgreSQL not reachable, measured on SQLite only")
    code = 0
    for db in dbs:
        code |= subprocess.call(
            [
                sys.executable,
                "-c",
                "import sys, benchmarks.bench_indicators as m; sys.exit(m.main(sys.argv[1:]))",
                "--db",
                db,
                "--n",
                str(n),
                "--followups",
                str(followups),
            ]
        )
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
