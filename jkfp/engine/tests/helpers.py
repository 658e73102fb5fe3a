"""Small helpers shared by the engine tests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from jkfp.engine import Claim


def claim_from_row(row: Mapping[str, object]) -> Claim:
    """A ``Claim`` from a row of text cells (the columns of a claims file)."""
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
    )
