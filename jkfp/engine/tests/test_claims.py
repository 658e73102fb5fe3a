"""Validation of a claims file's cells (settlement.md §1): every invalid row is named by row, column,
value and reason; the vectorised parsers agree with the exact ones."""

from __future__ import annotations

import re
import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jkfp.engine import ClaimValueError, load_preset, parse_amount_fen, parse_policy, validate_claim_columns
from jkfp.engine.claims import (
    ALL_COLUMN_ORDER,
    EPOCH_ORDINAL,
    MAX_CLAIM_AMOUNT_FEN,
    TextColumn,
    _parse_day,
    days_from_civil,
    parse_day_matrix,
    parse_fen_matrix,
)

POLICY = load_preset("suixian-2020")
GOOD = {
    "claim_id": "C1",
    "person_id": "421321198001010117",
    "category": "poor",
    "discharge_date": "2020-03-01",
    "level": "2",
    "in_county": "1",
    "referred": "0",
    "total": "20000.00",
    "out_of_scope": "1000.00",
}


def columns(rows: list[dict[str, str]]) -> dict[str, Any]:
    """The cells by column; an optional column only when a row has it (empty in the others)."""
    present = [name for name in ALL_COLUMN_ORDER if any(name in r for r in rows)]
    return {name: [r.get(name, "") for r in rows] for name in present}


def validate(rows: list[dict[str, str]], policy: Any = POLICY, **kwargs: Any) -> Any:
    return validate_claim_columns(columns(rows), list(range(2, len(rows) + 2)), policy=policy, **kwargs)


VISIT = dict(GOOD, kind="outpatient", disease="高血压")
PAID = dict(GOOD, level="3", in_county="0", referred="1", basic_paid="12000.00", critical_paid="3000.00")


BAD_CELLS = [
    ("claim_id", "", "required value is missing"),
    ("person_id", "", "required value is missing"),
    ("category", "vip", "category not defined by the policy"),
    ("category", "", "required value is missing"),
    ("discharge_date", "2020-02-30", "no such date"),
    ("discharge_date", "2020/03/01", "YYYY-MM-DD"),
    ("discharge_date", "2021-01-01", "outside the policy's validity"),
    ("level", "4", "level must be 1, 2 or 3"),
    ("level", "0", "level must be 1, 2 or 3"),
    ("level", "一", "level must be 1, 2 or 3"),
    ("level", "", "required value is missing"),
    ("in_county", "2", "must be 1 (in county) or 0"),
    ("referred", "yes", "must be 1 (referred) or 0"),
    ("total", "-5.00", "must not be negative"),
    ("total", "abc", "not a valid amount"),
    ("total", "12.345", "at most 2 decimals"),
    ("total", "100000000.01", "absurd amount"),
    ("total", "1,000.00", "not a valid amount"),
    ("out_of_scope", "20000.01", "out_of_scope exceeds total"),
    ("out_of_scope", "", "required value is missing"),
    ("claim_id", "C\x00", "NUL"),
    ("kind", "急诊", "kind must be inpatient or outpatient"),
    ("kind", "Outpatient", "kind must be inpatient or outpatient"),
]


@pytest.mark.parametrize(
    ("column", "value", "reason"), BAD_CELLS, ids=[f"{c}={v!r}" for c, v, _ in BAD_CELLS]
)
def test_invalid_cell(column: str, value: str, reason: str) -> None:
    rows = [dict(GOOD, claim_id="C0"), dict(GOOD, **{column: value}), dict(GOOD, claim_id="C2")]
    result = validate(rows)
    assert len(result.errors) == 1, result.errors
    error = result.errors[0]
    assert (error.row, error.column, error.value) == (3, column, value)
    assert reason in error.en
    assert error.zh
    assert result.table.claim_id.tolist() == [b"C0", b"C2"]
    assert result.source_index.tolist() == [0, 2]


