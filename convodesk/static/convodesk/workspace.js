/* Operator workspace: swaps server-rendered parts by id and follows /ws/operator/ live. */
(function () {
  "use strict";
  var root = document.getElementById("workspace");
  if (!root) return;
  var base = root.getAttribute("data-base");
  var current = root.getAttribute("data-conversation") || "";
  var csrf = (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";

  function replaceParts(html) {
    var doc = new DOMParser().parseFromString("<body>" + html + "</body>", "text/html");
    Array.from(doc.body.children).forEach(function (part) {
      if (!part.id) return;
      var old = document.getElementById(part.id);
      if (!old) return;
      if (part.id === "ws-transcript") {
        var stick = old.scrollHeight - old.scrollTop - old.clientHeight < 40;
        old.replaceWith(part);
        if (stick) part.scrollTop = part.scrollHeight;
      } else {
        old.replaceWith(part);
      }
    });
    tick();
  }

  // The header's availability dot says what the workspace switch says (base.html, [data-avail-dot]).
  function syncAvailability() {
    var on = document.querySelector(".ws-switch button.on");
    var dot = document.querySelector("[data-avail-dot]");
    if (!on || !dot) return;
    dot.className = "avail avail-" + on.value;
    dot.title = on.textContent.trim();
  }

  function request(method, url, body) {
    var options = { method: method, credentials: "same-origin", headers: { "X-Requested-With": "fetch" } };
    if (body) { options.body = body; options.headers["X-CSRFToken"] = csrf; }
    return fetch(url, options).then(function (response) {
      return response.text().then(function (text) { return { ok: response.ok, status: response.status, text: text }; });
    });
  }

  function convUrl(id, suffix) { return base + "c/" + id + "/" + (suffix || ""); }

  // Live refresh, coalesced: at most one request in flight per part.
  var busy = {}, again = {};
  function refresh(what) {
    if (busy[what]) { again[what] = true; return; }
    var url;
    if (what === "list") url = base + "list/";
    else if (current) url = convUrl(current) + "?part=live";
    else return;
    busy[what] = true;
    request("GET", url).then(function (r) { replaceParts(r.text); }).catch(function () {}).then(function () {
      busy[what] = false;
      if (again[what]) { again[what] = false; refresh(what); }
    });
  }

  function openConversation(id, push) {
    current = String(id);
    root.setAttribute("data-conversation", current);
    if (push) history.pushState({ c: current }, "", "?c=" + current);
    request("GET", convUrl(current)).then(function (r) {
      replaceParts(r.text);
      var t = document.getElementById("ws-transcript");
      if (t) t.scrollTop = t.scrollHeight;
      var text = document.getElementById("ws-text");
      if (text) text.focus();
      live.open(current);
    });
  }

  function post(actionName, form, files) {
    if (!current) return;
    var body = form ? new FormData(form) : new FormData();
    (files || []).forEach(function (file) { body.append("files", file, file.name || "pasted.png"); });
    return request("POST", convUrl(current, actionName + "/"), body).then(function (r) {
      replaceParts(r.text);
      return r;
    });
  }

  document.addEventListener("click", function (e) {
    var link = e.target.closest("[data-open]");
    if (link && !e.ctrlKey && !e.metaKey) { e.preventDefault(); openConversation(link.getAttribute("data-open"), true); return; }
    var button = e.target.closest("button[data-action]");
    if (button && root.contains(button)) {
      e.preventDefault();
      var name = button.getAttribute("data-action");
      var question = button.getAttribute("data-confirm");
      if (question && !window.confirm(question)) return;
      post(name);
      return;
    }
    var quick = e.target.closest("[data-quick]");
    if (quick) {
      var text = document.getElementById("ws-text");
      if (text) { text.value = text.value ? text.value + "\n" + quick.getAttribute("data-quick") : quick.getAttribute("data-quick"); text.focus(); }
      return;
    }
    var opener = e.target.closest("[data-open-dialog]");
    if (opener) { document.getElementById(opener.getAttribute("data-open-dialog")).showModal(); return; }
    var closer = e.target.closest("[data-close-dialog]");
    if (closer) { closer.closest("dialog").close(); }
  });

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.matches("[data-availability]")) {
      e.preventDefault();
      var body = new FormData(form);
      if (e.submitter) body.set("status", e.submitter.value);
      request("POST", form.action, body).then(function (r) { replaceParts(r.text); syncAvailability(); });
      return;
    }
    if (!form.matches("[data-action]")) return;
    e.preventDefault();
    var name = form.getAttribute("data-action");
    if (name === "reply") {
      var text = form.querySelector("textarea");
      var composer = window.convodeskComposer;
      var files = composer ? composer.files() : [];
      if (!text.value.trim() && !files.length) return;
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      post("reply", form, files).then(function (r) {
        if (r && r.ok) {
          var fresh = document.getElementById("ws-text");
          if (fresh) { fresh.value = ""; fresh.focus(); }
          if (composer) composer.clear();
        }
      }).then(function () { var b = document.querySelector(".ws-reply button[type=submit]"); if (b) b.disabled = false; });
    } else if (name === "transfer") {
      post("transfer", form).then(function (r) { if (r && r.ok) { form.reset(); form.closest("dialog").close(); } });
    } else if (name === "tags" || name === "close") {
      post(name, form);
    }
  });

  document.addEventListener("keydown", function (e) {
    if (e.target.id === "ws-text" && e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      var form = e.target.form;
      if (form.requestSubmit) form.requestSubmit(); else form.dispatchEvent(new Event("submit", { cancelable: true, bubbles: true }));
    }
  });

  var lastTyping = 0;
  document.addEventListener("input", function (e) {
    if (e.target.id !== "ws-text" || !current) return;
    // A private note is not something the client may see being typed.
    if (window.convodeskComposer && window.convodeskComposer.isNote()) return;
    var now = Date.now();
    if (now - lastTyping > 2000) { lastTyping = now; live.send({ type: "typing", conversation: Number(current) }); }
  });

  window.addEventListener("popstate", function () {
    var c = new URLSearchParams(location.search).get("c");
    if (c) openConversation(c, false);
  });

  // Waiting time that ticks.
  function human(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    return (h ? h + " h " : "") + (h || m ? m + " min " : "") + s + " s";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (node) {
      var since = Date.parse(node.getAttribute("data-since"));
      if (!isNaN(since)) node.textContent = human((now - since) / 1000);
    });
  }
  setInterval(tick, 1000);
  tick();

  var typingLine = document.getElementById("ws-typing");
  var typingTimer = null;

  var live = window.ConvodeskLive.connect({
    last: Number(root.getAttribute("data-last-event")) || 0,
    onOpen: function () { if (current) live.open(current); refresh("list"); if (current) refresh("conversation"); },
    onEvent: function (data) {
      if (data.type === "event" || data.type === "gone") {
        refresh("list");
        if (current && String(data.conversation) === current) refresh("conversation");
      } else if (data.type === "delivery") {
        if (current && String(data.conversation) === current) refresh("conversation");
      } else if (data.type === "typing") {
        if (current && String(data.conversation) === current && typingLine) {
          typingLine.textContent = root.getAttribute("data-typing-text");
          clearTimeout(typingTimer);
          typingTimer = setTimeout(function () { typingLine.textContent = ""; }, 4000);
        }
      }
    }
  });

  var transcript = document.getElementById("ws-transcript");
  if (transcript) transcript.scrollTop = transcript.scrollHeight;
})();
