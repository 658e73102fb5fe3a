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
            patch.setattr(tabular, "_split_plain", lambda text, delimiter: None)
        try:
            return tabular.read_table(path, COLUMNS, ["a"])
        except tabular.TableError as exc:
            return str(exc)


@settings(max_examples=300, deadline=None)
@given(
    header=st.sampled_from(["甲,乙,丙", "甲,丙", "乙,甲,丙,丁", "甲", "甲;乙", " 甲 ,乙"]),
    lines=st.lists(st.lists(cell, max_size=5).map(",".join), max_size=6),
    end=st.sampled_from(["", "\n"]),
)
def test_split_path_reads_like_csv_reader(header: str, lines: list[str], end: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        path.write_bytes(("\n".join([header, *lines]) + end).encode("utf-8"))
        assert _read(path, True) == _read(path, False)


def test_plain_file_takes_the_split_path(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("甲,乙\n 1 ,2\n,\n3,\n", encoding="utf-8")
    split = tabular._split_plain(path.read_text(encoding="utf-8"), ",")
    assert split is not None and split.rows == 3
    table = tabular.read_table(path, COLUMNS, ["a"])
    assert table.columns == {"a": ["1", "3"], "b": ["2", ""]}
    assert table.row_numbers == [2, 4]
