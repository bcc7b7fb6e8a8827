/* Host dashboard: runs a meeting over /ws/host/<id>/ (protocol: docs/protocol.md, "Meetings").
 * All data is written with textContent, except descriptions: HTML the server rendered from Markdown
 * with raw HTML escaped (polls.services.render_description). Charts are AnyChart (vendored). */
(function () {
  "use strict";
  var root = document.getElementById("host");
  var meetingId = root.dataset.meeting;
  var $ = function (id) { return document.getElementById(id); };
  var role = "view";
  var me = null;
  var state = null;
  var chart = null, chartKey = null, dataSet = null;
  var timerHandle = null;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text != null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  var sock = new ChorusSocket("/ws/host/" + meetingId + "/", {
    onFrame: onFrame,
    onState: function (s, info) {
      $("conn").textContent = s === "open" ? "live" : s + (info && info.message ? ": " + info.message : "");
    },
    onError: function (f) { $("command-error").textContent = f.message; },
  });

  function onFrame(f) {
    if (f.type === "hello" || f.type === "host.state") {
      if (f.role) role = f.role;
      if (f.user) me = f.user;
      state = f;
      renderAll();
      if (f.chat) f.chat.forEach(addChat);
    } else if (f.type === "results") {
      if (state) {
        state.participants = f.participants;
        state.scoreboard = f.scoreboard;
        if (state.question && f.question_id === state.question.id) state.results = f.results;
      }
      $("participants").textContent = f.participants;
      renderResults(f.results);
      renderScoreboard(f.scoreboard);
    } else if (f.type === "control") {
      role = f.controller === me ? "control" : "view";
      if (state) state.meeting.controller = f.controller;
      renderRole();
    } else if (f.type === "chat.messages") {
      f.messages.forEach(addChat);
    } else if (f.type === "chat.votes") {
      $("chat-votes").textContent = "last batch: " + f.accepted + " chat answers counted, " + f.refused + " refused";
    } else if (f.type === "flag.captured") {
      f.captures.forEach(function (c) {
        var li = el("li");
        li.appendChild(el("span", c.participant.platform, "badge badge-" + String(c.participant.platform).replace(/[^a-z0-9]/gi, "")));
        li.appendChild(document.createTextNode(c.participant.nickname + " captured " + c.flag + " (+" + c.points + (c.first_blood ? ", first blood" : "") + ")"));
        $("captures").insertBefore(li, $("captures").firstChild);
      });
    }
  }

  function renderRole() {
    var control = role === "control";
    $("role-banner").hidden = control;
    $("controller").textContent = (state && state.meeting.controller) || "nobody";
    document.querySelectorAll("[data-cmd], [data-needs-control]").forEach(function (b) {
      b.disabled = !control || b.dataset.onScreen === "1";
    });
    root.dataset.role = role;
  }

  function renderAll() {
    var m = state.meeting;
    $("state").textContent = m.state;
    $("state").dataset.state = m.state;
    $("participants").textContent = state.participants;
    renderWindow(m);
    renderPlan();
    renderRole();
    refreshEditor();
    var q = state.question;
    $("question-title").textContent = q ? q.text : (m.state === "after" ? "Finished" : "—");
    // description_html: Markdown rendered by the server with raw HTML escaped (render_description).
    $("question-description").innerHTML = q && q.description_html ? q.description_html : "";
    renderTimer(q);
    renderResults(state.results);
    renderScoreboard(state.scoreboard);
  }

  function localTime(iso) {
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  }
  function renderWindow(m) {
    var parts = [];
    if (m.starts_at) parts.push((Date.parse(m.starts_at) > Date.now() ? "opens " : "opened ") + localTime(m.starts_at));
    if (m.ends_at) parts.push((Date.parse(m.ends_at) > Date.now() ? "ends " : "ended ") + localTime(m.ends_at));
    $("window").textContent = parts.length ? parts.join(" · ") : "none (no time limit)";
    $("window").dataset.starts = m.starts_at || "";
    $("window").dataset.ends = m.ends_at || "";
  }

  function renderTimer(q) {
    clearInterval(timerHandle);
    $("timer").textContent = "";
    if (!q || q.status !== "open" || !q.closes_at) return;
    var end = Date.parse(q.closes_at);
    var tick = function () {
      var left = Math.max(0, Math.ceil((end - Date.now()) / 1000));
      $("timer").textContent = left + " s";
      if (!left) clearInterval(timerHandle);
    };
    tick();
    timerHandle = setInterval(tick, 500);
  }

  function renderPlan() {
    var ol = $("plan");
    clear(ol);
    var current = state.question ? state.question.id : null;
    state.plan.forEach(function (p) {
      var li = el("li");
      li.draggable = role === "control";
      li.dataset.id = p.id;
      li.dataset.status = p.status;
      if (p.id === current) li.className = "current";
      li.appendChild(el("span", "[" + p.kind + "] "));
      li.appendChild(el("span", p.text));
      li.appendChild(el("span", p.status, "st st-" + p.status));
      if (p.answers) li.appendChild(el("span", " " + p.answers + " answers", "muted"));
      li.appendChild(planActions(p, p.id === current));
      li.addEventListener("click", function () {
        if (role === "control" && p.id !== current) command("question.goto", { question_id: p.id });
      });
      li.addEventListener("dragstart", function (e) {
        e.dataTransfer.setData("text/plain", String(p.id));
        e.dataTransfer.effectAllowed = "move";
      });
      li.addEventListener("dragover", function (e) {
        e.preventDefault();
        li.classList.toggle("drop-after", dropsAfter(li, e));
        li.classList.toggle("drop-before", !dropsAfter(li, e));
      });
      li.addEventListener("dragleave", function () { li.classList.remove("drop-before", "drop-after"); });
      li.addEventListener("drop", function (e) {
        e.preventDefault();
        li.classList.remove("drop-before", "drop-after");
        if (role !== "control") return;
        var order = reordered(Number(e.dataTransfer.getData("text/plain")), p.id, dropsAfter(li, e));
        if (order) command("plan.reorder", { order: order });
      });
      ol.appendChild(li);
    });
  }

  // The pointer in the lower half of the target row drops after it (the only way to reach the
  // end of the plan), in the upper half before it.
  function dropsAfter(li, e) {
    var r = li.getBoundingClientRect();
    return e.clientY > r.top + r.height / 2;
  }
  // The plan's ids with ``moved`` placed before/after ``target``; null when nothing changes
  // (dropped on itself or where it already is) or ``moved`` is not one of the plan's questions.
  function reordered(moved, target, after) {
    var ids = state.plan.map(function (x) { return x.id; });
    if (moved === target || ids.indexOf(moved) < 0 || ids.indexOf(target) < 0) return null;
    var order = ids.filter(function (id) { return id !== moved; });
    order.splice(order.indexOf(target) + (after ? 1 : 0), 0, moved);
    return order.join(",") === ids.join(",") ? null : order;
  }

  // --- editing the plan: question.update / question.delete (rules on the server) ------------
  function planActions(p, onScreen) {
    var box = el("span", null, "plan-actions");
    var edit = el("button", "Edit");
    edit.type = "button";
    edit.dataset.needsControl = "1";
    edit.dataset.action = "edit";
    edit.disabled = role !== "control";
    edit.addEventListener("click", function (e) { e.stopPropagation(); openEditor(p.id); });
    var del = el("button", "Delete");
    del.type = "button";
    del.dataset.needsControl = "1";
    del.dataset.action = "delete";
    del.dataset.onScreen = onScreen ? "1" : "0";
    del.disabled = role !== "control" || onScreen;
    if (onScreen) del.title = "This question is on screen: go to another one to delete it";
    del.addEventListener("click", function (e) { e.stopPropagation(); deleteQuestion(p); });
    box.appendChild(edit);
    box.appendChild(del);
    return box;
  }

  function deleteQuestion(p) {
    var msg = "Delete the question “" + p.text + "”?";
    if (p.answers) msg += "\n\nIts " + p.answers + " answers are deleted too, and the points they earned are taken off the scores.";
    if (!window.confirm(msg)) return;
    command("question.delete", { question_id: p.id });
  }

  var editing = null; // the plan entry being edited, as it was when the editor opened
  function planEntry(id) {
    return state ? state.plan.filter(function (x) { return x.id === id; })[0] : undefined;
  }
  function numberOrNull(input) {
    var v = input.value.trim();
    return v === "" ? null : Number(v);
  }

  function choiceRow(c, quiz, locked) {
    var row = el("div", null, "choice-row");
    if (c.id) row.dataset.id = c.id;
    row.dataset.correct = c.correct ? "1" : "0";
    var text = document.createElement("input");
    text.type = "text";
    text.maxLength = 300;
    text.value = c.text || "";
    text.disabled = locked;
    text.setAttribute("aria-label", "Choice text");
    row.appendChild(text);
    if (quiz) {
      var label = el("label");
      var box = document.createElement("input");
      box.type = "checkbox";
      box.checked = !!c.correct;
      box.disabled = locked;
      label.appendChild(box);
      label.appendChild(document.createTextNode(" correct"));
      row.appendChild(label);
    }
    var remove = el("button", "Remove");
    remove.type = "button";
    remove.disabled = locked;
    remove.addEventListener("click", function () { row.parentNode.removeChild(row); });
    row.appendChild(remove);
    return row;
  }

  function openEditor(id) {
    var p = planEntry(id);
    if (!p) return;
    editing = p;
    var locked = p.answers > 0;
    var withChoices = p.kind === "poll" || p.kind === "quiz";
    $("editor-kind").textContent = "(" + p.kind + ")";
    $("editor-text").value = p.text;
    $("editor-description").value = p.description || "";
    $("editor-timer").value = p.timer_seconds == null ? "" : String(p.timer_seconds);
    $("editor-locked").hidden = !(locked && p.kind !== "text");
    $("editor-choices").hidden = !withChoices;
    $("editor-wordcloud").hidden = p.kind !== "wordcloud";
    $("editor-rating").hidden = p.kind !== "rating";
    var list = $("editor-choice-list");
    clear(list);
    if (withChoices) p.choices.forEach(function (c) { list.appendChild(choiceRow(c, p.kind === "quiz", locked)); });
    $("editor-add-choice").disabled = locked;
    if (p.kind === "wordcloud") {
      $("editor-max-words").value = p.max_words;
      $("editor-min-length").value = p.min_word_length;
      $("editor-max-length").value = p.max_word_length;
      $("editor-blocked").value = p.blocked_words || "";
    }
    if (p.kind === "rating") $("editor-rating-max").value = p.rating_max;
    ["editor-max-words", "editor-min-length", "editor-max-length", "editor-blocked", "editor-rating-max"].forEach(function (f) {
      $(f).disabled = locked;
    });
    $("editor-error").textContent = "";
    $("editor-save").disabled = false;
    if (!$("question-editor").open) $("question-editor").showModal();
    $("editor-text").focus();
  }

  function editorFields() {
    var p = editing;
    var fields = {
      question_id: p.id,
      text: $("editor-text").value.trim(),
      description: $("editor-description").value,
      timer_seconds: numberOrNull($("editor-timer")),
    };
    if (p.answers > 0) return fields; // answer settings are frozen: never sent
    if (p.kind === "poll" || p.kind === "quiz") {
      fields.choices = Array.prototype.map.call($("editor-choice-list").children, function (row) {
        var c = { text: row.querySelector("input[type=text]").value.trim() };
        if (row.dataset.id) c.id = Number(row.dataset.id);
        var box = row.querySelector("input[type=checkbox]");
        c.correct = box ? box.checked : row.dataset.correct === "1";
        return c;
      });
    } else if (p.kind === "wordcloud") {
      fields.max_words = numberOrNull($("editor-max-words"));
      fields.min_word_length = numberOrNull($("editor-min-length"));
      fields.max_word_length = numberOrNull($("editor-max-length"));
      fields.blocked_words = $("editor-blocked").value;
    } else if (p.kind === "rating") {
      fields.rating_max = numberOrNull($("editor-rating-max"));
    }
    return fields;
  }

  function errorText(err) {
    var text = err.message || err.code || "error";
    if (err.details && err.details.length) {
      text += ": " + err.details.map(function (d) { return d.field + " — " + d.message; }).join("; ");
    }
    return text;
  }

  function closeEditor() {
    editing = null;
    if ($("question-editor").open) $("question-editor").close();
  }

  // The plan changed under an open editor (another dashboard, answers arriving).
  function refreshEditor() {
    if (!editing) return;
    var now = planEntry(editing.id);
    if (!now) {
      closeEditor();
      $("command-error").textContent = "The question you were editing was deleted.";
    } else if (now.answers > 0 && !(editing.answers > 0)) {
      editing.answers = now.answers;
      openEditorLocked();
    }
  }
  function openEditorLocked() {
    var keep = { text: $("editor-text").value, description: $("editor-description").value, timer: $("editor-timer").value };
    openEditor(editing.id);
    $("editor-text").value = keep.text;
    $("editor-description").value = keep.description;
    $("editor-timer").value = keep.timer;
    $("editor-error").textContent = "Answers just arrived: only the text, description and timer can change now.";
  }

  $("editor-add-choice").addEventListener("click", function () {
    $("editor-choice-list").appendChild(choiceRow({ text: "" }, editing && editing.kind === "quiz", false));
    var inputs = $("editor-choice-list").querySelectorAll("input[type=text]");
    inputs[inputs.length - 1].focus();
  });
  $("editor-cancel").addEventListener("click", closeEditor);
  $("question-editor").addEventListener("close", function () { editing = null; });
  $("editor-form").addEventListener("submit", function (e) {
    e.preventDefault();
    if (!editing) return;
    $("editor-error").textContent = "";
    $("editor-save").disabled = true;
    sock.send("question.update", editorFields()).then(function () {
      $("editor-save").disabled = false;
      closeEditor();
    }, function (err) {
      $("editor-save").disabled = false;
      $("editor-error").textContent = errorText(err);
    });
  });

  function rowsOf(results) {
    if (!results) return [];
    if (results.choices) return results.choices.map(function (c) { return { label: c.token + ". " + c.text + (c.correct ? " ✓" : ""), count: c.count }; });
    if (results.distribution) return results.distribution.map(function (n, i) { return { label: String(i + 1), count: n }; });
    if (results.words) return results.words.map(function (w) { return { label: w.word, count: w.count }; });
    return [];
  }

  function renderResults(results) {
    var body = $("counts").tBodies[0];
    clear(body);
    $("answers").textContent = results ? results.total : 0;
    $("average").textContent = results && results.kind === "rating" ? "Average: " + (results.average == null ? "—" : results.average) + " / " + results.rating_max : "";
    var rows = rowsOf(results);
    rows.forEach(function (r) {
      var tr = el("tr");
      tr.appendChild(el("td", r.label));
      tr.appendChild(el("td", String(r.count), "count"));
      body.appendChild(tr);
    });
    drawChart(results, rows);
  }

  function drawChart(results, rows) {
    if (typeof anychart === "undefined") return;
    var key = results ? results.question_id + ":" + results.kind : null;
    if (key !== chartKey) {
      if (chart) { chart.dispose(); chart = null; }
      chartKey = key;
      if (!results || !rows) return;
      if (results.kind === "wordcloud") {
        dataSet = anychart.data.set(rows.map(function (r) { return { x: r.label, value: r.count }; }));
        chart = anychart.tagCloud(dataSet);
      } else {
        dataSet = anychart.data.set(rows.map(function (r) { return [r.label, r.count]; }));
        chart = results.kind === "rating" ? anychart.column(dataSet) : anychart.bar(dataSet);
      }
      chart.container("chart");
      chart.draw();
      return;
    }
    if (!dataSet) return;
    if (results.kind === "wordcloud") dataSet.data(rows.map(function (r) { return { x: r.label, value: r.count }; }));
    else dataSet.data(rows.map(function (r) { return [r.label, r.count]; }));
  }

  function renderScoreboard(rows) {
    var ol = $("scoreboard");
    clear(ol);
    (rows || []).forEach(function (r) {
      var li = el("li");
      li.appendChild(el("span", r.platform, "badge badge-" + String(r.platform).replace(/[^a-z0-9]/gi, "")));
      li.appendChild(document.createTextNode(r.nickname + " — " + r.score));
      ol.appendChild(li);
    });
  }

  function addChat(m) {
    var li = el("li");
    li.appendChild(el("span", m.platform, "badge badge-" + String(m.platform).replace(/[^a-z0-9]/gi, "")));
    li.appendChild(el("strong", (m.author && (m.author.display_name || m.author.login)) || "?"));
    li.appendChild(document.createTextNode(": " + m.text));
    var ul = $("chat");
    ul.appendChild(li);
    while (ul.childNodes.length > 200) ul.removeChild(ul.firstChild);
    ul.scrollTop = ul.scrollHeight;
  }

  function command(type, fields) {
    $("command-error").textContent = "";
    return sock.send(type, fields || {}).catch(function (err) {
      $("command-error").textContent = err.message || err.code;
    });
  }

  document.querySelectorAll("[data-cmd]").forEach(function (b) {
    b.addEventListener("click", function () { command(b.dataset.cmd); });
  });
  $("take-control").addEventListener("click", function () {
    sock.send("control.take", {}).then(function () { role = "control"; renderAll(); }, function (e) {
      $("command-error").textContent = e.message;
    });
  });
  $("show-join").addEventListener("click", function () {
    $("join-slide").hidden = false;
    if ($("join-slide").requestFullscreen) $("join-slide").requestFullscreen().catch(function () {});
  });
  $("hide-join").addEventListener("click", function () {
    $("join-slide").hidden = true;
    if (document.fullscreenElement) document.exitFullscreen();
  });
  sock.start();
})();
