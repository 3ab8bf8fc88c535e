/* Shared by the live pages: sockets that reconnect, durations, level meters. Text from the
   server is only ever set with textContent. */
(function () {
  "use strict";

  function socketUrl(path) {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  }

  function formatDuration(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var rest = String(s % 60).padStart(2, "0");
    return h ? h + ":" + String(m).padStart(2, "0") + ":" + rest : m + ":" + rest;
  }

  // A level in dBFS on a <meter> (-60 … 0); unknown reads as silence.
  function setMeter(meter, dbfs) {
    var value = typeof dbfs === "number" && isFinite(dbfs) ? Math.max(-60, Math.min(0, dbfs)) : -60;
    meter.value = value;
    var words = Math.round(value) + " dBFS";
    meter.textContent = words;
    meter.setAttribute("aria-valuetext", words);
    meter.title = (meter.getAttribute("aria-label") || "") + ": " + words;
  }

  // Open a socket; reopen it with growing pauses when it drops, except when refused (4403).
  function liveSocket(path, handlers) {
    var pause = 1000;
    function open() {
      var ws = new WebSocket(socketUrl(path));
      ws.onopen = function () { pause = 1000; handlers.status("Live", false); };
      ws.onmessage = function (event) {
        var message;
        try { message = JSON.parse(event.data); } catch (e) { return; }
        handlers.message(message);
      };
      ws.onclose = function (event) {
        if (event.code === 4403) {
          handlers.status("You may not watch these calls (sign in again, or ask an admin).", true);
          return;
        }
        if (handlers.closed && handlers.closed()) { return; }
        handlers.status("Connection lost; reconnecting…", true);
        setTimeout(open, pause);
        pause = Math.min(pause * 2, 15000);
      };
    }
    open();
  }

  // Server time minus this browser's: durations tick right whatever the browser's clock says.
  function clockOffset(serverIso) {
    var server = Date.parse(serverIso);
    return isNaN(server) ? 0 : server - Date.now();
  }

  window.ringadminLive = {
    formatDuration: formatDuration,
    setMeter: setMeter,
    liveSocket: liveSocket,
    clockOffset: clockOffset,
  };
})();
