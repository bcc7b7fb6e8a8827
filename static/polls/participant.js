/* Participant page: join by code + nickname, then follow the meeting over /ws/meeting/<code>/.
 * Identity survives reloads and network loss through a resume token kept in localStorage
 * (never the nickname). Everything shown is written with textContent, except descriptions: HTML the
 * server rendered from Markdown with raw HTML escaped (polls.services.render_description). */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var params = new URLSearchParams(location.search);
  var pendingFlag = params.get("flag");
  var sock = null, code = null, nickname = null, joined = false, state = null, me = null;
  var timerHandle = null;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text != null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function clear(n) { while (n.firstChild) n.removeChild(n.firstChild); }
  function tokenKey(c) { return "chorus.meeting." + c; }
  function status(text, bad) { $("answer-status").textContent = text || ""; $("answer-status").className = "status" + (bad ? " error" : ""); }

  function localTime(iso) {
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  }
  function opensAt(m) {
    return m.starts_at && Date.parse(m.starts_at) > Date.now() ? m.starts_at : null;
  }
  function renderOpensAt(m) {
    var when = opensAt(m), p = $("opens-at");
    p.hidden = !when;
    if (when) {
      clear(p);
      p.appendChild(document.createTextNode("This meeting opens at "));
      var t = el("time", localTime(when));
      t.setAttribute("datetime", when);
      p.appendChild(t);
      p.appendChild(document.createTextNode("."));
    }
  }

  function normalize(c) { return (c || "").replace(/\s+/g, "").toUpperCase(); }

  function connect(c) {
    code = c;
    if (sock) sock.stop();
    sock = new ChorusSocket("/ws/meeting/" + encodeURIComponent(code) + "/", {
      onFrame: onFrame,
      onState: function (s, info) {
        $("p-conn").textContent = s === "open" ? "" : "(" + s + ")";
        if (s === "reconnecting" && info.code === 4404) {
          sock.stop();
          showJoin("No meeting has the code " + code + ".");
        }
        if (s === "open") identify();
      },
      onError: function (f) { status(f.message, true); },
    });
    sock.start();
  }

  function identify() {
    var token = localStorage.getItem(tokenKey(code));
    if (token) {
      sock.send("resume", { token: token }).then(gotMe, function (err) {
        if (err.code === "unknown_token") {
          localStorage.removeItem(tokenKey(code));
          if (nickname) identify(); else showJoin("Please join again.");
        }
      });
    } else if (nickname) {
      sock.send("join", { nickname: nickname }).then(function (ack) {
        localStorage.setItem(tokenKey(code), ack.token);
        gotMe(ack);
      }, function (err) { showJoin(err.message); });
    } else {
      showJoin("");
    }
  }

  function gotMe(ack) {
    joined = true;
    me = ack.me;
    $("join-form").hidden = true;
    $("meeting").hidden = false;
    renderMe();
    if (state) render();
    if (pendingFlag) { submitFlag(pendingFlag); pendingFlag = null; }
  }

  function refreshMe() {
    if (!joined) return;
    sock.send("me", {}).then(function (ack) { me = ack.me; renderMe(); if (state) render(); }, function () {});
  }

  function renderMe() {
    $("me-name").textContent = me.nickname;
    $("me-score").textContent = me.score;
    $("me-rank").textContent = me.rank ? "(#" + me.rank + ")" : "";
  }

  function showJoin(message) {
    joined = false;
    $("join-form").hidden = false;
    $("meeting").hidden = true;
    $("join-error").textContent = message || "";
  }

  function onFrame(f) {
    if (f.type === "hello" || f.type === "meeting.state") {
      var prev = state;
      state = f;
      $("m-title").textContent = f.meeting.title;
      $("m-description").innerHTML = f.meeting.description_html || ""; // server-sanitized
      renderOpensAt(f.meeting);
      var changed = !prev || prev.meeting.version !== f.meeting.version;
      if (joined && changed && f.type === "meeting.state") {
        status("");
        var qid = f.question ? f.question.id : null;
        var prevQid = prev && prev.question ? prev.question.id : null;
        if (me && qid !== prevQid) { me.answer = null; me.words = []; }
        // Scores and correctness change at results time; a crowd spreads its requests over 1.5 s
        // instead of asking the server all at once.
        var s = f.meeting.state;
        if (s === "results" || s === "scoreboard" || s === "after") {
          setTimeout(refreshMe, Math.random() * 1500);
        }
      }
      render();
    }
  }

  function render() {
    var stage = $("stage");
    clear(stage);
    clearInterval(timerHandle);
    var s = state.meeting.state;
    stage.dataset.state = s;
    var q = state.question;
    if (s === "before") {
      var when = opensAt(state.meeting);
      stage.appendChild(el("p", when ? "The meeting opens at " + localTime(when) + ". Stay on this page." : "The meeting has not started yet. Stay on this page."));
      return;
    }
    if (s === "after") {
      stage.appendChild(el("h2", "Thank you! The meeting is over."));
      renderScoreboard(stage);
      return;
    }
    if (s === "scoreboard") { renderScoreboard(stage); return; }
    if (!q) { stage.appendChild(el("p", "Waiting for the host…")); return; }
    stage.appendChild(el("h2", q.text, "question-text"));
    if (q.description_html) {
      var desc = el("div", null, "description question-description");
      desc.innerHTML = q.description_html; // server-sanitized Markdown
      stage.appendChild(desc);
    }
    if (q.kind === "text") return;
    var open = s === "ongoing" && q.status === "open";
    if (!open && s !== "results") stage.appendChild(el("p", "Answers are closed. Results soon.", "muted"));
    if (open && q.closes_at) {
      var t = el("p", "", "timer");
      stage.appendChild(t);
      var end = Date.parse(q.closes_at);
      var tick = function () { var left = Math.max(0, Math.ceil((end - Date.now()) / 1000)); t.textContent = left + " s left"; };
      tick();
      timerHandle = setInterval(tick, 500);
    }
    var mine = me && me.answer;
    if (q.kind === "poll" || q.kind === "quiz") {
      var box = el("div", null, "choices");
      q.choices.forEach(function (c) {
        var b = el("button", c.token + ". " + c.text);
        b.type = "button";
        b.dataset.choice = c.id;
        if (mine && mine.choice_id === c.id) b.classList.add("selected");
        if (c.correct) b.classList.add("correct");
        b.disabled = !open || (q.kind === "quiz" && !!mine) || (mine && !state.meeting.allow_vote_change);
        b.addEventListener("click", function () { answer("vote", { question_id: q.id, choice_id: c.id }); });
        box.appendChild(b);
      });
      stage.appendChild(box);
    } else if (q.kind === "rating") {
      var r = el("div", null, "rating");
      for (var v = 1; v <= q.rating_max; v++) {
        (function (v) {
          var b = el("button", String(v));
          b.type = "button";
          if (mine && mine.value === v) b.classList.add("selected");
          b.disabled = !open;
          b.addEventListener("click", function () { answer("rate", { question_id: q.id, value: v }); });
          r.appendChild(b);
        })(v);
      }
      stage.appendChild(r);
    } else if (q.kind === "wordcloud") {
      var words = (me && me.words) || [];
      stage.appendChild(el("p", "Your words (" + words.length + "/" + q.max_words + "): " + words.join(", ")));
      if (open && words.length < q.max_words) {
        var form = el("form");
        var input = el("input");
        input.maxLength = q.max_word_length;
        input.setAttribute("aria-label", "Your word");
        form.appendChild(input);
        var b = el("button", "Add");
        b.type = "submit";
        form.appendChild(b);
        form.addEventListener("submit", function (e) {
          e.preventDefault();
          if (input.value.trim()) answer("word", { question_id: q.id, word: input.value });
        });
        stage.appendChild(form);
        input.focus();
      }
    }
    if (s === "results" && state.results) renderResults(stage, state.results);
    if (mine && mine.correct !== undefined) {
      stage.appendChild(el("p", mine.correct ? "Correct! +" + mine.points + " points" : "Not this time.", mine.correct ? "ok" : "error"));
    }
  }

  function renderResults(stage, res) {
    var rows = res.choices ? res.choices.map(function (c) { return [c.token + ". " + c.text, c.count]; })
      : res.distribution ? res.distribution.map(function (n, i) { return [String(i + 1), n]; })
      : (res.words || []).map(function (w) { return [w.word, w.count]; });
    var max = Math.max.apply(null, [1].concat(rows.map(function (r) { return r[1]; })));
    var box = el("div", null, "results");
    rows.forEach(function (r) {
      var bar = el("div", r[0] + " — " + r[1], "bar");
      bar.style.width = Math.max(5, Math.round(100 * r[1] / max)) + "%";
      box.appendChild(bar);
    });
    stage.appendChild(box);
    if (res.average != null) stage.appendChild(el("p", "Average: " + res.average + " / " + res.rating_max));
    stage.appendChild(el("p", res.total + " answers", "muted"));
  }

  function renderScoreboard(stage) {
    stage.appendChild(el("h2", "Scoreboard"));
    var ol = el("ol", null, "scoreboard");
    (state.scoreboard || []).forEach(function (r) {
      var li = el("li");
      li.appendChild(el("span", r.platform, "badge badge-" + String(r.platform).replace(/[^a-z0-9]/gi, "")));
      li.appendChild(document.createTextNode(r.nickname + " — " + r.score));
      if (me && r.id === me.id) li.className = "me";
      ol.appendChild(li);
    });
    stage.appendChild(ol);
  }

  var MESSAGES = { ok: "Answer recorded.", changed: "Answer changed." };
  function answer(type, fields) {
    status("Sending…");
    sock.send(type, fields).then(function (ack) {
      status(MESSAGES[ack.result] || "Recorded.");
      refreshMe();
    }, function (err) { status(err.message, true); });
  }

  function submitFlag(raw) {
    $("flag-result").textContent = "Checking…";
    sock.send("flag", { code: raw }).then(function (ack) {
      $("flag-result").textContent = "✔ " + ack.flag + ": +" + ack.points + " points" + (ack.first_blood ? " (first blood!)" : "");
      $("flag-code").value = "";
      refreshMe();
    }, function (err) { $("flag-result").textContent = "✘ " + err.message; });
  }

  $("join-form").addEventListener("submit", function (e) {
    e.preventDefault();
    nickname = $("nickname").value.trim();
    var c = normalize($("code").value);
    if (!c || !nickname) return;
    $("join-error").textContent = "";
    if (sock && code === c && sock.state === "open") identify(); else connect(c);
  });
  $("flag-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var v = $("flag-code").value.trim();
    if (v) submitFlag(v);
  });

  // Window times rendered by the server in its time zone: show them in the browser's.
  document.querySelectorAll("time[datetime]").forEach(function (t) {
    if (t.getAttribute("datetime")) t.textContent = localTime(t.getAttribute("datetime"));
  });

  // Coming back (reload, QR scan on a known device): resume at once.
  var initial = normalize($("code").value);
  if (initial && localStorage.getItem(tokenKey(initial))) connect(initial);
})();
