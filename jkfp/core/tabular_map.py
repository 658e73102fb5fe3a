"""表头识别、列与值映射、单元格规范化 What the one reader (``core/tabular.py``) does to a real-world list.

Pure Python (no Django), called by ``tabular.read_table`` only (issue 18 items 1–4):

- **Header detection**: the header is the first of the first ``HEADER_SEARCH_ROWS`` non-empty rows
  whose cells name every required column (by name, alias or mapping); the rows above it are
  ignored and reported (warnings).
- **Column and value mapping**: an ``ImportMapping`` (``--mapping FILE`` on the command line, a
  saved template on the web) adds file headers for fields and file values for accepted values; an
  import's own value synonyms (``read_table(values=…)``) work the same way.
- **Normalisation** of every text cell: Unicode NFKC (full-width digits, letters and spaces), no
  leading, trailing or doubled spaces; each changed cell counts (never silently).

The reading context (``reading``) carries the mapping of one import and collects the reader's
warnings, which the import command or the web task adds to the summary's ``warnings``.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

HEADER_SEARCH_ROWS = 10
IGNORE_TARGETS = frozenset({"", "忽略"})  # ``"列" = ""`` or ``"列" = "忽略"``: a column ignored on purpose
# Separators of multi-valued cells (as core.importing.LIST_SEPARATORS): values map part by part.
_PARTS = re.compile(r"[、,;，；]")
_SPACES = re.compile(r"\s{2,}")
MAPPING_MAX_BYTES = 1024 * 1024


class MappingError(ValueError):
    """映射文件错误 A mapping that cannot be used (the import is refused before any row is read)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en


@dataclass
class ImportMapping:
    """列与值映射 file header → field, and per field file value → accepted value.

    ``lines`` holds the line of each entry in the TOML text (for messages): ("columns", header)
    and ("values", field, value) → line number.
    """

    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    lines: dict[tuple[str, ...], int] = field(default_factory=dict)
    origin: str = "映射"

    def line(self, *key: str) -> str:
        number = self.lines.get(key)
        return f"第{number}行" if number else ""

    def to_toml(self) -> str:
        """The mapping as the TOML of ``--mapping`` (what a saved template downloads as)."""
        out = ["[columns]"]
        out += [f"{_toml_str(k)} = {_toml_str(v)}" for k, v in self.columns.items()]
        for name, values in self.values.items():
            out += ["", f"[values.{_toml_str(name)}]"]
            out += [f"{_toml_str(k)} = {_toml_str(v)}" for k, v in values.items()]
        return "\n".join(out) + "\n"


def _toml_str(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped)
    return f'"{escaped}"'


_SECTION = re.compile(r"^\s*\[\s*(columns|values\s*\.\s*(?P<field>\"(?:[^\"\\]|\\.)*\"|'[^']*'|[\w-]+))\s*\]")
_KEY = re.compile(r"^\s*(?P<key>\"(?:[^\"\\]|\\.)*\"|'[^']*'|[\w-]+)\s*=")


def _unquote(token: str) -> str:
    if token.startswith('"'):
        parsed = tomllib.loads(f"k = {token}")["k"]
        return str(parsed)
    return token.strip("'")


