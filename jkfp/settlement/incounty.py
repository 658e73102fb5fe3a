"""县域内（推定） In county, derived per claim (issue 21 item 2; domain.md §3) — the one home of the rule.

A stay is in county when the institution's county equals the county the person lived in on the
discharge date. The institution's county is the county of its region (the first 6 digits of a
county, township or village code), or, for a hospital outside the region tree, of its 县外地区代码
(``outside_region_code``: a 12-digit code, or a 6-digit county code). When neither names a county (no
region, or a city's or province's code — a city hospital), the county cannot be known and the
institution import's 县域内 column decides, as before. A claim stores the result (``Claim.in_county``)
when it is created, as a snapshot: re-settling never re-derives it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from jkfp.regions.models import Institution, county_of
from jkfp.registry.selectors import village_on, villages_on


def institution_county(institution: Institution) -> str | None:
    """机构所在县 The 6-digit county of ``institution``, or None when it cannot be known."""
    code = institution.region_id or institution.outside_region_code or ""
    return county_of(code) if code else None


def in_county(institution: Institution, village: str | None) -> bool:
    """县域内 The rule: the institution's county is the county of ``village`` (the person's village on
    the discharge date); the institution's 县域内 flag when its county (or the village) is unknown."""
    county = institution_county(institution)
    person_county = county_of(village) if village else None
    if county is None or person_county is None:
        return bool(institution.in_county)
    return county == person_county


def claim_in_county(*, institution: Institution, person: Any, discharged_on: date) -> bool:
    """一笔的县域内 ``in_county`` for one claim: the person's village on the discharge date (already
    read with the person — ``village_on`` set by ``fetch.person_by_id_number`` — or one query)."""
    if institution_county(institution) is None:
        return bool(institution.in_county)  # no need to know where the person lived
    village = getattr(person, "village_on", None) or village_on(person=person, on=discharged_on)
    return in_county(institution, village)


def claims_in_county(rows: Sequence[tuple[Institution, int, date]]) -> list[bool]:
    """多笔的县域内 ``in_county`` for many (institution, person id, discharge date) rows (an import)."""
    wanted = [(person_id, on) for inst, person_id, on in rows if institution_county(inst) is not None]
    villages = villages_on(wanted) if wanted else {}
    return [in_county(inst, villages.get((person_id, on))) for inst, person_id, on in rows]
