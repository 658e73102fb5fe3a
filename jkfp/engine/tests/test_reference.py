"""Case tables (cases/*.toml) through both engines, the worked examples, and the reference's trace."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jkfp.engine import (
    Claim,
    ClaimTable,
    Policy,
    YearToDate,
    load_preset,
    parse_policy,
    settle_batch,
    settle_claim,
    settle_claims,
    settle_in_order,
)
from jkfp.engine.reference import round_cent, round_fraction_cent
from jkfp.engine.tests import oracle
from jkfp.engine.tests.helpers import claim_from_row
from jkfp.engine.tests.make_cases import PERSON

CASES = Path(__file__).parent / "cases"


@dataclass(frozen=True)
class Case:
    table: str
    name: str
    policy: Policy
    policy_doc: dict[str, Any]
    rows: list[dict[str, Any]]


def _load_cases() -> list[Case]:
    out = []
    for path in sorted(CASES.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        if "preset" in data:
            doc = tomllib.loads(
                (Path(__file__).parent.parent / "presets" / f"{data['preset']}.toml").read_text(
                    encoding="utf-8"
                )
            )
            policy = load_preset(data["preset"])
        else:
            doc = data["policy"]
            policy = parse_policy(doc)
        for item in data["cases"]:
            rows = [{"person_id": PERSON, **c} for c in item["claims"]]
            out.append(Case(path.stem, item["name"], policy, doc, rows))
    return out


ALL_CASES = _load_cases()


def test_case_tables_are_big_enough() -> None:
    counts: dict[str, int] = {}
    kinds: dict[str, int] = {}
    for case in ALL_CASES:
        counts[case.table] = counts.get(case.table, 0) + 1
        for row in case.rows:
            kind = (
                "outpatient"
                if row.get("kind") == "outpatient"
                else "paid"
                if row.get("basic_paid")
                else "stay"
            )
            kinds[f"{case.table}:{kind}"] = kinds.get(f"{case.table}:{kind}", 0) + 1
    assert counts["suixian-2020"] >= 80
    assert counts["transition-2024"] >= 60
    assert counts["custom-branches"] >= 20
    for table in ("suixian-2020", "transition-2024"):
        assert kinds[f"{table}:outpatient"] >= 20  # every category × level × place, and more
        assert kinds[f"{table}:paid"] >= 2


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: f"{c.table}:{c.name}")
def test_case(case: Case) -> None:
    claims = [claim_from_row(r) for r in case.rows]
    expected = [tuple(Decimal(x) for x in r["expect"]) for r in case.rows]
    reference = settle_claims(case.policy, claims, trace=True)
    assert [r.amounts for r in reference] == expected
    batch = settle_batch(case.policy, ClaimTable.from_claims(claims))
    assert [tuple(Decimal(f).scaleb(-2) for f in batch.row(i)) for i in range(len(claims))] == expected
    # The table still agrees with the independent oracle (guards hand edits of the files).
    again = oracle.settle(case.policy_doc, case.rows)
    assert [tuple(Decimal(oracle.fmt(r[f])) for f in oracle.FIELDS) for r in again] == expected


def _example(name: str) -> Claim:
    rows = {
        "E1": ("421321198001010117", "poor", "2020-03-01", 2, True, False, "20000.00", "1000.00"),
        "E2": ("421321198001010117", "poor", "2020-06-01", 3, False, True, "150000.00", "12000.00"),
        "E3": ("421321198001010221", "poor", "2020-05-10", 1, True, False, "8000.00", "800.00"),
        "E4": ("421321198001010336", "ordinary", "2020-07-01", 2, True, False, "20000.00", "1000.00"),
    }
    pid, cat, day, level, in_county, referred, total, oos = rows[name]
    return Claim(
        name, pid, cat, date.fromisoformat(day), level, in_county, referred, Decimal(total), Decimal(oos)
    )


WORKED = {
    "E1": ("20000.00", "0.00", "14800.00", "0.00", "2940.00", "260.00", "2000.00"),
    "E2": ("150000.00", "0.00", "95900.00", "27660.00", "10108.00", "13332.00", "3000.00"),
    "E3": ("7400.00", "600.00", "6300.00", "0.00", "630.00", "0.00", "470.00"),
    "E4": ("20000.00", "0.00", "12950.00", "0.00", "0.00", "0.00", "7050.00"),
}


def test_worked_examples_settlement_md_section_5() -> None:
    policy = load_preset("suixian-2020")
    claims = [_example(n) for n in ("E4", "E2", "E3", "E1")]  # any input order
    for claim, result in zip(claims, settle_claims(policy, claims), strict=True):
        assert tuple(f"{a:.2f}" for a in result.amounts) == WORKED[claim.claim_id]
    e2 = settle_claims(policy, claims)[1]
    assert e2.ytd_before.critical_base == Decimal("4200.00")
    assert e2.ytd_after.critical_base == Decimal("46300.00")
    assert e2.reimbursement_ratio == Decimal("0.98")


SECTION_8 = {  # settlement.md §8: claim → inputs, expected amounts
    "E5": (
        dict(person_id="A", category="poor", discharge_on=date(2020, 4, 1), level=1, in_county=True,
             total_amount=Decimal("500.00"), out_of_scope_amount=Decimal("20.00"), kind="outpatient",
             disease="高血压"),
        ("492.50", "7.50", "384.00", "0.00", "48.00", "11.25", "49.25"),
    ),
    "E6": (
        dict(person_id="A", category="poor", discharge_on=date(2020, 9, 1), level=1, in_county=True,
             total_amount=Decimal("4000.00"), out_of_scope_amount=Decimal("0.00"), kind="outpatient",
             disease="高血压"),
        ("4000.00", "0.00", "2616.00", "0.00", "692.00", "292.00", "400.00"),
    ),
    "E7": (
        dict(person_id="B", category="ordinary", discharge_on=date(2020, 5, 1), level=2, in_county=True,
             total_amount=Decimal("1000.00"), out_of_scope_amount=Decimal("50.00"), kind="outpatient",
             disease="2型糖尿病"),
        ("1000.00", "0.00", "390.00", "0.00", "0.00", "0.00", "610.00"),
    ),
    "E8": (
        dict(person_id="A", category="poor", discharge_on=date(2020, 8, 1), level=3, in_county=False,
             referred=True, total_amount=Decimal("80000.00"), out_of_scope_amount=Decimal("6000.00"),
             basic_paid_amount=Decimal("44400.00"), critical_paid_amount=Decimal("15000.00")),
        ("80000.00", "0.00", "44400.00", "15000.00", "10220.00", "5380.00", "5000.00"),
    ),
}  # fmt: skip


def _section_8(name: str) -> Claim:
    fields: dict[str, Any] = {"referred": False, **SECTION_8[name][0]}
    return Claim(claim_id=name, **fields)


def test_worked_examples_settlement_md_section_8() -> None:
    policy = load_preset("suixian-2020")
    claims = [_section_8(n) for n in ("E8", "E7", "E6", "E5")]  # any input order
    results = settle_claims(policy, claims, trace=True)
    for claim, result in zip(claims, results, strict=True):
        assert tuple(f"{a:.2f}" for a in result.amounts) == SECTION_8[claim.claim_id][1]
    batch = settle_batch(policy, ClaimTable.from_claims(claims))
    assert [batch.row(i) for i in range(4)] == [r.amounts_fen for r in results]
    e8, _, e6, e5 = results
    # Example 5: the personal share is exactly 10 %; the year's state keeps outpatient sums apart.
    assert e5.personal / e5.counted_total == Decimal("0.1")
    assert e5.ytd_after.op_basic_for("高血压") == Decimal("384.00")
    assert (e5.ytd_after.basic, e5.ytd_after.personal) == (Decimal("0.00"), Decimal("0.00"))
    # Example 8 follows 5 (April) and precedes 6 (September): the aid fund is shared.
    assert e8.ytd_before.aid == Decimal("48.00") and e8.ytd_before.personal == Decimal("0.00")
    assert e6.ytd_before.op_basic_for("高血压") == Decimal("384.00")
    assert e6.ytd_after.op_basic_for("高血压") == Decimal("3000.00")
    text = "\n".join(e6.trace)
    assert "门诊慢特病（高血压）" in text
    assert "高血压年度限额 3000.00，已付 384.00，剩余 2616.00 → 2616.00" in text
    assert "大病保险：门诊慢特病不计大病保险，= 0.00" in text
    assert "个人负担比例：400.00 ÷ 4000.00 ≈ 10.00%" in text
    paid = "\n".join(e8.trace)
    assert "统筹地已结算（事后补助）" in paid
    assert "基本医保：统筹地已结算，按结算单 44400.00" in paid
    assert (
        "大病保险：统筹地已结算，按结算单 15000.00（不再计算）；基数 74000.00 − 44400.00 = 29600.00" in paid
    )


def test_outpatient_and_paid_claims_refused_by_the_engines() -> None:
    policy = load_preset("suixian-2020")
    base: dict[str, Any] = dict(
        claim_id="X", person_id=PERSON, category="poor", discharge_on=date(2020, 3, 1), level=1,
        in_county=True, referred=False, total_amount=Decimal("100.00"), out_of_scope_amount=Decimal("10.00"),
    )  # fmt: skip
    for fields, message in (
        ({"kind": "outpatient"}, "needs its disease"),
        ({"kind": "day-care", "disease": "高血压"}, "inpatient or outpatient"),
        ({"basic_paid_amount": Decimal("1.00")}, "both be given"),
        (
            {"kind": "outpatient", "disease": "高血压", "basic_paid_amount": Decimal("1"),
             "critical_paid_amount": Decimal("1")},
            "not for an outpatient claim",
        ),
        ({"basic_paid_amount": Decimal("60.00"), "critical_paid_amount": Decimal("30.01")}, "90.00"),
        ({"basic_paid_amount": Decimal("-1.00"), "critical_paid_amount": Decimal("0")}, "out of range"),
    ):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            Claim(**{**base, **fields})
    unknown = Claim(**{**base, "kind": "outpatient", "disease": "感冒"})
    with pytest.raises(ValueError, match="outpatient_diseases"):
        settle_claim(policy, unknown)
    with pytest.raises(ValueError, match="outpatient_diseases"):
        settle_batch(policy, ClaimTable.from_claims([unknown]))
    doc = tomllib.loads((Path(__file__).parent.parent / "presets" / "suixian-2020.toml").read_text("utf-8"))
    del doc["categories"]["poor"]["outpatient"]
    no_block = parse_policy(doc)
    visit = Claim(**{**base, "kind": "outpatient", "disease": "高血压"})
    with pytest.raises(ValueError, match="no outpatient block"):
        settle_claim(no_block, visit)
    with pytest.raises(ValueError, match="no outpatient block"):
        settle_batch(no_block, ClaimTable.from_claims([visit]))


def test_claim_table_round_trip_of_the_new_fields() -> None:
    claims = [_section_8(n) for n in ("E5", "E7", "E8")]
    table = ClaimTable.from_claims(claims)
    assert [table.claim(i) for i in range(3)] == claims
    picked = table.take(np.array([2, 0], dtype=np.int64))
    assert [picked.claim(i) for i in range(2)] == [claims[2], claims[0]]
    assert picked.outpatient_mask().tolist() == [False, True]
    assert picked.paid_fen()[0].tolist() == [4_440_000, -1]


def test_trace_in_chinese_names_every_step() -> None:
    policy = load_preset("suixian-2020")
    result = settle_claim(policy, _example("E1"))
    text = "\n".join(result.trace)
    assert "基本医保：(19000.00 − 起付线 500.00) × 80% = 14800.00" in text
    for step in (
        "当年累计（结算前）",
        "目录外费用控制",
        "大病保险",
        "医疗救助",
        "补充医疗保险",
        "个人负担",
        "当年累计（结算后）",
    ):
        assert step in text
    assert "补充 = min(max(2260.00 − 2000.00, 0), 2260.00) = 260.00" in text
    silent = settle_claim(policy, _example("E1"), trace=False)
    assert silent.trace == ()
    assert silent.amounts == result.amounts


def test_trace_shows_rounding_and_tiers() -> None:
    policy = load_preset("suixian-2020")
    first = settle_claim(policy, _example("E1"))
    second = settle_claim(policy, _example("E2"), first.ytd_after)
    text = "\n".join(second.trace)
    assert "F(46300.00) = 65% × (30000.00 − 5000.00) + 70% × (46300.00 − 30000.00) = 27660.00" in text
    assert "个人负担 2000.00" in second.trace[1]  # the year-to-date before
    assert "个人负担 5000.00" in second.trace[-1]  # and after
    claim = Claim("R", PERSON, "dibao", date(2020, 2, 1), 1, False, True, Decimal("200.05"), Decimal("0"))
    rounded = "\n".join(settle_claim(policy, claim).trace)
    assert "= 0.045 → 0.05" in rounded


def test_settle_claim_continues_from_a_given_year_to_date() -> None:
    policy = load_preset("suixian-2020")
    opening = YearToDate(personal=Decimal("2000.00"), critical_base=Decimal("4200.00"))
    result = settle_claim(policy, _example("E2"), opening)
    assert result.supplementary == Decimal("13332.00")
    assert result.critical == Decimal("27660.00")
    # settle_claims accepts the same as opening balances per (person, year)
    again = settle_claims(policy, [_example("E2")], opening={("421321198001010117", 2020): opening})
    assert again[0].amounts == result.amounts


def test_claims_refused_by_the_engines() -> None:
    policy = load_preset("suixian-2020")
    unknown = Claim("U", PERSON, "nobody", date(2020, 1, 1), 1, True, False, Decimal("1"), Decimal("0"))
    with pytest.raises(ValueError, match="not defined"):
        settle_claim(policy, unknown)
    with pytest.raises(ValueError, match="not defined"):
        settle_batch(policy, ClaimTable.from_claims([unknown]))
    twice = [_example("E1"), _example("E1")]
    with pytest.raises(ValueError, match="unique"):
        settle_claims(policy, twice)
    # One claim id at two institutions, same person and day: the batch engine settles them in
    # table order, as settle_in_order keeps them (the second on the first one's year-to-date).
    batch = settle_batch(policy, ClaimTable.from_claims(twice))
    in_order = settle_in_order([(policy, c) for c in twice], trace=False)
    assert [tuple(int(col[i]) for col in batch.columns()) for i in range(2)] == [
        r.amounts_fen for r in in_order
    ]
    assert in_order[0].amounts_fen != in_order[1].amounts_fen
    with pytest.raises(ValueError, match="level"):
        Claim("L", PERSON, "poor", date(2020, 1, 1), 4, True, False, Decimal("1"), Decimal("0"))
    with pytest.raises(ValueError, match="2 decimals"):
        Claim("L", PERSON, "poor", date(2020, 1, 1), 1, True, False, Decimal("1.001"), Decimal("0"))
    with pytest.raises(ValueError, match="exceeds"):
        Claim("L", PERSON, "poor", date(2020, 1, 1), 1, True, False, Decimal("1"), Decimal("2"))


def test_empty_batch() -> None:
    result = settle_batch(load_preset("suixian-2020"), ClaimTable.from_claims([]))
    assert len(result) == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.005", "0.01"), ("0.0049", "0.00"), ("2.345", "2.35"), ("-0.005", "-0.01"), ("1.994999", "1.99")],
)
def test_round_half_up(value: str, expected: str) -> None:
    assert round_cent(Decimal(value)) == Decimal(expected)
    from fractions import Fraction

    assert round_fraction_cent(Fraction(value)) == Decimal(expected)
