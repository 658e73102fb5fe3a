"""``jkfp settle``: the example files byte for byte, invalid rows, error reports, --explain, formats.

The command lives in ``jkfp.settle_cli``, which uses ``jkfp.core`` (ID numbers, tables); this test
sits outside the engine package because the engine must not import ``jkfp.core`` (import-linter).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jkfp import settle_cli
from jkfp.core import idnumber, tabular
from jkfp.engine import ClaimTable, load_preset, settle_claims, validate_claim_columns
from jkfp.engine.claims import COLUMN_ORDER, TextColumn

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "jkfp" / "engine" / "tests" / "examples"


HEADER = "claim_id,person_id,category,discharge_date,level,in_county,referred,total,out_of_scope"
P1 = "421321198001010117"
P2 = "421321198001010221"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = settle_cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_example_files_byte_for_byte(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.csv"
    code, _, err = run(
        ["--preset", "suixian-2020", "--claims", str(EXAMPLES / "claims.csv"), "--out", str(out)], capsys
    )
    assert code == 0, err
    assert out.read_bytes() == (EXAMPLES / "expected-suixian-2020.csv").read_bytes()
    assert "settled 4 claims" in err


def test_policy_file_and_subprocess_start(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    shutil.copy(ROOT / "jkfp/engine/presets/suixian-2020.toml", policy)
    out = tmp_path / "out.csv"
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "jkfp.settle_cli",
            "--policy",
            str(policy),
            "--claims",
            str(EXAMPLES / "claims.csv"),
            "--out",
            str(out),
            "--explain",
            "E2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    elapsed = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == (EXAMPLES / "expected-suixian-2020.csv").read_bytes()
    assert "大病保险" in proc.stdout
    assert elapsed < 10  # a loose bound on a shared machine; the start itself is well under a second
    assert "django" not in proc.stderr.lower()


def test_no_django_is_imported() -> None:
    code = "import sys, jkfp.settle_cli; print(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"


def test_explain_prints_the_trace_with_year_to_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "--preset",
        "suixian-2020",
        "--claims",
        str(EXAMPLES / "claims.csv"),
        "--out",
        str(tmp_path / "o.csv"),
    ]
    code, out, _ = run([*args, "--explain", "E2"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("结算号 E2")
    assert lines[1].startswith("当年累计（结算前）") and "个人负担 2000.00" in lines[1]
    assert lines[-1].startswith("当年累计（结算后）") and "个人负担 5000.00" in lines[-1]
    assert "F(46300.00)" in out
    code, out, err = run([*args, "--explain", "NOPE"], capsys)
    assert code == 2
    assert "NOPE" in err


def _write(path: Path, rows: list[str], header: str = HEADER, encoding: str = "utf-8") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding=encoding)
    return path


def test_invalid_rows_refused_without_skip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    claims = _write(
        tmp_path / "c.csv",
        [
            f"A1,{P1},poor,2020-03-01,2,1,0,20000.00,1000.00",
            f"A2,{P1},poor,2020-02-30,2,1,0,20000.00,1000.00",
            "A3,421321198001010118,poor,2020-03-01,2,1,0,20000.00,1000.00",
            f"A4,{P2},poor,2020-03-01,5,1,0,-3,0",
        ],
    )
    out = tmp_path / "out.csv"
    code, _, err = run(["--preset", "suixian-2020", "--claims", str(claims), "--out", str(out)], capsys)
    assert code == 2
    assert not out.exists()
    assert "3 invalid rows (4 errors)" in err
    assert "第3行 discharge_date“2020-02-30”：日期不存在" in err
    assert "row 4, column person_id, value '421321198001010118': check character is wrong (expected 7)" in err
    assert "row 5, column level" in err and "row 5, column total" in err


def test_error_report_file_and_skip_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    claims = _write(
        tmp_path / "c.csv",
        [
            f"B0,{P1},poor,2020-01-15,2,1,0,30000.00,3000.00,",
            f"B1,{P1},poor,2020-02-01,2,1,0,20000.00,1000.00",
            f"B1,{P1},poor,2020-03-01,2,1,0,20000.00,1000.00",
            f"B2,{P1},poor,2020-06-01,3,0,1,150000.00,12000.00",
        ],
    )
    report = tmp_path / "errors.csv"
    out = tmp_path / "out.csv"
    args = ["--preset", "suixian-2020", "--claims", str(claims), "--out", str(out), "--errors", str(report)]
    code, _, err = run(args, capsys)
    assert code == 2 and not out.exists()
    text = report.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "row,column,value,reason_zh,reason_en"
    assert (
        text.splitlines()[1] == "4,claim_id,B1,结算号重复（与第3行相同）,duplicate claim_id (same as row 3)"
    )
    code, _, err = run([*args, "--skip-invalid"], capsys)
    assert code == 0, err
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["B0", "B1", "B2"]


def test_skipped_rows_do_not_enter_the_year_to_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    claims = _write(
        tmp_path / "c.csv",
        [
            f"E1,{P1},poor,2020-03-01,2,1,0,20000.00,1000.00",
            f"X1,{P1},poor,2020-04-01,2,1,0,20000.00,30000.00",  # out_of_scope > total
            f"E2,{P1},poor,2020-06-01,3,0,1,150000.00,12000.00",
        ],
    )
    out = tmp_path / "out.csv"
    code, _, _ = run(
        ["--preset", "suixian-2020", "--claims", str(claims), "--out", str(out), "--skip-invalid"], capsys
    )
    assert code == 0
    expected = (EXAMPLES / "expected-suixian-2020.csv").read_text(encoding="utf-8").splitlines()[:3]
    assert out.read_text(encoding="utf-8").splitlines() == expected


def test_stderr_lists_at_most_fifty_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [f"N{i},{P1},poor,2020-03-01,9,1,0,1.00,0" for i in range(60)]
    claims = _write(tmp_path / "c.csv", rows)
    code, _, err = run(
        ["--preset", "suixian-2020", "--claims", str(claims), "--out", str(tmp_path / "o.csv")], capsys
    )
    assert code == 2
    assert err.count("level must be 1, 2 or 3") == 50
    assert "10 more errors not shown" in err


def test_gbk_chinese_headers_and_messy_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    header = "结算号,身份证号,结算类别,出院日期,医院等级,县域内,转诊备案,医疗总费用,目录外费用,备注"
    rows = [
        f"E1,{P1},poor,2020-03-01,2,1,0,20000.00,1000.00,第一次",
        "",
        f' E2 ,{P1.lower()},poor,2020-06-01,3,0,1,"150000.00",12000.00,',
        f"E3,{P2},poor,2020-05-10,1,1,0,8000,800,",
        "E4,421321198001010336,ordinary,2020-07-01,2,1,0,20000.0,1000.00,",
    ]
    claims = _write(tmp_path / "c.csv", rows, header=header, encoding="gbk")
    out = tmp_path / "out.csv"
    code, _, err = run(["--preset", "suixian-2020", "--claims", str(claims), "--out", str(out)], capsys)
    assert code == 0, err
    assert out.read_bytes() == (EXAMPLES / "expected-suixian-2020.csv").read_bytes()


def test_crlf_bom_and_blank_lines_take_the_fast_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (EXAMPLES / "claims.csv").read_text(encoding="utf-8").replace("\n", "\r\n")
    lines = text.split("\r\n")
    lines.insert(2, ",,,,,,,,")
    lines.insert(4, "")
    path = tmp_path / "c.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode())
    assert settle_cli._fast_csv(path) is not None
    out = tmp_path / "out.csv"
    code, _, _ = run(["--preset", "suixian-2020", "--claims", str(path), "--out", str(out)], capsys)
    assert code == 0
    assert out.read_bytes() == (EXAMPLES / "expected-suixian-2020.csv").read_bytes()


def test_xlsx_in_and_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from openpyxl import Workbook, load_workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    for line in (EXAMPLES / "claims.csv").read_text(encoding="utf-8").splitlines()[1:]:
        cid, pid, cat, day, level, in_county, referred, total, oos = line.split(",")
        sheet.append(
            [
                cid,
                pid,
                cat,
                date.fromisoformat(day),
                int(level),
                int(in_county),
                int(referred),
                float(total),
                float(oos),
            ]
        )
    source = tmp_path / "claims.xlsx"
    book.save(source)
    out = tmp_path / "out.csv"
    code, _, err = run(["--preset", "suixian-2020", "--claims", str(source), "--out", str(out)], capsys)
    assert code == 0, err
    assert out.read_bytes() == (EXAMPLES / "expected-suixian-2020.csv").read_bytes()
    workbook = tmp_path / "out.xlsx"
    code, _, _ = run(["--preset", "suixian-2020", "--claims", str(source), "--out", str(workbook)], capsys)
    assert code == 0
    opened = load_workbook(workbook, read_only=True)
    rows = list(opened.worksheets[0].values)
    opened.close()  # read-only workbooks keep the file open until closed
    assert rows[0] == (
        "结算号",
        "计入结算费用",
        "医院承担（目录外超限）",
        "基本医保",
        "大病保险",
        "医疗救助",
        "补充医疗保险",
        "个人负担",
    )
    assert rows[2][0] == "E2" and rows[2][3] == 95900 and rows[2][6] == 13332


def test_error_report_as_workbook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from openpyxl import load_workbook

    claims = _write(tmp_path / "c.csv", [f"A1,{P1},poor,2020-03-01,2,1,0,=1+1,0"])
    report = tmp_path / "errors.xlsx"
    code, _, _ = run(
        [
            "--preset",
            "suixian-2020",
            "--claims",
            str(claims),
            "--out",
            str(tmp_path / "o.csv"),
            "--errors",
            str(report),
        ],
        capsys,
    )
    assert code == 2
    opened = load_workbook(report, read_only=True)
    rows = list(opened.worksheets[0].values)
    opened.close()
    assert rows[0] == ("行号", "列", "值", "原因", "reason")
    assert rows[1][:3] == (2, "total", "=1+1")


def test_refusals_name_the_key_or_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "p.toml"
    text = (ROOT / "jkfp/engine/presets/suixian-2020.toml").read_text(encoding="utf-8")
    policy.write_text(text.replace('"2" = "0.80"', '"2" = "1.80"', 1), encoding="utf-8")
    claims = EXAMPLES / "claims.csv"
    code, _, err = run(
        ["--policy", str(policy), "--claims", str(claims), "--out", str(tmp_path / "o.csv")], capsys
    )
    assert code == 2
    assert "categories.tekun.basic.ratio.2" in err and "rate must be within 0..1" in err
    missing = _write(tmp_path / "m.csv", ["A,B"], header="claim_id,person_id")
    code, _, err = run(
        ["--preset", "suixian-2020", "--claims", str(missing), "--out", str(tmp_path / "o.csv")], capsys
    )
    assert code == 2
    assert "missing required column(s): category" in err
    code, _, err = run(
        ["--preset", "nope", "--claims", str(claims), "--out", str(tmp_path / "o.csv")], capsys
    )
    assert code == 2 and "no preset" in err
    code, _, err = run(
        [
            "--preset",
            "suixian-2020",
            "--claims",
            str(tmp_path / "none.csv"),
            "--out",
            str(tmp_path / "o.csv"),
        ],
        capsys,
    )
    assert code == 2 and "file not found" in err
    with pytest.raises(SystemExit) as usage:
        settle_cli.main(["--claims", str(claims), "--out", "x.csv"])
    assert usage.value.code == 2


def test_claim_ids_needing_quotes_are_quoted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    claims = _write(tmp_path / "c.csv", [f'"A,1",{P1},poor,2020-03-01,2,1,0,20000.00,1000.00'])
    out = tmp_path / "out.csv"
    code, _, _ = run(["--preset", "suixian-2020", "--claims", str(claims), "--out", str(out)], capsys)
    assert code == 0
    assert (
        out.read_text(encoding="utf-8").splitlines()[1]
        == '"A,1",20000.00,0.00,14800.00,0.00,2940.00,260.00,2000.00'
    )


def test_fast_and_general_output_agree() -> None:
    module = settle_cli
    rng = np.random.default_rng(7)
    values = [rng.integers(0, 10**10, 50) for _ in range(7)]
    values[0][:5] = [0, 1, 99, 100, 10**10]
    from jkfp.engine.batch import BatchResult

    result = BatchResult(*values)
    ids = [f"id{i}" for i in range(50)]
    slow = (module.CSV_HEADER + "\n").encode() + module._format_csv_slow(ids, result)
    assert module.format_csv(ids, result) == slow
    assert module.format_csv(np.array([i.encode() for i in ids]), result) == slow


CELL = st.text(alphabet='ab1,. "\t\r\n结', max_size=4)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(CELL, min_size=0, max_size=11), max_size=6), st.booleans())
def test_fast_reader_equals_tabular(
    tmp_path_factory: pytest.TempPathFactory, rows: list[list[str]], crlf: bool
) -> None:
    path = tmp_path_factory.mktemp("csv") / "c.csv"
    newline = "\r\n" if crlf else "\n"
    path.write_text(newline.join([HEADER, *(",".join(r) for r in rows)]) + newline, encoding="utf-8")
    fast = settle_cli._fast_csv(path)
    if fast is None:
        return
    table = tabular.read_table(path, settle_cli.ALL_CLAIM_COLUMNS, COLUMN_ORDER)
    assert fast.row_numbers == table.row_numbers
    for name in COLUMN_ORDER:
        column = fast.columns[name]
        assert isinstance(column, TextColumn)
        assert [column.text(i) for i in range(len(column))] == table.columns[name]


ID_LIKE = st.one_of(
    st.builds(
        lambda region, born, serial: idnumber.make_id_number(region, born, serial),
        st.from_regex(re.compile(r"[0-9]{6}"), fullmatch=True),
        st.dates(min_value=date(1890, 1, 1), max_value=date(2030, 12, 31)),
        st.integers(0, 999),
    ),
    st.from_regex(re.compile(r"[0-9]{17}[0-9Xx]"), fullmatch=True),
    st.from_regex(re.compile(r"[0-9]{15}"), fullmatch=True),
    st.text(alphabet="0123456789Xx ", max_size=19),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(ID_LIKE, min_size=1, max_size=10))
def test_vectorised_id_check_agrees_with_core(values: list[str]) -> None:
    today = date(2026, 1, 1)
    column = TextColumn.from_strings(values)
    fast = settle_cli.fast_valid_ids(column, today).tolist()
    codes = settle_cli.check_person_ids(column, today=today)
    core = idnumber
    for i, value in enumerate(values):
        try:
            normal: str | None = core.validate_id_number(value, today=today)
        except core.IdNumberError:
            normal = None
        if fast[i]:
            assert normal == value
        if normal != value or not value:
            # invalid, or valid only after normalising (15 digits, lower-case x): settlement.md §1
            assert codes.code[i] == -1
            assert (i in codes.reasons) == bool(value)  # empty: reported as missing elsewhere
        else:
            assert codes.keys[int(codes.code[i])] == value
    # the same person written two ways gets one code
    if len(values) > 1:
        for i, a in enumerate(values):
            for j, b in enumerate(values):
                if codes.code[i] >= 0 and codes.code[j] >= 0:
                    assert (a == b) == (codes.code[i] == codes.code[j])


def test_fifteen_digit_and_lower_case_x_ids_are_invalid_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """settlement.md §1: the 18-character ID with upper-case X. Other spellings of the same person are
    invalid rows (column person_id), never normalised and merged into the person's year."""
    fifteen = "421321800101011"
    eighteen = idnumber.validate_id_number(fifteen)
    with_x = next(
        idnumber.make_id_number("421321", date(1980, 1, 1), k)
        for k in range(1000)
        if idnumber.make_id_number("421321", date(1980, 1, 1), k).endswith("X")
    )
    claims = _write(
        tmp_path / "c.csv",
        [
            f"E1,{fifteen},poor,2020-03-01,2,1,0,20000.00,1000.00",
            f"E2,{eighteen},poor,2020-06-01,3,0,1,150000.00,12000.00",
            f"E3,{with_x.lower()},poor,2020-03-01,2,1,0,20000.00,1000.00",
            f"E4,{with_x},poor,2020-06-01,3,0,1,150000.00,12000.00",
        ],
    )
    out = tmp_path / "o.csv"
    errors = tmp_path / "e.csv"
    args = ["--preset", "suixian-2020", "--claims", str(claims), "--out", str(out), "--errors", str(errors)]
    code, _, _ = run(args, capsys)
    assert code == 2
    assert not out.exists()
    report = errors.read_text(encoding="utf-8-sig").splitlines()
    assert report[1:] == [
        f"2,person_id,{fifteen},应为18位身份证号（不接受15位旧号码）,"
        "must be the 18-character ID number (15-digit numbers are not accepted)",
        f"4,person_id,{with_x.lower()},身份证号末位校验码 X 应为大写,"
        "the check character X of the ID number must be upper case",
    ]
    code, _, _ = run([*args, "--skip-invalid"], capsys)
    assert code == 0
    # E2 and E4 are settled as each person's first stay of the year (example 2 alone).
    lines = out.read_text(encoding="utf-8").splitlines()[1:]
    assert [line.split(",")[0] for line in lines] == ["E2", "E4"]
    assert lines[0] == lines[1].replace("E4", "E2", 1)
    assert not lines[0].endswith(",13332.00,3000.00")


