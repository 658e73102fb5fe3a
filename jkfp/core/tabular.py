"""表格文件 Reading CSV/XLSX uploads into columns and writing safe spreadsheet cells.

Pure Python (no Django): the settlement command and every import use it.
CSV: UTF-8 (with or without BOM), else GB18030 (a superset of GBK, what Excel writes on a
Chinese Windows). XLSX/XLS/ODS: the first sheet, read with python-calamine (about 15× faster
than openpyxl read-only, see performance.md). Every file is read within the limits of
``core/tablebounds.py`` (inflated size, rows, columns, cell length), checked before and while reading.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from operator import itemgetter
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jkfp.core import tabular_map
from jkfp.core.tablebounds import (
    TableLimits,
    cell_problem,
    columns_problem,
    csv_problem,
    rows_problem,
    table_limits,
    workbook_problem,
    zip_problem,
)

DEFAULT_MAX_BYTES = 1024 * 1024 * 1024
PREVIEW_ROWS = 20  # the rows a web import's preview shows
SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods"}
ZIP_SUFFIXES = {".xlsx", ".xlsm", ".ods"}
CSV_SUFFIXES = {".csv"}
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class TableError(ValueError):
    """表格无法读取 A file that cannot be read as a table (the whole file is refused)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en

    @classmethod
    def check(cls, problem: tuple[str, str] | None) -> None:
        """Raise the (Chinese, English) ``problem`` of a ``tablebounds`` check, if any."""
        if problem is not None:
            raise cls(*problem)


# The first cell of a spreadsheet ledger's totals row: the table ends above it.
FOOTER_MARK = "合计"


