"""Partitioned by year or not? ``python -m benchmarks.partitioning [--claims-per-year N] [--keep]`` (ADR 0012).

Builds, in a throw-away PostgreSQL database ``jkfp_partition<JKFP_DB_SUFFIX>`` (DATABASE_URL's server,
default 127.0.0.1:5432), the same synthetic province twice — plain tables shaped like ``Claim``,
``Settlement`` and ``FollowUp`` with their indexes and constraints, and the same rows in tables
partitioned by year (declarative, one partition per year) — and times the queries that matter on
each, best of 3 with the cache warm: a county's year as ``resettle`` and the settlement ledger read
it, the county dashboard's settlement and follow-up aggregates, a village doctor's person-year, the
window's lookup by 结算号, a county's ``resettle`` write (current flags of a county-year), and removing
the oldest year. Not part of ``make bench``: it is the measurement behind a decision, run by hand.
Prints one line per query: ``name: plain … ms, partitioned … ms, ratio …``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import psycopg

YEARS = (2023, 2024, 2025)
COUNTIES = 40
COUNTY = "420117"  # one of the 40 (codes 420100 … 420139)
COUNTY_RANGE = (f"{COUNTY}000000", f"{int(COUNTY) + 1}000000")

PERSONS = """
CREATE TABLE person AS
SELECT i AS id,
       (420100 + i % {counties})::text || lpad((1 + (i / {counties}) % 20)::text, 3, '0')
         || lpad((1 + (i / ({counties} * 20)) % 30)::text, 3, '0') AS village_code
FROM generate_series(1, {persons}) AS i;
ALTER TABLE person ADD PRIMARY KEY (id);
CREATE INDEX person_village ON person (village_code);
"""

CLAIM_COLUMNS = """
  id bigint NOT NULL,
  claim_id varchar(64) NOT NULL,
  person_id bigint NOT NULL,
  institution_id integer NOT NULL,
  level smallint NOT NULL,
  in_county boolean NOT NULL,
  admitted_on date NOT NULL,
  discharged_on date NOT NULL,
  total_amount numeric(14, 2) NOT NULL,
  out_of_scope_amount numeric(14, 2) NOT NULL,
  referred boolean NOT NULL,
  status varchar(10) NOT NULL,
  source varchar(10) NOT NULL,
  created_at timestamptz NOT NULL
"""
SETTLEMENT_COLUMNS = """
  id bigint NOT NULL,
  claim_id bigint NOT NULL,
  policy_id integer NOT NULL,
  category varchar(30) NOT NULL,
  counted_total numeric(14, 2) NOT NULL,
  basic numeric(14, 2) NOT NULL,
  critical numeric(14, 2) NOT NULL,
  aid numeric(14, 2) NOT NULL,
  supplementary numeric(14, 2) NOT NULL,
  personal numeric(14, 2) NOT NULL,
  ytd_after_personal_fen bigint NOT NULL,
  trace text NOT NULL,
  is_current boolean NOT NULL,
  settled_at timestamptz NOT NULL
"""
FOLLOWUP_COLUMNS = """
  id bigint NOT NULL,
  person_id bigint NOT NULL,
  visited_on date NOT NULL,
  kind varchar(10) NOT NULL,
  systolic smallint,
  diastolic smallint,
  unstable boolean NOT NULL,
  created_at timestamptz NOT NULL
"""

PLAIN = f"""
CREATE TABLE claim_plain ({CLAIM_COLUMNS});
CREATE TABLE settlement_plain ({SETTLEMENT_COLUMNS});
CREATE TABLE followup_plain ({FOLLOWUP_COLUMNS});
"""
# A partitioned table's primary key and unique constraints must contain the partition key: the
# claim's key becomes (id, discharged_on), 结算号 is unique only within a year, and the settlement
# carries its claim's discharge date to be partitioned and to reference the claim.
PARTITIONED = f"""
CREATE TABLE claim_part ({CLAIM_COLUMNS}) PARTITION BY RANGE (discharged_on);
CREATE TABLE settlement_part ({SETTLEMENT_COLUMNS}, discharged_on date NOT NULL) PARTITION BY RANGE (discharged_on);
CREATE TABLE followup_part ({FOLLOWUP_COLUMNS}) PARTITION BY RANGE (visited_on);
"""
# Keys, constraints and the models' indexes (jkfp/settlement/models.py, jkfp/care/models.py), built
# after the load on both shapes.
KEYS = {
    "plain": """
