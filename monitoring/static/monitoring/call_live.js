/* /calls/<id>/live/: the transcript grows (a partial is replaced by its final), levels move;
   when the call stops the page becomes the call's page. */
(function () {
  "use strict";
  var live = window.ringadminLive;
  var root = document.getElementById("call-live");
  var list = document.getElementById("transcript");
  var empty = document.getElementById("transcript-empty");
  var statusLine = document.getElementById("live-status");
  var duration = document.getElementById("call-duration");
  var agentMeter = document.getElementById("level-agent");
  var callerMeter = document.getElementById("level-caller");
  var startedAt = Date.parse(root.dataset.startedAt);
  var offset = live.clockOffset(root.dataset.serverNow);
  var lines = new Map(); // "speaker:seq" → <li>
  var stopped = false;

  function tick() {
    if (!isNaN(startedAt) && !stopped) {
      duration.textContent = live.formatDuration((Date.now() + offset - startedAt) / 1000);
    }
  }
  setInterval(tick, 1000);
  tick();

  function place(li, start) {
    // in time order: before the first line that starts later
    li.dataset.start = String(start);
    var next = null;
    for (var node = list.firstElementChild; node; node = node.nextElementSibling) {
      if (node !== li && parseFloat(node.dataset.start) > start) { next = node; break; }
    }
    list.insertBefore(li, next);
  }

  function transcript(message) {
    if (typeof message.text !== "string" || !message.text) { return; }
    var key = message.speaker + ":" + message.seq;
    var li = lines.get(key);
    if (!li) {
      li = document.createElement("li");
      var who = document.createElement("span");
      who.className = "speaker";
      who.textContent = message.speaker === "agent" ? "Agent" : "Caller";
      var said = document.createElement("span");
      said.className = "text";
      li.append(who, " ", said);
      lines.set(key, li);
    }
    li.className = "line " + (message.speaker === "agent" ? "agent" : "caller") + (message.is_final ? "" : " partial");
    li.querySelector(".text").textContent = message.text;
    place(li, Number(message.start) || 0);
    empty.hidden = true;
  }

  live.liveSocket(root.dataset.socket, {
    status: function (text, bad) {
      statusLine.textContent = bad ? text : "Live";
      statusLine.classList.toggle("bad", bad);
    },
    closed: function () { return stopped; },
    message: function (message) {
      if (message.type === "transcript") {
        transcript(message);
      } else if (message.type === "call.progress") {
        live.setMeter(agentMeter, message.levels && message.levels.agent);
        live.setMeter(callerMeter, message.levels && message.levels.caller);
      } else if (message.type === "call.stopped") {
        stopped = true;
        statusLine.textContent = "The call has ended; opening its page…";
        location.assign(root.dataset.callPage);
      }
    },
  });
})();
