"""居民身份证号码 Resident ID numbers (GB 11643): check, normalise, mask — the one home of the rule.

Scalar (``validate_id_number``, ``id_number_checked``) and vectorised over a column of IDs
(``ids_check``, ``ids_check_bytes``: numpy, for the roster import and ``jkfp settle``). No Django, so
that the settlement command can use it too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from numpy.typing import NDArray

from jkfp.core.clock import local_today

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"


class IdNumberError(ValueError):
    """身份证号不合法 An ID number that fails GB 11643."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en


def check_char(first17: str) -> str:
    """校验码 The check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def _birth(digits8: str) -> date | None:
    try:
        return date(int(digits8[0:4]), int(digits8[4:6]), int(digits8[6:8]))
    except ValueError:
        return None


def validate_id_number(value: str, *, today: date | None = None) -> str:
    """校验身份证号 Return the normalised 18-character ID or raise IdNumberError.

    A 15-digit number is converted (insert ``19``, add the check character), lower-case ``x``
    becomes ``X``; the birth date must be a real date, not in the future and not before 1900.
    """
    raw = (value or "").strip().upper()
    if not raw:
        raise IdNumberError("身份证号为空", "ID number is empty")
    if "*" in raw:
        raise IdNumberError(
            "身份证号已脱敏（带*号，如导出的台账），不能用于导入，请使用完整身份证号",
            "the ID number is masked (with *, as in an exported ledger): use the full number",
        )
    if len(raw) == 15:
        if not (raw.isascii() and raw.isdigit()):
            raise IdNumberError("15位身份证号只能由数字组成", "a 15-digit ID number must be all digits")
        body = raw[:6] + "19" + raw[6:]
        raw = body + check_char(body)
    if len(raw) != 18:
        raise IdNumberError(
            f"身份证号应为18位，实际{len(raw)}位", f"ID number must have 18 characters, not {len(raw)}"
        )
    # isascii(): str.isdigit() also accepts full-width and superscript digits.
    if not raw.isascii() or not raw[:17].isdigit() or not (raw[17].isdigit() or raw[17] == "X"):
        raise IdNumberError("身份证号含有非法字符", "ID number contains invalid characters")
    born = _birth(raw[6:14])
    if born is None:
        raise IdNumberError(f"出生日期{raw[6:14]}不存在", f"birth date {raw[6:14]} does not exist")
    # No Django here: without ``today`` the machine's local date (Django callers pass timezone.localdate()).
    if born > (today or local_today()):
        raise IdNumberError(f"出生日期{raw[6:14]}在将来", f"birth date {raw[6:14]} is in the future")
    if born.year < 1900:
        raise IdNumberError(f"出生日期{raw[6:14]}早于1900年", f"birth date {raw[6:14]} is before 1900")
    expected = check_char(raw[:17])
    if raw[17] != expected:
        raise IdNumberError(
            f"校验码错误（应为{expected}）", f"check character is wrong (expected {expected})"
        )
    return raw


def id_number_checked(value: str, *, today: date) -> tuple[str | None, str]:
    """(normalised ID, "") or (None, "reason in Chinese / in English"): ``validate_id_number`` for
    the rows that the vectorised check could not accept."""
    try:
        return validate_id_number(value, today=today), ""
    except IdNumberError as exc:
        return None, f"{exc.zh} / {exc.en}"


def is_valid_id_number(value: str, *, today: date | None = None) -> bool:
    """是否合法 True when ``value`` passes GB 11643."""
    try:
        validate_id_number(value, today=today)
    except IdNumberError:
        return False
    return True


def birth_date(id_number: str) -> date:
    """出生日期 Birth date of a valid 18-character ID number."""
    born = _birth(id_number[6:14])
    if born is None:
        raise IdNumberError("出生日期不存在", "birth date does not exist")
    return born


def sex(id_number: str) -> str:
    """性别 ``"M"`` when the 17th digit is odd, else ``"F"``."""
    return "M" if int(id_number[16]) % 2 == 1 else "F"


def mask(id_number: str) -> str:
    """脱敏 First 6 and last 4 characters shown, the rest as ``*``."""
    if len(id_number) <= 10:
        return "*" * len(id_number)
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


# An ID number inside free text: 18 characters (17 digits and a digit or X) or the old 15 digits, not
# part of a longer run of digits.
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(?:[0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9A-Za-z])")


# A bank account number inside free text (once ID numbers are masked): 12 to 19 digits, not part of a
# longer run — longer than a phone number (11), as long as a bank card or passbook number.
_ACCOUNT_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])[0-9]{12,19}(?![0-9A-Za-z])")


def account_mask(account_no: str) -> str:
    """银行账号脱敏 Only the last 4 digits shown (``************1234``)."""
    if len(account_no) <= 4:
        return "*" * len(account_no)
    return "*" * (len(account_no) - 4) + account_no[-4:]


def mask_text(text: str, *, accounts: bool = False) -> str:
    """文本脱敏 Every ID-number-shaped run of ``text`` masked by ``mask`` (for search queries in the log);
    with ``accounts`` every other run of 12–19 digits too, as a bank account (``account_mask``)."""
    masked = _ID_IN_TEXT.sub(lambda m: mask(m.group(0)), text)
    if accounts:
        masked = _ACCOUNT_IN_TEXT.sub(lambda m: account_mask(m.group(0)), masked)
    return masked


def make_id_number(region6: str, born: date, serial: int) -> str:
    """造号 Build a valid ID number (for demo data and tests): 6-digit region, birth date, 3-digit serial."""
    body = f"{region6}{born:%Y%m%d}{serial % 1000:03d}"
    return body + check_char(body)


# --------------------------------------------------------------------------- vectorised

_WEIGHT_LIST = list(WEIGHTS)
_CHECK_CODES = np.frombuffer(CHECK_CHARS.encode("ascii"), dtype=np.uint8)
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
_PLACEHOLDER = "?" * 18


@dataclass(frozen=True, eq=False)
class IdChecks:
    """The vectorised GB 11643 check of a column of IDs.

    ``ok``: the cell is a valid 18-character ID as written, a lower-case ``x`` accepted (every other
    cell must go through ``validate_id_number`` for its reason or its normalised form); ``key``: the
    first 17 digits as an integer (the person's key; meaningful where ``ok``); ``lower_x``: ``ok`` and
    written with a lower-case ``x``.
    """

    ok: NDArray[np.bool_]
    key: NDArray[np.int64]
    lower_x: NDArray[np.bool_]


def ids_check_bytes(
    positions: Sequence[NDArray[np.uint8]], candidates: NDArray[np.bool_], today: date
) -> IdChecks:
    """GB 11643 over byte positions: ``positions[j][i]`` is byte ``j`` (0–17) of cell ``i``;
    ``candidates`` marks the cells that are 18 single-byte characters long (the others fail)."""
    n = len(candidates)
    ok = candidates.copy()
    weighted = np.zeros(n, dtype=np.int64)
    key = np.zeros(n, dtype=np.int64)
    digits: list[NDArray[np.int64]] = []
    for j in range(17):
        d8 = positions[j] - np.uint8(48)  # a non-digit wraps around to more than 9
        ok &= d8 <= 9
        d = np.where(d8 <= 9, d8, 0).astype(np.int64)
        digits.append(d)
        weighted += d * _WEIGHT_LIST[j]
        key = key * 10 + d
    check = _CHECK_CODES[weighted % 11]
    last = positions[17]
    lower_x = last == ord("x")
    ok &= (last == check) | (lower_x & (check == ord("X")))
    year = digits[6] * 1000 + digits[7] * 100 + digits[8] * 10 + digits[9]
    month = digits[10] * 10 + digits[11]
    day = digits[12] * 10 + digits[13]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    limit = _MONTH_DAYS[np.where(month_ok, month, 0)] + ((month == 2) & leap)
    ok &= month_ok & (day >= 1) & (day <= limit) & (year >= 1900)
    ok &= year * 10000 + month * 100 + day <= today.year * 10000 + today.month * 100 + today.day
    return IdChecks(ok=ok, key=key, lower_x=lower_x & ok)


def ids_check(column: Sequence[str], today: date) -> IdChecks:
    """GB 11643 over a column of texts (see ``IdChecks``)."""
    n = len(column)
    if n == 0:
        empty = np.zeros(0, dtype=np.bool_)
        return IdChecks(ok=empty, key=np.zeros(0, dtype=np.int64), lower_x=empty)
    joined = "".join(column)
    if len(joined) != 18 * n or not joined.isascii() or set(map(len, column)) != {18}:
        joined = "".join(s if len(s) == 18 and s.isascii() else _PLACEHOLDER for s in column)
    matrix = np.frombuffer(joined.encode("ascii"), dtype=np.uint8).reshape(n, 18)
    return ids_check_bytes([matrix[:, j] for j in range(18)], np.ones(n, dtype=np.bool_), today)