def parse_mapping(text: str, *, origin: str = "映射文件") -> ImportMapping:
    """解析映射 Parse the TOML text of a mapping; refuses (``MappingError``, naming the line) a
    malformed one, one with other sections or non-text values."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{origin}格式错误：{exc}", f"{origin}: malformed TOML: {exc}") from exc
    lines: dict[tuple[str, ...], int] = {}
    section: tuple[str, ...] = ()
    for number, raw in enumerate(text.splitlines(), start=1):
        found = _SECTION.match(raw)
        if found:
            section = ("values", _unquote(found["field"])) if found["field"] else ("columns",)
            continue
        key = _KEY.match(raw)
        if key and section:
            lines.setdefault((*section, _unquote(key["key"])), number)
    mapping = ImportMapping(lines=lines, origin=origin)
    for name in doc:
        if name not in {"columns", "values"}:
            raise MappingError(
                f'{origin}：未知的节“{name}”（只能有 [columns] 和 [values."字段"]）',
                f"{origin}: unknown section '{name}' (only [columns] and [values.\"field\"])",
            )
    columns = doc.get("columns", {})
    values = doc.get("values", {})
    if not isinstance(columns, dict) or not isinstance(values, dict):
        raise MappingError(
            f"{origin}：columns 和 values 必须是表", f"{origin}: columns and values must be tables"
        )
    for header, target in columns.items():
        if not isinstance(target, str):
            where = mapping.line("columns", header)
            raise MappingError(
                f"{origin}{where}：列“{header}”的字段必须是文字",
                f"{origin} {where}: column '{header}' needs a text",
            )
        mapping.columns[str(header)] = target
    for name, table in values.items():
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise MappingError(
                f'{origin}：[values."{name}"] 必须是“文件值 = 可接受值”的文字对',
                f'{origin}: [values."{name}"] must map texts to texts',
            )
        mapping.values[str(name)] = {str(k): str(v) for k, v in table.items()}
    return mapping


def load_mapping(path: str | Path) -> ImportMapping:
    """读取映射文件 The mapping in a TOML file (``--mapping FILE``)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAPPING_MAX_BYTES:
            raise MappingError(f"映射文件过大：{path}", f"mapping file too large: {path}")
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise MappingError(
            f"无法读取映射文件 {path}：{exc.strerror}", f"cannot read mapping {path}: {exc.strerror}"
        ) from exc
    except UnicodeDecodeError as exc:
        raise MappingError(
            f"映射文件 {path} 不是 UTF-8 文字", f"mapping file {path} is not UTF-8 text"
        ) from exc
    return parse_mapping(text, origin=f"映射文件 {path.name} ")


# --------------------------------------------------------------------------- the reading context


@dataclass
class ReadContext:
    """一次导入的读取设置与警告 The mapping of one import and what the reader reported."""

    mapping: ImportMapping | None = None
    # The web import: a file whose header lacks a required column, has columns nobody mapped, or
    # values not accepted goes to the mapping step (``tabular.NeedsMapping``) instead of failing.
    interactive: bool = False
    warnings: list[str] = field(default_factory=list)  # one per warning (title rows, changed cells)
    warning_count: int = 0
    header_row: int = 0  # the row number of the last table's header
    # Seconds spent on header detection, mapping and normalisation (what issue 18 adds to a read;
    # benchmarks/bench_import_mapping.py holds it against the whole import).
    seconds: float = 0.0
    # canonical → {mapped cell: cell as written}: an error report names both values.
    mapped_from: dict[str, dict[str, str]] = field(default_factory=dict)
    # The first rows as they will be imported (canonical → text), kept for the web preview.
    preview: list[dict[str, str]] = field(default_factory=list)
    # canonical → header as written, of the last table read (for the web preview)
    headers: dict[str, str] = field(default_factory=dict)

    def warn(self, text: str, count: int = 1) -> None:
        self.warnings.append(text)
        self.warning_count += count


_CONTEXT: ContextVar[ReadContext | None] = ContextVar("jkfp_read_context", default=None)


@contextmanager
def reading(mapping: ImportMapping | None = None, *, interactive: bool = False) -> Iterator[ReadContext]:
    """读取上下文 Within the block, ``read_table`` applies ``mapping`` and records its warnings here."""
    context = ReadContext(mapping=mapping, interactive=interactive)
    token = _CONTEXT.set(context)
    try:
        yield context
    finally:
        _CONTEXT.reset(token)


def current() -> ReadContext:
    """The reading context of the running import (a throw-away one outside ``reading``)."""
    return _CONTEXT.get() or ReadContext()


# --------------------------------------------------------------------------- headers