def test_cli_batch_equals_reference_on_a_generated_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    core = idnumber
    rng = np.random.default_rng(11)
    persons = [core.make_id_number("421321", date(1950, 1, 1), k) for k in range(40)]
    rows = []
    for i in range(400):
        total = int(rng.integers(0, 30_000_000))
        oos = int(rng.integers(0, total + 1))
        rows.append(
            f"R{i},{persons[int(rng.integers(0, 40))]},{['tekun', 'dibao', 'poor', 'monitored', 'ordinary'][i % 5]},"
            f"2020-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d},{int(rng.integers(1, 4))},"
            f"{int(rng.integers(0, 2))},{int(rng.integers(0, 2))},{total // 100}.{total % 100:02d},{oos // 100}.{oos % 100:02d}"
        )
    claims = _write(tmp_path / "c.csv", rows)
    out = tmp_path / "o.csv"
    code, _, _ = run(["--preset", "suixian-2020", "--claims", str(claims), "--out", str(out)], capsys)
    assert code == 0
    policy = load_preset("suixian-2020")
    cells = settle_cli.read_cells(claims)
    validated = validate_claim_columns(cells.columns, cells.row_numbers, policy=policy)
    table: ClaimTable = validated.table
    reference = settle_claims(policy, [table.claim(i) for i in range(len(table))])
    lines = out.read_text(encoding="utf-8").splitlines()[1:]
    assert lines == [",".join([r.claim_id, *(f"{a:.2f}" for a in r.amounts)]) for r in reference]