class NeedsMapping(TableError):
    """需要映射 In a web import (``tabular_map.reading(interactive=True)``): the file needs the mapping
    step — its header lacks required columns, has columns nobody mapped, or values are not accepted.

    ``header_row``: the header's row number (or the likeliest one); ``missing``: canonical names of
    the missing required columns; ``unknown_headers``: headers as written; ``unknown_values``:
    canonical → values not accepted.
    """

    def __init__(
        self,
        *,
        header_row: int,
        missing: list[str] | None = None,
        unknown_headers: list[str] | None = None,
        unknown_values: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__("文件需要先对应列和值（映射）", "the file needs a column and value mapping first")
        self.header_row = header_row
        self.missing = missing or []
        self.unknown_headers = unknown_headers or []
        self.unknown_values = unknown_values or {}


@dataclass
class Table:
    """按列存放的表格 A table held by column: canonical name → cell texts."""

    columns: dict[str, list[str]]
    row_numbers: list[int]
    headers: dict[str, str] = field(default_factory=dict)  # canonical → header as written
    ignored_headers: list[str] = field(default_factory=list)
    encoding: str = ""
    # What the reader knows of every cell (``validate_columns`` then skips column scans):
    # (hints, not content: equal tables may differ in them)
    printable: bool = field(default=False, compare=False)  # no cell holds a non-printable character
    no_start: str = field(default="", compare=False)  # no cell starts with one of these characters
    length_bounds: dict[str, int] = field(default_factory=dict, compare=False)  # name → ≥ cell lengths

    def __len__(self) -> int:
        return len(self.row_numbers)

    def rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        """逐行 (row number, {canonical: text}) for each data row."""
        names = list(self.columns)
        cols = [self.columns[n] for n in names]
        for i, rownum in enumerate(self.row_numbers):
            yield rownum, {n: c[i] for n, c in zip(names, cols, strict=True)}


def _normalise_header(text: str) -> str:
    """Headers match after NFKC, without BOM and white space, case-insensitively."""
    return tabular_map.normalise_header(text)


def _header_lookup(columns: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Normalised spelling → canonical name, for ``columns`` (canonical → accepted spellings) and
    the running import's mapping (``tabular_map.reading``)."""
    try:
        return tabular_map.header_lookup(columns, tabular_map.current().mapping)
    except tabular_map.MappingError as exc:
        raise TableError(exc.zh, exc.en) from exc


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def decode_bytes(data: bytes) -> tuple[str, str]:
    """解码 Decode CSV bytes: UTF-8 (BOM or not), else GB18030. Returns (text, encoding)."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gbk"
    except UnicodeDecodeError as exc:
        raise TableError(
            f"文件编码无法识别（既不是UTF-8也不是GBK），第{exc.start}字节附近",
            f"file encoding not recognised (neither UTF-8 nor GBK), near byte {exc.start}",
        ) from exc


def _csv_rows(
    path: Path, limits: TableLimits, keep: list[tuple[str, bytes]] | None = None
) -> tuple[Iterator[Sequence[Any]], str, _Split | None]:
    """(rows by ``csv.reader``, encoding, the plain split or None); the reader only when not plain.

    The reader's ``StringIO`` would copy the whole text, for nothing when the split applies. Without
    quotes every line end ends a record: too many lines are refused before anything is decoded.
    """
    raw = path.read_bytes()
    if b'"' not in raw:
        TableError.check(rows_problem(raw.count(b"\n") - 1, limits))
    text, encoding = decode_bytes(raw)
    first_line = text[: text.find("\n") if "\n" in text else len(text)]
    delimiter = _sniff_delimiter(text)
    TableError.check(columns_problem(first_line.count(delimiter) + 1, limits))
    csv.field_size_limit(limits.max_cell_chars)
    split = _split_plain(text, delimiter, raw)
    if keep is not None:  # the caller may look below title rows in the same text
        keep.append((text, raw))
    if split is not None:
        return iter(()), encoding, split
    return _text_reader(text, delimiter), encoding, None


def _text_reader(text: str, delimiter: str) -> Iterator[Sequence[Any]]:
    """``csv.reader`` over ``text``, its ``StringIO`` (a copy of the whole text, four bytes a character)
    made only when the first row is asked for: not at all when a split below title rows applies."""
    yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


@dataclass
class _Split:
    """A plain CSV split in one pass: the header cells and every data cell, row after row.

    The data cells are ``cells[offset : offset + width * rows]``. ``clean``: no cell holds a
    non-printable character or a space, so no cell needs ``str.strip`` (and none holds a control
    character). ``bounds``: for each column position, an upper bound of the length of its data
    cells (their length in bytes; empty when not computed).
    """

    header: list[str]
    cells: list[str]
    width: int
    rows: int
    offset: int = 0
    clean: bool = False
    bounds: list[int] = field(default_factory=list)
    no_start: str = ""  # characters that occur nowhere in the file (so no cell starts with one)


def _separators(raw: bytes, delimiter: str, start: int = 0) -> np.ndarray:
    """Positions of the delimiters and line ends in ``raw[start:]`` (counted from ``start``; no copy
    of the bytes), without a final line end.

    The delimiter and ``\n`` are ASCII below 0x40: in UTF-8 and in GB18030 such a byte is always that
    character (never part of a multi-byte character), so byte positions tell the lines and cells.
    """
    d = ord(delimiter)
    arr = np.frombuffer(raw, dtype=np.uint8)[start:]
    if raw.endswith(b"\n"):
        arr = arr[:-1]
    top = max(d, 10)
    if top <= 44:  # one comparison picks both (and a few other rare low characters, dropped below)
        at = np.flatnonzero(arr <= top)
        found = arr[at]
        at = at[(found == 10) | (found == d)]
    else:
        at = np.flatnonzero((arr == 10) | (arr == d))
    return at


def _split_plain(
    text: str, delimiter: str, raw: bytes | None = None, *, start: int = 0, start_byte: int = 0
) -> _Split | None:
    """The cells of a plain CSV (no quotes, ``\n`` line ends, every line as wide as the header).

    Such a file means the same to ``csv.reader`` as to ``str.split``, which cuts the whole text at
    once (no list per row); anything else returns None and goes through ``csv.reader``. ``raw`` is
    the file's bytes (``text`` decoded), where the line widths are checked with numpy. The table
    starts at character ``start`` of ``text`` (byte ``start_byte`` of ``raw``), a line start: the
    lines above it (title rows) are neither copied nor checked, their cells are skipped by ``offset``.
    """
    if raw is None:
        raw = text.encode("utf-8", "surrogatepass")
    if (
        raw.find(b'"', start_byte) >= 0
        or raw.find(b"\r", start_byte) >= 0
        or raw.find(b"\x00", start_byte) >= 0
    ):
        return None
    body_end = len(text) - 1 if text.endswith("\n") else len(text)
    end = text.find("\n", start, body_end)
    if end < 0:
        return None
    header = text[start:end].split(delimiter)
    if not any(_cell_text(c) for c in header):
        return None
    width = len(header)
    if width == 1:
        if delimiter in text:
            return None
        cells = text[end + 1 : body_end].split("\n")
        return _Split(header=header, cells=cells, width=1, rows=len(cells))
    at = _separators(raw, delimiter, start_byte)
    lines = (len(at) + 1) // width
    if len(at) != lines * width - 1:
        return None
    codes = np.frombuffer(raw, dtype=np.uint8)[start_byte:][at]
    if (codes[width - 1 :: width] != 10).any() or np.count_nonzero(codes == 10) != lines - 1:
        return None
    # Cell byte lengths (≥ character lengths): from one separator (or line start) to the next.
    full = np.append(at, len(raw) - start_byte - raw.endswith(b"\n")).reshape(lines, width)
    data_ends = full[1:]
    starts = np.empty_like(data_ends)
    starts[:, 0] = full[:-1, -1] + 1
    starts[:, 1:] = data_ends[:, :-1] + 1
    bounds = (data_ends - starts).max(axis=0).tolist() if lines > 1 else [0] * width
    flat = text.replace("\n", delimiter)
    above = flat.count(delimiter, 0, start)  # the cells of the lines above the table
    cells = flat.split(delimiter)
    # (Over the title rows too: a space or a character there only takes these hints away.)
    clean = " " not in flat and flat.isprintable()
    no_start = "".join(c for c in "=+-@" if c not in flat) if clean else ""
    return _Split(
        header=header,
        cells=cells,
        width=width,
        rows=lines - 1,
        offset=above + width,
        clean=clean,
        bounds=bounds,
        no_start=no_start,
    )


def _sheet_rows(path: Path, limits: TableLimits) -> Iterator[Sequence[Any]]:
    from python_calamine import CalamineWorkbook  # noqa: PLC0415 (a heavy library, loaded only when a file is written)

    if (
        path.suffix.lower() in ZIP_SUFFIXES
    ):  # its parts' sizes, declared and real, before calamine unpacks them
        TableError.check(zip_problem(path, limits))
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheet = workbook.get_sheet_by_index(0)
    except Exception as exc:  # calamine raises several error types for a damaged file: ours instead
        raise TableError(*workbook_problem(exc)) from exc
    TableError.check(rows_problem(sheet.height - 1, limits) or columns_problem(sheet.width, limits))
    return iter(sheet.iter_rows())


def read_table(
    path: str | Path,
    columns: dict[str, tuple[str, ...]],
    required: Iterable[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    values: Mapping[str, Mapping[str, str]] | None = None,
    limits: TableLimits | None = None,
    accepted: Mapping[str, Collection[str]] | None = None,
) -> Table:
    """读取表格 Read the first sheet of a CSV/XLSX file into canonical columns.

    The header is the first of the first 10 non-empty rows that names every ``required`` column
    (rows above it are ignored, a warning each). Headers are matched after NFKC, case- and
    space-insensitively against ``columns`` (canonical → accepted spellings) and the running
    import's mapping (``tabular_map.reading``); unknown headers are ignored and listed. Blank rows
    are skipped; every cell becomes stripped text, normalised (NFKC, no doubled spaces: each
    changed cell a warning), then mapped by ``values`` (canonical → {file value: accepted value},
    the import's synonyms) and the mapping's values. ``accepted`` (canonical → accepted values) is
    what a web import's mapping step offers for values outside it. ``limits``: this process's
    (``tablebounds.table_limits``) unless given; a file beyond them is refused with a TableError.
    """
    table = _read_table(path, columns, set(required), max_bytes, limits or table_limits())
    return _finish(table, columns, values, accepted)


def _finish(
    table: Table,
    columns: dict[str, tuple[str, ...]],
    values: Mapping[str, Mapping[str, str]] | None,
    accepted: Mapping[str, Collection[str]] | None = None,
) -> Table:
    """Normalise every read cell and apply the value synonyms and mapping (issue 18 items 2–4)."""
    context = tabular_map.current()
    started = perf_counter()
    try:
        return _finish_timed(table, columns, values, accepted, context)
    finally:
        context.seconds += perf_counter() - started


def _finish_timed(
    table: Table,
    columns: dict[str, tuple[str, ...]],
    values: Mapping[str, Mapping[str, str]] | None,
    accepted: Mapping[str, Collection[str]] | None,
    context: tabular_map.ReadContext,
) -> Table:
    maps = tabular_map.value_maps(columns, values, context.mapping)
    changed = 0
    for name, column in table.columns.items():
        table.columns[name], count = tabular_map.normalise_column(column)
        changed += count
    if changed:
        context.warn(
            f"{changed}个单元格已规范化（全角转半角、去除多余空格）/ {changed} cells normalised "
            "(full-width to half-width, extra spaces)",
            changed,
        )
    for name, mapped in maps.items():
        if name in table.columns and mapped:
            origins = context.mapped_from.setdefault(name, {})
            table.columns[name] = tabular_map.map_values(table.columns[name], mapped, origins)
    context.headers = dict(table.headers)
    if context.interactive:
        names = list(table.columns)
        context.preview = [
            {name: table.columns[name][i] for name in names} for i in range(min(PREVIEW_ROWS, len(table)))
        ]
        purpose = tabular_map.ignored_on_purpose(context.mapping)
        unknown = [h for h in table.ignored_headers if tabular_map.normalise_header(h) not in purpose]
        bad_values = {
            name: found
            for name, allowed in (accepted or {}).items()
            if name in table.columns and (found := tabular_map.unknown_values(table.columns[name], allowed))
        }
        if unknown or bad_values:
            raise NeedsMapping(
                header_row=context.header_row, unknown_headers=unknown, unknown_values=bad_values
            )
    return table


def _read_table(
    path: str | Path,
    columns: dict[str, tuple[str, ...]],
    required: set[str],
    max_bytes: int,
    limits: TableLimits,
) -> Table:
    path = Path(path)
    if path.is_dir():
        raise TableError(f"{path} 是文件夹，不是文件", f"{path} is a directory, not a file")
    if not path.is_file():
        raise TableError(f"文件不存在：{path}", f"file not found: {path}")
    size = path.stat().st_size
    if size > max_bytes:
        raise TableError(
            f"文件过大（{size // (1024 * 1024)} MB，上限 {max_bytes // (1024 * 1024)} MB）",
            f"file too large ({size // (1024 * 1024)} MB, limit {max_bytes // (1024 * 1024)} MB)",
        )
    suffix = path.suffix.lower()
    encoding = ""
    if suffix in SPREADSHEET_SUFFIXES:
        rows = _sheet_rows(path, limits)
        encoding = "xlsx"
    elif suffix in CSV_SUFFIXES:
        kept: list[tuple[str, bytes]] = []
        rows, encoding, split = _csv_rows(path, limits, kept)
        if split is not None:
            started = perf_counter()
            plain_header = _names_required(split.header, columns, required)
            tabular_map.current().seconds += perf_counter() - started
            if plain_header:
                kept.clear()  # the text and bytes live on only in the split's cells
                tabular_map.current().header_row = 1
                return _build_split(split, columns, required, encoding, limits)
        had_split, split = split is not None, None  # cells split from a title row on: of no use
        # Title rows above the header: a plain file below them still takes the plain split.
        text, raw = kept.pop()
        below = _split_below_titles(text, raw, encoding, columns, required)
        del text, raw
        if below is not None:
            del rows  # never started (``_text_reader``): the text goes with it
            split, header_row, titles = below
            context = tabular_map.current()
            context.header_row = header_row
            for number in titles:
                context.warn(f"第{number}行在表头之上，已忽略 / row {number} above the header ignored")
            return _build_split(split, columns, required, encoding, limits, header_row=header_row)
        if had_split:
            rows = _csv_reader(path)  # the general path finds the header (or says what is missing)
    else:
        raise TableError(
            f"不支持的文件类型“{suffix}”，请上传 .csv 或 .xlsx",
            f"unsupported file type '{suffix}', use .csv or .xlsx",
        )
    return _build(rows, columns, required, encoding, limits, text_cells=suffix in CSV_SUFFIXES)


def _build_text(
    rows: Iterator[Sequence[Any]],
    positions: dict[str, int],
    rownum: int,
    written: dict[str, str],
    ignored: list[str],
    encoding: str,
    limits: TableLimits,
) -> Table:
    """The data rows of a CSV (every cell already ``str``): column by column in C, no call per cell.

    Same result as the general loop of ``_build``: stripped texts, missing cells as "", rows whose
    read columns are all blank skipped, row numbers counted in CSV records.
    """
    data: list[Sequence[str]] = []
    try:
        data.extend(rows)
    except csv.Error as exc:
        bad = rownum + len(data) + 1  # the record being read (CSV records, as the row numbers count)
        raise TableError(*csv_problem(bad, exc, limits)) from exc
    n = len(data)
    TableError.check(rows_problem(n, limits) or columns_problem(max(map(len, data), default=0), limits))
    short = min(map(len, data), default=0) <= max(positions.values(), default=-1)
    out: dict[str, list[str]] = {}
    for name, index in positions.items():
        if short:
            column = [row[index] if index < len(row) else "" for row in data]
        else:
            column = list(map(itemgetter(index), data))
        out[name] = list(map(str.strip, column))
    del data
    numbers = list(range(rownum + 1, rownum + 1 + n))
    return _drop_blank(out, numbers, written, ignored, encoding)


def _drop_blank(
    out: dict[str, list[str]], numbers: list[int], written: dict[str, str], ignored: list[str], encoding: str
) -> Table:
    """Drop the rows whose read columns are all blank (row numbers kept as in the file)."""
    n = len(numbers)
    # Blank rows: only rows whose first read column is blank can be (a scan in C finds none usually).
    columns = list(out.values())
    if not columns:
        numbers = []  # no column read: every row counts as blank, as in the general loop
    elif "" in columns[0]:
        blank = [i for i, text in enumerate(columns[0]) if not text and not any(c[i] for c in columns)]
        if blank:
            drop = set(blank)
            keep = [i for i in range(n) if i not in drop]
            numbers = [numbers[i] for i in keep]
            for name, column in out.items():
                out[name] = [column[i] for i in keep]
    return Table(
        columns=out, row_numbers=numbers, headers=written, ignored_headers=ignored, encoding=encoding
    )


def _header_positions(
    header: Sequence[Any], columns: dict[str, tuple[str, ...]], required: set[str]
) -> tuple[dict[str, int], dict[str, str], list[str]]:
    """(canonical → position, canonical → header as written, ignored headers) of a header row."""
    lookup = _header_lookup(columns)
    positions: dict[str, int] = {}
    written: dict[str, str] = {}
    ignored: list[str] = []
    for index, cell in enumerate(header):
        text = _cell_text(cell)
        name = lookup.get(_normalise_header(text))
        if name is None:
            if text:
                ignored.append(text)
            continue
        if name in positions:
            raise TableError(
                f"表头“{text}”与“{written[name]}”重复（都表示 {name}）",
                f"header '{text}' duplicates '{written[name]}' (both mean {name})",
            )
        positions[name] = index
        written[name] = text
    missing = [c for c in columns if c in required and c not in positions]
    if missing:
        names = "、".join(f"{columns[c][0] if columns[c] else c}（{c}）" for c in missing)
        raise TableError(f"缺少必需的列：{names}", f"missing required column(s): {', '.join(missing)}")
    return positions, written, ignored


def _names_required(header: Sequence[Any], columns: dict[str, tuple[str, ...]], required: set[str]) -> bool:
    """Whether the row names every required column (then it is the header)."""
    lookup = _header_lookup(columns)
    return required <= {lookup.get(_normalise_header(_cell_text(c))) for c in header}


def _csv_reader(path: Path) -> Iterator[Sequence[Any]]:
    """The general CSV reader over the whole file (as ``_csv_rows`` when the plain split fails)."""
    text, _ = decode_bytes(path.read_bytes())
    return csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))


def peek_rows(path: str | Path, count: int) -> list[tuple[int, list[str]]]:
    """(row number, cell texts) of the first ``count`` rows of a CSV/XLSX (the mapping step's samples)."""
    path = Path(path)
    limits = table_limits()
    if path.suffix.lower() in SPREADSHEET_SUFFIXES:
        rows: Iterator[Sequence[Any]] = _sheet_rows(path, limits)
    else:
        csv.field_size_limit(limits.max_cell_chars)
        rows = _csv_reader(path)
    out: list[tuple[int, list[str]]] = []
    try:
        for number, row in enumerate(rows, start=1):
            out.append((number, [_cell_text(c) for c in row]))
            if number >= count:
                break
    except csv.Error as exc:
        raise TableError(*csv_problem(len(out) + 1, exc, limits)) from exc
    return out


def _split_below_titles(
    text: str, raw: bytes, encoding: str, columns: dict[str, tuple[str, ...]], required: set[str]
) -> tuple[_Split, int, list[int]] | None:
    """(plain split of the lines from the header on, header row number, the non-empty rows above it)
    when the header is a later one of the first ``HEADER_SEARCH_ROWS`` non-empty lines and the lines
    from it on are plain; None otherwise (the general path decides)."""
    started = perf_counter()
    bom = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    codec = "utf-8" if encoding == "utf-8" else "gb18030"
    delimiter = _sniff_delimiter(text)
    char_at = byte_at = seen = 0
    titles: list[int] = []
    for number in range(1, 4 * tabular_map.HEADER_SEARCH_ROWS + 1):
        end = text.find("\n", char_at)
        if end < 0:
            return None
        line = text[char_at:end]
        cells = line.split(delimiter)
        if any(c.strip() for c in cells):
            seen += 1
            if _names_required(cells, columns, required):
                if number == 1:
                    return None
                # Detection: the search; the split itself is what every file costs. The split starts
                # at the header in the same text and bytes (no copy of the file below the titles).
                tabular_map.current().seconds += perf_counter() - started
                split = _split_plain(text, delimiter, raw, start=char_at, start_byte=byte_at + bom)
                return None if split is None else (split, number, titles)
            if seen >= tabular_map.HEADER_SEARCH_ROWS:
                return None
            titles.append(number)
        char_at += len(line) + 1
        byte_at += len(line.encode(codec)) + 1
    return None


def _sniff_delimiter(text: str) -> str:
    """The delimiter (``,`` tab ``;``) the first line uses most; a first line holding none (a title
    line above the header) leaves it to the next of the first ``HEADER_SEARCH_ROWS`` lines."""
    lines = text[:65536].split("\n", tabular_map.HEADER_SEARCH_ROWS)[: tabular_map.HEADER_SEARCH_ROWS]
    for line in lines:
        best = max((",", "\t", ";"), key=line.count)
        if line.count(best):
            return best
    return ","


def _build_split(
    split: _Split,
    columns: dict[str, tuple[str, ...]],
    required: set[str],
    encoding: str,
    limits: TableLimits,
    *,
    header_row: int = 1,
) -> Table:
    """The table of a plain CSV split by ``_split_plain``: the same cells as ``_build_text``."""
    TableError.check(rows_problem(split.rows, limits))
    positions, written, ignored = _header_positions(split.header, columns, required)
    width, first = split.width, split.offset
    last = first + width * split.rows
    if split.clean:  # no cell starts or ends with a space or other white space: nothing to strip
        out = {name: split.cells[first + index : last : width] for name, index in positions.items()}
    else:
        out = {
            name: list(map(str.strip, split.cells[first + index : last : width]))
            for name, index in positions.items()
        }
    numbers = list(range(header_row + 1, header_row + 1 + split.rows))
    # Byte lengths bound character lengths: only a column whose bound is over the limit is measured.
    long = [n for n, i in positions.items() if not split.bounds or split.bounds[i] > limits.max_cell_chars]
    _cells_check({n: out[n] for n in long}, numbers, written, limits)
    table = _drop_blank(out, numbers, written, ignored, encoding)
    if split.clean:
        table.printable = True
        table.no_start = split.no_start
        table.length_bounds = {name: split.bounds[index] for name, index in positions.items()}
    return table


def _cells_check(
    out: dict[str, list[str]], numbers: list[int], written: dict[str, str], limits: TableLimits
) -> None:
    """Every cell of ``out`` within ``max_cell_chars`` (a column's longest measured in C)."""
    for name, column in out.items():
        longest = max(map(len, column), default=0)
        if longest > limits.max_cell_chars:
            at = next(i for i, text in enumerate(column) if len(text) == longest)
            TableError.check(cell_problem(numbers[at], written.get(name, name), longest, limits))


def _build(
    rows: Iterator[Sequence[Any]],
    columns: dict[str, tuple[str, ...]],
    required: set[str],
    encoding: str,
    limits: TableLimits,
    *,
    text_cells: bool = False,
) -> Table:
    started = perf_counter()
    rownum = 0
    seen: list[Sequence[Any]] = []  # the first non-empty rows, until one names every required column
    seen_rows: list[int] = []
    lookup = _header_lookup(columns)
    choice = tabular_map.HeaderChoice(index=None, best=0)
    try:
        for row in rows:
            rownum += 1
            if any(_cell_text(c) for c in row):
                seen.append(row)
                seen_rows.append(rownum)
                choice = tabular_map.choose_header(seen[-1:], lookup, required, _cell_text)
                if choice.index is not None or len(seen) >= tabular_map.HEADER_SEARCH_ROWS:
                    break
    except csv.Error as exc:  # while reading the record after ``rownum``
        raise TableError(*csv_problem(rownum + 1, exc, limits)) from exc
    if not seen:
        raise TableError("文件为空，没有表头", "the file is empty: no header row")
    if choice.index is None:
        # No row names every required column: the message names what the likeliest row lacks.
        choice = tabular_map.choose_header(seen, lookup, required, _cell_text)
        if tabular_map.current().interactive:
            named = {lookup.get(_normalise_header(_cell_text(c))) for c in seen[choice.best]}
            raise NeedsMapping(header_row=seen_rows[choice.best], missing=sorted(required - named))
        try:
            _header_positions(seen[choice.best], columns, required)
        except TableError as exc:
            if choice.best == 0:
                raise
            hint = seen_rows[choice.best]
            raise TableError(
                f"{exc.zh}（表头在第 {hint} 行？）", f"{exc.en} (is the header on row {hint}?)"
            ) from exc
    header = seen[-1]
    context = tabular_map.current()
    context.header_row = seen_rows[-1]
    for number in seen_rows[:-1]:
        context.warn(f"第{number}行在表头之上，已忽略 / row {number} above the header ignored")
    context.seconds += perf_counter() - started  # the header search (with its first rows read)
    positions, written, ignored = _header_positions(header, columns, required)
    if text_cells:
        return _build_text(rows, positions, rownum, written, ignored, encoding, limits)
    out: dict[str, list[str]] = {c: [] for c in positions}
    order = list(positions.items())
    numbers: list[int] = []
    try:
        for row in rows:
            rownum += 1
            width = len(row)
            if width and _cell_text(row[0]) == FOOTER_MARK:
                # A ledger's 合计 row (indicators.exports.table_xlsx) and the notes below it: the
                # table ends there (issue 18 item 8, a ledger imports again); reported, not silent.
                context.warn(
                    f"第{rownum}行起为合计与说明，已忽略 / rows from {rownum} on (totals, notes) ignored"
                )
                break
            cells = [_cell_text(row[i]) if i < width else "" for _, i in order]
            if not any(cells):
                continue
            numbers.append(rownum)
            for (name, _), text in zip(order, cells, strict=True):
                out[name].append(text)
    except csv.Error as exc:  # while reading the record after ``rownum``
        raise TableError(*csv_problem(rownum + 1, exc, limits)) from exc
    _cells_check(out, numbers, written, limits)
    return Table(
        columns=out, row_numbers=numbers, headers=written, ignored_headers=ignored, encoding=encoding
    )


# --------------------------------------------------------------------------- plain CSV as bytes

# Every character str.strip() removes, except the newline: a file with any of them takes the
# general path (tabular strips cells). Multi-byte ones as UTF-8.
_ASCII_SPACES = tuple(bytes([c]) for c in b" \t\x0b\x0c\x1c\x1d\x1e\x1f")
_WIDE_SPACES = tuple(
    chr(c).encode()
    for c in (0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
)


@dataclass(frozen=True, eq=False)
class ByteTable:
    """A plain CSV held as byte matrices: canonical name → (``data``, ``length``) where
    ``data[j, i]`` is byte ``j`` of cell ``i`` (zero past its end) and ``length[i]`` its length in bytes
    (position-major: every step of a vectorised check is a contiguous vector operation)."""

    columns: dict[str, tuple[NDArray[np.uint8], NDArray[np.int64]]]
    row_numbers: list[int]
    headers: dict[str, str]  # canonical → header as written


def read_plain_csv_bytes(
    path: Path, columns: dict[str, tuple[str, ...]], required: Iterable[str]
) -> ByteTable | None:
    """Read a plain UTF-8 CSV (no quotes, no padding spaces, comma-separated, rectangular) with
    numpy, straight into byte matrices: no Python string per cell (``jkfp settle``).

    Returns None whenever the file is not that simple or lacks a ``required`` column; the caller
    then uses ``read_table``, which this function matches exactly on the files it accepts.
    """
    if path.suffix.lower() not in CSV_SUFFIXES or not path.is_file():
        return None
    if path.stat().st_size > DEFAULT_MAX_BYTES:
        return None
    limits = table_limits()
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return None  # GBK: the general path decodes it
        if any(space in raw for space in _WIDE_SPACES):
            return None
    if b'"' in raw or b"\x00" in raw or any(space in raw for space in _ASCII_SPACES):
        return None
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n")
        if b"\r" in raw:
            return None
    if not raw.endswith(b"\n"):
        raw += b"\n"
    buf = np.frombuffer(raw, dtype=np.uint8)
    newlines = np.flatnonzero(buf == ord("\n"))
    header = raw[: int(newlines[0])].decode("utf-8")
    if not header or header.count(",") < max(header.count("\t"), header.count(";")):
        return None
    names = header.split(",")
    TableError.check(rows_problem(len(newlines) - 1, limits) or columns_problem(len(names), limits))
    lookup = _header_lookup(columns)
    positions: dict[str, int] = {}
    written: dict[str, str] = {}
    for index, cell in enumerate(names):
        canonical = lookup.get(_normalise_header(cell))
        if canonical is None:
            continue
        if canonical in positions:
            return None
        positions[canonical] = index
        written[canonical] = cell
    if any(name not in positions for name in required):
        return None
    width = len(names)
    line_start = newlines[:-1] + 1  # data lines only
    line_end = newlines[1:]
    commas = np.flatnonzero(buf == ord(","))[width - 1 :]  # after the header's
    lines = len(line_end)
    keep = np.ones(lines, dtype=np.bool_)
    if width > 1 and len(commas) == lines * (width - 1):
        cuts = commas.reshape(lines, width - 1)
        # Sorted commas, disjoint lines: if every line holds its row of cuts, each has exactly width − 1.
        rectangular = (
            bool(((cuts[:, 0] > line_start - 1) & (cuts[:, -1] < line_end)).all()) if lines else True
        )
    else:
        rectangular = False
    if rectangular:
        # A line of commas only is blank: skipped, like tabular.
        keep = (line_end - line_start) != (width - 1)
        if not bool(keep.all()):
            cuts = cuts[keep]
    else:
        line_of = np.searchsorted(line_end, commas)  # the data line each comma is on
        per_line = np.bincount(line_of, minlength=lines)[:lines]
        keep = per_line != line_end - line_start  # empty or commas only: skipped, like tabular
        if bool((per_line[keep] != width - 1).any()):
            return None
        cuts = commas[keep[line_of]].reshape(-1, width - 1)
    first = line_start[keep]
    last = line_end[keep]
    spans: dict[str, tuple[NDArray[np.int64], NDArray[np.int64]]] = {}
    for name, index in positions.items():
        begin = first if index == 0 else cuts[:, index - 1] + 1
        end = last if index == width - 1 else cuts[:, index]
        spans[name] = (begin, (end - begin).astype(np.int64))
    longest = max((int(length.max()) for _, length in spans.values() if len(length)), default=1)
    if longest > limits.max_cell_chars:
        return None  # bytes bound characters: read_table measures the characters
    # Gather each cell's bytes as one row (one cache line), then store position-major.
    padded = np.concatenate((buf, np.zeros(max(1, longest), dtype=np.uint8)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, max(1, longest))
    out: dict[str, tuple[NDArray[np.uint8], NDArray[np.int64]]] = {}
    for name, (begin, length) in spans.items():
        size = max(1, int(length.max())) if len(length) else 1
        rows = windows[begin, :size]
        rows[np.arange(size)[None, :] >= length[:, None]] = 0
        out[name] = (np.ascontiguousarray(rows.T), length)
    numbers = (np.flatnonzero(keep) + 2).tolist()
    return ByteTable(columns=out, row_numbers=numbers, headers=written)


def safe_cell(value: Any) -> Any:
    """防公式注入 Text that a spreadsheet would run as a formula is prefixed with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
