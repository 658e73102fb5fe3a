"""结算申请 Claims: the record of one hospital stay or outpatient visit, a columnar table of
claims, and the validation of a claims file's cells into claims and row errors (``settlement.md``
§1, §6 and §7).

Columns of a claims file (canonical name → accepted header spellings) are ``CLAIM_COLUMNS`` (every
file has them) and ``OPTIONAL_CLAIM_COLUMNS`` (``kind``, ``disease``, ``basic_paid``,
``critical_paid``: outpatient claims and stays already settled by the insurance platform;
``institution_code``: claim ids unique per institution). Amounts are yuan with at most two decimals and at most ``MAX_CLAIM_AMOUNT_FEN`` (100,000,000.00
yuan, an "absurd amount" above it); that bound keeps every product of the batch engine inside
int64 (amount in fen × rate in parts per million < 10^16, see the ADR).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Final, Literal, overload

import numpy as np
from numpy.typing import NDArray

from jkfp.engine.policy import Policy

MAX_CLAIM_AMOUNT_FEN: Final = 10_000_000_000  # 100,000,000.00 yuan
# Plausibility (issue 17 §6): a stay costing more than this is refused as a likely typing error
# (callers may configure another limit: settings.CLAIM_PLAUSIBLE_MAX_AMOUNT for the hospital API).
PLAUSIBLE_CLAIM_AMOUNT_FEN: Final = 500_000_000  # 5,000,000.00 yuan
EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()

# Canonical column → accepted header spellings (the first one is the display name).
CLAIM_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "claim_id": ("结算号", "claim_id", "住院号"),
    "person_id": ("身份证号", "person_id", "公民身份号码", "身份证号码"),
    "category": ("结算类别", "category", "人员类别"),
    "discharge_date": ("出院日期", "discharge_date"),
    "level": ("医院等级", "level"),
    "in_county": ("县域内", "in_county"),
    "referred": ("转诊备案", "referred", "是否转诊"),
    "total": ("医疗总费用", "total", "总费用"),
    "out_of_scope": ("目录外费用", "out_of_scope", "自费费用"),
}
COLUMN_ORDER: Final = tuple(CLAIM_COLUMNS)  # the required columns
# Optional columns (settlement.md §6, §7): absent, or an empty cell, means an ordinary stay.
OPTIONAL_CLAIM_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "kind": ("就诊类别", "kind", "类别"),
    "disease": ("病种", "disease"),
    "basic_paid": ("基本医保已付", "basic_paid"),
    "critical_paid": ("大病保险已付", "critical_paid"),
    # A claim id is unique per institution (two hospitals may use the same one): with this column,
    # (claim_id, institution_code) must be unique in a file, and ``jkfp settle`` writes it back.
    "institution_code": ("机构代码", "institution_code", "医疗机构代码", "机构编码"),
}
OPTIONAL_COLUMN_ORDER: Final = tuple(OPTIONAL_CLAIM_COLUMNS)
ALL_CLAIM_COLUMNS: Final[dict[str, tuple[str, ...]]] = {**CLAIM_COLUMNS, **OPTIONAL_CLAIM_COLUMNS}
ALL_COLUMN_ORDER: Final = tuple(ALL_CLAIM_COLUMNS)

ClaimKind = Literal["inpatient", "outpatient"]
INPATIENT: Final = "inpatient"
OUTPATIENT: Final = "outpatient"
# Accepted spellings of a kind cell (an empty cell is a stay).
KIND_SPELLINGS: Final[dict[str, tuple[str, ...]]] = {
    INPATIENT: ("inpatient", "住院"),
    OUTPATIENT: ("outpatient", "门诊", "门诊慢特病"),
}
NOT_PAID: Final = -1  # ClaimTable.basic_paid_fen / critical_paid_fen: the column is empty

# The reasons a claim's §6/§7 fields are refused, shared by ``Claim`` and ``validate_claim_columns``.
KIND_REASON: Final = (
    "就诊类别应为“住院”（inpatient）或“门诊”（outpatient），留空为住院",
    "kind must be inpatient or outpatient (empty: inpatient)",
)
DISEASE_MISSING_REASON: Final = (
    "门诊慢特病结算须填写病种",
    "an outpatient claim needs its disease",
)
PAID_PAIR_REASON: Final = (
    "基本医保已付与大病保险已付须同时填写或同时留空",
    "basic_paid and critical_paid must both be given or both be empty",
)
PAID_OUTPATIENT_REASON: Final = (
    "门诊慢特病结算不填基本医保已付、大病保险已付（只用于统筹地已结算的住院）",
    "basic_paid and critical_paid are for stays already settled elsewhere, not for an outpatient claim",
)


def unknown_disease_reason(policy: Policy) -> tuple[str, str]:
    """The reason for an outpatient claim whose disease the policy does not list."""
    names = policy.disease_names
    return (
        f"政策中没有这个门诊慢特病病种（可用：{'、'.join(names) or '无'}）",
        f"disease not in the policy's outpatient_diseases (known: {', '.join(names) or 'none'})",
    )


def no_outpatient_reason(category: str) -> tuple[str, str]:
    """The reason for an outpatient claim whose category has no ``outpatient`` block."""
    return (
        f"结算类别“{category}”在政策中没有门诊慢特病（outpatient）规定，不能结算门诊",
        f"category {category!r} has no outpatient block in the policy: no outpatient claim",
    )


def paid_over_scope_reason(in_scope_fen: int) -> tuple[str, str]:
    """The reason for paid amounts above the in-scope cost (total − out_of_scope)."""
    yuan = fen_to_decimal(in_scope_fen)
    return (
        f"基本医保已付与大病保险已付之和超过目录内费用（医疗总费用 − 目录外费用 = {yuan:.2f}）",
        f"basic_paid + critical_paid exceed the in-scope cost (total − out_of_scope = {yuan:.2f})",
    )


_AMOUNT_RE = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

Int64Array = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
# Claim ids: Python strings, or a numpy bytes array of UTF-8 text (what a claims file yields);
# byte order of UTF-8 equals code-point order, so both sort the same.
ClaimIds = Sequence[str] | NDArray[np.bytes_]


class ClaimValueError(ValueError):
    """A cell or a claim that is not valid; ``zh`` and ``en`` give the reason."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en


