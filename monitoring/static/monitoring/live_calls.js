/* /calls/live/: rows appear, move and end as the live calls socket says. */
(function () {
  "use strict";
  var live = window.ringadminLive;
  var table = document.getElementById("live-calls");
  var tbody = table.querySelector("tbody");
  var empty = document.getElementById("live-empty");
  var statusLine = document.getElementById("live-status");
  var rows = new Map(); // call id → {row, startedAt, duration, agent, caller, line}
  var offset = 0; // server clock minus ours

  function cell(row, value) {
    var td = document.createElement("td");
    td.textContent = value === null || value === undefined || value === "" ? "—" : String(value);
    row.appendChild(td);
    return td;
  }

  function meter(label) {
    var m = document.createElement("meter");
    m.min = -60; m.max = 0; m.low = -45; m.high = -10; m.optimum = -20;
    m.setAttribute("aria-label", label);
    live.setMeter(m, null);
    return m;
  }

  function refreshEmpty() {
    empty.hidden = rows.size > 0;
    table.hidden = rows.size === 0;
  }

  function addCall(call) {
    if (rows.has(call.id)) { return; }
    var row = document.createElement("tr");
    row.dataset.callId = String(call.id);
    var agentLabel = "Agent " + (call.agent || "");
    cell(row, call.agent);
    cell(row, call.caller);
    cell(row, call.product);
    var durationCell = cell(row, "");
    var duration = document.createElement("time");
    durationCell.textContent = "";
    durationCell.appendChild(duration);
    var levels = cell(row, "");
    levels.textContent = "";
    levels.className = "levels";
    var agentMeter = meter("Agent level (" + agentLabel.trim() + ")");
    var callerMeter = meter("Caller level");
    var agentText = document.createElement("span");
    agentText.textContent = "Agent";
    var callerText = document.createElement("span");
    callerText.textContent = "Caller";
    levels.append(agentText, agentMeter, callerText, callerMeter);
    var line = cell(row, "");
    line.className = "latest-line";
    var linkCell = cell(row, "");
    linkCell.textContent = "";
    var link = document.createElement("a");
    link.href = call.live_url;
    link.textContent = "Watch";
    link.setAttribute("aria-label", "Watch call " + call.ringcx_call_id);
    linkCell.appendChild(link);
    tbody.appendChild(row);
    var entry = {
      row: row, startedAt: Date.parse(call.started_at), duration: duration,
      agent: agentMeter, caller: callerMeter, line: line,
    };
    rows.set(call.id, entry);
    tickOne(entry);
    refreshEmpty();
  }

  function removeCall(id) {
    var entry = rows.get(id);
    if (!entry) { return; }
    entry.row.remove();
    rows.delete(id);
    refreshEmpty();
  }

  function progress(update) {
    var entry = rows.get(update.id);
    if (!entry) { return; }
    live.setMeter(entry.agent, update.levels && update.levels.agent);
    live.setMeter(entry.caller, update.levels && update.levels.caller);
    entry.row.dataset.seconds = String(update.seconds);
    if (update.line && update.line.text) {
      entry.line.textContent = "";
      var who = document.createElement("span");
      who.className = "speaker";
      who.textContent = update.line.speaker === "agent" ? "Agent" : "Caller";
      var said = document.createElement("span");
      said.className = update.line.is_final ? "text" : "text partial";
      said.textContent = update.line.text;
      entry.line.append(who, " ", said);
    }
  }

  function tickOne(entry) {
    if (isNaN(entry.startedAt)) { return; }
    var seconds = (Date.now() + offset - entry.startedAt) / 1000;
    entry.duration.textContent = live.formatDuration(seconds);
  }

  setInterval(function () { rows.forEach(tickOne); }, 1000);

  live.liveSocket(table.dataset.socket, {
    status: function (text, bad) {
      statusLine.textContent = bad ? text : "Live: " + rows.size + " call" + (rows.size === 1 ? "" : "s") + " streaming";
      statusLine.classList.toggle("bad", bad);
    },
    message: function (message) {
      if (message.type === "calls.list") {
        offset = live.clockOffset(message.server_time);
        Array.from(rows.keys()).forEach(removeCall);
        message.calls.forEach(addCall);
      } else if (message.type === "call.started") {
        addCall(message.call);
      } else if (message.type === "calls.progress") {
        message.calls.forEach(progress);
      } else if (message.type === "call.stopped" || message.type === "call.hidden") {
        removeCall(message.id);
      }
      statusLine.textContent = "Live: " + rows.size + " call" + (rows.size === 1 ? "" : "s") + " streaming";
      statusLine.classList.remove("bad");
    },
  });
  refreshEmpty();
})();
