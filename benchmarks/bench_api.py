"""接口基准 The hospital API's discharge settlement on PostgreSQL under concurrent load.

A gunicorn server (2 workers × 4 threads = 8 database connections: the connection budget of
performance.md's pitfalls) serves ``POST /api/v1/settlements`` on loopback; a load generator of
Python threads (``http.client``, one keep-alive connection per client, as a hospital system's
connection pool; bodies serialised before the clock starts) posts discharges of distinct stays,
each request timed end to end. Besides the latencies it prints the CPU spent per request by the
server (gunicorn master and workers), its PostgreSQL backends and the load generator (``/proc``):
that figure does not move with the other load on the machine.

- ``api_settle_p95@8``: p95 latency at 8 concurrent clients (target ≤ 50 ms).
  ratio = baseline ÷ ours, where the baseline is the same settlement computed in process
  (``settlement.services.claim_submit`` called directly, same database, p95 over the same count
  of other claims).
- ``api_outpatient_p95@8``: the same for outpatient special chronic disease visits (门诊慢特病, issue
  19: ``kind`` outpatient, every person holding a 高血压 card; a visit settles on the person's ledger
  row, which keeps the outpatient sums — the year is settled in order only when one of the person's
  earlier stays of this run is dated after the visit), p95 at 8 concurrent clients (target ≤ 50 ms);
  baseline: ``claim_submit`` in process.
- ``api_settle_errors@64``: 64 concurrent clients; every request must answer 200 (target: 0
  errors) while the server's database sessions stay within the budget (sampled from
  ``pg_stat_activity``).

``--workers N --threads M``: other gunicorn settings (the budget is N × M); ``--no-keep-alive``: a
new connection per request; ``--requests N``: N requests at 8 clients (1.5 N at 64).
``--small``: fewer requests (runs in well under 30 s). Without PostgreSQL the benchmark says so and
exits 0. Exit status 1 when a target is missed (small size: errors and the connection budget only;
the latency target is for the full size on a quiet machine).
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks.django_setup import db_name

DB_NAME = db_name("jkfp_bench_api")
WORKERS, THREADS = 2, 4
P95_TARGET = 0.050


def _database() -> str:
    """A fresh copy of a migrated template database (``CREATE DATABASE … TEMPLATE``): migrating from
    nothing takes 10–30 s here, so the template is migrated once (and incrementally afterwards)."""
    import psycopg
    from django.core.management import call_command
    from django.db import connections

    from benchmarks.django_setup import PG_ADMIN_URL, drop_pg_database, pg_database_url

    template = f"{DB_NAME}_template"
    admin = PG_ADMIN_URL.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{template}"')
    connections["default"].settings_dict["NAME"] = template
    call_command("migrate", interactive=False, verbosity=0)
    connections.close_all()
    drop_pg_database(DB_NAME)
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{DB_NAME}" TEMPLATE "{template}"')
    connections["default"].settings_dict["NAME"] = DB_NAME
    return pg_database_url(DB_NAME)


def _seed(persons: int) -> tuple[str, list[str]]:
    from jkfp.accounts.services import institution_token_create
    from jkfp.care.models import ChronicCard
    from jkfp.core.idnumber import make_id_number
    from jkfp.regions.models import Institution, Region, RegionLevel
    from jkfp.registry.models import Disease, Person, Tag
    from jkfp.registry.services import disease_catalogue_load
    from jkfp.settlement.services import policy_install_preset

    county = Region.objects.create(code="421321", name="随县", level=RegionLevel.COUNTY)
    town = Region.objects.create(code="421321001000", name="第1镇", level=RegionLevel.TOWNSHIP, parent=county)
    village = Region.objects.create(code="421321001001", name="第1村", level=RegionLevel.VILLAGE, parent=town)
    Institution.objects.create(code="H001", name="随县人民医院", level="2", region=county)
    policy_install_preset(name="suixian-2020")
    people = [
        Person(
            id_number=make_id_number("421321", date(1950, 1, 1) + timedelta(days=i % 20000), i % 1000),
            name=f"基准{i}",
            sex="M",
            birth_date=date(1950, 1, 1) + timedelta(days=i % 20000),
            village=village,
        )
        for i in range(persons)
    ]
    people = list({p.id_number: p for p in people}.values())
    Person.objects.bulk_create(people, batch_size=2000)
    saved = Person.objects.in_bulk([p.id_number for p in people], field_name="id_number")
    Tag.objects.bulk_create(
        [Tag(person=p, code="poor", start_on=date(2019, 1, 1), source="基准") for p in saved.values()],
        batch_size=2000,
    )
    disease_catalogue_load()
    htn = Disease.objects.get(name="高血压")
    ChronicCard.objects.bulk_create(
        [ChronicCard(person=p, disease=htn, certified_on=date(2019, 1, 1)) for p in saved.values()],
        batch_size=2000,
    )
    return institution_token_create(institution_code="H001")[1], list(saved)


def _bodies(
    ids: list[str], count: int, prefix: str, rng: random.Random, *, outpatient: bool = False
) -> list[dict[str, Any]]:
    """Discharges of distinct stays, each person's in date order (the window's usual case); with
    ``outpatient``, 高血压 visits (门诊慢特病) of 80–1500 yuan instead."""
    out = []
    for n in range(count):
        discharged = date(2020, 1, 1) + timedelta(days=min(359, n * 360 // max(1, count)))
        if outpatient:
            total = Decimal(rng.randrange(8_000, 150_000)) / 100
        else:
            total = Decimal(rng.randrange(100_000, 5_000_000)) / 100
        body = {
            "claim_id": f"{prefix}{n:06d}",
            "id_number": ids[rng.randrange(len(ids))],
            "admitted_on": (discharged if outpatient else discharged - timedelta(days=5)).isoformat(),
            "discharged_on": discharged.isoformat(),
            "total_amount": f"{total:.2f}",
            "out_of_scope_amount": f"{(total / 20).quantize(Decimal('0.01')):.2f}",
            "referred": False,
        }
        if outpatient:
            body |= {"kind": "outpatient", "disease": "高血压"}
        out.append(body)
    return out


def _in_process(bodies: list[dict[str, Any]]) -> list[float]:
    """Baseline: the same settlement through the service, in this process, one after the other."""
    from jkfp.regions.models import Institution
    from jkfp.registry.models import Person
    from jkfp.settlement.models import ClaimSource
    from jkfp.settlement.services import claim_submit

    institution = Institution.objects.get(code="H001")
    times = []
    for b in bodies:
        started = time.perf_counter()
        claim_submit(
            claim_id=b["claim_id"],
            person=Person.objects.get(id_number=b["id_number"]),
            institution=institution,
            admitted_on=date.fromisoformat(b["admitted_on"]),
            discharged_on=date.fromisoformat(b["discharged_on"]),
            total_amount=Decimal(b["total_amount"]),
            out_of_scope_amount=Decimal(b["out_of_scope_amount"]),
            referred=b["referred"],
            source=ClaimSource.API,
            kind=b.get("kind", "inpatient"),
            disease=b.get("disease", ""),
        )
        times.append(time.perf_counter() - started)
    return times


def _sessions() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


def _backend_pids() -> list[int]:
    """The server's PostgreSQL backends (every session of the database but this process's own)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [int(r[0]) for r in cursor.fetchall()]


