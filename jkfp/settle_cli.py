"""``jkfp settle``: settle a claims file under a policy (``settlement.md``), without the database.

    jkfp settle (--policy FILE | --preset NAME) --claims FILE --out FILE
                [--errors FILE] [--skip-invalid] [--explain CLAIM_ID]

The claims file has the columns of settlement.md §1 and, optionally, ``kind``/类别/就诊类别,
``disease``/病种 (outpatient claims, §6), ``basic_paid``/基本医保已付 and ``critical_paid``/大病保险已付
(stays settled elsewhere, §7) and ``institution_code``/机构代码 (claim ids unique per institution);
the engine's ``validate_claim_columns`` checks them. The output format is the same for every kind
of claim; with an ``institution_code`` column the institution code follows the claim id.

Exit status: 0 settled; 2 refused (bad policy, unreadable claims file, invalid rows without
``--skip-invalid``, unknown ``--explain`` claim, an ``--out``/``--errors`` path that cannot be
written, a workbook that would not fit one sheet); 1 internal error. ``--errors`` is always
written when given (only its header for a clean file). Imports stay light (no Django):
numpy, the engine and two pure modules of ``jkfp.core``; xlsxwriter only when writing a workbook.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from numpy.typing import NDArray

from jkfp.core import idnumber, tabular
from jkfp.core.clock import local_today
from jkfp.engine import (
    ALL_CLAIM_COLUMNS,
    OUTPUT_FIELDS,
    BatchResult,
    Policy,
    PolicyError,
    RowError,
    ValidatedClaims,
    load_policy,
    load_preset,
    preset_names,
    settle_batch,
    settle_claims,
    validate_claim_columns,
)
from jkfp.engine.claims import COLUMN_ORDER, ClaimIds, PersonCodes, TextColumn

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_REFUSED = 2
MAX_ERRORS_SHOWN = 50
# Rows of one worksheet (the header included): a workbook output must fit one sheet.
XLSX_MAX_ROWS = 1_048_576
# A cell that is a plain number (e.g. a negative amount) is written as it is, not neutralised.
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?", re.ASCII)

# Chinese headers of the workbook output, in the order of the CSV header.
OUTPUT_HEADERS_ZH = {
    "claim_id": "结算号",
    "institution_code": "机构代码",
    "counted_total": "计入结算费用",
    "hospital_absorbed": "医院承担（目录外超限）",
    "basic": "基本医保",
    "critical": "大病保险",
    "aid": "医疗救助",
    "supplementary": "补充医疗保险",
    "personal": "个人负担",
}
CSV_HEADER = ",".join(("claim_id", *OUTPUT_FIELDS))
# With an institution_code column in the claims file (claim ids unique per institution), the output
# names each claim by both: the institution code follows the claim id.
CSV_HEADER_INSTITUTION = ",".join(("claim_id", "institution_code", *OUTPUT_FIELDS))
ERROR_HEADER = ("row", "column", "value", "reason_zh", "reason_en")
ERROR_HEADERS_ZH = ("行号", "列", "值", "原因", "reason")


class Refused(Exception):
    """Input the command refuses; the message is already bilingual."""


@dataclass
class Cells:
    """The claims file as cells by canonical column."""

    columns: dict[str, list[str] | TextColumn]
    row_numbers: list[int]
    headers: dict[str, str]


# --------------------------------------------------------------------------- reading


def _fast_csv(path: Path) -> Cells | None:
    """A plain UTF-8 CSV as byte matrices (``tabular.read_plain_csv_bytes``), else None."""
    plain = tabular.read_plain_csv_bytes(path, ALL_CLAIM_COLUMNS, COLUMN_ORDER)
    if plain is None:
        return None
    columns: dict[str, list[str] | TextColumn] = {
        name: TextColumn(data=data, length=length) for name, (data, length) in plain.columns.items()
    }
    return Cells(columns=columns, row_numbers=plain.row_numbers, headers=plain.headers)


def read_cells(path: Path) -> Cells:
    """The claims file as cells: the fast path for plain CSV, else ``tabular.read_table``."""
    try:
        fast = _fast_csv(path)
        if fast is not None:
            return fast
        table = tabular.read_table(path, ALL_CLAIM_COLUMNS, COLUMN_ORDER)
    except tabular.TableError as exc:
        raise Refused(f"结算申请文件 {path}：{exc.zh} / claims file {path}: {exc.en}") from exc
    except OSError as exc:
        raise Refused(f"无法读取结算申请文件 {path}：{exc} / cannot read claims file {path}: {exc}") from exc
    columns: dict[str, list[str] | TextColumn] = dict(table.columns)
    return Cells(columns=columns, row_numbers=table.row_numbers, headers=table.headers)


# --------------------------------------------------------------------------- person IDs


def fast_valid_ids(column: TextColumn, today: date) -> NDArray[np.bool_]:
    """True only where ``idnumber.validate_id_number`` would accept the text unchanged (the vectorised
    GB 11643 of ``core.idnumber``, upper-case X only); everything else must go through
    ``validate_id_number`` itself, which gives the reason or normalises the text."""
    return _fast_checks(column, today)[0]


def _fast_checks(column: TextColumn, today: date) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """(``fast_valid_ids``, the person key: the first 17 digits where valid)."""
    n = len(column)
    if column.width < 18:
        return np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.int64)
    checks = idnumber.ids_check_bytes([column.data[j] for j in range(18)], column.length == 18, today)
    return checks.ok & ~checks.lower_x, checks.key


def _not_as_written(text: str) -> tuple[str, str]:
    """The reason for a valid ID that is not written as the 18-character form (settlement.md §1)."""
    if len(text) == 15:
        return (
            "应为18位身份证号（不接受15位旧号码）",
            "must be the 18-character ID number (15-digit numbers are not accepted)",
        )
    if text.endswith("x"):
        return ("身份证号末位校验码 X 应为大写", "the check character X of the ID number must be upper case")
    return ("身份证号应按18位、大写 X 书写", "the ID number must be written with 18 characters, upper-case X")


def check_person_ids(column: TextColumn, *, today: date | None = None) -> PersonCodes:
    """Person codes for a person-ID column: the vectorised check for plain IDs, ``validate_id_number``
    for the rest (its reason). ``settlement.md`` §1: the 18-character ID with upper-case X, so an
    ID that ``validate_id_number`` would have to normalise (15 digits, lower-case x) is invalid,
    never merged with its 18-character form. Persons are coded by the first 17 digits."""
    day = today or local_today()
    n = len(column)
    fast, body = _fast_checks(column, day)
    key = np.where(fast, body, -1)
    reasons: dict[int, tuple[str, str]] = {}
    normalised: dict[int, str] = {}
    seen: dict[str, int | tuple[str, str]] = {}
    for pos in np.flatnonzero(~fast & (column.length > 0)).tolist():
        text = column.text(pos)
        if text not in seen:
            try:
                value = idnumber.validate_id_number(text, today=day)
                if value != text:
                    seen[text] = _not_as_written(text)
                else:
                    seen[text] = int(value[:17])
                    normalised[int(value[:17])] = value
            except idnumber.IdNumberError as exc:
                seen[text] = (exc.zh, exc.en)
            except ValueError:  # a digit int() does not read (e.g. a superscript)
                seen[text] = ("身份证号含有非法字符", "ID number contains invalid characters")
        result = seen[text]
        if isinstance(result, int):
            key[pos] = result
        else:
            reasons[pos] = result
    valid = np.flatnonzero(key >= 0)
    unique, first, inverse = np.unique(key[valid], return_index=True, return_inverse=True)
    code = np.full(n, -1, dtype=np.int64)
    code[valid] = inverse.reshape(len(valid))
    first_rows = valid[first]
    raw = np.ascontiguousarray(column.data[:18, first_rows].T) if column.width >= 18 else None
    texts = raw.view("S18").reshape(len(first_rows)).astype("U18").tolist() if raw is not None else []
    keys = [
        normalised.get(k) or texts[i] if raw is not None else normalised[k]
        for i, k in enumerate(unique.tolist())
    ]
    return PersonCodes(code=code, reasons=reasons, keys=keys)


# --------------------------------------------------------------------------- writing


def _id_matrix(claim_ids: ClaimIds) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """Claim ids as a zero-padded UTF-8 byte matrix and the mask of their bytes."""
    if isinstance(claim_ids, np.ndarray):
        values = claim_ids
    else:
        values = np.array([c.encode("utf-8") for c in claim_ids], dtype=np.bytes_)
    n = len(values)
    width = max(1, values.dtype.itemsize)
    matrix = np.ascontiguousarray(values.astype(f"S{width}")).view(np.uint8).reshape(n, width)
    return matrix, matrix != 0  # validated ids hold no NUL byte


def _fen_texts(values: NDArray[np.int64]) -> list[str]:
    cents = [f".{i:02d}" for i in range(100)]
    sign = ["-" if v < 0 else "" for v in values.tolist()]
    magnitude = np.abs(values)
    yuan = (magnitude // 100).tolist()
    fraction = map(cents.__getitem__, (magnitude % 100).tolist())
    return [f"{s}{y}{c}" for s, y, c in zip(sign, yuan, fraction, strict=True)]


# _DIGIT_TABLES[k][v]: the k-th character of v written with four digits (v < 10000).
_DIGIT_TABLES = tuple(np.array([ord(f"{v:04d}"[k]) for v in range(10_000)], dtype=np.uint8) for k in range(4))


def format_csv(claim_ids: ClaimIds, result: BatchResult, institutions: Sequence[str] | None = None) -> bytes:
    """The output CSV (UTF-8, ``\\n`` line ends, amounts with two decimals) as bytes; with
    ``institutions`` (the claims file's institution_code column) an ``institution_code`` column
    after the claim id (written row by row).

    The rows are laid out in one byte matrix, by position (the id's bytes, then each amount's
    digits in groups of four from small lookup tables, leading zeros masked out), transposed and
    compacted with the mask: no Python string per cell.
    """
    n = len(claim_ids)
    if institutions is not None:
        return (CSV_HEADER_INSTITUTION + "\n").encode() + _format_csv_slow(claim_ids, result, institutions)
    head = (CSV_HEADER + "\n").encode()
    if n == 0:
        return head
    ids, id_mask = _id_matrix(claim_ids)
    columns = result.columns()
    special = np.isin(ids, np.frombuffer(b',"\r\n', dtype=np.uint8))
    if bool(special.any()) or any(bool((a < 0).any()) for a in columns):
        return head + _format_csv_slow(claim_ids, result)
    layout: list[tuple[NDArray[np.int64], int]] = []
    for amounts in columns:
        yuan = amounts // 100
        groups = max(1, -(-len(str(int(yuan.max()))) // 4))
        layout.append((yuan, groups))
    width = ids.shape[1] + sum(4 * groups + 4 for _, groups in layout) + 1
    matrix = np.empty((width, n), dtype=np.uint8)
    keep = np.ones((width, n), dtype=np.bool_)
    at = ids.shape[1]
    matrix[:at] = ids.T
    keep[:at] = id_mask.T
    for amounts, (yuan, groups) in zip(columns, layout, strict=True):
        digits = 4 * groups
        matrix[at] = ord(",")
        rest = yuan
        for g in range(groups - 1, -1, -1):
            part = rest % 10_000 if g else rest
            if g:
                rest = rest // 10_000
            for k in range(4):
                matrix[at + 1 + 4 * g + k] = _DIGIT_TABLES[k][part]
        for k in range(1, digits):  # leading zeros are dropped, the units digit is kept
            keep[at + k] = yuan >= 10 ** (digits - k)
        cents = amounts % 100
        matrix[at + digits + 1] = ord(".")
        matrix[at + digits + 2] = _DIGIT_TABLES[2][cents]
        matrix[at + digits + 3] = _DIGIT_TABLES[3][cents]
        at += digits + 4
    matrix[at] = ord("\n")
    body: bytes = np.ascontiguousarray(matrix.T)[np.ascontiguousarray(keep.T)].tobytes()
    return head + body


def _texts(claim_ids: ClaimIds) -> list[str]:
    if isinstance(claim_ids, np.ndarray):
        return [bytes(v).decode("utf-8") for v in claim_ids.tolist()]
    return list(claim_ids)


def _format_csv_slow(
    claim_ids: ClaimIds, result: BatchResult, institutions: Sequence[str] | None = None
) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    texts = [_fen_texts(a) for a in result.columns()]
    if institutions is None:
        writer.writerows(zip(_texts(claim_ids), *texts, strict=True))
    else:
        writer.writerows(zip(_texts(claim_ids), institutions, *texts, strict=True))
    return buffer.getvalue().encode("utf-8")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _too_many_rows(path: Path, rows: int, what_zh: str, what_en: str) -> Refused:
    limit = XLSX_MAX_ROWS - 1
    return Refused(
        f"{what_zh} {path} 有 {rows} 行，超过 Excel 工作表的上限 {limit} 行，请改用 .csv / "
        f"{what_en} {path} has {rows} rows, more than the {limit} rows of an Excel sheet: use .csv"
    )


def check_fits_sheet(path: Path, rows: int, what_zh: str, what_en: str) -> None:
    """Refuse a workbook ``path`` whose ``rows`` data rows (plus the header) do not fit one sheet."""
    if path.suffix.lower() == ".xlsx" and rows + 1 > XLSX_MAX_ROWS:
        raise _too_many_rows(path, rows, what_zh, what_en)


def _checked(code: int, path: Path, row: int) -> None:
    """xlsxwriter's write_* return 0, or −1 (outside the sheet) / −2 (text cut): never ignored."""
    if code != 0:
        raise Refused(
            f"无法写入工作簿 {path} 第 {row + 1} 行（xlsxwriter 返回 {code}），请改用 .csv / "
            f"cannot write row {row + 1} of workbook {path} (xlsxwriter returned {code}): use .csv"
        )


def _discard(workbook: Any, tmp: Path) -> None:
    """After a failed write: close the workbook (its temporary files) and remove the partial file."""
    if not workbook.fileclosed:
        with contextlib.suppress(Exception):
            workbook.close()
    if tmp.exists():
        tmp.unlink()


def safe_text(value: str) -> str:
    """Neutralise formula text for a CSV cell (``tabular.safe_cell``), but keep a plain number such
    as ``-5.00`` as written."""
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    safe: str = tabular.safe_cell(value)
    return safe


def write_output(
    path: Path, claim_ids: ClaimIds, result: BatchResult, institutions: Sequence[str] | None = None
) -> None:
    """CSV with the header of settlement.md, or a workbook with Chinese headers for ``.xlsx``;
    with ``institutions`` the institution code follows the claim id."""
    if path.suffix.lower() != ".xlsx":
        _write_atomic(path, format_csv(claim_ids, result, institutions))
        return
    check_fits_sheet(path, len(claim_ids), "结算结果", "output")
    import xlsxwriter  # noqa: PLC0415 (a heavy library, loaded only when a file is written)

    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.xlsx")
    workbook = xlsxwriter.Workbook(str(tmp), {"constant_memory": True})
    try:
        sheet = workbook.add_worksheet("结算结果")
        bold = workbook.add_format({"bold": True})
        money = workbook.add_format({"num_format": "0.00"})
        extra = ("institution_code",) if institutions is not None else ()
        for col, name in enumerate(("claim_id", *extra, *OUTPUT_FIELDS)):
            _checked(sheet.write_string(0, col, OUTPUT_HEADERS_ZH[name], bold), path, 0)
        columns = [a.tolist() for a in result.columns()]
        for row, claim_id in enumerate(_texts(claim_ids), start=1):
            code = sheet.write_string(row, 0, claim_id)
            if institutions is not None:
                code |= sheet.write_string(row, 1, institutions[row - 1])
            for col, values in enumerate(columns, start=1 + len(extra)):
                # A workbook cell holds a binary double; amounts below 2^53 fen convert exactly
                # enough to show the same two decimals.
                code |= sheet.write_number(row, col, values[row - 1] / 100, money)
            if code:
                _checked(code, path, row)
        workbook.close()
        os.replace(tmp, path)
    finally:
        _discard(workbook, tmp)


def write_errors(path: Path, errors: Sequence[RowError]) -> None:
    """The error report: CSV (UTF-8 with BOM, for Excel) or a workbook for ``.xlsx``; only the
    header when there are no errors. Values are written as they are: a plain number as text, formula
    text with an apostrophe in CSV and as a string cell (never a formula) in a workbook."""
    rows = [(str(e.row), e.column, e.value, e.zh, e.en) for e in errors]
    if path.suffix.lower() == ".xlsx":
        check_fits_sheet(path, len(rows), "错误报告", "error report")
        import xlsxwriter  # noqa: PLC0415 (a heavy library, loaded only when a file is written)

        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.xlsx")
        workbook = xlsxwriter.Workbook(str(tmp))
        try:
            sheet = workbook.add_worksheet("错误")
            for col, name in enumerate(ERROR_HEADERS_ZH):
                _checked(sheet.write_string(0, col, name), path, 0)
            for r, row in enumerate(rows, start=1):
                _checked(sheet.write_number(r, 0, int(row[0])), path, r)
                for col in range(1, 5):
                    _checked(sheet.write_string(r, col, row[col]), path, r)
            workbook.close()
            os.replace(tmp, path)
        finally:
            _discard(workbook, tmp)
        return
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ERROR_HEADER)
    writer.writerows([(r[0], r[1], safe_text(r[2]), r[3], r[4]) for r in rows])
    _write_atomic(path, buffer.getvalue().encode("utf-8-sig"))


