/* Display manager: reorder (SortableJS), pin, remove, limit, rotation, capture delay — per meeting.
 * Chat text is shown with textContent only. The list follows the moderation socket: when a
 * moderator selects/unselects a message elsewhere, or the platform deletes one, it refreshes.
 * Hosts cannot use that socket (moderators only): their list polls the state endpoint. */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = script.dataset.base;
  var list = document.getElementById("display-list");
  var errorBox = document.getElementById("display-error");
  var emptyBox = document.getElementById("display-empty");
  var form = document.getElementById("display-settings");
  var status = document.getElementById("settings-status");
  var csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  var dragging = false;
  var heldTimer = null;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  }

  function showError(msg) {
    errorBox.textContent = msg || "";
    errorBox.hidden = !msg;
  }

  function post(path, data) {
    return fetch(base + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(data),
    }).then(function (r) {
      return r.json().catch(function () { return { detail: "HTTP " + r.status }; }).then(function (body) {
        if (!r.ok) throw new Error(body.detail || "HTTP " + r.status);
        return body;
      });
    }).then(function (state) { showError(""); render(state); return state; }, function (e) { showError(e.message); refresh(); throw e; });
  }

  function render(state) {
    if (dragging) return;
    list.textContent = "";
    emptyBox.hidden = state.messages.length > 0;
    state.messages.forEach(function (m) {
      var li = el("li", "display-item");
      li.dataset.id = m.id;
      if (m.pinned) li.classList.add("pinned");
      if (m.held) li.classList.add("held");
      li.appendChild(el("span", "handle", "⠿")).title = "Drag to reorder";
      var main = el("div", "body");
      main.appendChild(el("span", "plat", m.platform));
      main.appendChild(el("span", "who", m.author.display_name || m.author.login));
      if (m.held) main.appendChild(el("span", "state", "held (capture delay)"));
      if (m.platform_state !== "visible") main.appendChild(el("span", "state", m.platform_state));
      main.appendChild(el("div", "text", m.text));
      li.appendChild(main);
      var actions = el("div", "actions");
      var pin = el("button", "pin", m.pinned ? "Unpin" : "Pin");
      pin.type = "button";
      pin.addEventListener("click", function () { post("messages/" + m.id + "/", { pinned: !m.pinned }).catch(function () {}); });
      var rm = el("button", "remove", "Remove");
      rm.type = "button";
      rm.addEventListener("click", function () { post("messages/" + m.id + "/", { remove: true }).catch(function () {}); });
      actions.appendChild(pin);
      actions.appendChild(rm);
      li.appendChild(actions);
      list.appendChild(li);
    });
    // Held messages (capture delay) go on air by themselves: show it when they do.
    clearTimeout(heldTimer);
    if (state.messages.some(function (m) { return m.held; })) heldTimer = setTimeout(refresh, 1000);
    var s = state.settings;
    if (document.activeElement === null || !form.contains(document.activeElement)) {
      form.rotation_seconds.value = s.rotation_seconds;
      form.display_limit.value = s.display_limit;
      form.capture_delay_seconds.value = s.capture_delay_seconds;
    }
  }

  var refreshTimer = null;
  function refresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(function () {
      fetch(base + "state/", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(render).catch(function () {});
    }, 150);
  }

  Sortable.create(list, {
    handle: ".handle",
    animation: 120,
    forceFallback: true,
    onStart: function () { dragging = true; },
    onEnd: function (ev) {
      dragging = false;
      if (ev.oldIndex === ev.newIndex) return;
      var order = Array.prototype.map.call(list.children, function (li) { return Number(li.dataset.id); });
      post("reorder/", { order: order }).catch(function () {});
    },
  });

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    status.textContent = "Saving…";
    post("settings/", {
      rotation_seconds: Number(form.rotation_seconds.value),
      display_limit: Number(form.display_limit.value),
      capture_delay_seconds: Number(form.capture_delay_seconds.value),
    }).then(function () { status.textContent = "Saved"; }, function () { status.textContent = ""; });
  });

  render(JSON.parse(document.getElementById("display-initial").textContent));
  // Hosts (not moderators) may not use /ws/moderation/: their page polls the state every 3 s,
  // as does a moderator's while the socket is down.
  var POLL_MS = 3000;
  var pollTimer = null;
  function polling(on) {
    list.dataset.live = on ? "poll" : "socket";
    if (on && !pollTimer) pollTimer = setInterval(refresh, POLL_MS);
    if (!on && pollTimer) { clearInterval(pollTimer); pollTimer = null; }
  }
  if (script.dataset.live === "socket") {
    var sock = new ChorusSocket("/ws/moderation/", {
      onFrame: function (f) {
        if (f.type === "message.updated" || f.type === "chat.moderation" || f.type === "display.reordered" || f.type === "hello") refresh();
      },
      onState: function (state) { polling(state !== "open"); },
    });
    sock.start();
  } else {
    polling(true);
  }
})();