class CpuMeter:
    """CPU seconds spent during a phase by the load generator (this process), the gunicorn master
    and workers, and the server's PostgreSQL backends (Linux ``/proc``): the cost per request does
    not depend on what else runs on the machine, unlike the latencies."""

    def __init__(self, server_pids: list[int]) -> None:
        from benchmarks.loadtest import cpu_seconds

        self.server_pids = server_pids
        self.cpu_seconds = cpu_seconds
        self.start = (time.process_time(), cpu_seconds(server_pids), cpu_seconds(_backend_pids()))

    def per_request_ms(self, requests: int) -> dict[str, float]:
        client0, server0, db0 = self.start
        server1 = self.cpu_seconds(self.server_pids)
        db1 = self.cpu_seconds(_backend_pids())
        spent = {
            "client": time.process_time() - client0,
            "server": sum(v - server0.get(pid, 0.0) for pid, v in server1.items()),
            "db": sum(v - db0.get(pid, 0.0) for pid, v in db1.items()),
        }
        return {k: 1000 * v / max(1, requests) for k, v in spent.items()}


def _cpu_text(cpu: dict[str, float]) -> str:
    return (
        f"CPU per request {sum(cpu.values()):.1f} ms = server {cpu['server']:.1f} + PostgreSQL "
        f"{cpu['db']:.1f} + load generator {cpu['client']:.1f}"
    )