def test_chinese_claim_ids_on_the_fast_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    claims = _write(
        tmp_path / "c.csv",
        [
            f"住院甲-1,{P1},poor,2020-03-01,2,1,0,20000.00,1000.00",
            f"住院乙-2,{P2},poor,2020-05-10,1,1,0,8000.00,800.00",
        ],
    )
    assert settle_cli._fast_csv(claims) is not None
    out = tmp_path / "out.csv"
    code, explained, _ = run(
        ["--preset", "suixian-2020", "--claims", str(claims), "--out", str(out), "--explain", "住院乙-2"],
        capsys,
    )
    assert code == 0
    assert explained.startswith("结算号 住院乙-2")
    assert out.read_text(encoding="utf-8").splitlines()[1:] == [
        "住院甲-1,20000.00,0.00,14800.00,0.00,2940.00,260.00,2000.00",
        "住院乙-2,7400.00,600.00,6300.00,0.00,630.00,0.00,470.00",
    ]


# --------------------------------------------------------------------------- review fixes


def _clean_claims(tmp_path: Path, count: int) -> Path:
    return _write(
        tmp_path / "c.csv",
        [f"X{i},{P1 if i % 2 else P2},poor,2020-03-{i + 1:02d},2,1,0,20000.00,1000.00" for i in range(count)],
    )


