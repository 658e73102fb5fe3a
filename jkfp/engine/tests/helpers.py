"""Small helpers shared by the engine tests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from jkfp.engine import Claim

# Issue 19: every preset's outpatient_diseases lists at least these.
REQUIRED_DISEASES = (
    "高血压",
    "2型糖尿病",
    "严重精神障碍",
    "肺结核",
    "冠心病",
    "脑卒中",
    "慢性阻塞性肺气肿",
    "终末期肾病",
    "类风湿关节炎",
)


def _optional_amount(row: Mapping[str, object], key: str) -> Decimal | None:
    value = row.get(key)
    return None if value in (None, "") else Decimal(str(value))


def claim_from_row(row: Mapping[str, object]) -> Claim:
    """A ``Claim`` from a row of text cells (the columns of a claims file, the optional ones of
    settlement.md §6 and §7 included)."""
    return Claim(
        claim_id=str(row["claim_id"]),
        person_id=str(row["person_id"]),
        category=str(row["category"]),
        discharge_on=date.fromisoformat(str(row["discharge_date"])),
        level=int(str(row["level"])),
        in_county=str(row["in_county"]) == "1",
        referred=str(row["referred"]) == "1",
        total_amount=Decimal(str(row["total"])),
        out_of_scope_amount=Decimal(str(row["out_of_scope"])),
        kind="outpatient" if row.get("kind") == "outpatient" else "inpatient",
        disease=str(row.get("disease") or ""),
        basic_paid_amount=_optional_amount(row, "basic_paid"),
        critical_paid_amount=_optional_amount(row, "critical_paid"),
    )