def _option(argv: list[str], name: str, default: int) -> int:
    return int(argv[argv.index(name) + 1]) if name in argv else default


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    from benchmarks.django_setup import drop_pg_database, pg_available, pg_database_url

    small = "--small" in argv
    workers, threads = _option(argv, "--workers", WORKERS), _option(argv, "--threads", THREADS)
    keep_alive = "--no-keep-alive" not in argv
    if not pg_available():
        print("api_settle: PostgreSQL not reachable here — the API benchmark needs it; skipped")
        return 0
    persons, base_n, n8, n64 = (60, 20, 80, 96) if small else (5000, 300, 1000, 1500)
    if "--requests" in argv:  # a quicker run for comparing server settings
        n8 = _option(argv, "--requests", n8)
        persons, n64 = max(persons, n8), n8 * 3 // 2
    home = Path(tempfile.mkdtemp(prefix="jkfp-bench-api-"))
    os.environ["JKFP_HOME"] = str(home)
    os.environ["DATABASE_URL"] = pg_database_url(DB_NAME)
    os.environ["DJANGO_SETTINGS_MODULE"] = "jkfp.settings"
    django.setup()
    url = _database()
    try:
        from django.db import connections

        from benchmarks.loadtest import Server, fire, percentile

        rng = random.Random(4)
        token, ids = _seed(persons)
        base_times = _in_process(_bodies(ids, base_n, "B", rng))
        base_op_times = _in_process(_bodies(ids, base_n, "P", rng, outpatient=True))
        connections.close_all()  # the sessions sampled below are the server's only
        server = Server(database_url=url, home=home / "server", workers=workers, threads=threads).start()
        try:
            # warm-up: imports and database connections of every worker thread
            fire(server.port, token, _bodies(ids, 32, "W", rng), clients=8, keep_alive=keep_alive)
            bodies8 = _bodies(ids, n8, "C", rng)
            meter = CpuMeter(server.pids())
            started = time.perf_counter()
            at8 = fire(server.port, token, bodies8, clients=8, keep_alive=keep_alive)
            wall8 = time.perf_counter() - started
            cpu8 = meter.per_request_ms(len(at8))
            bodies_op = _bodies(ids, n8, "O", rng, outpatient=True)
            meter = CpuMeter(server.pids())
            started = time.perf_counter()
            op8 = fire(server.port, token, bodies_op, clients=8, keep_alive=keep_alive)
            wall_op = time.perf_counter() - started
            cpu_op = meter.per_request_ms(len(op8))
            connections.close_all()
            peak = [0]
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    peak[0] = max(peak[0], _sessions())
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample)
            sampler.start()
            bodies64 = _bodies(ids, n64, "D", rng)
            started = time.perf_counter()
            at64 = fire(server.port, token, bodies64, clients=64, keep_alive=keep_alive)
            wall64 = time.perf_counter() - started
            stop.set()
            sampler.join()
        finally:
            server.stop()
    finally:
        from django.db import connections

        connections.close_all()
        drop_pg_database(DB_NAME)

    ok8 = [o.seconds for o in at8 if o.status == 200]
    p95, p50 = percentile(ok8, 0.95), percentile(ok8, 0.50)
    base95 = percentile(base_times, 0.95)
    errors8 = sum(1 for o in at8 if o.status != 200)
    errors64 = sum(1 for o in at64 if o.status != 200)
    p95_64 = percentile([o.seconds for o in at64 if o.status == 200], 0.95)
    ok_op = [o.seconds for o in op8 if o.status == 200]
    p95_op, p50_op = percentile(ok_op, 0.95), percentile(ok_op, 0.50)
    base95_op = percentile(base_op_times, 0.95)
    errors_op = sum(1 for o in op8 if o.status != 200)
    budget = workers * threads
    print(
        f"api_settle_p95@8: ratio={base95 / p95:.3f} (ours {p95:.4f} s p95, p50 {p50:.4f} s, "
        f"{len(at8) / wall8:.0f} req/s; baseline {base95:.4f} s p95 in process; n={len(at8)}, "
        f"errors={errors8}, target p95 ≤ {P95_TARGET:.3f} s; {_cpu_text(cpu8)}; "
        f"gunicorn {workers} workers × {threads} threads, {'keep-alive' if keep_alive else 'new connection per request'})"
    )
    print(
        f"api_outpatient_p95@8: ratio={base95_op / p95_op:.3f} (ours {p95_op:.4f} s p95, p50 {p50_op:.4f} s, "
        f"{len(op8) / wall_op:.0f} req/s; baseline {base95_op:.4f} s p95 in process; n={len(op8)}, "
        f"errors={errors_op}, target p95 ≤ {P95_TARGET:.3f} s; {_cpu_text(cpu_op)})"
    )
    print(
        f"api_settle_errors@64: ratio={base95 / p95_64:.3f} (ours {p95_64:.4f} s p95, "
        f"{len(at64) / wall64:.0f} req/s; baseline {base95:.4f} s; n={len(at64)}, errors={errors64}, "
        f"database sessions peak {peak[0]} ≤ budget {budget})"
    )
    failed = errors8 > 0 or errors64 > 0 or errors_op > 0 or peak[0] > budget
    if not small and p95 > P95_TARGET:
        print(f"api_settle_p95@8: p95 {p95:.4f} s above the target {P95_TARGET:.3f} s", file=sys.stderr)
        failed = True
    if not small and p95_op > P95_TARGET:
        print(
            f"api_outpatient_p95@8: p95 {p95_op:.4f} s above the target {P95_TARGET:.3f} s", file=sys.stderr
        )
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
