"""Policy loading and validation (settlement.md §3): presets, defaults, every refusal names its key."""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from jkfp.engine import (
    Amount,
    PolicyError,
    Rate,
    load_policy,
    load_preset,
    loads_policy,
    parse_policy,
    preset_names,
    preset_text,
)
from jkfp.engine.tests.helpers import REQUIRED_DISEASES

PRESETS = Path(__file__).parent.parent / "presets"


def preset_doc(name: str = "suixian-2020") -> dict[str, Any]:
    doc: dict[str, Any] = tomllib.loads((PRESETS / f"{name}.toml").read_text(encoding="utf-8"))
    return doc


def test_presets_ship_and_load() -> None:
    assert preset_names() == ("suixian-2020", "transition-2024")
    suixian = load_preset("suixian-2020")
    assert suixian.valid_from == date(2020, 1, 1)
    assert suixian.category_precedence == ("tekun", "dibao", "poor", "monitored", "ordinary")
    poor = suixian.category("poor")
    assert poor.basic.ratio == (Rate(900_000), Rate(800_000), Rate(700_000))
    assert poor.basic.deductible[2] == Amount(100_000)
    assert poor.basic.deductible[2].yuan == Decimal("1000.00")
    assert poor.critical.tiers[2].hi is None
    assert poor.supplementary is not None and poor.supplementary.annual_personal_cap == Amount(500_000)
    assert suixian.out_of_scope.cap_ratio == (Rate(25_000), Rate(100_000), None)
    assert suixian.unreferred_ratio_cut.decimal == Decimal("0.2")
    transition = load_preset("transition-2024")
    assert transition.out_of_scope.cap_ratio == (None, None, None)
    assert transition.category("ordinary").aid is None
    assert transition.category("ordinary").critical.annual_cap == Amount(40_000_000)


def test_a_preset_is_renamed_and_re_dated_in_one_place() -> None:
    shipped = (PRESETS / "transition-2024.toml").read_text(encoding="utf-8")
    assert preset_text("transition-2024") == shipped
    old_ratio = 'ratio = { "1" = "0.90", "2" = "0.80", "3" = "0.70" }'
    new_ratio = 'ratio = { "1" = "0.88", "2" = "0.78", "3" = "0.68" }'
    text = preset_text(
        "transition-2024", as_name="t-2031", year=2031, title="试算", lines={old_ratio: new_ratio}
    )
    policy = loads_policy(text, fmt="toml", source="test")
    assert (policy.name, policy.title) == ("t-2031", "试算")
    assert (policy.valid_from, policy.valid_to) == (date(2031, 1, 1), date(2031, 12, 31))
    assert text.count(new_ratio) == 1 and old_ratio not in text
    # Only the named lines change: the rest of the policy is the shipped one.
    changed = {"name", "title", "valid_from", "valid_to"}
    kept = [line for line in shipped.splitlines() if line.split("=", 1)[0].strip() not in changed]
    assert [line for line in text.splitlines() if line.split("=", 1)[0].strip() not in changed] == [
        new_ratio if line == old_ratio else line for line in kept
    ]
    assert preset_text("suixian-2020", year=2019).count('valid_from = "2019-01-01"') == 1


@pytest.mark.parametrize("name", ["suixian-2020", "transition-2024"])
def test_presets_settle_outpatient_claims(name: str) -> None:
    """Issue 19: every category of each preset has an outpatient block, and the disease table lists
    at least the nine diseases; assumed values are marked in the title."""
    policy = load_preset(name)
    assert set(REQUIRED_DISEASES) <= set(policy.disease_names)
    assert all(rule.outpatient is not None for rule in policy.categories)
    assert "假设值" in policy.title or "示意值" in policy.title