# The rules of one claim's own fields live here, in the engine's claim validation, with their
# messages: the claims-file validation below (``jkfp settle``), ``Claim`` itself, the API schema, the
# window's forms, the claim import and the settlement services use them (amounts: ``amount_fen``;
# out_of_scope ≤ total: ``out_of_scope_above_total``; dates: ``claim_date_reasons``; §7 paid amounts:
# ``paid_reasons``; kind and disease: the reasons above).
OUT_OF_SCOPE_ABOVE_TOTAL: Final = ("目录外费用不能大于医疗总费用", "out_of_scope exceeds total")
AMOUNT_INVALID: Final = (
    "金额不合法：{reason}",
    "invalid amount: {reason}",
)  # reason: a ``ClaimValueError``'s
ADMIT_FUTURE: Final = ("入院日期不能晚于今天", "the admission date is in the future")
ADMIT_BEFORE_BIRTH: Final = ("入院日期不能早于出生日期", "the admission date is before the birth date")
DISCHARGE_FUTURE: Final = ("出院日期不能晚于今天", "the discharge date is in the future")
DISCHARGE_BEFORE_ADMIT: Final = (
    "出院日期不能早于入院日期",
    "the discharge date is before the admission date",
)


def paid_reasons(
    *,
    given: tuple[bool, bool],
    paid_fen: tuple[int | None, int | None],
    in_scope_fen: int | None,
    outpatient: bool = False,
) -> dict[str, tuple[str, str]]:
    """统筹地已结算 The problems of a claim's §7 paid amounts, by field (``basic_paid``,
    ``critical_paid``): for a stay only; both or neither; their sum within the in-scope cost
    (basic alone above it is basic's problem, else the sum is critical's). ``given``: whether each
    was filled in; ``paid_fen``: its value (None: absent or not an amount — the caller reports that);
    ``in_scope_fen``: total − out_of_scope, None when those are not valid. The claims-file validation
    below applies the same rule by column."""
    names = ("basic_paid", "critical_paid")
    out: dict[str, tuple[str, str]] = {}
    if outpatient:
        out.update({name: PAID_OUTPATIENT_REASON for name, g in zip(names, given, strict=True) if g})
    if any(given):
        out.update({name: PAID_PAIR_REASON for name, g in zip(names, given, strict=True) if not g})
    basic, critical = paid_fen
    if (
        all(given)
        and not outpatient
        and basic is not None
        and critical is not None
        and in_scope_fen is not None
    ):
        if basic > in_scope_fen:
            out["basic_paid"] = paid_over_scope_reason(in_scope_fen)
        elif basic + critical > in_scope_fen:
            out["critical_paid"] = paid_over_scope_reason(in_scope_fen)
    return out


def claim_date_reasons(
    *, admitted_on: date | None, discharged_on: date | None, today: date, born: date | None = None
) -> dict[str, tuple[str, str]]:
    """入出院日期 The problems of a claim's dates, by field (``admitted_on``, ``discharged_on``): none
    in the future, admission not before birth, discharge not before admission. A date that is None
    (absent or unreadable) is not checked."""
    out: dict[str, tuple[str, str]] = {}
    if admitted_on is not None:
        if admitted_on > today:
            out["admitted_on"] = ADMIT_FUTURE
        elif born is not None and admitted_on < born:
            out["admitted_on"] = ADMIT_BEFORE_BIRTH
    if discharged_on is not None:
        if discharged_on > today:
            out["discharged_on"] = DISCHARGE_FUTURE
        elif admitted_on is not None and discharged_on < admitted_on:
            out["discharged_on"] = DISCHARGE_BEFORE_ADMIT
    return out


@overload
def out_of_scope_above_total(total_fen: int, out_of_scope_fen: int) -> bool: ...
@overload
def out_of_scope_above_total(total_fen: Int64Array, out_of_scope_fen: Int64Array) -> BoolArray: ...
def out_of_scope_above_total(
    total_fen: int | Int64Array, out_of_scope_fen: int | Int64Array
) -> bool | BoolArray:
    """目录外费用不能大于医疗总费用 Where the out-of-scope amount exceeds the total (``settlement.md §1``):
    for integer fen (a bool) or arrays of them (a mask)."""
    return out_of_scope_fen > total_fen


def implausible_amount(fen: int, limit_fen: int = PLAUSIBLE_CLAIM_AMOUNT_FEN) -> bool:
    """金额不合理 True when an amount in fen exceeds the plausibility limit (0.00 is plausible: flagged
    in the settlement ledger, not refused)."""
    return fen > limit_fen


def implausible_amount_reason(limit_fen: int = PLAUSIBLE_CLAIM_AMOUNT_FEN) -> tuple[str, str]:
    """The reason for an amount above the plausibility limit."""
    yuan = fen_to_decimal(limit_fen)
    return (
        f"超过合理上限 {yuan:.2f} 元，疑为录入错误（确属实的请联系县医保部门核实）",
        f"above the plausibility limit of {yuan:.2f} yuan: probably a typing error",
    )


