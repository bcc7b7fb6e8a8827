/* Host dashboard bots panel: revolution counters, alerts (video), enable/disable toggles.
 * Socket /ws/bots/<meeting>/ (docs/protocol.md, channel "bots"). DOM built with textContent only. */
(function () {
  "use strict";
  var root = document.getElementById("bots-panel");
  if (!root || typeof ChorusSocket === "undefined") return;
  var meeting = Number(root.dataset.meeting);
  var el = function (id) { return document.getElementById(id); };
  var counters = {};
  var sock;

  function toggle(kind, extra, enabled) {
    var args = Object.assign({ kind: kind, enabled: enabled }, extra);
    sock.send("bots.set_enabled", args).then(function (ack) { render(ack.bots); })
      .catch(function (err) { el("bots-state").textContent = "Error: " + (err.message || err.code || err); });
  }

  function item(text, enabled, onChange, note) {
    var li = document.createElement("li");
    var label = document.createElement("label");
    var box = document.createElement("input");
    box.type = "checkbox";
    box.checked = !!enabled;
    box.addEventListener("change", function () { onChange(box.checked); });
    label.appendChild(box);
    label.appendChild(document.createTextNode(" " + text));
    li.appendChild(label);
    if (note) {
      var small = document.createElement("span");
      small.className = "muted";
      small.textContent = " " + note;
      li.appendChild(small);
    }
    return li;
  }

  function render(state) {
    el("bots-enabled").checked = !!state.enabled;
    var revs = el("bots-revolutions");
    revs.replaceChildren();
    state.revolutions.forEach(function (r) {
      var wrap = document.createElement("div");
      wrap.className = "revolution";
      var label = document.createElement("span");
      label.textContent = state.prefix + r.command + " ";
      var meter = document.createElement("meter");
      meter.min = 0; meter.max = r.threshold; meter.value = (counters[r.id] || 0);
      meter.id = "bots-rev-" + r.id;
      var count = document.createElement("span");
      count.id = "bots-rev-count-" + r.id;
      count.textContent = " " + (counters[r.id] || 0) + " / " + r.threshold + " viewers";
      var box = document.createElement("input");
      box.type = "checkbox";
      box.checked = !!r.enabled;
      box.title = "enabled";
      box.addEventListener("change", function () { toggle("revolution", { id: r.id }, box.checked); });
      wrap.appendChild(box); wrap.appendChild(label); wrap.appendChild(meter); wrap.appendChild(count);
      revs.appendChild(wrap);
    });
    var timers = el("bots-timers");
    timers.replaceChildren();
    var groups = {};
    state.timers.forEach(function (t) {
      if (t.group) groups[t.group] = true;
      timers.appendChild(item(t.text, t.enabled, function (on) { toggle("timer", { id: t.id }, on); },
        "every " + t.interval_seconds + " s, ≥ " + t.min_lines + " lines" + (t.group ? " · " + t.group : "")));
    });
    Object.keys(groups).forEach(function (g) {
      var li = document.createElement("li");
      var on = document.createElement("button"); on.type = "button"; on.textContent = "Group " + g + ": on";
      on.addEventListener("click", function () { toggle("timer_group", { group: g }, true); });
      var off = document.createElement("button"); off.type = "button"; off.textContent = "off";
      off.addEventListener("click", function () { toggle("timer_group", { group: g }, false); });
      li.appendChild(on); li.appendChild(off);
      timers.appendChild(li);
    });
    var cmds = el("bots-commands");
    cmds.replaceChildren();
    state.commands.forEach(function (c) {
      cmds.appendChild(item(state.prefix + c.name + (c.aliases ? " (" + c.aliases + ")" : ""), c.enabled,
        function (on) { toggle("command", { id: c.id }, on); }, c.audience));
    });
  }

  function showAlert(frame) {
    var box = el("bots-alert");
    el("bots-alert-message").textContent = frame.message;
    var video = el("bots-alert-video");
    box.hidden = false;
    if (frame.video_url) {
      video.hidden = false;
      video.src = frame.video_url;
      video.play().catch(function () {});
      video.onended = function () { box.hidden = true; };
    } else {
      video.hidden = true;
      setTimeout(function () { box.hidden = true; }, 8000);
    }
  }

  el("bots-enabled").addEventListener("change", function (e) { toggle("bots", {}, e.target.checked); });
  sock = new ChorusSocket("/ws/bots/" + meeting + "/", {
    onFrame: function (frame) {
      if (frame.type === "hello") render(frame.bots);
      else if (frame.type === "bots.config") render(frame);
      else if (frame.type === "revolution.count") {
        counters[frame.revolution_id] = frame.count;
        var meter = el("bots-rev-" + frame.revolution_id);
        if (meter) meter.value = frame.count;
        var count = el("bots-rev-count-" + frame.revolution_id);
        if (count) count.textContent = " " + frame.count + " / " + frame.threshold + " viewers";
      } else if (frame.type === "alert") showAlert(frame);
    },
    onState: function (state) { el("bots-state").textContent = state === "open" ? "" : "Live updates: " + state; },
  });
  sock.start();
})();
