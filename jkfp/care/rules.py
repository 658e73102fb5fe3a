"""随访规则 Follow-up rules as data, the classification of readings and the derivation of the next due date.

Pure functions over plain values (no database), used the same way by the visit service, the bulk
writer of the imports and the demo data, so the schedule of a person never depends on how the visit
arrived. The defaults are the table of domain.md §6; a county overrides any of them with
``FollowUpRule`` rows (admin), read by ``jkfp.care.selectors.rules_for``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

# Controlled = BP < 140/90, < 150/90 at 65 and over; fasting glucose < 7.0 mmol/L (domain.md §6).
BP_LIMIT = (140, 90)
BP_LIMIT_ELDERLY = (150, 90)
ELDERLY_AGE = 65
GLUCOSE_LIMIT = Decimal("7.0")

# Value strings of jkfp.care.models.Measure / Classification / DueReason (kept here without Django).
BP, GLUCOSE, STABILITY, NONE = "bp", "glucose", "stability", "none"
CONTROLLED, UNCONTROLLED, STABLE, UNSTABLE, NOT_ASSESSED = (
    "controlled",
    "uncontrolled",
    "stable",
    "unstable",
    "not_assessed",
)
FIRST, ROUTINE, REVISIT, REFERRAL = "first", "routine", "revisit", "referral"
BAD = frozenset({UNCONTROLLED, UNSTABLE})


@dataclass(frozen=True)
class Rule:
    """随访规则 One condition's rule: visits a year, the 14-day rules, the reminder and escalation windows."""

    visits_per_year: int
    measure: str = NONE
    face_to_face: bool = True
    revisit_days: int = 14
    referral_days: int = 14
    referral_after: int = 2
    due_window_days: int = 7
    escalate_after_days: int = 30

    @property
    def interval_days(self) -> int:
        """常规间隔 Days between routine visits: 365 / visits a year (quarterly = 91 days)."""
        return 365 // max(1, self.visits_per_year)


# domain.md §6, by catalogue disease name.
DEFAULT_RULES: dict[str, Rule] = {
    "高血压": Rule(4, BP),
    "2型糖尿病": Rule(4, GLUCOSE),
    "严重精神障碍": Rule(4, STABILITY),
    "肺结核": Rule(4, NONE),
    "脑血管病": Rule(1, NONE, face_to_face=False),
    "冠心病": Rule(1, NONE, face_to_face=False),
    "慢性阻塞性肺疾病": Rule(1, NONE, face_to_face=False),
    "老年慢性支气管炎": Rule(1, NONE, face_to_face=False),
    "类风湿性关节炎": Rule(1, NONE, face_to_face=False),
    "骨关节炎": Rule(1, NONE, face_to_face=False),
}