def parse_amount_fen(text: str) -> int:
    """金额 Parse a yuan amount text (``"20000"``, ``"150.5"``, ``"19000.00"``) into integer fen."""
    match = _AMOUNT_RE.fullmatch(text)
    if match is None:
        raise ClaimValueError(f"不是合法的金额：“{text}”", f"not a valid amount: {text!r}")
    sign, whole, frac = match.groups()
    frac = frac or ""
    if sign:
        raise ClaimValueError("金额不能为负数", "amount must not be negative")
    if len(frac) > 2:
        raise ClaimValueError("金额最多两位小数", "an amount has at most 2 decimals")
    fen = int(whole) * 100 + int(frac.ljust(2, "0"))
    if fen > MAX_CLAIM_AMOUNT_FEN:
        raise ClaimValueError(
            f"金额超过上限 {MAX_CLAIM_AMOUNT_FEN // 100} 元，疑为错误",
            f"absurd amount: above {MAX_CLAIM_AMOUNT_FEN // 100} yuan",
        )
    return fen


def amount_fen(value: Decimal | str | int) -> int:
    """金额 A claim amount — text as typed, a Decimal or whole yuan — as integer fen, by the rule of
    ``parse_amount_fen`` (≥ 0, at most two decimals, at most ``MAX_CLAIM_AMOUNT_FEN``); a
    ``ClaimValueError`` names the problem (``AMOUNT_INVALID`` is its message in a form or a report)."""
    if isinstance(value, Decimal):
        text = format(value, "f") if value.is_finite() else str(value)
    else:
        text = str(value).strip()
    return parse_amount_fen(text)


def fen_to_decimal(fen: int) -> Decimal:
    """Integer fen as a Decimal yuan amount with two decimals."""
    return Decimal(fen).scaleb(-2)


def decimal_to_fen(amount: Decimal) -> int:
    """A Decimal yuan amount with at most two decimals as integer fen (ValueError otherwise)."""
    scaled = amount.scaleb(2)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"amount has more than 2 decimals: {amount}")
    return int(scaled)


@dataclass(frozen=True, slots=True)
class Claim:
    """结算申请 One hospital stay (住院, settled at discharge) or one outpatient visit for a certified
    chronic disease (门诊慢特病) of one insured person (``settlement.md`` §1, §6, §7).

    For an outpatient claim ``discharge_on`` is the visit date and ``disease`` names the disease.
    A stay already settled by the insurance platform elsewhere carries what basic and critical
    illness insurance paid (``basic_paid_amount``, ``critical_paid_amount``: both or neither).
    """

    claim_id: str
    person_id: str
    category: str
    discharge_on: date
    level: int  # 1, 2, 3: 一级 / 二级 / 三级
    in_county: bool
    referred: bool
    total_amount: Decimal
    out_of_scope_amount: Decimal
    kind: ClaimKind = INPATIENT
    disease: str = ""  # outpatient only; a stay's is ignored
    basic_paid_amount: Decimal | None = None  # §7, stays only
    critical_paid_amount: Decimal | None = None

    def __post_init__(self) -> None:
        if self.level not in (1, 2, 3):
            raise ValueError(f"level must be 1, 2 or 3, not {self.level!r}")
        for name in ("total_amount", "out_of_scope_amount", "basic_paid_amount", "critical_paid_amount"):
            value = getattr(self, name)
            if value is None and name.endswith("_paid_amount"):
                continue
            if not isinstance(value, Decimal) or not value.is_finite():
                raise ValueError(f"{name} must be a finite Decimal")
            fen = decimal_to_fen(value)
            if fen < 0 or fen > MAX_CLAIM_AMOUNT_FEN:
                raise ValueError(f"{name} out of range: {value}")
        if out_of_scope_above_total(self.total_fen, self.out_of_scope_fen):
            raise ClaimValueError(*OUT_OF_SCOPE_ABOVE_TOTAL)
        if self.kind not in (INPATIENT, OUTPATIENT):
            raise ClaimValueError(*KIND_REASON)
        if self.kind == OUTPATIENT and not self.disease:
            raise ClaimValueError(*DISEASE_MISSING_REASON)
        paid = (self.basic_paid_amount, self.critical_paid_amount)
        if (paid[0] is None) != (paid[1] is None):
            raise ClaimValueError(*PAID_PAIR_REASON)
        if paid[0] is not None and paid[1] is not None:
            if self.kind == OUTPATIENT:
                raise ClaimValueError(*PAID_OUTPATIENT_REASON)
            if paid[0] + paid[1] > self.total_amount - self.out_of_scope_amount:
                raise ClaimValueError(*paid_over_scope_reason(self.total_fen - self.out_of_scope_fen))

    @property
    def outpatient(self) -> bool:
        """门诊慢特病 Whether this is an outpatient claim (§6)."""
        return self.kind == OUTPATIENT

    @property
    def settled_elsewhere(self) -> bool:
        """统筹地已结算 Whether basic and critical illness insurance already paid (§7)."""
        return self.basic_paid_amount is not None

    @property
    def total_fen(self) -> int:
        return decimal_to_fen(self.total_amount)

    @property
    def out_of_scope_fen(self) -> int:
        return decimal_to_fen(self.out_of_scope_amount)

    @property
    def basic_paid_fen(self) -> int:
        """§7 basic insurance already paid, in fen (``NOT_PAID`` when not settled elsewhere)."""
        return NOT_PAID if self.basic_paid_amount is None else decimal_to_fen(self.basic_paid_amount)

    @property
    def critical_paid_fen(self) -> int:
        """§7 critical illness insurance already paid, in fen (``NOT_PAID`` when not settled elsewhere)."""
        return NOT_PAID if self.critical_paid_amount is None else decimal_to_fen(self.critical_paid_amount)

    @property
    def year(self) -> int:
        """The calendar year of discharge: year-to-date sums run per this year."""
        return self.discharge_on.year


