/* The agent console's live parts: queue waits, the conversation's new lines, replies with the
   compliance guard's answer, canned replies and the typing signal. Plain JavaScript. */
(function () {
  "use strict";
  var csrf = document.body.dataset.csrf || "";
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Accept": "application/json" },
      body: JSON.stringify(body || {}),
    });
  }

  // The queue: waits count up every second; the list itself refreshes every 5 seconds.
  var queue = document.getElementById("queue");
  if (queue) {
    var minutes = JSON.parse(queue.dataset.minutes || '"{n} min"');
    var seconds = JSON.parse(queue.dataset.seconds || '"{n} s"');
    var started = Date.now();
    setInterval(function () {
      var extra = Math.floor((Date.now() - started) / 1000);
      Array.prototype.forEach.call(queue.querySelectorAll(".wait"), function (cell) {
        var total = Number(cell.dataset.wait) + extra;
        cell.textContent = minutes.replace("{n}", Math.floor(total / 60)) + " " + seconds.replace("{n}", total % 60);
      });
    }, 1000);
    setInterval(function () {
      fetch("/api/queue", { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (items) {
          if (!items) return;
          var shown = Array.prototype.map.call(queue.querySelectorAll("tr[data-ticket]"), function (tr) { return tr.dataset.ticket + "|" + tr.cells[7].textContent; });
          var now = items.map(function (i) { return i.ticket_id + "|" + (i.assigned_to || ""); });
          var changed = shown.length !== now.length || shown.some(function (s, k) { return s.split("|")[0] !== now[k].split("|")[0]; });
          if (changed) window.location.reload();
        }).catch(function () {});
    }, 5000);
  }

  // One ticket: new lines every 1.5 seconds, replies, canned replies, typing.
  var ticket = document.getElementById("ticket");
  if (!ticket) return;
  var id = ticket.dataset.ticket;
  var words = JSON.parse(ticket.dataset.words || "{}");
  var last = Number(ticket.dataset.lastSeq || 0);
  var log = document.getElementById("log");
  log.scrollTop = log.scrollHeight;
  function addLine(line) {
    if (line.seq <= last) return;
    last = line.seq;
    var row = document.createElement("div");
    row.className = "line " + line.kind;
    row.dataset.seq = String(line.seq);
    var time = document.createElement("span"); time.className = "time"; time.textContent = line.at.slice(5, 16).replace("T", " ");
    var who = document.createElement("span"); who.className = "who"; who.textContent = ((words.kinds || {})[line.kind] || line.kind) + (line.status ? ": " + ((words.statuses || {})[line.status] || line.status) : "");
    var text = document.createElement("span"); text.className = "text"; text.textContent = line.text;
    row.appendChild(time); row.appendChild(document.createTextNode(" ")); row.appendChild(who);
    row.appendChild(document.createTextNode(" ")); row.appendChild(text);
    log.appendChild(row);
    log.scrollTop = log.scrollHeight;
  }
  function fetchNew() {
    return fetch("/api/tickets/" + encodeURIComponent(id) + "/lines?after=" + last, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) data.lines.forEach(addLine); })
      .catch(function () {});
  }
  function loop() { fetchNew().then(function () { setTimeout(loop, 1500); }); }
  setTimeout(loop, 1500);

  var form = document.getElementById("reply");
  if (!form) return;
  var box = document.getElementById("reply-text");
  var status = document.getElementById("reply-status");
  var canned = document.getElementById("canned");
  canned.addEventListener("change", function () { if (canned.value) { box.value = canned.value; box.focus(); } });
  var lastTyping = 0;
  box.addEventListener("input", function () {
    if (Date.now() - lastTyping > 3000) { lastTyping = Date.now(); post("/tickets/" + encodeURIComponent(id) + "/typing").catch(function () {}); }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = box.value;
    if (!text.trim()) return;
    status.className = ""; status.textContent = "…";
    post("/tickets/" + encodeURIComponent(id) + "/reply", { text: text }).then(function (r) {
      return r.json().then(function (body) { return { status: r.status, body: body }; });
    }).then(function (answer) {
      if (answer.status === 200) { box.value = ""; status.textContent = words.sent; fetchNew(); return; }
      status.className = "blocked";
      status.textContent = answer.body.blocked ? words.blocked + " " + answer.body.blocked.join(" ") : (answer.body.error || "error");
    }).catch(function () { status.className = "blocked"; status.textContent = "network error"; });
  });
  box.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); form.requestSubmit(); }
  });
})();