def age_on(birth: date, on: date) -> int:
    """周岁 Age in whole years on ``on``."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def classify(
    measure: str,
    *,
    systolic: int | None = None,
    diastolic: int | None = None,
    glucose: Decimal | None = None,
    unstable: bool = False,
    age: int | None = None,
) -> str:
    """控制情况 The classification of one condition from the visit's readings (domain.md §6).

    Blood pressure: controlled when systolic and diastolic are both below the limit (150/90 at 65+);
    glucose: controlled below 7.0 mmol/L; stability: the doctor's "unstable" tick. A reading that
    was not taken gives ``not_assessed``.
    """
    if measure == BP:
        if systolic is None or diastolic is None:
            return NOT_ASSESSED
        limit = BP_LIMIT_ELDERLY if age is not None and age >= ELDERLY_AGE else BP_LIMIT
        return CONTROLLED if systolic < limit[0] and diastolic < limit[1] else UNCONTROLLED
    if measure == GLUCOSE:
        if glucose is None:
            return NOT_ASSESSED
        return CONTROLLED if glucose < GLUCOSE_LIMIT else UNCONTROLLED
    if measure == STABILITY:
        return UNSTABLE if unstable else STABLE
    return NOT_ASSESSED


@dataclass(frozen=True)
class Due:
    """下次随访 The next due date, why, the escalation date and the running count of bad results."""

    due_on: date
    reason: str
    escalate_on: date
    streak: int


def first_due(rule: Rule, *, start: date) -> Due:
    """首次随访 The schedule of a condition never visited: due at ``start``."""
    return Due(start, FIRST, start + timedelta(days=rule.escalate_after_days), 0)


def next_due(
    rule: Rule,
    *,
    visited_on: date,
    classification: str,
    previous_streak: int = 0,
    adverse_reaction: bool = False,
    new_complication: bool = False,
) -> Due:
    """下次随访日期 The due date after a visit (domain.md §6).

    - ``referral_after`` (2) bad results in a row, or a new complication → refer, follow up within
      ``referral_days`` (14);
    - a first bad result (uncontrolled, unstable) or an adverse drug reaction → revisit within
      ``revisit_days`` (14);
    - otherwise the routine interval (365 / visits a year).
    """
    streak = previous_streak + 1 if classification in BAD else 0
    if new_complication or streak >= rule.referral_after:
        days, reason = rule.referral_days, REFERRAL
    elif streak == 1 or adverse_reaction:
        days, reason = rule.revisit_days, REVISIT
    else:
        days, reason = rule.interval_days, ROUTINE
    due = visited_on + timedelta(days=days)
    return Due(due, reason, due + timedelta(days=rule.escalate_after_days), streak)


# Plausible readings; anything outside is a typing error, refused by the form and the import.
SYSTOLIC_RANGE = (60, 300)
DIASTOLIC_RANGE = (30, 200)
GLUCOSE_RANGE = (Decimal("1.0"), Decimal("40.0"))
WEIGHT_RANGE = (Decimal("2.0"), Decimal("300.0"))
ERR_SYSTOLIC = "收缩压应在60–300 mmHg之间"
ERR_DIASTOLIC = "舒张压应在30–200 mmHg之间"
ERR_BP_ORDER = "收缩压必须高于舒张压"
ERR_BP_PAIR = "收缩压和舒张压须同时填写"
ERR_GLUCOSE = "空腹血糖应在1.0–40.0 mmol/L之间"
ERR_WEIGHT = "体重应在2–300 kg之间"


def reading_problems(
    *,
    systolic: int | None,
    diastolic: int | None,
    glucose: Decimal | None,
    weight: Decimal | None = None,
) -> list[tuple[str, str]]:
    """读数检查 ``[(field, Chinese message)]`` for impossible readings; empty when they are plausible."""
    problems: list[tuple[str, str]] = []
    if systolic is not None and not SYSTOLIC_RANGE[0] <= systolic <= SYSTOLIC_RANGE[1]:
        problems.append(("systolic", ERR_SYSTOLIC))
    if diastolic is not None and not DIASTOLIC_RANGE[0] <= diastolic <= DIASTOLIC_RANGE[1]:
        problems.append(("diastolic", ERR_DIASTOLIC))
    if (systolic is None) != (diastolic is None):
        problems.append(("systolic" if systolic is None else "diastolic", ERR_BP_PAIR))
    elif systolic is not None and diastolic is not None and not problems and systolic <= diastolic:
        problems.append(("systolic", ERR_BP_ORDER))
    if glucose is not None and not GLUCOSE_RANGE[0] <= glucose <= GLUCOSE_RANGE[1]:
        problems.append(("glucose", ERR_GLUCOSE))
    if weight is not None and not WEIGHT_RANGE[0] <= weight <= WEIGHT_RANGE[1]:
        problems.append(("weight", ERR_WEIGHT))
    return problems


def replay(
    rule: Rule, history: list[tuple[date, str, bool, bool]], *, start: date
) -> tuple[Due, date | None, str]:
    """重算计划 (due, last visit date, last classification) from a condition's whole visit history.

    ``history`` is ``[(visited_on, classification, adverse_reaction, new_complication)]`` in date
    order; the bulk writer uses it so an imported visit and a recorded one give the same schedule.
    """
    if not history:
        return first_due(rule, start=start), None, ""
    due: Due | None = None
    for visited_on, classification, adverse, complication in history:
        due = next_due(
            rule,
            visited_on=visited_on,
            classification=classification,
            previous_streak=due.streak if due else 0,
            adverse_reaction=adverse,
            new_complication=complication,
        )
    assert due is not None
    last = history[-1]
    return due, last[0], last[1]


def rules_as_data(rules: dict[int, Rule]) -> dict[str, object]:
    """规则数据 The rules and limits of this module as plain JSON-ready data, for the village doctor's phone.

    The phone computes the classification and next-due preview offline with these numbers and a
    port of ``classify``/``next_due`` (``jkfp/web/static/offline/rules.js``); the browser test
    ``tests/browser/test_offline_rules.py`` runs that port over a table of cases computed here.
    """
    return {
        "bp_limit": list(BP_LIMIT),
        "bp_limit_elderly": list(BP_LIMIT_ELDERLY),
        "elderly_age": ELDERLY_AGE,
        "glucose_limit": str(GLUCOSE_LIMIT),
        "bad": sorted(BAD),
        "ranges": {
            "systolic": list(SYSTOLIC_RANGE),
            "diastolic": list(DIASTOLIC_RANGE),
            "glucose": [str(v) for v in GLUCOSE_RANGE],
            "weight": [str(v) for v in WEIGHT_RANGE],
        },
        "messages": {
            "systolic": ERR_SYSTOLIC,
            "diastolic": ERR_DIASTOLIC,
            "bp_order": ERR_BP_ORDER,
            "bp_pair": ERR_BP_PAIR,
            "glucose": ERR_GLUCOSE,
            "weight": ERR_WEIGHT,
        },
        "rules": {
            str(disease_id): {
                "visits_per_year": rule.visits_per_year,
                "interval_days": rule.interval_days,
                "measure": rule.measure,
                "face_to_face": rule.face_to_face,
                "revisit_days": rule.revisit_days,
                "referral_days": rule.referral_days,
                "referral_after": rule.referral_after,
                "due_window_days": rule.due_window_days,
                "escalate_after_days": rule.escalate_after_days,
            }
            for disease_id, rule in sorted(rules.items())
        },
    }
