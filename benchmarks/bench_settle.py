"""结算基准 Settlement: the batch engine against the per-claim Decimal reference, and the command.

- ``settle_batch``: a mixed file as issue 19 sets it — half outpatient special chronic disease
  claims (settlement.md §6), a tenth stays already settled elsewhere with paid amounts (§7), the
  rest ordinary stays. ``settle_batch_stays``: stays only (the first round's file). Each: ratio =
  reference time ÷ batch time for the same claims (target ≥ 25), with zero differences to the fen. The batch settles all N claims (best of 3). The reference, at about
  25 µs a claim, is timed on a sample of whole persons (every claim of the persons taken, so that
  the year-to-date chains are complete) and its time is extrapolated per claim to N; the line says
  so. The zero-difference check compares the batch's results (from the full run) with the
  reference on that sample, field by field. Peak memory of this process (``ru_maxrss``, which
  includes the generated data) must stay ≤ 1.5 GB.
- ``settle_command``: ratio = baseline ÷ ours, where ours is the whole ``jkfp settle`` on the
  mixed file as an N-row CSV with the optional columns (subprocess, with ``--skip-invalid`` and an
  error report: the file has a realistic 0.2 % of bad rows) and the baseline is Python's ``csv``
  module reading the same file and writing an 8-column file without computing anything. Target
  at 1M rows: ≤ 10 s.
- ``settle_startup``: ratio = ``python -c pass`` ÷ ``python -m jkfp.settle_cli --help``.

``--size N`` (default 1,000,000 claims over 0.3·N persons); ``--small`` = ``--size 20000``.
Exit status 1 when a difference is found or a target is missed (small size: loose floors).
"""

from __future__ import annotations

import argparse
import csv
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

from jkfp.core import idnumber
from jkfp.engine import NOT_PAID, ClaimTable, load_preset, settle_batch, settle_claims
from jkfp.engine.claims import EPOCH_ORDINAL

ROOT = Path(__file__).resolve().parent.parent
CATEGORIES = ("tekun", "dibao", "poor", "monitored", "ordinary")
CATEGORY_SHARE = (0.03, 0.07, 0.20, 0.05, 0.65)
REGIONS = (421321, 421302, 421303, 421381, 420100)
WEIGHTS = np.array(idnumber.WEIGHTS, dtype=np.int64)
CHECK = idnumber.CHECK_CHARS
MEMORY_LIMIT_MB = 1536
REFERENCE_SAMPLE = 40_000