def test_xlsx_output_that_does_not_fit_a_sheet_is_refused_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settle_cli, "XLSX_MAX_ROWS", 4)  # the header and three rows
    claims = _clean_claims(tmp_path, 4)
    out = tmp_path / "o.xlsx"
    report = tmp_path / "e.csv"
    report.write_text("stale\n", encoding="utf-8")
    args = ["--preset", "suixian-2020", "--claims", str(claims), "--out", str(out), "--errors", str(report)]
    code, _, err = run(args, capsys)
    assert code == 2
    assert f"{out} has 4 rows, more than the 3 rows of an Excel sheet: use .csv" in err
    assert "超过 Excel 工作表的上限 3 行，请改用 .csv" in err
    assert not out.exists()
    assert report.read_text(encoding="utf-8") == "stale\n"  # nothing written at all
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv", "e.csv"]
    # Exactly at the limit: written, every row.
    code, _, err = run([*args[:3], str(_clean_claims(tmp_path, 3)), *args[4:]], capsys)
    assert code == 0, err
    from openpyxl import load_workbook

    opened = load_workbook(out, read_only=True)
    ids = [row[0] for row in opened.worksheets[0].values]
    opened.close()
    assert ids == ["结算号", "X0", "X1", "X2"]


def test_xlsx_error_report_that_does_not_fit_a_sheet_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settle_cli, "XLSX_MAX_ROWS", 2)
    claims = _write(tmp_path / "c.csv", [f"A{i},{P1},poor,2020-03-01,2,1,0,x,0" for i in range(2)])
    report = tmp_path / "e.xlsx"
    code, _, err = run(
        [
            "--preset",
            "suixian-2020",
            "--claims",
            str(claims),
            "--out",
            str(tmp_path / "o.csv"),
            "--errors",
            str(report),
        ],
        capsys,
    )
    assert code == 2
    assert f"error report {report} has 2 rows, more than the 1 rows of an Excel sheet: use .csv" in err
    assert not report.exists()


