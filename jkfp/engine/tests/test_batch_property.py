"""Property tests: batch == reference == oracle on random valid policies and random mixed claim
files (stays, outpatient claims of settlement.md §6, stays settled elsewhere of §7), the
invariants of §2.5 for every kind, and the separation of the kinds: an outpatient claim never
moves a stay's caps and vice versa except through the shared aid and supplementary funds."""

from __future__ import annotations

import copy
import json
import random
import time
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jkfp.engine import Claim, ClaimTable, Policy, load_preset, loads_policy, settle_batch, settle_claims
from jkfp.engine import batch as batch_module
from jkfp.engine.batch import F_PLAIN_LIMIT, _rules, _tiers_rounded
from jkfp.engine.tests import oracle
from jkfp.engine.tests.helpers import claim_from_row
from jkfp.engine.tests.strategies import claim_sets, policy_documents

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def scenarios(draw: Any) -> tuple[dict[str, Any], list[dict[str, str]], int]:
    doc = draw(policy_documents())
    categories = sorted(doc["categories"])
    rows = draw(
        claim_sets(
            categories,
            outpatient_categories=[c for c in categories if "outpatient" in doc["categories"][c]],
            diseases=sorted(doc.get("outpatient_diseases", {})),
            paid=True,
        )
    )
    return doc, rows, draw(st.integers(0, 2**32 - 1))


def _check_caps(policy: Policy, rows: list[dict[str, str]], results: list[Any]) -> None:
    """No annual cap is exceeded by a claim that pays something under it."""
    for row, res in zip(rows, results, strict=True):
        rule = policy.category(row["category"])
        after = res.ytd_after
        if row.get("kind") == "outpatient":
            _check_outpatient_caps(policy, row, res)
            continue
        paid = bool(row.get("basic_paid"))  # §7: what the platform paid is a fact, not capped here
        if rule.basic.annual_cap is not None and res.basic > 0 and not paid:
            assert after.basic <= rule.basic.annual_cap.yuan
        if rule.critical.annual_cap is not None and res.critical > 0 and not paid:
            assert after.critical <= rule.critical.annual_cap.yuan
        if paid:
            assert (res.basic, res.critical) == (Decimal(row["basic_paid"]), Decimal(row["critical_paid"]))
        if rule.aid is not None and rule.aid.annual_cap is not None and res.aid > 0:
            assert after.aid <= rule.aid.annual_cap.yuan
        if rule.aid is not None and res.ytd_after.aid_deductible_used > res.ytd_before.aid_deductible_used:
            assert after.aid_deductible_used <= rule.aid.deductible.yuan
        s = rule.supplementary
        if s is not None and res.supplementary > 0:
            if s.sum_insured is not None:
                assert after.supplementary <= s.sum_insured.yuan
            if s.annual_personal_cap is not None:
                # The top-up brings the yearly out-of-pocket within the cap unless its room (the
                # coverable cost, or what is left of the sum insured) runs out first.
                paid = res.basic + res.critical + res.aid
                in_scope = Decimal(row["total"]) - Decimal(row["out_of_scope"])
                coverable = res.counted_total - paid if s.covers_out_of_scope else in_scope - paid
                room = coverable
                if s.sum_insured is not None:
                    room = min(room, max(Decimal(0), s.sum_insured.yuan - res.ytd_before.supplementary))
                cap = max(s.annual_personal_cap.yuan, res.ytd_before.personal)
                assert after.personal <= cap or res.supplementary == room


def _check_outpatient_caps(policy: Policy, row: dict[str, str], res: Any) -> None:
    """§6: the outpatient caps, the shared funds' caps, and the personal share within its cap."""
    rule = policy.category(row["category"])
    op = rule.outpatient
    assert op is not None
    before, after = res.ytd_before, res.ytd_after
    assert res.critical == 0
    if res.basic > 0:
        if op.annual_cap is not None:
            assert after.op_basic <= op.annual_cap.yuan
        assert after.op_basic_for(row["disease"]) <= policy.disease(row["disease"]).annual_cap.yuan
    assert after.op_deductible_used <= max(op.deductible.yuan, before.op_deductible_used)
    if res.aid > 0:
        assert rule.aid is not None and op.aid_ratio is not None
        if rule.aid.annual_cap is not None:
            assert after.aid <= rule.aid.annual_cap.yuan
    sum_insured = None if rule.supplementary is None else rule.supplementary.sum_insured
    if res.supplementary > 0:
        assert op.personal_share_cap is not None
        if sum_insured is not None:
            assert after.supplementary <= sum_insured.yuan
    if op.personal_share_cap is not None and res.counted_total > 0:
        # The share stays within the cap (rounded to the fen) unless the sum insured ran out.
        allowed = oracle.rnd(Fraction(op.personal_share_cap.decimal) * Fraction(res.counted_total))
        ran_out = sum_insured is not None and after.supplementary >= sum_insured.yuan
        assert Fraction(res.personal) <= allowed or ran_out
    # Outpatient claims move none of the stays' sums.
    for name in ("basic", "critical_base", "critical", "aid_deductible_used", "personal"):
        assert getattr(after, name) == getattr(before, name)