@dataclass(frozen=True, eq=False)
class ClaimTable:
    """结算申请表 Claims by column, for the batch engine. Row ``i`` of every array is claim ``i``.

    ``person`` holds integer codes (equal code = same person); ``person_keys[code]`` is the ID
    number when known. ``category`` holds codes into ``category_names``. ``discharge_day`` is the
    number of days since 1970-01-01.

    The §6/§7 columns are optional (None: every claim is an ordinary stay): ``outpatient`` marks
    outpatient claims, ``disease`` holds codes into ``disease_names`` (−1 for a stay), and
    ``basic_paid_fen`` / ``critical_paid_fen`` what the insurance platform paid (``NOT_PAID``: none).
    """

    claim_id: ClaimIds
    person: Int64Array
    category: Int64Array
    category_names: tuple[str, ...]
    discharge_day: Int64Array
    level: Int64Array
    in_county: BoolArray
    referred: BoolArray
    total_fen: Int64Array
    out_of_scope_fen: Int64Array
    person_keys: Sequence[str] = field(default=())
    outpatient: BoolArray | None = None
    disease: Int64Array | None = None
    disease_names: tuple[str, ...] = ()
    basic_paid_fen: Int64Array | None = None
    critical_paid_fen: Int64Array | None = None

    def __post_init__(self) -> None:
        n = len(self.claim_id)
        for name in (
            "person",
            "category",
            "discharge_day",
            "level",
            "in_county",
            "referred",
            "total_fen",
            "out_of_scope_fen",
            "outpatient",
            "disease",
            "basic_paid_fen",
            "critical_paid_fen",
        ):
            array = getattr(self, name)
            if array is None and name in ("outpatient", "disease", "basic_paid_fen", "critical_paid_fen"):
                continue
            if not isinstance(array, np.ndarray) or array.shape != (n,):
                raise ValueError(f"ClaimTable.{name} must be a 1-d array of length {n}")
        if (self.outpatient is None) != (self.disease is None):
            raise ValueError("ClaimTable.outpatient and ClaimTable.disease go together")
        if (self.basic_paid_fen is None) != (self.critical_paid_fen is None):
            raise ValueError("ClaimTable.basic_paid_fen and ClaimTable.critical_paid_fen go together")

    def __len__(self) -> int:
        return len(self.claim_id)

    def outpatient_mask(self) -> BoolArray:
        """Where the claim is an outpatient claim (§6)."""
        if self.outpatient is None:
            return np.zeros(len(self), dtype=np.bool_)
        return self.outpatient.astype(np.bool_, copy=False)

    def disease_codes(self) -> Int64Array:
        """Each claim's disease as a code into ``disease_names`` (−1: none)."""
        if self.disease is None:
            return np.full(len(self), -1, dtype=np.int64)
        return self.disease.astype(np.int64, copy=False)

    def paid_fen(self) -> tuple[Int64Array, Int64Array]:
        """(basic_paid, critical_paid) in fen for every claim; ``NOT_PAID`` where not given (§7)."""
        if self.basic_paid_fen is None or self.critical_paid_fen is None:
            none = np.full(len(self), NOT_PAID, dtype=np.int64)
            return none, none
        return self.basic_paid_fen.astype(np.int64, copy=False), self.critical_paid_fen.astype(
            np.int64, copy=False
        )

    @classmethod
    def from_claims(cls, claims: Iterable[Claim]) -> ClaimTable:
        """Build the table from ``Claim`` records (persons coded by their ID number)."""
        rows = list(claims)
        persons: dict[str, int] = {}
        categories: dict[str, int] = {}
        diseases: dict[str, int] = {}
        person = [persons.setdefault(c.person_id, len(persons)) for c in rows]
        category = [categories.setdefault(c.category, len(categories)) for c in rows]
        disease = [diseases.setdefault(c.disease, len(diseases)) if c.outpatient else -1 for c in rows]
        basic_paid = [c.basic_paid_fen for c in rows]
        critical_paid = [c.critical_paid_fen for c in rows]
        n = len(rows)
        return cls(
            claim_id=[c.claim_id for c in rows],
            person=np.array(person, dtype=np.int64).reshape(n),
            category=np.array(category, dtype=np.int64).reshape(n),
            category_names=tuple(categories),
            discharge_day=np.array(
                [c.discharge_on.toordinal() - EPOCH_ORDINAL for c in rows], np.int64
            ).reshape(n),
            level=np.array([c.level for c in rows], dtype=np.int64).reshape(n),
            in_county=np.array([c.in_county for c in rows], dtype=np.bool_).reshape(n),
            referred=np.array([c.referred for c in rows], dtype=np.bool_).reshape(n),
            total_fen=np.array([c.total_fen for c in rows], dtype=np.int64).reshape(n),
            out_of_scope_fen=np.array([c.out_of_scope_fen for c in rows], dtype=np.int64).reshape(n),
            person_keys=tuple(persons),
            outpatient=np.array([c.outpatient for c in rows], dtype=np.bool_).reshape(n),
            disease=np.array(disease, dtype=np.int64).reshape(n),
            disease_names=tuple(diseases),
            basic_paid_fen=np.array(basic_paid, dtype=np.int64).reshape(n),
            critical_paid_fen=np.array(critical_paid, dtype=np.int64).reshape(n),
        )

    def claim_id_text(self, i: int) -> str:
        """Claim ``i``'s id as text."""
        value = self.claim_id[i]
        return bytes(value).decode("utf-8") if isinstance(value, bytes) else str(value)

    def claim_id_texts(self) -> list[str]:
        """Every claim id as text, in table order."""
        if isinstance(self.claim_id, np.ndarray):
            return [bytes(v).decode("utf-8") for v in self.claim_id.tolist()]
        return list(self.claim_id)

    def claim(self, i: int) -> Claim:
        """Row ``i`` as a ``Claim`` (the person is ``person_keys[code]``, else the code as text)."""
        code = int(self.person[i])
        person_id = self.person_keys[code] if code < len(self.person_keys) else str(code)
        outpatient = self.outpatient is not None and bool(self.outpatient[i])
        disease = self.disease_names[int(self.disease[i])] if outpatient and self.disease is not None else ""
        paid = [int(a[i]) for a in self.paid_fen()]
        return Claim(
            claim_id=self.claim_id_text(i),
            person_id=person_id,
            category=self.category_names[int(self.category[i])],
            discharge_on=date.fromordinal(int(self.discharge_day[i]) + EPOCH_ORDINAL),
            level=int(self.level[i]),
            in_county=bool(self.in_county[i]),
            referred=bool(self.referred[i]),
            total_amount=fen_to_decimal(int(self.total_fen[i])),
            out_of_scope_amount=fen_to_decimal(int(self.out_of_scope_fen[i])),
            kind=OUTPATIENT if outpatient else INPATIENT,
            disease=disease,
            basic_paid_amount=None if paid[0] == NOT_PAID else fen_to_decimal(paid[0]),
            critical_paid_amount=None if paid[1] == NOT_PAID else fen_to_decimal(paid[1]),
        )

    def take(self, rows: Int64Array) -> ClaimTable:
        """The sub-table of the given row indices (in that order)."""
        ids = self.claim_id
        return ClaimTable(
            claim_id=ids[rows] if isinstance(ids, np.ndarray) else [ids[int(i)] for i in rows],
            person=self.person[rows],
            category=self.category[rows],
            category_names=self.category_names,
            discharge_day=self.discharge_day[rows],
            level=self.level[rows],
            in_county=self.in_county[rows],
            referred=self.referred[rows],
            total_fen=self.total_fen[rows],
            out_of_scope_fen=self.out_of_scope_fen[rows],
            person_keys=self.person_keys,
            outpatient=None if self.outpatient is None else self.outpatient[rows],
            disease=None if self.disease is None else self.disease[rows],
            disease_names=self.disease_names,
            basic_paid_fen=None if self.basic_paid_fen is None else self.basic_paid_fen[rows],
            critical_paid_fen=None if self.critical_paid_fen is None else self.critical_paid_fen[rows],
        )