def test_xlsxwriter_refusals_are_not_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should xlsxwriter's own sheet limit be lower than ours, its −1 stops the write: no rows dropped."""
    import xlsxwriter.worksheet

    original = xlsxwriter.worksheet.Worksheet.__init__

    def small_sheet(self: xlsxwriter.worksheet.Worksheet) -> None:
        original(self)
        self.xls_rowmax = 3

    monkeypatch.setattr(xlsxwriter.worksheet.Worksheet, "__init__", small_sheet)
    claims = _clean_claims(tmp_path, 5)
    out = tmp_path / "o.xlsx"
    code, _, err = run(["--preset", "suixian-2020", "--claims", str(claims), "--out", str(out)], capsys)
    assert code == 2
    assert f"cannot write row 4 of workbook {out} (xlsxwriter returned -1): use .csv" in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv"]


@pytest.mark.parametrize("option", ["--out", "--errors"])
def test_bad_output_paths_are_refused_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, option: str
) -> None:
    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("the claims file must not be read")

    monkeypatch.setattr(settle_cli, "read_cells", no_work)
    claims = _clean_claims(tmp_path, 2)
    base = {"--out": str(tmp_path / "o.csv"), "--errors": str(tmp_path / "e.csv")}
    missing = tmp_path / "missing" / "x.csv"
    for bad, expected in (
        (missing, f"{option} {missing}: folder {missing.parent} does not exist"),
        (tmp_path, f"{option} {tmp_path} is a directory, not a file"),
    ):
        paths = {**base, option: str(bad)}
        code, _, err = run(["--preset", "suixian-2020", "--claims", str(claims), *_flat(paths)], capsys)
        assert code == 2
        assert expected in err
        assert "Traceback" not in err


def _flat(paths: dict[str, str]) -> list[str]:
    return [part for item in paths.items() for part in item]


@pytest.mark.parametrize("option", ["--out", "--errors"])
def test_os_errors_while_writing_are_clean_refusals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, option: str
) -> None:
    target = tmp_path / ("o.csv" if option == "--out" else "e.csv")
    real = settle_cli._write_atomic

    def failing(path: Path, data: bytes) -> None:
        if path == target:
            raise PermissionError(13, "Permission denied", str(path))
        real(path, data)

    monkeypatch.setattr(settle_cli, "_write_atomic", failing)
    claims = _clean_claims(tmp_path, 2)
    args = ["--preset", "suixian-2020", "--claims", str(claims)]
    args += ["--out", str(tmp_path / "o.csv"), "--errors", str(tmp_path / "e.csv")]
    code, _, err = run(args, capsys)
    assert code == 2
    assert f"cannot write {option} {target}: Permission denied" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", ["e.csv", "e.xlsx"])
def test_error_report_is_always_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    report = tmp_path / name
    report.write_bytes(b"stale report from an earlier run")
    claims = _clean_claims(tmp_path, 2)
    args = ["--preset", "suixian-2020", "--claims", str(claims), "--out", str(tmp_path / "o.csv")]
    code, _, err = run([*args, "--errors", str(report)], capsys)
    assert code == 0, err
    if name.endswith(".csv"):
        assert report.read_text(encoding="utf-8-sig") == "row,column,value,reason_zh,reason_en\n"
    else:
        from openpyxl import load_workbook

        opened = load_workbook(report, read_only=True)
        rows = list(opened.worksheets[0].values)
        opened.close()
        assert rows == [("行号", "列", "值", "原因", "reason")]


