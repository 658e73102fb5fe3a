"""``import-claims``: valid rows become pending claims; every invalid-row rule; re-import unchanged."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from openpyxl import load_workbook

from jkfp import settle_cli
from jkfp.settlement import imports
from jkfp.settlement.imports import claims_import
from jkfp.settlement.models import Claim, ClaimStatus
from jkfp.settlement.tests.factories import SettleWorld

HEADER = "claim_id,person_id,institution_code,admit_date,discharge_date,referred,total,out_of_scope\n"


def write(tmp_path: Path, body: str, name: str = "claims.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def errors(path: str | None) -> list[tuple[int, str, str, str]]:
    assert path is not None
    wb = load_workbook(path, read_only=True)
    rows = [tuple(r) for r in wb.active.iter_rows(min_row=2, values_only=True)]
    wb.close()
    return rows


def test_valid_rows_and_every_invalid_rule(sw: SettleWorld, tmp_path: Path) -> None:
    p1 = sw.persons["poor1"].id_number
    p2 = sw.persons["poor2"].id_number
    body = (
        f"A1,{p1},H001,2020-02-25,2020-03-01,,20000.00,1000.00\n"  # 2 valid
        f"A2,{p1},H900,2020-05-20,2020-06-01,1,150000,12000\n"  # 3 valid, out of county, referred
        f"A3,{p2},H002,2020-05-01,2020-05-10,0,8000.00,800.00\n"  # 4 valid
        f"B1,{p1},H001,2020-03-01,2020-02-01,,100.00,0.00\n"  # 5 discharge before admit
        f"B2,{p1},HXXX,2020-03-01,2020-03-02,,100.00,0.00\n"  # 6 unknown institution
        f"B3,110101199001011234,H001,2020-03-01,2020-03-02,,100.00,0.00\n"  # 7 bad ID check digit
        f"B4,{p1},H001,2020-03-01,2020-03-02,,100.001,0.00\n"  # 8 three decimals
        f"B5,{p1},H001,2020-03-01,2020-03-02,,100.00,200.00\n"  # 9 out_of_scope > total
        f"B6,{p1},H001,2020-03-01,2099-03-02,,100.00,0.00\n"  # 10 future
        f"B7,{p1},H001,2020-03-01,2020-03-02,maybe,100.00,0.00\n"  # 11 referred
        f"D1,{p2},H001,2020-04-01,2020-04-02,,100.00,0.00\n"  # 12 duplicate, different
        f"D1,{p2},H001,2020-04-01,2020-04-02,,200.00,0.00\n"  # 13
        f"A3,{p2},H002,2020-05-01,2020-05-10,0,8000.00,800.00\n"  # 14 identical repeat
        f",{p2},H002,2020-05-01,2020-05-10,0,8000.00,800.00\n"  # 15 empty id
        f"B8,{p2},H001,2020-05-01,2020-05-10,,-5.00,0.00\n"  # 16 negative
    )
    summary = claims_import(path=write(tmp_path, body), errors_dir=tmp_path)
    assert (summary.rows, summary.created, summary.unchanged) == (15, 3, 0)
    assert summary.invalid == 15 - 4
    got = {(row, col): reason for row, col, _value, reason in errors(summary.errors_file)}
    assert got[(5, "discharge_date")] == imports.ERR_DISCHARGE_BEFORE_ADMIT
    assert got[(6, "institution_code")] == imports.ERR_INSTITUTION.format(value="HXXX")
    assert got[(7, "person_id")].startswith("身份证号不合法")
    assert got[(8, "total")].startswith("金额不合法") and "两位小数" in got[(8, "total")]
    assert got[(9, "out_of_scope")] == imports.ERR_OUT_OF_SCOPE_GT_TOTAL
    assert got[(10, "discharge_date")] == imports.ERR_DISCHARGE_FUTURE
    assert got[(11, "referred")] == imports.ERR_REFERRED
    assert got[(12, "claim_id")] == imports.ERR_CONFLICT.format(rows="12、13")
    assert got[(13, "claim_id")] == imports.ERR_CONFLICT.format(rows="12、13")
    assert got[(15, "claim_id")] == imports.ERR_CLAIM_ID
    assert "负数" in got[(16, "total")]
    a2 = Claim.objects.get(claim_id="A2")
    assert (a2.level, a2.in_county, a2.referred, a2.total_amount) == (3, False, True, Decimal("150000.00"))
    assert a2.status == ClaimStatus.PENDING and a2.source == "import"
    a1 = Claim.objects.get(claim_id="A1")
    assert (a1.level, a1.in_county, a1.referred, a1.admitted_on) == (2, True, False, date(2020, 2, 25))

    again = claims_import(path=write(tmp_path, body), errors_dir=tmp_path)
    assert (again.created, again.unchanged, again.updated) == (0, 3, 0)
    changed = claims_import(
        path=write(tmp_path, f"A1,{p1},H001,2020-02-25,2020-03-01,,20000.00,1500.00\n", "c2.csv"),
        errors_dir=tmp_path,
    )
    assert (changed.created, changed.invalid) == (0, 1)
    assert errors(changed.errors_file)[0][3] == imports.ERR_EXISTS


def test_unknown_person_and_scope(sw: SettleWorld, tmp_path: Path) -> None:
    from jkfp.core.idnumber import make_id_number

    stranger = make_id_number("421321", date(1970, 1, 1), 999)
    p_t2 = sw.persons["plain"].id_number  # 第2镇
    body = f"U1,{stranger},H001,2020-03-01,2020-03-02,,100.00,0.00\nU2,{p_t2},H001,2020-03-01,2020-03-02,,100.00,0.00\n"
    summary = claims_import(path=write(tmp_path, body), user=sw.users["t1"], errors_dir=tmp_path)
    assert (summary.created, summary.invalid) == (0, 2)
    assert {r[3] for r in errors(summary.errors_file)} == {imports.ERR_NOT_IN_ROSTER}


def test_command_json_and_settle_claims(
    sw: SettleWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p1 = sw.persons["poor1"].id_number
    path = write(tmp_path, f"A1,{p1},H001,2020-02-25,2020-03-01,,20000.00,1000.00\n")
    call_command("import_claims", str(path), "--json")
    out = json.loads(capsys.readouterr().out)
    assert out == {
        "rows": 1,
        "valid": 1,
        "invalid": 0,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "warnings": 0,
        "errors_file": None,
    }
    call_command("settle_claims", "--year", "2020", "--json")
    result = json.loads(capsys.readouterr().out)
    assert {k: result[k] for k in ("claims", "settled", "persons", "invalid")} == {
        "claims": 1,
        "settled": 1,
        "persons": 1,
        "invalid": 0,
    }
    out_csv = tmp_path / "s.csv"
    call_command("export_settlements", "--year", "2020", "--out", str(out_csv))
    assert out_csv.read_text().splitlines()[1] == "A1,H001,20000.00,0.00,14800.00,0.00,2940.00,260.00,2000.00"
    capsys.readouterr()
    report = tmp_path / "r.xlsx"
    call_command(
        "resettle",
        "--year",
        "2020",
        "--policy",
        "suixian-2020",
        "--dry-run",
        "--report",
        str(report),
        "--json",
    )
    d = json.loads(capsys.readouterr().out)
    assert (d["claims"], d["changed"], d["dry_run"]) == (1, 0, True)
    assert report.exists()
    clearing = tmp_path / "c.xlsx"
    call_command("clearing", "--month", "2020-03", "--out", str(clearing))
    wb = load_workbook(clearing, read_only=True)
    rows = list(wb.active.iter_rows(values_only=True))
    wb.close()
    assert rows[1][:4] == ("H001", "随县人民医院", "2020-03", 1)
    assert rows[1][5] == 14800.0 and rows[1][9] == 14800.0 + 2940.0 + 260.0


def test_two_institutions_may_use_the_same_claim_id(
    sw: SettleWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A row is keyed by its institution and claim id (claim ids are each institution's own): two
    hospitals' "X1" are two claims, each settled to the fen (settlement.md §5 examples 1 and 3)."""
    p1, p2 = sw.persons["poor1"].id_number, sw.persons["poor2"].id_number
    body = (
        f"X1,{p1},H001,2020-02-25,2020-03-01,,20000.00,1000.00\n"  # 2 H001's X1
        f"X1,{p2},H002,2020-05-01,2020-05-10,0,8000.00,800.00\n"  # 3 H002's X1
        f"X1,{p2},H002,2020-05-01,2020-05-10,0,8000.00,800.00\n"  # 4 identical repeat of 3
    )
    summary = claims_import(path=write(tmp_path, body), errors_dir=tmp_path)
    assert (summary.rows, summary.created, summary.invalid) == (3, 2, 0)
    assert sorted(Claim.objects.filter(claim_id="X1").values_list("institution_id", "total_amount")) == [
        ("H001", Decimal("20000.00")),
        ("H002", Decimal("8000.00")),
    ]
    again = claims_import(path=write(tmp_path, body), errors_dir=tmp_path)
    assert (again.created, again.unchanged, again.invalid) == (0, 2, 0)
    # A different X1 of H002 is refused (stored with other values); H001's is untouched.
    changed = claims_import(
        path=write(tmp_path, f"X1,{p2},H002,2020-05-01,2020-05-10,0,8000.00,900.00\n", "c2.csv"),
        errors_dir=tmp_path,
    )
    assert (changed.created, changed.invalid) == (0, 1)
    assert errors(changed.errors_file) == [(2, "claim_id", "X1", imports.ERR_EXISTS)]
    call_command("settle_claims", "--year", "2020", "--json")
    result = json.loads(capsys.readouterr().out)
    assert (result["claims"], result["settled"], result["invalid"]) == (2, 2, 0)
    out_csv, claims_csv = tmp_path / "s.csv", tmp_path / "claims.csv"
    call_command("export_settlements", "--year", "2020", "--out", str(out_csv), "--claims", str(claims_csv))
    # M4: each row names its institution (the same id of two hospitals is two distinct rows).
    exported = out_csv.read_text().splitlines()
    assert exported == [
        "claim_id,institution_code,counted_total,hospital_absorbed,basic,critical,aid,supplementary,personal",
        "X1,H001,20000.00,0.00,14800.00,0.00,2940.00,260.00,2000.00",  # H001 first (by institution code)
        "X1,H002,7400.00,600.00,6300.00,0.00,630.00,0.00,470.00",
    ]
    # The claims file round-trips through `jkfp settle`: both X1 settled, byte for byte the export.
    assert claims_csv.read_text().splitlines()[0].startswith("claim_id,institution_code,person_id,")
    settled = tmp_path / "settled.csv"
    assert (
        settle_cli.main(["--preset", "suixian-2020", "--claims", str(claims_csv), "--out", str(settled)]) == 0
    )
    assert settled.read_bytes() == out_csv.read_bytes()
