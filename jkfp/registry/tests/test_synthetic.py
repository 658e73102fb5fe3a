"""示例县数据 The synthetic county and the benchmark roster: valid, sized, disagreeing, deterministic.

No database: the generator is pure Python. The files are checked with an independent reading of
the import rules (issue 2 item 5), not with the import code.
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jkfp.core.idnumber import IdNumberError, birth_date, sex, validate_id_number
from jkfp.core.tabular import read_table
from jkfp.registry.synthetic import (
    NATIONAL,
    OFFICE,
    PROVINCIAL,
    ROSTER_HEADER,
    DemoFiles,
    build_county,
    default_villages,
    write_regions,
    write_roster,
)

COLUMNS = dict.fromkeys(ROSTER_HEADER, ())
KNOWN_TAGS = {"建档立卡", "脱贫", "监测对象", "特困", "低保", "孤儿", "残疾", "严重精神障碍", "计生特困"}
MALE_RELATIONS = {"子", "父亲", "孙子"}
FEMALE_RELATIONS = {"女", "母亲", "儿媳", "孙女"}
PHONE = re.compile(r"^1[3-9]\d{9}$")
SMALL = {"townships": 4, "villages": 40, "persons": 3000, "households": 1000}


@dataclass
class Checked:
    rows: int
    invalid: int
    valid_ids: dict[str, list[dict[str, str]]]  # normalised ID → its valid rows


def check_roster(path: Path, villages: set[str]) -> Checked:
    """The invalid-row rules of issue 2 item 5, applied independently of the import code."""
    table = read_table(path, COLUMNS, ROSTER_HEADER)
    rows = [row for _, row in table.rows()]
    bad = [False] * len(rows)
    ids: list[str | None] = []
    for i, row in enumerate(rows):
        try:
            ids.append(validate_id_number(row["身份证号"]))
        except IdNumberError:
            ids.append(None)
            bad[i] = True
        tags = [t for t in re.split(r"[、,;]", row["人员类别"]) if t]
        if not row["姓名"] or row["村代码"] not in villages or any(t not in KNOWN_TAGS for t in tags):
            bad[i] = True
    keys: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    for number, row in zip(ids, rows, strict=True):
        if number:
            keys[number].add((row["姓名"], row["村代码"], row["户编号"]))
    valid: dict[str, list[dict[str, str]]] = defaultdict(list)
    for i, (number, row) in enumerate(zip(ids, rows, strict=True)):
        if number and len(keys[number]) > 1:
            bad[i] = True
        if not bad[i] and number:
            valid[number].append(row)
    return Checked(rows=len(rows), invalid=sum(bad), valid_ids=dict(valid))


def read_regions(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoFiles, dict[str, Checked]]:
    files = build_county(tmp_path_factory.mktemp("county"), seed=7, **SMALL)
    villages = set(files.village_codes)
    return files, {s.name: check_roster(s.path, villages) for s in files.sources}


def test_regions_have_the_statistical_code_shapes(county: Any) -> None:
    files, _ = county
    rows = read_regions(files.regions)
    levels = Counter(r["级别"] for r in rows)
    assert levels == {"县": 1, "乡镇": SMALL["townships"], "村": SMALL["villages"]}
    names = {r["代码"]: r["名称"] for r in rows}
    assert names["421321"] == "随县" and names["421321100000"] == "厉山镇"
    for r in rows:
        if r["级别"] == "乡镇":
            assert re.fullmatch(r"421321\d{3}000", r["代码"]) and r["上级代码"] == "421321"
        elif r["级别"] == "村":
            assert re.fullmatch(r"\d{12}", r["代码"]) and r["代码"][:9] == r["上级代码"][:9]
            assert r["上级代码"].endswith("000") and r["名称"].endswith("村")
    village_names_per_town = Counter((r["上级代码"], r["名称"]) for r in rows if r["级别"] == "村")
    assert max(village_names_per_town.values()) == 1


def test_institutions_cover_levels_and_out_of_county_hospitals(county: Any) -> None:
    files, _ = county
    rows = read_regions(files.institutions)
    regions = {r["代码"] for r in read_regions(files.regions)}
    out_of_county = [r for r in rows if r["县域内"] == "否"]
    assert 3 <= len(out_of_county) <= 4 and {r["级别"] for r in out_of_county} == {"3"}
    assert all(r["所在地区代码"] == "" for r in out_of_county)
    in_county = [r for r in rows if r["县域内"] == "是"]
    assert all(r["所在地区代码"] in regions for r in in_county)
    health_centres = [r for r in in_county if r["名称"].endswith("卫生院")]
    assert len(health_centres) == SMALL["townships"] and {r["级别"] for r in health_centres} == {"1"}
    assert any(r["名称"].endswith("卫生室") for r in in_county)
    county_hospital = next(r for r in rows if r["代码"] == files.county_hospital_code)
    assert county_hospital["名称"] == "随县人民医院" and county_hospital["级别"] == "2"


def test_sizes_match_what_was_asked(county: Any) -> None:
    files, checked = county
    assert files.persons == SMALL["persons"] and files.households == SMALL["households"]
    distinct = set().union(*(c.valid_ids for c in checked.values()))
    assert len(distinct) == SMALL["persons"]
    households = {rows[0]["户编号"] for c in checked.values() for rows in c.valid_ids.values()}
    # a few household numbers are mistyped in one list, so there are slightly more numbers than households
    assert SMALL["households"] <= len(households) <= SMALL["households"] * 1.05


def test_every_list_has_exactly_the_planned_invalid_rows(county: Any) -> None:
    files, checked = county
    for source in files.sources:
        c = checked[source.name]
        assert c.rows == source.rows
        assert c.invalid == source.invalid_rows >= 4, source.name
        assert len(c.valid_ids) == source.persons, source.name
    national_names = [r["姓名"] for r in csv_or_xlsx_rows(files.source(NATIONAL).path)]
    assert any(n.startswith("=HYPERLINK(") for n in national_names)


def csv_or_xlsx_rows(path: Path) -> list[dict[str, str]]:
    return [row for _, row in read_table(path, COLUMNS, ROSTER_HEADER).rows()]


def test_lists_disagree_like_the_counties_report(county: Any) -> None:
    files, checked = county
    prov, nat, office = (set(checked[s].valid_ids) for s in (PROVINCIAL, NATIONAL, OFFICE))
    assert len(prov) > len(nat) > len(office)
    everyone = prov | nat | office
    membership = Counter(sum(pid in s for s in (prov, nat, office)) for pid in everyone)
    assert membership[1] == files.in_one > 0 and membership[3] == files.in_all > 0
    assert prov - nat - office and office - prov - nat and nat - prov - office
    assert len(prov & nat) < min(len(prov), len(nat))

    def values(field: str) -> int:
        differing = 0
        for pid in everyone:
            seen = {rows[0][field] for c in checked.values() if (rows := c.valid_ids.get(pid))}
            differing += len(seen) > 1
        return differing

    assert values("姓名") == files.name_conflicts > 0
    assert values("村代码") == files.village_conflicts > 0
    assert values("户编号") == files.household_conflicts > 0
    share = files.name_conflicts / (len(everyone) - membership[1])
    assert 0.005 < share < 0.06
    # tags: the national platform says 脱贫, the provincial system 建档立卡, 低保 only from the poverty office
    tags = {s: Counter(t for rows in checked[s].valid_ids.values() for t in rows[0]["人员类别"].split("、"))
            for s in checked}  # fmt: skip
    assert tags[NATIONAL]["脱贫"] > 0 and tags[NATIONAL]["建档立卡"] == 0
    assert tags[PROVINCIAL]["建档立卡"] > 0 and tags[PROVINCIAL]["脱贫"] == 0
    assert tags[OFFICE]["低保"] > 0 and tags[PROVINCIAL]["低保"] == tags[NATIONAL]["低保"] == 0


def test_people_are_plausible(county: Any) -> None:
    _, checked = county
    rows = {pid: rows[0] for c in checked.values() for pid, rows in c.valid_ids.items()}
    n = len(rows)
    tags = Counter(t for r in rows.values() for t in r["人员类别"].split("、") if t)
    assert 0.05 < tags["低保"] / n < 0.12 and 0.01 < tags["特困"] / n < 0.035
    assert 0.02 < tags["监测对象"] / n < 0.08 and 0.03 < tags["残疾"] / n < 0.07
    ill = sum(
        1 for pid in rows if any(c.valid_ids.get(pid, [{}])[0].get("患病情况") for c in checked.values())
    )
    assert 0.25 < ill / n < 0.45
    conditions = Counter(
        name for r in checked[PROVINCIAL].valid_ids.values() for name in r[0]["患病情况"].split("、") if name
    )
    assert conditions.most_common(1)[0][0] == "高血压"
    assert conditions["2型糖尿病"] and conditions["腰椎间盘突出"]
    for pid, row in rows.items():
        if row["与户主关系"] in MALE_RELATIONS:
            assert sex(pid) == "M", (pid, row)
        if row["与户主关系"] in FEMALE_RELATIONS:
            assert sex(pid) == "F", (pid, row)
    assert sum(pid.startswith("421321") for pid in rows) / n > 0.8
    assert any(not pid.startswith("421321") for pid in rows)
    phones = [r["联系电话"] for r in rows.values() if r["联系电话"]]
    assert phones and all(PHONE.match(p) for p in phones)
    # households of 1-6 with one head; children born after the head, parents before
    by_household: dict[str, list[tuple[str, dict[str, str]]]] = defaultdict(list)
    for pid, rows_ in checked[PROVINCIAL].valid_ids.items():
        by_household[rows_[0]["户编号"]].append((pid, rows_[0]))
    one_head = sum(
        1 for members in by_household.values() if [r["与户主关系"] for _, r in members].count("户主") == 1
    )
    assert one_head / len(by_household) > 0.9
    assert max(len(m) for m in by_household.values()) <= 8
    ordered = inconsistent = 0
    for members in by_household.values():
        heads = [birth_date(pid) for pid, r in members if r["与户主关系"] == "户主"]
        if len(heads) != 1:
            continue
        for pid, r in members:
            if r["与户主关系"] in ("子", "女", "孙子", "孙女"):
                ordered += 1
                inconsistent += (birth_date(pid) - heads[0]).days < 15 * 365
            elif r["与户主关系"] in ("父亲", "母亲"):
                ordered += 1
                inconsistent += birth_date(pid) >= heads[0]
    assert ordered > 100 and inconsistent / ordered < 0.01


def test_the_poverty_office_list_is_gbk_like_excel_on_chinese_windows(county: Any) -> None:
    files, _ = county
    data = files.source(OFFICE).path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert data.decode("gbk").startswith(",".join(ROSTER_HEADER))
    assert read_table(files.source(OFFICE).path, COLUMNS, ROSTER_HEADER).encoding == "gbk"
    national = files.source(NATIONAL).path.read_bytes()
    assert national.decode("utf-8").startswith(",".join(ROSTER_HEADER))
    assert read_table(files.source(PROVINCIAL).path, COLUMNS, ROSTER_HEADER).encoding == "xlsx"


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path, county: Any) -> None:
    files, _ = county
    again = build_county(tmp_path / "again", seed=7, **SMALL)
    for a, b in zip(files.sources, again.sources, strict=True):
        assert csv_or_xlsx_rows(a.path) == csv_or_xlsx_rows(b.path)
    assert files.regions.read_bytes() == again.regions.read_bytes()
    assert files.source(OFFICE).path.read_bytes() == again.source(OFFICE).path.read_bytes()
    other = build_county(tmp_path / "other", seed=8, **SMALL)
    assert other.source(NATIONAL).path.read_bytes() != files.source(NATIONAL).path.read_bytes()


# --- the benchmark roster -------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "encoding"), [("csv", "utf-8"), ("csv", "gbk"), ("xlsx", "utf-8")])
def test_write_roster_counts_are_exact(tmp_path: Path, fmt: str, encoding: str) -> None:
    villages = default_villages(townships=3, per_township=5)
    regions = tmp_path / "regions.csv"
    assert write_regions(regions, villages=villages) == villages
    region_rows = read_regions(regions)
    assert {r["代码"] for r in region_rows if r["级别"] == "村"} == set(villages)
    assert len([r for r in region_rows if r["级别"] == "乡镇"]) == 3
    path = tmp_path / f"roster.{fmt}"
    result = write_roster(
        path,
        rows=6000,
        villages=villages,
        seed=3,
        invalid_rate=0.02,
        duplicate_rate=0.03,
        fmt=fmt,
        encoding=encoding,
    )
    checked = check_roster(path, set(villages))
    assert result.rows == checked.rows == 6000
    assert result.invalid == checked.invalid == 120
    assert result.valid == 6000 - 120 and result.duplicates == 180
    assert result.persons == len(checked.valid_ids)
    assert sum(len(rows) for rows in checked.valid_ids.values()) == result.valid
    repeated = [rows for rows in checked.valid_ids.values() if len(rows) > 1]
    assert len(repeated) <= 180 and all(r == rows[0] for rows in repeated for r in rows)
    table = read_table(path, COLUMNS, ROSTER_HEADER)
    assert table.encoding == {"csv": encoding if encoding == "utf-8" else "gbk", "xlsx": "xlsx"}[fmt]
    assert all(PHONE.match(p) for p in table.columns["联系电话"])


def test_write_roster_is_deterministic_and_formats_agree(tmp_path: Path) -> None:
    a = write_roster(tmp_path / "a.csv", rows=3000, seed=5)
    b = write_roster(tmp_path / "b.csv", rows=3000, seed=5)
    c = write_roster(tmp_path / "c.csv", rows=3000, seed=6)
    x = write_roster(tmp_path / "x.xlsx", rows=3000, seed=5, fmt="xlsx")
    assert a.path.read_bytes() == b.path.read_bytes() != c.path.read_bytes()
    assert csv_or_xlsx_rows(a.path) == csv_or_xlsx_rows(x.path)
    assert x.persons == a.persons


def test_write_roster_refuses_impossible_sizes(tmp_path: Path) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (the exception is asserted by the lines after it)
        write_roster(tmp_path / "r.csv", rows=10, invalid_rate=0.5, duplicate_rate=0.5)
