"""Policies per region (issue 21 item 3): the most specific region containing the person's county
with a version valid on the discharge date; two counties settle the same stay by their own policy,
to the fen against the engine's reference of each policy and the shipped worked example; the window
and the whole-year path agree; none is an invalid claim naming the county and the date; ``resettle``
under a county's policy touches that county only."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from jkfp import engine
from jkfp.regions.models import Institution, Region, RegionLevel, most_specific
from jkfp.registry.models import ChangeLog
from jkfp.settlement import bulk, selectors, services
from jkfp.settlement.compute import policy_in_force_of
from jkfp.settlement.models import Claim, ClaimStatus, Policy, Settlement
from jkfp.settlement.tests.factories import amounts, make_person, tag

EXAMPLES = Path(__file__).resolve().parents[2] / "engine" / "tests" / "examples"
SUIXIAN = "421321"
ZENGDU = "421303"


def preset_text(name: str, *, as_name: str, year: int = 2020) -> str:
    """A shipped preset re-named and re-dated to ``year`` (the engine's ``preset_text``, 2020 by default)."""
    return engine.preset_text(name, as_name=as_name, year=year)


def example_row(claim_id: str) -> tuple[str, ...]:
    """The expected amounts of a worked example (settlement.md §5) from the shipped example file."""
    with (EXAMPLES / "expected-suixian-2020.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["claim_id"] == claim_id:
                return tuple(row[k] for k in engine.OUTPUT_FIELDS)
    raise KeyError(claim_id)


def reference_row(text: str, **claim: Any) -> tuple[str, ...]:
    """The engine's Decimal reference for one claim under a policy text."""
    policy = engine.loads_policy(text, fmt="toml")
    (result,) = engine.settle_claims(policy, [engine.Claim(**claim)])
    return tuple(f"{getattr(result, f):.2f}" for f in engine.OUTPUT_FIELDS)


@dataclass
class TwoCounties:
    suixian: Region
    zengdu: Region
    persons: dict[str, Any]
    hospitals: dict[str, Institution]


@pytest.fixture
def two(county: dict[str, Any]) -> TwoCounties:
    """随县 (the ``county`` fixture) and 曾都区 beside it, a poor person and a level-2 county hospital
    in each; no policy (the presets a migration installs for the whole deployment are removed)."""
    Policy.objects.all().delete()
    zengdu = Region.objects.create(code=ZENGDU, name="曾都区", level=RegionLevel.COUNTY)
    town = Region.objects.create(
        code=f"{ZENGDU}001000", name="南郊街道", level=RegionLevel.TOWNSHIP, parent=zengdu
    )
    village = Region.objects.create(
        code=f"{ZENGDU}001001", name="两水村", level=RegionLevel.VILLAGE, parent=town
    )
    persons = {"sx": make_person(county["t1v1"], "随县甲", 41), "zd": make_person(village, "曾都乙", 42)}
    for p in persons.values():
        tag(p, "poor")
    hospitals = {
        "sx": county["hospital"],
        "zd": Institution.objects.create(code="H301", name="曾都区医院", level="2", region=zengdu),
    }
    return TwoCounties(county["county"], zengdu, persons, hospitals)


def install(text: str, region: Region | None) -> Any:
    return services.policy_upload(text=text, fmt="toml", region=region)


DAY = date(2020, 3, 1)
TOTAL, OOS = Decimal("20000.00"), Decimal("1000.00")  # worked example 1's stay: level 2, in county


def window(
    two: TwoCounties, key: str, claim_id: str, day: date = DAY, *, at: str | None = None
) -> Settlement:
    """The stay settled at the window (``claim_submit``, the one-discharge path) of the hospital of
    county ``at`` (default: the person's)."""
    settlement, _ = services.claim_submit(
        claim_id=claim_id,
        person=two.persons[key],
        institution=two.hospitals[at or key],
        admitted_on=day,
        discharged_on=day,
        total_amount=TOTAL,
        out_of_scope_amount=OOS,
    )
    return settlement


def pending(two: TwoCounties, key: str, claim_id: str, day: date = DAY) -> Claim:
    """The stay as an imported pending claim (settled by ``claims_settle_year``, the year path)."""
    return services.claim_create(
        claim_id=claim_id,
        person=two.persons[key],
        institution=two.hospitals[key],
        admitted_on=day,
        discharged_on=day,
        total_amount=TOTAL,
        out_of_scope_amount=OOS,
        referred=None,
        source="import",
    )


def reference(text: str, claim_id: str = "R", day: date = DAY) -> tuple[str, ...]:
    return reference_row(
        text,
        claim_id=claim_id,
        person_id="421321198001010117",
        category="poor",
        discharge_on=day,
        level=2,
        in_county=True,
        referred=False,
        total_amount=TOTAL,
        out_of_scope_amount=OOS,
    )


# --------------------------------------------------------------------------- the rule


@dataclass(frozen=True)
class V:
    pk: int
    scope: str
    valid_from: date = date(2020, 1, 1)
    valid_to: date = date(2020, 12, 31)
    uploaded_at: datetime = datetime(2020, 1, 1, tzinfo=UTC)


def pk_on(versions: list[V], day: date, *, code: str) -> int | None:
    found = policy_in_force_of(versions, day, code=code)
    return None if found is None else found.pk


def test_most_specific_region_wins_and_the_deployment_is_the_fallback() -> None:
    items = ["", "42", "4213", "421321", "421303"]
    assert most_specific(items, "421321001001", str) == ["421321"]
    assert most_specific(items, "421381001001", str) == ["4213"]
    assert most_specific(items, "430100001001", str) == [""]
    assert most_specific(["421321"], "421303001001", str) == []


def test_policy_in_force_county_over_city_over_province_over_deployment_valid_that_day() -> None:
    versions = [
        V(1, ""),
        V(2, "42"),
        V(3, "4213"),
        V(4, "421321", valid_from=date(2020, 7, 1)),
        V(5, "421321", valid_to=date(2020, 3, 31), uploaded_at=datetime(2019, 1, 1, tzinfo=UTC)),
    ]
    assert pk_on(versions, date(2020, 8, 1), code="421321001001") == 4
    assert pk_on(versions, date(2020, 2, 1), code="421321001001") == 5
    # The county has no version valid in May: the city's applies.
    assert pk_on(versions, date(2020, 5, 1), code="421321001001") == 3
    assert pk_on(versions, date(2020, 5, 1), code="420100001001") == 2
    assert pk_on(versions, date(2020, 5, 1), code="110100001001") == 1
    assert policy_in_force_of(versions, date(2021, 5, 1), code="421321001001") is None
    # Within one region the most recently uploaded version valid that day.
    later = V(6, "421321", uploaded_at=datetime(2020, 9, 1, tzinfo=UTC))
    assert pk_on([*versions, later], date(2020, 8, 1), code="421321001001") == 6


# --------------------------------------------------------------------------- two counties


@pytest.fixture
def texts() -> dict[str, str]:
    """随县 keeps its 2020 plan; 曾都区 runs the transition regime's rules in 2020."""
    return {
        "sx": preset_text("suixian-2020", as_name="suixian-2020"),
        "zd": preset_text("transition-2024", as_name="zengdu-2020"),
    }


def test_two_counties_settle_the_same_stay_each_by_its_own_policy_at_the_window(
    two: TwoCounties, texts: dict[str, str]
) -> None:
    sx = install(texts["sx"], two.suixian)
    zd = install(texts["zd"], two.zengdu)
    a = window(two, "sx", "W-SX")
    b = window(two, "zd", "W-ZD")
    assert (a.policy_id, b.policy_id) == (sx.pk, zd.pk)
    # 随县: worked example 1 of settlement.md §5 (the shipped example file), and the reference.
    assert amounts(a) == example_row("E1") == reference(texts["sx"])
    # 曾都区: the engine's Decimal reference of its own policy; not 随县's result.
    assert amounts(b) == reference(texts["zd"])
    assert amounts(b) != amounts(a)
    assert amounts(b)[2] == "13875.00"  # basic by hand: (19000 in scope − 500 deductible) × 0.75


def test_the_year_path_resolves_per_person_county_like_the_window(
    two: TwoCounties, texts: dict[str, str]
) -> None:
    install(texts["sx"], two.suixian)
    zd = install(texts["zd"], two.zengdu)
    pending(two, "sx", "Y-SX")
    pending(two, "zd", "Y-ZD")
    result = bulk.claims_settle_year(year=2020)
    assert (result.claims, result.invalid, result.problems) == (2, 0, [])
    got = {s.claim.claim_id: s for s in Settlement.objects.select_related("claim").filter(is_current=True)}
    assert amounts(got["Y-SX"]) == example_row("E1")
    assert amounts(got["Y-ZD"]) == reference(texts["zd"])
    assert got["Y-ZD"].policy_id == zd.pk


def test_a_county_policy_overrides_the_deployment_and_falls_back_outside_its_validity(
    two: TwoCounties, texts: dict[str, str]
) -> None:
    whole = install(texts["sx"], None)
    # 曾都区's own policy covers only the second half of 2020.
    half = texts["zd"].replace('valid_from = "2020-01-01"', 'valid_from = "2020-07-01"')
    zd = install(half, two.zengdu)
    assert window(two, "sx", "A1").policy_id == whole.pk
    assert window(two, "zd", "A2").policy_id == whole.pk  # March: the county's is not valid yet
    b = window(two, "zd", "A3", date(2020, 8, 1))
    assert b.policy_id == zd.pk
    assert selectors.policy_in_force(on=date(2020, 8, 1), code=f"{ZENGDU}001001").pk == zd.pk
    assert selectors.policy_in_force(on=date(2020, 8, 1), code=f"{SUIXIAN}001001").pk == whole.pk


def test_no_policy_for_the_county_is_an_invalid_claim_naming_county_and_date(
    two: TwoCounties, texts: dict[str, str]
) -> None:
    install(texts["sx"], two.suixian)  # nothing for 曾都区 and nothing deployment-wide
    message = selectors.ERR_NO_POLICY.format(county="曾都区（421303）", day="2020-03-01")
    with pytest.raises(ValidationError) as info:
        window(two, "zd", "N1")
    assert info.value.message_dict["discharged_on"] == [message]
    assert not Claim.objects.filter(claim_id="N1").exists()
    pending(two, "zd", "N2")
    pending(two, "sx", "N3")
    result = bulk.claims_settle_year(year=2020)
    assert [(p.claim_id, p.reason) for p in result.problems] == [("N2", message)]
    assert Claim.objects.get(claim_id="N2").status == ClaimStatus.PENDING
    assert Claim.objects.get(claim_id="N3").status == ClaimStatus.SETTLED


def test_resettle_under_a_county_policy_touches_that_county_only(
    two: TwoCounties, texts: dict[str, str]
) -> None:
    install(texts["sx"], None)
    install(texts["zd"], two.zengdu)
    window(two, "sx", "R-SX")
    window(two, "zd", "R-ZD")
    v2 = install(texts["zd"].replace('"2" = "0.75", "3" = "0.60"', '"2" = "0.70", "3" = "0.60"'), two.zengdu)
    assert v2.version == 2
    report = bulk.year_resettle(year=2020, policy_name="zengdu-2020")
    assert report.claims == 1
    current = {
        s.claim.claim_id: s for s in Settlement.objects.select_related("claim").filter(is_current=True)
    }
    assert current["R-ZD"].policy_id == v2.pk
    assert amounts(current["R-ZD"]) == reference(v2.source_text)
    assert amounts(current["R-SX"]) == example_row("E1")  # 随县 untouched


def test_versions_names_and_regions(two: TwoCounties, texts: dict[str, str], county: dict[str, Any]) -> None:
    v1 = install(texts["zd"], two.zengdu)
    window(two, "zd", "V1")  # v1 is now used: it never changes
    v2 = install(texts["zd"].replace("2020-12-31", "2020-11-30"), two.zengdu)
    assert (v1.version, v2.version) == (1, 2)
    assert Policy.objects.get(pk=v1.pk).sha256 == v1.sha256
    # A name belongs to one region.
    with pytest.raises(ValidationError) as info:
        install(texts["zd"].replace("2020-12-31", "2020-10-31"), two.suixian)
    assert "曾都区" in info.value.message_dict["region"][0]
    # A policy is for a county or above.
    with pytest.raises(ValidationError) as info:
        services.policy_region(county["t1"].code)
    assert "乡镇" in info.value.message_dict["region"][0]
    assert services.policy_region("421303000000") == two.zengdu  # a county given padded to 12 digits
    whole = install(texts["sx"], None)
    listed = [(p.name, p.version) for p in selectors.policies_of(code=f"{ZENGDU}001001")]
    assert listed == [("suixian-2020", whole.version), ("zengdu-2020", 2), ("zengdu-2020", 1)]
    assert [p.name for p in selectors.policies_of(code=SUIXIAN)] == ["suixian-2020"]


def test_province_city_county_each_override_the_one_above(two: TwoCounties, texts: dict[str, str]) -> None:
    hubei = Region.objects.create(code="420000", name="湖北省", level=RegionLevel.PROVINCE)
    suizhou = Region.objects.create(code="421300", name="随州市", level=RegionLevel.CITY, parent=hubei)
    wuhan = Region.objects.create(code="420100", name="武汉市", level=RegionLevel.CITY, parent=hubei)
    province = install(preset_text("suixian-2020", as_name="hubei-2020"), services.policy_region("42"))
    city = install(texts["zd"].replace("zengdu-2020", "suizhou-2020"), services.policy_region("4213"))
    county = install(texts["sx"], two.suixian)
    assert (province.scope, city.scope, county.scope) == ("42", "4213", "421321")
    assert (province.region, city.region) == (hubei, suizhou)
    on = date(2020, 3, 1)
    assert selectors.policy_in_force(on=on, code=f"{SUIXIAN}001001").pk == county.pk
    assert selectors.policy_in_force(on=on, code=f"{ZENGDU}001001").pk == city.pk  # no policy of its own
    assert selectors.policy_in_force(on=on, code="421381001001").pk == city.pk  # another county of 随州市
    assert selectors.policy_in_force(on=on, code=f"{wuhan.code[:4]}02001001").pk == province.pk
    # 曾都区 settles with its city's policy, to the fen of that policy's reference.
    b = window(two, "zd", "CITY-ZD")
    assert b.policy_id == city.pk
    assert amounts(b) == reference(city.source_text)
    # The province's policy outside its validity: none for a county of another city, naming it.
    with pytest.raises(ValidationError) as info:
        selectors.policy_in_force(on=date(2021, 3, 1), code="420102001001")
    assert info.value.messages == [selectors.ERR_NO_POLICY.format(county="420102", day="2021-03-01")]


def test_a_county_user_resettles_and_previews_their_county_only(
    two: TwoCounties, texts: dict[str, str], make_user: Any
) -> None:
    from jkfp.accounts.models import Role

    install(texts["sx"], None)
    window(two, "sx", "U-SX")
    window(two, "zd", "U-ZD")
    zengdu_admin = make_user(Role.COUNTY_ADMIN, ZENGDU)
    suixian_fund = make_user(Role.FUND, SUIXIAN)
    preview = bulk.year_resettle(year=2020, policy_name="suixian-2020", dry_run=True, user=suixian_fund)
    assert preview.claims == 1
    assert [t.name for t in preview.townships] == ["第1镇"]
    install(texts["sx"].replace('"0.90", "2" = "0.80"', '"0.90", "2" = "0.70"'), None)
    report = bulk.year_resettle(year=2020, policy_name="suixian-2020", user=zengdu_admin)
    assert report.claims == 1
    current = {
        s.claim.claim_id: s for s in Settlement.objects.select_related("claim").filter(is_current=True)
    }
    assert current["U-ZD"].policy.version == 2 and current["U-SX"].policy.version == 1


def _move_to_suixian(two: TwoCounties, county: dict[str, Any], at: date) -> None:
    """曾都乙 moves to a 随县 village on ``at`` (the roster import's change log row, dated)."""
    person = two.persons["zd"]
    old = person.village_id
    person.village = county["t1v2"]
    person.save(update_fields=["village"])
    change = ChangeLog.objects.create(
        person=person, field="village", old_value=old, new_value=person.village_id
    )
    moved = datetime(at.year, at.month, at.day, 9, 0, tzinfo=timezone.get_current_timezone())
    ChangeLog.objects.filter(pk=change.pk).update(at=moved)


def test_a_person_who_moved_after_the_stay_is_settled_by_the_county_of_the_discharge_date(
    two: TwoCounties, texts: dict[str, str], county: dict[str, Any]
) -> None:
    # Review M1: one county per claim — the policy's and the in-county rule's are both the county of
    # the village on the discharge date, not today's address; window and year path alike.
    install(texts["sx"], two.suixian)
    zd = install(texts["zd"], two.zengdu)
    _move_to_suixian(two, county, date(2020, 5, 1))  # after the stay of DAY (2020-03-01)
    at_window = window(two, "zd", "M-W")
    assert at_window.claim.in_county and at_window.policy_id == zd.pk
    assert amounts(at_window) == reference(texts["zd"]) != reference(texts["sx"])
    pending(two, "zd", "M-Y")
    result = bulk.claims_settle_year(year=2020)
    assert (result.settled, result.invalid, result.problems) == (1, 0, [])
    year = Settlement.objects.select_related("claim").get(is_current=True, claim__claim_id="M-Y")
    assert year.claim.in_county and year.policy_id == zd.pk
    # The second stay of the year: the first one's year-to-date, under 曾都区's policy, to the fen.
    policy = engine.loads_policy(texts["zd"], fmt="toml")
    stays = [engine.Claim(cid, "P", "poor", DAY, 2, True, False, TOTAL, OOS) for cid in ("M-W", "M-Y")]
    ref = engine.settle_claims(policy, stays)
    assert amounts(year) == tuple(f"{getattr(ref[1], f):.2f}" for f in engine.OUTPUT_FIELDS)
    # A stay after the move is 随县's.
    later = window(two, "zd", "M-L", date(2020, 6, 1))
    assert later.policy.scope == SUIXIAN


def test_a_city_resettle_keeps_a_county_whose_own_policy_is_of_another_year(
    two: TwoCounties, texts: dict[str, str]
) -> None:
    # Review M2: 随县 has an own policy for 2019 only; in 2020 the city's applies to both counties,
    # so a city-wide resettle of 2020 re-settles both (not 曾都区 alone).
    suizhou = Region.objects.create(code="421300", name="随州市", level=RegionLevel.CITY)
    city_text = texts["zd"].replace("zengdu-2020", "suizhou-2020")
    city = install(city_text, suizhou)
    install(preset_text("suixian-2020", as_name="suixian-2019", year=2019), two.suixian)
    a, b = window(two, "sx", "C-SX"), window(two, "zd", "C-ZD")
    assert a.policy_id == b.policy_id == city.pk
    v2 = install(city_text.replace('"2" = "0.75", "3" = "0.60"', '"2" = "0.70", "3" = "0.60"'), suizhou)
    assert v2.version == 2
    report = bulk.year_resettle(year=2020, policy_name="suizhou-2020")
    assert report.claims == 2
    current = {
        s.claim.claim_id: s for s in Settlement.objects.select_related("claim").filter(is_current=True)
    }
    assert current["C-SX"].policy_id == current["C-ZD"].policy_id == v2.pk
    assert amounts(current["C-SX"]) == amounts(current["C-ZD"]) == reference(v2.source_text)
    assert reference(v2.source_text) != reference(city_text)
    # 随县's own policy name governs none of 2020's claims.
    assert bulk.year_resettle(year=2020, policy_name="suixian-2019", dry_run=True).claims == 0


def test_a_county_resettle_takes_the_stays_of_its_residents_on_the_discharge_date(
    two: TwoCounties, texts: dict[str, str], county: dict[str, Any]
) -> None:
    # Issue 21 item 7: ``resettle --region`` reads the claims of the persons who lived in the county on
    # the discharge date — 曾都乙 moved to 随县 after a 2020 stay in 曾都区: 曾都区's re-settlement takes
    # that stay (to the fen of the new version), 随县's does not.
    install(texts["sx"], None)
    window(two, "zd", "MV-ZD")  # 2020-03-01, in 曾都区
    window(two, "sx", "MV-SX")
    _move_to_suixian(two, county, date(2020, 5, 1))
    v2 = install(texts["sx"].replace('"0.90", "2" = "0.80"', '"0.90", "2" = "0.70"'), None)
    suixian = bulk.year_resettle(year=2020, policy_name="suixian-2020", region=SUIXIAN, dry_run=True)
    assert suixian.claims == 1
    zengdu = bulk.year_resettle(year=2020, policy_name="suixian-2020", region=ZENGDU)
    assert zengdu.claims == 1
    current = {
        s.claim.claim_id: s for s in Settlement.objects.select_related("claim").filter(is_current=True)
    }
    assert current["MV-ZD"].policy_id == v2.pk
    assert amounts(current["MV-ZD"]) == reference(v2.source_text) != reference(texts["sx"])
    assert current["MV-SX"].policy.version == 1  # 随县's stay untouched
    # 随县 now: its own resident's stay only, not the newcomer's stay of March.
    report = bulk.year_resettle(year=2020, policy_name="suixian-2020", region=SUIXIAN)
    assert report.claims == 1
    assert Settlement.objects.get(is_current=True, claim__claim_id="MV-SX").policy_id == v2.pk
    # A stay after the move is 随县's: both re-settlements see it on its discharge date.
    later = window(two, "zd", "MV-LATER", date(2020, 6, 1))
    assert later.policy_id == v2.pk
    assert bulk.year_resettle(year=2020, policy_name="suixian-2020", region=SUIXIAN, dry_run=True).claims == 2
    assert bulk.year_resettle(year=2020, policy_name="suixian-2020", region=ZENGDU, dry_run=True).claims == 1


def _in_order(*settled: tuple[str, Settlement]) -> list[tuple[str, ...]]:
    """The reference engine over the stays in order, each with the given policy text: one
    year-to-date across both counties' policies (``engine.settle_in_order``)."""
    items = []
    for text, s in settled:
        c = Claim.objects.get(pk=s.claim_id)
        items.append(
            (
                engine.loads_policy(text, fmt="toml"),
                engine.Claim(
                    c.claim_id,
                    "P",
                    "poor",
                    c.discharged_on,
                    c.level,
                    c.in_county,
                    c.referred,
                    c.total_amount,
                    c.out_of_scope_amount,
                ),
            )
        )
    return [
        tuple(f"{getattr(r, f):.2f}" for f in engine.OUTPUT_FIELDS) for r in engine.settle_in_order(items)
    ]


def test_a_mover_is_resettled_with_the_other_countys_stays_of_the_year_to_the_fen(
    two: TwoCounties, texts: dict[str, str], county: dict[str, Any]
) -> None:
    # 曾都乙: a stay in 曾都区 in March, a move to 随县 on 2020-05-01, a stay in 随县 in June. One
    # year-to-date across both: the window settles the June stay after the March one, and so must
    # 随县's re-settlement (it read the June stay alone and settled it from a zero year-to-date); and
    # 曾都区's re-settlement of March reaches the June stay, settled again in order under its own policy.
    install(texts["sx"], two.suixian)
    install(texts["zd"], two.zengdu)
    march = window(two, "zd", "MOVE-ZD")
    _move_to_suixian(two, county, date(2020, 5, 1))
    june = window(two, "zd", "MOVE-SX", date(2020, 6, 1), at="sx")
    assert june.policy.scope == SUIXIAN and june.claim.in_county
    assert amounts(june) == _in_order((texts["zd"], march), (texts["sx"], june))[1]

    sx2_text = texts["sx"].replace('"0.90", "2" = "0.80"', '"0.90", "2" = "0.70"')
    sx2 = install(sx2_text, two.suixian)
    expected = _in_order((texts["zd"], march), (sx2_text, june))[1]
    assert expected != reference(sx2_text, "MOVE-SX", date(2020, 6, 1))  # the year-to-date matters here
    preview = bulk.year_resettle(year=2020, policy_name="suixian-2020", region=SUIXIAN, dry_run=True)
    assert (preview.claims, preview.changed, preview.reordered) == (1, 1, 0)
    report = bulk.year_resettle(year=2020, policy_name="suixian-2020", region=SUIXIAN)
    assert (report.claims, report.changed, report.reordered) == (1, 1, 0)
    now = Settlement.objects.get(is_current=True, claim__claim_id="MOVE-SX")
    assert now.policy_id == sx2.pk and amounts(now) == expected
    # 曾都区's stay untouched.
    assert Settlement.objects.get(is_current=True, claim__claim_id="MOVE-ZD").pk == march.pk
    # The whole deployment's re-settlement of that policy (no region) says the same.
    again = bulk.year_resettle(year=2020, policy_name="suixian-2020")
    assert (again.claims, again.changed) == (1, 0)

    # 曾都区 changes its policy: March is re-settled, and June after it (its own policy, ``reorder``).
    zd2_text = texts["zd"].replace('"2" = "0.75", "3" = "0.60"', '"2" = "0.70", "3" = "0.60"')
    zd2 = install(zd2_text, two.zengdu)
    report = bulk.year_resettle(year=2020, policy_name="zengdu-2020", region=ZENGDU)
    assert (report.claims, report.changed, report.reordered) == (1, 1, 1)
    assert report.as_dict()["reordered"] == 1 and report.persons == 1
    current = {
        s.claim.claim_id: s for s in Settlement.objects.select_related("claim").filter(is_current=True)
    }
    want = _in_order((zd2_text, current["MOVE-ZD"]), (sx2_text, current["MOVE-SX"]))
    assert current["MOVE-ZD"].policy_id == zd2.pk and amounts(current["MOVE-ZD"]) == want[0]
    assert current["MOVE-SX"].policy_id == sx2.pk and current["MOVE-SX"].reason == "reorder"
    assert amounts(current["MOVE-SX"]) == want[1] != expected
    # The person's year-to-date (the ledger) follows: a third stay at the window continues from June.
    july = window(two, "zd", "MOVE-SX2", date(2020, 7, 1), at="sx")
    chain = _in_order((zd2_text, current["MOVE-ZD"]), (sx2_text, current["MOVE-SX"]), (sx2_text, july))
    assert amounts(july) == chain[2]