def print_errors(errors: Sequence[RowError], stream: TextIO) -> None:
    for error in errors[:MAX_ERRORS_SHOWN]:
        print(f"  {error}", file=stream)
    if len(errors) > MAX_ERRORS_SHOWN:
        hidden = len(errors) - MAX_ERRORS_SHOWN
        print(f"  …… 另有 {hidden} 处错误未显示 / {hidden} more errors not shown", file=stream)


def institution_codes(cells: Cells, validated: ValidatedClaims) -> list[str] | None:
    """The institution_code cell of each settled claim, when the claims file has that column."""
    column = cells.columns.get("institution_code")
    if column is None:
        return None
    rows = validated.source_index.tolist()
    if isinstance(column, TextColumn):
        return [column.text(i) for i in rows]
    return [column[i] for i in rows]


# --------------------------------------------------------------------------- explain


def explain(policy: Policy, validated: ValidatedClaims, result: BatchResult, claim_id: str) -> list[str]:
    """The reference trace of one claim, settled with the claims of the same person and year."""
    table = validated.table
    ids = table.claim_id
    if isinstance(ids, np.ndarray):
        found = np.flatnonzero(ids == claim_id.encode("utf-8")).tolist()
        position = found[0] if found else None
    else:
        position = next((i for i, c in enumerate(ids) if c == claim_id), None)
    if position is None:
        raise Refused(
            f"--explain：没有结算号为“{claim_id}”的有效结算申请 / --explain: no valid claim with id {claim_id!r}"
        )
    count = int(np.count_nonzero(ids == claim_id.encode("utf-8"))) if isinstance(ids, np.ndarray) else 0
    if count > 1:  # two institutions' claims with this id (the file's institution_code column)
        raise Refused(
            f"--explain：结算号“{claim_id}”有 {count} 笔（不同机构），无法确定是哪一笔 / "
            f"--explain: {count} claims (of different institutions) have id {claim_id!r}"
        )
    target = table.claim(position)
    same = np.flatnonzero(table.person == table.person[position])
    claims = [table.claim(i) for i in same.tolist()]
    claims = [c for c in claims if c.year == target.year]
    settled = settle_claims(policy, claims, trace=True)
    mine = next(s for s in settled if s.claim_id == claim_id)
    if mine.amounts_fen != result.row(position):
        raise RuntimeError(
            f"reference and batch differ on claim {claim_id}: {mine.amounts_fen} vs {result.row(position)}"
        )
    return list(mine.trace)