# --------------------------------------------------------------------------- file validation


@dataclass(frozen=True, slots=True)
class RowError:
    """错误行 One invalid cell of a claims file: spreadsheet row, column, the value, the reason."""

    row: int
    column: str
    value: str
    zh: str
    en: str

    def __str__(self) -> str:
        return (
            f"第{self.row}行 {self.column}“{self.value}”：{self.zh} / "
            f"row {self.row}, column {self.column}, value {self.value!r}: {self.en}"
        )


@dataclass(frozen=True, eq=False)
class TextColumn:
    """A column of cells as UTF-8 bytes, by byte position: ``data[j, i]`` is byte ``j`` of cell ``i``
    (zero past the end), ``length[i]`` the cell's length in bytes.

    Validation works on these arrays with numpy instead of a million Python strings; holding them
    position-major makes every step a contiguous vector operation over all rows.
    """

    data: NDArray[np.uint8]  # (width, rows)
    length: Int64Array  # (rows,)

    @classmethod
    def from_strings(cls, values: Sequence[str]) -> TextColumn:
        encoded = [v.encode("utf-8", "replace") for v in values]
        n = len(encoded)
        length = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
        width = max(1, int(length.max())) if n else 1
        rows = np.array(encoded, dtype=f"S{width}").view(np.uint8).reshape(n, width)
        return cls(data=np.ascontiguousarray(rows.T), length=length)

    def __len__(self) -> int:
        return len(self.length)

    @property
    def width(self) -> int:
        return int(self.data.shape[0])

    def text(self, i: int) -> str:
        """Cell ``i`` as text."""
        return bytes(self.data[: int(self.length[i]), i]).decode("utf-8", "replace")

    def rows(self) -> NDArray[np.uint8]:
        """The cells as a (rows, width) byte matrix."""
        return np.ascontiguousarray(self.data.T)

    def bytes_array(self) -> NDArray[np.bytes_]:
        """The cells as a numpy bytes array (``S<width>``)."""
        out: NDArray[np.bytes_] = self.rows().view(f"S{self.width}").reshape(len(self))
        return out

    def equals(self, value: bytes) -> BoolArray:
        """Where the cell is exactly ``value``."""
        match: BoolArray = self.length == len(value)
        if len(value) > self.width:
            return np.zeros(len(self), dtype=np.bool_)
        for j, byte in enumerate(value):
            match &= self.data[j] == byte
        return match

    def has_nul(self) -> BoolArray:
        """Where a cell holds a NUL byte (zero inside its length)."""
        if int(np.count_nonzero(self.data)) == int(self.length.sum()):
            return np.zeros(len(self), dtype=np.bool_)
        found = np.zeros(len(self), dtype=np.bool_)
        for j in range(self.width):
            found |= (self.data[j] == 0) & (j < self.length)
        return found


@dataclass(frozen=True, eq=False)
class PersonCodes:
    """The outcome of checking a person-ID column: a code per row (same person, same code; −1 invalid),
    the reason for every invalid non-empty cell, and the normalised ID of every code."""

    code: Int64Array
    reasons: Mapping[int, tuple[str, str]]
    keys: Sequence[str]


PersonIdCheck = Callable[[TextColumn], PersonCodes]


@dataclass(frozen=True, eq=False)
class ValidatedClaims:
    """The outcome of validating a claims file: the valid claims, where they came from, the errors."""

    table: ClaimTable  # valid rows only, in input order
    source_index: Int64Array  # for each row of ``table``, its 0-based position among the data rows
    errors: tuple[RowError, ...]  # sorted by row, then column order
    row_count: int  # data rows read
    # Valid rows discharged outside the policy's validity, accepted only with ``any_date`` (what-if).
    outside_validity: int = 0


