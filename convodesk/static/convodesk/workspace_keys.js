/* The workspace's keyboard shortcuts (listed in the "?" dialog), the search inside the open
 * transcript and the composer's emoji picker. The actions are the page's own buttons, clicked:
 * the same confirmations and the same requests as with the mouse. */
(function () {
  "use strict";
  var root = document.getElementById("workspace");
  if (!root) return;
  var EMOJI = ["😀", "😊", "🙂", "😉", "😅", "😢", "😮", "🤔", "👍", "👎", "👏", "🙏",
               "👋", "🎉", "❤️", "✅", "❌", "⚠️", "📦", "🚚", "💳", "📎", "⏰", "⭐"];

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function click(selector) {
    var node = document.querySelector(selector);
    if (node && !node.disabled) node.click();
    return !!node;
  }

  function step(delta) {
    var items = Array.from(document.querySelectorAll("#ws-mine [data-open], #ws-queue [data-open]"));
    if (!items.length) return;
    var current = root.getAttribute("data-conversation");
    var at = items.findIndex(function (a) { return a.getAttribute("data-open") === current; });
    var next = items[(at + delta + items.length) % items.length];
    if (at < 0) next = items[delta > 0 ? 0 : items.length - 1];
    next.click();
  }

  function toggleNote() {
    var note = document.querySelector(".ws-reply .ws-mode-note input");
    var reply = document.querySelector(".ws-reply .ws-mode:not(.ws-mode-note) input");
    if (!note || !reply) return;
    var target = note.checked ? reply : note;
    target.checked = true;
    target.dispatchEvent(new Event("change", { bubbles: true }));
    var text = document.getElementById("ws-text");
    if (text) text.focus();
  }

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented) return;
    if (e.key === "?" && !typing(e.target) && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      document.getElementById("ws-keys").showModal();
      return;
    }
    if (!e.altKey || e.ctrlKey || e.metaKey) return;
    var handled = true;
    if (e.key === "ArrowDown") step(1);
    else if (e.key === "ArrowUp") step(-1);
    else if (e.code === "KeyN") toggleNote();
    else if (e.code === "KeyT") click("#ws-head [data-open-dialog=ws-transfer]");
    else if (e.code === "KeyC") click("#ws-head button[data-action=close]");
    else if (e.code === "KeyF") { var find = document.getElementById("ws-find"); find.focus(); find.select(); }
    else handled = false;
    if (handled) e.preventDefault();
  });

  // Search inside the transcript: the lines that do not match step aside; the count says how
  // many do. It stays applied when live updates replace the transcript.
  function applyFind() {
    var box = document.getElementById("ws-find");
    var count = document.getElementById("ws-find-count");
    var transcript = document.getElementById("ws-transcript");
    if (!box || !transcript) return;
    var term = box.value.trim().toLowerCase();
    var found = 0;
    transcript.querySelectorAll(".ws-msg, .ws-sys").forEach(function (line) {
      var hit = !term || line.textContent.toLowerCase().indexOf(term) >= 0;
      line.classList.toggle("is-hidden-by-find", !hit);
      line.classList.toggle("is-found", !!term && hit);
      if (term && hit) found += 1;
    });
    count.textContent = term ? count.getAttribute("data-found").replace("{count}", String(found)) : "";
  }
  document.addEventListener("input", function (e) { if (e.target.id === "ws-find") applyFind(); });
  document.addEventListener("keydown", function (e) {
    if (e.target.id === "ws-find" && e.key === "Escape") { e.target.value = ""; applyFind(); }
  });
  new MutationObserver(function (changes) {
    if (changes.some(function (c) { return Array.from(c.addedNodes).some(function (n) { return n.id === "ws-transcript"; }); })) applyFind();
  }).observe(root, { childList: true, subtree: true });

  // The emoji picker: a small grid under the composer's button; a click inserts at the caret.
  function closePicker() {
    var open = document.getElementById("ws-emoji");
    if (open) open.remove();
    var toggle = document.querySelector("[data-emoji-toggle]");
    if (toggle) toggle.setAttribute("aria-expanded", "false");
  }
  document.addEventListener("click", function (e) {
    var toggle = e.target.closest("[data-emoji-toggle]");
    if (toggle) {
      if (document.getElementById("ws-emoji")) { closePicker(); return; }
      var grid = document.createElement("div");
      grid.id = "ws-emoji";
      grid.className = "ws-emoji";
      grid.setAttribute("role", "listbox");
      EMOJI.forEach(function (char) {
        var b = document.createElement("button");
        b.type = "button";
        b.setAttribute("role", "option");
        b.setAttribute("data-emoji", char);
        b.textContent = char;
        grid.appendChild(b);
      });
      toggle.closest(".ws-reply").appendChild(grid);
      toggle.setAttribute("aria-expanded", "true");
      return;
    }
    var pick = e.target.closest("[data-emoji]");
    if (pick) {
      var text = document.getElementById("ws-text");
      if (text) {
        var start = text.selectionStart, end = text.selectionEnd, char = pick.getAttribute("data-emoji");
        text.value = text.value.slice(0, start) + char + text.value.slice(end);
        text.setSelectionRange(start + char.length, start + char.length);
        text.focus();
      }
      closePicker();
      return;
    }
    if (!e.target.closest("#ws-emoji")) closePicker();
  });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") closePicker(); });
})();