def normalise_header(text: str) -> str:
    """Headers match after NFKC, without BOM and white space, case-insensitively."""
    return "".join(unicodedata.normalize("NFKC", str(text).replace("\ufeff", "")).split()).lower()


def header_lookup(columns: Mapping[str, tuple[str, ...]], mapping: ImportMapping | None) -> dict[str, str]:
    """Normalised spelling → canonical name, for ``columns`` and the mapping's headers.

    A mapping naming an unknown field, or mapping two headers to one field, is refused naming the line.
    """
    lookup = {
        normalise_header(spelling): canonical
        for canonical, spellings in columns.items()
        for spelling in (canonical, *spellings)
    }
    if mapping is None:
        return lookup
    mapped: dict[str, tuple[str, str]] = {}
    extra: dict[str, str] = {}
    for header, target in mapping.columns.items():
        where = mapping.line("columns", header)
        if target.strip() in IGNORE_TARGETS:  # a column mapped to nothing: ignored on purpose
            continue
        canonical = lookup.get(normalise_header(target))
        if canonical is None:
            raise MappingError(
                f"{mapping.origin}{where}：未知字段“{target}”（可用：{_fields(columns)}）",
                f"{mapping.origin}{where}: unknown field '{target}'",
            )
        if canonical in mapped:
            other, other_where = mapped[canonical]
            raise MappingError(
                f"{mapping.origin}{where}：列“{header}”和{other_where}的列“{other}”都映射到字段“{target}”",
                f"{mapping.origin}{where}: columns '{header}' and '{other}' both map to field '{target}'",
            )
        mapped[canonical] = (header, where)
        extra[normalise_header(header)] = canonical
    for name in mapping.values:
        if lookup.get(normalise_header(name)) is None:
            where = mapping.line("values", name, *list(mapping.values[name])[:1])
            raise MappingError(
                f'{mapping.origin}{where}：[values."{name}"] 的字段不存在（可用：{_fields(columns)}）',
                f'{mapping.origin}{where}: [values."{name}"] names an unknown field',
            )
    # The mapping wins over the import's own spellings (a file header it names means that field).
    return {**lookup, **extra}


def _fields(columns: Mapping[str, tuple[str, ...]]) -> str:
    return "、".join(spellings[0] if spellings else canonical for canonical, spellings in columns.items())


def value_maps(
    columns: Mapping[str, tuple[str, ...]],
    builtin: Mapping[str, Mapping[str, str]] | None,
    mapping: ImportMapping | None,
) -> dict[str, dict[str, str]]:
    """canonical → {file value: accepted value}: the import's synonyms, then the mapping's (which win)."""
    out: dict[str, dict[str, str]] = {name: dict(values) for name, values in (builtin or {}).items()}
    if mapping is not None:
        lookup = header_lookup(columns, None)
        for name, values in mapping.values.items():
            canonical = lookup[normalise_header(name)]
            out.setdefault(canonical, {}).update(
                {normalise_cell(k): normalise_cell(v) for k, v in values.items()}
            )
    return out


@dataclass
class HeaderChoice:
    """Which row is the header: its index among the rows seen, or the best guess for the message."""

    index: int | None  # among the non-empty rows seen
    best: int  # the non-empty row naming most required columns (for the hint)


def choose_header(
    rows: Sequence[Sequence[Any]],
    lookup: Mapping[str, str],
    required: set[str],
    cell_text: Any,
) -> HeaderChoice:
    """The first of ``rows`` (non-empty rows, at most ``HEADER_SEARCH_ROWS``) naming every required column."""
    best, best_count = 0, -1
    for index, row in enumerate(rows):
        named = {lookup.get(normalise_header(cell_text(c))) for c in row} & required
        if len(named) == len(required):
            return HeaderChoice(index=index, best=index)
        if len(named) > best_count:
            best, best_count = index, len(named)
    return HeaderChoice(index=None, best=best)


# --------------------------------------------------------------------------- cells


