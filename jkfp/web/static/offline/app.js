/* 村医离线应用 The village doctor's offline app (issue 20): the work list, person pages and the forms for
 * a visit, a drug delivery and a health check, from the phone's copy (IndexedDB); entries go to an
 * outbox and are sent to /api/v1/offline/sync when the network is there. Nothing here decides a
 * rule: the preview uses JkfpRules (rules.js) with the rules the server sent; the server validates
 * every entry again with the services of the web forms. */
(function () {
  "use strict";

  var R = window.JkfpRules;
  var API = "/api/v1/offline/";
  var DB_NAME = "jkfp-offline";
  var BATCH = 10;            // entries per sync request: a broken sync resumes after the last batch
  var KEEP_SENT = 200;       // sent entries kept on the phone for the outbox page
  var RETRY_MAX_MS = 60000;
  var app = document.getElementById("app");
  var LOGIN_URL = document.body.getAttribute("data-login");
  var LOGOUT_URL = document.body.getAttribute("data-logout");
  var bar = {
    asOf: document.getElementById("as-of"),
    status: document.getElementById("sync-status"),
    badge: document.getElementById("outbox-count"),
    user: document.getElementById("user-name")
  };

  var db = null;
  var meta = null;          // {device_id, user, as_of, today, rules, diseases, labels, week_days}
  var persons = null;       // id → person (loaded lazily from IndexedDB)
  var syncing = null;       // the running sync's promise
  var retryMs = 5000, retryTimer = null;
  var flash = "";
  var flashHash = null;

  // --- small helpers ---------------------------------------------------------------------------

  function esc(value) {
    return String(value === null || value === undefined ? "" : value)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  function today() {
    var d = new Date();
    return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0");
  }

  function uuid4() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);  // works without HTTPS too (randomUUID does not)
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // The CSRF cookie is HttpOnly (settings): the token comes from the API, once per page and again
  // after a refusal (a login rotates it).
  var csrf = "";
  async function csrfToken(refresh) {
    if (!csrf || refresh) {
      var response = await fetch(API + "csrf", { credentials: "same-origin", headers: { "Accept": "application/json" } });
      var data = response.ok ? await response.json() : null;
      csrf = data && data.csrf_token ? data.csrf_token : "";
    }
    return csrf;
  }

  function fmtTime(iso) {
    if (!iso) { return "—"; }
    var d = new Date(iso);
    return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0") +
      " " + String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  }

  function label(group, value) {
    return (meta && meta.labels[group] && meta.labels[group][value]) || value || "";
  }

  function diseaseName(id) { return (meta && meta.diseases[String(id)]) || ""; }

  // --- the phone's copy (IndexedDB through idb) ---------------------------------------------------

  function openDb() {
    return idb.openDB(DB_NAME, 1, {
      upgrade: function (d) {
        d.createObjectStore("meta");
        d.createObjectStore("persons", { keyPath: "id" });
        d.createObjectStore("outbox", { keyPath: "uuid" });
      }
    });
  }

  async function loadMeta() {
    meta = (await db.get("meta", "scope")) || null;
    var device = await db.get("meta", "device_id");
    if (!device) {
      device = uuid4();
      await db.put("meta", device, "device_id");
    }
    return device;
  }

  async function loadPersons() {
    if (persons) { return persons; }
    var rows = await db.getAll("persons");
    persons = {};
    for (var i = 0; i < rows.length; i++) { persons[rows[i].id] = rows[i]; }
    return persons;
  }

  async function outbox() {
    var rows = await db.getAll("outbox");
    rows.sort(function (a, b) { return a.seq - b.seq; });
    return rows;
  }

  async function wipe(message) {
    // 清除手机上的数据 logout or a revoked device: nothing of the scope stays on the phone.
    if (db) { db.close(); db = null; }
    await idb.deleteDB(DB_NAME);
    meta = null; persons = null;
    db = await openDb();
    await loadMeta();
    setFlash(message || "");
  }

  function setFlash(text) { flash = text; flashHash = null; }

  // --- header: 数据截至, sync state, outbox count ---------------------------------------------------

  async function refreshBar() {
    bar.asOf.textContent = meta ? "数据截至 " + fmtTime(meta.as_of) : "尚未同步";
    bar.user.textContent = meta ? meta.user.name + " · " + meta.user.region_name : "";
    var rows = await outbox();
    var pending = rows.filter(function (e) { return e.state === "pending"; }).length;
    var refused = rows.filter(function (e) { return e.state === "refused"; }).length;
    bar.badge.textContent = pending + refused ? String(pending + refused) : "";
    bar.badge.className = "badge rounded-pill " + (refused ? "text-bg-danger" : "text-bg-warning");
    return { pending: pending, refused: refused };
  }

  function setStatus(text, kind) {
    bar.status.textContent = text;
    bar.status.className = "sync-status " + (kind || "");
  }

  // --- sync ------------------------------------------------------------------------------------

  async function api(method, path, body, retried) {
    var options = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRFToken"] = await csrfToken(retried);
      options.body = JSON.stringify(body);
    }
    var response = await fetch(API + path, options);
    var data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (response.status === 403 && data && data.code === "csrf" && body !== undefined && !retried) {
      return api(method, path, body, true);  // a stale token: fetch a fresh one, send once more
    }
    return { status: response.status, data: data };
  }

  async function handleRefusal(res, device) {
    // 401: session over — a revoked device wipes itself, otherwise the outbox waits for a login.
    if (res.status === 401) {
      var check = await api("GET", "devices/" + device);
      if (check.data && check.data.status === "revoked") {
        await wipe("此手机已被县卫健局吊销，手机上的数据已清除。");
        return "revoked";
      }
      setStatus("登录已过期：请重新登录后同步（未上传的记录保留在手机上）", "warn");
      showLogin(true);
      return "login";
    }
    if (res.status === 410) {
      await wipe((res.data && res.data.message) || "此手机已被吊销，数据已清除。");
      return "revoked";
    }
    setStatus((res.data && res.data.message) || ("同步失败（" + res.status + "）"), "warn");
    return "error";
  }

  async function pushOutbox(device, userId) {
    var pending = (await outbox()).filter(function (e) {
      return e.state === "pending" && (!userId || !e.owner || e.owner === userId);
    });
    for (var i = 0; i < pending.length; i += BATCH) {
      var batch = pending.slice(i, i + BATCH);
      setStatus("正在上传 " + Math.min(i + BATCH, pending.length) + "/" + pending.length + " 条…", "busy");
      var res = await api("POST", "sync", {
        device_id: device,
        entries: batch.map(function (e) {
          return { uuid: e.uuid, kind: e.kind, person_id: e.person_id, recorded_at: e.recorded_at, data: e.data };
        })
      });
      if (res.status !== 200) { return handleRefusal(res, device); }
      var tx = db.transaction("outbox", "readwrite");
      for (var j = 0; j < res.data.results.length; j++) {
        var r = res.data.results[j];
        var entry = await tx.store.get(r.uuid);
        if (!entry) { continue; }
        entry.state = r.status === "accepted" ? "sent" : "refused";
        entry.result = r;
        entry.sent_at = new Date().toISOString();
        await tx.store.put(entry);
      }
      await tx.done;
    }
    return "ok";
  }

  async function pullScope(device) {
    setStatus("正在下载数据…", "busy");
    var res = await api("GET", "scope?device_id=" + encodeURIComponent(device));
    if (res.status !== 200) { return handleRefusal(res, device); }
    var data = res.data;
    if (meta && meta.user.id !== data.user.id) {
      // Another account on this phone: the previous account's copy goes (its unsent entries stay, unsent).
      persons = null;
    }
    var tx = db.transaction(["persons", "meta"], "readwrite");
    var store = tx.objectStore("persons");
    await store.clear();
    for (var i = 0; i < data.persons.length; i++) { store.put(data.persons[i]); }
    var persons_ = data.persons;
    delete data.persons;
    await tx.objectStore("meta").put(data, "scope");
    await tx.done;
    meta = data;
    persons = {};
    for (var k = 0; k < persons_.length; k++) { persons[persons_[k].id] = persons_[k]; }
    await trimSent();
    return "ok";
  }

  async function trimSent() {
    var sent = (await outbox()).filter(function (e) { return e.state === "sent"; });
    for (var i = 0; i < sent.length - KEEP_SENT; i++) { await db.delete("outbox", sent[i].uuid); }
  }

  function scheduleRetry() {
    if (retryTimer) { return; }
    retryTimer = setTimeout(function () { retryTimer = null; sync(); }, retryMs);
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
  }

  function sync() {
    // 同步 one at a time per page; two pages (tabs) may sync at once: the server's UUIDs keep it exact.
    if (syncing) { return syncing; }
    syncing = (async function () {
      if (!navigator.onLine) { setStatus("离线：记录保存在手机上，有网络时自动上传", "offline"); return "offline"; }
      var device = await db.get("meta", "device_id");
      var outcome;
      try {
        outcome = await pushOutbox(device, meta ? meta.user.id : null);
        if (outcome === "ok") { outcome = await pullScope(device); }
      } catch (e) {
        outcome = "network";
      }
      if (outcome === "ok") {
        retryMs = 5000;
        var counts = await refreshBar();
        setStatus(counts.refused ? "已同步；有 " + counts.refused + " 条待处理" : "已同步", counts.refused ? "warn" : "ok");
        showLogin(false);
      } else if (outcome === "network") {
        setStatus("同步中断：没有网络或服务器暂停，记录保存在手机上，稍后自动继续", "warn");
        scheduleRetry();
      }
      return outcome;
    })().finally(function () {
      syncing = null;
      // Re-draw what is shown (new data, moved dates) unless a form is being typed.
      if (document.getElementById("entry-form")) { refreshBar(); } else { route(); }
    });
    return syncing;
  }

  function showLogin(show) {
    var link = document.getElementById("login-link");
    if (link) { link.hidden = !show; }
  }

  // --- the outbox ------------------------------------------------------------------------------

  async function addEntry(kind, person, data, replacing) {
    var entry = {
      uuid: uuid4(),
      seq: Date.now() + Math.random(),
      kind: kind,
      person_id: person.id,
      person_name: person.name,
      data: data,
      recorded_at: new Date().toISOString(),
      state: "pending",
      owner: meta.user.id,
      result: null
    };
    var tx = db.transaction(["outbox", "persons"], "readwrite");
    await tx.objectStore("outbox").put(entry);
    if (replacing) { await tx.objectStore("outbox").delete(replacing); }
    if (kind === "visit") { applyVisitLocally(person, data); }
    if (kind === "delivery") { person.last_delivery_on = data.delivered_on; }
    if (kind === "checkup") { person.last_checkup_on = data.checked_on; }
    await tx.objectStore("persons").put(person);
    await tx.done;
    return entry;
  }

  function applyVisitLocally(person, data) {
    // The work list moves at once on the phone, by the same rules the server will apply.
    var lines = preview(person, data);
    lines.forEach(function (line) {
      var s = person.schedules.find(function (x) { return x.disease_id === line.disease_id; });
      if (s && s.last_visit_on && s.last_visit_on > data.visited_on) { return; }  // an older visit decides nothing
      if (!s) { s = { disease_id: line.disease_id }; person.schedules.push(s); }
      s.due_on = line.due.due_on; s.reason = line.due.reason; s.escalate_on = line.due.escalate_on;
      s.streak = line.due.streak; s.last_visit_on = data.visited_on; s.last_classification = line.classification;
      s.local = true;
    });
    person.last_visit = {
      visited_on: data.visited_on, kind: data.kind, systolic: data.systolic, diastolic: data.diastolic,
      glucose: data.glucose, weight: data.weight, local: true
    };
  }

  function preview(person, data) {
    var age = R.ageOn(person.birth_date, data.visited_on);
    return (data.disease_ids || []).map(function (id) {
      var rule = meta.rules.rules[String(id)];
      if (!rule) { return null; }
      var s = person.schedules.find(function (x) { return x.disease_id === id; });
      var cls = R.classify(meta.rules, rule.measure, {
        systolic: data.systolic, diastolic: data.diastolic, glucose: data.glucose, unstable: data.unstable, age: age
      });
      var due = R.nextDue(meta.rules, rule, data.visited_on, cls, s ? s.streak : 0, data.adverse_reaction, data.new_complication);
      return { disease_id: id, classification: cls, due: due };
    }).filter(Boolean);
  }

  // --- pages -----------------------------------------------------------------------------------

  function sections(list, on) {
    // One row per person and section (a visit serves several conditions), at the earliest due date.
    var weekEnd = R.addDays(on, meta.week_days || 7), yearStart = on.slice(0, 4) + "-01-01";
    var out = { overdue: [], week: [], unseen: [] };
    list.forEach(function (p) {
      var rows = {};
      p.schedules.forEach(function (s) {
        var keys = [];
        if (s.due_on < on) { keys.push("overdue"); }
        else if (s.due_on < weekEnd) { keys.push("week"); }
        if (!s.last_visit_on || s.last_visit_on < yearStart) { keys.push("unseen"); }
        keys.forEach(function (k) {
          var item = rows[k];
          if (!item) { item = rows[k] = { p: p, s: s, names: [], local: false }; out[k].push(item); }
          if (s.due_on < item.s.due_on) { item.s = s; }
          item.names.push(diseaseName(s.disease_id));
          item.local = item.local || !!s.local;
        });
      });
    });
    var byDue = function (a, b) { return a.s.due_on < b.s.due_on ? -1 : a.s.due_on > b.s.due_on ? 1 : a.p.id - b.p.id; };
    out.overdue.sort(byDue); out.week.sort(byDue); out.unseen.sort(byDue);
    return out;
  }

  var SECTION_LABELS = [["overdue", "已逾期"], ["week", "本周到期"], ["unseen", "今年未随访"]];

  async function pageWorklist(params) {
    if (!meta) { return pageEmpty(); }
    await loadPersons();
    var on = today();
    var all = sections(Object.values(persons), on);
    var section = params.get("s") || (all.overdue.length || !all.week.length ? "overdue" : "week");
    var q = (params.get("q") || "").trim();
    var items = all[section] || [];
    if (q) { items = items.filter(function (it) { return it.p.name.indexOf(q) >= 0 || (it.p.household_no || "").indexOf(q) >= 0; }); }
    var html = ['<h1 class="h5 mb-2">随访工作清单</h1><ul class="nav nav-pills nav-fill mb-2" id="sections">'];
    SECTION_LABELS.forEach(function (s) {
      html.push('<li class="nav-item"><a class="nav-link' + (s[0] === section ? " active" : "") + '" id="tab-' + s[0] +
        '" href="#/?s=' + s[0] + '">' + s[1] + ' <span class="badge text-bg-light">' + all[s[0]].length + "</span></a></li>");
    });
    html.push('</ul><form class="mb-2" id="search"><input class="form-control" type="search" name="q" placeholder="按姓名或户编号查找" value="' +
      esc(q) + '" aria-label="查找"></form><div class="list-group" id="worklist">');
    for (var i = 0; i < items.length; i++) {
      var it = items[i], days = R.toDays(on) - R.toDays(it.s.due_on);
      html.push('<a class="list-group-item list-group-item-action" href="#/p/' + it.p.id + '"><div class="d-flex justify-content-between"><strong>' +
        esc(it.p.name) + "</strong><span>" + esc(it.s.due_on) + "</span></div><small>" + esc(it.names.join("、")) + " · " +
        esc(label("reason", it.s.reason)) + (days > 0 ? ' · <span class="text-danger">逾期' + days + "天</span>" : "") +
        (it.local ? ' · <span class="text-warning-emphasis">待上传</span>' : "") + "</small></a>");
    }
    if (!items.length) { html.push('<div class="list-group-item text-muted">没有需要随访的人员</div>'); }
    html.push("</div>");
    app.innerHTML = html.join("");
    document.getElementById("search").addEventListener("submit", function (ev) {
      ev.preventDefault();
      location.hash = "#/?s=" + section + "&q=" + encodeURIComponent(ev.target.q.value);
    });
    if (!window.jkfpWorklistShown) { window.jkfpWorklistShown = performance.now(); }
  }

  function pageEmpty() {
    app.innerHTML = '<div class="alert alert-info">手机上还没有数据。请在有网络的地方登录并点“同步”。</div>' +
      '<a class="btn btn-primary" href="' + esc(LOGIN_URL) + '">登录</a>';
  }

  function row(name, value) {
    return value === null || value === undefined || value === "" ? "" : "<tr><th>" + name + "</th><td>" + value + "</td></tr>";
  }

  async function pagePerson(id) {
    await loadPersons();
    var p = persons[id];
    if (!p) { app.innerHTML = '<div class="alert alert-warning">此人不在手机上的数据中（可能已迁出）。</div>'; return; }
    var age = R.ageOn(p.birth_date, today());
    var lv = p.last_visit, c = p.contract, fd = p.family_doctor;
    var entries = (await outbox()).filter(function (e) { return e.person_id === p.id && e.state !== "sent"; });
    var html = ['<h1 class="h4 mb-1" id="person-name">' + esc(p.name) + "</h1>",
      '<p class="text-muted mb-2">' + (p.sex === "F" ? "女" : "男") + " · " + age + "岁 · " + esc(p.id_masked) + "<br>" +
      esc(p.village_name) + (p.household_no ? " · 户编号 " + esc(p.household_no) : "") + (p.away ? " · 外出" : "") + "</p>",
      '<div class="d-grid gap-2 d-flex mb-3"><a class="btn btn-primary flex-fill" href="#/p/' + p.id + '/visit">随访</a>' +
      '<a class="btn btn-outline-primary flex-fill" href="#/p/' + p.id + '/delivery">送药</a>' +
      '<a class="btn btn-outline-primary flex-fill" href="#/p/' + p.id + '/checkup">体检</a></div>'];
    if (entries.length) {
      html.push('<div class="alert alert-warning py-2">此人有 ' + entries.length + ' 条记录未上传或待处理，见 <a href="#/outbox">上传记录</a></div>');
    }
    html.push('<table class="table table-sm"><tbody>', row("联系电话", p.phone ? '<a href="tel:' + esc(p.phone) + '">' + esc(p.phone) + "</a>" : ""),
      row("患病情况", esc(p.conditions.map(function (x) { return x.name; }).join("、"))),
      row("家庭医生", fd ? esc(fd.name) + (fd.phone ? " " + esc(fd.phone) : "") + "（" + esc(fd.team) + "）" : "未指定"),
      row("签约", c ? esc(c.signed_on) + " 至 " + esc(c.end_on) + " · " + esc(c.team) + (c.doctor ? " · " + esc(c.doctor) : "") : "<span class=\"text-danger\">未签约</span>"),
      row("最近随访", lv ? esc(lv.visited_on) + " " + esc(label("kind", lv.kind)) +
        (lv.systolic ? " 血压 " + esc(lv.systolic) + "/" + esc(lv.diastolic) : "") +
        (lv.glucose ? " 血糖 " + esc(lv.glucose) : "") + (lv.weight ? " 体重 " + esc(lv.weight) + "kg" : "") : "无"),
      row("最近体检", esc(p.last_checkup_on || "无")), row("最近送药", esc(p.last_delivery_on || "无")), "</tbody></table>");
    html.push('<h2 class="h6">随访计划</h2><table class="table table-sm" id="schedules"><thead><tr><th>疾病</th><th>下次随访</th><th>上次</th></tr></thead><tbody>');
    p.schedules.forEach(function (s) {
      html.push('<tr id="schedule-' + s.disease_id + '"><td>' + esc(diseaseName(s.disease_id)) + '</td><td class="schedule-due">' + esc(s.due_on) +
        "</td><td>" + esc(s.last_visit_on || "—") + " " + esc(label("classification", s.last_classification)) + "</td></tr>");
    });
    html.push("</tbody></table>");
    app.innerHTML = html.join("");
  }

  function field(name, text, input) {
    return '<div class="mb-2"><label class="form-label" for="f-' + name + '">' + text + "</label>" + input +
      '<div class="invalid-feedback" id="e-' + name + '"></div></div>';
  }

  function input(name, type, attrs, value) {
    return '<input class="form-control form-control-lg" id="f-' + name + '" name="' + name + '" type="' + type + '" ' +
      (attrs || "") + ' value="' + esc(value === null || value === undefined ? "" : value) + '">';
  }

  function check(name, text, checked) {
    return '<div class="form-check"><input class="form-check-input" type="checkbox" id="f-' + name + '" name="' + name + '"' +
      (checked ? " checked" : "") + '><label class="form-check-label" for="f-' + name + '">' + text + "</label></div>";
  }

  function formValue(form, name) {
    var el = form.elements[name];
    if (!el) { return null; }
    if (el.type === "checkbox") { return el.checked; }
    var v = (el.value || "").trim();
    return v === "" ? null : v;
  }

  function intOrNull(v) { return v === null ? null : parseInt(v, 10); }

  function visitData(form) {
    var kind = form.querySelector("input[name=kind]:checked");
    return {
      visited_on: formValue(form, "visited_on"),
      kind: kind ? kind.value : "home",
      disease_ids: Array.prototype.map.call(form.querySelectorAll("input[name=disease]:checked"), function (x) { return +x.value; }),
      systolic: intOrNull(formValue(form, "systolic")),
      diastolic: intOrNull(formValue(form, "diastolic")),
      glucose: formValue(form, "glucose"),
      weight: formValue(form, "weight"),
      medication: formValue(form, "medication") || "",
      adverse_reaction: formValue(form, "adverse_reaction"),
      new_complication: formValue(form, "new_complication"),
      unstable: formValue(form, "unstable")
    };
  }

  function showErrors(form, pairs) {
    form.querySelectorAll(".is-invalid").forEach(function (x) { x.classList.remove("is-invalid"); });
    form.querySelectorAll(".invalid-feedback").forEach(function (x) { x.textContent = ""; });
    pairs.forEach(function (pair) {
      var el = form.elements[pair[0]], fb = document.getElementById("e-" + pair[0]);
      if (el && el.classList) { el.classList.add("is-invalid"); }
      if (fb) { fb.textContent = pair[1]; fb.style.display = "block"; }
    });
    return pairs.length === 0;
  }

  async function findEntry(uuid) { return uuid ? db.get("outbox", uuid) : null; }

  async function pageVisit(id, params) {
    await loadPersons();
    var p = persons[id];
    if (!p) { return pagePerson(id); }
    var old = await findEntry(params.get("edit"));
    var d = old ? old.data : { visited_on: today(), kind: "home" };
    var on = today();
    var followed = p.conditions.filter(function (c) { return c.followed; });
    var ticked = followed.map(function (c) {
      var s = p.schedules.find(function (x) { return x.disease_id === c.disease_id; });
      var rule = meta.rules.rules[String(c.disease_id)];
      return !s || s.due_on <= R.addDays(on, rule.due_window_days);
    });
    if (!ticked.some(Boolean)) { ticked = ticked.map(function () { return true; }); }
    var kinds = Object.keys(meta.labels.kind);
    var html = ['<h1 class="h5">随访 · ' + esc(p.name) + "</h1>", old ? '<div class="alert alert-danger py-2">退回原因：' + esc(old.result && old.result.message) + "</div>" : "",
      '<form id="entry-form" novalidate>', field("visited_on", "随访日期", input("visited_on", "date", 'max="' + on + '"', d.visited_on)),
      '<div class="mb-2"><div class="form-label">随访方式</div><div class="btn-group w-100" role="group">'];
    kinds.forEach(function (k) {
      html.push('<input type="radio" class="btn-check" name="kind" id="kind-' + k + '" value="' + k + '"' + (d.kind === k ? " checked" : "") +
        '><label class="btn btn-outline-primary" for="kind-' + k + '">' + esc(meta.labels.kind[k]) + "</label>");
    });
    html.push('</div></div><div class="mb-2"><div class="form-label">本次随访疾病</div>');
    followed.forEach(function (c, i) {
      var on_ = old ? d.disease_ids.indexOf(c.disease_id) >= 0 : ticked[i];
      html.push('<div class="form-check"><input class="form-check-input" type="checkbox" name="disease" id="d-' + c.disease_id + '" value="' +
        c.disease_id + '"' + (on_ ? " checked" : "") + '><label class="form-check-label" for="d-' + c.disease_id + '">' + esc(c.name) + "</label></div>");
    });
    if (!followed.length) { html.push('<div class="text-muted">此人没有需要随访的慢病</div>'); }
    html.push('<div class="invalid-feedback" id="e-disease_ids"></div></div><div class="row g-2"><div class="col-6">',
      field("systolic", "收缩压", input("systolic", "number", 'inputmode="numeric" placeholder="mmHg"', d.systolic)), '</div><div class="col-6">',
      field("diastolic", "舒张压", input("diastolic", "number", 'inputmode="numeric" placeholder="mmHg"', d.diastolic)), '</div><div class="col-6">',
      field("glucose", "空腹血糖", input("glucose", "number", 'inputmode="decimal" step="0.1" placeholder="mmol/L"', d.glucose)), '</div><div class="col-6">',
      field("weight", "体重", input("weight", "number", 'inputmode="decimal" step="0.1" placeholder="kg"', d.weight)), "</div></div>",
      field("medication", "用药情况", input("medication", "text", 'maxlength="300" placeholder="如：硝苯地平 10mg 每日2次"', d.medication)),
      check("adverse_reaction", "药物不良反应", d.adverse_reaction), check("new_complication", "新发并发症", d.new_complication),
      check("unstable", "病情不稳定", d.unstable),
      '<div id="preview" class="alert alert-secondary my-2" aria-live="polite"></div>',
      '<button class="btn btn-primary btn-lg w-100" type="submit">保存随访</button></form>');
    app.innerHTML = html.join("");
    var form = document.getElementById("entry-form");
    var update = function () {
      var data = visitData(form);
      var lines = data.visited_on ? preview(p, data) : [];
      document.getElementById("preview").innerHTML = lines.length ? lines.map(function (l) {
        return esc(diseaseName(l.disease_id)) + "：" + esc(label("classification", l.classification)) + "，下次随访 " + esc(l.due.due_on) +
          "（" + esc(label("reason", l.due.reason)) + "）";
      }).join("<br>") : "请选择本次随访的疾病";
    };
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      var data = visitData(form);
      var problems = R.readingProblems(meta.rules, data);
      if (!data.visited_on) { problems.push(["visited_on", "请填写随访日期"]); }
      else if (data.visited_on > today()) { problems.push(["visited_on", "日期不能晚于今天"]); }
      if (!data.disease_ids.length) { problems.push(["disease_ids", "请至少选择一种本次随访的疾病"]); }
      var dup = (await outbox()).some(function (e) {
        return e.kind === "visit" && e.person_id === p.id && e.data.visited_on === data.visited_on && e.state !== "refused" && (!old || e.uuid !== old.uuid);
      });
      if (dup) { problems.push(["visited_on", "此人当天已有随访记录"]); }
      if (!showErrors(form, problems)) { return; }
      await addEntry("visit", p, data, old && old.uuid);
      setFlash("已保存" + p.name + "的随访（待上传）");
      location.hash = "#/p/" + p.id;
      sync();
    });
  }

  async function pageDelivery(id, params) {
    await loadPersons();
    var p = persons[id];
    if (!p) { return pagePerson(id); }
    var old = await findEntry(params.get("edit"));
    var d = old ? old.data : { delivered_on: today(), supply_days: 30 };
    app.innerHTML = '<h1 class="h5">送药 · ' + esc(p.name) + "</h1>" +
      (old ? '<div class="alert alert-danger py-2">退回原因：' + esc(old.result && old.result.message) + "</div>" : "") +
      '<form id="entry-form" novalidate>' + field("delivered_on", "送药日期", input("delivered_on", "date", 'max="' + today() + '"', d.delivered_on)) +
      field("drugs", "药品", input("drugs", "text", 'maxlength="300" placeholder="如：二甲双胍 0.5g×60片"', d.drugs)) +
      field("supply_days", "用药天数（不超过3个月）", input("supply_days", "number", 'inputmode="numeric" min="1" max="92"', d.supply_days)) +
      '<button class="btn btn-primary btn-lg w-100" type="submit">保存送药</button></form>';
    var form = document.getElementById("entry-form");
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      var data = { delivered_on: formValue(form, "delivered_on"), drugs: formValue(form, "drugs") || "", supply_days: intOrNull(formValue(form, "supply_days")) };
      var problems = [];
      if (!data.delivered_on) { problems.push(["delivered_on", "请填写送药日期"]); }
      if (!data.drugs) { problems.push(["drugs", "请填写药品"]); }
      if (!data.supply_days || data.supply_days < 1 || data.supply_days > 92) { problems.push(["supply_days", "每次送药不超过3个月（1–92天）"]); }
      if (!showErrors(form, problems)) { return; }
      await addEntry("delivery", p, data, old && old.uuid);
      setFlash("已保存" + p.name + "的送药（待上传）");
      location.hash = "#/p/" + p.id;
      sync();
    });
  }

  var CHECK_ITEMS = [["height", "身高（cm）"], ["weight", "体重（kg）"], ["bp", "血压（mmHg）"], ["glucose", "空腹血糖（mmol/L）"]];

  async function pageCheckup(id, params) {
    await loadPersons();
    var p = persons[id];
    if (!p) { return pagePerson(id); }
    var old = await findEntry(params.get("edit"));
    var d = old ? old.data : { checked_on: today(), items: {} };
    var html = ['<h1 class="h5">体检 · ' + esc(p.name) + "</h1>", old ? '<div class="alert alert-danger py-2">退回原因：' + esc(old.result && old.result.message) + "</div>" : "",
      '<form id="entry-form" novalidate>', field("checked_on", "体检日期", input("checked_on", "date", 'max="' + today() + '"', d.checked_on))];
    CHECK_ITEMS.forEach(function (it) { html.push(field(it[0], it[1], input(it[0], "text", 'maxlength="20"', d.items[it[1]]))); });
    html.push(field("conclusion", "体检结论", input("conclusion", "text", 'maxlength="300"', d.conclusion)),
      '<button class="btn btn-primary btn-lg w-100" type="submit">保存体检</button></form>');
    app.innerHTML = html.join("");
    var form = document.getElementById("entry-form");
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      var items = {};
      CHECK_ITEMS.forEach(function (it) { var v = formValue(form, it[0]); if (v) { items[it[1]] = v; } });
      var data = { checked_on: formValue(form, "checked_on"), items: items, conclusion: formValue(form, "conclusion") || "" };
      if (!showErrors(form, data.checked_on ? [] : [["checked_on", "请填写体检日期"]])) { return; }
      await addEntry("checkup", p, data, old && old.uuid);
      setFlash("已保存" + p.name + "的体检（待上传）");
      location.hash = "#/p/" + p.id;
      sync();
    });
  }

  var KIND_LABELS = { visit: "随访", delivery: "送药", checkup: "体检" };
  var STATE_LABELS = { pending: "待上传", refused: "待处理", sent: "已上传" };

  function entryDate(e) { return e.data.visited_on || e.data.delivered_on || e.data.checked_on || ""; }

  async function pageOutbox() {
    var rows = await outbox();
    var userId = meta ? meta.user.id : null;
    var html = ['<h1 class="h5">上传记录</h1>'];
    [["refused", "待处理（服务器退回，请修改后重新上传或删除）"], ["pending", "待上传"], ["sent", "已上传"]].forEach(function (group) {
      var list = rows.filter(function (e) { return e.state === group[0]; });
      if (group[0] === "sent") { list.reverse(); }
      html.push('<h2 class="h6 mt-3" id="group-' + group[0] + '">' + group[1] + ' <span class="badge text-bg-secondary">' + list.length + "</span></h2>");
      html.push('<div class="list-group" id="outbox-' + group[0] + '">');
      list.forEach(function (e) {
        var other = userId && e.owner && e.owner !== userId;
        html.push('<div class="list-group-item outbox-entry" data-uuid="' + e.uuid + '"><div class="d-flex justify-content-between"><strong>' +
          esc(e.person_name) + " · " + KIND_LABELS[e.kind] + "</strong><span>" + esc(entryDate(e)) + "</span></div>");
        if (other) { html.push('<small class="text-danger">由此手机上的另一个账号登记，请用该账号登录后上传，或删除。</small>'); }
        if (e.state === "refused") {
          html.push('<div class="text-danger refusal">' + esc(e.result && e.result.message) + '</div><div class="mt-1">' +
            '<a class="btn btn-sm btn-outline-primary me-2" href="#/p/' + e.person_id + "/" + e.kind + "?edit=" + e.uuid + '">修改后重新上传</a>' +
            '<button class="btn btn-sm btn-outline-danger" data-discard="' + e.uuid + '">删除</button></div>');
        } else if (e.state === "sent") {
          html.push("<small class=\"text-success\">已上传 " + esc(fmtTime(e.sent_at)) + (e.result && e.result.next_on ? " · 下次随访 " + esc(e.result.next_on) : "") + "</small>");
        } else {
          html.push('<small class="text-warning-emphasis">' + STATE_LABELS.pending + " · 登记于 " + esc(fmtTime(e.recorded_at)) + "</small>");
        }
        html.push("</div>");
      });
      if (!list.length) { html.push('<div class="list-group-item text-muted">无</div>'); }
      html.push("</div>");
    });
    app.innerHTML = html.join("");
    app.querySelectorAll("[data-discard]").forEach(function (button) {
      button.addEventListener("click", async function () {
        if (!window.confirm("删除这条记录？删除后无法恢复。")) { return; }
        await db.delete("outbox", button.getAttribute("data-discard"));
        await refreshBar();
        route();
      });
    });
  }

  // --- routing ---------------------------------------------------------------------------------

  async function route() {
    if (!db) { return; }
    var hash = location.hash.replace(/^#/, "") || "/";
    var path = hash.split("?")[0], params = new URLSearchParams(hash.split("?")[1] || "");
    var m = /^\/p\/(\d+)(?:\/(visit|delivery|checkup))?$/.exec(path);
    // A message stays on the page it was shown on (a sync re-drawing the page keeps it).
    if (flash && flashHash === null) { flashHash = location.hash; }
    if (flash && flashHash !== location.hash) { flash = ""; flashHash = null; }
    var message = flash;
    if (!meta && path !== "/outbox") { pageEmpty(); }
    else if (m && !m[2]) { await pagePerson(+m[1]); }
    else if (m && m[2] === "visit") { await pageVisit(+m[1], params); }
    else if (m && m[2] === "delivery") { await pageDelivery(+m[1], params); }
    else if (m && m[2] === "checkup") { await pageCheckup(+m[1], params); }
    else if (path === "/outbox") { await pageOutbox(); }
    else { await pageWorklist(params); }
    if (message) { app.insertAdjacentHTML("afterbegin", '<div class="alert alert-success py-2" id="flash">' + esc(message) + "</div>"); }
    await refreshBar();
  }

  async function logout() {
    var counts = await refreshBar();
    if (counts.pending && navigator.onLine) { await sync(); counts = await refreshBar(); }
    if (counts.pending && !window.confirm("还有 " + counts.pending + " 条记录没有上传，退出会删除它们。确定退出？")) { return; }
    await wipe("已退出，手机上的数据已清除。");
    try {
      await fetch(LOGOUT_URL, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": await csrfToken(true) }, redirect: "manual" });
    } catch (e) { /* offline: the session ends when it expires; the data is gone already */ }
    location.href = LOGIN_URL;
  }

  async function start() {
    db = await openDb();
    await loadMeta();
    document.getElementById("sync-button").addEventListener("click", function () { sync(); });
    document.getElementById("logout-button").addEventListener("click", function () { logout(); });
    window.addEventListener("hashchange", route);
    window.addEventListener("online", function () { retryMs = 5000; sync(); });
    window.addEventListener("offline", function () { setStatus("离线：记录保存在手机上，有网络时自动上传", "offline"); });
    await route();
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register(document.body.getAttribute("data-sw"), { scope: document.body.getAttribute("data-scope") })
        .catch(function () { setStatus("离线缓存不可用（需要 HTTPS）", "warn"); });
    }
    sync();
    setInterval(function () {
      refreshBar().then(function (c) { if (c.pending && navigator.onLine && !retryTimer) { sync(); } });
    }, 30000);
  }

  window.jkfpOffline = { sync: sync, outbox: function () { return outbox(); } };
  start();
})();
