"""Write the case tables ``cases/*.toml``: inputs designed here, expected amounts from the simple
Fraction oracle (``oracle.py``), never from the engine under test. Hand-checked values (the
worked examples of settlement.md §5 and §8 and the cases marked ``hand``) are written as given and
the oracle must agree with them, or this script stops.

Run: ``.venv/bin/python -m jkfp.engine.tests.make_cases`` (rewrites the files).
"""

from __future__ import annotations

import random
import tomllib
from pathlib import Path
from typing import Any

from jkfp.engine.tests import oracle
from jkfp.engine.tests.helpers import REQUIRED_DISEASES

HERE = Path(__file__).parent
PRESETS = HERE.parent / "presets"
PERSON = "421321198001010117"
PERSON_B = "421321198001010221"  # settlement.md §8's person B
DISEASES = REQUIRED_DISEASES
CATEGORIES = ("tekun", "dibao", "poor", "monitored", "ordinary")
WHERE = {"in": (1, 0), "referred": (0, 1), "unreferred": (0, 0)}


def claim(
    cid: str,
    category: str,
    day: str,
    level: int,
    where: str,
    total: str,
    out_of_scope: str,
    expect: list[str] | None = None,
    *,
    disease: str | None = None,
    paid: tuple[str, str] | None = None,
    person: str | None = None,
) -> dict[str, Any]:
    """One claim: a stay; an outpatient claim (§6) when ``disease`` is given; a stay settled
    elsewhere (§7) when ``paid`` = (basic_paid, critical_paid) is given. ``person``: the case's
    one person unless given."""
    in_county, referred = WHERE[where]
    row: dict[str, Any] = {"claim_id": cid}
    if person is not None:
        row["person_id"] = person
    row.update(
        {
            "category": category,
            "discharge_date": day,
            "level": level,
            "in_county": in_county,
            "referred": referred,
            "total": total,
            "out_of_scope": out_of_scope,
        }
    )
    if disease is not None:
        row["kind"] = "outpatient"
        row["disease"] = disease
    if paid is not None:
        row["basic_paid"], row["critical_paid"] = paid
    if expect is not None:
        row["expect"] = expect
    return row


def visit(
    cid: str, category: str, day: str, level: int, where: str, total: str, oos: str, disease: str, **kw: Any
) -> dict[str, Any]:
    """An outpatient claim (门诊慢特病, settlement.md §6)."""
    return claim(cid, category, day, level, where, total, oos, disease=disease, **kw)


def case(name: str, note: str, *claims: dict[str, Any], checked: str = "oracle") -> dict[str, Any]:
    return {"name": name, "note": note, "checked": checked, "claims": list(claims)}