@SETTINGS
@given(scenarios())
def test_batch_equals_reference_and_invariants(
    scenario: tuple[dict[str, Any], list[dict[str, str]], int],
) -> None:
    doc, rows, seed = scenario
    policy = loads_policy(json.dumps(doc), fmt="json")
    claims = [claim_from_row(r) for r in rows]

    ref = settle_claims(policy, claims)
    batch = settle_batch(policy, ClaimTable.from_claims(claims))
    all_vector = settle_batch(policy, ClaimTable.from_claims(claims), scalar_below=0)
    all_scalar = settle_batch(policy, ClaimTable.from_claims(claims), scalar_below=1 << 40)
    mixed = settle_batch(policy, ClaimTable.from_claims(claims), scalar_below=2)
    expected = oracle.settle(doc, rows)

    for i, res in enumerate(ref):
        assert batch.row(i) == res.amounts_fen, (rows[i], res.trace)
        # Every rank vectorised, and every claim through the scalar tail loop: the same.
        assert all_vector.row(i) == res.amounts_fen, (rows[i], res.trace)
        assert all_scalar.row(i) == res.amounts_fen, (rows[i], res.trace)
        assert mixed.row(i) == res.amounts_fen, (rows[i], res.trace)
        assert res.amounts_fen == tuple(int(expected[i][f] * 100) for f in oracle.FIELDS), rows[i]
        # §2.5: five parts add up, nothing negative.
        parts = (res.basic, res.critical, res.aid, res.supplementary, res.personal)
        assert sum(parts) == res.counted_total
        assert all(p >= 0 for p in (*parts, res.hospital_absorbed))
        assert res.counted_total + res.hospital_absorbed == claims[i].total_amount
    _check_caps(policy, rows, ref)

    # Order of input does not matter; settling again gives the same.
    shuffled = list(range(len(rows)))
    random.Random(seed).shuffle(shuffled)
    again = settle_batch(policy, ClaimTable.from_claims([claims[i] for i in shuffled]))
    for pos, i in enumerate(shuffled):
        assert again.row(pos) == batch.row(i)
    ref_shuffled = settle_claims(policy, [claims[i] for i in shuffled])
    for pos, i in enumerate(shuffled):
        assert ref_shuffled[pos].amounts_fen == ref[i].amounts_fen
    twice = settle_batch(policy, ClaimTable.from_claims(claims))
    assert all(np.array_equal(a, b) for a, b in zip(twice.columns(), batch.columns(), strict=True))
    _check_year_to_date_chain(doc, policy, claims, ref)


def _check_year_to_date_chain(
    doc: dict[str, Any], policy: Policy, claims: list[Any], results: list[Any]
) -> None:
    """Each claim's year-to-date before is the previous claim's after (same person and year)."""
    last: dict[tuple[str, int], Any] = {}
    for i in sorted(range(len(claims)), key=lambda k: (claims[k].discharge_on, claims[k].claim_id)):
        key = (claims[i].person_id, claims[i].year)
        before = results[i].ytd_before
        assert before == (last[key].ytd_after if key in last else type(before)())
        last[key] = results[i]
    # Critical-illness payments of a year add up to round(F(year's base)) for a single category
    # without a cap (settlement.md §2.2) when no stay of the year was settled elsewhere (§7).
    for (person, year), res in last.items():
        mine = [c for c in claims if c.person_id == person and c.year == year]
        cats = {c.category for c in mine}
        if len(cats) == 1 and not any(c.settled_elsewhere for c in mine):
            name = cats.pop()
            if policy.category(name).critical.annual_cap is None:
                tiers = doc["categories"][name]["critical"]["tiers"]
                f = oracle.tiers_f(tiers, Fraction(res.ytd_after.critical_base))
                assert Fraction(res.ytd_after.critical) == oracle.rnd(f)


