"""名单年度 The plausible years of a yearly list (roster, enrolment): the one home of the rule.

Lists start with 精准扶贫 (2014); next year's list is collected in the autumn (集中参保缴费期,
September to December), so next year is plausible and the year after is not. The command line, the
web forms and the upload services all check a list year here.
"""

from __future__ import annotations

from datetime import date

LIST_MIN_YEAR = 2014


def list_max_year(today: date) -> int:
    """The latest plausible list year: next year."""
    return today.year + 1


def list_year_ok(year: int, today: date) -> bool:
    """名单年度是否合理 ``LIST_MIN_YEAR`` ≤ ``year`` ≤ next year."""
    return LIST_MIN_YEAR <= year <= list_max_year(today)
