/* Chorus overlay (an OBS browser source). One page for every kind; see overlays/ and
 * docs/protocol.md "Channel overlay". Chat text is hostile: everything from the server is put on
 * the page with textContent / createElement, never innerHTML; images only from http(s) URLs.
 * The socket's hello frame carries the whole current state, so after a drop or an OBS scene switch
 * the page shows the right thing again without a reload.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("overlay-config").textContent);
  var kind = config.kind;
  var settings = config.settings;
  var stage = document.getElementById("stage");
  var body = document.body;

  // --- helpers -------------------------------------------------------------------------------
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  }

  function safeUrl(u) {
    if (typeof u !== "string" || !u) return null;
    try {
      var url = new URL(u, location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) { return null; }
  }

  function img(src, cls, alt) {
    var url = safeUrl(src);
    if (!url) return null;
    var i = el("img", cls);
    i.src = url;
    i.alt = alt || "";
    i.referrerPolicy = "no-referrer";
    return i;
  }

  var PLATFORM_LABEL = { twitch: "Twitch", youtube: "YouTube", tiktok: "TikTok", slack: "Slack", demo: "Demo", replay: "Replay" };

  function applySettings() {
    var s = settings;
    var root = document.documentElement;
    root.style.setProperty("--ov-font", s.font);
    root.style.setProperty("--ov-size", s.size + "px");
    root.className = "theme-" + s.theme;
    body.dataset.align = s.align;
    body.dataset.animIn = s.animation_in;
    body.dataset.animOut = s.animation_out;
    body.classList.toggle("no-badges", !s.badges);
    body.classList.toggle("no-avatars", !s.avatars);
  }

  // The streamer's custom CSS is a stylesheet of its own (never inlined). Saving settings sends
  // overlay.settings with custom_css: true/false; the <link> follows without an OBS reload, and
  // a new ?v= makes the browser fetch the changed stylesheet.
  function customCss(on, refetch) {
    var link = document.getElementById("custom-css");
    if (!on) { if (link) link.remove(); return; }
    if (link && !refetch) return;
    if (!link) {
      link = document.createElement("link");
      link.id = "custom-css";
      link.rel = "stylesheet";
      document.head.appendChild(link);
    }
    link.href = config.css_path + "?v=" + Date.now();
  }

  function messageNode(m) {
    var item = el("article", "item msg kind-" + (m.kind || "message"));
    item.dataset.id = m.id;
    if (m.pinned) item.classList.add("pinned");
    var head = el("header", "msg-head");
    var av = settings.avatars ? img(m.author.avatar_url, "avatar", "") : null;
    if (av) head.appendChild(av);
    var plat = el("span", "platform platform-" + String(m.platform).replace(/[^a-z0-9_-]/gi, ""), PLATFORM_LABEL[m.platform] || m.platform);
    head.appendChild(plat);
    if (settings.badges) {
      (m.author.badges || []).forEach(function (b) {
        var bi = img(b.image_url, "badge", b.title || b.set_id);
        if (bi) head.appendChild(bi);
      });
    }
    head.appendChild(el("span", "author", m.author.display_name || m.author.login || "someone"));
    if (m.amount_display) head.appendChild(el("span", "amount", m.amount_display));
    item.appendChild(head);
    var text = el("p", "msg-text");
    var frags = m.fragments && m.fragments.length ? m.fragments : [{ type: "text", text: m.text }];
    frags.forEach(function (f) {
      if ((f.type === "emote" || f.type === "cheermote" || f.type === "emoji") && f.image_url) {
        var e = img(f.image_url, "emote", f.text);
        if (e) { e.title = f.text; text.appendChild(e); return; }
      }
      text.appendChild(document.createTextNode(f.text == null ? "" : String(f.text)));
    });
    item.appendChild(text);
    return item;
  }

  function animateIn(node) {
    node.classList.add("anim-in");
    return node;
  }

  function animateOut(node, done) {
    if (!node || !node.parentNode) { if (done) done(); return; }
    if (settings.animation_out === "none") { node.remove(); if (done) done(); return; }
    node.classList.remove("anim-in");
    node.classList.add("anim-out");
    setTimeout(function () { node.remove(); if (done) done(); }, 350);
  }

  function hideLater(node) {
    if (settings.hide_after > 0) {
      setTimeout(function () { animateOut(node); }, settings.hide_after * 1000);
    }
  }

  // --- featured chat ----------------------------------------------------------------------------
  var featured = { messages: [], rotation: 10, index: 0, timer: null, shownIds: [] };

  function featuredSet(state) {
    featured.messages = state.messages || [];
    featured.rotation = state.rotation_seconds || 10;
    body.dataset.queue = featured.messages.filter(function (m) { return !m.pinned; }).map(function (m) { return m.id; }).join(",");
    body.dataset.pinned = featured.messages.filter(function (m) { return m.pinned; }).map(function (m) { return m.id; }).join(",");
    renderFeatured(false);
    restartRotation();
  }

  function restartRotation() {
    clearInterval(featured.timer);
    featured.timer = setInterval(function () {
      var rot = featured.messages.filter(function (m) { return !m.pinned; });
      if (rot.length > settings.max_items) {
        featured.index = (featured.index + settings.max_items) % rot.length;
        renderFeatured(true);
      }
    }, featured.rotation * 1000);
  }

  function renderFeatured(advance) {
    var pinned = featured.messages.filter(function (m) { return m.pinned; });
    var rot = featured.messages.filter(function (m) { return !m.pinned; });
    if (featured.index >= rot.length) featured.index = 0;
    var show = [];
    for (var i = 0; i < Math.min(settings.max_items, rot.length); i++) show.push(rot[(featured.index + i) % rot.length]);
    var wanted = pinned.concat(show);
    var wantedIds = wanted.map(function (m) { return String(m.id); });
    // Leave: whatever is on screen but no longer wanted.
    Array.prototype.slice.call(stage.querySelectorAll(".item")).forEach(function (n) {
      if (wantedIds.indexOf(n.dataset.id) === -1) animateOut(n);
    });
    wanted.forEach(function (m) {
      var existing = stage.querySelector('.item[data-id="' + m.id + '"]:not(.anim-out)');
      if (existing) {
        existing.classList.toggle("pinned", !!m.pinned);
        stage.appendChild(existing);
        return;
      }
      var n = animateIn(messageNode(m));
      stage.appendChild(n);
      if (!m.pinned) hideLater(n);
    });
    body.dataset.showing = show.map(function (m) { return m.id; }).join(",");
  }

  function featuredRemove(ids) {
    featured.messages = featured.messages.filter(function (m) { return ids.indexOf(m.id) === -1; });
    body.dataset.queue = featured.messages.filter(function (m) { return !m.pinned; }).map(function (m) { return m.id; }).join(",");
    renderFeatured(false);
  }

  // --- ticker -----------------------------------------------------------------------------------
  var ticker = { ids: [] };

  function tickerAdd(messages) {
    messages.forEach(function (m) {
      if (settings.filter === "approved" && m.status !== "reviewed" && m.status !== "sent") return;
      // Each message runs once: a moderator approving one that already ran (hidden by
      // hide-after, or scrolled off) does not bring it back.
      if (ticker.ids.indexOf(m.id) !== -1) return;
      ticker.ids.push(m.id);
      if (ticker.ids.length > 1000) ticker.ids.splice(0, ticker.ids.length - 1000);
      var n = animateIn(messageNode(m));
      stage.appendChild(n);
      hideLater(n);
    });
    var items = stage.querySelectorAll(".item:not(.anim-out)");
    for (var i = 0; i < items.length - settings.max_items; i++) animateOut(items[i]);
  }

  // --- alerts -----------------------------------------------------------------------------------
  var alerts = { queue: [], current: null };
  var VIDEO_MAX_SECONDS = 60;
  var ALERT_TITLE = { paid: "Super chat", membership: "New member", gift: "Gift", follow: "New follower" };

  function alertPush(a) {
    alerts.queue.push(a);
    if (!alerts.current) alertNext();
  }

  function alertNext() {
    var a = alerts.queue.shift();
    alerts.current = a || null;
    if (!a) return;
    var box = el("section", "item alert alert-" + String(a.kind).replace(/[^a-z0-9_-]/gi, ""));
    if (a.message_obj) {
      box.dataset.id = a.message_obj.id;
      box.appendChild(el("h2", "alert-title", ALERT_TITLE[a.kind] || a.kind));
      box.appendChild(messageNode(a.message_obj));
    } else {
      box.appendChild(el("h2", "alert-title", a.message || "Revolution!"));
      var src = safeUrl(a.video_url);
      if (src) {
        var v = el("video", "alert-video");
        v.src = src;
        v.autoplay = true;
        v.muted = false;
        v.playsInline = true;
        box.appendChild(v);
      }
    }
    stage.appendChild(animateIn(box));
    var seconds = settings.hide_after > 0 ? settings.hide_after : 8;
    var finished = false;
    function finish() {
      if (finished) return;
      finished = true;
      clearTimeout(a.timer);
      animateOut(box, alertNext);
    }
    a.node = box;
    var video = box.querySelector("video");
    if (video) {
      // A revolution video plays to its end (at most VIDEO_MAX_SECONDS), not for hide-after
      // seconds; a video that cannot play falls back to hide-after.
      video.addEventListener("ended", finish);
      video.addEventListener("error", function () {
        clearTimeout(a.timer);
        a.timer = setTimeout(finish, seconds * 1000);
      });
      var playing = video.play && video.play();
      if (playing && playing.catch) {
        playing.catch(function () { video.muted = true; return video.play(); }).catch(function () {});
      }
      a.timer = setTimeout(finish, VIDEO_MAX_SECONDS * 1000);
    } else {
      a.timer = setTimeout(finish, seconds * 1000);
    }
  }

  function alertsRemove(ids) {
    alerts.queue = alerts.queue.filter(function (a) { return !(a.message_obj && ids.indexOf(a.message_obj.id) !== -1); });
    var cur = alerts.current;
    if (cur && cur.message_obj && ids.indexOf(cur.message_obj.id) !== -1) {
      clearTimeout(cur.timer);
      cur.node.remove();
      alertNext();
    }
  }

  // --- meeting overlays: question + results, word cloud, scoreboard ---------------------------
  var meeting = { state: null, results: null, scoreboard: [] };

  function meetingState(st) {
    meeting.state = st;
    if (st.results) meeting.results = st.results;
    else if (!st.question || (meeting.results && meeting.results.question_id !== st.question.id)) meeting.results = null;
    if (st.scoreboard) meeting.scoreboard = st.scoreboard;
    renderMeeting();
  }

  function meetingResults(frame) {
    var st = meeting.state;
    if (!st || !st.question || frame.question_id !== st.question.id) {
      if (frame.scoreboard) meeting.scoreboard = frame.scoreboard;
      if (kind === "scoreboard") renderMeeting();
      return;
    }
    // Keep the quiz answers the state revealed (live results never carry them).
    var revealed = {};
    if (meeting.results && meeting.results.choices) meeting.results.choices.forEach(function (c) { if (c.correct != null) revealed[c.id] = c.correct; });
    var r = frame.results;
    if (r && r.choices) r.choices.forEach(function (c) { if (revealed[c.id] != null) c.correct = revealed[c.id]; });
    meeting.results = r;
    if (frame.scoreboard) meeting.scoreboard = frame.scoreboard;
    renderMeeting();
  }

  function renderMeeting() {
    stage.textContent = "";
    var st = meeting.state;
    if (kind === "scoreboard") { renderScoreboard(); return; }
    if (!st || !st.question) { body.dataset.empty = "1"; return; }
    body.dataset.empty = "";
    var q = st.question;
    if (kind === "wordcloud") {
      if (q.kind !== "wordcloud") return;
      renderWordcloud(q);
      return;
    }
    var box = el("section", "item question question-" + q.kind);
    box.dataset.id = q.id;
    box.appendChild(el("h2", "q-text", q.text));
    var r = meeting.results;
    if (q.kind === "poll" || q.kind === "quiz") {
      var counts = {};
      var total = r ? r.total : 0;
      if (r && r.choices) r.choices.forEach(function (c) { counts[c.id] = c; });
      var list = el("ol", "choices");
      q.choices.forEach(function (c) {
        var rc = counts[c.id] || {};
        var n = rc.count || 0;
        var pct = total ? Math.round((n * 100) / total) : 0;
        var li = el("li", "choice");
        if (rc.correct === true || c.correct === true) li.classList.add("correct");
        if ((rc.correct === false || c.correct === false) && q.kind === "quiz") li.classList.add("wrong");
        li.appendChild(el("span", "token", c.token));
        li.appendChild(el("span", "c-text", c.text));
        var bar = el("span", "bar");
        var fill = el("span", "fill");
        fill.style.width = pct + "%";
        bar.appendChild(fill);
        li.appendChild(bar);
        li.appendChild(el("span", "pct", pct + "% (" + n + ")"));
        list.appendChild(li);
      });
      box.appendChild(list);
      box.appendChild(el("p", "total", total + (total === 1 ? " answer" : " answers")));
    } else if (q.kind === "rating") {
      var dist = (r && r.distribution) || [];
      var max = Math.max.apply(null, [1].concat(dist));
      var rl = el("ol", "rating");
      for (var v = 1; v <= (q.rating_max || dist.length); v++) {
        var cnt = dist[v - 1] || 0;
        var row = el("li", "rating-row");
        row.appendChild(el("span", "token", v));
        var b = el("span", "bar");
        var f = el("span", "fill");
        f.style.width = Math.round((cnt * 100) / max) + "%";
        b.appendChild(f);
        row.appendChild(b);
        row.appendChild(el("span", "pct", cnt));
        rl.appendChild(row);
      }
      box.appendChild(rl);
      if (r && r.average != null) box.appendChild(el("p", "total", "Average " + r.average + " / " + r.rating_max + " · " + r.total + " answers"));
    } else if (q.kind === "text" && q.description) {
      box.appendChild(el("p", "q-desc", q.description));
    }
    stage.appendChild(box);
  }

  function renderWordcloud(q) {
    var box = el("section", "item wordcloud");
    box.appendChild(el("h2", "q-text", q.text));
    var words = (meeting.results && meeting.results.words) || [];
    var max = words.reduce(function (a, w) { return Math.max(a, w.count); }, 1);
    var cloud = el("div", "cloud");
    words.slice(0, Math.max(settings.max_items, 30)).forEach(function (w, i) {
      var s = el("span", "word w" + (i % 5), w.word);
      s.style.fontSize = (0.8 + 2.2 * (w.count / max)).toFixed(2) + "em";
      s.title = w.count;
      cloud.appendChild(s);
    });
    box.appendChild(cloud);
    stage.appendChild(box);
  }

  function renderScoreboard() {
    var rows = (meeting.scoreboard || []).slice(0, Math.max(settings.max_items, 3));
    var box = el("section", "item scoreboard");
    box.appendChild(el("h2", "q-text", "Scoreboard"));
    var podium = el("div", "podium");
    [1, 0, 2].forEach(function (i) {
      var r = rows[i];
      if (!r) return;
      var step = el("div", "step step-" + r.rank);
      step.appendChild(el("div", "nick", r.nickname));
      step.appendChild(el("div", "score", r.score));
      step.appendChild(el("div", "rank", r.rank));
      podium.appendChild(step);
    });
    box.appendChild(podium);
    var list = el("ol", "ranks");
    rows.slice(3).forEach(function (r) {
      var li = el("li", "rank-row");
      li.appendChild(el("span", "rank", r.rank));
      li.appendChild(el("span", "nick", r.nickname));
      li.appendChild(el("span", "score", r.score));
      list.appendChild(li);
    });
    box.appendChild(list);
    stage.appendChild(box);
  }

  // --- join card ----------------------------------------------------------------------------------
  function joinCard(join) {
    var code = document.getElementById("join-code");
    var url = document.getElementById("join-url");
    if (code) code.textContent = join.code;
    if (url) url.textContent = config.join_url.replace(/^https?:\/\//, "").replace(/\?.*$/, "");
  }

  // --- wire ---------------------------------------------------------------------------------------
  function onHello(frame) {
    window.chorusOverlay.hellos += 1;
    // After a reconnect the stylesheet may have changed meanwhile: fetch it again.
    if (frame.overlay) customCss(!!frame.overlay.custom_css, window.chorusOverlay.hellos > 1);
    // config.settings = saved settings + query-string overrides (rendered by the server).
    var st = frame.state || {};
    if (kind === "featured") { stage.textContent = ""; featuredSet(st.featured); }
    else if (kind === "ticker") {
      // After a reconnect: what was on screen comes back; what had run and left stays gone.
      var onScreen = Array.prototype.map.call(stage.querySelectorAll(".item:not(.anim-out)"), function (n) { return Number(n.dataset.id); });
      ticker.ids = ticker.ids.filter(function (id) { return onScreen.indexOf(id) === -1; });
      stage.textContent = "";
      tickerAdd(st.messages || []);
    }
    else if (kind === "question" || kind === "wordcloud" || kind === "scoreboard") meetingState(st.meeting);
    else if (kind === "joincard") joinCard(st.join);
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "hello": onHello(frame); break;
      case "featured.state": if (kind === "featured") featuredSet(frame); break;
      case "overlay.remove":
        if (kind === "featured") featuredRemove(frame.ids);
        else if (kind === "alerts") alertsRemove(frame.ids);
        else frame.ids.forEach(function (id) {
          var n = stage.querySelector('.item[data-id="' + Number(id) + '"]');
          if (n) n.remove();
        });
        break;
      case "ticker.messages": if (kind === "ticker") tickerAdd(frame.messages); break;
      case "chat.alert":
        if (kind === "alerts") frame.messages.forEach(function (m) { alertPush({ kind: m.kind, message_obj: m }); });
        break;
      case "alert": if (kind === "alerts") alertPush(frame); break;
      case "meeting.state": meetingState(frame); break;
      case "results": meetingResults(frame); break;
      case "overlay.settings":
        // Query-string overrides win over saved settings.
        var q = new URLSearchParams(location.search);
        Object.keys(frame.settings).forEach(function (k) { if (!q.has(k)) settings[k] = frame.settings[k]; });
        applySettings();
        customCss(!!frame.custom_css, true);
        if (kind === "featured") { renderFeatured(false); restartRotation(); }
        break;
      case "overlay.revoked":
        sock.stop();
        stage.textContent = "";
        body.dataset.conn = "revoked";
        break;
    }
  }

  applySettings();
  var sock = new ChorusSocket(config.ws_path, {
    onFrame: onFrame,
    onState: function (state, info) {
      if (body.dataset.conn !== "revoked") body.dataset.conn = state;
    },
  });
  // For debugging in OBS's "Interact" window, and for tests.
  window.chorusOverlay = { socket: sock, hellos: 0 };
  sock.start();
})();