def parse_fen_matrix(column: TextColumn) -> tuple[Int64Array, BoolArray]:
    """Vectorised parse of amount cells to fen: (fen, ok). ``ok`` is False for every cell that is
    not plainly ``digits[.d[d]]`` within range; those need ``parse_amount_fen`` for the reason."""
    n = len(column)
    width = min(column.width, 15)  # 12 integer digits + point + 2 decimals; longer is refused
    length = column.length
    ok = (length > 0) & (length <= width)
    dots = np.zeros(n, dtype=np.int64)
    dot_at = length.copy()
    value = np.zeros(n, dtype=np.int64)
    for j in range(width):
        byte = column.data[j]
        inside = j < length
        digit = byte - np.uint8(48)  # wraps around below "0"
        is_digit = (digit < 10) & inside
        is_dot = (byte == 46) & inside
        ok &= is_digit | is_dot | ~inside
        dots += is_dot
        dot_at = np.where(is_dot, j, dot_at)
        value = np.where(is_digit, value * 10 + digit, value)
    frac = np.where(dots == 1, length - dot_at - 1, 0)
    ok &= (dots <= 1) & (dot_at >= 1) & (dot_at <= 12) & ((dots == 0) | (frac == 1) | (frac == 2))
    value = value * np.where(frac == 0, 100, np.where(frac == 1, 10, 1))
    ok &= value <= MAX_CLAIM_AMOUNT_FEN
    return np.where(ok, value, 0), ok


