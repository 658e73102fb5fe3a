/* 随访规则（手机端）The follow-up rules of jkfp/care/rules.py, computed on the phone from the numbers the
 * server sends (rules_as_data). Same names, same results: tests/browser/test_offline_rules.py runs
 * these functions in Chromium over a table of cases whose expected results come from the Python rules.
 * Dates are ISO strings (YYYY-MM-DD); glucose and weight are decimal strings or numbers. */
(function (root) {
  "use strict";

  var DAY = 86400000;

  function toDays(iso) {
    var p = String(iso).split("-");
    return Math.round(Date.UTC(+p[0], +p[1] - 1, +p[2]) / DAY);
  }

  function fromDays(days) {
    return new Date(days * DAY).toISOString().slice(0, 10);
  }

  function addDays(iso, n) {
    return fromDays(toDays(iso) + n);
  }

  // 周岁 Age in whole years on `on` (rules.age_on).
  function ageOn(birth, on) {
    var b = String(birth).split("-").map(Number), o = String(on).split("-").map(Number);
    var before = o[1] < b[1] || (o[1] === b[1] && o[2] < b[2]);
    return o[0] - b[0] - (before ? 1 : 0);
  }

  // Decimal with one place → integer tenths, exactly (no float comparison): "6.95" → 69 like Decimal
  // comparison would not need; the form allows one decimal place, the server refuses more.
  function tenths(value) {
    if (value === null || value === undefined || value === "") { return null; }
    var text = String(value).trim();
    var m = /^(-?)(\d+)(?:\.(\d*))?$/.exec(text);
    if (!m) { return NaN; }
    var frac = (m[3] || "") + "00";
    var n = parseInt(m[2], 10) * 100 + parseInt(frac.slice(0, 2), 10);
    return (m[1] ? -n : n) / 10;  // tenths, possibly with a .x remainder for two-place input
  }

  function isNum(v) { return v !== null && v !== undefined && v !== ""; }

  // 控制情况 rules.classify
  function classify(data, measure, r) {
    r = r || {};
    if (measure === "bp") {
      if (!isNum(r.systolic) || !isNum(r.diastolic)) { return "not_assessed"; }
      var limit = isNum(r.age) && r.age >= data.elderly_age ? data.bp_limit_elderly : data.bp_limit;
      return (+r.systolic < limit[0] && +r.diastolic < limit[1]) ? "controlled" : "uncontrolled";
    }
    if (measure === "glucose") {
      if (!isNum(r.glucose)) { return "not_assessed"; }
      return tenths(r.glucose) < tenths(data.glucose_limit) ? "controlled" : "uncontrolled";
    }
    if (measure === "stability") { return r.unstable ? "unstable" : "stable"; }
    return "not_assessed";
  }

  // 下次随访日期 rules.next_due → {due_on, reason, escalate_on, streak}
  function nextDue(data, rule, visitedOn, classification, previousStreak, adverse, complication) {
    var streak = data.bad.indexOf(classification) >= 0 ? (previousStreak || 0) + 1 : 0;
    var days, reason;
    if (complication || streak >= rule.referral_after) {
      days = rule.referral_days; reason = "referral";
    } else if (streak === 1 || adverse) {
      days = rule.revisit_days; reason = "revisit";
    } else {
      days = rule.interval_days; reason = "routine";
    }
    var due = addDays(visitedOn, days);
    return { due_on: due, reason: reason, escalate_on: addDays(due, rule.escalate_after_days), streak: streak };
  }

  // 读数检查 rules.reading_problems → [[field, message]]
  function readingProblems(data, r) {
    var out = [], rg = data.ranges, msg = data.messages;
    var s = isNum(r.systolic) ? +r.systolic : null, d = isNum(r.diastolic) ? +r.diastolic : null;
    if (s !== null && !(rg.systolic[0] <= s && s <= rg.systolic[1])) { out.push(["systolic", msg.systolic]); }
    if (d !== null && !(rg.diastolic[0] <= d && d <= rg.diastolic[1])) { out.push(["diastolic", msg.diastolic]); }
    if ((s === null) !== (d === null)) {
      out.push([s === null ? "systolic" : "diastolic", msg.bp_pair]);
    } else if (s !== null && d !== null && out.length === 0 && s <= d) {
      out.push(["systolic", msg.bp_order]);
    }
    if (isNum(r.glucose)) {
      var g = tenths(r.glucose);
      if (!(tenths(rg.glucose[0]) <= g && g <= tenths(rg.glucose[1]))) { out.push(["glucose", msg.glucose]); }
    }
    if (isNum(r.weight)) {
      var w = tenths(r.weight);
      if (!(tenths(rg.weight[0]) <= w && w <= tenths(rg.weight[1]))) { out.push(["weight", msg.weight]); }
    }
    return out;
  }

  root.JkfpRules = {
    toDays: toDays, fromDays: fromDays, addDays: addDays, ageOn: ageOn,
    classify: classify, nextDue: nextDue, readingProblems: readingProblems
  };
})(typeof self !== "undefined" ? self : this);
