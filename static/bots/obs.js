/* Live OBS connection status and saved clips (frames obs.status and clip.saved on /ws/moderation/). */
(function () {
  "use strict";
  var LABELS = { idle: "Idle", connecting: "Connecting", connected: "Connected", error: "Error" };
  var stateEl = document.getElementById("socket-state");
  var clips = document.getElementById("recent-clips");

  function onFrame(frame) {
    if (frame.type === "obs.status") {
      var c = frame.connection;
      var row = document.querySelector('tr[data-connection="' + Number(c.id) + '"]');
      if (!row) return;
      var status = row.querySelector(".status");
      status.textContent = LABELS[c.status] || c.status;
      status.className = "status status-" + String(c.status).replace(/[^a-z]/g, "");
      row.querySelector(".reason").textContent = c.reason || "";
      row.querySelector(".since").textContent = new Date().toLocaleString();
    } else if (frame.type === "clip.saved") {
      var li = document.createElement("li");
      li.textContent = frame.clip.author + " · " + frame.clip.keyword + " · " + frame.clip.path;
      clips.prepend(li);
    }
  }

  var sock = new ChorusSocket("/ws/moderation/", {
    onFrame: onFrame,
    onState: function (state) { stateEl.textContent = state === "open" ? "" : "Live updates: " + state; },
  });
  sock.start();
})();