# --------------------------------------------------------------------------- command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jkfp settle",
        description="一站式结算：按政策结算住院结算申请文件 / settle a claims file under a policy",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--policy", type=Path, metavar="FILE", help="政策文件 policy file (.toml/.json)")
    source.add_argument("--preset", metavar="NAME", help=f"预置政策 preset: {', '.join(preset_names())}")
    parser.add_argument(
        "--claims", type=Path, required=True, metavar="FILE", help="结算申请 claims (.csv/.xlsx)"
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="结算结果 output (.csv/.xlsx)"
    )
    parser.add_argument("--errors", type=Path, metavar="FILE", help="错误报告 error report (.csv/.xlsx)")
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="跳过错误行，结算其余 / settle the valid rows, skip the rest",
    )
    parser.add_argument(
        "--explain", metavar="CLAIM_ID", help="打印该笔的计算过程 / print the trace of one claim"
    )
    return parser


def check_target(path: Path, option: str) -> None:
    """Refuse an output path that cannot be written: its folder is missing, or it is a folder."""
    if path.is_dir():
        raise Refused(f"{option} {path} 是一个文件夹，应为文件 / {option} {path} is a directory, not a file")
    if not path.parent.is_dir():
        raise Refused(
            f"{option} {path} 所在的文件夹 {path.parent} 不存在 / "
            f"{option} {path}: folder {path.parent} does not exist"
        )