def test_suixian_outpatient_blocks_are_those_of_settlement_md_section_8() -> None:
    policy = load_preset("suixian-2020")
    assert policy.disease("高血压").annual_cap == Amount(300_000)
    assert policy.disease("2型糖尿病").annual_cap == Amount(300_000)
    assert policy.disease("终末期肾病").annual_cap == Amount(6_000_000)
    poor = policy.category("poor").outpatient
    assert poor is not None
    assert poor.deductible == Amount(0)
    assert poor.ratio == (Rate(800_000), Rate(750_000), Rate(700_000))
    assert poor.annual_cap == Amount(6_000_000)
    assert (poor.aid_ratio, poor.personal_share_cap) == (Rate(500_000), Rate(100_000))  # 10 %: reference 004
    ordinary = policy.category("ordinary").outpatient
    assert ordinary is not None
    assert ordinary.deductible == Amount(30_000)
    assert ordinary.ratio == (Rate(650_000), Rate(600_000), Rate(550_000))
    assert ordinary.annual_cap == Amount(2_000_000)
    assert (ordinary.aid_ratio, ordinary.personal_share_cap) == (None, None)
    for category in ("tekun", "dibao"):
        block = policy.category(category).outpatient
        assert block is not None and block.personal_share_cap == Rate(100_000)


def test_outpatient_defaults() -> None:
    doc = preset_doc()
    doc["categories"]["poor"]["outpatient"] = {"ratio": {"1": "0.8", "2": "0.8", "3": "0.8"}}
    rule = parse_policy(doc).category("poor").outpatient
    assert rule is not None
    assert rule.deductible == Amount(0)
    assert (rule.annual_cap, rule.aid_ratio, rule.personal_share_cap) == (None, None, None)
    # A policy without outpatient blocks needs no disease table.
    del doc["outpatient_diseases"]
    for block in doc["categories"].values():
        block.pop("outpatient", None)
    policy = parse_policy(doc)
    assert policy.outpatient_diseases == ()
    assert all(rule.outpatient is None for rule in policy.categories)


def test_json_and_toml_give_the_same_policy(tmp_path: Path) -> None:
    for name in preset_names():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(preset_doc(name), ensure_ascii=False), encoding="utf-8")
        assert load_policy(path) == load_preset(name)
        assert load_policy(PRESETS / f"{name}.toml") == load_preset(name)


def test_defaults_of_section_3() -> None:
    doc = {
        "name": "minimal",
        "valid_from": "2020-01-01",
        "valid_to": "2020-12-31",
        "category_precedence": ["a"],
        "categories": {
            "a": {
                "basic": {
                    "deductible": {"1": "0", "2": "0", "3": "0"},
                    "ratio": {"1": "1", "2": "1", "3": "1"},
                },
                "critical": {"tiers": [["0", "", "0"]]},
                "aid": {"ratio": "0.5"},
                "supplementary": {},
            }
        },
    }
    policy = parse_policy(doc)
    rule = policy.category("a")
    assert policy.title == "minimal"
    assert policy.unreferred_ratio_cut == Rate(0)
    assert policy.out_of_scope.mode == "simple"
    assert policy.out_of_scope.cap_ratio == (None, None, None)
    assert rule.basic.annual_cap is None
    assert rule.critical.annual_cap is None
    assert rule.aid is not None and rule.aid.deductible == Amount(0) and rule.aid.annual_cap is None
    supp = rule.supplementary
    assert supp is not None
    assert supp.applies_to == "in_county_or_referred"
    assert supp.covers_out_of_scope is True
    assert (supp.min_ratio, supp.annual_personal_cap, supp.sum_insured) == (None, None, None)


