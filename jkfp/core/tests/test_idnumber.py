"""居民身份证号 GB 11643 helpers: check character, 15→18 conversion, birth dates, masking."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jkfp.core.idnumber import (
    IdNumberError,
    birth_date,
    check_char,
    is_valid_id_number,
    make_id_number,
    mask,
    sex,
    validate_id_number,
)


def test_documented_example_is_valid() -> None:
    assert validate_id_number("11010519491231002X") == "11010519491231002X"
    assert validate_id_number(" 11010519491231002x ") == "11010519491231002X"
    assert check_char("11010519491231002") == "X"


def test_wrong_check_character() -> None:
    with pytest.raises(IdNumberError) as caught:
        validate_id_number("110105194912310021")
    assert "校验码" in caught.value.zh and "check character" in caught.value.en


def test_fifteen_digits_are_converted() -> None:
    body = "110105" + "19" + "491231002"
    assert validate_id_number("110105491231002") == body + check_char(body)
    with pytest.raises(IdNumberError):
        validate_id_number("11010549123100X")


@pytest.mark.parametrize(
    ("value", "part"),
    [
        ("", "为空"),
        ("1101051949123100", "18位"),
        ("11010519491231002A", "非法字符"),
        ("110105194902300021"[:17] + check_char("11010519490230002"), "不存在"),
        ("110105189912310021"[:17] + check_char("11010518991231002"), "1900"),
    ],
)
def test_invalid_numbers(value: str, part: str) -> None:
    with pytest.raises(IdNumberError) as caught:
        validate_id_number(value)
    assert part in caught.value.zh
    assert not is_valid_id_number(value)


def test_future_birth_date_depends_on_today() -> None:
    idn = make_id_number("421321", date(2030, 5, 1), 7)
    assert not is_valid_id_number(idn, today=date(2030, 4, 30))
    assert is_valid_id_number(idn, today=date(2030, 5, 1))


def test_derived_fields_and_mask() -> None:
    man = make_id_number("421321", date(1980, 2, 29), 13)
    woman = make_id_number("421321", date(1980, 2, 29), 12)
    assert (sex(man), sex(woman), birth_date(man)) == ("M", "F", date(1980, 2, 29))
    assert mask(man) == man[:6] + "********" + man[-4:]
    assert mask("123") == "***"


@given(born=st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)), serial=st.integers(0, 999))
def test_made_numbers_validate(born: date, serial: int) -> None:
    idn = make_id_number("421321", born, serial)
    assert validate_id_number(idn, today=date(2021, 1, 1)) == idn
    assert birth_date(idn) == born
