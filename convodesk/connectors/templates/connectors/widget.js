/* Convodesk website chat widget. Isolated in a Shadow DOM; client text is only ever set as textContent. */
(function (CONFIG) {
  "use strict";
  if (window.__convodeskWidget && window.__convodeskWidget[CONFIG.key]) return;
  window.__convodeskWidget = window.__convodeskWidget || {};
  window.__convodeskWidget[CONFIG.key] = true;

  var T = CONFIG.texts;
  var storeKey = "convodesk:" + CONFIG.key + ":";
  var store = {
    get: function (k) { try { return window.localStorage.getItem(storeKey + k); } catch (e) { return null; } },
    set: function (k, v) { try { window.localStorage.setItem(storeKey + k, v); } catch (e) { /* private mode */ } }
  };

  function randomToken() {
    var bytes = new Uint8Array(32);
    window.crypto.getRandomValues(bytes);
    var s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  var token = store.get("token");
  if (!token || !/^[A-Za-z0-9_-]{32,128}$/.test(token)) { token = randomToken(); store.set("token", token); }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) node.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function fmt(template, name) { return String(template).replace("%(name)s", name); }

  var host = el("div", { id: "convodesk-widget-" + CONFIG.key, "data-convodesk-widget": "" });
  var root = host.attachShadow({ mode: "open" });
  var style = el("style");
  style.textContent = [
    ":host{all:initial;position:fixed;right:20px;bottom:20px;z-index:2147483000;font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;font-size:14px;color:#1d2433;--c:" + CONFIG.color + "}",
    "*{box-sizing:border-box}",
    ".bubble{width:58px;height:58px;border-radius:50%;border:0;background:var(--c);color:#fff;cursor:pointer;box-shadow:0 6px 20px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center;margin-left:auto}",
    ".bubble:focus-visible,button:focus-visible,textarea:focus-visible,input:focus-visible{outline:3px solid #93b4ff;outline-offset:2px}",
    ".bubble svg{width:28px;height:28px}",
    ".badge{position:absolute;top:-2px;right:-2px;min-width:20px;height:20px;border-radius:10px;background:#d92d20;color:#fff;font-size:12px;font-weight:700;display:none;align-items:center;justify-content:center;padding:0 5px}",
    ".panel{display:none;flex-direction:column;width:370px;height:560px;max-height:calc(100vh - 110px);background:#fff;border-radius:14px;box-shadow:0 12px 40px rgba(0,0,0,.28);overflow:hidden;margin-bottom:14px}",
    ".open .panel{display:flex}",
    ".head{background:var(--c);color:#fff;padding:14px 16px;display:flex;align-items:center;gap:10px}",
    ".head .titles{flex:1;min-width:0}.head h2{font-size:16px;margin:0;font-weight:700;color:#fff}",
    ".head .sub{font-size:12px;opacity:.9;margin-top:2px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}",
    ".x{background:transparent;border:0;color:#fff;font-size:22px;line-height:1;cursor:pointer;padding:4px 8px;border-radius:6px}",
    ".log{flex:1;overflow-y:auto;padding:14px;background:#f6f7fb;display:flex;flex-direction:column;gap:8px}",
    ".msg{max-width:82%;padding:8px 11px;border-radius:12px;white-space:pre-wrap;word-wrap:break-word;overflow-wrap:anywhere;line-height:1.4}",
    ".msg .who{display:block;font-size:11px;font-weight:700;opacity:.75;margin-bottom:2px}",
    ".client{align-self:flex-end;background:var(--c);color:#fff;border-bottom-right-radius:4px}",
    ".employee,.bot{align-self:flex-start;background:#fff;border:1px solid #e3e7ee;border-bottom-left-radius:4px}",
    ".bot{font-style:italic;color:#475467}",
    ".sep{align-self:center;font-size:11px;color:#667085;padding:4px 0}",
    ".welcome{align-self:center;text-align:center;color:#475467;font-size:13px;padding:8px}",
    ".typing{min-height:20px;padding:0 14px;font-size:12px;color:#667085;background:#f6f7fb}",
    ".rate{display:none;padding:10px 14px;border-top:1px solid #e3e7ee;text-align:center}",
    ".rate p{margin:0 0 8px}.rate button{font-size:22px;border:1px solid #d0d5dd;background:#fff;border-radius:10px;padding:6px 16px;margin:0 6px;cursor:pointer}",
    ".fields{display:none;padding:10px 14px 0;border-top:1px solid #e3e7ee;gap:6px;flex-direction:column}",
    ".fields label{font-size:12px;color:#475467;display:flex;flex-direction:column;gap:2px}",
    "input,textarea{font:inherit;color:inherit;border:1px solid #d0d5dd;border-radius:8px;padding:8px 10px;width:100%;background:#fff}",
    ".composer{display:flex;gap:8px;padding:10px 14px;border-top:1px solid #e3e7ee;align-items:flex-end}",
    ".composer textarea{resize:none;height:42px;max-height:120px}",
    ".send{background:var(--c);color:#fff;border:0;border-radius:8px;padding:0 14px;height:42px;font-weight:600;cursor:pointer}",
    ".error{display:none;color:#b42318;background:#fdecea;font-size:12px;padding:6px 14px}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    "@media (max-width:480px){:host{right:12px;bottom:12px;left:auto}.open{position:fixed;inset:0;display:flex;flex-direction:column;justify-content:flex-end}",
    ".open .panel{width:100vw;height:100%;max-height:none;border-radius:0;margin:0}.open .bubble{display:none}}"
  ].join("\n");
  root.appendChild(style);

  var wrap = el("div", { "class": "wrap" });
  var panel = el("section", { "class": "panel", role: "dialog", "aria-label": CONFIG.title, id: "cd-panel" });
  var head = el("div", { "class": "head" });
  var titles = el("div", { "class": "titles" });
  titles.appendChild(el("h2", null, CONFIG.title));
  var sub = el("div", { "class": "sub", "aria-live": "polite" }, T.offline);
  titles.appendChild(sub);
  var closeBtn = el("button", { "class": "x", type: "button", "aria-label": T.close }, "×");
  head.appendChild(titles); head.appendChild(closeBtn);
  var log = el("div", { "class": "log", role: "log", "aria-live": "polite", "aria-label": T.messages, tabindex: "0" });
  log.appendChild(el("div", { "class": "welcome" }, T.welcome));
  var typing = el("div", { "class": "typing", "aria-live": "polite" });
  var errorLine = el("div", { "class": "error", role: "alert" });
  var rate = el("div", { "class": "rate" });
  rate.appendChild(el("p", null, T.rate));
  var like = el("button", { type: "button", "aria-label": T.like, "data-rate": "like" }, "👍");
  var dislike = el("button", { type: "button", "aria-label": T.dislike, "data-rate": "dislike" }, "👎");
  rate.appendChild(like); rate.appendChild(dislike);

  var fields = el("div", { "class": "fields" });
  var inputs = {};
  ["name", "email", "phone"].forEach(function (name) {
    if (!CONFIG.fields[name]) return;
    var label = el("label", null, T[name] + " (" + T.optional + ")");
    var input = el("input", { type: name === "email" ? "email" : name === "phone" ? "tel" : "text", name: name,
      autocomplete: name === "phone" ? "tel" : name, maxlength: "120" });
    input.value = store.get(name) || "";
    label.appendChild(input); fields.appendChild(label); inputs[name] = input;
  });

  var composer = el("form", { "class": "composer" });
  var textareaId = "cd-text";
  var textLabel = el("label", { "for": textareaId, "class": "sr" }, T.placeholder);
  var textarea = el("textarea", { id: textareaId, rows: "1", placeholder: T.placeholder, maxlength: String(CONFIG.maxLength) });
  var sendBtn = el("button", { "class": "send", type: "submit" }, T.send);
  composer.appendChild(textLabel); composer.appendChild(textarea); composer.appendChild(sendBtn);

  panel.appendChild(head); panel.appendChild(log); panel.appendChild(typing); panel.appendChild(errorLine);
  panel.appendChild(rate); panel.appendChild(fields); panel.appendChild(composer);
  var bubble = el("button", { "class": "bubble", type: "button", "aria-label": T.open, "aria-expanded": "false", "aria-controls": "cd-panel" });
  bubble.innerHTML = '<svg viewBox="0 0 24 24" fill="none" aria-hidden="true"><path d="M4 5h16v11H8l-4 4V5z" stroke="currentColor" stroke-width="2" stroke-linejoin="round"/></svg>';
  var badge = el("span", { "class": "badge", "aria-hidden": "true" });
  bubble.appendChild(badge);
  bubble.style.position = "relative";
  wrap.appendChild(panel); wrap.appendChild(bubble);
  root.appendChild(wrap);

  var seen = {};
  var pendingOwn = {};
  var lastEvent = null;
  var unread = 0;
  var hasHistory = false;
  var lastConversation = null;
  var state = null;

  function isOpen() { return wrap.classList.contains("open"); }
  function setOpen(open) {
    wrap.classList.toggle("open", open);
    bubble.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) { unread = 0; badge.style.display = "none"; textarea.focus(); log.scrollTop = log.scrollHeight; }
    else bubble.focus();
  }
  bubble.addEventListener("click", function () { setOpen(!isOpen()); });
  closeBtn.addEventListener("click", function () { setOpen(false); });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") setOpen(false); });

  function showError(text) {
    errorLine.textContent = text || "";
    errorLine.style.display = text ? "block" : "none";
  }

  function addMessage(m) {
    if (m.id && seen[m.id]) return;
    if (m.id) seen[m.id] = true;
    if (m.client_id && pendingOwn[m.client_id]) {
      pendingOwn[m.client_id].setAttribute("data-id", m.id);
      delete pendingOwn[m.client_id];
      return;
    }
    if (lastConversation !== null && m.conversation && m.conversation !== lastConversation) {
      log.appendChild(el("div", { "class": "sep" }, "· · ·"));
    }
    if (m.conversation) lastConversation = m.conversation;
    var node = el("div", { "class": "msg " + m.author, "data-id": m.id || "" });
    if (m.author !== "client") node.appendChild(el("span", { "class": "who" }, m.name || T.operator));
    node.appendChild(document.createTextNode(m.text));
    log.appendChild(node);
    log.scrollTop = log.scrollHeight;
    hasHistory = true;
    fields.style.display = "none";
    if (m.author !== "client") {
      typing.textContent = "";
      if (!isOpen()) { unread += 1; badge.textContent = String(unread); badge.style.display = "flex"; }
    }
  }

  function applyState(s) {
    state = s;
    if (!s || !s.conversation) { sub.textContent = T.waiting; rate.style.display = "none"; return; }
    if (s.closed) sub.textContent = T.closed;
    else if (s.operator) sub.textContent = fmt(T.answered, s.operator);
    else sub.textContent = T.waiting;
    rate.style.display = s.can_rate ? "block" : "none";
    if (s.closed && s.rating && !s.can_rate && rate.getAttribute("data-thanked") !== "1" && rate.getAttribute("data-voted") === "1") {
      rate.setAttribute("data-thanked", "1");
      log.appendChild(el("div", { "class": "sep" }, T.thanks));
    }
  }

  var socket = null;
  var retry = 0;
  var typingTimer = null;

  function send(obj) {
    if (socket && socket.readyState === 1) { socket.send(JSON.stringify(obj)); return true; }
    return false;
  }

  function connect() {
    socket = new WebSocket(CONFIG.socket);
    socket.onopen = function () {
      retry = 0;
      send({ type: "hello", token: token, last: lastEvent });
    };
    socket.onmessage = function (e) {
      var data;
      try { data = JSON.parse(e.data); } catch (err) { return; }
      if (data.event && (lastEvent === null || data.event > lastEvent)) lastEvent = data.event;
      if (data.type === "ready") {
        if (lastEvent === null || data.last > lastEvent) lastEvent = data.last;
        (data.messages || []).forEach(addMessage);
        applyState(data.state);
        if (!hasHistory && Object.keys(inputs).length) fields.style.display = "flex";
        showError("");
      } else if (data.type === "message") {
        addMessage(data);
      } else if (data.type === "state") {
        applyState(data);
      } else if (data.type === "typing") {
        typing.textContent = fmt(T.typing, data.name || T.operator);
        clearTimeout(typingTimer);
        typingTimer = setTimeout(function () { typing.textContent = ""; }, 4000);
      } else if (data.type === "error") {
        showError(data.message);
        if (data.fatal) { socket.onclose = null; sub.textContent = data.message; composer.style.display = "none"; }
      }
    };
    socket.onclose = function () {
      sub.textContent = T.offline;
      retry = Math.min(retry + 1, 6);
      var delay = Math.min(30000, 500 * Math.pow(2, retry)) * (0.75 + Math.random() / 2);
      setTimeout(connect, delay);
    };
  }

  var lastTypingSent = 0;
  textarea.addEventListener("input", function () {
    var now = Date.now();
    if (now - lastTypingSent > 2000) { lastTypingSent = now; send({ type: "typing" }); }
  });
  textarea.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); composer.requestSubmit ? composer.requestSubmit() : submit(e); }
  });
  function submit(e) {
    if (e) e.preventDefault();
    var text = textarea.value.trim();
    if (!text) return;
    var id = randomToken().slice(0, 22);
    var payload = { type: "message", id: id, text: text, url: String(window.location.href).slice(0, 1000) };
    Object.keys(inputs).forEach(function (k) { payload[k] = inputs[k].value; store.set(k, inputs[k].value); });
    if (!send(payload)) { showError(T.offline); return; }
    showError("");
    var node = el("div", { "class": "msg client", "data-pending": "1" });
    node.appendChild(document.createTextNode(text));
    log.appendChild(node);
    log.scrollTop = log.scrollHeight;
    pendingOwn[id] = node;
    hasHistory = true;
    fields.style.display = "none";
    textarea.value = "";
  }
  composer.addEventListener("submit", submit);
  [like, dislike].forEach(function (b) {
    b.addEventListener("click", function () {
      rate.setAttribute("data-voted", "1");
      send({ type: "rate", like: b === like });
    });
  });

  function mount() { document.body.appendChild(host); connect(); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})({{ config|safe }});
