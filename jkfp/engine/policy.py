"""政策 Settlement policy: load and validate a policy file (TOML or JSON) into frozen dataclasses.

The file format is the contract of ``settlement.md §3`` (§6 adds the ``outpatient`` block of a
category and the ``outpatient_diseases`` table). Amounts and rates are strings in the file so that
no float ever touches money. Every problem found is reported with the key path that holds it,
e.g. ``categories.poor.basic.ratio.2: 比例必须在0到1之间 / rate must be within 0..1``; list items are
numbered from 1 (``categories.poor.critical.tiers[2].lo``).

Exact representation (see ``docs/adr/0001-settlement-engine.md``):

* an amount is an integer number of fen (``Amount.fen``), at most two decimals in the file;
* a rate is an integer number of parts per million (``Rate.ppm``, ``RATE_SCALE = 10**6``), at most
  six decimals in the file, within 0..1.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal

RATE_SCALE: Final = 1_000_000
RATE_DECIMALS: Final = 6
# The largest amount a policy may name (10^10 yuan). Far beyond any real cap, small enough that
# every intermediate value of the batch engine stays inside int64 (see the ADR).
MAX_POLICY_AMOUNT_FEN: Final = 10**12
LEVELS: Final = (1, 2, 3)
LEVEL_KEYS: Final = ("1", "2", "3")

WriteOffMode = Literal["simple", "consistent"]
AppliesTo = Literal["in_county", "in_county_or_referred"]

_AMOUNT_RE = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True, order=True)
class Amount:
    """金额 A non-negative amount of money: exactly ``fen`` integer fen, and ``yuan`` the same as a
    Decimal with two decimals."""

    fen: int
    yuan: Decimal = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "yuan", Decimal(self.fen).scaleb(-2))

    def __str__(self) -> str:
        return f"{self.yuan:.2f}"


@dataclass(frozen=True, slots=True, order=True)
class Rate:
    """比例 A rate within 0..1: exactly ``ppm`` integer parts per million, and ``decimal`` the same as
    an exact Decimal (e.g. ``Decimal("0.8")``)."""

    ppm: int
    decimal: Decimal = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "decimal", Decimal(self.ppm).scaleb(-RATE_DECIMALS).normalize())

    def percent(self) -> str:
        """The rate as a percentage text, e.g. ``80%`` or ``2.5%``."""
        value = (Decimal(self.ppm).scaleb(-4)).normalize()
        text = f"{value:f}"
        return f"{text}%"

    def __str__(self) -> str:
        return self.percent()


@dataclass(frozen=True, slots=True)
class Tier:
    """大病保险分段 One tier of critical-illness insurance: ``rate`` on the part of the base in [lo, hi)."""

    lo: Amount
    hi: Amount | None  # None: no upper bound
    rate: Rate


@dataclass(frozen=True, slots=True)
class BasicRule:
    """基本医保 Basic medical insurance of one category (``settlement.md §2.1``)."""

    deductible: tuple[Amount, Amount, Amount]  # by hospital level 1, 2, 3
    ratio: tuple[Rate, Rate, Rate]
    annual_cap: Amount | None


@dataclass(frozen=True, slots=True)
class CriticalRule:
    """大病保险 Critical-illness insurance of one category (``settlement.md §2.2``)."""

    tiers: tuple[Tier, ...]
    annual_cap: Amount | None


@dataclass(frozen=True, slots=True)
class AidRule:
    """医疗救助 Medical aid of one category (``settlement.md §2.3``)."""

    deductible: Amount
    ratio: Rate
    annual_cap: Amount | None


@dataclass(frozen=True, slots=True)
class SupplementaryRule:
    """补充医疗保险 Supplementary insurance / county safety net (``settlement.md §2.4``)."""

    applies_to: AppliesTo
    min_ratio: Rate | None
    annual_personal_cap: Amount | None
    covers_out_of_scope: bool
    sum_insured: Amount | None


@dataclass(frozen=True, slots=True)
class OutpatientRule:
    """门诊慢特病 Outpatient special chronic disease claims of one category (``settlement.md §6``)."""

    deductible: Amount  # yearly, per person, over all outpatient claims
    ratio: tuple[Rate, Rate, Rate]  # by hospital level 1, 2, 3
    annual_cap: Amount | None  # yearly basic cap per person, all diseases together
    aid_ratio: Rate | None  # medical aid on the in-scope remainder (needs the category's aid block)
    personal_share_cap: Rate | None  # the supplementary layer keeps the person's share at most this


@dataclass(frozen=True, slots=True)
class OutpatientDisease:
    """门诊慢特病病种 A recognised chronic disease and its yearly basic cap per person."""

    name: str
    annual_cap: Amount


@dataclass(frozen=True, slots=True)
class CategoryRule:
    """结算类别 The layers of one settlement category."""

    name: str
    basic: BasicRule
    critical: CriticalRule
    aid: AidRule | None
    supplementary: SupplementaryRule | None
    outpatient: OutpatientRule | None = None  # None: the category settles no outpatient claim


@dataclass(frozen=True, slots=True)
class OutOfScopeRule:
    """目录外费用控制 Hospital write-off of excess out-of-scope cost (``settlement.md §2.0``)."""

    mode: WriteOffMode
    cap_ratio: tuple[Rate | None, Rate | None, Rate | None]  # by level; None: no write-off


@dataclass(frozen=True, slots=True)
class Policy:
    """政策 One settlement policy."""

    name: str
    title: str
    valid_from: date
    valid_to: date
    category_precedence: tuple[str, ...]
    unreferred_ratio_cut: Rate
    out_of_scope: OutOfScopeRule
    categories: tuple[CategoryRule, ...]
    outpatient_diseases: tuple[OutpatientDisease, ...] = ()  # in file order

    @property
    def category_names(self) -> tuple[str, ...]:
        """Names of the categories, in file order."""
        return tuple(c.name for c in self.categories)

    @property
    def disease_names(self) -> tuple[str, ...]:
        """Names of the outpatient special chronic diseases (``outpatient_diseases``), in file order."""
        return tuple(d.name for d in self.outpatient_diseases)

    def disease(self, name: str) -> OutpatientDisease:
        """The outpatient disease called ``name``; ``KeyError`` when the policy does not list it."""
        for disease in self.outpatient_diseases:
            if disease.name == name:
                return disease
        raise KeyError(name)

    def category(self, name: str) -> CategoryRule:
        """The category called ``name``; ``KeyError`` when the policy does not define it."""
        for rule in self.categories:
            if rule.name == name:
                return rule
        raise KeyError(name)

    def covers(self, day: date) -> bool:
        """Whether ``day`` lies within the policy's validity period."""
        return self.valid_from <= day <= self.valid_to


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One problem of a policy file: the key path and the reason in Chinese and English."""

    path: str
    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.path}: {self.zh} / {self.en}" if self.path else f"{self.zh} / {self.en}"


class PolicyError(ValueError):
    """政策文件不合法 A policy file that is refused; ``problems`` names every offending key."""

    def __init__(self, problems: list[PolicyProblem], source: str = "") -> None:
        self.problems = tuple(problems)
        self.source = source
        head = f"{source}: " if source else ""
        super().__init__(head + "; ".join(str(p) for p in self.problems))


# --------------------------------------------------------------------------- parsing helpers

_MISSING: Final = object()


class _Checker:
    """Collects problems while walking the document; each helper returns None on a problem."""

    def __init__(self) -> None:
        self.problems: list[PolicyProblem] = []

    def fail(self, path: str, zh: str, en: str) -> None:
        self.problems.append(PolicyProblem(path, zh, en))

    def table(self, value: Any, path: str, allowed: tuple[str, ...]) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.fail(path, "应为一个表（键值对）", "must be a table (key/value pairs)")
            return None
        for key in value:
            if key not in allowed:
                sub = f"{path}.{key}" if path else str(key)
                self.fail(
                    sub,
                    f"未知的键“{key}”（可用：{'、'.join(allowed)}）",
                    f"unknown key (allowed: {', '.join(allowed)})",
                )
        return value

    def text(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str):
            self.fail(path, "应为字符串", "must be a string")
            return None
        return value

    def amount(self, value: Any, path: str) -> Amount | None:
        if not isinstance(value, str):
            self.fail(path, '金额应写成字符串（如 "500"）', 'an amount must be a string (e.g. "500")')
            return None
        if value.startswith("-") and _AMOUNT_RE.fullmatch(value[1:]):
            self.fail(path, f"金额不能为负数：“{value}”", f"amount must not be negative: {value!r}")
            return None
        match = _AMOUNT_RE.fullmatch(value)
        if match is None:
            self.fail(path, f"不是合法的金额：“{value}”", f"not a valid amount: {value!r}")
            return None
        whole, frac = match.group(1), match.group(2) or ""
        if len(frac) > 2:
            self.fail(path, f"金额最多两位小数：“{value}”", f"an amount has at most 2 decimals: {value!r}")
            return None
        fen = int(whole) * 100 + int(frac.ljust(2, "0"))
        if fen > MAX_POLICY_AMOUNT_FEN:
            self.fail(
                path,
                f"金额过大：“{value}”（上限 {MAX_POLICY_AMOUNT_FEN // 100} 元）",
                f"amount too large: {value!r} (limit {MAX_POLICY_AMOUNT_FEN // 100} yuan)",
            )
            return None
        return Amount(fen)

    def rate(self, value: Any, path: str) -> Rate | None:
        if not isinstance(value, str):
            self.fail(path, '比例应写成字符串（如 "0.80"）', 'a rate must be a string (e.g. "0.80")')
            return None
        if value.startswith("-") and _AMOUNT_RE.fullmatch(value[1:]):
            self.fail(path, f"比例必须在0到1之间：“{value}”", f"rate must be within 0..1: {value!r}")
            return None
        match = _AMOUNT_RE.fullmatch(value)
        if match is None:
            self.fail(path, f"不是合法的比例：“{value}”", f"not a valid rate: {value!r}")
            return None
        whole, frac = match.group(1), match.group(2) or ""
        if len(frac) > RATE_DECIMALS:
            self.fail(
                path,
                f"比例最多{RATE_DECIMALS}位小数：“{value}”",
                f"a rate has at most {RATE_DECIMALS} decimals: {value!r}",
            )
            return None
        ppm = int(whole) * RATE_SCALE + int(frac.ljust(RATE_DECIMALS, "0"))
        if ppm > RATE_SCALE:
            self.fail(path, f"比例必须在0到1之间：“{value}”", f"rate must be within 0..1: {value!r}")
            return None
        return Rate(ppm)

    def day(self, value: Any, path: str) -> date | None:
        if isinstance(value, date) and not isinstance(value, datetime):  # a TOML date literal
            return value
        if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
            self.fail(path, "日期应写成 YYYY-MM-DD", "a date must be written YYYY-MM-DD")
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.fail(path, f"日期不存在：“{value}”", f"no such date: {value!r}")
            return None

    def boolean(self, value: Any, path: str) -> bool | None:
        if not isinstance(value, bool):
            self.fail(path, "应为 true 或 false", "must be true or false")
            return None
        return value

    def choice(self, value: Any, path: str, allowed: tuple[str, ...]) -> str | None:
        if not isinstance(value, str) or value not in allowed:
            self.fail(
                path,
                f"取值只能是 {'、'.join(allowed)}：“{value}”",
                f"must be one of {', '.join(allowed)}: {value!r}",
            )
            return None
        return value

    def by_level(
        self, value: Any, path: str, parse: Callable[[Any, str], Any], *, complete: bool
    ) -> list[Any] | None:
        """A table keyed by hospital level ``"1"``..``"3"``; ``complete`` requires all three."""
        table = self.table(value, path, LEVEL_KEYS)
        if table is None:
            return None
        out: list[Any] = []
        ok = True
        for key in LEVEL_KEYS:
            if key not in table:
                if complete:
                    self.fail(
                        f"{path}.{key}",
                        f"缺少{key}级医院的取值",
                        f"missing the value for hospital level {key}",
                    )
                    ok = False
                out.append(None)
                continue
            parsed = parse(table[key], f"{path}.{key}")
            ok = ok and parsed is not None
            out.append(parsed)
        return out if ok else None


def _optional_amount(
    c: _Checker, block: Mapping[str, Any], key: str, path: str
) -> tuple[bool, Amount | None]:
    """(ok, value) for an optional amount whose absence means "no limit"."""
    if key not in block:
        return True, None
    parsed = c.amount(block[key], f"{path}.{key}")
    return parsed is not None, parsed


def _require(c: _Checker, block: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in block:
        c.fail(f"{path}.{key}" if path else key, "缺少必需的键", "required key is missing")
        return _MISSING
    return block[key]


# --------------------------------------------------------------------------- the blocks


def _parse_basic(c: _Checker, value: Any, path: str) -> BasicRule | None:
    block = c.table(value, path, ("deductible", "ratio", "annual_cap"))
    if block is None:
        return None
    ded_raw = _require(c, block, "deductible", path)
    ratio_raw = _require(c, block, "ratio", path)
    ded = None if ded_raw is _MISSING else c.by_level(ded_raw, f"{path}.deductible", c.amount, complete=True)
    ratio = None if ratio_raw is _MISSING else c.by_level(ratio_raw, f"{path}.ratio", c.rate, complete=True)
    cap_ok, cap = _optional_amount(c, block, "annual_cap", path)
    if ded is None or ratio is None or not cap_ok:
        return None
    return BasicRule(
        deductible=(ded[0], ded[1], ded[2]), ratio=(ratio[0], ratio[1], ratio[2]), annual_cap=cap
    )


def _parse_tiers(c: _Checker, value: Any, path: str) -> tuple[Tier, ...] | None:
    if not isinstance(value, list):
        c.fail(path, "应为分段列表 [[起点, 终点, 比例], …]", "must be a list of tiers [[lo, hi, rate], ...]")
        return None
    if not value:
        c.fail(path, "至少需要一个分段", "at least one tier is required")
        return None
    tiers: list[Tier] = []
    ok = True
    for index, item in enumerate(value, start=1):
        ipath = f"{path}[{index}]"
        if not isinstance(item, list) or len(item) != 3:
            c.fail(ipath, "分段应为 [起点, 终点, 比例] 三项", "a tier must be [lo, hi, rate]")
            ok = False
            continue
        lo_raw, hi_raw, rate_raw = item
        if lo_raw == "":
            c.fail(f"{ipath}.lo", "分段起点不能为空", "a tier's lo must not be empty")
            lo = None
        else:
            lo = c.amount(lo_raw, f"{ipath}.lo")
        hi: Amount | None = None
        hi_ok = True
        if hi_raw != "":
            hi = c.amount(hi_raw, f"{ipath}.hi")
            hi_ok = hi is not None
        rate = c.rate(rate_raw, f"{ipath}.rate")
        if lo is None or not hi_ok or rate is None:
            ok = False
            continue
        tiers.append(Tier(lo=lo, hi=hi, rate=rate))
    if not ok:
        return None
    for index, tier in enumerate(tiers, start=1):
        ipath = f"{path}[{index}]"
        if tier.hi is not None and tier.hi <= tier.lo:
            c.fail(f"{ipath}.hi", "分段终点必须大于起点", "a tier's hi must be greater than its lo")
            ok = False
        if index < len(tiers):
            if tier.hi is None:
                c.fail(
                    f"{ipath}.hi", "只有最后一个分段的终点可以为空", "only the last tier may have an empty hi"
                )
                ok = False
            else:
                following = tiers[index]
                if following.lo < tier.hi:
                    c.fail(
                        f"{path}[{index + 1}].lo",
                        f"分段重叠或顺序错误：起点 {following.lo} 小于上一段终点 {tier.hi}",
                        f"tiers overlap or are out of order: lo {following.lo} is below the previous hi {tier.hi}",
                    )
                    ok = False
    return tuple(tiers) if ok else None


def _parse_critical(c: _Checker, value: Any, path: str) -> CriticalRule | None:
    block = c.table(value, path, ("tiers", "annual_cap"))
    if block is None:
        return None
    raw = _require(c, block, "tiers", path)
    tiers = None if raw is _MISSING else _parse_tiers(c, raw, f"{path}.tiers")
    cap_ok, cap = _optional_amount(c, block, "annual_cap", path)
    if tiers is None or not cap_ok:
        return None
    return CriticalRule(tiers=tiers, annual_cap=cap)


def _parse_aid(c: _Checker, value: Any, path: str) -> AidRule | None:
    block = c.table(value, path, ("deductible", "ratio", "annual_cap"))
    if block is None:
        return None
    ded = Amount(0) if "deductible" not in block else c.amount(block["deductible"], f"{path}.deductible")
    raw = _require(c, block, "ratio", path)
    ratio = None if raw is _MISSING else c.rate(raw, f"{path}.ratio")
    cap_ok, cap = _optional_amount(c, block, "annual_cap", path)
    if ded is None or ratio is None or not cap_ok:
        return None
    return AidRule(deductible=ded, ratio=ratio, annual_cap=cap)


def _parse_supplementary(c: _Checker, value: Any, path: str) -> SupplementaryRule | None:
    block = c.table(
        value, path, ("applies_to", "min_ratio", "annual_personal_cap", "covers_out_of_scope", "sum_insured")
    )
    if block is None:
        return None
    applies: str | None = "in_county_or_referred"
    if "applies_to" in block:
        applies = c.choice(block["applies_to"], f"{path}.applies_to", ("in_county", "in_county_or_referred"))
    min_ratio: Rate | None = None
    ratio_ok = True
    if "min_ratio" in block:
        min_ratio = c.rate(block["min_ratio"], f"{path}.min_ratio")
        ratio_ok = min_ratio is not None
    cap_ok, cap = _optional_amount(c, block, "annual_personal_cap", path)
    covers: bool | None = True
    if "covers_out_of_scope" in block:
        covers = c.boolean(block["covers_out_of_scope"], f"{path}.covers_out_of_scope")
    sum_ok, sum_insured = _optional_amount(c, block, "sum_insured", path)
    if applies is None or not ratio_ok or not cap_ok or covers is None or not sum_ok:
        return None
    return SupplementaryRule(
        applies_to="in_county" if applies == "in_county" else "in_county_or_referred",
        min_ratio=min_ratio,
        annual_personal_cap=cap,
        covers_out_of_scope=covers,
        sum_insured=sum_insured,
    )


def _parse_outpatient(c: _Checker, value: Any, path: str) -> OutpatientRule | None:
    block = c.table(value, path, ("deductible", "ratio", "annual_cap", "aid_ratio", "personal_share_cap"))
    if block is None:
        return None
    ded = Amount(0) if "deductible" not in block else c.amount(block["deductible"], f"{path}.deductible")
    raw = _require(c, block, "ratio", path)
    ratio = None if raw is _MISSING else c.by_level(raw, f"{path}.ratio", c.rate, complete=True)
    cap_ok, cap = _optional_amount(c, block, "annual_cap", path)
    rates: dict[str, Rate | None] = {}
    rates_ok = True
    for key in ("aid_ratio", "personal_share_cap"):
        rates[key] = None
        if key in block:
            rates[key] = c.rate(block[key], f"{path}.{key}")
            rates_ok = rates_ok and rates[key] is not None
    if ded is None or ratio is None or not cap_ok or not rates_ok:
        return None
    return OutpatientRule(
        deductible=ded,
        ratio=(ratio[0], ratio[1], ratio[2]),
        annual_cap=cap,
        aid_ratio=rates["aid_ratio"],
        personal_share_cap=rates["personal_share_cap"],
    )


def _parse_diseases(c: _Checker, value: Any, path: str) -> tuple[OutpatientDisease, ...] | None:
    """``outpatient_diseases``: disease name → yearly basic cap per person for that disease."""
    if not isinstance(value, Mapping):
        c.fail(path, "应为病种表（病种 = 年度限额）", "must be a table of diseases (disease = yearly cap)")
        return None
    out: list[OutpatientDisease] = []
    ok = True
    for name, raw in value.items():
        key = str(name)
        where = f"{path}.{key}"
        if not key or key != key.strip() or "," in key or not key.isprintable():
            c.fail(
                where,
                "病种名不能为空、不能含逗号、控制字符或首尾空格",
                "a disease name must be non-empty, without commas, control characters or edge spaces",
            )
            ok = False
            continue
        cap = c.amount(raw, where)
        if cap is None:
            ok = False
            continue
        out.append(OutpatientDisease(name=key, annual_cap=cap))
    return tuple(out) if ok else None


def _parse_category(c: _Checker, name: str, value: Any, path: str) -> CategoryRule | None:
    block = c.table(value, path, ("basic", "critical", "aid", "supplementary", "outpatient"))
    if block is None:
        return None
    if not name or name != name.strip() or "," in name:
        c.fail(
            path,
            "类别名不能为空、不能含逗号或首尾空格",
            "a category name must be non-empty, without commas or edge spaces",
        )
    basic_raw = _require(c, block, "basic", path)
    critical_raw = _require(c, block, "critical", path)
    basic = None if basic_raw is _MISSING else _parse_basic(c, basic_raw, f"{path}.basic")
    critical = None if critical_raw is _MISSING else _parse_critical(c, critical_raw, f"{path}.critical")
    aid: AidRule | None = None
    aid_ok = True
    if "aid" in block:
        aid = _parse_aid(c, block["aid"], f"{path}.aid")
        aid_ok = aid is not None
    supp: SupplementaryRule | None = None
    supp_ok = True
    if "supplementary" in block:
        supp = _parse_supplementary(c, block["supplementary"], f"{path}.supplementary")
        supp_ok = supp is not None
    outpatient: OutpatientRule | None = None
    outpatient_ok = True
    if "outpatient" in block:
        outpatient = _parse_outpatient(c, block["outpatient"], f"{path}.outpatient")
        outpatient_ok = outpatient is not None
    if basic is None or critical is None or not aid_ok or not supp_ok or not outpatient_ok:
        return None
    return CategoryRule(
        name=name, basic=basic, critical=critical, aid=aid, supplementary=supp, outpatient=outpatient
    )


def _parse_out_of_scope(c: _Checker, value: Any, path: str) -> OutOfScopeRule | None:
    block = c.table(value, path, ("mode", "cap_ratio"))
    if block is None:
        return None
    mode: str | None = "simple"
    if "mode" in block:
        mode = c.choice(block["mode"], f"{path}.mode", ("simple", "consistent"))
    caps: list[Rate | None] | None = [None, None, None]
    if "cap_ratio" in block:
        caps = c.by_level(block["cap_ratio"], f"{path}.cap_ratio", c.rate, complete=False)
    if mode is None or caps is None:
        return None
    if mode == "consistent":
        for key, cap in zip(LEVEL_KEYS, caps, strict=True):
            if cap is not None and cap.ppm == RATE_SCALE:
                c.fail(
                    f"{path}.cap_ratio.{key}",
                    "consistent 模式下比例必须小于1（要除以 1 − 比例）",
                    "in consistent mode the rate must be below 1 (it divides by 1 − rate)",
                )
                return None
    return OutOfScopeRule(
        mode="consistent" if mode == "consistent" else "simple", cap_ratio=(caps[0], caps[1], caps[2])
    )


_TOP_KEYS: Final = (
    "name",
    "title",
    "valid_from",
    "valid_to",
    "category_precedence",
    "unreferred_ratio_cut",
    "out_of_scope",
    "categories",
    "outpatient_diseases",
)


def parse_policy(data: Any, *, source: str = "") -> Policy:
    """校验政策 Validate a decoded policy document (TOML/JSON structure) into a ``Policy``.

    Raises ``PolicyError`` listing every problem with its key path.
    """
    c = _Checker()
    doc = c.table(data, "", _TOP_KEYS)
    if doc is None:
        raise PolicyError(c.problems, source)
    name = None
    raw = _require(c, doc, "name", "")
    if raw is not _MISSING:
        name = c.text(raw, "name")
        if name is not None and not name.strip():
            c.fail("name", "名称不能为空", "the name must not be empty")
    title = name
    if "title" in doc:
        title = c.text(doc["title"], "title")
    raw_from = _require(c, doc, "valid_from", "")
    raw_to = _require(c, doc, "valid_to", "")
    valid_from = None if raw_from is _MISSING else c.day(raw_from, "valid_from")
    valid_to = None if raw_to is _MISSING else c.day(raw_to, "valid_to")
    if valid_from is not None and valid_to is not None and valid_to < valid_from:
        c.fail("valid_to", "有效期止早于有效期起", "valid_to is before valid_from")
    cut: Rate | None = Rate(0)
    if "unreferred_ratio_cut" in doc:
        cut = c.rate(doc["unreferred_ratio_cut"], "unreferred_ratio_cut")
    out_of_scope: OutOfScopeRule | None = OutOfScopeRule(mode="simple", cap_ratio=(None, None, None))
    if "out_of_scope" in doc:
        out_of_scope = _parse_out_of_scope(c, doc["out_of_scope"], "out_of_scope")

    categories: list[CategoryRule] = []
    defined: set[str] = set()
    cats_raw = _require(c, doc, "categories", "")
    if cats_raw is not _MISSING:
        if not isinstance(cats_raw, Mapping) or not cats_raw:
            c.fail("categories", "应为至少含一个类别的表", "must be a table with at least one category")
        else:
            for cat_name, block in cats_raw.items():
                rule = _parse_category(c, str(cat_name), block, f"categories.{cat_name}")
                defined.add(str(cat_name))  # a block without basic is reported by _parse_category
                if rule is not None:
                    categories.append(rule)

    diseases: tuple[OutpatientDisease, ...] | None = ()
    if "outpatient_diseases" in doc:
        diseases = _parse_diseases(c, doc["outpatient_diseases"], "outpatient_diseases")
    with_outpatient = [rule.name for rule in categories if rule.outpatient is not None]
    if with_outpatient and diseases == ():
        c.fail(
            "outpatient_diseases",
            f"类别 {'、'.join(with_outpatient)} 有门诊慢特病（outpatient）块，须在 outpatient_diseases 中列出病种及年度限额",
            f"categories {', '.join(with_outpatient)} have an outpatient block: outpatient_diseases must "
            "list the diseases and their yearly caps",
        )

    precedence: list[str] = []
    prec_raw = _require(c, doc, "category_precedence", "")
    if prec_raw is not _MISSING:
        if not isinstance(prec_raw, list) or not prec_raw:
            c.fail(
                "category_precedence", "应为非空的类别名列表", "must be a non-empty list of category names"
            )
        else:
            for index, item in enumerate(prec_raw, start=1):
                ipath = f"category_precedence[{index}]"
                if not isinstance(item, str):
                    c.fail(ipath, "类别名应为字符串", "a category name must be a string")
                elif item in precedence:
                    c.fail(ipath, f"类别“{item}”重复", f"category {item!r} is listed twice")
                else:
                    precedence.append(item)
                    if item not in defined:
                        c.fail(
                            f"categories.{item}.basic",
                            f"类别“{item}”列在 category_precedence 中，但没有 basic（基本医保）块",
                            f"category {item!r} is named in category_precedence but has no basic block",
                        )

    if c.problems or name is None or title is None or valid_from is None or valid_to is None:
        raise PolicyError(c.problems, source)
    assert cut is not None and out_of_scope is not None and diseases is not None
    return Policy(
        name=name,
        title=title,
        valid_from=valid_from,
        valid_to=valid_to,
        category_precedence=tuple(precedence),
        unreferred_ratio_cut=cut,
        out_of_scope=out_of_scope,
        categories=tuple(categories),
        outpatient_diseases=diseases,
    )


class _JsonObject(dict[str, Any]):
    """A JSON object that remembers the keys it saw twice (``json.loads`` knows no key paths)."""

    duplicates: tuple[str, ...] = ()


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = _JsonObject()
    seen: list[str] = []
    for key, value in pairs:
        if key in out and key not in seen:
            seen.append(key)
        out[key] = value
    out.duplicates = tuple(seen)
    return out


def _duplicate_key_problems(data: Any, path: str = "") -> list[PolicyProblem]:
    """Every duplicate JSON key, named by its full key path (``out_of_scope.mode``)."""
    problems: list[PolicyProblem] = []
    if isinstance(data, dict):
        for key in getattr(data, "duplicates", ()):
            where = f"{path}.{key}" if path else key
            problems.append(PolicyProblem(where, f"JSON 中键“{where}”重复", f"duplicate JSON key {where!r}"))
        for key, value in data.items():
            problems += _duplicate_key_problems(value, f"{path}.{key}" if path else key)
    elif isinstance(data, list):
        for index, item in enumerate(data):
            problems += _duplicate_key_problems(item, f"{path}[{index}]")
    return problems


def loads_policy(text: str, *, fmt: Literal["toml", "json"], source: str = "") -> Policy:
    """Parse and validate policy text in TOML or JSON."""
    if fmt == "toml":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(
                [PolicyProblem("", f"TOML 语法错误：{exc}", f"TOML syntax error: {exc}")], source
            ) from exc
    else:
        try:
            # Unquoted numbers become Decimal/int (never float) and are then refused by the
            # validator: amounts and rates must be strings.
            data = json.loads(text, object_pairs_hook=_json_object, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise PolicyError(
                [PolicyProblem("", f"JSON 语法错误：{exc}", f"JSON syntax error: {exc}")], source
            ) from exc
        duplicates = _duplicate_key_problems(data)
        if duplicates:
            raise PolicyError(duplicates, source)
    return parse_policy(data, source=source)


def load_policy(path: str | Path) -> Policy:
    """读取政策文件 Load a policy file: ``.toml`` or ``.json`` by extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise PolicyError(
            [
                PolicyProblem(
                    "",
                    f"政策文件应为 .toml 或 .json：{path.name}",
                    f"a policy file must be .toml or .json: {path.name}",
                )
            ],
            str(path),
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise PolicyError(
            [PolicyProblem("", f"无法读取政策文件：{exc}", f"cannot read the policy file: {exc}")], str(path)
        ) from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(
            [PolicyProblem("", "政策文件应为 UTF-8 编码", "a policy file must be UTF-8")], str(path)
        ) from exc
    return loads_policy(text, fmt="toml" if suffix == ".toml" else "json", source=str(path))