def days_from_civil(year: Int64Array, month: Int64Array, day: Int64Array) -> Int64Array:
    """Days since 1970-01-01 of valid proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    out: Int64Array = era * 146097 + doe - 719468
    return out


_DAYS_IN_MONTH: Final = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def parse_day_matrix(column: TextColumn) -> tuple[Int64Array, BoolArray]:
    """Vectorised parse of ``YYYY-MM-DD`` cells to day numbers: (days, ok); ``ok`` False where the
    cell is not a real date so written (``_parse_day`` gives the reason)."""
    n = len(column)
    if column.width < 10:
        return np.zeros(n, np.int64), np.zeros(n, np.bool_)
    ok = (column.length == 10) & (column.data[4] == 45) & (column.data[7] == 45)
    digits: dict[int, Int64Array] = {}
    for j in (0, 1, 2, 3, 5, 6, 8, 9):
        d = column.data[j] - np.uint8(48)
        ok &= d < 10
        digits[j] = d.astype(np.int64)
    year = digits[0] * 1000 + digits[1] * 100 + digits[2] * 10 + digits[3]
    month = digits[5] * 10 + digits[6]
    day = digits[8] * 10 + digits[9]
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_ok = (month >= 1) & (month <= 12)
    limit = np.where((month == 2) & ~leap, 28, _DAYS_IN_MONTH[np.where(month_ok, month, 0)])
    ok &= (year >= 1) & month_ok & (day >= 1) & (day <= limit)
    days = days_from_civil(np.where(ok, year, 1970), np.where(ok, month, 1), np.where(ok, day, 1))
    return np.where(ok, days, 0), ok


def _parse_day(text: str) -> int | tuple[str, str]:
    if not _DATE_RE.fullmatch(text):
        return ("日期应写成 YYYY-MM-DD", "a date must be written YYYY-MM-DD")
    try:
        return date.fromisoformat(text).toordinal() - EPOCH_ORDINAL
    except ValueError:
        return ("日期不存在", "no such date")


def _plain_person_codes(column: TextColumn) -> PersonCodes:
    """Persons coded by their text as written (no ID-number check)."""
    values = column.bytes_array()
    unique, inverse = np.unique(values, return_inverse=True)
    code = np.where(column.length > 0, inverse.reshape(len(column)).astype(np.int64), -1)
    keys = [bytes(v).decode("utf-8", "replace") for v in unique.tolist()]
    return PersonCodes(code=code, reasons={}, keys=keys)


_MISSING_REASON: Final = ("必填项为空", "required value is missing")
_NUL_REASON: Final = ("含有空字符（NUL）", "contains a NUL character")


def validate_claim_columns(
    columns: Mapping[str, Sequence[str] | TextColumn],
    row_numbers: Sequence[int],
    *,
    policy: Policy,
    check_person_ids: PersonIdCheck | None = None,
    headers: Mapping[str, str] | None = None,
    any_date: bool = False,
) -> ValidatedClaims:
    """校验结算申请 Validate the cells of a claims file (canonical column → cells) against ``policy``.

    A row is invalid when a field is missing or malformed, an amount is negative or absurd
    (over ``MAX_CLAIM_AMOUNT_FEN``), ``out_of_scope > total``, the category is not the policy's,
    the level is not 1–3, the date is impossible or outside the policy's validity, the claim id
    repeats an earlier row's of the same institution (``institution_code``; the first is kept), or the person ID fails ``check_person_ids``
    (without it, persons are told apart by the text as written).

    The optional columns (``OPTIONAL_CLAIM_COLUMNS``; an absent one is all empty cells): a row is
    also invalid when its kind is neither inpatient nor outpatient; when it is an outpatient claim
    without a disease, with a disease the policy does not list, of a category without an
    ``outpatient`` block, or with paid amounts; when only one of ``basic_paid``/``critical_paid``
    is given, one is malformed, or their sum exceeds the in-scope cost (``total − out_of_scope``).
    A stay's disease cell is not checked (a diagnosis column may be there).

    Errors name the column as written in the file's header (``headers``) when known; one error
    per cell, sorted by row and column.

    ``any_date`` (the what-if of ``jkfp settle``, issue 18 item 7): a discharge date outside the
    policy's validity is no error; such valid rows are counted in ``outside_validity``.
    """
    missing = [c for c in COLUMN_ORDER if c not in columns]
    if missing:
        raise ValueError(f"missing columns: {', '.join(missing)}")
    n = len(row_numbers)
    cols: dict[str, TextColumn] = {}
    for name in ALL_COLUMN_ORDER:
        raw = columns.get(name)
        if raw is None:  # an optional column the file does not have: empty cells
            cols[name] = TextColumn(data=np.zeros((1, n), dtype=np.uint8), length=np.zeros(n, np.int64))
            continue
        cols[name] = raw if isinstance(raw, TextColumn) else TextColumn.from_strings(raw)
        if len(cols[name]) != n:
            raise ValueError(f"column {name} has {len(cols[name])} values for {n} rows")

    reported: dict[str, BoolArray] = {name: np.zeros(n, dtype=np.bool_) for name in ALL_COLUMN_ORDER}
    problems: list[tuple[int, int, str, str]] = []  # (position, column index, zh, en)

    def report(rows: Iterable[int], column: str, reason: Callable[[int], tuple[str, str]]) -> None:
        """Record one error per cell (the first reason found for it)."""
        done = reported[column]
        index = ALL_COLUMN_ORDER.index(column)
        for pos in rows:
            if not done[pos]:
                done[pos] = True
                zh, en = reason(pos)
                problems.append((pos, index, zh, en))

    def where(mask: BoolArray) -> list[int]:
        return [int(i) for i in np.flatnonzero(mask)]

    for name, col in cols.items():
        if name in CLAIM_COLUMNS:
            report(where(col.length == 0), name, lambda _: _MISSING_REASON)
        report(where(col.has_nul()), name, lambda _: _NUL_REASON)

    # claim_id: unique — per institution when the file has institution_code — the first occurrence
    # is kept, later ones are errors.
    ids = cols["claim_id"]
    id_values = ids.bytes_array()
    institution = cols["institution_code"]
    repeat = np.zeros(n, dtype=np.bool_)
    if bool((institution.length > 0).any()):
        institutions = institution.bytes_array()
        order = np.lexsort((id_values, institutions))  # stable: the first of equal keys comes first
        ordered, ordered_inst = id_values[order], institutions[order]
        if n > 1:
            repeat[1:] = (ordered[1:] == ordered[:-1]) & (ordered_inst[1:] == ordered_inst[:-1])
    else:
        order = np.argsort(id_values, kind="stable")
        ordered = id_values[order]
        if n > 1:
            repeat[1:] = ordered[1:] == ordered[:-1]
    if bool(repeat.any()):
        run_start = np.maximum.accumulate(np.where(repeat, 0, np.arange(n)))
        first_of = np.empty(n, dtype=np.int64)
        first_of[order] = order[run_start]
        duplicate = np.zeros(n, dtype=np.bool_)
        duplicate[order[repeat]] = True
        duplicate &= ids.length > 0

        def dup_reason(pos: int) -> tuple[str, str]:
            row = row_numbers[int(first_of[pos])]
            return (f"结算号重复（与第{row}行相同）", f"duplicate claim_id (same as row {row})")

        report(where(duplicate), "claim_id", dup_reason)

    # person_id: checked (and normalised) by the caller's check; coded by the normalised ID.
    pid = cols["person_id"]
    persons = check_person_ids(pid) if check_person_ids is not None else _plain_person_codes(pid)
    person = persons.code.astype(np.int64)

    def person_reason(pos: int) -> tuple[str, str]:
        return persons.reasons.get(pos, ("身份证号不合法", "invalid ID number"))

    report(where(person < 0), "person_id", person_reason)

    # category: one of the policy's.
    names = policy.category_names
    category = np.full(n, -1, dtype=np.int64)
    for code, name in enumerate(names):
        category[cols["category"].equals(name.encode("utf-8"))] = code
    known = "、".join(names)
    unknown = (
        f"政策中没有这个结算类别（可用：{known}）",
        f"category not defined by the policy (known: {', '.join(names)})",
    )
    report(where(category < 0), "category", lambda _: unknown)

    # discharge_date: a real date within the policy's validity.
    dates = cols["discharge_date"]
    day, day_ok = parse_day_matrix(dates)
    slow_day: dict[str, int | tuple[str, str]] = {}
    for pos in where(~day_ok & (dates.length > 0)):
        text = dates.text(pos)
        parsed = slow_day.setdefault(text, _parse_day(text))
        if isinstance(parsed, int):  # accepted by the exact check after all
            day[pos] = parsed
            day_ok[pos] = True
    report(where(~day_ok), "discharge_date", lambda pos: _as_reason(slow_day.get(dates.text(pos))))
    lo = policy.valid_from.toordinal() - EPOCH_ORDINAL
    hi = policy.valid_to.toordinal() - EPOCH_ORDINAL
    outside = (
        f"出院日期不在政策有效期（{policy.valid_from} 至 {policy.valid_to}）内",
        f"discharge date outside the policy's validity ({policy.valid_from} to {policy.valid_to})",
    )
    outside_rows = day_ok & ((day < lo) | (day > hi))
    if not any_date:
        report(where(outside_rows), "discharge_date", lambda _: outside)

    # level, in_county, referred: one character.
    flags: dict[str, Int64Array] = {}
    for name, allowed, reason in (
        ("level", (1, 2, 3), ("医院等级应为1、2或3", "level must be 1, 2 or 3")),
        ("in_county", (0, 1), ("应为1（县域内）或0（县域外）", "must be 1 (in county) or 0")),
        ("referred", (0, 1), ("应为1（已转诊备案）或0", "must be 1 (referred) or 0")),
    ):
        col = cols[name]
        value = col.data[0].astype(np.int64) - 48
        valid = (col.length == 1) & np.isin(value, allowed)
        flags[name] = np.where(valid, value, -1)
        report(where(~valid), name, _always(reason))

    # total, out_of_scope: amounts; then out_of_scope ≤ total.
    amounts: dict[str, Int64Array] = {}
    amount_ok = np.ones(n, dtype=np.bool_)
    for name in ("total", "out_of_scope"):
        col = cols[name]
        fen, ok = parse_fen_matrix(col)
        reasons: dict[int, tuple[str, str]] = {}
        for pos in where(~ok & (col.length > 0)):
            try:
                fen[pos] = parse_amount_fen(col.text(pos))
                ok[pos] = True
            except ClaimValueError as exc:
                reasons[pos] = (exc.zh, exc.en)
        report(where(~ok), name, _lookup(reasons))
        amounts[name] = fen
        amount_ok &= ok
    over = amount_ok & out_of_scope_above_total(amounts["total"], amounts["out_of_scope"])
    report(where(over), "out_of_scope", _always(OUT_OF_SCOPE_ABOVE_TOTAL))
    in_scope_ok = amount_ok & ~over
    in_scope = amounts["total"] - amounts["out_of_scope"]

    # kind (§6): empty = a stay.
    kinds = cols["kind"]
    outpatient = np.zeros(n, dtype=np.bool_)
    kind_ok = kinds.length == 0
    for kind, spellings in KIND_SPELLINGS.items():
        for spelling in spellings:
            match = kinds.equals(spelling.encode("utf-8"))
            kind_ok |= match
            if kind == OUTPATIENT:
                outpatient |= match
    report(where(~kind_ok), "kind", _always(KIND_REASON))

    # disease (§6): an outpatient claim's must be one of the policy's; a stay's is not read.
    disease_names = policy.disease_names
    disease = np.full(n, -1, dtype=np.int64)
    for code, name in enumerate(disease_names):
        disease[cols["disease"].equals(name.encode("utf-8"))] = code
    no_disease = outpatient & (cols["disease"].length == 0)
    report(where(no_disease), "disease", _always(DISEASE_MISSING_REASON))
    report(
        where(outpatient & ~no_disease & (disease < 0)), "disease", _always(unknown_disease_reason(policy))
    )
    disease = np.where(outpatient, disease, -1)
    has_block = np.array([rule.outpatient is not None for rule in policy.categories] + [True], np.bool_)
    report(
        where(outpatient & ~has_block[category]),
        "category",
        lambda pos: no_outpatient_reason(names[int(category[pos])]),
    )

    # basic_paid, critical_paid (§7): both or neither, stays only, within the in-scope cost.
    paid: dict[str, Int64Array] = {}
    paid_ok = np.ones(n, dtype=np.bool_)
    given: dict[str, BoolArray] = {}
    for name in ("basic_paid", "critical_paid"):
        col = cols[name]
        fen, ok = parse_fen_matrix(col)
        given[name] = col.length > 0
        reasons = {}
        for pos in where(~ok & given[name]):
            try:
                fen[pos] = parse_amount_fen(col.text(pos))
                ok[pos] = True
            except ClaimValueError as exc:
                reasons[pos] = (exc.zh, exc.en)
        report(where(~ok & given[name]), name, _lookup(reasons))
        report(where(outpatient & given[name]), name, _always(PAID_OUTPATIENT_REASON))
        paid[name] = fen
        paid_ok &= ok | ~given[name]
    either = given["basic_paid"] | given["critical_paid"]
    both = given["basic_paid"] & given["critical_paid"]
    for name in ("basic_paid", "critical_paid"):
        report(where(either & ~given[name]), name, _always(PAID_PAIR_REASON))
    checked = both & paid_ok & in_scope_ok & ~outpatient
    basic_over = checked & (paid["basic_paid"] > in_scope)
    report(where(basic_over), "basic_paid", lambda pos: paid_over_scope_reason(int(in_scope[pos])))
    sum_over = checked & ~basic_over & (paid["basic_paid"] + paid["critical_paid"] > in_scope)
    report(where(sum_over), "critical_paid", lambda pos: paid_over_scope_reason(int(in_scope[pos])))
    basic_paid = np.where(both, paid["basic_paid"], NOT_PAID)
    critical_paid = np.where(both, paid["critical_paid"], NOT_PAID)

    problems.sort(key=lambda p: (p[0], p[1]))
    written = headers or {}
    errors = tuple(
        RowError(
            row=row_numbers[pos],
            column=written.get(ALL_COLUMN_ORDER[col], ALL_COLUMN_ORDER[col]),
            value=cols[ALL_COLUMN_ORDER[col]].text(pos),
            zh=zh,
            en=en,
        )
        for pos, col, zh, en in problems
    )
    bad = np.zeros(n, dtype=np.bool_)
    for done in reported.values():
        bad |= done
    valid_rows = np.flatnonzero(~bad).astype(np.int64)
    all_valid = len(valid_rows) == n
    pick: slice | Int64Array = slice(None) if all_valid else valid_rows
    table = ClaimTable(
        claim_id=id_values[pick],
        person=person[pick],
        category=category[pick],
        category_names=names,
        discharge_day=day[pick],
        level=flags["level"][pick],
        in_county=flags["in_county"][pick] == 1,
        referred=flags["referred"][pick] == 1,
        total_fen=amounts["total"][pick],
        out_of_scope_fen=amounts["out_of_scope"][pick],
        person_keys=persons.keys,
        outpatient=outpatient[pick],
        disease=disease[pick],
        disease_names=disease_names,
        basic_paid_fen=basic_paid[pick],
        critical_paid_fen=critical_paid[pick],
    )
    return ValidatedClaims(
        table=table,
        source_index=valid_rows,
        errors=errors,
        row_count=n,
        outside_validity=int(np.count_nonzero(outside_rows & ~bad)) if any_date else 0,
    )


def _always(reason: tuple[str, str]) -> Callable[[int], tuple[str, str]]:
    return lambda _: reason


def _lookup(reasons: Mapping[int, tuple[str, str]]) -> Callable[[int], tuple[str, str]]:
    return lambda pos: reasons.get(pos, _MISSING_REASON)


def _as_reason(parsed: int | tuple[str, str] | None) -> tuple[str, str]:
    if isinstance(parsed, tuple):
        return parsed
    return _MISSING_REASON
