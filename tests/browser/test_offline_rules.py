"""手机端随访规则 The phone's rules (``jkfp/web/static/offline/rules.js``) equal the server's (``jkfp.care.rules``).

A table of cases — every default rule and a county rule with other numbers, readings around every
limit, ages either side of 65 and birthdays, streaks, adverse reactions, complications, month and
leap-year ends, impossible readings — gets its expected results from the Python functions; the
JavaScript runs in Debian Chromium over the same table with the rules as the server sends them
(``rules_as_data``) and must give exactly the same results.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from jkfp.care import rules as care_rules
from jkfp.care.rules import DEFAULT_RULES, Rule

from .conftest import CHROMIUM, CHROMIUM_ARGS

RULES_JS = Path(__file__).resolve().parents[2] / "jkfp" / "web" / "static" / "offline" / "rules.js"

RULES: dict[int, Rule] = dict(enumerate(DEFAULT_RULES.values(), start=1))
RULES[99] = Rule(6, care_rules.BP, revisit_days=10, referral_days=7, referral_after=3, escalate_after_days=20)
READINGS: list[dict[str, Any]] = [
    {},
    {"systolic": 139, "diastolic": 89},
    {"systolic": 140, "diastolic": 80},
    {"systolic": 130, "diastolic": 90},
    {"systolic": 149, "diastolic": 89},
    {"systolic": 150, "diastolic": 89},
    {"systolic": 120, "diastolic": None},
    {"glucose": "6.9"},
    {"glucose": "7.0"},
    {"glucose": "7.1"},
    {"glucose": "6.95"},
    {"unstable": True},
    {"unstable": False, "systolic": 160, "diastolic": 100, "glucose": "5.0"},
]
BIRTHS = [date(1961, 6, 15), date(1960, 2, 29), date(1959, 12, 31), date(1990, 1, 1)]
VISITS = [date(2024, 2, 28), date(2024, 12, 31), date(2025, 6, 15), date(2026, 2, 28), date(2025, 1, 1)]
PROBLEM_READINGS: list[dict[str, Any]] = [
    {"systolic": 59, "diastolic": 40},
    {"systolic": 301, "diastolic": 90},
    {"systolic": 120, "diastolic": 29},
    {"systolic": 120, "diastolic": 201},
    {"systolic": 90, "diastolic": 90},
    {"systolic": 85, "diastolic": 90},
    {"systolic": None, "diastolic": 80},
    {"systolic": 120, "diastolic": None},
    {"glucose": "0.9"},
    {"glucose": "1.0"},
    {"glucose": "40.0"},
    {"glucose": "40.1"},
    {"weight": "1.9"},
    {"weight": "300.0"},
    {"weight": "300.1"},
    {"systolic": 400, "diastolic": 300, "glucose": "50", "weight": "0.5"},
    {"systolic": 120, "diastolic": 80, "glucose": "5.6", "weight": "60.5"},
]


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _cases() -> dict[str, list[dict[str, Any]]]:
    ages = [
        {"birth": b.isoformat(), "on": v.isoformat(), "expected": care_rules.age_on(b, v)}
        for b, v in itertools.product(
            BIRTHS, [*VISITS, date(2026, 2, 28), date(2026, 3, 1), date(2025, 6, 14)]
        )
    ]
    classify = []
    for measure, reading, age in itertools.product(
        (care_rules.BP, care_rules.GLUCOSE, care_rules.STABILITY, care_rules.NONE),
        READINGS,
        (None, 64, 65, 80),
    ):
        expected = care_rules.classify(
            measure,
            systolic=reading.get("systolic"),
            diastolic=reading.get("diastolic"),
            glucose=_dec(reading.get("glucose")),
            unstable=bool(reading.get("unstable")),
            age=age,
        )
        classify.append({"measure": measure, "reading": {**reading, "age": age}, "expected": expected})
    due = []
    classes = (
        care_rules.CONTROLLED,
        care_rules.UNCONTROLLED,
        care_rules.STABLE,
        care_rules.UNSTABLE,
        care_rules.NOT_ASSESSED,
    )
    for (disease_id, rule), visited, cls, streak, adverse, complication in itertools.product(
        RULES.items(), VISITS, classes, (0, 1, 2), (False, True), (False, True)
    ):
        d = care_rules.next_due(
            rule,
            visited_on=visited,
            classification=cls,
            previous_streak=streak,
            adverse_reaction=adverse,
            new_complication=complication,
        )
        due.append(
            {
                "disease_id": disease_id,
                "visited_on": visited.isoformat(),
                "classification": cls,
                "streak": streak,
                "adverse": adverse,
                "complication": complication,
                "expected": {
                    **asdict(d),
                    "due_on": d.due_on.isoformat(),
                    "escalate_on": d.escalate_on.isoformat(),
                },
            }
        )
    problems = [
        {
            "reading": reading,
            "expected": [
                list(p)
                for p in care_rules.reading_problems(
                    systolic=reading.get("systolic"),
                    diastolic=reading.get("diastolic"),
                    glucose=_dec(reading.get("glucose")),
                    weight=_dec(reading.get("weight")),
                )
            ],
        }
        for reading in PROBLEM_READINGS
    ]
    return {"ages": ages, "classify": classify, "due": due, "problems": problems}


JS_RUN = """([data, cases]) => {
  const R = window.JkfpRules;
  const out = {ages: [], classify: [], due: [], problems: []};
  for (const c of cases.ages) out.ages.push(R.ageOn(c.birth, c.on));
  for (const c of cases.classify) out.classify.push(R.classify(data, c.measure, c.reading));
  for (const c of cases.due) {
    const rule = data.rules[String(c.disease_id)];
    out.due.push(R.nextDue(data, rule, c.visited_on, c.classification, c.streak, c.adverse, c.complication));
  }
  for (const c of cases.problems) out.problems.push(R.readingProblems(data, c.reading));
  return out;
}"""


@pytest.mark.browser
def test_the_phone_computes_what_the_server_computes() -> None:
    from playwright.sync_api import sync_playwright

    cases = _cases()
    data = care_rules.rules_as_data(RULES)
    assert len(cases["due"]) >= 1000 and {c["expected"]["reason"] for c in cases["due"]} == {
        care_rules.ROUTINE,
        care_rules.REVISIT,
        care_rules.REFERRAL,
    }
    # Sanity of the table itself: the glucose limit and the 65+ limit are on both sides.
    assert {c["expected"] for c in cases["classify"]} == {
        care_rules.CONTROLLED,
        care_rules.UNCONTROLLED,
        care_rules.STABLE,
        care_rules.UNSTABLE,
        care_rules.NOT_ASSESSED,
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_content("<!doctype html><html><body></body></html>")
            page.add_script_tag(path=str(RULES_JS))
            got = page.evaluate(JS_RUN, [data, cases])
        finally:
            browser.close()
    for group in ("ages", "classify", "due", "problems"):
        expected = [c["expected"] for c in cases[group]]
        wrong = [(c, g) for c, g in zip(cases[group], got[group], strict=True) if c["expected"] != g]
        assert not wrong, f"{group}: {len(wrong)} of {len(expected)} differ, e.g. {wrong[:3]}"


def test_the_table_reaches_every_branch_of_next_due() -> None:
    """No browser: the case table is rich enough (a leap day, the 14-day and the 3-strike county rule)."""
    cases = _cases()["due"]
    county = [c for c in cases if c["disease_id"] == 99]
    assert {c["expected"]["reason"] for c in county} == {
        care_rules.ROUTINE,
        care_rules.REVISIT,
        care_rules.REFERRAL,
    }
    leap = [
        c for c in cases if c["visited_on"] == "2024-02-28" and c["expected"]["reason"] == care_rules.REVISIT
    ]
    assert leap and leap[0]["expected"]["due_on"] == (date(2024, 2, 28) + timedelta(days=14)).isoformat()