ALTER TABLE claim_plain ADD PRIMARY KEY (id), ADD UNIQUE (claim_id);
ALTER TABLE settlement_plain ADD PRIMARY KEY (id);
ALTER TABLE followup_plain ADD PRIMARY KEY (id), ADD UNIQUE (person_id, visited_on);
""",
    "part": """
ALTER TABLE claim_part ADD PRIMARY KEY (id, discharged_on), ADD UNIQUE (claim_id, discharged_on);
ALTER TABLE settlement_part ADD PRIMARY KEY (id, discharged_on);
ALTER TABLE followup_part ADD PRIMARY KEY (id, visited_on), ADD UNIQUE (person_id, visited_on);
""",
}


def partitions(year: int) -> str:
    bounds = f"FROM ('{year}-01-01') TO ('{year + 1}-01-01')"
    return "\n".join(
        f"CREATE TABLE {table}_{year} PARTITION OF {table} FOR VALUES {bounds};"
        for table in ("claim_part", "settlement_part", "followup_part")
    )


LOAD = """
INSERT INTO claim_plain
SELECT i, 'C' || i, 1 + (i::bigint * 7919) % {persons}, 1 + i % 400, 1 + i % 3, i % 5 <> 0,
       d - (i % 9), d, 1000 + (i % 50000), (i % 500), i % 7 = 0,
       CASE WHEN i % 50 = 0 THEN 'reversed' ELSE 'settled' END, 'api', now()
FROM (SELECT i, make_date({first} + (i - 1) / {per_year}, 1, 1) + ((i * 37) % 365) AS d
      FROM generate_series(1, {claims}) AS i) AS g;
INSERT INTO settlement_plain
SELECT id, id, 1, 'poor', total_amount - out_of_scope_amount, (total_amount * 0.6)::numeric(14, 2),
       (total_amount * 0.1)::numeric(14, 2), (total_amount * 0.1)::numeric(14, 2),
       (total_amount * 0.05)::numeric(14, 2), (total_amount * 0.15)::numeric(14, 2),
       (total_amount * 15)::bigint, '基本医保 60%…', status <> 'reversed', now()
FROM claim_plain;
INSERT INTO followup_plain
SELECT row_number() OVER (), p, make_date(y, 1, 1) + k * 90 + p % 90, 'face', 120 + p % 40, 80 + p % 20,
       p % 11 = 0, now()
FROM generate_series(1, {followup_persons}) AS p, unnest(ARRAY[{years}]) AS y, generate_series(0, 3) AS k;
"""
COPY_TO_PARTITIONED = """
INSERT INTO claim_part SELECT * FROM claim_plain;
INSERT INTO settlement_part SELECT s.*, c.discharged_on FROM settlement_plain s JOIN claim_plain c ON c.id = s.claim_id;
INSERT INTO followup_part SELECT * FROM followup_plain;
"""
INDEXES = """
CREATE INDEX {c}_person_order ON {c} (person_id, discharged_on, claim_id);
CREATE INDEX {c}_discharged ON {c} (discharged_on, status);
CREATE INDEX {c}_inst ON {c} (institution_id, discharged_on);
CREATE INDEX {s}_claim ON {s} (claim_id);
CREATE UNIQUE INDEX {s}_one_current ON {s} (claim_id{skey}) WHERE is_current;
"""
FOREIGN_KEYS = {
    "plain": """ALTER TABLE settlement_plain ADD FOREIGN KEY (claim_id) REFERENCES claim_plain (id);
ALTER TABLE claim_plain ADD FOREIGN KEY (person_id) REFERENCES person (id);
ALTER TABLE followup_plain ADD FOREIGN KEY (person_id) REFERENCES person (id);""",
    "part": """ALTER TABLE settlement_part ADD FOREIGN KEY (claim_id, discharged_on)
  REFERENCES claim_part (id, discharged_on);
