"""Hypothesis strategies: random valid policy documents and random claim sets (stays, outpatient
claims of settlement.md §6 and stays settled elsewhere of §7, mixed)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import strategies as st

CATEGORY_NAMES = ("tekun", "poor", "ordinary")
DISEASE_NAMES = ("高血压", "2型糖尿病", "终末期肾病")
PERSONS = ("421321198001010117", "421321198001010221", "421321198001010336")
DATES = tuple(
    date.fromisoformat(d).isoformat()
    for d in (
        "2019-12-30",
        "2019-12-31",
        "2020-01-01",
        "2020-01-02",
        "2020-03-15",
        "2020-07-01",
        "2020-12-31",
    )
)


_SPELLING = st.integers(0, 6)
_BOOL = st.booleans()


def amount_text(fen: int, draw: Any) -> str:
    """An amount in one of the accepted spellings: "500", "500.0", "500.00" (when exact)."""
    yuan, cents = divmod(fen, 100)
    choices = [f"{yuan}.{cents:02d}"]
    if cents % 10 == 0:
        choices.append(f"{yuan}.{cents // 10}")
    if cents == 0:
        choices.append(str(yuan))
    pick: int = draw(_SPELLING)
    return choices[pick % len(choices)]


def rate_text(ppm: int, draw: Any) -> str:
    """A rate with up to 6 decimals, sometimes padded with zeros."""
    whole, frac = divmod(ppm, 1_000_000)
    digits = f"{frac:06d}".rstrip("0")
    pad = draw(_SPELLING) % (7 - len(digits))
    digits = digits + "0" * pad
    return f"{whole}.{digits}" if digits else str(whole)


@st.composite
def _amounts(draw: Any, lo: int, hi: int) -> str:
    return amount_text(draw(st.integers(lo, hi)), draw)


@st.composite
def _rates(draw: Any, lo: int = 0, hi: int = 1_000_000) -> str:
    ppm = draw(st.one_of(st.integers(lo, hi), st.sampled_from([lo, hi, (lo + hi) // 2])))
    return rate_text(ppm, draw)


_AMOUNT_CACHE: dict[tuple[int, int], Any] = {}
_RATE_CACHE: dict[tuple[int, int], Any] = {}


def amounts(lo: int, hi: int) -> Any:
    """Amount texts between lo and hi fen (strategies built once: building them is slow)."""
    return _AMOUNT_CACHE.setdefault((lo, hi), _amounts(lo, hi))


def rates(lo: int = 0, hi: int = 1_000_000) -> Any:
    return _RATE_CACHE.setdefault((lo, hi), _rates(lo, hi))


@st.composite
def by_level(draw: Any, element: Any) -> dict[str, str]:
    return {key: draw(element) for key in ("1", "2", "3")}


@st.composite
def tiers(draw: Any) -> list[list[str]]:
    count = draw(st.integers(1, 4))
    points = sorted(draw(st.lists(st.integers(0, 6_000_000), min_size=2 * count, max_size=2 * count)))
    out: list[list[str]] = []
    previous_hi = 0
    for k in range(count):
        lo = max(points[2 * k], previous_hi)
        hi = max(points[2 * k + 1], lo + 1)
        if draw(_BOOL):  # no gap
            lo = previous_hi if k else lo
            hi = max(hi, lo + 1)
        out.append([amount_text(lo, draw), amount_text(hi, draw), draw(rates())])
        previous_hi = hi
    if draw(_BOOL):
        out[-1][1] = ""
    return out


@st.composite
def category_blocks(draw: Any) -> dict[str, Any]:
    basic: dict[str, Any] = {
        "deductible": draw(by_level(amounts(0, 300_000))),
        "ratio": draw(by_level(rates())),
    }
    if draw(_BOOL):
        basic["annual_cap"] = draw(amounts(0, 5_000_000))
    critical: dict[str, Any] = {"tiers": draw(tiers())}
    if draw(_BOOL):
        critical["annual_cap"] = draw(amounts(0, 3_000_000))
    block: dict[str, Any] = {"basic": basic, "critical": critical}
    if draw(_BOOL):
        aid: dict[str, Any] = {"ratio": draw(rates())}
        if draw(_BOOL):
            aid["deductible"] = draw(amounts(0, 500_000))
        if draw(_BOOL):
            aid["annual_cap"] = draw(amounts(0, 2_000_000))
        block["aid"] = aid
    if draw(_BOOL):
        supp: dict[str, Any] = {}
        if draw(_BOOL):
            supp["applies_to"] = draw(st.sampled_from(["in_county", "in_county_or_referred"]))
        if draw(st.integers(0, 3)):
            supp["min_ratio"] = draw(rates())
        if draw(st.integers(0, 3)):
            supp["annual_personal_cap"] = draw(amounts(0, 1_000_000))
        if draw(_BOOL):
            supp["covers_out_of_scope"] = draw(_BOOL)
        if draw(_BOOL):
            supp["sum_insured"] = draw(amounts(0, 3_000_000))
        block["supplementary"] = supp
    if draw(st.integers(0, 2)):
        block["outpatient"] = draw(outpatient_blocks())
    return block


@st.composite
def outpatient_blocks(draw: Any) -> dict[str, Any]:
    """A §6 ``outpatient`` block; small caps and deductibles so that they bind."""
    block: dict[str, Any] = {"ratio": draw(by_level(rates()))}
    if draw(_BOOL):
        block["deductible"] = draw(amounts(0, 80_000))
    if draw(_BOOL):
        block["annual_cap"] = draw(amounts(0, 800_000))
    if draw(_BOOL):
        block["aid_ratio"] = draw(rates())
    if draw(_BOOL):
        block["personal_share_cap"] = draw(rates())
    return block


@st.composite
def policy_documents(draw: Any) -> dict[str, Any]:
    """A random valid policy document (the structure of a TOML/JSON policy file)."""
    names = draw(st.lists(st.sampled_from(CATEGORY_NAMES), min_size=1, max_size=3, unique=True))
    doc: dict[str, Any] = {
        "name": "random",
        "title": "随机政策",
        "valid_from": "2019-01-01",
        "valid_to": "2021-12-31",
        "category_precedence": draw(st.permutations(names)),
        "categories": {name: draw(category_blocks()) for name in names},
    }
    if any("outpatient" in block for block in doc["categories"].values()) or draw(_BOOL):
        diseases = draw(st.lists(st.sampled_from(DISEASE_NAMES), min_size=1, max_size=3, unique=True))
        doc["outpatient_diseases"] = {name: draw(amounts(0, 600_000)) for name in diseases}
    if draw(_BOOL):
        doc["unreferred_ratio_cut"] = draw(rates())
    if draw(_BOOL):
        mode = draw(st.sampled_from(["simple", "consistent", None]))
        oos: dict[str, Any] = {}
        if mode is not None:
            oos["mode"] = mode
        top = 999_999 if mode == "consistent" else 1_000_000
        levels = draw(st.lists(st.sampled_from(["1", "2", "3"]), unique=True))
        if levels or draw(_BOOL):
            oos["cap_ratio"] = {lvl: draw(rates(0, top)) for lvl in levels}
        doc["out_of_scope"] = oos
    return doc


@st.composite
def claim_sets(
    draw: Any,
    categories: list[str],
    max_size: int = 12,
    *,
    outpatient_categories: tuple[str, ...] | list[str] = (),
    diseases: tuple[str, ...] | list[str] = (),
    paid: bool = False,
) -> list[dict[str, str]]:
    """Claims as dicts of text (the columns of a claims file), unique ids, few persons. With
    ``outpatient_categories`` and ``diseases``, some are outpatient claims (§6); with ``paid``, some
    stays carry paid amounts (§7) within their in-scope cost."""
    count = draw(st.integers(1, max_size))
    ids = draw(st.lists(st.integers(0, 99), min_size=count, max_size=count, unique=True))
    outpatient_ok = bool(outpatient_categories) and bool(diseases)
    out = []
    for k in ids:
        outpatient = outpatient_ok and draw(st.integers(0, 2)) == 0
        if outpatient:
            total = draw(st.one_of(st.integers(0, 600_000), st.integers(0, 5_000), st.just(0)))
        else:
            total = draw(st.one_of(st.integers(0, 20_000_000), st.integers(0, 100_000), st.just(0)))
        oos = draw(st.one_of(st.integers(0, total), st.just(0), st.just(total)))
        row = {
            "claim_id": f"K{k:02d}",
            "person_id": draw(st.sampled_from(PERSONS)),
            "category": draw(st.sampled_from(outpatient_categories if outpatient else categories)),
            "discharge_date": draw(st.sampled_from(DATES)),
            "level": str(draw(st.integers(1, 3))),
            "in_county": str(draw(st.integers(0, 1))),
            "referred": str(draw(st.integers(0, 1))),
            "total": amount_text(total, draw),
            "out_of_scope": amount_text(oos, draw),
        }
        if outpatient:
            row["kind"] = "outpatient"
            row["disease"] = draw(st.sampled_from(diseases))
        elif paid and draw(st.integers(0, 3)) == 0:  # settled elsewhere (§7)
            in_scope = total - oos
            basic_paid = draw(st.one_of(st.integers(0, in_scope), st.just(0), st.just(in_scope)))
            critical_paid = draw(
                st.one_of(st.integers(0, in_scope - basic_paid), st.just(in_scope - basic_paid))
            )
            row["basic_paid"] = amount_text(basic_paid, draw)
            row["critical_paid"] = amount_text(critical_paid, draw)
        out.append(row)
    return out
