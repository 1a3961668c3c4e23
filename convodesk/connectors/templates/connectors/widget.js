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

  var host = el("div", {
    id: "convodesk-widget-" + CONFIG.key, "data-convodesk-widget": "",
    "data-position": CONFIG.position === "left" ? "left" : "right", lang: CONFIG.language || ""
  });
  var root = host.attachShadow({ mode: "open" });
  // Styles come from our own stylesheet (a <style> element or style attribute would need the host
  // page's CSP to allow 'unsafe-inline'); the colour is a custom property set through the CSSOM.
  host.style.setProperty("--c", CONFIG.color);
  host.style.display = "none"; // until the stylesheet is in, so nothing shows unstyled
  var sheet = el("link", { rel: "stylesheet", href: CONFIG.stylesheet });
  sheet.addEventListener("load", function () { host.style.display = ""; });
  sheet.addEventListener("error", function () { host.style.display = ""; });
  root.appendChild(sheet);

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
  log.appendChild(el("div", { "class": "welcome" }, CONFIG.greeting || T.welcome));
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

  // A reply's file: a signed link from this chat's own server (a path gets its origin).
  var serverOrigin = String(CONFIG.socket).replace(/^ws(s?):\/\/([^\/]+).*$/, "http$1://$2");
  function fileUrl(url) {
    if (typeof url !== "string") return "";
    if (/^\/[^\/\\]/.test(url)) return serverOrigin + url;
    return /^https?:\/\//.test(url) ? url : "";
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
    (m.files || []).forEach(function (f) {
      var href = fileUrl(f.url);
      if (!href) return;
      var link = el("a", { "class": "file", href: href, target: "_blank", rel: "noopener noreferrer" }, f.name || "file");
      node.appendChild(link);
    });
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