def test_error_report_values_as_written_and_formulas_neutralised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv

    from openpyxl import load_workbook

    attack = "-1+cmd|' /C calc'!A0"
    claims = _write(
        tmp_path / "c.csv",
        [
            f"A1,{P1},poor,2020-03-01,2,1,0,-5.00,0",
            f"A2,{P1},poor,2020-03-02,2,1,0,=1+1,0",
            f'A3,{P1},poor,2020-03-03,2,1,0,"{attack}",0',
            f"A4,{P1},poor,2020-03-04,-1,1,0,100.00,0",
            f"A5,{P1},poor,2020-03-05,2,1,0,+5,0",
        ],
    )
    args = ["--preset", "suixian-2020", "--claims", str(claims), "--out", str(tmp_path / "o.csv")]
    code, _, _ = run([*args, "--errors", str(tmp_path / "e.csv")], capsys)
    assert code == 2
    with (tmp_path / "e.csv").open(encoding="utf-8-sig", newline="") as handle:
        values = [row[2] for row in csv.reader(handle)][1:]
    assert values == ["-5.00", "'=1+1", "'" + attack, "-1", "'+5"]
    code, _, _ = run([*args, "--errors", str(tmp_path / "e.xlsx")], capsys)
    assert code == 2
    opened = load_workbook(tmp_path / "e.xlsx")
    cells = [row[2] for row in opened.worksheets[0].iter_rows(min_row=2)]
    opened.close()
    assert [c.value for c in cells] == ["-5.00", "=1+1", attack, "-1", "+5"]
    assert [c.data_type for c in cells] == ["s"] * 5  # strings, never formulas


# --------------------------------------------------------------------------- §6 and §7 (issue 19)

OPTIONAL_HEADER = HEADER + ",kind,disease,basic_paid,critical_paid"
P3 = "421321198001010336"


