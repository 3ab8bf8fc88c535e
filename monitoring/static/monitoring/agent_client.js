/* The agent iFrame: polls the call's new transcript lines every 2 s with the page's key
   (no session, no socket: robust inside RingCX's frame). Text only via textContent. */
(function () {
  "use strict";
  var root = document.getElementById("agent-client");
  if (!root) { return; }
  var list = document.getElementById("transcript");
  var statusLine = document.getElementById("client-status");
  var after = Number(root.dataset.after) || 0;
  var state = root.dataset.state;
  var callId = root.dataset.callId;
  var POLL_MS = 2000;
  var UNKNOWN_GIVE_UP_MS = 10 * 60 * 1000; // a call that never streams: stop asking
  var began = Date.now();
  var failures = 0;

  function add(line) {
    var li = document.createElement("li");
    li.className = "line " + (line.speaker === "agent" ? "agent" : "caller");
    li.dataset.start = String(line.start);
    var who = document.createElement("span");
    who.className = "speaker";
    who.textContent = line.speaker === "agent" ? "Agent" : "Caller";
    var said = document.createElement("span");
    said.className = "text";
    said.textContent = line.text;
    li.append(who, " ", said);
    var next = null;
    for (var node = list.lastElementChild; node; node = node.previousElementSibling) {
      if (parseFloat(node.dataset.start) > line.start) { next = node; } else { break; }
    }
    list.insertBefore(li, next);
    li.scrollIntoView({ block: "end" });
  }

  function say(text) { statusLine.textContent = text; }

  function poll() {
    var url = root.dataset.linesUrl + "?" + new URLSearchParams({ callId: callId, key: root.dataset.key, after: String(after) });
    fetch(url, { credentials: "omit", cache: "no-store" })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        if (!answer.ok) { say(answer.body.error || "The transcript cannot be shown."); return; }
        failures = 0;
        answer.body.lines.forEach(add);
        after = answer.body.after;
        state = answer.body.state;
        if (state === "live") {
          say("Live transcript of call " + callId);
        } else if (state === "ended") {
          say("Call " + callId + " has ended.");
          return;
        } else if (Date.now() - began > UNKNOWN_GIVE_UP_MS) {
          say("Call " + callId + " did not stream to ringadmin. Reload to look again.");
          return;
        }
        setTimeout(poll, POLL_MS);
      })
      .catch(function () {
        failures += 1;
        say("Connection lost; retrying…");
        setTimeout(poll, Math.min(POLL_MS * Math.pow(2, failures), 30000));
      });
  }

  if (state !== "ended") { setTimeout(poll, POLL_MS); }
})();
