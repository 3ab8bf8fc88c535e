/* The call page: stereo player with solo buttons, the waveform of both channels, and the
 * transcript following playback. No framework, no build step.
 *
 * Audio graph (built at the first Play, a user gesture, as browsers require):
 *   <audio> → MediaElementSource → ChannelSplitter ─ left  → agent GainNode ─┐
 *                                                  └ right → caller GainNode ─┴→ ChannelMerger → out
 * "Agent only" / "Caller only" silence the other side and send the soloed one to both ears.
 *
 * Transcript text is only ever handled as text (textContent, createTextNode), never as HTML.
 */
(function () {
  "use strict";

  var root = document.getElementById("call-page");
  var audio = document.getElementById("call-audio");
  var turnsList = document.getElementById("turns");
  var turns = turnsList ? Array.prototype.slice.call(turnsList.querySelectorAll(".turn")) : [];
  var turnStarts = turns.map(function (li) { return parseFloat(li.dataset.start) || 0; });

  function clock(seconds) {
    var whole = Math.max(0, Math.floor(seconds || 0));
    var h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  function duration() {
    if (audio && isFinite(audio.duration) && audio.duration > 0) { return audio.duration; }
    return audio ? parseFloat(audio.dataset.seconds) || 0 : 0;
  }

  function seek(seconds) {
    if (!audio) { return; }
    var limit = duration();
    audio.currentTime = Math.max(0, limit ? Math.min(seconds, limit) : seconds);
    update();
  }

  // --- player ---------------------------------------------------------------------------------
  var graph = null;
  var mode = "both";

  function buildGraph() {
    if (graph || !audio) { return graph; }
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return null; }
    var context = new Context();
    var source = context.createMediaElementSource(audio);
    var splitter = context.createChannelSplitter(2);
    var merger = context.createChannelMerger(2);
    var agent = context.createGain();
    var caller = context.createGain();
    source.connect(splitter);
    splitter.connect(agent, 0);
    splitter.connect(caller, 1);
    merger.connect(context.destination);
    graph = { context: context, agent: agent, caller: caller, merger: merger };
    route();
    return graph;
  }

  function route() {
    if (!graph) { return; }
    var agent = graph.agent, caller = graph.caller, merger = graph.merger;
    agent.disconnect();
    caller.disconnect();
    agent.gain.value = mode === "caller" ? 0 : 1;
    caller.gain.value = mode === "agent" ? 0 : 1;
    agent.connect(merger, 0, 0);
    caller.connect(merger, 0, 1);
    if (mode === "agent") { agent.connect(merger, 0, 1); }
    if (mode === "caller") { caller.connect(merger, 0, 0); }
    var player = document.getElementById("player-controls");
    player.dataset.agentGain = String(agent.gain.value);
    player.dataset.callerGain = String(caller.gain.value);
  }

  function setMode(next) {
    mode = next;
    document.querySelectorAll(".solo-button").forEach(function (button) {
      button.setAttribute("aria-pressed", button.dataset.solo === mode ? "true" : "false");
    });
    var player = document.getElementById("player-controls");
    player.dataset.mode = mode;
    route();
  }

  function togglePlay() {
    if (!audio) { return; }
    if (audio.paused) {
      var built = buildGraph();
      if (built && built.context.state === "suspended") { built.context.resume(); }
      var playing = audio.play();
      if (playing && playing.catch) {
        playing.catch(function (error) { status("Playback failed: " + error.message); });
      }
    } else {
      audio.pause();
    }
  }

  function status(text) {
    var element = document.getElementById("waveform-status");
    if (element) { element.textContent = text; }
  }

  // --- waveform -------------------------------------------------------------------------------
  var canvas = document.getElementById("waveform");
  var peaks = null;

  function draw() {
    if (!canvas) { return; }
    var ratio = window.devicePixelRatio || 1;
    var width = Math.max(1, Math.round(canvas.clientWidth * ratio));
    var height = Math.max(1, Math.round(canvas.clientHeight * ratio));
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    var g = canvas.getContext("2d");
    g.clearRect(0, 0, width, height);
    var lane = height / 2;
    var total = duration();
    var played = total ? (audio.currentTime / total) * width : 0;
    if (peaks) {
      drawLane(g, peaks.agent, 0, lane, width, played, "#0a6cf1", "#9cc3fb");
      drawLane(g, peaks.caller, lane, lane, width, played, "#b54708", "#f7c59f");
    }
    g.fillStyle = "#dfe3ea";
    g.fillRect(0, lane, width, Math.max(1, ratio));
    g.fillStyle = "#b42318";
    g.fillRect(Math.min(played, width - 2 * ratio), 0, 2 * ratio, height);
  }

  function drawLane(g, pairs, top, laneHeight, width, played, playedColour, restColour) {
    var buckets = pairs.length / 2;
    if (!buckets) { return; }
    var middle = top + laneHeight / 2;
    var half = laneHeight / 2 - 2;
    for (var x = 0; x < width; x++) {
      var first = Math.floor((x / width) * buckets);
      var last = Math.max(first + 1, Math.floor(((x + 1) / width) * buckets));
      var low = 0, high = 0;
      for (var b = first; b < last && b < buckets; b++) {
        if (pairs[2 * b] < low) { low = pairs[2 * b]; }
        if (pairs[2 * b + 1] > high) { high = pairs[2 * b + 1]; }
      }
      g.fillStyle = x < played ? playedColour : restColour;
      var y1 = middle - (high / 127) * half;
      var y2 = middle - (low / 127) * half;
      g.fillRect(x, y1, 1, Math.max(1, y2 - y1));
    }
  }

  function loadPeaks() {
    if (!canvas) { return; }
    status("Loading the waveform…");
    fetch(root.dataset.peaksUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status === 404 ? "not analysed yet" : "HTTP " + response.status); }
        return response.json();
      })
      .then(function (payload) {
        peaks = payload;
        status("");
        draw();
      })
      .catch(function (error) {
        status("Waveform not available (" + error.message + ").");
        draw();
      });
  }

  function seekFromPointer(event) {
    var box = canvas.getBoundingClientRect();
    var fraction = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    seek(fraction * duration());
  }

  function waveformKeys(event) {
    var steps = { ArrowLeft: -5, ArrowRight: 5, ArrowDown: -5, ArrowUp: 5, PageDown: -30, PageUp: 30 };
    if (event.key in steps) {
      seek(audio.currentTime + steps[event.key]);
    } else if (event.key === "Home") {
      seek(0);
    } else if (event.key === "End") {
      seek(duration());
    } else if (event.key === " " || event.key === "Enter") {
      togglePlay();
    } else {
      return;
    }
    event.preventDefault();
  }

  // --- transcript -----------------------------------------------------------------------------
  var current = -1;

  function currentTurnAt(seconds) {
    var index = -1;
    for (var i = 0; i < turnStarts.length && turnStarts[i] <= seconds + 0.05; i++) { index = i; }
    return index;
  }

  function highlight(index) {
    if (index === current) { return; }
    if (current >= 0) {
      turns[current].classList.remove("current");
      turns[current].removeAttribute("aria-current");
    }
    current = index;
    if (index < 0) { return; }
    var li = turns[index];
    li.classList.add("current");
    li.setAttribute("aria-current", "true");
    var box = turnsList;
    if (li.offsetTop < box.scrollTop || li.offsetTop + li.offsetHeight > box.scrollTop + box.clientHeight) {
      box.scrollTop = li.offsetTop - box.clientHeight / 3;
    }
  }

  var originals = turns.map(function (li) { return li.querySelector(".turn-text").textContent; });

  function search(query) {
    var needle = query.trim().toLowerCase();
    var matches = 0, matchedTurns = 0;
    turns.forEach(function (li, index) {
      var element = li.querySelector(".turn-text");
      var text = originals[index];
      var fragment = document.createDocumentFragment();
      var lower = text.toLowerCase();
      var found = 0;
      if (needle && lower.length === text.length) {
        var from = 0, at;
        while ((at = lower.indexOf(needle, from)) !== -1) {
          fragment.appendChild(document.createTextNode(text.slice(from, at)));
          var mark = document.createElement("mark");
          mark.textContent = text.slice(at, at + needle.length);
          fragment.appendChild(mark);
          from = at + needle.length;
          found++;
        }
        fragment.appendChild(document.createTextNode(text.slice(from)));
      } else {
        if (needle && lower.indexOf(needle) !== -1) { found = 1; }
        fragment.appendChild(document.createTextNode(text));
      }
      element.replaceChildren(fragment);
      li.classList.toggle("match", found > 0);
      matches += found;
      if (found) { matchedTurns++; }
    });
    var statusElement = document.getElementById("search-status");
    statusElement.textContent = needle
      ? matches + (matches === 1 ? " match" : " matches") + " in " + matchedTurns + (matchedTurns === 1 ? " turn" : " turns")
      : "";
  }

  // --- wiring ---------------------------------------------------------------------------------
  var frame = null;

  function update() {
    if (!audio) { return; }
    var time = audio.currentTime;
    var total = duration();
    var timeElement = document.getElementById("play-time");
    if (timeElement) { timeElement.textContent = clock(time) + " / " + clock(total); }
    if (canvas) {
      canvas.setAttribute("aria-valuenow", String(Math.round(time)));
      canvas.setAttribute("aria-valuemax", String(Math.round(total)));
      canvas.setAttribute("aria-valuetext", clock(time) + " of " + clock(total));
    }
    highlight(currentTurnAt(time));
    draw();
  }

  function animate() {
    update();
    frame = audio.paused ? null : window.requestAnimationFrame(animate);
  }

  if (audio) {
    audio.removeAttribute("controls");
    var controls = document.getElementById("player-controls");
    controls.hidden = false;
    controls.dataset.mode = mode;
    var playButton = document.getElementById("play-toggle");
    playButton.addEventListener("click", togglePlay);
    document.getElementById("skip-back").addEventListener("click", function () { seek(audio.currentTime - 5); });
    document.getElementById("skip-forward").addEventListener("click", function () { seek(audio.currentTime + 5); });
    document.querySelectorAll(".solo-button").forEach(function (button) {
      button.addEventListener("click", function () { setMode(button.dataset.solo); });
    });
    audio.addEventListener("play", function () {
      playButton.textContent = "Pause";
      if (frame === null) { frame = window.requestAnimationFrame(animate); }
    });
    audio.addEventListener("pause", function () {
      playButton.textContent = "Play";
      update();
    });
    audio.addEventListener("timeupdate", update);
    audio.addEventListener("seeked", update);
    audio.addEventListener("loadedmetadata", update);
    audio.addEventListener("error", function () {
      status("The recording could not be loaded.");
    });
  }

  if (canvas) {
    canvas.addEventListener("click", seekFromPointer);
    canvas.addEventListener("keydown", waveformKeys);
    window.addEventListener("resize", draw);
    loadPeaks();
  }

  turns.forEach(function (li, index) {
    li.querySelector(".turn-seek").addEventListener("click", function (event) {
      event.stopPropagation();
      seek(turnStarts[index]);
    });
    li.addEventListener("click", function () {
      if (window.getSelection && String(window.getSelection())) { return; }  // selecting text
      seek(turnStarts[index]);
    });
  });

  var searchBox = document.getElementById("transcript-search");
  if (searchBox) {
    searchBox.addEventListener("input", function () { search(searchBox.value); });
    searchBox.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") { return; }
      event.preventDefault();
      var next = turns.findIndex(function (li, index) { return index > current && li.classList.contains("match"); });
      if (next === -1) { next = turns.findIndex(function (li) { return li.classList.contains("match"); }); }
      if (next !== -1) {
        seek(turnStarts[next]);
        turns[next].querySelector(".turn-seek").focus();
      }
    });
  }

  update();

  // A link from the calls list's matching line (…/#t=<seconds>) opens the call at that moment:
  // the player is there, and the turn said then is highlighted and focused.
  function openAtHash() {
    var match = /^#t=(\d{1,6}(?:\.\d{1,3})?)$/.exec(window.location.hash);
    if (!match) { return; }
    var seconds = parseFloat(match[1]);
    seek(seconds);
    var index = currentTurnAt(seconds);
    highlight(index);
    if (index >= 0) { turns[index].querySelector(".turn-seek").focus(); }
  }
  openAtHash();
  window.addEventListener("hashchange", openAtHash);
})();
