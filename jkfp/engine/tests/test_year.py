"""``settle_year`` (the system's bulk settlement) on mixed years of stays and outpatient claims (§6):
amounts and the seven year-to-date sums before and after each claim equal the reference engine's,
through the batch engine (one policy per person) and claim by claim (a person whose year spans
two policy keys)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jkfp.engine import (
    NO_OUTPATIENT_SUMS,
    ClaimSettlement,
    Policy,
    YearSettlement,
    YearTable,
    YearToDate,
    fen_to_decimal,
    load_preset,
    loads_policy,
    settle_claim,
    settle_claims,
    settle_year,
)
from jkfp.engine.claims import EPOCH_ORDINAL
from jkfp.engine.tests.helpers import claim_from_row
from jkfp.engine.tests.strategies import claim_sets, policy_documents


@st.composite
def years(draw: Any) -> tuple[dict[str, Any], list[dict[str, str]], list[int]]:
    doc = draw(policy_documents())
    categories = sorted(doc["categories"])
    rows = draw(
        claim_sets(
            categories,
            max_size=20,
            outpatient_categories=[c for c in categories if "outpatient" in doc["categories"][c]],
            diseases=sorted(doc.get("outpatient_diseases", {})),
        )
    )
    keys = draw(st.lists(st.sampled_from([1, 2]), min_size=len(rows), max_size=len(rows)))
    return doc, rows, keys


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(years())
def test_settle_year_equals_reference_on_mixed_years(
    scenario: tuple[dict[str, Any], list[dict[str, str]], list[int]],
) -> None:
    doc, rows, keys = scenario
    policy = loads_policy(json.dumps(doc), fmt="json")
    claims = [claim_from_row(r) for r in rows]
    persons = sorted({c.person_id for c in claims})
    table = YearTable(
        claim_id=[c.claim_id for c in claims],
        person=np.array([persons.index(c.person_id) for c in claims], dtype=np.int64),
        day=np.array([c.discharge_on.toordinal() - EPOCH_ORDINAL for c in claims], dtype=np.int64),
        level=np.array([c.level for c in claims], dtype=np.int64),
        in_county=np.array([c.in_county for c in claims], dtype=np.bool_),
        referred=np.array([c.referred for c in claims], dtype=np.bool_),
        total=np.array([c.total_fen for c in claims], dtype=np.int64),
        out_of_scope=np.array([c.out_of_scope_fen for c in claims], dtype=np.int64),
        policy=np.array(keys, dtype=np.int64),
        category=[c.category for c in claims],
        outpatient=np.array([c.outpatient for c in claims], dtype=np.bool_),
        disease=[c.disease for c in claims],
    )
    # Its callers give settle_year one calendar year at a time: compare year by year.
    for year in sorted({c.discharge_on.year for c in claims}):
        rows_of_year = [i for i, c in enumerate(claims) if c.discharge_on.year == year]
        sub = YearTable(
            claim_id=[table.claim_id[i] for i in rows_of_year],
            person=table.person[rows_of_year],
            day=table.day[rows_of_year],
            level=table.level[rows_of_year],
            in_county=table.in_county[rows_of_year],
            referred=table.referred[rows_of_year],
            total=table.total[rows_of_year],
            out_of_scope=table.out_of_scope[rows_of_year],
            policy=table.policy[rows_of_year],
            category=[table.category[i] for i in rows_of_year],
            outpatient=table.outpatient_mask()[rows_of_year],
            disease=[claims[i].disease for i in rows_of_year],
        )
        year_got = settle_year(sub, {1: policy, 2: policy})
        reference = settle_claims(policy, [claims[i] for i in rows_of_year])
        for k, res in enumerate(reference):
            assert tuple(year_got.amounts[k].tolist()) == res.amounts_fen
            assert tuple(year_got.before[k].tolist()) == res.ytd_before.as_fen()
            assert tuple(year_got.after[k].tolist()) == res.ytd_after.as_fen()
        _check_year_ends(policy, sub, year_got, reference)


def _last_by_person(sub: YearTable, reference: list[ClaimSettlement]) -> dict[int, int]:
    """Each person's last row in settlement order (discharge day, claim id)."""
    last: dict[int, int] = {}
    for k in range(len(sub)):
        person = int(sub.person[k])
        if person not in last or (int(sub.day[k]), sub.claim_id[k]) > (
            int(sub.day[last[person]]),
            sub.claim_id[last[person]],
        ):
            last[person] = k
    return last


def _check_year_ends(
    policy: Policy, sub: YearTable, got: YearSettlement, reference: list[ClaimSettlement]
) -> None:
    """§6's sums kept per person (what the ledger row stores) equal the reference's after the
    person's last claim; and the last claim settled alone on top of the year-to-date of the others
    (the seven sums and §6's, as ``settle_year`` gives them: the window's O(1) path) equals the
    reference settling the whole year in order."""
    last = _last_by_person(sub, reference)
    for person, k in last.items():
        assert got.outpatient_after.get(person, NO_OUTPATIENT_SUMS) == reference[k].ytd_after.outpatient_fen()
    rest = [k for k in range(len(sub)) if k not in set(last.values())]
    if not rest:
        return
    head = settle_year(_rows(sub, rest), {1: policy, 2: policy})
    persons, after, _ = head.year_ends(sub.person[rest])
    for person, sums in zip(persons.tolist(), after.tolist(), strict=True):
        start = YearToDate.of_stay_sums([fen_to_decimal(v) for v in sums]).with_outpatient_fen(
            head.outpatient_after.get(person, NO_OUTPATIENT_SUMS)
        )
        k = last[person]
        alone = settle_claim(policy, sub.claim(k), start, trace=False)
        assert alone.amounts_fen == reference[k].amounts_fen
        assert alone.ytd_after.as_fen() == reference[k].ytd_after.as_fen()
        assert alone.ytd_after.outpatient_fen() == reference[k].ytd_after.outpatient_fen()


def _rows(table: YearTable, rows: list[int]) -> YearTable:
    return YearTable(
        claim_id=[table.claim_id[i] for i in rows],
        person=table.person[rows],
        day=table.day[rows],
        level=table.level[rows],
        in_county=table.in_county[rows],
        referred=table.referred[rows],
        total=table.total[rows],
        out_of_scope=table.out_of_scope[rows],
        policy=table.policy[rows],
        category=[table.category[i] for i in rows],
        outpatient=table.outpatient_mask()[rows],
        disease=[table.disease[i] for i in rows] if table.disease is not None else None,
    )


def test_an_outpatient_claim_moves_only_the_shared_sums() -> None:
    """§8 example 5 then 8's person as one year: the outpatient claim adds aid and supplementary only."""
    policy = load_preset("suixian-2020")
    table = YearTable(
        claim_id=["A5"],
        person=np.array([0], dtype=np.int64),
        day=np.array([date(2020, 4, 1).toordinal() - EPOCH_ORDINAL], dtype=np.int64),
        level=np.array([1], dtype=np.int64),
        in_county=np.array([True]),
        referred=np.array([False]),
        total=np.array([50000], dtype=np.int64),
        out_of_scope=np.array([2000], dtype=np.int64),
        policy=np.array([1], dtype=np.int64),
        category=["poor"],
        outpatient=np.array([True]),
        disease=["高血压"],
    )
    got = settle_year(table, {1: policy})
    assert got.amounts[0].tolist() == [49250, 750, 38400, 0, 4800, 1125, 4925]
    assert got.after[0].tolist() == [0, 0, 0, 4800, 0, 1125, 0]
