"""表格快速切分 A plain CSV split with ``str.split`` reads exactly as ``csv.reader`` reads it (ADR 0006)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jkfp.core import tabular

COLUMNS = {"a": ("甲",), "b": ("乙",), "c": ("丙",)}

cell = st.text(alphabet=["x", "中", " ", "\u3000", ",", ";", "\t", '"', "\r", "\n", "\\"], max_size=4)


def _read(path: Path, split: bool) -> tabular.Table | str:
    with pytest.MonkeyPatch.context() as patch:
        if not split:
            patch.setattr(tabular, "_split_plain", lambda *args, **kwargs: None)
        try:
            return tabular.read_table(path, COLUMNS, ["a"])
        except tabular.TableError as exc:
            return str(exc)


plain_cell = st.text(alphabet=["x", "中", "=", "-", "@", "+", "\x07", "é", " "], max_size=6)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.lists(plain_cell, min_size=3, max_size=3).map(",".join), max_size=6),
    end=st.sampled_from(["", "\n"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
)
def test_plain_files_read_like_csv_reader_with_true_hints(lines: list[str], end: str, encoding: str) -> None:
    """Files that take the split path (no quotes, every line as wide), in every encoding read."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        path.write_bytes(("\n".join(["甲,乙,丙", *lines]) + end).encode(encoding))
        fast = _read(path, True)
        assert fast == _read(path, False)
        _assert_hints_hold(fast)


@settings(max_examples=300, deadline=None)
@given(
    header=st.sampled_from(["甲,乙,丙", "甲,丙", "乙,甲,丙,丁", "甲", "甲;乙", " 甲 ,乙", "甲\t乙"]),
    lines=st.lists(st.lists(cell, max_size=5).map(",".join), max_size=6),
    end=st.sampled_from(["", "\n"]),
)
def test_split_path_reads_like_csv_reader(header: str, lines: list[str], end: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        path.write_bytes(("\n".join([header, *lines]) + end).encode("utf-8"))
        fast = _read(path, True)
        assert fast == _read(path, False)
        _assert_hints_hold(fast)


@settings(max_examples=200, deadline=None)
@given(
    titles=st.lists(
        st.sampled_from(["某县名单（系统导出）", "导出时间：2024-03-01", "", "说明 @=+"]), max_size=3
    ),
    lines=st.lists(st.lists(plain_cell, min_size=3, max_size=3).map(",".join), max_size=6),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
)
def test_split_below_title_rows_reads_like_csv_reader(
    titles: list[str], lines: list[str], encoding: str
) -> None:
    """Title rows above the header (issue 18): the split starts at the header inside the same text and
    bytes (no copy) and reads as ``csv.reader`` does, hints true."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        path.write_bytes(("\n".join([*titles, "甲,乙,丙", *lines]) + "\n").encode(encoding))
        fast = _read(path, True)
        assert fast == _read(path, False)
        _assert_hints_hold(fast)


def _assert_hints_hold(table: tabular.Table | str) -> None:
    """What the reader promises of every cell (``validate_columns`` skips scans on it) is true."""
    if isinstance(table, str):
        return
    for name, column in table.columns.items():
        if table.printable:
            assert all(c.isprintable() for c in column)
        if name in table.length_bounds:
            assert all(len(c) <= table.length_bounds[name] for c in column)
        assert not any(c.startswith(tuple(table.no_start)) for c in column if table.no_start)


def test_plain_file_takes_the_split_path(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("甲,乙\n 1 ,2\n,\n3,\n", encoding="utf-8")
    split = tabular._split_plain(path.read_text(encoding="utf-8"), ",")
    assert split is not None and split.rows == 3
    table = tabular.read_table(path, COLUMNS, ["a"])
    assert table.columns == {"a": ["1", "3"], "b": ["2", ""]}
    assert table.row_numbers == [2, 4]
    assert not table.printable  # a space: cells were stripped


def test_clean_file_gives_hints(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("甲,乙,丙\n中中,=1,\n1,2,xyz\n", encoding="utf-8")
    table = tabular.read_table(path, COLUMNS, ["a"])
    assert table.columns == {"a": ["中中", "1"], "b": ["=1", "2"], "c": ["", "xyz"]}
    assert table.printable and table.no_start == "+-@"
    assert table.length_bounds == {"a": 6, "b": 2, "c": 3}  # bytes: 中 is 3 in UTF-8