def test_rates_exact_to_six_decimals() -> None:
    doc = preset_doc()
    doc["categories"]["poor"]["aid"]["ratio"] = "0.123456"
    doc["categories"]["poor"]["basic"]["ratio"]["1"] = "1.000000"
    doc["categories"]["poor"]["basic"]["ratio"]["2"] = "0"
    policy = parse_policy(doc)
    aid = policy.category("poor").aid
    assert aid is not None and aid.ratio == Rate(123_456)
    assert aid.ratio.decimal == Decimal("0.123456")
    assert aid.ratio.percent() == "12.3456%"
    assert policy.category("poor").basic.ratio[:2] == (Rate(1_000_000), Rate(0))


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def apply(doc: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return apply


def _delete(path: str) -> Mutation:
    def apply(doc: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = doc
        for key in parents:
            node = node[key]
        del node[last]

    return apply


REFUSALS: list[tuple[str, Mutation, str, str]] = [
    ("unknown top-level key", _set("currency", "CNY"), "currency", "unknown key"),
    ("unknown category key", _set("categories/poor/extra", {}), "categories.poor.extra", "unknown key"),
    ("unknown basic key", _set("categories/poor/basic/cap", "1"), "categories.poor.basic.cap", "unknown key"),
    (
        "unknown supplementary key",
        _set("categories/poor/supplementary/floor", "0.9"),
        "categories.poor.supplementary.floor",
        "unknown key",
    ),
    ("unknown out_of_scope key", _set("out_of_scope/limit", "1"), "out_of_scope.limit", "unknown key"),
    ("level 4", _set("categories/poor/basic/ratio/4", "0.5"), "categories.poor.basic.ratio.4", "unknown key"),
    (
        "rate above 1",
        _set("categories/poor/basic/ratio/2", "1.5"),
        "categories.poor.basic.ratio.2",
        "within 0..1",
    ),
    ("negative rate", _set("categories/poor/aid/ratio", "-0.1"), "categories.poor.aid.ratio", "within 0..1"),
    (
        "rate decimals",
        _set("unreferred_ratio_cut", "0.1234567"),
        "unreferred_ratio_cut",
        "at most 6 decimals",
    ),
    (
        "rate as float",
        _set("categories/poor/aid/ratio", 0.7),
        "categories.poor.aid.ratio",
        "must be a string",
    ),
    (
        "rate malformed",
        _set("out_of_scope/cap_ratio/1", "2.5%"),
        "out_of_scope.cap_ratio.1",
        "not a valid rate",
    ),
    (
        "negative amount",
        _set("categories/poor/basic/deductible/1", "-200"),
        "categories.poor.basic.deductible.1",
        "must not be negative",
    ),
    (
        "amount as int",
        _set("categories/poor/basic/annual_cap", 150000),
        "categories.poor.basic.annual_cap",
        "string",
    ),
    (
        "amount decimals",
        _set("categories/poor/aid/annual_cap", "1.005"),
        "categories.poor.aid.annual_cap",
        "2 decimals",
    ),
    (
        "amount malformed",
        _set("categories/poor/aid/deductible", "1,000"),
        "categories.poor.aid.deductible",
        "not a valid",
    ),
    (
        "amount exponent",
        _set("categories/poor/aid/deductible", "1e3"),
        "categories.poor.aid.deductible",
        "not a valid",
    ),
    (
        "amount space",
        _set("categories/poor/aid/deductible", " 100"),
        "categories.poor.aid.deductible",
        "not a valid",
    ),
    (
        "missing level",
        _delete("categories/poor/basic/deductible/3"),
        "categories.poor.basic.deductible.3",
        "missing the value for hospital level 3",
    ),
    ("missing ratio", _delete("categories/poor/basic/ratio"), "categories.poor.basic.ratio", "required key"),
    (
        "overlapping tiers",
        _set("categories/poor/critical/tiers", [["5000", "30000", "0.65"], ["20000", "", "0.7"]]),
        "categories.poor.critical.tiers[2].lo",
        "overlap",
    ),
    (
        "unordered tiers",
        _set("categories/poor/critical/tiers", [["30000", "100000", "0.7"], ["5000", "30000", "0.65"]]),
        "categories.poor.critical.tiers[2].lo",
        "out of order",
    ),
    (
        "empty hi not last",
        _set("categories/poor/critical/tiers", [["5000", "", "0.65"], ["30000", "", "0.7"]]),
        "categories.poor.critical.tiers[1].hi",
        "only the last tier",
    ),
    (
        "hi not above lo",
        _set("categories/poor/critical/tiers", [["5000", "5000", "0.65"]]),
        "categories.poor.critical.tiers[1].hi",
        "greater than its lo",
    ),
    (
        "empty lo",
        _set("categories/poor/critical/tiers", [["", "5000", "0.65"]]),
        "categories.poor.critical.tiers[1].lo",
        "must not be empty",
    ),
    (
        "no tiers",
        _set("categories/poor/critical/tiers", []),
        "categories.poor.critical.tiers",
        "at least one tier",
    ),
    (
        "tier of two",
        _set("categories/poor/critical/tiers", [["5000", "0.65"]]),
        "categories.poor.critical.tiers[1]",
        "[lo, hi, rate]",
    ),
    (
        "precedence without category",
        _set("category_precedence", ["tekun", "dibao", "poor", "monitored", "ordinary", "orphan"]),
        "categories.orphan.basic",
        "category_precedence but has no basic",
    ),
    ("category without basic", _delete("categories/poor/basic"), "categories.poor.basic", "required key"),
    (
        "category without critical",
        _delete("categories/poor/critical"),
        "categories.poor.critical",
        "required key",
    ),
    (
        "duplicate in precedence",
        _set("category_precedence", ["poor", "poor"]),
        "category_precedence[2]",
        "listed twice",
    ),
    ("valid_to before valid_from", _set("valid_to", "2019-12-31"), "valid_to", "before valid_from"),
    ("impossible date", _set("valid_from", "2020-02-30"), "valid_from", "no such date"),
    ("missing name", _delete("name"), "name", "required key"),
    ("unknown mode", _set("out_of_scope/mode", "strict"), "out_of_scope.mode", "must be one of"),
    (
        "unknown applies_to",
        _set("categories/poor/supplementary/applies_to", "everywhere"),
        "categories.poor.supplementary.applies_to",
        "must be one of",
    ),
    (
        "covers as text",
        _set("categories/poor/supplementary/covers_out_of_scope", "yes"),
        "categories.poor.supplementary.covers_out_of_scope",
        "true or false",
    ),
    (
        "consistent with rate 1",
        lambda d: d["out_of_scope"].update(mode="consistent", cap_ratio={"1": "1"}),
        "out_of_scope.cap_ratio.1",
        "below 1",
    ),
    ("categories not a table", _set("categories", []), "categories", "table"),
    # settlement.md §6: the outpatient block and the outpatient_diseases table.
    (
        "unknown outpatient key",
        _set("categories/poor/outpatient/copay", "0.1"),
        "categories.poor.outpatient.copay",
        "unknown key",
    ),
    (
        "outpatient not a table",
        _set("categories/poor/outpatient", "0.8"),
        "categories.poor.outpatient",
        "table",
    ),
    (
        "outpatient rate above 1",
        _set("categories/poor/outpatient/ratio/2", "1.75"),
        "categories.poor.outpatient.ratio.2",
        "within 0..1",
    ),
    (
        "outpatient without ratio",
        _delete("categories/poor/outpatient/ratio"),
        "categories.poor.outpatient.ratio",
        "required key",
    ),
    (
        "outpatient ratio without a level",
        _delete("categories/ordinary/outpatient/ratio/3"),
        "categories.ordinary.outpatient.ratio.3",
        "missing the value for hospital level 3",
    ),
    (
        "personal share cap above 1",
        _set("categories/poor/outpatient/personal_share_cap", "1.1"),
        "categories.poor.outpatient.personal_share_cap",
        "within 0..1",
    ),
    (
        "outpatient aid ratio as float",
        _set("categories/poor/outpatient/aid_ratio", 0.5),
        "categories.poor.outpatient.aid_ratio",
        "must be a string",
    ),
    (
        "outpatient deductible negative",
        _set("categories/ordinary/outpatient/deductible", "-300"),
        "categories.ordinary.outpatient.deductible",
        "must not be negative",
    ),
    (
        "outpatient annual cap malformed",
        _set("categories/poor/outpatient/annual_cap", "6万"),
        "categories.poor.outpatient.annual_cap",
        "not a valid amount",
    ),
    (
        "diseases not a table",
        _set("outpatient_diseases", ["高血压"]),
        "outpatient_diseases",
        "table of diseases",
    ),
    (
        "disease cap malformed",
        _set("outpatient_diseases/高血压", "3,000"),
        "outpatient_diseases.高血压",
        "not a valid amount",
    ),
    (
        "disease cap as number",
        _set("outpatient_diseases/高血压", 3000),
        "outpatient_diseases.高血压",
        "string",
    ),
    (
        "disease name with edge spaces",
        _set("outpatient_diseases/ 肺结核", "5000"),
        "outpatient_diseases. 肺结核",
        "edge spaces",
    ),
    (
        "outpatient blocks without diseases",
        _delete("outpatient_diseases"),
        "outpatient_diseases",
        "must list the diseases",
    ),
    (
        "outpatient blocks with an empty disease table",
        _set("outpatient_diseases", {}),
        "outpatient_diseases",
        "must list the diseases",
    ),
]


@pytest.mark.parametrize(("label", "mutate", "path", "en"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_malformed_policy_is_refused_naming_the_key(label: str, mutate: Mutation, path: str, en: str) -> None:
    doc = copy.deepcopy(preset_doc())
    mutate(doc)
    with pytest.raises(PolicyError) as info:
        parse_policy(doc)
    problems = info.value.problems
    assert any(p.path == path and en in p.en for p in problems), [str(p) for p in problems]
    assert all(p.zh for p in problems)
    assert path in str(info.value)


def test_example_message_format() -> None:
    doc = preset_doc()
    doc["categories"]["poor"]["basic"]["ratio"]["2"] = "1.2"
    with pytest.raises(PolicyError) as info:
        parse_policy(doc)
    assert str(info.value.problems[0]).startswith(
        "categories.poor.basic.ratio.2: 比例必须在0到1之间：“1.2” / rate must be within 0..1"
    )


def test_every_problem_is_reported_at_once() -> None:
    doc = preset_doc()
    doc["categories"]["poor"]["basic"]["ratio"]["2"] = "2"
    doc["categories"]["dibao"]["aid"]["annual_cap"] = "-1"
    doc["bogus"] = True
    with pytest.raises(PolicyError) as info:
        parse_policy(doc)
    assert {p.path for p in info.value.problems} == {
        "categories.poor.basic.ratio.2",
        "categories.dibao.aid.annual_cap",
        "bogus",
    }


def test_file_level_errors(tmp_path: Path) -> None:
    bad_toml = tmp_path / "p.toml"
    bad_toml.write_text('name = "x"\nname = "y"\n', encoding="utf-8")
    with pytest.raises(PolicyError, match="TOML"):
        load_policy(bad_toml)
    dup = tmp_path / "p.json"
    dup.write_text('{"name": "a", "name": "b"}', encoding="utf-8")
    with pytest.raises(PolicyError, match="duplicate JSON key"):
        load_policy(dup)
    nested = preset_doc()
    text = json.dumps(nested).replace('"out_of_scope": {', '"out_of_scope": {"mode": "simple", ', 1)
    text = text.replace('"tiers": [[', '"tiers": [{"a": 1, "a": 2}, [', 1)
    with pytest.raises(PolicyError) as caught:
        loads_policy(text, fmt="json")
    paths = [p.path for p in caught.value.problems]
    assert paths[0] == "out_of_scope.mode"
    assert re.fullmatch(r"categories\.\w+\.critical\.tiers\[0\]\.a", paths[1]), paths
    assert len(paths) == 2
    assert "duplicate JSON key 'out_of_scope.mode'" in str(caught.value)
    assert "JSON 中键“out_of_scope.mode”重复" in str(caught.value)
    broken = tmp_path / "q.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(PolicyError, match="JSON syntax"):
        load_policy(broken)
    with pytest.raises(PolicyError, match=r"\.toml or \.json"):
        load_policy(tmp_path / "p.yaml")
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.toml")
    with pytest.raises(PolicyError, match="no preset"):
        load_preset("../suixian-2020")
    number = json.dumps({**preset_doc(), "unreferred_ratio_cut": 0.2})
    with pytest.raises(PolicyError, match="unreferred_ratio_cut"):
        loads_policy(number, fmt="json")
