"""县域内推定 In county, derived per person (issue 21 item 2): a county A hospital is in county for A's
residents and out of county for neighbouring county B's, whatever the institution's 县域内 flag says,
and each stay settles to the fen as the reference settles it with that flag."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from jkfp import engine
from jkfp.regions.models import Institution
from jkfp.registry.models import ChangeLog
from jkfp.settlement.imports import claims_import
from jkfp.settlement.incounty import claims_in_county, in_county, institution_county
from jkfp.settlement.models import Claim, Settlement
from jkfp.settlement.tests.factories import SettleWorld, build_world, make_person, submit, tag

pytestmark = pytest.mark.django_db

AMOUNTS = ("counted_total", "hospital_absorbed", "basic", "critical", "aid", "supplementary", "personal")


@pytest.fixture
def world(two_counties: dict[str, Any], make_user: Any) -> SettleWorld:
    """随县 (A) and 曾都区 (B): poor1 of A, neighbour (poor) of B; H001 in A, H101 in B — H101's
    import said 县域内 否 (a flag the derivation overrides since its county is known)."""
    w = build_world(two_counties, make_user)
    Institution.objects.filter(code="H101").update(in_county=False)
    w.institutions["b_hospital"] = Institution.objects.get(code="H101")
    w.persons["neighbour"] = make_person(two_counties["b_t1v1"], "赵六", 44)
    tag(w.persons["neighbour"], "poor")
    return w


def _reference(claims: list[tuple[str, Any, date, bool, int, str, str]]) -> dict[str, tuple[Decimal, ...]]:
    policy = engine.load_preset("suixian-2020")
    rows = [
        engine.Claim(
            claim_id=cid,
            person_id=person.id_number,
            category="poor",
            discharge_on=on,
            level=level,
            in_county=flag,
            referred=False,
            total_amount=Decimal(total),
            out_of_scope_amount=Decimal(oos),
        )
        for cid, person, on, flag, level, total, oos in claims
    ]
    return {s.claim_id: s.amounts for s in engine.settle_claims(policy, rows)}


def _live() -> dict[str, tuple[Decimal, ...]]:
    return {
        s.claim.claim_id: tuple(getattr(s, f) for f in AMOUNTS)
        for s in Settlement.objects.filter(is_current=True).select_related("claim")
    }


def test_the_rule_reads_the_institution_county_and_falls_back_to_the_flag(world: SettleWorld) -> None:
    h001, h101, h900 = (world.institutions[k] for k in ("county2", "b_hospital", "out3"))
    assert (institution_county(h001), institution_county(h101), institution_county(h900)) == (
        "421321",
        "421303",
        None,
    )
    a_village, b_village = world.persons["poor1"].village_id, world.persons["neighbour"].village_id
    assert in_county(h001, a_village) and not in_county(h001, b_village)
    assert in_county(h101, b_village) and not in_county(h101, a_village)  # the flag 否 does not matter
    assert not in_county(h900, a_village)  # no county known: the flag
    city = Institution.objects.create(
        code="H4213", name="随州市中心医院", level="3", in_county=False, outside_region_code="421300"
    )
    assert institution_county(city) is None and not in_county(city, a_village)
    outside = Institution.objects.create(
        code="H4213X", name="县外", level="2", in_county=False, outside_region_code="421303002000"
    )
    assert institution_county(outside) == "421303" and in_county(outside, b_village)


def test_a_hospital_is_in_county_for_its_residents_only_settled_to_the_fen(world: SettleWorld) -> None:
    """The same kind of stay at 随县人民医院 (H001): in county for 张三 of 随县, out of county (not
    referred) for 赵六 of 曾都区; at 曾都区医院 (H101) the other way round."""
    d = date(2020, 6, 10)
    stays = [
        ("A-H001", "poor1", "county2", True),
        ("B-H001", "neighbour", "county2", False),
        ("B-H101", "neighbour", "b_hospital", True),
        ("A-H101", "poor2", "b_hospital", False),
    ]
    for i, (cid, person, inst, _) in enumerate(stays):
        submit(world, cid, person, inst, d + timedelta(days=i), "20000.00", "1000.00")
    stored = {c.claim_id: c.in_county for c in Claim.objects.all()}
    assert stored == {cid: flag for cid, _, _, flag in stays}
    expected = _reference(
        [
            (cid, world.persons[p], d + timedelta(days=i), flag, 2, "20000.00", "1000.00")
            for i, (cid, p, _, flag) in enumerate(stays)
        ]
    )
    live = _live()
    assert live == expected
    # In county pays more than out of county unreferred for the same bill (the rule matters).
    assert live["A-H001"][6] < live["B-H001"][6], (live["A-H001"], live["B-H001"])


def test_the_county_is_the_one_the_person_lived_in_on_the_discharge_date(world: SettleWorld) -> None:
    """赵六 moved from 曾都区 to 随县 after the stay: the stay at H001 stays out of county; a later
    stay is in county. The claim keeps its flag as a snapshot."""
    neighbour = world.persons["neighbour"]
    old_village = neighbour.village_id
    neighbour.village = world.county["t2v1"]
    neighbour.save(update_fields=["village"])
    change = ChangeLog.objects.create(
        person=neighbour, field="village", old_value=old_village, new_value=neighbour.village_id
    )
    moved = datetime(2020, 7, 1, 9, 0, tzinfo=timezone.get_current_timezone())
    ChangeLog.objects.filter(pk=change.pk).update(at=moved)  # the roster import that moved him
    before, after = date(2020, 6, 30), date(2020, 7, 1)  # discharged the day before, the day of
    submit(world, "OLD", "neighbour", "county2", before, "8000.00", "400.00")
    submit(world, "NEW", "neighbour", "county2", after, "8000.00", "400.00")
    assert dict(Claim.objects.values_list("claim_id", "in_county")) == {"OLD": False, "NEW": True}
    bulk = claims_in_county(
        [
            (world.institutions["county2"], neighbour.pk, before),
            (world.institutions["county2"], neighbour.pk, after),
        ]
    )
    assert bulk == [False, True]


def test_the_claims_import_derives_the_flag_per_person(world: SettleWorld, tmp_path: Path) -> None:
    from jkfp.settlement import bulk

    a, b = world.persons["poor1"], world.persons["neighbour"]
    f = tmp_path / "claims.csv"
    f.write_text(
        "claim_id,person_id,institution_code,admit_date,discharge_date,referred,total,out_of_scope\n"
        f"I1,{a.id_number},H001,2020-03-01,2020-03-09,,30000.00,2000.00\n"
        f"I2,{b.id_number},H001,2020-03-01,2020-03-10,,30000.00,2000.00\n"
        f"I3,{b.id_number},H101,2020-04-01,2020-04-10,,30000.00,2000.00\n",
        encoding="utf-8",
    )
    loaded = claims_import(path=f, errors_dir=tmp_path)
    assert (loaded.valid, loaded.invalid) == (3, 0)
    assert dict(Claim.objects.values_list("claim_id", "in_county")) == {"I1": True, "I2": False, "I3": True}
    result = bulk.claims_settle_year(year=2020)
    assert (result.settled, result.invalid) == (3, 0)
    expected = _reference(
        [
            ("I1", a, date(2020, 3, 9), True, 2, "30000.00", "2000.00"),
            ("I2", b, date(2020, 3, 10), False, 2, "30000.00", "2000.00"),
            ("I3", b, date(2020, 4, 10), True, 2, "30000.00", "2000.00"),
        ]
    )
    assert _live() == expected


def test_two_counties_two_policies_in_county_derived_per_person(
    two_counties: dict[str, Any], make_user: Any
) -> None:
    """Issue 21 'done when': 随县 (its 2020 plan) and 曾都区 (the transition rules, re-dated to 2020)
    settle the same kind of stay differently — each person by their own county's policy, in county
    at their own county's hospital and out of county (not referred) at the neighbour's — every
    settlement equal to the reference of that policy, to the fen."""
    from jkfp.settlement.models import Policy
    from jkfp.settlement.services import claim_submit, policy_upload
    from jkfp.settlement.tests.test_region_policies import preset_text

    Policy.objects.all().delete()
    texts = {
        "421321": preset_text("suixian-2020", as_name="suixian-2020"),
        "421303": preset_text("transition-2024", as_name="zengdu-2020"),
    }
    for code, text in texts.items():
        policy_upload(text=text, fmt="toml", region=two_counties["county" if code == "421321" else "b"])
    persons = {
        "421321": make_person(two_counties["t1v1"], "随县甲", 51),
        "421303": make_person(two_counties["b_t1v1"], "曾都乙", 52),
    }
    for p in persons.values():
        tag(p, "poor")
    hospitals = {"421321": two_counties["hospital"], "421303": Institution.objects.get(code="H101")}
    stays: dict[str, list[tuple[str, date, bool]]] = {}
    for county, person in persons.items():
        for i, (where, inst) in enumerate(hospitals.items()):
            claim_id, day = f"{county}@{where}", date(2020, 4, 1 + 10 * i)
            claim_submit(
                claim_id=claim_id,
                person=person,
                institution=inst,
                admitted_on=day,
                discharged_on=day,
                total_amount=Decimal("20000.00"),
                out_of_scope_amount=Decimal("1000.00"),
                referred=False,
            )
            stays.setdefault(county, []).append((claim_id, day, where == county))
    assert dict(Claim.objects.values_list("claim_id", "in_county")) == {
        cid: flag for rows in stays.values() for cid, _, flag in rows
    }

    def reference(flip: bool) -> dict[str, tuple[Decimal, ...]]:
        """The reference of each person's own policy; ``flip``: with every in-county flag inverted."""
        out: dict[str, tuple[Decimal, ...]] = {}
        for county, rows in stays.items():
            policy = engine.loads_policy(texts[county], fmt="toml")
            claims = [
                engine.Claim(
                    claim_id=cid,
                    person_id=persons[county].id_number,
                    category="poor",
                    discharge_on=day,
                    level=2,
                    in_county=flag != flip,
                    referred=False,
                    total_amount=Decimal("20000.00"),
                    out_of_scope_amount=Decimal("1000.00"),
                )
                for cid, day, flag in rows
            ]
            out.update({s.claim_id: s.amounts for s in engine.settle_claims(policy, claims)})
        return out

    live = _live()
    assert live == reference(flip=False)
    # The test would see a policy mix-up (the same in-county stay settles differently under the two
    # policies) and a wrong flag (each person's claims settle differently with the flags inverted).
    assert live["421321@421321"] != live["421303@421303"]
    flipped = reference(flip=True)
    for county, rows in stays.items():
        assert [live[cid] for cid, _, _ in rows] != [flipped[cid] for cid, _, _ in rows], county