ALTER TABLE claim_part ADD FOREIGN KEY (person_id) REFERENCES person (id);
ALTER TABLE followup_part ADD FOREIGN KEY (person_id) REFERENCES person (id);""",
}

YEAR_FROM, YEAR_TO = "2024-01-01", "2025-01-01"
QUERIES: dict[str, str] = {
    # resettle / settlement ledger: a county's year of claims with their current settlement, in order.
    "county_year_read": """
        SELECT c.id, c.person_id, c.discharged_on, c.claim_id, c.total_amount, c.out_of_scope_amount,
               s.basic, s.critical, s.aid, s.supplementary, s.personal
        FROM {c} c JOIN person p ON p.id = c.person_id
        JOIN {s} s ON s.claim_id = c.id {sjoin} AND s.is_current
        WHERE p.village_code >= %(lo)s AND p.village_code < %(hi)s
          AND c.discharged_on >= %(y0)s AND c.discharged_on < %(y1)s AND c.status = 'settled'
        ORDER BY c.person_id, c.discharged_on, c.claim_id""",
    # the dashboard's settlement figures of a county-year per township.
    "county_dashboard_settlement": """
        SELECT substr(p.village_code, 1, 9), count(*), sum(s.counted_total), sum(s.personal),
               sum(CASE WHEN c.in_county THEN 1 ELSE 0 END)
        FROM {c} c JOIN person p ON p.id = c.person_id
        JOIN {s} s ON s.claim_id = c.id {sjoin} AND s.is_current
        WHERE p.village_code >= %(lo)s AND p.village_code < %(hi)s
          AND c.discharged_on >= %(y0)s AND c.discharged_on < %(y1)s
        GROUP BY 1""",
    # the dashboard's follow-up figures (visits per person in the year) of a county.
    "county_dashboard_followups": """
        SELECT f.person_id, count(*), max(f.visited_on) FROM {f} f JOIN person p ON p.id = f.person_id
        WHERE p.village_code >= %(lo)s AND p.village_code < %(hi)s
          AND f.visited_on >= %(y0)s AND f.visited_on < %(y1)s
        GROUP BY f.person_id""",
    # the province's year: every county's settlement totals (the province snapshot).
    "province_year_totals": """
        SELECT substr(p.village_code, 1, 6), count(*), sum(s.counted_total)
        FROM {c} c JOIN person p ON p.id = c.person_id
        JOIN {s} s ON s.claim_id = c.id {sjoin} AND s.is_current
        WHERE c.discharged_on >= %(y0)s AND c.discharged_on < %(y1)s GROUP BY 1""",
}
# Point lookups, timed as 2,000 calls each (latency per call).
POINTS: dict[str, str] = {
    # the window and the API find a claim by 结算号 (no discharge date known).
    "claim_by_number": "SELECT id, status FROM {c} WHERE claim_id = %(number)s",
    # the settlement of one discharge: the person's claims of the year in order.
    "person_year_chain": """SELECT id, claim_id FROM {c} WHERE person_id = %(person)s
        AND discharged_on >= %(y0)s AND discharged_on < %(y1)s ORDER BY discharged_on, claim_id""",
}


def timed(run: Callable[[], Any], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims-per-year", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--explain", action="store_true", help="print each query's plan (EXPLAIN ANALYZE)")
    args = parser.parse_args(argv)
    per_year = args.claims_per_year
    claims = per_year * len(YEARS)
    persons = max(per_year * 2, 4000)
    followup_persons = persons // 4
    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    name = f"jkfp_partition{os.environ.get('JKFP_DB_SUFFIX', '')}"
    admin_url = base.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    params = {
        "lo": COUNTY_RANGE[0],
        "hi": COUNTY_RANGE[1],
        "y0": YEAR_FROM,
        "y1": YEAR_TO,
        "number": f"C{per_year + 12345}",
        "person": 4242,
    }
    try:
        with psycopg.connect(base.rsplit("/", 1)[0] + f"/{name}", autocommit=True) as db:
            db.execute("SET synchronous_commit = off")
            db.execute("SET max_parallel_workers_per_gather = 0")  # 2 shared cores: plans without workers
            started = time.perf_counter()
            fmt = {
                "persons": persons,
                "counties": COUNTIES,
                "claims": claims,
                "per_year": per_year,
                "first": YEARS[0],
                "followup_persons": followup_persons,
                "years": ",".join(map(str, YEARS)),
            }
            db.execute(PERSONS.format(**fmt))
            db.execute(PLAIN)
            db.execute(PARTITIONED)
            for year in YEARS:
                db.execute(partitions(year))
            db.execute(LOAD.format(**fmt))
            db.execute(COPY_TO_PARTITIONED)
            load_seconds = time.perf_counter() - started
            build: dict[str, float] = {}
            for shape, c, s, skey in (
                ("plain", "claim_plain", "settlement_plain", ""),
                ("part", "claim_part", "settlement_part", ", discharged_on"),
            ):
                t0 = time.perf_counter()
                db.execute(KEYS[shape])
                db.execute(INDEXES.format(c=c, s=s, skey=skey))
                db.execute(FOREIGN_KEYS[shape])
                build[shape] = time.perf_counter() - t0
            db.execute("VACUUM ANALYZE")
            print(
                f"partitioning: claims={claims:,} settlements={claims:,} followups={followup_persons * 12:,}"
                f" persons={persons:,} counties={COUNTIES}; load {load_seconds:.0f} s;"
                f" keys, indexes, foreign keys: plain {build['plain']:.1f} s, partitioned {build['part']:.1f} s",
                flush=True,
            )
            shapes = {
                "plain": {"c": "claim_plain", "s": "settlement_plain", "f": "followup_plain", "sjoin": ""},
                "part": {
                    "c": "claim_part",
                    "s": "settlement_part",
                    "f": "followup_part",
                    # The partition key repeated on the settlements: without it every settlement
                    # partition is scanned (partition pruning needs the key on each partitioned table).
                    "sjoin": "AND s.discharged_on = c.discharged_on"
                    " AND s.discharged_on >= %(y0)s AND s.discharged_on < %(y1)s",
                },
            }
            for label, sql in QUERIES.items():
                seconds = {}
                rows = {}
                for shape, names in shapes.items():
                    query = sql.format(**names)
                    rows[shape] = len(db.execute(query, params).fetchall())  # warm
                    seconds[shape] = timed(lambda q=query: db.execute(q, params).fetchall())
                assert rows["plain"] == rows["part"], (label, rows)
                if args.explain:
                    for shape, names in shapes.items():
                        plan = db.execute(
                            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql.format(**names), params
                        )
                        print(f"-- {label} {shape}:\n" + "\n".join(r[0] for r in plan.fetchall()), flush=True)
                print(
                    f"{label}: plain {seconds['plain'] * 1000:.0f} ms, partitioned {seconds['part'] * 1000:.0f} ms,"
                    f" ratio={seconds['part'] / seconds['plain']:.2f} (rows={rows['plain']:,})",
                    flush=True,
                )
            for label, sql in POINTS.items():
                seconds = {}
                for shape, names in shapes.items():
                    query = sql.format(**names)
                    db.execute(query, params).fetchall()
                    seconds[shape] = timed(
                        lambda q=query: [db.execute(q, params).fetchall() for _ in range(2000)]
                    )
                print(
                    f"{label}: plain {seconds['plain'] / 2:.3f} ms/call, partitioned {seconds['part'] / 2:.3f} ms/call,"
                    f" ratio={seconds['part'] / seconds['plain']:.2f}",
                    flush=True,
                )
            # resettle's write: the county-year's current settlements superseded (rolled back).
            seconds = {}
            for shape, names in shapes.items():
                update = (
                    "UPDATE {s} s SET is_current = false FROM {c} c, person p"
                    " WHERE s.claim_id = c.id {sjoin} AND p.id = c.person_id AND s.is_current"
                    " AND p.village_code >= %(lo)s AND p.village_code < %(hi)s"
                    " AND c.discharged_on >= %(y0)s AND c.discharged_on < %(y1)s"
                ).format(**names)

                def supersede(q: str = update) -> None:
                    with db.transaction(force_rollback=True):
                        db.execute(q, params)

                seconds[shape] = timed(supersede)
            print(
                f"county_year_supersede: plain {seconds['plain'] * 1000:.0f} ms,"
                f" partitioned {seconds['part'] * 1000:.0f} ms, ratio={seconds['part'] / seconds['plain']:.2f}",
                flush=True,
            )
            # The oldest year removed: DELETE from the plain tables vs DETACH + DROP of the partitions.
            t0 = time.perf_counter()
            with db.transaction(force_rollback=True):
                db.execute("DELETE FROM settlement_plain WHERE claim_id <= %s", [per_year])
                db.execute("DELETE FROM claim_plain WHERE discharged_on < %s", [f"{YEARS[1]}-01-01"])
            delete = time.perf_counter() - t0
            t0 = time.perf_counter()
            with db.transaction(force_rollback=True):
                for table in ("settlement_part", "claim_part"):
                    db.execute(f"ALTER TABLE {table} DETACH PARTITION {table}_{YEARS[0]}")
                    db.execute(f"DROP TABLE {table}_{YEARS[0]}")
            detach = time.perf_counter() - t0
            print(
                f"drop_oldest_year: plain DELETE {delete:.1f} s, partitioned DETACH+DROP {detach:.2f} s",
                flush=True,
            )
            sizes = db.execute(
                "SELECT sum(pg_total_relation_size(c.oid)) FILTER (WHERE relname LIKE '%%_plain'),"
                " sum(pg_total_relation_size(c.oid)) FILTER (WHERE relname ~ '_part_[0-9]{4}$')"
                " FROM pg_class c WHERE relkind = 'r'"
            ).fetchone()
            assert sizes is not None
            print(f"disk: plain {sizes[0] / 2**20:.0f} MB, partitioned {sizes[1] / 2**20:.0f} MB", flush=True)
    finally:
        if not args.keep:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
