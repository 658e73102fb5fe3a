"""Header detection, mapping files and normalisation in the one reader (issue 18 items 1–4, 17.8)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from jkfp.core.tabular import TableError, read_table
from jkfp.core.tabular_map import MappingError, load_mapping, parse_mapping, reading

COLUMNS = {"id_number": ("身份证号", "证件号码"), "name": ("姓名",), "tags": ("人员类别",)}
REQUIRED = ("id_number", "name")


def csv_file(tmp_path: Path, text: str, name: str = "f.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


@pytest.mark.parametrize(
    "above",
    [
        "全国防返贫监测信息系统导出\n导出时间：2024-03-01 10:00\n",  # title lines without delimiters
        "全国防返贫监测信息系统导出,,\n,,\n导出时间：2024-03-01,,\n",  # as Excel writes merged cells
    ],
)
def test_title_rows_above_the_header_are_skipped_and_reported(tmp_path: Path, above: str) -> None:
    path = csv_file(tmp_path, above + "身份证号,姓名,人员类别\n421321198001010117,张三,脱贫\n")
    with reading() as context:
        table = read_table(path, COLUMNS, REQUIRED)
    assert table.columns == {
        "id_number": ["421321198001010117"],
        "name": ["张三"],
        "tags": ["脱贫"],
    }
    assert context.warning_count == 2
    assert context.warnings[0].startswith("第1行在表头之上，已忽略")
    header_row = 4 if ",," in above else 3
    assert context.header_row == header_row
    assert table.row_numbers == [header_row + 1]


def test_xlsx_merged_title_and_blank_leading_columns(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["B1"] = "湖北省建档立卡人员名单"
    sheet.merge_cells("B1:E1")
    sheet["B2"] = "导出时间：2024年3月1日"
    sheet.append([None, "证件号码", "姓名", "人员类别"])
    sheet.append([None, "421321198001010117", "张三", "低保"])
    path = tmp_path / "f.xlsx"
    workbook.save(path)
    with reading() as context:
        table = read_table(path, COLUMNS, REQUIRED)
    assert table.columns["id_number"] == ["421321198001010117"]
    assert table.row_numbers == [4]
    assert context.warning_count == 2


def test_header_beyond_the_search_gets_the_hint(tmp_path: Path) -> None:
    # Row 2 holds one of the two required columns: the message names what it lacks and the hint.
    path = csv_file(tmp_path, "名单\n身份证号,户主\n1,2\n")
    with pytest.raises(TableError) as refused:
        read_table(path, COLUMNS, REQUIRED)
    assert "缺少必需的列：姓名（name）" in refused.value.zh
    assert "表头在第 2 行？" in refused.value.zh
    assert "is the header on row 2?" in refused.value.en
    # A file whose first row is an incomplete header: no hint.
    path = csv_file(tmp_path, "身份证号,户主\n1,2\n", "g.csv")
    with pytest.raises(TableError) as refused:
        read_table(path, COLUMNS, REQUIRED)
    assert "表头在" not in refused.value.zh


def test_only_the_first_ten_non_empty_rows_are_searched(tmp_path: Path) -> None:
    above = "".join(f"说明{i}\n\n" for i in range(10))  # ten non-empty rows (blank ones do not count)
    path = csv_file(tmp_path, above + "身份证号,姓名\n421321198001010117,张三\n")
    with pytest.raises(TableError):
        read_table(path, COLUMNS, REQUIRED)
    path = csv_file(tmp_path, "".join(f"说明{i}\n\n" for i in range(9)) + "身份证号,姓名\n4,张三\n", "g.csv")
    assert read_table(path, COLUMNS, REQUIRED).row_numbers == [20]


def test_cells_are_normalised_and_counted(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "身份证号,姓名,人员类别\n４２１３２１１９８００１０１０１１７,张\u3000 三,脱贫\n421321198001010221,李四（小）,低保\n",
    )
    with reading() as context:
        table = read_table(path, COLUMNS, REQUIRED)
    assert table.columns["id_number"] == ["421321198001010117", "421321198001010221"]
    assert table.columns["name"] == ["张 三", "李四（小）"]  # Chinese punctuation as written
    assert context.warning_count == 2
    assert "2个单元格已规范化" in context.warnings[0]


def test_mapping_file_columns_and_values(tmp_path: Path) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[columns]\n"证件号" = "身份证号"\n"人员姓名" = "name"\n\n[values."人员类别"]\n"一般贫困户" = "建档立卡"\n',
        encoding="utf-8",
    )
    path = csv_file(tmp_path, "证件号,人员姓名,人员类别\n421321198001010117,张三,一般贫困户、低保户\n")
    with reading(load_mapping(mapping)):
        table = read_table(path, COLUMNS, REQUIRED, values={"tags": {"低保户": "低保"}})
    assert table.columns == {
        "id_number": ["421321198001010117"],
        "name": ["张三"],
        "tags": ["建档立卡、低保"],
    }
    assert table.headers == {"id_number": "证件号", "name": "人员姓名", "tags": "人员类别"}


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[columns]\n"证件号" = "身份证号"\n"户主编号" = "户编号"\n', 3, "未知字段“户编号”"),
        ('[columns]\n"证件号" = "身份证号"\n\n"公民身份号码" = "id_number"\n', 4, "都映射到字段"),
        ('[columns]\n"a" = "姓名"\n[values."病种"]\n"x" = "y"\n', 4, '[values."病种"] 的字段不存在'),
    ],
)
def test_bad_mappings_are_refused_naming_the_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = csv_file(tmp_path, "证件号,姓名\n421321198001010117,张三\n")
    with reading(parse_mapping(text)), pytest.raises(TableError) as refused:
        read_table(path, COLUMNS, REQUIRED)
    assert f"第{line}行" in refused.value.zh
    assert words in refused.value.zh


def test_malformed_toml_and_other_sections(tmp_path: Path) -> None:
    with pytest.raises(MappingError) as refused:
        parse_mapping('[columns]\n"a" = \n')
    assert "line 2" in refused.value.zh
    with pytest.raises(MappingError):
        parse_mapping('[rows]\n"a" = "b"\n')
    with pytest.raises(MappingError):
        load_mapping(tmp_path / "missing.toml")


def test_mapping_round_trips_through_toml() -> None:
    text = '[columns]\n"证件号" = "身份证号"\n\n[values."人员类别"]\n"一般\\"贫困户" = "建档立卡"\n'
    mapping = parse_mapping(text)
    again = parse_mapping(mapping.to_toml())
    assert (again.columns, again.values) == (mapping.columns, mapping.values)
