/* The live moderation dashboard (templates/ingest/dashboard.html).
 *
 * Speaks the moderation socket (consumers/moderation.py, frames in consumers/protocol.py).
 * ALL chat data is hostile: the DOM is built with createElement/textContent only.
 */
(function () {
  "use strict";

  var root = document.getElementById("dashboard");
  if (!root) return;

  var PAGE = 100;
  var MAX_ROWS = 1000;
  var STATUS_LABELS = {};
  JSON.parse(document.getElementById("statuses-data").textContent).forEach(function (p) { STATUS_LABELS[p[0]] = p[1]; });
  var PLATFORM_LABELS = {};
  JSON.parse(document.getElementById("platforms-data").textContent).forEach(function (p) { PLATFORM_LABELS[p[0]] = p[1]; });
  var STATE_LABELS = {
    deleted: "Deleted on the platform",
    banned: "Author banned",
    timed_out: "Author timed out",
    cleared: "Chat cleared",
  };
  var MOD_KIND_LABELS = { deletion: "Deleted", ban: "Banned", timeout: "Timed out", unban: "Unbanned", clear: "Chat cleared" };
  var FIELD_LABELS = { status: "status", note: "note", display_selected: "display", pinned: "pin" };
  var SOURCE_STATE_LABELS = {
    idle: "Idle", connecting: "Connecting", connected: "Connected", offline: "Offline (waiting to go live)",
    retrying: "Retrying", failed: "Failed", stopped: "Stopped",
  };

  var els = {
    conn: document.getElementById("conn"),
    errors: document.getElementById("errors"),
    filters: document.getElementById("filters"),
    clear: document.getElementById("filters-clear"),
    list: document.getElementById("messages"),
    empty: document.getElementById("empty"),
    older: document.getElementById("load-older"),
    count: document.getElementById("count"),
    sources: document.getElementById("sources"),
    sourceSelect: document.getElementById("filter-source"),
    modlog: document.getElementById("modlog"),
  };

  var state = {
    rows: new Map(),        // message id -> {msg, el, refs, lastChange, removal}
    removals: new Map(),    // message id -> moderation event that removed it (seen live)
    filters: {},
    nextBeforeId: null,
    sources: new Map(),
    capabilities: {},       // platform -> {moderate: ["delete", "timeout", "ban"], post: bool} (hello)
    postForms: new Map(),   // source id -> its "post to chat" form (kept across source updates)
    queryToken: 0,
    connectedOnce: false,
  };

  // --- small DOM helpers (textContent only) -----------------------------------------------
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = String(text);
    return node;
  }
  // Class names built from data: keep only safe characters.
  function token(value) { return String(value == null ? "" : value).replace(/[^a-zA-Z0-9_-]/g, ""); }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  // Slack text arrives as mrkdwn (&lt; escapes, <@U123> mentions): show its plain-text fragments
  // (names resolved, entities decoded). Always as text, never as HTML.
  function displayText(m) {
    if (m.platform === "slack" && m.fragments && m.fragments.length) {
      return m.fragments.map(function (f) { return f.text || ""; }).join("");
    }
    return m.text || "";
  }

  function fmtTime(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    if (isNaN(d)) return String(iso);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }
  function fmtDateTime(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toLocaleString();
  }

  // --- errors -----------------------------------------------------------------------------
  function showError(message, code) {
    var item = el("div", "error-item");
    item.appendChild(el("span", "error-text", message + (code ? " (" + code + ")" : "")));
    var close = el("button", "error-close", "Dismiss");
    close.type = "button";
    close.addEventListener("click", function () { item.remove(); });
    item.appendChild(close);
    els.errors.appendChild(item);
    while (els.errors.children.length > 4) els.errors.firstChild.remove();
    setTimeout(function () { item.remove(); }, 15000);
  }
  function errorText(err) {
    if (!err) return "unknown error";
    var text = err.message || String(err);
    if (err.details && err.details.length) {
      text += ": " + err.details.map(function (d) { return d.field + " " + d.message; }).join("; ");
    }
    return text;
  }

  // --- filters (the same rules as ingest.selectors.message_queryset) ------------------------
  function readFilters() {
    var data = new FormData(els.filters);
    var f = {};
    ["status", "platform", "source", "author", "text"].forEach(function (k) {
      var v = (data.get(k) || "").trim();
      if (v) f[k] = v;
    });
    return f;
  }
  function contains(hay, needle) {
    return String(hay || "").toLowerCase().indexOf(needle.toLowerCase()) !== -1;
  }
  function matches(msg, f) {
    if (f.status && f.status.split(",").indexOf(msg.status) === -1) return false;
    if (f.platform && msg.platform !== f.platform) return false;
    if (f.source) {
      if (/^\d+$/.test(f.source)) {
        if (String(msg.source_id) !== f.source) return false;
      } else {
        var src = state.sources.get(msg.source_id);
        if (!src || src.identifier !== f.source) return false;
      }
    }
    if (f.author) {
      var a = msg.author || {};
      if (!contains(a.login, f.author) && !contains(a.display_name, f.author)) return false;
    }
    if (f.text && !contains(msg.text, f.text)) return false;
    return true;
  }

  // --- rows -------------------------------------------------------------------------------
  function button(text, cls, onClick) {
    var b = el("button", cls, text);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  function buildRow(msg) {
    var entry = { msg: msg, refs: {}, lastChange: null };
    var li = el("li", "msg");
    li.dataset.id = msg.id;
    var r = entry.refs;

    var head = el("div", "msg-head");
    r.platform = el("span", "badge");
    head.appendChild(r.platform);
    r.name = el("span", "author-name");
    head.appendChild(r.name);
    r.login = el("span", "author-login");
    head.appendChild(r.login);
    r.roles = el("span", "roles");
    head.appendChild(r.roles);
    r.kind = el("span", "kind");
    head.appendChild(r.kind);
    r.amount = el("span", "amount");
    head.appendChild(r.amount);
    r.status = el("span", "status-chip");
    head.appendChild(r.status);
    r.time = el("time", "msg-time");
    head.appendChild(r.time);
    li.appendChild(head);

    r.text = el("p", "msg-text");
    li.appendChild(r.text);
    r.removal = el("p", "removal");
    r.removal.hidden = true;
    li.appendChild(r.removal);

    var actions = el("div", "msg-actions");
    var group = el("div", "status-buttons");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Status");
    r.statusButtons = {};
    Object.keys(STATUS_LABELS).forEach(function (value) {
      var b = button(STATUS_LABELS[value], "status-btn status-" + value, function () {
        update(entry, { status: value });
      });
      b.dataset.status = value;
      r.statusButtons[value] = b;
      group.appendChild(b);
    });
    actions.appendChild(group);

    r.display = button("Display", "toggle display-btn", function () {
      update(entry, { display_selected: !entry.msg.display_selected });
    });
    actions.appendChild(r.display);
    r.pin = button("Pin", "toggle pin-btn", function () {
      update(entry, { pinned: !entry.msg.pinned });
    });
    actions.appendChild(r.pin);

    var noteForm = el("form", "note-form");
    r.note = el("input", "note-input");
    r.note.type = "text";
    r.note.maxLength = 4000;
    r.note.placeholder = "Note…";
    r.note.setAttribute("aria-label", "Note");
    r.note.addEventListener("input", function () { r.note.dataset.dirty = "1"; });
    noteForm.appendChild(r.note);
    var save = el("button", "note-save", "Save note");
    save.type = "submit";
    noteForm.appendChild(save);
    noteForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      update(entry, { note: r.note.value }).then(function (ok) { if (ok) delete r.note.dataset.dirty; });
    });
    actions.appendChild(noteForm);
    li.appendChild(actions);

    // Moderation ON THE PLATFORM (shown only where the source's platform supports it).
    var pa = el("div", "platform-actions");
    pa.setAttribute("role", "group");
    pa.setAttribute("aria-label", "Moderate on the platform");
    r.platformActions = pa;
    r.paDelete = button("Delete on platform", "pa-btn pa-delete", function () {
      platformAction(entry, "delete");
    });
    pa.appendChild(r.paDelete);
    r.paSeconds = el("input", "pa-seconds");
    r.paSeconds.type = "number";
    r.paSeconds.min = "1";
    r.paSeconds.max = "1209600";
    r.paSeconds.value = "600";
    r.paSeconds.setAttribute("aria-label", "Timeout seconds");
    r.paTimeout = button("Timeout", "pa-btn pa-timeout", function () {
      platformAction(entry, "timeout");
    });
    pa.appendChild(r.paTimeout);
    pa.appendChild(r.paSeconds);
    pa.appendChild(el("span", "pa-unit", "s"));
    r.paBan = button("Ban", "pa-btn pa-ban", function () {
      platformAction(entry, "ban");
    });
    pa.appendChild(r.paBan);
    li.appendChild(pa);

    r.meta = el("p", "msg-meta");
    li.appendChild(r.meta);

    entry.el = li;
    render(entry);
    return entry;
  }

  function render(entry) {
    var m = entry.msg;
    var r = entry.refs;
    var li = entry.el;
    var a = m.author || {};
    r.platform.className = "badge platform-" + token(m.platform);
    r.platform.textContent = PLATFORM_LABELS[m.platform] || m.platform;
    r.name.textContent = a.display_name || a.login || "(unknown)";
    r.login.textContent = a.login && a.login !== a.display_name ? "@" + a.login : "";
    clear(r.roles);
    var roles = (a.roles || []).slice();
    (a.badges || []).forEach(function (b) {
      var label = b.title || b.set_id;
      if (label && roles.indexOf(label) === -1) roles.push(label + (b.version && b.version !== "1" ? " " + b.version : ""));
    });
    roles.forEach(function (role) { r.roles.appendChild(el("span", "role role-" + token(String(role).split(" ")[0]), role)); });
    r.kind.textContent = m.kind && m.kind !== "message" ? m.kind : "";
    r.kind.hidden = !r.kind.textContent;
    var amount = m.amount_display || (m.amount != null ? m.amount + " " + (m.currency || "") : "");
    r.amount.textContent = amount;
    r.amount.hidden = !amount;
    r.status.textContent = STATUS_LABELS[m.status] || m.status;
    r.status.className = "status-chip status-" + token(m.status);
    r.time.textContent = fmtTime(m.sent_at);
    r.time.dateTime = m.sent_at || "";
    r.time.title = fmtDateTime(m.sent_at);
    r.text.textContent = displayText(m);
    if (m.edited_at) r.text.appendChild(el("span", "edited", " (edited)"));

    var removed = m.platform_state && m.platform_state !== "visible";
    li.classList.toggle("removed", !!removed);
    li.classList.toggle("selected", !!m.display_selected);
    li.classList.toggle("pinned", !!m.pinned);
    li.dataset.status = m.status;
    li.dataset.platformState = m.platform_state || "visible";
    if (removed) {
      var ev = state.removals.get(m.id);
      var parts = [STATE_LABELS[m.platform_state] || m.platform_state];
      if (ev) {
        parts = [MOD_KIND_LABELS[ev.kind] || ev.kind];
        if (ev.moderator) parts.push("by " + ev.moderator);
        if (ev.reason) parts.push("reason: " + ev.reason);
        if (ev.ends_at) parts.push("until " + fmtDateTime(ev.ends_at));
      } else if (m.removed_at) {
        parts.push("at " + fmtTime(m.removed_at));
      }
      r.removal.textContent = "Removed on the platform: " + parts.join(" · ") + " — not shown on display";
      r.removal.hidden = false;
    } else {
      r.removal.hidden = true;
    }

    Object.keys(r.statusButtons).forEach(function (value) {
      r.statusButtons[value].setAttribute("aria-pressed", String(m.status === value));
    });
    r.display.setAttribute("aria-pressed", String(!!m.display_selected));
    r.display.textContent = m.display_selected ? "On display" : "Display";
    r.display.disabled = !!removed && !m.display_selected;
    r.display.title = removed ? "Removed on the platform: it cannot be displayed" : "Select for the display";
    var can = platformCaps(m);
    var author = !!m.author;
    r.paDelete.hidden = can.indexOf("delete") === -1;
    r.paDelete.disabled = !!removed;
    r.paTimeout.hidden = r.paSeconds.hidden = r.paSeconds.nextSibling.hidden = can.indexOf("timeout") === -1 || !author;
    r.paBan.hidden = can.indexOf("ban") === -1 || !author;
    r.platformActions.hidden = r.paDelete.hidden && r.paTimeout.hidden && r.paBan.hidden;
    r.pin.setAttribute("aria-pressed", String(!!m.pinned));
    r.pin.textContent = m.pinned ? "Pinned" : "Pin";
    // Never overwrite a note someone is typing.
    if (!r.note.dataset.dirty) r.note.value = m.note || "";

    var meta = [];
    if (m.reviewed_by) meta.push("status by " + m.reviewed_by + (m.reviewed_at ? " at " + fmtTime(m.reviewed_at) : ""));
    if (entry.lastChange) {
      var c = entry.lastChange;
      var names = c.fields.map(function (f) { return FIELD_LABELS[f] || f; });
      meta.push("last change: " + names.join(", ") + (c.by ? " by " + c.by : "") + " at " + fmtTime(c.at));
    }
    r.meta.textContent = meta.join(" · ");
    r.meta.hidden = !meta.length;
  }

  function update(entry, changes) {
    var buttons = entry.el.querySelectorAll(".msg-actions button");
    buttons.forEach(function (b) { b.dataset.busy = "1"; });
    entry.el.classList.add("busy");
    var frame = Object.assign({ message_id: entry.msg.id }, changes);
    return sock.send("message.update", frame).then(function (ack) {
      applyUpdate(ack.message, { by: root.dataset.user, changes: changes });
      return true;
    }, function (err) {
      showError("Could not change message " + entry.msg.id + ": " + errorText(err), err && err.code);
      return false;
    }).then(function (ok) {
      entry.el.classList.remove("busy");
      buttons.forEach(function (b) { delete b.dataset.busy; });
      return ok;
    });
  }

  // --- moderation on the platform ------------------------------------------------------------
  function sourcePlatform(sourceId) {
    var src = state.sources.get(sourceId);
    return src ? src.platform : null;
  }
  function platformCaps(m) {
    var caps = state.capabilities[sourcePlatform(m.source_id)];
    return (caps && caps.moderate) || [];
  }
  var ACTION_LABELS = { "delete": "delete the message", timeout: "time out", ban: "ban" };

  function platformAction(entry, action) {
    var m = entry.msg;
    var a = m.author || {};
    var who = a.display_name || a.login || "this user";
    var platform = PLATFORM_LABELS[sourcePlatform(m.source_id)] || sourcePlatform(m.source_id) || m.platform;
    var frame = { message_id: m.id, action: action };
    if (action === "timeout") {
      var seconds = Number(entry.refs.paSeconds.value);
      if (!(seconds >= 1 && seconds <= 1209600 && Math.floor(seconds) === seconds)) {
        showError("A timeout lasts 1 to 1209600 whole seconds", "invalid");
        return Promise.resolve(false);
      }
      frame.seconds = seconds;
    }
    if (action === "ban" && !window.confirm("Ban " + who + " on " + platform + "? They can no longer chat there.")) {
      return Promise.resolve(false);
    }
    var buttons = entry.el.querySelectorAll(".platform-actions button");
    buttons.forEach(function (b) { b.disabled = true; });
    entry.el.classList.add("busy");
    return sock.send("platform.moderate", frame).then(function () {
      return true;  // the platform's moderation event comes back as chat.moderation
    }, function (err) {
      showError("Could not " + ACTION_LABELS[action] + " on " + platform + ": " + errorText(err), err && err.code);
      return false;
    }).then(function (ok) {
      entry.el.classList.remove("busy");
      buttons.forEach(function (b) { b.disabled = false; });
      render(entry);
      return ok;
    });
  }

  function postForm(s) {
    var form = state.postForms.get(s.id);
    if (form) return form;
    form = el("form", "post-form");
    var input = el("input", "post-input");
    input.type = "text";
    input.maxLength = 500;
    input.required = true;
    input.placeholder = "Post to chat…";
    input.setAttribute("aria-label", "Post to " + (s.name || s.identifier));
    form.appendChild(input);
    var send = el("button", "post-send", "Post");
    send.type = "submit";
    form.appendChild(send);
    var done = el("span", "post-done");
    done.setAttribute("role", "status");
    form.appendChild(done);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var text = input.value.trim();
      if (!text) return;
      send.disabled = true;
      done.textContent = "";
      var src = state.sources.get(s.id) || s;
      sock.send("chat.post", { source_id: s.id, text: text }).then(function () {
        input.value = "";
        done.textContent = "Posted";
        setTimeout(function () { done.textContent = ""; }, 3000);
      }, function (err) {
        showError("Could not post to " + (src.name || src.identifier) + ": " + errorText(err), err && err.code);
      }).then(function () { send.disabled = false; });
    });
    state.postForms.set(s.id, form);
    return form;
  }

  // --- the list -----------------------------------------------------------------------------
  function insertSorted(entry) {
    // Newest first (by id). Live rows usually go on top: walk from the top.
    var id = entry.msg.id;
    var node = els.list.firstElementChild;
    while (node && Number(node.dataset.id) > id) node = node.nextElementSibling;
    els.list.insertBefore(entry.el, node);
  }

  function addMessage(msg, flash) {
    var existing = state.rows.get(msg.id);
    if (existing) {
      existing.msg = msg;
      render(existing);
      return existing;
    }
    var entry = buildRow(msg);
    state.rows.set(msg.id, entry);
    insertSorted(entry);
    if (flash) {
      entry.el.classList.add("fresh");
      setTimeout(function () { entry.el.classList.remove("fresh"); }, 1500);
    }
    return entry;
  }

  function removeRow(id) {
    var entry = state.rows.get(id);
    if (!entry) return;
    entry.el.remove();
    state.rows.delete(id);
  }

  function oldestId() {
    var last = els.list.lastElementChild;
    return last ? Number(last.dataset.id) : null;
  }

  function trim() {
    while (state.rows.size > MAX_ROWS) {
      var last = els.list.lastElementChild;
      removeRow(Number(last.dataset.id));
      state.nextBeforeId = oldestId();
    }
  }

  function refreshChrome() {
    els.empty.hidden = state.rows.size > 0 || sock.state !== "open";
    els.older.hidden = !state.nextBeforeId;
    els.count.textContent = state.rows.size + " shown";
  }

  function resetList() {
    clear(els.list);
    state.rows.clear();
    state.nextBeforeId = null;
  }

  // Full (re)load of the first page with the current filters. Used at start, on filter change,
  // and after every reconnect (to fill what was missed while disconnected).
  function query(reset) {
    var token = ++state.queryToken;
    var f = Object.assign({ limit: PAGE }, state.filters);
    els.list.setAttribute("aria-busy", "true");
    return sock.send("messages.query", f).then(function (ack) {
      if (token !== state.queryToken) return;
      var newest = ack.messages.length ? ack.messages[0].id : null;
      var known = state.rows.size ? Number(els.list.firstElementChild.dataset.id) : null;
      // Reset when asked, or when the page does not reach back to what we already have (a gap).
      var gap = known !== null && ack.next_before_id && ack.messages[ack.messages.length - 1].id > known;
      if (reset || gap || known === null) {
        resetList();
        state.nextBeforeId = ack.next_before_id;
      }
      var ids = new Set(ack.messages.map(function (m) { return m.id; }));
      // Rows in the fresh page's id range that the server no longer returns no longer match.
      if (!reset && newest !== null) {
        var floor = ack.messages[ack.messages.length - 1].id;
        Array.from(state.rows.keys()).forEach(function (id) {
          if (id >= floor && !ids.has(id)) removeRow(id);
        });
      }
      ack.messages.slice().reverse().forEach(function (m) { addMessage(m, false); });
      trim();
      refreshChrome();
    }, function (err) {
      if (token !== state.queryToken) return;
      if (err.code !== "disconnected") showError("Could not load messages: " + errorText(err), err.code);
    }).then(function () {
      if (token === state.queryToken) els.list.removeAttribute("aria-busy");
    });
  }

  function loadOlder() {
    if (!state.nextBeforeId) return;
    els.older.disabled = true;
    var f = Object.assign({ limit: PAGE, before_id: state.nextBeforeId }, state.filters);
    var token = state.queryToken;
    sock.send("messages.query", f).then(function (ack) {
      if (token !== state.queryToken) return;
      ack.messages.forEach(function (m) { addMessage(m, false); });
      state.nextBeforeId = ack.next_before_id;
      refreshChrome();
    }, function (err) {
      showError("Could not load older messages: " + errorText(err), err.code);
    }).then(function () { els.older.disabled = false; });
  }

  // --- frames ---------------------------------------------------------------------------------
  function applyUpdate(msg, info) {
    var entry = state.rows.get(msg.id);
    var fits = matches(msg, state.filters);
    if (entry && !fits) { removeRow(msg.id); refreshChrome(); return; }
    if (!entry) {
      // Newly matching (e.g. its status changed into the filter): show it if it is in range.
      var oldest = oldestId();
      if (!fits || (oldest !== null && msg.id < oldest && state.nextBeforeId)) return;
      entry = addMessage(msg, false);
    }
    entry.msg = msg;
    if (info) {
      entry.lastChange = { by: info.by, fields: Object.keys(info.changes || {}), at: new Date().toISOString() };
    }
    render(entry);
    if (info && info.by !== root.dataset.user) {
      entry.el.classList.remove("changed");
      void entry.el.offsetWidth;
      entry.el.classList.add("changed");
    }
    refreshChrome();
  }

  function onModeration(events) {
    events.forEach(function (ev) {
      logModeration(ev);
      (ev.affected || []).forEach(function (a) {
        state.removals.set(a.id, ev);
        var entry = state.rows.get(a.id);
        if (!entry) return;
        entry.msg = Object.assign({}, entry.msg, {
          platform_state: a.platform_state,
          display_selected: false,
          removed_at: ev.occurred_at,
        });
        render(entry);
      });
    });
    // Bound the memory of removal details.
    if (state.removals.size > 5000) state.removals = new Map(Array.from(state.removals).slice(-2000));
  }

  function logModeration(ev) {
    var first = els.modlog.firstElementChild;
    if (first && first.classList.contains("muted")) first.remove();
    var li = el("li", "modlog-item kind-" + token(ev.kind));
    var who = ev.target_author ? (ev.target_author.display_name || ev.target_author.login) : "";
    var line = (MOD_KIND_LABELS[ev.kind] || ev.kind) + (who ? ": " + who : "");
    li.appendChild(el("strong", null, line));
    var details = [];
    if (ev.moderator) details.push("by " + ev.moderator);
    if (ev.reason) details.push("reason: " + ev.reason);
    if (ev.ends_at) details.push("until " + fmtDateTime(ev.ends_at));
    if (ev.affected) details.push(ev.affected.length + " message(s) removed");
    if (ev.target_text) details.push("“" + ev.target_text + "”");
    li.appendChild(el("span", "modlog-details", details.join(" · ")));
    li.appendChild(el("time", "msg-time", fmtTime(ev.occurred_at)));
    els.modlog.insertBefore(li, els.modlog.firstChild);
    while (els.modlog.children.length > 30) els.modlog.lastChild.remove();
  }

  function setSources(list) {
    state.sources.clear();
    clear(els.sources);
    list.forEach(function (s) { upsertSource(s); });
    if (!list.length) els.sources.appendChild(el("li", "muted", "No chat sources yet. Add one in the admin."));
    // Keep the source filter's options in step (values are ids).
    var current = els.sourceSelect.value;
    while (els.sourceSelect.options.length > 1) els.sourceSelect.remove(1);
    list.forEach(function (s) {
      var opt = el("option", null, s.name || s.platform + ":" + s.identifier);
      opt.value = String(s.id);
      els.sourceSelect.appendChild(opt);
    });
    els.sourceSelect.value = current;
  }

  function upsertSource(s) {
    var prev = state.sources.get(s.id) || {};
    s = Object.assign({}, prev, s);
    state.sources.set(s.id, s);
    var li = els.sources.querySelector('li[data-source-id="' + Number(s.id) + '"]');
    if (!li) {
      var muted = els.sources.querySelector(".muted");
      if (muted) muted.remove();
      li = el("li");
      li.dataset.sourceId = s.id;
      els.sources.appendChild(li);
    }
    clear(li);
    li.className = "source state-" + token(s.status) + (s.enabled === false ? " disabled" : "");
    li.appendChild(el("span", "badge platform-" + token(s.platform), PLATFORM_LABELS[s.platform] || s.platform));
    li.appendChild(el("span", "source-name", s.name || s.identifier));
    li.appendChild(el("span", "source-state", (SOURCE_STATE_LABELS[s.status] || s.status) + (s.enabled === false ? " (disabled)" : "")));
    if (s.status_reason) li.appendChild(el("span", "source-reason", s.status_reason));
    if (s.live_title) li.appendChild(el("span", "source-live", "Live: " + s.live_title));
    li.title = s.status_changed_at ? "since " + fmtDateTime(s.status_changed_at) : "";
    var caps = state.capabilities[s.platform];
    if (caps && caps.post) li.appendChild(postForm(s));  // the same node: typed text survives
    // A source added while the page is open becomes filterable too.
    var value = String(s.id);
    var known = Array.prototype.some.call(els.sourceSelect.options, function (o) { return o.value === value; });
    if (!known) {
      var opt = el("option", null, s.name || s.platform + ":" + s.identifier);
      opt.value = value;
      els.sourceSelect.appendChild(opt);
    }
  }

  function onSessions(sessions) {
    sessions.forEach(function (sess) {
      var s = state.sources.get(sess.source_id);
      if (!s) return;
      upsertSource({ id: s.id, live_title: sess.ended_at ? "" : (sess.title || "on air") });
    });
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "hello":
        state.capabilities = frame.capabilities || {};
        setSources(frame.sources || []);
        state.rows.forEach(function (entry) { render(entry); });
        query(!state.connectedOnce);
        state.connectedOnce = true;
        break;
      case "chat.messages":
        frame.messages.forEach(function (m) {
          if (matches(m, state.filters)) addMessage(m, true);
        });
        trim();
        refreshChrome();
        break;
      case "chat.updated":
        frame.messages.forEach(function (m) {
          if (state.rows.has(m.id)) applyUpdate(m, null);
        });
        break;
      case "message.updated":
        applyUpdate(frame.message, { by: frame.by, changes: frame.changes });
        break;
      case "chat.moderation":
        onModeration(frame.events);
        break;
      case "display.reordered":
        frame.order.forEach(function (id, i) {
          var entry = state.rows.get(id);
          if (entry) entry.msg.display_order = i + 1;
        });
        break;
      case "source.status":
        upsertSource(frame.source);
        break;
      case "source.sessions":
        onSessions(frame.sessions);
        break;
      default:
        break;
    }
  }

  function onState(s, info) {
    var text;
    var cls = "conn conn-" + s;
    if (s === "open") text = "Live";
    else if (s === "connecting") text = info.attempt ? "Reconnecting…" : "Connecting…";
    else if (s === "reconnecting") text = "Connection lost — reconnecting in " + Math.ceil(info.delay / 1000) + " s (attempt " + info.attempt + ")";
    else if (s === "closed") text = info.message || "Disconnected.";
    els.conn.className = cls;
    els.conn.textContent = text;
    if (s === "closed" && info.code === 4401) {
      var again = el("a", null, "Log in again");
      again.href = "/accounts/login/?next=" + encodeURIComponent(window.location.pathname);
      els.conn.appendChild(document.createTextNode(" "));
      els.conn.appendChild(again);
    }
    root.dataset.conn = s;
    refreshChrome();
  }

  var sock = new window.ChorusSocket(root.dataset.wsPath, {
    onFrame: function (frame) {
      if (frame.type === "hello") return; // handled once the state is "open" (below)
      onFrame(frame);
    },
    onState: function (s, info) {
      onState(s, info);
      if (s === "open" && info.hello) onFrame(info.hello);
    },
    onError: function (frame) { showError(frame.message, frame.code); },
  });

  els.filters.addEventListener("submit", function (ev) {
    ev.preventDefault();
    state.filters = readFilters();
    query(true);
  });
  ["status", "platform", "source"].forEach(function (name) {
    els.filters.elements[name].addEventListener("change", function () {
      state.filters = readFilters();
      query(true);
    });
  });
  els.clear.addEventListener("click", function () {
    els.filters.reset();
    state.filters = {};
    query(true);
  });
  els.older.addEventListener("click", loadOlder);

  sock.start();
  window.chorusDashboard = { state: state, socket: sock };
})();