def _write(path: Path, option: str, write: Callable[[], None]) -> None:
    """Run ``write``; an OSError becomes a refusal naming the path."""
    try:
        write()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise Refused(f"无法写入 {option} {path}：{reason} / cannot write {option} {path}: {reason}") from exc


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_target(args.out, "--out")
        if args.errors is not None:
            check_target(args.errors, "--errors")
        return _run(args)
    except Refused as exc:
        print(f"错误 error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except BrokenPipeError:  # e.g. `--explain X | head`: the output file is already written
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    try:
        policy = load_preset(args.preset) if args.preset else load_policy(args.policy)
    except PolicyError as exc:
        lines = "\n".join(f"  {p}" for p in exc.problems)
        raise Refused(
            f"政策不合法 / invalid policy{' ' + exc.source if exc.source else ''}:\n{lines}"
        ) from exc

    cells = read_cells(args.claims)
    validated = validate_claim_columns(
        cells.columns,
        cells.row_numbers,
        policy=policy,
        check_person_ids=check_person_ids,
        headers=cells.headers,
        any_date=True,  # what-if: the named policy applies to every claim whatever its dates
    )
    errors = validated.errors
    settles = not errors or args.skip_invalid
    # Refuse a workbook that cannot hold its rows before anything is settled or written.
    if args.errors is not None:
        check_fits_sheet(args.errors, len(errors), "错误报告", "error report")
    if settles:
        check_fits_sheet(args.out, len(validated.table), "结算结果", "output")
    if args.errors is not None:
        # Always written, header only for a clean file: a stale report never survives.
        _write(args.errors, "--errors", lambda: write_errors(args.errors, errors))
    if errors:
        bad_rows = len({e.row for e in errors})
        where = f"，详见 {args.errors} / see {args.errors}" if args.errors else ""
        print(
            f"结算申请文件有 {bad_rows} 行错误（共 {len(errors)} 处）{where} / "
            f"{bad_rows} invalid rows ({len(errors)} errors) in the claims file",
            file=sys.stderr,
        )
        if not args.errors:
            print_errors(errors, sys.stderr)
        if not settles:
            print(
                "未写出结算结果（可用 --skip-invalid 跳过错误行）/ no output written (use --skip-invalid)",
                file=sys.stderr,
            )
            return EXIT_REFUSED

    result = settle_batch(policy, validated.table)
    trace = explain(policy, validated, result, args.explain) if args.explain else None
    institutions = institution_codes(cells, validated)
    _write(args.out, "--out", lambda: write_output(args.out, validated.table.claim_id, result, institutions))
    if trace is not None:
        print("\n".join(trace))
    if validated.outside_validity:
        print(
            f"警告：{validated.outside_validity} 笔出院日期不在政策有效期（{policy.valid_from} 至 "
            f"{policy.valid_to}）内，仍按该政策试算 / warning: {validated.outside_validity} claims "
            f"discharged outside the policy's validity ({policy.valid_from} to {policy.valid_to}), "
            "settled under it anyway (what-if)",
            file=sys.stderr,
        )
    print(
        f"已结算 {len(validated.table)} 笔（政策 {policy.name}），结果写入 {args.out} / "
        f"settled {len(validated.table)} claims under {policy.name}, wrote {args.out}",
        file=sys.stderr,
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