# Chinese punctuation as written stays: the full-width forms of ASCII punctuation (（）：，；！？ …)
# are kept through NFKC (moved to the private-use area and back), so 一村（新） stays as it is
# while full-width digits, letters and spaces become half-width.
_FULL_PUNCT = [c for c in range(0xFF01, 0xFF5F) if not chr(c).isalnum()]
_PROTECT = {c: 0xF0000 + c for c in _FULL_PUNCT}
_RESTORE = {0xF0000 + c: c for c in _FULL_PUNCT}


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text.translate(_PROTECT)).translate(_RESTORE)


def normalise_cell(text: str) -> str:
    """One cell: NFKC (Chinese full-width punctuation kept), stripped, doubled white space made one."""
    text = _nfkc(text).strip()
    if _SPACES.search(text):
        text = _SPACES.sub(" ", text)
    return text


def normalise_column(column: list[str]) -> tuple[list[str], int]:
    """(normalised column, cells changed); the usual column (ASCII or already NFKC, no doubled
    spaces) is checked as one joined text, in C; otherwise only the cells that may change (not NFKC,
    or holding doubled white space: found per cell in C, and by position in the joined text) are
    normalised one by one."""
    joined = "".join(column)
    spaces = _SPACES.search(joined) is not None
    if joined.isascii() and not spaces:
        return column, 0
    nfkc = joined.isascii() or unicodedata.is_normalized("NFKC", joined.translate(_PROTECT))
    if nfkc and not spaces:
        return column, 0
    suspects: set[int] = set()
    if not nfkc:
        normal = map(partial(unicodedata.is_normalized, "NFKC"), column)
        suspects.update(i for i, ok in enumerate(normal) if not ok)
    if spaces:
        ends = np.cumsum(np.fromiter(map(len, column), dtype=np.int64, count=len(column)))
        starts = [m.start() for m in _SPACES.finditer(joined)]
        suspects.update(int(i) for i in np.searchsorted(ends, starts, side="right"))
    out = list(column)
    changed = 0
    for i in suspects:
        text = normalise_cell(column[i])
        if text != column[i]:
            out[i] = text
            changed += 1
    return out, changed


def map_values(
    column: list[str], values: Mapping[str, str], mapped_from: dict[str, str] | None = None
) -> list[str]:
    """Cells replaced by their accepted value; a multi-valued cell (a、b) part by part.
    ``mapped_from`` receives mapped cell → cell as written."""
    if not values:
        return column
    distinct = set(column)
    memo: dict[str, str] = {}
    for text in distinct:
        if not text:
            continue
        if text in values:
            memo[text] = values[text]
        elif _PARTS.search(text):
            parts = [p.strip() for p in _PARTS.split(text) if p.strip()]
            mapped = [values.get(p, p) for p in parts]
            if mapped != parts:
                memo[text] = "、".join(dict.fromkeys(mapped))
    if not memo:
        return column
    if mapped_from is not None:
        for written, accepted in memo.items():
            mapped_from.setdefault(accepted, written)
    return [memo.get(text, text) for text in column]


def ignored_on_purpose(mapping: ImportMapping | None) -> set[str]:
    """The normalised headers the mapping ignores on purpose."""
    if mapping is None:
        return set()
    return {normalise_header(h) for h, target in mapping.columns.items() if target.strip() in IGNORE_TARGETS}


def unknown_values(column: Sequence[str], accepted: Collection[str], limit: int = 30) -> list[str]:
    """The distinct values (parts of multi-valued cells) of ``column`` not in ``accepted`` (as written or
    lower-cased, as the imports look coded values up), at most ``limit``."""
    out: dict[str, None] = {}
    for text in set(column):
        if not text:
            continue
        for part in _PARTS.split(text) if _PARTS.search(text) else (text,):
            part = part.strip()
            if part and part not in accepted and part.lower() not in accepted:
                out[part] = None
    return sorted(out)[:limit]
