"""居民身份证号码 Resident ID numbers (GB 11643): check, normalise, mask.

Pure Python (no Django) so that the settlement command can use it too.
"""

from __future__ import annotations

from datetime import date

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
    if born > (today or date.today()):
        raise IdNumberError(f"出生日期{raw[6:14]}在将来", f"birth date {raw[6:14]} is in the future")
    if born.year < 1900:
        raise IdNumberError(f"出生日期{raw[6:14]}早于1900年", f"birth date {raw[6:14]} is before 1900")
    expected = check_char(raw[:17])
    if raw[17] != expected:
        raise IdNumberError(
            f"校验码错误（应为{expected}）", f"check character is wrong (expected {expected})"
        )
    return raw


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


def make_id_number(region6: str, born: date, serial: int) -> str:
    """造号 Build a valid ID number (for demo data and tests): 6-digit region, birth date, 3-digit serial."""
    body = f"{region6}{born:%Y%m%d}{serial % 1000:03d}"
    return body + check_char(body)