def _without_shared_limits(doc: dict[str, Any]) -> dict[str, Any]:
    """The policy with unlimited shared funds: no aid annual cap, no sum insured."""
    out = copy.deepcopy(doc)
    for block in out["categories"].values():
        block.get("aid", {}).pop("annual_cap", None)
        block.get("supplementary", {}).pop("sum_insured", None)
    return out


def _amounts_by_id(doc: dict[str, Any], rows: list[dict[str, str]]) -> dict[str, tuple[int, ...]]:
    """Batch amounts per claim id, checked equal to the reference's on the way."""
    policy = loads_policy(json.dumps(doc), fmt="json")
    claims = [claim_from_row(r) for r in rows]
    batch = settle_batch(policy, ClaimTable.from_claims(claims))
    reference = settle_claims(policy, claims)
    out = {}
    for i, (row, res) in enumerate(zip(rows, reference, strict=True)):
        assert batch.row(i) == res.amounts_fen
        out[row["claim_id"]] = res.amounts_fen
    return out


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_outpatient_claims_and_stays_meet_only_in_the_shared_funds(
    scenario: tuple[dict[str, Any], list[dict[str, str]], int],
) -> None:
    """Settled together or apart, a stay's counted cost, write-off, basic and critical insurance
    are the same, and so are an outpatient claim's counted cost, write-off and basic insurance;
    with unlimited shared funds (no aid cap, no sum insured) every amount is the same."""
    doc, rows, _ = scenario
    stays = [r for r in rows if r.get("kind") != "outpatient"]
    visits = [r for r in rows if r.get("kind") == "outpatient"]
    for policy_doc, fields in ((doc, 4), (_without_shared_limits(doc), 7)):
        together = _amounts_by_id(policy_doc, rows)
        apart = {**_amounts_by_id(policy_doc, stays), **_amounts_by_id(policy_doc, visits)}
        for row in rows:
            cid = row["claim_id"]
            assert together[cid][:fields] == apart[cid][:fields], (row, together[cid], apart[cid])


def test_tiers_do_not_overflow_on_huge_cumulative_bases() -> None:
    """round(F(x)) stays exact for a year-to-date base far beyond int64 / 10^6."""
    doc = {
        "name": "big",
        "valid_from": "2020-01-01",
        "valid_to": "2020-12-31",
        "category_precedence": ["a"],
        "categories": {
            "a": {
                "basic": {
                    "deductible": {"1": "0", "2": "0", "3": "0"},
                    "ratio": {"1": "0", "2": "0", "3": "0"},
                },
                "critical": {"tiers": [["0", "1000", "0.333333"], ["1000", "", "0.999999"]]},
            }
        },
    }
    policy = loads_policy(json.dumps(doc), fmt="json")
    rules = _rules(policy, ("a",))
    x = np.array([10**16, 10**17 + 7, 3 * 10**17 + 12345], dtype=np.int64)
    cat = np.zeros(3, np.int64)
    got = _tiers_rounded(rules.tier_lo[cat].T, rules.tier_width[cat].T, rules.tier_rate[cat].T, x)
    for value, fen in zip(x.tolist(), got.tolist(), strict=True):
        exact = Fraction(333333 * 100_000, 10**6) + Fraction(999999 * (value - 100_000), 10**6)
        assert fen == (2 * exact.numerator + exact.denominator) // (2 * exact.denominator)