def amounts(rng: random.Random, lo: int, hi: int, oos_percent: int) -> tuple[str, str]:
    """A total between lo and hi yuan and an out-of-scope part up to oos_percent of it, as text."""
    total = rng.randrange(lo * 100, hi * 100)
    oos = rng.randrange(0, total * oos_percent // 100)
    return f"{total // 100}.{total % 100:02d}", f"{oos // 100}.{oos % 100:02d}"


# --------------------------------------------------------------------------- suixian-2020


def suixian_cases() -> list[dict[str, Any]]:
    rng = random.Random(2020)
    cases = [
        case(
            "worked-1-2",
            "settlement.md §5 examples 1 and 2: same person; the critical base continues from 4200.00 to "
            "46300.00 and the yearly personal cap of 5000 leaves 3000.00",
            claim(
                "E1",
                "poor",
                "2020-03-01",
                2,
                "in",
                "20000.00",
                "1000.00",
                ["20000.00", "0.00", "14800.00", "0.00", "2940.00", "260.00", "2000.00"],
            ),
            claim(
                "E2",
                "poor",
                "2020-06-01",
                3,
                "referred",
                "150000.00",
                "12000.00",
                ["150000.00", "0.00", "95900.00", "27660.00", "10108.00", "13332.00", "3000.00"],
            ),
            checked="settlement.md",
        ),
        case(
            "worked-3",
            "settlement.md §5 example 3: 2.5 % of 8000 is 200, the hospital bears 600 of the 800 out of scope",
            claim(
                "E3",
                "poor",
                "2020-05-10",
                1,
                "in",
                "8000.00",
                "800.00",
                ["7400.00", "600.00", "6300.00", "0.00", "630.00", "0.00", "470.00"],
            ),
            checked="settlement.md",
        ),
        case(
            "worked-4",
            "settlement.md §5 example 4: ordinary, no aid, no supplementary",
            claim(
                "E4",
                "ordinary",
                "2020-07-01",
                2,
                "in",
                "20000.00",
                "1000.00",
                ["20000.00", "0.00", "12950.00", "0.00", "0.00", "0.00", "7050.00"],
            ),
            checked="settlement.md",
        ),
    ]
    # Every category × level × (in county / referred / unreferred), one claim each.
    for category in CATEGORIES:
        for level in (1, 2, 3):
            for where in WHERE:
                total, oos = amounts(rng, 3_000, 90_000, 15)
                cases.append(
                    case(
                        f"grid-{category}-{level}-{where}",
                        f"{category}, level {level}, {where}",
                        claim("G1", category, "2020-04-01", level, where, total, oos),
                    )
                )
    cases += [
        case(
            "writeoff-at-limit",
            "hand: level 1 in county, out of scope exactly 2.5 % of 10000 = 250.00: nothing written off; "
            "basic (9750 − 200) × 90 % = 8595.00; base 1155 < 5000; aid 1155.00 × 70 % = 808.50; "
            "paid 9403.50, rest 596.50 ≤ the 10 % floor 1000.00 → no top-up",
            claim(
                "W1",
                "poor",
                "2020-02-01",
                1,
                "in",
                "10000.00",
                "250.00",
                ["10000.00", "0.00", "8595.00", "0.00", "808.50", "0.00", "596.50"],
            ),
            checked="hand",
        ),
        case(
            "writeoff-one-fen-over",
            "level 1 in county, out of scope 250.01 of 10000: the hospital bears 0.01",
            claim("W1", "poor", "2020-02-01", 1, "in", "10000.00", "250.01"),
        ),
        case(
            "writeoff-rounding-half-up",
            "round(2.5 % × 100.20) = round(2.505) = 2.51 (half-up), so 10.00 out of scope leaves 7.49 absorbed",
            claim("W1", "dibao", "2020-02-01", 1, "in", "100.20", "10.00"),
        ),
        case(
            "writeoff-level-2",
            "level 2 in county: 10 % of 30000 = 3000, out of scope 4500 → 1500 absorbed",
            claim("W1", "monitored", "2020-02-01", 2, "in", "30000.00", "4500.00"),
        ),
        case(
            "no-writeoff-level-3",
            "level 3 in county has no cap ratio: nothing written off however large the out-of-scope part",
            claim("W1", "ordinary", "2020-02-01", 3, "in", "30000.00", "9000.00"),
        ),
        case(
            "no-writeoff-out-of-county",
            "out of county: no write-off even at level 1",
            claim("W1", "ordinary", "2020-02-01", 1, "referred", "30000.00", "9000.00"),
        ),
        case(
            "all-out-of-scope",
            "out_of_scope = total at level 3: nothing in scope, no layer pays but the supplementary one",
            claim("Z1", "poor", "2020-02-01", 3, "in", "5000.00", "5000.00"),
        ),
        case(
            "zero-total",
            "a claim of 0.00",
            claim("Z1", "tekun", "2020-02-01", 2, "in", "0.00", "0.00"),
        ),
        case(
            "basic-below-deductible",
            "in-scope cost 150.00 below the level-1 deductible 200: basic 0",
            claim("D1", "dibao", "2020-02-01", 1, "unreferred", "150.00", "0.00"),
        ),
        case(
            "rounding-basic-half-up",
            "hand: basic (200.05 − 200) × 90 % = 0.045 → 0.05 half-up (half-even would give 0.04); "
            "aid 200.00 × 70 % = 140.00; floor round(90 % × 200.05 = 180.045) = 180.05 (half-up) leaves "
            "20.00 to the person, so the top-up is 60.00 − 20.00 = 40.00",
            claim(
                "R1",
                "dibao",
                "2020-02-01",
                1,
                "referred",
                "200.05",
                "0.00",
                ["200.05", "0.00", "0.05", "0.00", "140.00", "40.00", "20.00"],
            ),
            checked="hand",
        ),
        case(
            "unreferred-cut",
            "out of county without referral: ratio 80 % − 20 % = 60 %; no supplementary (needs referral)",
            claim("U1", "poor", "2020-02-01", 2, "unreferred", "40000.00", "2000.00"),
        ),
        case(
            "critical-tier-lo-exact",
            "hand: level 2 in county, basic (23000 − 500) × 80 % = 18000, base = 5000.00 exactly: "
            "F(5000) = 0; aid 5000 × 70 % = 3500; rest 1500 ≤ floor 2300 → no top-up",
            claim(
                "T1",
                "poor",
                "2020-03-01",
                2,
                "in",
                "23000.00",
                "0.00",
                ["23000.00", "0.00", "18000.00", "0.00", "3500.00", "0.00", "1500.00"],
            ),
            checked="hand",
        ),
        case(
            "critical-tier-boundary-30000",
            "level 2 in county, base = 0.2 × 148000 + 400 = 30000.00: exactly the end of the first tier",
            claim("T1", "poor", "2020-03-01", 2, "in", "148000.00", "0.00"),
        ),
        case(
            "critical-tier-boundary-100000",
            "ordinary level 3 referred: base = 0.45 × 221000 + 550 = 100000.00, the start of the last tier",
            claim("T1", "ordinary", "2020-03-01", 3, "referred", "221000.00", "0.00"),
        ),
        case(
            "critical-boundary-across-claims",
            "the cumulative base reaches 30000 on the first claim and crosses into the 70 % tier on the second",
            claim("T1", "dibao", "2020-03-01", 2, "in", "148000.00", "0.00"),
            claim("T2", "dibao", "2020-04-01", 2, "in", "30000.00", "0.00"),
        ),
        case(
            "critical-rounding-cumulative",
            "three small claims: critical paid on round(F(cum)) differences, so they add up to round(F(total))",
            claim("K1", "poor", "2020-03-01", 3, "referred", "14333.37", "0.00"),
            claim("K2", "poor", "2020-03-02", 3, "referred", "1000.03", "0.00"),
            claim("K3", "poor", "2020-03-03", 3, "referred", "1000.03", "0.00"),
        ),
        case(
            "basic-cap-reached",
            "two large claims: basic stops at the 150000 annual cap on the second",
            claim("B1", "poor", "2020-01-10", 1, "in", "120000.00", "0.00"),
            claim("B2", "poor", "2020-02-10", 1, "in", "90000.00", "0.00"),
        ),
        case(
            "aid-cap-reached",
            "aid stops at the 50000 annual cap (poor)",
            claim("A1", "poor", "2020-01-10", 3, "referred", "1000000.00", "0.00"),
        ),
        case(
            "aid-cap-reached-tekun",
            "tekun: aid ratio 100 %, annual cap 100000 reached over two claims",
            claim("A1", "tekun", "2020-01-10", 3, "referred", "400000.00", "0.00"),
            claim("A2", "tekun", "2020-05-10", 3, "referred", "400000.00", "0.00"),
        ),
        case(
            "aid-deductible-annual",
            "monitored: aid deductible 1000 per year, 600 used by the first claim, the rest by the second",
            claim("M1", "monitored", "2020-01-10", 1, "in", "4200.00", "0.00"),
            claim("M2", "monitored", "2020-02-10", 1, "in", "20000.00", "0.00"),
            claim("M3", "monitored", "2020-03-10", 1, "in", "20000.00", "0.00"),
        ),
        case(
            "personal-cap-over-three-claims",
            "the yearly out-of-pocket cap of 5000 binds on the third claim",
            claim("P1", "poor", "2020-01-10", 2, "in", "30000.00", "3000.00"),
            claim("P2", "poor", "2020-02-10", 2, "in", "30000.00", "3000.00"),
            claim("P3", "poor", "2020-03-10", 2, "in", "30000.00", "3000.00"),
        ),
        case(
            "supplementary-not-for-unreferred",
            "an unreferred out-of-county stay gets no top-up, but its personal share counts toward the year",
            claim("S1", "dibao", "2020-01-10", 2, "unreferred", "30000.00", "3000.00"),
            claim("S2", "dibao", "2020-02-10", 2, "in", "30000.00", "3000.00"),
        ),
        case(
            "sum-insured-reached",
            "tekun: the supplementary layer's sum insured of 600000 runs out on the third claim",
            claim("S1", "tekun", "2020-01-10", 3, "referred", "2000000.00", "300000.00"),
            claim("S2", "tekun", "2020-02-10", 3, "referred", "2000000.00", "300000.00"),
            claim("S3", "tekun", "2020-03-10", 3, "referred", "2000000.00", "300000.00"),
        ),
        case(
            "critical-cap-ordinary",
            "ordinary: critical insurance stops at its 400000 annual cap",
            claim("C1", "ordinary", "2020-01-10", 3, "referred", "1000000.00", "0.00"),
            claim("C2", "ordinary", "2020-02-10", 3, "referred", "200000.00", "0.00"),
        ),
        case(
            "order-by-date-then-id",
            "input order differs from settlement order; the same-day claims settle by id: C10 before C9",
            claim("C9", "poor", "2020-05-01", 2, "in", "30000.00", "3000.00"),
            claim("C10", "poor", "2020-05-01", 2, "in", "30000.00", "3000.00"),
            claim("C1", "poor", "2020-06-01", 2, "in", "30000.00", "3000.00"),
            claim("C2", "poor", "2020-01-01", 2, "in", "30000.00", "3000.00"),
        ),
        case(
            "category-change-mid-year",
            "ordinary in spring, poor from summer: the personal share paid as ordinary already exceeds the "
            "5000 cap, so the poor claim is topped up to what it can cover",
            claim("X1", "ordinary", "2020-03-01", 3, "referred", "60000.00", "2000.00"),
            claim("X2", "poor", "2020-07-01", 2, "in", "30000.00", "3000.00"),
        ),
    ]
    return cases + suixian_outpatient_cases(rng)


def outpatient_grid(rng: random.Random, year: str) -> list[dict[str, Any]]:
    """Every category × level × (in county / referred / unreferred), one outpatient claim each, the
    diseases in turn."""
    cases = []
    k = 0
    for category in CATEGORIES:
        for level in (1, 2, 3):
            for where in WHERE:
                total, oos = amounts(rng, 50, 6_000, 12)
                disease = DISEASES[k % len(DISEASES)]
                k += 1
                cases.append(
                    case(
                        f"op-grid-{category}-{level}-{where}",
                        f"outpatient {disease}, {category}, level {level}, {where}",
                        visit("V1", category, f"{year}-04-01", level, where, total, oos, disease),
                    )
                )
    return cases


def suixian_outpatient_cases(rng: random.Random) -> list[dict[str, Any]]:
    """settlement.md §6 and §7 under suixian-2020 (its outpatient blocks are §8's)."""
    a, b = PERSON, PERSON_B
    cases = [
        case(
            "worked-5-to-8",
            "settlement.md §8 examples 5–8: A's outpatient 高血压 visits and a stay settled elsewhere, "
            "B's 2型糖尿病 visit under the ordinary deductible of 300; the 高血压 cap of 3000 leaves "
            "2616.00 on example 6; A's outpatient payments do not count toward the yearly "
            "out-of-pocket cap of 5000",
            visit(
                "E5",
                "poor",
                "2020-04-01",
                1,
                "in",
                "500.00",
                "20.00",
                "高血压",
                person=a,
                expect=["492.50", "7.50", "384.00", "0.00", "48.00", "11.25", "49.25"],
            ),
            visit(
                "E6",
                "poor",
                "2020-09-01",
                1,
                "in",
                "4000.00",
                "0.00",
                "高血压",
                person=a,
                expect=["4000.00", "0.00", "2616.00", "0.00", "692.00", "292.00", "400.00"],
            ),
            visit(
                "E7",
                "ordinary",
                "2020-05-01",
                2,
                "in",
                "1000.00",
                "50.00",
                "2型糖尿病",
                person=b,
                expect=["1000.00", "0.00", "390.00", "0.00", "0.00", "0.00", "610.00"],
            ),
            claim(
                "E8",
                "poor",
                "2020-08-01",
                3,
                "referred",
                "80000.00",
                "6000.00",
                person=a,
                paid=("44400.00", "15000.00"),
                expect=["80000.00", "0.00", "44400.00", "15000.00", "10220.00", "5380.00", "5000.00"],
            ),
            checked="settlement.md",
        ),
        case(
            "op-share-rounding-half-up",
            "hand: poor 高血压 at level 3, referred: basic 123.45 × 70 % = 86.415 → 86.42; aid "
            "(123.45 − 86.42) × 50 % = 18.515 → 18.52; the share cap 10 % × 123.45 = 12.345 → 12.35 "
            "(half-up), so the top-up is 18.51 − 12.35 = 6.16",
            visit(
                "V1",
                "poor",
                "2020-03-01",
                3,
                "referred",
                "123.45",
                "0.00",
                "高血压",
                expect=["123.45", "0.00", "86.42", "0.00", "18.52", "6.16", "12.35"],
            ),
            checked="hand",
        ),
        case(
            "op-deductible-across-visits",
            "hand: ordinary 2型糖尿病, deductible 300 a year: the first visit (200.00) uses 200 of it and "
            "pays nothing; the second (500.00) uses the other 100: (500 − 100) × 65 % = 260.00",
            visit(
                "V1",
                "ordinary",
                "2020-02-01",
                1,
                "in",
                "200.00",
                "0.00",
                "2型糖尿病",
                expect=["200.00", "0.00", "0.00", "0.00", "0.00", "0.00", "200.00"],
            ),
            visit(
                "V2",
                "ordinary",
                "2020-03-01",
                1,
                "in",
                "500.00",
                "0.00",
                "2型糖尿病",
                expect=["500.00", "0.00", "260.00", "0.00", "0.00", "0.00", "240.00"],
            ),
            checked="hand",
        ),
        case(
            "op-deductible-shared-by-diseases",
            "ordinary: the yearly outpatient deductible is one for all diseases",
            visit("V1", "ordinary", "2020-02-01", 2, "in", "250.00", "0.00", "高血压"),
            visit("V2", "ordinary", "2020-02-02", 2, "in", "250.00", "0.00", "冠心病"),
        ),
        case(
            "op-disease-cap-over-visits",
            "poor 高血压 cap 3000 reached over four visits; a 冠心病 visit after it still pays",
            visit("V1", "poor", "2020-01-05", 1, "in", "1500.00", "0.00", "高血压"),
            visit("V2", "poor", "2020-02-05", 1, "in", "1500.00", "0.00", "高血压"),
            visit("V3", "poor", "2020-03-05", 1, "in", "1500.00", "0.00", "高血压"),
            visit("V4", "poor", "2020-04-05", 1, "in", "1500.00", "0.00", "高血压"),
            visit("V5", "poor", "2020-05-05", 1, "in", "1500.00", "0.00", "冠心病"),
        ),
        case(
            "op-annual-cap-across-diseases",
            "ordinary: the outpatient yearly cap of 20000 binds across 终末期肾病 (cap 60000) visits",
            visit("V1", "ordinary", "2020-01-05", 2, "in", "20000.00", "0.00", "终末期肾病"),
            visit("V2", "ordinary", "2020-02-05", 2, "in", "20000.00", "0.00", "终末期肾病"),
            visit("V3", "ordinary", "2020-03-05", 2, "in", "20000.00", "0.00", "终末期肾病"),
        ),
        case(
            "op-deductible-above-in-scope",
            "ordinary: in-scope cost 120.00 below the deductible: all of it is deductible, basic 0",
            visit("V1", "ordinary", "2020-02-01", 3, "referred", "150.00", "30.00", "肺结核"),
        ),
        case(
            "op-all-out-of-scope",
            "poor, level 3: nothing in scope; the top-up still keeps the share at 10 %",
            visit("V1", "poor", "2020-02-01", 3, "referred", "800.00", "800.00", "脑卒中"),
        ),
        case(
            "op-writeoff-level-2",
            "poor, level 2 in county: 10 % of 1000 = 100, out of scope 180 → 80 written off",
            visit("V1", "poor", "2020-02-01", 2, "in", "1000.00", "180.00", "冠心病"),
        ),
        case(
            "op-unreferred-cut",
            "dibao, out of county without referral: 75 % − 20 % = 55 %",
            visit("V1", "dibao", "2020-02-01", 2, "unreferred", "2000.00", "100.00", "严重精神障碍"),
        ),
        case(
            "op-zero-total",
            "an outpatient claim of 0.00",
            visit("V1", "tekun", "2020-02-01", 1, "in", "0.00", "0.00", "类风湿关节炎"),
        ),
        case(
            "op-monitored-no-top-up",
            "monitored: aid 30 % on the remainder, no personal share cap (no supplementary layer)",
            visit("V1", "monitored", "2020-02-01", 1, "in", "3000.00", "100.00", "慢性阻塞性肺气肿"),
        ),
        case(
            "op-shared-aid-cap",
            "poor: a large stay uses up the yearly aid of 50000; the outpatient visit after it gets no "
            "aid, and the top-up keeps its share at 10 %",
            claim("S1", "poor", "2020-02-01", 3, "referred", "1000000.00", "0.00"),
            visit("V1", "poor", "2020-03-01", 1, "in", "2000.00", "0.00", "2型糖尿病"),
        ),
        case(
            "op-shared-aid-cap-other-way",
            "tekun: outpatient aid (70 %) counts toward the stays' yearly aid cap of 100000",
            visit("V1", "tekun", "2020-01-10", 1, "in", "90000.00", "0.00", "终末期肾病"),
            visit("V2", "tekun", "2020-01-20", 1, "in", "90000.00", "0.00", "终末期肾病"),
            claim("S1", "tekun", "2020-03-01", 3, "referred", "400000.00", "0.00"),
        ),
        case(
            "op-not-in-personal-cap",
            "poor: outpatient shares do not count toward the stays' yearly out-of-pocket cap of 5000",
            visit("V1", "poor", "2020-01-10", 1, "in", "30000.00", "3000.00", "终末期肾病"),
            claim("S1", "poor", "2020-02-10", 2, "in", "60000.00", "3000.00"),
            claim("S2", "poor", "2020-03-10", 2, "in", "60000.00", "3000.00"),
        ),
        case(
            "op-stays-do-not-use-op-caps",
            "ordinary: a stay's basic insurance does not count toward the outpatient yearly cap",
            claim("S1", "ordinary", "2020-01-10", 1, "in", "200000.00", "0.00"),
            visit("V1", "ordinary", "2020-02-10", 1, "in", "5000.00", "0.00", "冠心病"),
        ),
        case(
            "op-same-day-as-stay",
            "a visit and a stay on the same day settle in claim-id order (S1 before V1)",
            visit("V1", "poor", "2020-05-05", 1, "in", "3000.00", "0.00", "高血压"),
            claim("S1", "poor", "2020-05-05", 2, "in", "30000.00", "3000.00"),
        ),
        case(
            "paid-basic-counts-toward-cap",
            "hand: poor, a stay settled elsewhere (basic 140000, critical 30000 of 200000 in scope): aid "
            "30000 × 70 % = 21000; the 90 % floor allows 20000 but the yearly cap 5000 → top-up 4000. "
            "The next stay: basic (20000 − 500) × 80 % = 15600, capped at 150000 − 140000 = 10000; its "
            "critical base continues 60000 → 70000 at 70 % = 7000; aid 3000 × 70 % = 2100; the yearly "
            "cap is used up: top-up 900, personal 0",
            claim(
                "P1",
                "poor",
                "2020-01-10",
                3,
                "referred",
                "200000.00",
                "0.00",
                paid=("140000.00", "30000.00"),
                expect=["200000.00", "0.00", "140000.00", "30000.00", "21000.00", "4000.00", "5000.00"],
            ),
            claim(
                "P2",
                "poor",
                "2020-02-10",
                2,
                "in",
                "20000.00",
                "0.00",
                expect=["20000.00", "0.00", "10000.00", "7000.00", "2100.00", "900.00", "0.00"],
            ),
            checked="hand",
        ),
        case(
            "paid-zero",
            "dibao: a stay settled elsewhere where the platform paid nothing: aid on all of it",
            claim("P1", "dibao", "2020-02-10", 3, "referred", "30000.00", "1000.00", paid=("0.00", "0.00")),
        ),
        case(
            "paid-whole-in-scope",
            "poor: basic_paid + critical_paid = in_scope: no aid; the top-up covers the out-of-scope cost",
            claim(
                "P1", "poor", "2020-02-10", 3, "referred", "30000.00", "4000.00", paid=("20000.00", "6000.00")
            ),
        ),
        case(
            "paid-unreferred",
            "tekun: settled elsewhere without a referral: aid, no supplementary",
            claim(
                "P1",
                "tekun",
                "2020-02-10",
                3,
                "unreferred",
                "50000.00",
                "5000.00",
                paid=("20000.00", "5000.00"),
            ),
        ),
        case(
            "paid-in-county-writeoff",
            "poor, level 2 in county settled elsewhere: the write-off still applies",
            claim("P1", "poor", "2020-02-10", 2, "in", "30000.00", "5000.00", paid=("15000.00", "2000.00")),
        ),
        case(
            "paid-ordinary",
            "ordinary: no aid, no supplementary: the person pays the rest",
            claim(
                "P1",
                "ordinary",
                "2020-02-10",
                3,
                "referred",
                "30000.00",
                "2000.00",
                paid=("14000.00", "3000.00"),
            ),
        ),
        case(
            "paid-critical-above-cap",
            "ordinary: the platform's critical payment (450000) is above the county's 400000 cap; the "
            "next stay's critical is capped at what is left: 0",
            claim(
                "P1",
                "ordinary",
                "2020-01-10",
                3,
                "referred",
                "1000000.00",
                "0.00",
                paid=("150000.00", "450000.00"),
            ),
            claim("P2", "ordinary", "2020-02-10", 3, "referred", "200000.00", "0.00"),
        ),
        case(
            "paid-then-visit",
            "poor: a stay settled elsewhere, then an outpatient visit: they share the aid and the sum insured only",
            claim(
                "P1",
                "poor",
                "2020-01-10",
                3,
                "referred",
                "120000.00",
                "8000.00",
                paid=("70000.00", "20000.00"),
            ),
            visit("V1", "poor", "2020-02-10", 2, "in", "2500.00", "300.00", "肺结核"),
        ),
    ]
    return outpatient_grid(rng, "2020") + cases


def transition_outpatient_cases(rng: random.Random) -> list[dict[str, Any]]:
    """settlement.md §6 and §7 under transition-2024 (no county top-up)."""
    more = [
        case(
            "op-deductible-100",
            "poor: outpatient deductible 100 a year, then 70 % at level 2; aid 30 %",
            visit("V1", "poor", "2024-02-01", 2, "in", "60.00", "0.00", "高血压"),
            visit("V2", "poor", "2024-03-01", 2, "in", "900.00", "50.00", "高血压"),
        ),
        case(
            "op-disease-cap",
            "dibao 2型糖尿病 cap 3000 over three visits",
            visit("V1", "dibao", "2024-02-01", 1, "in", "2000.00", "0.00", "2型糖尿病"),
            visit("V2", "dibao", "2024-03-01", 1, "in", "2000.00", "0.00", "2型糖尿病"),
            visit("V3", "dibao", "2024-04-01", 1, "in", "2000.00", "0.00", "2型糖尿病"),
        ),
        case(
            "op-aid-cap-shared",
            "poor: aid cap 20000 shared: a stay uses most of it, the visits get what is left",
            claim("S1", "poor", "2024-01-10", 3, "referred", "200000.00", "0.00"),
            visit("V1", "poor", "2024-02-10", 1, "in", "30000.00", "0.00", "终末期肾病"),
            visit("V2", "poor", "2024-03-10", 1, "in", "30000.00", "0.00", "终末期肾病"),
        ),
        case(
            "op-ordinary-no-aid",
            "ordinary: deductible 300, no aid, no top-up",
            visit("V1", "ordinary", "2024-02-01", 3, "referred", "2000.00", "100.00", "冠心病"),
        ),
        case(
            "paid-stay-transition",
            "monitored: a stay settled elsewhere: aid (deductible 2000, 60 %) on the rest",
            claim(
                "P1",
                "monitored",
                "2024-02-10",
                3,
                "referred",
                "90000.00",
                "6000.00",
                paid=("48000.00", "12000.00"),
            ),
        ),
        case(
            "paid-then-stay-critical-base",
            "tekun: the critical base of a stay settled elsewhere carries into the next stay's tiers",
            claim(
                "P1", "tekun", "2024-01-10", 3, "referred", "100000.00", "0.00", paid=("60000.00", "10000.00")
            ),
            claim("P2", "tekun", "2024-02-10", 2, "in", "40000.00", "0.00"),
        ),
    ]
    return [*outpatient_grid(rng, "2024"), *more]


# --------------------------------------------------------------------------- transition-2024


def transition_cases() -> list[dict[str, Any]]:
    rng = random.Random(2024)
    cases = []
    for category in CATEGORIES:
        for level in (1, 2, 3):
            for where in WHERE:
                total, oos = amounts(rng, 3_000, 120_000, 20)
                cases.append(
                    case(
                        f"grid-{category}-{level}-{where}",
                        f"{category}, level {level}, {where}",
                        claim("G1", category, "2024-04-01", level, where, total, oos),
                    )
                )
    cases += [
        case(
            "no-writeoff-block",
            "hand: no out_of_scope block: nothing written off in county. poor level 1: basic "
            "(9000 − 200) × 85 % = 7480.00; base 1520 < 7500; aid: 1520 − deductible 1520 → 0",
            claim(
                "W1",
                "poor",
                "2024-02-01",
                1,
                "in",
                "10000.00",
                "1000.00",
                ["10000.00", "0.00", "7480.00", "0.00", "0.00", "0.00", "2520.00"],
            ),
            checked="hand",
        ),
        case(
            "aid-deductible-2000-across-claims",
            "poor: aid deductible 2000 per year used over two claims",
            claim("A1", "poor", "2024-01-10", 2, "in", "5000.00", "0.00"),
            claim("A2", "poor", "2024-02-10", 2, "in", "20000.00", "0.00"),
        ),
        case(
            "aid-cap-poor",
            "poor: aid stops at its 20000 annual cap",
            claim("A1", "poor", "2024-01-10", 3, "referred", "600000.00", "0.00"),
        ),
        case(
            "aid-cap-monitored",
            "monitored: aid cap 30000 reached over two claims",
            claim("A1", "monitored", "2024-01-10", 3, "referred", "400000.00", "10000.00"),
            claim("A2", "monitored", "2024-03-10", 3, "referred", "400000.00", "10000.00"),
        ),
        case(
            "aid-cap-tekun",
            "tekun: aid 100 %, cap 100000",
            claim("A1", "tekun", "2024-01-10", 3, "referred", "700000.00", "0.00"),
        ),
        case(
            "critical-tier-lo-exact",
            "hand: dibao level 2 referred: basic (x − 500) × 75 %, base = 0.25x + 375 = 7500 → x = 28500; "
            "F(7500) = 0. aid (7500 × 70 %) = 5250.00",
            claim(
                "T1",
                "dibao",
                "2024-03-01",
                2,
                "referred",
                "28500.00",
                "0.00",
                ["28500.00", "0.00", "21000.00", "0.00", "5250.00", "0.00", "2250.00"],
            ),
            checked="hand",
        ),
        case(
            "critical-tier-50000",
            "dibao level 2 referred: base = 0.25 × 198500 + 375 = 50000.00, the end of the first tier",
            claim("T1", "dibao", "2024-03-01", 2, "referred", "198500.00", "0.00"),
        ),
        case(
            "critical-tier-150000-capped-basic",
            "basic capped at 150000: in-scope 300000 leaves a base of exactly 150000",
            claim("T1", "monitored", "2024-03-01", 1, "in", "300000.00", "0.00"),
        ),
        case(
            "critical-cap-ordinary",
            "ordinary: critical capped at 400000 across two claims",
            claim("C1", "ordinary", "2024-01-10", 3, "referred", "800000.00", "0.00"),
            claim("C2", "ordinary", "2024-02-10", 3, "referred", "300000.00", "0.00"),
        ),
        case(
            "basic-cap",
            "basic stops at 150000 (tekun, no deductible)",
            claim("B1", "tekun", "2024-01-10", 1, "in", "100000.00", "0.00"),
            claim("B2", "tekun", "2024-02-10", 1, "in", "100000.00", "0.00"),
        ),
        case(
            "unreferred-level-3",
            "unreferred level 3: ratio 60 % − 20 % = 40 %",
            claim("U1", "ordinary", "2024-01-10", 3, "unreferred", "50000.00", "5000.00"),
        ),
        case(
            "same-day-order",
            "two claims the same day settle in claim-id order (A < B), whatever the input order",
            claim("B", "poor", "2024-05-05", 2, "in", "9000.00", "0.00"),
            claim("A", "poor", "2024-05-05", 2, "in", "9000.00", "0.00"),
        ),
    ]
    return cases + transition_outpatient_cases(rng)


# --------------------------------------------------------------------------- custom policies


def _basic(ratio: str = "0.80", cap: str | None = None, ded: str = "100") -> dict[str, Any]:
    out: dict[str, Any] = {
        "deductible": {"1": ded, "2": ded, "3": ded},
        "ratio": {"1": ratio, "2": ratio, "3": ratio},
    }
    if cap is not None:
        out["annual_cap"] = cap
    return out


def custom_policy() -> dict[str, Any]:
    """A policy for the branches the presets cannot reach."""
    return {
        "name": "custom-branches",
        "title": "测试用政策：预置政策覆盖不到的分支",
        "valid_from": "2019-01-01",
        "valid_to": "2021-12-31",
        "category_precedence": [
            "floor_only",
            "cap_only",
            "neither",
            "in_county_only",
            "no_cover",
            "small_caps",
            "op_no_aid",
            "op_small_sum",
        ],
        "unreferred_ratio_cut": "0.90",
        "out_of_scope": {"mode": "consistent", "cap_ratio": {"1": "0.20", "2": "0.10"}},
        "categories": {
            "floor_only": {
                "basic": _basic(),
                "critical": {"tiers": [["0", "1000", "0.50"], ["3000", "", "0.90"]]},
                "aid": {"ratio": "0.50"},
                "supplementary": {"min_ratio": "0.95"},
            },
            "cap_only": {
                "basic": _basic(),
                "critical": {"tiers": [["2000", "", "0.5"]]},
                "supplementary": {"annual_personal_cap": "1000"},
            },
            "neither": {
                "basic": _basic(),
                "critical": {"tiers": [["2000", "", "0.5"]]},
                "supplementary": {"covers_out_of_scope": True},
            },
            "in_county_only": {
                "basic": _basic(),
                "critical": {"tiers": [["2000", "", "0.5"]]},
                "supplementary": {
                    "applies_to": "in_county",
                    "min_ratio": "0.9",
                    "annual_personal_cap": "3000",
                },
            },
            "no_cover": {
                "basic": _basic(),
                "critical": {"tiers": [["2000", "", "0.5"]]},
                "supplementary": {"covers_out_of_scope": False, "min_ratio": "1", "sum_insured": "100000"},
            },
            "small_caps": {
                "basic": _basic(cap="1000"),
                "critical": {"tiers": [["0", "", "0.333333"]], "annual_cap": "777.77"},
                "aid": {"deductible": "300", "ratio": "0.123457", "annual_cap": "50"},
                "supplementary": {"min_ratio": "0.5", "sum_insured": "100", "annual_personal_cap": "100"},
            },
            "op_no_aid": {
                "basic": _basic(),
                "critical": {"tiers": [["2000", "", "0.5"]]},
                "outpatient": {
                    "ratio": {"1": "0.80", "2": "0.70", "3": "0.60"},
                    "aid_ratio": "0.50",
                    "personal_share_cap": "0.20",
                },
            },
            "op_small_sum": {
                "basic": _basic(),
                "critical": {"tiers": [["2000", "", "0.5"]]},
                "aid": {"ratio": "0.5", "annual_cap": "30"},
                "supplementary": {"min_ratio": "0.9", "sum_insured": "50"},
                "outpatient": {
                    "deductible": "10",
                    "ratio": {"1": "0.50", "2": "0.50", "3": "0.50"},
                    "annual_cap": "500",
                    "aid_ratio": "0.5",
                    "personal_share_cap": "0.05",
                },
            },
        },
        "outpatient_diseases": {"高血压": "1000", "罕见病": "0"},
    }


def custom_cases() -> list[dict[str, Any]]:
    return [
        case(
            "consistent-writeoff",
            "consistent mode: absorbed = round((3000 − 10 % × 20000) ÷ 0.9) = round(1111.111…) = 1111.11",
            claim("K1", "neither", "2020-01-10", 2, "in", "20000.00", "3000.00"),
        ),
        case(
            "consistent-writeoff-tie",
            "hand: (20.02 − 20 % × 100.00) ÷ 0.8 = 0.025, a tie rounded half-up to 0.03; in scope 79.98 "
            "is below the deductible 100: basic 0; F(79.98) = 50 % × 79.98 = 39.99; aid (79.98 − 39.99) "
            "× 50 % = 19.995 → 20.00; floor round(95 % × 99.97 = 94.9715) = 94.97 leaves 5.00 to the "
            "person: top-up 39.98 − 5.00 = 34.98",
            claim(
                "K1",
                "floor_only",
                "2020-01-10",
                1,
                "in",
                "100.00",
                "20.02",
                ["99.97", "0.03", "0.00", "39.99", "20.00", "34.98", "5.00"],
            ),
            checked="hand",
        ),
        case(
            "consistent-below-limit",
            "consistent mode with out of scope under the limit: nothing absorbed",
            claim("K1", "neither", "2020-01-10", 1, "in", "20000.00", "3000.00"),
        ),
        case(
            "floor-only",
            "supplementary with a 95 % floor and no personal cap",
            claim("F1", "floor_only", "2020-01-10", 3, "in", "20000.00", "2000.00"),
            claim("F2", "floor_only", "2020-02-10", 3, "referred", "20000.00", "2000.00"),
        ),
        case(
            "tiers-with-gap",
            "critical tiers [0,1000) 50 % and [3000,∞) 90 %: nothing between 1000 and 3000",
            claim("F1", "floor_only", "2020-01-10", 3, "unreferred", "2500.00", "0.00"),
            claim("F2", "floor_only", "2020-01-11", 3, "unreferred", "2500.00", "0.00"),
        ),
        case(
            "unreferred-cut-above-ratio",
            "cut 90 % from 80 %: max(0, −10 %) = 0, basic pays nothing",
            claim("N1", "neither", "2020-01-10", 2, "unreferred", "20000.00", "0.00"),
        ),
        case(
            "cap-only",
            "supplementary with only a yearly personal cap of 1000",
            claim("P1", "cap_only", "2020-01-10", 3, "in", "5000.00", "500.00"),
            claim("P2", "cap_only", "2020-02-10", 3, "in", "5000.00", "500.00"),
        ),
        case(
            "neither-floor-nor-cap",
            "a supplementary block with no floor and no cap tops up nothing",
            claim("N1", "neither", "2020-01-10", 3, "in", "20000.00", "0.00"),
        ),
        case(
            "applies-to-in-county",
            "applies_to = in_county: a referred out-of-county stay gets no top-up, an in-county one does",
            claim("I1", "in_county_only", "2020-01-10", 3, "referred", "20000.00", "1000.00"),
            claim("I2", "in_county_only", "2020-02-10", 3, "in", "20000.00", "1000.00"),
        ),
        case(
            "covers-out-of-scope-false",
            "covers_out_of_scope = false with a 100 % floor: the top-up covers the in-scope rest only",
            claim("O1", "no_cover", "2020-01-10", 3, "in", "20000.00", "5000.00"),
        ),
        case(
            "sum-insured-small",
            "sum insured 100 and personal cap 100: the sum insured runs out first",
            claim("S1", "small_caps", "2020-01-10", 3, "in", "3000.00", "0.00"),
            claim("S2", "small_caps", "2020-02-10", 3, "in", "3000.00", "0.00"),
        ),
        case(
            "all-caps-small",
            "basic cap 1000, critical cap 777.77 with a 33.3333 % tier from 0, aid deductible 300 and cap 50",
            claim("S1", "small_caps", "2020-01-10", 3, "in", "1500.00", "0.00"),
            claim("S2", "small_caps", "2020-02-10", 3, "in", "1500.00", "0.00"),
            claim("S3", "small_caps", "2020-03-10", 3, "in", "2500.00", "0.00"),
        ),
        case(
            "year-boundary",
            "year-to-date sums start again on 1 January",
            claim("Y1", "small_caps", "2020-12-31", 3, "in", "3000.00", "0.00"),
            claim("Y2", "small_caps", "2021-01-01", 3, "in", "3000.00", "0.00"),
        ),
        case(
            "category-change-lower-cap",
            "a cap already exceeded under another category: what is left is 0, never negative",
            claim("L1", "neither", "2020-01-10", 3, "in", "5000.00", "0.00"),
            claim("L2", "small_caps", "2020-02-10", 3, "in", "5000.00", "0.00"),
        ),
        case(
            "op-aid-ratio-without-aid-block",
            "aid_ratio in the outpatient block but no aid block: no aid; the top-up to a 20 % share has "
            "no sum insured to run out",
            visit("V1", "op_no_aid", "2020-01-10", 3, "in", "5000.00", "400.00", "高血压"),
            visit("V2", "op_no_aid", "2020-02-10", 3, "in", "5000.00", "400.00", "高血压"),
        ),
        case(
            "op-consistent-writeoff",
            "consistent write-off on an outpatient claim: round((900 − 20 % × 3000) ÷ 0.8) = 375.00",
            visit("V1", "op_no_aid", "2020-01-10", 1, "in", "3000.00", "900.00", "高血压"),
        ),
        case(
            "op-unreferred-cut-above-ratio",
            "cut 90 % from 70 %: max(0, −20 %) = 0, outpatient basic pays nothing",
            visit("V1", "op_no_aid", "2020-01-10", 2, "unreferred", "800.00", "0.00", "高血压"),
        ),
        case(
            "op-disease-cap-zero",
            "a disease whose yearly cap is 0: basic pays nothing; the top-up still applies",
            visit("V1", "op_no_aid", "2020-01-10", 3, "referred", "800.00", "0.00", "罕见病"),
        ),
        case(
            "op-shared-small-funds",
            "aid cap 30 and sum insured 50 shared by a stay and two visits; deductible 10, cap 500",
            visit("V1", "op_small_sum", "2020-01-10", 3, "in", "400.00", "0.00", "高血压"),
            claim("S1", "op_small_sum", "2020-02-10", 3, "in", "3000.00", "100.00"),
            visit("V2", "op_small_sum", "2020-03-10", 3, "in", "900.00", "0.00", "高血压"),
        ),
        case(
            "op-year-boundary",
            "the outpatient deductible and caps start again on 1 January",
            visit("V1", "op_small_sum", "2020-12-31", 3, "in", "1200.00", "0.00", "高血压"),
            visit("V2", "op_small_sum", "2021-01-01", 3, "in", "1200.00", "0.00", "高血压"),
        ),
        case(
            "op-category-change",
            "outpatient visits under two categories in one year share the person's outpatient sums",
            visit("V1", "op_small_sum", "2020-01-10", 3, "in", "800.00", "0.00", "高血压"),
            visit("V2", "op_no_aid", "2020-06-10", 3, "in", "800.00", "0.00", "高血压"),
        ),
    ]


# --------------------------------------------------------------------------- writing


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() and key.isascii() else _toml_value(key)


def _policy_toml(doc: dict[str, Any]) -> list[str]:
    lines = []
    for key, value in doc.items():
        if not isinstance(value, dict):
            lines.append(f"{_key(key)} = {_toml_value(value)}")
    if "out_of_scope" in doc:
        lines.append("[policy.out_of_scope]")
        lines += [f"{_key(k)} = {_toml_value(v)}" for k, v in doc["out_of_scope"].items()]
    if "outpatient_diseases" in doc:
        lines.append("[policy.outpatient_diseases]")
        lines += [f"{_key(k)} = {_toml_value(v)}" for k, v in doc["outpatient_diseases"].items()]
    for name, block in doc["categories"].items():
        for layer, body in block.items():
            lines.append(f"[policy.categories.{name}.{layer}]")
            lines += [f"{_key(k)} = {_toml_value(v)}" for k, v in body.items()]
    return lines


def fill(policy_doc: dict[str, Any], cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Expected amounts from the oracle; hand-given ones must agree with it."""
    for item in cases:
        rows = [{"person_id": PERSON, **c} for c in item["claims"]]
        results = oracle.settle(policy_doc, rows)
        for row, res in zip(item["claims"], results, strict=True):
            computed = [oracle.fmt(res[f]) for f in oracle.FIELDS]
            if "expect" in row:
                if row["expect"] != computed:
                    raise SystemExit(
                        f"{item['name']} {row['claim_id']}: given {row['expect']} != oracle {computed}"
                    )
            else:
                row["expect"] = computed
    return cases


def write(path: Path, header: list[str], cases: list[dict[str, Any]]) -> None:
    lines = [
        "# Case table for the settlement engine (settlement.md §2). Generated by make_cases.py:",
        "# inputs designed there; expected amounts by the Fraction oracle (tests/oracle.py), or by hand",
        '# where checked = "hand" / "settlement.md" (the oracle agrees with those).',
        "# expect = [counted_total, hospital_absorbed, basic, critical, aid, supplementary, personal]",
        "",
        *header,
    ]
    for item in cases:
        lines += [
            "",
            "[[cases]]",
            f"name = {_toml_value(item['name'])}",
            f"note = {_toml_value(item['note'])}",
            f"checked = {_toml_value(item['checked'])}",
            "claims = [",
            *[f"  {_toml_value(c)}," for c in item["claims"]],
            "]",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tomllib.loads(path.read_text(encoding="utf-8"))  # it must parse


def main() -> None:
    out = HERE / "cases"
    out.mkdir(exist_ok=True)
    for name, make in (("suixian-2020", suixian_cases), ("transition-2024", transition_cases)):
        doc = tomllib.loads((PRESETS / f"{name}.toml").read_text(encoding="utf-8"))
        write(out / f"{name}.toml", [f"preset = {_toml_value(name)}"], fill(doc, make()))
    doc = custom_policy()
    header = ["# The policy: branches the presets cannot reach.", "[policy]", *_policy_toml(doc)]
    # [[cases]] must follow the policy tables; TOML allows array tables after nested tables.
    write(out / "custom-branches.toml", header, fill(doc, custom_cases()))


if __name__ == "__main__":
    main()