def test_section_8_examples_byte_for_byte(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """settlement.md §8: outpatient claims and a stay settled elsewhere, through the fast reader."""
    claims = EXAMPLES / "claims-section8.csv"
    assert settle_cli._fast_csv(claims) is not None
    out = tmp_path / "out.csv"
    code, explained, err = run(
        ["--preset", "suixian-2020", "--claims", str(claims), "--out", str(out), "--explain", "E6"], capsys
    )
    assert code == 0, err
    assert out.read_bytes() == (EXAMPLES / "expected-section8-suixian-2020.csv").read_bytes()
    assert explained.startswith("结算号 E6：2020-09-01 门诊慢特病（高血压）")
    assert "高血压年度限额 3000.00，已付 384.00，剩余 2616.00 → 2616.00" in explained


def test_chinese_headers_and_values_take_the_general_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = (
        "结算号,身份证号,结算类别,出院日期,医院等级,县域内,转诊备案,医疗总费用,目录外费用,"
        "就诊类别,病种,基本医保已付,大病保险已付"
    )
    rows = [
        f"E5,{P1},poor,2020-04-01,1,1,0,500.00,20.00,门诊,高血压,,",
        f'E6,{P1},poor,2020-09-01,1,1,0,"4000",0,门诊慢特病,高血压,,',
        f"E7,{P3},ordinary,2020-05-01,2,1,0,1000.00,50.00,门诊,2型糖尿病,,",
        f"E8,{P1},poor,2020-08-01,3,0,1,80000.00,6000.00,住院,,44400,15000.00",
    ]
    claims = _write(tmp_path / "c.csv", rows, header=header, encoding="gbk")
    assert settle_cli._fast_csv(claims) is None
    out = tmp_path / "out.csv"
    code, _, err = run(["--preset", "suixian-2020", "--claims", str(claims), "--out", str(out)], capsys)
    assert code == 0, err
    assert out.read_bytes() == (EXAMPLES / "expected-section8-suixian-2020.csv").read_bytes()
    # 类别 is accepted for the kind column as well.
    short = _write(
        tmp_path / "s.csv", [rows[0].replace("门诊", "outpatient")], header=header.replace("就诊类别", "类别")
    )
    code, _, err = run(["--preset", "suixian-2020", "--claims", str(short), "--out", str(out)], capsys)
    assert code == 0, err
    assert out.read_text(encoding="utf-8").splitlines()[1] == "E5,492.50,7.50,384.00,0.00,48.00,11.25,49.25"


def test_bad_outpatient_and_paid_rows_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 19's bad rows: an outpatient row without a known disease, a category without an
    outpatient block, only one of the two paid amounts, paid amounts above the in-scope cost."""
    policy = tmp_path / "p.toml"
    text = (ROOT / "jkfp/engine/presets/suixian-2020.toml").read_text(encoding="utf-8")
    start = text.index("[categories.monitored.outpatient]")
    end = text.index("[categories.ordinary.basic]")
    policy.write_text(text[:start] + text[end:], encoding="utf-8")
    claims = _write(
        tmp_path / "c.csv",
        [
            f"G1,{P1},poor,2020-03-01,1,1,0,500.00,0.00,outpatient,高血压,,",
            f"B1,{P1},poor,2020-03-02,1,1,0,500.00,0.00,outpatient,,,",
            f"B2,{P1},poor,2020-03-03,1,1,0,500.00,0.00,outpatient,感冒,,",
            f"B3,{P2},monitored,2020-03-04,1,1,0,500.00,0.00,outpatient,肺结核,,",
            f"B4,{P2},poor,2020-03-05,3,0,1,9000.00,1000.00,,,5000.00,",
            f"B5,{P2},poor,2020-03-06,3,0,1,9000.00,1000.00,,,5000.00,3000.01",
            f"G2,{P2},poor,2020-03-07,3,0,1,9000.00,1000.00,,,5000.00,3000.00",
        ],
        header=OPTIONAL_HEADER,
    )
    report = tmp_path / "errors.csv"
    out = tmp_path / "out.csv"
    args = ["--policy", str(policy), "--claims", str(claims), "--out", str(out), "--errors", str(report)]
    code, _, err = run(args, capsys)
    assert code == 2 and not out.exists()
    assert "5 invalid rows (5 errors)" in err
    lines = report.read_text(encoding="utf-8-sig").splitlines()[1:]
    assert [line.split(",")[:3] for line in lines] == [
        ["3", "disease", ""],
        ["4", "disease", "感冒"],
        ["5", "category", "monitored"],
        ["6", "critical_paid", ""],
        ["7", "critical_paid", "3000.01"],
    ]
    assert "an outpatient claim needs its disease" in lines[0]
    assert "not in the policy's outpatient_diseases" in lines[1]
    assert "has no outpatient block" in lines[2]
    assert "must both be given or both be empty" in lines[3]
    assert "exceed the in-scope cost (total − out_of_scope = 8000.00)" in lines[4]
    code, _, err = run([*args, "--skip-invalid"], capsys)
    assert code == 0, err
    assert [line.split(",")[0] for line in out.read_text(encoding="utf-8").splitlines()[1:]] == ["G1", "G2"]


def test_cli_batch_equals_reference_on_a_mixed_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A generated file of stays, outpatient claims and stays settled elsewhere: `jkfp settle` gives
    the reference's amounts for every claim."""
    rng = np.random.default_rng(19)
    persons = [idnumber.make_id_number("421321", date(1950, 1, 1), k) for k in range(30)]
    categories = ["tekun", "dibao", "poor", "monitored", "ordinary"]
    diseases = list(load_preset("suixian-2020").disease_names)
    rows = []
    for i in range(300):
        kind = ("outpatient", "inpatient", "inpatient")[i % 3]
        top = 800_000 if kind == "outpatient" else 30_000_000
        total = int(rng.integers(0, top))
        oos = int(rng.integers(0, total + 1)) // 4
        disease = diseases[int(rng.integers(0, len(diseases)))] if kind == "outpatient" else ""
        paid = ",,"
        if kind == "inpatient" and i % 2:
            basic = int(rng.integers(0, total - oos + 1))
            critical = int(rng.integers(0, total - oos - basic + 1))
            paid = f",{basic / 100:.2f},{critical / 100:.2f}"
        rows.append(
            f"M{i},{persons[int(rng.integers(0, 30))]},{categories[i % 5]},"
            f"2020-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d},{int(rng.integers(1, 4))},"
            f"{int(rng.integers(0, 2))},{int(rng.integers(0, 2))},{total / 100:.2f},{oos / 100:.2f},"
            f"{kind},{disease}{paid}"
        )
    claims = _write(tmp_path / "c.csv", rows, header=OPTIONAL_HEADER)
    out = tmp_path / "o.csv"
    code, _, err = run(["--preset", "suixian-2020", "--claims", str(claims), "--out", str(out)], capsys)
    assert code == 0, err
    policy = load_preset("suixian-2020")
    cells = settle_cli.read_cells(claims)
    table = validate_claim_columns(cells.columns, cells.row_numbers, policy=policy).table
    assert int(table.outpatient_mask().sum()) == 100 and int((table.paid_fen()[0] >= 0).sum()) == 100
    reference = settle_claims(policy, [table.claim(i) for i in range(len(table))])
    lines = out.read_text(encoding="utf-8").splitlines()[1:]
    assert lines == [",".join([r.claim_id, *(f"{a:.2f}" for a in r.amounts)]) for r in reference]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(CELL, min_size=0, max_size=14), max_size=5))
def test_fast_reader_equals_tabular_with_optional_columns(
    tmp_path_factory: pytest.TempPathFactory, rows: list[list[str]]
) -> None:
    path = tmp_path_factory.mktemp("csv") / "c.csv"
    path.write_text("\n".join([OPTIONAL_HEADER, *(",".join(r) for r in rows)]) + "\n", encoding="utf-8")
    fast = settle_cli._fast_csv(path)
    if fast is None:
        return
    table = tabular.read_table(path, settle_cli.ALL_CLAIM_COLUMNS, COLUMN_ORDER)
    assert fast.row_numbers == table.row_numbers
    assert set(fast.columns) == set(table.columns)
    for name, column in fast.columns.items():
        assert isinstance(column, TextColumn)
        assert [column.text(i) for i in range(len(column))] == table.columns[name]