BAD_ROWS = [
    ("visit without disease", dict(VISIT, disease=""), "disease", "", "needs its disease"),
    ("visit, kind in Chinese, without disease", dict(GOOD, kind="门诊"), "disease", "", "needs its disease"),
    ("unknown disease", dict(VISIT, disease="感冒"), "disease", "感冒", "not in the policy's outpatient_diseases"),
    ("paid basic malformed", dict(PAID, basic_paid="1,200"), "basic_paid", "1,200", "not a valid amount"),
    ("paid negative", dict(PAID, critical_paid="-1"), "critical_paid", "-1", "must not be negative"),
    ("basic paid above in scope", dict(PAID, basic_paid="19000.01"), "basic_paid", "19000.01", "19000.00"),
    ("paid sum above in scope", dict(PAID, critical_paid="7000.01"), "critical_paid", "7000.01", "exceed the in-scope"),
    ("only basic paid", dict(PAID, critical_paid=""), "critical_paid", "", "must both be given"),
    ("only critical paid", dict(PAID, basic_paid=""), "basic_paid", "", "must both be given"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("label", "row", "column", "value", "reason"), BAD_ROWS, ids=[r[0] for r in BAD_ROWS]
)
def test_invalid_outpatient_and_paid_rows(
    label: str, row: dict[str, str], column: str, value: str, reason: str
) -> None:
    """settlement.md §6/§7: each bad row of the issue is named by its row, column and reason."""
    rows = [
        dict(GOOD, claim_id="C0"),
        dict(row, claim_id="C1"),
        dict(VISIT, claim_id="C2"),
        dict(PAID, claim_id="C3"),
    ]
    result = validate(rows)
    assert [(e.row, e.column, e.value) for e in result.errors] == [(3, column, value)], result.errors
    assert reason in result.errors[0].en and result.errors[0].zh
    assert result.table.claim_id.tolist() == [b"C0", b"C2", b"C3"]


def test_paid_amounts_on_a_visit_are_refused_in_both_columns() -> None:
    result = validate([dict(VISIT, basic_paid="10", critical_paid="0")])
    assert [(e.column, e.value) for e in result.errors] == [("basic_paid", "10"), ("critical_paid", "0")]
    assert all("not for an outpatient claim" in e.en for e in result.errors)


def test_visit_of_a_category_without_an_outpatient_block() -> None:
    doc = tomllib.loads((Path(__file__).parent.parent / "presets" / "suixian-2020.toml").read_text("utf-8"))
    del doc["categories"]["monitored"]["outpatient"]
    policy = parse_policy(doc)
    rows = [dict(VISIT, category="monitored"), dict(GOOD, claim_id="C2", category="monitored")]
    result = validate(rows, policy=policy)
    assert [(e.row, e.column, e.value) for e in result.errors] == [(2, "category", "monitored")]
    assert "has no outpatient block" in result.errors[0].en
    assert "monitored" in result.errors[0].zh


def test_optional_columns_become_the_table() -> None:
    rows = [
        dict(GOOD, kind=""),  # empty: a stay
        dict(VISIT, claim_id="C2", kind="门诊", disease="终末期肾病"),
        dict(GOOD, claim_id="C3", kind="住院", disease="肺炎"),  # a stay's disease is not read
        dict(PAID, claim_id="C4", kind="inpatient"),
        dict(VISIT, claim_id="C5"),
    ]
    result = validate(rows)
    assert result.errors == ()
    table = result.table
    assert table.outpatient_mask().tolist() == [False, True, False, False, True]
    assert table.disease_names == POLICY.disease_names
    assert [table.disease_names[d] if d >= 0 else "" for d in table.disease_codes().tolist()] == [
        "", "终末期肾病", "", "", "高血压",
    ]  # fmt: skip
    basic_paid, critical_paid = table.paid_fen()
    assert basic_paid.tolist() == [-1, -1, -1, 1_200_000, -1]
    assert critical_paid.tolist() == [-1, -1, -1, 300_000, -1]
    assert table.claim(1).kind == "outpatient" and table.claim(1).disease == "终末期肾病"
    assert table.claim(2).disease == ""
    assert str(table.claim(3).basic_paid_amount) == "12000.00"
    # Written headers name the optional columns too.
    bad = validate([dict(VISIT, disease="")], headers={"disease": "病种"})
    assert str(bad.errors[0]).startswith("第2行 病种“”：门诊慢特病结算须填写病种")


def test_duplicate_claim_id_names_the_first_row() -> None:
    rows = [GOOD, dict(GOOD, claim_id="C2"), dict(GOOD, discharge_date="2020-05-01")]
    result = validate(rows)
    assert [(e.row, e.column, e.value) for e in result.errors] == [(4, "claim_id", "C1")]
    assert "same as row 2" in result.errors[0].en
    assert "第2行" in result.errors[0].zh


def test_errors_sorted_and_one_per_cell_with_written_headers() -> None:
    rows = [dict(GOOD, level="9", total="x", claim_id=""), GOOD]
    headers = {"level": "医院等级", "total": "医疗总费用", "claim_id": "结算号"}
    result = validate(rows, headers=headers)
    assert [(e.row, e.column) for e in result.errors] == [(2, "结算号"), (2, "医院等级"), (2, "医疗总费用")]
    assert "第2行 医院等级“9”" in str(result.errors[1])


def test_person_check_is_used_and_codes_by_normalised_id() -> None:
    from jkfp.engine.claims import PersonCodes

    def check(column: TextColumn) -> PersonCodes:
        texts = [column.text(i) for i in range(len(column))]
        keys = sorted({t.upper() for t in texts if t.startswith("4")})
        code = np.array([keys.index(t.upper()) if t.startswith("4") else -1 for t in texts], dtype=np.int64)
        return PersonCodes(code=code, reasons={1: ("坏号", "bad id")}, keys=keys)

    rows = [GOOD, dict(GOOD, claim_id="C2", person_id="x"), dict(GOOD, claim_id="C3", person_id="4abc")]
    result = validate(rows, check_person_ids=check)
    assert [(e.row, e.column, e.en) for e in result.errors] == [(3, "person_id", "bad id")]
    assert result.table.person_keys == ["421321198001010117", "4ABC"]


def test_valid_rows_become_the_table() -> None:
    rows = [
        GOOD,
        dict(
            GOOD,
            claim_id="C2",
            person_id="421321198001010221",
            category="ordinary",
            level="3",
            in_county="0",
            referred="1",
            total="5",
            out_of_scope="0.5",
            discharge_date="2020-12-31",
        ),
    ]
    table = validate(rows).table
    assert table.claim_id.tolist() == [b"C1", b"C2"]
    assert table.category_names[int(table.category[1])] == "ordinary"
    assert table.level.tolist() == [2, 3]
    assert table.in_county.tolist() == [True, False]
    assert table.referred.tolist() == [False, True]
    assert table.total_fen.tolist() == [2_000_000, 500]
    assert table.out_of_scope_fen.tolist() == [100_000, 50]
    assert table.discharge_day.tolist() == [
        date(2020, 3, 1).toordinal() - EPOCH_ORDINAL,
        date(2020, 12, 31).toordinal() - EPOCH_ORDINAL,
    ]
    second = table.claim(1)
    assert (second.claim_id, second.person_id, str(second.total_amount)) == (
        "C2",
        "421321198001010221",
        "5.00",
    )


def test_text_column_round_trip() -> None:
    values = ["结算号-1", "", "abc", "ü"]
    column = TextColumn.from_strings(values)
    assert [column.text(i) for i in range(len(values))] == values
    assert column.equals(b"abc").tolist() == [False, False, True, False]
    assert column.has_nul().tolist() == [False] * 4


AMOUNT_TEXT = st.one_of(
    st.from_regex(re.compile(r"-?[0-9]{0,14}(\.[0-9]{0,4})?"), fullmatch=True),
    st.text(alphabet="0123456789.-,+ e\x00٣", max_size=16),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(AMOUNT_TEXT, min_size=1, max_size=20))
def test_vectorised_amounts_agree_with_the_exact_parser(texts: list[str]) -> None:
    fen, ok = parse_fen_matrix(TextColumn.from_strings(texts))
    for text, value, accepted in zip(texts, fen.tolist(), ok.tolist(), strict=True):
        try:
            exact: int | None = parse_amount_fen(text)
        except ClaimValueError:
            exact = None
        if accepted:
            assert exact == value, text
        if exact is not None and len(text) <= 15:
            assert accepted, text


def test_amount_limit() -> None:
    assert parse_amount_fen("100000000.00") == MAX_CLAIM_AMOUNT_FEN
    with pytest.raises(ClaimValueError, match="absurd"):
        parse_amount_fen("100000000.01")


DATE_TEXT = st.one_of(
    st.dates(min_value=date(1, 1, 1)).map(lambda d: d.isoformat()),
    st.from_regex(re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"), fullmatch=True),
    st.text(alphabet="0123456789-/", max_size=11),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(DATE_TEXT, min_size=1, max_size=20))
def test_vectorised_dates_agree_with_the_exact_parser(texts: list[str]) -> None:
    days, ok = parse_day_matrix(TextColumn.from_strings(texts))
    for text, value, accepted in zip(texts, days.tolist(), ok.tolist(), strict=True):
        exact = _parse_day(text)
        assert accepted == isinstance(exact, int), text
        if accepted:
            assert value == exact


def test_days_from_civil_matches_the_calendar() -> None:
    start = date(1899, 12, 25)
    days = [start + timedelta(days=k * 37) for k in range(3000)]
    got = days_from_civil(
        np.array([d.year for d in days]), np.array([d.month for d in days]), np.array([d.day for d in days])
    )
    assert got.tolist() == [d.toordinal() - EPOCH_ORDINAL for d in days]
