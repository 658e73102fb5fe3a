"""A deliberately simple test oracle for ``settlement.md`` §2, §6 and §7, independent of the engine.

It reads the policy as the raw document (the dict of the TOML/JSON file, with the defaults of §3
applied here, not by ``policy.py``) and claims as dicts of strings (the optional columns ``kind``,
``disease``, ``basic_paid``, ``critical_paid`` may be absent or empty), computes with
``fractions.Fraction`` only, and transcribes the formulas of §2, §6 and §7 literally. It exists to produce and
check the expected values of the case tables without running the engine under test.

The only readings beyond the text (shared with the engine, see the ADR): what is left of an annual
cap is never below zero; a value is rounded half-up, away from zero at a tie.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

FIELDS = ("counted_total", "hospital_absorbed", "basic", "critical", "aid", "supplementary", "personal")
INF = None  # "no limit"


def rnd(x: Fraction) -> Fraction:
    """Round half-up to 0.01 (away from zero at a tie)."""
    sign = -1 if x < 0 else 1
    cents = (abs(x) * 100 + Fraction(1, 2)).__floor__()
    return Fraction(sign * cents, 100)


def num(text: str) -> Fraction:
    return Fraction(text)


def opt(block: dict[str, Any], key: str) -> Fraction | None:
    return Fraction(block[key]) if key in block else None


def left(cap: Fraction | None, used: Fraction) -> Fraction | None:
    return None if cap is None else max(Fraction(0), cap - used)


def mn(a: Fraction, b: Fraction | None) -> Fraction:
    return a if b is None else min(a, b)


def tiers_f(tiers: list[list[str]], x: Fraction) -> Fraction:
    total = Fraction(0)
    for lo, hi, rate in tiers:
        top = x if hi == "" else min(x, Fraction(hi))
        total += Fraction(rate) * max(Fraction(0), top - Fraction(lo))
    return total


def fmt(x: Fraction) -> str:
    assert x.denominator in (1, 2, 4, 5, 10, 20, 25, 50, 100), x
    cents = int(x * 100)
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def settle(policy: dict[str, Any], claims: list[dict[str, str]]) -> list[dict[str, Fraction]]:
    """Settle ``claims`` (dicts with the columns of §1, values as text); results in input order."""
    order = sorted(range(len(claims)), key=lambda i: (claims[i]["discharge_date"], claims[i]["claim_id"]))
    ytd: dict[tuple[str, str], dict[str, Fraction]] = {}
    results: dict[int, dict[str, Fraction]] = {}
    cut = Fraction(policy.get("unreferred_ratio_cut", "0"))
    oos_rule = policy.get("out_of_scope", {})
    mode = oos_rule.get("mode", "simple")
    cap_ratio = oos_rule.get("cap_ratio", {})
    zero = Fraction(0)
    for i in order:
        cl = claims[i]
        key = (cl["person_id"], cl["discharge_date"][:4])
        y = ytd.setdefault(
            key,
            dict.fromkeys(
                ("basic", "cbase", "critical", "aid", "aded", "supp", "personal", "oded", "obasic"), zero
            ),
        )
        cat = policy["categories"][cl["category"]]
        level = str(cl["level"])
        in_county = str(cl["in_county"]) == "1"
        referred = str(cl["referred"]) == "1"
        total = num(cl["total"])
        oos = num(cl["out_of_scope"])

        # 2.0
        absorbed = zero
        if in_county and level in cap_ratio:
            r = Fraction(cap_ratio[level])
            if mode == "simple":
                absorbed = max(zero, oos - rnd(r * total))
            else:
                absorbed = max(zero, rnd((oos - r * total) / (1 - r)))
        counted = total - absorbed
        in_scope = total - oos

        if cl.get("kind") == "outpatient":
            results[i] = _outpatient(
                policy, cat, cl, y, counted, absorbed, in_scope, cut, in_county, referred
            )
            continue

        # 2.1 (§7: basic_paid)
        if cl.get("basic_paid"):
            basic = num(cl["basic_paid"])
        else:
            b = cat["basic"]
            ratio = Fraction(b["ratio"][level])
            if not in_county and not referred:
                ratio = max(zero, ratio - cut)
            basic = mn(
                rnd(max(zero, in_scope - Fraction(b["deductible"][level])) * ratio),
                left(opt(b, "annual_cap"), y["basic"]),
            )

        # 2.2 (§7: critical_paid)
        c = cat["critical"]
        base = in_scope - basic
        if cl.get("critical_paid"):
            critical = num(cl["critical_paid"])
        else:
            critical = rnd(tiers_f(c["tiers"], y["cbase"] + base)) - rnd(tiers_f(c["tiers"], y["cbase"]))
            critical = mn(critical, left(opt(c, "annual_cap"), y["critical"]))

        # 2.3
        rem = in_scope - basic - critical
        aid = zero
        ded = zero
        if "aid" in cat:
            a = cat["aid"]
            ded = min(rem, max(zero, Fraction(a.get("deductible", "0")) - y["aded"]))
            aid = mn(rnd((rem - ded) * Fraction(a["ratio"])), left(opt(a, "annual_cap"), y["aid"]))

        # 2.4
        supp = zero
        paid = basic + critical + aid
        rest = counted - paid
        if "supplementary" in cat:
            s = cat["supplementary"]
            applies_to = s.get("applies_to", "in_county_or_referred")
            if in_county or (applies_to == "in_county_or_referred" and referred):
                coverable = rest if s.get("covers_out_of_scope", True) else in_scope - paid
                candidates = []
                if "min_ratio" in s:
                    candidates.append(counted - rnd(Fraction(s["min_ratio"]) * counted))
                if "annual_personal_cap" in s:
                    candidates.append(Fraction(s["annual_personal_cap"]) - y["personal"])
                if candidates:  # otherwise allowed = ∞ and the top-up is 0
                    allowed = min(candidates)
                    hi = mn(coverable, left(opt(s, "sum_insured"), y["supp"]))
                    supp = min(max(rest - max(zero, allowed), zero), hi)

        # 2.5
        personal = counted - basic - critical - aid - supp
        y["basic"] += basic
        y["cbase"] += base
        y["critical"] += critical
        y["aid"] += aid
        y["aded"] += ded
        y["supp"] += supp
        y["personal"] += personal
        results[i] = dict(zip(FIELDS, (counted, absorbed, basic, critical, aid, supp, personal), strict=True))
    return [results[i] for i in range(len(claims))]


def _outpatient(
    policy: dict[str, Any],
    cat: dict[str, Any],
    cl: dict[str, str],
    y: dict[str, Fraction],
    counted: Fraction,
    absorbed: Fraction,
    in_scope: Fraction,
    cut: Fraction,
    in_county: bool,
    referred: bool,
) -> dict[str, Fraction]:
    """settlement.md §6, literally; updates the year-to-date ``y`` (``y["disease:<name>"]`` per disease)."""
    zero = Fraction(0)
    op = cat["outpatient"]
    disease = cl["disease"]
    disease_cap = Fraction(policy["outpatient_diseases"][disease])
    dkey = "disease:" + disease
    used_disease = y.get(dkey, zero)

    ded = min(in_scope, max(zero, Fraction(op.get("deductible", "0")) - y["oded"]))
    ratio = Fraction(op["ratio"][str(cl["level"])])
    if not in_county and not referred:
        ratio = max(zero, ratio - cut)
    basic = mn(rnd((in_scope - ded) * ratio), left(opt(op, "annual_cap"), y["obasic"]))
    basic = min(basic, max(zero, disease_cap - used_disease))

    aid = zero
    if "aid_ratio" in op and "aid" in cat:
        aid = mn(
            rnd((in_scope - basic) * Fraction(op["aid_ratio"])), left(opt(cat["aid"], "annual_cap"), y["aid"])
        )

    supp = zero
    if "personal_share_cap" in op:
        rest = counted - basic - aid
        allowed = rnd(Fraction(op["personal_share_cap"]) * counted)
        sum_insured = opt(cat["supplementary"], "sum_insured") if "supplementary" in cat else None
        supp = mn(max(rest - allowed, zero), left(sum_insured, y["supp"]))

    personal = counted - basic - aid - supp
    y["oded"] += ded
    y["obasic"] += basic
    y[dkey] = used_disease + basic
    y["aid"] += aid
    y["supp"] += supp
    return dict(zip(FIELDS, (counted, absorbed, basic, zero, aid, supp, personal), strict=True))
