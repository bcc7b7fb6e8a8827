/* Chorus websocket client: the one wire format of every Chorus socket (consumers/base.py).
 *
 *   const sock = new ChorusSocket("/ws/moderation/", {
 *     onFrame(frame) {},          // every server frame except ack/error answers to our commands
 *     onState(state, info) {},    // "connecting" | "open" | "reconnecting" | "closed"
 *     onError(frame) {},          // error frames that answer no pending command
 *   });
 *   sock.start();
 *   const ack = await sock.send("messages.query", {limit: 50});  // rejects with the error frame
 *
 * Reconnects after a drop with exponential backoff + jitter (0.5 s doubling up to 30 s), resets
 * the backoff once the server said hello, and sends a ping every 20 s: a ping left unanswered for
 * 10 s closes the socket so a silently dead connection is noticed. Close codes 4401 (not logged
 * in) and 4403 (forbidden) stop retrying: reconnecting cannot fix them.
 * Plain JS, no dependencies, no build step.
 */
(function (global) {
  "use strict";

  var FINAL_CODES = { 4401: "You are not logged in (any more). Log in again.", 4403: "You are not allowed to use this page." };

  function ChorusSocket(path, options) {
    options = options || {};
    this.path = path;
    this.onFrame = options.onFrame || function () {};
    this.onState = options.onState || function () {};
    this.onError = options.onError || function () {};
    this.initialDelay = options.initialDelay || 500;
    this.maxDelay = options.maxDelay || 30000;
    this.pingEvery = options.pingEvery || 20000;
    this.ackTimeout = options.ackTimeout || 10000;
    this.ws = null;
    this.attempt = 0;
    this.nextRef = 1;
    this.pending = new Map();
    this.retryTimer = null;
    this.pingTimer = null;
    this.stopped = false;
    this.state = "idle";
    var self = this;
    global.addEventListener("online", function () { self.reconnectNow(); });
  }

  ChorusSocket.prototype.url = function () {
    var scheme = global.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + global.location.host + this.path;
  };

  ChorusSocket.prototype.setState = function (state, info) {
    this.state = state;
    try { this.onState(state, info || {}); } catch (e) { console.error(e); }
  };

  ChorusSocket.prototype.start = function () {
    this.stopped = false;
    this.open();
  };

  ChorusSocket.prototype.stop = function () {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close(1000);
  };

  ChorusSocket.prototype.reconnectNow = function () {
    if (this.stopped || this.state !== "reconnecting") return;
    clearTimeout(this.retryTimer);
    this.open();
  };

  ChorusSocket.prototype.open = function () {
    var self = this;
    this.setState("connecting", { attempt: this.attempt });
    var ws;
    try {
      ws = new WebSocket(this.url());
    } catch (e) {
      this.scheduleRetry(null);
      return;
    }
    this.ws = ws;
    ws.onmessage = function (ev) { self.handle(ev.data); };
    ws.onclose = function (ev) {
      if (self.ws !== ws) return;
      self.ws = null;
      clearInterval(self.pingTimer);
      self.failPending("disconnected", "the connection was lost before the server answered");
      if (self.stopped) { self.setState("closed", { code: ev.code }); return; }
      if (FINAL_CODES[ev.code]) {
        self.setState("closed", { code: ev.code, message: FINAL_CODES[ev.code] });
        return;
      }
      self.scheduleRetry(ev.code);
    };
  };

  ChorusSocket.prototype.scheduleRetry = function (code) {
    var self = this;
    this.attempt += 1;
    var ceiling = Math.min(this.maxDelay, this.initialDelay * Math.pow(2, this.attempt - 1));
    var delay = Math.round(ceiling / 2 + Math.random() * ceiling / 2);
    this.setState("reconnecting", { attempt: this.attempt, delay: delay, code: code, at: Date.now() + delay });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(function () { self.open(); }, delay);
  };

  ChorusSocket.prototype.handle = function (text) {
    var frame;
    try { frame = JSON.parse(text); } catch (e) { console.error("bad frame from server", e); return; }
    if (!frame || typeof frame.type !== "string") return;
    if (frame.type === "hello") {
      this.attempt = 0;
      this.startPings();
      this.setState("open", { hello: frame });
    }
    if ((frame.type === "ack" || frame.type === "error") && frame.ref != null && this.pending.has(frame.ref)) {
      var p = this.pending.get(frame.ref);
      this.pending.delete(frame.ref);
      clearTimeout(p.timer);
      if (frame.type === "ack") p.resolve(frame); else p.reject(frame);
      return;
    }
    if (frame.type === "error") {
      try { this.onError(frame); } catch (e) { console.error(e); }
      return;
    }
    if (frame.type === "ack") return;
    try { this.onFrame(frame); } catch (e) { console.error("frame handler failed", frame.type, e); }
  };

  ChorusSocket.prototype.startPings = function () {
    var self = this;
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(function () {
      self.send("ping", {}).catch(function (err) {
        if (err && err.code === "timeout" && self.ws) self.ws.close(4000);
      });
    }, this.pingEvery);
  };

  /* Send a command; resolves with its ack frame, rejects with its error frame
   * ({code, message, details?}), or {code: "disconnected"|"timeout"}. */
  ChorusSocket.prototype.send = function (type, fields) {
    var self = this;
    return new Promise(function (resolve, reject) {
      if (!self.ws || self.ws.readyState !== WebSocket.OPEN) {
        reject({ code: "disconnected", message: "not connected to the server; retrying" });
        return;
      }
      var ref = "c" + self.nextRef++;
      var frame = Object.assign({}, fields || {}, { type: type, ref: ref });
      var timer = setTimeout(function () {
        if (self.pending.delete(ref)) reject({ code: "timeout", message: "the server did not answer " + type });
      }, self.ackTimeout);
      self.pending.set(ref, { resolve: resolve, reject: reject, timer: timer });
      self.ws.send(JSON.stringify(frame));
    });
  };

  ChorusSocket.prototype.failPending = function (code, message) {
    this.pending.forEach(function (p) {
      clearTimeout(p.timer);
      p.reject({ code: code, message: message });
    });
    this.pending.clear();
  };

  global.ChorusSocket = ChorusSocket;
})(window);