def test_what_if_settles_claims_outside_the_policy_validity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 18 item 7: last year's claims under a new policy settle as if discharged in its year;
    the summary warns how many fall outside its validity (not an error)."""
    lines = (EXAMPLES / "claims.csv").read_text(encoding="utf-8").splitlines()
    old = tmp_path / "old.csv"  # every claim a year before suixian-2020's validity (2020)
    old.write_text("\n".join([lines[0], *(x.replace(",2020-", ",2019-") for x in lines[1:])]) + "\n", "utf-8")
    out = tmp_path / "out.csv"
    code, _, err = run(["--preset", "suixian-2020", "--claims", str(old), "--out", str(out)], capsys)
    assert code == 0, err
    # The same money to the fen as the claims dated inside the validity (the shipped example).
    assert out.read_bytes() == (EXAMPLES / "expected-suixian-2020.csv").read_bytes()
    outside = len(lines) - 1
    assert f"警告：{outside} 笔出院日期不在政策有效期" in err
    assert f"warning: {outside} claims discharged outside the policy's validity" in err
    # Claims inside the validity: no warning.
    code, _, err = run(
        ["--preset", "suixian-2020", "--claims", str(EXAMPLES / "claims.csv"), "--out", str(out)], capsys
    )
    assert code == 0
    assert "警告" not in err


def test_an_institution_column_makes_claim_ids_unique_per_institution(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """M4: claim ids are each institution's own. The worked examples with E3 and E4 both named "X"
    (two hospitals, two persons): with the institution_code column both settle, to the fen as the
    examples, and the output names each row's institution; without it the second X is a duplicate;
    the same X twice at one institution is still one."""
    rows = [line.split(",", 1) for line in (EXAMPLES / "claims.csv").read_text().splitlines()[1:]]
    expected = [
        line.split(",", 1) for line in (EXAMPLES / "expected-suixian-2020.csv").read_text().splitlines()
    ]
    institution = {"E1": "H001", "E2": "H900", "E3": "H002", "E4": "H003"}
    named = {"E3": "X", "E4": "X"}
    claims = _write(
        tmp_path / "c.csv",
        [f"{named.get(cid, cid)},{institution[cid]},{rest}" for cid, rest in rows],
        header="结算号,机构代码," + HEADER.split(",", 1)[1],
    )
    out = tmp_path / "out.csv"
    code, _, err = run(["--preset", "suixian-2020", "--claims", str(claims), "--out", str(out)], capsys)
    assert code == 0, err
    assert out.read_text(encoding="utf-8").splitlines() == [
        settle_cli.CSV_HEADER_INSTITUTION,
        *(f"{named.get(cid, cid)},{institution[cid]},{amounts}" for cid, amounts in expected[1:]),
    ]
    assert "settled 4 claims" in err
    # The workbook output has the column too.
    book = tmp_path / "out.xlsx"
    code, _, err = run(["--preset", "suixian-2020", "--claims", str(claims), "--out", str(book)], capsys)
    assert code == 0, err
    from openpyxl import load_workbook

    opened = load_workbook(book, read_only=True)
    table = [tuple(r) for r in opened.active.iter_rows(values_only=True)]
    opened.close()
    assert table[0][:3] == ("结算号", "机构代码", "计入结算费用")
    assert [r[:2] for r in table[1:]] == [("E1", "H001"), ("E2", "H900"), ("X", "H002"), ("X", "H003")]
    # --explain cannot tell the two X apart.
    code, _, err = run(
        ["--preset", "suixian-2020", "--claims", str(claims), "--out", str(out), "--explain", "X"], capsys
    )
    assert code == 2 and "2 claims (of different institutions)" in err
    # Without the column, the same file's second X is a duplicate, as before.
    plain = _write(tmp_path / "p.csv", [f"{named.get(cid, cid)},{rest}" for cid, rest in rows])
    report = tmp_path / "errors.csv"
    args = ["--preset", "suixian-2020", "--claims", str(plain), "--out", str(out), "--errors", str(report)]
    code, _, _ = run(args, capsys)
    assert code == 2
    assert report.read_text(encoding="utf-8-sig").splitlines()[1] == (
        "5,claim_id,X,结算号重复（与第4行相同）,duplicate claim_id (same as row 4)"
    )
    # With the column, the same id twice at one institution is a duplicate.
    twice = _write(
        tmp_path / "t.csv",
        [f"X,H002,{rows[2][1]}", f"X,H002,{rows[2][1]}"],
        header="claim_id,institution_code," + HEADER.split(",", 1)[1],
    )
    args = ["--preset", "suixian-2020", "--claims", str(twice), "--out", str(out), "--errors", str(report)]
    code, _, _ = run(args, capsys)
    assert code == 2
    assert report.read_text(encoding="utf-8-sig").splitlines()[1:] == [
        "3,claim_id,X,结算号重复（与第2行相同）,duplicate claim_id (same as row 2)"
    ]
