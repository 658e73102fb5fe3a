"""`jkfp policy install FILE [--region CODE] [--json]` and `jkfp policy list [--region CODE] [--json]`
(issue 21 item 3): versions per name, a used version never changes, errors naming the field in
Chinese and English, JSON outputs."""

from __future__ import annotations

import io
import json
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from jkfp.regions.models import Region, RegionLevel
from jkfp.settlement.models import Policy

SUIXIAN_TEXT = (
    resources.files("jkfp.engine.presets").joinpath("suixian-2020.toml").read_text(encoding="utf-8")
)
TEXT = SUIXIAN_TEXT.replace('name = "suixian-2020"', 'name = "county-2020"')


def run(*args: str) -> tuple[str, Any]:
    """The command's stdout, and its JSON when ``--json`` was given."""
    out = io.StringIO()
    call_command("policy", *args, stdout=out, stderr=io.StringIO())
    text = out.getvalue()
    return text, json.loads(text) if "--json" in args else None


def refused(*args: str) -> tuple[str, Any]:
    """The error message of a refused command, and the JSON it printed with ``--json``."""
    out = io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command("policy", *args, stdout=out, stderr=io.StringIO())
    assert info.value.returncode == 2
    return str(info.value), json.loads(out.getvalue()) if "--json" in args else None


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "county.toml"
    path.write_text(TEXT, encoding="utf-8")
    return path


def test_install_for_a_county_then_versions(
    county: dict[str, Any], policy_file: Path, tmp_path: Path
) -> None:
    _, got = run("install", str(policy_file), "--region", "421321", "--json")
    assert got["ok"] and got["outcome"] == "new"
    row = got["policy"]
    assert (row["name"], row["version"], row["region"], row["region_name"], row["scope"]) == (
        "county-2020",
        1,
        "421321",
        "随县",
        "421321",
    )
    assert (row["valid_from"], row["valid_to"], row["used"]) == ("2020-01-01", "2020-12-31", False)
    # The same text again changes nothing.
    _, again = run("install", str(policy_file), "--region", "421321", "--json")
    assert again["outcome"] == "unchanged" and again["policy"]["version"] == 1
    # Changed text of an unused version replaces it in place.
    policy_file.write_text(TEXT.replace("随县2020", "随县二〇二〇"), encoding="utf-8")
    _, replaced = run("install", str(policy_file), "--region", "421321", "--json")
    assert replaced["outcome"] == "replaced" and replaced["policy"]["version"] == 1
    # Once used, the next install is version 2 and version 1 keeps its text.
    from jkfp.settlement.models import Settlement
    from jkfp.settlement.tests.factories import SettleWorld, make_person, submit, tag

    world = SettleWorld(county=county)
    world.persons["p"] = make_person(county["t1v1"], "甲", 51)
    tag(world.persons["p"], "poor")
    world.institutions["h"] = county["hospital"]
    settled = submit(world, "C1", "p", "h", date(2020, 3, 1), "1000.00", "0.00")
    # 随县's own policy, not the preset a migration installed for the whole deployment
    assert isinstance(settled, Settlement) and settled.policy.name == "county-2020"
    used_text = Policy.objects.get(name="county-2020").source_text
    policy_file.write_text(TEXT.replace('unreferred_ratio_cut = "0.20"', 'unreferred_ratio_cut = "0.30"'))
    text, _ = run("install", str(policy_file), "--region", "421321")
    assert "已安装 county-2020 v2" in text and "installed county-2020 v2 for 421321" in text
    assert Policy.objects.get(name="county-2020", version=1).source_text == used_text
    _, got = run("list", "--region", "421321001001", "--json")
    # the whole deployment's (the presets) first, then the county's, newest version first
    assert [(p["label"], p["region"], p["used"]) for p in got["policies"]] == [
        ("suixian-2020 v1", None, False),
        ("transition-2024 v1", None, False),
        ("county-2020 v2", "421321", False),
        ("county-2020 v1", "421321", True),
    ]
    plain, _ = run("list")
    assert "county-2020 v1\t随县（421321）\t2020-01-01~2020-12-31\t是" in plain


def test_a_json_policy_for_the_whole_deployment(county: dict[str, Any], tmp_path: Path) -> None:
    import tomllib

    path = tmp_path / "whole.json"
    data = tomllib.loads(TEXT.replace('name = "county-2020"', 'name = "whole-2020"'))
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    _, got = run("install", str(path), "--json")
    assert (got["policy"]["region"], got["policy"]["region_name"], got["policy"]["scope"]) == (
        None,
        "全系统",
        "",
    )
    assert Policy.objects.get(name="whole-2020").source_format == "json"


def test_errors_name_the_field_in_chinese_and_english(
    county: dict[str, Any], policy_file: Path, tmp_path: Path
) -> None:
    message, got = refused("install", str(policy_file), "--region", "999999", "--json")
    assert (
        message.startswith("区划：") and "/ region: region code 999999 is not in the region tree" in message
    )
    assert got == {
        "ok": False,
        "errors": [
            {
                "field": "region",
                "zh": "区划代码“999999”不在区划库中，请先导入行政区划",
                "en": "region code 999999 is not in the region tree; import the regions first",
            }
        ],
    }
    message, _ = refused("install", str(policy_file), "--region", "421321001000")
    assert (
        "政策只能按县及县以上区划设置" in message
        and "a policy is set for a county or a higher region" in message
    )
    bad = tmp_path / "bad.toml"
    bad.write_text(
        TEXT.replace('unreferred_ratio_cut = "0.20"', 'unreferred_ratio_cut = "1.20"'), encoding="utf-8"
    )
    message, got = refused("install", str(bad), "--json")
    assert got["errors"][0]["field"] == "source_text"
    assert got["errors"][0]["zh"].startswith("unreferred_ratio_cut：")
    assert got["errors"][0]["en"].startswith("unreferred_ratio_cut: ")
    assert (
        message.startswith("政策文件：unreferred_ratio_cut：")
        and "/ policy file: unreferred_ratio_cut:" in message
    )
    # A name belongs to one region.
    run("install", str(policy_file), "--region", "421321")
    Region.objects.create(code="421303", name="曾都区", level=RegionLevel.COUNTY)
    message, _ = refused("install", str(policy_file), "--region", "421303")
    assert "已用于随县（421321）" in message and "this policy name belongs to another region" in message
    message, _ = refused("install", str(tmp_path / "missing.toml"))
    assert "无法读取" in message and "cannot read" in message
    other = tmp_path / "policy.txt"
    other.write_text(TEXT, encoding="utf-8")
    message, _ = refused("install", str(other))
    assert message.startswith("政策文件：") and "must be .toml or .json" in message
    message, _ = refused("list", "--region", "123")
    assert "region code 123 is not in the region tree" in message
    assert Policy.objects.filter(name="county-2020").count() == 1  # nothing half-written