def person_ids(count: int, rng: np.random.Generator) -> list[str]:
    """Valid 18-character ID numbers (GB 11643 check character), born 1930–2015."""
    region = np.array(REGIONS, dtype=np.int64)[rng.integers(0, len(REGIONS), count)]
    born = np.datetime64("1930-01-01") + rng.integers(0, 31_000, count).astype("timedelta64[D]")
    ymd = np.array([d.replace("-", "") for d in born.astype(str)], dtype=np.int64)
    serial = rng.integers(0, 1000, count)
    body = region * 10**11 + ymd * 1000 + serial
    digits = (body[:, None] // 10 ** np.arange(16, -1, -1, dtype=np.int64)) % 10
    check = (digits * WEIGHTS).sum(axis=1) % 11
    ids = [f"{b:017d}{CHECK[c]}" for b, c in zip(body.tolist(), check.tolist(), strict=True)]
    return list(dict.fromkeys(ids))  # a rare collision of two numbers: the list gets a little shorter


def claims_table(
    n: int, persons: int, rng: np.random.Generator, *, mixed: bool = True
) -> tuple[ClaimTable, list[str]]:
    """N synthetic claims for one year. Stays: lognormal costs (median ≈ 8000 yuan), 70 % in county.
    ``mixed``: half are outpatient claims for the person's chronic disease (median ≈ 300 yuan,
    mostly at primary institutions in the county) and a tenth stays settled elsewhere (provincial
    hospitals, out of county, with what basic and critical illness insurance paid)."""
    ids = person_ids(persons, rng)
    person_category = rng.choice(len(CATEGORIES), size=len(ids), p=CATEGORY_SHARE)
    person = rng.integers(0, len(ids), n).astype(np.int64)
    kind = rng.random(n) if mixed else np.ones(n)
    outpatient = kind < 0.5
    paid = (kind >= 0.5) & (kind < 0.6)
    total = np.minimum(np.exp(rng.normal(np.log(800_000), 1.0, n)).astype(np.int64), 500_000_000)
    total = np.where(outpatient, np.exp(rng.normal(np.log(30_000), 0.8, n)).astype(np.int64), total)
    total = np.where(paid, total * 4, total)
    out_of_scope = (total * rng.beta(1.2, 8.0, n)).astype(np.int64)
    day = date(2020, 1, 1).toordinal() - EPOCH_ORDINAL + rng.integers(0, 366, n)
    in_county = np.where(outpatient, rng.random(n) < 0.9, rng.random(n) < 0.7) & ~paid
    level = rng.choice(3, size=n, p=(0.3, 0.45, 0.25)).astype(np.int64) + 1
    level = np.where(outpatient, rng.choice(3, size=n, p=(0.6, 0.3, 0.1)) + 1, level)
    level = np.where(paid, 3, level)
    diseases = load_preset("suixian-2020").disease_names
    person_disease = rng.integers(0, len(diseases), len(ids))
    second = rng.random(n) < 0.3  # a second chronic disease on some visits
    disease = np.where(outpatient, (person_disease[person] + second) % len(diseases), -1)
    in_scope = total - out_of_scope
    basic_paid = (in_scope * rng.uniform(0.5, 0.75, n)).astype(np.int64)
    critical_paid = ((in_scope - basic_paid) * rng.uniform(0.0, 0.5, n)).astype(np.int64)
    table = ClaimTable(
        claim_id=np.array([f"Z{i:08d}".encode() for i in range(n)]),
        person=person,
        category=person_category[person].astype(np.int64),
        category_names=CATEGORIES,
        discharge_day=day.astype(np.int64),
        level=level.astype(np.int64),
        in_county=in_county,
        referred=~in_county & (rng.random(n) < np.where(paid, 0.9, 0.6)),
        total_fen=total,
        out_of_scope_fen=out_of_scope,
        person_keys=ids,
        outpatient=outpatient,
        disease=disease.astype(np.int64),
        disease_names=diseases,
        basic_paid_fen=np.where(paid, basic_paid, NOT_PAID),
        critical_paid_fen=np.where(paid, critical_paid, NOT_PAID),
    )
    return table, ids


def best_of(runs: int, work: object) -> float:
    assert callable(work)
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def line(name: str, ratio: float, ours: float, baseline: float, n: int, extra: str = "") -> None:
    print(
        f"{name}: ratio={ratio:.2f} (ours {ours:.3f} s, baseline {baseline:.3f} s, n={n}){extra}", flush=True
    )


def bench_engine(name: str, table: ClaimTable, small: bool) -> bool:
    policy = load_preset("suixian-2020")
    n = len(table)
    results = []
    batch_time = best_of(3, lambda: results.append(settle_batch(policy, table)))
    result = results[-1]

    # A sample of whole persons: every claim of the first persons up to about REFERENCE_SAMPLE claims.
    counts = np.bincount(table.person)
    take = int(np.searchsorted(np.cumsum(counts), min(REFERENCE_SAMPLE, n))) + 1
    rows = np.flatnonzero(table.person < take)
    claims = [table.claim(int(i)) for i in rows]
    reference_runs = []
    sample_time = best_of(3, lambda: reference_runs.append(settle_claims(policy, claims)))
    reference = reference_runs[-1]
    differences = sum(
        1 for i, r in zip(rows.tolist(), reference, strict=True) if r.amounts_fen != result.row(i)
    )
    per_claim = sample_time / len(rows)
    baseline = per_claim * n
    ratio = baseline / batch_time
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    outpatient = int(table.outpatient_mask().sum())
    paid = int((table.paid_fen()[0] != NOT_PAID).sum())
    line(
        name,
        ratio,
        batch_time,
        baseline,
        n,
        f"; {outpatient} outpatient claims, {paid} stays settled elsewhere; "
        f"reference (trace off, best of 3) timed on {len(rows)} claims of {take} whole persons "
        f"({per_claim * 1e6:.1f} µs/claim) "
        f"and extrapolated to n; batch {n / batch_time / 1e6:.2f}M claims/s; differences={differences}; "
        f"peak_rss={peak_mb:.0f} MB",
    )
    floor = 5 if small else 25
    ok = differences == 0 and ratio >= floor and peak_mb <= MEMORY_LIMIT_MB
    if not ok:
        print(f"{name}: FAILED (differences={differences}, ratio floor {floor}, memory {peak_mb:.0f} MB)")
    return ok


def write_claims_csv(path: Path, table: ClaimTable, rng: np.random.Generator) -> int:
    """The table as a claims file with the optional columns (kind, disease, basic_paid,
    critical_paid), with about 0.2 % bad rows; returns the number of bad rows."""
    n = len(table)
    keys = table.person_keys
    bad = set(rng.choice(n, size=max(1, n // 500), replace=False).tolist())
    names = table.disease_names
    basic_paid, critical_paid = table.paid_fen()
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(
            "claim_id,person_id,category,discharge_date,level,in_county,referred,total,out_of_scope,"
            "kind,disease,basic_paid,critical_paid\n"
        )
        days = (table.discharge_day + EPOCH_ORDINAL).tolist()
        dates = {d: date.fromordinal(d).isoformat() for d in set(days)}
        out = []
        for i, (cid, person, cat, day, level, inc, ref, total, oos, op, disease, bp, cp) in enumerate(
            zip(
                table.claim_id_texts(),
                table.person.tolist(),
                table.category.tolist(),
                days,
                table.level.tolist(),
                table.in_county.tolist(),
                table.referred.tolist(),
                table.total_fen.tolist(),
                table.out_of_scope_fen.tolist(),
                table.outpatient_mask().tolist(),
                table.disease_codes().tolist(),
                basic_paid.tolist(),
                critical_paid.tolist(),
                strict=True,
            )
        ):
            when = dates[day]
            cat_name = CATEGORIES[cat]
            pid = keys[person]
            kind = "outpatient" if op else "inpatient"
            disease_name = names[disease] if op else ""
            if i in bad:  # one fault per bad row, in turn: date, amount, check character, category, disease
                fault = i % 5
                when = "2020-02-30" if fault == 0 else when
                total = -total if fault == 1 else total
                if fault == 2:
                    pid = pid[:17] + ("0" if pid[17] != "0" else "1")
                cat_name = "unknown" if fault == 3 else cat_name
                if fault == 4:
                    kind, disease_name, bp, cp = "outpatient", "", NOT_PAID, NOT_PAID
            sign = "-" if total < 0 else ""
            total = abs(total)
            paid = f"{bp // 100}.{bp % 100:02d},{cp // 100}.{cp % 100:02d}" if bp != NOT_PAID else ","
            out.append(
                f"{cid},{pid},{cat_name},{when},{level},{int(inc)},{int(ref)},"
                f"{sign}{total // 100}.{total % 100:02d},{oos // 100}.{oos % 100:02d},{kind},{disease_name},{paid}\n"
            )
            if len(out) == 100_000:
                handle.write("".join(out))
                out.clear()
        handle.write("".join(out))
    return len(bad)


def csv_baseline(source: Path, target: Path) -> None:
    """Python's csv module: read every row, write 8 columns; no validation, no arithmetic."""
    with (
        source.open(encoding="utf-8", newline="") as src,
        target.open("w", encoding="utf-8", newline="") as dst,
    ):
        writer = csv.writer(dst, lineterminator="\n")
        for row in csv.reader(src):
            writer.writerow(row[:8])


def bench_command(table: ClaimTable, small: bool, rng: np.random.Generator) -> bool:
    n = len(table)
    with tempfile.TemporaryDirectory(prefix="bench_settle_") as folder:
        work = Path(folder)
        claims = work / "claims.csv"
        bad = write_claims_csv(claims, table, rng)
        csv_baseline(claims, work / "warm.csv")  # page cache warmed
        baseline = best_of(3, lambda: csv_baseline(claims, work / "baseline.csv"))
        command = [
            sys.executable, "-m", "jkfp.settle_cli", "--preset", "suixian-2020", "--claims", str(claims),
            "--out", str(work / "out.csv"), "--errors", str(work / "errors.csv"), "--skip-invalid",
        ]  # fmt: skip

        def run() -> None:
            subprocess.run(command, cwd=ROOT, check=True, capture_output=True)

        ours = best_of(3, run)
        child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        settled = sum(1 for _ in (work / "out.csv").open(encoding="utf-8")) - 1
        reported = sum(1 for _ in (work / "errors.csv").open(encoding="utf-8-sig")) - 1
    budget = 10.0 * n / 1_000_000
    line(
        "settle_command",
        baseline / ours,
        ours,
        baseline,
        n,
        f"; whole `jkfp settle` incl. start, {bad} bad rows reported ({reported} errors), {settled} settled; "
        f"budget {budget:.2f} s; peak_rss={child_mb:.0f} MB",
    )
    ok = settled == n - bad and (small or ours <= budget)
    if not ok:
        print(
            f"settle_command: FAILED (settled {settled} of {n - bad}, {ours:.2f} s for a budget of {budget:.2f} s)"
        )
    return ok


def bench_startup() -> None:
    python = best_of(3, lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
    ours = best_of(
        3,
        lambda: subprocess.run(
            [sys.executable, "-m", "jkfp.settle_cli", "--help"], cwd=ROOT, check=True, capture_output=True
        ),
    )
    line(
        "settle_startup",
        python / ours,
        ours,
        python,
        1,
        "; `jkfp.settle_cli --help` against `python -c pass`",
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_settle")
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--small", action="store_true", help="CI size: 20000 claims, loose floors")
    parser.add_argument("--seed", type=int, default=20200101)
    args = parser.parse_args(argv)
    n = 20_000 if args.small else args.size
    small = args.small or n < 200_000
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    table, persons = claims_table(n, max(1, int(n * 0.3)), rng)
    stays, _ = claims_table(n, max(1, int(n * 0.3)), rng, mixed=False)
    print(
        f"(data: {n} mixed claims and {n} stays, each over {len(persons)} persons, generated in "
        f"{time.perf_counter() - started:.1f} s)"
    )
    ok = bench_engine("settle_batch", table, small)
    ok = bench_engine("settle_batch_stays", stays, small) and ok
    del stays
    ok = bench_command(table, small, rng) and ok
    bench_startup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
