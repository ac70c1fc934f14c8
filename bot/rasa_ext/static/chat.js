/*
 * The in-app chat page. Plain JavaScript, no dependencies, served by the in-app channel.
 *
 * Identity: the app gives the customer's token in the URL fragment (#token=...) or with
 * window.postMessage({type: "auth", token}); it is sent only in the Authorization header and
 * kept only in memory. Without a token the visitor is anonymous, with a random id kept in
 * sessionStorage for this tab. Nothing personal is stored in the browser.
 *
 * Lines: every line the server stores has a sequence number. The page shows each number once,
 * in order, whether it came from the history, the live stream or a send's reply, and the
 * stream resumes after the last number it saw.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("chat-config").textContent);
  var base = config.base;
  var STRINGS = config.strings;
  var el = function (id) { return document.getElementById(id); };
  var log = el("log"), input = el("input"), form = el("composer"), help = el("input-help");
  var banner = el("banner"), typing = el("typing"), sendButton = el("send");

  var state = {
    language: sessionStorage.getItem("bankchat.language") || null,
    chosenLanguage: !!sessionStorage.getItem("bankchat.language"),
    token: null,
    sender: null,
    seen: {},            // seq -> element
    streamAfter: 0,      // the last number the stream or the history delivered
    streamAbort: null,
    streamGeneration: 0,
    retryDelay: 1000,
    authFailed: false,
    historyLoaded: false,
    ended: false,
    sending: false,
    typingTimer: null,
    queueTimer: null,
    agentSpoke: false,
  };

  // --- words -----------------------------------------------------------------------------
  function lang() { return state.language === "en" ? "en" : "zh"; }
  function t(key, vars) {
    var text = (STRINGS[lang()] || {})[key] || (STRINGS.zh || {})[key] || "";
    Object.keys(vars || {}).forEach(function (k) { text = text.split("{" + k + "}").join(String(vars[k])); });
    return text;
  }
  function applyLanguage() {
    document.documentElement.lang = lang() === "en" ? "en" : "zh-CN";
    document.title = t("title");
    el("title").textContent = t("title");
    var other = lang() === "en" ? "zh" : "en";
    var switcher = el("language");
    switcher.textContent = t("language_switch");
    switcher.setAttribute("aria-label", t("language_switch_label"));
    switcher.lang = other === "en" ? "en" : "zh-CN";
    el("end").textContent = t("end_chat");
    el("safety").textContent = t("safety_note");
    log.setAttribute("aria-label", t("log_label"));
    el("input-label").textContent = t("input_label");
    sendButton.textContent = t("send");
    el("rating-question").textContent = t("rating_question");
    el("rating-skip").textContent = t("rating_skip");
    el("new-chat").textContent = t("new_chat");
    renderRatingOptions();
    updatePlaceholder();
    Array.prototype.forEach.call(log.querySelectorAll(".line"), function (node) { relabel(node); });
  }
  function setLanguage(value, chosen) {
    if (value !== "zh" && value !== "en") return;
    if (state.chosenLanguage && !chosen) return; // the customer's own choice stands
    state.language = value;
    if (chosen) {
      state.chosenLanguage = true;
      sessionStorage.setItem("bankchat.language", value);
    }
    applyLanguage();
  }

  // --- who is talking -------------------------------------------------------------------
  function randomSender() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    var s = "";
    for (var i = 0; i < bytes.length; i++) s += ("0" + bytes[i].toString(16)).slice(-2);
    return "web_" + s;
  }
  function readFragmentToken() {
    var hash = window.location.hash.replace(/^#/, "");
    var params = new URLSearchParams(hash);
    return params.get("token");
  }
  function identityHeaders() {
    if (state.token) return { "Authorization": "Bearer " + state.token };
    return { "X-Chat-Sender": state.sender };
  }
  function bodyWithIdentity(body) {
    if (!state.token) body.sender = state.sender;
    return body;
  }
  function tellApp(message) {
    // A framed page tells its parent; a native web view gets the same object through its bridge.
    try {
      if (window.parent && window.parent !== window) {
        window.parent.postMessage(message, config.embedOrigins.length ? config.embedOrigins[0] : window.location.origin);
      }
      if (window.webkit && window.webkit.messageHandlers && window.webkit.messageHandlers.bankChat) {
        window.webkit.messageHandlers.bankChat.postMessage(message);
      }
      if (window.BankChatBridge && typeof window.BankChatBridge.postMessage === "function") {
        window.BankChatBridge.postMessage(JSON.stringify(message));
      }
    } catch (e) { /* the page works without an app around it */ }
  }

  // --- showing lines --------------------------------------------------------------------
  function officialHost(host) {
    host = host.toLowerCase();
    return config.officialDomains.some(function (d) { return host === d || host.slice(-(d.length + 1)) === "." + d; });
  }
  var LINK = /\bhttps?:\/\/[^\s<>"'，。、）)]+|\b(?:[a-z0-9-]+\.)+[a-z]{2,}(?:\/[^\s<>"'，。、）)]*)?/gi;
  function appendRich(parent, text) {
    // Links only to the bank's official domains; everything else stays plain text.
    var last = 0, match;
    LINK.lastIndex = 0;
    while ((match = LINK.exec(text)) !== null) {
      var raw = match[0].replace(/[.,;:!?]+$/, "");
      var url;
      try { url = new URL(/^https?:\/\//i.test(raw) ? raw : "https://" + raw); } catch (e) { continue; }
      if (url.protocol !== "https:" || !officialHost(url.hostname)) continue;
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      var a = document.createElement("a");
      a.href = url.href;
      a.textContent = raw;
      a.rel = "noopener noreferrer";
      a.target = "_blank";
      parent.appendChild(a);
      last = match.index + raw.length;
      LINK.lastIndex = last;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }
  function statusText(line) {
    return t("status_" + line.status, { detail: line.text || "" });
  }
  function relabel(node) {
    var who = node.querySelector(".who");
    var kind = node.dataset.kind;
    if (who) who.textContent = t(kind === "agent" || kind === "notice" ? kind : kind === "user" ? "you" : "bot");
    if (node.dataset.kind === "status") node.querySelector(".bubble").textContent = statusText(JSON.parse(node.dataset.line));
  }
  function placeInOrder(node, seq) {
    // Numbered lines in number order; unnumbered (pending or unstored) ones after them, as they came.
    if (seq === null) { log.appendChild(node); return; }
    var children = log.children;
    for (var i = 0; i < children.length; i++) {
      var other = children[i].dataset.seq;
      if (other === undefined || other === "" || Number(other) > seq) { log.insertBefore(node, children[i]); return; }
    }
    log.appendChild(node);
  }
  function buildLine(line) {
    var node = document.createElement("div");
    node.className = "line " + line.kind;
    node.dataset.kind = line.kind;
    node.dataset.line = JSON.stringify({ status: line.status || null, text: line.text || "" });
    if (line.seq !== undefined && line.seq !== null) node.dataset.seq = String(line.seq);
    if (line.kind !== "status") {
      var who = document.createElement("span");
      who.className = "who";
      node.appendChild(who);
    }
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    if (line.kind === "status") bubble.textContent = statusText(line);
    else if (line.kind === "user") bubble.textContent = line.text;
    else appendRich(bubble, line.text || "");
    node.appendChild(bubble);
    if (line.buttons && line.buttons.length) {
      var choices = document.createElement("div");
      choices.className = "choices";
      line.buttons.forEach(function (b) {
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = b.title;
        button.dataset.payload = b.payload;
        button.setAttribute("aria-pressed", "false");
        button.addEventListener("click", function () { choose(choices, button, b); });
        choices.appendChild(button);
      });
      node.appendChild(choices);
    }
    if (line.time) {
      var time = document.createElement("span");
      time.className = "time";
      time.textContent = line.time;
      node.appendChild(time);
    }
    relabel(node);
    return node;
  }
  function disableChoices(choices, chosen) {
    Array.prototype.forEach.call(choices.querySelectorAll("button"), function (b) {
      b.disabled = true;
      if (b === chosen) { b.setAttribute("aria-pressed", "true"); b.title = t("chose"); }
    });
  }
  function disableAnsweredChoices() {
    // Buttons a customer line came after are answered: shown, not clickable.
    var answered = false;
    for (var i = log.children.length - 1; i >= 0; i--) {
      var node = log.children[i];
      if (node.dataset.kind === "user") answered = true;
      var choices = node.querySelector(".choices");
      if (choices && answered) disableChoices(choices, null);
    }
    updatePlaceholder();
  }
  function openChoices() {
    var all = log.querySelectorAll(".choices button:not(:disabled)");
    return all.length > 0;
  }
  function updatePlaceholder() {
    input.placeholder = openChoices() ? t("input_placeholder_buttons") : t("input_placeholder");
  }
  function addLine(line, live) {
    var seq = line.seq === undefined ? null : line.seq;
    if (seq !== null && state.seen[seq]) {
      // Shown already; a send's reply has no time for the customer's own line, the stream's copy has.
      var known = state.seen[seq];
      if (line.time && !known.querySelector(".time")) {
        var stamp = document.createElement("span");
        stamp.className = "time";
        stamp.textContent = line.time;
        known.appendChild(stamp);
      }
      return;
    }
    if (line.kind === "user" && seq !== null) {
      var pending = log.querySelector(".line.pending");
      if (pending) { // our own message, now stored: keep the bubble, take the number and the server's words
        pending.classList.remove("pending");
        pending.dataset.seq = String(seq);
        pending.querySelector(".bubble").textContent = line.text;
        if (line.time) {
          var time = document.createElement("span");
          time.className = "time";
          time.textContent = line.time;
          pending.appendChild(time);
        }
        log.removeChild(pending);
        placeInOrder(pending, seq);
        state.seen[seq] = pending;
        disableAnsweredChoices();
        return;
      }
    }
    var node = buildLine(line);
    if (seq !== null) state.seen[seq] = node;
    placeInOrder(node, seq);
    if (line.kind === "agent" || (line.kind === "bot" && !state.sending)) showTyping(null);
    if (line.kind === "status" && line.status === "ended") showEnded();
    if (line.kind === "status") followHandover(line.status, live);
    disableAnsweredChoices();
    log.scrollTop = log.scrollHeight;
  }
  function answered(seq) {
    // Whether a line after this one is shown already (the answer came before the typing signal).
    return Object.keys(state.seen).some(function (k) { return Number(k) > seq; });
  }
  // While the chat waits for a person, the customer sees their place in the queue (every 15 s).
  // When a person hands the chat back, the page asks how it went (the one-question rating).
  function followHandover(status, live) {
    clearTimeout(state.queueTimer);
    if (status === "queued") { state.agentSpoke = false; pollQueue(); }
    if (status === "agent_joined") { state.agentSpoke = true; showQueue(null); }
    if (status === "bot_back" || status === "ended") {
      showQueue(null);
      if (status === "bot_back" && live && state.agentSpoke) { state.agentSpoke = false; openRating(true); }
    }
  }
  function showQueue(position) {
    var box = el("queue");
    if (!box) return;
    box.textContent = position === null ? "" : position <= 1 ? t("queue_next") : t("queue_ahead", { ahead: position - 1 });
    box.hidden = position === null;
  }
  function pollQueue() {
    fetch(base + "/queue", { headers: identityHeaders(), cache: "no-store" }).then(function (r) {
      return r.ok ? r.json() : { position: null };
    }).then(function (answer) {
      showQueue(typeof answer.position === "number" ? answer.position : null);
      if (typeof answer.position === "number") state.queueTimer = setTimeout(pollQueue, 15000);
    }).catch(function () { state.queueTimer = setTimeout(pollQueue, 15000); });
  }
  function showTyping(who) {
    clearTimeout(state.typingTimer);
    typing.textContent = who ? t(who === "agent" ? "typing_agent" : "typing_bot") : "";
    if (who === "agent" || (who === "bot" && !state.sending)) {
      state.typingTimer = setTimeout(function () { showTyping(null); }, 6000);
    }
  }
  function showBanner(text, info) {
    banner.textContent = text;
    banner.className = info ? "banner info" : "banner";
    banner.hidden = !text;
  }

  // --- history and the live stream ----------------------------------------------------------
  function fetchHistory() {
    return fetch(base + "/history", { headers: identityHeaders(), cache: "no-store" }).then(function (response) {
      if (response.status === 401) { authExpired(); throw new Error("401"); }
      if (!response.ok) throw new Error("history " + response.status);
      return response.json();
    }).then(function (history) {
      state.historyLoaded = true;
      if (history.language) setLanguage(history.language, false);
      history.lines.forEach(function (line) { addLine(line, false); });
      state.streamAfter = Math.max(state.streamAfter, history.last_seq || 0);
      if (history.ended) showEnded(true);
    });
  }
  function handleEvent(name, id, data) {
    if (name === "line") {
      var line = JSON.parse(data);
      addLine(line, true);
      if (typeof line.seq === "number") state.streamAfter = Math.max(state.streamAfter, line.seq);
    } else if (name === "typing") {
      var signal = JSON.parse(data);
      if (signal.who === "bot" && typeof signal.after === "number" && answered(signal.after)) return; // late
      if (signal.who === "agent" || signal.who === "bot") showTyping(signal.on === false ? null : signal.who);
    }
  }
  function connect() {
    if (state.authFailed) return;
    var generation = ++state.streamGeneration;
    var controller = new AbortController();
    state.streamAbort = controller;
    fetch(base + "/stream?after=" + state.streamAfter, {
      headers: identityHeaders(), cache: "no-store", signal: controller.signal,
    }).then(function (response) {
      if (response.status === 401) { authExpired(); return null; }
      if (!response.ok || !response.body) throw new Error("stream " + response.status);
      showBanner("");
      state.retryDelay = 1000;
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) return "done";
          buffer += decoder.decode(chunk.value, { stream: true });
          var parts = buffer.split("\n\n");
          buffer = parts.pop();
          parts.forEach(function (block) {
            var name = "message", id = null, data = [];
            block.split("\n").forEach(function (row) {
              if (row.indexOf("event: ") === 0) name = row.slice(7);
              else if (row.indexOf("id: ") === 0) id = row.slice(4);
              else if (row.indexOf("data: ") === 0) data.push(row.slice(6));
            });
            if (data.length) handleEvent(name, id, data.join("\n"));
          });
          return pump();
        });
      }
      return pump();
    }).then(function (result) {
      if (generation !== state.streamGeneration) return;
      if (result === "done") connect(); // the server closes a stream now and then; resume at once
    }).catch(function () {
      if (generation !== state.streamGeneration || state.authFailed) return;
      showBanner(t("reconnecting"), true);
      var delay = state.retryDelay;
      state.retryDelay = Math.min(state.retryDelay * 2, 10000);
      setTimeout(function () { if (generation === state.streamGeneration) connect(); }, delay);
    });
  }
  function restartStream() {
    state.streamGeneration++;
    if (state.streamAbort) state.streamAbort.abort();
    connect();
  }
  window.addEventListener("online", function () { if (!state.authFailed) restartStream(); });
  // A lost network can leave the stream's connection open but dead for minutes: drop it now, so the
  // customer is told at once and the retries (and "online") resume after the last line seen.
  window.addEventListener("offline", function () { if (!state.authFailed) restartStream(); });

  function authExpired() {
    state.authFailed = true;
    state.streamGeneration++;
    if (state.streamAbort) state.streamAbort.abort();
    showBanner(t("login_again"));
    tellApp({ type: "auth_required", reason: "expired" });
  }

  // --- sending --------------------------------------------------------------------------
  function showHelp(text, isError) {
    help.textContent = text;
    help.className = isError ? "input-help error" : "input-help";
    if (isError) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
  }
  function checkLength() {
    var count = input.value.length;
    if (count > config.maxChars) { showHelp(t("too_long", { max: config.maxChars, count: count }), true); return false; }
    if (count > config.maxChars - 200) showHelp(t("chars_left", { left: config.maxChars - count }), false);
    else showHelp("", false);
    return true;
  }
  function messageId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return "m" + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  // No answer (the connection failed, or a proxy/worker answered 502/503/504): the same body again,
  // after 1, 2 and 4 s; the server handles a message with the same client_message_id at most once.
  function postWithRetries(url, body, attempt) {
    var retry = function (response) {
      if (attempt >= 3) { if (response) return response; throw new Error("webhook unreachable"); }
      return new Promise(function (resolve) { setTimeout(resolve, 1000 * Math.pow(2, attempt)); }).then(function () {
        return postWithRetries(url, body, attempt + 1);
      });
    };
    return fetch(url, {
      method: "POST",
      headers: Object.assign({ "Content-Type": "application/json" }, identityHeaders()),
      body: body,
    }).then(function (response) {
      return [502, 503, 504].indexOf(response.status) >= 0 ? retry(response) : response;
    }, function () { return retry(null); });
  }
  function send(text, shownAs) {
    if (state.sending) return Promise.resolve(false);
    if (state.authFailed) { showBanner(t("login_again")); return Promise.resolve(false); }
    if (!text.trim()) { showHelp(t("empty"), true); return Promise.resolve(false); }
    if (text.length > config.maxChars) {
      showHelp(t("too_long", { max: config.maxChars, count: text.length }), true);
      return Promise.resolve(false);
    }
    if (state.ended) startNewChat();
    state.sending = true;
    sendButton.disabled = true;
    var pending = buildLine({ kind: "user", text: shownAs || text });
    pending.classList.add("pending");
    log.appendChild(pending);
    log.scrollTop = log.scrollHeight;
    showTyping("bot");
    // One id per message: a retry after a lost answer is answered once (bot/rasa_ext/idempotency.py).
    var body = JSON.stringify(bodyWithIdentity({ message: text, client_message_id: messageId() }));
    return postWithRetries(base + "/webhook", body, 0).then(function (response) {
      if (response.status === 401) { authExpired(); throw { kept: true }; }
      if (response.status === 429) { showBanner(t("rate_limited")); throw { kept: true }; }
      if (!response.ok) throw { kept: true, failed: true };
      var seq = response.headers.get("X-Chat-Seq");
      var language = response.headers.get("X-Chat-Language");
      return response.json().then(function (replies) {
        if (seq && pending.parentNode && pending.classList.contains("pending")) {
          addLine({ kind: "user", seq: Number(seq), text: shownAs || text });
        } else if (!seq && pending.parentNode) {
          pending.classList.remove("pending"); // not stored (records down): shown as sent all the same
        }
        if (language) setLanguage(language, false);
        replies.forEach(function (reply) {
          addLine({
            seq: typeof reply.seq === "number" ? reply.seq : undefined,
            kind: reply.from === "agent" ? "agent" : "bot",
            text: reply.text || "",
            buttons: reply.buttons,
            time: reply.time,
          });
        });
        if (banner.className === "banner" && !state.authFailed) showBanner("");
        return true;
      });
    }).catch(function (error) {
      if (pending.parentNode && pending.classList.contains("pending")) log.removeChild(pending);
      if (!(error && error.kept) || (error && error.failed)) showBanner(t("send_failed"));
      if (shownAs === undefined && !input.value) input.value = text; // nothing the customer typed is lost
      return false;
    }).then(function (ok) {
      state.sending = false;
      sendButton.disabled = false;
      showTyping(null);
      return ok;
    });
  }
  function choose(choices, button, b) {
    if (button.disabled || state.sending) return;
    disableChoices(choices, button);
    send(b.payload, b.title).then(function (ok) {
      if (!ok) { // let them choose again
        Array.prototype.forEach.call(choices.querySelectorAll("button"), function (x) {
          x.disabled = false; x.setAttribute("aria-pressed", "false");
        });
      }
    });
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!checkLength()) return;
    if (!text.trim()) { showHelp(t("empty"), true); return; }
    input.value = "";
    send(text).then(function (ok) {
      if (!ok && !input.value) input.value = text; // refused before sending (login expired, still sending)
      if (!ok) checkLength();
      input.focus();
    });
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener("input", checkLength);

  // --- ending a chat and rating it -----------------------------------------------------------
  function renderRatingOptions() {
    var box = el("rating-options");
    box.textContent = "";
    for (var n = 1; n <= 5; n++) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = String(n);
      var hint = n === 1 ? " (" + t("rating_low") + ")" : n === 5 ? " (" + t("rating_high") + ")" : "";
      button.setAttribute("aria-label", t("rating_option", { n: n }) + hint);
      button.dataset.rating = String(n);
      button.addEventListener("click", function (event) {
        var rating = Number(event.currentTarget.dataset.rating);
        if (state.rateOnly) rateChat(rating); else endChat(rating);
      });
      box.appendChild(button);
    }
  }
  // rateOnly: asked after a person handed the chat back; answering rates the chat so far and the
  // customer goes on chatting. Otherwise the customer pressed "End chat": answering ends it too.
  function openRating(rateOnly) {
    state.rateOnly = Boolean(rateOnly);
    el("rating").hidden = false;
    el("rating-options").querySelector("button").focus();
  }
  function closeRating() { el("rating").hidden = true; }
  function endChat(rating) {
    var body = bodyWithIdentity({ language: lang() });
    if (rating) body.rating = rating;
    return fetch(base + "/end", {
      method: "POST",
      headers: Object.assign({ "Content-Type": "application/json" }, identityHeaders()),
      body: JSON.stringify(body),
    }).then(function (response) {
      if (response.status === 401) { authExpired(); return; }
      if (response.status === 409 && rating) return endChat(null); // rated already (after a person's help)
      if (!response.ok) { showBanner(t("send_failed")); return; }
      return response.json().then(function (result) {
        closeRating();
        if (result.line) addLine(result.line);
        showEnded();
        if (rating) showBanner(t("rating_thanks"), true);
        tellApp({ type: "chat_ended", rating: rating || null });
      });
    }).catch(function () { showBanner(t("send_failed")); });
  }
  function rateChat(rating) {
    return fetch(base + "/rate", {
      method: "POST",
      headers: Object.assign({ "Content-Type": "application/json" }, identityHeaders()),
      body: JSON.stringify(bodyWithIdentity({ language: lang(), rating: rating })),
    }).then(function (response) {
      if (response.status === 401) { authExpired(); return; }
      if (response.status === 409) { closeRating(); return; } // rated already: the first answer stands
      if (!response.ok) { showBanner(t("send_failed")); return; }
      closeRating();
      showBanner(t("rating_thanks"), true);
      input.focus();
    }).catch(function () { showBanner(t("send_failed")); });
  }
  function showEnded(fromHistory) {
    state.ended = true;
    closeRating();
    el("ended").hidden = false;
    el("end").disabled = true;
    input.disabled = true;
    sendButton.disabled = true;
    if (!fromHistory) el("new-chat").focus();
  }
  function startNewChat() {
    state.ended = false;
    el("ended").hidden = true;
    el("end").disabled = false;
    input.disabled = false;
    sendButton.disabled = false;
    log.textContent = ""; // the ended chat stays on the server; the new one starts empty
    showBanner("");
    input.focus();
  }
  el("end").addEventListener("click", function () { if (el("rating").hidden || state.rateOnly) openRating(false); else closeRating(); });
  el("rating-skip").addEventListener("click", function () { if (state.rateOnly) closeRating(); else endChat(null); });
  el("rating").addEventListener("keydown", function (event) { if (event.key === "Escape") { closeRating(); el("end").focus(); } });
  el("new-chat").addEventListener("click", startNewChat);
  el("language").addEventListener("click", function () { setLanguage(lang() === "en" ? "zh" : "en", true); });

  // --- tokens from the app --------------------------------------------------------------------
  function trustedOrigin(origin) {
    return origin === window.location.origin || config.embedOrigins.indexOf(origin) >= 0;
  }
  window.addEventListener("message", function (event) {
    if (!trustedOrigin(event.origin)) return;
    var data = event.data;
    if (!data || data.type !== "auth" || typeof data.token !== "string" || !data.token) return;
    var first = state.token === null;
    state.token = data.token;
    state.authFailed = false;
    showBanner("");
    // A different conversation from the anonymous one, or a history refused with the old token:
    // start over with its history (the stream alone would replay ended chats from line 0).
    if (first || !state.historyLoaded) {
      log.textContent = "";
      state.seen = {};
      state.streamAfter = 0;
      state.historyLoaded = false;
      fetchHistory().catch(function () {}).then(restartStream);
    } else {
      restartStream();
    }
  });

  // --- start ---------------------------------------------------------------------------------
  state.token = readFragmentToken();
  if (!state.token) {
    state.sender = sessionStorage.getItem("bankchat.sender");
    if (!state.sender) { state.sender = randomSender(); sessionStorage.setItem("bankchat.sender", state.sender); }
  }
  if (!state.language) state.language = config.defaultLanguage;
  applyLanguage();
  tellApp({ type: "ready" });
  fetchHistory().catch(function () {}).then(function () { connect(); });
  window.bankChat = { send: send, state: state }; // for the app's own scripts and tests
})();