def test_one_person_with_thousands_of_claims_equals_reference_and_is_fast() -> None:
    """One person with 3,000 claims in a year (plus a few short groups): batch equals reference to
    the fen on every claim, and the long tail no longer costs one vectorised step per rank."""
    policy = load_preset("suixian-2020")
    rng = np.random.default_rng(7)
    categories = ("tekun", "dibao", "poor", "monitored", "ordinary")
    claims = []
    for i in range(3_200):
        person = "421321198001010117" if i < 3_000 else f"P{i % 40}"
        total = int(rng.integers(0, 5_000_000))
        oos = int(rng.integers(0, total + 1))
        claims.append(
            Claim(
                claim_id=f"C{i:05d}",
                person_id=person,
                category=categories[int(rng.integers(0, 5))] if i >= 3_000 else "poor",
                discharge_on=date(2020, 1, 1) + timedelta(days=int(rng.integers(0, 366))),
                level=int(rng.integers(1, 4)),
                in_county=bool(rng.integers(0, 2)),
                referred=bool(rng.integers(0, 2)),
                total_amount=Decimal(total) / 100,
                out_of_scope_amount=Decimal(oos) / 100,
            )
        )
    table = ClaimTable.from_claims(claims)
    started = time.perf_counter()
    batch = settle_batch(policy, table)
    elapsed = time.perf_counter() - started
    reference = settle_claims(policy, claims)
    assert [batch.row(i) for i in range(len(claims))] == [r.amounts_fen for r in reference]
    # The long group reaches its caps and the personal-cap top-ups, so the tail is not trivial.
    assert int(batch.supplementary[:3_000].sum()) > 0
    assert elapsed < 2.0, f"batch took {elapsed:.3f} s for one person with 3,000 claims"


def test_cumulative_base_beyond_the_plain_sum_stays_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """One person whose year-to-date critical base passes F_PLAIN_LIMIT: the vectorised steps switch
    from one rounded sum to the q·S + r split and still equal the reference."""
    doc = {
        "name": "big",
        "valid_from": "2020-01-01",
        "valid_to": "2020-12-31",
        "category_precedence": ["a"],
        "categories": {
            "a": {
                "basic": {
                    "deductible": {"1": "0", "2": "0", "3": "0"},
                    "ratio": {"1": "0.000001", "2": "0", "3": "0"},
                },
                "critical": {"tiers": [["0", "1000", "0.333333"], ["1000", "", "0.999999"]]},
            }
        },
    }
    policy = loads_policy(json.dumps(doc), fmt="json")
    claims = [
        Claim(f"H{i:04d}", "P", "a", date(2020, 1, 1) + timedelta(days=i % 366), 1, True, False,
              Decimal("99999999.99"), Decimal("0"))
        for i in range(1_000)
    ]  # fmt: skip
    assert sum(c.total_fen for c in claims) > F_PLAIN_LIMIT
    split_steps: list[int] = []

    def counted(*args: Any) -> Any:
        split_steps.append(1)
        return _tiers_rounded(*args)

    monkeypatch.setattr(batch_module, "_tiers_rounded", counted)
    batch = settle_batch(policy, ClaimTable.from_claims(claims), scalar_below=0)
    assert 0 < len(split_steps) < len(claims)  # the plain sum first, the split once it would overflow
    reference = settle_claims(policy, claims)
    assert [batch.row(i) for i in range(len(claims))] == [r.amounts_fen for r in reference]


def test_sparse_disease_slots_give_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many groups × diseases: the per-disease sums move from one dense array to sorted slots."""
    policy = load_preset("suixian-2020")
    rng = np.random.default_rng(3)
    names = policy.disease_names
    claims = []
    for i in range(600):
        outpatient = i % 2 == 0
        total = int(rng.integers(0, 600_000 if outpatient else 5_000_000))
        claims.append(
            Claim(
                claim_id=f"D{i:04d}",
                person_id=f"P{int(rng.integers(0, 40))}",
                category=("poor", "ordinary", "tekun")[i % 3],
                discharge_on=date(2020, 1, 1) + timedelta(days=int(rng.integers(0, 366))),
                level=int(rng.integers(1, 4)),
                in_county=bool(rng.integers(0, 2)),
                referred=bool(rng.integers(0, 2)),
                total_amount=Decimal(total) / 100,
                out_of_scope_amount=Decimal(int(rng.integers(0, total + 1)) // 5) / 100,
                kind="outpatient" if outpatient else "inpatient",
                disease=names[int(rng.integers(0, 3))] if outpatient else "",
            )
        )
    table = ClaimTable.from_claims(claims)
    dense = settle_batch(policy, table, scalar_below=0)
    monkeypatch.setattr(batch_module, "DENSE_PAIRS", 0)
    sparse = settle_batch(policy, table, scalar_below=0)
    reference = settle_claims(policy, claims)
    for i, res in enumerate(reference):
        assert dense.row(i) == sparse.row(i) == res.amounts_fen
