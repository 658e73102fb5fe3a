"""The classification and due-date rules of domain.md §6 (pure functions, no database)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jkfp.care import rules
from jkfp.care.rules import DEFAULT_RULES, Rule, classify, next_due, reading_problems, replay

HTN = DEFAULT_RULES["高血压"]
DAY = date(2026, 3, 1)


@pytest.mark.parametrize(
    ("sbp", "dbp", "age", "expected"),
    [
        (139, 89, 60, rules.CONTROLLED),
        (140, 80, 60, rules.UNCONTROLLED),  # 140 is not below 140
        (130, 90, 60, rules.UNCONTROLLED),
        (145, 85, 65, rules.CONTROLLED),  # 65+: below 150/90
        (145, 85, 64, rules.UNCONTROLLED),
        (150, 85, 70, rules.UNCONTROLLED),
        (None, None, 60, rules.NOT_ASSESSED),
    ],
)
def test_blood_pressure_classification(sbp: int | None, dbp: int | None, age: int, expected: str) -> None:
    assert classify(rules.BP, systolic=sbp, diastolic=dbp, age=age) == expected


def test_glucose_and_stability_classification() -> None:
    assert classify(rules.GLUCOSE, glucose=Decimal("6.9")) == rules.CONTROLLED
    assert classify(rules.GLUCOSE, glucose=Decimal("7.0")) == rules.UNCONTROLLED
    assert classify(rules.STABILITY, unstable=True) == rules.UNSTABLE
    assert classify(rules.STABILITY) == rules.STABLE
    assert classify(rules.NONE, systolic=200, diastolic=120) == rules.NOT_ASSESSED


def test_age_is_counted_on_the_visit_day() -> None:
    assert rules.age_on(date(1961, 6, 15), date(2026, 6, 14)) == 64
    assert rules.age_on(date(1961, 6, 15), date(2026, 6, 15)) == 65


def test_routine_revisit_and_referral_dates() -> None:
    routine = next_due(HTN, visited_on=DAY, classification=rules.CONTROLLED)
    assert (routine.due_on - DAY).days == 365 // 4 and routine.reason == rules.ROUTINE
    first_bad = next_due(HTN, visited_on=DAY, classification=rules.UNCONTROLLED)
    assert first_bad.due_on == DAY + timedelta(days=14) and first_bad.reason == rules.REVISIT
    second_bad = next_due(HTN, visited_on=DAY, classification=rules.UNCONTROLLED, previous_streak=1)
    assert second_bad.reason == rules.REFERRAL and second_bad.streak == 2
    adverse = next_due(HTN, visited_on=DAY, classification=rules.CONTROLLED, adverse_reaction=True)
    assert adverse.reason == rules.REVISIT and adverse.streak == 0
    complication = next_due(HTN, visited_on=DAY, classification=rules.CONTROLLED, new_complication=True)
    assert complication.reason == rules.REFERRAL
    assert routine.escalate_on == routine.due_on + timedelta(days=HTN.escalate_after_days)


def test_once_a_year_rule() -> None:
    due = next_due(DEFAULT_RULES["冠心病"], visited_on=DAY, classification=rules.NOT_ASSESSED)
    assert due.due_on == DAY + timedelta(days=365)


def test_readings_are_checked() -> None:
    assert reading_problems(systolic=120, diastolic=80, glucose=Decimal("5.6"), weight=Decimal("60")) == []
    assert reading_problems(systolic=80, diastolic=120, glucose=None) == [("systolic", rules.ERR_BP_ORDER)]
    assert reading_problems(systolic=120, diastolic=120, glucose=None) == [("systolic", rules.ERR_BP_ORDER)]
    assert reading_problems(systolic=900, diastolic=80, glucose=None) == [("systolic", rules.ERR_SYSTOLIC)]
    assert reading_problems(systolic=120, diastolic=None, glucose=None) == [("diastolic", rules.ERR_BP_PAIR)]
    assert reading_problems(systolic=None, diastolic=None, glucose=Decimal("70")) == [
        ("glucose", rules.ERR_GLUCOSE)
    ]


visits = st.lists(
    st.tuples(
        st.integers(0, 400),
        st.sampled_from([rules.CONTROLLED, rules.UNCONTROLLED]),
        st.booleans(),
        st.booleans(),
    ),
    min_size=1,
    max_size=8,
)


@given(visits)
def test_replay_equals_visit_by_visit(history: list[tuple[int, str, bool, bool]]) -> None:
    """The bulk path (replay of the whole history) gives what recording the visits one by one gives."""
    rows = sorted((DAY + timedelta(days=d), c, a, n) for d, c, a, n in history)
    due = None
    for on, cls, adverse, complication in rows:
        due = next_due(
            HTN,
            visited_on=on,
            classification=cls,
            previous_streak=due.streak if due else 0,
            adverse_reaction=adverse,
            new_complication=complication,
        )
    replayed, last_on, last_cls = replay(HTN, rows, start=DAY)
    assert replayed == due and last_on == rows[-1][0] and last_cls == rows[-1][1]
    assert replayed.due_on - last_on <= timedelta(days=HTN.interval_days)
    # Two bad results in a row always mean referral.
    if len(rows) >= 2 and rows[-1][1] == rows[-2][1] == rules.UNCONTROLLED:
        assert replayed.reason == rules.REFERRAL


def test_rule_interval() -> None:
    assert Rule(4).interval_days == 91 and Rule(1).interval_days == 365 and Rule(12).interval_days == 30
